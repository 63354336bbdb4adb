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
echo "== full suite (unit, fuzz replay, black-box)"
ctest --test-dir build -j"$jobs" --output-on-failure
