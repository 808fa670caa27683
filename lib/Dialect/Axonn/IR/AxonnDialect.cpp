//===- AxonnDialect.cpp - axonn dialect ----------------------------------===//
//
// Registration, the handle type, printing aliases, and the checks that span
// a whole module: grid against cluster size, every layout against the grid,
// and the discardable attributes on functions and their arguments.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::axonn;

#include "axonn/Dialect/Axonn/IR/AxonnDialect.cpp.inc"
#include "axonn/Dialect/Axonn/IR/AxonnEnums.cpp.inc"

#define GET_TYPEDEF_CLASSES
#include "axonn/Dialect/Axonn/IR/AxonnTypes.cpp.inc"

namespace {
/// Short aliases for the long attributes, so that IR stays readable:
/// `#training`, `#cluster`, `#layout`, `#layout1`, ...
struct AxonnOpAsmInterface : public OpAsmDialectInterface {
  using OpAsmDialectInterface::OpAsmDialectInterface;

  AliasResult getAlias(Attribute attr, raw_ostream &os) const override {
    return TypeSwitch<Attribute, AliasResult>(attr)
        .Case<TrainingAttr>([&](auto) {
          os << "training";
          return AliasResult::FinalAlias;
        })
        .Case<ClusterAttr>([&](auto) {
          os << "cluster";
          return AliasResult::FinalAlias;
        })
        .Default([](Attribute) { return AliasResult::NoAlias; });
  }
};
} // namespace

void AxonnDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "axonn/Dialect/Axonn/IR/AxonnOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
  addInterfaces<AxonnOpAsmInterface>();
}

void AxonnDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "axonn/Dialect/Axonn/IR/AxonnTypes.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Module-level verification
//===----------------------------------------------------------------------===//

LogicalResult
mlir::axonn::verifyTypeFitsGrid(function_ref<InFlightDiagnostic()> emit,
                                Type type, GridAttr grid) {
  LayoutAttr layout = getLayout(type);
  if (!layout)
    return success();
  auto tensor = cast<RankedTensorType>(type);
  if (layout.getSplit().size() != static_cast<size_t>(tensor.getRank()))
    return emit() << "layout names " << layout.getSplit().size()
                  << " dimensions but the tensor has rank " << tensor.getRank();
  for (auto [dim, pair] :
       llvm::enumerate(llvm::zip_equal(tensor.getShape(), layout.getSplit()))) {
    auto [size, axes] = pair;
    int64_t group = grid.getGroupSize(axes.getAxes());
    if (ShapedType::isDynamic(size))
      return emit() << "dimension " << dim
                    << " is dynamic; sharded tensors need static shapes";
    if (size % group != 0)
      return emit() << "dimension " << dim << " of size " << size
                    << " is not divisible by the " << group << " ranks of "
                    << formatAxes(axes.getAxes());
  }
  if (!layout.getStorage().empty() && tensor.getRank() > 0) {
    int64_t local = tensor.getDimSize(0) /
                    grid.getGroupSize(layout.getSplit()[0].getAxes());
    int64_t group = grid.getGroupSize(layout.getStorage().getAxes());
    if (local % group != 0)
      return emit() << "local dimension 0 of size " << local
                    << " is not divisible by the " << group
                    << " ranks of storage axes "
                    << formatAxes(layout.getStorage().getAxes());
  } else if (!layout.getStorage().empty()) {
    return emit() << "a rank-0 tensor cannot have a storage split";
  }
  return success();
}

LogicalResult AxonnDialect::verifyOperationAttribute(Operation *op,
                                                     NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  auto requireModule = [&]() -> LogicalResult {
    if (!isa<ModuleOp>(op))
      return op->emitError()
             << "'" << name << "' may only be attached to a builtin.module";
    return success();
  };

  if (name == kTrainingAttrName) {
    if (!isa<TrainingAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' must be a #axonn.training attribute";
    return requireModule();
  }
  if (name == kClusterAttrName) {
    if (!isa<ClusterAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' must be a #axonn.cluster attribute";
    return requireModule();
  }
  if (name == kRecomputeAttrName) {
    if (!isa<RecomputePolicyAttr>(attr.getValue()))
      return op->emitError()
             << "'" << name << "' must be a #axonn.recompute attribute";
    return requireModule();
  }
  // Written by --axonn-plan-memory: each result's offset in the workspace
  // (-1: no buffer of its own), and the plan's totals on the function.
  if (name == kBuffersAttrName) {
    auto offsets = dyn_cast<DenseI64ArrayAttr>(attr.getValue());
    if (!offsets || offsets.size() != static_cast<int64_t>(op->getNumResults()))
      return op->emitError()
             << "'" << name << "' must be an array of one offset per result";
    return success();
  }
  if (name == kMemoryPlanAttrName) {
    if (!isa<DictionaryAttr>(attr.getValue()) || !isa<FunctionOpInterface>(op))
      return op->emitError()
             << "'" << name << "' must be a dictionary on a function";
    return success();
  }
  // Written by --axonn-plan: the memory its cost model predicts per rank.
  if (name == kPredictedMemoryAttrName) {
    if (!isa<DictionaryAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' must be a dictionary";
    return requireModule();
  }
  // Written by axonnc from the model-level IR (the model's shape, for
  // checkpoints and MFU); --axonn-lower-to-runtime copies it into the
  // manifest.
  if (name == kModelInfoAttrName) {
    if (!isa<DictionaryAttr>(attr.getValue()))
      return op->emitError() << "'" << name << "' must be a dictionary";
    return requireModule();
  }
  if (name != kGridAttrName)
    return op->emitError() << "unknown axonn attribute '" << name << "'";

  auto grid = dyn_cast<GridAttr>(attr.getValue());
  if (!grid)
    return op->emitError() << "'" << name
                           << "' must be a #axonn.grid attribute";
  if (failed(requireModule()))
    return failure();
  if (auto cluster = op->getAttrOfType<ClusterAttr>(kClusterAttrName))
    if (cluster.getGpus() != grid.getNumRanks())
      return op->emitError()
             << "grid " << grid.getX() << "x" << grid.getY() << "x"
             << grid.getZ() << "x" << grid.getData() << " has "
             << grid.getNumRanks() << " ranks but the cluster has "
             << cluster.getGpus() << " GPUs";

  // Every layout in the module must fit the grid. Checking here, once per
  // module, covers values of any dialect (function arguments included).
  WalkResult walk = op->walk([&](Operation *nested) {
    for (auto [i, result] : llvm::enumerate(nested->getResults())) {
      auto emit = [&] {
        return nested->emitOpError() << "result #" << i << ": ";
      };
      if (failed(verifyTypeFitsGrid(emit, result.getType(), grid)))
        return WalkResult::interrupt();
    }
    for (Region &region : nested->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments()) {
          auto emit = [&] {
            return emitError(arg.getLoc())
                   << "block argument #" << arg.getArgNumber() << ": ";
          };
          if (failed(verifyTypeFitsGrid(emit, arg.getType(), grid)))
            return WalkResult::interrupt();
        }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

/// The attributes axonn puts on function arguments and results: what each
/// value of a model or training-step signature is.
static LogicalResult verifyValueAttribute(Operation *op, StringRef where,
                                          Type type, NamedAttribute attr,
                                          bool isResult) {
  StringRef name = attr.getName().getValue();
  auto emit = [&] {
    return op->emitOpError() << where << ": '" << name << "' ";
  };
  auto tensor = dyn_cast_or_null<RankedTensorType>(type);
  auto nonEmptyString = [&]() -> LogicalResult {
    auto value = dyn_cast<StringAttr>(attr.getValue());
    if (!value || value.getValue().empty())
      return emit() << "must be a non-empty string";
    return success();
  };

  if (name == AxonnDialect::kParamAttrName ||
      name == AxonnDialect::kStateOfAttrName) {
    if (failed(nonEmptyString()))
      return failure();
    if (!tensor || !isa<FloatType>(tensor.getElementType()))
      return emit() << "must be on a ranked floating-point tensor, not "
                    << type;
    return success();
  }
  if (name == AxonnDialect::kStateAttrName) {
    auto kind = dyn_cast<StringAttr>(attr.getValue());
    if (!kind || (kind.getValue() != "m" && kind.getValue() != "v" &&
                  kind.getValue() != "master"))
      return emit() << "must be \"m\", \"v\" or \"master\"";
    if (!tensor || !tensor.getElementType().isF32())
      return emit() << "must be on an f32 tensor, not " << type;
    return success();
  }
  if (name == AxonnDialect::kInitAttrName && !isResult) {
    if (!isa<InitAttr>(attr.getValue()))
      return emit() << "must be an #axonn.init attribute";
    return success();
  }
  if (name == AxonnDialect::kInputAttrName && !isResult) {
    auto role = dyn_cast<StringAttr>(attr.getValue());
    StringRef value = role ? role.getValue() : "";
    // The key/value caches of a decoding function are float; every other
    // input holds integers.
    if (value == "k_cache" || value == "v_cache") {
      if (!tensor || !isa<FloatType>(tensor.getElementType()))
        return emit() << "must be on a ranked float tensor, not " << type;
      return success();
    }
    if (value != "tokens" && value != "targets" && value != "step" &&
        value != "position")
      return emit() << "must be \"tokens\", \"targets\", \"step\", "
                       "\"position\", \"k_cache\" or \"v_cache\"";
    if (!tensor || !tensor.getElementType().isInteger())
      return emit() << "must be on a ranked integer tensor, not " << type;
    return success();
  }
  // On a per-rank function: the layout of the global tensor this argument
  // or result is the local piece of.
  if (name == AxonnDialect::kLayoutAttrName) {
    auto layout = dyn_cast<LayoutAttr>(attr.getValue());
    if (!layout)
      return emit() << "must be a #axonn.layout attribute";
    if (!tensor || tensor.getEncoding())
      return emit() << "must be on a per-rank tensor without an encoding, "
                       "not "
                    << type;
    if (layout.getSplit().size() != static_cast<size_t>(tensor.getRank()))
      return emit() << "names " << layout.getSplit().size()
                    << " dimensions but the tensor has rank "
                    << tensor.getRank();
    return success();
  }
  if (name == AxonnDialect::kOutputAttrName && isResult) {
    auto role = dyn_cast<StringAttr>(attr.getValue());
    if (!role || (role.getValue() != "loss" && role.getValue() != "grad_norm" &&
                  role.getValue() != "logits"))
      return emit() << "must be \"loss\", \"grad_norm\" or \"logits\"";
    return success();
  }
  return op->emitOpError() << where << ": unknown axonn "
                           << (isResult ? "result" : "argument")
                           << " attribute '" << name << "'";
}

LogicalResult AxonnDialect::verifyRegionArgAttribute(Operation *op,
                                                     unsigned regionIndex,
                                                     unsigned argIndex,
                                                     NamedAttribute attr) {
  Region &region = op->getRegion(regionIndex);
  // Declarations have no block; their argument types come from the op.
  Type argType;
  if (!region.empty())
    argType = region.front().getArgument(argIndex).getType();
  else if (auto fn = dyn_cast<FunctionOpInterface>(op))
    argType = fn.getArgumentTypes()[argIndex];
  std::string where = "argument #" + std::to_string(argIndex);
  if (failed(verifyValueAttribute(op, where, argType, attr,
                                  /*isResult=*/false)))
    return failure();
  // Parameter names are how checkpoints address parameters: unique. All
  // of a function's names are checked at once, at its first named
  // argument (each against those before it was quadratic in the
  // arguments: seconds for a few thousand layers).
  if (attr.getName() == kParamAttrName && !region.empty())
    if (auto fn = dyn_cast<FunctionOpInterface>(op)) {
      unsigned first = 0;
      while (first < argIndex &&
             !fn.getArgAttrOfType<StringAttr>(first, kParamAttrName))
        ++first;
      if (first != argIndex)
        return success();
      llvm::DenseMap<Attribute, unsigned> seen;
      for (unsigned i = argIndex, e = fn.getNumArguments(); i < e; ++i)
        if (auto name = fn.getArgAttrOfType<StringAttr>(i, kParamAttrName)) {
          auto [at, fresh] = seen.try_emplace(name, i);
          if (!fresh)
            return op->emitOpError() << "argument #" << i << ": '"
                                     << kParamAttrName << "' repeats the name "
                                     << name << " of argument #" << at->second;
        }
    }
  return success();
}

LogicalResult AxonnDialect::verifyRegionResultAttribute(Operation *op,
                                                        unsigned regionIndex,
                                                        unsigned resultIndex,
                                                        NamedAttribute attr) {
  Type type;
  if (auto fn = dyn_cast<FunctionOpInterface>(op))
    type = fn.getResultTypes()[resultIndex];
  return verifyValueAttribute(op, "result #" + std::to_string(resultIndex),
                              type, attr, /*isResult=*/true);
}
