//===- FuseLinearGelu.cpp - --axonn-fuse-linear-gelu ----------------------===//
//
// linear (whole result) + gelu -> axonn.linear_gelu, whose GEMM applies
// the GELU in its epilogue and keeps the pre-activation for the backward;
// linear_grad_input (its only use) + gelu_grad ->
// axonn.linear_grad_input_gelu, whose GEMM applies the GELU's derivative.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_FUSELINEARGELUPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

struct FuseLinearGeluPass : impl::FuseLinearGeluPassBase<FuseLinearGeluPass> {
  void runOnOperation() override {
    SmallVector<GeluOp> gelus;
    getOperation().walk([&](GeluOp gelu) { gelus.push_back(gelu); });
    for (GeluOp gelu : gelus) {
      auto linear = gelu.getInput().getDefiningOp<LinearOp>();
      // Partial sums (once_over) must be reduced before the GELU.
      if (!linear || linear.getOnceOver() ||
          linear->getBlock() != gelu->getBlock())
        continue;
      // At the layer: the GELU's only operand is the layer's result.
      OpBuilder builder(linear);
      auto fused = LinearGeluOp::create(
          builder, linear.getLoc(), linear.getResult().getType(),
          gelu.getResult().getType(), linear.getInput(), linear.getWeight(),
          linear.getBias(), linear.getTransposed(), gelu.getApproximation());
      // Annotations of the two ops (buffers) are not carried over: memory
      // is planned after this pass.
      linear.getResult().replaceAllUsesWith(fused.getPre());
      gelu.getResult().replaceAllUsesWith(fused.getResult());
      gelu.erase();
      linear.erase();
    }
    // The backward: the input gradient of the layer after the GELU, read
    // only by the GELU's gradient (a partial sum would reach it through a
    // collective, not directly).
    SmallVector<GeluGradOp> grads;
    getOperation().walk([&](GeluGradOp grad) { grads.push_back(grad); });
    for (GeluGradOp grad : grads) {
      auto input = grad.getGrad().getDefiningOp<LinearGradInputOp>();
      if (!input || !input.getResult().hasOneUse() ||
          input->getBlock() != grad->getBlock())
        continue;
      // At the GELU gradient's place, where `pre` is defined too.
      OpBuilder builder(grad);
      auto fused = LinearGradInputGeluOp::create(
          builder, grad.getLoc(), grad.getResult().getType(), input.getGrad(),
          input.getWeight(), grad.getInput(), input.getTransposed(),
          grad.getApproximation());
      grad.getResult().replaceAllUsesWith(fused.getResult());
      grad.erase();
      input.erase();
    }
  }
};

} // namespace
} // namespace mlir::axonn
