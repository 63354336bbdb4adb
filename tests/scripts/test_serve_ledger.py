#!/usr/bin/python3
"""The usage ledger and secure defaults through a real daemon: with no key, `serve` refuses a
non-loopback address (one line, exit 2) unless --insecure-no-auth, and runs open on loopback;
rows carry tokens, cached tokens, timings, finish reason and status; --log-content adds the
request body and the answer; --usage-retention-days prunes old rows at start; and after
`kill -9` under load from several clients the database is intact and holds every request
answered more than the commit interval (250 ms, plus a margin for a loaded machine) before
the kill."""
import concurrent.futures
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hearth_daemon import HEARTH, Checks, Daemon, Work  # noqa: E402

MARGIN_S = 0.75  # commit interval 0.25 s + scheduling slack on a loaded 2-core machine

t = Checks()
w = Work()
try:
    # --- secure by default (no key in the database)
    p = subprocess.run([HEARTH, "serve", "--host", "0.0.0.0", "--port", "0", "--model",
                        w.model, "--db", w.db, "--data-dir", os.path.join(w.dir, "data")],
                       capture_output=True, text=True, timeout=60)
    lines = p.stderr.strip().splitlines()
    t.check("no keys + --host 0.0.0.0: refused with exit 2",
            p.returncode == 2, (p.returncode, p.stderr))
    t.check("... in one line naming --host and the way out",
            len(lines) >= 1 and "--host 0.0.0.0" in lines[-1] and "keys create" in lines[-1] and
            "--insecure-no-auth" in lines[-1], lines)
    d = Daemon(w, "--insecure-no-auth", host="0.0.0.0")
    t.check("--insecure-no-auth: listens on 0.0.0.0 and answers without a key",
            d.chat()[0] == 200)
    d.stop()

    # --- rows, open loopback server, --log-content
    d = Daemon(w, "--log-content")
    t.check("no keys on loopback: open, and the log says so",
            d.chat(request_id="open-1", user="nurse-7")[0] == 200 and
            "no API keys" in d.log_text())
    msg = "patient text that must only be kept with --log-content"
    r1 = d.chat(max_tokens=3, request_id="content-1", text=msg)
    r2 = d.chat(max_tokens=3, request_id="content-2", text=msg)
    t.check("two identical requests answered", r1[0] == 200 and r2[0] == 200)
    d.stop()
    db = sqlite3.connect(w.db)
    db.row_factory = sqlite3.Row
    row = db.execute("SELECT * FROM usage WHERE request_id = 'content-2'").fetchone()
    t.check("--log-content: the request body is in prompt_text",
            row is not None and msg in (row["prompt_text"] or ""), dict(row) if row else None)
    answer = r2[2]["choices"][0]["message"]["content"]
    t.check("--log-content: the answer is in output_text as a JSON array of choices",
            row is not None and json.loads(row["output_text"] or "null") == [answer],
            (row["output_text"] if row else None, answer))
    t.check("the row's tokens equal the response's usage",
            row is not None and (row["prompt_tokens"], row["completion_tokens"],
                                 row["cached_tokens"]) ==
            (r2[2]["usage"]["prompt_tokens"], r2[2]["usage"]["completion_tokens"],
             r2[2]["usage"]["prompt_tokens_details"]["cached_tokens"]),
            dict(row) if row else None)
    t.check("the repeated prompt's cached tokens are recorded",
            row is not None and row["cached_tokens"] > 0, dict(row) if row else None)
    t.check("status, endpoint, finish reason and timings are recorded",
            row is not None and row["http_status"] == 200 and
            row["endpoint"] == "/v1/chat/completions" and row["finish_reason"] in
            ("stop", "length") and row["latency_ms"] >= row["first_token_ms"] >= 0,
            dict(row) if row else None)
    row = db.execute("SELECT key_id, user, prompt_text FROM usage "
                     "WHERE request_id = 'open-1'").fetchone()
    t.check("a request without auth: key_id 0, the user kept",
            row is not None and row["key_id"] == 0 and row["user"] == "nurse-7", row)

    # --- retention: rows older than the limit go at start
    old_ms = int((time.time() - 40 * 86400) * 1000)
    db.execute("UPDATE usage SET time_ms = ? WHERE request_id = 'open-1'", (old_ms,))
    db.commit()
    n_before = db.execute("SELECT COUNT(*) FROM usage").fetchone()[0]
    db.close()
    d = Daemon(w, "--usage-retention-days", "30")
    time.sleep(0.5)
    d.stop()
    db = sqlite3.connect(w.db)
    ids = [r[0] for r in db.execute("SELECT request_id FROM usage")]
    t.check("--usage-retention-days 30: the 40-day-old row is gone, the rest kept",
            "open-1" not in ids and len(ids) == n_before - 1, (n_before, ids))
    db.close()

    # --- kill -9 under load
    d = Daemon(w)
    done = []  # (monotonic time answered, request id)
    lock = threading.Lock()
    stop = threading.Event()

    def client(c):
        i = 0
        while not stop.is_set():
            rid = f"load-{c}-{i}"
            try:
                st = d.chat(max_tokens=2, request_id=rid, timeout=10)[0]
            except Exception:
                return  # the daemon died under us
            if st == 200:
                with lock:
                    done.append((time.monotonic(), rid))
            i += 1

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        for c in range(4):
            ex.submit(client, c)
        time.sleep(3.0)
        t_kill = time.monotonic()
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        stop.set()
    db = sqlite3.connect(w.db)
    t.check("after kill -9 the database is intact (integrity_check ok)",
            db.execute("PRAGMA integrity_check").fetchone()[0] == "ok")
    have = {r[0] for r in db.execute("SELECT request_id FROM usage WHERE request_id LIKE "
                                     "'load-%'")}
    due = [rid for (ts, rid) in done if ts < t_kill - MARGIN_S]
    missing = [rid for rid in due if rid not in have]
    t.check(f"every request answered {MARGIN_S} s before the kill is in the ledger "
            f"({len(due)} of {len(done)} answered)", len(due) > 20 and not missing,
            (len(due), missing[:5]))
    lag = [t_kill - ts for (ts, rid) in done if rid not in have]
    print(f"# {len(done)} answered, {len(have)} rows committed; the oldest answer without a "
          f"row came {max(lag) * 1000 if lag else 0:.0f} ms before the kill")
    t.check("no row is duplicated",
            db.execute("SELECT COUNT(*) - COUNT(DISTINCT request_id) FROM usage").fetchone()[0]
            == 0)
    db.close()
    d = Daemon(w)
    t.check("the daemon starts again on the killed database", d.chat()[0] == 200)
    d.stop()
finally:
    w.cleanup()
t.finish()
