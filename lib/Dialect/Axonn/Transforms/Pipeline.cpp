//===- Pipeline.cpp - --axonn-training-pipeline ---------------------------===//
//
// The whole compiler, model-level IR in, per-rank step out, as one pass
// pipeline: each stage is an ordinary pass, so --mlir-print-ir-after-all
// shows the IR after every one.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassOptions.h"
#include "mlir/Pass/PassRegistry.h"

using namespace mlir;
using namespace mlir::axonn;

namespace {

struct TrainingPipelineOptions
    : public PassPipelineOptions<TrainingPipelineOptions> {
  Option<std::string> cluster{
      *this, "cluster",
      llvm::cl::desc("Built-in machine name or machine file (default: the "
                     "module's axonn.cluster)"),
      llvm::cl::init("")};
  Option<int64_t> gpus{*this, "gpus",
                       llvm::cl::desc("GPU count (default: the cluster's)"),
                       llvm::cl::init(0)};
  Option<std::string> grid{
      *this, "grid",
      llvm::cl::desc("Force the grid Gx x Gy x Gz x Gdata, e.g. 2x2x2x2"),
      llvm::cl::init("")};
  Option<std::string> recompute{
      *this, "recompute",
      llvm::cl::desc("Activation recompute: auto, none, selective or full"),
      llvm::cl::init("auto")};
  Option<unsigned> prefetch{
      *this, "prefetch",
      llvm::cl::desc("How many weight-using ops ahead weight all-gathers "
                     "start"),
      llvm::cl::init(1)};
  Option<bool> keepGatheredWeights{
      *this, "keep-gathered-weights",
      llvm::cl::desc("Keep gathered weights from forward to backward"),
      llvm::cl::init(false)};
  Option<int64_t> bucketBytes{
      *this, "bucket-bytes",
      llvm::cl::desc("Bytes of gradients per reduction bucket"),
      llvm::cl::init(26214400)};
  Option<int64_t> vocabMultiple{
      *this, "vocab-multiple",
      llvm::cl::desc("Pad the vocabulary so each rank's slice has a "
                     "multiple of this many rows (aligned GEMM rows)"),
      llvm::cl::init(8)};
  Option<bool> fuse{
      *this, "fuse",
      llvm::cl::desc("Fuse residual additions with their norms, GELUs "
                     "with their linear layers, bias gradients with weight "
                     "gradients, and gradient additions with the norm or "
                     "embedding gradients they add (--axonn-fuse-residual-norm, "
                     "--axonn-fuse-linear-gelu, --axonn-fuse-linear-grad-bias, "
                     "--axonn-fuse-grad-add)"),
      llvm::cl::init(true)};
};

void buildTrainingPipeline(OpPassManager &pm,
                           const TrainingPipelineOptions &options) {
  PlanPassOptions plan;
  plan.clusterOption = options.cluster;
  plan.gpus = options.gpus;
  plan.gridOption = options.grid;
  // The planner chooses between no and full recompute; a selective policy
  // is costed as none and then built as asked.
  plan.recompute =
      options.recompute == "selective" ? "none" : options.recompute.getValue();
  plan.cacheWeights = options.keepGatheredWeights;
  pm.addPass(createPlanPass(plan));
  BuildTrainingStepPassOptions step;
  if (options.recompute == "selective")
    step.recompute = "selective";
  pm.addPass(createBuildTrainingStepPass(step));
  ShardPassOptions shard;
  shard.vocabMultiple = options.vocabMultiple;
  pm.addPass(createShardPass(shard));
  pm.addPass(createInsertCollectivesPass());
  ScheduleOverlapPassOptions overlap;
  overlap.prefetch = options.prefetch;
  overlap.keepGatheredWeights = options.keepGatheredWeights;
  overlap.bucketBytes = options.bucketBytes;
  pm.addPass(createScheduleOverlapPass(overlap));
  if (options.fuse) {
    pm.addPass(createFuseResidualNormPass());
    pm.addPass(createFuseLinearGeluPass());
    pm.addPass(createFuseLinearGradBiasPass());
    pm.addPass(createFuseGradAddPass());
  }
  pm.addPass(createPlanMemoryPass());
}

} // namespace

void mlir::axonn::registerTrainingPipeline() {
  PassPipelineRegistration<TrainingPipelineOptions>(
      "axonn-training-pipeline",
      "Compile model-level IR to the per-rank training step: plan, build "
      "the step, shard, insert collectives, schedule overlap, fuse residual "
      "norms, linear GELUs, bias gradients and gradient additions, plan "
      "memory",
      buildTrainingPipeline);
}
