#!/usr/bin/env bash
# POST /v1/embeddings through the real daemon: a model made with --pooling mean answers every
# input shape (string, strings, token ids, token-id arrays) with unit-length vectors that are
# the same alone, batched, repeated, concurrent or as base64; every refusal is OpenAI's
# envelope naming its param; a model without pooling_type is a 400 that says how to ask for a
# pooling, and the "pooling" extension then works. A client that leaves mid-work and a stop
# during work leave a healthy daemon (and, under the sanitizers, no leak). Usage rows count
# the tokens embedded. The openai SDK test runs here (HEARTH_EMBED=1).
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 11 --pooling mean \
    --out "$WORK/pooled.gguf" 2>/dev/null
"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 11 --out "$WORK/plain.gguf" 2>/dev/null

# vec FILE I: the I-th embedding of a saved answer, as a JSON list (float or decoded base64).
cat > "$WORK/emb.py" <<'PY'
import base64, json, sys
import numpy as np

def vectors(path):
    j = json.load(open(path))
    out = []
    for d in j["data"]:
        e = d["embedding"]
        if isinstance(e, str):
            out.append(np.frombuffer(base64.b64decode(e), dtype="<f4"))
        else:
            out.append(np.array(e, dtype=np.float32))
    return out
PY
# py CODE ARGS...: runs CODE with emb.py's helpers imported.
py() {
    local code=$1
    shift
    PYTHONPATH="$WORK" /usr/bin/python3 -c "from emb import *; import sys
$code" "$@"
}

start_daemon --model "$WORK/pooled.gguf" --model-id emb --db "$WORK/u1.db" --data-dir "$WORK/d1" \
    --ctx 64

http POST /v1/embeddings '{"model":"emb","input":"The quick brown fox"}'
cp "$WORK/body" "$WORK/one.json"
check "a string: 200, one embedding in OpenAI's shape" json_true "$WORK/body" \
    "set(j) == {'object','data','model','usage'} and j['object'] == 'list' and j['model'] == 'emb' and len(j['data']) == 1 and j['data'][0]['object'] == 'embedding' and j['data'][0]['index'] == 0 and len(j['data'][0]['embedding']) > 0 and all(isinstance(x, float) for x in j['data'][0]['embedding'])"
check "usage: prompt_tokens = total_tokens > 0" json_true "$WORK/body" \
    "j['usage']['prompt_tokens'] > 0 and j['usage']['total_tokens'] == j['usage']['prompt_tokens']"
check "the vector has unit L2 norm" py 'v = vectors(sys.argv[1])[0]
assert abs(float(np.linalg.norm(v.astype(np.float64))) - 1) < 1e-5, np.linalg.norm(v)' "$WORK/one.json"
DIM=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"][0]["embedding"]))' "$WORK/one.json")

http POST /v1/embeddings '{"model":"emb","input":"The quick brown fox"}'
check "the same input gives the same vector" py 'a = vectors(sys.argv[1])[0]; b = vectors(sys.argv[2])[0]
assert np.array_equal(a, b)' "$WORK/one.json" "$WORK/body"

http POST /v1/embeddings '{"model":"emb","input":"The quick brown fox","encoding_format":"base64"}'
check "base64: a string of n_embd little-endian float32" json_true "$WORK/body" \
    "isinstance(j['data'][0]['embedding'], str) and len(__import__('base64').b64decode(j['data'][0]['embedding'])) == 4 * $DIM"
check "base64 decodes to exactly the float answer" py 'a = vectors(sys.argv[1])[0]; b = vectors(sys.argv[2])[0]
assert np.array_equal(a, b)' "$WORK/one.json" "$WORK/body"

http POST /v1/embeddings '{"model":"emb","input":["hello","The quick brown fox","a much longer sentence about nothing in particular"]}'
cp "$WORK/body" "$WORK/batch.json"
check "an array of strings: one embedding each, indexes in order" json_true "$WORK/body" \
    "[d['index'] for d in j['data']] == [0, 1, 2]"
check "batched vectors equal the single-input ones, in order" py 'b = vectors(sys.argv[1]); one = vectors(sys.argv[2])[0]
assert np.array_equal(b[1], one)
assert not np.array_equal(b[0], b[1]) and not np.array_equal(b[1], b[2])' "$WORK/batch.json" "$WORK/one.json"
http POST /v1/embeddings '{"model":"emb","input":"hello"}'
cp "$WORK/body" "$WORK/hello.json"
http POST /v1/embeddings '{"model":"emb","input":"a much longer sentence about nothing in particular"}'
check "every batched vector equals its input alone" py 'b = vectors(sys.argv[1])
assert np.array_equal(b[0], vectors(sys.argv[2])[0]) and np.array_equal(b[2], vectors(sys.argv[3])[0])' \
    "$WORK/batch.json" "$WORK/hello.json" "$WORK/body"
check "usage counts the tokens of every input" /usr/bin/python3 -c '
import json, sys
b, o = (json.load(open(p)) for p in sys.argv[1:3])
assert b["usage"]["prompt_tokens"] > o["usage"]["prompt_tokens"]' "$WORK/batch.json" "$WORK/one.json"

# token ids: the text's own tokens (BOS/EOS as the vocab says, as the string is tokenized)
http POST /tokenize '{"content":"The quick brown fox","add_special":true}'
ids=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["tokens"]))' "$WORK/body")
http POST /v1/embeddings "{\"model\":\"emb\",\"input\":$ids}"
check "token ids: one embedding, equal to the string's" py 'a = vectors(sys.argv[1]); b = vectors(sys.argv[2])[0]
assert len(a) == 1 and np.array_equal(a[0], b)' "$WORK/body" "$WORK/one.json"
check "token ids: usage is their count" json_true "$WORK/body" "j['usage']['prompt_tokens'] == len($ids)"
http POST /v1/embeddings "{\"model\":\"emb\",\"input\":[[5,6,7],$ids,[9]]}"
check "token-id arrays: one embedding each, the text's in its place" py 'a = vectors(sys.argv[1]); b = vectors(sys.argv[2])[0]
assert len(a) == 3 and np.array_equal(a[1], b)' "$WORK/body" "$WORK/one.json"

http POST /v1/embeddings "{\"model\":\"emb\",\"input\":\"hi\",\"dimensions\":$DIM}"
check "dimensions equal to n_embd is accepted" test "$STATUS" = 200
http POST /v1/embeddings '{"model":"emb","input":"hi","dimensions":3}'
check "other dimensions: 400 naming dimensions" is_error 400 invalid_request_error dimensions unsupported_parameter
http POST /v1/embeddings '{"model":"emb","input":"hi","pooling":"cls"}'
check "the pooling extension overrides the model's" py 'a = vectors(sys.argv[1])[0]; b = vectors(sys.argv[2])[0]
assert not np.array_equal(a, b)' "$WORK/body" "$WORK/hello.json"

# refusals
http POST /v1/embeddings '{"model":"emb","input":5}'
check "input a number: 400 naming input" is_error 400 invalid_request_error input invalid_type
http POST /v1/embeddings '{"model":"emb","input":["a",2]}'
check "mixed input shapes: 400 naming input" is_error 400 invalid_request_error input invalid_type
http POST /v1/embeddings '{"model":"emb","input":"a","encoding_format":"bogus"}'
check "encoding_format bogus: 400 naming encoding_format" is_error 400 invalid_request_error encoding_format invalid_value
http POST /v1/embeddings '{"input":"a"}'
check "model missing: 400 naming model" is_error 400 invalid_request_error model missing_required_parameter
http POST /v1/embeddings '{"model":"nope","input":"a"}'
check "unknown model: 404 model_not_found" is_error 404 invalid_request_error model model_not_found
http POST /v1/embeddings '{"model":"emb","input":""}'
check "empty string: 400 naming input" is_error 400 invalid_request_error input
http POST /v1/embeddings '{"model":"emb","input":[]}'
check "empty array: 400 naming input" is_error 400 invalid_request_error input empty_array
http POST /v1/embeddings '{"model":"emb","input":[[]]}'
check "empty token array: 400 naming input" is_error 400 invalid_request_error input empty_array
http POST /v1/embeddings '{"model":"emb","input":[1,99999999]}'
check "a token id outside the vocabulary: 400 naming input" is_error 400 invalid_request_error input
LONG=$(/usr/bin/python3 -c 'print(" ".join(["word"] * 300))')
http POST /v1/embeddings "{\"model\":\"emb\",\"input\":[\"short\",\"$LONG\"]}"
check "an input longer than the context: 400 naming input" is_error 400 invalid_request_error input context_length_exceeded
check "  ... in OpenAI's words" json_true "$WORK/body" "'maximum context length is 64 tokens' in j['error']['message']"
TOOLONG=$(/usr/bin/python3 -c 'print([1] * 65)')
http POST /v1/embeddings "{\"model\":\"emb\",\"input\":$TOOLONG}"
check "token ids longer than the context: 400" is_error 400 invalid_request_error input context_length_exceeded
http POST /v1/embeddings '{"model":"emb","input":'
check "malformed JSON: 400" is_error 400 invalid_request_error
http GET /v1/embeddings
check "GET: 405 with Allow: POST" sh -c "test '$STATUS' = 405 && grep -qi '^allow: POST' '$WORK/headers'"

# concurrency: eight requests at once, each answered as alone
pids=()
for i in 1 2 3 4 5 6 7 8; do
    curl -sS -o "$WORK/c$i.json" -H 'Content-Type: application/json' \
        --data-binary '{"model":"emb","input":["hello","The quick brown fox"]}' "$BASE/v1/embeddings" &
    pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the daemon is a child too
check "eight concurrent requests: each equals the sequential answer" py '
b = vectors(sys.argv[1])
for p in sys.argv[2:]:
    c = vectors(p)
    assert np.array_equal(c[0], b[0]) and np.array_equal(c[1], b[1]), p' \
    "$WORK/batch.json" "$WORK"/c?.json

# a client that leaves while its work runs (2048 inputs take a while), then one more request
BIG=$(/usr/bin/python3 -c 'import json; print(json.dumps({"model":"emb","input":["some words to embed here %d" % i for i in range(2048)]}))')
printf '%s' "$BIG" > "$WORK/big.json"
curl -sS -o /dev/null --max-time 0.2 -H 'Content-Type: application/json' \
    --data-binary @"$WORK/big.json" "$BASE/v1/embeddings" 2>/dev/null || true
http POST /v1/embeddings '{"model":"emb","input":"hello"}'
check "after a client left mid-work: still answers, the same vector" py 'assert np.array_equal(vectors(sys.argv[1])[0], vectors(sys.argv[2])[0])' \
    "$WORK/body" "$WORK/hello.json"
curl -sS -o "$WORK/bigans.json" -H 'Content-Type: application/json' \
    --data-binary @"$WORK/big.json" "$BASE/v1/embeddings"
check "2048 inputs (OpenAI's maximum): 2048 vectors" json_true "$WORK/bigans.json" \
    "len(j['data']) == 2048 and j['data'][2047]['index'] == 2047"

if [ -d "$here/../node/node_modules/openai" ]; then
    check "openai SDK: embeddings.create, float and base64" env HEARTH_EMBED=1 \
        HEARTH_URL="$BASE/v1" HEARTH_MODEL=emb node --test "$here/../node/embeddings.test.mjs"
else
    echo "# openai SDK not installed (tests/node/node_modules): SDK test skipped"
fi

# a stop while work runs: requests end, the daemon exits 0
curl -sS -o /dev/null -H 'Content-Type: application/json' --data-binary @"$WORK/big.json" \
    "$BASE/v1/embeddings" 2>/dev/null &
CURL_PID=$!
sleep 0.1
stop_daemon
wait "$CURL_PID" 2>/dev/null || true
check "SIGTERM during embedding work: exit status 0" test "$DAEMON_STATUS" = 0
check "no sanitizer report" sh -c "! grep -q 'Sanitizer' '$LOG'"
check "usage rows count the tokens embedded" test "$(sqlite3 "$WORK/u1.db" \
    "select count(*) from usage where endpoint='/v1/embeddings' and http_status=200 and prompt_tokens>0")" -ge 10
check "refusals are recorded as 400s" test "$(sqlite3 "$WORK/u1.db" \
    "select count(*) from usage where endpoint='/v1/embeddings' and http_status=400")" -ge 5

# a model without pooling_type
start_daemon --model "$WORK/plain.gguf" --model-id plain --db "$WORK/u2.db" --data-dir "$WORK/d2"
http POST /v1/embeddings '{"model":"plain","input":"hello"}'
check "no pooling type and none asked for: 400 (not 500)" is_error 400 invalid_request_error pooling
check "  ... saying the model has none and how to ask" json_true "$WORK/body" \
    "'no pooling type' in j['error']['message'] and '\"pooling\"' in j['error']['message']"
http POST /v1/embeddings '{"model":"plain","input":"hello","pooling":"mean"}'
check "with \"pooling\": \"mean\": 200, the same as the pooled model's" py 'assert np.array_equal(vectors(sys.argv[1])[0], vectors(sys.argv[2])[0])' \
    "$WORK/body" "$WORK/hello.json"
http POST /v1/embeddings '{"model":"plain","input":"hello","pooling":"last"}'
check "with \"pooling\": \"last\": 200, unit length" py 'v = vectors(sys.argv[1])[0]
assert abs(float(np.linalg.norm(v.astype(np.float64))) - 1) < 1e-5' "$WORK/body"
http POST /v1/embeddings '{"model":"plain","input":"hello","pooling":"sum"}'
check "an unknown pooling: 400 naming pooling" is_error 400 invalid_request_error pooling invalid_value
stop_daemon
check "SIGTERM: exit status 0" test "$DAEMON_STATUS" = 0
check "no sanitizer report" sh -c "! grep -q 'Sanitizer' '$LOG'"
finish
