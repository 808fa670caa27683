//===- FuseNormGradAdd.cpp - --axonn-fuse-norm-grad-add -------------------===//
//
// add(other, layer_norm_grad / rms_norm_grad input gradient) -> the norm
// gradient with `accumulate` = other: the residual stream's gradient is
// written once, by the norm's gradient kernel, instead of written, read
// back and added to by a separate addition.
//
//===----------------------------------------------------------------------===//

#include "Placement.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_FUSENORMGRADADDPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// The norm gradient whose input gradient is `value`, if it is one without
/// `accumulate` and `add` is its only reader.
Operation *normGradOf(Value value, AddOp add) {
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != add->getBlock() || !value.hasOneUse())
    return nullptr;
  if (auto norm = dyn_cast<LayerNormGradOp>(def))
    return value == norm.getInputGrad() && !norm.getAccumulate() ? def
                                                                 : nullptr;
  if (auto norm = dyn_cast<RMSNormGradOp>(def))
    return value == norm.getInputGrad() && !norm.getAccumulate() ? def
                                                                 : nullptr;
  return nullptr;
}

/// Folds `add` into `norm` (which computes `add`'s operand `mine`) with the
/// other operand as accumulate; false if the pair cannot be placed.
bool fuse(AddOp add, Operation *norm, Value mine) {
  Value other = add.getLhs() == mine ? add.getRhs() : add.getLhs();
  if (other == mine)
    return false; // x + x: the gradient would be needed before it exists
  // At the norm gradient, when the other gradient is already there ...
  if (!availableBefore(other, norm)) {
    // ... else at the addition, when nothing in between reads the norm
    // gradient's parameter gradients (its operands are all there).
    bool readBetween = llvm::any_of(norm->getResults(), [&](Value result) {
      return llvm::any_of(result.getUsers(), [&](Operation *user) {
        return user != add.getOperation() && user->isBeforeInBlock(add);
      });
    });
    if (readBetween)
      return false;
    norm->moveBefore(add);
  }
  if (auto layer = dyn_cast<LayerNormGradOp>(norm))
    layer.getAccumulateMutable().assign(other);
  else
    cast<RMSNormGradOp>(norm).getAccumulateMutable().assign(other);
  // The sum is now the norm gradient's input gradient. (The addition's
  // buffer annotation is not carried over: memory is planned after this
  // pass.)
  add.getResult().replaceAllUsesWith(mine);
  add.erase();
  return true;
}

struct FuseNormGradAddPass
    : impl::FuseNormGradAddPassBase<FuseNormGradAddPass> {
  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp add) { adds.push_back(add); });
    for (AddOp add : adds) {
      // Both operands may be norm gradients (the first sum of the
      // residual's gradient): the later one takes the earlier as its
      // accumulate.
      SmallVector<std::pair<Operation *, Value>, 2> candidates;
      for (Value operand : {add.getLhs(), add.getRhs()})
        if (Operation *norm = normGradOf(operand, add))
          candidates.push_back({norm, operand});
      if (candidates.size() == 2 &&
          candidates[0].first->isBeforeInBlock(candidates[1].first))
        std::swap(candidates[0], candidates[1]);
      for (auto [norm, mine] : candidates)
        if (fuse(add, norm, mine))
          break;
    }
  }
};

} // namespace
} // namespace mlir::axonn
