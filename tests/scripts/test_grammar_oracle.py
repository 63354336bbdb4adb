#!/usr/bin/python3
"""The JSON Schema grammar against python3-jsonschema on thousands of generated documents:
instances of a nested schema (optional properties, unions, enums, bounded strings and arrays,
$ref, formats) and their mutations (wrong types, missing or extra keys, values out of an enum
or a bound, truncations), written compact, with single spaces or indented as json.dumps
writes them, with and without \\u escapes. `hearth grammar --check` must accept a document
exactly when jsonschema says it is valid. Exits 77 when jsonschema is missing."""
import json
import os
import random
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
        "name": {"type": "string", "minLength": 1, "maxLength": 6},
        "score": {"type": ["number", "null"]},
        "kind": {"enum": ["a", "b", 7, None, True]},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 3},
                 "minItems": 1, "maxItems": 3},
        "when": {"type": "string", "format": "date"},
        "pt": {"$ref": "#/$defs/pt"},
        "age": {"type": "integer", "minimum": 18, "maximum": 120},
        "neg": {"type": ["integer", "null"], "exclusiveMaximum": 0, "minimum": -1000},
        "pos": {"type": "number", "minimum": 0},
        "any": {},
    },
    "required": ["id", "name", "kind", "tags"],
    "additionalProperties": False,
    "$defs": {"pt": {"type": "object",
                     "properties": {"x": {"type": "integer"},
                                    "y": {"anyOf": [{"type": "boolean"},
                                                    {"const": "c"}]}},
                     "required": ["x"], "additionalProperties": False}},
}
ORDER = list(SCHEMA["properties"])
CHARS = "ab z\"\\\n\u00e9\u20ac\u4e2d"


def rstr(r, lo, hi):
    return "".join(r.choice(CHARS) for _ in range(r.randint(lo, hi)))


def rval(r, depth=0):
    k = r.randrange(6 if depth < 2 else 4)
    if k == 0:
        return r.randint(-99, 99)
    if k == 1:
        return rstr(r, 0, 3)
    if k == 2:
        return r.choice([True, False, None])
    if k == 3:
        return 2.5
    if k == 4:
        return [rval(r, depth + 1) for _ in range(r.randrange(3))]
    return {rstr(r, 1, 2): rval(r, depth + 1) for _ in range(r.randrange(3))}


def instance(r):
    d = {"id": r.randint(-1000, 10**6), "name": rstr(r, 1, 6),
         "kind": r.choice(["a", "b", 7, None, True]),
         "tags": [rstr(r, 0, 3) for _ in range(r.randint(1, 3))]}
    if r.random() < 0.5:
        d["score"] = r.choice([None, 0.5, -3, 1e-7, 12345.25])
    if r.random() < 0.5:
        d["when"] = f"{r.randint(1000, 2999)}-{r.randint(1, 12):02d}-{r.randint(1, 31):02d}"
    if r.random() < 0.5:
        pt = {"x": r.randint(-5, 5)}
        if r.random() < 0.5:
            pt["y"] = r.choice([True, False, "c"])
        d["pt"] = pt
    if r.random() < 0.5:
        d["age"] = r.randint(18, 120)
    if r.random() < 0.5:
        d["neg"] = r.choice([None, r.randint(-1000, -1)])
    if r.random() < 0.3:
        d["pos"] = r.choice([0, 0.25, 7, 1e5])
    if r.random() < 0.4:
        d["any"] = rval(r)
    return d


def mutate(r, d):
    d = dict(d)
    m = r.randrange(10)
    if m == 0:
        d.pop(r.choice(["id", "name", "kind", "tags"]))
    elif m == 1:
        d["extra"] = 1
    elif m == 2:
        d[r.choice(ORDER[:4])] = r.choice(["x", 1.5, [], {}, None, "toolongname"])
    elif m == 3:
        d["name"] = rstr(r, 7, 8) if r.random() < 0.5 else ""
    elif m == 4:
        d["tags"] = [] if r.random() < 0.5 else ["a", "b", "c", "d"]
    elif m == 5:
        d["tags"] = ["abcd"]
    elif m == 6:
        d["kind"] = r.choice(["c", 8, False, "A"])
    elif m == 7:
        d["pt"] = r.choice([{"y": True}, {"x": 1, "z": 2}, {"x": 1, "y": "d"}, {"x": "1"}])
    elif m == 8:
        d["when"] = r.choice(["2024-13-01", "2024-1-01", "24-01-01", "2024-01-32"])
    else:
        k = r.choice(["age", "neg", "pos"])
        d[k] = {"age": r.choice([17, 121, 0, -18, 1000, 99]),
                "neg": r.choice([0, 1, -1001, -1000, -999, 5]),
                "pos": r.choice([-1, -0.5, 3.5])}[k]
    return d


def dump(r, d):
    ordered = {k: d[k] for k in ORDER if k in d}
    ordered.update({k: v for k, v in d.items() if k not in ordered})
    style = r.randrange(3)
    ascii_ok = r.random() < 0.3
    if style == 0:
        return json.dumps(ordered, separators=(",", ":"), ensure_ascii=ascii_ok)
    if style == 1:
        return json.dumps(ordered, ensure_ascii=ascii_ok)
    return json.dumps(ordered, indent=2, ensure_ascii=ascii_ok)


def main():
    r = random.Random(1234)
    docs = []
    for _ in range(3000):
        d = instance(r)
        if r.random() < 0.5:
            d = mutate(r, d)
        s = dump(r, d)
        if r.random() < 0.05:
            s = s[:r.randrange(len(s))]  # truncated: never valid
        docs.append(s)
    want = []
    for s in docs:
        try:
            jsonschema.validate(json.loads(s), SCHEMA,
                                format_checker=jsonschema.FormatChecker())
            want.append("1")
        except (ValueError, jsonschema.ValidationError):
            want.append("0")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "schema.json")
        with open(path, "w") as f:
            json.dump(SCHEMA, f)
        p = subprocess.run([HEARTH, "grammar", "--json-schema", path, "--check"],
                           input="".join(s + "\0" for s in docs).encode(),
                           capture_output=True)
    if p.returncode != 0:
        sys.exit(f"FAIL: hearth grammar: {p.stderr.decode()}")
    got = p.stdout.decode().split()
    assert len(got) == len(docs), (len(got), len(docs))
    bad = [i for i in range(len(docs)) if got[i] != want[i]]
    for i in bad[:10]:
        print(f"FAIL: jsonschema {want[i]} grammar {got[i]}: {docs[i]!r}")
    n_valid = want.count("1")
    print(f"{len(docs) - len(bad)} of {len(docs)} documents agree ({n_valid} valid)")
    if bad or not (len(docs) // 5 < n_valid < len(docs) * 4 // 5):
        sys.exit(1)


if __name__ == "__main__":
    main()
