// --axonn-print-collectives lists every collective of a per-rank program in
// program order and says which asynchronous ones have compute between start
// and wait; it does not change the IR.
// RUN: axonn-opt %s --axonn-print-collectives | FileCheck %s
// RUN: axonn-opt %s --axonn-print-collectives -o /dev/null | FileCheck %s --check-prefix=REPORT

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 1, data = 2>} {
  func.func @train_step(%h: tensor<4x8x16xf32>, %dy: tensor<4x8x24xf32>,
                        %w: tensor<24x16xf32> {axonn.param = "h.0.qkv"},
                        %m: tensor<24x16xf32>, %v: tensor<24x16xf32>,
                        %step: tensor<i64>) -> tensor<24x16xf32> {
    // Forward: a blocking all-reduce over x after the linear.
    %y = axonn.linear %h, %w : (tensor<4x8x16xf32>, tensor<24x16xf32>) -> tensor<4x8x24xf32>
    %yr = axonn.all_reduce sum %y over [x] : tensor<4x8x24xf32>
    // Backward: dX's all-reduce started before dW's GEMM, waited after it.
    %dx = axonn.linear_grad_input %dy, %w : (tensor<4x8x24xf32>, tensor<24x16xf32>) -> tensor<4x8x16xf32>
    %hdx = axonn.all_reduce_start sum %dx over [y] : tensor<4x8x16xf32> -> !axonn.handle<tensor<4x8x16xf32>>
    %dw = axonn.linear_grad_weight %dy, %h : (tensor<4x8x24xf32>, tensor<4x8x16xf32>) -> tensor<24x16xf32>
    %dxr = axonn.wait %hdx : !axonn.handle<tensor<4x8x16xf32>>
    // A data-parallel all-reduce waited at once: exposed.
    %hdw = axonn.all_reduce_start sum %dw over [data] : tensor<24x16xf32> -> !axonn.handle<tensor<24x16xf32>>
    %dwr = axonn.wait %hdw : !axonn.handle<tensor<24x16xf32>>
    %n = axonn.global_norm %dwr : tensor<24x16xf32> -> tensor<f32>
    %p:3 = axonn.adamw %w, %dwr, %m, %v step %step norm %n decay {training = #axonn.training<global_batch = 8, seq_len = 8, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : (tensor<24x16xf32>, tensor<24x16xf32>, tensor<24x16xf32>, tensor<24x16xf32>, tensor<i64>, tensor<f32>) -> (tensor<24x16xf32>, tensor<24x16xf32>, tensor<24x16xf32>)
    return %p#0 : tensor<24x16xf32>
  }
}

// The IR is unchanged.
// CHECK: func.func @train_step
// CHECK: axonn.all_reduce_start sum

// REPORT-LABEL: collectives of @train_step on grid 2x2x1x2 (elements per rank)
// REPORT-NEXT: phase     layer                                    collective     over         elements  overlap
// REPORT-NEXT: forward   h.0.qkv                                  all_reduce     [x]               768  blocking
// REPORT-NEXT: backward  h.0.qkv                                  all_reduce     [y]               512  overlapped (1 ops)
// REPORT-NEXT: backward  h.0.qkv                                  all_reduce     [data]            384  exposed
// REPORT-NEXT: forward: 1 collectives, 768 elements
// REPORT-NEXT: backward: 2 collectives, 896 elements
// REPORT-NEXT: optimizer: 0 collectives, 0 elements
// REPORT-NEXT: total: 3 collectives, 1 overlapped, 2 exposed
