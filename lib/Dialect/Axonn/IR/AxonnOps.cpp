//===- AxonnOps.cpp - axonn operations -----------------------------------===//
//
// Verifiers for shapes, element types and head counts of the model-level ops,
// and for group sizes and handle use of the collectives.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace mlir::axonn;

/// `8x1024x768`, the way shapes read in tensor types.
static std::string formatShape(ArrayRef<int64_t> shape) {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::interleave(
      shape, os,
      [&](int64_t d) {
        if (ShapedType::isDynamic(d))
          os << '?';
        else
          os << d;
      },
      "x");
  return text.empty() ? "scalar" : text;
}

static RankedTensorType tensorOf(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// All given values must share one element type.
static LogicalResult verifySameElementType(Operation *op, ValueRange values) {
  Type expected;
  for (Value value : values) {
    if (!value)
      continue;
    Type element = tensorOf(value).getElementType();
    if (!expected)
      expected = element;
    else if (element != expected)
      return op->emitOpError()
             << "element types differ: " << expected << " and " << element;
  }
  return success();
}

static LogicalResult verifyRank(Operation *op, Value value, StringRef what,
                                int64_t rank, StringRef meaning) {
  int64_t actual = tensorOf(value).getRank();
  if (actual != rank)
    return op->emitOpError() << what << " must be " << meaning << " (rank "
                             << rank << "), got rank " << actual;
  return success();
}

static LogicalResult verifyShape(Operation *op, Value value, StringRef what,
                                 ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> actual = tensorOf(value).getShape();
  if (actual != expected)
    return op->emitOpError()
           << what << " shape must be " << formatShape(expected) << ", got "
           << formatShape(actual);
  return success();
}

LogicalResult mlir::axonn::verifyLayoutsNeedGrid(Operation *op) {
  auto hasLayout = [](Type type) { return static_cast<bool>(getLayout(type)); };
  if (llvm::none_of(op->getOperandTypes(), hasLayout) &&
      llvm::none_of(op->getResultTypes(), hasLayout))
    return success();
  if (!getEnclosingGrid(op))
    return op->emitOpError()
           << "uses tensors with a #axonn.layout encoding but the enclosing "
              "module has no 'axonn.grid' attribute";
  return verifyOpLayouts(op);
}

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

/// An f64 attribute printed in its shortest exact form (`1.0e-06`).
static ParseResult parseShortF64(OpAsmParser &parser, FloatAttr &attr) {
  FailureOr<APFloat> value = parseF64(parser);
  if (failed(value))
    return failure();
  attr = parser.getBuilder().getF64FloatAttr(value->convertToDouble());
  return success();
}

static void printShortF64(OpAsmPrinter &printer, Operation *, FloatAttr attr) {
  printF64(printer, attr.getValue());
}

LogicalResult EmbeddingOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getTokens(), "tokens", 2, "[batch, seq]")) ||
      failed(verifyRank(op, getTable(), "table", 2, "[vocab, hidden]")) ||
      failed(
          verifySameElementType(op, {getTable(), getPositions(), getResult()})))
    return failure();
  ArrayRef<int64_t> tokens = getTokens().getType().getShape();
  int64_t hidden = getTable().getType().getDimSize(1);
  if (getPositions()) {
    if (failed(verifyRank(op, getPositions(), "positions", 2,
                          "[max_positions, hidden]")))
      return failure();
    auto positions = getPositions().getType();
    if (positions.getDimSize(1) != hidden)
      return emitOpError() << "positions width " << positions.getDimSize(1)
                           << " differs from the table width " << hidden;
    if (!getStart() && positions.getDimSize(0) < tokens[1])
      return emitOpError() << "sequence length " << tokens[1] << " exceeds the "
                           << positions.getDimSize(0) << " learned positions";
  }
  return verifyShape(op, getResult(), "result", {tokens[0], tokens[1], hidden});
}

/// Shared by layer and RMS norm: scale (and bias) are [D] for input [..., D].
static LogicalResult verifyNorm(Operation *op, Value input, Value scale,
                                Value bias, double epsilon) {
  if (tensorOf(input).getRank() < 1)
    return op->emitOpError() << "input must have at least one dimension";
  if (failed(verifySameElementType(op, {input, scale, bias})))
    return failure();
  int64_t hidden = tensorOf(input).getShape().back();
  if (failed(verifyShape(op, scale, "scale", {hidden})))
    return failure();
  if (!(epsilon > 0))
    return op->emitOpError()
           << "epsilon must be positive, got " << formatF64(epsilon);
  return success();
}

/// Per-rank statistics of a norm over split features: `stats` is
/// `[..., count]` for input `[..., d]`, and `width` (given with it) is the
/// full feature count, a multiple of `d`.
static LogicalResult verifyNormStatsOperand(Operation *op, Value input,
                                            Value stats,
                                            std::optional<uint64_t> width,
                                            int64_t count) {
  if (static_cast<bool>(stats) != width.has_value())
    return op->emitOpError() << "'stats' and 'width' go together";
  if (!stats)
    return success();
  ArrayRef<int64_t> shape = tensorOf(input).getShape();
  SmallVector<int64_t> expected(shape.drop_back());
  expected.push_back(count);
  if (failed(verifyShape(op, stats, "stats", expected)))
    return failure();
  int64_t local = shape.back();
  if (static_cast<int64_t>(*width) % local != 0)
    return op->emitOpError()
           << "width " << *width << " is not a multiple of the local features "
           << local;
  return success();
}

LogicalResult LayerNormOp::verify() {
  if (failed(verifyNorm(getOperation(), getInput(), getScale(), getBias(),
                        getEpsilon().convertToDouble())))
    return failure();
  return verifyNormStatsOperand(*this, getInput(), getStats(), getWidth(), 2);
}

LogicalResult RMSNormOp::verify() {
  if (failed(verifyNorm(getOperation(), getInput(), getScale(), Value(),
                        getEpsilon().convertToDouble())))
    return failure();
  return verifyNormStatsOperand(*this, getInput(), getStats(), getWidth(), 1);
}

LogicalResult ResidualNormOp::verify() {
  if (getRms() == static_cast<bool>(getBias()))
    return emitOpError() << (getRms() ? "'rms' takes no bias"
                                      : "a layer norm needs a bias ('rms' "
                                        "for an RMS norm)");
  return verifyNorm(getOperation(), getInput(), getScale(), getBias(),
                    getEpsilon().convertToDouble());
}

/// Y = X W^T (+ b): the operands' and the result's shapes.
static LogicalResult verifyLinear(Operation *op, Value inputValue,
                                  Value weight, Value bias, Value result) {
  if (failed(verifyRank(op, weight, "weight", 2,
                        "[out_features, in_features]")) ||
      failed(verifySameElementType(op, {inputValue, weight, bias, result})))
    return failure();
  ArrayRef<int64_t> input = tensorOf(inputValue).getShape();
  ArrayRef<int64_t> w = tensorOf(weight).getShape();
  if (input.empty())
    return op->emitOpError() << "input must have at least one dimension";
  if (input.back() != w[1])
    return op->emitOpError()
           << "input has " << input.back()
           << " features but the weight expects " << w[1]
           << " (weight is [out, in] = " << formatShape(w) << ")";
  if (bias && failed(verifyShape(op, bias, "bias", {w[0]})))
    return failure();
  SmallVector<int64_t> expected(input.drop_back());
  expected.push_back(w[0]);
  return verifyShape(op, result, "result", expected);
}

LogicalResult LinearOp::verify() {
  return verifyLinear(getOperation(), getInput(), getWeight(), getBias(),
                      getResult());
}

LogicalResult LinearGeluOp::verify() {
  return verifyLinear(getOperation(), getInput(), getWeight(), getBias(),
                      getPre());
}

int64_t AttentionOp::getHeadDim() {
  return getQkv().getType().getDimSize(2) / (getHeads() + 2 * getKvHeads());
}

/// Shared by attention and its gradient: `qkv` [B, S, (H + 2 KV) d] and the
/// attention output `out` [B, S, H d].
static LogicalResult verifyAttention(Operation *op, Value qkvValue,
                                     Value outValue, StringRef outName,
                                     int64_t heads, int64_t kvHeads,
                                     std::optional<APFloat> rope) {
  if (failed(verifyRank(op, qkvValue, "qkv", 3, "[batch, seq, features]")) ||
      failed(verifySameElementType(op, {qkvValue, outValue})))
    return failure();
  if (heads % kvHeads != 0)
    return op->emitOpError() << "kv_heads (" << kvHeads
                             << ") must divide heads (" << heads << ")";
  ArrayRef<int64_t> qkv = tensorOf(qkvValue).getShape();
  int64_t slots = heads + 2 * kvHeads;
  if (qkv[2] % slots != 0)
    return op->emitOpError()
           << "qkv has " << qkv[2]
           << " features, not a multiple of heads + 2*kv_heads = " << slots;
  if (rope && !(rope->convertToDouble() > 0))
    return op->emitOpError() << "rope base must be positive, got "
                             << formatF64(rope->convertToDouble());
  if (rope && (qkv[2] / slots) % 2 != 0)
    return op->emitOpError() << "rotary positions need an even head "
                                "dimension, got "
                             << qkv[2] / slots;
  return verifyShape(op, outValue, outName,
                     {qkv[0], qkv[1], heads * (qkv[2] / slots)});
}

/// The softmax statistics of attention: [B, S, H] for qkv [B, S, ...].
static LogicalResult verifyAttentionLse(Operation *op, Value qkv, Value lse,
                                        int64_t heads) {
  ArrayRef<int64_t> shape = tensorOf(qkv).getShape();
  return verifyShape(op, lse, "lse", {shape[0], shape[1], heads});
}

LogicalResult AttentionOp::verify() {
  if (failed(verifyAttention(*this, getQkv(), getResult(), "result",
                             getHeads(), getKvHeads(), getRope())))
    return failure();
  if (Value lse = getLse())
    return verifyAttentionLse(*this, getQkv(), lse, getHeads());
  return success();
}

LogicalResult CachedAttentionOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyAttention(op, getQkv(), getResult(), "result", getHeads(),
                             getKvHeads(), getRope())) ||
      failed(verifyRank(op, getKCache(), "k_cache",
                        4, "[batch, kv_heads, positions, head_dim]")) ||
      failed(verifySameElementType(op, {getQkv(), getKCache()})))
    return failure();
  ArrayRef<int64_t> qkv = getQkv().getType().getShape();
  ArrayRef<int64_t> cache = getKCache().getType().getShape();
  int64_t headDim = qkv[2] / (getHeads() + 2 * getKvHeads());
  if (cache[0] != qkv[0] || cache[1] != int64_t(getKvHeads()) ||
      cache[3] != headDim)
    return emitOpError() << "caches of shape " << formatShape(cache)
                         << " do not fit batch " << qkv[0] << ", "
                         << getKvHeads() << " KV heads of dimension "
                         << headDim;
  if (cache[2] < qkv[1])
    return emitOpError() << "caches hold " << cache[2]
                         << " positions, fewer than the " << qkv[1]
                         << " new tokens";
  for (Value v : {getKCache(), getVCache()})
    if (!isa<BlockArgument>(v))
      return emitOpError() << "caches must be arguments of the enclosing "
                              "function (it updates them in place)";
  return success();
}

LogicalResult AttentionGradOp::verify() {
  if (failed(verifyAttention(*this, getQkv(), getGrad(), "grad", getHeads(),
                             getKvHeads(), getRope())))
    return failure();
  return verifyAttentionLse(*this, getQkv(), getLse(), getHeads());
}

LogicalResult SwiGLUOp::verify() {
  Operation *op = getOperation();
  if (failed(verifySameElementType(op, {getInput(), getResult()})))
    return failure();
  ArrayRef<int64_t> input = getInput().getType().getShape();
  if (input.empty() || input.back() % 2 != 0)
    return emitOpError() << "input feature dimension must be even (gate and "
                            "up interleaved), got shape "
                         << formatShape(input);
  SmallVector<int64_t> expected(input);
  expected.back() /= 2;
  return verifyShape(op, getResult(), "result", expected);
}

/// Shared by the LM head loss and its gradient.
static LogicalResult verifyLMHead(Operation *op, Value hiddenValue,
                                  Value weight, Value targets) {
  if (failed(
          verifyRank(op, hiddenValue, "hidden", 3, "[batch, seq, hidden]")) ||
      failed(verifyRank(op, weight, "weight", 2, "[vocab, hidden]")) ||
      failed(verifySameElementType(op, {hiddenValue, weight})))
    return failure();
  ArrayRef<int64_t> hidden = tensorOf(hiddenValue).getShape();
  int64_t width = tensorOf(weight).getDimSize(1);
  if (hidden[2] != width)
    return op->emitOpError() << "hidden width " << hidden[2]
                             << " differs from the weight width " << width;
  return verifyShape(op, targets, "targets", {hidden[0], hidden[1]});
}

/// `vocab_size`, when given, counts the real rows of a padded weight.
static LogicalResult verifyVocabSize(Operation *op, Value weight,
                                     std::optional<uint64_t> vocabSize) {
  if (!vocabSize)
    return success();
  int64_t rows = tensorOf(weight).getDimSize(0);
  if (*vocabSize == 0 || static_cast<int64_t>(*vocabSize) > rows)
    return op->emitOpError()
           << "vocab_size " << *vocabSize << " must be in [1, " << rows
           << "], the weight's rows";
  return success();
}

LogicalResult LMHeadLossOp::verify() {
  if (failed(verifyLMHead(*this, getHidden(), getWeight(), getTargets())))
    return failure();
  return verifyVocabSize(*this, getWeight(), getVocabSize());
}

LogicalResult LMHeadLossGradOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyLMHead(op, getHidden(), getWeight(), getTargets())) ||
      failed(verifyVocabSize(op, getWeight(), getVocabSize())) ||
      failed(verifySameElementType(
          op, {getHidden(), getHiddenGrad(), getWeightGrad()})) ||
      failed(verifyShape(op, getHiddenGrad(), "hidden_grad",
                         getHidden().getType().getShape())))
    return failure();
  return verifyShape(op, getWeightGrad(), "weight_grad",
                     getWeight().getType().getShape());
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingGradOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getGrad(), "grad", 3, "[batch, seq, hidden]")) ||
      failed(verifyRank(op, getResult(), "result", 2, "[vocab, hidden]")) ||
      failed(verifySameElementType(op, {getGrad(), getResult()})))
    return failure();
  ArrayRef<int64_t> grad = getGrad().getType().getShape();
  if (failed(verifyShape(op, getTokens(), "tokens", {grad[0], grad[1]})))
    return failure();
  int64_t width = getResult().getType().getDimSize(1);
  if (width != grad[2])
    return emitOpError() << "table width " << width
                         << " differs from the gradient width " << grad[2];
  return success();
}

LogicalResult PositionGradOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getGrad(), "grad", 3, "[batch, seq, hidden]")) ||
      failed(verifyRank(op, getResult(), "result", 2,
                        "[max_positions, hidden]")) ||
      failed(verifySameElementType(op, {getGrad(), getResult()})))
    return failure();
  ArrayRef<int64_t> grad = getGrad().getType().getShape();
  auto result = getResult().getType();
  if (result.getDimSize(1) != grad[2])
    return emitOpError() << "table width " << result.getDimSize(1)
                         << " differs from the gradient width " << grad[2];
  if (result.getDimSize(0) < grad[1])
    return emitOpError() << "sequence length " << grad[1] << " exceeds the "
                         << result.getDimSize(0) << " learned positions";
  return success();
}

/// Norm gradients: the scale (and bias) gradients have the scale's shape
/// and element type; their layouts may differ (partial sums over tokens).
static LogicalResult verifyNormGrad(Operation *op, Value input, Value scale,
                                    ValueRange paramGrads, double epsilon) {
  if (failed(verifyNorm(op, input, scale, Value(), epsilon)))
    return failure();
  ArrayRef<int64_t> shape = tensorOf(scale).getShape();
  for (auto [i, grad] : llvm::enumerate(paramGrads)) {
    std::string name = i == 0 ? "scale_grad" : "bias_grad";
    if (failed(verifySameElementType(op, {scale, grad})) ||
        failed(verifyShape(op, grad, name, shape)))
      return failure();
  }
  return success();
}

LogicalResult LayerNormGradOp::verify() {
  if (failed(verifyNormGrad(getOperation(), getInput(), getScale(),
                            {getScaleGrad(), getBiasGrad()},
                            getEpsilon().convertToDouble())))
    return failure();
  return verifyNormStatsOperand(*this, getInput(), getStats(), getWidth(), 4);
}

LogicalResult RMSNormGradOp::verify() {
  if (failed(verifyNormGrad(getOperation(), getInput(), getScale(),
                            {getScaleGrad()}, getEpsilon().convertToDouble())))
    return failure();
  return verifyNormStatsOperand(*this, getInput(), getStats(), getWidth(), 2);
}

/// Shared by linear_grad_input and linear_grad_input_gelu: `grad` [..., n],
/// `weight` [n, k], `result` [..., k].
static LogicalResult verifyLinearGradInput(Operation *op,
                                           TypedValue<RankedTensorType> grad,
                                           TypedValue<RankedTensorType> weight,
                                           TypedValue<RankedTensorType> result) {
  if (failed(verifyRank(op, weight, "weight", 2,
                        "[out_features, in_features]")) ||
      failed(verifySameElementType(op, {grad, weight, result})))
    return failure();
  ArrayRef<int64_t> shape = grad.getType().getShape();
  int64_t n = weight.getType().getDimSize(0);
  if (shape.empty() || shape.back() != n)
    return op->emitOpError()
           << "grad must end in the weight's " << n
           << " out-features, got shape " << formatShape(shape);
  SmallVector<int64_t> expected(shape.drop_back());
  expected.push_back(weight.getType().getDimSize(1));
  return verifyShape(op, result, "result", expected);
}

LogicalResult LinearGradInputOp::verify() {
  return verifyLinearGradInput(getOperation(), getGrad(), getWeight(),
                               getResult());
}

LogicalResult LinearGradInputGeluOp::verify() {
  return verifyLinearGradInput(getOperation(), getGrad(), getWeight(),
                               getResult());
}

LogicalResult LinearGradWeightOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getResult(), "result", 2,
                        "[out_features, in_features]")) ||
      failed(verifySameElementType(op, {getGrad(), getInput(), getResult()})))
    return failure();
  ArrayRef<int64_t> grad = getGrad().getType().getShape();
  ArrayRef<int64_t> input = getInput().getType().getShape();
  if (grad.empty() || input.size() != grad.size() ||
      grad.drop_back() != input.drop_back())
    return emitOpError() << "grad " << formatShape(grad) << " and input "
                         << formatShape(input)
                         << " must share their leading dimensions";
  if (failed(
          verifyShape(op, getResult(), "result", {grad.back(), input.back()})))
    return failure();
  if (!getBiasGrad())
    return success();
  if (failed(verifySameElementType(op, {getGrad(), getBiasGrad()})))
    return failure();
  return verifyShape(op, getBiasGrad(), "bias_grad", {grad.back()});
}

LogicalResult LinearGradBiasOp::verify() {
  Operation *op = getOperation();
  if (failed(verifySameElementType(op, {getGrad(), getResult()})))
    return failure();
  ArrayRef<int64_t> grad = getGrad().getType().getShape();
  if (grad.empty())
    return emitOpError() << "grad must have at least one dimension";
  return verifyShape(op, getResult(), "result", {grad.back()});
}

LogicalResult SwiGLUGradOp::verify() {
  Operation *op = getOperation();
  if (failed(verifySameElementType(op, {getGrad(), getInput()})))
    return failure();
  ArrayRef<int64_t> input = getInput().getType().getShape();
  if (input.empty() || input.back() % 2 != 0)
    return emitOpError() << "input feature dimension must be even (gate and "
                            "up interleaved), got shape "
                         << formatShape(input);
  SmallVector<int64_t> expected(input);
  expected.back() /= 2;
  return verifyShape(op, getGrad(), "grad", expected);
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Per-rank pieces
//===----------------------------------------------------------------------===//

LogicalResult NormStatsOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getInput(), "input", 3, "[batch, seq, features]")))
    return failure();
  ArrayRef<int64_t> shape = getInput().getType().getShape();
  return verifyShape(op, getStats(), "stats",
                     {shape[0], shape[1], getRms() ? 1 : 2});
}

LogicalResult NormGradStatsOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getInput(), "input", 3, "[batch, seq, features]")))
    return failure();
  ArrayRef<int64_t> shape = getInput().getType().getShape();
  if (failed(verifyShape(op, getScale(), "scale", {shape[2]})))
    return failure();
  return verifyShape(op, getStats(), "stats",
                     {shape[0], shape[1], getRms() ? 2 : 4});
}

/// Logits `[B, S, V]` with per-token tensors `[B, S]` (and `[B, S, 2]`).
static LogicalResult verifyLogits(Operation *op, Value logits, Value max,
                                  Value sums, Value targets) {
  if (failed(verifyRank(op, logits, "logits", 3, "[batch, seq, vocab]")))
    return failure();
  ArrayRef<int64_t> shape = tensorOf(logits).getShape();
  SmallVector<int64_t> tokens = {shape[0], shape[1]};
  if (max && failed(verifyShape(op, max, "max", tokens)))
    return failure();
  if (targets && failed(verifyShape(op, targets, "targets", tokens)))
    return failure();
  if (sums && failed(verifyShape(op, sums, "sums", {shape[0], shape[1], 2})))
    return failure();
  return success();
}

LogicalResult LogitsMaxOp::verify() {
  return verifyLogits(*this, getLogits(), getMax(), getPartial(),
                      getTargets());
}

LogicalResult SoftmaxSumsOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getMax(), "max", 2, "[batch, seq]")))
    return failure();
  ArrayRef<int64_t> shape = getMax().getType().getShape();
  return verifyShape(op, getPartial(), "partial", {shape[0], shape[1], 2});
}

LogicalResult CrossEntropyGradOp::verify() {
  if (getKeep() &&
      getKeep().getType().getShape() != getTargets().getType().getShape())
    return emitOpError() << "keep must have the targets' shape";
  return verifyLogits(*this, getLogits(), getMax(), getSums(), getTargets());
}

LogicalResult CrossEntropyOp::verify() {
  Operation *op = getOperation();
  if (failed(verifyRank(op, getMax(), "max", 2, "[batch, seq]")))
    return failure();
  ArrayRef<int64_t> shape = getMax().getType().getShape();
  if (getKeep() && failed(verifyShape(op, getKeep(), "keep", shape)))
    return failure();
  return verifyShape(op, getSums(), "sums", {shape[0], shape[1], 2});
}

LogicalResult GoldfishMaskOp::verify() {
  if (getKeep().getType().getShape() != getTargets().getType().getShape())
    return emitOpError() << "keep must have the targets' shape";
  return success();
}

LogicalResult SumSquaresOp::verify() {
  if (getGrads().empty())
    return emitOpError() << "needs at least one gradient";
  if (getScales().size() != getGrads().size())
    return emitOpError() << "has " << getGrads().size() << " gradients but "
                         << getScales().size() << " scales";
  for (Attribute scale : getScales())
    if (!(cast<FloatAttr>(scale).getValueAsDouble() > 0))
      return emitOpError() << "scales must be positive";
  return success();
}

LogicalResult GlobalNormOp::verify() {
  if (getGrads().empty())
    return emitOpError() << "needs at least one gradient";
  return success();
}

LogicalResult AdamWOp::verify() {
  Operation *op = getOperation();
  auto param = getParam().getType();
  ArrayRef<int64_t> shape = param.getShape();
  if (getNewParam().getType() != param)
    return emitOpError() << "new_param must have the parameter's type " << param
                         << ", got " << getNewParam().getType();
  if (failed(verifyShape(op, getGrad(), "grad", shape)))
    return failure();
  auto f32 = Float32Type::get(getContext());
  auto checkState = [&](StringRef what, Value value) -> LogicalResult {
    auto type = tensorOf(value);
    if (type.getElementType() != f32 || type.getShape() != shape)
      return emitOpError() << what << " must be an f32 tensor of shape "
                           << formatShape(shape) << ", got " << type;
    return success();
  };
  if (failed(checkState("m", getM())) || failed(checkState("v", getV())) ||
      failed(checkState("new_m", getNewM())) ||
      failed(checkState("new_v", getNewV())))
    return failure();
  bool narrow = param.getElementType() != f32;
  if (narrow != static_cast<bool>(getMaster()) ||
      static_cast<bool>(getMaster()) != static_cast<bool>(getNewMaster()))
    return emitOpError() << "a parameter of element type "
                         << param.getElementType()
                         << (narrow ? " needs f32 master weights (a master "
                                      "operand and a new_master result)"
                                    : " is its own master copy: no master "
                                      "operand or result");
  if (getMaster() && (failed(checkState("master", getMaster())) ||
                      failed(checkState("new_master", getNewMaster()))))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

static ParseResult parseAxesList(OpAsmParser &parser, AxesAttr &axes) {
  axes = AxesAttr::parseList(parser);
  return success(static_cast<bool>(axes));
}

static void printAxesList(OpAsmPrinter &printer, Operation *, AxesAttr axes) {
  axes.printList(printer);
}

/// Group size of a collective over `axes`, or failure with a diagnostic.
static FailureOr<int64_t> getCollectiveGroupSize(Operation *op, AxesAttr axes) {
  if (axes.empty())
    return op->emitOpError() << "must communicate over at least one grid axis";
  GridAttr grid = getEnclosingGrid(op);
  if (!grid)
    return op->emitOpError()
           << "needs an 'axonn.grid' attribute on the enclosing module";
  return grid.getGroupSize(axes.getAxes());
}

static LogicalResult verifyLocal(Operation *op, Type type, StringRef what) {
  if (getLayout(type))
    return op->emitOpError() << what
                             << " must be a per-rank tensor without a "
                                "#axonn.layout encoding";
  return success();
}

/// Gather (`gather` true) or reduce-scatter along `dim`: the sizes differ by
/// the group size along `dim` only.
static LogicalResult verifyResize(Operation *op, RankedTensorType input,
                                  RankedTensorType result, int64_t dim,
                                  int64_t group, bool gather) {
  if (failed(verifyLocal(op, input, "input")) ||
      failed(verifyLocal(op, result, "result")))
    return failure();
  if (input.getElementType() != result.getElementType())
    return op->emitOpError()
           << "element types differ: " << input.getElementType() << " and "
           << result.getElementType();
  if (input.getRank() != result.getRank())
    return op->emitOpError()
           << "input and result ranks differ (" << input.getRank() << " vs "
           << result.getRank() << ")";
  if (dim >= input.getRank())
    return op->emitOpError()
           << "dim " << dim << " is out of range for rank " << input.getRank();
  SmallVector<int64_t> expected(input.getShape());
  if (gather) {
    expected[dim] *= group;
  } else {
    if (expected[dim] % group != 0)
      return op->emitOpError()
             << "dimension " << dim << " of size " << expected[dim]
             << " is not divisible by the group size " << group;
    expected[dim] /= group;
  }
  if (result.getShape() != ArrayRef<int64_t>(expected))
    return op->emitOpError() << "result shape must be " << formatShape(expected)
                             << " for a group of " << group << ", got "
                             << formatShape(result.getShape());
  return success();
}

/// The handle of a start op is consumed by exactly one axonn.wait, later in
/// the same block, and while the collective is in flight nothing updates
/// its input in place (axonn.adamw writes its parameter and state into
/// their buffers). SSA dominance already puts the wait before every use of
/// its result.
static LogicalResult verifyHandleUse(Operation *op) {
  Value handle = op->getResult(0);
  if (!handle.hasOneUse() || !isa<WaitOp>(*handle.getUsers().begin()))
    return op->emitOpError()
           << "handle must be consumed by exactly one 'axonn.wait'";
  Operation *wait = *handle.getUsers().begin();
  if (wait->getBlock() != op->getBlock() || !op->isBeforeInBlock(wait))
    return op->emitOpError()
           << "must be followed by its 'axonn.wait' in the same block";
  Value input = op->getOperand(0);
  for (Operation *it = op->getNextNode(); it != wait; it = it->getNextNode())
    if (auto adamw = dyn_cast<AdamWOp>(it))
      if (input == adamw.getParam() || input == adamw.getM() ||
          input == adamw.getV() || input == adamw.getMaster())
        return op->emitOpError()
               << "is in flight while 'axonn.adamw' updates its input in "
                  "place; wait for it first";
  return success();
}

#define AXONN_GROUP_SIZE(OP)                                                   \
  int64_t OP::getGroupSize() {                                                 \
    GridAttr grid = getEnclosingGrid(getOperation());                          \
    return grid ? grid.getGroupSize(getAxes().getAxes()) : 1;                  \
  }
AXONN_GROUP_SIZE(AllGatherOp)
AXONN_GROUP_SIZE(ReduceScatterOp)
AXONN_GROUP_SIZE(AllReduceOp)
AXONN_GROUP_SIZE(AllGatherStartOp)
AXONN_GROUP_SIZE(ReduceScatterStartOp)
AXONN_GROUP_SIZE(AllReduceStartOp)
#undef AXONN_GROUP_SIZE

/// All-gathers and reduce-scatters, blocking or not: the group, the handle
/// (for `_start` forms) and the sizes along `dim`.
template <typename OpT>
static LogicalResult verifyResizingCollective(OpT op, RankedTensorType result,
                                              bool gather) {
  FailureOr<int64_t> group = getCollectiveGroupSize(op, op.getAxes());
  if (failed(group))
    return failure();
  if (isa<HandleType>(op->getResult(0).getType()) &&
      failed(verifyHandleUse(op)))
    return failure();
  return verifyResize(op, op.getInput().getType(), result, op.getDim(), *group,
                      gather);
}

LogicalResult AllGatherOp::verify() {
  return verifyResizingCollective(*this, getResult().getType(),
                                  /*gather=*/true);
}

LogicalResult ReduceScatterOp::verify() {
  return verifyResizingCollective(*this, getResult().getType(),
                                  /*gather=*/false);
}

LogicalResult AllGatherStartOp::verify() {
  return verifyResizingCollective(*this, getHandle().getType().getValue(),
                                  /*gather=*/true);
}

LogicalResult ReduceScatterStartOp::verify() {
  return verifyResizingCollective(*this, getHandle().getType().getValue(),
                                  /*gather=*/false);
}

LogicalResult AllReduceOp::verify() {
  if (failed(getCollectiveGroupSize(*this, getAxes())))
    return failure();
  return verifyLocal(*this, getInput().getType(), "input");
}

LogicalResult AllReduceStartOp::verify() {
  if (failed(getCollectiveGroupSize(*this, getAxes())) ||
      failed(verifyHandleUse(*this)) ||
      failed(verifyLocal(*this, getInput().getType(), "input")))
    return failure();
  if (getHandle().getType().getValue() != getInput().getType())
    return emitOpError() << "handle must carry the input type "
                         << getInput().getType() << ", got "
                         << getHandle().getType().getValue();
  return success();
}

LogicalResult WaitOp::verify() {
  Operation *def = getHandle().getDefiningOp();
  if (!def ||
      !isa<AllGatherStartOp, ReduceScatterStartOp, AllReduceStartOp>(def))
    return emitOpError()
           << "handle must come directly from an axonn '*_start' collective";
  return success();
}

bool mlir::axonn::isForwardFunction(func::FuncOp func) {
  return !func.isExternal() && !func.getOps<EmbeddingOp>().empty() &&
         func.getOps<AdamWOp>().empty();
}

FailureOr<func::FuncOp> mlir::axonn::findForwardFunction(ModuleOp module,
                                                         StringRef pass) {
  func::FuncOp forward;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (!isForwardFunction(func))
      continue;
    if (forward)
      return func.emitOpError()
             << "is a second model-level forward function (after @"
             << forward.getSymName() << "); " << pass
             << " works on one model per module";
    forward = func;
  }
  if (!forward)
    return emitError(module.getLoc())
           << "no model-level forward function (one holding axonn.embedding "
              "and no optimizer) for "
           << pass;
  return forward;
}

#define GET_OP_CLASSES
#include "axonn/Dialect/Axonn/IR/AxonnOps.cpp.inc"
