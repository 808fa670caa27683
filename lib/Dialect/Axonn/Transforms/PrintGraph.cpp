//===- PrintGraph.cpp - --axonn-print-graph -------------------------------===//
//
// Graphviz pictures from the IR: one transformer block of a per-rank step
// (compute ops, collectives coloured by axis, asynchronous flights as
// spans), or the grid (ranks on nodes, the groups of each axis as rings).
//
//===----------------------------------------------------------------------===//

#include "CollectiveReport.h"

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

namespace mlir::axonn {
#define GEN_PASS_DEF_PRINTGRAPHPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

using namespace report;

const char *axisColor(Axis axis) {
  switch (axis) {
  case Axis::x:
    return "#d62728";
  case Axis::y:
    return "#1f77b4";
  case Axis::z:
    return "#2ca02c";
  case Axis::data:
    return "#ff7f0e";
  }
  return "black";
}

/// A DOT string body: quotes escaped; `\n` (two characters) stays a line
/// break.
std::string escape(StringRef text) {
  std::string out;
  for (char c : text) {
    if (c == '"')
      out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string typeText(Type type) {
  if (auto handle = dyn_cast<HandleType>(type))
    type = handle.getValue();
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return "";
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(tensor.getShape(), os, "x");
  return tensor.getRank() == 0 ? "scalar" : text;
}

/// The layer index of a parameter name ("transformer.h.3.attn...",
/// "model.layers.3.mlp...", "h.3.qkv"), or -1.
int64_t layerIndex(StringRef name) {
  for (StringRef marker : {".h.", "layers.", "h."}) {
    size_t at = name.find(marker);
    if (at == StringRef::npos || (marker == "h." && at != 0))
      continue;
    StringRef rest = name.drop_front(at + marker.size());
    int64_t index = 0;
    if (!rest.consumeInteger(10, index))
      return index;
  }
  return -1;
}

/// Whether `op` reads a parameter of layer `layer`.
bool readsLayer(Operation *op, int64_t layer) {
  for (Value operand : op->getOperands())
    if (std::optional<std::string> name = paramOf(operand))
      if (layerIndex(*name) == layer)
        return true;
  return false;
}

struct PrintGraphPass : impl::PrintGraphPassBase<PrintGraphPass> {
  using PrintGraphPassBase::PrintGraphPassBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (what == "grid")
      return printGrid(module);
    if (what != "block") {
      module.emitError() << "--axonn-print-graph: what must be block or grid, "
                            "not '"
                         << what << "'";
      return signalPassFailure();
    }
    printBlock(module);
  }

  void printBlock(ModuleOp module) {
    auto func = module.lookupSymbol<func::FuncOp>(function);
    if (!func || func.isExternal()) {
      module.emitError() << "--axonn-print-graph: no function @" << function
                         << " (set function=NAME)";
      return signalPassFailure();
    }
    Block &body = func.getBody().front();
    if (llvm::none_of(body, [](Operation &op) { return isCollective(&op); }) &&
        llvm::any_of(body.getArgumentTypes(), [](Type t) {
          auto tensor = dyn_cast<RankedTensorType>(t);
          return tensor && tensor.getEncoding();
        })) {
      func.emitError() << "--axonn-print-graph: @" << function
                       << " is not a per-rank program yet (run "
                          "--axonn-insert-collectives first)";
      return signalPassFailure();
    }
    // The ops of the layer: from the first to the last that reads one of
    // its parameters, in each phase.
    SmallVector<Operation *> ops;
    for (Operation &op : body.without_terminator())
      ops.push_back(&op);
    SmallVector<std::pair<int64_t, int64_t>> ranges;
    int64_t first = -1, last = -1;
    PhaseTracker phases;
    StringRef previous = "forward";
    for (auto [i, op] : llvm::enumerate(ops)) {
      StringRef phase = phases.phaseOf(op);
      if (phase == "optimizer")
        break;
      if (phase != previous) {
        // The backward starts: close the forward's range.
        if (first >= 0)
          ranges.push_back({first, last});
        first = last = -1;
        previous = phase;
      }
      if (readsLayer(op, layer)) {
        if (first < 0)
          first = int64_t(i);
        last = int64_t(i);
      }
    }
    if (first >= 0)
      ranges.push_back({first, last});
    if (ranges.empty()) {
      func.emitError() << "--axonn-print-graph: no op of @" << function
                       << " reads a parameter of layer "
                       << static_cast<int64_t>(layer);
      return signalPassFailure();
    }

    llvm::raw_ostream &os = llvm::outs();
    os << "digraph \"" << escape(function) << " layer " << layer << "\" {\n"
       << "  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", "
          "fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n";
    llvm::DenseMap<Operation *, std::string> ids;
    int64_t next = 0;
    for (auto [phaseIndex, range] : llvm::enumerate(ranges)) {
      os << llvm::formatv("  subgraph cluster_{0} {{\n    label=\"{1}\";\n"
                          "    style=rounded; color=gray;\n",
                          phaseIndex,
                          ranges.size() > 1 && phaseIndex == 1 ? "backward"
                                                               : "forward");
      for (int64_t i = range.first; i <= range.second; ++i) {
        Operation *op = ops[size_t(i)];
        std::string id = "op" + std::to_string(next++);
        ids[op] = id;
        std::string name = op->getName().getStringRef().str();
        std::string shape =
            op->getNumResults() ? typeText(op->getResult(0).getType()) : "";
        std::string style;
        if (isCollective(op)) {
          Described d = describe(op);
          Axis axis = d.axes.getAxes().empty() ? Axis::x
                                               : d.axes.getAxes().front();
          name = d.kind + (d.async ? " start" : "") + " over " +
                 axesText(d.axes) + "\\n" + std::to_string(d.elements) +
                 " elements";
          style = llvm::formatv(", style=\"filled,bold\", fillcolor=\"{0}33\", "
                                "color=\"{0}\"",
                                axisColor(axis))
                      .str();
        } else if (auto wait = dyn_cast<WaitOp>(op)) {
          name = "wait";
          style = ", shape=octagon";
        } else {
          if (std::optional<std::string> param = [&]() {
                for (Value operand : op->getOperands())
                  if (auto p = paramOf(operand))
                    return p;
                return std::optional<std::string>();
              }())
            name += "\\n" + *param;
        }
        os << llvm::formatv("    {0} [label=\"{1}\\n{2}\"{3}];\n", id,
                            escape(name), shape, style);
      }
      os << "  }\n";
    }
    // Values, and the flight of each asynchronous collective.
    for (auto &[op, id] : ids) {
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if (!def || !ids.count(def))
          continue;
        if (isa<WaitOp>(op) && isCollectiveStart(def)) {
          Described d = describe(def);
          os << llvm::formatv("  {0} -> {1} [style=dashed, color=\"{2}\", "
                              "penwidth=2, label=\"in flight\"];\n",
                              ids[def], id,
                              axisColor(d.axes.getAxes().front()));
          continue;
        }
        os << llvm::formatv("  {0} -> {1};\n", ids[def], id);
      }
    }
    os << "  subgraph cluster_legend {\n    label=\"axes\"; style=dotted;\n";
    for (Axis axis : {Axis::x, Axis::y, Axis::z, Axis::data})
      os << llvm::formatv("    legend_{0} [label=\"{0}\", style=filled, "
                          "fillcolor=\"{1}33\", color=\"{1}\"];\n",
                          stringifyAxis(axis), axisColor(axis));
    os << "  }\n}\n";
  }

  void printGrid(ModuleOp module) {
    auto grid = module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName);
    if (!grid) {
      module.emitError() << "--axonn-print-graph=what=grid needs an "
                            "axonn.grid (run --axonn-plan first)";
      return signalPassFailure();
    }
    int64_t sizes[4] = {grid.getX(), grid.getY(), grid.getZ(),
                        grid.getData()};
    int64_t ranks = sizes[0] * sizes[1] * sizes[2] * sizes[3];
    if (ranks > 512) {
      module.emitError() << "--axonn-print-graph=what=grid draws at most 512 "
                            "ranks; this grid has "
                         << ranks;
      return signalPassFailure();
    }
    int64_t perNode = ranks;
    std::string machine = "one node";
    if (auto cluster = module->getAttrOfType<ClusterAttr>(
            AxonnDialect::kClusterAttrName)) {
      perNode = std::max<int64_t>(1, cluster.getGpusPerNode());
      machine = cluster.getName().str();
    }
    auto coordinate = [&](int64_t rank, int axis) {
      int64_t stride = 1;
      for (int a = 0; a < axis; ++a)
        stride *= sizes[a];
      return (rank / stride) % sizes[axis];
    };
    llvm::raw_ostream &os = llvm::outs();
    os << llvm::formatv("digraph grid {{\n  label=\"grid {0}x{1}x{2}x{3} on "
                        "{4} ({5} per node)\";\n  node [shape=circle, "
                        "fontname=\"Helvetica\", fontsize=9];\n  edge "
                        "[arrowhead=none, penwidth=2];\n",
                        sizes[0], sizes[1], sizes[2], sizes[3],
                        escape(machine), perNode);
    for (int64_t node = 0; node * perNode < ranks; ++node) {
      os << llvm::formatv("  subgraph cluster_node{0} {{\n    label=\"node "
                          "{0}\"; style=rounded;\n",
                          node);
      for (int64_t r = node * perNode; r < std::min(ranks, (node + 1) * perNode);
           ++r)
        os << llvm::formatv("    r{0} [label=\"{0}\\n({1},{2},{3},{4})\"];\n",
                            r, coordinate(r, 0), coordinate(r, 1),
                            coordinate(r, 2), coordinate(r, 3));
      os << "  }\n";
    }
    // For each axis, each group (ranks equal on the other axes) as a ring.
    for (int axis = 0; axis < 4; ++axis) {
      if (sizes[axis] < 2)
        continue;
      Axis a = static_cast<Axis>(axis);
      std::map<std::vector<int64_t>, std::vector<int64_t>> groups;
      for (int64_t r = 0; r < ranks; ++r) {
        std::vector<int64_t> key;
        for (int other = 0; other < 4; ++other)
          if (other != axis)
            key.push_back(coordinate(r, other));
        groups[key].push_back(r);
      }
      for (auto &[key, members] : groups)
        for (size_t i = 0; i < members.size(); ++i) {
          if (members.size() == 2 && i == 1)
            break;
          os << llvm::formatv("  r{0} -> r{1} [color=\"{2}\"{3}];\n",
                              members[i], members[(i + 1) % members.size()],
                              axisColor(a),
                              i == 0 ? llvm::formatv(", label=\"{0}\", "
                                                     "fontcolor=\"{1}\"",
                                                     stringifyAxis(a),
                                                     axisColor(a))
                                           .str()
                                     : std::string());
        }
    }
    os << "}\n";
  }
};

} // namespace
} // namespace mlir::axonn
