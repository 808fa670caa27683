// Every refusal of --axonn-build-training-step.
// RUN: rm -rf %t && mkdir -p %t

// The hyper-parameters are required.
// RUN: echo 'module { func.func @f(%%t: tensor<1x2xi32>, %%w: tensor<4x2xf32>) -> tensor<f32> { %%x = axonn.embedding %%t, %%w : (tensor<1x2xi32>, tensor<4x2xf32>) -> tensor<1x2x2xf32>  %%l = axonn.lm_head_loss %%x, %%w, %%t : (tensor<1x2x2xf32>, tensor<4x2xf32>, tensor<1x2xi32>) -> tensor<f32>  return %%l : tensor<f32> } }' > %t/no-training.mlir
// RUN: %expect-exit 1 axonn-opt %t/no-training.mlir --axonn-build-training-step 2>&1 | FileCheck %s --check-prefix=NO-TRAINING
// NO-TRAINING: no-training.mlir:1:1: error: --axonn-build-training-step needs the module's 'axonn.training' hyper-parameters

// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step=recompute=some 2>&1 | FileCheck %s --check-prefix=BAD-POLICY
// BAD-POLICY: one-layer.mlir:1:1: error: --axonn-build-training-step: recompute='some' is not one of none, selective, full

// Twice is an error, not a second step.
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-build-training-step --axonn-build-training-step 2>&1 | FileCheck %s --check-prefix=TWICE
// TWICE: error: the module already has a @train_step

// RUN: echo 'module {}' > %t/empty.mlir
// RUN: %expect-exit 1 axonn-opt %t/empty.mlir --axonn-build-training-step 2>&1 | FileCheck %s --check-prefix=NO-MODEL
// NO-MODEL: empty.mlir:1:1: error: no model-level forward function (one holding axonn.embedding and no optimizer) for --axonn-build-training-step

// A parameter that does not reach the loss cannot be trained.
// RUN: echo 'module attributes {axonn.training = #axonn.training<global_batch = 1, seq_len = 2, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} { func.func @f(%%t: tensor<1x2xi32>, %%w: tensor<4x2xf32> {axonn.param = "w"}, %%unused: tensor<2xf32> {axonn.param = "unused"}) -> tensor<f32> { %%x = axonn.embedding %%t, %%w : (tensor<1x2xi32>, tensor<4x2xf32>) -> tensor<1x2x2xf32>  %%l = axonn.lm_head_loss %%x, %%w, %%t : (tensor<1x2x2xf32>, tensor<4x2xf32>, tensor<1x2xi32>) -> tensor<f32>  return %%l : tensor<f32> } }' > %t/unused.mlir
// RUN: %expect-exit 1 axonn-opt %t/unused.mlir --axonn-build-training-step 2>&1 | FileCheck %s --check-prefix=UNUSED
// UNUSED: error: 'func.func' op parameter "unused" does not reach the loss; it cannot be trained

// The function must end in the LM head loss.
// RUN: echo 'module attributes {axonn.training = #axonn.training<global_batch = 1, seq_len = 2, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} { func.func @f(%%t: tensor<1x2xi32>, %%w: tensor<4x2xf32> {axonn.param = "w"}) -> tensor<1x2x2xf32> { %%x = axonn.embedding %%t, %%w : (tensor<1x2xi32>, tensor<4x2xf32>) -> tensor<1x2x2xf32>  return %%x : tensor<1x2x2xf32> } }' > %t/no-loss.mlir
// RUN: %expect-exit 1 axonn-opt %t/no-loss.mlir --axonn-build-training-step 2>&1 | FileCheck %s --check-prefix=NO-LOSS
// NO-LOSS: error: 'func.func' op must return the loss of an axonn.lm_head_loss to be trained
