#!/usr/bin/env bash
# `hearth quantize` and `make-model --type MIX` end to end: every TYPE on a tiny model gives a
# file `hearth run` answers from; smol's q4_k_m and q6_k files carry the types llama-quantize
# would pick (checked by gguf_types.py's own restatement of its rule) and llama.cpp's
# general.file_type; make-model's q4_k_m has the same mix; the CLI's error contract (one
# line, exit 2 for usage, 1 at run time, no partial output left behind).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"
types_py() { /usr/bin/python3 "$here/gguf_types.py" "$@"; }
# rule_ok MIX FILE: every tensor of FILE has the type the mix's rule gives it
rule_ok() { types_py --expect "$1" "$2" >/dev/null; }
# one_line FILE: exactly one line of output
one_line() { test "$(wc -l < "$1")" = 1; }

"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 3 --out "$WORK/tiny.gguf" 2>/dev/null
for t in q8_0 q4_0 q4_k_m q5_k_m q6_k; do
    set +e
    "$HEARTH_BIN" quantize "$WORK/tiny.gguf" "$WORK/tiny-$t.gguf" "$t" 2>"$WORK/qerr"; st=$?
    set -e
    check "tiny $t: quantize exits 0" test "$st" = 0
    check "tiny $t: summary names the total" grep -q "wrote $WORK/tiny-$t.gguf ($t)" "$WORK/qerr"
    check "tiny $t: types follow the rule" rule_ok "$t" "$WORK/tiny-$t.gguf"
    set +e
    "$HEARTH_BIN" run --model "$WORK/tiny-$t.gguf" --temperature 0 --max-tokens 8 "hello" \
        >"$WORK/out" 2>"$WORK/err"; st=$?
    set -e
    check "tiny $t: hearth run answers (exit 0, quiet stderr)" sh -c "test $st = 0 && test ! -s '$WORK/err'"
done
check "tiny q8_0 is smaller than f32" test "$(stat -c %s "$WORK/tiny-q8_0.gguf")" -lt "$(stat -c %s "$WORK/tiny.gguf")"
# the same greedy tokens from f32 and q8_0 on the tiny model (its logits are far apart enough)
a=$("$HEARTH_BIN" run --model "$WORK/tiny.gguf" --temperature 0 --max-tokens 8 "hello" 2>/dev/null)
b=$("$HEARTH_BIN" run --model "$WORK/tiny-q8_0.gguf" --temperature 0 --max-tokens 8 "hello" 2>/dev/null)
check "tiny f32 and q8_0: same greedy continuation" test "$a" = "$b"

"$HEARTH_BIN" make-model --preset smol --type f32 --seed 5 --out "$WORK/smol.gguf" 2>/dev/null
for t in q4_k_m q6_k; do
    "$HEARTH_BIN" quantize --threads 2 "$WORK/smol.gguf" "$WORK/smol-$t.gguf" "$t" 2>"$WORK/qerr"
    check "smol $t: every tensor's type is llama-quantize's" rule_ok "$t" "$WORK/smol-$t.gguf"
    want=$([ "$t" = q4_k_m ] && echo 15 || echo 18)
    check "smol $t: general.file_type $want" sh -c "/usr/bin/python3 '$here/gguf_types.py' '$WORK/smol-$t.gguf' | grep -qx 'file_type $want'"
    check "smol $t: hearth run answers" sh -c "'$HEARTH_BIN' run --model '$WORK/smol-$t.gguf' --temperature 0 --max-tokens 8 hello >/dev/null 2>&1"
done
types_py "$WORK/smol-q4_k_m.gguf" > "$WORK/q.types"
check "smol q4_k_m: Q4_K, Q5_0 (576-wide rows), Q6_K and Q8_0 all present" sh -c "for t in Q4_K Q5_0 Q6_K Q8_0; do grep -q \" \$t\$\" '$WORK/q.types' || exit 1; done"
check "smol q4_k_m: blk.5.ffn_down Q6_K, blk.6.ffn_down Q4_K, blk.3.attn_v Q5_0" sh -c "grep -qx 'blk.5.ffn_down.weight Q6_K' '$WORK/q.types' && grep -qx 'blk.6.ffn_down.weight Q4_K' '$WORK/q.types' && grep -qx 'blk.3.attn_v.weight Q5_0' '$WORK/q.types'"
check "smol q6_k: ffn_down Q6_K, the rest Q8_0 (576-wide)" sh -c "types_out=\$(/usr/bin/python3 '$here/gguf_types.py' '$WORK/smol-q6_k.gguf'); echo \"\$types_out\" | grep -qx 'blk.9.ffn_down.weight Q6_K' && echo \"\$types_out\" | grep -qx 'blk.9.ffn_up.weight Q8_0'"
"$HEARTH_BIN" make-model --preset smol --type q4_k_m --seed 5 --out "$WORK/smol-mm.gguf" 2>/dev/null
types_py "$WORK/smol-mm.gguf" > "$WORK/mm.types"
check "make-model --type q4_k_m: the same types and file_type as quantize" cmp -s "$WORK/q.types" "$WORK/mm.types"
rm -f "$WORK/smol.gguf" "$WORK/smol-mm.gguf" "$WORK"/smol-q*.gguf

# errors: one line each, exit 2 for usage and 1 at run time, nothing left behind
expect_fail() { # expect_fail STATUS PATTERN ARGS...
    local want=$1 pat=$2
    shift 2
    set +e
    "$HEARTH_BIN" quantize "$@" >/dev/null 2>"$WORK/err"; local st=$?
    set -e
    test "$st" = "$want" && one_line "$WORK/err" && grep -q -- "$pat" "$WORK/err" && grep -q '^hearth: quantize: ' "$WORK/err"
}
check "missing input: exit 1, one line naming it" expect_fail 1 "missing.gguf" "$WORK/missing.gguf" "$WORK/o.gguf" q4_k_m
check "quantized input: exit 1, one line naming the tensor" expect_fail 1 "token_embd.weight.*already quantized" "$WORK/tiny-q8_0.gguf" "$WORK/o.gguf" q6_k
check "unknown type: exit 2, one line naming it" expect_fail 2 "q3_k_s: TYPE must be one of" "$WORK/tiny.gguf" "$WORK/o.gguf" q3_k_s
check "missing argument: exit 2" expect_fail 2 "expected IN.gguf OUT.gguf TYPE" "$WORK/tiny.gguf" "$WORK/o.gguf"
check "bad --threads: exit 2" expect_fail 2 "threads" --threads 0 "$WORK/tiny.gguf" "$WORK/o.gguf" q8_0
check "unwritable output: exit 1" expect_fail 1 "cannot create" "$WORK/tiny.gguf" "$WORK/no/such/o.gguf" q8_0
check "no output or temporary left by the failures" sh -c "! ls '$WORK' | grep -q '^o.gguf'"
check "hearth quantize --help exits 0 with usage on stdout" sh -c "'$HEARTH_BIN' quantize --help | grep -q '^usage: hearth quantize'"
check "hearth help lists quantize" sh -c "'$HEARTH_BIN' help | grep -q '^  quantize '"
finish
