//===- FuseLinearGradBias.cpp - --axonn-fuse-linear-grad-bias -------------===//
//
// linear_grad_weight(dy, x) + linear_grad_bias(dy) -> one
// axonn.linear_grad_weight with the bias gradient as its second result:
// on GPUs the weight gradient's GEMM sums dy's columns in its epilogue
// (cuBLASLt's BGRADB) while it reads dy anyway, instead of a separate
// kernel reading all of dy again.
//
//===----------------------------------------------------------------------===//

#include "Placement.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_FUSELINEARGRADBIASPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// Where the fused op of `bias` and `weight` can go: at the weight
/// gradient when it comes first; else at the bias gradient when the weight
/// gradient's input is defined there, or at the weight gradient when
/// nothing before it reads the bias gradient; else nowhere (null).
Operation *placeFor(LinearGradBiasOp bias, LinearGradWeightOp weight) {
  if (weight->isBeforeInBlock(bias))
    return weight;
  if (availableBefore(weight.getInput(), bias))
    return bias;
  bool readBefore = llvm::any_of(bias.getResult().getUsers(),
                                 [&](Operation *user) {
                                   return user->isBeforeInBlock(weight);
                                 });
  return readBefore ? nullptr : weight.getOperation();
}

/// The weight gradient that `bias` can join (of the same `grad`, in the
/// same block, without a bias gradient yet) and the fused op's place.
std::pair<LinearGradWeightOp, Operation *> partnerOf(LinearGradBiasOp bias) {
  for (Operation *user : bias.getGrad().getUsers()) {
    auto weight = dyn_cast<LinearGradWeightOp>(user);
    if (!weight || weight.getGrad() != bias.getGrad() ||
        weight.getBiasGrad() || weight->getBlock() != bias->getBlock() ||
        weight.getTransposed() != bias.getTransposed())
      continue;
    if (Operation *at = placeFor(bias, weight))
      return {weight, at};
  }
  return {nullptr, nullptr};
}

struct FuseLinearGradBiasPass
    : impl::FuseLinearGradBiasPassBase<FuseLinearGradBiasPass> {
  void runOnOperation() override {
    SmallVector<LinearGradBiasOp> biases;
    getOperation().walk([&](LinearGradBiasOp op) { biases.push_back(op); });
    for (LinearGradBiasOp bias : biases) {
      auto [weight, at] = partnerOf(bias);
      if (!weight)
        continue;
      OpBuilder builder(at);
      auto fused = LinearGradWeightOp::create(
          builder, weight.getLoc(), weight.getResult().getType(),
          bias.getResult().getType(), weight.getGrad(), weight.getInput(),
          weight.getTransposed());
      // The buffers' annotations of the two ops are not carried over:
      // memory is planned after this pass.
      weight.getResult().replaceAllUsesWith(fused.getResult());
      bias.getResult().replaceAllUsesWith(fused.getBiasGrad());
      weight.erase();
      bias.erase();
    }
  }
};

} // namespace
} // namespace mlir::axonn
