#!/usr/bin/env python3
"""PyTorch baseline for bench/train_cpu.py: the same GPT-2-style model
(learned positions, pre-LayerNorm blocks, tanh GELU, tied LM head), the same
batch, fp32, AdamW (betas 0.9/0.95, weight decay 0.1 on matrices) with
gradient clipping at 1.0, on the same token file. Prints one JSON line:
tokens/s (median step), peak RSS.

    torch_gpt.py --spec SPEC --data train.bin --steps N --threads T
                 [--ranks R]   (R > 1: DistributedDataParallel over gloo)
"""
import argparse
import json
import math
import os
import resource
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

    def attend(self, q, k, v):
        """Causal attention of [B, heads, T, head dim] tensors."""
        T = q.shape[2]
        s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[3])
        mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()
        return F.softmax(s.masked_fill(~mask, float("-inf")), dim=-1) @ v

    def forward(self, x):
        B, T, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        shape = lambda t: t.view(B, T, self.heads, d // self.heads).transpose(1, 2)
        y = self.attend(shape(q), shape(k), shape(v)).transpose(1, 2).reshape(B, T, d)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, c, block=Block):
        super().__init__()
        d = c["n_embd"]
        self.wte = nn.Embedding(c["vocab_size"], d)
        self.wpe = nn.Embedding(c.get("n_positions", 1024), d)
        self.h = nn.ModuleList(block(d, c["n_head"], c.get("n_inner") or 4 * d)
                               for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d)
        # GPT-2's initialization (as nanoGPT's): weights N(0, 0.02), biases
        # zero. PyTorch's default N(0, 1) embedding, which the tied head
        # shares, would start the loss near 100 instead of ln(vocab).
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx, targets):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.h:
            x = block(x)
        logits = self.ln_f(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--spec", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--ranks", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    with open(a.spec) as f:
        c = json.load(f)
    B, T = c["training"]["global_batch"], c["training"]["seq_len"]
    rank, world = 0, a.ranks
    if world > 1:
        import torch.distributed as dist
        rank = int(os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("RANK", 0)))
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29533")
        dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(1234)
    model = GPT(c)
    decay = [p_ for n, p_ in model.named_parameters() if p_.dim() >= 2]
    rest = [p_ for n, p_ in model.named_parameters() if p_.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": rest, "weight_decay": 0.0}],
                            lr=c["training"].get("lr", 6e-4), betas=(0.9, 0.95))
    train = model
    if world > 1:
        train = nn.parallel.DistributedDataParallel(model)
    with open(a.data, "rb") as f:
        hdr = np.frombuffer(f.read(1024), dtype="<i4")
        toks = np.frombuffer(f.read(), dtype="<u2" if hdr[1] == 1 else "<u4")[:hdr[2]]
    local = B // world
    windows = len(toks) - T - 1
    times = []
    for step in range(a.steps):
        starts = [((step * B + rank * local + r) * T) % windows for r in range(local)]
        x = torch.from_numpy(np.stack([toks[s:s + T] for s in starts]).astype(np.int64))
        y = torch.from_numpy(np.stack([toks[s + 1:s + T + 1] for s in starts]).astype(np.int64))
        t0 = time.perf_counter()
        loss = train(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    steady = times[min(5, len(times) - 1):]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if rank == 0:
        print(json.dumps({"tokens_per_second": B * T / statistics.median(steady),
                          "step_seconds": statistics.median(steady),
                          "peak_rss_mib": rss, "loss": float(loss),
                          "threads": a.threads, "ranks": world}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
