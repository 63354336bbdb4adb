#!/usr/bin/python3
"""Grammar-constrained generation on a random-weight tiny model, whose output is noise: only
the constraint can make it valid. `hearth run --json-schema` (strict, a nested schema) must
give JSON that Python parses and python3-jsonschema validates, for every seed; `--json` must
give a JSON object whenever generation ended before --max-tokens (the random model often
writes one long string until the cap, which OpenAI's finish_reason "length" also allows),
and a GBNF grammar must give one of its sentences. Exits 77 when jsonschema is missing."""
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("jsonschema not installed (python3-jsonschema): skipped")
    sys.exit(77)

HEARTH = os.environ.get("HEARTH_BIN", "build/hearth")

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string", "maxLength": 8},
        "score": {"type": "number"},
        "kind": {"enum": ["alpha", "beta", 3, None]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 3},
                 "minItems": 1, "maxItems": 3},
        "pos": {"type": "object",
                "properties": {"x": {"type": "integer"}, "ok": {"type": ["boolean", "null"]},
                               "when": {"type": "string", "format": "date"}},
                "required": ["x", "ok", "when"], "additionalProperties": False},
        "opt": {"anyOf": [{"type": "null"}, {"$ref": "#/$defs/pt"}]},
    },
    "required": ["id", "name", "score", "kind", "tags", "pos", "opt"],
    "additionalProperties": False,
    "$defs": {"pt": {"type": "object", "properties": {"v": {"const": "c"}},
                     "required": ["v"], "additionalProperties": False}},
}


def run(model, args, seed, max_tokens):
    p = subprocess.run([HEARTH, "run", "--model", model, "--seed", str(seed), "--temperature",
                        "1", "--top-k", "0", "--top-p", "1", "--max-tokens", str(max_tokens),
                        "--timings"] + args + ["Write JSON"], capture_output=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: hearth run {args} seed {seed}: exit {p.returncode}: "
                 f"{p.stderr.decode(errors='replace')}")
    m = re.search(r"generation (\d+) tokens", p.stderr.decode())
    return p.stdout.decode(), int(m.group(1)) if m else -1


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "tiny.gguf")
        subprocess.run([HEARTH, "make-model", "--preset", "tiny", "--type", "f32", "--out",
                        model], check=True, capture_output=True)
        schema_path = os.path.join(tmp, "schema.json")
        with open(schema_path, "w") as f:
            json.dump(SCHEMA, f)
        for seed in range(1, 13):
            out, n = run(model, ["--json-schema", schema_path, "--strict"], seed, 480)
            try:
                jsonschema.validate(json.loads(out), SCHEMA)
            except Exception as e:  # noqa: BLE001 - report any parse or validation error
                print(f"FAIL: schema seed {seed} ({n} tokens): {e}\n{out!r}")
                failures += 1
        print("json_schema: 12 generations parsed and validated")
        done = 0
        for seed in range(1, 13):
            out, n = run(model, ["--json"], seed, 300)
            if n >= 300:
                continue  # cut by max_tokens: may be incomplete, as with OpenAI
            done += 1
            try:
                if not isinstance(json.loads(out), dict):
                    raise ValueError("not an object")
            except Exception as e:  # noqa: BLE001
                print(f"FAIL: json_object seed {seed} ({n} tokens): {e}\n{out!r}")
                failures += 1
        if done == 0:
            print("FAIL: no json_object generation ended before max_tokens")
            failures += 1
        print(f"json_object: {done} of 12 generations ended and parsed")
        gbnf = os.path.join(tmp, "g.gbnf")
        with open(gbnf, "w") as f:
            f.write('root ::= ("yes" | "no") " " [0-9]{1,3} ("." | "!")\n')
        for seed in range(1, 9):
            out, n = run(model, ["--grammar", gbnf], seed, 40)
            if not re.fullmatch(r"(yes|no) [0-9]{1,3}[.!]", out):
                print(f"FAIL: gbnf seed {seed}: {out!r}")
                failures += 1
        print("gbnf: 8 generations matched")
    if failures:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
