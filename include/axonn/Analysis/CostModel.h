//===- CostModel.h - predicted step time and memory of a 4D grid -*- C++
//-*-===//
//
// For a model-level axonn function, a cluster and a grid (Gx, Gy, Gz, Gdata),
// predicts one training step of the 4D algorithm of AxoNN
// (../shared/design/algorithm.md): the compute time of every local GEMM and
// other op, every collective as a ring (alpha-beta with placement-dependent
// bandwidth), how much of it the overlap schedule (OAR, ORS, OAG, bucketed
// data-parallel all-reduce) hides, and the memory each GPU needs. Plain data
// with verify() and dump(); no IR is rewritten. docs/cost-model.md explains
// every formula.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_ANALYSIS_COSTMODEL_H
#define AXONN_ANALYSIS_COSTMODEL_H

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/raw_ostream.h"

#include <array>
#include <string>
#include <vector>

namespace mlir::axonn {

//===----------------------------------------------------------------------===//
// The model, as the cost model sees it
//===----------------------------------------------------------------------===//

/// One unit of work of the forward pass, in program order.
struct WorkItem {
  enum class Kind { Embedding, Linear, Attention, Norm, Elementwise, Loss };
  Kind kind = Kind::Elementwise;
  /// The parameter (Linear, Embedding, Loss: the weight) or op it comes from.
  std::string name;
  /// Linear: weight [out, in]. Embedding and Loss: out = vocab, in = hidden.
  int64_t out = 0, in = 0;
  /// Linear: has a bias; Norm: has a shift (layer norm, not RMS norm).
  bool transposed = false, bias = false;
  /// Loss: the LM head shares the embedding table.
  bool tied = false;
  /// Embedding: learned positions (0 for none).
  int64_t positions = 0;
  /// Attention.
  int64_t heads = 0, kvHeads = 0, headDim = 0;
  /// Norm and Elementwise: feature width of the output and the grid axis
  /// that splits it; `passes` is memory traffic per output element, in
  /// elements (reads + writes) of the forward op.
  int64_t width = 0;
  Axis featureAxis = Axis::x;
  double passes = 0;
  /// Norm and Elementwise: elements per token the backward pass needs saved.
  int64_t savedWidth = 0;
};

/// What the cost model needs of a model-level function.
struct ModelShape {
  std::string function;
  int64_t batch = 0, seqLen = 0, elementBytes = 4, layers = 0, hidden = 0;
  int64_t parameters = 0;
  std::vector<WorkItem> work;
  /// Model FLOPs per token by Megatron's formula, with and without
  /// recompute (what TFLOP/s and MFU are reported against; see ModelStats).
  double megatronFlopsPerTokenRecompute = 0,
         megatronFlopsPerTokenNoRecompute = 0;

  /// Reads a model-level function; fails with a diagnostic on the function
  /// if it holds something the cost model does not know.
  static FailureOr<ModelShape> fromFunction(func::FuncOp func);
};

//===----------------------------------------------------------------------===//
// Grids, options, results
//===----------------------------------------------------------------------===//

struct Grid {
  int64_t x = 1, y = 1, z = 1, data = 1;
  int64_t size(Axis axis) const {
    switch (axis) {
    case Axis::x:
      return x;
    case Axis::y:
      return y;
    case Axis::z:
      return z;
    case Axis::data:
      return data;
    }
    return 1;
  }
  int64_t ranks() const { return x * y * z * data; }
  /// Ranks between consecutive members of an axis group (x fastest).
  int64_t stride(Axis axis) const;
  /// "2x2x2x2".
  std::string str() const;
  bool operator==(const Grid &other) const {
    return x == other.x && y == other.y && z == other.z && data == other.data;
  }
};

enum class CollectiveKind { AllGather, ReduceScatter, AllReduce };
enum class Phase { Forward, Backward, Recompute, Optimizer };

struct CostOptions {
  /// Keep gathered weights from forward to backward (OAG caching) instead of
  /// gathering them again.
  bool cacheGatheredWeights = false;
  /// Fraction of device memory the plan may use.
  double usableMemoryFraction = 0.9;
  /// Bytes of gradients per bucket of reductions in flight
  /// (--axonn-schedule-overlap's bucket-bytes).
  int64_t bucketBytes = 25 << 20;
  /// Record every collective in PlanCost::collectives (for reports and
  /// tests; the search leaves it off).
  bool recordCollectives = false;
};

/// One collective of a step, per GPU.
struct CollectiveCost {
  CollectiveKind kind;
  Phase phase;
  /// The group: one axis, or several (reductions over z and data).
  SmallVector<Axis, 2> axes;
  std::string what;
  /// Elements of the buffer (the gathered / unscattered / reduced size).
  int64_t elements = 0;
  int64_t elementBytes = 0;
  int64_t groupSize = 1;
  double seconds = 0;
};

struct MemoryCost {
  double weights = 0, optimizer = 0, gradients = 0, gathered = 0,
         activations = 0;
  double total() const {
    return weights + optimizer + gradients + gathered + activations;
  }
};

/// Predicted cost of one training step on one grid.
struct PlanCost {
  Grid grid;
  RecomputePolicy recompute = RecomputePolicy::none;
  bool feasible = true;
  /// Why the grid cannot run (divisibility or memory); empty if feasible.
  std::string infeasibleReason;

  double stepSeconds = 0;
  double computeSeconds = 0;
  /// Per axis (x, y, z, data): time the compute stream waits for
  /// communication, and all communication time.
  std::array<double, 4> exposedSeconds{}, communicationSeconds{};
  MemoryCost memory;
  double memoryCapacity = 0;
  /// Model FLOP/s per GPU (Megatron's formula for the recompute policy) and
  /// its fraction of peak.
  double tflopsPerGpu = 0, mfu = 0;

  std::vector<CollectiveCost> collectives;

  double exposedTotal() const;
  double communicationTotal() const;
  /// Communication hidden behind compute.
  double overlapSaved() const { return communicationTotal() - exposedTotal(); }

  /// Internal consistency (times non-negative and adding up); a failure is a
  /// cost-model bug.
  LogicalResult verify() const;
  void dump(llvm::raw_ostream &os) const;
};

/// Predicts costs on one cluster. Cheap to call for many grids.
class CostModel {
public:
  CostModel(const ModelShape &model, ClusterAttr cluster,
            CostOptions options = {});

  /// The first divisibility rule `grid` breaks, or empty.
  std::string checkDivisibility(const Grid &grid) const;

  /// The step on `grid` with the given recompute policy. Does not check
  /// divisibility; sets feasible = false when memory does not fit.
  PlanCost evaluate(const Grid &grid, RecomputePolicy recompute) const;

  /// Ring time of one collective of `elements` elements over `axes`.
  double collectiveSeconds(CollectiveKind kind, ArrayRef<Axis> axes,
                           const Grid &grid, double bytes) const;
  /// Seconds of a GEMM of the given local shape.
  double gemmSeconds(double m, double n, double k) const;
  /// Fraction of peak for a GEMM whose smallest dimension is `size`.
  double gemmEfficiency(double size) const;

  const ModelShape &getModel() const { return model; }
  ClusterAttr getCluster() const { return cluster; }

private:
  const ModelShape &model;
  ClusterAttr cluster;
  CostOptions options;
  double peak, memoryBandwidth, intraBandwidth, interBandwidth, intraLatency,
      interLatency;
  SmallVector<GemmEfficiencyPoint> efficiency;
};

StringRef stringifyCollectiveKind(CollectiveKind kind);
StringRef stringifyPhase(Phase phase);

/// The unit to show `seconds` in: (1, "s"), (1e3, "ms") or (1e6, "us").
std::pair<double, StringRef> chooseTimeUnit(double seconds);
/// 0.0123 -> "12.300 ms".
std::string formatSeconds(double seconds);

/// 97280 -> "95.0 KiB".
std::string formatBytes(double bytes);

/// The default GEMM efficiency table, used when a cluster has none.
ArrayRef<GemmEfficiencyPoint> getDefaultGemmEfficiency();

} // namespace mlir::axonn

#endif // AXONN_ANALYSIS_COSTMODEL_H
