// --axonn-plan-memory assigns every temporary a workspace offset by
// liveness, first fit in program order.
// RUN: axonn-opt %s --axonn-plan-memory | FileCheck %s
// RUN: axonn-opt %s --axonn-plan-memory | axonn-opt | FileCheck %s

module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 2, data = 1>} {
  // CHECK-LABEL: func.func @step
  // Held across the step: the weight (8 KiB) and the input (1 KiB).
  // CHECK-SAME: axonn.memory_plan = {inputs = 1024 : i64, optimizer = 0 : i64, total = 27648 : i64, weights = 8192 : i64, workspace = 18432 : i64}
  func.func @step(%x: tensor<4x64xf32>, %w: tensor<32x64xf32> {axonn.param = "w"}) -> tensor<4x64xf32> {
    // The gathered weight (16 KiB) is written while the gather is in
    // flight: its buffer exists from the start.
    // CHECK: axonn.all_gather_start {{.*}} {axonn.buffers = array<i64: -1>}
    %h = axonn.all_gather_start %w over [z] dim 0 : tensor<32x64xf32> -> !axonn.handle<tensor<64x64xf32>>
    // CHECK: axonn.gelu {{.*}} {axonn.buffers = array<i64: 16384>}
    %a = axonn.gelu %x tanh : tensor<4x64xf32>
    // CHECK: axonn.wait {{.*}} {axonn.buffers = array<i64: 0>}
    %g = axonn.wait %h : !axonn.handle<tensor<64x64xf32>>
    // CHECK: axonn.linear {{.*}} {axonn.buffers = array<i64: 17408>}
    %y = axonn.linear %a, %g : (tensor<4x64xf32>, tensor<64x64xf32>) -> tensor<4x64xf32>
    // The all-reduce works in place; %y stays live until its wait.
    // CHECK: axonn.all_reduce_start {{.*}} {axonn.buffers = array<i64: -1>}
    %r = axonn.all_reduce_start sum %y over [x] : tensor<4x64xf32> -> !axonn.handle<tensor<4x64xf32>>
    // %a and the gathered weight died at the linear: first fit reuses 0.
    // CHECK: axonn.gelu {{.*}} {axonn.buffers = array<i64: 0>}
    %b = axonn.gelu %x none : tensor<4x64xf32>
    // CHECK: axonn.wait {{.*}} {axonn.buffers = array<i64: 17408>}
    %ry = axonn.wait %r : !axonn.handle<tensor<4x64xf32>>
    // CHECK: axonn.add {{.*}} {axonn.buffers = array<i64: 1024>}
    %s = axonn.add %ry, %b : tensor<4x64xf32>
    return %s : tensor<4x64xf32>
  }

  // AdamW updates its parameter and state in place: no workspace; a
  // gradient that its all-reduce still reads later keeps its own buffer.
  // CHECK-LABEL: func.func @update
  // CHECK-SAME: axonn.memory_plan = {inputs = 512 : i64, optimizer = 512 : i64, total = 2048 : i64, weights = 256 : i64, workspace = 768 : i64}
  func.func @update(%p: tensor<64xf32> {axonn.param = "p"},
                    %m: tensor<64xf32> {axonn.state = "m", axonn.state_of = "p"},
                    %v: tensor<64xf32> {axonn.state = "v", axonn.state_of = "p"},
                    %g: tensor<64xf32>, %step: tensor<i64>) -> (tensor<64xf32>, tensor<64xf32>) {
    // CHECK: axonn.add {{.*}} {axonn.buffers = array<i64: 0>}
    %g2 = axonn.add %g, %g : tensor<64xf32>
    // CHECK: axonn.all_reduce {{.*}} {axonn.buffers = array<i64: 256>}
    %gr = axonn.all_reduce sum %g2 over [x] : tensor<64xf32>
    // Every buffer is aligned to 256 bytes, a scalar too.
    // CHECK: axonn.global_norm {{.*}} {axonn.buffers = array<i64: 512>}
    %n = axonn.global_norm %gr : tensor<64xf32> -> tensor<f32>
    // CHECK: axonn.adamw {{.*}} {axonn.buffers = array<i64: -1, -1, -1>
    %u:3 = axonn.adamw %p, %gr, %m, %v step %step norm %n {training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<i64>, tensor<f32>) -> (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>)
    return %u#0, %g2 : tensor<64xf32>, tensor<64xf32>
  }
}
