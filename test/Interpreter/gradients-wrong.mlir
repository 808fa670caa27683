// --axonn-test-gradients catches a wrong backward: this @train_step
// differentiates a tanh-approximated GELU with the exact GELU's derivative
// (they differ by about 1e-3 relative), and the check fails.
// RUN: %expect-exit 1 axonn-opt %s --axonn-test-gradients -o /dev/null 2>%t.err | FileCheck %s
// RUN: FileCheck %s --check-prefix=ERR --input-file=%t.err
// CHECK: loss {{.*}} (@train_step), {{.*}} (@forward)
// CHECK: max relative error {{.*}} (tolerance 1.0E-06): FAILED
// ERR: error: gradients differ from finite differences by

#training = #axonn.training<global_batch = 2, seq_len = 4, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>
module attributes {axonn.training = #training} {
  func.func @forward(%t: tensor<2x4xi32> {axonn.input = "tokens"}, %y: tensor<2x4xi32> {axonn.input = "targets"},
                     %w: tensor<8x4xf32> {axonn.param = "w", axonn.init = #axonn.init<normal, std = 1.0>}) -> tensor<f32> {
    %x = axonn.embedding %t, %w : (tensor<2x4xi32>, tensor<8x4xf32>) -> tensor<2x4x4xf32>
    %g = axonn.gelu %x tanh : tensor<2x4x4xf32>
    %l = axonn.lm_head_loss %g, %w, %y : (tensor<2x4x4xf32>, tensor<8x4xf32>, tensor<2x4xi32>) -> tensor<f32>
    return %l : tensor<f32>
  }
  func.func @train_step(%t: tensor<2x4xi32> {axonn.input = "tokens"}, %y: tensor<2x4xi32> {axonn.input = "targets"},
                        %w: tensor<8x4xf32> {axonn.param = "w", axonn.init = #axonn.init<normal, std = 1.0>},
                        %step: tensor<i64> {axonn.input = "step"},
                        %m: tensor<8x4xf32> {axonn.state = "m", axonn.state_of = "w"},
                        %v: tensor<8x4xf32> {axonn.state = "v", axonn.state_of = "w"}) -> tensor<f32> {
    %x = axonn.embedding %t, %w : (tensor<2x4xi32>, tensor<8x4xf32>) -> tensor<2x4x4xf32>
    %g = axonn.gelu %x tanh : tensor<2x4x4xf32>
    %l = axonn.lm_head_loss %g, %w, %y : (tensor<2x4x4xf32>, tensor<8x4xf32>, tensor<2x4xi32>) -> tensor<f32>
    %dg, %dw1 = axonn.lm_head_loss_grad %g, %w, %y : (tensor<2x4x4xf32>, tensor<8x4xf32>, tensor<2x4xi32>) -> (tensor<2x4x4xf32>, tensor<8x4xf32>)
    // Wrong on purpose: `none` where the forward used `tanh`.
    %dx = axonn.gelu_grad %dg, %x none : tensor<2x4x4xf32>
    %dw2 = axonn.embedding_grad %dx, %t : (tensor<2x4x4xf32>, tensor<2x4xi32>) -> tensor<8x4xf32>
    %dw = axonn.add %dw1, %dw2 : tensor<8x4xf32>
    %n = axonn.global_norm %dw : tensor<8x4xf32> -> tensor<f32>
    %w1, %m1, %v1 = axonn.adamw %w, %dw, %m, %v step %step norm %n {training = #training} : (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>, tensor<i64>, tensor<f32>) -> (tensor<8x4xf32>, tensor<8x4xf32>, tensor<8x4xf32>)
    return %l : tensor<f32>
  }
}
