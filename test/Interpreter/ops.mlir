// The reference interpreter against numbers computed by hand (python's math
// module for the transcendental ones), 6 significant digits.
// RUN: axonn-opt %s --axonn-test-interpret -o /dev/null | FileCheck %s

// mean 2, variance 2/3: (x - 2) / sqrt(2/3) * g + b.
// CHECK-LABEL: @layer_norm:
// CHECK-NEXT: result #0: -1.22474 0 1.22474
// CHECK-NEXT: result #1: -0.224745 1 3.22474
func.func @layer_norm(%x: tensor<1x3xf32> {test.value = dense<[[1.0, 2.0, 3.0]]> : tensor<1x3xf32>},
                      %g: tensor<3xf32> {test.value = dense<[1.0, 1.0, 1.0]> : tensor<3xf32>},
                      %g2: tensor<3xf32> {test.value = dense<[1.0, 1.0, 1.0]> : tensor<3xf32>},
                      %b: tensor<3xf32> {test.value = dense<[0.0, 0.0, 0.0]> : tensor<3xf32>},
                      %b2: tensor<3xf32> {test.value = dense<[1.0, 1.0, 2.0]> : tensor<3xf32>})
    -> (tensor<1x3xf32>, tensor<1x3xf32>) {
  %y = axonn.layer_norm %x, %g, %b eps 1.0e-30 : tensor<1x3xf32>, tensor<3xf32>
  %y2 = axonn.layer_norm %x, %g2, %b2 eps 1.0e-30 : tensor<1x3xf32>, tensor<3xf32>
  return %y, %y2 : tensor<1x3xf32>, tensor<1x3xf32>
}

// rms([3, 4]) = sqrt(12.5): [3, 4] / 3.53553 * [1, 2].
// CHECK-LABEL: @rms_norm:
// CHECK-NEXT: result #0: 0.848528 2.26274
func.func @rms_norm(%x: tensor<1x2xf32> {test.value = dense<[[3.0, 4.0]]> : tensor<1x2xf32>},
                    %g: tensor<2xf32> {test.value = dense<[1.0, 2.0]> : tensor<2xf32>}) -> tensor<1x2xf32> {
  %y = axonn.rms_norm %x, %g eps 1.0e-30 : tensor<1x2xf32>, tensor<2xf32>
  return %y : tensor<1x2xf32>
}

// GELU at 1 and -1 (tanh form and exact); SwiGLU of the pair (gate 1,
// up -1): silu(1) * -1.
// CHECK-LABEL: @activations:
// CHECK-NEXT: result #0: 0.841192 -0.158808
// CHECK-NEXT: result #1: 0.841345 -0.158655
// CHECK-NEXT: result #2: -0.731059
func.func @activations(%x: tensor<2xf32> {test.value = dense<[1.0, -1.0]> : tensor<2xf32>})
    -> (tensor<2xf32>, tensor<2xf32>, tensor<1xf32>) {
  %t = axonn.gelu %x tanh : tensor<2xf32>
  %e = axonn.gelu %x none : tensor<2xf32>
  %s = axonn.swiglu %x : tensor<2xf32> -> tensor<1xf32>
  return %t, %e, %s : tensor<2xf32>, tensor<2xf32>, tensor<1xf32>
}

// One head of dimension 2, causal, qkv = [q k v] per position:
// q0 = k0 = [1, 0], v0 = [1, 2]; q1 = k1 = [0, 1], v1 = [3, 4].
// Position 0 sees only itself; position 1 weighs scores 0 and 1/sqrt(2).
// CHECK-LABEL: @attention:
// CHECK-NEXT: result #0: 1 2 2.33952 3.33952
func.func @attention(%qkv: tensor<1x2x6xf32> {test.value = dense<[[[1.0, 0.0, 1.0, 0.0, 1.0, 2.0], [0.0, 1.0, 0.0, 1.0, 3.0, 4.0]]]> : tensor<1x2x6xf32>})
    -> tensor<1x2x2xf32> {
  %o = axonn.attention %qkv heads 1 kv_heads 1 causal : tensor<1x2x6xf32> -> tensor<1x2x2xf32>
  return %o : tensor<1x2x2xf32>
}

// logits [1, 0, 0], target 0: log(e + 2) - 1.
// CHECK-LABEL: @loss:
// CHECK-NEXT: result #0: 0.551445
func.func @loss(%h: tensor<1x1x2xf32> {test.value = dense<[[[1.0, 0.0]]]> : tensor<1x1x2xf32>},
                %w: tensor<3x2xf32> {test.value = dense<[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]> : tensor<3x2xf32>},
                %t: tensor<1x1xi32> {test.value = dense<0> : tensor<1x1xi32>}) -> tensor<f32> {
  %l = axonn.lm_head_loss %h, %w, %t : (tensor<1x1x2xf32>, tensor<3x2xf32>, tensor<1x1xi32>) -> tensor<f32>
  return %l : tensor<f32>
}

// The Goldfish loss averages over the kept targets only. Two positions:
// logits [1, 0, 0] then [0, 1, 0]; the mean over both would be 1.05145.
// static k = 2 drops position 1 (t + 1 = 2): log(e + 2) - 1 remains.
// CHECK-LABEL: @goldfish_static:
// CHECK-NEXT: result #0: 0.551445
func.func @goldfish_static(%h: tensor<1x2x2xf32> {test.value = dense<[[[1.0, 0.0], [0.0, 1.0]]]> : tensor<1x2x2xf32>},
                %w: tensor<3x2xf32> {test.value = dense<[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]> : tensor<3x2xf32>},
                %t: tensor<1x2xi32> {test.value = dense<[[0, 2]]> : tensor<1x2xi32>}) -> tensor<f32> {
  %l = axonn.lm_head_loss %h, %w, %t {goldfish = #axonn.goldfish<strategy = static, k = 2, h = 13>} : (tensor<1x2x2xf32>, tensor<3x2xf32>, tensor<1x2xi32>) -> tensor<f32>
  return %l : tensor<f32>
}
// hash, h = 1, k = 4: key = the target; table[0] = 0.285 keeps target 0,
// table[2] = 0.182 < 1/4 drops target 2 (values from the Python reference
// of unittests/GoldfishMaskTest.cpp).
// CHECK-LABEL: @goldfish_hash:
// CHECK-NEXT: result #0: 0.551445
func.func @goldfish_hash(%h: tensor<1x2x2xf32> {test.value = dense<[[[1.0, 0.0], [0.0, 1.0]]]> : tensor<1x2x2xf32>},
                %w: tensor<3x2xf32> {test.value = dense<[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]> : tensor<3x2xf32>},
                %t: tensor<1x2xi32> {test.value = dense<[[0, 2]]> : tensor<1x2xi32>}) -> tensor<f32> {
  %l = axonn.lm_head_loss %h, %w, %t {goldfish = #axonn.goldfish<strategy = hash, k = 4, h = 1>} : (tensor<1x2x2xf32>, tensor<3x2xf32>, tensor<1x2xi32>) -> tensor<f32>
  return %l : tensor<f32>
}

// AdamW, lr 0.1 (no warmup), beta (0.9, 0.95), eps 1e-8, decay 0.1,
// clip 1.0. Step 0, g = 0.5: m = 0.05, v = 0.0125, both debias to 0.5 and
// 0.25, p = 1 - 0.1 * (0.5 / (0.5 + 1e-8) + 0.1 * 1) = 0.890000002.
// CHECK-LABEL: @adamw_first_step:
// CHECK-NEXT: result #0: 0.89
// CHECK-NEXT: result #1: 0.05
// CHECK-NEXT: result #2: 0.0125
func.func @adamw_first_step(%p: tensor<1xf32> {test.value = dense<1.0> : tensor<1xf32>},
                            %g: tensor<1xf32> {test.value = dense<0.5> : tensor<1xf32>},
                            %m: tensor<1xf32> {test.value = dense<0.0> : tensor<1xf32>},
                            %v: tensor<1xf32> {test.value = dense<0.0> : tensor<1xf32>},
                            %step: tensor<i64> {test.value = dense<0> : tensor<i64>},
                            %norm: tensor<f32> {test.value = dense<0.5> : tensor<f32>})
    -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) {
  %p1, %m1, %v1 = axonn.adamw %p, %g, %m, %v step %step norm %norm decay {training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.01, warmup_steps = 0, steps = 10, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 0>} : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<i64>, tensor<f32>) -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>)
  return %p1, %m1, %v1 : tensor<1xf32>, tensor<1xf32>, tensor<1xf32>
}

// Step 5 of warmup 2 / 10 steps, cosine from 0.1 to 0.01: progress 3/8,
// lr = 0.01 + 0.045 (1 + cos(3 pi / 8)) = 0.0722208; t = 6 debiases by
// 1 - 0.9^6 and 1 - 0.95^6; no decay: p = 0.964522.
// CHECK-LABEL: @adamw_schedule:
// CHECK-NEXT: result #0: 0.964522
func.func @adamw_schedule(%p: tensor<1xf32> {test.value = dense<1.0> : tensor<1xf32>},
                          %g: tensor<1xf32> {test.value = dense<0.5> : tensor<1xf32>},
                          %m: tensor<1xf32> {test.value = dense<0.0> : tensor<1xf32>},
                          %v: tensor<1xf32> {test.value = dense<0.0> : tensor<1xf32>},
                          %step: tensor<i64> {test.value = dense<5> : tensor<i64>},
                          %norm: tensor<f32> {test.value = dense<0.5> : tensor<f32>}) -> tensor<1xf32> {
  %p1, %m1, %v1 = axonn.adamw %p, %g, %m, %v step %step norm %norm {training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.01, warmup_steps = 2, steps = 10, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 0>} : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<i64>, tensor<f32>) -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>)
  return %p1 : tensor<1xf32>
}

// Clipping: gradient 4 with global norm 4 and clip 1 scales to 4 / (4 +
// 1e-6): m = 0.1 * 0.999999750, v = 0.05 * 0.999999500.
// CHECK-LABEL: @adamw_clipped:
// CHECK-NEXT: result #0: 0.9
// CHECK-NEXT: result #1: 0.1
// CHECK-NEXT: result #2: 0.05
func.func @adamw_clipped(%p: tensor<1xf32> {test.value = dense<1.0> : tensor<1xf32>},
                         %g: tensor<1xf32> {test.value = dense<4.0> : tensor<1xf32>},
                         %m: tensor<1xf32> {test.value = dense<0.0> : tensor<1xf32>},
                         %v: tensor<1xf32> {test.value = dense<0.0> : tensor<1xf32>},
                         %step: tensor<i64> {test.value = dense<0> : tensor<i64>},
                         %norm: tensor<f32> {test.value = dense<4.0> : tensor<f32>})
    -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) {
  %p1, %m1, %v1 = axonn.adamw %p, %g, %m, %v step %step norm %norm {training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.01, warmup_steps = 0, steps = 10, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 0>} : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<i64>, tensor<f32>) -> (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>)
  return %p1, %m1, %v1 : tensor<1xf32>, tensor<1xf32>, tensor<1xf32>
}
