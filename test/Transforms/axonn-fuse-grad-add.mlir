// --axonn-fuse-grad-add: an axonn.add of a gradient that its op can add
// to as it writes it (a norm gradient's input gradient, an embedding
// gradient), read by nothing else, becomes that op with the add's other
// operand as `accumulate`: at the op when the other operand is defined
// there, else at the addition when nothing between reads the op's other
// results; other pairs stay as they are.
// RUN: axonn-opt %s --split-input-file --axonn-fuse-grad-add | FileCheck %s
// The fused program computes what the unfused one does: every rank of the
// tiny GPT's (layer norms, tied embedding) and tiny Llama's (RMS norms)
// step, fused, in fp64 lockstep against the sharded step
// (--axonn-test-spmd), on whole features (data parallel), on split ones
// (norms from statistics) and with the vocabulary split over y (the
// embedding's two gradients partial sums).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=1x1x1x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-grad-add" -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=2x1x1x1" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-grad-add" -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=4 grid=1x2x1x2" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-grad-add" -o /dev/null | FileCheck %s --check-prefix=SPMD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=2 grid=2x1x1x1" --axonn-build-training-step --axonn-shard --axonn-test-spmd=pipeline="axonn-insert-collectives,axonn-schedule-overlap,axonn-fuse-grad-add" -o /dev/null | FileCheck %s --check-prefix=SPMD
// SPMD: results on {{[24]}} ranks, max relative error {{.*}}: ok
// Fused on model-level IR, before --axonn-shard: its rules lay `accumulate`
// out so that every rank's step still matches, on 2x2x2x2.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-fuse-grad-add --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD16
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-fuse-grad-add --axonn-shard --axonn-test-spmd -o /dev/null | FileCheck %s --check-prefix=SPMD16
// SPMD16: results on 16 ranks, max relative error {{.*}}: ok
// Every such addition of the tiny GPT's step is fused: two per block, and
// the tied embedding's.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=1" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-fuse-grad-add | FileCheck %s --check-prefix=GPT
// GPT-LABEL: func.func @train_step
// GPT-COUNT-4: axonn.layer_norm_grad {{.*}} accumulate
// GPT-NOT: axonn.add
// GPT: axonn.embedding_grad {{.*}} accumulate
// GPT-NOT: axonn.add
// GPT: return

// CHECK-LABEL: func.func @at_the_norm_grad
// CHECK-SAME: (%[[DY:.*]]: tensor<2x8x16xf32>, %[[X:.*]]: tensor<2x8x16xf32>, %[[G:.*]]: tensor<16xf32>, %[[O:.*]]: tensor<2x8x16xf32>)
// CHECK-NEXT: %[[DX:.*]], %[[DG:.*]], %[[DB:.*]] = axonn.layer_norm_grad %[[DY]], %[[X]], %[[G]] eps 1.0e-05 accumulate %[[O]] : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>, tensor<16xf32>
// CHECK-NEXT: return %[[DX]], %[[DG]], %[[DB]]
func.func @at_the_norm_grad(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %other: tensor<2x8x16xf32>) -> (tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>) {
  %dx, %dg, %db = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>, tensor<16xf32>
  %s = axonn.add %other, %dx : tensor<2x8x16xf32>
  return %s, %dg, %db : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
}

// -----

// Both operands are norm gradients: the later one accumulates the earlier.
// CHECK-LABEL: func.func @two_norm_grads
// CHECK-NEXT: %[[A:.*]], %{{.*}} = axonn.rms_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-05 : tensor<2x8x16xbf16>
// CHECK-NEXT: %[[B:.*]], %{{.*}} = axonn.rms_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-05 accumulate %[[A]] : tensor<2x8x16xbf16>
// CHECK-NEXT: return %[[B]]
func.func @two_norm_grads(%dy: tensor<2x8x16xbf16>, %x: tensor<2x8x16xbf16>, %g: tensor<16xbf16>, %x2: tensor<2x8x16xbf16>) -> tensor<2x8x16xbf16> {
  %a, %ga = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-5 : tensor<2x8x16xbf16>, tensor<16xbf16> -> tensor<16xbf16>
  %b, %gb = axonn.rms_norm_grad %dy, %x2, %g eps 1.0e-5 : tensor<2x8x16xbf16>, tensor<16xbf16> -> tensor<16xbf16>
  %s = axonn.add %a, %b : tensor<2x8x16xbf16>
  return %s : tensor<2x8x16xbf16>
}

// -----

// The other gradient is made after the norm gradient: the fused op goes to
// the addition.
// CHECK-LABEL: func.func @at_the_addition
// CHECK-NEXT: %[[O:.*]] = axonn.gelu
// CHECK-NEXT: %[[DX:.*]], %{{.*}}, %{{.*}} = axonn.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-05 accumulate %[[O]]
// CHECK-NEXT: return %[[DX]]
func.func @at_the_addition(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %y: tensor<2x8x16xf32>) -> tensor<2x8x16xf32> {
  %dx, %dg, %db = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>, tensor<16xf32>
  %other = axonn.gelu %y tanh : tensor<2x8x16xf32>
  %s = axonn.add %dx, %other : tensor<2x8x16xf32>
  return %s : tensor<2x8x16xf32>
}

// -----

// Left as they are: the other gradient comes after the norm gradient and
// a parameter gradient is read in between; the input gradient is read by
// another op too; a norm gradient's input gradient added to itself.
// CHECK-LABEL: func.func @unplaceable
// CHECK-NOT: accumulate
// CHECK: return
func.func @unplaceable(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %y: tensor<2x8x16xf32>) -> (tensor<2x8x16xf32>, tensor<16xf32>) {
  %dx, %dg, %db = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>, tensor<16xf32>
  %t = axonn.add %dg, %db : tensor<16xf32>
  %other = axonn.gelu %y tanh : tensor<2x8x16xf32>
  %s = axonn.add %dx, %other : tensor<2x8x16xf32>
  return %s, %t : tensor<2x8x16xf32>, tensor<16xf32>
}

// CHECK-LABEL: func.func @read_elsewhere
// CHECK-NOT: accumulate
// CHECK: return
func.func @read_elsewhere(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %other: tensor<2x8x16xf32>) -> (tensor<2x8x16xf32>, tensor<2x8x16xf32>) {
  %dx, %dg = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  %s = axonn.add %other, %dx : tensor<2x8x16xf32>
  return %s, %dx : tensor<2x8x16xf32>, tensor<2x8x16xf32>
}

// CHECK-LABEL: func.func @doubled
// CHECK-NOT: accumulate
// CHECK: axonn.add
func.func @doubled(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %dx, %dg = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  %s = axonn.add %dx, %dx : tensor<2x8x16xf32>
  return %s : tensor<2x8x16xf32>
}

// -----

// A tied embedding: its gradient accumulates the LM head's, made earlier.
// CHECK-LABEL: func.func @tied_embedding
// CHECK-SAME: (%[[DY:.*]]: tensor<2x8x16xf32>, %[[T:.*]]: tensor<2x8xi32>, %[[HEAD:.*]]: tensor<32x16xf32>)
// CHECK-NEXT: %[[E:.*]] = axonn.embedding_grad %[[DY]], %[[T]] accumulate %[[HEAD]] : (tensor<2x8x16xf32>, tensor<2x8xi32>, tensor<32x16xf32>) -> tensor<32x16xf32>
// CHECK-NEXT: return %[[E]]
func.func @tied_embedding(%dy: tensor<2x8x16xf32>, %t: tensor<2x8xi32>, %head: tensor<32x16xf32>) -> tensor<32x16xf32> {
  %e = axonn.embedding_grad %dy, %t : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<32x16xf32>
  %s = axonn.add %head, %e : tensor<32x16xf32>
  return %s : tensor<32x16xf32>
}
