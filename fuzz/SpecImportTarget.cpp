//===- SpecImportTarget.cpp - fuzz target for the model spec importer ----===//
//
// Feeds arbitrary bytes to importModelSpec and prints whatever it accepts.
// Built into a libFuzzer binary (AXONN_ENABLE_FUZZER, clang) and into
// axonn-spec-replay, which runs saved inputs through the same code in the
// test suite.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"
#include "axonn/Support/LocatedJSON.h"
#include "axonn/Target/ModelSpec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>

using namespace mlir;

/// Specs with more layers than this are skipped: they are valid, and building
/// tens of thousands of layers only makes each run slow without reaching new
/// code. (axonn accepts up to 65,536 layers.)
static constexpr int64_t kMaxFuzzLayers = 64;

static bool tooManyLayers(llvm::StringRef text) {
  axonn::json::Value document;
  axonn::json::ParseError error;
  if (!axonn::json::parse(text, document, error) || !document.isObject())
    return false;
  for (llvm::StringRef key : {"n_layer", "num_hidden_layers"})
    if (const axonn::json::Member *member = document.find(key))
      if (member->value.integer && *member->value.integer > kMaxFuzzLayers)
        return true;
  return false;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  if (tooManyLayers(text))
    return 0;
  DialectRegistry registry;
  registry.insert<axonn::AxonnDialect, func::FuncDialect>();
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  ScopedDiagnosticHandler quiet(&context,
                                [](Diagnostic &) { return success(); });
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.json"), llvm::SMLoc());
  OwningOpRef<ModuleOp> module = axonn::importModelSpec(sourceMgr, &context);
  if (module) {
    std::string printed;
    llvm::raw_string_ostream os(printed);
    module->print(os);
  }
  return 0;
}
