#!/usr/bin/env bash
# Hostile clients against `hearth serve` on a tiny generated model: malformed and absurd
# bodies, wrong Content-Types, 64 MiB bodies (announced and chunked), a 10,000-header flood,
# clients sending one byte a second (408 after a 2 s --read-timeout while others are served),
# idle connections (closed after a 4 s --idle-timeout), keep-alive and pipelined requests,
# HEAD, CORS for allowed and other origins, x-request-id, a stream aborted mid-way (its
# engine work canceled) and /metrics checked as Prometheus text (hostile_cases.py does all of
# that over raw sockets and http.client). Then the ledger and a clean SIGTERM.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 7 --out "$WORK/tiny.gguf" 2>/dev/null
start_daemon --model "$WORK/tiny.gguf" --model-id tiny --db "$WORK/usage.db" \
    --data-dir "$WORK/data" --threads 1 --parallel 1 --max-body 1048576 \
    --read-timeout 2 --idle-timeout 4 --cors-origins 'https://app.example, http://localhost:5173'

if /usr/bin/python3 "$here/hostile_cases.py" "$PORT" "$LOG"; then
    ok "hostile clients (hostile_cases.py)"
else
    not_ok "hostile clients (hostile_cases.py)"
fi
http GET /health
check "still healthy" test "$STATUS" = 200

stop_daemon
check "SIGTERM: exit status 0" test "$DAEMON_STATUS" = 0
row=$(sqlite3 "$WORK/usage.db" "select http_status, finish_reason, completion_tokens from usage where request_id='hostile-abort'")
echo "# ledger row of the aborted stream: $row"
check "the aborted stream is in the ledger as 499 canceled" sh -c "echo '$row' | grep -q '^499|canceled|'"
check "the slow body is in the ledger as 408" \
    test "$(sqlite3 "$WORK/usage.db" "select http_status from usage where request_id='slow-body'")" = 408
if grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$LOG"; then
    not_ok "no sanitizer reports in the daemon log"
else
    ok "no sanitizer reports in the daemon log"
fi
finish
