// --axonn-lower-to-runtime turns a per-rank function into runtime calls on
// pointers: arguments from an array, temporaries at the memory plan's
// workspace offsets, each call's status checked, collectives' requests in a
// stack array; a JSON manifest describes the program.
// RUN: axonn-opt %s --axonn-lower-to-runtime | FileCheck %s
// The result goes the rest of the way with upstream passes and
// mlir-translate.
// RUN: axonn-opt %s --axonn-lower-to-runtime --convert-to-llvm --reconcile-unrealized-casts | mlir-translate --mlir-to-llvmir | FileCheck %s --check-prefix=LLVM
// For the fp64 runtime build (gradient checks), every f32 tensor takes 8
// bytes: offsets, copies and the manifest's dtype say so.
// RUN: axonn-opt %s --axonn-lower-to-runtime=element-type=f64 | FileCheck %s --check-prefix=F64
// F64: call @axonn_rt_copy(%{{.*}}, %{{.*}}, %{{.*}}, %c192_i64)
// F64: \22dtype\22:\22f64\22
// RUN: not axonn-opt %s --axonn-lower-to-runtime=element-type=bf16 2>&1 | FileCheck %s --check-prefix=ETYPE
// ETYPE: error: --axonn-lower-to-runtime: element-type must be f32 or f64, not 'bf16'

module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @step(%x: tensor<4x8xf32> {axonn.layout = #axonn.layout<[[], [x]]>},
                  %w: tensor<6x8xf32> {axonn.param = "w", axonn.init = #axonn.init<normal, std = 0.02>, axonn.layout = #axonn.layout<[[], [x]]>})
      -> (tensor<4x6xf32> {axonn.layout = #axonn.layout<[[], []]>}) {
    %y = axonn.linear %x, %w : (tensor<4x8xf32>, tensor<6x8xf32>) -> tensor<4x6xf32>
    %h = axonn.all_reduce_start sum %y over [x] : tensor<4x6xf32> -> !axonn.handle<tensor<4x6xf32>>
    %g = axonn.gelu %x tanh : tensor<4x8xf32>
    %r = axonn.wait %h : !axonn.handle<tensor<4x6xf32>>
    return %r : tensor<4x6xf32>
  }
}

// The runtime's entry points, declared as they are called.
// CHECK-DAG: func.func private @axonn_rt_linear(!llvm.ptr, !llvm.ptr, !llvm.ptr, !llvm.ptr, i32, i64, i64, i64, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @axonn_rt_all_reduce_start(!llvm.ptr, !llvm.ptr, !llvm.ptr, i64, i32, i32, !llvm.ptr) -> i32
// CHECK-DAG: func.func private @axonn_rt_wait(!llvm.ptr, !llvm.ptr) -> i32
// CHECK-LABEL: func.func @axonn_step(
// CHECK-SAME: %[[RT:.*]]: !llvm.ptr, %[[ARGS:.*]]: !llvm.ptr, %[[RESULTS:.*]]: !llvm.ptr, %[[WS:.*]]: !llvm.ptr) -> i32
// One request slot per collective.
// CHECK: %[[REQ:.*]] = llvm.alloca %{{.*}} x !llvm.ptr
// CHECK: %[[XP:.*]] = llvm.getelementptr %[[ARGS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK-NEXT: %[[X:.*]] = llvm.load %[[XP]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[WP:.*]] = llvm.getelementptr %[[ARGS]][1]
// CHECK-NEXT: %[[W:.*]] = llvm.load %[[WP]]
// y[4, 6] = x[4, 8] w[6, 8]^T into the workspace at offset 0; no bias.
// CHECK: %[[Y:.*]] = llvm.getelementptr %[[WS]][%{{.*}}] : (!llvm.ptr, i64) -> !llvm.ptr, i8
// CHECK: %[[S:.*]] = call @axonn_rt_linear(%[[RT]], %[[X]], %[[W]], %{{.*}}, %{{.*}}, %c4_i64, %c6_i64, %c8_i64, %[[Y]])
// CHECK-NEXT: %[[BAD:.*]] = arith.cmpi ne, %[[S]], %c0_i32
// CHECK-NEXT: cf.cond_br %[[BAD]], ^[[FAIL:bb[0-9]+]](%[[S]] : i32), ^{{bb[0-9]+}}
// The all-reduce in place (out = in), over [x] (code 1 | x << 4 = 1), sum.
// CHECK: %[[SLOT:.*]] = llvm.getelementptr %[[REQ]][0]
// CHECK: call @axonn_rt_all_reduce_start(%[[RT]], %[[Y]], %[[Y]], %c24_i64, %c1_i32, %c0_i32{{.*}}, %[[SLOT]])
// GELU runs while the all-reduce is in flight.
// CHECK: call @axonn_rt_gelu(
// CHECK: %[[SLOT2:.*]] = llvm.getelementptr %[[REQ]][0]
// CHECK-NEXT: %[[HANDLE:.*]] = llvm.load %[[SLOT2]] : !llvm.ptr -> !llvm.ptr
// CHECK-NEXT: call @axonn_rt_wait(%[[RT]], %[[HANDLE]])
// The result is copied out: 24 floats.
// CHECK: call @axonn_rt_copy(%[[RT]], %[[Y]], %{{.*}}, %c96_i64)
// The manifest: every argument's role, initializer, shape and layout.
// CHECK: llvm.mlir.global internal constant @axonn_manifest_text("{\22functions\22:{\22step\22:{\22args\22:{{.*}}\22init\22:{\22kind\22:\22normal\22,\22std\22:0.02},{{.*}}\22param\22:\22w\22,\22shape\22:{{.}}6,8{{.*}}\22symbol\22:\22axonn_step\22,\22workspace\22:512}},\22grid\22:{{.}}2,1,1,1],\22version\22:1,\22vocab_rows\22:0,\22vocab_size\22:0}
// CHECK: func.func @axonn_manifest() -> !llvm.ptr

// LLVM: define i32 @axonn_step(ptr %0, ptr %1, ptr %2, ptr %3)
// LLVM: call i32 @axonn_rt_linear(
// LLVM: define ptr @axonn_manifest()
