#!/usr/bin/env bash
# Fuzzes one target with libFuzzer (clang, ASan+UBSan) for SECONDS.
#   scripts/fuzz.sh TARGET [SECONDS] [LIBFUZZER_FLAGS...]
#   TARGET: tokenizer_json | encode | spm_model | safetensors
# JOBS=N limits the build's parallelism. Extra flags go to libFuzzer (e.g.
# -minimize_crash=1 -runs=10000 fuzz-out/TARGET/crash-...). The final
# stats (stat::number_of_executed_units etc.) are printed at the end.
# fuzz/TARGET.dict, when present, is passed as the libFuzzer dictionary.
# The checked-in corpus fuzz/corpus/TARGET seeds the run; new inputs go to
# fuzz-out/TARGET/corpus (git-ignored). A crash leaves fuzz-out/TARGET/crash-*:
# copy it into fuzz/corpus/TARGET/ so every build replays it as a regression test.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${1:?usage: scripts/fuzz.sh TARGET [SECONDS]}
seconds=${2:-60}
build="$repo/build-fuzz"
if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -G Ninja -DKEEL_FUZZ=ON \
    -DKEEL_SANITIZE="address;undefined" -DKEEL_BUILD_TESTS=OFF -DKEEL_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
ninja -C "$build" ${JOBS:+-j"$JOBS"} "${target}_fuzz" >&2
out="$repo/fuzz-out/$target"
mkdir -p "$out/corpus"
dict=()
[[ -f $repo/fuzz/$target.dict ]] && dict=(-dict="$repo/fuzz/$target.dict")
export KEEL_TESTDATA=${KEEL_TESTDATA:-$repo/.deps/npm/node_modules}
"$build/fuzz/${target}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
  -print_final_stats=1 -artifact_prefix="$out/" "${dict[@]}" "${@:3}" "$out/corpus" "$repo/fuzz/corpus/$target"
