// --axonn-shard lays every tensor of the training step out on the grid as the
// 4D algorithm does, and makes every change of layout an axonn.reshard.
// RUN: axonn-opt %s --axonn-build-training-step --axonn-shard | FileCheck %s --enable-var-scope
// The result verifies (the layout checks of every op hold) and round-trips.
// RUN: axonn-opt %s --axonn-build-training-step --axonn-shard | axonn-opt | FileCheck %s --enable-var-scope

// Arguments: tokens over (z, data); matrices [n, k] over [[y], [x]] (normal)
// or [[x], [y]] (transposed) and stored split over z; norm scales over x;
// the step a replicated scalar; AdamW state laid out like its parameter.
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[TOK:arg0]]: tensor<8x16xi32, #axonn.layout<{{\[\[}}z, data], []]>> {axonn.input = "tokens"}
// CHECK-SAME: %[[WTE:arg2]]: tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>> {axonn.param = "wte"}
// CHECK-SAME: %[[N1:arg3]]: tensor<32xf32, #axonn.layout<{{\[\[}}x]]>> {axonn.param = "h.0.norm_1"}
// CHECK-SAME: %[[WQKV:arg4]]: tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>> {axonn.param = "h.0.qkv"}
// CHECK-SAME: %[[WO:arg5]]: tensor<32x32xf32, #axonn.layout<{{\[\[}}x], [y]], storage = [z]>> {axonn.param = "h.0.proj"}
// CHECK-SAME: %[[STEP:arg10]]: tensor<i64, #axonn.layout<[]>> {axonn.input = "step"}
// CHECK-SAME: %[[MWTE:arg11]]: tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>> {axonn.state = "m", axonn.state_of = "wte"}
//
// Forward. The embedding table is gathered over z, each rank looks up the
// rows of its vocabulary slice (partial over y), and the sum is reduced
// before the first norm.
// CHECK: %[[WTEG:.*]] = axonn.reshard %[[WTE]] : {{.*}}storage = [z]>> -> tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]]>>
// CHECK-NEXT: %[[EMB:.*]] = axonn.embedding %[[TOK]], %[[WTEG]] : {{.*}} -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]], partial = [y]>>
// CHECK-NEXT: %[[X:.*]] = axonn.reshard %[[EMB]] : {{.*}} -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]]>>
// CHECK-NEXT: %[[H:.*]] = axonn.rms_norm %[[X]], %[[N1]]
// A normal linear: weight gathered over z, output features over y, partial
// over x, reduced over x (the forward all-reduce).
// CHECK-NEXT: %[[WQKVG:.*]] = axonn.reshard %[[WQKV]] : {{.*}} -> tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]]>>
// CHECK-NEXT: %[[QKVP:.*]] = axonn.linear %[[H]], %[[WQKVG]] : {{.*}} -> tensor<8x16x64xf32, #axonn.layout<{{\[\[}}z, data], [], [y]], partial = [x]>>
// CHECK-NEXT: %[[QKV:.*]] = axonn.reshard %[[QKVP]] : {{.*}} -> tensor<8x16x64xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>>
// Heads over y: attention needs no communication.
// CHECK-NEXT: %[[ATT:[^,]*]], %{{.*}} = axonn.attention %[[QKV]] heads 4 kv_heads 2 causal : tensor<8x16x64xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>> -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>>, tensor<8x16x4xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>>
// A transposed linear takes that layout as it is; its output is partial over
// y, and adds to the residual stream (also partial over y) before the one
// reduction over y.
// CHECK-NEXT: %[[WOG:.*]] = axonn.reshard %[[WO]] : {{.*}} -> tensor<32x32xf32, #axonn.layout<{{\[\[}}x], [y]]>>
// CHECK-NEXT: %[[O:.*]] = axonn.linear %[[ATT]], %[[WOG]] transposed : {{.*}} -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]], partial = [y]>>
// CHECK-NEXT: %[[R:.*]] = axonn.add %[[EMB]], %[[O]] : tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]], partial = [y]>>
// CHECK-NEXT: %[[RR:.*]] = axonn.reshard %[[R]] : {{.*}} -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]]>>
// SwiGLU keeps the features over y (gate and up are interleaved).
// CHECK: axonn.swiglu %{{.*}} : tensor<8x16x128xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>> -> tensor<8x16x64xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>>
// The vocabulary-parallel loss: table over [[y], [x]], a replicated scalar.
// CHECK: axonn.lm_head_loss %{{.*}}, %{{.*}}, %{{.*}} : (tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]]>>, tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]]>>, tensor<8x16xi32, #axonn.layout<{{\[\[}}z, data], []]>>) -> tensor<f32, #axonn.layout<[]>>
//
// Backward: the table is gathered again; dH is partial over y (each rank
// holds a vocabulary slice), dW partial over the token axes.
// CHECK: %[[WTEG2:.*]] = axonn.reshard %[[WTE]]
// CHECK-NEXT: %[[DH:.*]], %[[DHEAD:.*]] = axonn.lm_head_loss_grad %{{.*}}, %[[WTEG2]], %{{.*}} : {{.*}} -> (tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]], partial = [y]>>, tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], partial = [z, data]>>)
// CHECK-NEXT: axonn.reshard %[[DH]] : {{.*}} -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]]>>
// Norm scale gradients: partial over the token axes, reduced over them.
// CHECK-NEXT: %{{.*}}, %[[DNF:.*]] = axonn.rms_norm_grad {{.*}} -> tensor<32xf32, #axonn.layout<{{\[\[}}x]], partial = [z, data]>>
// CHECK-NEXT: axonn.reshard %[[DNF]] : {{.*}} -> tensor<32xf32, #axonn.layout<{{\[\[}}x]]>>
// Transposed linear backward: dX partial over x (all-reduce over x), dW
// partial over (z, data), reduce-scattered into the storage split over z and
// reduced over data in one reshard.
// CHECK: %[[DG:.*]] = axonn.linear_grad_input %{{.*}}, %{{.*}} transposed : {{.*}} -> tensor<8x16x64xf32, #axonn.layout<{{\[\[}}z, data], [], [y]], partial = [x]>>
// CHECK-NEXT: axonn.reshard %[[DG]] : {{.*}} -> tensor<8x16x64xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>>
// CHECK-NEXT: %[[DWDOWN:.*]] = axonn.linear_grad_weight %{{.*}}, %{{.*}} transposed : {{.*}} -> tensor<32x64xf32, #axonn.layout<{{\[\[}}x], [y]], partial = [z, data]>>
// CHECK-NEXT: axonn.reshard %[[DWDOWN]] : {{.*}} -> tensor<32x64xf32, #axonn.layout<{{\[\[}}x], [y]], storage = [z]>>
// Normal linear backward: dX partial over y (all-reduce over y).
// CHECK: %[[DX:.*]] = axonn.linear_grad_input %{{.*}}, %{{.*}} : (tensor<8x16x128xf32, {{.*}}) -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]], partial = [y]>>
// CHECK-NEXT: axonn.reshard %[[DX]] : {{.*}} -> tensor<8x16x32xf32, #axonn.layout<{{\[\[}}z, data], [], [x]]>>
// CHECK-NEXT: %[[DWUP:.*]] = axonn.linear_grad_weight {{.*}} -> tensor<128x32xf32, #axonn.layout<{{\[\[}}y], [x]], partial = [z, data]>>
// CHECK: axonn.attention_grad %{{.*}}, %[[QKV]], %[[ATT]], %{{.*}} heads 4 kv_heads 2 causal
// The tied table's two gradients add up while partial, then one
// reduce-scatter.
// CHECK: %[[DEMB:.*]] = axonn.embedding_grad %{{.*}}, %[[TOK]] : {{.*}} -> tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], partial = [z, data]>>
// CHECK-NEXT: %[[DWTE:.*]] = axonn.add %[[DHEAD]], %[[DEMB]] : tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], partial = [z, data]>>
// CHECK-NEXT: %[[DWTES:.*]] = axonn.reshard %[[DWTE]] : {{.*}} -> tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>>
// The optimizer works on each rank's stored shard.
// CHECK: %[[NORM:.*]] = axonn.global_norm %[[DWTES]],
// CHECK-NEXT: axonn.adamw %[[WTE]], %[[DWTES]], %[[MWTE]], %{{.*}} step %[[STEP]] norm %[[NORM]] decay {{.*}} -> (tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>>,

// On a 1x1x1x1 grid every tensor is replicated: no reshards.
// RUN: sed 's/x = 2, y = 2, z = 2, data = 2/x = 1, y = 1, z = 1, data = 1/' %s | axonn-opt --axonn-build-training-step --axonn-shard | FileCheck %s --check-prefix=ONE
// ONE-LABEL: func.func @train_step(
// ONE-SAME: tensor<8x16xi32, #axonn.layout<{{\[\[}}], []]>> {axonn.input = "tokens"}
// ONE-SAME: tensor<64x32xf32, #axonn.layout<{{\[\[}}], []]>> {axonn.param = "wte"}
// ONE-NOT: axonn.reshard
// ONE: return

// Grid axes of size 1 drop out of layouts: on 1x2x1x4, weights are split
// over y only and not stored split.
// RUN: sed 's/x = 2, y = 2, z = 2, data = 2/x = 1, y = 2, z = 1, data = 4/' %s | axonn-opt --axonn-build-training-step --axonn-shard | FileCheck %s --check-prefix=Y4
// Y4-LABEL: func.func @train_step(
// Y4-SAME: tensor<8x16xi32, #axonn.layout<{{\[\[}}data], []]>> {axonn.input = "tokens"}
// Y4-SAME: tensor<64x32xf32, #axonn.layout<{{\[\[}}y], []]>> {axonn.param = "wte"}
// Y4: axonn.linear %{{.*}}, %arg4 : (tensor<8x16x32xf32, #axonn.layout<{{\[\[}}data], [], []]>>, tensor<64x32xf32, #axonn.layout<{{\[\[}}y], []]>>) -> tensor<8x16x64xf32, #axonn.layout<{{\[\[}}data], [], [y]]>>

// A vocabulary that does not divide over y and z (50 over 2x2) is padded to
// 52 rows, and the loss ignores the padding. Sharded or not, on any grid,
// the step computes the same loss (the test draws the real rows alike), and
// its gradients match finite differences through the reshards.
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard | FileCheck %s --check-prefix=PAD
// PAD-LABEL: func.func @train_step(
// PAD-SAME: tensor<52x16xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>> {{{.*}}axonn.param = "transformer.wte.weight"}
// PAD-SAME: tensor<52x16xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>> {axonn.state = "m", axonn.state_of = "transformer.wte.weight"}
// PAD: axonn.lm_head_loss {{.*}} {vocab_size = 50 : i64}
// PAD: axonn.lm_head_loss_grad {{.*}} {vocab_size = 50 : i64}
// PAD: axonn.embedding_grad {{.*}} -> tensor<52x16xf32,
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-build-training-step --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=SAME-LOSS
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=SAME-LOSS
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=1x2x4x1" --axonn-build-training-step --axonn-shard --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=SAME-LOSS
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=1" --axonn-build-training-step --axonn-shard=vocab-multiple=8 --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=SAME-LOSS
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=1x2x4x1" --axonn-build-training-step --axonn-shard=vocab-multiple=8 --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=SAME-LOSS
// SAME-LOSS: loss 3.918350 (@train_step), 3.918350 (@forward)
// SAME-LOSS: max relative error {{.*}} (tolerance 1.0E-06): ok

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

// vocab-multiple pads every slice to a multiple of its rows, on one rank
// too (50 -> 56), and over y x z = 8 (50 -> 64: slices of 8).
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=1" --axonn-build-training-step --axonn-shard=vocab-multiple=8 | FileCheck %s --check-prefix=MULT1
// MULT1-LABEL: func.func @train_step(
// MULT1-SAME: tensor<56x16xf32, #axonn.layout<{{\[\[}}], []]>> {{{.*}}axonn.param = "transformer.wte.weight"}
// MULT1: axonn.lm_head_loss {{.*}} {vocab_size = 50 : i64}
// MULT1: axonn.embedding_grad {{.*}} -> tensor<56x16xf32,
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=8 grid=1x2x4x1" --axonn-build-training-step --axonn-shard=vocab-multiple=8 | FileCheck %s --check-prefix=MULT8
// MULT8-LABEL: func.func @train_step(
// MULT8-SAME: tensor<64x16xf32, #axonn.layout<{{\[\[}}y], []], storage = [z]>> {{{.*}}axonn.param = "transformer.wte.weight"}
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | not axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=1" --axonn-build-training-step --axonn-shard=vocab-multiple=0 2>&1 | FileCheck %s --check-prefix=MULT0
// MULT0: error: --axonn-shard: vocab-multiple=0 must be from 1 to 65536
// (a huge multiple overflowed the padded size: a division by zero)
// RUN: axonn-translate --import-model-spec %S/Inputs/odd-vocab-gpt.json | not axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=4" --axonn-build-training-step --axonn-shard=vocab-multiple=4611686018427387904 2>&1 | FileCheck %s --check-prefix=MULTHUGE
// MULTHUGE: error: --axonn-shard: vocab-multiple=4611686018427387904 must be from 1 to 65536
