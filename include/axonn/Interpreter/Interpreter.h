//===- Interpreter.h - fp64 reference evaluation of axonn IR -----*- C++
//-*-===//
//
// Evaluates a model-level axonn function (forward, backward and optimizer
// ops) on host arrays in double precision, one op at a time, straight from
// the definitions in the op descriptions. It is the numerical reference:
// gradient checks by finite differences run on it, and kernels of the
// runtime are compared against it. It is slow by design and knows no grid:
// it evaluates global tensors, so layouts (which say where the pieces of a
// global tensor live) do not change what it computes, and axonn.reshard is
// the identity. Per-rank IR with collectives is rejected.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_INTERPRETER_INTERPRETER_H
#define AXONN_INTERPRETER_INTERPRETER_H

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"

#include <vector>

namespace mlir::axonn {

/// A dense row-major array; integer tensors hold their values as doubles.
struct HostTensor {
  SmallVector<int64_t> shape;
  std::vector<double> data;

  HostTensor() = default;
  explicit HostTensor(ArrayRef<int64_t> shape, double fill = 0.0);
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  /// Size of the last dimension (1 for a scalar).
  int64_t width() const { return shape.empty() ? 1 : shape.back(); }
};

/// Every value computed by a run, for inspection.
using ValueTrace = llvm::DenseMap<Value, HostTensor>;

/// Runs `func` on `args` (one per argument, matching its shape) and returns
/// its results. Fails with a diagnostic at the op it cannot evaluate or
/// whose inputs are out of range (a token id beyond the vocabulary). With
/// `trace`, records the value of every SSA value.
FailureOr<SmallVector<HostTensor>> interpret(func::FuncOp func,
                                             ArrayRef<HostTensor> args,
                                             ValueTrace *trace = nullptr);

/// Runs the per-rank function `func` (the output of
/// --axonn-insert-collectives) on every rank of `grid` in lockstep: each op
/// runs on every rank in turn, and collectives combine the values of the
/// ranks of each group. `args[r]` are rank r's arguments (its local pieces);
/// returns each rank's results. This checks the meaning of per-rank IR
/// against the model-level interpreter; it is not a runtime.
FailureOr<std::vector<SmallVector<HostTensor>>>
interpretSPMD(func::FuncOp func, GridAttr grid,
              ArrayRef<SmallVector<HostTensor>> args);

/// The learning rate of AdamW at `step` (from 0) under `training`'s
/// schedule: linear warmup to `lr`, then constant, linear or cosine decay to
/// `min_lr` at `steps`.
double learningRate(Attribute training, int64_t step);

} // namespace mlir::axonn

#endif // AXONN_INTERPRETER_INTERPRETER_H
