// --axonn-fuse-residual-norm: an axonn.add whose sum a norm over whole
// features normalizes becomes one axonn.residual_norm, at the norm when
// nothing between reads the sum, else at the addition when the norm's
// parameters are defined there; norms over split features (stats) and
// pairs that cannot be placed stay as they are.
// RUN: axonn-opt %s --split-input-file --axonn-fuse-residual-norm | FileCheck %s
// The fused program computes what the unfused one does: every rank of the
// tiny GPT's (layer norms) and tiny Llama's (RMS norms) step, fused, in
// fp64 lockstep against the sharded step (--axonn-test-spmd).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x1x1x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-residual-norm" -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x1x1x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-residual-norm" -o /dev/null | FileCheck %s --check-prefix=SPMD
// SPMD: results on 2 ranks, max relative error {{.*}}: ok

// CHECK-LABEL: func.func @at_the_norm
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x16xf32>, %[[R:.*]]: tensor<2x8x16xf32>, %[[G:.*]]: tensor<16xf32>, %[[B:.*]]: tensor<16xf32>)
// CHECK-NEXT: %[[P:.*]] = axonn.gelu %[[R]]
// CHECK-NEXT: %[[S:.*]], %[[Y:.*]] = axonn.residual_norm %[[X]], %[[P]], %[[G]], %[[B]] eps 1.0e-05 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
// CHECK-NEXT: %[[Z:.*]] = axonn.add %[[S]], %[[Y]]
// CHECK-NEXT: return %[[Z]]
func.func @at_the_norm(%x: tensor<2x8x16xf32>, %r: tensor<2x8x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %p = axonn.gelu %r tanh : tensor<2x8x16xf32>
  %s = axonn.add %x, %p : tensor<2x8x16xf32>
  %y = axonn.layer_norm %s, %g, %b eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>
  %z = axonn.add %s, %y : tensor<2x8x16xf32>
  return %z : tensor<2x8x16xf32>
}

// -----

// The sum is read before the norm: the fused op goes to the addition.
// CHECK-LABEL: func.func @at_the_addition
// CHECK-NEXT: %[[S:.*]], %[[Y:.*]] = axonn.residual_norm %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-05 rms : tensor<2x8x16xbf16>, tensor<16xbf16>
// CHECK-NEXT: %[[U:.*]] = axonn.gelu %[[S]]
// CHECK-NEXT: %[[Z:.*]] = axonn.add %[[U]], %[[Y]]
func.func @at_the_addition(%x: tensor<2x8x16xbf16>, %r: tensor<2x8x16xbf16>, %g: tensor<16xbf16>) -> tensor<2x8x16xbf16> {
  %s = axonn.add %x, %r : tensor<2x8x16xbf16>
  %u = axonn.gelu %s tanh : tensor<2x8x16xbf16>
  %y = axonn.rms_norm %s, %g eps 1.0e-5 : tensor<2x8x16xbf16>, tensor<16xbf16>
  %z = axonn.add %u, %y : tensor<2x8x16xbf16>
  return %z : tensor<2x8x16xbf16>
}

// -----

// The sum is read before the norm, and the norm's scale is made after the
// addition (a gathered weight): no place for the fused op.
// CHECK-LABEL: func.func @unplaceable
// CHECK-NOT: axonn.residual_norm
// CHECK: axonn.add
// CHECK: axonn.rms_norm
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @unplaceable(%x: tensor<2x8x16xf32>, %r: tensor<2x8x16xf32>, %w: tensor<8xf32>) -> (tensor<2x8x16xf32>, tensor<2x8x16xf32>) {
    %s = axonn.add %x, %r : tensor<2x8x16xf32>
    %u = axonn.gelu %s tanh : tensor<2x8x16xf32>
    %h = axonn.all_gather_start %w over [x] dim 0 : tensor<8xf32> -> !axonn.handle<tensor<16xf32>>
    %g = axonn.wait %h : !axonn.handle<tensor<16xf32>>
    %y = axonn.rms_norm %s, %g eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>
    return %u, %y : tensor<2x8x16xf32>, tensor<2x8x16xf32>
  }
}

// -----

// Split features: the norm takes statistics, and stays.
// CHECK-LABEL: func.func @split_features
// CHECK-NOT: axonn.residual_norm
func.func @split_features(%x: tensor<2x8x16xf32>, %r: tensor<2x8x16xf32>, %g: tensor<16xf32>, %st: tensor<2x8x1xf32>) -> tensor<2x8x16xf32> {
  %s = axonn.add %x, %r : tensor<2x8x16xf32>
  %y = axonn.rms_norm %s, %g eps 1.0e-5 stats %st width 32 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<2x8x1xf32>
  return %y : tensor<2x8x16xf32>
}
