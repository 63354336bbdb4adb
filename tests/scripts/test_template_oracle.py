#!/usr/bin/python3
"""Chat-template conformance: every template in ../shared/templates, rendered by
`hearth template` for a fixed set of conversations, must be byte-identical to Python's jinja2
with Hugging Face's settings (trim_blocks, lstrip_blocks, loopcontrols, tojson without ASCII
escaping, raise_exception, strftime_now). A conversation both refuse (raise_exception or an
undefined variable) counts as agreement. Prints "N of M templates identical"; exits 77 when
jinja2 or ../shared is missing."""
import json
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone

try:
    import jinja2
    import jinja2.ext
except ImportError:
    print("jinja2 not installed (python3-jinja2): skipped")
    sys.exit(77)

HEARTH = os.environ.get("HEARTH_BIN", "build/hearth")
SHARED = os.environ.get("HEARTH_SHARED", "../shared")
TEMPLATES = os.path.join(SHARED, "templates")
NOW = 1700000000  # 2023-11-14, fixed so strftime_now agrees

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich"}},
        "required": ["city"]}}}]
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Zürich"}}}
CONVERSATIONS = {
    "system+user": {"messages": [{"role": "system", "content": "You are terse."},
                                 {"role": "user", "content": "Hi there!"}]},
    "multi-turn": {"messages": [{"role": "user", "content": "What is 2+2?"},
                                {"role": "assistant", "content": "4."},
                                {"role": "user", "content": "And 3+3? Say it in \"quotes\"."}]},
    "tools offered": {"messages": [{"role": "system", "content": "Use tools when needed."},
                                   {"role": "user", "content": "Weather in Zürich?"}],
                      "tools": TOOLS},
    "tool call and result": {"messages": [
        {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
         "content": "{\"temp_c\": 7}"},
        {"role": "user", "content": "Thanks"}], "tools": TOOLS},
    "no generation prompt": {"messages": [{"role": "user", "content": "Hello"},
                                          {"role": "assistant", "content": "Hi!"}],
                             "add_generation_prompt": False},
}


def jinja_render(source, conv):
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True,
                             extensions=[jinja2.ext.loopcontrols])

    def raise_exception(msg):
        raise jinja2.exceptions.TemplateError(msg)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent,
                          separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(NOW, timezone.utc).strftime(fmt)

    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    ctx = {"bos_token": "<s>", "eos_token": "</s>", "add_generation_prompt": True}
    ctx.update(conv)
    try:
        return env.from_string(source).render(**ctx)
    except Exception as e:  # the template refused this conversation
        return None


def hearth_render(path, conv):
    inp = {"bos_token": "<s>", "eos_token": "</s>", "now": NOW}
    inp.update(conv)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(inp, f)
        name = f.name
    try:
        r = subprocess.run([HEARTH, "template", "--template", path, "--input", name],
                           capture_output=True, timeout=30)
    finally:
        os.unlink(name)
    return r.stdout.decode() if r.returncode == 0 else None, r.stderr.decode().strip()


def main():
    if not os.path.isdir(TEMPLATES):
        print(f"{TEMPLATES} absent: skipped")
        return 77
    names = sorted(n for n in os.listdir(TEMPLATES) if n.endswith(".jinja"))
    identical = 0
    for name in names:
        path = os.path.join(TEMPLATES, name)
        source = open(path, encoding="utf-8").read()
        bad = []
        for label, conv in CONVERSATIONS.items():
            want = jinja_render(source, conv)
            got, err = hearth_render(path, conv)
            if got != want:
                bad.append((label, want, got, err))
        if bad:
            label, want, got, err = bad[0]
            print(f"DIFFERS {name}: {len(bad)} of {len(CONVERSATIONS)} conversations, "
                  f"first '{label}'")
            print(f"  jinja2: {want!r}"[:600])
            print(f"  hearth: {got!r} {err}"[:600])
        else:
            identical += 1
            print(f"identical {name}")
    print(f"{identical} of {len(names)} templates identical")
    failed = len(names) - identical
    print(f"{identical} passed, {failed} failed")
    return 0 if failed == 0 else 1


sys.exit(main())
