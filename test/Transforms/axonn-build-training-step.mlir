// --axonn-build-training-step adds @train_step: forward, backward op by op in
// reverse, the global gradient norm and AdamW per parameter.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step | FileCheck %s --enable-var-scope
// The result verifies and round-trips.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step | axonn-opt | FileCheck %s --enable-var-scope

// @forward stays.
// CHECK-LABEL: func.func @forward(
// Inputs and parameters keep their order; then the step; then each
// parameter's first moments, then second moments (f32 model: no master).
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: %[[TOK:arg0]]: tensor<8x16xi32> {axonn.input = "tokens"}, %[[TGT:arg1]]: tensor<8x16xi32> {axonn.input = "targets"},
// CHECK-SAME: %[[WTE:arg2]]: tensor<64x32xf32> {axonn.param = "wte"},
// CHECK-SAME: %[[HEAD:arg10]]: tensor<64x32xf32> {axonn.param = "head"}, %[[STEP:arg11]]: tensor<i64> {axonn.input = "step"},
// CHECK-SAME: %[[MWTE:arg12]]: tensor<64x32xf32> {axonn.state = "m", axonn.state_of = "wte"},
// CHECK-SAME: %[[VWTE:arg21]]: tensor<64x32xf32> {axonn.state = "v", axonn.state_of = "wte"},
// CHECK-SAME: %arg29: tensor<64x32xf32> {axonn.state = "v", axonn.state_of = "head"})
// Results: the loss, the gradient norm, the parameters, the states, tagged
// like the arguments.
// CHECK-SAME: -> (tensor<f32> {axonn.output = "loss"}, tensor<f32> {axonn.output = "grad_norm"}, tensor<64x32xf32> {axonn.param = "wte"},
// CHECK-SAME: tensor<64x32xf32> {axonn.state = "v", axonn.state_of = "head"})
//
// The forward, as in @forward.
// CHECK: %[[X:.*]] = axonn.embedding %[[TOK]], %[[WTE]]
// CHECK: %[[N1:.*]] = axonn.rms_norm %[[X]]
// CHECK: %[[QKV:.*]] = axonn.linear %[[N1]], %[[WQKV:arg4]] :
// In the training step, attention also gives its softmax statistics (lse).
// CHECK: %[[ATT:[^,]*]], %[[LSE:.*]] = axonn.attention %[[QKV]]
// CHECK: %[[O:.*]] = axonn.linear %[[ATT]], %[[WO:arg5]] transposed
// CHECK: %[[R:.*]] = axonn.add %[[X]], %[[O]]
// CHECK: %[[N2:.*]] = axonn.rms_norm %[[R]]
// CHECK: %[[U:.*]] = axonn.linear %[[N2]], %[[WUP:arg7]] :
// CHECK: %[[G:.*]] = axonn.gelu %[[U]] tanh
// CHECK: %[[D:.*]] = axonn.linear %[[G]], %[[WDOWN:arg8]] transposed
// CHECK: %[[R2:.*]] = axonn.add %[[R]], %[[D]]
// CHECK: %[[NF:.*]] = axonn.rms_norm %[[R2]]
// CHECK: %[[LOSS:.*]] = axonn.lm_head_loss %[[NF]], %[[HEAD]], %[[TGT]]
// The backward, last op first; every rule reads the forward inputs it needs.
// CHECK-NEXT: %[[DH:.*]], %[[DHEAD:.*]] = axonn.lm_head_loss_grad %[[NF]], %[[HEAD]], %[[TGT]]
// CHECK-NEXT: %[[DR2:.*]], %[[DNF:.*]] = axonn.rms_norm_grad %[[DH]], %[[R2]], %arg9
// A transposed linear: dX = dY W and dW = dY^T X, keeping the marker.
// CHECK-NEXT: %[[DG:.*]] = axonn.linear_grad_input %[[DR2]], %[[WDOWN]] transposed
// CHECK-NEXT: %[[DWDOWN:.*]] = axonn.linear_grad_weight %[[DR2]], %[[G]] transposed
// CHECK-NEXT: %[[DU:.*]] = axonn.gelu_grad %[[DG]], %[[U]] tanh
// CHECK-NEXT: %[[DN2:.*]] = axonn.linear_grad_input %[[DU]], %[[WUP]] :
// CHECK-NEXT: %[[DWUP:.*]] = axonn.linear_grad_weight %[[DU]], %[[N2]] :
// CHECK-NEXT: %[[DRN:.*]], %[[DNORM2:.*]] = axonn.rms_norm_grad %[[DN2]], %[[R]], %arg6
// The residual stream's gradient adds up over its two uses.
// CHECK-NEXT: %[[DR:.*]] = axonn.add %[[DR2]], %[[DRN]]
// CHECK-NEXT: %[[DATT:.*]] = axonn.linear_grad_input %[[DR]], %[[WO]] transposed
// CHECK-NEXT: %[[DWO:.*]] = axonn.linear_grad_weight %[[DR]], %[[ATT]] transposed
// CHECK-NEXT: %[[DQKV:.*]] = axonn.attention_grad %[[DATT]], %[[QKV]], %[[ATT]], %[[LSE]] heads 4 kv_heads 4 causal
// CHECK-NEXT: %[[DN1:.*]] = axonn.linear_grad_input %[[DQKV]], %[[WQKV]] :
// CHECK-NEXT: %[[DWQKV:.*]] = axonn.linear_grad_weight %[[DQKV]], %[[N1]] :
// CHECK-NEXT: %[[DXN:.*]], %[[DNORM1:.*]] = axonn.rms_norm_grad %[[DN1]], %[[X]], %arg3
// CHECK-NEXT: %[[DX:.*]] = axonn.add %[[DR]], %[[DXN]]
// CHECK-NEXT: %[[DWTE:.*]] = axonn.embedding_grad %[[DX]], %[[TOK]]
// One norm over all gradients, then AdamW per parameter; decay on matrices.
// CHECK-NEXT: %[[NORM:.*]] = axonn.global_norm %[[DWTE]], %[[DNORM1]], %[[DWQKV]], %[[DWO]], %[[DNORM2]], %[[DWUP]], %[[DWDOWN]], %[[DNF]], %[[DHEAD]] :
// CHECK-NEXT: %[[NEWWTE:.*]], %{{.*}}, %{{.*}} = axonn.adamw %[[WTE]], %[[DWTE]], %[[MWTE]], %[[VWTE]] step %[[STEP]] norm %[[NORM]] decay {training = #training}
// CHECK-NEXT: axonn.adamw %arg3, %[[DNORM1]], %arg13, %arg22 step %[[STEP]] norm %[[NORM]] {training = #training}
// CHECK-COUNT-7: axonn.adamw
// CHECK: return %[[LOSS]], %[[NORM]], %[[NEWWTE]],

// Training in bfloat16 keeps f32 master weights as a third state.
// RUN: rm -rf %t && mkdir -p %t
// RUN: echo '{"n_layer": 1, "n_embd": 8, "n_head": 2, "vocab_size": 16, "n_positions": 8, "training": {"global_batch": 2, "seq_len": 8, "dtype": "bfloat16"}}' > %t/bf16.json
// RUN: axonn-translate --import-model-spec %t/bf16.json | axonn-opt --axonn-build-training-step | FileCheck %s --check-prefix=BF16
// BF16: %arg{{[0-9]+}}: tensor<16x8xf32> {axonn.state = "master", axonn.state_of = "transformer.wte.weight"}
// A tied LM head: the embedding's gradient adds the head's.
// BF16: %{{[a-z_0-9]+}}, %[[HEADGRAD:[a-z_0-9]+]] = axonn.lm_head_loss_grad %{{.*}}, %arg2, %arg1
// BF16: %[[LOOKUPGRAD:[0-9]+]] = axonn.embedding_grad
// BF16-NEXT: %[[WTEGRAD:[0-9]+]] = axonn.add %[[HEADGRAD]], %[[LOOKUPGRAD]] : tensor<16x8xbf16>
// BF16: axonn.adamw %arg2, %[[WTEGRAD]], %{{.*}}, %{{.*}} master %{{.*}} step %{{.*}} norm %{{.*}} decay {training = #training} : (tensor<16x8xbf16>, tensor<16x8xbf16>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<i64>, tensor<f32>) -> (tensor<16x8xbf16>, tensor<16x8xf32>, tensor<16x8xf32>, tensor<16x8xf32>)

// Selective recompute rebuilds attention, norm and GELU outputs from their
// kept inputs right before backward reads them.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step=recompute=selective | FileCheck %s --check-prefix=SELECTIVE
// SELECTIVE-LABEL: func.func @train_step
// SELECTIVE: %[[U:.*]] = axonn.linear %{{.*}}, %arg7 :
// SELECTIVE: axonn.lm_head_loss_grad
// SELECTIVE: %[[G2:.*]] = axonn.gelu %[[U]] tanh
// SELECTIVE-NEXT: axonn.linear_grad_weight %{{.*}}, %[[G2]] transposed
// SELECTIVE: %[[A2:[^,]*]], %[[L2:.*]] = axonn.attention %{{.*}} heads 4
// SELECTIVE-NEXT: axonn.linear_grad_weight %{{.*}}, %[[A2]] transposed
// SELECTIVE-NEXT: axonn.attention_grad %{{.*}}, %{{.*}}, %[[A2]], %[[L2]]

// Full recompute keeps each layer's input (the embedding output here) and
// rebuilds the layer before its backward; the layer's output is kept too.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step=recompute=full | FileCheck %s --check-prefix=FULL
// FULL-LABEL: func.func @train_step
// FULL: %[[X:.*]] = axonn.embedding
// FULL: axonn.add
// FULL: %[[R2:.*]] = axonn.add
// FULL: axonn.lm_head_loss_grad
// FULL-NEXT: axonn.rms_norm_grad %{{.*}}, %[[R2]], %arg9
// FULL-NEXT: axonn.linear_grad_input
// The first backward op that reads a value inside the layer triggers it.
// FULL-NEXT: axonn.rms_norm %[[X]], %arg3
// FULL-NEXT: axonn.linear
// FULL-NEXT: axonn.attention
// FULL-NEXT: axonn.linear
// FULL-NEXT: axonn.add %[[X]]
// FULL-NEXT: axonn.rms_norm
// FULL-NEXT: axonn.linear
// FULL-NEXT: %[[G:.*]] = axonn.gelu
// FULL-NEXT: axonn.linear_grad_weight %{{.*}}, %[[G]] transposed
// The module's axonn.recompute is the default policy.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/small-memory-machine.json gpus=1" --axonn-build-training-step 2>&1 | FileCheck %s --check-prefix=FROM-PLAN
// FROM-PLAN: axonn.recompute = #axonn.recompute<none>

// The gradients agree with five-point finite differences of @forward's loss
// in fp64 (the reference interpreter) to 1e-6 relative, for both model
// families and every recompute policy.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-build-training-step --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-build-training-step=recompute=selective --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-build-training-step=recompute=full --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-build-training-step --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// RUN: axonn-translate --import-model-spec %examples/models/tiny-llama.json | axonn-opt --axonn-build-training-step=recompute=full --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// With the Goldfish loss (hash and static), the mask's divisor included.
// RUN: echo '{"n_layer": 1, "n_embd": 16, "n_head": 2, "vocab_size": 32, "n_positions": 16, "training": {"global_batch": 2, "seq_len": 16, "goldfish": {"k": 2, "h": 2}}}' > %t/goldfish.json
// RUN: axonn-translate --import-model-spec %t/goldfish.json | axonn-opt --axonn-build-training-step --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// RUN: echo '{"n_layer": 1, "n_embd": 16, "n_head": 2, "vocab_size": 32, "n_positions": 16, "training": {"global_batch": 2, "seq_len": 16, "goldfish": {"k": 3, "strategy": "static"}}}' > %t/static.json
// RUN: axonn-translate --import-model-spec %t/static.json | axonn-opt --axonn-build-training-step --axonn-test-gradients -o /dev/null | FileCheck %s --check-prefix=GRAD
// The loss gradient keeps the mask.
// RUN: axonn-translate --import-model-spec %t/goldfish.json | axonn-opt --axonn-build-training-step | FileCheck %s --check-prefix=GOLDFISH
// GOLDFISH: axonn.lm_head_loss {{.*}} {goldfish = #axonn.goldfish<strategy = hash, k = 2, h = 2>}
// GOLDFISH: axonn.lm_head_loss_grad {{.*}} {goldfish = #axonn.goldfish<strategy = hash, k = 2, h = 2>}
// GRAD: loss [[LOSS:[0-9.]+]] (@train_step), [[LOSS]] (@forward)
// GRAD: max relative error {{.*}} (tolerance 1.0E-06): ok
