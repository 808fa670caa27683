// --axonn-insert-collectives lowers sharded IR to the per-rank program:
// local shapes, every reshard as its collectives, norms and the loss split
// into local sums, an all-reduce and a local finish.
//
// 1. The collectives of a 2-layer GPT (tiny-gpt: hidden 64, 4 heads, vocab
//    256, batch 8 x 32 tokens) on grid 2x2x2x2, layer by layer, against the
//    table of ../shared/design/algorithm.md §2. Tokens per shard
//    m = 8*32 / (Gz*Gdata) = 64. For a normal linear W[n, k] (QKV: n = 192,
//    MLP-up: n = 256, k = 64) the table gives, per rank:
//      forward  all-gather W over z      n*k/(Gx*Gy)     QKV 3072, up 4096
//      forward  all-reduce Y over x      m*n/Gy          QKV 6144, up 8192
//      backward all-gather W over z      as forward
//      backward all-reduce dX over y     m*k/Gx          2048
//      backward reduce-scatter dW over z n*k/(Gx*Gy)     as the gather
//      step     all-reduce dW over data  n*k/(Gx*Gy*Gz)  QKV 1536, up 2048
//    and a transposed one (attention-out W[64, 64], MLP-down W[64, 256])
//    swaps x and y: forward all-reduce over y of m*n/Gx = 2048, backward
//    all-reduce over x of m*k/Gy (attention-out 2048, MLP-down 8192).
//    Norms reduce 2 statistics per token over x (2*m = 128; 4 per token,
//    256, in backward); biases and norm parameters reduce their gradients
//    over (z, data).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-print-collectives -o /dev/null | FileCheck %s --check-prefix=TABLE
// TABLE-LABEL: collectives of @train_step on grid 2x2x2x2 (elements per rank)
// Layer 1, forward.
// TABLE:      forward   transformer.h.1.ln_1.weight              all_reduce     [x]               128  blocking
// TABLE-NEXT: forward   transformer.h.1.attn.c_attn.weight       all_gather     [z]              3072  blocking
// TABLE-NEXT: forward   transformer.h.1.attn.c_attn.weight       all_reduce     [x]              6144  blocking
// TABLE-NEXT: forward   transformer.h.1.attn.c_proj.weight       all_gather     [z]              1024  blocking
// TABLE-NEXT: forward   transformer.h.1.attn.c_proj.weight       all_reduce     [y]              2048  blocking
// TABLE-NEXT: forward   transformer.h.1.ln_2.weight              all_reduce     [x]               128  blocking
// TABLE-NEXT: forward   transformer.h.1.mlp.c_fc.weight          all_gather     [z]              4096  blocking
// TABLE-NEXT: forward   transformer.h.1.mlp.c_fc.weight          all_reduce     [x]              8192  blocking
// TABLE-NEXT: forward   transformer.h.1.mlp.c_proj.weight        all_gather     [z]              4096  blocking
// TABLE-NEXT: forward   transformer.h.1.mlp.c_proj.weight        all_reduce     [y]              2048  blocking
// The vocabulary-parallel loss: the tied table gathered, the logits reduced
// over x (m * 256/Gy = 8192), the per-token max over y (m = 64), the softmax
// sum and target logit over y (2m = 128), the mean over (z, data).
// TABLE-NEXT: forward   transformer.ln_f.weight                  all_reduce     [x]               128  blocking
// TABLE-NEXT: forward   transformer.wte.weight                   all_gather     [z]              4096  blocking
// TABLE-NEXT: forward   transformer.wte.weight                   all_reduce     [x]              8192  blocking
// TABLE-NEXT: forward   loss                                     all_reduce     [y]                64  blocking
// TABLE-NEXT: forward   loss                                     all_reduce     [y]               128  blocking
// TABLE-NEXT: forward   loss                                     all_reduce     [z, data]           1  blocking
// Backward of the LM head: the hidden-state gradient is partial over the
// vocabulary axis y.
// TABLE-NEXT: forward   transformer.wte.weight                   all_gather     [z]              4096  blocking
// TABLE-NEXT: backward  transformer.wte.weight                   all_reduce     [y]              2048  blocking
// TABLE-NEXT: backward  transformer.ln_f.weight                  all_reduce     [x]               256  blocking
// TABLE-NEXT: backward  transformer.ln_f.bias                    all_reduce     [z, data]          32  blocking
// TABLE-NEXT: backward  transformer.ln_f.weight                  all_reduce     [z, data]          32  blocking
// Layer 1, backward: MLP-down (transposed), MLP-up (normal), attention-out
// (transposed), QKV (normal).
// TABLE-NEXT: backward  transformer.h.1.mlp.c_proj.weight        all_gather     [z]              4096  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_proj.weight        all_reduce     [x]              8192  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_proj.weight        reduce_scatter [z]              4096  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_proj.weight        all_reduce     [data]           2048  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_proj.bias          all_reduce     [z, data]          32  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_fc.weight          all_gather     [z]              4096  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_fc.weight          all_reduce     [y]              2048  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_fc.weight          reduce_scatter [z]              4096  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_fc.weight          all_reduce     [data]           2048  blocking
// TABLE-NEXT: backward  transformer.h.1.mlp.c_fc.bias            all_reduce     [z, data]         128  blocking
// TABLE-NEXT: backward  transformer.h.1.ln_2.weight              all_reduce     [x]               256  blocking
// TABLE-NEXT: backward  transformer.h.1.ln_2.bias                all_reduce     [z, data]          32  blocking
// TABLE-NEXT: backward  transformer.h.1.ln_2.weight              all_reduce     [z, data]          32  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_proj.weight       all_gather     [z]              1024  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_proj.weight       all_reduce     [x]              2048  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_proj.weight       reduce_scatter [z]              1024  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_proj.weight       all_reduce     [data]            512  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_proj.bias         all_reduce     [z, data]          32  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_attn.weight       all_gather     [z]              3072  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_attn.weight       all_reduce     [y]              2048  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_attn.weight       reduce_scatter [z]              3072  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_attn.weight       all_reduce     [data]           1536  blocking
// TABLE-NEXT: backward  transformer.h.1.attn.c_attn.bias         all_reduce     [z, data]          96  blocking
// TABLE-NEXT: backward  transformer.h.1.ln_1.weight              all_reduce     [x]               256  blocking
// TABLE-NEXT: backward  transformer.h.1.ln_1.bias                all_reduce     [z, data]          32  blocking
// TABLE-NEXT: backward  transformer.h.1.ln_1.weight              all_reduce     [z, data]          32  blocking
// Layer 0 repeats layer 1; then the embedding tables, and one all-reduce of
// the squared gradient norm over the whole grid.
// TABLE:      backward  transformer.h.0.attn.c_attn.weight       all_reduce     [data]           1536  blocking
// TABLE:      backward  transformer.wte.weight                   reduce_scatter [z]              4096  blocking
// TABLE-NEXT: backward  transformer.wte.weight                   all_reduce     [data]           2048  blocking
// TABLE-NEXT: backward  transformer.wpe.weight                   reduce_scatter [z]              2048  blocking
// TABLE-NEXT: backward  transformer.wpe.weight                   all_reduce     [data]           1024  blocking
// TABLE-NEXT: optimizer gradient norm                            all_reduce     [x, y, z, data]          1  blocking
// TABLE-NEXT: forward: 30 collectives, 86849 elements
// TABLE-NEXT: backward: 60 collectives, 103552 elements
// TABLE-NEXT: optimizer: 1 collectives, 1 elements

// 2. What each rank computes is the piece of what the sharded program
//    computes: every rank of the per-rank step runs (in lockstep, fp64) on
//    its pieces of the same random arguments, and its results are compared
//    with the pieces of the sharded step's results (tolerance 1e-9 relative
//    to each element, floored at 1e-6 of the result's largest element).
//    GPT-2 (layer norms, biases, learned positions, tied embedding), Llama
//    (RMS norms, grouped KV heads, SwiGLU, rotary), a padded vocabulary, and
//    the three recompute policies.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=4x2x1x1" --axonn-build-training-step=recompute=full --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step=recompute=selective --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=1x2x1x4" --axonn-build-training-step --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=1x2x4x1" --axonn-build-training-step --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD
// The Goldfish loss: each rank masks its own sequences, the kept count is
// summed over the token axes (z, data).
// RUN: axonn-translate --import-model-spec %S/../Runtime/Inputs/tiny-gpt-goldfish.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %S/../Runtime/Inputs/tiny-llama-goldfish.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=1x2x1x4" --axonn-build-training-step=recompute=full --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %S/../Runtime/Inputs/tiny-gpt-goldfish.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=4 grid=1x1x2x2" --axonn-build-training-step --axonn-shard --axonn-insert-collectives | FileCheck %s --check-prefix=GOLDFISH
// GOLDFISH-LABEL: func.func @train_step(
// GOLDFISH: %[[KEEP:.*]], %[[N:.*]] = axonn.goldfish_mask %arg1 {goldfish = #axonn.goldfish<strategy = hash, k = 4, h = 13>} : tensor<2x32xi32> -> tensor<2x32xf32>, tensor<f32>
// GOLDFISH-NEXT: %[[COUNT:.*]] = axonn.all_reduce sum %[[N]] over [z, data] : tensor<f32>
// GOLDFISH-NEXT: axonn.cross_entropy %{{.*}}, %{{.*}} masked(%[[KEEP]], %[[COUNT]] : tensor<2x32xf32>, tensor<f32>) tokens 256
// GOLDFISH: axonn.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}}, %arg1 masked(%[[KEEP]], %[[COUNT]] : tensor<2x32xf32>, tensor<f32>) tokens 256
// SPMD: loss [[LOSS:[0-9.]+]] (sharded), [[LOSS]] (rank 0 of {{[0-9]+}})
// SPMD: results on {{[0-9]+}} ranks, max relative error {{.*}} (tolerance 1.0E-09): ok

// 3. The per-rank IR of one layer.
// RUN: axonn-opt %s --axonn-build-training-step --axonn-shard --axonn-insert-collectives | FileCheck %s
// RUN: axonn-opt %s --axonn-build-training-step --axonn-shard --axonn-insert-collectives | axonn-opt | FileCheck %s
// Local shapes; the signature keeps each argument's global layout.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[TOK:arg0]]: tensor<2x16xi32> {axonn.input = "tokens", axonn.layout = #axonn.layout<{{\[\[}}z, data], []]>}
// CHECK-SAME: %[[TGT:arg1]]: tensor<2x16xi32>
// CHECK-SAME: %[[WTE:arg2]]: tensor<16x16xf32> {axonn.layout = #axonn.layout<{{\[\[}}y], [x]], storage = [z]>, axonn.param = "wte"}
// CHECK-SAME: %[[N1:arg3]]: tensor<16xf32> {axonn.layout = #axonn.layout<{{\[\[}}x]]>, axonn.param = "h.0.norm_1"}
// CHECK-SAME: -> (tensor<f32> {axonn.layout = #axonn.layout<[]>, axonn.output = "loss"},
// The table is gathered over z; each rank looks up its vocabulary slice.
// CHECK:      %[[T:.*]] = axonn.all_gather %[[WTE]] over [z] dim 0 : tensor<16x16xf32> -> tensor<32x16xf32>
// CHECK-NEXT: %[[E:.*]] = axonn.embedding %[[TOK]], %[[T]] {vocab_axes = #axonn.axes<y>} : (tensor<2x16xi32>, tensor<32x16xf32>) -> tensor<2x16x16xf32>
// CHECK-NEXT: %[[X:.*]] = axonn.all_reduce sum %[[E]] over [y] : tensor<2x16x16xf32>
// An RMS norm over features split over x: local sums of squares, reduced.
// CHECK-NEXT: %[[S:.*]] = axonn.norm_stats %[[X]] rms : tensor<2x16x16xf32> -> tensor<2x16x1xf32>
// CHECK-NEXT: %[[SR:.*]] = axonn.all_reduce sum %[[S]] over [x] : tensor<2x16x1xf32>
// CHECK-NEXT: %[[H:.*]] = axonn.rms_norm %[[X]], %[[N1]] eps 1.0e-05 stats %[[SR]] width 32 : tensor<2x16x16xf32>, tensor<16xf32>, tensor<2x16x1xf32>
// CHECK-NEXT: %[[W:.*]] = axonn.all_gather %{{.*}} over [z] dim 0 : tensor<16x16xf32> -> tensor<32x16xf32>
// CHECK-NEXT: %[[Y:.*]] = axonn.linear %[[H]], %[[W]] : (tensor<2x16x16xf32>, tensor<32x16xf32>) -> tensor<2x16x32xf32>
// CHECK-NEXT: %[[YR:.*]] = axonn.all_reduce sum %[[Y]] over [x] : tensor<2x16x32xf32>
// Heads over y: 2 of 4 query heads and 1 of 2 KV heads per rank.
// CHECK-NEXT: axonn.attention %[[YR]] heads 2 kv_heads 1 causal : tensor<2x16x32xf32> -> tensor<2x16x16xf32>
// The loss: logits reduced over x, max over y, sums over y, mean over (z, data).
// CHECK:      %[[L:.*]] = axonn.linear %{{.*}}, %{{.*}} : (tensor<2x16x16xf32>, tensor<32x16xf32>) -> tensor<2x16x32xf32>
// CHECK-NEXT: %[[LR:.*]] = axonn.all_reduce sum %[[L]] over [x] : tensor<2x16x32xf32>
// One pass over the logits gives the local maximum and the sums relative
// to it; after the maximum's reduction they are rescaled to it.
// CHECK-NEXT: %[[M:[^,]*]], %[[P:.*]] = axonn.logits_max %[[LR]], %[[TGT]] {vocab_axes = #axonn.axes<y>} : tensor<2x16x32xf32>, tensor<2x16xi32> -> tensor<2x16xf32>, tensor<2x16x2xf32>
// CHECK-NEXT: %[[MR:.*]] = axonn.all_reduce max %[[M]] over [y] : tensor<2x16xf32>
// CHECK-NEXT: %[[SS:.*]] = axonn.softmax_sums %[[P]], %[[M]], %[[MR]] : tensor<2x16x2xf32>, tensor<2x16xf32>
// CHECK-NEXT: %[[SSR:.*]] = axonn.all_reduce sum %[[SS]] over [y] : tensor<2x16x2xf32>
// CHECK-NEXT: %[[CE:.*]] = axonn.cross_entropy %[[MR]], %[[SSR]] tokens 128 : tensor<2x16xf32>, tensor<2x16x2xf32> -> tensor<f32>
// CHECK-NEXT: %[[LOSS:.*]] = axonn.all_reduce sum %[[CE]] over [z, data] : tensor<f32>
// Its gradient reuses the forward's logits and statistics.
// CHECK:      %[[DL:.*]] = axonn.cross_entropy_grad %[[LR]], %[[MR]], %[[SSR]], %[[TGT]] tokens 128 {vocab_axes = #axonn.axes<y>}
// A weight gradient: reduce-scatter over z, then all-reduce over data.
// CHECK:      %[[DW:.*]] = axonn.linear_grad_weight %{{.*}}, %{{.*}} transposed : (tensor<2x16x16xf32>, tensor<2x16x32xf32>) -> tensor<16x32xf32>
// CHECK-NEXT: %[[DWS:.*]] = axonn.reduce_scatter sum %[[DW]] over [z] dim 0 : tensor<16x32xf32> -> tensor<8x32xf32>
// CHECK-NEXT: axonn.all_reduce sum %[[DWS]] over [data] : tensor<8x32xf32>
// The gradient norm: one all-reduce over the grid; a norm scale is held by
// the 8 ranks of (y, z, data), a stored matrix by the 2 of data.
// CHECK:      %[[SQ:.*]] = axonn.sum_squares {{.*}} scales [5.000000e-01, 1.250000e-01,
// CHECK-NEXT: %[[SQR:.*]] = axonn.all_reduce sum %[[SQ]] over [x, y, z, data] : tensor<f32>
// CHECK-NEXT: %[[NORM:.*]] = axonn.sqrt %[[SQR]] : tensor<f32>
// CHECK-NEXT: axonn.adamw %[[WTE]], {{.*}} norm %[[NORM]] decay {{.*}} -> (tensor<16x16xf32>, tensor<16x16xf32>, tensor<16x16xf32>)
// CHECK: return %[[LOSS]],
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>, axonn.training = #axonn.training<global_batch = 8, seq_len = 16, lr = 0.001, min_lr = 0.0001, warmup_steps = 1, steps = 10, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 1>} {
  func.func @forward(%tokens: tensor<8x16xi32> {axonn.input = "tokens"},
                     %targets: tensor<8x16xi32> {axonn.input = "targets"},
                     %wte: tensor<64x32xf32> {axonn.param = "wte"},
                     %n1: tensor<32xf32> {axonn.param = "h.0.norm_1"},
                     %wqkv: tensor<64x32xf32> {axonn.param = "h.0.qkv"},
                     %wo: tensor<32x32xf32> {axonn.param = "h.0.proj"},
                     %n2: tensor<32xf32> {axonn.param = "h.0.norm_2"},
                     %wup: tensor<128x32xf32> {axonn.param = "h.0.up"},
                     %wdown: tensor<32x64xf32> {axonn.param = "h.0.down"},
                     %nf: tensor<32xf32> {axonn.param = "norm_f"}) -> tensor<f32> {
    %x = axonn.embedding %tokens, %wte : (tensor<8x16xi32>, tensor<64x32xf32>) -> tensor<8x16x32xf32>
    %h = axonn.rms_norm %x, %n1 eps 1.0e-05 : tensor<8x16x32xf32>, tensor<32xf32>
    %qkv = axonn.linear %h, %wqkv : (tensor<8x16x32xf32>, tensor<64x32xf32>) -> tensor<8x16x64xf32>
    %a = axonn.attention %qkv heads 4 kv_heads 2 causal : tensor<8x16x64xf32> -> tensor<8x16x32xf32>
    %o = axonn.linear %a, %wo transposed : (tensor<8x16x32xf32>, tensor<32x32xf32>) -> tensor<8x16x32xf32>
    %r = axonn.add %x, %o : tensor<8x16x32xf32>
    %h2 = axonn.rms_norm %r, %n2 eps 1.0e-05 : tensor<8x16x32xf32>, tensor<32xf32>
    %u = axonn.linear %h2, %wup : (tensor<8x16x32xf32>, tensor<128x32xf32>) -> tensor<8x16x128xf32>
    %g = axonn.swiglu %u : tensor<8x16x128xf32> -> tensor<8x16x64xf32>
    %d = axonn.linear %g, %wdown transposed : (tensor<8x16x64xf32>, tensor<32x64xf32>) -> tensor<8x16x32xf32>
    %r2 = axonn.add %r, %d : tensor<8x16x32xf32>
    %f = axonn.rms_norm %r2, %nf eps 1.0e-05 : tensor<8x16x32xf32>, tensor<32xf32>
    %loss = axonn.lm_head_loss %f, %wte, %targets : (tensor<8x16x32xf32>, tensor<64x32xf32>, tensor<8x16xi32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}
