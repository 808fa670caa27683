//===- PrintCollectives.cpp - --axonn-print-collectives -------------------===//
//
// Lists every collective of a per-rank program in program order: the phase
// it belongs to, the layer (the name of the op's location), its kind, axes
// and elements per rank (the gathered size for an all-gather, the input for
// a reduce-scatter, the buffer for an all-reduce, as in algorithm.md), and
// for an asynchronous one, what compute runs between its start and wait.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"
#include "CollectiveReport.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_PRINTCOLLECTIVESPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

using namespace report;

struct PrintCollectivesPass
    : impl::PrintCollectivesPassBase<PrintCollectivesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto grid = module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName);
    llvm::raw_ostream &os = llvm::outs();
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      Block &body = func.getBody().front();
      if (llvm::none_of(body, [](Operation &op) { return isCollective(&op); }))
        continue;
      os << "collectives of @" << func.getSymName();
      if (grid)
        os << llvm::formatv(" on grid {0}x{1}x{2}x{3}", grid.getX(),
                            grid.getY(), grid.getZ(), grid.getData());
      os << " (elements per rank)\n";
      os << llvm::formatv("{0,-9} {1,-40} {2,-14} {3,-10} {4,10}  {5}\n",
                          "phase", "layer", "collective", "over", "elements",
                          "overlap");

      PhaseTracker phases;
      int64_t count = 0, overlapped = 0, exposed = 0;
      llvm::StringMap<int64_t> perPhase, elementsPerPhase;
      for (Operation &op : body) {
        StringRef phase = phases.phaseOf(&op);
        if (!isCollective(&op))
          continue;
        Described d = describe(&op);
        std::string overlap = "blocking";
        if (d.async) {
          // Compute ops between the start and its wait hide the transfer.
          int64_t compute = overlappingOps(&op);
          overlap = compute > 0
                        ? llvm::formatv("overlapped ({0} ops)", compute).str()
                        : "exposed";
          (compute > 0 ? overlapped : exposed) += 1;
        } else {
          ++exposed;
        }
        ++count;
        perPhase[phase] += 1;
        elementsPerPhase[phase] += d.elements;
        os << llvm::formatv("{0,-9} {1,-40} {2,-14} {3,-10} {4,10}  {5}\n",
                            phase, layerOf(&op), d.kind, axesText(d.axes),
                            d.elements, overlap);
      }
      for (StringRef name : {"forward", "backward", "optimizer"})
        os << llvm::formatv("{0}: {1} collectives, {2} elements\n", name,
                            perPhase.lookup(name),
                            elementsPerPhase.lookup(name));
      os << llvm::formatv("total: {0} collectives, {1} overlapped, {2} "
                          "exposed\n",
                          count, overlapped, exposed);
    }
  }
};

} // namespace
} // namespace mlir::axonn
