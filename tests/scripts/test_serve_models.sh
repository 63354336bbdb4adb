#!/usr/bin/env bash
# Black-box test of serving several models: --models-dir (ids from file names, hidden and
# broken files left out), a config "models" list with per-model context and parallelism,
# --model beside them; models load on first use, at most --max-loaded at once (the least
# recently used idle one unloaded for another), unload after --keep-alive idle; /v1/models
# reports each one's status, context, quantization and the SHA-256 of its file; /ready; the
# request's "model" selects, an unknown one is a 404; start-up errors name what is wrong.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

mkdir -p "$WORK/models"
"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 1 --out "$WORK/models/alpha.gguf" 2>/dev/null
"$HEARTH_BIN" make-model --preset tiny --type f16 --seed 2 --out "$WORK/models/beta.gguf" 2>/dev/null
"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 3 --out "$WORK/pinned.gguf" 2>/dev/null
"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 4 --out "$WORK/gamma-file.gguf" 2>/dev/null
cp "$WORK/models/alpha.gguf" "$WORK/models/.partial.gguf"
head -c 1000 "$WORK/models/alpha.gguf" > "$WORK/models/broken.gguf"
echo "not a model" > "$WORK/models/notes.txt"
cat > "$WORK/cfg.json" <<JSON
{"models": [{"id": "gamma", "path": "$WORK/gamma-file.gguf", "ctx": 256, "parallel": 2}]}
JSON

start_daemon --config "$WORK/cfg.json" --models-dir "$WORK/models" --model "$WORK/pinned.gguf" \
    --max-loaded 1 --keep-alive 3 --threads 1 --ctx 512 --db "$WORK/usage.db" --data-dir "$WORK/data"

check "a broken file in the directory is left out, named in the log" grep -q "broken.gguf: left out" "$LOG"
http GET /v1/models
check "GET /v1/models: --model, the list, then the directory by name" json_true "$WORK/body" \
    "[m['id'] for m in j['data']] == ['pinned', 'gamma', 'alpha', 'beta']"
check "only the preloaded model is loaded at start" json_true "$WORK/body" \
    "[m['status'] for m in j['data']] == ['loaded', 'unloaded', 'unloaded', 'unloaded']"
check "context, quantization and parallelism per model" json_true "$WORK/body" \
    "[(m['context_length'], m['quantization'], m['parallel']) for m in j['data']] == [(512, 'F32', 4), (256, 'F32', 2), (512, 'F32', 4), (512, 'F16', 4)]"
for _ in $(seq 1 50); do
    http GET /v1/models
    json_true "$WORK/body" "all(m['sha256'] for m in j['data'])" && break
    sleep 0.1
done
want=$(/usr/bin/python3 -c 'import json,sys; print(json.dumps([l.split()[0] for l in sys.stdin]))' \
    < <(sha256sum "$WORK/pinned.gguf" "$WORK/gamma-file.gguf" "$WORK/models/alpha.gguf" "$WORK/models/beta.gguf"))
check "each model's sha256 is its file's" json_true "$WORK/body" "[m['sha256'] for m in j['data']] == $want"
http GET /v1/models/beta
check "GET /v1/models/beta without loading it" json_true "$WORK/body" "j['id'] == 'beta' and j['status'] == 'unloaded' and j['owned_by'] == 'hearth-demo'"
http GET /ready
check "/ready: 200 with every model's state" json_true "$WORK/body" \
    "j['status'] == 'ready' and j['models'] == {'pinned': 'loaded', 'gamma': 'unloaded', 'alpha': 'unloaded', 'beta': 'unloaded'}"

chat() { # chat MODEL: a short chat request
    http POST /v1/chat/completions "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":4,\"temperature\":0}"
}
chat alpha
check "chat with alpha loads it on first use" json_true "$WORK/body" "j['model'] == 'alpha' and j['usage']['completion_tokens'] > 0"
cp "$WORK/body" "$WORK/alpha1.json"
http GET /v1/models/alpha
check "alpha is now loaded" json_true "$WORK/body" "j['status'] == 'loaded'"
http POST /v1/embeddings '{"model":"alpha","input":"Hello","pooling":"mean"}'
check "embeddings from alpha" json_true "$WORK/body" "len(j['data'][0]['embedding']) == 64"
cp "$WORK/body" "$WORK/emb1.json"
chat beta
check "chat with beta" json_true "$WORK/body" "j['model'] == 'beta'"
check "max-loaded 1: alpha unloaded to make room for beta" grep -q "alpha: unloading (room for another model)" "$LOG"
http GET /v1/models
check "beta loaded, alpha unloaded, the preloaded model stays" json_true "$WORK/body" \
    "[m['status'] for m in j['data']] == ['loaded', 'unloaded', 'unloaded', 'loaded']"
chat alpha
check "alpha again answers as before" json_true "$WORK/body" \
    "j['choices'][0]['message']['content'] == json.load(open('$WORK/alpha1.json'))['choices'][0]['message']['content']"
http POST /v1/embeddings '{"model":"alpha","input":"Hello","pooling":"mean"}'
check "alpha reloaded embeds as before (its embedder went with the unload)" json_true "$WORK/body" \
    "j['data'][0]['embedding'] == json.load(open('$WORK/emb1.json'))['data'][0]['embedding']"
chat pinned
check "the preloaded model answers" json_true "$WORK/body" "j['model'] == 'pinned'"
http POST /v1/chat/completions '{"model":"nope","messages":[{"role":"user","content":"Hi"}]}'
check "an unknown model is a 404 model_not_found" is_error 404 invalid_request_error model model_not_found

http POST /tokenize '{"model":"gamma","content":"Hello"}'
check "/tokenize takes a model" json_true "$WORK/body" "len(j['tokens']) >= 1"
http POST /tokenize '{"content":"Hello"}'
check "/tokenize without a model uses the first" json_true "$WORK/body" "len(j['tokens']) >= 1"
http POST /tokenize '{"model":"nope","content":"Hello"}'
check "/tokenize with an unknown model: 404" is_error 404 invalid_request_error model model_not_found
http POST /detokenize '{"model":5,"tokens":[1]}'
check "/detokenize with a model that is not a string: 400" is_error 400 invalid_request_error model

# Two models wanted at once with one slot: the second waits for the first to go idle.
body() { echo "{\"model\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"max_tokens\":24,\"temperature\":0}"; }
curl -sS -o "$WORK/c1.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$(body gamma)" "$BASE/v1/chat/completions" > "$WORK/s1" &
p1=$!
curl -sS -o "$WORK/c2.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$(body beta)" "$BASE/v1/chat/completions" > "$WORK/s2" &
p2=$!
curl -sS -o "$WORK/c3.json" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$(body alpha)" "$BASE/v1/chat/completions" > "$WORK/s3" &
p3=$!
wait $p1 $p2 $p3
check "three models wanted at once with one slot: all answered" \
    sh -c "test \"\$(cat '$WORK/s1' '$WORK/s2' '$WORK/s3')\" = 200200200"
check "each by its own model" json_true "$WORK/c1.json" "j['model'] == 'gamma' and json.load(open('$WORK/c2.json'))['model'] == 'beta' and json.load(open('$WORK/c3.json'))['model'] == 'alpha'"
check "gamma ran with its own context size" grep -q "gamma: loaded (context 256, 2 parallel)" "$LOG"

# keep-alive 3 s: the on-demand model unloads when idle; the preloaded one stays.
for _ in $(seq 1 60); do
    grep -q "unloading (idle)" "$LOG" && break
    sleep 0.1
done
sleep 0.5
http GET /v1/models
check "after --keep-alive idle only the preloaded model is loaded" json_true "$WORK/body" \
    "[m['status'] for m in j['data']] == ['loaded', 'unloaded', 'unloaded', 'unloaded']"

# A model whose file disappears cannot load: 500 model_load_failed, and the server goes on.
mv "$WORK/models/beta.gguf" "$WORK/beta.moved"
chat beta
check "a model that cannot load: 500 model_load_failed" is_error 500 server_error "" model_load_failed
mv "$WORK/beta.moved" "$WORK/models/beta.gguf"
chat beta
check "once the file is back it loads" json_true "$WORK/body" "j['model'] == 'beta'"
stop_daemon
check "SIGTERM: exit status 0" test "$DAEMON_STATUS" = 0
check "usage rows name each model" \
    test "$(sqlite3 "$WORK/usage.db" "select count(distinct model) from usage where endpoint='/v1/chat/completions' and http_status=200")" = 4

# Start-up errors: one line naming the problem, exit 2.
expect_exit2() { # expect_exit2 WHAT PATTERN ARGS...
    local what=$1 pattern=$2
    shift 2
    set +e
    "$HEARTH_BIN" serve --port 0 --data-dir "$WORK/data" --db "$WORK/u2.db" "$@" 2>"$WORK/err"
    local st=$?
    set -e
    check "$what" sh -c "test $st = 2 && grep -q -- '$pattern' '$WORK/err'"
}
expect_exit2 "a missing models directory" "--models-dir $WORK/none" --models-dir "$WORK/none"
mkdir -p "$WORK/empty"
expect_exit2 "a models directory without models" "no .gguf files" --models-dir "$WORK/empty"
cp "$WORK/pinned.gguf" "$WORK/models/alpha-copy.gguf"
expect_exit2 "two models with one id" "model id .alpha. is also" --models-dir "$WORK/models" --model "$WORK/models/alpha-copy.gguf" --model-id alpha
echo '{"models": [{"id": "x"}]}' > "$WORK/bad.json"
expect_exit2 "a models entry without a path" "models\[0\].path: missing" --config "$WORK/bad.json"
echo '{"models": [{"id": "x", "path": "p", "ctx": "big"}]}' > "$WORK/bad.json"
expect_exit2 "a models entry with a bad ctx" "models\[0\].ctx" --config "$WORK/bad.json"
finish
