#!/usr/bin/python3
"""Independent float64 forward pass (numpy) for F32 GGUF models of the architectures Hearth
runs (llama, qwen2, qwen3, phi3, gemma2, gemma3), written from the architectures' published
definitions, not from Hearth's C. Prints the logits of every position as raw little-endian
float32 to OUT. Usage: forward_ref.py MODEL.gguf OUT TOKEN...

gemma3 follows Hugging Face's Gemma3TextConfig / modeling_gemma3 as GGUF carries it:
layer_types[i] is "sliding_attention" unless (i + 1) % sliding_window_pattern == 0 (default
pattern 6; no sliding_window key: every layer full); a sliding layer's query at position i
sees keys j with i - j < sliding_window; sliding layers use rope_local_base_freq
(rope.freq_base_swa, default 10000) with plain RoPE, full layers rope_theta (rope.freq_base)
with the "linear" rope_scaling (positions / factor); queries are scaled by
query_pre_attn_scalar ** -0.5, which GGUF does not store: it is head_dim, except for the 27B
model (62 layers), whose value is hidden_size / num_attention_heads; per-head RMSNorm on q
and k before RoPE; no attention soft-capping; norm weights already hold the (1 + w) of
Gemma3RMSNorm.

With --embed POOLING it prints instead the sequence's embedding as n_embd little-endian
float64: the final hidden states after output_norm (before the classifier and any soft-cap),
pooled by POOLING (mean: the average over all positions, cls: the first, last: the last) and
divided by their L2 norm, unless --raw. Usage: forward_ref.py --embed mean|cls|last [--raw]
MODEL.gguf OUT TOKEN..."""
import struct
import sys

import numpy as np


def read_gguf(path):
    data = open(path, "rb").read()
    pos = 24
    n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)

    def string(p):
        n, = struct.unpack_from("<Q", data, p)
        return data[p + 8:p + 8 + n].decode("utf-8", "replace"), p + 8 + n

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q",
              12: "d"}

    def value(t, p):
        if t == 8:
            return string(p)
        if t == 9:
            at, n = struct.unpack_from("<IQ", data, p)
            p += 12
            out = []
            for _ in range(n):
                v, p = value(at, p)
                out.append(v)
            return out, p
        v, = struct.unpack_from("<" + scalar[t], data, p)
        return v, p + struct.calcsize(scalar[t])

    kv = {}
    for _ in range(n_kv):
        k, pos = string(pos)
        t, = struct.unpack_from("<I", data, pos)
        kv[k], pos = value(t, pos + 4)
    infos = []
    for _ in range(n_tensors):
        name, pos = string(pos)
        nd, = struct.unpack_from("<I", data, pos)
        ne = struct.unpack_from("<%dQ" % nd, data, pos + 4)
        typ, off = struct.unpack_from("<IQ", data, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        infos.append((name, ne, typ, off))
    align = kv.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    tensors = {}
    for name, ne, typ, off in infos:
        assert typ == 0, "the reference reads F32 models only"
        count = int(np.prod(ne))
        arr = np.frombuffer(data, dtype="<f4", count=count, offset=base + off).astype(np.float64)
        tensors[name] = arr.reshape(tuple(reversed(ne)))  # rows = ne[1], cols = ne[0]
    return kv, tensors


def rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x * x) + eps) * w


def rope(x, pos, n_rot, base, neox, pos_scale=1.0):
    half = n_rot // 2
    inv = base ** (-2.0 * np.arange(half) / n_rot)
    ang = pos * pos_scale * inv
    c, s = np.cos(ang), np.sin(ang)
    y = x.copy()
    if neox:
        a, b = x[:half], x[half:n_rot]
        y[:half], y[half:n_rot] = a * c - b * s, a * s + b * c
    else:
        a, b = x[0:n_rot:2], x[1:n_rot:2]
        y[0:n_rot:2], y[1:n_rot:2] = a * c - b * s, a * s + b * c
    return y


def forward(kv, t, tokens):
    arch = kv["general.architecture"]
    g = lambda k, d=None: kv.get(arch + "." + k, d)
    e, n_layer, n_head = g("embedding_length"), g("block_count"), g("attention.head_count")
    n_kv, eps = g("attention.head_count_kv", n_head), g("attention.layer_norm_rms_epsilon")
    gemma = arch in ("gemma2", "gemma3")
    hd = g("attention.key_length", e // n_head)
    assert g("attention.value_length", e // n_head) == hd
    n_rot, base = g("rope.dimension_count", hd), g("rope.freq_base", 10000.0)
    neox = arch in ("qwen2", "qwen3", "phi3", "gemma2", "gemma3")
    qd, kvd = n_head * hd, n_kv * hd
    # per layer: (window or 0, rope base, position scale)
    if arch == "gemma3":
        window = g("attention.sliding_window", 0)
        pattern = g("attention.sliding_window_pattern", 6)
        factor = g("rope.scaling.factor", 0.0)
        scale = 1.0 / factor if factor and g("rope.scaling.type", "linear") == "linear" else 1.0
        local = (window, g("rope.freq_base_swa", 10000.0), 1.0)
        full = (0, base, scale)
        layers = [local if window and (pattern == 0 or (l + 1) % pattern != 0) else full
                  for l in range(n_layer)]
        q_scale = 1.0 / np.sqrt(e // n_head if n_layer == 62 else hd)
    else:
        window = g("attention.sliding_window", 0) if arch == "gemma2" else 0
        layers = [(window if l % 2 == 0 else 0, base, 1.0) for l in range(n_layer)]
        q_scale = 1.0 / np.sqrt(hd)
    emb = t["token_embd.weight"]
    out_w = t.get("output.weight", emb)
    keys = [[] for _ in range(n_layer)]
    vals = [[] for _ in range(n_layer)]
    logits, states = [], []
    for pos, tok in enumerate(tokens):
        x = emb[tok].copy()
        if gemma:
            x *= np.sqrt(e)
        for l in range(n_layer):
            p = "blk.%d." % l
            h = rmsnorm(x, t[p + "attn_norm.weight"], eps)
            if arch == "phi3":
                qkv = t[p + "attn_qkv.weight"] @ h
                q, k, v = qkv[:qd], qkv[qd:qd + kvd], qkv[qd + kvd:]
            else:
                q, k, v = (t[p + "attn_q.weight"] @ h, t[p + "attn_k.weight"] @ h,
                           t[p + "attn_v.weight"] @ h)
            if arch == "qwen2":
                q, k, v = q + t[p + "attn_q.bias"], k + t[p + "attn_k.bias"], v + t[p + "attn_v.bias"]
            q, k = q.reshape(n_head, hd), k.reshape(n_kv, hd)
            if arch in ("qwen3", "gemma3"):
                q = np.array([rmsnorm(r, t[p + "attn_q_norm.weight"], eps) for r in q])
                k = np.array([rmsnorm(r, t[p + "attn_k_norm.weight"], eps) for r in k])
            win, lbase, lscale = layers[l]
            q = np.array([rope(r, pos, n_rot, lbase, neox, lscale) for r in q])
            k = np.array([rope(r, pos, n_rot, lbase, neox, lscale) for r in k])
            keys[l].append(k)
            vals[l].append(v.reshape(n_kv, hd))
            K, V = np.array(keys[l]), np.array(vals[l])  # [pos, kv head, hd]
            first = max(0, pos + 1 - win) if win else 0
            att = np.zeros(qd)
            for hh in range(n_head):
                kh = hh // (n_head // n_kv)
                s = K[first:, kh] @ (q[hh] * q_scale)
                cap = g("attn_logit_softcapping", 0.0) if arch == "gemma2" else 0.0
                if cap:
                    s = np.tanh(s / cap) * cap
                w = np.exp(s - s.max())
                att[hh * hd:(hh + 1) * hd] = (w / w.sum()) @ V[first:, kh]
            o = t[p + "attn_output.weight"] @ att
            if gemma:
                o = rmsnorm(o, t[p + "post_attention_norm.weight"], eps)
            x = x + o
            h = rmsnorm(x, t[p + "ffn_norm.weight"], eps)
            if arch == "phi3":
                gu = t[p + "ffn_up.weight"] @ h
                half = gu.shape[0] // 2
                gate, up = gu[:half], gu[half:]
            else:
                gate, up = t[p + "ffn_gate.weight"] @ h, t[p + "ffn_up.weight"] @ h
            if gemma:
                act = 0.5 * gate * (1 + np.tanh(np.sqrt(2 / np.pi) * (gate + 0.044715 * gate ** 3)))
            else:
                act = gate / (1 + np.exp(-gate))
            f = t[p + "ffn_down.weight"] @ (act * up)
            if gemma:
                f = rmsnorm(f, t[p + "post_ffw_norm.weight"], eps)
            x = x + f
        states.append(rmsnorm(x, t["output_norm.weight"], eps))
        y = out_w @ states[-1]
        cap = g("final_logit_softcapping", 0.0) if gemma else 0.0
        if cap:
            y = np.tanh(y / cap) * cap
        logits.append(y)
    return np.array(logits), np.array(states)


def embed(states, pooling, normalize):
    pooled = {"mean": lambda h: h.mean(axis=0), "cls": lambda h: h[0],
              "last": lambda h: h[-1]}[pooling](states)
    norm = np.sqrt(np.sum(pooled * pooled))
    return pooled / norm if normalize and norm > 0 else pooled


args = sys.argv[1:]
pooling, normalize = None, True
if args[0] == "--embed":
    pooling, args = args[1], args[2:]
    if args[0] == "--raw":
        normalize, args = False, args[1:]
kv, tensors = read_gguf(args[0])
logits, states = forward(kv, tensors, [int(a) for a in args[2:]])
if pooling:
    embed(states, pooling, normalize).astype("<f8").tofile(args[1])
else:
    logits.astype("<f4").tofile(args[1])
