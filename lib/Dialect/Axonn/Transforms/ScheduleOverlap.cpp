//===- ScheduleOverlap.cpp - --axonn-schedule-overlap ---------------------===//
//
// Makes every collective of a per-rank program asynchronous and moves starts
// early and waits late so that communication runs under compute:
//
// - waits sink to just before the first use of their result: the dX
//   all-reduce of a linear's backward is waited after its dW GEMM (OAR);
// - weight all-gathers start `prefetch` weight-using ops ahead, in forward,
//   backward and recompute alike (OAG), and with `keep-gathered-weights` the
//   forward's gathered weight is reused in backward instead of gathered
//   again;
// - gradient reductions that feed the optimizer go in buckets of
//   `bucket-bytes`, each started once its last gradient is ready and after
//   one more weight-gradient GEMM, so that the reduce-scatter over z runs
//   under that GEMM (ORS) and the data-parallel all-reduce under the rest of
//   the backward; they are waited only where the optimizer reads them.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#define DEBUG_TYPE "axonn-schedule-overlap"

namespace mlir::axonn {
#define GEN_PASS_DEF_SCHEDULEOVERLAPPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// Ops that run the optimizer: gradient reductions feeding them are
/// waited only here.
bool isOptimizer(Operation *op) {
  return isa<SumSquaresOp, GlobalNormOp, AdamWOp>(op);
}

/// Compute that reads a gathered weight: the ops a weight prefetch counts.
bool usesWeight(Operation *op) {
  return isa<LinearOp, LinearGradInputOp, EmbeddingOp>(op);
}

int64_t bytesOf(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return type.getNumElements() *
         std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
}

/// The wait of a start op.
WaitOp waitOf(Operation *start) {
  return cast<WaitOp>(*start->getResult(0).getUsers().begin());
}

class Scheduler {
public:
  Scheduler(func::FuncOp func, unsigned prefetch, bool keepGathered,
            int64_t bucketBytes)
      : func(func), builder(func.getContext()), prefetch(prefetch),
        keepGathered(keepGathered), bucketBytes(bucketBytes) {}

  LogicalResult run();

private:
  /// Replaces a blocking collective by a start and a wait in its place.
  Operation *makeAsync(Operation *op);
  void shareGatheredWeights();
  void bucketGradientReductions();
  void prefetchWeights();
  void hoistStarts();
  void sinkWaits();

  Block &body() { return func.getBody().front(); }

  /// Positions of the ops in the block. Each phase numbers the ops once and
  /// compares positions of ops it has not moved yet: asking the block
  /// (isBeforeInBlock) after every move would renumber it each time,
  /// quadratic in the size of a large model's step.
  llvm::DenseMap<Operation *, int64_t> numberOps() {
    llvm::DenseMap<Operation *, int64_t> position;
    int64_t i = 0;
    for (Operation &op : body())
      position[&op] = i++;
    return position;
  }
  /// The user of `value` that comes first.
  static Operation *
  firstUser(Value value, const llvm::DenseMap<Operation *, int64_t> &position) {
    Operation *first = nullptr;
    for (Operation *user : value.getUsers())
      if (!first || position.lookup(user) < position.lookup(first))
        first = user;
    return first;
  }

  func::FuncOp func;
  OpBuilder builder;
  unsigned prefetch;
  bool keepGathered;
  int64_t bucketBytes;
  SmallVector<Operation *> starts;
  /// Waits placed on purpose (a bucket's reduce-scatters), not sunk.
  llvm::SmallPtrSet<Operation *, 16> pinned;
};

Operation *Scheduler::makeAsync(Operation *op) {
  builder.setInsertionPoint(op);
  Location loc = op->getLoc();
  Operation *start =
      TypeSwitch<Operation *, Operation *>(op)
          .Case([&](AllGatherOp c) {
            return AllGatherStartOp::create(
                builder, loc,
                HandleType::get(op->getContext(), c.getResult().getType()),
                c.getInput(), c.getAxes(), c.getDim());
          })
          .Case([&](ReduceScatterOp c) {
            return ReduceScatterStartOp::create(
                builder, loc,
                HandleType::get(op->getContext(), c.getResult().getType()),
                c.getReduction(), c.getInput(), c.getAxes(), c.getDim());
          })
          .Case([&](AllReduceOp c) {
            return AllReduceStartOp::create(
                builder, loc,
                HandleType::get(op->getContext(), c.getResult().getType()),
                c.getReduction(), c.getInput(), c.getAxes());
          });
  auto wait = WaitOp::create(builder, loc, op->getResult(0).getType(),
                             start->getResult(0));
  op->getResult(0).replaceAllUsesWith(wait.getResult());
  op->erase();
  return start;
}

/// OAG cache: a weight gathered again in backward reuses the forward's
/// gathered copy (more memory, no second all-gather).
void Scheduler::shareGatheredWeights() {
  llvm::DenseMap<Value, WaitOp> gathered;
  SmallVector<Operation *> kept;
  for (Operation *start : starts) {
    auto gather = dyn_cast<AllGatherStartOp>(start);
    if (!gather || !isa<BlockArgument>(gather.getInput())) {
      kept.push_back(start);
      continue;
    }
    auto [it, first] = gathered.try_emplace(gather.getInput(), waitOf(start));
    if (first) {
      kept.push_back(start);
      continue;
    }
    WaitOp wait = waitOf(start);
    wait.getResult().replaceAllUsesWith(it->second.getResult());
    wait.erase();
    start->erase();
  }
  starts = std::move(kept);
}

/// A reduction whose result (through other reductions) the optimizer reads:
/// a gradient's reduce-scatter over z or all-reduce over data.
static bool feedsOptimizer(Operation *start) {
  SmallVector<Value> frontier = {waitOf(start).getResult()};
  for (int depth = 0; depth < 4 && !frontier.empty(); ++depth) {
    SmallVector<Value> next;
    for (Value value : frontier)
      for (Operation *user : value.getUsers()) {
        if (isOptimizer(user))
          return true;
        if (isCollectiveStart(user))
          next.push_back(waitOf(user).getResult());
      }
    frontier = std::move(next);
  }
  return false;
}

void Scheduler::bucketGradientReductions() {
  // Gradient reductions that the optimizer waits for, in backward order.
  SmallVector<Operation *> gradients;
  for (Operation *start : starts)
    if (!isa<AllGatherStartOp>(start) && feedsOptimizer(start))
      gradients.push_back(start);
  // Only the last reduction of each chain is bucketed: the all-reduce over
  // data after a reduce-scatter over z (which starts where its dW is made
  // and is waited right before the all-reduce), or the reduce-scatter
  // itself without data parallelism (its wait, not its start, goes to the
  // bucket: the whole dW buffers in flight stay within a bucket).
  SmallVector<Operation *> last;
  for (Operation *start : gradients) {
    bool feedsAnother =
        llvm::any_of(waitOf(start).getResult().getUsers(),
                     [](Operation *user) { return isCollectiveStart(user); });
    if (!feedsAnother)
      last.push_back(start);
  }
  Operation *optimizer = nullptr;
  for (Operation &op : body())
    if (isOptimizer(&op)) {
      optimizer = &op;
      break;
    }

  SmallVector<Operation *> bucket;
  int64_t bytes = 0;
  auto issue = [&]() {
    if (bucket.empty())
      return;
    // Issue after the next weight-gradient GEMM following the bucket's last
    // gradient, so that its reduce-scatter had that GEMM to run under.
    auto position = numberOps();
    Operation *point = optimizer;
    for (Operation *op = bucket.back()->getNextNode(); op && op != optimizer;
         op = op->getNextNode())
      if (isa<LinearGradWeightOp>(op)) {
        point = op->getNextNode();
        break;
      }
    for (Operation *start : bucket) {
      if (!point)
        break;
      if (isa<ReduceScatterStartOp>(start)) {
        WaitOp wait = waitOf(start);
        wait->moveBefore(point);
        pinned.insert(wait);
        continue;
      }
      // The inputs come from earlier reductions' waits: move them along.
      for (Value operand : start->getOperands())
        if (auto wait = operand.getDefiningOp<WaitOp>())
          if (position.lookup(wait) < position.lookup(point))
            wait->moveBefore(point);
      start->moveBefore(point);
    }
    bucket.clear();
    bytes = 0;
  };
  for (Operation *start : last) {
    bucket.push_back(start);
    bytes += bytesOf(start->getOperand(0));
    if (bytes >= bucketBytes)
      issue();
  }
  issue();
}

/// OAG: each weight all-gather starts `prefetch` weight-using ops before
/// the op that needs it.
void Scheduler::prefetchWeights() {
  if (prefetch == 0)
    return;
  auto position = numberOps();
  for (Operation *start : starts) {
    auto gather = dyn_cast<AllGatherStartOp>(start);
    if (!gather || !isa<BlockArgument>(gather.getInput()))
      continue;
    Operation *firstUse = firstUser(waitOf(start).getResult(), position);
    if (!firstUse)
      continue;
    // Walk back from the use; move the start only if it is passed on the
    // way to the point `prefetch` weight-using ops earlier.
    Operation *point = firstUse;
    bool passedStart = false;
    unsigned passed = 0;
    for (Operation *op = firstUse->getPrevNode(); op; op = op->getPrevNode()) {
      if (op == start)
        passedStart = true;
      point = op;
      if (usesWeight(op) && ++passed == prefetch)
        break;
    }
    if (passedStart && point != start)
      start->moveBefore(point);
  }
}

/// Each reduction starts right after the op that produces its input.
void Scheduler::hoistStarts() {
  auto position = numberOps();
  for (Operation *start : starts) {
    Operation *def = start->getOperand(0).getDefiningOp();
    if (def && def->getBlock() == start->getBlock() &&
        position.lookup(def) < position.lookup(start) &&
        def->getNextNode() != start)
      start->moveAfter(def);
  }
}

/// Each wait moves to just before the first op that reads its result.
void Scheduler::sinkWaits() {
  auto position = numberOps();
  for (Operation *start : starts) {
    WaitOp wait = waitOf(start);
    if (pinned.contains(wait))
      continue;
    Operation *firstUse = firstUser(wait.getResult(), position);
    if (firstUse && position.lookup(wait) < position.lookup(firstUse))
      wait->moveBefore(firstUse);
  }
}

LogicalResult Scheduler::run() {
  if (func.isExternal())
    return success();
  SmallVector<Operation *> blocking;
  for (Operation &op : body()) {
    if (isBlockingCollective(&op))
      blocking.push_back(&op);
    else if (isCollectiveStart(&op))
      return op.emitOpError()
             << "is already asynchronous; --axonn-schedule-overlap runs once, "
                "on the output of --axonn-insert-collectives";
  }
  for (Operation *op : blocking)
    starts.push_back(makeAsync(op));
  if (keepGathered)
    shareGatheredWeights();
  hoistStarts();
  bucketGradientReductions();
  prefetchWeights();
  sinkWaits();
  // The start ops' verifier checks the schedule (wait after start, no
  // in-place update in flight) when the pass manager verifies the result.
  return success();
}

struct ScheduleOverlapPass
    : impl::ScheduleOverlapPassBase<ScheduleOverlapPass> {
  using ScheduleOverlapPassBase::ScheduleOverlapPassBase;
  void runOnOperation() override {
    if (bucketBytes <= 0) {
      getOperation().emitError()
          << "--axonn-schedule-overlap: bucket-bytes must be positive, got "
          << static_cast<int64_t>(bucketBytes);
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>())
      if (failed(Scheduler(func, prefetch, keepGatheredWeights, bucketBytes)
                     .run()))
        return signalPassFailure();
  }
};

} // namespace

} // namespace mlir::axonn
