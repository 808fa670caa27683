// --axonn-lower-to-runtime also builds the decoding functions from the
// forward, for generation with a key/value cache: `prefill` (the window of
// S tokens) and `decode` (one token), each for one sequence per rank, at a
// run-time position (input "position"), with every attention replaced by
// axonn.cached_attention over cache arguments [1, KV heads, S, head dim]
// ("k_cache", "v_cache") and the learned positions read from that
// position on; and `logits`, which recomputes the window. All three stop at
// the LM head's logits, so the collectives of the loss are gone.
// RUN: axonn-opt %s --axonn-lower-to-runtime | FileCheck %s

module attributes {axonn.grid = #axonn.grid<x = 1, y = 2, z = 1, data = 1>} {
  func.func @forward(%tok: tensor<2x8xi32> {axonn.input = "tokens", axonn.layout = #axonn.layout<[[], []]>},
                     %tgt: tensor<2x8xi32> {axonn.input = "targets", axonn.layout = #axonn.layout<[[], []]>},
                     %wte: tensor<16x8xf32> {axonn.param = "wte", axonn.layout = #axonn.layout<[[y], []]>},
                     %wpe: tensor<8x8xf32> {axonn.param = "wpe", axonn.layout = #axonn.layout<[[], []]>},
                     %wqkv: tensor<24x8xf32> {axonn.param = "qkv", axonn.layout = #axonn.layout<[[], []]>})
      -> (tensor<f32> {axonn.output = "loss", axonn.layout = #axonn.layout<[]>}) {
    %x = axonn.embedding %tok, %wte positions %wpe {vocab_axes = #axonn.axes<y>, once_over = #axonn.axes<y>} : (tensor<2x8xi32>, tensor<16x8xf32>, tensor<8x8xf32>) -> tensor<2x8x8xf32>
    %h = axonn.all_reduce_start sum %x over [y] : tensor<2x8x8xf32> -> !axonn.handle<tensor<2x8x8xf32>>
    %e = axonn.wait %h : !axonn.handle<tensor<2x8x8xf32>>
    %qkv = axonn.linear %e, %wqkv : (tensor<2x8x8xf32>, tensor<24x8xf32>) -> tensor<2x8x24xf32>
    %a = axonn.attention %qkv heads 2 kv_heads 2 causal : tensor<2x8x24xf32> -> tensor<2x8x8xf32>
    %l = axonn.linear %a, %wte : (tensor<2x8x8xf32>, tensor<16x8xf32>) -> tensor<2x8x16xf32>
    %m, %p = axonn.logits_max %l, %tgt {vocab_axes = #axonn.axes<y>} : tensor<2x8x16xf32>, tensor<2x8xi32> -> tensor<2x8xf32>, tensor<2x8x2xf32>
    %mh = axonn.all_reduce_start max %m over [y] : tensor<2x8xf32> -> !axonn.handle<tensor<2x8xf32>>
    %mr = axonn.wait %mh : !axonn.handle<tensor<2x8xf32>>
    %s = axonn.softmax_sums %p, %m, %mr : tensor<2x8x2xf32>, tensor<2x8xf32>
    %sh = axonn.all_reduce_start sum %s over [y] : tensor<2x8x2xf32> -> !axonn.handle<tensor<2x8x2xf32>>
    %sr = axonn.wait %sh : !axonn.handle<tensor<2x8x2xf32>>
    %c = axonn.cross_entropy %mr, %sr tokens 32 : tensor<2x8xf32>, tensor<2x8x2xf32> -> tensor<f32>
    return %c : tensor<f32>
  }
}

// CHECK-LABEL: func.func @axonn_forward(
// CHECK: call @axonn_rt_attention(

// decode: one token of one sequence; arguments 5 to 7 are the position and
// the two caches, which come after the forward's 5.
// CHECK-LABEL: func.func @axonn_decode(
// CHECK-SAME: %[[RT:[^:]*]]: !llvm.ptr, %[[ARGS:[^:]*]]: !llvm.ptr
// CHECK: %[[TOKP:.*]] = llvm.getelementptr %[[ARGS]][0]
// CHECK-NEXT: %[[TOK:.*]] = llvm.load %[[TOKP]]
// CHECK: %[[POSP:.*]] = llvm.getelementptr %[[ARGS]][5]
// CHECK-NEXT: %[[POS:.*]] = llvm.load %[[POSP]]
// CHECK: %[[KP:.*]] = llvm.getelementptr %[[ARGS]][6]
// CHECK-NEXT: %[[K:.*]] = llvm.load %[[KP]]
// CHECK: %[[VP:.*]] = llvm.getelementptr %[[ARGS]][7]
// CHECK-NEXT: %[[V:.*]] = llvm.load %[[VP]]
// Embedding of 1 token (sequence 1), positions from the run-time start, 8
// learned positions.
// CHECK: call @axonn_rt_embedding(%[[RT]], %[[TOK]], %c1_i64, %c1_i64, %{{.*}}, %c16_i64, %c8_i64, %{{.*}}, %c8_i64, %[[POS]], %c17_i32, %c17_i32, %{{.*}})
// The embedding's all-reduce shrinks with the activation: 1 x 1 x 8.
// CHECK: call @axonn_rt_all_reduce_start(%[[RT]], %{{.*}}, %{{.*}}, %c8_i64, %c17_i32, %c0_i32
// batch 1, 1 token, 2 heads, 2 KV heads, head dim 4, no rope, caches of 8.
// CHECK: call @axonn_rt_cached_attention(%[[RT]], %{{.*}}, %c1_i64, %c1_i64, %c2_i64, %c2_i64, %c4_i64, %{{.*}}, %[[K]], %[[V]], %c8_i64, %[[POS]], %{{.*}})
// CHECK-NOT: call @axonn_rt_all_reduce_start
// CHECK-NOT: call @axonn_rt_logits_max
// CHECK: return

// prefill: the whole window of 8 tokens into the same kind of caches.
// CHECK-LABEL: func.func @axonn_prefill(
// CHECK: call @axonn_rt_embedding(%{{.*}}, %{{.*}}, %c8_i64, %c8_i64,
// CHECK: call @axonn_rt_cached_attention(%{{.*}}, %{{.*}}, %c1_i64, %c8_i64, %c2_i64, %c2_i64, %c4_i64, %{{.*}}, %{{.*}}, %{{.*}}, %c8_i64,

// logits: the forward's batch and window, up to the logits.
// CHECK-LABEL: func.func @axonn_logits(
// CHECK: call @axonn_rt_attention(%{{.*}}, %{{.*}}, %c2_i64, %c8_i64,
// CHECK-NOT: call @axonn_rt_all_reduce_start
// CHECK: return

// The manifest records the new arguments with their roles and shapes.
// CHECK: \22decode\22:{\22args\22:[{\22dtype\22:\22i32\22,\22input\22:\22tokens\22,{{.*}}\22shape\22:[1,1]}
// CHECK-SAME: {\22dtype\22:\22i32\22,\22input\22:\22position\22,{{.*}}\22shape\22:[]},{\22dtype\22:\22f32\22,\22input\22:\22k_cache\22,{{.*}}\22shape\22:[1,2,8,4]},{\22dtype\22:\22f32\22,\22input\22:\22v_cache\22,{{.*}}\22shape\22:[1,2,8,4]}
