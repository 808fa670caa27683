//===- PrintSharding.cpp - --axonn-print-sharding -------------------------===//
//
// What each rank holds and sends: every tensor of the sharded step with its
// global shape, layout, local piece and bytes per rank; then the collectives
// of the per-rank program (a copy of the module taken through collective
// insertion and overlap scheduling), per layer, with volumes and overlap.
// Tables for people, JSON for tools.
//
//===----------------------------------------------------------------------===//

#include "CollectiveReport.h"

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

namespace mlir::axonn {
#define GEN_PASS_DEF_PRINTSHARDINGPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

using namespace report;

std::string shapeText(ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(shape, os, "x");
  return shape.empty() ? "scalar" : text;
}

std::string layoutText(LayoutAttr layout) {
  if (!layout)
    return "replicated";
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '[';
  llvm::interleaveComma(layout.getSplit(), os,
                        [&](AxesAttr axes) { os << axesText(axes); });
  os << ']';
  if (!layout.getPartial().empty())
    os << " partial " << axesText(layout.getPartial());
  if (!layout.getStorage().empty())
    os << " storage " << axesText(layout.getStorage());
  return text;
}

int64_t elementBytes(Type element) {
  return std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
}

/// One tensor of the step.
struct TensorRow {
  std::string name, op;
  SmallVector<int64_t> global, local;
  LayoutAttr layout;
  int64_t bytes = 0;
};

/// A name for a value: its argument's role, else the op and its layer.
std::string valueName(Value value, func::FuncOp func) {
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    unsigned i = arg.getArgNumber();
    for (StringRef attr :
         {AxonnDialect::kParamAttrName, AxonnDialect::kInputAttrName})
      if (auto name = func.getArgAttrOfType<StringAttr>(i, attr))
        return name.str();
    if (auto state = func.getArgAttrOfType<StringAttr>(i, "axonn.state"))
      if (auto of = func.getArgAttrOfType<StringAttr>(i, "axonn.state_of"))
        return (of.getValue() + "." + state.getValue()).str();
    return "arg" + std::to_string(i);
  }
  return "";
}

FailureOr<TensorRow> tensorRow(Value value, func::FuncOp func,
                               GridAttr grid) {
  auto type = dyn_cast<RankedTensorType>(value.getType());
  if (!type)
    return failure();
  TensorRow row;
  row.global = SmallVector<int64_t>(type.getShape());
  row.layout = dyn_cast_or_null<LayoutAttr>(type.getEncoding());
  row.local = row.global;
  if (row.layout && grid) {
    FailureOr<SmallVector<int64_t>> local =
        row.layout.getLocalShape(type.getShape(), grid);
    if (failed(local))
      return failure();
    row.local = *local;
    if (!row.layout.getStorage().empty() && !row.local.empty())
      row.local[0] /= grid.getGroupSize(row.layout.getStorage().getAxes());
  }
  int64_t count = 1;
  for (int64_t d : row.local)
    count *= d;
  row.bytes = count * elementBytes(type.getElementType());
  row.name = valueName(value, func);
  if (Operation *def = value.getDefiningOp()) {
    row.op = def->getName().getStringRef().str();
    // Named after the layer: the location's name, else the parameter it
    // reads (a weight, through reshards), else the value it reshards.
    std::optional<std::string> layer = locationName(def->getLoc());
    for (Value operand : def->getOperands()) {
      if (layer)
        break;
      layer = paramOf(operand);
    }
    if (!layer)
      if (auto reshard = dyn_cast<ReshardOp>(def))
        if (Operation *from = reshard.getInput().getDefiningOp())
          layer = std::string(from->getName().stripDialect()) + " result";
    row.name = layer ? *layer : "";
  }
  return row;
}

/// One collective of the per-rank program.
struct CollectiveRow {
  std::string phase, layer, kind, axes;
  int64_t elements = 0, bytes = 0, overlapOps = -1;
};

std::string overlapText(int64_t ops) {
  if (ops < 0)
    return "blocking";
  return ops > 0 ? llvm::formatv("overlapped ({0} ops)", ops).str()
                 : "exposed";
}

struct PrintShardingPass : impl::PrintShardingPassBase<PrintShardingPass> {
  using PrintShardingPassBase::PrintShardingPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto grid = module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName);
    auto func = module.lookupSymbol<func::FuncOp>(function);
    if (!func || func.isExternal()) {
      module.emitError() << "--axonn-print-sharding: no function @"
                         << function << " (set function=NAME)";
      return signalPassFailure();
    }
    if (!grid) {
      module.emitError() << "--axonn-print-sharding needs the sharded step "
                            "(an axonn.grid; run --axonn-plan and "
                            "--axonn-shard first)";
      return signalPassFailure();
    }

    // Tensors: arguments, then results in program order.
    SmallVector<TensorRow> tensors;
    Block &body = func.getBody().front();
    auto add = [&](Value value) -> LogicalResult {
      if (!isa<RankedTensorType>(value.getType()))
        return success();
      FailureOr<TensorRow> row = tensorRow(value, func, grid);
      if (failed(row))
        return emitError(value.getLoc())
               << "--axonn-print-sharding: " << value.getType()
               << " does not divide over grid " << grid;
      tensors.push_back(std::move(*row));
      return success();
    };
    for (BlockArgument arg : body.getArguments())
      if (failed(add(arg)))
        return signalPassFailure();
    for (Operation &op : body.without_terminator())
      for (Value result : op.getResults())
        if (failed(add(result)))
          return signalPassFailure();

    // Collectives: the per-rank program of a copy.
    OwningOpRef<ModuleOp> copy = cast<ModuleOp>(module->clone());
    bool sharded = llvm::any_of(body.getArgumentTypes(), [](Type t) {
      auto tensor = dyn_cast<RankedTensorType>(t);
      return tensor && tensor.getEncoding();
    });
    if (sharded) {
      // A pass manager of its own: the copy is not nested in this module.
      PassManager pm(module.getContext());
      pm.addPass(createInsertCollectivesPass());
      if (overlap)
        pm.addPass(createScheduleOverlapPass());
      if (failed(pm.run(*copy)))
        return signalPassFailure();
    }
    SmallVector<CollectiveRow> collectives;
    if (auto local = copy->lookupSymbol<func::FuncOp>(function)) {
      PhaseTracker phases;
      for (Operation &op : local.getBody().front()) {
        const char *phase = phases.phaseOf(&op);
        if (!isCollective(&op))
          continue;
        Described d = describe(&op);
        Type element = cast<RankedTensorType>(op.getOperand(0).getType())
                           .getElementType();
        collectives.push_back({phase, layerOf(&op), d.kind, axesText(d.axes),
                               d.elements, d.elements * elementBytes(element),
                               overlappingOps(&op)});
      }
    }

    if (json)
      printJson(grid, tensors, collectives);
    else
      printTables(grid, tensors, collectives);
  }

  void printTables(GridAttr grid, ArrayRef<TensorRow> tensors,
                   ArrayRef<CollectiveRow> collectives) {
    llvm::raw_ostream &os = llvm::outs();
    os << llvm::formatv("sharding of @{0} on grid {1}x{2}x{3}x{4}\n",
                        function, grid.getX(), grid.getY(), grid.getZ(),
                        grid.getData());
    os << llvm::formatv("{0,-40} {1,-22} {2,-14} {3,-36} {4,-14} {5,12}\n",
                        "tensor", "op", "global", "layout", "per rank",
                        "bytes/rank");
    int64_t total = 0;
    for (const TensorRow &t : tensors) {
      os << llvm::formatv("{0,-40} {1,-22} {2,-14} {3,-36} {4,-14} {5,12}\n",
                          t.name.empty() ? "-" : t.name,
                          t.op.empty() ? "argument" : t.op,
                          shapeText(t.global), layoutText(t.layout),
                          shapeText(t.local), t.bytes);
      total += t.bytes;
    }
    os << llvm::formatv("{0} tensors, {1} bytes per rank if all were live at "
                        "once\n\n",
                        tensors.size(), total);
    os << llvm::formatv("collectives of @{0} (per rank)\n", function);
    os << llvm::formatv("{0,-9} {1,-40} {2,-14} {3,-10} {4,10} {5,12}  {6}\n",
                        "phase", "layer", "collective", "over", "elements",
                        "bytes", "overlap");
    llvm::MapVector<StringRef, std::array<int64_t, 3>> layers;
    for (const CollectiveRow &c : collectives) {
      os << llvm::formatv("{0,-9} {1,-40} {2,-14} {3,-10} {4,10} {5,12}  {6}\n",
                          c.phase, c.layer, c.kind, c.axes, c.elements,
                          c.bytes, overlapText(c.overlapOps));
      auto &l = layers[c.layer];
      l[0] += 1;
      l[1] += c.bytes;
      l[2] += c.overlapOps > 0;
    }
    os << "\nper layer\n";
    os << llvm::formatv("{0,-40} {1,11} {2,12} {3,10}\n", "layer",
                        "collectives", "bytes", "overlapped");
    for (auto &[name, l] : layers)
      os << llvm::formatv("{0,-40} {1,11} {2,12} {3,10}\n", name, l[0], l[1],
                          l[2]);
  }

  void printJson(GridAttr grid, ArrayRef<TensorRow> tensors,
                 ArrayRef<CollectiveRow> collectives) {
    auto array = [](ArrayRef<int64_t> values) {
      llvm::json::Array a;
      for (int64_t v : values)
        a.push_back(v);
      return a;
    };
    llvm::json::Array tensorsJson, collectivesJson;
    for (const TensorRow &t : tensors) {
      llvm::json::Object split;
      llvm::json::Array dims;
      if (t.layout)
        for (AxesAttr axes : t.layout.getSplit()) {
          llvm::json::Array names;
          for (Axis axis : axes.getAxes())
            names.push_back(stringifyAxis(axis).str());
          dims.push_back(std::move(names));
        }
      auto axisNames = [](AxesAttr axes) {
        llvm::json::Array names;
        if (axes)
          for (Axis axis : axes.getAxes())
            names.push_back(stringifyAxis(axis).str());
        return names;
      };
      tensorsJson.push_back(llvm::json::Object{
          {"name", t.name},
          {"op", t.op.empty() ? "argument" : t.op},
          {"global_shape", array(t.global)},
          {"split", std::move(dims)},
          {"partial", axisNames(t.layout ? t.layout.getPartial() : AxesAttr())},
          {"storage", axisNames(t.layout ? t.layout.getStorage() : AxesAttr())},
          {"local_shape", array(t.local)},
          {"bytes_per_rank", t.bytes}});
    }
    for (const CollectiveRow &c : collectives)
      collectivesJson.push_back(llvm::json::Object{
          {"phase", c.phase},
          {"layer", c.layer},
          {"kind", c.kind},
          {"axes", c.axes},
          {"elements", c.elements},
          {"bytes", c.bytes},
          {"overlapped", c.overlapOps > 0},
          {"blocking", c.overlapOps < 0}});
    llvm::json::Object root{
        {"function", function},
        {"grid", llvm::json::Array{grid.getX(), grid.getY(), grid.getZ(),
                                   grid.getData()}},
        {"tensors", std::move(tensorsJson)},
        {"collectives", std::move(collectivesJson)}};
    llvm::outs() << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)))
                 << "\n";
  }
};

} // namespace
} // namespace mlir::axonn
