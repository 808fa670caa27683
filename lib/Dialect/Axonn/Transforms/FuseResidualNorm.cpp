//===- FuseResidualNorm.cpp - --axonn-fuse-residual-norm ------------------===//
//
// add + layer_norm / rms_norm (whole features) -> axonn.residual_norm, which
// returns the sum and its norm from one pass over the sum.
//
//===----------------------------------------------------------------------===//

#include "Placement.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_FUSERESIDUALNORMPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// Fuses `norm` (a layer or RMS norm of `add`'s sum); false if the pair
/// cannot be placed.
template <typename NormOp>
bool fuse(AddOp add, NormOp norm, Value bias, bool rms) {
  Value sum = add.getResult();
  Operation *at = nullptr;
  // At the norm, when nothing between the two reads the sum ...
  bool usedBetween = llvm::any_of(sum.getUsers(), [&](Operation *user) {
    return user != norm.getOperation() && user->isBeforeInBlock(norm);
  });
  if (!usedBetween)
    at = norm;
  // ... else at the addition, when the norm's parameters are there.
  else if (availableBefore(norm.getScale(), add) &&
           availableBefore(bias, add))
    at = add;
  if (!at)
    return false;
  OpBuilder builder(at);
  auto fused = ResidualNormOp::create(
      builder, norm.getLoc(), sum.getType(), norm.getResult().getType(),
      add.getLhs(), add.getRhs(), norm.getScale(), bias, norm.getEpsilon(),
      rms);
  // The buffers' and other annotations of the two ops are not carried
  // over: memory is planned after this pass.
  sum.replaceAllUsesWith(fused.getSum());
  norm.getResult().replaceAllUsesWith(fused.getResult());
  norm.erase();
  add.erase();
  return true;
}

struct FuseResidualNormPass
    : impl::FuseResidualNormPassBase<FuseResidualNormPass> {
  void runOnOperation() override {
    getOperation().walk([&](func::FuncOp func) {
      SmallVector<Operation *> norms;
      func.walk([&](Operation *op) {
        if (isa<LayerNormOp, RMSNormOp>(op))
          norms.push_back(op);
      });
      for (Operation *op : norms) {
        if (auto norm = dyn_cast<LayerNormOp>(op)) {
          auto add = norm.getInput().getDefiningOp<AddOp>();
          if (add && !norm.getStats() && add->getBlock() == op->getBlock())
            fuse(add, norm, norm.getBias(), /*rms=*/false);
        } else if (auto norm = dyn_cast<RMSNormOp>(op)) {
          auto add = norm.getInput().getDefiningOp<AddOp>();
          if (add && !norm.getStats() && add->getBlock() == op->getBlock())
            fuse(add, norm, Value(), /*rms=*/true);
        }
      }
    });
  }
};

} // namespace
} // namespace mlir::axonn
