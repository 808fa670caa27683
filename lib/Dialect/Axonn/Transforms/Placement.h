//===- Placement.h - where a fused op may go ------------------------------===//
//
// Shared by the fusion passes (--axonn-fuse-residual-norm,
// --axonn-fuse-linear-grad-bias, --axonn-fuse-grad-add), which put
// the op replacing a pair at one of the pair's places.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_TRANSFORMS_PLACEMENT_H
#define AXONN_TRANSFORMS_PLACEMENT_H

#include "mlir/IR/Block.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace mlir::axonn {

/// Whether `value` is available before `op` in its block: none (null), an
/// argument of the block, or defined by an earlier op.
inline bool availableBefore(Value value, Operation *op) {
  if (!value)
    return true;
  if (auto arg = dyn_cast<BlockArgument>(value))
    return arg.getOwner() == op->getBlock();
  Operation *def = value.getDefiningOp();
  return def->getBlock() == op->getBlock() && def->isBeforeInBlock(op);
}

} // namespace mlir::axonn

#endif // AXONN_TRANSFORMS_PLACEMENT_H
