//===- PrintModelStats.cpp - --axonn-print-model-stats -------------------===//
//
// Prints what ModelStats computes for every model-level function.
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/ModelStats.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_PRINTMODELSTATSPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {
struct PrintModelStatsPass
    : public impl::PrintModelStatsPassBase<PrintModelStatsPass> {
  using Base::Base;

  void runOnOperation() override {
    bool found = false;
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!isForwardFunction(func))
        continue;
      found = true;
      FailureOr<ModelStats> stats = ModelStats::compute(func);
      if (failed(stats))
        return signalPassFailure();
      if (failed(stats->verify())) {
        func.emitOpError() << "model stats are inconsistent (axonn bug)";
        return signalPassFailure();
      }
      if (json)
        stats->printJSON(llvm::errs());
      else
        stats->dump(llvm::errs());
    }
    if (!found) {
      emitError(getOperation().getLoc())
          << "no model-level function (one holding axonn.embedding) to "
             "report on";
      signalPassFailure();
    }
    markAllAnalysesPreserved();
  }
};
} // namespace
} // namespace mlir::axonn
