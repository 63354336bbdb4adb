# Shared by the black-box tests: start `hearth serve` on a free loopback port, wait until it
# listens, and stop it. Sourced, not run. Needs HEARTH_BIN (set by ctest).
set -euo pipefail

: "${HEARTH_BIN:?HEARTH_BIN must point at the hearth binary}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/hearth-it-XXXXXX")
DAEMON_PID=""
PASS=0
FAIL=0

cleanup() {
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -KILL "$DAEMON_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# start_daemon ARGS...: starts hearth serve with a free port; sets PORT, BASE (http:// or,
# with --tls-cert, https://), LOG.
start_daemon() {
    LOG="$WORK/daemon.log"
    rm -f "$LOG" # an earlier daemon's 'listening on' line must not be read as this one's
    "$HEARTH_BIN" serve --host 127.0.0.1 --port 0 "$@" 2>"$LOG" &
    DAEMON_PID=$!
    for _ in $(seq 1 300); do
        if grep -qE 'listening on https?://' "$LOG" 2>/dev/null; then
            local at
            at=$(grep -oE 'listening on https?://127.0.0.1:[0-9]*' "$LOG" | head -1)
            PORT=${at##*:}
            BASE="$(sed -E 's|listening on (https?)://.*|\1|' <<<"$at")://127.0.0.1:$PORT"
            return 0
        fi
        if ! kill -0 "$DAEMON_PID" 2>/dev/null; then
            echo "daemon exited early:"; cat "$LOG"; return 1
        fi
        sleep 0.1
    done
    echo "daemon did not start listening:"; cat "$LOG"; return 1
}

# start_tiny ARGS...: a generated tiny model (seed 7) served as "tiny", its usage database and
# data directory in WORK, one thread, a 64 KiB body limit; ARGS are further serve flags.
start_tiny() {
    "$HEARTH_BIN" make-model --preset tiny --type f32 --seed 7 --out "$WORK/tiny.gguf" 2>/dev/null
    start_daemon --model "$WORK/tiny.gguf" --model-id tiny --db "$WORK/usage.db" \
        --data-dir "$WORK/data" --max-body 65536 --threads 1 "$@"
}

# py FILE <<'PY' ... PY: runs the Python check on stdin with `j` the parsed JSON of FILE.
py() {
    /usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); exec(sys.stdin.read())' "$1"
}

# stop_daemon: SIGTERM and wait; sets DAEMON_STATUS.
stop_daemon() {
    kill -TERM "$DAEMON_PID"
    set +e
    wait "$DAEMON_PID"
    DAEMON_STATUS=$?
    set -e
    DAEMON_PID=""
}

finish() {
    echo "$PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
}

# json_true FILE EXPR: EXPR (Python, with `j` the parsed JSON of FILE) is true.
json_true() {
    /usr/bin/python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# http METHOD PATH [BODY]: response body to $WORK/body, status to $STATUS, headers to
# $WORK/headers.
http() {
    local method=$1 path=$2
    shift 2
    local args=(-sS -X "$method" -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}')
    if [ $# -gt 0 ]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$1")
    fi
    STATUS=$(curl "${args[@]}" "$BASE$path")
}

# is_error_envelope STATUS TYPE [PARAM [CODE]]: the last response is OpenAI's error envelope.
is_error() {
    local want=$1 type=$2 param=${3:-} code=${4:-}
    [ "$STATUS" = "$want" ] || { echo "  status $STATUS, want $want: $(cat "$WORK/body")"; return 1; }
    json_true "$WORK/body" "set(j) == {'error'} and set(j['error']) == {'message','type','param','code'} and j['error']['type'] == '$type' and isinstance(j['error']['message'], str) and len(j['error']['message']) > 0" || { echo "  body: $(cat "$WORK/body")"; return 1; }
    if [ -n "$param" ]; then json_true "$WORK/body" "j['error']['param'] == '$param'" || { echo "  param: $(cat "$WORK/body")"; return 1; }; fi
    if [ -n "$code" ]; then json_true "$WORK/body" "j['error']['code'] == '$code'" || { echo "  code: $(cat "$WORK/body")"; return 1; }; fi
}
