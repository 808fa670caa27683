//===- ShardTest.cpp - --axonn-shard never produces a rejected sharding --===//
//
// For every example model and every grid of up to 16 ranks (and a few large
// ones), builds the training step and shards it. Either the pass reports a
// grid that does not fit the model (a dimension or the heads not divisible),
// or its output must pass the verifier, whose layout checks are independent
// of the pass's rules. A sharding the verifier rejects is a bug in the pass.
// The planner's divisibility check must agree with the pass on which grids
// fit, so that a plan never chooses a grid the compiler cannot shard, and
// its memory model must not promise less than the compiled step's memory
// plan needs.
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/CostModel.h"
#include "axonn/Analysis/MemoryPlan.h"
#include "axonn/Analysis/Planner.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"
#include "axonn/Target/ModelSpec.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include "gtest/gtest.h"

#include <cstdio>

using namespace mlir;
using namespace mlir::axonn;

namespace {

OwningOpRef<ModuleOp> importExample(MLIRContext &context, StringRef name) {
  std::string path =
      std::string(AXONN_EXAMPLES_DIR) + "/models/" + name.str() + ".json";
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return {};
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  return importModelSpec(sourceMgr, &context);
}

struct Outcome {
  int sharded = 0, rejected = 0;
  /// Planned memory / the cost model's prediction, over the grids sharded.
  double minRatio = 1e9, maxRatio = 0;
};

ClusterAttr builtinCluster(MLIRContext &context) {
  llvm::SourceMgr sourceMgr;
  unsigned buffer = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBuffer(*getBuiltinMachine("perlmutter")),
      llvm::SMLoc());
  FailureOr<ClusterAttr> cluster =
      importClusterDescription(sourceMgr, buffer, &context);
  return succeeded(cluster) ? *cluster : ClusterAttr();
}

/// Shards `model` on `grid`; fails the test if the result does not verify,
/// if the pass fails without saying the grid does not fit, or if the planner
/// disagrees on whether it fits.
void shardOn(MLIRContext &context, ModuleOp model, const CostModel &cost,
             const Grid &grid, Outcome &outcome) {
  std::string gridName =
      llvm::formatv("{0}x{1}x{2}x{3}", grid.x, grid.y, grid.z, grid.data);
  std::string plannerReason = cost.checkDivisibility(grid);
  OwningOpRef<ModuleOp> module = model.clone();
  (*module)->removeAttr(AxonnDialect::kClusterAttrName);
  (*module)->setAttr(
      AxonnDialect::kGridAttrName,
      GridAttr::get(&context, grid.x, grid.y, grid.z, grid.data));
  std::string messages;
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
    messages += diag.str() + "\n";
    return success();
  });
  PassManager pm(&context);
  pm.enableVerifier(true);
  pm.addPass(createShardPass());
  if (succeeded(pm.run(*module))) {
    ++outcome.sharded;
    EXPECT_TRUE(succeeded(verify(*module))) << gridName << ": " << messages;
    EXPECT_EQ(plannerReason, "")
        << gridName << ": the pass shards it, the planner rejects it";
    // The rest of the pipeline, then the memory plan of the step against
    // the cost model's prediction.
    PassManager lower(&context);
    lower.addPass(createInsertCollectivesPass());
    lower.addPass(createScheduleOverlapPass());
    ASSERT_TRUE(succeeded(lower.run(*module))) << gridName << ": " << messages;
    auto step = module->lookupSymbol<func::FuncOp>("train_step");
    FailureOr<MemoryPlan> plan = planMemory(step);
    ASSERT_TRUE(succeeded(plan));
    double predicted =
        cost.evaluate(grid, RecomputePolicy::none).memory.total();
    double ratio = double(plan->total()) / predicted;
    outcome.minRatio = std::min(outcome.minRatio, ratio);
    outcome.maxRatio = std::max(outcome.maxRatio, ratio);
    return;
  }
  ++outcome.rejected;
  bool expected = StringRef(messages).contains("cannot be laid out on grid") ||
                  StringRef(messages).contains("cannot be split over");
  EXPECT_TRUE(expected) << gridName << ": " << messages;
  EXPECT_NE(plannerReason, "")
      << gridName << ": the planner accepts it, the pass fails: " << messages;
}

class ShardTest : public ::testing::TestWithParam<const char *> {};

TEST_P(ShardTest, EveryGridVerifies) {
  MLIRContext context;
  context.loadDialect<AxonnDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> model = importExample(context, GetParam());
  ASSERT_TRUE(model);
  PassManager build(&context);
  build.addPass(createBuildTrainingStepPass());
  ASSERT_TRUE(succeeded(build.run(*model)));

  auto forward = model->lookupSymbol<func::FuncOp>("forward");
  FailureOr<ModelShape> shape = ModelShape::fromFunction(forward);
  ASSERT_TRUE(succeeded(shape));
  ClusterAttr cluster = builtinCluster(context);
  ASSERT_TRUE(cluster);
  CostModel cost(*shape, cluster);

  Outcome outcome;
  for (int64_t gpus : {1, 2, 4, 8, 16})
    for (const Grid &grid : enumerateGrids(gpus))
      shardOn(context, *model, cost, grid, outcome);
  for (Grid grid : {Grid{8, 4, 4, 2}, Grid{4, 8, 2, 4}, Grid{2, 2, 16, 8}})
    shardOn(context, *model, cost, grid, outcome);
  // Most small grids fit every example.
  EXPECT_GT(outcome.sharded, 2 * outcome.rejected) << outcome.rejected;
  // The planner's memory model against the planned buffers: it may be
  // conservative (it adds up peaks of phases that the plan never holds at
  // once), but never optimistic by more than 5%, or plans would run out of
  // memory.
  std::printf("%s: planned / predicted memory in [%.2f, %.2f] over %d grids\n",
              GetParam(), outcome.minRatio, outcome.maxRatio, outcome.sharded);
  EXPECT_LE(outcome.maxRatio, 1.05);
  EXPECT_GE(outcome.minRatio, 0.6);
}

INSTANTIATE_TEST_SUITE_P(Examples, ShardTest,
                         ::testing::Values("tiny-gpt", "tiny-llama",
                                           "gpt2-124m", "llama-8b"),
                         [](const auto &info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           std::replace(name.begin(), name.end(), '.', '_');
                           return name;
                         });

} // namespace
