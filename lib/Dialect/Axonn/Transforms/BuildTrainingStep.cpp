//===- BuildTrainingStep.cpp - --axonn-build-training-step ---------------===//
//
// Reverse-mode differentiation of a model-level forward function, op by op,
// and the AdamW update of every parameter. The recompute policy decides
// which forward values the backward ops read: the saved originals, or
// clones recomputed just before they are needed.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

#define DEBUG_TYPE "axonn-build-training-step"

namespace mlir::axonn {
#define GEN_PASS_DEF_BUILDTRAININGSTEPPASS
#include "axonn/Dialect/Axonn/Transforms/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// Gradients of forward values, built in reverse program order.
class Autodiff {
public:
  Autodiff(OpBuilder &builder, RecomputePolicy policy,
           ArrayRef<Operation *> forwardOps)
      : builder(builder), policy(policy) {
    if (policy == RecomputePolicy::full)
      findLayers(forwardOps);
  }

  /// Emits the backward of `op`, reading the gradients of its results.
  LogicalResult backprop(Operation *op);

  /// The gradient of `value`, or null if nothing depends on it.
  Value gradient(Value value) const { return grads.lookup(value); }
  void seed(Value value, Value grad) { accumulate(value, grad); }

private:
  void accumulate(Value value, Value grad) {
    if (!grad)
      return;
    Value &slot = grads[value];
    slot =
        slot ? AddOp::create(builder, grad.getLoc(), slot.getType(), slot, grad)
                   .getResult()
             : grad;
  }

  /// The value backward reads for the forward value `value`: the original,
  /// or a recomputed clone.
  Value saved(Value value);

  /// Full recompute: every transformer layer's ops, from the norm before
  /// its attention to the next such norm (or the final norm).
  void findLayers(ArrayRef<Operation *> forwardOps);
  void recomputeLayer(size_t layer);

  OpBuilder &builder;
  RecomputePolicy policy;
  llvm::DenseMap<Value, Value> grads;
  /// Forward value -> the recomputed value backward reads instead.
  llvm::DenseMap<Value, Value> recomputed;
  std::vector<SmallVector<Operation *>> layers;
  llvm::DenseMap<Operation *, size_t> layerOf;
  llvm::SmallDenseSet<size_t> layersRecomputed;
};

void Autodiff::findLayers(ArrayRef<Operation *> forwardOps) {
  // A layer starts at a norm whose next norm comes after an attention.
  size_t current = SIZE_MAX;
  for (auto [i, op] : llvm::enumerate(forwardOps)) {
    if (isa<LayerNormOp, RMSNormOp>(op)) {
      bool startsLayer = false;
      for (Operation *next : forwardOps.drop_front(i + 1)) {
        if (isa<LayerNormOp, RMSNormOp>(next))
          break;
        if (isa<AttentionOp>(next)) {
          startsLayer = true;
          break;
        }
      }
      // The final norm is followed by the loss alone, no linear.
      bool finalNorm =
          llvm::none_of(forwardOps.drop_front(i + 1),
                        [](Operation *next) { return isa<LinearOp>(next); });
      if (startsLayer) {
        current = layers.size();
        layers.emplace_back();
      } else if (finalNorm) {
        current = SIZE_MAX;
      }
    }
    if (current != SIZE_MAX && !isa<LMHeadLossOp>(op)) {
      layers[current].push_back(op);
      layerOf[op] = current;
    }
  }
}

void Autodiff::recomputeLayer(size_t layer) {
  if (!layersRecomputed.insert(layer).second)
    return;
  IRMapping mapping;
  // The last op produces the layer's output, which is kept.
  for (Operation *op : ArrayRef(layers[layer]).drop_back()) {
    Operation *clone = builder.clone(*op, mapping);
    for (auto [original, copy] :
         llvm::zip_equal(op->getResults(), clone->getResults()))
      recomputed[original] = copy;
  }
}

Value Autodiff::saved(Value value) {
  if (Value copy = recomputed.lookup(value))
    return copy;
  Operation *def = value.getDefiningOp();
  if (!def)
    return value;
  if (policy == RecomputePolicy::full) {
    // A layer's output is the next layer's input: kept, not recomputed.
    auto it = layerOf.find(def);
    if (it == layerOf.end() || layers[it->second].back() == def)
      return value;
    recomputeLayer(it->second);
    return recomputed.lookup(value);
  }
  if (policy == RecomputePolicy::selective &&
      isa<AttentionOp, LayerNormOp, RMSNormOp, GeluOp, SwiGLUOp>(def)) {
    // Its operands are kept; rebuild the value right here.
    IRMapping mapping;
    for (Value operand : def->getOperands())
      mapping.map(operand, saved(operand));
    Operation *clone = builder.clone(*def, mapping);
    for (auto [original, copy] :
         llvm::zip_equal(def->getResults(), clone->getResults()))
      recomputed[original] = copy;
    return recomputed.lookup(value);
  }
  return value;
}

LogicalResult Autodiff::backprop(Operation *op) {
  Location loc = op->getLoc();
  if (auto loss = dyn_cast<LMHeadLossOp>(op)) {
    // The loss is the step's output: its own gradient is 1.
    Value hidden = saved(loss.getHidden());
    auto grad = LMHeadLossGradOp::create(
        builder, loc, hidden.getType(), loss.getWeight().getType(), hidden,
        loss.getWeight(), loss.getTargets(), loss.getVocabSizeAttr(),
        loss.getGoldfishAttr());
    accumulate(loss.getHidden(), grad.getHiddenGrad());
    accumulate(loss.getWeight(), grad.getWeightGrad());
    return success();
  }

  // (Attention's second result, its statistics, has no gradient.)
  Value dy = op->getNumResults() == 1 || isa<AttentionOp>(op)
                 ? gradient(op->getResult(0))
                 : Value();
  if (!dy)
    return success(); // nothing downstream of this op reaches the loss

  if (auto e = dyn_cast<EmbeddingOp>(op)) {
    accumulate(e.getTable(),
               EmbeddingGradOp::create(builder, loc, e.getTable().getType(), dy,
                                       e.getTokens(), AxesAttr(), Value()));
    if (e.getPositions())
      accumulate(
          e.getPositions(),
          PositionGradOp::create(builder, loc, e.getPositions().getType(), dy));
    return success();
  }
  if (auto norm = dyn_cast<LayerNormOp>(op)) {
    Value input = saved(norm.getInput());
    auto grad = LayerNormGradOp::create(
        builder, loc, input.getType(), norm.getScale().getType(),
        norm.getBias().getType(), dy, input, norm.getScale(),
        norm.getEpsilonAttr(), Value(), IntegerAttr(), Value());
    accumulate(norm.getInput(), grad.getInputGrad());
    accumulate(norm.getScale(), grad.getScaleGrad());
    accumulate(norm.getBias(), grad.getBiasGrad());
    return success();
  }
  if (auto norm = dyn_cast<RMSNormOp>(op)) {
    Value input = saved(norm.getInput());
    auto grad = RMSNormGradOp::create(builder, loc, input.getType(),
                                      norm.getScale().getType(), dy, input,
                                      norm.getScale(), norm.getEpsilonAttr(),
                                      Value(), IntegerAttr(), Value());
    accumulate(norm.getInput(), grad.getInputGrad());
    accumulate(norm.getScale(), grad.getScaleGrad());
    return success();
  }
  if (auto linear = dyn_cast<LinearOp>(op)) {
    bool transposed = linear.getTransposed();
    accumulate(linear.getInput(), LinearGradInputOp::create(
                                      builder, loc, linear.getInput().getType(),
                                      dy, linear.getWeight(), transposed));
    accumulate(linear.getWeight(),
               LinearGradWeightOp::create(builder, loc,
                                          linear.getWeight().getType(),
                                          /*bias_grad=*/Type(), dy,
                                          saved(linear.getInput()), transposed)
                   .getResult());
    if (Value bias = linear.getBias())
      accumulate(bias, LinearGradBiasOp::create(builder, loc, bias.getType(),
                                                dy, transposed));
    return success();
  }
  if (auto attention = dyn_cast<AttentionOp>(op)) {
    // The forward's output and statistics spare the backward the softmax
    // (cloneForTraining asked for them).
    if (!attention.getLse())
      return op->emitOpError() << "has no softmax statistics (lse) for its "
                                  "gradient";
    Value qkv = saved(attention.getQkv());
    accumulate(attention.getQkv(),
               AttentionGradOp::create(
                   builder, loc, qkv.getType(), dy, qkv,
                   saved(attention.getResult()), saved(attention.getLse()),
                   attention.getHeadsAttr(), attention.getKvHeadsAttr(),
                   attention.getCausalAttr(), attention.getRopeAttr()));
    return success();
  }
  if (auto gelu = dyn_cast<GeluOp>(op)) {
    Value input = saved(gelu.getInput());
    accumulate(gelu.getInput(),
               GeluGradOp::create(builder, loc, input.getType(), dy, input,
                                  gelu.getApproximationAttr()));
    return success();
  }
  if (auto swiglu = dyn_cast<SwiGLUOp>(op)) {
    Value input = saved(swiglu.getInput());
    accumulate(swiglu.getInput(),
               SwiGLUGradOp::create(builder, loc, input.getType(), dy, input));
    return success();
  }
  if (auto add = dyn_cast<AddOp>(op)) {
    accumulate(add.getLhs(), dy);
    accumulate(add.getRhs(), dy);
    return success();
  }
  return op->emitOpError() << "has no gradient rule in "
                              "--axonn-build-training-step";
}

/// Clones a forward op into the training step; attention also gives its
/// softmax statistics there (lse), which its gradient reads.
Operation *cloneForTraining(OpBuilder &builder, Operation &op,
                            IRMapping &mapping) {
  auto attention = dyn_cast<AttentionOp>(op);
  if (!attention || attention.getLse())
    return builder.clone(op, mapping);
  RankedTensorType qkv = attention.getQkv().getType();
  auto lse = RankedTensorType::get(
      {qkv.getDimSize(0), qkv.getDimSize(1), int64_t(attention.getHeads())},
      builder.getF32Type());
  OperationState state(op.getLoc(), op.getName());
  state.addOperands(mapping.lookup(attention.getQkv()));
  state.addTypes({attention.getResult().getType(), lse});
  state.addAttributes(op.getAttrs());
  Operation *copy = builder.create(state);
  mapping.map(attention.getResult(), copy->getResult(0));
  return copy;
}

struct BuildTrainingStepPass
    : public impl::BuildTrainingStepPassBase<BuildTrainingStepPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();

    if (module.lookupSymbol("train_step")) {
      emitError(module.getLoc()) << "the module already has a @train_step";
      return signalPassFailure();
    }
    FailureOr<func::FuncOp> found =
        findForwardFunction(module, "--axonn-build-training-step");
    if (failed(found))
      return signalPassFailure();
    func::FuncOp forward = *found;
    auto training =
        module->getAttrOfType<TrainingAttr>(AxonnDialect::kTrainingAttrName);
    if (!training) {
      emitError(module.getLoc())
          << "--axonn-build-training-step needs the module's "
             "'axonn.training' hyper-parameters";
      return signalPassFailure();
    }
    FailureOr<RecomputePolicy> policy = readPolicy(module);
    if (failed(policy))
      return signalPassFailure();
    if (failed(build(module, forward, training, *policy)))
      return signalPassFailure();
  }

  FailureOr<RecomputePolicy> readPolicy(ModuleOp module) {
    if (recompute.empty()) {
      if (auto attr = module->getAttrOfType<RecomputePolicyAttr>(
              AxonnDialect::kRecomputeAttrName))
        return attr.getValue();
      return RecomputePolicy::none;
    }
    if (std::optional<RecomputePolicy> policy =
            symbolizeRecomputePolicy(recompute))
      return *policy;
    return emitError(module.getLoc())
           << "--axonn-build-training-step: recompute='" << recompute
           << "' is not one of none, selective, full";
  }

  LogicalResult build(ModuleOp module, func::FuncOp forward,
                      TrainingAttr training, RecomputePolicy policy) {
    MLIRContext *ctx = &getContext();
    Builder b(ctx);
    auto f32 = Float32Type::get(ctx);
    Block &body = forward.getBody().front();
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    if (ret.getNumOperands() != 1 ||
        !isa_and_nonnull<LMHeadLossOp>(ret.getOperand(0).getDefiningOp()))
      return forward.emitOpError()
             << "must return the loss of an axonn.lm_head_loss to be trained";

    // The signature: inputs, step, parameters, then their optimizer state.
    SmallVector<Type> types;
    SmallVector<Attribute> argAttrs;
    SmallVector<unsigned> params;
    for (auto [i, arg] : llvm::enumerate(forward.getArguments())) {
      types.push_back(arg.getType());
      argAttrs.push_back(forward.getArgAttrDict(i) ? forward.getArgAttrDict(i)
                                                   : b.getDictionaryAttr({}));
      if (forward.getArgAttr(i, AxonnDialect::kParamAttrName))
        params.push_back(i);
    }
    unsigned stepIndex = types.size();
    types.push_back(RankedTensorType::get({}, b.getI64Type()));
    argAttrs.push_back(b.getDictionaryAttr({b.getNamedAttr(
        AxonnDialect::kInputAttrName, b.getStringAttr("step"))}));
    bool narrow = false;
    for (unsigned p : params)
      narrow |= !cast<RankedTensorType>(types[p]).getElementType().isF32();
    SmallVector<StringRef> states = {"m", "v"};
    if (narrow)
      states.push_back("master");
    // stateIndex[s][k]: the argument of state s of parameter k.
    SmallVector<SmallVector<unsigned>> stateIndex(states.size());
    for (auto [s, state] : llvm::enumerate(states))
      for (unsigned p : params) {
        auto type = cast<RankedTensorType>(types[p]);
        stateIndex[s].push_back(types.size());
        types.push_back(RankedTensorType::get(type.getShape(), f32));
        argAttrs.push_back(b.getDictionaryAttr(
            {b.getNamedAttr(AxonnDialect::kStateAttrName,
                            b.getStringAttr(state)),
             b.getNamedAttr(
                 AxonnDialect::kStateOfAttrName,
                 forward.getArgAttr(p, AxonnDialect::kParamAttrName))}));
      }

    OpBuilder top(ctx);
    top.setInsertionPointAfter(forward);
    auto step = func::FuncOp::create(top, forward.getLoc(), "train_step",
                                     FunctionType::get(ctx, types, {}));
    Block *entry = step.addEntryBlock();
    OpBuilder builder = OpBuilder::atBlockEnd(entry);

    // Forward.
    IRMapping mapping;
    for (auto [i, arg] : llvm::enumerate(forward.getArguments()))
      mapping.map(arg, entry->getArgument(i));
    SmallVector<Operation *> forwardOps;
    for (Operation &op : body.without_terminator())
      forwardOps.push_back(cloneForTraining(builder, op, mapping));
    Value loss = mapping.lookup(ret.getOperand(0));

    // Backward.
    Autodiff autodiff(builder, policy, forwardOps);
    for (Operation *op : llvm::reverse(forwardOps))
      if (failed(autodiff.backprop(op)))
        return failure();

    // AdamW on every parameter, clipped by the global gradient norm.
    SmallVector<Value> grads;
    for (unsigned p : params) {
      Value grad = autodiff.gradient(entry->getArgument(p));
      if (!grad)
        return forward.emitOpError()
               << "parameter "
               << forward.getArgAttr(p, AxonnDialect::kParamAttrName)
               << " does not reach the loss; it cannot be trained";
      grads.push_back(grad);
    }
    Location loc = forward.getLoc();
    Value norm = GlobalNormOp::create(builder, loc,
                                      RankedTensorType::get({}, f32), grads);
    Value stepValue = entry->getArgument(stepIndex);
    // The loss, then the gradient norm before clipping (for the log).
    SmallVector<Value> results = {loss, norm};
    SmallVector<Attribute> resultAttrs = {
        b.getDictionaryAttr({b.getNamedAttr(AxonnDialect::kOutputAttrName,
                                            b.getStringAttr("loss"))}),
        b.getDictionaryAttr({b.getNamedAttr(AxonnDialect::kOutputAttrName,
                                            b.getStringAttr("grad_norm"))})};
    SmallVector<SmallVector<Value>> newStates(states.size());
    for (auto [k, p] : llvm::enumerate(params)) {
      Value param = entry->getArgument(p);
      auto type = cast<RankedTensorType>(param.getType());
      SmallVector<Value> operands = {param, grads[k],
                                     entry->getArgument(stateIndex[0][k]),
                                     entry->getArgument(stateIndex[1][k])};
      SmallVector<Type> resultTypes = {type, types[stateIndex[0][k]],
                                       types[stateIndex[1][k]]};
      if (narrow) {
        operands.push_back(entry->getArgument(stateIndex[2][k]));
        resultTypes.push_back(types[stateIndex[2][k]]);
      }
      operands.append({stepValue, norm});
      SmallVector<NamedAttribute> attrs = {
          b.getNamedAttr("training", training)};
      // Decoupled weight decay on matrices (weights, embeddings), not on
      // biases and norm scales.
      if (type.getRank() >= 2)
        attrs.push_back(b.getNamedAttr("decay", b.getUnitAttr()));
      auto adamw = AdamWOp::create(builder, param.getLoc(), resultTypes,
                                   operands, attrs);
      results.push_back(adamw.getNewParam());
      resultAttrs.push_back(argAttrs[p]);
      newStates[0].push_back(adamw.getNewM());
      newStates[1].push_back(adamw.getNewV());
      if (narrow)
        newStates[2].push_back(adamw.getNewMaster());
    }
    for (auto [s, values] : llvm::enumerate(newStates))
      for (auto [k, value] : llvm::enumerate(values)) {
        results.push_back(value);
        resultAttrs.push_back(argAttrs[stateIndex[s][k]]);
      }
    func::ReturnOp::create(builder, loc, results);

    // Recomputed clones nobody reads (a layer's last linear, whose output
    // only feeds the kept layer output) are dead: drop them.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(*entry)))
      if (op.use_empty() && isPure(&op) && !isa<func::ReturnOp>(op))
        op.erase();

    SmallVector<Type> resultTypes;
    for (Value value : results)
      resultTypes.push_back(value.getType());
    step.setFunctionType(FunctionType::get(ctx, types, resultTypes));
    step.setAllArgAttrs(argAttrs);
    // Results carry the names and roles, not the initializers.
    SmallVector<DictionaryAttr> stripped;
    for (Attribute attr : resultAttrs) {
      NamedAttrList list(cast<DictionaryAttr>(attr));
      list.erase(AxonnDialect::kInitAttrName);
      stripped.push_back(list.getDictionary(ctx));
    }
    step.setAllResultAttrs(stripped);
    return success();
  }
};

} // namespace
} // namespace mlir::axonn
