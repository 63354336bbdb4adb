"""Prints a GGUF file's general.file_type and each tensor's name and type, one per line
("file_type N", then "NAME TYPE"), and with --expect MIX checks every tensor's type against
llama-quantize's rule for that mix, restated here independently of the C code. Used by
test_quantize.sh; reads only the header."""
import re
import struct
import sys

TYPE_NAMES = {0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0",
              10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 30: "BF16"}
SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
          11: "<q", 12: "<d"}


def read_header(path):
    with open(path, "rb") as f:
        data = f.read(64 << 20)
    pos = [0]

    def take(fmt):
        v = struct.unpack_from(fmt, data, pos[0])[0]
        pos[0] += struct.calcsize(fmt)
        return v

    def string():
        n = take("<Q")
        s = data[pos[0]:pos[0] + n].decode("utf-8", "replace")
        pos[0] += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(SCALAR[t])

    if data[:4] != b"GGUF":
        raise SystemExit(f"{path}: not a GGUF file")
    pos[0] = 4
    take("<I")
    n_tensors, n_kv = take("<Q"), take("<Q")
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = string()
        ne = [take("<Q") for _ in range(take("<I"))]
        t = take("<I")
        take("<Q")
        tensors.append((name, ne, TYPE_NAMES.get(t, str(t))))
    return kv, tensors


def expected(mix, name, ne, n_layer, tied):
    """llama-quantize's choice for a dense model (llama_tensor_get_type)."""
    if len(ne) < 2 or not name.endswith("weight") or "_norm.weight" in name:
        return None  # unchanged
    base = {"q4_k_m": "Q4_K", "q5_k_m": "Q5_K", "q6_k": "Q6_K", "q8_0": "Q8_0",
            "q4_0": "Q4_0"}[mix]
    block = {"Q4_K": 256, "Q5_K": 256, "Q6_K": 256, "Q8_0": 32, "Q4_0": 32, "Q5_0": 32,
             "Q5_1": 32, "F16": 1}
    if mix in ("q8_0", "q4_0"):
        return base if ne[0] % 32 == 0 else "F16"
    m = re.match(r"blk\.(\d+)\.", name)
    layer = int(m.group(1)) if m else -1
    more = layer >= 0 and (layer < n_layer // 8 or layer >= 7 * n_layer // 8
                           or (layer - n_layer // 8) % 3 == 2)
    t = base
    if name == "output.weight" or (tied and name == "token_embd.weight"):
        t = "Q6_K" if ne[0] % 256 == 0 else "Q8_0"
    elif ("attn_v.weight" in name or "attn_qkv.weight" in name or "ffn_down" in name) \
            and mix in ("q4_k_m", "q5_k_m") and more:
        t = "Q6_K"
    if ne[0] % block[t]:
        t = {"Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}.get(t, t)
        if ne[0] % block[t]:
            t = "F16"
    return t


def main():
    args = sys.argv[1:]
    mix = None
    if args[:1] == ["--expect"]:
        mix, args = args[1], args[2:]
    kv, tensors = read_header(args[0])
    print("file_type", kv.get("general.file_type"))
    names = {n for n, _, _ in tensors}
    n_layer = 1 + max((int(m.group(1)) for m in (re.match(r"blk\.(\d+)\.", n) for n in names)
                       if m), default=-1)
    bad = 0
    for name, ne, t in tensors:
        print(name, t)
        if mix:
            want = expected(mix, name, ne, n_layer, "output.weight" not in names)
            if want is not None and want != t:
                print(f"MISMATCH {name}: {t}, expected {want}", file=sys.stderr)
                bad += 1
            if want is None and len(ne) == 1 and t != "F32":
                print(f"MISMATCH {name}: {t}, expected F32 (a vector)", file=sys.stderr)
                bad += 1
    sys.exit(1 if bad else 0)


main()
