// --axonn-fuse-linear-grad-bias: an axonn.linear_grad_bias and an
// axonn.linear_grad_weight of the same gradient become one
// axonn.linear_grad_weight with two results: at the weight gradient when
// it comes first; else at the bias gradient when the weight gradient's
// input is there, or at the weight gradient when nothing before it reads
// the bias gradient; other pairs stay as they are.
// RUN: axonn-opt %s --split-input-file --axonn-fuse-linear-grad-bias | FileCheck %s
// The fused program computes what the unfused one does: every rank of the
// tiny GPT's step, fused, in fp64 lockstep against the sharded step
// (--axonn-test-spmd), data parallel and on 2x2x2x1 (bias gradients
// partial over some axes, reduced after).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x1x1x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-linear-grad-bias" -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=2x2x2x1" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-linear-grad-bias" -o /dev/null | FileCheck %s --check-prefix=SPMD
// SPMD: results on {{[28]}} ranks, max relative error {{.*}}: ok
// Fused on model-level IR, before --axonn-shard: its rules lay the bias
// gradient result out so that every rank's step still matches, on 2x2x2x2.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-fuse-linear-grad-bias --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD16
// SPMD16: results on 16 ranks, max relative error {{.*}}: ok
// Every bias gradient of the tiny GPT's step joins its weight gradient
// (4 linear layers with biases per block, 2 blocks).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=1" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-fuse-linear-grad-bias | FileCheck %s --check-prefix=GPT
// GPT-LABEL: func.func @train_step
// GPT-NOT: axonn.linear_grad_bias
// GPT-COUNT-8: axonn.linear_grad_weight {{.*}} -> (tensor<{{.*}}>, tensor<{{[0-9]+}}xf32>)
// GPT-NOT: axonn.linear_grad_bias
// GPT: return

// CHECK-LABEL: func.func @after_the_weight
// CHECK-SAME: (%[[DY:.*]]: tensor<2x8x16xf32>, %[[X:.*]]: tensor<2x8x32xf32>, %[[Y:.*]]: tensor<2x8x16xf32>)
// CHECK-NEXT: %[[W:.*]], %[[B:.*]] = axonn.linear_grad_weight %[[DY]], %[[X]] : (tensor<2x8x16xf32>, tensor<2x8x32xf32>) -> (tensor<16x32xf32>, tensor<16xf32>)
// CHECK-NEXT: %[[G:.*]] = axonn.gelu %[[Y]]
// CHECK-NEXT: return %[[W]], %[[B]], %[[G]]
func.func @after_the_weight(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x32xf32>, %y: tensor<2x8x16xf32>) -> (tensor<16x32xf32>, tensor<16xf32>, tensor<2x8x16xf32>) {
  %dw = axonn.linear_grad_weight %dy, %x : (tensor<2x8x16xf32>, tensor<2x8x32xf32>) -> tensor<16x32xf32>
  %g = axonn.gelu %y tanh : tensor<2x8x16xf32>
  %db = axonn.linear_grad_bias %dy : tensor<2x8x16xf32> -> tensor<16xf32>
  return %dw, %db, %g : tensor<16x32xf32>, tensor<16xf32>, tensor<2x8x16xf32>
}

// -----

// The bias gradient first, read before the weight gradient, whose input is
// already there: at the bias gradient (transposed layers alike, bf16).
// CHECK-LABEL: func.func @at_the_bias
// CHECK-NEXT: %[[W:.*]], %[[B:.*]] = axonn.linear_grad_weight %{{.*}}, %{{.*}} transposed : (tensor<2x8x16xbf16>, tensor<2x8x32xbf16>) -> (tensor<16x32xbf16>, tensor<16xbf16>)
// CHECK-NEXT: %[[S:.*]] = axonn.add %[[B]], %[[B]]
// CHECK-NEXT: return %[[W]], %[[S]]
func.func @at_the_bias(%dy: tensor<2x8x16xbf16>, %x: tensor<2x8x32xbf16>) -> (tensor<16x32xbf16>, tensor<16xbf16>) {
  %db = axonn.linear_grad_bias %dy transposed : tensor<2x8x16xbf16> -> tensor<16xbf16>
  %s = axonn.add %db, %db : tensor<16xbf16>
  %dw = axonn.linear_grad_weight %dy, %x transposed : (tensor<2x8x16xbf16>, tensor<2x8x32xbf16>) -> tensor<16x32xbf16>
  return %dw, %s : tensor<16x32xbf16>, tensor<16xbf16>
}

// -----

// The bias gradient first, the weight gradient's input made after it, and
// nothing in between reads the bias gradient: at the weight gradient.
// CHECK-LABEL: func.func @at_the_weight
// CHECK-NEXT: %[[X:.*]] = axonn.gelu
// CHECK-NEXT: %[[W:.*]], %[[B:.*]] = axonn.linear_grad_weight %{{.*}}, %[[X]]
// CHECK-NEXT: return %[[W]], %[[B]]
func.func @at_the_weight(%dy: tensor<2x8x16xf32>, %y: tensor<2x8x32xf32>) -> (tensor<16x32xf32>, tensor<16xf32>) {
  %db = axonn.linear_grad_bias %dy : tensor<2x8x16xf32> -> tensor<16xf32>
  %x = axonn.gelu %y tanh : tensor<2x8x32xf32>
  %dw = axonn.linear_grad_weight %dy, %x : (tensor<2x8x16xf32>, tensor<2x8x32xf32>) -> tensor<16x32xf32>
  return %dw, %db : tensor<16x32xf32>, tensor<16xf32>
}

// -----

// Left as they are: the bias gradient is read before the weight
// gradient's input exists; gradients of different values.
// CHECK-LABEL: func.func @unplaceable
// CHECK: axonn.linear_grad_bias
// CHECK: axonn.linear_grad_weight {{.*}} -> tensor<16x32xf32>
func.func @unplaceable(%dy: tensor<2x8x16xf32>, %y: tensor<2x8x32xf32>) -> (tensor<16x32xf32>, tensor<16xf32>) {
  %db = axonn.linear_grad_bias %dy : tensor<2x8x16xf32> -> tensor<16xf32>
  %s = axonn.add %db, %db : tensor<16xf32>
  %x = axonn.gelu %y tanh : tensor<2x8x32xf32>
  %dw = axonn.linear_grad_weight %dy, %x : (tensor<2x8x16xf32>, tensor<2x8x32xf32>) -> tensor<16x32xf32>
  return %dw, %s : tensor<16x32xf32>, tensor<16xf32>
}

// CHECK-LABEL: func.func @other_gradients
// CHECK: axonn.linear_grad_weight {{.*}} -> tensor<16x32xf32>
// CHECK: axonn.linear_grad_bias
func.func @other_gradients(%dy: tensor<2x8x16xf32>, %dz: tensor<2x8x16xf32>, %x: tensor<2x8x32xf32>) -> (tensor<16x32xf32>, tensor<16xf32>) {
  %dw = axonn.linear_grad_weight %dy, %x : (tensor<2x8x16xf32>, tensor<2x8x32xf32>) -> tensor<16x32xf32>
  %db = axonn.linear_grad_bias %dz : tensor<2x8x16xf32> -> tensor<16xf32>
  return %dw, %db : tensor<16x32xf32>, tensor<16xf32>
}
