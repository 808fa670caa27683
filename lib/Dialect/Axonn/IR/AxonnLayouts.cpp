//===- AxonnLayouts.cpp - layout consistency of axonn ops ----------------===//
//
// What the layouts of one op's operands and results must satisfy for the op
// to compute, on every rank, its share of the global result. These checks are
// local to one op and independent of how a pass chose the layouts: they hold
// for any correct sharding, the 4D algorithm's or another. A value without a
// layout is not yet decided and is not checked.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::axonn;

namespace {

using AxisList = SmallVector<Axis, 4>;

AxisList axesOf(AxesAttr attr) {
  return AxisList(attr.getAxes().begin(), attr.getAxes().end());
}

bool sameSet(ArrayRef<Axis> a, ArrayRef<Axis> b) {
  return a.size() == b.size() && llvm::all_of(a, [&](Axis axis) {
           return llvm::is_contained(b, axis);
         });
}

std::string text(ArrayRef<Axis> axes) { return formatAxes(axes); }

/// Checks the layouts of one op. Each helper returns failure after emitting.
class LayoutChecker {
public:
  explicit LayoutChecker(Operation *op) : op(op) {}

  LayoutAttr of(Value value) const { return getLayout(value.getType()); }

  /// Split axes of dimension `dim` (negative counts from the end).
  AxisList split(Value value, int64_t dim) const {
    LayoutAttr layout = of(value);
    int64_t rank = layout.getSplit().size();
    return axesOf(layout.getSplit()[dim < 0 ? rank + dim : dim]);
  }

  /// Axes that split the tokens of an activation: every dimension but the
  /// last, in order.
  AxisList tokenAxes(Value value) const {
    LayoutAttr layout = of(value);
    AxisList axes;
    for (AxesAttr dim : layout.getSplit().drop_back())
      llvm::append_range(axes, dim.getAxes());
    return axes;
  }

  /// Axes that split every dimension of a token tensor [B, S].
  AxisList allSplitAxes(Value value) const {
    AxisList axes;
    for (AxesAttr dim : of(value).getSplit())
      llvm::append_range(axes, dim.getAxes());
    return axes;
  }

  AxisList partial(Value value) const { return axesOf(of(value).getPartial()); }

  LogicalResult fail(const Twine &message) const {
    return op->emitOpError() << "layouts are inconsistent: " << message;
  }

  /// `value` must be complete: no pending partial sums.
  LogicalResult notPartial(Value value, const Twine &name) const {
    if (!of(value) || of(value).getPartial().empty())
      return success();
    return fail(name + " holds partial sums over " + text(partial(value)) +
                "; reduce them first");
  }

  /// `value` must be usable whole: no pending partial sums, not stored split.
  LogicalResult whole(Value value, const Twine &name) const {
    if (failed(notPartial(value, name)))
      return failure();
    if (!of(value) || of(value).getStorage().empty())
      return success();
    return fail(name + " is stored split over " +
                text(axesOf(of(value).getStorage())) + "; gather it first");
  }

  LogicalResult sameAxes(ArrayRef<Axis> a, const Twine &aName, ArrayRef<Axis> b,
                         const Twine &bName) const {
    if (a == ArrayRef<Axis>(b))
      return success();
    return fail(aName + " is split over " + text(a) + " but " + bName +
                " over " + text(b));
  }

  LogicalResult partialIs(Value value, const Twine &name,
                          ArrayRef<Axis> expected) const {
    if (sameSet(partial(value), expected))
      return success();
    return fail(name + " must hold partial sums over exactly " +
                text(expected) + ", has " + text(partial(value)));
  }

  LogicalResult sameLayout(Value a, const Twine &aName, Value b,
                           const Twine &bName) const {
    if (of(a) == of(b))
      return success();
    return fail(aName + " and " + bName + " must have the same layout");
  }

  bool has(ValueRange values) const {
    return llvm::all_of(values, [&](Value v) { return v && of(v); });
  }

  Operation *op;
};

/// The batch and sequence split of two activations (or of an activation and
/// its token ids) must agree.
LogicalResult sameTokens(const LayoutChecker &c, Value a, const Twine &aName,
                         Value b, const Twine &bName, bool bIsTokens = false) {
  if (!c.has({a, b}))
    return success();
  AxisList bAxes = bIsTokens ? c.allSplitAxes(b) : c.tokenAxes(b);
  return c.sameAxes(c.tokenAxes(a), aName + " tokens", bAxes,
                    bName + (bIsTokens ? "" : " tokens"));
}

LogicalResult checkEmbedding(const LayoutChecker &c, EmbeddingOp op) {
  Value result = op.getResult(), table = op.getTable();
  if (failed(c.whole(table, "table")) ||
      failed(c.notPartial(op.getTokens(), "tokens")) ||
      failed(sameTokens(c, result, "result", op.getTokens(), "tokens", true)))
    return failure();
  if (Value positions = op.getPositions()) {
    if (failed(c.whole(positions, "positions")))
      return failure();
    if (c.has({positions, result}) &&
        (failed(c.sameAxes(c.split(positions, 0), "positions dimension 0", {},
                           "the sequence")) ||
         failed(c.sameAxes(c.split(positions, 1), "positions features",
                           c.split(result, -1), "result features"))))
      return failure();
  }
  if (!c.has({table, result}))
    return success();
  if (failed(c.sameAxes(c.split(table, 1), "table features",
                        c.split(result, -1), "result features")))
    return failure();
  // Each rank looks up the rows it holds; positions, when learned, count
  // once in the sum.
  return c.partialIs(result, "result", c.split(table, 0));
}

LogicalResult checkNorm(const LayoutChecker &c, Value input, Value scale,
                        Value bias, Value result) {
  if (failed(c.notPartial(input, "input")) || failed(c.whole(scale, "scale")) ||
      (bias && failed(c.whole(bias, "bias"))))
    return failure();
  if (result && c.has({input, result}) &&
      failed(c.sameLayout(input, "input", result, "result")))
    return failure();
  for (Value param : {scale, bias}) {
    if (!param || !c.has({input, param}))
      continue;
    if (failed(c.sameAxes(c.split(param, 0), "scale", c.split(input, -1),
                          "input features")))
      return failure();
  }
  return success();
}

/// An `accumulate` operand (if any) is laid out as the gradient it is
/// added to (`sum`, named `sumName`).
LogicalResult checkAccumulate(const LayoutChecker &c, Value accumulate,
                              Value sum, const char *sumName) {
  if (!accumulate || !c.has({accumulate, sum}))
    return success();
  return c.sameLayout(accumulate, "accumulate", sum, sumName);
}

/// Normal and transposed linears alike: the weight's in-features split
/// matches the input's features, its out-features split the result's, and
/// the result is partial over the contracted features' axes.
LogicalResult checkLinear(const LayoutChecker &c, LinearOp op) {
  Value input = op.getInput(), weight = op.getWeight(), result = op.getResult();
  if (failed(c.notPartial(input, "input")) ||
      failed(c.whole(weight, "weight")) ||
      (op.getBias() && failed(c.whole(op.getBias(), "bias"))) ||
      failed(sameTokens(c, result, "result", input, "input")))
    return failure();
  if (c.has({input, weight}) &&
      failed(c.sameAxes(c.split(weight, 1), "weight in-features",
                        c.split(input, -1), "input features")))
    return failure();
  if (c.has({weight, result}) &&
      failed(c.sameAxes(c.split(weight, 0), "weight out-features",
                        c.split(result, -1), "result features")))
    return failure();
  if (op.getBias() && c.has({op.getBias(), weight}) &&
      failed(c.sameAxes(c.split(op.getBias(), 0), "bias", c.split(weight, 0),
                        "weight out-features")))
    return failure();
  if (c.has({input, result}))
    return c.partialIs(result, "result", c.split(input, -1));
  return success();
}

LogicalResult checkSameAsInput(const LayoutChecker &c, Value input,
                               const Twine &name, ValueRange others) {
  if (failed(c.notPartial(input, name)))
    return failure();
  for (Value other : others)
    if (c.has({input, other}) && failed(c.sameLayout(input, name, other,
                                                     "the other operands and "
                                                     "results")))
      return failure();
  return success();
}

LogicalResult checkLMHead(const LayoutChecker &c, Value hidden, Value weight,
                          Value targets) {
  if (failed(c.notPartial(hidden, "hidden")) ||
      failed(c.whole(weight, "weight")) ||
      failed(c.notPartial(targets, "targets")) ||
      failed(sameTokens(c, hidden, "hidden", targets, "targets", true)))
    return failure();
  if (c.has({hidden, weight}) &&
      failed(c.sameAxes(c.split(weight, 1), "weight features",
                        c.split(hidden, -1), "hidden features")))
    return failure();
  return success();
}

/// A gradient of a parameter summed over tokens: split like the parameter,
/// partial over the token axes of `activation`.
LogicalResult checkParamGrad(const LayoutChecker &c, Value grad,
                             const Twine &name, Value activation,
                             ArrayRef<AxisList> expectedSplit) {
  if (!c.has({grad}))
    return success();
  if (!c.of(grad).getStorage().empty())
    return c.fail(name + " cannot be stored split before it is reduced");
  for (auto [dim, expected] : llvm::enumerate(expectedSplit))
    if (failed(c.sameAxes(c.split(grad, dim),
                          name + " dimension " + Twine(dim).str(), expected,
                          "the operands it is computed from")))
      return failure();
  if (c.has({activation}))
    return c.partialIs(grad, name, c.tokenAxes(activation));
  return success();
}

LogicalResult checkOp(Operation *op) {
  LayoutChecker c(op);
  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](EmbeddingOp op) { return checkEmbedding(c, op); })
      .Case([&](LayerNormOp op) {
        return checkNorm(c, op.getInput(), op.getScale(), op.getBias(),
                         op.getResult());
      })
      .Case([&](RMSNormOp op) {
        return checkNorm(c, op.getInput(), op.getScale(), Value(),
                         op.getResult());
      })
      .Case([&](LinearOp op) { return checkLinear(c, op); })
      .Case([&](AttentionOp op) {
        return checkSameAsInput(c, op.getQkv(), "qkv", op->getResults());
      })
      .Case([&](GeluOp op) {
        return checkSameAsInput(c, op.getInput(), "input", op.getResult());
      })
      .Case([&](SwiGLUOp op) {
        return checkSameAsInput(c, op.getInput(), "input", op.getResult());
      })
      .Case([&](AddOp) { return success(); }) // all types match
      .Case([&](LMHeadLossOp op) {
        if (failed(checkLMHead(c, op.getHidden(), op.getWeight(),
                               op.getTargets())))
          return failure();
        return c.notPartial(op.getLoss(), "loss");
      })
      .Case([&](EmbeddingGradOp op) {
        if (failed(c.notPartial(op.getGrad(), "grad")) ||
            failed(sameTokens(c, op.getGrad(), "grad", op.getTokens(), "tokens",
                              true)) ||
            failed(checkAccumulate(c, op.getAccumulate(), op.getResult(),
                                   "result")))
          return failure();
        if (!c.has({op.getGrad(), op.getResult()}))
          return success();
        // Rows stay where the table keeps them; features follow the grad.
        AxisList rows = c.split(op.getResult(), 0);
        return checkParamGrad(c, op.getResult(), "result", op.getGrad(),
                              {rows, c.split(op.getGrad(), -1)});
      })
      .Case([&](PositionGradOp op) {
        if (failed(c.notPartial(op.getGrad(), "grad")))
          return failure();
        if (!c.has({op.getGrad()}))
          return success();
        return checkParamGrad(c, op.getResult(), "result", op.getGrad(),
                              {{}, c.split(op.getGrad(), -1)});
      })
      .Case([&](LayerNormGradOp op) {
        if (failed(checkNorm(c, op.getInput(), op.getScale(), Value(),
                             op.getInputGrad())) ||
            failed(c.notPartial(op.getGrad(), "grad")) ||
            failed(checkAccumulate(c, op.getAccumulate(), op.getInputGrad(),
                                   "input_grad")))
          return failure();
        if (!c.has({op.getScale()}))
          return success();
        AxisList split = c.split(op.getScale(), 0);
        if (failed(checkParamGrad(c, op.getScaleGrad(), "scale_grad",
                                  op.getInput(), {split})))
          return failure();
        return checkParamGrad(c, op.getBiasGrad(), "bias_grad", op.getInput(),
                              {split});
      })
      .Case([&](RMSNormGradOp op) {
        if (failed(checkNorm(c, op.getInput(), op.getScale(), Value(),
                             op.getInputGrad())) ||
            failed(c.notPartial(op.getGrad(), "grad")) ||
            failed(checkAccumulate(c, op.getAccumulate(), op.getInputGrad(),
                                   "input_grad")))
          return failure();
        if (!c.has({op.getScale()}))
          return success();
        return checkParamGrad(c, op.getScaleGrad(), "scale_grad", op.getInput(),
                              {c.split(op.getScale(), 0)});
      })
      .Case([&](LinearGradInputOp op) {
        Value grad = op.getGrad(), weight = op.getWeight(),
              result = op.getResult();
        if (failed(c.notPartial(grad, "grad")) ||
            failed(c.whole(weight, "weight")) ||
            failed(sameTokens(c, result, "result", grad, "grad")))
          return failure();
        if (c.has({grad, weight}) &&
            failed(c.sameAxes(c.split(weight, 0), "weight out-features",
                              c.split(grad, -1), "grad features")))
          return failure();
        if (!c.has({weight, result}))
          return success();
        if (failed(c.sameAxes(c.split(weight, 1), "weight in-features",
                              c.split(result, -1), "result features")))
          return failure();
        return c.partialIs(result, "result", c.split(weight, 0));
      })
      .Case([&](LinearGradWeightOp op) {
        Value grad = op.getGrad(), input = op.getInput();
        if (failed(c.notPartial(grad, "grad")) ||
            failed(c.notPartial(input, "input")) ||
            failed(sameTokens(c, grad, "grad", input, "input")))
          return failure();
        if (!c.has({grad, input}))
          return success();
        if (failed(checkParamGrad(c, op.getResult(), "result", grad,
                                  {c.split(grad, -1), c.split(input, -1)})))
          return failure();
        if (!op.getBiasGrad())
          return success();
        return checkParamGrad(c, op.getBiasGrad(), "bias_grad", grad,
                              {c.split(grad, -1)});
      })
      .Case([&](LinearGradBiasOp op) {
        if (failed(c.notPartial(op.getGrad(), "grad")))
          return failure();
        if (!c.has({op.getGrad()}))
          return success();
        return checkParamGrad(c, op.getResult(), "result", op.getGrad(),
                              {c.split(op.getGrad(), -1)});
      })
      .Case([&](AttentionGradOp op) {
        return checkSameAsInput(
            c, op.getQkv(), "qkv",
            {op.getGrad(), op.getOut(), op.getLse(), op.getResult()});
      })
      .Case([&](GeluGradOp op) {
        return checkSameAsInput(c, op.getInput(), "input",
                                {op.getGrad(), op.getResult()});
      })
      .Case([&](SwiGLUGradOp op) {
        if (failed(
                checkSameAsInput(c, op.getInput(), "input", op.getResult())) ||
            failed(c.notPartial(op.getGrad(), "grad")))
          return failure();
        if (!c.has({op.getGrad(), op.getInput()}))
          return success();
        return c.sameAxes(c.split(op.getGrad(), -1), "grad features",
                          c.split(op.getInput(), -1), "input features");
      })
      .Case([&](LMHeadLossGradOp op) {
        Value hidden = op.getHidden(), weight = op.getWeight();
        if (failed(checkLMHead(c, hidden, weight, op.getTargets())))
          return failure();
        if (c.has({hidden, op.getHiddenGrad()}) &&
            failed(c.sameAxes(c.split(op.getHiddenGrad(), -1),
                              "hidden_grad features", c.split(hidden, -1),
                              "hidden features")))
          return failure();
        if (c.has({hidden, op.getHiddenGrad()}) &&
            failed(sameTokens(c, op.getHiddenGrad(), "hidden_grad", hidden,
                              "hidden")))
          return failure();
        if (c.has({weight, op.getHiddenGrad()}) &&
            failed(c.partialIs(op.getHiddenGrad(), "hidden_grad",
                               c.split(weight, 0))))
          return failure();
        if (!c.has({weight}))
          return success();
        return checkParamGrad(c, op.getWeightGrad(), "weight_grad", hidden,
                              {c.split(weight, 0), c.split(weight, 1)});
      })
      .Case([&](GlobalNormOp op) {
        for (Value grad : op.getGrads())
          if (failed(c.notPartial(grad, "each gradient")))
            return failure();
        return success();
      })
      .Case([&](AdamWOp op) {
        Value param = op.getParam();
        if (failed(c.notPartial(param, "param")))
          return failure();
        SmallVector<Value> others = {op.getGrad(), op.getM(),
                                     op.getV(),    op.getNewParam(),
                                     op.getNewM(), op.getNewV()};
        if (op.getMaster())
          others.append({op.getMaster(), op.getNewMaster()});
        for (Value other : others)
          if (c.has({param, other}) &&
              failed(c.sameLayout(param, "param", other,
                                  "its gradient and optimizer state")))
            return failure();
        return success();
      })
      .Default([](Operation *) { return success(); });
}

} // namespace

LogicalResult mlir::axonn::verifyOpLayouts(Operation *op) {
  return checkOp(op);
}

//===----------------------------------------------------------------------===//
// axonn.reshard
//===----------------------------------------------------------------------===//

/// The layout of a value without an encoding: replicated.
static LayoutAttr layoutOrReplicated(Type type) {
  if (LayoutAttr layout = getLayout(type))
    return layout;
  auto tensor = cast<RankedTensorType>(type);
  MLIRContext *ctx = type.getContext();
  AxesAttr none = AxesAttr::get(ctx, {});
  SmallVector<AxesAttr> split(tensor.getRank(), none);
  return LayoutAttr::get(ctx, split, none, none);
}

LogicalResult ReshardOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  if (input.getShape() != result.getShape() ||
      input.getElementType() != result.getElementType())
    return emitOpError() << "must keep the global shape and element type, got "
                         << input << " -> " << result;
  LayoutAttr from = layoutOrReplicated(input), to = layoutOrReplicated(result);
  if (from.getSplit() != to.getSplit())
    return emitOpError() << "cannot change how dimensions are split (from "
                         << from << " to " << to << ")";
  AxisList fromPartial = axesOf(from.getPartial());
  AxisList toPartial = axesOf(to.getPartial());
  AxisList fromStorage = axesOf(from.getStorage());
  AxisList toStorage = axesOf(to.getStorage());
  for (Axis axis : toPartial)
    if (!llvm::is_contained(fromPartial, axis))
      return emitOpError() << "cannot make a value partial over '"
                           << stringifyAxis(axis) << "'";
  if (fromStorage == toStorage)
    return success(); // a reduce (or nothing)
  if (toStorage.empty()) {
    if (!sameSet(fromPartial, toPartial))
      return emitOpError() << "a gather (storage " << text(fromStorage)
                           << " dropped) cannot also reduce";
    return success();
  }
  if (!fromStorage.empty())
    return emitOpError() << "cannot move storage from " << text(fromStorage)
                         << " to " << text(toStorage);
  for (Axis axis : toStorage)
    if (!llvm::is_contained(fromPartial, axis))
      return emitOpError() << "can only scatter storage over axes the input "
                              "is partial over; '"
                           << stringifyAxis(axis) << "' is not";
  return success();
}
