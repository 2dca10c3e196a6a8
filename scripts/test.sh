#!/usr/bin/env bash
# Installs dependencies and test data, builds, and runs the whole test suite.
#   scripts/test.sh [asan|tsan] [extra ctest args...]
# Exit status is ctest's. CTEST_TIMEOUT (seconds, default 1500) bounds each
# test; the differential tests set their own, larger-than-usual timeouts.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
flavor=release
if [[ ${1:-} == asan || ${1:-} == tsan || ${1:-} == release ]]; then
  flavor=$1
  shift
fi

bash "$repo/scripts/install-deps.sh"
bash "$repo/scripts/setup-testdata.sh"
build_dir=$(bash "$repo/scripts/build.sh" "$flavor" | tail -n 1)

case $flavor in
  asan)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    ;;
  tsan)
    # Fork tests: TSan can't follow a multithreaded parent into the child.
    export TSAN_OPTIONS=${TSAN_OPTIONS:-die_after_fork=0 halt_on_error=1 second_deadlock_stack=1}
    ;;
esac
export KEEL_TESTDATA=${KEEL_TESTDATA:-$repo/.deps/npm/node_modules}

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
ctest --test-dir "$build_dir" --output-on-failure -j "${JOBS:-2}" \
  --timeout "${CTEST_TIMEOUT:-1500}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
echo "== $flavor: $(grep -E 'tests passed|No tests were found' "$log" | tail -n 1)"
exit "$rc"
