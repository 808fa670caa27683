// --axonn-fuse-linear-gelu: a GELU of a linear layer's whole result becomes,
// with the layer, one axonn.linear_gelu at the layer's place; the layer's
// other uses (the GELU's gradient) read its `pre` result. A layer with
// partial sums (once_over) is left as it is. In the backward, a GELU
// gradient of an input gradient read by nothing else becomes, with it, one
// axonn.linear_grad_input_gelu at the GELU gradient's place.
// RUN: axonn-opt %s --split-input-file --axonn-fuse-linear-gelu | FileCheck %s
// The fused program computes what the unfused one does: every rank of the
// tiny GPT's step, fused, in fp64 lockstep against the sharded step
// (--axonn-test-spmd): on 1x1x1x2 both fusions happen (2 of each kind a
// step), on 2x2x1x1 partial sums keep the backward's apart.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x1x1x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-linear-gelu" -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=4 grid=2x2x1x1" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-linear-gelu" -o /dev/null | FileCheck %s --check-prefix=SPMD
// SPMD: results on {{[24]}} ranks, max relative error {{.*}}: ok

// CHECK-LABEL: func.func @mlp_up
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x16xf32>, %[[W:.*]]: tensor<64x16xf32>, %[[B:.*]]: tensor<64xf32>, %[[D:.*]]: tensor<2x8x64xf32>)
// CHECK-NEXT: %[[PRE:.*]], %[[H:.*]] = axonn.linear_gelu %[[X]], %[[W]] bias %[[B]] tanh : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>)
// CHECK-NEXT: %[[G:.*]] = axonn.gelu_grad %[[D]], %[[PRE]] tanh
// CHECK-NEXT: return %[[H]], %[[G]]
func.func @mlp_up(%x: tensor<2x8x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>, %d: tensor<2x8x64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>) {
  %y = axonn.linear %x, %w bias %b : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  %h = axonn.gelu %y tanh : tensor<2x8x64xf32>
  %g = axonn.gelu_grad %d, %y tanh : tensor<2x8x64xf32>
  return %h, %g : tensor<2x8x64xf32>, tensor<2x8x64xf32>
}

// -----

// No bias, the exact GELU, a transposed layer, bf16.
// CHECK-LABEL: func.func @plain
// CHECK: axonn.linear_gelu %{{.*}}, %{{.*}} transposed none : (tensor<2x8x16xbf16>, tensor<64x16xbf16>) -> (tensor<2x8x64xbf16>, tensor<2x8x64xbf16>)
func.func @plain(%x: tensor<2x8x16xbf16>, %w: tensor<64x16xbf16>) -> tensor<2x8x64xbf16> {
  %y = axonn.linear %x, %w transposed : (tensor<2x8x16xbf16>, tensor<64x16xbf16>) -> tensor<2x8x64xbf16>
  %h = axonn.gelu %y none : tensor<2x8x64xbf16>
  return %h : tensor<2x8x64xbf16>
}

// -----

// Partial sums over x: the GELU needs the all-reduce first.
// CHECK-LABEL: func.func @partial
// CHECK-NOT: axonn.linear_gelu
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @partial(%x: tensor<2x8x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>) -> tensor<2x8x64xf32> {
    %y = axonn.linear %x, %w bias %b {once_over = #axonn.axes<x>} : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %h = axonn.gelu %y tanh : tensor<2x8x64xf32>
    return %h : tensor<2x8x64xf32>
  }
}

// -----

// The backward: dy W, then the GELU's derivative at pre.
// CHECK-LABEL: func.func @mlp_down_grad
// CHECK-SAME: (%[[DY:.*]]: tensor<2x8x16xf32>, %[[W:.*]]: tensor<16x64xf32>, %[[PRE:.*]]: tensor<2x8x64xf32>)
// CHECK-NEXT: %[[D:.*]] = axonn.linear_grad_input_gelu %[[DY]], %[[W]], %[[PRE]] transposed tanh : (tensor<2x8x16xf32>, tensor<16x64xf32>, tensor<2x8x64xf32>) -> tensor<2x8x64xf32>
// CHECK-NEXT: return %[[D]]
func.func @mlp_down_grad(%dy: tensor<2x8x16xf32>, %w: tensor<16x64xf32>, %pre: tensor<2x8x64xf32>) -> tensor<2x8x64xf32> {
  %dh = axonn.linear_grad_input %dy, %w transposed : (tensor<2x8x16xf32>, tensor<16x64xf32>) -> tensor<2x8x64xf32>
  %d = axonn.gelu_grad %dh, %pre tanh : tensor<2x8x64xf32>
  return %d : tensor<2x8x64xf32>
}

// -----

// The exact GELU, and `pre` made between the two ops (as a full recompute
// rebuilds it): the fused op goes where the GELU's gradient was, after it.
// CHECK-LABEL: func.func @recomputed_pre
// CHECK-NEXT: %[[PRE:.*]] = axonn.linear
// CHECK-NEXT: %[[D:.*]] = axonn.linear_grad_input_gelu %{{.*}}, %{{.*}}, %[[PRE]] none
// CHECK-NEXT: return %[[D]]
func.func @recomputed_pre(%dy: tensor<2x8x16xf32>, %w: tensor<16x64xf32>, %x: tensor<2x8x16xf32>, %w1: tensor<64x16xf32>) -> tensor<2x8x64xf32> {
  %dh = axonn.linear_grad_input %dy, %w : (tensor<2x8x16xf32>, tensor<16x64xf32>) -> tensor<2x8x64xf32>
  %pre = axonn.linear %x, %w1 : (tensor<2x8x16xf32>, tensor<64x16xf32>) -> tensor<2x8x64xf32>
  %d = axonn.gelu_grad %dh, %pre none : tensor<2x8x64xf32>
  return %d : tensor<2x8x64xf32>
}

// -----

// The input gradient has another use: left as it is.
// CHECK-LABEL: func.func @shared_grad
// CHECK-NOT: axonn.linear_grad_input_gelu
// CHECK: axonn.linear_grad_input %
// CHECK: axonn.gelu_grad
func.func @shared_grad(%dy: tensor<2x8x16xf32>, %w: tensor<16x64xf32>, %pre: tensor<2x8x64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>) {
  %dh = axonn.linear_grad_input %dy, %w : (tensor<2x8x16xf32>, tensor<16x64xf32>) -> tensor<2x8x64xf32>
  %d = axonn.gelu_grad %dh, %pre none : tensor<2x8x64xf32>
  return %d, %dh : tensor<2x8x64xf32>, tensor<2x8x64xf32>
}

// -----

// Partial sums of the input gradient: reduced before the GELU's gradient,
// which reads the collective's result, not the GEMM's.
// CHECK-LABEL: func.func @partial_grad
// CHECK-NOT: axonn.linear_grad_input_gelu
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @partial_grad(%dy: tensor<2x8x16xf32>, %w: tensor<16x64xf32>, %pre: tensor<2x8x64xf32>) -> tensor<2x8x64xf32> {
    %dh = axonn.linear_grad_input %dy, %w : (tensor<2x8x16xf32>, tensor<16x64xf32>) -> tensor<2x8x64xf32>
    %h = axonn.all_reduce_start sum %dh over [x] : tensor<2x8x64xf32> -> !axonn.handle<tensor<2x8x64xf32>>
    %r = axonn.wait %h : !axonn.handle<tensor<2x8x64xf32>>
    %d = axonn.gelu_grad %r, %pre tanh : tensor<2x8x64xf32>
    return %d : tensor<2x8x64xf32>
  }
}
