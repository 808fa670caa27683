//===- AxonnOps.h - axonn operations ------------------------*- C++ -*-===//

#ifndef AXONN_DIALECT_AXONN_IR_AXONNOPS_H
#define AXONN_DIALECT_AXONN_IR_AXONNOPS_H

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::axonn {

/// The side-effect resource of collectives: every rank must issue them in
/// the same order, so they are ordered against each other.
struct CommunicationResource
    : public SideEffects::Resource::Base<CommunicationResource> {
  StringRef getName() final { return "axonn.communication"; }
};

/// The side-effect resource of the key/value caches that
/// `axonn.cached_attention` updates in place.
struct KVCacheResource : public SideEffects::Resource::Base<KVCacheResource> {
  StringRef getName() final { return "axonn.kv_cache"; }
};

/// Operand and result types with a `#axonn.layout` encoding require an
/// `axonn.grid` on the enclosing module, and must fit it.
template <typename ConcreteType>
class LayoutsNeedGrid
    : public OpTrait::TraitBase<ConcreteType, LayoutsNeedGrid> {
public:
  static LogicalResult verifyTrait(Operation *op);
};

LogicalResult verifyLayoutsNeedGrid(Operation *op);

/// Checks that the layouts of `op`'s operands and results let every rank
/// compute its share of the op (see AxonnLayouts.cpp). Values without a
/// layout are not checked.
LogicalResult verifyOpLayouts(Operation *op);

template <typename ConcreteType>
LogicalResult LayoutsNeedGrid<ConcreteType>::verifyTrait(Operation *op) {
  return verifyLayoutsNeedGrid(op);
}

} // namespace mlir::axonn

#define GET_OP_CLASSES
#include "axonn/Dialect/Axonn/IR/AxonnOps.h.inc"

namespace mlir::axonn {

/// A blocking collective: all_gather, reduce_scatter or all_reduce.
inline bool isBlockingCollective(Operation *op) {
  return isa<AllGatherOp, ReduceScatterOp, AllReduceOp>(op);
}
/// The start of an asynchronous collective.
inline bool isCollectiveStart(Operation *op) {
  return isa<AllGatherStartOp, ReduceScatterStartOp, AllReduceStartOp>(op);
}
/// Any collective, blocking or started.
inline bool isCollective(Operation *op) {
  return isBlockingCollective(op) || isCollectiveStart(op);
}

/// Whether `func` is a model-level forward function: it embeds tokens and
/// updates no parameters (a training step does both).
bool isForwardFunction(func::FuncOp func);

/// The one model-level forward function of `module`. Emits an error that
/// names `pass` when there is none or more than one.
FailureOr<func::FuncOp> findForwardFunction(ModuleOp module, StringRef pass);

} // namespace mlir::axonn

#endif // AXONN_DIALECT_AXONN_IR_AXONNOPS_H
