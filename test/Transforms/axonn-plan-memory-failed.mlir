// --axonn-plan-memory plans straight-line functions with a sane alignment;
// anything else is a diagnostic and no output.
// RUN: axonn-opt %s --axonn-plan-memory -split-input-file -verify-diagnostics -allow-unregistered-dialect
// RUN: %expect-exit 1 axonn-opt %s -split-input-file -allow-unregistered-dialect --axonn-plan-memory=alignment=100 2>&1 | FileCheck %s --check-prefix=ALIGN
// ALIGN: error: --axonn-plan-memory: alignment must be a power of two from 1 to 2^30, got 100
// RUN: %expect-exit 1 axonn-opt %s -split-input-file -allow-unregistered-dialect --axonn-print-memory-plan=alignment=0 2>&1 | FileCheck %s --check-prefix=ALIGN0
// ALIGN0: error: --axonn-print-memory-plan: alignment must be a power of two from 1 to 2^30, got 0
// (2^62 overflowed the offsets into a negative workspace)
// RUN: %expect-exit 1 axonn-opt %s -split-input-file -allow-unregistered-dialect --axonn-plan-memory=alignment=4611686018427387904 2>&1 | FileCheck %s --check-prefix=ALIGNHUGE
// ALIGNHUGE: error: --axonn-plan-memory: alignment must be a power of two from 1 to 2^30, got 4611686018427387904

// expected-error @+1 {{'func.func' op has more than one block; memory planning handles straight-line functions}}
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  "test.br"()[^bb1] : () -> ()
^bb1:
  return %x : tensor<4xf32>
}
