#!/usr/bin/env bash
# Throughput of the engine through `hearth run --timings` on generated models: prompt
# processing and generation tokens/s for each preset x type given, at 1 and N threads, and the
# thread-scaling ratio measured in the same run. Not part of the test suite (speed is never
# asserted in tests). Usage: bench/bench_run.sh [BUILD_DIR] [PRESETS] [TYPES]
#   e.g. bench/bench_run.sh build "tiny smol" "f32 f16 q8_0 q4_0"
set -euo pipefail
build=${1:-build}
presets=${2:-"tiny smol"}
types=${3:-"f32 f16 q8_0 q4_0"}
bin="$build/hearth"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
threads=$(nproc)
prompt=$(for i in $(seq 1 20); do printf 'The quick brown fox jumps over the lazy dog. '; done)

speed() { # model threads -> "prompt_tps gen_tps"
    "$bin" run --model "$1" --threads "$2" --ctx 2048 --temperature 0 --ignore-eos --max-tokens 64 \
        --timings "$prompt" 2>&1 >/dev/null | sed -n 's/.*prompt [0-9]* tokens in [0-9.]* ms (\([0-9.]*\) tok\/s); generation [0-9]* tokens in [0-9.]* ms (\([0-9.]*\) tok\/s).*/\1 \2/p'
}

printf '%-6s %-5s %12s %12s %12s %12s %8s\n' preset type "pp t=1" "tg t=1" "pp t=$threads" "tg t=$threads" "tg ratio"
for p in $presets; do
    for t in $types; do
        m="$work/$p-$t.gguf"
        "$bin" make-model --preset "$p" --type "$t" --out "$m" 2>/dev/null
        read -r pp1 tg1 <<<"$(speed "$m" 1)"
        read -r ppn tgn <<<"$(speed "$m" "$threads")"
        ratio=$(awk -v a="$tgn" -v b="$tg1" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        printf '%-6s %-5s %12s %12s %12s %12s %8s\n' "$p" "$t" "$pp1" "$tg1" "$ppn" "$tgn" "$ratio"
        rm -f "$m"
    done
done
