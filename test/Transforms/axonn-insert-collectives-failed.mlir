// --axonn-insert-collectives needs sharded IR and a grid; each failure is a
// diagnostic at the offending op and no output.
// RUN: axonn-opt %s --axonn-insert-collectives -split-input-file -verify-diagnostics

// A module without a grid.
// expected-error @+1 {{--axonn-insert-collectives needs the module's 'axonn.grid' attribute}}
module {
  func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}

// -----

// Model-level IR that was not sharded.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  // expected-error @+1 {{'func.func' op argument #0 has no layout; run --axonn-shard first}}
  func.func @f(%t: tensor<2x4xi32> {axonn.input = "tokens"}, %w: tensor<8x4xf32> {axonn.param = "w"}) -> tensor<2x4x4xf32> {
    %x = axonn.embedding %t, %w : (tensor<2x4xi32>, tensor<8x4xf32>) -> tensor<2x4x4xf32>
    return %x : tensor<2x4x4xf32>
  }
}

// -----

// An op result without a layout.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @f(%t: tensor<2x4xi32, #axonn.layout<[[], []]>>, %w: tensor<8x4xf32, #axonn.layout<[[], [x]]>>) -> tensor<2x4x4xf32> {
    // expected-error @+1 {{'axonn.embedding' op has a value without a layout; run --axonn-shard first}}
    %y = axonn.embedding %t, %w : (tensor<2x4xi32, #axonn.layout<[[], []]>>, tensor<8x4xf32, #axonn.layout<[[], [x]]>>) -> tensor<2x4x4xf32>
    return %y : tensor<2x4x4xf32>
  }
}

// -----

// Per-rank IR: the pass runs once.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @f(%x: tensor<2x4x2xf32>) -> tensor<2x4x2xf32> {
    // expected-error @+1 {{'axonn.all_reduce' op is already per-rank; --axonn-insert-collectives runs once}}
    %y = axonn.all_reduce sum %x over [x] : tensor<2x4x2xf32>
    return %y : tensor<2x4x2xf32>
  }
}

