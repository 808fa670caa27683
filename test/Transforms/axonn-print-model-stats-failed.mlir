// A module without a model-level function has nothing to report.
// RUN: axonn-opt %s --axonn-print-model-stats -verify-diagnostics -o /dev/null

// expected-error @+1 {{no model-level function (one holding axonn.embedding) to report on}}
module {
  func.func @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
    return %x : tensor<4xf32>
  }
}
