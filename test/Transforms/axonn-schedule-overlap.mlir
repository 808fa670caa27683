// --axonn-schedule-overlap makes collectives asynchronous and moves starts
// early and waits late.
//
// OAR, in backward: a linear's dX all-reduce starts before its dW GEMM and
// is waited after it (and after the dW reduce-scatter starts); here on the
// one-layer model at 2x2x2x2, for the transposed MLP-down (dX over x) and
// the normal MLP-up (dX over y).
// RUN: axonn-opt %s --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-schedule-overlap | FileCheck %s --check-prefix=OAR
// OAR-LABEL: func.func @train_step(
// OAR:      %[[DX:.*]] = axonn.linear_grad_input %{{.*}}, %{{.*}} transposed : (tensor<2x16x16xf32>, tensor<16x32xf32>) -> tensor<2x16x32xf32>
// OAR-NEXT: %[[H:.*]] = axonn.all_reduce_start sum %[[DX]] over [x]
// OAR-NEXT: %[[DW:.*]] = axonn.linear_grad_weight %{{.*}}, %{{.*}} transposed
// OAR-NEXT: axonn.reduce_scatter_start sum %[[DW]] over [z] dim 0
// OAR-NEXT: %[[DXR:.*]] = axonn.wait %[[H]]
// OAR-NEXT: axonn.swiglu_grad %[[DXR]],
// OAR:      %[[DX2:.*]] = axonn.linear_grad_input %{{.*}}, %{{.*}} : (tensor<2x16x64xf32>, tensor<64x16xf32>) -> tensor<2x16x16xf32>
// OAR-NEXT: %[[H2:.*]] = axonn.all_reduce_start sum %[[DX2]] over [y]
// OAR-NEXT: %[[DW2:.*]] = axonn.linear_grad_weight
// OAR-NEXT: axonn.reduce_scatter_start sum %[[DW2]] over [z] dim 0
// OAR-NEXT: axonn.wait %[[H2]]

// The whole pipeline keeps the numbers: every rank's results are its pieces
// of the sharded step's, with any prefetch distance, the gathered-weight
// cache and small buckets.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd="pipeline=axonn-insert-collectives,axonn-schedule-overlap" -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step=recompute=full --axonn-shard --axonn-test-spmd="pipeline=axonn-insert-collectives,axonn-schedule-overlap{prefetch=3 keep-gathered-weights=true bucket-bytes=1000}" -o /dev/null | FileCheck %s --check-prefix=SPMD
// SPMD: results on 16 ranks, max relative error {{.*}} (tolerance 1.0E-09): ok

// OAG on a 2-layer GPT: layer 1's QKV weight (%arg18) is gathered while
// layer 0's MLP-down linear (bias %arg15) computes.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-schedule-overlap > %t.mlir
// RUN: FileCheck %s --check-prefix=OAG < %t.mlir
// OAG-LABEL: func.func @train_step(
// OAG:      %[[G:.*]] = axonn.all_gather_start %arg18 over [z] dim 0
// OAG:      axonn.linear %{{.*}}, %{{.*}} bias %arg15 transposed
// OAG:      %[[W:.*]] = axonn.wait %[[G]]
// OAG-NEXT: axonn.linear %{{.*}}, %[[W]] bias %arg19
// In backward too: layer 0's QKV weight (%arg6) is gathered before layer
// 0's attention-out dX GEMM.
// OAG:      %[[G0:.*]] = axonn.all_gather_start %arg6 over [z] dim 0
// OAG:      axonn.linear_grad_input %{{.*}}, %{{.*}} transposed
// OAG:      %[[W0:.*]] = axonn.wait %[[G0]]
// OAG-NEXT: axonn.linear_grad_input %{{.*}}, %[[W0]] :
//
// The report counts what is overlapped (compute between start and wait)
// and what is exposed.
// RUN: axonn-opt %t.mlir --axonn-print-collectives -o /dev/null | FileCheck %s --check-prefix=REPORT
// REPORT-LABEL: collectives of @train_step on grid 2x2x2x2
// REPORT: forward   transformer.h.1.attn.c_attn.weight       all_gather     [z]              3072  overlapped (4 ops)
// REPORT: backward  transformer.h.1.mlp.c_proj.weight        all_reduce     [x]              8192  overlapped (2 ops)
// REPORT: backward  transformer.h.1.mlp.c_proj.weight        reduce_scatter [z]              4096  overlapped
// With one bucket for the whole (tiny) model, the data-parallel reductions
// start after the last gradient and are exposed; with small buckets most
// run under the backward.
// REPORT: total: 91 collectives, 37 overlapped, 54 exposed

// keep-gathered-weights: backward reuses forward's gathered weights, so each
// of the 10 stored matrices (2 tables, 8 linears) is gathered once.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-schedule-overlap=keep-gathered-weights=true | FileCheck %s --check-prefix=KEEP
// KEEP-LABEL: func.func @train_step(
// KEEP-COUNT-10: axonn.all_gather_start
// KEEP-NOT: axonn.all_gather_start
// KEEP: return

// Buckets: by default (25 MiB) the whole tiny model's gradients form one
// bucket, started after the last gradient; with 1-byte buckets each
// gradient's all-reduce over data starts one dW GEMM after it is ready,
// under the rest of the backward.
// RUN: FileCheck %s --check-prefix=ONE-BUCKET < %t.mlir
// ONE-BUCKET-LABEL: func.func @train_step(
// ONE-BUCKET: axonn.all_reduce_start sum %{{.*}} over [data]
// ONE-BUCKET-NOT: axonn.linear_grad_weight
// ONE-BUCKET: axonn.sum_squares
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-schedule-overlap=bucket-bytes=1 | FileCheck %s --check-prefix=SMALL-BUCKETS
// SMALL-BUCKETS-LABEL: func.func @train_step(
// SMALL-BUCKETS: axonn.all_reduce_start sum %{{.*}} over [data]
// SMALL-BUCKETS: axonn.linear_grad_weight
// SMALL-BUCKETS: axonn.sum_squares
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-schedule-overlap=bucket-bytes=1 --axonn-print-collectives -o /dev/null | FileCheck %s --check-prefix=SMALL-REPORT
// SMALL-REPORT-LABEL: collectives of @train_step
// SMALL-REPORT: total: 91 collectives, 59 overlapped, 32 exposed

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
