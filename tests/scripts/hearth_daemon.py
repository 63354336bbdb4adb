"""Shared by the Python black-box tests of `hearth serve`: a daemon on a free loopback port
with its own data directory and database, HTTP requests that return status, headers and the
parsed body, the `hearth keys` CLI, and a tally of checks. Imported, not run."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HEARTH = os.environ.get("HEARTH_BIN", "build/hearth")


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok - {what}")
        else:
            self.failed += 1
            print(f"not ok - {what}" + (f": {detail}" if detail else ""))
        return cond

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(0 if self.failed == 0 else 1)


class Work:
    """A temporary directory with a generated tiny model (seed 7) and a database path."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="hearth-py-")
        self.db = os.path.join(self.dir, "usage.db")
        self.model = os.path.join(self.dir, "tiny.gguf")
        subprocess.run([HEARTH, "make-model", "--preset", "tiny", "--type", "f32", "--seed",
                        "7", "--out", self.model], check=True, capture_output=True)

    def keys(self, *args, check=True):
        """`hearth keys ARGS --db DB`: (exit status, stdout, stderr)."""
        p = subprocess.run([HEARTH, "keys", *args, "--db", self.db], capture_output=True,
                           text=True)
        if check and p.returncode != 0:
            raise RuntimeError(f"hearth keys {args}: exit {p.returncode}: {p.stderr}")
        return p.returncode, p.stdout.strip(), p.stderr.strip()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Daemon:
    def __init__(self, work, *args, host="127.0.0.1", env=None, model=None, ctx=256):
        self.log = os.path.join(work.dir, f"daemon-{time.monotonic_ns()}.log")
        cmd = [HEARTH, "serve", "--host", host, "--port", "0", "--model", model or work.model,
               "--model-id", "tiny", "--db", work.db, "--data-dir",
               os.path.join(work.dir, "data"), "--threads", "1", "--ctx", str(ctx), *args]
        self.proc = subprocess.Popen(cmd, stderr=open(self.log, "w"),
                                     env=dict(os.environ, **(env or {})))
        self.base = None
        for _ in range(300):
            text = open(self.log).read()
            m = re.search(r"listening on (https?)://\S+:(\d+)", text)
            if m:
                self.port = int(m.group(2))
                self.base = f"{m.group(1)}://127.0.0.1:{self.port}"
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited {self.proc.returncode}: {text}")
            time.sleep(0.1)
        raise RuntimeError("daemon did not start: " + open(self.log).read())

    def request(self, method, path, body=None, key=None, headers=None, timeout=60):
        """(status, headers as a lower-cased dict, parsed JSON body or raw text)."""
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode() if not isinstance(body, bytes) else body
            h.setdefault("Content-Type", "application/json")
        if key is not None:
            h["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, hdrs, raw = resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as e:
            status, hdrs, raw = e.code, e.headers, e.read()
        hdrs = {k.lower(): v for k, v in hdrs.items()}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, hdrs, parsed

    def chat(self, key=None, max_tokens=2, user=None, request_id=None, text="hello",
             timeout=60):
        body = {"model": "tiny", "messages": [{"role": "user", "content": text}],
                "max_tokens": max_tokens, "temperature": 0}
        if user is not None:
            body["user"] = user
        h = {"x-request-id": request_id} if request_id else None
        return self.request("POST", "/v1/chat/completions", body, key=key, headers=h,
                            timeout=timeout)

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=60)

    def log_text(self):
        return open(self.log).read()


def is_error(resp, status, etype, code=None):
    """The response is OpenAI's error envelope with this status, type and (optionally) code."""
    st, _, body = resp
    if st != status or not isinstance(body, dict) or set(body) != {"error"}:
        return False
    e = body["error"]
    return (set(e) == {"message", "type", "param", "code"} and e["type"] == etype and
            isinstance(e["message"], str) and e["message"] != "" and
            (code is None or e["code"] == code))
