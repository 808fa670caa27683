//===- Planner.cpp - choose the 4D decomposition -------------------------===//

#include "axonn/Analysis/Planner.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <map>

using namespace mlir;
using namespace mlir::axonn;

static std::vector<int64_t> divisors(int64_t n) {
  std::vector<int64_t> small, large;
  for (int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0) {
      small.push_back(d);
      if (d != n / d)
        large.push_back(n / d);
    }
  small.insert(small.end(), large.rbegin(), large.rend());
  return small;
}

std::vector<Grid> mlir::axonn::enumerateGrids(int64_t gpus) {
  std::vector<Grid> grids;
  std::map<int64_t, std::vector<int64_t>> cache;
  auto divisorsOf = [&](int64_t n) -> const std::vector<int64_t> & {
    auto it = cache.find(n);
    if (it == cache.end())
      it = cache.emplace(n, divisors(n)).first;
    return it->second;
  };
  for (int64_t x : divisorsOf(gpus))
    for (int64_t y : divisorsOf(gpus / x))
      for (int64_t z : divisorsOf(gpus / x / y))
        grids.push_back({x, y, z, gpus / x / y / z});
  return grids;
}

PlanCost mlir::axonn::planGrid(const CostModel &model, const Grid &grid,
                               const PlannerOptions &options) {
  std::string rule = model.checkDivisibility(grid);
  if (!rule.empty()) {
    PlanCost plan;
    plan.grid = grid;
    plan.feasible = false;
    plan.infeasibleReason = rule;
    return plan;
  }
  if (options.recompute)
    return model.evaluate(grid, *options.recompute);
  PlanCost plan = model.evaluate(grid, RecomputePolicy::none);
  if (plan.feasible)
    return plan;
  PlanCost recomputed = model.evaluate(grid, RecomputePolicy::full);
  if (!recomputed.feasible)
    recomputed.infeasibleReason += " even with full activation recompute";
  return recomputed;
}

PlanSearch mlir::axonn::searchGrids(const CostModel &model, int64_t gpus,
                                    const PlannerOptions &options) {
  auto start = std::chrono::steady_clock::now();
  PlanSearch search;
  search.gpus = gpus;
  for (const Grid &grid : enumerateGrids(gpus)) {
    ++search.candidates;
    PlanCost plan = planGrid(model, grid, options);
    if (plan.feasible) {
      search.ranked.push_back(std::move(plan));
    } else {
      bool memory = plan.memory.total() > 0;
      search.rejected.push_back(
          {grid, std::move(plan.infeasibleReason), memory});
    }
  }
  std::stable_sort(search.ranked.begin(), search.ranked.end(),
                   [](const PlanCost &a, const PlanCost &b) {
                     if (a.stepSeconds != b.stepSeconds)
                       return a.stepSeconds < b.stepSeconds;
                     return a.memory.total() < b.memory.total();
                   });
  search.searchSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return search;
}

LogicalResult PlanSearch::verify() const {
  if (static_cast<int64_t>(ranked.size() + rejected.size()) != candidates)
    return failure();
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (!ranked[i].feasible || ranked[i].grid.ranks() != gpus ||
        failed(ranked[i].verify()))
      return failure();
    if (i && ranked[i].stepSeconds < ranked[i - 1].stepSeconds)
      return failure();
  }
  return success();
}

void mlir::axonn::printPlanTableHeader(llvm::raw_ostream &os, StringRef unit) {
  os << llvm::formatv("{0,4} {1,-16} {2,-5} {3,10} {4,10} {5,9} {6,9} {7,9} "
                      "{8,9} {9,10} {10,10} {11,8} {12,6}\n",
                      "rank", "grid x*y*z*data", "recmp", "step " + unit,
                      "compute", "exp x", "exp y", "exp z", "exp data",
                      "overlap", "mem/GPU", "TFLOP/s", "MFU");
}

void mlir::axonn::printPlanTableRow(llvm::raw_ostream &os, size_t rank,
                                    const PlanCost &plan, double scale) {
  os << llvm::formatv(
      "{0,4} {1,-16} {2,-5} {3,10:F3} {4,10:F3} {5,9:F3} {6,9:F3} {7,9:F3} "
      "{8,9:F3} {9,10:F3} {10,10} {11,8:F1} {12,6:P1}\n",
      rank, plan.grid.str(), stringifyRecomputePolicy(plan.recompute),
      plan.stepSeconds * scale, plan.computeSeconds * scale,
      plan.exposedSeconds[0] * scale, plan.exposedSeconds[1] * scale,
      plan.exposedSeconds[2] * scale, plan.exposedSeconds[3] * scale,
      plan.overlapSaved() * scale, formatBytes(plan.memory.total()),
      plan.tflopsPerGpu, plan.mfu);
}

void PlanSearch::dump(llvm::raw_ostream &os, size_t k) const {
  size_t memoryRejected =
      llvm::count_if(rejected, [](const RejectedGrid &r) { return r.memory; });
  os << llvm::formatv("{0} grids of {1} GPUs: {2} feasible, {3} break a "
                      "divisibility rule, {4} do not fit in memory; searched "
                      "in {5:F1} ms\n",
                      candidates, gpus, ranked.size(),
                      rejected.size() - memoryRejected, memoryRejected,
                      searchSeconds * 1e3);
  if (ranked.empty())
    return;
  auto [scale, unit] = chooseTimeUnit(ranked.front().stepSeconds);
  os << "times in " << unit
     << " per training step; exp = communication the compute stream waits "
        "for, overlap = communication hidden behind compute\n";
  printPlanTableHeader(os, unit);
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i)
    printPlanTableRow(os, i + 1, ranked[i], scale);
}

//===----------------------------------------------------------------------===//
// Scaling
//===----------------------------------------------------------------------===//

/// The best plan of `model` on `gpus` GPUs, or the reason there is none.
static std::optional<PlanCost> bestPlan(const ModelShape &model,
                                        ClusterAttr cluster,
                                        const PlannerOptions &options,
                                        const CostOptions &costOptions,
                                        std::string &reason) {
  CostModel cost(model, cluster, costOptions);
  PlanSearch search = searchGrids(cost, cluster.getGpus(), options);
  if (!search.ranked.empty())
    return search.ranked.front();
  size_t memory = llvm::count_if(
      search.rejected, [](const RejectedGrid &r) { return r.memory; });
  reason =
      memory ? "no grid fits in memory" : "no grid divides the model and batch";
  return std::nullopt;
}

ScalingReport mlir::axonn::scaleGpus(const ModelShape &model,
                                     ClusterAttr cluster,
                                     ArrayRef<int64_t> gpuCounts,
                                     const PlannerOptions &options,
                                     const CostOptions &costOptions) {
  ScalingReport report;
  report.model = model.function;
  report.cluster = cluster.getName().str();
  report.batch = model.batch;
  report.seqLen = model.seqLen;
  auto sizedCluster = [&](int64_t gpus) -> ClusterAttr {
    int64_t perNode = cluster.getGpusPerNode();
    if (gpus > perNode && gpus % perNode != 0)
      return {};
    return ClusterAttr::get(
        cluster.getContext(), cluster.getName(), gpus, perNode,
        cluster.getNicsPerNode(), cluster.getIntraNodeBandwidth(),
        cluster.getInterNodeBandwidth(), cluster.getIntraNodeLatency(),
        cluster.getInterNodeLatency(), cluster.getPeakFlops(),
        cluster.getMemory(), cluster.getMemoryBandwidth(),
        cluster.getGemmEfficiency());
  };
  const char *notWhole = "not a whole number of nodes";

  // Strong scaling: the spec's batch on every count.
  const ScalingPoint *base = nullptr;
  for (int64_t gpus : gpuCounts) {
    ScalingPoint point;
    point.gpus = gpus;
    if (ClusterAttr sized = sizedCluster(gpus))
      point.strong =
          bestPlan(model, sized, options, costOptions, point.strongReason);
    else
      point.strongReason = notWhole;
    report.points.push_back(std::move(point));
  }
  for (ScalingPoint &point : report.points) {
    if (!point.strong)
      continue;
    if (!base)
      base = &point;
    point.strongEfficiency = base->strong->stepSeconds * base->gpus /
                             (point.strong->stepSeconds * point.gpus);
  }

  // Weak scaling: the tokens per GPU of the first count that has a plan.
  const ScalingPoint *weakBase = nullptr;
  for (ScalingPoint &point : report.points) {
    if (!base) {
      point.weakReason = "no count has a plan at the spec's batch";
      continue;
    }
    point.weakBatch = model.batch * point.gpus / base->gpus;
    if (point.weakBatch < 1 || model.batch * point.gpus % base->gpus != 0) {
      point.weakReason = "the batch does not scale to this count";
      continue;
    }
    ModelShape grown = model;
    grown.batch = point.weakBatch;
    if (ClusterAttr sized = sizedCluster(point.gpus))
      point.weak =
          bestPlan(grown, sized, options, costOptions, point.weakReason);
    else
      point.weakReason = notWhole;
    if (!point.weak)
      continue;
    if (!weakBase)
      weakBase = &point;
    point.weakEfficiency =
        weakBase->weak->stepSeconds / point.weak->stepSeconds;
  }
  return report;
}

void ScalingReport::dump(llvm::raw_ostream &os) const {
  os << llvm::formatv("scaling of @{0} on {1}: strong at the spec's batch "
                      "({2} x {3} tokens); weak with the tokens per GPU of "
                      "the first strong plan\n",
                      model, cluster, batch, seqLen);
  os << llvm::formatv("{0,6} | {1,-16} {2,11} {3,8} {4,6} {5,7} | {6,8} "
                      "{7,-16} {8,11} {9,8} {10,6} {11,7}\n",
                      "GPUs", "strong grid", "step", "TFLOP/s", "MFU", "eff",
                      "batch", "weak grid", "step", "TFLOP/s", "MFU", "eff");
  for (const ScalingPoint &p : points) {
    auto half = [&](const std::optional<PlanCost> &plan, double efficiency,
                    const std::string &reason) {
      if (!plan)
        return llvm::formatv("{0,-52}", reason).str();
      return llvm::formatv("{0,-16} {1,11} {2,8:F1} {3,6:P1} {4,7:P1}",
                           plan->grid.str(), formatSeconds(plan->stepSeconds),
                           plan->tflopsPerGpu, plan->mfu, efficiency)
          .str();
    };
    os << llvm::formatv("{0,6} | {1} | {2,8} {3}\n", p.gpus,
                        half(p.strong, p.strongEfficiency, p.strongReason),
                        p.weakBatch,
                        half(p.weak, p.weakEfficiency, p.weakReason));
  }
}

void ScalingReport::printCSV(llvm::raw_ostream &os) const {
  os << "gpus,strong_grid,strong_step_s,strong_tflops_per_gpu,strong_mfu,"
        "strong_efficiency,weak_batch,weak_grid,weak_step_s,"
        "weak_tflops_per_gpu,weak_mfu,weak_efficiency\n";
  auto half = [&](const std::optional<PlanCost> &plan, double efficiency) {
    if (!plan)
      return std::string(",,,,");
    return llvm::formatv("{0},{1:E6},{2:F3},{3:F4},{4:F4}", plan->grid.str(),
                         plan->stepSeconds, plan->tflopsPerGpu, plan->mfu,
                         efficiency)
        .str();
  };
  for (const ScalingPoint &p : points)
    os << p.gpus << "," << half(p.strong, p.strongEfficiency) << ","
       << p.weakBatch << "," << half(p.weak, p.weakEfficiency) << "\n";
}
