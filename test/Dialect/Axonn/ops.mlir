// Every axonn op prints and parses back to the same text.
// RUN: axonn-opt %s -split-input-file -allow-unregistered-dialect | FileCheck %s --enable-var-scope
// RUN: axonn-opt %s -split-input-file -allow-unregistered-dialect | axonn-opt -split-input-file -allow-unregistered-dialect | FileCheck %s --enable-var-scope
// The generic form round-trips too.
// RUN: axonn-opt %s -split-input-file -allow-unregistered-dialect -mlir-print-op-generic | axonn-opt -split-input-file -allow-unregistered-dialect | FileCheck %s --enable-var-scope

// CHECK-LABEL: func.func @gpt_block
func.func @gpt_block(%tokens: tensor<2x16xi32>, %targets: tensor<2x16xi32>,
                     %wte: tensor<100x32xf32>, %wpe: tensor<16x32xf32>,
                     %g: tensor<32xf32>, %b: tensor<32xf32>,
                     %wqkv: tensor<96x32xf32>, %bqkv: tensor<96xf32>,
                     %wo: tensor<32x32xf32>, %wup: tensor<128x32xf32>,
                     %wdown: tensor<32x128xf32>) -> tensor<f32> {
  // CHECK: %[[X:.*]] = axonn.embedding %{{.*}}, %[[WTE:.*]] positions %{{.*}} : (tensor<2x16xi32>, tensor<100x32xf32>, tensor<16x32xf32>) -> tensor<2x16x32xf32>
  %x = axonn.embedding %tokens, %wte positions %wpe : (tensor<2x16xi32>, tensor<100x32xf32>, tensor<16x32xf32>) -> tensor<2x16x32xf32>
  // CHECK: %[[H:.*]] = axonn.layer_norm %[[X]], %{{.*}}, %{{.*}} eps 1.0e-05 : tensor<2x16x32xf32>, tensor<32xf32>
  %h = axonn.layer_norm %x, %g, %b eps 1.0e-5 : tensor<2x16x32xf32>, tensor<32xf32>
  // CHECK: %[[QKV:.*]] = axonn.linear %[[H]], %{{.*}} bias %{{.*}} : (tensor<2x16x32xf32>, tensor<96x32xf32>, tensor<96xf32>) -> tensor<2x16x96xf32>
  %qkv = axonn.linear %h, %wqkv bias %bqkv : (tensor<2x16x32xf32>, tensor<96x32xf32>, tensor<96xf32>) -> tensor<2x16x96xf32>
  // CHECK: %[[A:.*]] = axonn.attention %[[QKV]] heads 4 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>
  %a = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>
  // With its statistics (for the backward): one per query row and head.
  // CHECK: %{{.*}}, %{{.*}} = axonn.attention %[[QKV]] heads 4 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>, tensor<2x16x4xf32>
  %a2, %a2lse = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>, tensor<2x16x4xf32>
  // CHECK: %[[O:.*]] = axonn.linear %[[A]], %{{.*}} transposed : (tensor<2x16x32xf32>, tensor<32x32xf32>) -> tensor<2x16x32xf32>
  %o = axonn.linear %a, %wo transposed : (tensor<2x16x32xf32>, tensor<32x32xf32>) -> tensor<2x16x32xf32>
  // CHECK: %[[R:.*]] = axonn.add %[[X]], %[[O]] : tensor<2x16x32xf32>
  %r = axonn.add %x, %o : tensor<2x16x32xf32>
  // CHECK: %[[U:.*]] = axonn.linear %[[R]], %{{.*}} : (tensor<2x16x32xf32>, tensor<128x32xf32>) -> tensor<2x16x128xf32>
  %u = axonn.linear %r, %wup : (tensor<2x16x32xf32>, tensor<128x32xf32>) -> tensor<2x16x128xf32>
  // CHECK: %[[G:.*]] = axonn.gelu %[[U]] tanh : tensor<2x16x128xf32>
  %gu = axonn.gelu %u tanh : tensor<2x16x128xf32>
  // CHECK: axonn.gelu %[[U]] none : tensor<2x16x128xf32>
  %ge = axonn.gelu %u none : tensor<2x16x128xf32>
  // CHECK: %[[D:.*]] = axonn.linear %[[G]], %{{.*}} transposed
  %d = axonn.linear %gu, %wdown transposed : (tensor<2x16x128xf32>, tensor<32x128xf32>) -> tensor<2x16x32xf32>
  // CHECK: %[[L:.*]] = axonn.lm_head_loss %[[D]], %[[WTE]], %{{.*}} : (tensor<2x16x32xf32>, tensor<100x32xf32>, tensor<2x16xi32>) -> tensor<f32>
  %loss = axonn.lm_head_loss %d, %wte, %targets : (tensor<2x16x32xf32>, tensor<100x32xf32>, tensor<2x16xi32>) -> tensor<f32>
  // CHECK: return %[[L]]
  return %loss : tensor<f32>
}

// -----

// CHECK-LABEL: func.func @llama_block
func.func @llama_block(%tokens: tensor<2x16xi64>, %wte: tensor<100x64xbf16>,
                       %g: tensor<64xbf16>, %wqkv: tensor<128x64xbf16>,
                       %wgu: tensor<352x64xbf16>) -> tensor<2x16x176xbf16> {
  // CHECK: axonn.embedding %{{.*}}, %{{.*}} : (tensor<2x16xi64>, tensor<100x64xbf16>) -> tensor<2x16x64xbf16>
  %x = axonn.embedding %tokens, %wte : (tensor<2x16xi64>, tensor<100x64xbf16>) -> tensor<2x16x64xbf16>
  // CHECK: axonn.rms_norm %{{.*}}, %{{.*}} eps 1.0e-06 : tensor<2x16x64xbf16>, tensor<64xbf16>
  %h = axonn.rms_norm %x, %g eps 1.0e-6 : tensor<2x16x64xbf16>, tensor<64xbf16>
  // 4 query heads in 2 groups, head dim 16: (4 + 2*2) * 16 = 128 features.
  %qkv = axonn.linear %h, %wqkv : (tensor<2x16x64xbf16>, tensor<128x64xbf16>) -> tensor<2x16x128xbf16>
  // CHECK: axonn.attention %{{.*}} heads 4 kv_heads 2 causal rope 500000.0 : tensor<2x16x128xbf16> -> tensor<2x16x64xbf16>
  %a = axonn.attention %qkv heads 4 kv_heads 2 causal rope 5.0e5 : tensor<2x16x128xbf16> -> tensor<2x16x64xbf16>
  %gu = axonn.linear %a, %wgu : (tensor<2x16x64xbf16>, tensor<352x64xbf16>) -> tensor<2x16x352xbf16>
  // CHECK: axonn.swiglu %{{.*}} : tensor<2x16x352xbf16> -> tensor<2x16x176xbf16>
  %s = axonn.swiglu %gu : tensor<2x16x352xbf16> -> tensor<2x16x176xbf16>
  return %s : tensor<2x16x176xbf16>
}

// -----

// Non-causal attention (an encoder) is expressible too.
// CHECK-LABEL: func.func @bidirectional
func.func @bidirectional(%qkv: tensor<1x8x48xf16>) -> tensor<1x8x16xf16> {
  // CHECK: axonn.attention %{{.*}} heads 2 kv_heads 2 : tensor<1x8x48xf16> -> tensor<1x8x16xf16>
  %a = axonn.attention %qkv heads 2 kv_heads 2 : tensor<1x8x48xf16> -> tensor<1x8x16xf16>
  return %a : tensor<1x8x16xf16>
}

// -----

// Collectives act on per-rank tensors over grid axes.
// CHECK: module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>}
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  // CHECK-LABEL: func.func @collectives
  func.func @collectives(%w: tensor<96x768xf32>, %y: tensor<4x16x384xf32>,
                         %n: tensor<i64>) -> tensor<i64> {
    // CHECK: %[[G:.*]] = axonn.all_gather %{{.*}} over [z] dim 0 : tensor<96x768xf32> -> tensor<192x768xf32>
    %g = axonn.all_gather %w over [z] dim 0 : tensor<96x768xf32> -> tensor<192x768xf32>
    // CHECK: axonn.reduce_scatter sum %[[G]] over [z] dim 0 : tensor<192x768xf32> -> tensor<96x768xf32>
    %s = axonn.reduce_scatter sum %g over [z] dim 0 : tensor<192x768xf32> -> tensor<96x768xf32>
    // CHECK: axonn.all_reduce sum %{{.*}} over [x] : tensor<4x16x384xf32>
    %r = axonn.all_reduce sum %y over [x] : tensor<4x16x384xf32>
    // CHECK: axonn.all_reduce max %{{.*}} over [y] : tensor<4x16x384xf32>
    %m = axonn.all_reduce max %r over [y] : tensor<4x16x384xf32>
    // CHECK: axonn.all_gather %{{.*}} over [z, data] dim 2 : tensor<4x16x384xf32> -> tensor<4x16x1536xf32>
    %gg = axonn.all_gather %m over [z, data] dim 2 : tensor<4x16x384xf32> -> tensor<4x16x1536xf32>
    // CHECK: axonn.all_reduce sum %{{.*}} over [x, y, z, data] : tensor<i64>
    %total = axonn.all_reduce sum %n over [x, y, z, data] : tensor<i64>
    return %total : tensor<i64>
  }

  // CHECK-LABEL: func.func @async
  func.func @async(%w: tensor<96x768xf32>, %dx: tensor<4x16x384xf32>)
      -> (tensor<192x768xf32>, tensor<96x768xf32>, tensor<4x16x384xf32>) {
    // CHECK: %[[H0:.*]] = axonn.all_gather_start %{{.*}} over [z] dim 0 : tensor<96x768xf32> -> !axonn.handle<tensor<192x768xf32>>
    %h0 = axonn.all_gather_start %w over [z] dim 0 : tensor<96x768xf32> -> !axonn.handle<tensor<192x768xf32>>
    // CHECK: %[[H1:.*]] = axonn.all_reduce_start sum %{{.*}} over [y] : tensor<4x16x384xf32> -> !axonn.handle<tensor<4x16x384xf32>>
    %h1 = axonn.all_reduce_start sum %dx over [y] : tensor<4x16x384xf32> -> !axonn.handle<tensor<4x16x384xf32>>
    // CHECK: %[[G:.*]] = axonn.wait %[[H0]] : !axonn.handle<tensor<192x768xf32>>
    %g = axonn.wait %h0 : !axonn.handle<tensor<192x768xf32>>
    // CHECK: %[[H2:.*]] = axonn.reduce_scatter_start sum %[[G]] over [z] dim 0 : tensor<192x768xf32> -> !axonn.handle<tensor<96x768xf32>>
    %h2 = axonn.reduce_scatter_start sum %g over [z] dim 0 : tensor<192x768xf32> -> !axonn.handle<tensor<96x768xf32>>
    // CHECK: axonn.wait %[[H2]] : !axonn.handle<tensor<96x768xf32>>
    %s = axonn.wait %h2 : !axonn.handle<tensor<96x768xf32>>
    // CHECK: axonn.wait %[[H1]] : !axonn.handle<tensor<4x16x384xf32>>
    %r = axonn.wait %h1 : !axonn.handle<tensor<4x16x384xf32>>
    return %g, %s, %r : tensor<192x768xf32>, tensor<96x768xf32>, tensor<4x16x384xf32>
  }
}

// -----

// Backward and optimizer ops.
// CHECK-LABEL: func.func @backward
func.func @backward(%dy: tensor<2x16x32xf32>, %x: tensor<2x16x32xf32>, %g: tensor<32xf32>,
                    %tokens: tensor<2x16xi32>, %qkv: tensor<2x16x64xf32>, %gu: tensor<2x16x64xf32>,
                    %w: tensor<100x32xf32>, %step: tensor<i64>,
                    %o: tensor<2x16x32xf32>, %lse: tensor<2x16x2xf32>) {
  // CHECK: axonn.embedding_grad %{{.*}}, %{{.*}} : (tensor<2x16x32xf32>, tensor<2x16xi32>) -> tensor<100x32xf32>
  %0 = axonn.embedding_grad %dy, %tokens : (tensor<2x16x32xf32>, tensor<2x16xi32>) -> tensor<100x32xf32>
  // CHECK: axonn.embedding_grad %{{.*}}, %{{.*}} accumulate %{{.*}} : (tensor<2x16x32xf32>, tensor<2x16xi32>, tensor<100x32xf32>) -> tensor<100x32xf32>
  %eacc = axonn.embedding_grad %dy, %tokens accumulate %0 : (tensor<2x16x32xf32>, tensor<2x16xi32>, tensor<100x32xf32>) -> tensor<100x32xf32>
  // CHECK: axonn.position_grad %{{.*}} : tensor<2x16x32xf32> -> tensor<64x32xf32>
  %1 = axonn.position_grad %dy : tensor<2x16x32xf32> -> tensor<64x32xf32>
  // CHECK: axonn.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-05 : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>, tensor<32xf32>
  %2:3 = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-5 : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>, tensor<32xf32>
  // CHECK: axonn.rms_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-06 : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>
  %3:2 = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-6 : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>
  // CHECK: axonn.layer_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-05 accumulate %{{.*}} : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>, tensor<32xf32>
  %acc:3 = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-5 accumulate %o : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>, tensor<32xf32>
  // CHECK: axonn.rms_norm_grad %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-06 accumulate %{{.*}} : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>
  %racc:2 = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-6 accumulate %o : tensor<2x16x32xf32>, tensor<32xf32> -> tensor<32xf32>
  // CHECK: axonn.linear_grad_input %{{.*}}, %{{.*}} transposed : (tensor<2x16x32xf32>, tensor<32x32xf32>) -> tensor<2x16x32xf32>
  %wsq = "test.weight"() : () -> tensor<32x32xf32>
  %4 = axonn.linear_grad_input %dy, %wsq transposed : (tensor<2x16x32xf32>, tensor<32x32xf32>) -> tensor<2x16x32xf32>
  // CHECK: axonn.linear_grad_weight %{{.*}}, %{{.*}} : (tensor<2x16x32xf32>, tensor<2x16x32xf32>) -> tensor<32x32xf32>
  %5 = axonn.linear_grad_weight %dy, %x : (tensor<2x16x32xf32>, tensor<2x16x32xf32>) -> tensor<32x32xf32>
  // CHECK: axonn.linear_grad_weight %{{.*}}, %{{.*}} : (tensor<2x16x32xf32>, tensor<2x16x32xf32>) -> (tensor<32x32xf32>, tensor<32xf32>)
  %wb:2 = axonn.linear_grad_weight %dy, %x : (tensor<2x16x32xf32>, tensor<2x16x32xf32>) -> (tensor<32x32xf32>, tensor<32xf32>)
  // CHECK: axonn.linear_grad_bias %{{.*}} transposed : tensor<2x16x32xf32> -> tensor<32xf32>
  %6 = axonn.linear_grad_bias %dy transposed : tensor<2x16x32xf32> -> tensor<32xf32>
  // 2 query heads sharing 1 KV head of dimension 16: (2 + 2) * 16 = 64.
  // CHECK: axonn.attention_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} heads 2 kv_heads 1 causal rope 10000.0 : tensor<2x16x32xf32>, tensor<2x16x64xf32>, tensor<2x16x2xf32>
  %7 = axonn.attention_grad %dy, %qkv, %o, %lse heads 2 kv_heads 1 causal rope 10000.0 : tensor<2x16x32xf32>, tensor<2x16x64xf32>, tensor<2x16x2xf32>
  // CHECK: axonn.gelu_grad %{{.*}}, %{{.*}} tanh : tensor<2x16x32xf32>
  %8 = axonn.gelu_grad %dy, %x tanh : tensor<2x16x32xf32>
  // CHECK: axonn.swiglu_grad %{{.*}}, %{{.*}} : tensor<2x16x32xf32>, tensor<2x16x64xf32>
  %9 = axonn.swiglu_grad %dy, %gu : tensor<2x16x32xf32>, tensor<2x16x64xf32>
  // CHECK: axonn.lm_head_loss_grad %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x16x32xf32>, tensor<100x32xf32>, tensor<2x16xi32>) -> (tensor<2x16x32xf32>, tensor<100x32xf32>)
  %10:2 = axonn.lm_head_loss_grad %x, %w, %tokens : (tensor<2x16x32xf32>, tensor<100x32xf32>, tensor<2x16xi32>) -> (tensor<2x16x32xf32>, tensor<100x32xf32>)
  // CHECK: %[[N:.*]] = axonn.global_norm %{{.*}}, %{{.*}} : tensor<100x32xf32>, tensor<32xf32> -> tensor<f32>
  %n = axonn.global_norm %0, %6 : tensor<100x32xf32>, tensor<32xf32> -> tensor<f32>
  // CHECK: axonn.adamw %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} step %{{.*}} norm %[[N]] decay {training = #training}
  %11:3 = axonn.adamw %w, %0, %w, %w step %step norm %n decay {training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : (tensor<100x32xf32>, tensor<100x32xf32>, tensor<100x32xf32>, tensor<100x32xf32>, tensor<i64>, tensor<f32>) -> (tensor<100x32xf32>, tensor<100x32xf32>, tensor<100x32xf32>)
  return
}

// -----

// Layout changes: reduce, reduce and scatter, gather; a padded LM head.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  // CHECK-LABEL: func.func @reshards
  func.func @reshards(%p: tensor<8x4x32xf32, #axonn.layout<[[z, data], [], [y]], partial = [x]>>,
                      %dw: tensor<64x32xf32, #axonn.layout<[[y], [x]], partial = [z, data]>>,
                      %w: tensor<64x32xf32, #axonn.layout<[[y], [x]], storage = [z]>>) {
    // CHECK: axonn.reshard %{{.*}} : tensor<8x4x32xf32, #axonn.layout<{{\[\[}}z, data], [], [y]], partial = [x]>> -> tensor<8x4x32xf32, #axonn.layout<{{\[\[}}z, data], [], [y]]>>
    %0 = axonn.reshard %p : tensor<8x4x32xf32, #axonn.layout<[[z, data], [], [y]], partial = [x]>> -> tensor<8x4x32xf32, #axonn.layout<[[z, data], [], [y]]>>
    // CHECK: axonn.reshard %{{.*}} : tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], partial = [z, data]>> -> tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>>
    %1 = axonn.reshard %dw : tensor<64x32xf32, #axonn.layout<[[y], [x]], partial = [z, data]>> -> tensor<64x32xf32, #axonn.layout<[[y], [x]], storage = [z]>>
    // CHECK: axonn.reshard %{{.*}} : tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>> -> tensor<64x32xf32, #axonn.layout<{{\[\[}}y], [x]]>>
    %2 = axonn.reshard %w : tensor<64x32xf32, #axonn.layout<[[y], [x]], storage = [z]>> -> tensor<64x32xf32, #axonn.layout<[[y], [x]]>>
    return
  }

  // CHECK-LABEL: func.func @padded_vocabulary
  func.func @padded_vocabulary(%h: tensor<2x4x32xf32>, %w: tensor<52x32xf32>, %t: tensor<2x4xi32>) {
    // CHECK: axonn.lm_head_loss %{{.*}}, %{{.*}}, %{{.*}} {vocab_size = 50 : i64}
    %0 = axonn.lm_head_loss %h, %w, %t {vocab_size = 50} : (tensor<2x4x32xf32>, tensor<52x32xf32>, tensor<2x4xi32>) -> tensor<f32>
    return
  }
}

// -----

// The Goldfish loss: the attribute on the loss, and the per-rank mask and
// masked cross-entropy.
// CHECK-LABEL: func.func @goldfish
func.func @goldfish(%h: tensor<2x4x32xf32>, %w: tensor<50x32xf32>, %t: tensor<2x4xi32>,
                    %m: tensor<2x4xf32>, %s: tensor<2x4x2xf32>, %l: tensor<2x4x50xf32>) {
  // CHECK: axonn.lm_head_loss %{{.*}} {goldfish = #axonn.goldfish<strategy = hash, k = 4, h = 13>}
  %0 = axonn.lm_head_loss %h, %w, %t {goldfish = #axonn.goldfish<strategy = hash, k = 4, h = 13>} : (tensor<2x4x32xf32>, tensor<50x32xf32>, tensor<2x4xi32>) -> tensor<f32>
  // CHECK: %[[KEEP:.*]], %[[N:.*]] = axonn.goldfish_mask %{{.*}} {goldfish = #axonn.goldfish<strategy = static, k = 3, h = 1>} : tensor<2x4xi32> -> tensor<2x4xf32>, tensor<f32>
  %keep, %n = axonn.goldfish_mask %t {goldfish = #axonn.goldfish<strategy = static, k = 3, h = 1>} : tensor<2x4xi32> -> tensor<2x4xf32>, tensor<f32>
  // CHECK: axonn.cross_entropy %{{.*}}, %{{.*}} masked(%[[KEEP]], %[[N]] : tensor<2x4xf32>, tensor<f32>) tokens 8
  %1 = axonn.cross_entropy %m, %s masked(%keep, %n : tensor<2x4xf32>, tensor<f32>) tokens 8 : tensor<2x4xf32>, tensor<2x4x2xf32> -> tensor<f32>
  // CHECK: axonn.cross_entropy_grad %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} masked(%[[KEEP]], %[[N]] : tensor<2x4xf32>, tensor<f32>) tokens 8
  %2 = axonn.cross_entropy_grad %l, %m, %s, %t masked(%keep, %n : tensor<2x4xf32>, tensor<f32>) tokens 8 : tensor<2x4x50xf32>, tensor<2x4xf32>, tensor<2x4x2xf32>, tensor<2x4xi32>
  return
}

// -----

// Decoding with a key/value cache: one new token at a run-time position.
// CHECK-LABEL: func.func @decode_step
func.func @decode_step(%tokens: tensor<1x1xi32>, %wte: tensor<100x32xf32>,
                       %wpe: tensor<16x32xf32>, %wqkv: tensor<128x32xf32>,
                       %pos: tensor<i32>, %k: tensor<1x2x16x16xf32>,
                       %v: tensor<1x2x16x16xf32>) -> tensor<1x1x32xf32> {
  // CHECK: axonn.embedding %{{.*}}, %{{.*}} positions %{{.*}} from %{{.*}} : (tensor<1x1xi32>, tensor<100x32xf32>, tensor<16x32xf32>, tensor<i32>) -> tensor<1x1x32xf32>
  %x = axonn.embedding %tokens, %wte positions %wpe from %pos : (tensor<1x1xi32>, tensor<100x32xf32>, tensor<16x32xf32>, tensor<i32>) -> tensor<1x1x32xf32>
  %qkv = axonn.linear %x, %wqkv : (tensor<1x1x32xf32>, tensor<128x32xf32>) -> tensor<1x1x128xf32>
  // CHECK: axonn.cached_attention %{{.*}}, %{{.*}}, %{{.*}} at %{{.*}} heads 4 kv_heads 2 rope 10000.0 : tensor<1x1x128xf32>, tensor<1x2x16x16xf32>, tensor<i32> -> tensor<1x1x64xf32>
  %a = axonn.cached_attention %qkv, %k, %v at %pos heads 4 kv_heads 2 rope 1.0e4 : tensor<1x1x128xf32>, tensor<1x2x16x16xf32>, tensor<i32> -> tensor<1x1x64xf32>
  %o = "test.project"(%a) : (tensor<1x1x64xf32>) -> tensor<1x1x32xf32>
  return %o : tensor<1x1x32xf32>
}

// -----

// A residual addition fused with the norm of its sum.
// CHECK-LABEL: func.func @residual_norm
func.func @residual_norm(%x: tensor<2x8x16xf32>, %r: tensor<2x8x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>,
                         %xb: tensor<2x8x16xbf16>, %rb: tensor<2x8x16xbf16>, %gb: tensor<16xbf16>)
    -> (tensor<2x8x16xf32>, tensor<2x8x16xbf16>) {
  // CHECK: %{{.*}}, %{{.*}} = axonn.residual_norm %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-05 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
  %s, %y = axonn.residual_norm %x, %r, %g, %b eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
  // CHECK: %{{.*}}, %{{.*}} = axonn.residual_norm %{{.*}}, %{{.*}}, %{{.*}} eps 1.0e-06 rms : tensor<2x8x16xbf16>, tensor<16xbf16>
  %s2, %y2 = axonn.residual_norm %xb, %rb, %gb eps 1.0e-6 rms : tensor<2x8x16xbf16>, tensor<16xbf16>
  return %y, %y2 : tensor<2x8x16xf32>, tensor<2x8x16xbf16>
}

// -----

// A linear layer with the GELU of its result.
// CHECK-LABEL: func.func @linear_gelu
func.func @linear_gelu(%x: tensor<2x8x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>) -> tensor<2x8x64xf32> {
  // CHECK: %{{.*}}, %{{.*}} = axonn.linear_gelu %{{.*}}, %{{.*}} bias %{{.*}} tanh : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>)
  %pre, %h = axonn.linear_gelu %x, %w bias %b tanh : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>)
  return %h : tensor<2x8x64xf32>
}

// CHECK-LABEL: func.func @linear_grad_input_gelu
func.func @linear_grad_input_gelu(%dy: tensor<2x8x64xf32>, %w: tensor<64x16xf32>, %pre: tensor<2x8x16xf32>) -> tensor<2x8x16xf32> {
  // CHECK: axonn.linear_grad_input_gelu %{{.*}}, %{{.*}}, %{{.*}} none : (tensor<2x8x64xf32>, tensor<64x16xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  %d = axonn.linear_grad_input_gelu %dy, %w, %pre none : (tensor<2x8x64xf32>, tensor<64x16xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  return %d : tensor<2x8x16xf32>
}
