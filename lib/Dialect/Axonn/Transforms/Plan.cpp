//===- Plan.cpp - --axonn-plan and --axonn-plan-scaling ---------------===//
//
// The decision pass runs the planner of Analysis/Planner.h and annotates the
// module with the chosen grid, cluster and recompute policy; the scaling
// pass runs it over GPU counts and reports. All the modelling lives in the
// analysis; this file parses options, reports and diagnoses.
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/Planner.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"
#include "axonn/Target/ModelSpec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#define DEBUG_TYPE "axonn-plan"

namespace mlir::axonn {
#define GEN_PASS_DEF_PLANPASS
#define GEN_PASS_DEF_PLANSCALINGPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// "2x4x1x8" -> Grid; failure on anything else.
FailureOr<Grid> parseGrid(StringRef text) {
  SmallVector<StringRef> parts;
  text.split(parts, 'x');
  if (parts.size() != 4)
    return failure();
  // (at most kMaxGpus ranks in all, as a spec's cluster and grid, so that
  // the product cannot overflow)
  int64_t sizes[4], ranks = 1;
  for (auto [i, part] : llvm::enumerate(parts)) {
    if (part.trim().getAsInteger(10, sizes[i]) || sizes[i] < 1 ||
        sizes[i] > kMaxGpus)
      return failure();
    ranks *= sizes[i];
    if (ranks > kMaxGpus)
      return failure();
  }
  return Grid{sizes[0], sizes[1], sizes[2], sizes[3]};
}

std::string describeBest(const PlanSearch &search, size_t count) {
  std::string text;
  for (size_t i = 0; i < std::min(count, search.ranked.size()); ++i) {
    const PlanCost &plan = search.ranked[i];
    if (i)
      text += ", ";
    text += llvm::formatv("{0} ({1} per step, {2} per GPU)", plan.grid.str(),
                          formatSeconds(plan.stepSeconds),
                          formatBytes(plan.memory.total()))
                .str();
  }
  return text;
}

/// The one model-level function of `module`, read by the cost model.
FailureOr<ModelShape> readModel(ModuleOp module, StringRef pass) {
  FailureOr<func::FuncOp> forward =
      findForwardFunction(module, ("--" + pass).str());
  if (failed(forward))
    return failure();
  return ModelShape::fromFunction(*forward);
}

/// The cluster named by a pass option (a built-in machine or a machine
/// file), else the module's; with `gpus` (when non-zero) as its GPU count.
FailureOr<ClusterAttr> resolveCluster(ModuleOp module, StringRef pass,
                                      StringRef option, int64_t gpus) {
  MLIRContext *context = module.getContext();
  ClusterAttr cluster =
      module->getAttrOfType<ClusterAttr>(AxonnDialect::kClusterAttrName);
  if (!option.empty()) {
    llvm::SourceMgr sourceMgr;
    std::unique_ptr<llvm::MemoryBuffer> buffer;
    if (std::optional<StringRef> builtin = getBuiltinMachine(option)) {
      buffer = llvm::MemoryBuffer::getMemBuffer(
          *builtin, ("<built-in machine " + option + ">").str());
    } else {
      auto file = llvm::MemoryBuffer::getFile(option, /*IsText=*/true);
      if (!file)
        return emitError(module.getLoc())
               << "--" << pass << ": cluster='" << option
               << "' is neither a built-in machine ("
               << llvm::join(getBuiltinMachineNames(), ", ")
               << ") nor a readable file: " << file.getError().message();
      buffer = std::move(*file);
    }
    unsigned id = sourceMgr.AddNewSourceBuffer(std::move(buffer), SMLoc());
    // Diagnostics inside the machine file carry its file:line:col.
    SourceMgrDiagnosticHandler handler(sourceMgr, context);
    FailureOr<ClusterAttr> parsed =
        importClusterDescription(sourceMgr, id, context);
    if (failed(parsed))
      return failure();
    cluster = *parsed;
  }
  if (!cluster)
    return emitError(module.getLoc())
           << "--" << pass
           << " needs a cluster: give the spec a cluster section or pass "
              "cluster=<"
           << llvm::join(getBuiltinMachineNames(), "|") << "|machine.json>";
  if (gpus != 0) {
    auto emit = [&] {
      return emitError(module.getLoc())
             << "--" << pass << ": gpus=" << gpus << ": ";
    };
    cluster = ClusterAttr::getChecked(
        emit, context, cluster.getName(), gpus, cluster.getGpusPerNode(),
        cluster.getNicsPerNode(), cluster.getIntraNodeBandwidth(),
        cluster.getInterNodeBandwidth(), cluster.getIntraNodeLatency(),
        cluster.getInterNodeLatency(), cluster.getPeakFlops(),
        cluster.getMemory(), cluster.getMemoryBandwidth(),
        cluster.getGemmEfficiency());
    if (!cluster)
      return failure();
  }
  return cluster;
}

/// The recompute option: unset for auto.
FailureOr<PlannerOptions> readPlannerOptions(ModuleOp module, StringRef pass,
                                             StringRef recompute) {
  PlannerOptions options;
  if (recompute == "none")
    options.recompute = RecomputePolicy::none;
  else if (recompute == "full")
    options.recompute = RecomputePolicy::full;
  else if (recompute != "auto")
    return emitError(module.getLoc())
           << "--" << pass << ": recompute='" << recompute
           << "' is not one of auto, none, full";
  return options;
}

struct PlanPass : public impl::PlanPassBase<PlanPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();

    FailureOr<ModelShape> model = readModel(module, getArgument());
    if (failed(model))
      return signalPassFailure();
    FailureOr<ClusterAttr> cluster =
        resolveCluster(module, getArgument(), clusterOption, gpus);
    if (failed(cluster))
      return signalPassFailure();
    FailureOr<PlannerOptions> plannerOptions =
        readPlannerOptions(module, getArgument(), recompute);
    if (failed(plannerOptions))
      return signalPassFailure();
    PlannerOptions options = *plannerOptions;

    std::optional<Grid> forced;
    if (!gridOption.empty()) {
      FailureOr<Grid> grid = parseGrid(gridOption);
      if (failed(grid)) {
        emitError(module.getLoc())
            << "--axonn-plan: grid='" << gridOption
            << "' is not Gx x Gy x Gz x Gdata, e.g. 2x2x2x2, of at most "
               "2^24 ranks";
        return signalPassFailure();
      }
      forced = *grid;
    } else if (auto grid = module->getAttrOfType<GridAttr>(
                   AxonnDialect::kGridAttrName)) {
      forced = Grid{grid.getX(), grid.getY(), grid.getZ(), grid.getData()};
    }
    int64_t world = cluster->getGpus();
    if (forced && forced->ranks() != world) {
      emitError(module.getLoc())
          << "grid " << forced->str() << " has " << forced->ranks()
          << " ranks but the cluster has " << world << " GPUs";
      return signalPassFailure();
    }

    CostOptions costOptions;
    costOptions.cacheGatheredWeights = cacheWeights;
    CostModel costModel(*model, *cluster, costOptions);
    PlanSearch search = searchGrids(costModel, world, options);
    if (failed(search.verify())) {
      emitError(module.getLoc()) << "planner produced an inconsistent ranking "
                                    "(axonn bug)";
      return signalPassFailure();
    }

    PlanCost chosen;
    if (forced) {
      chosen = planGrid(costModel, *forced, options);
      if (!chosen.feasible) {
        InFlightDiagnostic diag = emitError(module.getLoc())
                                  << "grid " << forced->str()
                                  << " cannot run: " << chosen.infeasibleReason;
        if (search.ranked.empty())
          diag << "; no grid of " << world << " GPUs can";
        else
          diag << "; the best feasible grids are " << describeBest(search, 3);
        return signalPassFailure();
      }
    } else if (search.ranked.empty()) {
      InFlightDiagnostic diag = emitError(module.getLoc())
                                << "no grid of " << world
                                << " GPUs can run this model: ";
      describeRejections(diag, search);
      return signalPassFailure();
    } else {
      chosen = search.ranked.front();
    }

    if (report)
      printReport(search, chosen, forced.has_value());
    if (collectives)
      printCollectives(*model, *cluster, chosen);

    module->setAttr(AxonnDialect::kClusterAttrName, *cluster);
    module->setAttr(AxonnDialect::kGridAttrName,
                    GridAttr::get(context, chosen.grid.x, chosen.grid.y,
                                  chosen.grid.z, chosen.grid.data));
    module->setAttr(AxonnDialect::kRecomputeAttrName,
                    RecomputePolicyAttr::get(context, chosen.recompute));
    // What the cost model expects each rank to hold, for
    // --axonn-print-memory-plan to compare with the planned buffers.
    const MemoryCost &memory = chosen.memory;
    Builder b(context);
    auto bytes = [&](StringRef name, double value) {
      return b.getNamedAttr(name,
                            b.getI64IntegerAttr(static_cast<int64_t>(value)));
    };
    module->setAttr(
        AxonnDialect::kPredictedMemoryAttrName,
        b.getDictionaryAttr({bytes("weights", memory.weights),
                             bytes("optimizer", memory.optimizer),
                             bytes("gradients", memory.gradients),
                             bytes("gathered", memory.gathered),
                             bytes("activations", memory.activations)}));
  }

  void describeRejections(InFlightDiagnostic &diag, const PlanSearch &search) {
    const RejectedGrid *divisibility = nullptr, *memory = nullptr;
    size_t memoryCount = 0;
    for (const RejectedGrid &rejected : search.rejected) {
      if (rejected.memory) {
        ++memoryCount;
        if (!memory)
          memory = &rejected;
      } else if (!divisibility) {
        divisibility = &rejected;
      }
    }
    diag << search.candidates - memoryCount
         << " grids break a divisibility rule";
    if (divisibility)
      diag << " (e.g. " << divisibility->grid.str() << ": "
           << divisibility->reason << ")";
    diag << " and " << memoryCount << " do not fit in memory";
    if (memory)
      diag << " (e.g. " << memory->grid.str() << ": " << memory->reason << ")";
  }

  void printReport(const PlanSearch &search, const PlanCost &chosen,
                   bool forced) {
    llvm::raw_ostream &os = llvm::errs();
    os << "axonn plan: " << search.gpus << " GPUs\n";
    search.dump(os, top);
    os << (forced ? "forced grid: " : "chosen: ");
    chosen.dump(os);
    auto it = llvm::find_if(search.ranked, [&](const PlanCost &plan) {
      return plan.grid == chosen.grid;
    });
    if (forced) {
      os << llvm::formatv("  rank {0} of {1} feasible grids",
                          it - search.ranked.begin() + 1, search.ranked.size());
      if (it != search.ranked.begin())
        os << llvm::formatv("; the best, {0}, is {1:P1} faster",
                            search.ranked.front().grid.str(),
                            1 - search.ranked.front().stepSeconds /
                                    chosen.stepSeconds);
      os << "\n";
      return;
    }
    os << "  why: the fastest predicted step of " << search.ranked.size()
       << " feasible grids";
    if (search.ranked.size() > 1) {
      const PlanCost &next = search.ranked[1];
      os << llvm::formatv("; the next, {0}, is {1:P1} slower ({2})",
                          next.grid.str(),
                          next.stepSeconds / chosen.stepSeconds - 1,
                          explainDifference(chosen, next));
    }
    os << "\n";
  }

  /// What makes `other` slower than `best`: the largest component.
  static std::string explainDifference(const PlanCost &best,
                                       const PlanCost &other) {
    const char *names[] = {"x", "y", "z", "data"};
    double compute = other.computeSeconds - best.computeSeconds;
    auto signedSeconds = [](double seconds) {
      return (seconds < 0 ? "-" : "+") + formatSeconds(std::abs(seconds));
    };
    std::string what = signedSeconds(compute) + " compute";
    double largest = compute;
    for (size_t i = 0; i < 4; ++i) {
      double delta = other.exposedSeconds[i] - best.exposedSeconds[i];
      if (delta > largest) {
        largest = delta;
        what = signedSeconds(delta) + " exposed " + names[i] + " communication";
      }
    }
    return "mostly " + what;
  }

  void printCollectives(const ModelShape &model, ClusterAttr cluster,
                        const PlanCost &chosen) {
    CostOptions options;
    options.cacheGatheredWeights = cacheWeights;
    options.recordCollectives = true;
    CostModel recorder(model, cluster, options);
    PlanCost plan = recorder.evaluate(chosen.grid, chosen.recompute);
    llvm::raw_ostream &os = llvm::errs();
    os << "collectives of grid " << plan.grid.str()
       << " per GPU and step (elements of the full buffer; group = ranks)\n";
    os << llvm::formatv("{0,-9} {1,-14} {2,-13} {3,12} {4,5} {5,6} "
                        "{6,11}  {7}\n",
                        "phase", "collective", "axes", "elements", "bytes",
                        "group", "seconds", "what");
    for (const CollectiveCost &c : plan.collectives)
      os << llvm::formatv("{0,-9} {1,-14} {2,-13} {3,12} {4,5} {5,6} "
                          "{6,11:E3}  {7}\n",
                          stringifyPhase(c.phase),
                          stringifyCollectiveKind(c.kind), formatAxes(c.axes),
                          c.elements, c.elementBytes, c.groupSize, c.seconds,
                          c.what);
  }
};

struct PlanScalingPass : public impl::PlanScalingPassBase<PlanScalingPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // (kMaxGpus at most, as a spec's cluster: the doubling sweep's grids
    // and their costs stay finite)
    if (from < 1 || to < from || to > kMaxGpus) {
      emitError(module.getLoc())
          << "--" << getArgument()
          << ": need 1 <= from <= to <= 2^24, got from=" << int64_t(from)
          << " to=" << int64_t(to);
      return signalPassFailure();
    }
    FailureOr<ModelShape> model = readModel(module, getArgument());
    if (failed(model))
      return signalPassFailure();
    FailureOr<ClusterAttr> cluster =
        resolveCluster(module, getArgument(), clusterOption, 0);
    if (failed(cluster))
      return signalPassFailure();
    FailureOr<PlannerOptions> options =
        readPlannerOptions(module, getArgument(), recompute);
    if (failed(options))
      return signalPassFailure();
    CostOptions costOptions;
    costOptions.cacheGatheredWeights = cacheWeights;

    SmallVector<int64_t> counts;
    for (int64_t gpus = from; gpus <= to; gpus *= 2)
      counts.push_back(gpus);
    ScalingReport report =
        scaleGpus(*model, *cluster, counts, *options, costOptions);
    report.dump(llvm::errs());
    if (!csv.empty()) {
      std::string error;
      auto file = openOutputFile(csv, &error);
      if (!file) {
        emitError(module.getLoc())
            << "--" << getArgument() << ": cannot write '" << csv
            << "': " << error;
        return signalPassFailure();
      }
      report.printCSV(file->os());
      file->keep();
    }
    markAllAnalysesPreserved();
  }
};

} // namespace
} // namespace mlir::axonn
