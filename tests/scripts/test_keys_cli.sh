#!/usr/bin/env bash
# `hearth keys` and `hearth usage` end to end on a temporary database: the secret shown once
# and stored nowhere (not in listings, the database or its WAL), names that are data (SQL- and
# CSV-shaped) kept verbatim, revoke/reuse/update, the CLI's error contract (exit 2 with one
# line naming the option, 1 at run time), the database found as `hearth serve` finds it, and
# usage sums per day/model/key/user against a Python oracle over rows inserted with sqlite3.
here=$(cd "$(dirname "$0")" && pwd)
source "$here/daemon_lib.sh"

PY=/usr/bin/python3
if ! "$PY" -c 'import sqlite3, csv, json' 2>/dev/null; then
    echo "# $PY with sqlite3 is needed: skipped"
    exit 77
fi
DB="$WORK/data/sub/hearth.db"
# H ARGS...: hearth whose failure is left to the checks that read its output.
H() { "$HEARTH_BIN" "$@" || true; }
# run ARGS...: stdout to $WORK/out, stderr to $WORK/err, exit status to $ST.
run() {
    set +e
    "$HEARTH_BIN" "$@" >"$WORK/out" 2>"$WORK/err"
    ST=$?
    set -e
}
one_line() { test "$(wc -l <"$1")" = 1; }
# jq_py FILE EXPR: prints EXPR (Python, `j` the parsed JSON of FILE).
jq_py() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# ---- create: the secret once, alone on stdout ----
run keys create --name acme --rpm 60 --db "$DB"
SECRET=$(cat "$WORK/out")
check "create: exit 0" test "$ST" = 0
check "create: stdout is one line" one_line "$WORK/out"
check "create: a 46-character hk_ secret of base62" \
    sh -c "printf '%s' '$SECRET' | grep -Eqx 'hk_[0-9A-Za-z]{43}'"
check "create: one line on stderr with id, name, hint and the warning" sh -c "one=\$(wc -l < '$WORK/err'); test \$one = 1 && grep -Eq \"^created key 1 'acme' \\(hk_${SECRET:3:4}\\.\\.\\.${SECRET:42:4}\\); store the secret now: it is not shown again\$\" '$WORK/err'"
check "create: the secret is not on stderr" sh -c "! grep -qF '$SECRET' '$WORK/err'"
check "create: makes the data directory with mode 0700" \
    test "$(stat -c %a "$WORK/data/sub")" = 700 -a "$(stat -c %a "$WORK/data")" = 700
KEY2=$(H keys create --name second --db "$DB" 2>/dev/null)
check "a second key has another secret" test -n "$KEY2" -a "$KEY2" != "$SECRET"
check "KEY=\$(hearth keys create) captures exactly the secret" test "${#KEY2}" = 46

# The database holds SHA-256 of the secret and never the secret.
check "the stored hash is SHA-256 of the secret" "$PY" -c '
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
h = db.execute("SELECT hash FROM api_keys WHERE name = ?", ("acme",)).fetchone()[0]
sys.exit(0 if h == hashlib.sha256(sys.argv[2].encode()).digest() else 1)' "$DB" "$SECRET"
H keys list --db "$DB" >"$WORK/list.txt"
H keys list --all --format json --db "$DB" >"$WORK/list.json"
check "list (table) shows the key but not its secret" \
    sh -c "grep -q acme '$WORK/list.txt' && ! grep -qF '$SECRET' '$WORK/list.txt' && ! grep -qF '${SECRET:3}' '$WORK/list.txt'"
check "list (json) shows the key but neither secret nor hash" \
    sh -c "grep -q acme '$WORK/list.json' && ! grep -qF '${SECRET:3}' '$WORK/list.json' && ! grep -q hash '$WORK/list.json'"
check "neither secret is anywhere in the database, its WAL or SHM" sh -c "
    for f in '$DB' '$DB-wal' '$DB-shm'; do
        [ -e \"\$f\" ] || continue
        grep -aqF '${SECRET:3}' \"\$f\" && exit 1
        grep -aqF '${KEY2:3}' \"\$f\" && exit 1
    done; exit 0"
check "the database file is the owner's only" test "$(stat -c %a "$DB")" = 600
check "list json: id, hint, limits and unlimited as 0" json_true "$WORK/list.json" \
    "j['object'] == 'list' and [k['name'] for k in j['data']] == ['acme', 'second'] and j['data'][0]['rpm'] == 60 and j['data'][0]['tpm'] == 0 and j['data'][0]['hint'] == '$SECRET'[:7] + '...' + '$SECRET'[-4:] and j['data'][0]['models'] == [] and j['data'][0]['expires'] is None and j['data'][0]['revoked'] is None and j['data'][0]['admin'] is False"

# ---- duplicates, revoke, reuse ----
run keys create --name acme --db "$DB"
check "duplicate active name: exit 1, one line naming it, no secret printed" \
    sh -c "test $ST = 1 && test ! -s '$WORK/out' && test \$(wc -l < '$WORK/err') = 1 && grep -q \"'acme' already exists\" '$WORK/err'"
run keys revoke acme --db "$DB"
check "revoke: exit 0 and the key's line" \
    sh -c "test $ST = 0 && grep -q \"^revoked key 1 'acme' (hk_\" '$WORK/out'"
H keys list --format json --db "$DB" >"$WORK/l1.json"
H keys list --all --format json --db "$DB" >"$WORK/l2.json"
check "list leaves the revoked key out" json_true "$WORK/l1.json" \
    "[k['name'] for k in j['data']] == ['second']"
check "list --all shows it revoked" json_true "$WORK/l2.json" \
    "j['data'][0]['name'] == 'acme' and j['data'][0]['revoked'] is not None and j['data'][1]['revoked'] is None"
H keys list --all --db "$DB" >"$WORK/l2.txt"
check "list --all (table) has a revoked column" sh -c "head -1 '$WORK/l2.txt' | grep -q revoked"
run keys revoke acme --db "$DB"
check "revoking it again: exit 1 with one line" sh -c "test $ST = 1 && test \$(wc -l < '$WORK/err') = 1"
NEW=$(H keys create --name acme --db "$DB" 2>"$WORK/err")
check "a revoked name can be used again (new id)" \
    sh -c "test -n '$NEW' && grep -q \"created key 3 'acme'\" '$WORK/err'"

# ---- update ----
run keys update acme --rpm 5 --tpm 100 --daily-tokens 1000 --monthly-tokens 20000 \
    --models "m1, m2" --admin true --expires 2030-01-15 --db "$DB"
check "update: exit 0, one line with the new settings" sh -c "test $ST = 0 && test \$(wc -l < '$WORK/out') = 1 && grep -q \"^updated key 3 'acme' .*admin yes, models m1,m2, rpm 5, tpm 100, daily tokens 1000, monthly tokens 20000, expires 2030-01-16T00:00:00Z\" '$WORK/out'"
H keys list --format json --db "$DB" >"$WORK/u.json"
check "update: list shows the new limits (a date expires at the next day's start)" \
    json_true "$WORK/u.json" "[(k['rpm'], k['tpm'], k['daily_tokens'], k['monthly_tokens'], k['models'], k['admin'], k['expires']) for k in j['data'] if k['id'] == 3] == [(5, 100, 1000, 20000, ['m1', 'm2'], True, '2030-01-16T00:00:00Z')]"
H keys update --id 3 --models "" --expires never --rpm 0 --admin false --db "$DB" >/dev/null
H keys list --format json --db "$DB" >"$WORK/u.json"
check "update: --models \"\", --expires never and 0 clear them; the rest stays" \
    json_true "$WORK/u.json" "[(k['rpm'], k['tpm'], k['models'], k['admin'], k['expires']) for k in j['data'] if k['id'] == 3] == [(0, 100, [], False, None)]"
H keys update acme --expires 2031-05-06T07:08Z --db "$DB" >/dev/null
H keys list --format json --db "$DB" >"$WORK/u.json"
check "update: a timestamp expiry is that instant" json_true "$WORK/u.json" \
    "[k['expires'] for k in j['data'] if k['id'] == 3] == ['2031-05-06T07:08:00Z']"
run keys update acme --name acme2 --db "$DB"
check "update --name renames" sh -c "test $ST = 0 && grep -q \"'acme2'\" '$WORK/out'"
run keys update second --name acme2 --db "$DB"
check "update --name to a taken name: exit 1" sh -c "test $ST = 1 && test -s '$WORK/err'"
run keys update nosuch --rpm 1 --db "$DB"
check "update of an unknown name: exit 1, one line naming it" \
    sh -c "test $ST = 1 && test \$(wc -l < '$WORK/err') = 1 && grep -q nosuch '$WORK/err'"

# ---- names are data ----
EVIL="'; DROP TABLE usage; --"
QUOTED='a,b "quoted" \ name'
H keys create --name "$EVIL" --db "$DB" >/dev/null 2>&1
H keys create --name "$QUOTED" --db "$DB" >/dev/null 2>&1
H keys list --format json --db "$DB" >"$WORK/n.json"
check "an SQL-shaped name round-trips verbatim through list --format json" \
    "$PY" -c 'import json,sys; n=[k["name"] for k in json.load(open(sys.argv[1]))["data"]]; sys.exit(0 if sys.argv[2] in n and sys.argv[3] in n else 1)' "$WORK/n.json" "$EVIL" "$QUOTED"
check "the tables survived it" "$PY" -c 'import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute("SELECT COUNT(*) FROM usage").fetchone(); sys.exit(0 if db.execute("SELECT COUNT(*) FROM api_keys").fetchone()[0] == 5 else 1)' "$DB"
run keys revoke "$EVIL" --db "$DB"
check "revoke by that name" sh -c "test $ST = 0 && grep -qF \"revoked key\" '$WORK/out'"

# ---- option errors: exit 2, one line naming the option ----
bad() {
    local what=$1 opt=$2
    shift 2
    run "$@"
    check "$what: exit 2 with one line naming $opt" \
        sh -c "test $ST = 2 && test \$(wc -l < '$WORK/err') = 1 && grep -qF -- '$opt' '$WORK/err' && test ! -s '$WORK/out'"
}
bad "--rpm 12abc" --rpm keys create --name z --rpm 12abc --db "$DB"
bad "--rpm -1" --rpm keys create --name z --rpm -1 --db "$DB"
bad "--tpm overflow" --tpm keys create --name z --tpm 99999999999999999999 --db "$DB"
bad "--daily-tokens empty" --daily-tokens keys create --name z --daily-tokens "" --db "$DB"
bad "--monthly-tokens ' 5'" --monthly-tokens keys update second --monthly-tokens " 5" --db "$DB"
bad "--expires impossible date" --expires keys create --name z --expires 2026-02-30 --db "$DB"
bad "--expires junk" --expires keys update second --expires tomorrow --db "$DB"
bad "--admin maybe" --admin keys update second --admin maybe --db "$DB"
bad "--models with an empty item" --models keys create --name z --models "a,,b" --db "$DB"
bad "--format xml" --format keys list --format xml --db "$DB"
bad "--id 0" --id keys revoke --id 0 --db "$DB"
bad "--id abc" --id keys update --id abc --rpm 1 --db "$DB"
bad "unknown option" --bogus keys create --name z --bogus 1 --db "$DB"
bad "an option of another subcommand" --all keys create --name z --all --db "$DB"
bad "create without --name" --name keys create --db "$DB"
bad "missing value" --rpm keys create --name z --rpm
bad "usage --by week" --by usage --by week --db "$DB"
bad "usage --since bad" --since usage --since 2026-12 --db "$DB"
bad "usage --until impossible" --until usage --until 2026-13-01 --db "$DB"
bad "usage --format xml" --format usage --format xml --db "$DB"
bad "usage unknown option" --bogus usage --bogus --db "$DB"
bad "unknown keys command" frobnicate keys frobnicate
bad "update with nothing to change" update keys update second --db "$DB"
check "no key named z was made by any of those" \
    sh -c "! '$HEARTH_BIN' keys list --all --format json --db '$DB' | grep -q '\"name\":\"z\"'"

# ---- run-time errors ----
run usage --db "$WORK/nope/hearth.db"
check "usage on a missing database: exit 1, one line saying so" sh -c "test $ST = 1 && test \$(wc -l < '$WORK/err') = 1 && grep -q 'no usage database (has the daemon run?)' '$WORK/err'"
check "... and it did not create one" test ! -e "$WORK/nope/hearth.db" -a ! -e "$WORK/nope"
run keys list --db "$WORK/nope/hearth.db"
check "keys list on a missing database: exit 1, one line" \
    sh -c "test $ST = 1 && test \$(wc -l < '$WORK/err') = 1 && test ! -e '$WORK/nope'"
head -c 4096 /dev/urandom >"$WORK/junk.db"
run usage --db "$WORK/junk.db"
check "usage on a file that is not a database: exit 1 with a message" sh -c "test $ST = 1 && test -s '$WORK/err'"

# ---- which database: as hearth serve finds it ----
HEARTH_DATA_DIR="$WORK/env" H keys create --name e >/dev/null 2>&1
check "\$HEARTH_DATA_DIR/hearth.db by default" test -f "$WORK/env/hearth.db"
H keys create --name d --data-dir "$WORK/dd" >/dev/null 2>&1
check "--data-dir DIR: DIR/hearth.db" test -f "$WORK/dd/hearth.db"
printf '{"port": 9999, "data_dir": "%s/cfgdir", "log_level": "debug"}\n' "$WORK" >"$WORK/a.json"
H keys create --name c --config "$WORK/a.json" >/dev/null 2>&1
check "--config with data_dir (and other serve settings)" test -f "$WORK/cfgdir/hearth.db"
printf '{"data_dir": "%s/x", "db": "%s/cfg.db"}\n' "$WORK" "$WORK" >"$WORK/b.json"
H keys create --name c --config "$WORK/b.json" >/dev/null 2>&1
check "--config with db" test -f "$WORK/cfg.db"
check "HEARTH_DATA_DIR + keys list finds what it made" \
    sh -c "HEARTH_DATA_DIR='$WORK/env' '$HEARTH_BIN' keys list --format json | grep -q '\"name\":\"e\"'"
printf '{"port": "x"}\n' >"$WORK/bad.json"
run keys list --config "$WORK/bad.json"
check "a bad config file: exit 2 naming the file and key" \
    sh -c "test $ST = 2 && test \$(wc -l < '$WORK/err') = 1 && grep -q 'bad.json: port' '$WORK/err'"

# ---- usage against an oracle ----
# Rows over three UTC days, two models, the keys above (1: revoked acme, 2: second, 3: acme2),
# no key (0), users with hostile text, errors, and a key id reused by no one.
"$PY" - "$DB" "$EVIL" <<'PY' >"$WORK/rows.json"
import json, sqlite3, sys, calendar
db = sqlite3.connect(sys.argv[1])
evil = sys.argv[2]
def ms(y, m, d, h=0, mi=0):
    return calendar.timegm((y, m, d, h, mi, 0)) * 1000
rows = []
users = [None, "alice", evil, 'comma, "quote"', "line\nbreak"]
for i in range(40):
    day = [(2026, 11, 30), (2026, 12, 1), (2026, 12, 2)][i % 3]
    t = ms(*day, h=i % 24, mi=i)
    key = [0, 1, 2, 3][i % 4]
    model = ["tiny", "smol,2"][i % 2]
    status = 500 if i % 7 == 0 else 200
    r = dict(time_ms=t, key_id=key, model=model, prompt=10 + i, cached=i % 5,
             completion=3 * i, first=5 + i, latency=100 + 2 * i, status=status,
             user=users[i % 5])
    rows.append(r)
    db.execute("INSERT INTO usage (request_id, time_ms, model, endpoint, prompt_tokens, "
               "completion_tokens, queue_ms, first_token_ms, latency_ms, http_status, "
               "finish_reason, key_id, cached_tokens, user) "
               "VALUES (?, ?, ?, '/v1/chat/completions', ?, ?, 0, ?, ?, ?, 'stop', ?, ?, ?)",
               (f"req-{i}", t, model, r["prompt"], r["completion"], r["first"], r["latency"],
                status, key, r["cached"], r["user"]))
db.commit()
names = dict(db.execute("SELECT id, name FROM api_keys"))
json.dump({"rows": rows, "names": {str(k): v for k, v in names.items()}}, sys.stdout)
PY
cat >"$WORK/oracle.py" <<'PY'
# oracle.py ROWS BY SINCE UNTIL FORMAT OUT: the expected groups from the inserted rows compared
# with hearth's CSV or JSON output.
import csv, io, json, sys, time
rows_doc = json.load(open(sys.argv[1]))
by, since, until, fmt, out = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
names = rows_doc["names"]
def group(r):
    if by == "day":
        return (time.strftime("%Y-%m-%d", time.gmtime(r["time_ms"] // 1000)), 0)
    if by == "model":
        return (r["model"], 0)
    if by == "key":
        return (names.get(str(r["key_id"]), "") if r["key_id"] else "", r["key_id"])
    return (r["user"] or "", 0)
want = {}
for r in rows_doc["rows"]:
    if r["time_ms"] < since or (until and r["time_ms"] >= until):
        continue
    g = want.setdefault(group(r), dict(requests=0, errors=0, prompt=0, cached=0, completion=0,
                                       lat=0, first=0, tmin=None, tmax=None))
    g["requests"] += 1
    g["errors"] += r["status"] >= 400
    g["prompt"] += r["prompt"]
    g["cached"] += r["cached"]
    g["completion"] += r["completion"]
    g["lat"] += r["latency"]
    g["first"] += r["first"]
    g["tmin"] = r["time_ms"] if g["tmin"] is None else min(g["tmin"], r["time_ms"])
    g["tmax"] = r["time_ms"] if g["tmax"] is None else max(g["tmax"], r["time_ms"])
def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))
expect = []
for (name, kid), g in sorted(want.items()):
    n = g["requests"]
    expect.append(dict(group=name, key_id=kid, requests=n, errors=g["errors"],
                       prompt_tokens=g["prompt"], cached_tokens=g["cached"],
                       completion_tokens=g["completion"],
                       total_tokens=g["prompt"] + g["completion"],
                       mean_latency_ms=round(g["lat"] / n, 1),
                       mean_first_token_ms=round(g["first"] / n, 1),
                       first=iso(g["tmin"]), last=iso(g["tmax"])))
text = open(out, newline="").read()
if fmt == "json":
    j = json.loads(text)
    got = j["data"]
    assert j["object"] == "usage.report" and j["by"] == by, j
    assert (j["since"] is None) == (since == 0) and (j["until"] is None) == (until == 0), j
    if since:
        assert j["since"] == iso(since), j["since"]
    if until:
        assert j["until"] == iso(until), j["until"]
    t = j["total"]
    assert t["requests"] == sum(e["requests"] for e in expect), t
    assert t["prompt_tokens"] == sum(e["prompt_tokens"] for e in expect), t
    assert t["completion_tokens"] == sum(e["completion_tokens"] for e in expect), t
    assert t["errors"] == sum(e["errors"] for e in expect), t
else:
    assert "\r\n" in text, "CSV lines end in CRLF"
    rd = list(csv.DictReader(io.StringIO(text, newline="")))
    got = []
    for r in rd:
        d = {k: (int(v) if k not in ("group", "first", "last", "mean_latency_ms",
                                      "mean_first_token_ms") else v) for k, v in r.items()}
        d["mean_latency_ms"] = float(d["mean_latency_ms"])
        d["mean_first_token_ms"] = float(d["mean_first_token_ms"])
        got.append(d)
for e in expect:
    if by != "key":
        del e["key_id"]
if got != expect:
    print("want", json.dumps(expect, indent=1)[:3000])
    print("got ", json.dumps(got, indent=1)[:3000])
    sys.exit(1)
if not expect:
    print("the oracle expected no groups: the test would prove nothing"); sys.exit(1)
PY
ms() { "$PY" -c 'import calendar,sys; print(calendar.timegm(tuple(map(int, sys.argv[1:]))) * 1000)' "$@"; }
S1201=$(ms 2026 12 1 0 0 0)
S1202=$(ms 2026 12 2 0 0 0)
for by in day model key user; do
    for fmt in csv json; do
        H usage --by "$by" --format "$fmt" --db "$DB" >"$WORK/u.$fmt"
        check "usage --by $by --format $fmt: the oracle's sums" \
            "$PY" "$WORK/oracle.py" "$WORK/rows.json" "$by" 0 0 "$fmt" "$WORK/u.$fmt"
    done
    H usage --by "$by" --format json --since 2026-12-01 --until 2026-12-01 --db "$DB" >"$WORK/w.json"
    check "usage --by $by --since DAY --until DAY: exactly that UTC day" \
        "$PY" "$WORK/oracle.py" "$WORK/rows.json" "$by" "$S1201" "$S1202" json "$WORK/w.json"
    H usage --by "$by" --format csv --since "2026-12-01T05:00:00Z" --db "$DB" >"$WORK/w.csv"
    check "usage --by $by --since TIMESTAMP" "$PY" "$WORK/oracle.py" "$WORK/rows.json" "$by" \
        "$(ms 2026 12 1 5 0 0)" 0 csv "$WORK/w.csv"
    H usage --by "$by" --format csv --until "2026-12-01 10:30" --db "$DB" >"$WORK/w.csv"
    check "usage --by $by --until TIMESTAMP (exclusive)" "$PY" "$WORK/oracle.py" \
        "$WORK/rows.json" "$by" 0 "$(ms 2026 12 1 10 30 0)" csv "$WORK/w.csv"
done
H usage --by user --format csv --db "$DB" >"$WORK/k.csv"
check "CSV quotes a field with a comma and quotes (RFC 4180)" \
    grep -qF '"comma, ""quote""",' "$WORK/k.csv"
check "CSV quotes a field with a line break" grep -qxF '"line' "$WORK/k.csv"
check "CSV carries the SQL-shaped user verbatim" \
    sh -c "'$HEARTH_BIN' usage --by user --format csv --db '$DB' | grep -qF \"$EVIL,\""
H usage --db "$DB" >"$WORK/t.txt"
check "usage default: a day table with a total line" sh -c "head -1 '$WORK/t.txt' | grep -q '^day ' && grep -q '^total ' '$WORK/t.txt' && grep -q '^2026-11-30 ' '$WORK/t.txt'"
H usage --by user --db "$DB" >"$WORK/t.txt"
check "the table masks the newline in a user name (one line per group)" \
    test "$(wc -l <"$WORK/t.txt")" = 7
H usage --format json --since 2030-01-01 --db "$DB" >"$WORK/e.json"
check "no rows in range: empty data, zero total" json_true "$WORK/e.json" \
    "j['data'] == [] and j['total']['requests'] == 0 and j['total']['first'] is None"
# The store keeps per-key totals per UTC day and month (its writer adds each row's tokens);
# list shows the current ones.
"$PY" -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
now = time.gmtime()
db.execute("INSERT INTO key_totals VALUES (2, ?, 123)", (time.strftime("%Y-%m-%d", now),))
db.execute("INSERT INTO key_totals VALUES (2, ?, 456)", (time.strftime("%Y-%m", now),))
db.execute("INSERT INTO key_totals VALUES (2, ?, 999)", ("2001-01",))
db.commit()' "$DB"
H keys list --format json --db "$DB" >"$WORK/k.json"
check "keys list: tokens used today and this month" json_true "$WORK/k.json" \
    "[(k['day_tokens'], k['month_tokens']) for k in j['data'] if k['id'] == 2] == [(123, 456)]"
H keys list --db "$DB" >"$WORK/k.txt"
check "keys list (table): the same numbers" grep -Eq '^ *2  second .* 123 +456  ' "$WORK/k.txt"

for c in "keys" "keys create" "keys list" "keys revoke" "keys update" "usage"; do
    check "hearth $c --help exits 0 with text on stdout" \
        sh -c "'$HEARTH_BIN' $c --help 2>/dev/null | grep -qi usage"
done
run keys
check "bare 'hearth keys': exit 2 with the usage on stderr" sh -c "test $ST = 2 && grep -q 'hearth keys' '$WORK/err'"

finish
