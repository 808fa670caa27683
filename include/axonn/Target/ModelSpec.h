//===- ModelSpec.h - import model specs into the axonn dialect -*- C++ -*-===//
//
// A model spec is a JSON file holding a Hugging Face style model config
// (GPT-2 or Llama keys) and, optionally, `training`, `cluster` and `parallel`
// sections. docs/model-spec.md lists every key, its default and its unit.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_TARGET_MODELSPEC_H
#define AXONN_TARGET_MODELSPEC_H

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace llvm {
class SourceMgr;
} // namespace llvm

namespace mlir::axonn {

/// The most GPUs (ranks) a cluster, a grid or a planner sweep may have:
/// 2^24, far above any machine, so that products of grid axes and the
/// costs over them stay in int64 and finite.
constexpr int64_t kMaxGpus = int64_t(1) << 24;

/// Imports the spec in the main buffer of `sourceMgr` as a module holding the
/// model-level forward function `@forward`. Files the spec names (a cluster
/// description) are added to `sourceMgr`. On bad input, emits a diagnostic
/// located at the offending key or value and returns null. A non-null
/// `dtype` (f32 or bf16) replaces the spec's training.dtype.
OwningOpRef<ModuleOp> importModelSpec(llvm::SourceMgr &sourceMgr,
                                      MLIRContext *context,
                                      Type dtype = nullptr);

/// Reads a machine description (the schema of a spec's `cluster` section,
/// as in examples/clusters/) from buffer `buffer` of `sourceMgr`, with
/// located diagnostics.
FailureOr<ClusterAttr> importClusterDescription(llvm::SourceMgr &sourceMgr,
                                                unsigned buffer,
                                                MLIRContext *context);

/// The JSON text of a built-in machine (the files of examples/clusters/,
/// compiled in), by name: "perlmutter", "frontier", "alps", "dgx-h100".
std::optional<StringRef> getBuiltinMachine(StringRef name);
SmallVector<StringRef> getBuiltinMachineNames();

/// Registers `--import-model-spec` with mlir-translate's registry.
void registerModelSpecImport();

} // namespace mlir::axonn

#endif // AXONN_TARGET_MODELSPEC_H
