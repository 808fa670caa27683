#!/usr/bin/env python3
"""PyTorch on one GPU, the baseline of bench/gpu.sh: the GPT-2 model of a
spec (learned positions, pre-LayerNorm blocks, tanh GELU, tied LM head),
bf16 autocast with fp32 master weights, scaled_dot_product_attention,
torch.compile, fused AdamW (betas 0.9/0.95, weight decay 0.1 on matrices),
clipping at 1.0, the spec's batch, on the same token file. Prints one JSON
line: tokens/s (median step), MFU by llm.c's 6N + 6LdT and by Megatron's
formula, peak GPU memory.

    torch_gpt_gpu.py --spec SPEC --data train.bin --steps N --peak-tflops P
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, ff)
        self.mlp_proj = nn.Linear(ff, d)
        self.heads = heads

    def forward(self, x):
        B, T, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        shape = lambda t: t.view(B, T, self.heads, d // self.heads).transpose(1, 2)
        y = F.scaled_dot_product_attention(shape(q), shape(k), shape(v), is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, d))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["n_embd"]
        self.wte = nn.Embedding(c["vocab_size"], d)
        self.wpe = nn.Embedding(c.get("n_positions", 1024), d)
        self.h = nn.ModuleList(Block(d, c["n_head"], c.get("n_inner") or 4 * d)
                               for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d)

    def forward(self, idx, targets):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--spec", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--peak-tflops", type=float, required=True)
    a = p.parse_args()
    c = json.load(open(a.spec))
    B, T = c["training"]["global_batch"], c["training"]["seq_len"]
    L, d, V = c["n_layer"], c["n_embd"], c["vocab_size"]
    torch.manual_seed(1234)
    torch.backends.cuda.matmul.allow_tf32 = True
    model = GPT(c).cuda()
    n = sum(p_.numel() for p_ in model.parameters())
    decay = [p_ for p_ in model.parameters() if p_.dim() >= 2]
    rest = [p_ for p_ in model.parameters() if p_.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=6e-4, betas=(0.9, 0.95), fused=True)
    train = torch.compile(model)
    with open(a.data, "rb") as f:
        hdr = np.frombuffer(f.read(1024), dtype="<i4")
        toks = np.frombuffer(f.read(), dtype="<u2" if hdr[1] == 1 else "<u4")[:hdr[2]]
    windows = len(toks) - T - 1
    times = []
    for step in range(a.steps):
        starts = [((step * B + r) * T) % windows for r in range(B)]
        x = torch.from_numpy(np.stack([toks[s:s + T] for s in starts]).astype(np.int64)).cuda()
        y = torch.from_numpy(np.stack([toks[s + 1:s + T + 1] for s in starts]).astype(np.int64)).cuda()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = train(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times[min(5, len(times) - 1):])
    tps = B * T / step_s
    llmc = 6 * n + 6 * L * d * T
    # Megatron (Narayanan et al. 2021), without recompute: 72 B T L d^2 per
    # step x (1 + T/(6d) + V/(12 L d)); per token without the B T.
    megatron = 72 * L * d * d * (1 + T / (6 * d) + V / (12 * L * d))
    peak = a.peak_tflops * 1e12
    print(json.dumps({"tokens_per_second": tps, "step_seconds": step_s,
                      "mfu_llmc": tps * llmc / peak,
                      "mfu_megatron": tps * megatron / peak,
                      "params": n,
                      "peak_memory_mib": torch.cuda.max_memory_allocated() / 2**20,
                      "loss": float(loss)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
