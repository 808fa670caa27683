//===- AxonnToRuntime.cpp - --axonn-lower-to-runtime ----------------------===//
//
// Per-rank functions become straight-line sequences of runtime calls over
// pointers: arguments come from an array of pointers, temporaries live in
// one workspace at the offsets of the memory plan, and each call's status
// is checked. A JSON manifest describes the program for the driver.
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/MemoryPlan.h"
#include "axonn/Conversion/Passes.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/JSON.h"

#include <map>

namespace mlir::axonn {
#define GEN_PASS_DEF_LOWERTORUNTIMEPASS
#include "axonn/Conversion/Passes.h.inc"
} // namespace mlir::axonn

namespace mlir::axonn {
namespace {

/// The runtime's packed axis set (axonn_axes in axonn_rt.h).
int64_t axesCode(std::optional<AxesAttr> axes) {
  if (!axes || !*axes)
    return 0;
  ArrayRef<Axis> list = axes->getAxes();
  uint32_t code = uint32_t(list.size());
  for (auto [i, axis] : llvm::enumerate(list))
    code |= uint32_t(axis) << (4 + 2 * i);
  return code;
}

int64_t numElements(Value value) {
  return cast<RankedTensorType>(value.getType()).getNumElements();
}
ArrayRef<int64_t> shapeOf(Value value) {
  return cast<RankedTensorType>(value.getType()).getShape();
}

class FunctionLowering {
public:
  FunctionLowering(func::FuncOp func, ModuleOp module, int64_t floatBytes)
      : func(func), module(module), ctx(func.getContext()), builder(ctx),
        ptrType(LLVM::LLVMPointerType::get(ctx)), floatBytes(floatBytes) {}

  LogicalResult run(llvm::json::Object &manifest);

private:
  //--- Building blocks -----------------------------------------------------//
  // Constants and pointers are made once, where first needed: the body is
  // one chain of blocks, so the first definition dominates every later use.
  Value i64(int64_t v) {
    Value &c = constants[{v, 64}];
    if (!c)
      c = arith::ConstantIntOp::create(builder, loc, v, 64).getResult();
    return c;
  }
  Value i32(int64_t v) {
    Value &c = constants[{v, 32}];
    if (!c)
      c = arith::ConstantIntOp::create(builder, loc, v, 32).getResult();
    return c;
  }
  Value f64(double v) {
    Value &c = floats[v];
    if (!c)
      c = arith::ConstantFloatOp::create(builder, loc, builder.getF64Type(),
                                         APFloat(v))
              .getResult();
    return c;
  }
  Value null() {
    if (!nullPointer)
      nullPointer = LLVM::ZeroOp::create(builder, loc, ptrType);
    return nullPointer;
  }
  /// A stack array of `values` (all of type `element`) for a grouped call.
  Value array(Type element, ArrayRef<Value> values) {
    Value base = LLVM::AllocaOp::create(builder, loc, ptrType, element,
                                        i64(std::max<int64_t>(values.size(), 1)));
    for (auto [i, value] : llvm::enumerate(values)) {
      Value slot = LLVM::GEPOp::create(builder, loc, ptrType, element, base,
                                       ArrayRef<LLVM::GEPArg>{int32_t(i)});
      LLVM::StoreOp::create(builder, loc, value, slot);
    }
    return base;
  }
  /// AdamW of consecutive parameters with the same hyper-parameters, step,
  /// norm and storage type: one axonn_rt_adamw_group call.
  LogicalResult lowerAdamWGroup(ArrayRef<AdamWOp> group);
  /// The declaration of a runtime entry point (all return a status).
  func::FuncOp declare(StringRef name, TypeRange arguments);
  /// Calls the runtime and returns from the function with the status if
  /// it is not AXONN_OK. Kernels and collective starts get the suffix
  /// `twin` (the op being lowered computes on bf16: "_bf16").
  void call(StringRef name, ArrayRef<Value> arguments);
  Value pointer(Value value);

  LogicalResult lower(Operation *op);
  LogicalResult checkTypes(Operation *op);

  func::FuncOp func;
  ModuleOp module;
  MLIRContext *ctx;
  OpBuilder builder;
  Location loc = UnknownLoc::get(ctx);
  Type ptrType;
  /// Bytes of a stored f32 element: 4, or 8 for the fp64 runtime build
  /// (which stores and computes every f32 tensor of the IR in double).
  int64_t floatBytes;
  func::FuncOp lowered;
  Value rt, argsArray, resultsArray, workspace, requests;
  Block *failBlock = nullptr;
  MemoryPlan plan;
  llvm::DenseMap<Value, Value> pointers;
  llvm::DenseMap<int64_t, Value> workspacePointers;
  llvm::DenseMap<std::pair<int64_t, unsigned>, Value> constants;
  std::map<double, Value> floats;
  Value nullPointer;
  std::string twin;
  llvm::DenseMap<Value, int64_t> requestSlot;
};

func::FuncOp FunctionLowering::declare(StringRef name, TypeRange arguments) {
  if (auto existing = module.lookupSymbol<func::FuncOp>(name))
    return existing;
  OpBuilder::InsertionGuard guard(builder);
  builder.setInsertionPointToStart(module.getBody());
  auto decl = func::FuncOp::create(
      builder, loc, name,
      FunctionType::get(ctx, arguments, {builder.getI32Type()}));
  decl.setPrivate();
  return decl;
}

void FunctionLowering::call(StringRef name, ArrayRef<Value> arguments) {
  SmallVector<Value> all = {rt};
  all.append(arguments.begin(), arguments.end());
  SmallVector<Type> types;
  for (Value v : all)
    types.push_back(v.getType());
  std::string calleeName = name.str();
  if (name != "axonn_rt_wait" && name != "axonn_rt_copy")
    calleeName += twin;
  func::FuncOp callee = declare(calleeName, types);
  Value status = func::CallOp::create(builder, loc, callee, all).getResult(0);
  Value bad = arith::CmpIOp::create(builder, loc, arith::CmpIPredicate::ne,
                                    status, i32(0));
  Block *current = builder.getInsertionBlock();
  Block *next = new Block();
  current->getParent()->push_back(next);
  cf::CondBranchOp::create(builder, loc, bad, failBlock, ValueRange{status},
                           next, ValueRange{});
  builder.setInsertionPointToStart(next);
}

/// Where a value lives: its argument's buffer, its workspace offset, or
/// (for values updated in place) the buffer it updates.
Value FunctionLowering::pointer(Value value) {
  auto it = pointers.find(value);
  if (it != pointers.end())
    return it->second;
  Value result;
  auto found = plan.offsets.find(value);
  if (found != plan.offsets.end()) {
    Value &at = workspacePointers[found->second];
    if (!at)
      at = LLVM::GEPOp::create(builder, loc, ptrType, builder.getI8Type(),
                               workspace,
                               ArrayRef<LLVM::GEPArg>{i64(found->second)});
    result = at;
  } else if (auto adamw = value.getDefiningOp<AdamWOp>()) {
    unsigned index = cast<OpResult>(value).getResultNumber();
    Value buffer = index == 0   ? adamw.getParam()
                   : index == 1 ? adamw.getM()
                   : index == 2 ? adamw.getV()
                                : adamw.getMaster();
    result = pointer(buffer);
  } else {
    // A value without a buffer of its own (an all-reduce in place whose
    // input is an argument, say): the buffer of what it was computed from.
    Operation *def = value.getDefiningOp();
    if (auto wait = dyn_cast_or_null<WaitOp>(def))
      result = pointer(wait.getHandle().getDefiningOp()->getOperand(0));
    else if (auto reduce = dyn_cast_or_null<AllReduceOp>(def))
      result = pointer(reduce.getInput());
  }
  pointers[value] = result;
  return result;
}

/// Whether `v`, a float tensor of `op`, is f32 in every program: the
/// statistics the runtime's bf16 twins keep in f32.
bool alwaysF32(Operation *op, Value v) {
  return TypeSwitch<Operation *, bool>(op)
      .Case([&](NormStatsOp n) { return v == n.getStats(); })
      .Case([&](NormGradStatsOp n) { return v == n.getStats(); })
      .Case<LayerNormOp, RMSNormOp, LayerNormGradOp, RMSNormGradOp>(
          [&](auto n) { return v == n.getStats(); })
      .Case([&](LogitsMaxOp l) {
        return v == l.getMax() || v == l.getPartial();
      })
      .Case([&](CrossEntropyGradOp c) {
        return v == c.getMax() || v == c.getSums() || v == c.getKeep() ||
               v == c.getCount();
      })
      .Case<AttentionOp, AttentionGradOp>(
          [&](auto a) { return v == a.getLse(); })
      .Case([&](SumSquaresOp s) { return v == s.getResult(); })
      .Case([&](AdamWOp a) {
        return v == a.getM() || v == a.getV() || v == a.getMaster() ||
               v == a.getNorm() || v == a.getNewM() || v == a.getNewV() ||
               v == a.getNewMaster();
      })
      .Case<CrossEntropyOp, GoldfishMaskOp, SqrtOp, SoftmaxSumsOp>(
          [](auto) { return true; })
      .Default([](Operation *) { return false; });
}

LogicalResult FunctionLowering::checkTypes(Operation *op) {
  twin.clear();
  if (isa<func::ReturnOp>(op))
    return success(); // results are copied as bytes
  // The op's model tensors must all be f32 or all bf16; its statistics f32.
  Type model;
  for (Value v : llvm::concat<Value>(op->getOperands(), op->getResults())) {
    Type type = v.getType();
    if (auto handle = dyn_cast<HandleType>(type))
      type = handle.getValue();
    auto tensor = dyn_cast<RankedTensorType>(type);
    if (!tensor)
      continue;
    if (tensor.getEncoding())
      return op->emitOpError()
             << "has a sharded type; run --axonn-insert-collectives first";
    Type element = tensor.getElementType();
    if (!isa<FloatType>(element))
      continue;
    if (!element.isF32() && !element.isBF16())
      return op->emitOpError()
             << "computes in " << element
             << "; the runtime stores f32 and bf16 tensors (set the spec's "
                "training.dtype to float32 or bfloat16)";
    if (alwaysF32(op, v)) {
      if (!element.isF32())
        return op->emitOpError()
               << "has a " << element << " statistic (" << type
               << "); the runtime keeps statistics in f32";
      continue;
    }
    if (model && model != element)
      return op->emitOpError() << "mixes " << model << " and " << element
                               << " tensors; the runtime's kernels take one "
                                  "storage type";
    model = element;
  }
  if (model && model.isBF16()) {
    if (floatBytes != 4)
      return op->emitOpError()
             << "computes in bf16; the fp64 runtime build (element-type=f64) "
                "takes f32 programs only";
    twin = "_bf16";
  }
  return success();
}

/// Whether two AdamW updates can share one grouped call: the same
/// hyper-parameters, step, norm, storage type and master-weight use.
static bool sameAdamWGroup(AdamWOp a, AdamWOp b) {
  return a.getTraining() == b.getTraining() && a.getStep() == b.getStep() &&
         a.getNorm() == b.getNorm() &&
         getElementTypeOrSelf(a.getParam().getType()) ==
             getElementTypeOrSelf(b.getParam().getType()) &&
         bool(a.getMaster()) == bool(b.getMaster());
}

LogicalResult FunctionLowering::lowerAdamWGroup(ArrayRef<AdamWOp> group) {
  AdamWOp first = group.front();
  if (group.size() == 1)
    return lower(first);
  for (AdamWOp a : group)
    if (failed(checkTypes(a)))
      return failure();
  loc = first.getLoc();
  SmallVector<Value> params, grads, ms, vs, masters, counts, decays;
  for (AdamWOp a : group) {
    params.push_back(pointer(a.getParam()));
    grads.push_back(pointer(a.getGrad()));
    ms.push_back(pointer(a.getM()));
    vs.push_back(pointer(a.getV()));
    if (a.getMaster())
      masters.push_back(pointer(a.getMaster()));
    counts.push_back(i64(numElements(a.getParam())));
    decays.push_back(i32(a.getDecay()));
  }
  TrainingAttr t = first.getTraining();
  call("axonn_rt_adamw_group",
       {i64(int64_t(group.size())), array(ptrType, params),
        array(ptrType, grads), array(ptrType, ms), array(ptrType, vs),
        masters.empty() ? null() : array(ptrType, masters),
        array(builder.getI64Type(), counts),
        array(builder.getI32Type(), decays), pointer(first.getStep()),
        pointer(first.getNorm()), f64(t.getLr().convertToDouble()),
        f64(t.getMinLr().convertToDouble()),
        f64(t.getBeta1().convertToDouble()),
        f64(t.getBeta2().convertToDouble()), f64(t.getEps().convertToDouble()),
        f64(t.getWeightDecay().convertToDouble()),
        f64(t.getGradClip().convertToDouble()), i64(t.getWarmupSteps()),
        i64(t.getSteps()), i32(int32_t(t.getSchedule()))});
  return success();
}

LogicalResult FunctionLowering::lower(Operation *op) {
  if (failed(checkTypes(op)))
    return failure();
  loc = op->getLoc();
  auto p = [&](Value v) { return v ? pointer(v) : null(); };
  auto axes = [&](std::optional<AxesAttr> a) { return i32(axesCode(a)); };
  auto tokensOf = [&](Value activation) {
    ArrayRef<int64_t> shape = shapeOf(activation);
    return numElements(activation) / shape.back();
  };
  bool handled = true;
  TypeSwitch<Operation *>(op)
      .Case([&](EmbeddingOp e) {
        ArrayRef<int64_t> table = shapeOf(e.getTable());
        ArrayRef<int64_t> tokens = shapeOf(e.getTokens());
        int64_t positions =
            e.getPositions() ? shapeOf(e.getPositions())[0] : 0;
        call("axonn_rt_embedding",
             {p(e.getTokens()), i64(tokens[0] * tokens[1]), i64(tokens[1]),
              p(e.getTable()), i64(table[0]), i64(table[1]),
              p(e.getPositions()), i64(positions), p(e.getStart()),
              axes(e.getVocabAxes()), axes(e.getOnceOver()),
              p(e.getResult())});
      })
      .Case([&](EmbeddingGradOp e) {
        ArrayRef<int64_t> table = shapeOf(e.getResult());
        call("axonn_rt_embedding_grad",
             {p(e.getGrad()), p(e.getTokens()), i64(numElements(e.getTokens())),
              i64(table[0]), i64(table[1]), axes(e.getVocabAxes()),
              p(e.getAccumulate()), p(e.getResult())});
      })
      .Case([&](PositionGradOp e) {
        ArrayRef<int64_t> grad = shapeOf(e.getGrad());
        ArrayRef<int64_t> table = shapeOf(e.getResult());
        call("axonn_rt_position_grad",
             {p(e.getGrad()), i64(grad[0] * grad[1]), i64(grad[1]),
              i64(table[0]), i64(table[1]), p(e.getResult())});
      })
      .Case([&](LayerNormOp n) {
        int64_t local = shapeOf(n.getInput()).back();
        call("axonn_rt_layer_norm",
             {p(n.getInput()), p(n.getScale()), p(n.getBias()), p(n.getStats()),
              i64(tokensOf(n.getInput())), i64(local),
              i64(n.getWidth().value_or(local)),
              f64(n.getEpsilon().convertToDouble()), p(n.getResult())});
      })
      .Case([&](RMSNormOp n) {
        int64_t local = shapeOf(n.getInput()).back();
        call("axonn_rt_rms_norm",
             {p(n.getInput()), p(n.getScale()), p(n.getStats()),
              i64(tokensOf(n.getInput())), i64(local),
              i64(n.getWidth().value_or(local)),
              f64(n.getEpsilon().convertToDouble()), p(n.getResult())});
      })
      .Case([&](ResidualNormOp n) {
        int64_t width = shapeOf(n.getInput()).back();
        SmallVector<Value> args = {p(n.getInput()), p(n.getResidual()),
                                   p(n.getScale())};
        if (!n.getRms())
          args.push_back(p(n.getBias()));
        args.append({i64(tokensOf(n.getInput())), i64(width),
                     f64(n.getEpsilon().convertToDouble()), p(n.getSum()),
                     p(n.getResult())});
        call(n.getRms() ? "axonn_rt_residual_rms_norm"
                        : "axonn_rt_residual_layer_norm",
             args);
      })
      .Case([&](NormStatsOp n) {
        call("axonn_rt_norm_stats",
             {p(n.getInput()), i64(tokensOf(n.getInput())),
              i64(shapeOf(n.getInput()).back()), i32(n.getRms()),
              p(n.getStats())});
      })
      .Case([&](NormGradStatsOp n) {
        call("axonn_rt_norm_grad_stats",
             {p(n.getGrad()), p(n.getInput()), p(n.getScale()),
              i64(tokensOf(n.getInput())), i64(shapeOf(n.getInput()).back()),
              i32(n.getRms()), p(n.getStats())});
      })
      .Case([&](LayerNormGradOp n) {
        int64_t local = shapeOf(n.getInput()).back();
        call("axonn_rt_layer_norm_grad",
             {p(n.getGrad()), p(n.getInput()), p(n.getScale()), p(n.getStats()),
              i64(tokensOf(n.getInput())), i64(local),
              i64(n.getWidth().value_or(local)),
              f64(n.getEpsilon().convertToDouble()), p(n.getAccumulate()),
              p(n.getInputGrad()), p(n.getScaleGrad()), p(n.getBiasGrad())});
      })
      .Case([&](RMSNormGradOp n) {
        int64_t local = shapeOf(n.getInput()).back();
        call("axonn_rt_rms_norm_grad",
             {p(n.getGrad()), p(n.getInput()), p(n.getScale()), p(n.getStats()),
              i64(tokensOf(n.getInput())), i64(local),
              i64(n.getWidth().value_or(local)),
              f64(n.getEpsilon().convertToDouble()), p(n.getAccumulate()),
              p(n.getInputGrad()), p(n.getScaleGrad())});
      })
      .Case([&](LinearOp l) {
        ArrayRef<int64_t> w = shapeOf(l.getWeight());
        call("axonn_rt_linear",
             {p(l.getInput()), p(l.getWeight()), p(l.getBias()),
              axes(l.getOnceOver()), i64(numElements(l.getInput()) / w[1]),
              i64(w[0]), i64(w[1]), p(l.getResult())});
      })
      .Case([&](LinearGeluOp l) {
        ArrayRef<int64_t> w = shapeOf(l.getWeight());
        call("axonn_rt_linear_gelu",
             {p(l.getInput()), p(l.getWeight()), p(l.getBias()),
              i64(numElements(l.getInput()) / w[1]), i64(w[0]), i64(w[1]),
              i32(l.getApproximation() == GeluApproximation::tanh),
              p(l.getPre()), p(l.getResult())});
      })
      .Case([&](LinearGradInputOp l) {
        ArrayRef<int64_t> w = shapeOf(l.getWeight());
        call("axonn_rt_linear_grad_input",
             {p(l.getGrad()), p(l.getWeight()),
              i64(numElements(l.getGrad()) / w[0]), i64(w[0]), i64(w[1]),
              p(l.getResult())});
      })
      .Case([&](LinearGradInputGeluOp l) {
        ArrayRef<int64_t> w = shapeOf(l.getWeight());
        call("axonn_rt_linear_grad_input_gelu",
             {p(l.getGrad()), p(l.getWeight()), p(l.getPre()),
              i64(numElements(l.getGrad()) / w[0]), i64(w[0]), i64(w[1]),
              i32(l.getApproximation() == GeluApproximation::tanh),
              p(l.getResult())});
      })
      .Case([&](LinearGradWeightOp l) {
        ArrayRef<int64_t> dw = shapeOf(l.getResult());
        call("axonn_rt_linear_grad_weight",
             {p(l.getGrad()), p(l.getInput()),
              i64(numElements(l.getGrad()) / dw[0]), i64(dw[0]), i64(dw[1]),
              p(l.getResult()), p(l.getBiasGrad())});
      })
      .Case([&](LinearGradBiasOp l) {
        int64_t n = shapeOf(l.getResult())[0];
        call("axonn_rt_linear_grad_bias",
             {p(l.getGrad()), i64(numElements(l.getGrad()) / n), i64(n),
              p(l.getResult())});
      })
      .Case([&](AttentionOp a) {
        ArrayRef<int64_t> qkv = shapeOf(a.getQkv());
        call("axonn_rt_attention",
             {p(a.getQkv()), i64(qkv[0]), i64(qkv[1]), i64(a.getHeads()),
              i64(a.getKvHeads()), i64(a.getHeadDim()), i32(a.getCausal()),
              f64(a.getRope() ? a.getRope()->convertToDouble() : 0.0),
              p(a.getResult()), p(a.getLse())});
      })
      .Case([&](CachedAttentionOp a) {
        ArrayRef<int64_t> qkv = shapeOf(a.getQkv());
        ArrayRef<int64_t> cache = shapeOf(a.getKCache());
        int64_t headDim = qkv[2] / (a.getHeads() + 2 * a.getKvHeads());
        call("axonn_rt_cached_attention",
             {p(a.getQkv()), i64(qkv[0]), i64(qkv[1]), i64(a.getHeads()),
              i64(a.getKvHeads()), i64(headDim),
              f64(a.getRope() ? a.getRope()->convertToDouble() : 0.0),
              p(a.getKCache()), p(a.getVCache()), i64(cache[2]),
              p(a.getStart()), p(a.getResult())});
      })
      .Case([&](AttentionGradOp a) {
        ArrayRef<int64_t> qkv = shapeOf(a.getQkv());
        int64_t headDim = qkv[2] / (a.getHeads() + 2 * a.getKvHeads());
        call("axonn_rt_attention_grad",
             {p(a.getGrad()), p(a.getQkv()), p(a.getOut()), p(a.getLse()),
              i64(qkv[0]), i64(qkv[1]),
              i64(a.getHeads()), i64(a.getKvHeads()), i64(headDim),
              i32(a.getCausal()),
              f64(a.getRope() ? a.getRope()->convertToDouble() : 0.0),
              p(a.getResult())});
      })
      .Case([&](GeluOp g) {
        call("axonn_rt_gelu",
             {p(g.getInput()), i64(numElements(g.getInput())),
              i32(g.getApproximation() == GeluApproximation::tanh),
              p(g.getResult())});
      })
      .Case([&](GeluGradOp g) {
        call("axonn_rt_gelu_grad",
             {p(g.getGrad()), p(g.getInput()), i64(numElements(g.getInput())),
              i32(g.getApproximation() == GeluApproximation::tanh),
              p(g.getResult())});
      })
      .Case([&](SwiGLUOp s) {
        call("axonn_rt_swiglu",
             {p(s.getInput()), i64(numElements(s.getResult())),
              p(s.getResult())});
      })
      .Case([&](SwiGLUGradOp s) {
        call("axonn_rt_swiglu_grad",
             {p(s.getGrad()), p(s.getInput()), i64(numElements(s.getGrad())),
              p(s.getResult())});
      })
      .Case([&](AddOp a) {
        call("axonn_rt_add",
             {p(a.getLhs()), p(a.getRhs()), i64(numElements(a.getResult())),
              p(a.getResult())});
      })
      .Case([&](LogitsMaxOp l) {
        ArrayRef<int64_t> s = shapeOf(l.getLogits());
        call("axonn_rt_logits_max",
             {p(l.getLogits()), p(l.getTargets()), i64(s[0] * s[1]),
              i64(s[2]), axes(l.getVocabAxes()),
              i64(l.getVocabSize().value_or(0)), p(l.getMax()),
              p(l.getPartial())});
      })
      .Case([&](SoftmaxSumsOp l) {
        call("axonn_rt_softmax_sums",
             {p(l.getPartial()), p(l.getLocalMax()), p(l.getMax()),
              i64(numElements(l.getMax())), p(l.getSums())});
      })
      .Case([&](CrossEntropyOp c) {
        if (c.getKeep())
          call("axonn_rt_cross_entropy_masked",
               {p(c.getMax()), p(c.getSums()), p(c.getKeep()),
                p(c.getCount()), i64(numElements(c.getMax())),
                p(c.getLoss())});
        else
          call("axonn_rt_cross_entropy",
               {p(c.getMax()), p(c.getSums()), i64(numElements(c.getMax())),
                i64(c.getTokens()), p(c.getLoss())});
      })
      .Case([&](CrossEntropyGradOp c) {
        ArrayRef<int64_t> s = shapeOf(c.getLogits());
        if (c.getKeep())
          call("axonn_rt_cross_entropy_grad_masked",
               {p(c.getLogits()), p(c.getMax()), p(c.getSums()),
                p(c.getTargets()), p(c.getKeep()), p(c.getCount()),
                i64(s[0] * s[1]), i64(s[2]), axes(c.getVocabAxes()),
                i64(c.getVocabSize().value_or(0)), p(c.getResult())});
        else
          call("axonn_rt_cross_entropy_grad",
               {p(c.getLogits()), p(c.getMax()), p(c.getSums()),
                p(c.getTargets()), i64(s[0] * s[1]), i64(s[2]),
                axes(c.getVocabAxes()), i64(c.getVocabSize().value_or(0)),
                i64(c.getTokens()), p(c.getResult())});
      })
      .Case([&](GoldfishMaskOp g) {
        ArrayRef<int64_t> s = shapeOf(g.getTargets());
        GoldfishAttr goldfish = g.getGoldfish();
        call("axonn_rt_goldfish_mask",
             {p(g.getTargets()), i64(s[0]), i64(s[1]),
              i32(int64_t(goldfish.getStrategy())), i64(goldfish.getK()),
              i64(goldfish.getH()), p(g.getKeep()), p(g.getCount())});
      })
      .Case([&](SumSquaresOp s) {
        if (s.getGrads().size() == 1) {
          call("axonn_rt_sum_squares",
               {p(s.getGrads()[0]), i64(numElements(s.getGrads()[0])),
                f64(cast<FloatAttr>(s.getScales()[0]).getValueAsDouble()),
                i32(1), p(s.getResult())});
          return;
        }
        // Every gradient in one call (one or two launches on a GPU).
        SmallVector<Value> grads, sizes, scales;
        for (auto [grad, scale] :
             llvm::zip_equal(s.getGrads(), s.getScales())) {
          grads.push_back(p(grad));
          sizes.push_back(i64(numElements(grad)));
          scales.push_back(f64(cast<FloatAttr>(scale).getValueAsDouble()));
        }
        call("axonn_rt_sum_squares_group",
             {i64(int64_t(grads.size())), array(ptrType, grads),
              array(builder.getI64Type(), sizes),
              array(builder.getF64Type(), scales), p(s.getResult())});
      })
      .Case([&](SqrtOp s) {
        call("axonn_rt_sqrt", {p(s.getInput()), p(s.getResult())});
      })
      .Case([&](AdamWOp a) {
        TrainingAttr t = a.getTraining();
        call("axonn_rt_adamw",
             {p(a.getParam()), p(a.getGrad()), p(a.getM()), p(a.getV()),
              p(a.getMaster()), i64(numElements(a.getParam())), p(a.getStep()),
              p(a.getNorm()), f64(t.getLr().convertToDouble()),
              f64(t.getMinLr().convertToDouble()),
              f64(t.getBeta1().convertToDouble()),
              f64(t.getBeta2().convertToDouble()),
              f64(t.getEps().convertToDouble()),
              f64(t.getWeightDecay().convertToDouble()),
              f64(t.getGradClip().convertToDouble()), i64(t.getWarmupSteps()),
              i64(t.getSteps()), i32(int32_t(t.getSchedule())),
              i32(a.getDecay())});
      })
      .Case<AllReduceOp, AllReduceStartOp>([&](auto c) {
        Value input = c.getInput();
        int64_t slot = requestSlot.size();
        Value slotPtr =
            LLVM::GEPOp::create(builder, loc, ptrType, ptrType, requests,
                                ArrayRef<LLVM::GEPArg>{int32_t(slot)});
        Value out = isa<AllReduceOp>(op)
                        ? pointer(op->getResult(0))
                        : pointer(Value(
                              cast<WaitOp>(*op->getResult(0).getUsers().begin())
                                  .getResult()));
        call("axonn_rt_all_reduce_start",
             {p(input), out, i64(numElements(input)), axes(c.getAxes()),
              i32(c.getReduction() == ReductionKind::max), slotPtr});
        requestSlot[op->getResult(0)] = slot;
        if (isa<AllReduceOp>(op))
          call("axonn_rt_wait",
               {LLVM::LoadOp::create(builder, loc, ptrType, slotPtr)});
      })
      .Case<AllGatherOp, AllGatherStartOp, ReduceScatterOp,
            ReduceScatterStartOp>([&](auto c) {
        Value input = c.getInput();
        bool gather = isa<AllGatherOp, AllGatherStartOp>(op);
        bool blocking = isa<AllGatherOp, ReduceScatterOp>(op);
        Value result =
            blocking ? Value(op->getResult(0))
                     : Value(cast<WaitOp>(*op->getResult(0).getUsers().begin())
                                 .getResult());
        ArrayRef<int64_t> shape = shapeOf(input);
        int64_t dim = c.getDim(), outer = 1, inner = 1;
        for (int64_t d = 0; d < int64_t(shape.size()); ++d)
          (d < dim ? outer : inner) *= d == dim ? 1 : shape[d];
        int64_t slot = requestSlot.size();
        Value slotPtr =
            LLVM::GEPOp::create(builder, loc, ptrType, ptrType, requests,
                                ArrayRef<LLVM::GEPArg>{int32_t(slot)});
        SmallVector<Value> arguments = {p(input),   pointer(result),
                                        i64(outer), i64(shape[dim]),
                                        i64(inner), axes(c.getAxes())};
        if (!gather)
          arguments.push_back(i32(0)); // sum
        arguments.push_back(slotPtr);
        call(gather ? "axonn_rt_all_gather_start"
                    : "axonn_rt_reduce_scatter_start",
             arguments);
        requestSlot[op->getResult(0)] = slot;
        if (blocking)
          call("axonn_rt_wait",
               {LLVM::LoadOp::create(builder, loc, ptrType, slotPtr)});
      })
      .Case([&](WaitOp w) {
        int64_t slot = requestSlot.lookup(w.getHandle());
        Value slotPtr =
            LLVM::GEPOp::create(builder, loc, ptrType, ptrType, requests,
                                ArrayRef<LLVM::GEPArg>{int32_t(slot)});
        call("axonn_rt_wait",
             {LLVM::LoadOp::create(builder, loc, ptrType, slotPtr)});
      })
      .Case([&](func::ReturnOp r) {
        // Results updated in place are already in their argument's buffer;
        // the others are copied out.
        for (auto [i, value] : llvm::enumerate(r.getOperands())) {
          if (value.getDefiningOp<AdamWOp>() || isa<BlockArgument>(value))
            continue;
          auto type = cast<RankedTensorType>(value.getType());
          int64_t bytes =
              type.getNumElements() *
              (type.getElementType().isF32()
                   ? floatBytes
                   : std::max<int64_t>(1, type.getElementTypeBitWidth() / 8));
          Value slot =
              LLVM::GEPOp::create(builder, loc, ptrType, ptrType, resultsArray,
                                  ArrayRef<LLVM::GEPArg>{int32_t(i)});
          Value target = LLVM::LoadOp::create(builder, loc, ptrType, slot);
          call("axonn_rt_copy", {pointer(value), target, i64(bytes)});
        }
        func::ReturnOp::create(builder, loc, ValueRange{i32(0)});
      })
      .Default([&](Operation *) { handled = false; });
  if (!handled)
    return op->emitOpError()
           << "has no runtime lowering (is this per-rank IR? run "
              "--axonn-insert-collectives first)";
  return success();
}

/// A layout as JSON: {"split": [["y"], ["x"]], "storage": ["z"]}.
llvm::json::Value layoutJson(LayoutAttr layout) {
  llvm::json::Array split;
  for (AxesAttr dim : layout.getSplit()) {
    llvm::json::Array axes;
    for (Axis axis : dim.getAxes())
      axes.push_back(stringifyAxis(axis).str());
    split.push_back(std::move(axes));
  }
  llvm::json::Array storage;
  for (Axis axis : layout.getStorage().getAxes())
    storage.push_back(stringifyAxis(axis).str());
  return llvm::json::Object{{"split", std::move(split)},
                            {"storage", std::move(storage)}};
}

std::string dtypeOf(Type type) {
  Type element = cast<RankedTensorType>(type).getElementType();
  if (element.isF32())
    return "f32";
  if (element.isF64())
    return "f64";
  if (element.isInteger(32))
    return "i32";
  if (element.isInteger(64))
    return "i64";
  std::string text;
  llvm::raw_string_ostream os(text);
  os << element;
  return text;
}

/// The JSON record of a value of the signature: its attributes.
llvm::json::Object valueJson(DictionaryAttr attrs, Type type,
                             int64_t floatBytes) {
  llvm::json::Object value;
  llvm::json::Array shape;
  for (int64_t d : cast<RankedTensorType>(type).getShape())
    shape.push_back(d);
  value["shape"] = std::move(shape);
  value["dtype"] = dtypeOf(type);
  if (value["dtype"] == llvm::json::Value("f32") && floatBytes == 8)
    value["dtype"] = "f64"; // stored as double by the fp64 runtime
  if (!attrs)
    return value;
  for (NamedAttribute attr : attrs) {
    StringRef name = attr.getName().getValue();
    if (!name.consume_front("axonn."))
      continue;
    if (auto string = dyn_cast<StringAttr>(attr.getValue()))
      value[name.str()] = string.getValue().str();
    else if (auto layout = dyn_cast<LayoutAttr>(attr.getValue()))
      value[name.str()] = layoutJson(layout);
    else if (auto init = dyn_cast<InitAttr>(attr.getValue())) {
      llvm::json::Object object{{"kind", stringifyInitKind(init.getKind())}};
      if (init.getKind() == InitKind::normal)
        object["std"] = init.getStd().convertToDouble();
      value[name.str()] = std::move(object);
    }
  }
  return value;
}

LogicalResult FunctionLowering::run(llvm::json::Object &manifest) {
  if (func.isExternal())
    return success();
  FailureOr<MemoryPlan> planned = planMemory(func, 256, floatBytes);
  if (failed(planned))
    return failure();
  plan = std::move(*planned);
  Block &body = func.getBody().front();

  // The manifest record of this function.
  llvm::json::Array argsJson, resultsJson;
  for (BlockArgument arg : body.getArguments())
    argsJson.push_back(
        valueJson(func.getArgAttrDict(arg.getArgNumber()), arg.getType(),
                  floatBytes));
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  for (auto [i, value] : llvm::enumerate(ret.getOperands())) {
    llvm::json::Object result =
        valueJson(func.getResultAttrDict(i), value.getType(), floatBytes);
    // A result updated in place names the argument whose buffer holds it.
    if (auto adamw = value.getDefiningOp<AdamWOp>()) {
      unsigned index = cast<OpResult>(value).getResultNumber();
      Value buffer = index == 0   ? adamw.getParam()
                     : index == 1 ? adamw.getM()
                     : index == 2 ? adamw.getV()
                                  : adamw.getMaster();
      if (auto arg = dyn_cast<BlockArgument>(buffer))
        result["in_place_of"] = int64_t(arg.getArgNumber());
    }
    resultsJson.push_back(std::move(result));
  }
  std::string name = ("axonn_" + func.getSymName()).str();
  manifest[func.getSymName().str()] =
      llvm::json::Object{{"symbol", name},
                         {"workspace", plan.workspace},
                         {"args", std::move(argsJson)},
                         {"results", std::move(resultsJson)}};

  // The lowered function.
  builder.setInsertionPoint(func);
  Type i32Type = builder.getI32Type();
  lowered = func::FuncOp::create(
      builder, func.getLoc(), name,
      FunctionType::get(ctx, {ptrType, ptrType, ptrType, ptrType}, {i32Type}));
  Block *entry = lowered.addEntryBlock();
  rt = entry->getArgument(0);
  argsArray = entry->getArgument(1);
  resultsArray = entry->getArgument(2);
  workspace = entry->getArgument(3);
  failBlock = new Block();
  failBlock->addArgument(i32Type, func.getLoc());
  lowered.getBody().push_back(failBlock);
  builder.setInsertionPointToStart(failBlock);
  func::ReturnOp::create(builder, func.getLoc(), failBlock->getArgument(0));

  builder.setInsertionPointToStart(entry);
  loc = func.getLoc();
  // Request slots for the collectives in flight.
  int64_t collectives = 0;
  for (Operation &op : body)
    collectives += isCollective(&op);
  requests = LLVM::AllocaOp::create(builder, loc, ptrType, ptrType,
                                    i64(std::max<int64_t>(collectives, 1)));
  // Each argument's pointer.
  for (BlockArgument arg : body.getArguments()) {
    auto type = cast<RankedTensorType>(arg.getType());
    Type element = type.getElementType();
    if (type.getEncoding() ||
        (isa<FloatType>(element) && !element.isF32() &&
         !(element.isBF16() && floatBytes == 4)))
      return func.emitOpError()
             << "argument #" << arg.getArgNumber() << " has type " << type
             << "; the runtime takes per-rank f32 or bf16 tensors (f32 "
                "only with element-type=f64; run --axonn-insert-collectives "
                "first)";
    Value slot = LLVM::GEPOp::create(
        builder, loc, ptrType, ptrType, argsArray,
        ArrayRef<LLVM::GEPArg>{int32_t(arg.getArgNumber())});
    pointers[arg] = LLVM::LoadOp::create(builder, loc, ptrType, slot);
  }
  for (auto it = body.begin(); it != body.end();) {
    // Runs of AdamW with the same settings (every parameter's, on one GPU)
    // go to the runtime as one group.
    if (auto adamw = dyn_cast<AdamWOp>(&*it)) {
      SmallVector<AdamWOp> group = {adamw};
      auto next = std::next(it);
      for (; next != body.end(); ++next) {
        auto other = dyn_cast<AdamWOp>(&*next);
        if (!other || !sameAdamWGroup(adamw, other))
          break;
        group.push_back(other);
      }
      if (failed(lowerAdamWGroup(group)))
        return failure();
      it = next;
      continue;
    }
    if (failed(lower(&*it)))
      return failure();
    ++it;
  }
  // The block that followed the last call holds the return; drop the empty
  // tail blocks the call chain may leave.
  for (Block &block : llvm::make_early_inc_range(lowered.getBody()))
    if (block.empty())
      block.erase();
  return success();
}

struct LowerToRuntimePass : impl::LowerToRuntimePassBase<LowerToRuntimePass> {
  using LowerToRuntimePassBase::LowerToRuntimePassBase;

  /// Drops the ops nobody reads any more, last first (a cut-down copy of a
  /// function leaves them): pure ops, and collectives whose results go
  /// unread (a wait, then its start). Every rank runs the same program, so
  /// every rank drops the same collectives and they stay matched.
  static void eraseDeadOps(Block &body) {
    SmallVector<Operation *> ops;
    for (Operation &op : body.without_terminator())
      ops.push_back(&op);
    for (Operation *op : llvm::reverse(ops))
      if (op->use_empty() && (isPure(op) || isa<WaitOp>(op) ||
                              isCollective(op)))
        op->erase();
  }

  /// A copy of the forward named `name` that returns the LM head's local
  /// logits [B, S, V / vocabulary group], laid out like the tokens on the
  /// batch and over the vocabulary axes on the last dimension; null when
  /// the module has no forward with an LM head.
  static func::FuncOp cloneForwardToLogits(ModuleOp module, StringRef name) {
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!forward || forward.isExternal() || module.lookupSymbol(name))
      return nullptr;
    bool hasHead = false;
    forward.walk([&](LogitsMaxOp) { hasHead = true; });
    if (!hasHead)
      return nullptr;
    MLIRContext *ctx = module.getContext();
    OpBuilder builder(forward);
    builder.setInsertionPointAfter(forward);
    auto logits = cast<func::FuncOp>(builder.clone(*forward));
    logits.setSymName(name);
    LogitsMaxOp max;
    logits.walk([&](LogitsMaxOp op) { max = op; });
    Block &body = logits.getBody().front();
    Operation *ret = body.getTerminator();
    Value value = max.getLogits();
    ret->setOperands(value);
    logits.setType(
        FunctionType::get(ctx, logits.getArgumentTypes(), {value.getType()}));
    AxesAttr none = AxesAttr::get(ctx, {});
    AxesAttr batch = none;
    for (unsigned i = 0; i < logits.getNumArguments(); ++i)
      if (auto input = logits.getArgAttrOfType<StringAttr>(
              i, AxonnDialect::kInputAttrName))
        if (input.getValue() == "tokens")
          if (auto layout = logits.getArgAttrOfType<LayoutAttr>(
                  i, AxonnDialect::kLayoutAttrName))
            if (!layout.getSplit().empty() && layout.getSplit()[0])
              batch = layout.getSplit()[0];
    AxesAttr vocabAxes = max.getVocabAxesAttr();
    SmallVector<AxesAttr> split = {batch, none, vocabAxes ? vocabAxes : none};
    Builder b(ctx);
    logits.setResultAttrs(
        0, b.getDictionaryAttr(
               {b.getNamedAttr(AxonnDialect::kOutputAttrName,
                               b.getStringAttr("logits")),
                b.getNamedAttr(AxonnDialect::kLayoutAttrName,
                               LayoutAttr::get(ctx, split, none, none))}));
    eraseDeadOps(body);
    return logits;
  }

  /// The logits function, for generation without a cache: the forward up
  /// to the logits of every position. The forward's memory plan holds for
  /// this prefix of it.
  static void addLogitsFunction(ModuleOp module) {
    cloneForwardToLogits(module, "logits");
  }

  /// A decoding function with a key/value cache: the logits function for
  /// one sequence per rank and `length` new tokens at a position given at
  /// run time (a scalar argument, input "position"), with each attention
  /// replaced by `axonn.cached_attention` over two cache arguments (inputs
  /// "k_cache" and "v_cache", room for the forward's S positions) that the
  /// caller keeps between calls. `prefill` takes S tokens (`length` 0),
  /// `decode` one.
  /// Every value computed from the tokens changes shape [B, S, ...] to
  /// [1, length, ...]; weights and their collectives keep theirs.
  static LogicalResult addDecodingFunction(ModuleOp module, StringRef name,
                                           int64_t length) {
    func::FuncOp fn = cloneForwardToLogits(module, name);
    if (!fn)
      return success();
    MLIRContext *ctx = module.getContext();
    Builder b(ctx);
    Block &body = fn.getBody().front();
    BlockArgument tokens;
    for (BlockArgument arg : body.getArguments())
      if (auto input = fn.getArgAttrOfType<StringAttr>(
              arg.getArgNumber(), AxonnDialect::kInputAttrName))
        if (input.getValue() == "tokens")
          tokens = arg;
    auto tokensType = tokens ? dyn_cast<RankedTensorType>(tokens.getType())
                             : RankedTensorType();
    if (!tokensType || tokensType.getRank() != 2)
      return fn.emitOpError() << "has no [batch, seq] tokens argument to "
                                 "decode from";
    int64_t capacity = tokensType.getDimSize(1);
    if (length == 0)
      length = capacity;
    auto reshape = [&](RankedTensorType type) {
      if (type.getRank() < 2)
        return type;
      SmallVector<int64_t> shape(type.getShape());
      shape[0] = 1;
      shape[1] = length;
      return RankedTensorType::get(shape, type.getElementType(),
                                   type.getEncoding());
    };
    auto retype = [&](Value v) {
      if (auto tensor = dyn_cast<RankedTensorType>(v.getType()))
        v.setType(reshape(tensor));
      else if (auto handle = dyn_cast<HandleType>(v.getType()))
        v.setType(HandleType::get(ctx, reshape(handle.getValue())));
    };
    llvm::DenseSet<Value> fromTokens = {tokens};
    retype(tokens);
    for (Operation &op : body.without_terminator()) {
      if (llvm::none_of(op.getOperands(),
                        [&](Value v) { return fromTokens.contains(v); }))
        continue;
      for (Value result : op.getResults()) {
        fromTokens.insert(result);
        retype(result);
      }
    }
    fn.setType(FunctionType::get(ctx, body.getArgumentTypes(),
                                 body.getTerminator()->getOperandTypes()));

    // The position of the first new token, then the caches.
    auto argument = [&](Type type, StringRef input, unsigned rank) {
      unsigned index = fn.getNumArguments();
      SmallVector<AxesAttr> split(rank, AxesAttr::get(ctx, {}));
      AxesAttr none = AxesAttr::get(ctx, {});
      (void)fn.insertArgument(
          index, type,
          b.getDictionaryAttr(
              {b.getNamedAttr(AxonnDialect::kInputAttrName,
                              b.getStringAttr(input)),
               b.getNamedAttr(AxonnDialect::kLayoutAttrName,
                              LayoutAttr::get(ctx, split, none, none))}),
          fn.getLoc());
      return fn.getArgument(index);
    };
    Value position =
        argument(RankedTensorType::get({}, b.getI32Type()), "position", 0);
    SmallVector<AttentionOp> attentions;
    fn.walk([&](AttentionOp op) { attentions.push_back(op); });
    for (AttentionOp op : attentions) {
      if (!op.getCausal())
        return op.emitOpError() << "is not causal: decoding with a cache "
                                   "needs causal attention";
      auto qkv = cast<RankedTensorType>(op.getQkv().getType());
      auto cacheType = RankedTensorType::get(
          {1, int64_t(op.getKvHeads()), capacity, op.getHeadDim()},
          qkv.getElementType());
      Value k = argument(cacheType, "k_cache", 4);
      Value v = argument(cacheType, "v_cache", 4);
      OpBuilder builder(op);
      auto cached = CachedAttentionOp::create(
          builder, op.getLoc(), op.getResult().getType(), op.getQkv(), k, v,
          position, op.getHeadsAttr(), op.getKvHeadsAttr(), op.getRopeAttr());
      op.getResult().replaceAllUsesWith(cached.getResult());
      op.erase();
    }
    fn.walk([&](EmbeddingOp op) { op.getStartMutable().assign(position); });
    // The forward's memory plan does not hold for the new shapes.
    fn.walk([&](Operation *op) { op->removeAttr("axonn.buffers"); });
    fn->removeAttr("axonn.memory_plan");
    if (failed(mlir::verify(fn)))
      return fn.emitOpError() << "could not be built from the forward";
    return success();
  }

  /// The gradients function, for gradient checks: the per-rank training
  /// step up to the gradients AdamW would read, returned in place of the
  /// updated parameters (tagged with their names and layouts).
  static void addGradientsFunction(ModuleOp module) {
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    if (!step || step.isExternal() || module.lookupSymbol("gradients"))
      return;
    OpBuilder builder(step);
    builder.setInsertionPointAfter(step);
    auto grads = cast<func::FuncOp>(builder.clone(*step));
    grads.setSymName("gradients");
    Block &body = grads.getBody().front();
    Operation *ret = body.getTerminator();
    SmallVector<Value> values;
    SmallVector<Attribute> attrs;
    MLIRContext *ctx = module.getContext();
    Builder b(ctx);
    for (auto [i, value] : llvm::enumerate(ret->getOperands())) {
      auto adamw = value.getDefiningOp<AdamWOp>();
      if (!adamw || cast<OpResult>(value).getResultNumber() != 0)
        continue;
      values.push_back(adamw.getGrad());
      attrs.push_back(grads.getResultAttrDict(unsigned(i)));
    }
    if (values.empty()) {
      grads.erase();
      return;
    }
    ret->setOperands(values);
    SmallVector<Type> types;
    for (Value v : values)
      types.push_back(v.getType());
    grads.setType(FunctionType::get(ctx, grads.getArgumentTypes(), types));
    grads.setAllResultAttrs(attrs);
    eraseDeadOps(body);
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    int64_t floatBytes = 0;
    if (elementType == "f32")
      floatBytes = 4;
    else if (elementType == "f64")
      floatBytes = 8;
    else {
      module.emitError() << "--axonn-lower-to-runtime: element-type must be "
                            "f32 or f64, not '"
                         << elementType << "'";
      return signalPassFailure();
    }
    addLogitsFunction(module);
    if (failed(addDecodingFunction(module, "prefill", 0)) ||
        failed(addDecodingFunction(module, "decode", 1)))
      return signalPassFailure();
    addGradientsFunction(module);
    // The vocabulary: rows of the (padded) table, and the real tokens.
    GridAttr gridAttr =
        module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName);
    int64_t vocabRows = 0, vocabSize = 0;
    module.walk([&](Operation *op) {
      if (auto e = dyn_cast<EmbeddingOp>(op)) {
        int64_t rows = e.getTable().getType().getDimSize(0);
        if (e.getVocabAxes() && gridAttr)
          rows *= gridAttr.getGroupSize(e.getVocabAxes()->getAxes());
        vocabRows = rows;
      }
      if (auto m = dyn_cast<LogitsMaxOp>(op))
        if (m.getVocabSize())
          vocabSize = *m.getVocabSize();
    });
    llvm::json::Object functions;
    SmallVector<func::FuncOp> originals;
    for (auto func : module.getOps<func::FuncOp>())
      if (!func.isExternal())
        originals.push_back(func);
    for (func::FuncOp func : originals)
      if (failed(FunctionLowering(func, module, floatBytes).run(functions)))
        return signalPassFailure();
    for (func::FuncOp func : originals)
      func.erase();

    // The manifest: what the driver needs to know about the program.
    llvm::json::Object manifest{{"version", 1},
                                {"functions", std::move(functions)},
                                {"vocab_rows", vocabRows},
                                {"vocab_size", vocabSize ? vocabSize : vocabRows}};
    if (auto grid =
            module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName))
      manifest["grid"] = llvm::json::Array{grid.getX(), grid.getY(),
                                           grid.getZ(), grid.getData()};
    else
      manifest["grid"] = llvm::json::Array{1, 1, 1, 1};
    if (auto t = module->getAttrOfType<TrainingAttr>(
            AxonnDialect::kTrainingAttrName))
      manifest["training"] = llvm::json::Object{
          {"global_batch", t.getGlobalBatch()},
          {"seq_len", t.getSeqLen()},
          {"lr", t.getLr().convertToDouble()},
          {"min_lr", t.getMinLr().convertToDouble()},
          {"warmup_steps", t.getWarmupSteps()},
          {"steps", t.getSteps()},
          {"schedule", stringifyLRSchedule(t.getSchedule())},
          {"weight_decay", t.getWeightDecay().convertToDouble()},
          {"grad_clip", t.getGradClip().convertToDouble()},
          {"seed", t.getSeed()}};
    if (auto c =
            module->getAttrOfType<ClusterAttr>(AxonnDialect::kClusterAttrName))
      manifest["cluster"] = llvm::json::Object{
          {"name", c.getName().str()},
          {"peak_flops", c.getPeakFlops().convertToDouble()}};
    if (auto info = module->getAttrOfType<DictionaryAttr>(
            AxonnDialect::kModelInfoAttrName)) {
      llvm::json::Object model;
      for (NamedAttribute entry : info) {
        StringRef key = entry.getName().getValue();
        if (auto i = dyn_cast<IntegerAttr>(entry.getValue()))
          model[key] = i.getInt();
        else if (auto f = dyn_cast<FloatAttr>(entry.getValue()))
          model[key] = f.getValueAsDouble();
        else if (auto str = dyn_cast<StringAttr>(entry.getValue()))
          model[key] = str.getValue().str();
      }
      manifest["model"] = std::move(model);
    }
    // Everything axonn says about the module is in the manifest now; the
    // module is plain func/llvm for the rest of the way.
    for (NamedAttribute attr : llvm::to_vector(module->getDiscardableAttrs()))
      if (attr.getName().getValue().starts_with("axonn."))
        module->removeAttr(attr.getName());
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(manifest));
    text.push_back('\0');

    OpBuilder builder(module.getBodyRegion());
    builder.setInsertionPointToEnd(module.getBody());
    Location loc = module.getLoc();
    auto arrayType = LLVM::LLVMArrayType::get(builder.getI8Type(), text.size());
    LLVM::GlobalOp::create(builder, loc, arrayType, /*isConstant=*/true,
                           LLVM::Linkage::Internal, "axonn_manifest_text",
                           builder.getStringAttr(text));
    // const char *axonn_manifest(void)
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());
    auto getter =
        func::FuncOp::create(builder, loc, "axonn_manifest",
                             FunctionType::get(&getContext(), {}, {ptrType}));
    Block *entry = getter.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    Value address =
        LLVM::AddressOfOp::create(builder, loc, ptrType, "axonn_manifest_text");
    func::ReturnOp::create(builder, loc, address);
  }
};

} // namespace
} // namespace mlir::axonn
