#!/usr/bin/env bash
# Smoke test of `hearth bench` (speed is never asserted): on a tiny generated model it prints
# llama-bench's table with one row per test (ppN, tgN, tgN bB), the same tests as JSON with
# positive rates and one sample per repetition, and one-line errors for bad options.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

"$HEARTH_BIN" make-model --preset tiny --type q8_0 --out "$WORK/tiny.gguf" 2>/dev/null
out=$("$HEARTH_BIN" bench --model "$WORK/tiny.gguf" -p 32 -n 8 -t 1 -r 2 --batch 2,3)
echo "$out"
check "table header in llama-bench's shape" grep -q '^| model | size | params | backend | threads | test | t/s |$' <<<"$out"
check "one row per test: pp32, tg8, tg8 b2, tg8 b3" \
    test "$(grep -oE '\| (pp32|tg8|tg8 b2|tg8 b3) \|' <<<"$out" | tr -d '| ' | paste -sd,)" = "pp32,tg8,tg8b2,tg8b3"
"$HEARTH_BIN" bench --model "$WORK/tiny.gguf" -p 16 -n 4 -t 1 -r 3 --batch 2 -o json > "$WORK/b.json"
check "JSON: three tests, positive rates, three samples each, batch sizes as sequences" json_true "$WORK/b.json" \
    "[r['test'] for r in j] == ['pp16', 'tg4', 'tg4 b2'] and all(r['avg_ts'] > 0 and len(r['samples_ts']) == 3 for r in j) and [r['n_seqs'] for r in j] == [1, 1, 2] and [r['n_tokens'] for r in j] == [16, 4, 8]"
check "JSON names the file and its type" json_true "$WORK/b.json" \
    "j[0]['model_filename'].endswith('tiny.gguf') and 'Q8_0' in j[0]['model_type'] and j[0]['n_threads'] == 1"
for bad in "-p x" "-r 0" "--batch 0" "--batch 4,,8" "-o yaml" "--kv-type f8" "--bogus 1"; do
    # shellcheck disable=SC2086
    if err=$("$HEARTH_BIN" bench --model "$WORK/tiny.gguf" $bad 2>&1 >/dev/null); then
        not_ok "bench $bad: refused"
    else
        check "bench $bad: exit 2, one line naming the option" test "$(wc -l <<<"$err")" = 1 -a "$(grep -c -- "${bad%% *}" <<<"$err")" = 1
    fi
done
if err=$("$HEARTH_BIN" bench --model "$WORK/missing.gguf" 2>&1); then not_ok "missing model refused"; else
    check "a missing model: one line naming the file" grep -q "missing.gguf" <<<"$err"; fi
finish
