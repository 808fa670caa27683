//===- Shard.cpp - --axonn-shard ------------------------------------------===//
//
// Gives every tensor of every function the layout of the 4D algorithm
// (docs/design.md, "Sharding"): a rule per op says which layouts its operands
// must have and which its results get; where a value's layout differs from
// the one its user needs, an axonn.reshard makes the change explicit. Axes of
// size 1 are left out of layouts, so a 1x1x1x1 grid gives replicated
// tensors and no reshards.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#define DEBUG_TYPE "axonn-shard"

namespace mlir::axonn {
#define GEN_PASS_DEF_SHARDPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

using AxisList = SmallVector<Axis, 4>;

/// What an op's rule decides: a layout for each operand (null: take the
/// operand as it is) and for each result.
struct OpLayouts {
  SmallVector<LayoutAttr> operands;
  SmallVector<LayoutAttr> results;
};

class Sharder {
public:
  Sharder(func::FuncOp func, GridAttr grid, int64_t rowMultiple)
      : func(func), grid(grid), rowMultiple(rowMultiple),
        ctx(func.getContext()), builder(ctx) {}

  LogicalResult run();

private:
  //--- Layout construction ------------------------------------------------//

  /// The axes among `axes` whose size is above 1.
  AxesAttr axes(ArrayRef<Axis> axes) const {
    AxisList kept;
    for (Axis axis : axes)
      if (grid.getSize(axis) > 1)
        kept.push_back(axis);
    return AxesAttr::get(ctx, kept);
  }
  LayoutAttr layout(ArrayRef<AxisList> split, ArrayRef<Axis> partial = {},
                    ArrayRef<Axis> storage = {}) const {
    SmallVector<AxesAttr> dims;
    for (const AxisList &dim : split)
      dims.push_back(axes(dim));
    return LayoutAttr::get(ctx, dims, axes(partial), axes(storage));
  }
  /// [B, S, F]: tokens over (z, data), features over `feature`.
  LayoutAttr activation(Axis feature, ArrayRef<Axis> partial = {}) const {
    return layout({{Axis::z, Axis::data}, {}, {feature}}, partial);
  }
  LayoutAttr tokens() const { return layout({{Axis::z, Axis::data}, {}}); }
  LayoutAttr scalar() const { return layout({}); }
  /// A weight [n, k] whose out-features go over `out` and in-features over
  /// `in`, gathered for use.
  LayoutAttr matrix(Axis out, Axis in, ArrayRef<Axis> partial = {}) const {
    return layout({{out}, {in}}, partial);
  }
  LayoutAttr vector(Axis axis, ArrayRef<Axis> partial = {}) const {
    return layout({{axis}}, partial);
  }
  static constexpr Axis kTokenAxes[] = {Axis::z, Axis::data};

  static LayoutAttr withPartial(LayoutAttr layout, AxesAttr partial) {
    return LayoutAttr::get(layout.getContext(), layout.getSplit(), partial,
                           layout.getStorage());
  }
  static LayoutAttr withStorage(LayoutAttr layout, AxesAttr storage) {
    return LayoutAttr::get(layout.getContext(), layout.getSplit(),
                           layout.getPartial(), storage);
  }
  /// How a parameter whose uses need `use` is stored: matrices split once
  /// more over z (FSDP-style), vectors as used.
  LayoutAttr stored(LayoutAttr use) const {
    if (use.getSplit().size() != 2)
      return use;
    return withStorage(use, axes({Axis::z}));
  }
  /// The complete layout a partial value settles to: partial sums reduced,
  /// and for matrices the z part scattered into the storage split (the dW
  /// reduce-scatter).
  LayoutAttr settled(LayoutAttr layout) const {
    AxesAttr none = AxesAttr::get(ctx, {});
    if (layout.getSplit().size() == 2 && layout.getStorage().empty() &&
        layout.getPartial().contains(Axis::z))
      return LayoutAttr::get(ctx, layout.getSplit(), none, axes({Axis::z}));
    return withPartial(layout, none);
  }
  static LayoutAttr gathered(LayoutAttr layout) {
    return withStorage(layout, AxesAttr::get(layout.getContext(), {}));
  }

  //--- Steps --------------------------------------------------------------//

  LogicalResult padVocabulary();
  LogicalResult layOutArguments();
  FailureOr<OpLayouts> rule(Operation *op);
  LogicalResult shardOp(Operation *op);
  FailureOr<Value> convert(Value value, LayoutAttr target, Operation *user,
                           unsigned operandIndex);
  /// A reshard at `loc`: the producer's location for a reduction, the
  /// user's for a gather, so that reports name the layer it belongs to.
  Value reshard(Value value, LayoutAttr target, Location loc);
  LogicalResult checkFits(Operation *op, Type type, StringRef what);
  void updateSignature();

  LayoutAttr layoutOf(Value value) const { return layouts.lookup(value); }
  /// The global shape a value has after vocabulary padding.
  SmallVector<int64_t> shapeOf(Value value) const {
    auto it = shapes.find(value);
    if (it != shapes.end())
      return it->second;
    auto type = cast<RankedTensorType>(value.getType());
    return SmallVector<int64_t>(type.getShape());
  }
  RankedTensorType typeWith(Value value, ArrayRef<int64_t> shape,
                            LayoutAttr layout) const {
    auto type = cast<RankedTensorType>(value.getType());
    return RankedTensorType::get(shape, type.getElementType(), layout);
  }
  std::string describe(Value value);

  func::FuncOp func;
  GridAttr grid;
  /// Rows each vocabulary slice is padded to a multiple of.
  int64_t rowMultiple;
  MLIRContext *ctx;
  OpBuilder builder;
  llvm::DenseMap<Value, LayoutAttr> layouts;
  llvm::DenseMap<Value, SmallVector<int64_t>> shapes;
  /// Reshards that settle partial values, shared by all users.
  llvm::DenseMap<std::pair<Value, Attribute>, Value> settledValues;
  /// Parameter arguments: the op whose use decided the layout.
  llvm::DenseMap<Value, Operation *> decidedBy;
};

std::string Sharder::describe(Value value) {
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    unsigned index = arg.getArgNumber();
    for (StringRef name :
         {AxonnDialect::kParamAttrName, AxonnDialect::kStateOfAttrName}) {
      if (auto attr = func.getArgAttrOfType<StringAttr>(index, name))
        return (Twine(name == AxonnDialect::kParamAttrName ? "parameter '"
                                                           : "state of '") +
                attr.getValue() + "'")
            .str();
    }
    return ("argument #" + Twine(index)).str();
  }
  return "operand";
}

//===----------------------------------------------------------------------===//
// Vocabulary padding
//===----------------------------------------------------------------------===//

/// The vocabulary splits over y and its rows over z; a vocabulary that does
/// not divide (or whose slices are not a multiple of rowMultiple rows) is
/// padded with rows the loss ignores (`vocab_size`).
LogicalResult Sharder::padVocabulary() {
  int64_t multiple = grid.getGroupSize({Axis::y, Axis::z}) * rowMultiple;
  if (multiple == 1)
    return success();
  llvm::SmallDenseMap<Value, int64_t> padded; // table -> padded rows
  auto padTable = [&](Value table) {
    auto type = cast<RankedTensorType>(table.getType());
    int64_t rows = type.getDimSize(0);
    int64_t rounded = (rows + multiple - 1) / multiple * multiple;
    if (rounded != rows && isa<BlockArgument>(table))
      padded[table] = rounded;
  };
  func.walk([&](Operation *op) {
    if (auto embedding = dyn_cast<EmbeddingOp>(op))
      padTable(embedding.getTable());
    else if (auto loss = dyn_cast<LMHeadLossOp>(op))
      padTable(loss.getWeight());
    else if (auto grad = dyn_cast<LMHeadLossGradOp>(op))
      padTable(grad.getWeight());
  });
  if (padded.empty())
    return success();

  // Token ids -> (rows, padded rows) of the tables they index, so that the
  // embedding gradient of those ids gets the padded shape.
  llvm::DenseMap<Value, std::pair<int64_t, int64_t>> tokenTables;
  for (auto [table, rows] : padded) {
    auto type = cast<RankedTensorType>(table.getType());
    SmallVector<int64_t> shape(type.getShape());
    int64_t original = shape[0];
    shape[0] = rows;
    shapes[table] = shape;
    for (OpOperand &use : table.getUses())
      if (auto embedding = dyn_cast<EmbeddingOp>(use.getOwner()))
        tokenTables[embedding.getTokens()] = {original, rows};
    // The optimizer state of a padded parameter is padded alike.
    if (auto name = func.getArgAttrOfType<StringAttr>(
            cast<BlockArgument>(table).getArgNumber(),
            AxonnDialect::kParamAttrName))
      for (BlockArgument arg : func.getArguments())
        if (func.getArgAttrOfType<StringAttr>(
                arg.getArgNumber(), AxonnDialect::kStateOfAttrName) == name)
          shapes[arg] = shape;
  }
  for (Operation &op : func.getBody().getOps()) {
    if (auto grad = dyn_cast<EmbeddingGradOp>(op)) {
      auto it = tokenTables.find(grad.getTokens());
      if (it != tokenTables.end() &&
          grad.getResult().getType().getDimSize(0) == it->second.first) {
        SmallVector<int64_t> shape(grad.getResult().getType().getShape());
        shape[0] = it->second.second;
        shapes[grad.getResult()] = shape;
      }
    }
    // The real vocabulary stays known to the loss.
    auto setVocab = [&](Operation *loss, Value weight) {
      if (padded.count(weight) && !loss->hasAttr("vocab_size"))
        loss->setAttr(
            "vocab_size",
            builder.getI64IntegerAttr(
                cast<RankedTensorType>(weight.getType()).getDimSize(0)));
    };
    if (auto loss = dyn_cast<LMHeadLossOp>(op))
      setVocab(loss, loss.getWeight());
    if (auto loss = dyn_cast<LMHeadLossGradOp>(op))
      setVocab(loss, loss.getWeight());
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Arguments
//===----------------------------------------------------------------------===//

LogicalResult Sharder::layOutArguments() {
  // Parameters are laid out from their first use; see shardOp.
  for (BlockArgument arg : func.getArguments()) {
    unsigned i = arg.getArgNumber();
    if (func.getArgAttr(i, AxonnDialect::kParamAttrName) ||
        func.getArgAttr(i, AxonnDialect::kStateOfAttrName))
      continue;
    auto input =
        func.getArgAttrOfType<StringAttr>(i, AxonnDialect::kInputAttrName);
    if (!input)
      return func.emitOpError()
             << "argument #" << i
             << " has no axonn.param, axonn.input or axonn.state_of "
                "attribute; --axonn-shard cannot tell how to lay it out";
    if (input.getValue() == "step")
      layouts[arg] = scalar();
    else
      layouts[arg] = tokens();
  }
  return success();
}

//===----------------------------------------------------------------------===//
// Rules of the 4D algorithm
//===----------------------------------------------------------------------===//

FailureOr<OpLayouts> Sharder::rule(Operation *op) {
  const Axis x = Axis::x, y = Axis::y;
  const AxisList tokenAxes(std::begin(kTokenAxes), std::end(kTokenAxes));
  auto linearAxes = [&](bool transposed) {
    return transposed ? std::make_pair(x, y) : std::make_pair(y, x);
  };
  // Elementwise ops keep their operand's layout, partial sums reduced.
  auto sameFeatures = [&](Value value) {
    LayoutAttr layout = layoutOf(value);
    return layout ? settled(layout) : activation(x);
  };
  auto withOptional = [](SmallVector<LayoutAttr> list, Value optional,
                         LayoutAttr layout) {
    if (optional)
      list.push_back(layout);
    return list;
  };

  return TypeSwitch<Operation *, FailureOr<OpLayouts>>(op)
      .Case([&](EmbeddingOp op) -> FailureOr<OpLayouts> {
        return OpLayouts{withOptional({tokens(), matrix(y, x)},
                                      op.getPositions(), layout({{}, {x}})),
                         {activation(x, {y})}};
      })
      .Case([&](LayerNormOp op) -> FailureOr<OpLayouts> {
        return OpLayouts{
            withOptional({activation(x), vector(x)}, op.getBias(), vector(x)),
            {activation(x)}};
      })
      .Case([&](RMSNormOp) -> FailureOr<OpLayouts> {
        return OpLayouts{{activation(x), vector(x)}, {activation(x)}};
      })
      .Case([&](LinearOp op) -> FailureOr<OpLayouts> {
        auto [out, in] = linearAxes(op.getTransposed());
        return OpLayouts{withOptional({activation(in), matrix(out, in)},
                                      op.getBias(), vector(out)),
                         {activation(out, {in})}};
      })
      .Case([&](AttentionOp op) -> FailureOr<OpLayouts> {
        int64_t gy = grid.getSize(y);
        for (auto [name, count] :
             {std::pair<StringRef, int64_t>{"heads", op.getHeads()},
              {"kv_heads", op.getKvHeads()}})
          if (count % gy != 0)
            return op.emitOpError()
                   << name << " = " << count << " cannot be split over the "
                   << gy << " ranks of y (attention heads go over y)";
        // The output and (with lse) its statistics, heads over y alike.
        OpLayouts layouts{{activation(y)}, {activation(y)}};
        if (op.getLse())
          layouts.results.push_back(activation(y));
        return layouts;
      })
      .Case([&](GeluOp op) -> FailureOr<OpLayouts> {
        LayoutAttr l = sameFeatures(op.getInput());
        return OpLayouts{{l}, {l}};
      })
      .Case([&](SwiGLUOp op) -> FailureOr<OpLayouts> {
        LayoutAttr l = sameFeatures(op.getInput());
        return OpLayouts{{l}, {l}};
      })
      .Case([&](AddOp op) -> FailureOr<OpLayouts> {
        LayoutAttr lhs = layoutOf(op.getLhs()), rhs = layoutOf(op.getRhs());
        // Partial sums of one kind add up without being reduced first (the
        // tied embedding's two gradients).
        if (lhs == rhs)
          return OpLayouts{{lhs, rhs}, {lhs}};
        LayoutAttr l = settled(lhs);
        return OpLayouts{{l, l}, {l}};
      })
      .Case([&](LMHeadLossOp) -> FailureOr<OpLayouts> {
        return OpLayouts{{activation(x), matrix(y, x), tokens()}, {scalar()}};
      })
      .Case([&](EmbeddingGradOp op) -> FailureOr<OpLayouts> {
        OpLayouts l{{activation(x), tokens()}, {matrix(y, x, tokenAxes)}};
        if (op.getAccumulate()) // laid out as the result it is added to
          l.operands.push_back(matrix(y, x, tokenAxes));
        return l;
      })
      .Case([&](PositionGradOp) -> FailureOr<OpLayouts> {
        return OpLayouts{{activation(x)}, {layout({{}, {x}}, tokenAxes)}};
      })
      .Case<LayerNormGradOp, RMSNormGradOp>(
          [&](auto op) -> FailureOr<OpLayouts> {
            if (op.getStats())
              return op.emitOpError()
                     << "has split-feature statistics, which "
                        "--axonn-insert-collectives makes after --axonn-shard";
            // dx, the scale's gradient (and the bias's).
            OpLayouts l{{activation(x), activation(x), vector(x)},
                        {activation(x), vector(x, tokenAxes)}};
            if (op->getNumResults() == 3)
              l.results.push_back(vector(x, tokenAxes));
            if (op.getAccumulate())
              l.operands.push_back(activation(x));
            return l;
          })
      .Case([&](LinearGradInputOp op) -> FailureOr<OpLayouts> {
        auto [out, in] = linearAxes(op.getTransposed());
        return OpLayouts{{activation(out), matrix(out, in)},
                         {activation(in, {out})}};
      })
      .Case([&](LinearGradWeightOp op) -> FailureOr<OpLayouts> {
        auto [out, in] = linearAxes(op.getTransposed());
        OpLayouts l{{activation(out), activation(in)},
                    {matrix(out, in, tokenAxes)}};
        if (op.getBiasGrad()) // as axonn.linear_grad_bias's result
          l.results.push_back(vector(out, tokenAxes));
        return l;
      })
      .Case([&](LinearGradBiasOp op) -> FailureOr<OpLayouts> {
        auto [out, in] = linearAxes(op.getTransposed());
        (void)in;
        return OpLayouts{{activation(out)}, {vector(out, tokenAxes)}};
      })
      .Case([&](AttentionGradOp) -> FailureOr<OpLayouts> {
        return OpLayouts{
            {activation(y), activation(y), activation(y), activation(y)},
            {activation(y)}};
      })
      .Case([&](GeluGradOp op) -> FailureOr<OpLayouts> {
        LayoutAttr l = sameFeatures(op.getInput());
        return OpLayouts{{l, l}, {l}};
      })
      .Case([&](SwiGLUGradOp op) -> FailureOr<OpLayouts> {
        LayoutAttr l = sameFeatures(op.getInput());
        return OpLayouts{{l, l}, {l}};
      })
      .Case([&](LMHeadLossGradOp) -> FailureOr<OpLayouts> {
        return OpLayouts{{activation(x), matrix(y, x), tokens()},
                         {activation(x, {y}), matrix(y, x, tokenAxes)}};
      })
      .Case([&](GlobalNormOp op) -> FailureOr<OpLayouts> {
        OpLayouts result;
        for (Value grad : op.getGrads())
          result.operands.push_back(settled(layoutOf(grad)));
        result.results.push_back(scalar());
        return result;
      })
      .Case([&](AdamWOp op) -> FailureOr<OpLayouts> {
        // Everything as the parameter is stored.
        LayoutAttr p = layoutOf(op.getParam());
        if (!p)
          return op.emitOpError()
                 << "updates " << describe(op.getParam())
                 << ", which nothing before it uses, so --axonn-shard "
                    "cannot tell how it is laid out";
        OpLayouts result;
        result.operands = {p, p, p, p};
        if (op.getMaster())
          result.operands.push_back(p);
        result.operands.append({scalar(), scalar()});
        result.results = {p, p, p};
        if (op.getNewMaster())
          result.results.push_back(p);
        return result;
      })
      .Case([&](func::ReturnOp op) -> FailureOr<OpLayouts> {
        return OpLayouts{SmallVector<LayoutAttr>(op.getNumOperands()), {}};
      })
      .Default([&](Operation *op) -> FailureOr<OpLayouts> {
        return op->emitOpError()
               << "is not supported by --axonn-shard (no layout rule)";
      });
}

//===----------------------------------------------------------------------===//
// Applying the rules
//===----------------------------------------------------------------------===//

LogicalResult Sharder::checkFits(Operation *op, Type type, StringRef what) {
  return verifyTypeFitsGrid(
      [&] {
        InFlightDiagnostic diag = op->emitOpError();
        diag << "cannot be laid out on grid " << grid << ": " << what << " ";
        return diag;
      },
      type, grid);
}

Value Sharder::reshard(Value value, LayoutAttr target, Location loc) {
  return ReshardOp::create(builder, loc,
                           typeWith(value, shapeOf(value), target), value)
      .getResult();
}

/// `value` in layout `target` for `user`: partial sums are settled once,
/// right after the value is produced; weights are gathered right before each
/// use (a later pass may share or prefetch gathers).
FailureOr<Value> Sharder::convert(Value value, LayoutAttr target,
                                  Operation *user, unsigned operandIndex) {
  LayoutAttr current = layoutOf(value);
  if (current == target)
    return value;
  auto mismatch = [&]() -> FailureOr<Value> {
    return user->emitOpError()
           << "operand #" << operandIndex << " (" << describe(value)
           << ") is laid out as " << current << " but the 4D algorithm needs "
           << target << " here, and no reshard connects the two";
  };
  if (current.getSplit() != target.getSplit())
    return mismatch();
  Value result = value;
  // Reduce the partial sums the target does not keep, scattering into the
  // storage split where the target is stored.
  if (current.getPartial() != target.getPartial()) {
    AxesAttr storage = current.getStorage();
    if (storage.empty() && !target.getStorage().empty())
      storage = target.getStorage();
    LayoutAttr step =
        LayoutAttr::get(ctx, current.getSplit(), target.getPartial(), storage);
    Value &cached = settledValues[{value, step}];
    if (!cached) {
      OpBuilder::InsertionGuard guard(builder);
      if (Operation *producer = value.getDefiningOp())
        builder.setInsertionPointAfter(producer);
      else
        builder.setInsertionPointToStart(value.getParentBlock());
      Operation *def = value.getDefiningOp();
      cached = reshard(value, step, def ? def->getLoc() : user->getLoc());
      layouts[cached] = step;
      if (failed(checkFits(user, cached.getType(), "the reduced operand")))
        return failure();
    }
    result = cached;
    current = step;
  }
  if (current.getStorage() != target.getStorage()) {
    if (!target.getStorage().empty())
      return mismatch();
    OpBuilder::InsertionGuard guard(builder);
    builder.setInsertionPoint(user);
    result = reshard(result, target, user->getLoc());
    layouts[result] = target;
  }
  return result;
}

LogicalResult Sharder::shardOp(Operation *op) {
  if (isa<ReshardOp, WaitOp>(op) || isCollective(op))
    return op->emitOpError()
           << "is already per-rank or sharded; --axonn-shard runs once, on "
              "model-level IR";
  FailureOr<OpLayouts> decided = rule(op);
  if (failed(decided))
    return failure();
  assert(decided->operands.size() == op->getNumOperands() &&
         decided->results.size() == op->getNumResults() && "bad rule");

  for (OpOperand &operand : op->getOpOperands()) {
    Value value = operand.get();
    LayoutAttr needed = decided->operands[operand.getOperandNumber()];
    if (!needed)
      continue;
    // A parameter is stored the way its first use needs it.
    auto arg = dyn_cast<BlockArgument>(value);
    if (arg && !layouts.count(arg)) {
      LayoutAttr layout = stored(needed);
      if (LayoutAttr forced = getLayout(arg.getType());
          forced && forced != layout)
        return op->emitOpError()
               << "uses " << describe(arg) << " forced to layout " << forced
               << ", which contradicts the 4D algorithm: it stores this "
                  "operand as "
               << layout;
      layouts[arg] = layout;
      decidedBy[arg] = op;
      if (failed(checkFits(op, typeWith(arg, shapeOf(arg), layout),
                           ("operand #" + Twine(operand.getOperandNumber()) +
                            " (" + describe(arg) + ")")
                               .str())))
        return failure();
    }
    FailureOr<Value> converted =
        convert(value, needed, op, operand.getOperandNumber());
    if (failed(converted))
      return failure();
    operand.set(*converted);
  }

  // Results whose shape follows an operand follow its padding too.
  auto follow = [&](Value result, Value operand) {
    if (result && operand)
      shapes[result] = shapeOf(operand);
  };
  if (auto add = dyn_cast<AddOp>(op))
    follow(add.getResult(), add.getLhs());
  if (auto grad = dyn_cast<LMHeadLossGradOp>(op))
    follow(grad.getWeightGrad(), grad.getWeight());
  if (auto adamw = dyn_cast<AdamWOp>(op)) {
    follow(adamw.getNewParam(), adamw.getParam());
    follow(adamw.getNewM(), adamw.getM());
    follow(adamw.getNewV(), adamw.getV());
    follow(adamw.getNewMaster(), adamw.getMaster());
  }

  for (auto [index, result] : llvm::enumerate(op->getResults())) {
    LayoutAttr layout = decided->results[index];
    if (LayoutAttr forced = getLayout(result.getType());
        forced && forced != layout)
      return op->emitOpError()
             << "result #" << index << " is forced to layout " << forced
             << ", which contradicts the 4D algorithm: it gives " << layout;
    layouts[result] = layout;
    result.setType(typeWith(result, shapeOf(result), layout));
    if (failed(
            checkFits(op, result.getType(), ("result #" + Twine(index)).str())))
      return failure();
  }
  return success();
}

void Sharder::updateSignature() {
  Block &body = func.getBody().front();
  for (BlockArgument arg : body.getArguments())
    if (LayoutAttr layout = layoutOf(arg))
      arg.setType(typeWith(arg, shapeOf(arg), layout));
  func.setType(FunctionType::get(ctx, body.getArgumentTypes(),
                                 body.getTerminator()->getOperandTypes()));
}

LogicalResult Sharder::run() {
  if (func.isExternal())
    return success();
  if (!func.getBody().hasOneBlock())
    return func.emitOpError() << "has more than one block; --axonn-shard "
                                 "handles straight-line functions";
  if (failed(padVocabulary()) || failed(layOutArguments()))
    return failure();
  SmallVector<Operation *> ops;
  for (Operation &op : func.getBody().front())
    ops.push_back(&op);
  for (Operation *op : ops)
    if (failed(shardOp(op)))
      return failure();
  // States follow their parameter (normally the optimizer reads them, so
  // they are laid out there; this covers unused ones).
  for (BlockArgument arg : func.getArguments()) {
    if (layouts.count(arg))
      continue;
    auto of = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                AxonnDialect::kStateOfAttrName);
    for (BlockArgument param : func.getArguments())
      if (of &&
          func.getArgAttrOfType<StringAttr>(
              param.getArgNumber(), AxonnDialect::kParamAttrName) == of &&
          layouts.count(param))
        layouts[arg] = layouts[param];
    if (!layouts.count(arg))
      return func.emitOpError()
             << describe(arg) << " (argument #" << arg.getArgNumber()
             << ") is never used, so --axonn-shard cannot lay it out";
  }
  updateSignature();
  return success();
}

struct ShardPass : impl::ShardPassBase<ShardPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto grid = module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName);
    if (!grid) {
      module.emitError()
          << "--axonn-shard needs the module's 'axonn.grid' attribute; run "
             "--axonn-plan first or set it";
      return signalPassFailure();
    }
    // (a row alignment: more than 65536 rows of padding a rank aligns
    // nothing and can overflow the padded size)
    if (vocabMultiple < 1 || vocabMultiple > 65536) {
      module.emitError() << "--axonn-shard: vocab-multiple="
                         << int64_t(vocabMultiple)
                         << " must be from 1 to 65536";
      return signalPassFailure();
    }
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(Sharder(func, grid, vocabMultiple).run()))
        return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::axonn
