#!/usr/bin/env bash
# Tool calling through the real daemon: tools are refused for a model whose template has no
# call format (the generated model's ChatML) unless tool_choice is none; served with a
# template that has one (Qwen 2.5's, from ../shared/templates), tools reach the prompt, a
# conversation with a call and its result is accepted, and answers without a call are plain
# text with their usual finish_reason; tool_choice "required" or a named function makes even
# this random-weight model answer with a valid call, plain or streamed.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

template="$here/../../../shared/templates/Qwen-Qwen2.5-7B-Instruct.jinja"
"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 7 --out "$WORK/tiny.gguf" 2>/dev/null

TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]'
ASK='"messages":[{"role":"user","content":"Weather in Oslo?"}]'

start_daemon --model "$WORK/tiny.gguf" --model-id tiny --db "$WORK/u1.db" --data-dir "$WORK/d1"
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,$TOOLS,\"max_tokens\":4}"
check "no call format in the template: tools are a 400 naming tools" is_error 400 invalid_request_error tools unsupported_parameter
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,$TOOLS,\"tool_choice\":\"none\",\"max_tokens\":4}"
check "tool_choice none works on any model" test "$STATUS" = 200
stop_daemon

if [ ! -f "$template" ]; then
    echo "# ../shared/templates absent: template-based tool tests skipped"
    finish
    exit $?
fi
start_daemon --model "$WORK/tiny.gguf" --model-id tiny --db "$WORK/u2.db" --data-dir "$WORK/d2" \
    --chat-template "$template" --ctx 2048
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,\"max_tokens\":4,\"temperature\":0}"
cp "$WORK/body" "$WORK/plain.json"
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,$TOOLS,\"max_tokens\":4,\"temperature\":0}"
check "with a Hermes-format template: 200" test "$STATUS" = 200
check "the tools are rendered into the prompt" json_true "$WORK/body" \
    "j['usage']['prompt_tokens'] > json.load(open('$WORK/plain.json'))['usage']['prompt_tokens'] + 20"
check "an answer without a call is plain text" json_true "$WORK/body" \
    "j['choices'][0]['finish_reason'] in ('stop', 'length') and isinstance(j['choices'][0]['message']['content'], str) and 'tool_calls' not in j['choices'][0]['message']"
CONV='"messages":[{"role":"user","content":"Weather in Oslo?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Oslo\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"-3 C and snow"}]'
http POST /v1/chat/completions "{\"model\":\"tiny\",$CONV,$TOOLS,\"max_tokens\":4}"
check "a call and its result in the conversation: 200" test "$STATUS" = 200
http POST /apply-template "{$CONV,$TOOLS}"
check "the call and its result reach the prompt as the template writes them" json_true "$WORK/body" \
    "'<tool_call>' in j['prompt'] and '\"city\": \"Oslo\"' in j['prompt'] and '-3 C and snow' in j['prompt'] and 'get_weather' in j['prompt']"
curl -sS -N -H 'Content-Type: application/json' --data-binary \
    "{\"model\":\"tiny\",$ASK,$TOOLS,\"max_tokens\":6,\"temperature\":0,\"stream\":true}" \
    "$BASE/v1/chat/completions" > "$WORK/stream.txt"
check "streaming with tools ends with a finish and [DONE]" sh -c \
    "grep -q '\"finish_reason\":\"' '$WORK/stream.txt' && tail -n 2 '$WORK/stream.txt' | grep -q '^data: \[DONE\]'"
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,$TOOLS,\"max_tokens\":6,\"temperature\":0}"
check "streamed with tools, the text is the same as not streamed" /usr/bin/python3 -c '
import json, sys
chunks = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: {")]
text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
want = json.load(open(sys.argv[2]))["choices"][0]["message"]["content"]
assert text == want, (text, want)' "$WORK/stream.txt" "$WORK/body"
FORCE_TOOLS='"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":8}},"required":["city"]}}},{"type":"function","function":{"name":"add","parameters":{"type":"object","properties":{"a":{"type":"integer","minimum":0,"maximum":99},"b":{"type":"integer","minimum":0,"maximum":99}},"required":["a","b"]}}}]'
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,$FORCE_TOOLS,\"tool_choice\":\"required\",\"max_tokens\":200,\"temperature\":0.7,\"seed\":3}"
check "tool_choice required: a call of an offered tool with valid arguments" json_true "$WORK/body" \
    "j['choices'][0]['finish_reason'] == 'tool_calls' and j['choices'][0]['message']['content'] is None and len(j['choices'][0]['message']['tool_calls']) >= 1 and all(c['type'] == 'function' and c['id'].startswith('call_') and c['function']['name'] in ('get_weather', 'add') and isinstance(json.loads(c['function']['arguments']), dict) for c in j['choices'][0]['message']['tool_calls'])"
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,$FORCE_TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"add\"}},\"max_tokens\":200,\"temperature\":0}"
check "a named function: exactly that call, arguments following its schema" json_true "$WORK/body" \
    "j['choices'][0]['finish_reason'] == 'tool_calls' and [c['function']['name'] for c in j['choices'][0]['message']['tool_calls']] == ['add'] and set(json.loads(j['choices'][0]['message']['tool_calls'][0]['function']['arguments'])) == {'a', 'b'} and all(isinstance(v, int) and 0 <= v <= 99 for v in json.loads(j['choices'][0]['message']['tool_calls'][0]['function']['arguments']).values())"
curl -sS -N -H 'Content-Type: application/json' --data-binary \
    "{\"model\":\"tiny\",$ASK,$FORCE_TOOLS,\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},\"max_tokens\":200,\"temperature\":0,\"stream\":true}" \
    "$BASE/v1/chat/completions" > "$WORK/stream.txt"
check "streamed: one tool-call delta (index, id, type, name, arguments), finish tool_calls" /usr/bin/python3 - "$WORK/stream.txt" <<'PY'
import json, sys
chunks = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: {")]
deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
calls = [t for d in deltas for t in d.get("tool_calls", [])]
finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
assert len(calls) == 1 and calls[0]["index"] == 0 and calls[0]["id"].startswith("call_"), calls
assert calls[0]["type"] == "function" and calls[0]["function"]["name"] == "get_weather", calls
assert isinstance(json.loads(calls[0]["function"]["arguments"])["city"], str)
assert not any(d.get("content") for d in deltas), "the call's text leaked as content"
assert finish == ["tool_calls"], finish
PY
http POST /v1/chat/completions "{\"model\":\"tiny\",$ASK,$FORCE_TOOLS,\"tool_choice\":\"required\",\"response_format\":{\"type\":\"json_object\"}}"
check "required tools with a response_format: 400 naming tool_choice" is_error 400 invalid_request_error tool_choice
if [ -d "$here/../node/node_modules/openai" ]; then
    check "openai SDK: forced tool calls, plain and streamed" env HEARTH_TOOLS=1 \
        HEARTH_URL="$BASE/v1" HEARTH_MODEL=tiny node --test "$here/../node/tools.test.mjs"
fi
stop_daemon
finish
