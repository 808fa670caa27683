//===- Planner.h - choose the 4D decomposition -------------------*- C++
//-*-===//
//
// Enumerates every factorization of the GPU count into (Gx, Gy, Gz, Gdata),
// drops those that break a divisibility rule or do not fit in memory, and
// ranks the rest by the cost model's predicted step time. Plain data; the
// --axonn-plan pass consumes it.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_ANALYSIS_PLANNER_H
#define AXONN_ANALYSIS_PLANNER_H

#include "axonn/Analysis/CostModel.h"

#include <optional>

namespace mlir::axonn {

struct PlannerOptions {
  /// None or Full forces the policy; unset tries None, then Full when None
  /// does not fit.
  std::optional<RecomputePolicy> recompute;
};

/// A grid the search dropped, and why.
struct RejectedGrid {
  Grid grid;
  std::string reason;
  bool memory = false; // the reason is memory, not divisibility
};

struct PlanSearch {
  int64_t gpus = 0;
  /// Every factorization considered.
  int64_t candidates = 0;
  /// Feasible plans, fastest first.
  std::vector<PlanCost> ranked;
  std::vector<RejectedGrid> rejected;
  /// Wall time of the search itself.
  double searchSeconds = 0;

  LogicalResult verify() const;
  /// The top `k` table with the counts of what was dropped and why.
  void dump(llvm::raw_ostream &os, size_t k) const;
};

/// Every (Gx, Gy, Gz, Gdata) with Gx * Gy * Gz * Gdata = gpus, x varying
/// slowest in the returned order.
std::vector<Grid> enumerateGrids(int64_t gpus);

/// The plan of one grid under the options' recompute policy: divisibility
/// first (infeasible with the rule it breaks), then memory.
PlanCost planGrid(const CostModel &model, const Grid &grid,
                  const PlannerOptions &options);

/// Costs every grid of `gpus` GPUs and ranks the feasible ones.
PlanSearch searchGrids(const CostModel &model, int64_t gpus,
                       const PlannerOptions &options);

/// The header and one row of the plan table, as `dump` prints them; times
/// are multiplied by `scale` to be in `unit` (see chooseTimeUnit).
void printPlanTableHeader(llvm::raw_ostream &os, StringRef unit);
void printPlanTableRow(llvm::raw_ostream &os, size_t rank, const PlanCost &plan,
                       double scale);

/// One GPU count of a scaling study: the best plan at the spec's global
/// batch (strong scaling) and at a batch grown with the GPU count (weak
/// scaling: the tokens per GPU of the first count with a strong plan).
struct ScalingPoint {
  int64_t gpus = 0;
  int64_t weakBatch = 0;
  std::optional<PlanCost> strong, weak;
  /// Why no grid fits, when one of the two is missing.
  std::string strongReason, weakReason;
  /// T(G0) * G0 / (T(G) * G) and T_weak(G0) / T_weak(G), G0 the first GPU
  /// count with a plan; 0 without a plan.
  double strongEfficiency = 0, weakEfficiency = 0;
};

struct ScalingReport {
  std::string model, cluster;
  int64_t batch = 0, seqLen = 0;
  std::vector<ScalingPoint> points;

  /// The table: GPUs, grid, step time, TFLOP/s per GPU, MFU and efficiency,
  /// strong and weak.
  void dump(llvm::raw_ostream &os) const;
  /// The same as CSV, one row per GPU count (empty fields without a plan).
  void printCSV(llvm::raw_ostream &os) const;
};

/// Plans `model` on `cluster` (its GPU count replaced) for each count of
/// `gpuCounts` (increasing), at the model's batch and at a batch that grows
/// with the count.
ScalingReport scaleGpus(const ModelShape &model, ClusterAttr cluster,
                        ArrayRef<int64_t> gpuCounts,
                        const PlannerOptions &options,
                        const CostOptions &costOptions);

} // namespace mlir::axonn

#endif // AXONN_ANALYSIS_PLANNER_H
