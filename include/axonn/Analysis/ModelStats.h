//===- ModelStats.h - size and cost of a model-level forward -*- C++ -*-===//
//
// Counts what a model-level `axonn` function holds and costs: parameters,
// shapes of its weights grouped across layers, and FLOPs per token by the
// usual formulas and exactly from its ops. Plain data; passes print it.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_ANALYSIS_MODELSTATS_H
#define AXONN_ANALYSIS_MODELSTATS_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace mlir::axonn {

/// Parameters that share a name up to the layer index and a shape:
/// `transformer.h.*.attn.c_attn.weight`, 2304x768, in 12 layers.
struct ParameterGroup {
  std::string pattern;
  SmallVector<int64_t> shape;
  int64_t instances = 0;
  int64_t elementsPerInstance = 0;
};

struct ModelStats {
  std::string function;
  /// Distinct parameter elements (a tied embedding counts once).
  int64_t parameters = 0;
  int64_t layers = 0, hidden = 0, heads = 0, kvHeads = 0, headDim = 0;
  int64_t ffn = 0, vocab = 0, seqLen = 0, batch = 0;

  /// FLOPs per token of one training step (forward + backward):
  /// llm.c / PaLM style, 6N + 6*L*d*T (T = sequence length).
  double flopsPerTokenLlmc = 0;
  /// Megatron-LM (Narayanan et al. 2021), which assumes full activation
  /// recompute: 96*L*h^2*(1 + S/(6h) + V/(16*L*h)).
  double flopsPerTokenMegatron = 0;
  /// The same accounting without recompute: 72*L*h^2*(1 + S/(6h) + V/(12*L*h)).
  double flopsPerTokenMegatronNoRecompute = 0;
  /// Exact matrix-multiply FLOPs of this IR's linears, attention and LM head,
  /// times 3 for forward + backward, no recompute.
  double flopsPerTokenExact = 0;

  std::vector<ParameterGroup> groups;

  /// Computes the stats of a model-level function; fails with a diagnostic on
  /// the function if it is not one (no `axonn.embedding`).
  static FailureOr<ModelStats> compute(func::FuncOp func);

  /// Internal consistency: the groups add up to `parameters`, formulas are
  /// finite. A failure here is a bug in `compute`.
  LogicalResult verify() const;

  /// Human-readable report.
  void dump(llvm::raw_ostream &os) const;
  /// The same as one JSON object.
  void printJSON(llvm::raw_ostream &os) const;
};

} // namespace mlir::axonn

#endif // AXONN_ANALYSIS_MODELSTATS_H
