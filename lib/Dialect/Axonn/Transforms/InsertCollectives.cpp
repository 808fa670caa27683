//===- InsertCollectives.cpp - --axonn-insert-collectives -----------------===//
//
// Turns sharded IR (global shapes with layouts) into the per-rank program:
// every type becomes the rank's local piece, every axonn.reshard becomes the
// collectives it stands for, and the ops whose inputs are split in a way
// they cannot handle locally are split into local partial sums, an explicit
// all-reduce and a local finish: norms over split features, the
// vocabulary-parallel cross-entropy, and the global gradient norm.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#define DEBUG_TYPE "axonn-insert-collectives"

namespace mlir::axonn {
#define GEN_PASS_DEF_INSERTCOLLECTIVESPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

using AxisList = SmallVector<Axis, 4>;

AxisList axesOf(AxesAttr attr) {
  return AxisList(attr.getAxes().begin(), attr.getAxes().end());
}

/// `a` without the axes of `b`, in `a`'s order.
AxisList without(ArrayRef<Axis> a, ArrayRef<Axis> b) {
  AxisList result;
  for (Axis axis : a)
    if (!llvm::is_contained(b, axis))
      result.push_back(axis);
  return result;
}

/// The LM head's logits and softmax statistics, shared by its gradient.
struct LossPieces {
  Value logits, max, sums;
  /// The Goldfish loss: this rank's mask and the batch's kept count.
  Value keep, count;
};

class Lowering {
public:
  Lowering(func::FuncOp func, GridAttr grid)
      : func(func), grid(grid), ctx(func.getContext()), builder(ctx) {}

  LogicalResult run();

private:
  LayoutAttr layoutOf(Value value) const { return layouts.lookup(value); }

  /// The rank's piece of a sharded type.
  RankedTensorType localType(Type type) const {
    auto tensor = cast<RankedTensorType>(type);
    LayoutAttr layout = getLayout(type);
    if (!layout)
      return tensor;
    SmallVector<int64_t> shape = *layout.getLocalShape(tensor.getShape(), grid);
    if (!layout.getStorage().empty())
      shape[0] /= grid.getGroupSize(layout.getStorage().getAxes());
    return RankedTensorType::get(shape, tensor.getElementType());
  }
  AxesAttr axes(ArrayRef<Axis> list) const { return AxesAttr::get(ctx, list); }
  /// `axes` as an optional attribute: null when empty.
  AxesAttr optionalAxes(ArrayRef<Axis> list) const {
    return list.empty() ? AxesAttr() : axes(list);
  }
  /// The axes that split the tokens of an activation (all but the last
  /// dimension).
  AxisList tokenAxes(LayoutAttr layout) const {
    AxisList list;
    for (AxesAttr dim : layout.getSplit().drop_back())
      llvm::append_range(list, dim.getAxes());
    return list;
  }

  Value allReduce(Location loc, Value input, ArrayRef<Axis> over,
                  ReductionKind kind = ReductionKind::sum) {
    if (over.empty())
      return input;
    return AllReduceOp::create(builder, loc, input.getType(), kind, input,
                               axes(over))
        .getResult();
  }

  LogicalResult lower(Operation *op);
  void lowerReshard(ReshardOp op);
  template <typename NormOp> void lowerNorm(NormOp op, Value grad, bool rms);
  LossPieces lossPieces(Location loc, Value hidden, Value weight, Value targets,
                        std::optional<uint64_t> vocabSize);
  void lowerLoss(LMHeadLossOp op);
  void addGoldfish(Location loc, LossPieces &pieces, Value targets,
                   Value hidden, GoldfishAttr goldfish);
  void lowerLossGrad(LMHeadLossGradOp op);
  void lowerGlobalNorm(GlobalNormOp op);

  /// Replaces `old` by `replacement`, which has the same layout.
  void replace(Value old, Value replacement) {
    layouts[replacement] = layoutOf(old);
    old.replaceAllUsesWith(replacement);
  }

  func::FuncOp func;
  GridAttr grid;
  MLIRContext *ctx;
  OpBuilder builder;
  llvm::DenseMap<Value, LayoutAttr> layouts;
  /// Loss pieces by (hidden, targets), for the gradient to reuse.
  llvm::DenseMap<std::pair<Value, Value>, LossPieces> losses;
  /// Global token count of the batch, for the mean loss.
  int64_t globalTokens(Value hidden) const {
    auto type = cast<RankedTensorType>(hidden.getType());
    LayoutAttr layout = layoutOf(hidden);
    int64_t tokens = 1;
    for (auto [size, dim] :
         llvm::zip(type.getShape().drop_back(), layout.getSplit().drop_back()))
      tokens *= size * grid.getGroupSize(dim.getAxes());
    return tokens;
  }
};

void Lowering::lowerReshard(ReshardOp op) {
  LayoutAttr from = layoutOf(op.getInput()), to = layoutOf(op.getResult());
  Location loc = op.getLoc();
  builder.setInsertionPoint(op);
  Value value = op.getInput();
  auto type = cast<RankedTensorType>(value.getType());
  AxisList fromStorage = axesOf(from.getStorage());
  AxisList toStorage = axesOf(to.getStorage());
  if (!fromStorage.empty() && toStorage.empty()) {
    // Gather the weight's storage split: the rows of every z rank.
    SmallVector<int64_t> shape(type.getShape());
    shape[0] *= grid.getGroupSize(fromStorage);
    value =
        AllGatherOp::create(builder, loc,
                            RankedTensorType::get(shape, type.getElementType()),
                            value, axes(fromStorage), 0)
            .getResult();
  }
  AxisList reduced =
      without(axesOf(from.getPartial()), axesOf(to.getPartial()));
  AxisList scattered = fromStorage.empty() ? toStorage : AxisList();
  if (!scattered.empty()) {
    // Reduce-scatter into the storage split (dW over z), then reduce what
    // stays partial (over data) on the smaller shard.
    SmallVector<int64_t> shape(type.getShape());
    shape[0] /= grid.getGroupSize(scattered);
    value =
        ReduceScatterOp::create(
            builder, loc, RankedTensorType::get(shape, type.getElementType()),
            ReductionKind::sum, value, axes(scattered), 0)
            .getResult();
    reduced = without(reduced, scattered);
  }
  value = allReduce(loc, value, reduced);
  replace(op.getResult(), value);
  op.erase();
}

/// A norm or norm gradient whose features are split: local sums, their
/// all-reduce over the feature axes, and the op finishing with them.
template <typename NormOp>
void Lowering::lowerNorm(NormOp op, Value grad, bool rms) {
  Value input = op.getInput();
  AxisList features = axesOf(layoutOf(input).getSplit().back());
  if (features.empty())
    return;
  builder.setInsertionPoint(op);
  Location loc = op.getLoc();
  auto local = cast<RankedTensorType>(input.getType());
  SmallVector<int64_t> shape(local.getShape().drop_back());
  Type f32 = builder.getF32Type();
  Value stats;
  if (grad) {
    shape.push_back(rms ? 2 : 4);
    stats =
        NormGradStatsOp::create(builder, loc, RankedTensorType::get(shape, f32),
                                grad, input, op.getScale(), rms)
            .getResult();
  } else {
    shape.push_back(rms ? 1 : 2);
    stats = NormStatsOp::create(builder, loc, RankedTensorType::get(shape, f32),
                                input, rms)
                .getResult();
  }
  op.getStatsMutable().assign(allReduce(loc, stats, features));
  op.setWidth(local.getShape().back() * grid.getGroupSize(features));
}

LossPieces Lowering::lossPieces(Location loc, Value hidden, Value weight,
                                Value targets,
                                std::optional<uint64_t> vocabSize) {
  LayoutAttr hiddenLayout = layoutOf(hidden), weightLayout = layoutOf(weight);
  AxisList features = axesOf(hiddenLayout.getSplit().back());
  AxisList vocab = axesOf(weightLayout.getSplit()[0]);
  auto h = cast<RankedTensorType>(hidden.getType());
  auto w = cast<RankedTensorType>(weight.getType());
  Type f32 = builder.getF32Type();
  SmallVector<int64_t> tokenShape(h.getShape().drop_back());
  SmallVector<int64_t> logitShape(tokenShape);
  logitShape.push_back(w.getDimSize(0));
  SmallVector<int64_t> sumShape(tokenShape);
  sumShape.push_back(2);
  IntegerAttr size =
      vocabSize ? builder.getI64IntegerAttr(*vocabSize) : IntegerAttr();

  Value logits =
      LinearOp::create(builder, loc,
                       RankedTensorType::get(logitShape, h.getElementType()),
                       hidden, weight, Value(), false, AxesAttr())
          .getResult();
  logits = allReduce(loc, logits, features);
  // One pass over the logits: the local maximum and the local sums
  // relative to it; after the maximum's reduction, the sums rescaled to
  // the global one (no second pass) and reduced.
  auto local = LogitsMaxOp::create(
      builder, loc, RankedTensorType::get(tokenShape, f32),
      RankedTensorType::get(sumShape, f32), logits, targets,
      optionalAxes(vocab), size);
  Value max = allReduce(loc, local.getMax(), vocab, ReductionKind::max);
  Value sums = SoftmaxSumsOp::create(builder, loc, local.getPartial().getType(),
                                     local.getPartial(), local.getMax(), max)
                   .getResult();
  sums = allReduce(loc, sums, vocab);
  return {logits, max, sums};
}

/// The Goldfish mask of this rank's targets and the number of targets kept
/// in the whole batch (the local counts summed over the token axes).
void Lowering::addGoldfish(Location loc, LossPieces &pieces, Value targets,
                           Value hidden, GoldfishAttr goldfish) {
  if (!goldfish || pieces.keep)
    return;
  auto targetType = cast<RankedTensorType>(targets.getType());
  Type f32 = builder.getF32Type();
  auto mask = GoldfishMaskOp::create(
      builder, loc, RankedTensorType::get(targetType.getShape(), f32),
      RankedTensorType::get({}, f32), targets, goldfish);
  pieces.keep = mask.getKeep();
  pieces.count = allReduce(loc, mask.getCount(),
                           tokenAxes(layoutOf(hidden)));
}

void Lowering::lowerLoss(LMHeadLossOp op) {
  builder.setInsertionPoint(op);
  Location loc = op.getLoc();
  int64_t tokens = globalTokens(op.getHidden());
  LossPieces pieces = lossPieces(loc, op.getHidden(), op.getWeight(),
                                 op.getTargets(), op.getVocabSize());
  addGoldfish(loc, pieces, op.getTargets(), op.getHidden(),
              op.getGoldfishAttr());
  losses[{op.getHidden(), op.getTargets()}] = pieces;
  Value loss =
      CrossEntropyOp::create(builder, loc, localType(op.getLoss().getType()),
                             pieces.max, pieces.sums, pieces.keep,
                             pieces.count, tokens)
          .getResult();
  loss = allReduce(loc, loss, tokenAxes(layoutOf(op.getHidden())));
  replace(op.getLoss(), loss);
  op.erase();
}

void Lowering::lowerLossGrad(LMHeadLossGradOp op) {
  builder.setInsertionPoint(op);
  Location loc = op.getLoc();
  Value hidden = op.getHidden(), weight = op.getWeight();
  auto it = losses.find({hidden, op.getTargets()});
  LossPieces pieces =
      it != losses.end()
          ? it->second
          : lossPieces(loc, hidden, weight, op.getTargets(), op.getVocabSize());
  addGoldfish(loc, pieces, op.getTargets(), hidden, op.getGoldfishAttr());
  AxisList vocab = axesOf(layoutOf(weight).getSplit()[0]);
  IntegerAttr size = op.getVocabSizeAttr();
  Value dlogits = CrossEntropyGradOp::create(
                      builder, loc, pieces.logits.getType(), pieces.logits,
                      pieces.max, pieces.sums, op.getTargets(), pieces.keep,
                      pieces.count,
                      builder.getI64IntegerAttr(globalTokens(hidden)),
                      optionalAxes(vocab), size)
                      .getResult();
  Value dh = LinearGradInputOp::create(builder, loc,
                                       localType(op.getHiddenGrad().getType()),
                                       dlogits, weight, false)
                 .getResult();
  Value dw = LinearGradWeightOp::create(
                 builder, loc, localType(op.getWeightGrad().getType()),
                 /*bias_grad=*/Type(), dlogits, hidden, false)
                 .getResult();
  replace(op.getHiddenGrad(), dh);
  replace(op.getWeightGrad(), dw);
  op.erase();
}

/// The norm of gradients spread over ranks: each rank's sum of squares,
/// with every copy of a replicated gradient weighted down so that it counts
/// once, reduced over the whole grid.
void Lowering::lowerGlobalNorm(GlobalNormOp op) {
  builder.setInsertionPoint(op);
  Location loc = op.getLoc();
  AxisList all;
  for (Axis axis : {Axis::x, Axis::y, Axis::z, Axis::data})
    if (grid.getSize(axis) > 1)
      all.push_back(axis);
  SmallVector<Attribute> scales;
  for (Value grad : op.getGrads()) {
    SmallVector<Axis> used = layoutOf(grad).getAllAxes();
    int64_t copies = grid.getGroupSize(without(all, used));
    scales.push_back(builder.getF64FloatAttr(1.0 / double(copies)));
  }
  Type scalar = localType(op.getNorm().getType());
  Value squares = SumSquaresOp::create(builder, loc, scalar, op.getGrads(),
                                       builder.getArrayAttr(scales))
                      .getResult();
  squares = allReduce(loc, squares, all);
  Value norm =
      SqrtOp::create(builder, loc, squares.getType(), squares).getResult();
  replace(op.getNorm(), norm);
  op.erase();
}

LogicalResult Lowering::lower(Operation *op) {
  // Every value of sharded IR has a layout.
  for (Value value : llvm::concat<Value>(op->getOperands(), op->getResults()))
    if (isa<RankedTensorType>(value.getType()) && !layoutOf(value))
      return op->emitOpError()
             << "has a value without a layout; run --axonn-shard first";
  auto layout = [&](Value v) { return layoutOf(v); };
  bool erased = false;
  TypeSwitch<Operation *>(op)
      .Case([&](ReshardOp op) {
        lowerReshard(op);
        erased = true;
      })
      .Case([&](EmbeddingOp op) {
        AxisList vocab = axesOf(layout(op.getTable()).getSplit()[0]);
        if (!vocab.empty())
          op.setVocabAxesAttr(axes(vocab));
        AxisList partial = axesOf(layout(op.getResult()).getPartial());
        if (op.getPositions() && !partial.empty())
          op.setOnceOverAttr(axes(partial));
      })
      .Case([&](EmbeddingGradOp op) {
        AxisList vocab = axesOf(layout(op.getResult()).getSplit()[0]);
        if (!vocab.empty())
          op.setVocabAxesAttr(axes(vocab));
      })
      .Case([&](LinearOp op) {
        AxisList partial = axesOf(layout(op.getResult()).getPartial());
        if (op.getBias() && !partial.empty())
          op.setOnceOverAttr(axes(partial));
      })
      .Case([&](LayerNormOp op) { lowerNorm(op, Value(), false); })
      .Case([&](RMSNormOp op) { lowerNorm(op, Value(), true); })
      .Case([&](LayerNormGradOp op) { lowerNorm(op, op.getGrad(), false); })
      .Case([&](RMSNormGradOp op) { lowerNorm(op, op.getGrad(), true); })
      .Case<AttentionOp, AttentionGradOp>([&](auto op) {
        int64_t group =
            grid.getGroupSize(layout(op.getQkv()).getSplit().back().getAxes());
        op.setHeads(op.getHeads() / group);
        op.setKvHeads(op.getKvHeads() / group);
      })
      .Case([&](LMHeadLossOp op) {
        lowerLoss(op);
        erased = true;
      })
      .Case([&](LMHeadLossGradOp op) {
        lowerLossGrad(op);
        erased = true;
      })
      .Case([&](GlobalNormOp op) {
        lowerGlobalNorm(op);
        erased = true;
      });
  if (!erased)
    for (Value result : op->getResults())
      result.setType(localType(result.getType()));
  return success();
}

LogicalResult Lowering::run() {
  if (func.isExternal())
    return success();
  if (!func.getBody().hasOneBlock())
    return func.emitOpError() << "has more than one block; "
                                 "--axonn-insert-collectives handles "
                                 "straight-line functions";
  Block &body = func.getBody().front();
  for (Operation &op : body)
    if (isCollective(&op) || isa<WaitOp>(op))
      return op.emitOpError() << "is already per-rank; "
                                 "--axonn-insert-collectives runs once";
  for (BlockArgument arg : body.getArguments())
    layouts[arg] = getLayout(arg.getType());
  for (Operation &op : body)
    for (Value result : op.getResults())
      layouts[result] = getLayout(result.getType());

  // The signature records each argument's and result's layout: the global
  // tensor it is the local piece of.
  // (All at once: setting them one by one rebuilds every dictionary each
  // time, quadratic in the thousands of arguments of a large model.)
  auto withLayout = [&](DictionaryAttr attrs, LayoutAttr layout) {
    NamedAttrList list(attrs);
    list.set(AxonnDialect::kLayoutAttrName, layout);
    return list.getDictionary(ctx);
  };
  SmallVector<DictionaryAttr> argAttrs, resultAttrs;
  for (BlockArgument arg : body.getArguments()) {
    if (!layoutOf(arg))
      return func.emitOpError() << "argument #" << arg.getArgNumber()
                                << " has no layout; run --axonn-shard first";
    argAttrs.push_back(
        withLayout(func.getArgAttrDict(arg.getArgNumber()), layoutOf(arg)));
    arg.setType(localType(arg.getType()));
  }
  for (auto [i, type] : llvm::enumerate(func.getResultTypes())) {
    DictionaryAttr attrs = func.getResultAttrDict(i);
    LayoutAttr layout = getLayout(type);
    resultAttrs.push_back(layout  ? withLayout(attrs, layout)
                          : attrs ? attrs
                                  : DictionaryAttr::get(ctx));
  }
  func.setAllArgAttrs(argAttrs);
  func.setAllResultAttrs(resultAttrs);

  SmallVector<Operation *> ops;
  for (Operation &op : body)
    ops.push_back(&op);
  for (Operation *op : ops)
    if (failed(lower(op)))
      return failure();
  func.setType(FunctionType::get(ctx, body.getArgumentTypes(),
                                 body.getTerminator()->getOperandTypes()));
  return success();
}

struct InsertCollectivesPass
    : impl::InsertCollectivesPassBase<InsertCollectivesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto grid = module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName);
    if (!grid) {
      module.emitError() << "--axonn-insert-collectives needs the module's "
                            "'axonn.grid' attribute";
      return signalPassFailure();
    }
    for (auto func : module.getOps<func::FuncOp>())
      if (failed(Lowering(func, grid).run()))
        return signalPassFailure();
  }
};

} // namespace
} // namespace mlir::axonn
