#!/usr/bin/env bash
# `hearth run` end to end: the stories260K golden continuation (when ../shared is present),
# stdout carrying only the answer, stdin prompts, --chat, seeded sampling, and the CLI's
# error contract (exit 2 with one line naming the flag or file).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

SHARED=${HEARTH_SHARED:-../shared}
STORIES="$SHARED/models/stories260K.gguf"
if [ -f "$STORIES" ]; then
    want=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["continuation_text"], end="")' "$SHARED/models/stories260K.expected.json")
    got=$("$HEARTH_BIN" run --model "$STORIES" --temperature 0 --max-tokens 32 "Once upon a time" 2>"$WORK/err")
    check "stories260K golden continuation (32 greedy tokens)" test "$got" = "$want"
    check "nothing but the answer on stdout; stderr quiet" test ! -s "$WORK/err"
    got=$(printf 'Once upon a time' | "$HEARTH_BIN" run --model "$STORIES" --temperature 0 --max-tokens 32)
    check "prompt from stdin gives the same continuation" test "$got" = "$want"
    a=$("$HEARTH_BIN" run --model "$STORIES" --seed 5 --max-tokens 40 "Once upon a time")
    b=$("$HEARTH_BIN" run --model "$STORIES" --seed 5 --max-tokens 40 "Once upon a time")
    check "same seed, same sampled text" test "$a" = "$b"
else
    echo "# $STORIES absent: stories260K golden test skipped"
fi

"$HEARTH_BIN" make-model --preset tiny --type f16 --seed 3 --out "$WORK/tiny.gguf" 2>/dev/null
out=$("$HEARTH_BIN" run --model "$WORK/tiny.gguf" --chat --temperature 0 --max-tokens 5 "Hi" 2>"$WORK/err")
check "--chat on a generated model runs" test -n "$out" -a ! -s "$WORK/err"
"$HEARTH_BIN" run --model "$WORK/tiny.gguf" --max-tokens 3 --verbose "Hi" >/dev/null 2>"$WORK/err"
check "--verbose reports weights, KV cache and resident memory" \
    grep -q 'memory: weights .* MiB (mapped file, not copied); KV cache .* MiB (512 tokens); scratch .* resident' "$WORK/err"

set +e
"$HEARTH_BIN" run --model "$WORK/tiny.gguf" --max-tokens abc "Hi" 2>"$WORK/err"; st=$?
set -e
check "bad flag value: exit 2" test "$st" = 2
check "bad flag value: one line naming the flag" sh -c "test \$(wc -l < '$WORK/err') = 1 && grep -q -- '--max-tokens' '$WORK/err'"
set +e
"$HEARTH_BIN" run --model "$WORK/missing.gguf" "Hi" 2>"$WORK/err"; st=$?
set -e
check "missing model file: exit 1 naming the file" sh -c "test $st = 1 && grep -q missing.gguf '$WORK/err'"
head -c 100 /dev/urandom > "$WORK/junk.gguf"
set +e
"$HEARTH_BIN" run --model "$WORK/junk.gguf" "Hi" 2>"$WORK/err"; st=$?
set -e
check "junk model file: exit 1 with a message" sh -c "test $st = 1 && grep -q junk.gguf '$WORK/err'"
# HEARTH_KERNELS: each set runs where the CPU has it (and says so), or fails at load with exit
# 1 naming the variable; an unknown name is refused the same way.
for k in ref avx2 avx512; do
    set +e
    HEARTH_KERNELS=$k "$HEARTH_BIN" run --model "$WORK/tiny.gguf" --max-tokens 3 --timings "Hi" \
        >/dev/null 2>"$WORK/err"; st=$?
    set -e
    check "HEARTH_KERNELS=$k runs on $k or fails naming it" sh -c "(test $st = 0 && grep -q 'kernels $k\$' '$WORK/err') || (test $st = 1 && grep -q 'HEARTH_KERNELS=$k: this CPU lacks' '$WORK/err')"
done
set +e
HEARTH_KERNELS=avx9 "$HEARTH_BIN" run --model "$WORK/tiny.gguf" --max-tokens 3 "Hi" 2>"$WORK/err"; st=$?
set -e
check "unknown HEARTH_KERNELS: exit 1 naming it" sh -c "test $st = 1 && grep -q 'HEARTH_KERNELS=avx9: unknown' '$WORK/err'"
for c in serve run make-model usage version help; do
    check "hearth $c --help exits 0 with text on stdout" sh -c "'$HEARTH_BIN' $c --help 2>/dev/null | grep -qi usage"
done
set +e
"$HEARTH_BIN" >/dev/null 2>&1; st1=$?
"$HEARTH_BIN" frobnicate >/dev/null 2>&1; st2=$?
set -e
check "bare hearth and an unknown command exit 2" test "$st1$st2" = 22
check "hearth version prints the version" sh -c "'$HEARTH_BIN' version | grep -q '^hearth [0-9]'"
finish
