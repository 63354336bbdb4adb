#!/usr/bin/python3
"""The daemon's lifecycle under signals, as systemd and a load balancer drive it.

- SIGTERM drains: the listening socket closes at once (a new connection is refused), a request
  on a connection opened before gets 503 server_shutting_down and the connection closes,
  /ready says not_ready, and the stream that was running finishes in full; the usage row is
  in the database and the exit status is 0.
- --drain-timeout: a stream longer than it ends with an error event when it passes; exit 0.
- A second SIGTERM stops at once, mid-stream; exit 0 and the database passes integrity_check
  with the request's row in it.
- SIGHUP re-reads the --config file: a raised max_body takes effect without a restart, a
  broken file leaves the old settings in place; a key made meanwhile is enforced.
- Under systemd (NOTIFY_SOCKET, WATCHDOG_USEC) the daemon says READY=1 once it listens,
  WATCHDOG=1 while it runs, STOPPING=1 on SIGTERM (skipped in a build without libsystemd).
The streams run on the smol preset, one thread, so that a few hundred tokens take a while."""
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hearth_daemon import HEARTH, Checks, Daemon, Work, is_error  # noqa: E402


def wait_for(pred, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


class Stream:
    """A streamed chat completion read on its own thread: the first content chunk sets
    `started`; at the end `finish`, `usage`, `error` and `done` ([DONE] seen) are set."""

    def __init__(self, port, max_tokens, request_id):
        self.started = threading.Event()
        self.finish = self.usage = self.error = None
        self.done = False
        self.chunks = 0
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        body = {"model": "tiny", "stream": True, "max_tokens": max_tokens, "temperature": 0,
                "ignore_eos": True, "stream_options": {"include_usage": True},
                "messages": [{"role": "user", "content": "Tell me a long story"}]}
        self.conn.request("POST", "/v1/chat/completions", json.dumps(body),
                          {"Content-Type": "application/json", "x-request-id": request_id})
        self.thread = threading.Thread(target=self.read)
        self.thread.start()

    def read(self):
        try:
            resp = self.conn.getresponse()
            for line in resp:
                line = line.strip()
                if line == b"data: [DONE]":
                    self.done = True
                elif line.startswith(b"data: {"):
                    ev = json.loads(line[6:])
                    if "error" in ev:
                        self.error = ev["error"]
                    for c in ev.get("choices", []):
                        if c.get("delta", {}).get("content"):
                            self.chunks += 1
                            self.started.set()
                        if c.get("finish_reason"):
                            self.finish = c["finish_reason"]
                    if ev.get("usage"):
                        self.usage = ev["usage"]
        except (OSError, http.client.HTTPException) as e:
            self.error = self.error or {"message": f"connection: {e}"}
        finally:
            self.started.set()

    def join(self, timeout=300):
        self.thread.join(timeout)
        return not self.thread.is_alive()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return False
    except ConnectionRefusedError:
        return True


def row(db_path, request_id):
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    r = db.execute("SELECT * FROM usage WHERE request_id = ?", (request_id,)).fetchone()
    db.close()
    return dict(r) if r else None


t = Checks()
w = Work()
smol = os.path.join(w.dir, "smol.gguf")
subprocess.run([HEARTH, "make-model", "--preset", "smol", "--type", "q4_0", "--seed", "5",
                "--out", smol], check=True, capture_output=True)
try:
    # --- SIGTERM: drain, the running stream finishes in full
    d = Daemon(w, "--parallel", "2", "--drain-timeout", "120", model=smol, ctx=1024)
    idle = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    idle.request("GET", "/health")
    t.check("a keep-alive connection is open before the signal", idle.getresponse().read() != b"")
    s = Stream(d.port, 300, "drained")
    t.check("the stream started", s.started.wait(120) and s.error is None, s.error)
    d.proc.send_signal(signal.SIGTERM)
    t.check("log: draining", wait_for(lambda: "draining" in d.log_text(), 30), d.log_text()[-500:])
    t.check("a new connection is refused while the stream runs",
            refused(d.port) and d.proc.poll() is None and s.thread.is_alive())
    idle.request("GET", "/ready")
    resp = idle.getresponse()
    ready = json.loads(resp.read())
    t.check("/ready on the open connection: 503 not_ready, shutting down",
            resp.status == 503 and ready.get("status") == "not_ready" and
            "shutting down" in ready.get("reason", ""), (resp.status, ready))
    idle.request("POST", "/v1/chat/completions", json.dumps(
        {"model": "tiny", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}),
        {"Content-Type": "application/json"})
    resp = idle.getresponse()
    err = json.loads(resp.read())
    t.check("a new request on the open connection: 503 server_shutting_down, Connection: close",
            resp.status == 503 and err["error"]["code"] == "server_shutting_down" and
            (resp.getheader("Connection") or "").lower() == "close", (resp.status, err))
    idle.close()
    t.check("the stream finished in full", s.join() and s.done and s.finish == "length" and
            s.usage and s.usage["completion_tokens"] == 300 and s.error is None,
            (s.done, s.finish, s.usage, s.error))
    status = d.proc.wait(timeout=120)
    t.check("drained daemon exits 0", status == 0, status)
    r = row(w.db, "drained")
    t.check("its usage row: 200, 300 tokens, length",
            r is not None and r["http_status"] == 200 and r["completion_tokens"] == 300 and
            r["finish_reason"] == "length", r)

    # --- --drain-timeout passes: the stream ends with an error event
    d = Daemon(w, "--parallel", "1", "--drain-timeout", "1", model=smol, ctx=4096)
    s = Stream(d.port, 4000, "timed-out")
    t.check("a long stream started", s.started.wait(120) and s.error is None, s.error)
    d.proc.send_signal(signal.SIGTERM)
    t.check("the stream ends once the drain timeout passes, with a server_shutting_down event",
            s.join(120) and (s.error or {}).get("code") == "server_shutting_down" and
            s.finish != "length", (s.error, s.usage, s.finish))
    status = d.proc.wait(timeout=120)
    t.check("exit 0 after the drain timeout", status == 0, status)
    t.check("log: drain timeout, ending the running request",
            "drain timeout: ending 1 requests still running" in d.log_text(),
            d.log_text()[-800:])
    r = row(w.db, "timed-out")
    t.check("its usage row is kept, with fewer tokens than asked",
            r is not None and r["completion_tokens"] < 4000, r)

    # --- a second SIGTERM stops at once
    d = Daemon(w, "--parallel", "1", "--drain-timeout", "600", model=smol, ctx=4096)
    s = Stream(d.port, 4000, "second-signal")
    t.check("a long stream started again", s.started.wait(120) and s.error is None, s.error)
    d.proc.send_signal(signal.SIGTERM)
    t.check("draining", wait_for(lambda: "draining" in d.log_text(), 30))
    d.proc.send_signal(signal.SIGTERM)
    try:
        status = d.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        status = None
    t.check("the second SIGTERM stops it with exit 0, the stream cut short",
            status == 0 and s.join(60) and (s.usage is None or
                                            s.usage["completion_tokens"] < 4000), status)
    db = sqlite3.connect(w.db)
    check = db.execute("PRAGMA integrity_check").fetchone()[0]
    db.close()
    t.check("the database passes integrity_check", check == "ok", check)
    r = row(w.db, "second-signal")
    t.check("the cut request's row is there", r is not None and r["completion_tokens"] < 4000, r)

    # --- SIGHUP: settings from the config file, keys
    cfg = os.path.join(w.dir, "hearth.json")
    with open(cfg, "w") as f:
        json.dump({"max_body": 2048}, f)
    d = Daemon(w, "--config", cfg)
    # 4 KB of body in a field the prompt does not see (tiny's context is 256 tokens)
    big = {"model": "tiny", "max_tokens": 1, "user": "u" * 4000,
           "messages": [{"role": "user", "content": "hi"}]}
    t.check("max_body 2048 from the file: a 4 KB body gets 413",
            d.request("POST", "/v1/chat/completions", big)[0] == 413)
    with open(cfg, "w") as f:
        json.dump({"max_body": 65536}, f)
    d.proc.send_signal(signal.SIGHUP)
    t.check("log: settings reloaded", wait_for(lambda: "settings reloaded" in d.log_text(), 30),
            d.log_text()[-500:])
    t.check("after SIGHUP the 4 KB body is taken",
            d.request("POST", "/v1/chat/completions", big)[0] == 200)
    with open(cfg, "w") as f:
        f.write("{\"max_body\": ")
    n_before = d.log_text().count("not reloaded")
    d.proc.send_signal(signal.SIGHUP)
    t.check("a broken file: logged, naming the file",
            wait_for(lambda: d.log_text().count("not reloaded") > n_before, 30) and
            cfg in d.log_text().split("not reloaded")[-1].splitlines()[0], d.log_text()[-500:])
    t.check("...and the settings before it stay",
            d.request("POST", "/v1/chat/completions", big)[0] == 200 and d.proc.poll() is None)
    _, key, _ = w.keys("create", "--name", "after-hup")
    d.proc.send_signal(signal.SIGHUP)
    t.check("a key made while running is enforced (SIGHUP re-reads the keys at once)",
            wait_for(lambda: d.request("GET", "/v1/models")[0] == 401, 30) and
            d.request("GET", "/v1/models", key=key)[0] == 200)
    t.check("SIGHUP does not stop it; SIGTERM then exits 0",
            d.proc.poll() is None and d.stop() == 0)

    # --- systemd notification protocol
    has_systemd = b"libsystemd" in subprocess.run(["ldd", HEARTH], capture_output=True).stdout
    if has_systemd:
        path = os.path.join(w.dir, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(30)
        got = []
        d = Daemon(w, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})

        def recv_until(word, limit=200):
            for _ in range(limit):
                try:
                    msg = sock.recv(4096).decode()
                except socket.timeout:
                    return False
                got.append(msg)
                if word in msg.split("\n"):
                    return True
            return False
        t.check("READY=1 with a STATUS naming the address",
                recv_until("READY=1") and f"STATUS=listening on http://127.0.0.1:{d.port}" in
                got[-1], got[-3:])
        t.check("WATCHDOG=1 pings keep coming (every 100 ms for WATCHDOG_USEC=200000)",
                recv_until("WATCHDOG=1") and recv_until("WATCHDOG=1") and
                recv_until("WATCHDOG=1"), got[-3:])
        d.proc.send_signal(signal.SIGTERM)
        t.check("STOPPING=1 on SIGTERM", recv_until("STOPPING=1"), got[-3:])
        t.check("and exit 0", d.proc.wait(timeout=60) == 0)
        sock.close()
    else:
        print("# hearth built without libsystemd: notification checks skipped")
finally:
    w.cleanup()
t.finish()
