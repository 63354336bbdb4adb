#!/usr/bin/env bash
# The working default: `hearth serve` with no model writes the demo model into its data
# directory on first start, says plainly that it is random noise (log and /v1/models), and
# answers a streaming chat; the second start reuses the file. Configuration errors exit 2 with
# one line naming the file and key.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

export HEARTH_DATA_DIR="$WORK/state"
start_daemon --threads 1
check "first start writes the demo model into the data directory" test -s "$WORK/state/demo-tiny.gguf"
check "the log says it is a random-weight demo" grep -q 'RANDOM-WEIGHT' "$LOG"
http GET /v1/models
check "/v1/models: hearth-demo, owned_by hearth-demo" json_true "$WORK/body" \
    "j['data'][0]['id'] == 'hearth-demo' and j['data'][0]['owned_by'] == 'hearth-demo'"
curl -sS -N -H 'Content-Type: application/json' \
    --data-binary '{"model":"hearth-demo","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"Hello!"}]}' \
    "$BASE/v1/chat/completions" > "$WORK/stream.txt"
check "a streaming chat answer from the default" sh -c "grep -q '^data: {' '$WORK/stream.txt' && tail -c 15 '$WORK/stream.txt' | grep -q 'data: \[DONE\]'"
check "usage database created in the data directory" test -s "$WORK/state/hearth.db"
stop_daemon
check "SIGTERM exits 0" test "$DAEMON_STATUS" = 0
sum1=$(sha256sum "$WORK/state/demo-tiny.gguf")
start_daemon --threads 1
check "second start reuses the demo model" sh -c "! grep -q 'writing a RANDOM' '$LOG' && test \"\$(sha256sum '$WORK/state/demo-tiny.gguf')\" = '$sum1'"
stop_daemon

# --chat-template overrides the model's template; one that cannot run refuses to start.
printf '%s' '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}' > "$WORK/custom.jinja"
start_daemon --threads 1 --chat-template "$WORK/custom.jinja"
http POST /apply-template '{"messages":[{"role":"user","content":"Hi"}]}'
check "--chat-template is what /apply-template renders" json_true "$WORK/body" "j['prompt'] == '[user]Hi[assistant]'"
check "the log names the template in use" grep -q 'chat template: .*custom.jinja' "$LOG"
stop_daemon
printf '%s' 'line one\n{% for x in %}' > "$WORK/broken.jinja"
set +e
"$HEARTH_BIN" serve --port 0 --chat-template "$WORK/broken.jinja" 2>"$WORK/err"; st=$?
set -e
check "a template that cannot run: exit 2 naming file and line" sh -c "test $st = 2 && grep -q 'broken.jinja' '$WORK/err' && grep -q 'line' '$WORK/err'"

# Configuration errors: exit 2, one line, naming file and key.
cfg_fails() { # description, file contents, expected substring
    printf '%s' "$2" > "$WORK/bad.json"
    set +e
    "$HEARTH_BIN" serve --config "$WORK/bad.json" 2>"$WORK/err"
    local st=$?
    set -e
    if [ "$st" = 2 ] && [ "$(wc -l < "$WORK/err")" = 1 ] && grep -q "bad.json" "$WORK/err" && grep -q -- "$3" "$WORK/err"; then
        ok "config: $1"
    else
        not_ok "config: $1 (status $st: $(cat "$WORK/err"))"
    fi
}
cfg_fails "unknown key" '{"prot": 80}' "prot"
cfg_fails "wrong type" '{"port": "eighty"}' "port"
cfg_fails "out of range" '{"port": 70000}' "port"
cfg_fails "invalid JSON" '{"port": 80,' "bad.json"
set +e
"$HEARTH_BIN" serve --config "$WORK/none.json" 2>"$WORK/err"; st=$?
set -e
check "config: unreadable file exits 2 naming it" sh -c "test $st = 2 && grep -q none.json '$WORK/err'"
set +e
"$HEARTH_BIN" serve --port abc 2>"$WORK/err"; st=$?
set -e
check "flag: bad value exits 2 naming the flag" sh -c "test $st = 2 && grep -q -- '--port' '$WORK/err'"
check "serve --help exits 0 and lists --model" sh -c "'$HEARTH_BIN' serve --help | grep -q -- '--model'"

# SIGTERM with no drain while requests' work runs on the worker pool (a slow template): the
# stop waits for it (libmicrohttpd cannot stop with their connections parked), exits 0.
printf '%s' '{% for i in range(400) %}{% for j in range(400) %}{% endfor %}{% endfor %}{{ messages[0].content }}' > "$WORK/slow.jinja"
UV_THREADPOOL_SIZE=1 start_daemon --threads 1 --chat-template "$WORK/slow.jinja" \
    --drain-timeout 0 # one at a time
for _ in $(seq 1 20); do
    curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary \
        '{"messages":[{"role":"user","content":"hi"}]}' "$BASE/apply-template" &
done
for _ in $(seq 1 500); do
    grep -q 'POST /apply-template' "$LOG" && break
    sleep 0.02
done
stop_daemon
wait
check "SIGTERM during pool work: exit status 0" test "$DAEMON_STATUS" = 0
check "the stop waited for the work" grep -q 'stopping once the work on the pool ends' "$LOG"
finish
