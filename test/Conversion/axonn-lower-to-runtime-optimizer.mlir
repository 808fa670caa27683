// The optimizer's tail lowers to grouped calls: the gradient norm's sum of
// squares over every gradient in one axonn_rt_sum_squares_group, and a run
// of AdamW updates with the same hyper-parameters, step and norm in one
// axonn_rt_adamw_group (pointer, count and decay arrays on the stack); an
// update with other hyper-parameters ends the run and goes alone.
// RUN: axonn-opt %s --axonn-lower-to-runtime | FileCheck %s
// The arrays survive the upstream conversions.
// RUN: axonn-opt %s --axonn-lower-to-runtime --convert-to-llvm --reconcile-unrealized-casts | mlir-translate --mlir-to-llvmir -o /dev/null

#t1 = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 0>
#t2 = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.2, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 0>
module attributes {axonn.grid = #axonn.grid<x = 1, y = 1, z = 1, data = 1>} {
  func.func @step(%step: tensor<i64> {axonn.input = "step"},
                  %p1: tensor<4x8xf32> {axonn.param = "p1"}, %p2: tensor<8xf32> {axonn.param = "p2"},
                  %p3: tensor<3xf32> {axonn.param = "p3"},
                  %m1: tensor<4x8xf32> {axonn.state = "m", axonn.state_of = "p1"}, %m2: tensor<8xf32> {axonn.state = "m", axonn.state_of = "p2"},
                  %m3: tensor<3xf32> {axonn.state = "m", axonn.state_of = "p3"},
                  %v1: tensor<4x8xf32> {axonn.state = "v", axonn.state_of = "p1"}, %v2: tensor<8xf32> {axonn.state = "v", axonn.state_of = "p2"},
                  %v3: tensor<3xf32> {axonn.state = "v", axonn.state_of = "p3"})
      -> (tensor<4x8xf32> {axonn.param = "p1"}, tensor<8xf32> {axonn.param = "p2"}, tensor<3xf32> {axonn.param = "p3"}) {
    // Stand-ins for the gradients.
    %g1 = axonn.add %p1, %p1 : tensor<4x8xf32>
    %g2 = axonn.add %p2, %p2 : tensor<8xf32>
    %g3 = axonn.add %p3, %p3 : tensor<3xf32>
    %squares = axonn.sum_squares %g1, %g2, %g3 scales [1.0, 0.5, 1.0] : tensor<4x8xf32>, tensor<8xf32>, tensor<3xf32> -> tensor<f32>
    %norm = axonn.sqrt %squares : tensor<f32>
    %a:3 = axonn.adamw %p1, %g1, %m1, %v1 step %step norm %norm decay {training = #t1} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<i64>, tensor<f32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
    %b:3 = axonn.adamw %p2, %g2, %m2, %v2 step %step norm %norm {training = #t1} : (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>, tensor<i64>, tensor<f32>) -> (tensor<8xf32>, tensor<8xf32>, tensor<8xf32>)
    %c:3 = axonn.adamw %p3, %g3, %m3, %v3 step %step norm %norm {training = #t2} : (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<i64>, tensor<f32>) -> (tensor<3xf32>, tensor<3xf32>, tensor<3xf32>)
    return %a#0, %b#0, %c#0 : tensor<4x8xf32>, tensor<8xf32>, tensor<3xf32>
  }
}

// CHECK-DAG: func.func private @axonn_rt_sum_squares_group(!llvm.ptr, i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @axonn_rt_adamw_group(!llvm.ptr, i64, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, f64, f64, f64, f64, f64, f64, f64, i64, i64, i32) -> i32
// CHECK-LABEL: func.func @axonn_step(
// Three gradients: their pointers, sizes (32, 8, 3) and scales on the stack.
// CHECK: call @axonn_rt_add(%{{.*}}, %c3_i64,
// CHECK: %[[GRADS:.*]] = llvm.alloca %{{.*}} x !llvm.ptr
// CHECK: %[[SIZES:.*]] = llvm.alloca %{{.*}} x i64
// CHECK: llvm.store %c32_i64
// CHECK: %[[SCALES:.*]] = llvm.alloca %{{.*}} x f64
// CHECK: call @axonn_rt_sum_squares_group(%{{.*}}, %c3_i64, %[[GRADS]], %[[SIZES]], %[[SCALES]], %{{.*}})
// CHECK: call @axonn_rt_sqrt(
// The first two updates share #t1: one group of two, no master weights
// (a null array), decay flags 1 and 0.
// CHECK: %[[DECAY:.*]] = llvm.alloca %{{.*}} x i32
// CHECK: llvm.store %c1_i32, %{{.*}} : i32, !llvm.ptr
// CHECK: llvm.store %c0_i32, %{{.*}} : i32, !llvm.ptr
// CHECK: call @axonn_rt_adamw_group(%{{.*}}, %c2_i64, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %[[DECAY]],
// The third (lr 0.2) alone.
// CHECK: call @axonn_rt_adamw(
// CHECK-NOT: call @axonn_rt_adamw
