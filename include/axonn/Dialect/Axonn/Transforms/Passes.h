//===- Passes.h - axonn passes ------------------------------*- C++ -*-===//

#ifndef AXONN_DIALECT_AXONN_TRANSFORMS_PASSES_H
#define AXONN_DIALECT_AXONN_TRANSFORMS_PASSES_H

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::axonn {

#define GEN_PASS_DECL
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"

/// Registers --axonn-training-pipeline: --axonn-plan,
/// --axonn-build-training-step, --axonn-shard, --axonn-insert-collectives,
/// --axonn-schedule-overlap and --axonn-plan-memory with shared options
/// (cluster, gpus, grid, recompute, prefetch, keep-gathered-weights,
/// bucket-bytes).
void registerTrainingPipeline();

} // namespace mlir::axonn

#endif // AXONN_DIALECT_AXONN_TRANSFORMS_PASSES_H
