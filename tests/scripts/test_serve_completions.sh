#!/usr/bin/env bash
# Black-box test of the legacy POST /v1/completions with curl on a generated tiny model: the
# text_completion shapes, ids, finish_reason, usage arithmetic, every prompt shape, n choices
# per prompt and their indexing, echo, stop, legacy logprobs, streaming framing (the same text
# as without streaming at temperature 0), include_usage, and each refusal as a 400 naming its
# param; a client that hangs up mid-stream is canceled (on smol: tiny is too quick for that).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

start_tiny --kv-tokens 1024

post() { http POST /v1/completions "$1"; }


post '{"model":"tiny","prompt":"Hello there","max_tokens":6,"temperature":0}'
check "completion: 200" test "$STATUS" = 200
check "completion: text_completion object" py "$WORK/body" <<'PY'
assert j["object"] == "text_completion", j
assert j["id"].startswith("cmpl-") and len(j["id"]) > 10
assert isinstance(j["created"], int) and j["model"] == "tiny"
assert j["system_fingerprint"].startswith("fp_")
[c] = j["choices"]
assert set(c) == {"text", "index", "logprobs", "finish_reason"}, c
assert c["index"] == 0 and isinstance(c["text"], str) and c["logprobs"] is None
assert c["finish_reason"] in ("stop", "length")
u = j["usage"]
assert u["prompt_tokens"] > 0 and 0 < u["completion_tokens"] <= 6
assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
assert c["finish_reason"] == "length" or u["completion_tokens"] < 6
PY
cp "$WORK/body" "$WORK/plain.json"

post '{"model":"tiny","prompt":"Hello there","max_tokens":6,"temperature":0}'
check "completion: temperature 0 is deterministic" json_true "$WORK/body" \
    "j['choices'][0]['text'] == json.load(open('$WORK/plain.json'))['choices'][0]['text']"

post '{"model":"tiny","prompt":"Hello there","temperature":0,"seed":3}'
check "completion: max_tokens defaults to 16" json_true "$WORK/body" \
    "j['usage']['completion_tokens'] <= 16 and (j['usage']['completion_tokens'] == 16) == (j['choices'][0]['finish_reason'] == 'length')"

post '{"model":"tiny","prompt":"Hello there","max_tokens":6,"temperature":0,"echo":true}'
check "echo: the prompt then the same completion" json_true "$WORK/body" \
    "j['choices'][0]['text'] == 'Hello there' + json.load(open('$WORK/plain.json'))['choices'][0]['text']"

# the prompt as token ids: the ids /tokenize gives (BOS included) complete the same way
http POST /tokenize '{"content":"Hello there","add_special":true}'
ids=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["tokens"]))' "$WORK/body")
post "{\"model\":\"tiny\",\"prompt\":$ids,\"max_tokens\":6,\"temperature\":0}"
check "token-id prompt: same text as the string" json_true "$WORK/body" \
    "j['choices'][0]['text'] == json.load(open('$WORK/plain.json'))['choices'][0]['text'] and j['usage']['prompt_tokens'] == json.load(open('$WORK/plain.json'))['usage']['prompt_tokens']"
post "{\"model\":\"tiny\",\"prompt\":[$ids,$ids],\"max_tokens\":6,\"temperature\":0,\"echo\":true}"
check "token-id arrays: one choice each; echo gives the ids' text" py "$WORK/body" <<'PY'
assert [c["index"] for c in j["choices"]] == [0, 1], j
plain = json.load(open(sys.argv[1].replace("body", "plain.json")))
for c in j["choices"]:
    assert c["text"].endswith(plain["choices"][0]["text"]), (c, plain)
    assert "Hello there" in c["text"], c
assert j["usage"]["prompt_tokens"] == 2 * plain["usage"]["prompt_tokens"]
PY

post '{"model":"tiny","prompt":["Hello there","Good morning"],"n":3,"max_tokens":4,"temperature":0,"echo":true}'
check "n x prompts: index = prompt * n + k, each with its prompt, usage summed" py "$WORK/body" <<'PY'
ch = j["choices"]
assert [c["index"] for c in ch] == list(range(6)), ch
for c in ch:
    want = "Hello there" if c["index"] < 3 else "Good morning"
    assert c["text"].startswith(want), c
# temperature 0: the choices of one prompt agree
assert ch[0]["text"] == ch[1]["text"] == ch[2]["text"] and ch[3]["text"] == ch[5]["text"]
u = j["usage"]
assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"]
assert u["completion_tokens"] <= 6 * 4 and u["completion_tokens"] >= 6
PY
post '{"model":"tiny","prompt":"Hello there","max_tokens":4,"temperature":0}'
cp "$WORK/body" "$WORK/one.json"
post '{"model":"tiny","prompt":"Good morning","max_tokens":4,"temperature":0}'
cp "$WORK/body" "$WORK/two.json"
post '{"model":"tiny","prompt":["Hello there","Good morning"],"max_tokens":4,"temperature":0}'
check "several prompts: each as if alone; prompt_tokens summed" py "$WORK/body" <<'PY'
d = sys.argv[1].rsplit("/", 1)[0]
one, two = (json.load(open(f"{d}/{n}.json")) for n in ("one", "two"))
assert [c["text"] for c in j["choices"]] == [one["choices"][0]["text"], two["choices"][0]["text"]]
assert j["usage"]["prompt_tokens"] == one["usage"]["prompt_tokens"] + two["usage"]["prompt_tokens"]
assert j["usage"]["completion_tokens"] == one["usage"]["completion_tokens"] + two["usage"]["completion_tokens"]
PY

# stop: a piece of the plain answer ends the text before it
stop=$(/usr/bin/python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["choices"][0]["text"]; print(json.dumps(t[2:4]))' "$WORK/plain.json")
post "{\"model\":\"tiny\",\"prompt\":\"Hello there\",\"max_tokens\":6,\"temperature\":0,\"stop\":[$stop]}"
check "stop: text ends before the stop string, finish_reason stop" py "$WORK/body" <<'PY'
plain = json.load(open(sys.argv[1].replace("body", "plain.json")))["choices"][0]["text"]
c = j["choices"][0]
assert c["finish_reason"] == "stop", c
assert plain.startswith(c["text"]) and plain[len(c["text"]):].startswith(plain[2:4]), (c, plain)
PY

post '{"model":"tiny","prompt":"Hello there","max_tokens":5,"temperature":0,"logprobs":3}'
check "logprobs: the legacy structure" py "$WORK/body" <<'PY'
c = j["choices"][0]
lp = c["logprobs"]
assert set(lp) == {"tokens", "token_logprobs", "top_logprobs", "text_offset"}, lp
n = j["usage"]["completion_tokens"]
assert len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) == len(lp["text_offset"]) == n
assert all(isinstance(t, str) for t in lp["tokens"])
assert all(isinstance(x, float) and x <= 0 for x in lp["token_logprobs"])
assert all(isinstance(t, dict) and 1 <= len(t) <= 3 and all(v <= 0 for v in t.values()) for t in lp["top_logprobs"])
assert lp["text_offset"][0] == 0 and lp["text_offset"] == sorted(lp["text_offset"])
assert "".join(lp["tokens"]) == c["text"], (lp["tokens"], c["text"])
PY
post '{"model":"tiny","prompt":"Hello there","max_tokens":3,"ignore_eos":true,"logprobs":0}'
check "logprobs 0: sampled tokens only" json_true "$WORK/body" \
    "len(j['choices'][0]['logprobs']['tokens']) == 3 and all(t == {} for t in j['choices'][0]['logprobs']['top_logprobs'])"

stream() {
    curl -sS -N -D "$WORK/sheaders" -H 'Content-Type: application/json' --data-binary "$1" \
        "$BASE/v1/completions" > "$WORK/stream.txt"
}
stream '{"model":"tiny","prompt":"Hello there","max_tokens":6,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}'
check "stream: event-stream content type" grep -qi '^content-type: text/event-stream' "$WORK/sheaders"
check "stream: framing, chunks, finish, usage, [DONE], same text" /usr/bin/python3 - "$WORK/stream.txt" "$WORK/plain.json" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
plain = json.load(open(sys.argv[2]))
assert raw.endswith("data: [DONE]\n\n"), raw[-80:]
events = [e for e in raw.split("\n\n") if e]
assert all(e.startswith("data: ") for e in events), events
chunks = [json.loads(e[6:]) for e in events[:-1]]
assert len({c["id"] for c in chunks}) == 1 and chunks[0]["id"].startswith("cmpl-")
assert all(c["object"] == "text_completion" and c["model"] == "tiny" for c in chunks)
body = [c for c in chunks if c["choices"]]
assert all(set(c["choices"][0]) == {"text", "index", "logprobs", "finish_reason"} for c in body)
finals = [c for c in body if c["choices"][0]["finish_reason"] is not None]
assert len(finals) == 1 and finals[0] is body[-1]
assert finals[0]["choices"][0]["finish_reason"] == plain["choices"][0]["finish_reason"]
assert all(c["usage"] is None for c in body)
usage = chunks[-1]
key = lambda u: (u["prompt_tokens"], u["completion_tokens"], u["total_tokens"])
assert usage["choices"] == [] and key(usage["usage"]) == key(plain["usage"]), (usage, plain)
text = "".join(c["choices"][0]["text"] for c in body)
assert text == plain["choices"][0]["text"], (text, plain)
PY
stream '{"model":"tiny","prompt":["Hello there","Good morning"],"n":2,"max_tokens":4,"temperature":0,"stream":true,"echo":true,"logprobs":1}'
check "stream: rejected echo+logprobs is a 400 before any byte" json_true "$WORK/stream.txt" \
    "j['error']['param'] == 'echo'"
stream '{"model":"tiny","prompt":["Hello there","Good morning"],"n":2,"max_tokens":4,"temperature":0,"stream":true,"echo":true}'
check "stream: n x prompts indexed, echoed, one finish each, no usage chunk" /usr/bin/python3 - "$WORK/stream.txt" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
assert raw.endswith("data: [DONE]\n\n")
chunks = [json.loads(e[6:]) for e in raw.split("\n\n") if e and e != "data: [DONE]"]
assert all(len(c["choices"]) == 1 and "usage" not in c for c in chunks), chunks
texts, finals = {}, {}
for c in chunks:
    ch = c["choices"][0]
    texts[ch["index"]] = texts.get(ch["index"], "") + ch["text"]
    if ch["finish_reason"]:
        finals[ch["index"]] = finals.get(ch["index"], 0) + 1
assert sorted(texts) == [0, 1, 2, 3] and finals == {0: 1, 1: 1, 2: 1, 3: 1}, (texts, finals)
assert texts[0].startswith("Hello there") and texts[3].startswith("Good morning")
assert texts[0] == texts[1] and texts[2] == texts[3]
PY
stream '{"model":"tiny","prompt":"Hello there","max_tokens":4,"temperature":0,"stream":true,"logprobs":2}'
check "stream: legacy logprobs per chunk" /usr/bin/python3 - "$WORK/stream.txt" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
chunks = [json.loads(e[6:]) for e in raw.split("\n\n") if e and e != "data: [DONE]"]
lps = [c["choices"][0]["logprobs"] for c in chunks if c["choices"][0]["logprobs"]]
toks = sum((lp["tokens"] for lp in lps), [])
offs = sum((lp["text_offset"] for lp in lps), [])
assert len(toks) == 4 and offs == sorted(offs) and offs[0] == 0, lps
assert "".join(toks) == "".join(c["choices"][0]["text"] for c in chunks)
PY

# refusals: each a 400 naming its param
post '{"model":"tiny","prompt":"x","suffix":"and then"}'
check "suffix: 400 unsupported" is_error 400 invalid_request_error suffix unsupported_parameter
post '{"model":"tiny","prompt":"x","best_of":3}'
check "best_of other than n: 400" is_error 400 invalid_request_error best_of unsupported_parameter
post '{"model":"tiny","prompt":"x","best_of":2,"n":2,"max_tokens":2}'
check "best_of equal to n: accepted" test "$STATUS" = 200
post '{"model":"tiny","prompt":"x","echo":true,"logprobs":1}'
check "echo with logprobs: 400 naming echo" is_error 400 invalid_request_error echo
post '{"model":"tiny","prompt":"x","logprobs":6}'
check "logprobs above 5: 400" is_error 400 invalid_request_error logprobs integer_above_max_value
post '{"model":"tiny","prompt":"x","logprobs":true}'
check "logprobs not an integer: 400" is_error 400 invalid_request_error logprobs invalid_type
post '{"model":"tiny"}'
check "missing prompt: 400" is_error 400 invalid_request_error prompt missing_required_parameter
post '{"model":"tiny","prompt":[]}'
check "empty prompt array: 400" is_error 400 invalid_request_error prompt
post '{"model":"tiny","prompt":{"a":1}}'
check "prompt of wrong type: 400" is_error 400 invalid_request_error prompt invalid_type
post '{"model":"tiny","prompt":["a",3]}'
check "mixed prompt array: 400 naming the element" is_error 400 invalid_request_error 'prompt[1]' invalid_type
post '{"model":"tiny","prompt":[1,"a"]}'
check "token array with a string: 400 naming it" is_error 400 invalid_request_error 'prompt[1]'
post '{"model":"tiny","prompt":[1,99999999]}'
check "token outside the vocabulary: 400" is_error 400 invalid_request_error prompt
post '{"model":"tiny","prompt":[[1,2],[]]}'
check "empty token array: 400" is_error 400 invalid_request_error 'prompt[1]'
post '{"model":"tiny","prompt":["a","b","c"],"n":50}'
check "prompts x n above 128 choices: 400" is_error 400 invalid_request_error prompt
post '{"model":"tiny","prompt":"x","temperature":"hot"}'
check "temperature of wrong type: 400" is_error 400 invalid_request_error temperature invalid_type
post '{"model":"tiny","prompt":"x","top_p":2}'
check "top_p out of range: 400" is_error 400 invalid_request_error top_p
post '{"model":"tiny","prompt":"x","max_tokens":"9"}'
check "max_tokens of wrong type: 400" is_error 400 invalid_request_error max_tokens invalid_type
post '{"model":"tiny","prompt":"x","n":0}'
check "n 0: 400" is_error 400 invalid_request_error n
post '{"model":"tiny","prompt":"x","stop":[1]}'
check "stop of wrong type: 400" is_error 400 invalid_request_error 'stop[0]' invalid_type
post '{"model":"tiny","prompt":"x","presence_penalty":5}'
check "presence_penalty out of range: 400" is_error 400 invalid_request_error presence_penalty
post '{"model":"tiny","prompt":"x","frequency_penalty":"a"}'
check "frequency_penalty of wrong type: 400" is_error 400 invalid_request_error frequency_penalty
post '{"model":"tiny","prompt":"x","logit_bias":{"99999999":5}}'
check "logit_bias outside the vocabulary: 400" is_error 400 invalid_request_error logit_bias
post '{"model":"tiny","prompt":"x","seed":"s"}'
check "seed of wrong type: 400" is_error 400 invalid_request_error seed
post '{"model":"tiny","prompt":"x","echo":"yes"}'
check "echo of wrong type: 400" is_error 400 invalid_request_error echo invalid_type
post '{"model":"tiny","prompt":"x","stream_options":{"include_usage":true}}'
check "stream_options without stream: 400" is_error 400 invalid_request_error stream_options
post '{"model":"tiny","prompt":"x","max_tokens":2,"user":"u1","some_future_field":{"a":1},"presence_penalty":0.5,"frequency_penalty":0.5,"logit_bias":{"5":-100},"top_p":0.9,"seed":1}'
check "unknown fields ignored, every option accepted" test "$STATUS" = 200
post '{"model":"gpt-3.5-turbo-instruct","prompt":"x"}'
check "unknown model: 404 model_not_found" is_error 404 invalid_request_error model model_not_found
post '{"prompt":"x"}'
check "missing model: 400" is_error 400 invalid_request_error model
post '{"model":"tiny","prompt":"x"'
check "malformed JSON: 400" is_error 400 invalid_request_error
long=$(for i in $(seq 1 600); do printf 'hello world '; done)
post "{\"model\":\"tiny\",\"prompt\":\"$long\",\"max_tokens\":100}"
check "prompt beyond the context: 400 context_length_exceeded" is_error 400 invalid_request_error prompt context_length_exceeded
post "{\"model\":\"tiny\",\"prompt\":[\"hi\",\"$long\"],\"stream\":true}"
check "second prompt beyond the context: 400 before the stream" is_error 400 invalid_request_error prompt context_length_exceeded

http GET /health
check "daemon healthy after the errors and the hang-up" test "$STATUS" = 200

stop_daemon
check "SIGTERM: exit status 0" test "$DAEMON_STATUS" = 0
check "usage rows for /v1/completions" \
    test "$(sqlite3 "$WORK/usage.db" "select count(*) from usage where endpoint='/v1/completions' and http_status=200")" -ge 10
# a client that hangs up while its completion runs stops its generation: on smol at one
# thread, slow enough that 4000 tokens take seconds (tiny would finish before the hang-up)
"$HEARTH_BIN" make-model --preset smol --type q4_0 --seed 5 --out "$WORK/smol.gguf" 2>/dev/null
start_daemon --model "$WORK/smol.gguf" --model-id smol --db "$WORK/usage.db" \
    --data-dir "$WORK/data" --threads 1 --ctx 4096
check "a streaming client read the first chunk and hung up" /usr/bin/python3 - "$PORT" <<'PY'
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=60)
c.request("POST", "/v1/completions", json.dumps({"model": "smol", "prompt": "Once",
          "max_tokens": 4000, "temperature": 0, "stream": True, "ignore_eos": True}),
          {"Content-Type": "application/json", "x-request-id": "cmpl-cut"})
r = c.getresponse()
assert r.status == 200
while True:
    line = r.fp.readline()
    assert line, "stream ended early"
    if line.startswith(b"data: {"):
        break
c.close()
PY
http GET /health
check "daemon healthy after the hang-up" test "$STATUS" = 200
stop_daemon
check "the hung-up stream was canceled short of its 4000 tokens" \
    test "$(sqlite3 "$WORK/usage.db" "select count(*) from usage where request_id='cmpl-cut' and http_status=499 and completion_tokens < 2000")" = 1
finish
