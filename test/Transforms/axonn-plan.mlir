// The cost model's collectives on hand-checkable grids, and the annotations
// --axonn-plan leaves. The machine (Inputs/test-machine.json) has 4 GPUs per
// node, 100 GB/s inside a node, 10 GB/s per NIC (2 NICs per node) between
// nodes, no latency, and every GEMM at peak, so every number below follows
// from the formulas of ../shared/design/algorithm.md by hand.
//
// The model: one layer, hidden 32, 4 heads, MLP 128, vocabulary 64, batch
// 8 x 16 = 128 tokens, f32 (4-byte) activations and weights. QKV is a normal
// linear with W [n, k] = [96, 32]; attention-out (proj) a transposed one with
// W [32, 32] (Inputs/one-layer.mlir). m = 128 / (Gz * Gdata) tokens per
// shard.

// 2x1x1x1: m = 128. Only x communicates: QKV's forward all-reduce of
// m * n / Gy = 128 * 96 elements over x, proj's backward all-reduce of
// m * k / Gy = 128 * 32 over x (transposed: x and y swap). Ring all-reduce
// inside a node: 2 (p-1)/p * bytes / 100 GB/s = 49152 B / 1e11 = 4.915e-7 s.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=2x1x1x1 collectives=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=X2 --implicit-check-not=h.0.qkv --implicit-check-not=h.0.proj
// X2: forward all-reduce [x] 12288 4 2 4.915E-07 h.0.qkv output
// X2: backward all-reduce [x] 4096 4 2 1.638E-07 h.0.proj input gradient

// 1x2x1x1: only y: proj's forward all-reduce m * n / Gx = 128 * 32, QKV's
// backward all-reduce m * k / Gx = 128 * 32.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x2x1x1 collectives=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=Y2 --implicit-check-not=h.0.qkv --implicit-check-not=h.0.proj
// Y2: forward all-reduce [y] 4096 4 2 1.638E-07 h.0.proj output
// Y2: backward all-reduce [y] 4096 4 2 1.638E-07 h.0.qkv input gradient

// 1x1x2x1: m = 64. Only z: the weight all-gathered in forward and again in
// backward (n * k / (Gx * Gy) elements), dW reduce-scattered (same size).
// (p-1)/p * bytes / 100 GB/s = 0.5 * 12288 B / 1e11 = 6.144e-8 s for QKV.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x1x2x1 collectives=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=Z2 --implicit-check-not=h.0.qkv --implicit-check-not=h.0.proj
// Z2: forward all-gather [z] 3072 4 2 6.144E-08 h.0.qkv
// Z2: forward all-gather [z] 1024 4 2 2.048E-08 h.0.proj
// Z2: backward all-gather [z] 1024 4 2 2.048E-08 h.0.proj
// Z2: backward all-gather [z] 3072 4 2 6.144E-08 h.0.qkv
// Z2: backward reduce-scatter [z] 1024 4 2 2.048E-08 h.0.proj
// Z2: backward reduce-scatter [z] 3072 4 2 6.144E-08 h.0.qkv

// 1x1x1x2: only data: the dW shard, n * k / (Gx * Gy * Gz), all-reduced.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x1x1x2 collectives=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=D2 --implicit-check-not=h.0.qkv --implicit-check-not=h.0.proj
// D2: backward all-reduce [data] 1024 4 2 4.096E-08 h.0.proj
// D2: backward all-reduce [data] 3072 4 2 1.229E-07 h.0.qkv

// 2x2x2x2 on 16 GPUs (4 nodes): m = 128 / 4 = 32. QKV: W is [96/Gy, 32/Gx]
// = [48, 16] = 768 elements per (x, y) block. x and y groups stay inside a
// node; a z group (stride 4) crosses nodes, and 4 z rings leave each node
// through 2 NICs: 10 GB/s * 2/4 = 5 GB/s, so gathering QKV takes
// 0.5 * 3072 B / 5e9 = 3.072e-7 s. data groups (stride 8) also cross.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2 collectives=true report=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=G16
// G16: forced grid: grid 2x2x2x2 (recompute none)
// Memory per GPU by hand: stored elements = embedding 32 x 16 / 2 = 256,
// norms 3 x 32 / 2 = 48, QKV 768 / 2 = 384, proj 256 / 2 = 128, up
// 1024 / 2 = 512, down 1024 / 2 = 512, head 512 / 2 = 256: 2096. Weights
// 2096 * 4 B; optimizer (fp32: Adam m and v) 2096 * 8; gradients 2096 * 4;
// gathered: two 1024-element weight buffers (prefetch), 8192 B, and the
// whole fp32 dW buffers whose reduce-scatter may be in flight: a bucket's
// worth (25 MiB), at most all of them (gathered sizes 512 + 768 + 256 +
// 1024 + 1024 + 512 = 4096 elements), 16384 B; activations saved for
// backward (m = 32): linear inputs 32 * (16 + 16 + 16 + 64 + 16), norm
// inputs 32 * 16 * 3, GELU input 32 * 64, attention q, k, v 32 * 8 * 6
// plus log-sum-exp 32 * 2, the logits and their gradient 2 * 32 * 32:
// 11328 elements.
// G16: memory bytes: weights 8384, optimizer 16768, gradients 8384, gathered weights 24576, activations 45312, total 103424
// G16: forward all-gather [z] 768 4 2 3.072E-07 h.0.qkv
// G16: forward all-gather [z] 256 4 2 1.024E-07 h.0.proj
// G16: forward all-reduce [x] 1536 4 2 6.144E-08 h.0.qkv output
// G16: forward all-reduce [y] 512 4 2 2.048E-08 h.0.proj output
// In backward, QKV's weights are gathered (prefetched) as soon as proj's
// backward starts.
// G16: backward all-gather [z] 256 4 2 1.024E-07 h.0.proj
// G16: backward all-gather [z] 768 4 2 3.072E-07 h.0.qkv
// G16: backward all-reduce [x] 512 4 2 2.048E-08 h.0.proj input gradient
// G16: backward reduce-scatter [z] 256 4 2 1.024E-07 h.0.proj
// G16: backward all-reduce [data] 128 4 2 1.024E-07 h.0.proj
// G16: backward all-reduce [y] 512 4 2 2.048E-08 h.0.qkv input gradient
// G16: backward reduce-scatter [z] 768 4 2 3.072E-07 h.0.qkv
// G16: backward all-reduce [data] 384 4 2 3.072E-07 h.0.qkv

// Without a forced grid the planner searches all 35 factorizations of 16.
// The global batch (8) rules out Gz * Gdata = 16; the rest fit.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 report=true top=3" 2>&1 | FileCheck %s --check-prefix=SEARCH
// SEARCH: axonn plan: 16 GPUs
// SEARCH-NEXT: 35 grids of 16 GPUs: 26 feasible, 9 break a divisibility rule, 0 do not fit in memory
// SEARCH: rank grid x*y*z*data recmp step us compute exp x exp y exp z exp data overlap mem/GPU TFLOP/s MFU
// SEARCH-NEXT: 1 4x2x1x2 none
// SEARCH-NEXT: 2 4x2x2x1 none
// SEARCH-NEXT: 3 2x4x1x2 none
// SEARCH-NEXT: chosen: grid 4x2x1x2 (recompute none)
// SEARCH: why: the fastest predicted step of 26 feasible grids; the next, 4x2x2x1, is {{[0-9.]+}}% slower
// The decision is recorded on the module; nothing else changes.
// SEARCH: #cluster = #axonn.cluster<name = "test-machine", gpus = 16, gpus_per_node = 4, nics_per_node = 2,
// The cost model's memory prediction goes with it, for
// --axonn-print-memory-plan to compare.
// SEARCH: module attributes {axonn.cluster = #cluster, axonn.grid = #axonn.grid<x = 4, y = 2, z = 1, data = 2>, axonn.predicted_memory = {activations = {{[0-9]+}} : i64, gathered = {{[0-9]+}} : i64, gradients = {{[0-9]+}} : i64, optimizer = {{[0-9]+}} : i64, weights = {{[0-9]+}} : i64}, axonn.recompute = #axonn.recompute<none>, axonn.training = #training}
// SEARCH: axonn.lm_head_loss

// A machine too small for the plan without recompute gets full recompute,
// which keeps each layer's input and rebuilds one layer at a time in
// backward: tiny-gpt (2 layers) on 2x2x1x1 needs 2.0 MiB per GPU without
// and 1,597,440 bytes with; this machine has 1.9 MB (90% usable).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/small-memory-machine.json gpus=4 grid=2x2x1x1 report=true" 2>&1 | FileCheck %s --check-prefix=RECOMPUTE
// RECOMPUTE: forced grid: grid 2x2x1x1 (recompute full)
// RECOMPUTE: memory bytes: weights 126464, optimizer 252928, gradients 126464, gathered weights 172032, activations 919552, total 1597440
// RECOMPUTE: module attributes {{.*}}axonn.grid = #axonn.grid<x = 2, y = 2, z = 1, data = 1>, axonn.predicted_memory = {{.*}}, axonn.recompute = #axonn.recompute<full>
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | %expect-exit 1 axonn-opt --axonn-plan="cluster=%S/Inputs/small-memory-machine.json gpus=4 grid=2x2x1x1 recompute=none" 2>&1 | FileCheck %s --check-prefix=NO-RECOMPUTE
// NO-RECOMPUTE: error: grid 2x2x1x1 cannot run: needs 2.0 MiB per GPU (weights 123.5 KiB, optimizer 247.0 KiB, gradients 123.5 KiB, gathered weights 168.0 KiB, activations 1.3 MiB) but 1.6 MiB are usable; no grid of 4 GPUs can

// A grid already on the module (a spec's "parallel" section) is costed
// like a forced one.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16" | axonn-opt --axonn-plan="report=true" -o /dev/null 2>&1 | FileCheck %s --check-prefix=KEEP
// KEEP: forced grid: grid 4x2x1x2 (recompute none)
// KEEP: rank 1 of 26 feasible grids

// A spec planned on a built-in machine: GPT-2 tiny on 8 Perlmutter GPUs.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=perlmutter gpus=8" | FileCheck %s --check-prefix=BUILTIN
// BUILTIN: #cluster = #axonn.cluster<name = "perlmutter", gpus = 8, gpus_per_node = 4,
// BUILTIN: axonn.grid = #axonn.grid<x = {{[0-9]+}}, y = {{[0-9]+}}, z = {{[0-9]+}}, data = {{[0-9]+}}>

// Planning after the training step is built reads the forward function
// (the step holds the same model).
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16" | FileCheck %s --check-prefix=AFTER-STEP
// AFTER-STEP: axonn.grid = #axonn.grid<x = 4, y = 2, z = 1, data = 2>
// AFTER-STEP: func.func @train_step
