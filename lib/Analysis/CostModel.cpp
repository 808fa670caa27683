//===- CostModel.cpp - predicted step time and memory of a 4D grid -------===//
//
// The step is simulated as a compute stream plus one communication stream
// per grid axis. Blocking collectives stall the compute stream; async ones
// (weight all-gathers prefetched one linear ahead, the backward dX
// all-reduce started before the dW GEMM, dW reduce-scatters and data-parallel
// all-reduces waited only by the optimizer) run beside it, and the compute
// stream waits only when it needs their result. What it waits is the exposed
// communication of that axis. docs/cost-model.md has the formulas.
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/CostModel.h"

#include "axonn/Analysis/ModelStats.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <cmath>

using namespace mlir;
using namespace mlir::axonn;

static constexpr Axis kAxes[] = {Axis::x, Axis::y, Axis::z, Axis::data};

static int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

StringRef mlir::axonn::stringifyCollectiveKind(CollectiveKind kind) {
  switch (kind) {
  case CollectiveKind::AllGather:
    return "all-gather";
  case CollectiveKind::ReduceScatter:
    return "reduce-scatter";
  case CollectiveKind::AllReduce:
    return "all-reduce";
  }
  return "?";
}

StringRef mlir::axonn::stringifyPhase(Phase phase) {
  switch (phase) {
  case Phase::Forward:
    return "forward";
  case Phase::Backward:
    return "backward";
  case Phase::Recompute:
    return "recompute";
  case Phase::Optimizer:
    return "optimizer";
  }
  return "?";
}

ArrayRef<GemmEfficiencyPoint> mlir::axonn::getDefaultGemmEfficiency() {
  // Rough bf16 tensor-core behaviour of A100/H100-class GPUs: small GEMMs are
  // bound by memory and launch overhead, large ones approach 80% of peak.
  static const GemmEfficiencyPoint table[] = {
      {16, 0.05}, {64, 0.25}, {256, 0.55}, {1024, 0.72}, {4096, 0.8}};
  return table;
}

//===----------------------------------------------------------------------===//
// Grid
//===----------------------------------------------------------------------===//

int64_t Grid::stride(Axis axis) const {
  switch (axis) {
  case Axis::x:
    return 1;
  case Axis::y:
    return x;
  case Axis::z:
    return x * y;
  case Axis::data:
    return x * y * z;
  }
  return 1;
}

std::string Grid::str() const {
  return llvm::formatv("{0}x{1}x{2}x{3}", x, y, z, data).str();
}

//===----------------------------------------------------------------------===//
// ModelShape
//===----------------------------------------------------------------------===//

FailureOr<ModelShape> ModelShape::fromFunction(func::FuncOp func) {
  FailureOr<ModelStats> stats = ModelStats::compute(func);
  if (failed(stats))
    return failure();
  ModelShape shape;
  shape.function = stats->function;
  shape.batch = stats->batch;
  shape.seqLen = stats->seqLen;
  shape.layers = stats->layers;
  shape.hidden = stats->hidden;
  shape.parameters = stats->parameters;
  shape.megatronFlopsPerTokenRecompute = stats->flopsPerTokenMegatron;
  shape.megatronFlopsPerTokenNoRecompute =
      stats->flopsPerTokenMegatronNoRecompute;

  auto paramName = [&](Value value) -> std::string {
    if (auto arg = dyn_cast<BlockArgument>(value))
      if (auto name = func.getArgAttrOfType<StringAttr>(
              arg.getArgNumber(), AxonnDialect::kParamAttrName))
        return name.str();
    return "<computed weight>";
  };
  auto opName = [](Operation *op) -> std::string {
    if (auto loc = dyn_cast<NameLoc>(op->getLoc()))
      return loc.getName().str();
    return op->getName().getStringRef().str();
  };

  // The grid axis splitting each activation's features: x on the residual
  // stream, y after a normal linear, x after a transposed one.
  llvm::DenseMap<Value, Axis> featureAxis;
  auto axisOf = [&](Value value) {
    auto it = featureAxis.find(value);
    return it == featureAxis.end() ? Axis::x : it->second;
  };
  Value embeddingTable;
  for (Operation &op : func.getBody().front()) {
    WorkItem item;
    item.name = opName(&op);
    if (auto e = dyn_cast<EmbeddingOp>(op)) {
      item.kind = WorkItem::Kind::Embedding;
      item.name = paramName(e.getTable());
      item.out = e.getTable().getType().getDimSize(0);
      item.in = e.getTable().getType().getDimSize(1);
      if (e.getPositions())
        item.positions = e.getPositions().getType().getDimSize(0);
      shape.elementBytes = e.getTable().getType().getElementTypeBitWidth() / 8;
      embeddingTable = e.getTable();
      featureAxis[e.getResult()] = Axis::x;
    } else if (isa<LayerNormOp, RMSNormOp>(op)) {
      item.kind = WorkItem::Kind::Norm;
      Value input = op.getOperand(0);
      item.width = cast<RankedTensorType>(input.getType()).getShape().back();
      item.featureAxis = axisOf(input);
      item.passes = 2;
      item.savedWidth = item.width;
      item.bias = isa<LayerNormOp>(op);
      featureAxis[op.getResult(0)] = item.featureAxis;
    } else if (auto linear = dyn_cast<LinearOp>(op)) {
      item.kind = WorkItem::Kind::Linear;
      item.name = paramName(linear.getWeight());
      item.out = linear.getOutFeatures();
      item.in = linear.getInFeatures();
      item.transposed = linear.getTransposed();
      item.bias = static_cast<bool>(linear.getBias());
      featureAxis[linear.getResult()] = item.transposed ? Axis::x : Axis::y;
    } else if (auto attention = dyn_cast<AttentionOp>(op)) {
      item.kind = WorkItem::Kind::Attention;
      item.heads = attention.getHeads();
      item.kvHeads = attention.getKvHeads();
      item.headDim = attention.getHeadDim();
      featureAxis[attention.getResult()] = axisOf(attention.getQkv());
    } else if (isa<GeluOp, SwiGLUOp, AddOp>(op)) {
      item.kind = WorkItem::Kind::Elementwise;
      Value result = op.getResult(0);
      item.width = cast<RankedTensorType>(result.getType()).getShape().back();
      item.featureAxis = axisOf(op.getOperand(0));
      // Reads and writes per output element; what backward must keep.
      if (isa<GeluOp>(op)) {
        item.passes = 2;
        item.savedWidth = item.width;
      } else if (isa<SwiGLUOp>(op)) {
        item.passes = 3;
        item.savedWidth = 2 * item.width;
      } else {
        item.passes = 3;
      }
      featureAxis[result] = item.featureAxis;
    } else if (auto loss = dyn_cast<LMHeadLossOp>(op)) {
      item.kind = WorkItem::Kind::Loss;
      item.name = paramName(loss.getWeight());
      item.out = loss.getWeight().getType().getDimSize(0);
      item.in = loss.getWeight().getType().getDimSize(1);
      item.tied = loss.getWeight() == embeddingTable;
    } else if (isa<func::ReturnOp>(op)) {
      continue;
    } else {
      return op.emitOpError()
             << "is not modelled by the axonn cost model; the planner reads "
                "model-level functions (as --import-model-spec makes them)";
    }
    shape.work.push_back(std::move(item));
  }
  return shape;
}

//===----------------------------------------------------------------------===//
// CostModel
//===----------------------------------------------------------------------===//

CostModel::CostModel(const ModelShape &model, ClusterAttr cluster,
                     CostOptions options)
    : model(model), cluster(cluster), options(options) {
  peak = cluster.getPeakFlops().convertToDouble();
  memoryBandwidth = cluster.getMemoryBandwidth().convertToDouble();
  intraBandwidth = cluster.getIntraNodeBandwidth().convertToDouble();
  interBandwidth = cluster.getInterNodeBandwidth().convertToDouble();
  intraLatency = cluster.getIntraNodeLatency().convertToDouble();
  interLatency = cluster.getInterNodeLatency().convertToDouble();
  if (cluster.getGemmEfficiency().empty())
    llvm::append_range(efficiency, getDefaultGemmEfficiency());
  else
    llvm::append_range(efficiency, cluster.getGemmEfficiency());
}

double CostModel::gemmEfficiency(double size) const {
  if (size <= efficiency.front().size)
    return efficiency.front().efficiency;
  if (size >= efficiency.back().size)
    return efficiency.back().efficiency;
  for (size_t i = 1; i < efficiency.size(); ++i) {
    if (size > efficiency[i].size)
      continue;
    const GemmEfficiencyPoint &lo = efficiency[i - 1], &hi = efficiency[i];
    double t = std::log(size / lo.size) / std::log(double(hi.size) / lo.size);
    return lo.efficiency + t * (hi.efficiency - lo.efficiency);
  }
  return efficiency.back().efficiency;
}

double CostModel::gemmSeconds(double m, double n, double k) const {
  if (m <= 0 || n <= 0 || k <= 0)
    return 0;
  return 2 * m * n * k / (peak * gemmEfficiency(std::min({m, n, k})));
}

double CostModel::collectiveSeconds(CollectiveKind kind, ArrayRef<Axis> axes,
                                    const Grid &grid, double bytes) const {
  int64_t p = 1;
  for (Axis axis : axes)
    p *= grid.size(axis);
  if (p <= 1 || bytes <= 0)
    return 0;
  // Placement: a group whose members, `stride` ranks apart, all sit in one
  // node uses the intra-node links. A group that crosses nodes is limited by
  // its inter-node hop, and `flows` groups of the same axis leave each node
  // at once, sharing its NICs.
  int64_t perNode = cluster.getGpusPerNode();
  int64_t stride = grid.stride(axes.front());
  int64_t span = stride * p;
  for (Axis axis : axes.drop_front())
    span = std::max(span, grid.stride(axis) * grid.size(axis));
  double bandwidth, latency;
  if (span <= perNode && perNode % span == 0) {
    bandwidth = intraBandwidth;
    latency = intraLatency;
  } else {
    int64_t flows = std::min(stride, perNode);
    double perFlow =
        interBandwidth *
        std::min(1.0, double(cluster.getNicsPerNode()) / double(flows));
    bandwidth = std::min(intraBandwidth, perFlow);
    latency = interLatency;
  }
  // Ring algorithms: an all-gather or reduce-scatter moves (p-1)/p of the
  // buffer through every link, an all-reduce 2(p-1)/p; alpha is paid once.
  double factor = (kind == CollectiveKind::AllReduce ? 2.0 : 1.0) * (p - 1) / p;
  return latency + factor * bytes / bandwidth;
}

namespace {
/// The global shape of one linear on a grid.
struct LocalLinear {
  Axis inAxis, outAxis;
  int64_t n, k; // local out and in features (vocab padded up)
};
} // namespace

static LocalLinear localLinear(const WorkItem &item, const Grid &grid) {
  LocalLinear local;
  local.inAxis = item.transposed ? Axis::y : Axis::x;
  local.outAxis = item.transposed ? Axis::x : Axis::y;
  local.n = ceilDiv(item.out, grid.size(local.outAxis));
  local.k = ceilDiv(item.in, grid.size(local.inAxis));
  return local;
}

std::string CostModel::checkDivisibility(const Grid &grid) const {
  auto broken = [&](int64_t size, int64_t group) { return size % group != 0; };
  auto message = [&](int64_t size, Axis axis, const Twine &what) {
    return (what + " (" + Twine(size) + ") is not divisible by G" +
            stringifyAxis(axis) + " = " + Twine(grid.size(axis)))
        .str();
  };
  int64_t shards = grid.z * grid.data;
  if (broken(model.batch, shards))
    return llvm::formatv("global batch ({0} sequences) is not divisible by "
                         "Gz * Gdata = {1}",
                         model.batch, shards)
        .str();
  for (const WorkItem &item : model.work) {
    switch (item.kind) {
    case WorkItem::Kind::Linear: {
      LocalLinear local = localLinear(item, grid);
      if (broken(item.out, grid.size(local.outAxis)))
        return message(item.out, local.outAxis, item.name + " out-features");
      if (broken(item.in, grid.size(local.inAxis)))
        return message(item.in, local.inAxis, item.name + " in-features");
      if (broken(local.n, grid.z))
        return llvm::formatv("{0}: local rows ({1}) are not divisible by "
                             "Gz = {2} for the z storage split",
                             item.name, local.n, grid.z)
            .str();
      break;
    }
    case WorkItem::Kind::Attention:
      if (broken(item.kvHeads, grid.y))
        return message(item.kvHeads, Axis::y, "KV heads");
      if (broken(item.heads, grid.y))
        return message(item.heads, Axis::y, "attention heads");
      break;
    case WorkItem::Kind::Norm:
    case WorkItem::Kind::Elementwise:
      if (broken(item.width, grid.size(item.featureAxis)))
        return message(item.width, item.featureAxis, item.name + " features");
      break;
    case WorkItem::Kind::Embedding:
    case WorkItem::Kind::Loss:
      // The vocabulary is padded up to a multiple of Gy * Gz; the hidden
      // size must split over x, learned positions over z (storage).
      if (broken(item.in, grid.x))
        return message(item.in, Axis::x, "hidden size");
      if (item.positions && broken(item.positions, grid.z))
        return llvm::formatv("learned positions ({0}) are not divisible by "
                             "Gz = {1} for the z storage split",
                             item.positions, grid.z)
            .str();
      break;
    }
  }
  return "";
}

namespace {
/// The compute stream and one communication stream per axis.
class StepSimulator {
public:
  StepSimulator(const CostModel &cost, const Grid &grid, PlanCost &plan,
                bool record)
      : cost(cost), grid(grid), plan(plan), record(record) {}

  void compute(double seconds) {
    now += seconds;
    plan.computeSeconds += seconds;
  }

  /// Issues a collective at `ready` (no earlier than its axis is free);
  /// returns when it completes.
  double issue(CollectiveKind kind, ArrayRef<Axis> axes, double elements,
               int64_t bytes, double ready, Phase phase, StringRef what,
               StringRef suffix = "") {
    double seconds = cost.collectiveSeconds(kind, axes, grid, elements * bytes);
    if (seconds == 0)
      return ready;
    // A multi-axis collective occupies its outermost axis's stream.
    Axis lane = axes.back();
    double start = std::max(ready, free[index(lane)]);
    double end = start + seconds;
    free[index(lane)] = end;
    plan.communicationSeconds[index(lane)] += seconds;
    if (record) {
      int64_t group = 1;
      for (Axis axis : axes)
        group *= grid.size(axis);
      plan.collectives.push_back(
          {kind, phase, SmallVector<Axis, 2>(axes), (what + suffix).str(),
           static_cast<int64_t>(elements), bytes, group, seconds});
    }
    return end;
  }

  /// The compute stream waits for `end`, a collective on `lane`.
  void wait(double end, Axis lane) {
    if (end > now) {
      plan.exposedSeconds[index(lane)] += end - now;
      now = end;
    }
  }

  /// A collective the compute stream waits for at once.
  void blocking(CollectiveKind kind, ArrayRef<Axis> axes, double elements,
                int64_t bytes, Phase phase, StringRef what,
                StringRef suffix = "") {
    wait(issue(kind, axes, elements, bytes, now, phase, what, suffix),
         axes.back());
  }

  /// Waits for every stream (before the optimizer).
  void drain() {
    for (Axis axis : kAxes)
      wait(free[index(axis)], axis);
  }

  double now = 0;

private:
  static size_t index(Axis axis) { return static_cast<size_t>(axis); }

  const CostModel &cost;
  const Grid &grid;
  PlanCost &plan;
  bool record;
  std::array<double, 4> free{};
};
} // namespace

std::string mlir::axonn::formatBytes(double bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return llvm::formatv(unit ? "{0:F1} {1}" : "{0:F0} {1}", bytes, units[unit])
      .str();
}

PlanCost CostModel::evaluate(const Grid &grid,
                             RecomputePolicy recompute) const {
  PlanCost plan;
  plan.grid = grid;
  plan.recompute = recompute;
  StepSimulator sim(*this, grid, plan, options.recordCollectives);

  const int64_t eb = model.elementBytes;
  const int64_t gradBytes = 4; // gradients are reduced in fp32
  const double m = double(model.batch) * model.seqLen / (grid.z * grid.data);
  const double s = model.seqLen;
  auto elementwise = [&](double elements, double passes) {
    return elements * passes * eb / memoryBandwidth;
  };
  const SmallVector<Axis, 2> zData = {Axis::z, Axis::data};

  // Per-linear quantities, reused by forward, recompute and backward.
  struct LinearCost {
    LocalLinear local;
    double gemm = 0;     // one of the three equal GEMMs
    double gathered = 0; // elements of the gathered weight
  };
  std::vector<LinearCost> linears(model.work.size());
  for (auto [i, item] : llvm::enumerate(model.work)) {
    if (item.kind != WorkItem::Kind::Linear &&
        item.kind != WorkItem::Kind::Loss)
      continue;
    LinearCost &c = linears[i];
    c.local = localLinear(item, grid);
    c.gemm = gemmSeconds(m, c.local.n, c.local.k);
    c.gathered = double(c.local.n) * c.local.k;
  }
  auto attentionSeconds = [&](const WorkItem &item) {
    // Causal attention computes about half of the score matrix.
    double width = double(item.heads / grid.y) * item.headDim;
    return 0.5 * 4 * m * s * width /
           (peak * gemmEfficiency(std::min<double>(item.headDim, s)));
  };

  // Weight all-gathers over z are prefetched one linear ahead: the gather
  // of linear i is issued when the compute of the linear before it starts.
  std::vector<size_t> linearOrder;
  std::vector<size_t> linearPosition(model.work.size(), 0);
  for (auto [i, item] : llvm::enumerate(model.work))
    if (item.kind == WorkItem::Kind::Linear ||
        item.kind == WorkItem::Kind::Loss) {
      linearPosition[i] = linearOrder.size();
      linearOrder.push_back(i);
    }
  std::vector<double> gatherDone(model.work.size(), 0);
  auto prefetch = [&](size_t position, double issueAt, Phase phase) {
    if (position >= linearOrder.size())
      return;
    size_t i = linearOrder[position];
    const WorkItem &item = model.work[i];
    if (item.kind == WorkItem::Kind::Loss && item.tied)
      return; // the table was gathered for the embedding
    gatherDone[i] =
        sim.issue(CollectiveKind::AllGather, {Axis::z}, linears[i].gathered, eb,
                  issueAt, phase, item.name);
  };

  // The forward of one work item. `phase` is Forward or Recompute; only the
  // forward pass prefetches the next linear's weights (in backward the
  // gathers run in the opposite order).
  auto forward = [&](size_t i, Phase phase) {
    const WorkItem &item = model.work[i];
    switch (item.kind) {
    case WorkItem::Kind::Embedding: {
      int64_t rows = ceilDiv(item.out, grid.y);
      int64_t width = item.in / grid.x;
      sim.blocking(CollectiveKind::AllGather, {Axis::z}, double(rows) * width,
                   eb, phase, item.name);
      sim.compute(elementwise(m * width, 2));
      // Each y rank holds part of the vocabulary: the lookups add up.
      sim.blocking(CollectiveKind::AllReduce, {Axis::y}, m * width, eb, phase,
                   item.name, " lookup");
      break;
    }
    case WorkItem::Kind::Linear:
    case WorkItem::Kind::Loss: {
      const LinearCost &c = linears[i];
      sim.wait(gatherDone[i], Axis::z);
      if (phase == Phase::Forward)
        prefetch(linearPosition[i] + 1, sim.now, phase);
      sim.compute(c.gemm);
      // The local GEMM sums over in-features split over inAxis.
      sim.blocking(CollectiveKind::AllReduce, {c.local.inAxis}, m * c.local.n,
                   eb, phase, item.name, " output");
      if (item.kind == WorkItem::Kind::Loss) {
        // Vocabulary-parallel cross-entropy on fp32 logits: max, sum of
        // exponentials and target logit reduced over y.
        sim.compute(m * c.local.n * 4 * 4 / memoryBandwidth);
        for (const char *what : {" max", " sum-exp", " target"})
          sim.blocking(CollectiveKind::AllReduce, {Axis::y}, m, 4, phase,
                       item.name, what);
      }
      break;
    }
    case WorkItem::Kind::Attention:
      sim.compute(attentionSeconds(item));
      break;
    case WorkItem::Kind::Norm: {
      double local = m * item.width / grid.size(item.featureAxis);
      sim.compute(elementwise(local, item.passes));
      // Mean and variance over features split on featureAxis.
      sim.blocking(CollectiveKind::AllReduce, {item.featureAxis}, 2 * m, 4,
                   phase, item.name, " statistics");
      break;
    }
    case WorkItem::Kind::Elementwise:
      sim.compute(elementwise(m * item.width / grid.size(item.featureAxis),
                              item.passes));
      break;
    }
  };

  // Forward.
  prefetch(0, 0, Phase::Forward);
  for (size_t i = 0; i < model.work.size(); ++i)
    forward(i, Phase::Forward);

  // Backward, in reverse. With full recompute each item first runs its
  // forward again.
  std::fill(gatherDone.begin(), gatherDone.end(), 0.0);
  for (size_t i = model.work.size(); i-- > 0;) {
    const WorkItem &item = model.work[i];
    bool isLinear = item.kind == WorkItem::Kind::Linear ||
                    item.kind == WorkItem::Kind::Loss;
    if (isLinear && !options.cacheGatheredWeights &&
        !(item.kind == WorkItem::Kind::Loss && item.tied)) {
      // Gather again (prefetched while the items after it run backward).
      if (gatherDone[i] == 0)
        gatherDone[i] =
            sim.issue(CollectiveKind::AllGather, {Axis::z}, linears[i].gathered,
                      eb, sim.now, Phase::Backward, item.name);
      sim.wait(gatherDone[i], Axis::z);
      // Prefetch the previous linear's weights.
      if (size_t position = linearPosition[i]; position > 0) {
        size_t j = linearOrder[position - 1];
        gatherDone[j] =
            sim.issue(CollectiveKind::AllGather, {Axis::z}, linears[j].gathered,
                      eb, sim.now, Phase::Backward, model.work[j].name);
      }
    }
    if (recompute == RecomputePolicy::full &&
        item.kind != WorkItem::Kind::Loss &&
        item.kind != WorkItem::Kind::Embedding) {
      // Recompute reuses the gather above.
      double saved = gatherDone[i];
      gatherDone[i] = 0;
      forward(i, Phase::Recompute);
      gatherDone[i] = saved;
    }
    switch (item.kind) {
    case WorkItem::Kind::Embedding: {
      int64_t rows = ceilDiv(item.out, grid.y);
      int64_t width = item.in / grid.x;
      sim.compute(elementwise(m * width, 2));
      double scattered = sim.issue(CollectiveKind::ReduceScatter, {Axis::z},
                                   double(rows) * width, gradBytes, sim.now,
                                   Phase::Backward, item.name);
      sim.issue(CollectiveKind::AllReduce, {Axis::data},
                double(rows) * width / grid.z, gradBytes, scattered,
                Phase::Backward, item.name);
      if (item.positions)
        sim.issue(CollectiveKind::AllReduce, zData,
                  double(item.positions) * width, gradBytes, sim.now,
                  Phase::Backward, item.name, " positions");
      break;
    }
    case WorkItem::Kind::Linear:
    case WorkItem::Kind::Loss: {
      const LinearCost &c = linears[i];
      if (item.kind == WorkItem::Kind::Loss)
        sim.compute(m * c.local.n * 4 * 2 / memoryBandwidth);
      // dX = dY W, its all-reduce over outAxis overlapped with dW (OAR).
      sim.compute(c.gemm);
      double dx =
          sim.issue(CollectiveKind::AllReduce, {c.local.outAxis}, m * c.local.k,
                    eb, sim.now, Phase::Backward, item.name, " input gradient");
      sim.compute(c.gemm);
      sim.wait(dx, c.local.outAxis);
      // dW reduce-scatter over z, then its data-parallel all-reduce; the
      // optimizer waits for both (ORS, bucketed data parallelism).
      if (!(item.kind == WorkItem::Kind::Loss && item.tied)) {
        double scattered =
            sim.issue(CollectiveKind::ReduceScatter, {Axis::z}, c.gathered,
                      gradBytes, sim.now, Phase::Backward, item.name);
        sim.issue(CollectiveKind::AllReduce, {Axis::data}, c.gathered / grid.z,
                  gradBytes, scattered, Phase::Backward, item.name);
      }
      if (item.bias)
        sim.issue(CollectiveKind::AllReduce, zData, double(c.local.n),
                  gradBytes, sim.now, Phase::Backward, item.name, " bias");
      break;
    }
    case WorkItem::Kind::Attention:
      sim.compute(2.5 * attentionSeconds(item));
      break;
    case WorkItem::Kind::Norm: {
      double local = m * item.width / grid.size(item.featureAxis);
      sim.compute(elementwise(local, 2 * item.passes));
      sim.blocking(CollectiveKind::AllReduce, {item.featureAxis}, 2 * m, 4,
                   Phase::Backward, item.name, " statistics gradient");
      // Scale (and bias) gradients: summed over the ranks holding copies.
      SmallVector<Axis, 3> holders;
      for (Axis axis : kAxes)
        if (axis != item.featureAxis)
          holders.push_back(axis);
      sim.issue(CollectiveKind::AllReduce, holders,
                (item.bias ? 2.0 : 1.0) * item.width /
                    grid.size(item.featureAxis),
                gradBytes, sim.now, Phase::Backward, item.name, " parameters");
      break;
    }
    case WorkItem::Kind::Elementwise:
      sim.compute(elementwise(m * item.width / grid.size(item.featureAxis),
                              2 * item.passes));
      break;
    }
  }

  // Optimizer: AdamW over the local shard, after every gradient arrived.
  sim.drain();
  MemoryCost &mem = plan.memory;
  double stored = 0, gatheredMax = 0, gatheredAll = 0;
  // Activations backward needs, in three parts: before the first layer,
  // one entry per transformer layer (from the norm before its attention to
  // the next such norm), and after the last layer (final norm, LM head).
  // Full recompute keeps only each layer's input and rebuilds one layer at
  // a time; the other parts are kept either way.
  std::vector<size_t> segmentOf(model.work.size(), 0);
  size_t segment = 0;
  size_t lastAttention = 0;
  for (auto [i, item] : llvm::enumerate(model.work))
    if (item.kind == WorkItem::Kind::Attention)
      lastAttention = i;
  for (auto [i, item] : llvm::enumerate(model.work)) {
    bool startsLayer = false;
    if (item.kind == WorkItem::Kind::Norm)
      for (size_t j = i + 1; j < model.work.size(); ++j) {
        if (model.work[j].kind == WorkItem::Kind::Norm)
          break;
        if (model.work[j].kind == WorkItem::Kind::Attention) {
          startsLayer = true;
          break;
        }
      }
    // The final norm: after the last attention, followed by no linear.
    bool startsTail = item.kind == WorkItem::Kind::Norm && i > lastAttention &&
                      llvm::none_of(ArrayRef(model.work).drop_front(i + 1),
                                    [](const WorkItem &w) {
                                      return w.kind == WorkItem::Kind::Linear;
                                    });
    if (startsLayer || startsTail)
      ++segment;
    segmentOf[i] = segment;
  }
  std::vector<double> segmentActivations(segment + 1, 0.0);
  double logits = 0;
  for (auto [i, item] : llvm::enumerate(model.work)) {
    double &layerActivations = segmentActivations[segmentOf[i]];
    switch (item.kind) {
    case WorkItem::Kind::Embedding: {
      double table = double(ceilDiv(item.out, grid.y)) * (item.in / grid.x);
      double positions = double(item.positions) * item.in / grid.x;
      stored += (table + positions) / grid.z;
      gatheredMax = std::max(gatheredMax, table);
      gatheredAll += table + positions;
      break;
    }
    case WorkItem::Kind::Linear:
    case WorkItem::Kind::Loss: {
      const LinearCost &c = linears[i];
      if (!(item.kind == WorkItem::Kind::Loss && item.tied))
        stored += c.gathered / grid.z + (item.bias ? c.local.n : 0);
      gatheredMax = std::max(gatheredMax, c.gathered);
      gatheredAll += c.gathered;
      layerActivations += m * c.local.k; // the input, for dW
      if (item.kind == WorkItem::Kind::Loss)
        logits = 2 * m * c.local.n; // the logits and their gradient
      break;
    }
    case WorkItem::Kind::Attention: {
      // Its input q, k, v (its output is the next linear's input, counted
      // there), plus an fp32 log-sum-exp per head.
      double qkv = double(item.heads + 2 * item.kvHeads) / grid.y;
      double out = double(item.heads) / grid.y;
      layerActivations += m * item.headDim * qkv + m * out * 4.0 / eb;
      break;
    }
    case WorkItem::Kind::Norm:
      stored +=
          (item.bias ? 2.0 : 1.0) * item.width / grid.size(item.featureAxis);
      layerActivations += m * item.savedWidth / grid.size(item.featureAxis);
      break;
    case WorkItem::Kind::Elementwise:
      layerActivations += m * item.savedWidth / grid.size(item.featureAxis);
      break;
    }
  }
  // Segments 1..L are the layers (the last one also holds what follows it
  // if the model has no final norm).
  double activations = 0, layerMax = 0;
  for (size_t k = 0; k <= segment; ++k) {
    bool isLayer = k >= 1 && k <= static_cast<size_t>(model.layers);
    if (recompute == RecomputePolicy::full && isLayer)
      layerMax = std::max(layerMax, segmentActivations[k]);
    else
      activations += segmentActivations[k];
  }
  if (recompute == RecomputePolicy::full)
    activations += double(model.layers) * m * model.hidden / grid.x + layerMax;
  mem.weights = stored * eb;
  mem.optimizer = stored * (eb < 4 ? 12 : 8); // fp32 master, Adam m and v
  mem.gradients = stored * gradBytes;
  mem.gathered =
      (options.cacheGatheredWeights ? gatheredAll : 2 * gatheredMax) * eb +
      // Whole dW buffers whose reduce-scatter is in flight: a bucket's worth
      // plus the one being computed (--axonn-schedule-overlap), at most all.
      std::min(gatheredAll * gradBytes,
               double(options.bucketBytes) + 2 * gatheredMax * gradBytes);
  mem.activations = (activations + logits) * eb;
  plan.memoryCapacity =
      double(cluster.getMemory()) * options.usableMemoryFraction;
  // AdamW reads params, grads, master, m, v and writes four of them.
  sim.compute(stored * 36 / memoryBandwidth);
  plan.stepSeconds = sim.now;

  if (mem.total() > plan.memoryCapacity) {
    plan.feasible = false;
    plan.infeasibleReason = llvm::formatv(
        "needs {0} per GPU (weights {1}, optimizer {2}, gradients {3}, "
        "gathered weights {4}, activations {5}) but {6} are usable",
        formatBytes(mem.total()), formatBytes(mem.weights),
        formatBytes(mem.optimizer), formatBytes(mem.gradients),
        formatBytes(mem.gathered), formatBytes(mem.activations),
        formatBytes(plan.memoryCapacity));
  }
  double tokens = double(model.batch) * model.seqLen;
  double flops = tokens * (recompute == RecomputePolicy::full
                               ? model.megatronFlopsPerTokenRecompute
                               : model.megatronFlopsPerTokenNoRecompute);
  plan.tflopsPerGpu = flops / plan.stepSeconds / grid.ranks() / 1e12;
  plan.mfu = plan.tflopsPerGpu * 1e12 / peak;
  return plan;
}

//===----------------------------------------------------------------------===//
// PlanCost
//===----------------------------------------------------------------------===//

double PlanCost::exposedTotal() const {
  double total = 0;
  for (double seconds : exposedSeconds)
    total += seconds;
  return total;
}

double PlanCost::communicationTotal() const {
  double total = 0;
  for (double seconds : communicationSeconds)
    total += seconds;
  return total;
}

LogicalResult PlanCost::verify() const {
  auto bad = [](double v) { return !std::isfinite(v) || v < 0; };
  if (bad(stepSeconds) || bad(computeSeconds) || bad(memory.total()))
    return failure();
  for (size_t i = 0; i < 4; ++i)
    if (bad(exposedSeconds[i]) || bad(communicationSeconds[i]) ||
        exposedSeconds[i] > communicationSeconds[i] * (1 + 1e-9) + 1e-15)
      return failure();
  // The step is compute plus what it waited for.
  double sum = computeSeconds + exposedTotal();
  if (std::abs(sum - stepSeconds) > 1e-9 * std::max(1.0, stepSeconds))
    return failure();
  return success(feasible == infeasibleReason.empty());
}

std::pair<double, StringRef> mlir::axonn::chooseTimeUnit(double seconds) {
  if (seconds >= 1)
    return {1, "s"};
  if (seconds >= 1e-3)
    return {1e3, "ms"};
  return {1e6, "us"};
}

std::string mlir::axonn::formatSeconds(double seconds) {
  auto [scale, unit] = chooseTimeUnit(std::abs(seconds));
  return llvm::formatv("{0:F3} {1}", seconds * scale, unit).str();
}

void PlanCost::dump(llvm::raw_ostream &os) const {
  os << "grid " << grid.str() << " (recompute "
     << stringifyRecomputePolicy(recompute) << "): step "
     << formatSeconds(stepSeconds) << " = compute "
     << formatSeconds(computeSeconds) << " + exposed communication "
     << formatSeconds(exposedTotal()) << "\n";
  for (Axis axis : kAxes) {
    size_t i = static_cast<size_t>(axis);
    os << llvm::formatv("  {0,-5} communication {1}, exposed {2}\n",
                        stringifyAxis(axis),
                        formatSeconds(communicationSeconds[i]),
                        formatSeconds(exposedSeconds[i]));
  }
  os << llvm::formatv("  overlap saved {0}; {1:F1} TFLOP/s per GPU, MFU "
                      "{2:P}\n",
                      formatSeconds(overlapSaved()), tflopsPerGpu, mfu);
  os << llvm::formatv("  memory per GPU {0} of {1} usable{2}\n",
                      formatBytes(memory.total()), formatBytes(memoryCapacity),
                      feasible ? "" : " (does not fit)");
  os << llvm::formatv("  memory bytes: weights {0:F0}, optimizer {1:F0}, "
                      "gradients {2:F0}, gathered weights {3:F0}, activations "
                      "{4:F0}, total {5:F0}\n",
                      memory.weights, memory.optimizer, memory.gradients,
                      memory.gathered, memory.activations, memory.total());
}
