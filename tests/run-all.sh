#!/usr/bin/env bash
# The whole test suite: installs the npm test client, builds with gcc (warnings as errors) and
# runs every test under ctest; builds with clang; builds the unit tests with ASan+UBSan and
# runs them. Prints ctest's summary lines; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

(cd tests/node && npm ci --no-audit --no-fund --loglevel=error)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== clang build"
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-clang -j"$jobs" >/dev/null
echo "== sanitizer build (ASan+UBSan): every test, the daemon included"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DHEARTH_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -j"$jobs" --output-on-failure
echo "== fuzzing (libFuzzer, clang): each target briefly, from its seed corpus"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHEARTH_FUZZ=ON >/dev/null
targets="gguf chat_request template tokenizer tool_calls grammar gen_request embed_request utc_time"
# shellcheck disable=SC2046
cmake --build build-fuzz -j"$jobs" --target $(printf 'fuzz_%s ' $targets) >/dev/null
for target in $targets; do
    corpus=$(mktemp -d)
    cp tests/fuzz/corpus/"$target"/* "$corpus"/
    # a crash leaves its input in build-fuzz/ and fails the run; add it to the seeds once fixed
    build-fuzz/fuzz_"$target" -max_total_time="${HEARTH_FUZZ_SECONDS:-15}" -max_len=8192 \
        -rss_limit_mb=4096 -artifact_prefix=build-fuzz/ "$corpus" 2>&1 | tail -n 1
    rm -rf "$corpus"
done
echo "== full suite (unit, fuzz replay, black-box)"
ctest --test-dir build -j"$jobs" --output-on-failure
