#!/usr/bin/python3
"""Independent dequantization reference for the kernel tests: random block bytes for each
ggml type, decoded with numpy straight from the block layouts (written from the format
description, not from Hearth's C). Writes OUT/<TYPE>.bin (raw blocks) and OUT/<TYPE>.f32
(expected floats, little-endian). Usage: dequant_ref.py OUTDIR"""
import os
import sys

import numpy as np

rng = np.random.default_rng(1234)
N_BLOCKS = 8


def f16(b, off):
    return np.frombuffer(bytes(b[off:off + 2]), dtype="<f2").astype(np.float32)[0]


def rand_block(size, f16_offsets):
    b = bytearray(rng.integers(0, 256, size=size, dtype=np.uint8).tobytes())
    for off in f16_offsets:  # keep scales finite and modest
        b[off:off + 2] = np.float16(rng.uniform(-0.1, 0.1)).tobytes()
    return b


def nibbles(qs):
    q = np.frombuffer(bytes(qs), dtype=np.uint8)
    return np.concatenate([q & 0x0F, q >> 4]).astype(np.int32)


def q4_0(b):
    return f16(b, 0) * (nibbles(b[2:18]) - 8)


def q4_1(b):
    return f16(b, 0) * nibbles(b[4:20]) + f16(b, 2)


def q5(b, qh_off, qs_off, d, m, offset):
    qh = int.from_bytes(bytes(b[qh_off:qh_off + 4]), "little")
    lo = nibbles(b[qs_off:qs_off + 16])
    hi = np.array([(qh >> j) & 1 for j in range(32)], dtype=np.int32) << 4
    return d * (lo + hi - offset) + m


def q5_0(b):
    return q5(b, 2, 6, f16(b, 0), 0.0, 16)


def q5_1(b):
    return q5(b, 4, 8, f16(b, 0), f16(b, 2), 0)


def q8_0(b):
    return f16(b, 0) * np.frombuffer(bytes(b[2:34]), dtype=np.int8).astype(np.float32)


def q2_k(b):
    scales, qs = b[0:16], np.frombuffer(bytes(b[16:80]), dtype=np.uint8)
    d, dmin = f16(b, 80), f16(b, 82)
    out = []
    for half in range(2):  # two 128-element halves, 32 bytes of qs each
        q = qs[32 * half:32 * half + 32].astype(np.int32)
        for shift_i in range(4):
            for sub in range(2):
                sc = scales[half * 8 + shift_i * 2 + sub]
                vals = (q[16 * sub:16 * sub + 16] >> (2 * shift_i)) & 3
                out.append(d * (sc & 15) * vals - dmin * (sc >> 4))
    return np.concatenate(out)


def q3_k(b):
    hmask = np.frombuffer(bytes(b[0:32]), dtype=np.uint8).astype(np.int32)
    qs = np.frombuffer(bytes(b[32:96]), dtype=np.uint8).astype(np.int32)
    s = b[96:108]
    d = f16(b, 108)
    scales = []
    for i in range(16):  # 6-bit: low 4 bits from bytes 0..7, high 2 bits from bytes 8..11
        lo = (s[i] & 15) if i < 8 else (s[i - 8] >> 4)
        hi = (s[8 + i % 4] >> (2 * (i // 4))) & 3
        scales.append((lo | (hi << 4)) - 32)
    out, bit = [], 0
    for half in range(2):
        q = qs[32 * half:32 * half + 32]
        for shift_i in range(4):
            for sub in range(2):
                idx = slice(16 * sub, 16 * sub + 16)
                v = (q[idx] >> (2 * shift_i)) & 3
                v = v - np.where(hmask[idx] & (1 << bit), 0, 4)
                out.append(d * scales[half * 8 + shift_i * 2 + sub] * v)
            bit += 1
    return np.concatenate(out)


def scale_min(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def q4_k(b):
    d, dmin, sc = f16(b, 0), f16(b, 2), b[4:16]
    qs = np.frombuffer(bytes(b[16:144]), dtype=np.uint8).astype(np.int32)
    out = []
    for chunk in range(4):
        q = qs[32 * chunk:32 * chunk + 32]
        for k, vals in enumerate((q & 15, q >> 4)):
            s, m = scale_min(2 * chunk + k, sc)
            out.append(d * s * vals - dmin * m)
    return np.concatenate(out)


def q5_k(b):
    d, dmin, sc = f16(b, 0), f16(b, 2), b[4:16]
    qh = np.frombuffer(bytes(b[16:48]), dtype=np.uint8).astype(np.int32)
    qs = np.frombuffer(bytes(b[48:176]), dtype=np.uint8).astype(np.int32)
    out = []
    for chunk in range(4):
        q = qs[32 * chunk:32 * chunk + 32]
        for k, vals in enumerate((q & 15, q >> 4)):
            high = ((qh >> (2 * chunk + k)) & 1) << 4
            s, m = scale_min(2 * chunk + k, sc)
            out.append(d * s * (vals + high) - dmin * m)
    return np.concatenate(out)


def q6_k(b):
    ql = np.frombuffer(bytes(b[0:128]), dtype=np.uint8).astype(np.int32)
    qh = np.frombuffer(bytes(b[128:192]), dtype=np.uint8).astype(np.int32)
    sc = np.frombuffer(bytes(b[192:208]), dtype=np.int8).astype(np.int32)
    d = f16(b, 208)
    out = np.zeros(256, dtype=np.float32)
    for half in range(2):
        l_ = ql[64 * half:64 * half + 64]
        h = qh[32 * half:32 * half + 32]
        s = sc[8 * half:8 * half + 8]
        for l in range(32):
            q = [(l_[l] & 15) | (((h[l] >> 0) & 3) << 4), (l_[l + 32] & 15) | (((h[l] >> 2) & 3) << 4),
                 (l_[l] >> 4) | (((h[l] >> 4) & 3) << 4), (l_[l + 32] >> 4) | (((h[l] >> 6) & 3) << 4)]
            for k in range(4):
                out[128 * half + l + 32 * k] = d * s[l // 16 + 2 * k] * (q[k] - 32)
    return out


TYPES = {  # name: (block bytes, f16 offsets, decoder)
    "Q4_0": (18, [0], q4_0), "Q4_1": (20, [0, 2], q4_1), "Q5_0": (22, [0], q5_0),
    "Q5_1": (24, [0, 2], q5_1), "Q8_0": (34, [0], q8_0), "Q2_K": (84, [80, 82], q2_k),
    "Q3_K": (110, [108], q3_k), "Q4_K": (144, [0, 2], q4_k), "Q5_K": (176, [0, 2], q5_k),
    "Q6_K": (210, [208], q6_k),
}

out = sys.argv[1]
for name, (size, offs, fn) in TYPES.items():
    raw, vals = bytearray(), []
    for _ in range(N_BLOCKS):
        b = rand_block(size, offs)
        raw += b
        vals.append(np.asarray(fn(b), dtype=np.float32))
    open(os.path.join(out, name + ".bin"), "wb").write(bytes(raw))
    np.concatenate(vals).astype("<f4").tofile(os.path.join(out, name + ".f32"))
