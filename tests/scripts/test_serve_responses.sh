#!/usr/bin/env bash
# Black-box test of POST /v1/responses (OpenAI's Responses API) with curl on a generated tiny
# model: the response object's shape, ids, status and usage; instructions and message-item
# input rendered by the chat template (checked against /apply-template's token count); the
# typed event stream (order, sequence numbers, deltas adding up to the non-streamed text at
# temperature 0); text.format json_schema and json_object giving valid JSON; and each
# refusal as a 400 naming its param.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

start_tiny --kv-tokens 1024

post() { http POST /v1/responses "$1"; }

post '{"model":"tiny","input":"Hello there","max_output_tokens":6,"temperature":0}'
check "responses: 200" test "$STATUS" = 200
check "responses: the response object" py "$WORK/body" <<'PY'
assert j["object"] == "response" and j["id"].startswith("resp_"), j
assert isinstance(j["created_at"], int) and j["model"] == "tiny" and j["error"] is None
assert j["status"] in ("completed", "incomplete")
if j["status"] == "incomplete":
    assert j["incomplete_details"] == {"reason": "max_output_tokens"}
    assert j["usage"]["output_tokens"] == 6
else:
    assert j["incomplete_details"] is None and j["usage"]["output_tokens"] < 6
[m] = j["output"]
assert m["type"] == "message" and m["id"].startswith("msg_") and m["role"] == "assistant"
assert m["status"] == j["status"]
[part] = m["content"]
assert part["type"] == "output_text" and isinstance(part["text"], str) and part["annotations"] == []
u = j["usage"]
assert u["input_tokens"] > 0 and u["total_tokens"] == u["input_tokens"] + u["output_tokens"]
assert u["input_tokens_details"] == {"cached_tokens": u["input_tokens_details"]["cached_tokens"]}
assert u["output_tokens_details"] == {"reasoning_tokens": 0}
assert j["max_output_tokens"] == 6 and j["temperature"] == 0 and j["top_p"] == 1
assert j["instructions"] is None and j["tools"] == [] and j["text"] == {"format": {"type": "text"}}
assert j["parallel_tool_calls"] is True and j["tool_choice"] == "auto" and j["store"] is True
PY
cp "$WORK/body" "$WORK/plain.json"

# instructions are a system message before the input: the same prompt as that conversation
http POST /v1/chat/completions '{"model":"tiny","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"}],"max_tokens":6,"temperature":0}'
cp "$WORK/body" "$WORK/chat.json"
post '{"model":"tiny","instructions":"Be brief.","input":"Hello there","max_output_tokens":6,"temperature":0}'
check "instructions: as a system message (same tokens and text as chat)" py "$WORK/body" <<'PY'
chat = json.load(open(sys.argv[1].replace("body", "chat.json")))
assert j["instructions"] == "Be brief."
assert j["usage"]["input_tokens"] == chat["usage"]["prompt_tokens"], (j["usage"], chat["usage"])
assert j["output"][0]["content"][0]["text"] == chat["choices"][0]["message"]["content"]
PY
post '{"model":"tiny","input":[{"role":"developer","content":"Be brief."},{"type":"message","role":"user","content":[{"type":"input_text","text":"Hello "},{"type":"input_text","text":"there"}]}],"max_output_tokens":6,"temperature":0}'
check "message items: developer as system, text parts joined" py "$WORK/body" <<'PY'
chat = json.load(open(sys.argv[1].replace("body", "chat.json")))
assert j["usage"]["input_tokens"] == chat["usage"]["prompt_tokens"]
assert j["output"][0]["content"][0]["text"] == chat["choices"][0]["message"]["content"]
PY
post '{"model":"tiny","input":[{"role":"user","content":"Hi"},{"role":"assistant","content":[{"type":"output_text","text":"Hello!"}]},{"role":"user","content":"More"}],"max_output_tokens":3}'
check "multi-turn input with an assistant output_text" test "$STATUS" = 200

curl -sS -N -D "$WORK/sheaders" -H 'Content-Type: application/json' --data-binary \
    '{"model":"tiny","input":"Hello there","max_output_tokens":6,"temperature":0,"stream":true}' \
    "$BASE/v1/responses" > "$WORK/stream.txt"
check "stream: event-stream content type" grep -qi '^content-type: text/event-stream' "$WORK/sheaders"
check "stream: typed events in order, sequence numbers, same text" /usr/bin/python3 - "$WORK/stream.txt" "$WORK/plain.json" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
plain = json.load(open(sys.argv[2]))
assert raw.endswith("\n\n") and "[DONE]" not in raw
events = []
for block in raw.split("\n\n"):
    if not block:
        continue
    lines = block.split("\n")
    assert len(lines) == 2 and lines[0].startswith("event: ") and lines[1].startswith("data: "), block
    data = json.loads(lines[1][6:])
    assert data["type"] == lines[0][7:], block
    events.append(data)
types = [e["type"] for e in events]
assert [e["sequence_number"] for e in events] == list(range(len(events)))
final = "response.completed" if plain["status"] == "completed" else "response.incomplete"
deltas = [t for t in types if t == "response.output_text.delta"]
assert types == ["response.created", "response.in_progress", "response.output_item.added",
                 "response.content_part.added"] + deltas + ["response.output_text.done",
                 "response.content_part.done", "response.output_item.done", final], types
assert len(deltas) >= 1
created = events[0]["response"]
assert created["status"] == "in_progress" and created["output"] == [] and created["id"].startswith("resp_")
assert events[1]["response"]["id"] == created["id"]
item = events[2]["item"]
assert events[2]["output_index"] == 0 and item["status"] == "in_progress" and item["content"] == []
mid = item["id"]
for e in events[3:-2]:
    assert e["item_id"] == mid and e["output_index"] == 0 and e["content_index"] == 0, e
text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
want = plain["output"][0]["content"][0]["text"]
assert text == want, (text, want)
done = {e["type"]: e for e in events}
assert done["response.output_text.done"]["text"] == want
assert done["response.content_part.done"]["part"]["text"] == want
assert done["response.output_item.done"]["item"]["content"][0]["text"] == want
last = events[-1]["response"]
assert last["id"] == created["id"] and last["status"] == plain["status"]
assert last["output"][0]["id"] == mid and last["output"][0]["content"][0]["text"] == want
# the prefix cache may have kept the earlier request's prompt: cached_tokens may differ
key = lambda u: (u["input_tokens"], u["output_tokens"], u["total_tokens"])
assert key(last["usage"]) == key(plain["usage"]), (last["usage"], plain["usage"])
PY

SCHEMA='{"type":"object","properties":{"name":{"type":"string","maxLength":8},"n":{"type":"integer"}},"required":["name","n"],"additionalProperties":false}'
post "{\"model\":\"tiny\",\"input\":\"Give JSON\",\"max_output_tokens\":120,\"text\":{\"format\":{\"type\":\"json_schema\",\"name\":\"thing\",\"schema\":$SCHEMA,\"strict\":true}}}"
check "text.format json_schema: valid JSON under the schema, format echoed" py "$WORK/body" <<'PY'
assert j["status"] == "completed", j
v = json.loads(j["output"][0]["content"][0]["text"])
assert set(v) == {"name", "n"} and isinstance(v["name"], str) and len(v["name"]) <= 8 and isinstance(v["n"], int), v
assert j["text"]["format"]["type"] == "json_schema" and j["text"]["format"]["name"] == "thing"
PY
post '{"model":"tiny","input":"Give JSON","max_output_tokens":200,"text":{"format":{"type":"json_object"}}}'
check "text.format json_object: a JSON object" py "$WORK/body" <<'PY'
if j["status"] == "completed":
    assert isinstance(json.loads(j["output"][0]["content"][0]["text"]), dict), j
PY
post '{"model":"tiny","input":"x","text":{"format":{"type":"json_schema","name":"t","schema":{"type":"string","pattern":"a+"}}}}'
check "bad schema: 400 naming text.format.schema" is_error 400 invalid_request_error text.format.schema
post '{"model":"tiny","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}'
check "schema without name: 400 naming text.format.name" is_error 400 invalid_request_error text.format.name
post '{"model":"tiny","input":"x","text":{"format":{"type":"yaml"}}}'
check "unknown format type: 400" is_error 400 invalid_request_error text.format.type

post '{"model":"tiny","input":"x","previous_response_id":"resp_123"}'
check "previous_response_id: 400 unsupported" is_error 400 invalid_request_error previous_response_id unsupported_parameter
post '{"model":"tiny","input":"x","tools":[{"type":"function","name":"f","parameters":{}}]}'
check "tools on a template without a call format: 400 naming tools" is_error 400 invalid_request_error tools unsupported_parameter
post '{"model":"tiny","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":"none","max_output_tokens":2}'
check "tools with tool_choice none: accepted, repeated" json_true "$WORK/body" \
    "j['tools'][0]['name'] == 'f' and j['tool_choice'] == 'none' and j['output'][0]['type'] == 'message'"
post '{"model":"tiny","input":"x","tools":[{"type":"web_search"}]}'
check "hosted tools: 400 naming tools[0].type" is_error 400 invalid_request_error 'tools[0].type' unsupported_parameter
post '{"model":"tiny","input":"x","tools":[{"type":"function","name":"bad name"}]}'
check "bad function name: 400 naming tools[0].name" is_error 400 invalid_request_error 'tools[0].name'
post '{"model":"tiny","input":"x","tools":[{"type":"function","name":"f","parameters":[]}]}'
check "parameters not an object: 400 naming tools[0].parameters" is_error 400 invalid_request_error 'tools[0].parameters' invalid_type
post '{"model":"tiny","input":"x","tools":[{"type":"function","name":"f"},{"type":"function","name":"f"}]}'
check "duplicate function names: 400 naming tools[1].name" is_error 400 invalid_request_error 'tools[1].name'
post '{"model":"tiny","input":"x","tool_choice":"required"}'
check "tool_choice required without tools: 400" is_error 400 invalid_request_error tool_choice
post '{"model":"tiny","input":"x","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"function"}}'
check "named tool_choice without a name: 400" is_error 400 invalid_request_error tool_choice
post '{"model":"tiny","input":[{"type":"function_call","call_id":"c1","name":"f"}]}'
check "function_call without arguments: 400 naming it" is_error 400 invalid_request_error 'input[0].arguments' missing_required_parameter
post '{"model":"tiny","input":[{"type":"function_call_output","call_id":"c1","output":7}]}'
check "function_call_output with a non-text output: 400" is_error 400 invalid_request_error 'input[0].output' invalid_type
post '{"model":"tiny","input":"x","max_output_tokens":2,"store":true,"tools":[],"metadata":{"k":"v"},"n":3,"future":1}'
check "store true, empty tools, unknown fields: accepted" py "$WORK/body" <<'PY'
assert j["store"] is True and j["metadata"] == {"k": "v"} and len(j["output"]) == 1, j
PY
post '{"model":"tiny","input":"x","background":true}'
check "background: 400 unsupported" is_error 400 invalid_request_error background
post '{"model":"tiny"}'
check "missing input: 400" is_error 400 invalid_request_error input missing_required_parameter
post '{"model":"tiny","input":[]}'
check "empty input: 400" is_error 400 invalid_request_error input
post '{"model":"tiny","input":5}'
check "input of wrong type: 400" is_error 400 invalid_request_error input invalid_type
post '{"model":"tiny","input":[{"role":"wizard","content":"x"}]}'
check "bad role: 400 naming input[0].role" is_error 400 invalid_request_error 'input[0].role'
post '{"model":"tiny","input":[{"type":"reasoning","summary":[]}]}'
check "other item types: 400 naming input[0].type" is_error 400 invalid_request_error 'input[0].type' unsupported_parameter
post '{"model":"tiny","input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]}'
check "non-text content: 400 naming the part" is_error 400 invalid_request_error 'input[0].content[0].type'
post '{"model":"tiny","input":[{"role":"user","content":[{"type":"input_text"}]}]}'
check "text part without text: 400" is_error 400 invalid_request_error 'input[0].content[0].text'
post '{"model":"tiny","input":"x","instructions":7}'
check "instructions of wrong type: 400" is_error 400 invalid_request_error instructions invalid_type
post '{"model":"tiny","input":"x","max_output_tokens":0}'
check "max_output_tokens 0: 400" is_error 400 invalid_request_error max_output_tokens
post '{"model":"tiny","input":"x","temperature":"warm"}'
check "temperature of wrong type: 400" is_error 400 invalid_request_error temperature invalid_type
post '{"model":"tiny","input":"x","top_p":-1}'
check "top_p out of range: 400" is_error 400 invalid_request_error top_p
post '{"model":"tiny","input":"x","stream":"yes"}'
check "stream of wrong type: 400" is_error 400 invalid_request_error stream invalid_type
post '{"model":"o3","input":"x"}'
check "unknown model: 404 model_not_found" is_error 404 invalid_request_error model model_not_found
long=$(for i in $(seq 1 600); do printf 'hello world '; done)
post "{\"model\":\"tiny\",\"input\":\"$long\",\"max_output_tokens\":100}"
check "input beyond the context: 400 context_length_exceeded" is_error 400 invalid_request_error input context_length_exceeded
post "{\"model\":\"tiny\",\"input\":\"$long\",\"stream\":true}"
check "stream beyond the context: a 400 before any event" is_error 400 invalid_request_error input context_length_exceeded

http GET /health
check "daemon healthy after the errors" test "$STATUS" = 200
stop_daemon
check "SIGTERM: exit status 0" test "$DAEMON_STATUS" = 0
check "usage rows for /v1/responses" \
    test "$(sqlite3 "$WORK/usage.db" "select count(*) from usage where endpoint='/v1/responses' and http_status=200")" -ge 6

# Function tools, on a template that writes calls (Qwen 2.5's, from ../shared/templates): the
# call items of a forced call (plain and streamed), a conversation with a call and its output
# reaching the prompt, and plain text when the model does not call.
template="$here/../../../shared/templates/Qwen-Qwen2.5-7B-Instruct.jinja"
if [ -f "$template" ]; then
start_daemon --model "$WORK/tiny.gguf" --model-id tiny --data-dir "$WORK/d3" \
    --chat-template "$template" --ctx 2048
TOOLS='"tools":[{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":8}},"required":["city"]}},{"type":"function","name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer","minimum":0,"maximum":99},"b":{"type":"integer","minimum":0,"maximum":99}},"required":["a","b"]}}]'
post "{\"model\":\"tiny\",\"input\":\"Weather in Oslo?\",$TOOLS,\"tool_choice\":{\"type\":\"function\",\"name\":\"add\"},\"max_output_tokens\":200,\"temperature\":0}"
check "named function: one function_call item with valid arguments" py "$WORK/body" <<'PY'
assert j["status"] == "completed", j
[c] = j["output"]
assert c["type"] == "function_call" and c["name"] == "add" and c["status"] == "completed", c
assert c["id"].startswith("fc_") and c["call_id"].startswith("call_")
args = json.loads(c["arguments"])
assert set(args) == {"a", "b"} and all(isinstance(v, int) and 0 <= v <= 99 for v in args.values())
assert j["tool_choice"] == {"type": "function", "name": "add"} and j["tools"][1]["name"] == "add"
PY
curl -sS -N -H 'Content-Type: application/json' --data-binary \
    "{\"model\":\"tiny\",\"input\":\"Weather in Oslo?\",$TOOLS,\"tool_choice\":\"required\",\"max_output_tokens\":200,\"temperature\":0.7,\"seed\":3,\"stream\":true}" \
    "$BASE/v1/responses" > "$WORK/tools_stream.txt"
check "streamed forced call: item added, arguments delta and done, item done, no message" /usr/bin/python3 - "$WORK/tools_stream.txt" <<'PY'
import json, sys
blocks = [b.split("\n") for b in open(sys.argv[1]).read().split("\n\n") if b]
events = [json.loads(b[1][6:]) for b in blocks]
types = [e["type"] for e in events]
assert [e["sequence_number"] for e in events] == list(range(len(events)))
assert types[:2] == ["response.created", "response.in_progress"], types
assert types[-1] == "response.completed", types
assert "response.output_text.delta" not in types and "response.content_part.added" not in types
body = types[2:-1]
assert len(body) % 4 == 0 and len(body) >= 4, types
for k in range(0, len(body), 4):
    assert body[k:k + 4] == ["response.output_item.added", "response.function_call_arguments.delta",
                             "response.function_call_arguments.done", "response.output_item.done"], types
    added, delta, done, item_done = events[2 + k:6 + k]
    assert added["output_index"] == k // 4 and added["item"]["type"] == "function_call"
    assert added["item"]["arguments"] == "" and added["item"]["status"] == "in_progress"
    fid = added["item"]["id"]
    assert delta["item_id"] == fid and done["item_id"] == fid and delta["delta"] == done["arguments"]
    assert item_done["item"]["arguments"] == done["arguments"] and item_done["item"]["status"] == "completed"
    assert isinstance(json.loads(done["arguments"]), dict)
final = events[-1]["response"]
assert [o["type"] for o in final["output"]] == ["function_call"] * (len(body) // 4), final
assert final["output"][0]["name"] in ("get_weather", "add")
PY
CONV='"input":[{"role":"user","content":"Weather in Oslo?"},{"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\": \"Oslo\"}"},{"type":"function_call_output","call_id":"call_1","output":"-3 C and snow"}]'
post "{\"model\":\"tiny\",$CONV,$TOOLS,\"max_output_tokens\":4,\"temperature\":0}"
check "a call and its output in the input: 200" test "$STATUS" = 200
cp "$WORK/body" "$WORK/conv.json"
http POST /v1/chat/completions "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"Weather in Oslo?\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\": \\\"Oslo\\\"}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"-3 C and snow\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather now\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"maxLength\":8}},\"required\":[\"city\"]}}},{\"type\":\"function\",\"function\":{\"name\":\"add\",\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":99},\"b\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":99}},\"required\":[\"a\",\"b\"]}}}],\"max_tokens\":4,\"temperature\":0}"
check "the same prompt as the chat form of that conversation" py "$WORK/body" <<'PY'
conv = json.load(open(sys.argv[1].replace("body", "conv.json")))
assert conv["usage"]["input_tokens"] == j["usage"]["prompt_tokens"], (conv["usage"], j["usage"])
PY
post "{\"model\":\"tiny\",\"input\":\"Hello\",$TOOLS,\"max_output_tokens\":4,\"temperature\":0}"
check "tools offered, no call made: a message" json_true "$WORK/body" \
    "j['output'][0]['type'] == 'message' and all(o['type'] == 'message' for o in j['output'])"
post "{\"model\":\"tiny\",\"input\":\"x\",$TOOLS,\"tool_choice\":\"required\",\"text\":{\"format\":{\"type\":\"json_object\"}}}"
check "required tools with a JSON text.format: 400 naming tool_choice" is_error 400 invalid_request_error tool_choice
stop_daemon
else
    echo "# ../shared/templates absent: Responses tool-call tests skipped"
fi

# A failure after the stream began (--request-timeout 1 on a model slow enough to still be
# writing) ends the stream with an error event, numbered like the rest.
"$HEARTH_BIN" make-model --preset smol --type q4_0 --seed 5 --out "$WORK/smol.gguf" 2>/dev/null
start_daemon --model "$WORK/smol.gguf" --model-id smol --data-dir "$WORK/data2" --threads 1 \
    --ctx 1024 --request-timeout 1
# warm up first (the weights paged in), so the long request's prefill fits within its second
http POST /v1/responses '{"model":"smol","input":"Hi","max_output_tokens":1}'
curl -sS -N -H 'Content-Type: application/json' --data-binary \
    '{"model":"smol","input":"Tell me a long story","max_output_tokens":900,"temperature":0,"stream":true}' \
    "$BASE/v1/responses" > "$WORK/timeout.txt"
check "mid-stream failure: an error event ends the stream" /usr/bin/python3 - "$WORK/timeout.txt" <<'PY'
import json, sys
raw = open(sys.argv[1]).read()
if raw.startswith("{"):
    # a slow build (sanitizers) can time out before the first token: then the answer is the
    # plain 504, and the mid-stream path is not reached on this run
    assert json.loads(raw)["error"]["code"] == "request_timeout", raw
    print("# timed out before the stream began: mid-stream error not exercised")
    sys.exit(0)
blocks = [b.split("\n") for b in raw.split("\n\n") if b]
events = [(b[0][7:], json.loads(b[1][6:])) for b in blocks]
assert events[0][0] == "response.created" and "response.output_text.delta" in [t for t, _ in events]
t, last = events[-1]
assert t == "error" and last["type"] == "error" and last["code"] == "request_timeout", last
assert isinstance(last["message"], str) and last["message"]
assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
PY
stop_daemon
finish
