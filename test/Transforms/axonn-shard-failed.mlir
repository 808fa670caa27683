// --axonn-shard rejects what it cannot lay out with a diagnostic at the
// offending op, and leaves no partial output.
// RUN: axonn-opt %s --axonn-shard -split-input-file -verify-diagnostics -allow-unregistered-dialect

// A module without a grid.
// expected-error @+1 {{--axonn-shard needs the module's 'axonn.grid' attribute; run --axonn-plan first or set it}}
module {
  func.func @f(%t: tensor<8x16xi32> {axonn.input = "tokens"}, %w: tensor<64x32xf32> {axonn.param = "wte"}) -> tensor<8x16x32xf32> {
    %x = axonn.embedding %t, %w : (tensor<8x16xi32>, tensor<64x32xf32>) -> tensor<8x16x32xf32>
    return %x : tensor<8x16x32xf32>
  }
}

// -----

// A grid whose x axis does not divide the hidden size (32 over 3).
module attributes {axonn.grid = #axonn.grid<x = 3, y = 1, z = 1, data = 1>} {
  func.func @f(%t: tensor<8x16xi32> {axonn.input = "tokens"}, %w: tensor<64x32xf32> {axonn.param = "wte"}) -> tensor<8x16x32xf32> {
    // expected-error @+1 {{'axonn.embedding' op cannot be laid out on grid #axonn.grid<x = 3, y = 1, z = 1, data = 1>: operand #1 (parameter 'wte') dimension 1 of size 32 is not divisible by the 3 ranks of [x]}}
    %x = axonn.embedding %t, %w : (tensor<8x16xi32>, tensor<64x32xf32>) -> tensor<8x16x32xf32>
    return %x : tensor<8x16x32xf32>
  }
}

// -----

// A batch of 8 sequences cannot be split over z x data = 16 ranks.
module attributes {axonn.grid = #axonn.grid<x = 1, y = 1, z = 4, data = 4>} {
  func.func @f(%t: tensor<8x16xi32> {axonn.input = "tokens"}, %w: tensor<64x32xf32> {axonn.param = "wte"}) -> tensor<8x16x32xf32> {
    // expected-error @+1 {{result #0 dimension 0 of size 8 is not divisible by the 16 ranks of [z, data]}}
    %x = axonn.embedding %t, %w : (tensor<8x16xi32>, tensor<64x32xf32>) -> tensor<8x16x32xf32>
    return %x : tensor<8x16x32xf32>
  }
}

// -----

// The weight's local rows (48 / y = 2 = 24) cannot be stored split over z = 16.
module attributes {axonn.grid = #axonn.grid<x = 1, y = 2, z = 16, data = 1>} {
  func.func @f(%t: tensor<16x4xi32> {axonn.input = "tokens"}, %e: tensor<64x32xf32> {axonn.param = "wte"}, %w: tensor<48x32xf32> {axonn.param = "w"}) -> tensor<16x4x48xf32> {
    %h = axonn.embedding %t, %e : (tensor<16x4xi32>, tensor<64x32xf32>) -> tensor<16x4x32xf32>
    // expected-error @+1 {{operand #1 (parameter 'w') local dimension 0 of size 24 is not divisible by the 16 ranks of storage axes [z]}}
    %y = axonn.linear %h, %w : (tensor<16x4x32xf32>, tensor<48x32xf32>) -> tensor<16x4x48xf32>
    return %y : tensor<16x4x48xf32>
  }
}

// -----

// Attention heads go over y: 2 key/value heads cannot be split over 4 ranks.
module attributes {axonn.grid = #axonn.grid<x = 1, y = 4, z = 1, data = 1>} {
  func.func @f(%t: tensor<2x8xi32> {axonn.input = "tokens"}, %e: tensor<64x32xf32> {axonn.param = "wte"}, %w: tensor<64x32xf32> {axonn.param = "qkv"}) -> tensor<2x8x32xf32> {
    %h = axonn.embedding %t, %e : (tensor<2x8xi32>, tensor<64x32xf32>) -> tensor<2x8x32xf32>
    %qkv = axonn.linear %h, %w : (tensor<2x8x32xf32>, tensor<64x32xf32>) -> tensor<2x8x64xf32>
    // expected-error @+1 {{'axonn.attention' op kv_heads = 2 cannot be split over the 4 ranks of y (attention heads go over y)}}
    %a = axonn.attention %qkv heads 4 kv_heads 2 causal : tensor<2x8x64xf32> -> tensor<2x8x32xf32>
    return %a : tensor<2x8x32xf32>
  }
}

// -----

// A forced layout that contradicts the algorithm: a normal linear's weight
// annotated with its in-features over y.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 1, data = 1>} {
  func.func @f(%t: tensor<2x4xi32> {axonn.input = "tokens"}, %e: tensor<64x32xf32> {axonn.param = "wte"},
               %w: tensor<48x32xf32, #axonn.layout<[[x], [y]]>> {axonn.param = "w"}) -> tensor<2x4x48xf32> {
    %h = axonn.embedding %t, %e : (tensor<2x4xi32>, tensor<64x32xf32>) -> tensor<2x4x32xf32>
    // expected-error @+1 {{'axonn.linear' op uses parameter 'w' forced to layout #axonn.layout<[[x], [y]]>, which contradicts the 4D algorithm: it stores this operand as #axonn.layout<[[y], [x]]>}}
    %y = axonn.linear %h, %w : (tensor<2x4x32xf32>, tensor<48x32xf32, #axonn.layout<[[x], [y]]>>) -> tensor<2x4x48xf32>
    return %y : tensor<2x4x48xf32>
  }
}

// -----

// A forced result layout that contradicts the algorithm: a normal linear's
// output features forced over x.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 1, data = 1>} {
  func.func @f(%t: tensor<2x4xi32> {axonn.input = "tokens"}, %e: tensor<64x32xf32> {axonn.param = "wte"},
               %w: tensor<48x32xf32> {axonn.param = "w"}) -> tensor<2x4x48xf32, #axonn.layout<[[], [], [x]]>> {
    %h = axonn.embedding %t, %e : (tensor<2x4xi32>, tensor<64x32xf32>) -> tensor<2x4x32xf32>
    // expected-error @+1 {{'axonn.linear' op result #0 is forced to layout #axonn.layout<[[], [], [x]]>, which contradicts the 4D algorithm: it gives #axonn.layout<[[], [], [y]], partial = [x]>}}
    %y = axonn.linear %h, %w : (tensor<2x4x32xf32>, tensor<48x32xf32>) -> tensor<2x4x48xf32, #axonn.layout<[[], [], [x]]>>
    return %y : tensor<2x4x48xf32, #axonn.layout<[[], [], [x]]>>
  }
}

// -----

// Two normal linears in a row: the second needs its input features over x,
// the first leaves them over y; the 4D algorithm alternates layouts instead.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 1, data = 1>} {
  func.func @f(%t: tensor<2x4xi32> {axonn.input = "tokens"}, %e: tensor<64x32xf32> {axonn.param = "wte"},
               %w1: tensor<32x32xf32> {axonn.param = "w1"},
               %w2: tensor<32x32xf32> {axonn.param = "w2"}) -> tensor<2x4x32xf32> {
    %h = axonn.embedding %t, %e : (tensor<2x4xi32>, tensor<64x32xf32>) -> tensor<2x4x32xf32>
    %y = axonn.linear %h, %w1 : (tensor<2x4x32xf32>, tensor<32x32xf32>) -> tensor<2x4x32xf32>
    // expected-error @+1 {{'axonn.linear' op operand #0 (operand) is laid out as #axonn.layout<[[], [], [y]], partial = [x]> but the 4D algorithm needs #axonn.layout<[[], [], [x]]> here, and no reshard connects the two}}
    %z = axonn.linear %y, %w2 : (tensor<2x4x32xf32>, tensor<32x32xf32>) -> tensor<2x4x32xf32>
    return %z : tensor<2x4x32xf32>
  }
}

// -----

// Ops without a layout rule.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @f(%t: tensor<2x4xi32> {axonn.input = "tokens"}, %e: tensor<64x32xf32> {axonn.param = "wte"}) -> tensor<2x4x32xf32> {
    %h = axonn.embedding %t, %e : (tensor<2x4xi32>, tensor<64x32xf32>) -> tensor<2x4x32xf32>
    // expected-error @+1 {{'test.op' op is not supported by --axonn-shard (no layout rule)}}
    %y = "test.op"(%h) : (tensor<2x4x32xf32>) -> tensor<2x4x32xf32>
    return %y : tensor<2x4x32xf32>
  }
}

// -----

// Already sharded IR.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 2, data = 1>} {
  func.func @f(%w: tensor<64x32xf32, #axonn.layout<[[], [x]], storage = [z]>> {axonn.param = "w"}) -> tensor<64x32xf32, #axonn.layout<[[], [x]]>> {
    // expected-error @+1 {{'axonn.reshard' op is already per-rank or sharded; --axonn-shard runs once, on model-level IR}}
    %y = axonn.reshard %w : tensor<64x32xf32, #axonn.layout<[[], [x]], storage = [z]>> -> tensor<64x32xf32, #axonn.layout<[[], [x]]>>
    return %y : tensor<64x32xf32, #axonn.layout<[[], [x]]>>
  }
}

// -----

// An argument with no role.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  // expected-error @+1 {{'func.func' op argument #0 has no axonn.param, axonn.input or axonn.state_of attribute; --axonn-shard cannot tell how to lay it out}}
  func.func @f(%h: tensor<2x4x32xf32>) -> tensor<2x4x32xf32> {
    %y = axonn.gelu %h tanh : tensor<2x4x32xf32>
    return %y : tensor<2x4x32xf32>
  }
}

// -----

// A norm gradient with split-feature statistics is per-rank IR already.
module attributes {axonn.grid = #axonn.grid<x = 1, y = 1, z = 1, data = 1>} {
  func.func @f(%dy: tensor<2x8x16xf32> {axonn.param = "dy"}, %x: tensor<2x8x16xf32> {axonn.param = "x"}, %g: tensor<16xf32> {axonn.param = "g"}, %s: tensor<2x8x2xf32> {axonn.param = "s"}) -> tensor<2x8x16xf32> {
    // expected-error @+1 {{'axonn.rms_norm_grad' op has split-feature statistics, which --axonn-insert-collectives makes after --axonn-shard}}
    %dx, %dg = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-05 stats %s width 16 : tensor<2x8x16xf32>, tensor<16xf32>, tensor<2x8x2xf32> -> tensor<16xf32>
    return %dx : tensor<2x8x16xf32>
  }
}
