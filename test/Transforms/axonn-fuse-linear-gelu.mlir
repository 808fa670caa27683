// --axonn-fuse-linear-gelu: a GELU of a linear layer's whole result becomes,
// with the layer, one axonn.linear_gelu at the layer's place; the layer's
// other uses (the GELU's gradient) read its `pre` result. A layer with
// partial sums (once_over) is left as it is.
// RUN: axonn-opt %s --split-input-file --axonn-fuse-linear-gelu | FileCheck %s

// CHECK-LABEL: func.func @mlp_up
// CHECK-SAME: (%[[X:.*]]: tensor<2x8x16xf32>, %[[W:.*]]: tensor<64x16xf32>, %[[B:.*]]: tensor<64xf32>, %[[D:.*]]: tensor<2x8x64xf32>)
// CHECK-NEXT: %[[PRE:.*]], %[[H:.*]] = axonn.linear_gelu %[[X]], %[[W]] bias %[[B]] tanh : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>)
// CHECK-NEXT: %[[G:.*]] = axonn.gelu_grad %[[D]], %[[PRE]] tanh
// CHECK-NEXT: return %[[H]], %[[G]]
func.func @mlp_up(%x: tensor<2x8x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>, %d: tensor<2x8x64xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>) {
  %y = axonn.linear %x, %w bias %b : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
  %h = axonn.gelu %y tanh : tensor<2x8x64xf32>
  %g = axonn.gelu_grad %d, %y tanh : tensor<2x8x64xf32>
  return %h, %g : tensor<2x8x64xf32>, tensor<2x8x64xf32>
}

// -----

// No bias, the exact GELU, a transposed layer, bf16.
// CHECK-LABEL: func.func @plain
// CHECK: axonn.linear_gelu %{{.*}}, %{{.*}} transposed none : (tensor<2x8x16xbf16>, tensor<64x16xbf16>) -> (tensor<2x8x64xbf16>, tensor<2x8x64xbf16>)
func.func @plain(%x: tensor<2x8x16xbf16>, %w: tensor<64x16xbf16>) -> tensor<2x8x64xbf16> {
  %y = axonn.linear %x, %w transposed : (tensor<2x8x16xbf16>, tensor<64x16xbf16>) -> tensor<2x8x64xbf16>
  %h = axonn.gelu %y none : tensor<2x8x64xbf16>
  return %h : tensor<2x8x64xbf16>
}

// -----

// Partial sums over x: the GELU needs the all-reduce first.
// CHECK-LABEL: func.func @partial
// CHECK-NOT: axonn.linear_gelu
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @partial(%x: tensor<2x8x16xf32>, %w: tensor<64x16xf32>, %b: tensor<64xf32>) -> tensor<2x8x64xf32> {
    %y = axonn.linear %x, %w bias %b {once_over = #axonn.axes<x>} : (tensor<2x8x16xf32>, tensor<64x16xf32>, tensor<64xf32>) -> tensor<2x8x64xf32>
    %h = axonn.gelu %y tanh : tensor<2x8x64xf32>
    return %h : tensor<2x8x64xf32>
  }
}
