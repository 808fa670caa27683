// --axonn-schedule-overlap rejects input it cannot schedule, with a
// diagnostic and no output.
// RUN: axonn-opt %s --axonn-schedule-overlap -split-input-file -verify-diagnostics
// RUN: %expect-exit 1 axonn-opt %s --split-input-file --axonn-schedule-overlap=bucket-bytes=0 2>&1 | FileCheck %s --check-prefix=BUCKET
// BUCKET: error: --axonn-schedule-overlap: bucket-bytes must be positive, got 0

// Already asynchronous: the pass runs once.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @f(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
    // expected-error @+1 {{'axonn.all_reduce_start' op is already asynchronous; --axonn-schedule-overlap runs once, on the output of --axonn-insert-collectives}}
    %h = axonn.all_reduce_start sum %x over [x] : tensor<4x8xf32> -> !axonn.handle<tensor<4x8xf32>>
    %y = axonn.wait %h : !axonn.handle<tensor<4x8xf32>>
    return %y : tensor<4x8xf32>
  }
}
