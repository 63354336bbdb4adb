#!/usr/bin/env bash
# Smoke run of the benchmark tools (speed is never asserted): bench_membw prints a positive
# bandwidth for 1 and 2 threads; bench/roofline prints a row with the model's bytes per token,
# the bandwidth of its moment and a share of the roofline; bench/compare without LLAMA_CPP_DIR
# prints Hearth's rows alone.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"
build=${HEARTH_BUILD_DIR:?HEARTH_BUILD_DIR must point at the build directory}

out=$("$build/bench_membw" 64 2)
echo "$out"
check "bench_membw: GB/s for 1 and 2 threads" test "$(grep -cE '^threads [12]: [0-9]+\.[0-9] GB/s$' <<<"$out")" = 2
out=$(bench/roofline "$build" tiny q8_0 64)
echo "$out"
check "roofline: a tiny q8_0 row with MB/token, bandwidth, roofline, tg and share, twice" \
    grep -qE '^tiny +q8_0 +[0-9.]+( +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9]+%){2}$' <<<"$out"
out=$(env -u LLAMA_CPP_DIR bench/compare --build "$build" --presets tiny --types q8_0,q4_0 -r 1 --rounds 1)
echo "$out"
check "compare without llama.cpp: Hearth's pp512, tg128 and batch rows per type" \
    test "$(grep -cE '^\| tiny q(8|4)_0 \(round 1\) \| (pp512|tg128|tg128 b8) \|  \| [0-9.]+ \|  \|$' <<<"$out")" = 6
finish
