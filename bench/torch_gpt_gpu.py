#!/usr/bin/env python3
"""PyTorch on one GPU, the baseline of bench/gpu.sh: bench/torch_gpt.py's
GPT-2 model of a spec (learned positions, pre-LayerNorm blocks, tanh GELU,
tied LM head) with scaled_dot_product_attention for its attention, bf16
autocast with fp32 master weights, torch.compile, fused AdamW (betas
0.9/0.95, weight decay 0.1 on matrices), clipping at 1.0, the spec's
batch, on the same token file. Prints one JSON line: tokens/s (median
step), MFU by llm.c's 6N + 6LdT and by Megatron's formula, peak GPU memory.

    torch_gpt_gpu.py --spec SPEC --data train.bin --steps N --peak-tflops P
"""
import argparse
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from torch_gpt import GPT, Block


class SdpaBlock(Block):
    """torch_gpt's block with PyTorch 2's fused attention."""

    def attend(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


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
    model = GPT(c, block=SdpaBlock).cuda()
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
                      "loss": float(loss.detach())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
