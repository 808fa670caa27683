//===- PlanMemory.cpp - --axonn-plan-memory, --axonn-print-memory-plan ---===//
//
// Static buffer assignment of every per-rank function (lib/Analysis/
// MemoryPlan.cpp): --axonn-plan-memory records it in the IR,
// --axonn-print-memory-plan reports the peak per rank by category next to
// what the planner's cost model predicted.
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/CostModel.h"
#include "axonn/Analysis/MemoryPlan.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_PLANMEMORYPASS
#define GEN_PASS_DEF_PRINTMEMORYPLANPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

bool hasBody(func::FuncOp func) { return !func.isExternal(); }

/// Buffers are aligned to a positive power of two, at most 1 GiB (beyond,
/// offsets overflowed into negative workspaces).
LogicalResult checkAlignment(ModuleOp module, StringRef pass,
                             int64_t alignment) {
  if (alignment > 0 && llvm::isPowerOf2_64(alignment) &&
      alignment <= (int64_t(1) << 30))
    return success();
  return module.emitError() << pass
                            << ": alignment must be a power of two from 1 to "
                               "2^30, got "
                            << alignment;
}

struct PlanMemoryPass : impl::PlanMemoryPassBase<PlanMemoryPass> {
  using PlanMemoryPassBase::PlanMemoryPassBase;
  void runOnOperation() override {
    if (failed(
            checkAlignment(getOperation(), "--axonn-plan-memory", alignment)))
      return signalPassFailure();
    Builder b(&getContext());
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      if (!hasBody(func))
        continue;
      FailureOr<MemoryPlan> plan = planMemory(func, alignment);
      if (failed(plan))
        return signalPassFailure();
      for (Operation &op : func.getBody().front()) {
        if (op.getNumResults() == 0)
          continue;
        SmallVector<int64_t> offsets;
        for (Value result : op.getResults())
          offsets.push_back(plan->offsets.lookup(result) +
                            (plan->offsets.count(result) ? 0 : -1));
        op.setAttr(AxonnDialect::kBuffersAttrName,
                   b.getDenseI64ArrayAttr(offsets));
      }
      auto bytes = [&](StringRef name, int64_t value) {
        return b.getNamedAttr(name, b.getI64IntegerAttr(value));
      };
      auto persistent = [&](MemoryCategory c) {
        return plan->persistent[static_cast<size_t>(c)];
      };
      func->setAttr(
          AxonnDialect::kMemoryPlanAttrName,
          b.getDictionaryAttr(
              {bytes("workspace", plan->workspace),
               bytes("weights", persistent(MemoryCategory::weights)),
               bytes("optimizer", persistent(MemoryCategory::optimizer)),
               bytes("inputs", persistent(MemoryCategory::activations)),
               bytes("total", plan->total())}));
    }
  }
};

std::string formatMiB(double bytes) {
  return llvm::formatv("{0,15} B {1,12:F3} MiB", static_cast<int64_t>(bytes),
                       bytes / (1024.0 * 1024.0))
      .str();
}

struct PrintMemoryPlanPass
    : impl::PrintMemoryPlanPassBase<PrintMemoryPlanPass> {
  using PrintMemoryPlanPassBase::PrintMemoryPlanPassBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (failed(checkAlignment(module, "--axonn-print-memory-plan", alignment)))
      return signalPassFailure();
    auto predicted = module->getAttrOfType<DictionaryAttr>(
        AxonnDialect::kPredictedMemoryAttrName);
    llvm::raw_ostream &os = llvm::outs();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (!hasBody(func))
        continue;
      FailureOr<MemoryPlan> plan = planMemory(func, alignment);
      if (failed(plan))
        return signalPassFailure();
      auto at = [](const std::array<int64_t, kNumMemoryCategories> &a,
                   MemoryCategory c) {
        return double(a[static_cast<size_t>(c)]);
      };
      os << "memory plan of @" << func.getSymName() << " (bytes per rank)\n";
      os << llvm::formatv(
          "  {0,-24} {1}\n", "weights",
          formatMiB(at(plan->persistent, MemoryCategory::weights)));
      os << llvm::formatv(
          "  {0,-24} {1}\n", "optimizer state",
          formatMiB(at(plan->persistent, MemoryCategory::optimizer)));
      os << llvm::formatv(
          "  {0,-24} {1}\n", "inputs",
          formatMiB(at(plan->persistent, MemoryCategory::activations)));
      os << llvm::formatv(
          "  workspace at its peak{0}:\n",
          plan->peakOp
              ? llvm::formatv(" (after '{0}')", plan->peakOp->getName()).str()
              : "");
      for (MemoryCategory c :
           {MemoryCategory::gradients, MemoryCategory::activations,
            MemoryCategory::communication})
        os << llvm::formatv("    {0,-22} {1}\n", stringifyMemoryCategory(c),
                            formatMiB(at(plan->peakLive, c)));
      os << llvm::formatv(
          "    {0,-22} {1}\n", "fragmentation",
          formatMiB(double(plan->workspace - plan->peakLiveTotal())));
      os << llvm::formatv("  {0,-24} {1}\n", "workspace",
                          formatMiB(double(plan->workspace)));
      os << llvm::formatv("  {0,-24} {1}\n", "total",
                          formatMiB(double(plan->total())));
      if (predicted && func.getSymName() == "train_step") {
        double total = 0;
        for (NamedAttribute entry : predicted)
          total += double(cast<IntegerAttr>(entry.getValue()).getInt());
        os << llvm::formatv("  {0,-24} {1}  (plan / predicted = {2:F2})\n",
                            "planner predicted", formatMiB(total),
                            double(plan->total()) / total);
      }
    }
  }
};

} // namespace
} // namespace mlir::axonn
