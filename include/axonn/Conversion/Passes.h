//===- Passes.h - axonn conversion passes -------------------*- C++ -*-===//

#ifndef AXONN_CONVERSION_PASSES_H
#define AXONN_CONVERSION_PASSES_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::axonn {

#define GEN_PASS_DECL
#include "axonn/Conversion/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "axonn/Conversion/Passes.h.inc"

} // namespace mlir::axonn

#endif // AXONN_CONVERSION_PASSES_H
