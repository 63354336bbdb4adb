#!/usr/bin/env bash
# A client that goes away mid-stream stops its generation: on a model slow enough to still be
# generating (smol preset, one thread, one sequence slot, no waiting room), a stream is cut
# after its first chunks; the ledger then shows that request as 499/canceled with far fewer
# tokens than it asked for, and the single slot is free for the next request, which
# completes. While the stream runs, a prompt too long for the context is refused at once with
# a 400 (it never queues), and a request beyond the queue gets 503 with Retry-After.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

"$HEARTH_BIN" make-model --preset smol --type q4_0 --seed 5 --out "$WORK/smol.gguf" 2>/dev/null
start_daemon --model "$WORK/smol.gguf" --model-id smol --db "$WORK/usage.db" \
    --data-dir "$WORK/data" --threads 1 --parallel 1 --ctx 4096 --max-queue 0

# Read the stream until two content chunks have arrived, then hang up.
/usr/bin/python3 - "$PORT" <<'PY'
import http.client, json, select, sys, time
port = int(sys.argv[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
body = json.dumps({"model": "smol", "stream": True, "max_tokens": 4000, "temperature": 0,
                   "messages": [{"role": "user", "content": "Tell me a long story"}]})
c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json",
                                                  "x-request-id": "cut-short"})
r = c.getresponse()
assert r.status == 200, r.status
seen = 0
while seen < 3:
    line = r.fp.readline()
    assert line, "stream ended early"
    if line.startswith(b"data: {"):
        seen += 1
    if seen == 1:
        seen += 1
        def post(body, timeout=120):
            k = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            k.request("POST", "/v1/chat/completions", json.dumps(body),
                      {"Content-Type": "application/json"})
            return k
        t0 = time.monotonic()
        # refused before it queues: it cannot wait for the busy slot (~20 s of stream left)
        k = post({"model": "smol", "max_tokens": 4,
                  "messages": [{"role": "user", "content": "word " * 5000}]}, timeout=10)
        resp = k.getresponse()
        err = json.loads(resp.read())["error"]
        assert resp.status == 400 and err["code"] == "context_length_exceeded", (resp.status, err)
        print("# over-long prompt refused in %.0f ms while the slot was busy"
              % ((time.monotonic() - t0) * 1000))
        # one more may wait for the slot, the next is refused: which is which depends on
        # which the server tokenizes first
        short = {"model": "smol", "max_tokens": 3, "temperature": 0,
                 "messages": [{"role": "user", "content": "Hi"}]}
        waiting = [post(short), post(short)]
        ready, _, _ = select.select([k.sock for k in waiting], [], [], 30)
        assert ready, "neither short request was answered while the slot was busy"
r.close()  # the response's file holds the socket too
c.close()
got = sorted((k.getresponse() for k in waiting), key=lambda resp: resp.status)
assert [resp.status for resp in got] == [200, 503], [resp.status for resp in got]
assert json.loads(got[0].read())["usage"]["completion_tokens"] == 3
assert got[1].getheader("Retry-After") == "1"
assert json.loads(got[1].read())["error"]["type"] == "server_error"
PY
check "client read the first chunks and hung up" test $? = 0

http POST /v1/chat/completions '{"model":"smol","max_tokens":3,"temperature":0,"messages":[{"role":"user","content":"Hi"}]}'
check "the next request gets the freed slot and completes" json_true "$WORK/body" \
    "j['usage']['completion_tokens'] == 3"

# A non-streaming client that gives up: its answer is canceled at once, not generated for
# nobody (the connection is parked while the engine works, so its socket is watched).
/usr/bin/python3 - "$PORT" <<'PY'
import http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=120)
c.request("POST", "/v1/chat/completions",
          json.dumps({"model": "smol", "max_tokens": 4000, "temperature": 0,
                      "messages": [{"role": "user", "content": "Tell me a long story"}]}),
          {"Content-Type": "application/json", "x-request-id": "gave-up"})
time.sleep(1.5)
c.close()
PY
http POST /v1/chat/completions '{"model":"smol","max_tokens":3,"temperature":0,"messages":[{"role":"user","content":"Hi"}]}'
check "after a non-streaming client gave up, the slot is free at once" json_true "$WORK/body" \
    "j['usage']['completion_tokens'] == 3"
stop_daemon
check "SIGTERM exits 0" test "$DAEMON_STATUS" = 0
row=$(sqlite3 "$WORK/usage.db" "select http_status, finish_reason, completion_tokens from usage where request_id='cut-short'")
echo "# ledger row of the cut stream: $row"
check "the cut stream is recorded as 499 canceled" sh -c "echo '$row' | grep -q '^499|canceled|'"
check "generation stopped long before max_tokens" test "${row##*|}" -lt 2000
row=$(sqlite3 "$WORK/usage.db" "select http_status, finish_reason, completion_tokens from usage where request_id='gave-up'")
echo "# ledger row of the abandoned non-streaming request: $row"
check "the abandoned request is recorded as 499 canceled" sh -c "echo '$row' | grep -q '^499|canceled|'"
check "its generation stopped long before max_tokens" test "${row##*|}" -lt 2000

# --request-timeout: a request that cannot finish in time ends with a 504 envelope.
start_daemon --model "$WORK/smol.gguf" --model-id smol --db "$WORK/usage2.db" \
    --data-dir "$WORK/data" --threads 1 --parallel 1 --ctx 4096 --request-timeout 5
http POST /v1/chat/completions '{"model":"smol","max_tokens":4000,"temperature":0,"messages":[{"role":"user","content":"Tell me a long story"}]}'
check "over the request timeout: 504 request_timeout" is_error 504 server_error "" request_timeout
http POST /v1/chat/completions '{"model":"smol","max_tokens":3,"temperature":0,"messages":[{"role":"user","content":"Hi"}]}'
check "a short request still completes" json_true "$WORK/body" "j['usage']['completion_tokens'] == 3"
stop_daemon
finish
