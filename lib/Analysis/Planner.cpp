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
