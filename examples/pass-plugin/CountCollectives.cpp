//===- CountCollectives.cpp - an out-of-tree axonn pass, as a plugin ------===//
//
// The worked example of docs/writing-passes.md: a pass built against the
// installed axonn package (find_package(AxonN)) and loaded into axonn-opt
// with --load-pass-plugin. --axonn-example-count-collectives counts the
// collectives of each function of a per-rank program by kind and axes,
// and tags each function with the total (an attribute, so that the pass
// changes the IR a test can check as well as printing).
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Tools/Plugins/PassPlugin.h"
#include <map>
#include <string>
#include "llvm/Config/llvm-config.h"

using namespace mlir;

namespace {

struct CountCollectivesPass
    : PassWrapper<CountCollectivesPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(CountCollectivesPass)

  StringRef getArgument() const final {
    return "axonn-example-count-collectives";
  }
  StringRef getDescription() const final {
    return "Count the collectives of each function by kind and axes "
           "(an out-of-tree example pass)";
  }

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      std::map<std::string, int64_t> counts;
      int64_t total = 0;
      func.walk([&](Operation *op) {
        if (!axonn::isCollective(op))
          return;
        std::string key = op->getName().stripDialect().str();
        if (auto axes = op->getAttrOfType<axonn::AxesAttr>("axes")) {
          key += " over [";
          llvm::raw_string_ostream os(key);
          llvm::interleaveComma(axes.getAxes(), os, [&](axonn::Axis axis) {
            os << axonn::stringifyAxis(axis);
          });
          key += "]";
        }
        ++counts[key];
        ++total;
      });
      llvm::outs() << "@" << func.getSymName() << ": " << total
                   << " collectives\n";
      for (auto &[key, count] : counts)
        llvm::outs() << "  " << key << ": " << count << "\n";
      func->setAttr("example.collectives",
                    IntegerAttr::get(IntegerType::get(&getContext(), 64),
                                     total));
    }
  }
};

} // namespace

/// The entry point axonn-opt --load-pass-plugin looks for.
extern "C" LLVM_ATTRIBUTE_WEAK PassPluginLibraryInfo mlirGetPassPluginInfo() {
  return {MLIR_PLUGIN_API_VERSION, "AxonnExampleCountCollectives",
          LLVM_VERSION_STRING,
          []() { PassRegistration<CountCollectivesPass>(); }};
}
