#!/usr/bin/env bash
# Configures and builds keel.
#   scripts/build.sh [release|asan|tsan] [ninja targets...]
#   release -> build/       (RelWithDebInfo)
#   asan    -> build-asan/  (KEEL_SANITIZE="address;undefined")
#   tsan    -> build-tsan/  (KEEL_SANITIZE=thread)
# Prints the build directory on stdout (build logs go to stderr). JOBS overrides the parallelism.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
flavor=${1:-release}
[[ $# -gt 0 ]] && shift

case $flavor in
  release) dir=build;      sanitize="" ;;
  asan)    dir=build-asan; sanitize="address;undefined" ;;
  tsan)    dir=build-tsan; sanitize="thread" ;;
  *) echo "usage: $0 [release|asan|tsan] [targets...]" >&2; exit 2 ;;
esac

jobs=${JOBS:-$(nproc)}
cmake -S "$repo" -B "$repo/$dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DKEEL_BUILD_TESTS=ON -DKEEL_BUILD_BENCH=ON "-DKEEL_SANITIZE=$sanitize" >&2
ninja -C "$repo/$dir" -j "$jobs" "$@" >&2
echo "$repo/$dir"
