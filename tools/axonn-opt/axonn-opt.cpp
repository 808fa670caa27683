//===- axonn-opt.cpp - mlir-opt with the axonn dialect and passes --------===//
//
// Runs axonn and upstream passes on .mlir files, exactly like mlir-opt.
//
//===----------------------------------------------------------------------===//

#include "axonn/Conversion/Passes.h"
#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"
#include "axonn/Support/ToolErrors.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

namespace mlir::axonn {
void registerTestPasses();
} // namespace mlir::axonn

int main(int argc, char **argv) {
  mlir::axonn::installToolErrorHandler("axonn-opt");
  mlir::DialectRegistry registry;
  registry.insert<mlir::axonn::AxonnDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                  mlir::memref::MemRefDialect, mlir::scf::SCFDialect,
                  mlir::cf::ControlFlowDialect, mlir::LLVM::LLVMDialect>();
  // Upstream generic passes (canonicalize, cse, inline, symbol-dce, ...).
  mlir::registerTransformsPasses();
  mlir::axonn::registerAxonnPasses();
  mlir::axonn::registerTrainingPipeline();
  mlir::axonn::registerAxonnConversionPasses();
  // The upstream lowering of the runtime calls to the LLVM dialect.
  mlir::registerConversionPasses();
  mlir::registerConvertFuncToLLVMInterface(registry);
  mlir::arith::registerConvertArithToLLVMInterface(registry);
  mlir::cf::registerConvertControlFlowToLLVMInterface(registry);
  // Test-only passes (test/lib), as mlir-opt registers its own.
  mlir::axonn::registerTestPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "axonn optimizer driver: runs axonn and upstream passes\n",
      registry));
}
