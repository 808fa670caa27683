//===- CollectiveReport.h - what the report passes say about collectives -===//
//
// Shared by --axonn-print-collectives and --axonn-print-sharding: the layer
// a collective belongs to, its kind, axes and elements per rank, the phase
// of the step an op is in.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_TRANSFORMS_COLLECTIVEREPORT_H
#define AXONN_TRANSFORMS_COLLECTIVEREPORT_H

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <optional>
#include <string>

namespace mlir::axonn::report {

/// The name a location carries (the layer an importer named), if any.
inline std::optional<std::string> locationName(Location loc) {
  std::optional<std::string> name;
  loc->walk([&](Location inner) {
    if (auto named = dyn_cast<NameLoc>(inner)) {
      name = named.getName().str();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return name;
}

/// The parameter a value is (through gathers and waits), if any.
inline std::optional<std::string> paramOf(Value value) {
  for (int depth = 0; depth < 4 && value; ++depth) {
    if (auto arg = dyn_cast<BlockArgument>(value)) {
      auto func = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
      if (!func)
        return std::nullopt;
      if (auto name = func.getArgAttrOfType<StringAttr>(
              arg.getArgNumber(), AxonnDialect::kParamAttrName))
        return name.str();
      return std::nullopt;
    }
    Operation *def = value.getDefiningOp();
    if (isa<AllGatherOp, AllGatherStartOp, WaitOp, ReshardOp>(def))
      value = def->getOperand(0);
    else
      return std::nullopt;
  }
  return std::nullopt;
}

/// The parameter whose update a gradient flows into (through reductions).
inline std::optional<std::string> updatedParam(Value value) {
  SmallVector<Value> frontier = {value};
  for (int depth = 0; depth < 5; ++depth) {
    SmallVector<Value> next;
    for (Value v : frontier)
      for (OpOperand &use : v.getUses()) {
        Operation *user = use.getOwner();
        if (auto adamw = dyn_cast<AdamWOp>(user))
          if (use.get() == adamw.getGrad())
            return paramOf(adamw.getParam());
        if (isa<AllReduceOp, ReduceScatterOp, AllReduceStartOp,
                ReduceScatterStartOp, WaitOp, AddOp>(user))
          next.push_back(user->getResult(0));
      }
    frontier = std::move(next);
  }
  return std::nullopt;
}

/// The value a collective produces: its result, or its wait's.
inline Value reducedValue(Operation *collective) {
  Value result = collective->getResult(0);
  if (isa<HandleType>(result.getType()))
    for (Operation *user : result.getUsers())
      if (auto wait = dyn_cast<WaitOp>(user))
        return wait.getResult();
  return result;
}

/// What a collective belongs to, read from the program: the parameter of
/// the layer whose output, gradient or weight it moves, "loss" or
/// "gradient norm"; the location's name when the IR carries one.
inline std::string layerOf(Operation *collective) {
  if (auto name = locationName(collective->getLoc()))
    return *name;
  Value input = collective->getOperand(0);
  if (auto name = paramOf(input))
    return *name;
  Operation *def = input.getDefiningOp();
  std::optional<std::string> name;
  if (def)
    name = TypeSwitch<Operation *, std::optional<std::string>>(def)
               .Case<LinearOp, LinearGeluOp, LinearGradInputOp,
                     LinearGradInputGeluOp>(
                   [](auto op) { return paramOf(op.getWeight()); })
               .Case([](EmbeddingOp op) { return paramOf(op.getTable()); })
               .Case<NormStatsOp, NormGradStatsOp>(
                   [&](Operation *) -> std::optional<std::string> {
                     // The norm that reads the reduced statistics.
                     for (Operation *norm : reducedValue(collective).getUsers())
                       if (isa<LayerNormOp, RMSNormOp, LayerNormGradOp,
                               RMSNormGradOp>(norm))
                         return paramOf(norm->getOperand(
                             isa<LayerNormOp, RMSNormOp>(norm) ? 1 : 2));
                     return std::nullopt;
                   })
               .Case<LogitsMaxOp, SoftmaxSumsOp, CrossEntropyOp>(
                   [](Operation *) { return std::string("loss"); })
               .Case([](SumSquaresOp) { return std::string("gradient norm"); })
               .Case([](AddOp op) -> std::optional<std::string> {
                 // A residual sum: name it after the layer added last.
                 if (Operation *rhs = op.getRhs().getDefiningOp())
                   if (auto linear = dyn_cast<LinearOp>(rhs))
                     return paramOf(linear.getWeight());
                 return updatedParam(op.getResult());
               })
               .Default([&](Operation *) { return updatedParam(input); });
  return name.value_or("-");
}

inline int64_t elementsOf(Type type) {
  if (auto handle = dyn_cast<HandleType>(type))
    type = handle.getValue();
  return cast<RankedTensorType>(type).getNumElements();
}

inline bool isBackward(Operation *op) {
  return isa<LinearGradInputOp, LinearGradInputGeluOp, LinearGradWeightOp,
             LinearGradBiasOp,
             AttentionGradOp, LayerNormGradOp, RMSNormGradOp, NormGradStatsOp,
             GeluGradOp, SwiGLUGradOp, EmbeddingGradOp, PositionGradOp,
             CrossEntropyGradOp, LMHeadLossGradOp>(op);
}

inline bool isOptimizer(Operation *op) {
  return isa<SumSquaresOp, GlobalNormOp, AdamWOp>(op);
}

/// The phase of the step (forward, backward, optimizer) of each op of a
/// function, seen in program order: the backward starts at the first
/// gradient op, the optimizer at the first norm or update.
class PhaseTracker {
public:
  const char *phaseOf(Operation *op) {
    if (phase == forward && isBackward(op))
      phase = backward;
    if (phase != optimizer && isOptimizer(op))
      phase = optimizer;
    return phase;
  }

private:
  static constexpr const char *forward = "forward", *backward = "backward",
                              *optimizer = "optimizer";
  const char *phase = forward;
};

/// Kind, axes and elements per rank of a collective.
struct Described {
  std::string kind;
  AxesAttr axes;
  int64_t elements = 0;
  bool async = false;
};

inline Described describe(Operation *op) {
  return TypeSwitch<Operation *, Described>(op)
      .Case([](AllGatherOp c) {
        return Described{"all_gather", c.getAxes(),
                         elementsOf(c.getResult().getType())};
      })
      .Case([](AllGatherStartOp c) {
        return Described{"all_gather", c.getAxes(),
                         elementsOf(c.getHandle().getType()), true};
      })
      .Case([](ReduceScatterOp c) {
        return Described{"reduce_scatter", c.getAxes(),
                         elementsOf(c.getInput().getType())};
      })
      .Case([](ReduceScatterStartOp c) {
        return Described{"reduce_scatter", c.getAxes(),
                         elementsOf(c.getInput().getType()), true};
      })
      .Case([](AllReduceOp c) {
        return Described{"all_reduce", c.getAxes(),
                         elementsOf(c.getInput().getType())};
      })
      .Case([](AllReduceStartOp c) {
        return Described{"all_reduce", c.getAxes(),
                         elementsOf(c.getInput().getType()), true};
      });
}

inline std::string axesText(AxesAttr axes) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << '[';
  llvm::interleaveComma(axes.getAxes(), os,
                        [&](Axis axis) { os << stringifyAxis(axis); });
  os << ']';
  return text;
}

/// Compute ops between an asynchronous collective's start and its wait
/// (0: exposed); -1 for a blocking collective.
inline int64_t overlappingOps(Operation *op) {
  if (!describe(op).async)
    return -1;
  Operation *wait = nullptr;
  for (Operation *user : op->getResult(0).getUsers())
    wait = user;
  int64_t compute = 0;
  if (wait)
    for (Operation *it = op->getNextNode(); it && it != wait;
         it = it->getNextNode())
      if (!isCollective(it) && !isa<WaitOp>(it))
        ++compute;
  return compute;
}

} // namespace mlir::axonn::report

#endif // AXONN_TRANSFORMS_COLLECTIVEREPORT_H
