//===- axonn-translate.cpp - translations into and out of axonn IR -------===//
//
// `--import-model-spec` turns a model spec (HF config.json plus optional
// training, cluster and parallel sections) into axonn IR.
//
//===----------------------------------------------------------------------===//

#include "axonn/Support/ToolErrors.h"
#include "axonn/Target/ModelSpec.h"

#include "mlir/Support/LogicalResult.h"
#include "mlir/Tools/mlir-translate/MlirTranslateMain.h"

int main(int argc, char **argv) {
  mlir::axonn::installToolErrorHandler("axonn-translate");
  mlir::axonn::registerModelSpecImport();
  return mlir::failed(
             mlir::mlirTranslateMain(argc, argv, "axonn translation driver\n"))
             ? 1
             : 0;
}
