#!/usr/bin/env python3
"""A checkpoint is a Hugging Face model: names, shapes and numbers.

    hf_reference.py --spec SPEC --checkpoint DIR --data train.bin
                    --loss LOSS [--tolerance 1e-5]

Reads DIR/model.safetensors with a reader written from the format's
definition (8-byte little-endian header length, JSON header, raw data),
requires exactly the tensor names and shapes Hugging Face's GPT2LMHeadModel
or LlamaForCausalLM has for the spec's config, then runs that architecture
as Hugging Face defines it (GPT-2: Conv1D weights [in, out], fused c_attn
split as [q | k | v], tanh GELU, tied head; Llama: separate q/k/v/o, grouped
KV heads, rotate-half RoPE, RMSNorm, SwiGLU) in float64 numpy on the first
training batch, and compares its mean cross-entropy with LOSS, the loss the
axonn binary reported for that batch with those weights.
"""
import argparse
import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    tensors, end = {}, 0
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, f_ = e["data_offsets"]
        assert f_ - b == 4 * int(np.prod(e["shape"])), name
        end = max(end, f_)
        tensors[name] = np.frombuffer(data[b:f_], dtype="<f4").reshape(
            e["shape"]).astype(np.float64)
    assert end == len(data), "data section has %d bytes, tensors end at %d" % (
        len(data), end)
    return tensors


def expected_gpt2(c):
    d, v, p, L = c["n_embd"], c["vocab_size"], c.get("n_positions", 1024), c["n_layer"]
    ff = c.get("n_inner") or 4 * d
    names = {"transformer.wte.weight": [v, d], "transformer.wpe.weight": [p, d],
             "transformer.ln_f.weight": [d], "transformer.ln_f.bias": [d]}
    for i in range(L):
        h = "transformer.h.%d." % i
        names.update({h + "ln_1.weight": [d], h + "ln_1.bias": [d],
                      h + "attn.c_attn.weight": [d, 3 * d], h + "attn.c_attn.bias": [3 * d],
                      h + "attn.c_proj.weight": [d, d], h + "attn.c_proj.bias": [d],
                      h + "ln_2.weight": [d], h + "ln_2.bias": [d],
                      h + "mlp.c_fc.weight": [d, ff], h + "mlp.c_fc.bias": [ff],
                      h + "mlp.c_proj.weight": [ff, d], h + "mlp.c_proj.bias": [d]})
    return names


def expected_llama(c):
    d, v, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    H = c["num_attention_heads"]
    KV = c.get("num_key_value_heads", H)
    hd = c.get("head_dim", d // H)
    ff = c["intermediate_size"]
    names = {"model.embed_tokens.weight": [v, d], "model.norm.weight": [d]}
    if not c.get("tie_word_embeddings", False):
        names["lm_head.weight"] = [v, d]
    for i in range(L):
        h = "model.layers.%d." % i
        names.update({h + "input_layernorm.weight": [d],
                      h + "self_attn.q_proj.weight": [H * hd, d],
                      h + "self_attn.k_proj.weight": [KV * hd, d],
                      h + "self_attn.v_proj.weight": [KV * hd, d],
                      h + "self_attn.o_proj.weight": [d, H * hd],
                      h + "post_attention_layernorm.weight": [d],
                      h + "mlp.gate_proj.weight": [ff, d],
                      h + "mlp.up_proj.weight": [ff, d],
                      h + "mlp.down_proj.weight": [d, ff]})
    return names


def softmax(x):
    x = x - x.max(-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(-1, keepdims=True)


def attention(q, k, v):
    # q [H, T, hd], k/v [KV, T, hd]; query head j uses kv head j // (H/KV).
    H, T, hd = q.shape
    rep = H // k.shape[0]
    k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)
    s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
    s = s + np.triu(np.full((T, T), -np.inf), 1)
    return softmax(s) @ v


def cross_entropy(logits, targets):
    m = logits.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[..., 0]
    return float(np.mean(lse - np.take_along_axis(logits, targets[..., None], -1)[..., 0]))


def gpt2_loss(c, w, tokens, targets):
    H, L = c["n_head"], c["n_layer"]
    eps = c.get("layer_norm_epsilon", 1e-5)

    def ln(x, p):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[p + ".weight"] + w[p + ".bias"]

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    losses = []
    for tok, tgt in zip(tokens, targets):
        T = len(tok)
        x = w["transformer.wte.weight"][tok] + w["transformer.wpe.weight"][:T]
        for i in range(L):
            h = "transformer.h.%d." % i
            a = ln(x, h + "ln_1") @ w[h + "attn.c_attn.weight"] + w[h + "attn.c_attn.bias"]
            q, k, v = np.split(a, 3, axis=-1)
            heads = lambda t: t.reshape(T, H, -1).transpose(1, 0, 2)
            o = attention(heads(q), heads(k), heads(v)).transpose(1, 0, 2).reshape(T, -1)
            x = x + o @ w[h + "attn.c_proj.weight"] + w[h + "attn.c_proj.bias"]
            m = gelu(ln(x, h + "ln_2") @ w[h + "mlp.c_fc.weight"] + w[h + "mlp.c_fc.bias"])
            x = x + m @ w[h + "mlp.c_proj.weight"] + w[h + "mlp.c_proj.bias"]
        logits = ln(x, "transformer.ln_f") @ w["transformer.wte.weight"].T
        losses.append(cross_entropy(logits, tgt))
    return float(np.mean(losses))


def llama_loss(c, w, tokens, targets):
    H, L = c["num_attention_heads"], c["num_hidden_layers"]
    KV = c.get("num_key_value_heads", H)
    eps = c.get("rms_norm_eps", 1e-6)
    theta = c.get("rope_theta", 10000.0)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])

    def rms(x, p):
        return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w[p]

    def rope(t):  # [heads, T, hd], Hugging Face's rotate_half
        hd, T = t.shape[-1], t.shape[1]
        inv = theta ** (-np.arange(0, hd, 2) / hd)
        ang = np.arange(T)[:, None] * inv[None, :]
        cos = np.concatenate([np.cos(ang)] * 2, -1)
        sin = np.concatenate([np.sin(ang)] * 2, -1)
        rot = np.concatenate([-t[..., hd // 2:], t[..., :hd // 2]], -1)
        return t * cos + rot * sin

    losses = []
    for tok, tgt in zip(tokens, targets):
        T = len(tok)
        x = w["model.embed_tokens.weight"][tok]
        for i in range(L):
            h = "model.layers.%d." % i
            n = rms(x, h + "input_layernorm.weight")
            q = (n @ w[h + "self_attn.q_proj.weight"].T).reshape(T, H, -1).transpose(1, 0, 2)
            k = (n @ w[h + "self_attn.k_proj.weight"].T).reshape(T, KV, -1).transpose(1, 0, 2)
            v = (n @ w[h + "self_attn.v_proj.weight"].T).reshape(T, KV, -1).transpose(1, 0, 2)
            o = attention(rope(q), rope(k), v).transpose(1, 0, 2).reshape(T, -1)
            x = x + o @ w[h + "self_attn.o_proj.weight"].T
            n = rms(x, h + "post_attention_layernorm.weight")
            g = n @ w[h + "mlp.gate_proj.weight"].T
            u = n @ w[h + "mlp.up_proj.weight"].T
            x = x + (g / (1 + np.exp(-g)) * u) @ w[h + "mlp.down_proj.weight"].T
        logits = rms(x, "model.norm.weight") @ head.T
        losses.append(cross_entropy(logits, tgt))
    return float(np.mean(losses))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--spec", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--loss", type=float, required=True)
    p.add_argument("--tolerance", type=float, default=1e-5)
    a = p.parse_args()
    with open(a.spec) as f:
        c = json.load(f)
    w = read_safetensors(a.checkpoint + "/model.safetensors")
    gpt2 = c["model_type"] == "gpt2"
    want = expected_gpt2(c) if gpt2 else expected_llama(c)
    got = {n: list(t.shape) for n, t in w.items()}
    if got != want:
        for n in sorted(set(got) | set(want)):
            if got.get(n) != want.get(n):
                print("tensor %s: file %s, Hugging Face %s" % (n, got.get(n), want.get(n)))
        return 1
    print("%d tensors with Hugging Face %s names and shapes"
          % (len(w), "GPT2LMHeadModel" if gpt2 else "LlamaForCausalLM"))

    # The first training batch, as the binary reads it.
    with open(a.data, "rb") as f:
        hdr = np.frombuffer(f.read(1024), dtype="<i4")
        toks = np.frombuffer(f.read(), dtype="<u2" if hdr[1] == 1 else "<u4")[:hdr[2]]
    B, T = c["training"]["global_batch"], c["training"]["seq_len"]
    windows = len(toks) - T - 1
    starts = [(j * T) % windows for j in range(B)]
    tokens = np.array([toks[s:s + T] for s in starts], dtype=np.int64)
    targets = np.array([toks[s + 1:s + T + 1] for s in starts], dtype=np.int64)
    ref = (gpt2_loss if gpt2 else llama_loss)(c, w, tokens, targets)
    diff = abs(ref - a.loss) / abs(ref)
    ok = diff <= a.tolerance
    print("loss of the first batch: reference %.7f, axonn %.7f, relative "
          "difference %.1e (tolerance %g): %s"
          % (ref, a.loss, diff, a.tolerance, "ok" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
