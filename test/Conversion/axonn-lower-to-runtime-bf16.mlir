// --axonn-lower-to-runtime on a bf16 program: an op whose model tensors are
// bf16 calls its kernel's `_bf16` twin, whose statistics stay f32; buffers,
// copies and the manifest count 2 bytes per bf16 element. f16, and bf16
// for the fp64 runtime build, are refused.
// RUN: axonn-opt %s --split-input-file --verify-diagnostics --axonn-lower-to-runtime | FileCheck %s
// RUN: not axonn-opt %s --split-input-file --axonn-lower-to-runtime=element-type=f64 2>&1 | FileCheck %s --check-prefix=F64

module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @step(%x: tensor<1x4x8xbf16> {axonn.layout = #axonn.layout<[[], [], [x]]>},
                  %w: tensor<6x8xbf16> {axonn.param = "w", axonn.init = #axonn.init<normal, std = 0.02>, axonn.layout = #axonn.layout<[[], [x]]>})
      -> (tensor<1x4x6xbf16> {axonn.layout = #axonn.layout<[[], [], []]>}, tensor<1x4x1xf32> {axonn.layout = #axonn.layout<[[], [], []]>}) {
    %y = axonn.linear %x, %w : (tensor<1x4x8xbf16>, tensor<6x8xbf16>) -> tensor<1x4x6xbf16>
    %h = axonn.all_reduce_start sum %y over [x] : tensor<1x4x6xbf16> -> !axonn.handle<tensor<1x4x6xbf16>>
    %s = axonn.norm_stats %x rms : tensor<1x4x8xbf16> -> tensor<1x4x1xf32>
    %r = axonn.wait %h : !axonn.handle<tensor<1x4x6xbf16>>
    return %r, %s : tensor<1x4x6xbf16>, tensor<1x4x1xf32>
  }
}

// CHECK-LABEL: func.func @axonn_step(
// The linear's result: 4 x 6 bf16 = 48 bytes, so the statistics (f32)
// start at 256 (the plan's alignment).
// CHECK: call @axonn_rt_linear_bf16(
// CHECK: call @axonn_rt_all_reduce_start_bf16(%{{.*}}, %{{.*}}, %{{.*}}, %c24_i64,
// CHECK: call @axonn_rt_norm_stats_bf16(
// CHECK: call @axonn_rt_wait(
// Results copied out as bytes: 24 bf16, then 4 f32.
// CHECK: call @axonn_rt_copy(%{{.*}}, %{{.*}}, %{{.*}}, %c48_i64)
// CHECK: call @axonn_rt_copy(%{{.*}}, %{{.*}}, %{{.*}}, %c16_i64)
// CHECK: \22dtype\22:\22bf16\22
// The fp64 runtime build takes f32 programs only.
// F64: argument #0 has type 'tensor<1x4x8xbf16>'; the runtime takes per-rank f32 or bf16 tensors (f32 only with element-type=f64

// -----

// expected-error @+1 {{argument #0 has type 'tensor<4x8xf16>'; the runtime takes per-rank f32 or bf16 tensors}}
func.func @half(%x: tensor<4x8xf16>) -> tensor<4x8xf16> {
  %y = axonn.gelu %x tanh : tensor<4x8xf16>
  return %y : tensor<4x8xf16>
}

// -----

// The input gradient through a GELU (axonn.linear_grad_input_gelu): dy
// [4, 6], w [6, 8], pre [4, 8] (arguments 0, 1, 2); rows 4, n 6, k 8; tanh
// is 1, the exact GELU 0.
// CHECK-LABEL: func.func @axonn_backward(
// CHECK-SAME: %[[RT:[a-z0-9]+]]: !llvm.ptr, %[[ARGS:[a-z0-9]+]]: !llvm.ptr,
// CHECK: %[[P0:.*]] = llvm.getelementptr %[[ARGS]][0]
// CHECK-NEXT: %[[DY:.*]] = llvm.load %[[P0]]
// CHECK: %[[P1:.*]] = llvm.getelementptr %[[ARGS]][1]
// CHECK-NEXT: %[[W:.*]] = llvm.load %[[P1]]
// CHECK: %[[P2:.*]] = llvm.getelementptr %[[ARGS]][2]
// CHECK-NEXT: %[[PRE:.*]] = llvm.load %[[P2]]
// CHECK: call @axonn_rt_linear_grad_input_gelu_bf16(%[[RT]], %[[DY]], %[[W]], %[[PRE]], %c4_i64, %c6_i64, %c8_i64, %c1_i32, %{{.*}})
// CHECK: call @axonn_rt_linear_grad_input_gelu_bf16(%[[RT]], %[[DY]], %[[W]], %[[PRE]], %c4_i64, %c6_i64, %c8_i64, %c0_i32, %{{.*}})
func.func @backward(%dy: tensor<4x6xbf16>, %w: tensor<6x8xbf16>, %pre: tensor<4x8xbf16>) -> (tensor<4x8xbf16>, tensor<4x8xbf16>) {
  %d = axonn.linear_grad_input_gelu %dy, %w, %pre tanh : (tensor<4x6xbf16>, tensor<6x8xbf16>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
  %e = axonn.linear_grad_input_gelu %dy, %w, %pre none : (tensor<4x6xbf16>, tensor<6x8xbf16>, tensor<4x8xbf16>) -> tensor<4x8xbf16>
  return %d, %e : tensor<4x8xbf16>, tensor<4x8xbf16>
}
