#!/usr/bin/python3
"""Serving benchmark: starts `hearth serve` on a free loopback port with a model (a generated
random-weight one by default), then for 1, 4, 8 and 16 concurrent streaming chat requests
measures aggregate generated tokens/s, time to first token and inter-token latency (p50/p99);
then the same with a shared 1,000-token system prompt, once with the prefix cache and once
without (two daemons, same run), and reports the time-to-first-token ratio. Not a test: speed
is never asserted. Prints one table.

Usage: bench/bench_serve.py [--bin build/hearth] [--model FILE | --preset smol --type q8_0]
                            [--threads N] [--tokens 64] [--streams 1,4,8,16]
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def start_daemon(args, model, extra, work):
    log = open(os.path.join(work, "daemon-%d.log" % len(os.listdir(work))), "w+")
    cmd = [args.bin, "serve", "--host", "127.0.0.1", "--port", "0", "--model", model,
           "--model-id", "bench", "--data-dir", work, "--db", os.path.join(work, "usage.db"),
           "--parallel", str(max(args.streams)), "--ctx", str(args.ctx)] + (
               ["--threads", str(args.threads)] if args.threads else []) + extra
    proc = subprocess.Popen(cmd, stderr=log, stdout=subprocess.DEVNULL)
    for _ in range(600):
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            log.seek(0)
            sys.exit("hearth serve exited: " + log.read())
        time.sleep(0.1)
    proc.kill()
    sys.exit("hearth serve did not start")


def one_stream(port, messages, n_tokens, out):
    """One streaming request; appends (ttft_s, [inter-token gaps], completion_tokens)."""
    body = json.dumps({"model": "bench", "messages": messages, "max_tokens": n_tokens,
                       "temperature": 0, "ignore_eos": True, "stream": True,
                       "stream_options": {"include_usage": True}})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.monotonic()
    c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        raise SystemExit("HTTP %d: %s" % (r.status, r.read()[:200]))
    first, last, gaps, used = None, None, [], 0
    for line in r:
        if not line.startswith(b"data: {"):
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            used = chunk["usage"]["completion_tokens"]
        if any(ch["delta"].get("content") for ch in chunk["choices"]):
            now = time.monotonic()
            if first is None:
                first = now - t0
            else:
                gaps.append(now - last)
            last = now
    c.close()
    out.append((first or 0.0, gaps, used))


def wave(port, n, n_tokens, system=None):
    results, threads = [], []
    t0 = time.monotonic()
    for i in range(n):
        msgs = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": "Request %d: tell me a story about the number %d." % (i, i)}]
        th = threading.Thread(target=one_stream, args=(port, msgs, n_tokens, results))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    ttft = sorted(r[0] for r in results)
    gaps = sorted(g for r in results for g in r[1])
    total = sum(r[2] for r in results)
    pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else 0.0
    return {"streams": n, "tok_s": total / wall, "ttft50": pct(ttft, 0.5),
            "ttft99": pct(ttft, 0.99), "itl50": pct(gaps, 0.5), "itl99": pct(gaps, 0.99)}


def system_prompt(port, n_tokens=1000):
    """Rules added until the prompt is at least n_tokens long in this model's vocabulary."""
    rules = []
    while True:
        rules.append("Rule %d: answer politely and briefly." % len(rules))
        text = " ".join(rules)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("POST", "/tokenize", json.dumps({"content": text}),
                  {"Content-Type": "application/json"})
        n = len(json.loads(c.getresponse().read())["tokens"])
        c.close()
        if n >= n_tokens:
            return text


def row(label, r):
    print("%-22s %7d %10.1f %10.0f %10.0f %9.1f %9.1f" % (label, r["streams"], r["tok_s"],
          r["ttft50"], r["ttft99"], r["itl50"], r["itl99"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/hearth")
    ap.add_argument("--model")
    ap.add_argument("--preset", default="smol")
    ap.add_argument("--type", default="q8_0")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--ctx", type=int, default=2048)
    ap.add_argument("--streams", default="1,4,8,16")
    args = ap.parse_args()
    args.streams = [int(x) for x in args.streams.split(",")]
    with tempfile.TemporaryDirectory() as work:
        model = args.model
        if not model:
            model = os.path.join(work, "bench.gguf")
            subprocess.run([args.bin, "make-model", "--preset", args.preset, "--type", args.type,
                            "--out", model], check=True, stderr=subprocess.DEVNULL)
        print("# model %s, %d tokens per request, threads %s" % (
            os.path.basename(args.model) if args.model else "%s %s" % (args.preset, args.type),
            args.tokens, args.threads or "all"))
        print("%-22s %7s %10s %10s %10s %9s %9s" % ("scenario", "streams", "tok/s", "ttft p50",
              "ttft p99", "itl p50", "itl p99"))
        print("%-22s %7s %10s %10s %10s %9s %9s" % ("", "", "(sum)", "ms", "ms", "ms", "ms"))
        proc, port = start_daemon(args, model, [], work)
        try:
            wave(port, 1, 4)  # warm-up
            for n in args.streams:
                row("plain", wave(port, n, args.tokens))
            system = system_prompt(port)
        finally:
            proc.terminate()
            proc.wait()
        n = max(args.streams)
        ttft = {}
        for label, extra in (("shared system, cache", []),
                             ("shared system, no cache", ["--prefix-cache", "false"])):
            proc, port = start_daemon(args, model, extra, work)
            try:
                wave(port, 1, 4, system)  # the first request fills the cache
                r = wave(port, n, args.tokens, system)
                ttft[label] = r["ttft50"]
                row(label, r)
            finally:
                proc.terminate()
                proc.wait()
        a, b = ttft["shared system, cache"], ttft["shared system, no cache"]
        print("# shared 1,000-token system prompt: ttft p50 with the prefix cache is %.2fx "
              "the time without" % (a / b if b else 0))


if __name__ == "__main__":
    main()
