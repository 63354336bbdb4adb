"""Hostile and picky HTTP clients against a running `hearth serve` (test_serve_hostile.sh
starts it with --read-timeout 2 --idle-timeout 4 --parallel 1 and two CORS origins): raw
sockets for what curl and http.client will not send (header floods, bytes one per second,
pipelined requests, bodies cut short), and a Prometheus text parser for /metrics. Prints one
"ok - " / "not ok - " line per check and exits 1 if any failed.

usage: hostile_cases.py PORT DAEMON_LOG"""
import http.client
import json
import re
import socket
import sys
import threading
import time

PORT = int(sys.argv[1])
LOG = sys.argv[2]
ALLOWED = "https://app.example"
FAILED = []


def check(what, cond, detail=""):
    if cond:
        print("ok - " + what)
    else:
        FAILED.append(what)
        print("not ok - " + what + (": " + str(detail) if detail else ""))


def request(method, path, body=None, headers=None, timeout=60):
    """One request on a fresh connection: (status, lower-cased headers, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=timeout)
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    c.request(method, path, body, h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


def error_of(data):
    try:
        j = json.loads(data)
        e = j["error"]
        if set(j) == {"error"} and set(e) == {"message", "type", "param", "code"} and e["message"]:
            return e
    except (ValueError, KeyError, TypeError):
        pass
    return None


def connect():
    return socket.create_connection(("127.0.0.1", PORT), timeout=30)


def read_all(s, timeout=30):
    """Everything the server sends until it closes (or timeout)."""
    s.settimeout(timeout)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def parse_responses(buf):
    """Consecutive HTTP/1.1 responses with Content-Length bodies: [(status, headers, body)]."""
    out = []
    while buf:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get("content-length", "0"))
        out.append((status, hdrs, rest[:n]))
        buf = rest[n:]
    return out


CHAT = {"model": "tiny", "max_tokens": 4, "temperature": 0,
        "messages": [{"role": "user", "content": "Hello"}]}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_metrics(text):
    """Prometheus text format 0.0.4, strictly: {(name, ((label, value), ...)): float}, types."""
    samples, types, problems = {}, {}, []
    for line in text.split("\n"):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            elif not (len(parts) >= 3 and parts[1] == "HELP"):
                problems.append("bad comment: " + line)
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append("bad line: " + line)
            continue
        name, labels = m.group(1), []
        rest = m.group(3) or ""
        while rest:
            lm = LABEL.match(rest)
            if not lm:
                problems.append("bad labels: " + line)
                break
            labels.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
        try:
            value = float(m.group(4))
        except ValueError:
            problems.append("bad value: " + line)
            continue
        base = re.sub(r'_(bucket|sum|count)$', "", name)
        if name not in types and not (base in types and types[base] == "histogram"):
            problems.append("sample before its TYPE: " + line)
        key = (name, tuple(sorted(labels)))
        if key in samples:
            problems.append("duplicate series: " + line)
        samples[key] = value
    # histograms: buckets cumulative, +Inf equal to _count
    for name, kind in types.items():
        if kind != "histogram":
            continue
        buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                          if k[0] == name + "_bucket"), key=lambda b: b[0])
        if not buckets or buckets[-1][0] != float("inf"):
            problems.append(name + ": no +Inf bucket")
            continue
        if any(b[1] > c[1] for b, c in zip(buckets, buckets[1:])):
            problems.append(name + ": buckets not cumulative")
        if buckets[-1][1] != samples.get((name + "_count", ())):
            problems.append(name + ": +Inf bucket differs from _count")
        if (name + "_sum", ()) not in samples:
            problems.append(name + ": no _sum")
    return samples, types, problems


def metrics():
    status, hdrs, data = request("GET", "/metrics")
    samples, types, problems = parse_metrics(data.decode())
    return status, hdrs, samples, types, problems


def req_count(samples, endpoint, status):
    return samples.get(("hearth_requests_total",
                        (("endpoint", endpoint), ("status", str(status)))), 0)


# --- /metrics, before anything else ------------------------------------------------------
status, hdrs, m0, types, problems = metrics()
check("/metrics: 200 text/plain version 0.0.4",
      status == 200 and hdrs.get("content-type", "").startswith("text/plain; version=0.0.4"),
      (status, hdrs.get("content-type")))
check("/metrics parses as Prometheus text", not problems, problems[:5])
want_types = {"hearth_requests_total": "counter", "hearth_prompt_tokens_total": "counter",
              "hearth_completion_tokens_total": "counter",
              "hearth_prompt_tokens_cached_total": "counter",
              "hearth_request_duration_seconds": "histogram",
              "hearth_time_to_first_token_seconds": "histogram",
              "hearth_queue_wait_seconds": "histogram", "hearth_requests_in_flight": "gauge",
              "hearth_http_connections": "gauge", "hearth_model_loaded": "gauge",
              "hearth_build_info": "gauge",
              "hearth_inter_token_latency_seconds": "histogram",
              "hearth_generated_tokens_total": "counter", "hearth_tokens_per_second": "gauge",
              "hearth_prefix_cache_hit_ratio": "gauge", "hearth_queue_depth": "gauge",
              "hearth_running_sequences": "gauge", "hearth_sequence_slots": "gauge",
              "hearth_kv_blocks_used": "gauge", "hearth_kv_blocks_free": "gauge",
              "hearth_kv_blocks_cached": "gauge", "hearth_engine_steps_total": "counter",
              "hearth_tokens_evaluated_total": "counter"}
check("/metrics: every family with its TYPE",
      all(types.get(k) == v for k, v in want_types.items()), types)
check("/metrics: model_loaded{model=tiny} 1, build_info, a connection open",
      m0.get(("hearth_model_loaded", (("model", "tiny"),))) == 1 and
      any(k[0] == "hearth_build_info" for k in m0) and m0.get(("hearth_http_connections", ())) >= 1)

# --- malformed and invalid bodies ---------------------------------------------------------
for body in ['{"model":"tiny","messages":[{"role":"user","content":"x"}', '', '[1,2]', 'null',
             '{"model":"tiny",}', '\xff\xfe{}', '{"model":"tiny","model":"tiny"}']:
    status, _, data = request("POST", "/v1/chat/completions", body.encode("latin-1"))
    e = error_of(data)
    check("malformed body %r: 400 envelope" % body[:30],
          status == 400 and e and e["type"] == "invalid_request_error", (status, data[:200]))

base = {"model": "tiny", "messages": [{"role": "user", "content": "x"}]}
bad = [("max_tokens", -1, "max_tokens"), ("max_tokens", 10**15, "max_tokens"),
       ("temperature", "hot", "temperature"), ("n", 10**9, "n"), ("top_p", 7, "top_p"),
       ("messages", "not an array", "messages"), ("messages", [1], "messages[0]"),
       ("messages", [{"role": "user", "content": 5}], "messages[0].content"),
       ("stop", ["s%d" % i for i in range(100)], "stop"),
       ("logit_bias", {"abc": 1}, "logit_bias"), ("logit_bias", {"5": 1000}, "logit_bias"),
       ("logit_bias", {"99999999": 1}, "logit_bias"), ("presence_penalty", 9, "presence_penalty"),
       ("seed", "x", "seed"), ("stream", "yes", "stream"), ("top_logprobs", 99, "top_logprobs"),
       ("model", 5, "model"), ("tools", "x", "tools"), ("max_completion_tokens", -4,
                                                        "max_completion_tokens")]
for field, value, param in bad:
    body = dict(base)
    body[field] = value
    status, _, data = request("POST", "/v1/chat/completions", body)
    e = error_of(data)
    check("%s=%s: 400 naming '%s'" % (field, json.dumps(value)[:24], param),
          status == 400 and e and e["param"] == param, (status, data[:200]))

# --- Content-Type -------------------------------------------------------------------------
status, _, data = request("POST", "/v1/chat/completions", json.dumps(CHAT),
                          {"Content-Type": "text/plain"})
e = error_of(data)
check("text/plain body: 415 unsupported_media_type",
      status == 415 and e and e["type"] == "invalid_request_error" and
      e["code"] == "unsupported_media_type", (status, data[:200]))
status, _, _ = request("POST", "/tokenize", '{"content":"hi"}',
                       {"Content-Type": "application/x-www-form-urlencoded"})
check("form-encoded body (curl -d without -H): 415", status == 415, status)
status, _, _ = request("POST", "/v1/chat/completions", json.dumps(CHAT),
                       {"Content-Type": "application/jsonl"})
check("application/jsonl: 415", status == 415, status)
for ct in ["application/json; charset=utf-8", "Application/JSON",
           "application/json ;charset=UTF-8"]:
    status, _, _ = request("POST", "/v1/chat/completions", json.dumps(CHAT), {"Content-Type": ct})
    check("Content-Type %r accepted" % ct, status == 200, status)
s = connect()
body = json.dumps(CHAT).encode()
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
          b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
got = parse_responses(read_all(s))
check("no Content-Type: taken as JSON", got and got[0][0] == 200, got[:1])

# --- oversized bodies ---------------------------------------------------------------------
big = 64 << 20
s = connect()
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\n\r\n" % big)
try:
    s.sendall(b"x" * (1 << 20))
except OSError:
    pass
got = parse_responses(read_all(s, 10))
check("64 MiB body with Content-Length: 413 envelope",
      got and got[0][0] == 413 and error_of(got[0][2]), got[:1])
s = connect()
s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
chunk = b"%x\r\n%s\r\n" % (1 << 20, b"y" * (1 << 20))
t0 = time.monotonic()
try:
    for _ in range(64):
        s.sendall(chunk)
    s.sendall(b"0\r\n\r\n")
except OSError:
    pass
got = parse_responses(read_all(s, 10))
check("64 MiB chunked body: 413 envelope",
      got and got[0][0] == 413 and error_of(got[0][2]), got[:1])
print("# 64 MiB chunked body sent and refused in %.2f s" % (time.monotonic() - t0))
check("server answers after the big bodies", request("GET", "/health")[0] == 200)

# --- header flood -------------------------------------------------------------------------
s = connect()
flood = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(
    b"X-Flood-%d: %d\r\n" % (i, i) for i in range(10000)) + b"\r\n"
try:
    s.sendall(flood)
except OSError:
    pass
got = read_all(s, 10)
print("# 10,000 headers answered: %r" % got[:60])
check("10,000 headers: 431 and closed", got.startswith(b"HTTP/1.1 431"), got[:80])
check("server answers after the header flood", request("GET", "/health")[0] == 200)

# --- slow clients, idle connections, meanwhile others are served -----------------------------
results = {}



def trickle(s, data):
    """Sends data one byte every 0.8 s until the server answers or closes; (seconds, reply)."""
    t0 = time.monotonic()
    s.settimeout(0.2)
    got = b""
    for ch in data:
        try:
            s.send(bytes([ch]))
        except OSError:
            break
        try:
            d = s.recv(4096)
            if not d:
                break
            got += d
            break
        except socket.timeout:
            pass
        time.sleep(0.8)
    got += read_all(s, 5)
    return time.monotonic() - t0, got


def trickle_body():
    s = connect()
    body = json.dumps(CHAT).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
              b"\r\nx-request-id: slow-body\r\nOrigin: " + ALLOWED.encode() +
              b"\r\nContent-Length: %d\r\n\r\n" % len(body))
    results["body"] = trickle(s, body)


def trickle_headers():
    s = connect()
    s.sendall(b"GET /health HTTP/1.1\r\n")
    results["headers"] = trickle(s, b"User-Agent: " + b"z" * 40 + b"\r\n\r\n")


def idle():
    s = connect()
    t0 = time.monotonic()
    got = read_all(s, 20)
    results["idle"] = (time.monotonic() - t0, got)


threads = [threading.Thread(target=f) for f in (trickle_body, trickle_headers, idle)]
for t in threads:
    t.start()
time.sleep(0.5)
served = [request("GET", "/health")[0], request("POST", "/v1/chat/completions", CHAT)[0]]
check("while slow clients trickle, others are served", served == [200, 200] and
      "body" not in results and "headers" not in results, (served, list(results)))
for t in threads:
    t.join()
# Bounds are behaviour, not speed: never before the deadline, and long before the trickle
# would have ended by itself (about 50 s).
t, got = results["body"]
r = parse_responses(got)
print("# body at 1 byte/0.8 s: answered after %.1f s" % t)
check("slow body: 408 request_timeout (with CORS) after --read-timeout",
      r and r[0][0] == 408 and (error_of(r[0][2]) or {}).get("code") == "request_timeout"
      and r[0][1].get("x-request-id") == "slow-body" and 1.5 < t < 30 and
      r[0][1].get("access-control-allow-origin") == ALLOWED, (t, got[:300]))
t, got = results["headers"]
r = parse_responses(got)
print("# headers at 1 byte/0.8 s: answered after %.1f s" % t)
check("slow headers: 408 after --read-timeout", r and r[0][0] == 408 and 1.5 < t < 30,
      (t, got[:200]))
t, got = results["idle"]
print("# idle connection closed after %.1f s" % t)
check("idle connection closed after --idle-timeout, nothing sent", got == b"" and 3.5 < t < 19,
      (t, got[:100]))

# --- keep-alive and pipelining ------------------------------------------------------------
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
ports = []
for path in ["/health", "/v1/models", "/health"]:
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    ports.append((r.status, c.sock.getsockname()[1] if c.sock else None))
c.request("POST", "/v1/chat/completions", json.dumps(CHAT), {"Content-Type": "application/json"})
r = c.getresponse()
r.read()
ports.append((r.status, c.sock.getsockname()[1] if c.sock else None))
check("keep-alive: four requests on one connection",
      all(p[0] == 200 for p in ports) and len({p[1] for p in ports}) == 1, ports)
c.close()

s = connect()
tok = b'{"content":"Hello the"}'
chat = json.dumps(CHAT).encode()
s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nx-request-id: pipe-1\r\n\r\n"
          b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"x-request-id: pipe-2\r\nContent-Length: %d\r\n\r\n%s"
          b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"x-request-id: pipe-3\r\nContent-Length: %d\r\n\r\n%s"
          b"GET /v1/models HTTP/1.1\r\nHost: x\r\nx-request-id: pipe-4\r\nConnection: close\r\n\r\n"
          % (len(tok), tok, len(chat), chat))
got = parse_responses(read_all(s))
check("pipelined: four requests answered in order",
      [g[0] for g in got] == [200] * 4 and
      [g[1].get("x-request-id") for g in got] == ["pipe-1", "pipe-2", "pipe-3", "pipe-4"] and
      b'"tokens"' in got[1][2] and b'chat.completion' in got[2][2] and b'"list"' in got[3][2],
      [(g[0], g[1].get("x-request-id")) for g in got])

# --- odd request lines ----------------------------------------------------------------------
for path, want in [("/health%00x", 404), ("/v1/chat/completions%00", 404), ("/heal%74h", 200),
                   ("/health?x=1", 200), ("/" + "a" * 40000, 414)]:
    s = connect()
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path.encode())
    got = parse_responses(read_all(s, 10))
    check("GET %s: %d" % (path[:24], want), got and got[0][0] == want, got[:1])

# --- HEAD ---------------------------------------------------------------------------------
for path in ["/health", "/v1/models", "/v1/models/tiny"]:
    gs, gh, gb = request("GET", path)
    hs, hh, hb = request("HEAD", path)
    check("HEAD %s: GET's status and headers, no body" % path,
          hs == gs == 200 and hb == b"" and hh.get("content-length") == str(len(gb)) and
          hh.get("content-type") == gh.get("content-type"), (hs, hh, hb[:50]))
s = connect()
s.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n"
          b"Connection: close\r\n\r\n")
raw = read_all(s)
check("HEAD then GET on one connection: the HEAD answer has no body",
      raw.count(b"HTTP/1.1 200") == 2 and raw.endswith(b'{"status":"ok"}'), raw[-80:])
hs, hh, _ = request("HEAD", "/metrics")
check("HEAD /metrics: 200 text/plain", hs == 200 and hh.get("content-type", "").startswith(
    "text/plain"), (hs, hh))
hs, hh, _ = request("HEAD", "/v1/chat/completions")
check("HEAD on a POST route: 405 with Allow", hs == 405 and hh.get("allow") == "POST", (hs, hh))

# --- CORS ---------------------------------------------------------------------------------
status, h, _ = request("GET", "/health", headers={"Origin": ALLOWED})
check("CORS simple request, allowed origin: ACAO echoes it, Vary, Expose-Headers",
      status == 200 and h.get("access-control-allow-origin") == ALLOWED and
      h.get("vary") == "Origin" and "x-request-id" in h.get("access-control-expose-headers", "")
      and "retry-after" in h.get("access-control-expose-headers", "")
      and "x-ratelimit-remaining-requests" in h.get("access-control-expose-headers", ""), h)
status, h, _ = request("GET", "/health", headers={"Origin": "https://evil.example"})
check("CORS, other origin: no Access-Control headers",
      status == 200 and not any(k.startswith("access-control-") for k in h), h)
status, h, _ = request("POST", "/v1/chat/completions", '{"model":', {"Origin": ALLOWED})
check("CORS on an error response", status == 400 and
      h.get("access-control-allow-origin") == ALLOWED, (status, h))
pre = {"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
       "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os, "
                                         "x-stainless-retry-count"}
status, h, body = request("OPTIONS", "/v1/chat/completions", headers=pre)
check("CORS preflight, allowed origin: 204 with methods, headers, max-age",
      status == 204 and body == b"" and h.get("access-control-allow-origin") == ALLOWED and
      h.get("access-control-allow-methods") == "POST" and
      "x-stainless-os" in h.get("access-control-allow-headers", "") and
      "authorization" in h.get("access-control-allow-headers", "") and
      int(h.get("access-control-max-age", "0")) > 0, (status, h))
status, h, _ = request("OPTIONS", "/v1/models", headers=dict(
    pre, **{"Access-Control-Request-Headers": "bad\x7fheader"}))
check("CORS preflight with odd header names: the fixed list, GET routes' methods",
      status == 204 and "x-stainless-arch" in h.get("access-control-allow-headers", "") and
      h.get("access-control-allow-methods") == "GET, HEAD", (status, h))
status, h, _ = request("OPTIONS", "/v1/chat/completions",
                       headers=dict(pre, Origin="https://evil.example"))
check("CORS preflight, other origin: 204 Allow only, no Access-Control headers",
      status == 204 and h.get("allow") == "POST" and
      not any(k.startswith("access-control-") for k in h), (status, h))
status, h, _ = request("OPTIONS", "/v1/chat/completions")
check("OPTIONS without preflight: 204 with Allow", status == 204 and h.get("allow") == "POST",
      (status, h))
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
c.request("POST", "/v1/chat/completions", json.dumps(dict(CHAT, stream=True)),
          {"Content-Type": "application/json", "Origin": ALLOWED})
r = c.getresponse()
sse = r.read().decode()
check("CORS on an SSE stream", r.status == 200 and
      r.getheader("Access-Control-Allow-Origin") == ALLOWED, r.getheaders())
chunks = [json.loads(e[6:]) for e in sse.split("\n\n") if e.startswith("data: {")]
check("system_fingerprint on every chunk", chunks and all(
    str(ch.get("system_fingerprint", "")).startswith("fp_hearth_") for ch in chunks))
c.close()

# --- x-request-id -------------------------------------------------------------------------
status, h, data = request("POST", "/v1/chat/completions", CHAT, {"x-request-id": "mine-42"})
check("x-request-id echoed; system_fingerprint on the completion",
      h.get("x-request-id") == "mine-42" and
      json.loads(data).get("system_fingerprint", "").startswith("fp_hearth_"), (h, data[:200]))
status, h, _ = request("GET", "/health", headers={"x-request-id": "a<b>\"c'd e;f"})
check("x-request-id: unsafe characters dropped", h.get("x-request-id") == "abcdef", h)
status, h, _ = request("GET", "/health", headers={"x-request-id": "x" * 500})
check("x-request-id: an overlong one is cut", 0 < len(h.get("x-request-id", "")) < 64, h)
status, h, _ = request("GET", "/health")
check("x-request-id generated when absent", h.get("x-request-id", "").startswith("req_"), h)
time.sleep(0.2)
check("request ids in the access log", "mine-42" in open(LOG).read())

# --- a client that aborts its stream ------------------------------------------------------
# 128 choices of 480 tokens on one sequence slot: tens of seconds of work, cut after its
# first chunk.
_, _, m1, _, _ = metrics()
c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
c.request("POST", "/v1/chat/completions", json.dumps(
    {"model": "tiny", "stream": True, "n": 128, "max_tokens": 480, "ignore_eos": True,
     "messages": [{"role": "user", "content": "Tell me a story"}]}),
    {"Content-Type": "application/json", "x-request-id": "hostile-abort"})
r = c.getresponse()
first = r.readline()
check("long stream started", r.status == 200 and first.startswith(b"data: {"), first[:80])
c.sock.shutdown(socket.SHUT_RDWR)
r.close()
c.close()
t0 = time.monotonic()
while time.monotonic() - t0 < 60:
    _, _, m2, _, _ = metrics()
    if req_count(m2, "/v1/chat/completions", 499) > req_count(m1, "/v1/chat/completions", 499):
        break
    time.sleep(0.2)
print("# aborted stream recorded after %.1f s" % (time.monotonic() - t0))
check("aborted stream: counted as 499 in /metrics",
      req_count(m2, "/v1/chat/completions", 499) == req_count(m1, "/v1/chat/completions", 499) + 1)
done = m2.get(("hearth_completion_tokens_total", ()), 0) - \
    m1.get(("hearth_completion_tokens_total", ()), 0)
print("# tokens generated for the aborted stream: %d of %d" % (done, 128 * 480))
check("aborted stream: generation stopped early", 0 < done < 128 * 480 // 2, done)
check("aborted stream: the log says it was canceled",
      re.search(r"hostile-abort.*cancel", open(LOG).read()) is not None)

# --- metrics after all that ----------------------------------------------------------------
status, _, data = request("POST", "/v1/chat/completions", CHAT)
check("a last chat request before the scrape", status == 200, status)
time.sleep(1.2)  # the tokens/s gauge samples once a second
status, _, m3, _, problems = metrics()
check("/metrics still parses", status == 200 and not problems, problems[:5])
c200 = req_count(m3, "/v1/chat/completions", 200)
check("chat 200 counter grew", c200 > req_count(m0, "/v1/chat/completions", 200), c200)
check("error statuses counted (400, 408, 413, 415)",
      all(req_count(m3, "/v1/chat/completions", st) > 0 for st in (400, 408, 413, 415)),
      sorted((k[1], v) for k, v in m3.items() if k[0] == "hearth_requests_total"))
check("token counters grew", m3[("hearth_prompt_tokens_total", ())] > 0 and
      m3[("hearth_completion_tokens_total", ())] > 0 and
      m3[("hearth_prompt_tokens_cached_total", ())] > 0)
check("latency histograms filled", m3[("hearth_request_duration_seconds_count", ())] > 10 and
      m3[("hearth_time_to_first_token_seconds_count", ())] > 0 and
      m3[("hearth_queue_wait_seconds_count", ())] > 0)
TINY = (("model", "tiny"),)
check("inter-token latency histogram filled",
      m3[("hearth_inter_token_latency_seconds_count", ())] > 10,
      m3[("hearth_inter_token_latency_seconds_count", ())])
check("generated tokens: at least every finished request's completion tokens",
      m3[("hearth_generated_tokens_total", ())] >= m3[("hearth_completion_tokens_total", ())] > 0,
      (m3[("hearth_generated_tokens_total", ())], m3[("hearth_completion_tokens_total", ())]))
check("tokens/s over the last 10 s is positive after a request",
      m3[("hearth_tokens_per_second", ())] > 0, m3[("hearth_tokens_per_second", ())])
ratio = m3[("hearth_prefix_cache_hit_ratio", ())]
check("prefix-cache hit ratio = cached / prompt tokens, in (0, 1)",
      0 < ratio < 1 and abs(ratio - m3[("hearth_prompt_tokens_cached_total", ())] /
                            m3[("hearth_prompt_tokens_total", ())]) < 1e-5, ratio)
check("engine gauges at rest: 1 slot, 0 running, 0 queued, no KV block held",
      m3[("hearth_sequence_slots", TINY)] == 1 and m3[("hearth_running_sequences", TINY)] == 0
      and m3[("hearth_queue_depth", TINY)] == 0 and m3[("hearth_kv_blocks_used", TINY)] == 0,
      {k: v for k, v in m3.items() if k[1] == TINY})
check("KV blocks: free ones include the cached prefixes, which exist after repeats",
      m3[("hearth_kv_blocks_free", TINY)] >= m3[("hearth_kv_blocks_cached", TINY)] > 0,
      (m3[("hearth_kv_blocks_free", TINY)], m3[("hearth_kv_blocks_cached", TINY)]))
check("engine steps and evaluated tokens counted",
      m3[("hearth_tokens_evaluated_total", TINY)] >= m3[("hearth_engine_steps_total", TINY)] > 0)
check("requests in flight: only this scrape (every other one was accounted for)",
      m3[("hearth_requests_in_flight", ())] == 1, m3[("hearth_requests_in_flight", ())])
status, _, data = request("POST", "/v1/chat/completions", CHAT)
check("after all of it, a normal chat request succeeds",
      status == 200 and json.loads(data)["choices"][0]["message"]["role"] == "assistant",
      (status, data[:200]))
print("# %d checks failed" % len(FAILED))
sys.exit(1 if FAILED else 0)
