//===- FuseGradAdd.cpp - --axonn-fuse-grad-add ----------------------------===//
//
// add(other, g) where g is a gradient an op can add to as it writes it (a
// layer or RMS norm gradient's input gradient, an embedding gradient) ->
// that op with `accumulate` = other: the residual stream's gradient, or a
// tied embedding's, is written once instead of written, read back and
// added to by a separate addition.
//
//===----------------------------------------------------------------------===//

#include "Placement.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_FUSEGRADADDPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// The op that computes `value` and can add another gradient to it as it
/// writes it (a norm gradient's input gradient, an embedding gradient),
/// if it has no `accumulate` yet and `add` is the value's only reader.
Operation *accumulatorOf(Value value, AddOp add) {
  Operation *def = value.getDefiningOp();
  if (!def || def->getBlock() != add->getBlock() || !value.hasOneUse())
    return nullptr;
  bool can =
      TypeSwitch<Operation *, bool>(def)
          .Case<LayerNormGradOp, RMSNormGradOp>([&](auto norm) {
            return value == norm.getInputGrad() && !norm.getAccumulate();
          })
          .Case([&](EmbeddingGradOp grad) { return !grad.getAccumulate(); })
          .Default([](Operation *) { return false; });
  return can ? def : nullptr;
}

/// Folds `add` into `op` (which computes `add`'s operand `mine`) with the
/// other operand as accumulate; false if the pair cannot be placed.
bool fuse(AddOp add, Operation *op, Value mine) {
  Value other = add.getLhs() == mine ? add.getRhs() : add.getLhs();
  if (other == mine)
    return false; // x + x: the gradient would be needed before it exists
  // At the op, when the other gradient is already there ...
  if (!availableBefore(other, op)) {
    // ... else at the addition, when nothing in between reads the op's
    // other results (a norm's parameter gradients; its operands are all
    // there).
    bool readBetween = llvm::any_of(op->getResults(), [&](Value result) {
      return llvm::any_of(result.getUsers(), [&](Operation *user) {
        return user != add.getOperation() && user->isBeforeInBlock(add);
      });
    });
    if (readBetween)
      return false;
    op->moveBefore(add);
  }
  TypeSwitch<Operation *>(op)
      .Case<LayerNormGradOp, RMSNormGradOp, EmbeddingGradOp>(
          [&](auto op) { op.getAccumulateMutable().assign(other); });
  // The sum is now the op's result. (The addition's buffer annotation is
  // not carried over: memory is planned after this pass.)
  add.getResult().replaceAllUsesWith(mine);
  add.erase();
  return true;
}

struct FuseGradAddPass : impl::FuseGradAddPassBase<FuseGradAddPass> {
  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp add) { adds.push_back(add); });
    for (AddOp add : adds) {
      // Both operands may qualify (the first sum of the residual's
      // gradient, two norm gradients): the later op takes the earlier's
      // result as its accumulate.
      SmallVector<std::pair<Operation *, Value>, 2> candidates;
      for (Value operand : {add.getLhs(), add.getRhs()})
        if (Operation *op = accumulatorOf(operand, add))
          candidates.push_back({op, operand});
      if (candidates.size() == 2 &&
          candidates[0].first->isBeforeInBlock(candidates[1].first))
        std::swap(candidates[0], candidates[1]);
      for (auto [op, mine] : candidates)
        if (fuse(add, op, mine))
          break;
    }
  }
};

} // namespace
} // namespace mlir::axonn
