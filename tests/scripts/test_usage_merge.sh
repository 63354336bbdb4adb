#!/usr/bin/env bash
# `hearth usage --db a.db --db b.db` over two replicas' ledgers: two daemons, each with its
# own database, answer different requests; the merged report's every group is the sum of the
# two single reports (requests, tokens; latency weighted by requests), by model and by user;
# a missing database among them is named and exits 1.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

"$HEARTH_BIN" make-model --preset tiny --type f32 --seed 7 --out "$WORK/tiny.gguf" 2>/dev/null
chat() { # USER MAX_TOKENS
    http POST /v1/chat/completions "{\"model\":\"tiny\",\"max_tokens\":$2,\"user\":\"$1\",\"messages\":[{\"role\":\"user\",\"content\":\"hello $1\"}]}"
    [ "$STATUS" = 200 ] || echo "  chat: $STATUS $(cat "$WORK/body")"
}
start_daemon --model "$WORK/tiny.gguf" --model-id tiny --db "$WORK/a.db" --data-dir "$WORK/da" --threads 1
chat ward-3 4; chat ward-3 6; chat ward-7 2
stop_daemon
start_daemon --model "$WORK/tiny.gguf" --model-id tiny --db "$WORK/b.db" --data-dir "$WORK/db" --threads 1
chat ward-3 5; chat icu 3
stop_daemon

for by in model user; do
    "$HEARTH_BIN" usage --db "$WORK/a.db" --by $by --format json >"$WORK/a-$by.json"
    "$HEARTH_BIN" usage --db "$WORK/b.db" --by $by --format json >"$WORK/b-$by.json"
    "$HEARTH_BIN" usage --db "$WORK/a.db" --db "$WORK/b.db" --by $by --format json >"$WORK/ab-$by.json"
    check "merged --by $by: every group is the sum of both replicas' groups" /usr/bin/python3 - \
        "$WORK/a-$by.json" "$WORK/b-$by.json" "$WORK/ab-$by.json" <<'PY'
import json, sys
a, b, ab = (json.load(open(p)) for p in sys.argv[1:4])
def groups(doc):
    return {g["group"]: g for g in doc["data"]}
ga, gb, gab = groups(a), groups(b), groups(ab)
assert set(gab) == set(ga) | set(gb), (sorted(gab), sorted(ga), sorted(gb))
for name, g in gab.items():
    parts = [x[name] for x in (ga, gb) if name in x]
    for f in ("requests", "prompt_tokens", "completion_tokens", "total_tokens"):
        assert g[f] == sum(p[f] for p in parts), (name, f, g, parts)
    lat = sum(p["mean_latency_ms"] * p["requests"] for p in parts) / g["requests"]
    assert abs(g["mean_latency_ms"] - lat) <= 0.11, (name, g, parts)
print("groups:", {k: v["requests"] for k, v in gab.items()})
PY
done
check "merged by user: ward-3 made 3 requests across both" \
    json_true "$WORK/ab-user.json" "[g['requests'] for g in j['data'] if g['group'] == 'ward-3'] == [3]"
set +e
"$HEARTH_BIN" usage --db "$WORK/a.db" --db "$WORK/none.db" 2>"$WORK/err" >/dev/null; st=$?
set -e
check "a missing database among them: exit 1 naming it" \
    sh -c "test $st = 1 && grep -q 'none.db: no usage database' '$WORK/err'"
finish
