//===- MemoryPlan.h - static buffer assignment of a per-rank step -*- C++ -*-=//
//
// Liveness of every tensor of a straight-line per-rank function and a static
// assignment of the temporary ones to offsets in one workspace, simulated in
// program order (first fit over a free list). Parameters and optimizer state
// persist across steps and live in their own buffers; AdamW updates them in
// place, and an all-reduce reduces in place when nothing else reads its
// input.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_ANALYSIS_MEMORYPLAN_H
#define AXONN_ANALYSIS_MEMORYPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"

#include <array>
#include <string>

namespace mlir::axonn {

/// What a buffer holds, for the breakdown of the peak.
enum class MemoryCategory {
  weights,       // parameters (persistent)
  optimizer,     // AdamW moments and master weights (persistent)
  gradients,     // weight gradients, before and after their reduction
  activations,   // everything else computed in the step, and the inputs
  communication, // gathered weights
};
constexpr size_t kNumMemoryCategories = 5;
StringRef stringifyMemoryCategory(MemoryCategory category);

struct MemoryPlan {
  /// Bytes of the buffers held across the step: weights and optimizer
  /// state, and the inputs (counted as activations).
  std::array<int64_t, kNumMemoryCategories> persistent{};
  /// Bytes live in the workspace at its fullest point, by category, and the
  /// op at that point.
  std::array<int64_t, kNumMemoryCategories> peakLive{};
  Operation *peakOp = nullptr;
  /// Size of the workspace: the highest offset + size of any assignment
  /// (the live peak plus fragmentation).
  int64_t workspace = 0;
  /// Offset of each temporary value in the workspace; values that alias
  /// another (in-place all-reduce, AdamW) map to the buffer they alias.
  llvm::DenseMap<Value, int64_t> offsets;
  llvm::DenseMap<Value, MemoryCategory> categories;

  int64_t peakLiveTotal() const;
  /// Persistent buffers plus the workspace: the bytes one rank needs.
  int64_t total() const;
};

/// Plans `func`'s memory. Buffers are aligned to `alignment` bytes; an f32
/// element takes `floatBytes` bytes when positive (8 for the fp64 runtime
/// build), every other element its type's width. Fails with a diagnostic on a
/// function with more than one block.
FailureOr<MemoryPlan> planMemory(func::FuncOp func, int64_t alignment = 256,
                                 int64_t floatBytes = 0);

} // namespace mlir::axonn

#endif // AXONN_ANALYSIS_MEMORYPLAN_H
