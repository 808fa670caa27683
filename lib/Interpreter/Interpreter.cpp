//===- Interpreter.cpp - fp64 reference evaluation of axonn IR -----------===//
//
// Each op is written from its definition, plainly, in double precision;
// nothing here is tuned. The backward ops are written from their
// mathematical derivation, independently of the forward code, so that a
// finite-difference check of one against the other is meaningful.
//
//===----------------------------------------------------------------------===//

#include "axonn/Interpreter/Interpreter.h"

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::axonn;

HostTensor::HostTensor(ArrayRef<int64_t> shape, double fill)
    : shape(shape.begin(), shape.end()) {
  int64_t size = 1;
  for (int64_t d : shape)
    size *= d;
  data.assign(size, fill);
}

static HostTensor zerosLike(Value value) {
  return HostTensor(cast<RankedTensorType>(value.getType()).getShape());
}

double mlir::axonn::learningRate(Attribute attr, int64_t step) {
  auto training = cast<TrainingAttr>(attr);
  double lr = training.getLr().convertToDouble();
  double minLr = training.getMinLr().convertToDouble();
  int64_t warmup = training.getWarmupSteps(), steps = training.getSteps();
  if (step < warmup)
    return lr * double(step + 1) / double(warmup);
  double progress =
      steps > warmup
          ? std::min(1.0, double(step - warmup) / double(steps - warmup))
          : 1.0;
  switch (training.getSchedule()) {
  case LRSchedule::constant:
    return lr;
  case LRSchedule::linear:
    return minLr + (lr - minLr) * (1 - progress);
  case LRSchedule::cosine:
    return minLr + 0.5 * (lr - minLr) * (1 + std::cos(M_PI * progress));
  }
  return lr;
}

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;

double gelu(double x, GeluApproximation approximation) {
  if (approximation == GeluApproximation::tanh)
    return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

double geluDerivative(double x, GeluApproximation approximation) {
  if (approximation == GeluApproximation::tanh) {
    double u = kSqrt2OverPi * (x + 0.044715 * x * x * x);
    double t = std::tanh(u);
    double du = kSqrt2OverPi * (1 + 3 * 0.044715 * x * x);
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
  }
  double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * pdf;
}

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

/// Positions of the pieces of a grouped qkv vector (see axonn.attention).
struct QKVLayout {
  int64_t heads, kvHeads, dim, perGroup;
  QKVLayout(int64_t heads, int64_t kvHeads, int64_t features)
      : heads(heads), kvHeads(kvHeads), dim(features / (heads + 2 * kvHeads)),
        perGroup(heads / kvHeads) {}
  int64_t group(int64_t head) const { return head / perGroup; }
  int64_t q(int64_t head) const {
    return group(head) * (perGroup + 2) * dim + (head % perGroup) * dim;
  }
  int64_t k(int64_t g) const { return (g * (perGroup + 2) + perGroup) * dim; }
  int64_t v(int64_t g) const {
    return (g * (perGroup + 2) + perGroup + 1) * dim;
  }
};

/// Rotary embedding (the rotate-half form of Hugging Face Llama): pairs
/// (i, i + d/2) rotate by position * base^(-2i/d). `inverse` applies the
/// transpose, for gradients.
void rotate(double *x, int64_t dim, int64_t position, double base,
            bool inverse) {
  int64_t half = dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    double angle = position * std::pow(base, -2.0 * i / dim);
    double c = std::cos(angle),
           s = inverse ? -std::sin(angle) : std::sin(angle);
    double a = x[i], b = x[i + half];
    x[i] = a * c - b * s;
    x[i + half] = b * c + a * s;
  }
}

/// Everything attention's forward computes, per batch and head: rotated
/// q and k, and the softmax probabilities.
struct AttentionState {
  int64_t batch, seq, features, heads, kvHeads;
  QKVLayout layout;
  bool causal;
  std::optional<double> rope;
  std::vector<double> q, k, probs; // q: [B, H, S, d]; k: [B, KV, S, d]
  std::vector<double> lse;         // [B, S, H]: log of each row's sum

  AttentionState(const HostTensor &qkv, int64_t heads, int64_t kvHeads,
                 bool causal, std::optional<double> rope)
      : batch(qkv.shape[0]), seq(qkv.shape[1]), features(qkv.shape[2]),
        heads(heads), kvHeads(kvHeads), layout(heads, kvHeads, features),
        causal(causal), rope(rope) {
    int64_t d = layout.dim;
    q.assign(batch * heads * seq * d, 0);
    k.assign(batch * kvHeads * seq * d, 0);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s) {
        const double *row = &qkv.data[(b * seq + s) * features];
        for (int64_t h = 0; h < heads; ++h) {
          double *dst = &q[((b * heads + h) * seq + s) * d];
          std::copy(row + layout.q(h), row + layout.q(h) + d, dst);
          if (rope)
            rotate(dst, d, s, *rope, false);
        }
        for (int64_t g = 0; g < kvHeads; ++g) {
          double *dst = &k[((b * kvHeads + g) * seq + s) * d];
          std::copy(row + layout.k(g), row + layout.k(g) + d, dst);
          if (rope)
            rotate(dst, d, s, *rope, false);
        }
      }
    probs.assign(batch * heads * seq * seq, 0);
    lse.assign(batch * seq * heads, 0);
    double scale = 1 / std::sqrt(double(d));
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t s = 0; s < seq; ++s) {
          double *p = &probs[((b * heads + h) * seq + s) * seq];
          double maximum = -INFINITY;
          int64_t last = causal ? s : seq - 1;
          for (int64_t t = 0; t <= last; ++t) {
            double dot = 0;
            for (int64_t i = 0; i < d; ++i)
              dot += qAt(b, h, s)[i] * kAt(b, layout.group(h), t)[i];
            p[t] = dot * scale;
            maximum = std::max(maximum, p[t]);
          }
          double sum = 0;
          for (int64_t t = 0; t <= last; ++t)
            sum += (p[t] = std::exp(p[t] - maximum));
          for (int64_t t = 0; t <= last; ++t)
            p[t] /= sum;
          lse[(b * seq + s) * heads + h] = maximum + std::log(sum);
        }
  }

  const double *qAt(int64_t b, int64_t h, int64_t s) const {
    return &q[((b * heads + h) * seq + s) * layout.dim];
  }
  const double *kAt(int64_t b, int64_t g, int64_t t) const {
    return &k[((b * kvHeads + g) * seq + t) * layout.dim];
  }
  const double *prob(int64_t b, int64_t h, int64_t s) const {
    return &probs[((b * heads + h) * seq + s) * seq];
  }
  int64_t last(int64_t s) const { return causal ? s : seq - 1; }
};

/// Where one rank sits on the grid, for ops whose per-rank meaning depends
/// on it (a vocabulary slice, a term added once).
struct RankContext {
  GridAttr grid;
  int64_t rank = 0;

  int64_t coordinate(Axis axis) const { return grid.getCoordinate(rank, axis); }
  /// Index of this rank in the group of `axes`, the first axis major.
  int64_t groupIndex(ArrayRef<Axis> axes) const {
    return grid.getGroupIndex(rank, axes);
  }
};

class Evaluator {
public:
  Evaluator(ValueTrace &values, const RankContext *rank = nullptr)
      : values(values), rank(rank) {}

  LogicalResult run(Operation *op);

private:
  const HostTensor &get(Value value) { return values.find(value)->second; }
  void set(Value value, HostTensor tensor) {
    values[value] = std::move(tensor);
  }
  /// A norm's input gradient `dx` plus its op's `accumulate`, if any.
  HostTensor accumulated(Value accumulate, HostTensor dx) {
    if (accumulate) {
      const HostTensor &other = get(accumulate);
      for (size_t i = 0; i < dx.data.size(); ++i)
        dx.data[i] += other.data[i];
    }
    return dx;
  }
  LogicalResult checkTokens(Operation *op, const HostTensor &tokens,
                            int64_t vocab);

  LogicalResult embedding(EmbeddingOp op);
  void layerNorm(LayerNormOp op);
  void rmsNorm(RMSNormOp op);
  LogicalResult linear(LinearOp op);
  void attention(AttentionOp op);
  LogicalResult lmHeadLoss(LMHeadLossOp op);
  LogicalResult embeddingGrad(EmbeddingGradOp op);
  void positionGrad(PositionGradOp op);
  void layerNormGrad(LayerNormGradOp op);
  void rmsNormGrad(RMSNormGradOp op);
  void linearGradInput(LinearGradInputOp op);
  void linearGradWeight(LinearGradWeightOp op);
  void linearGradBias(LinearGradBiasOp op);
  void attentionGrad(AttentionGradOp op);
  LogicalResult lmHeadLossGrad(LMHeadLossGradOp op);
  void adamw(AdamWOp op);
  void normStats(NormStatsOp op);
  void normGradStats(NormGradStatsOp op);
  /// First global row of the local vocabulary slice, or failure (with a
  /// diagnostic) when the op is per-rank but no rank is given.
  FailureOr<int64_t> vocabOffset(Operation *op, std::optional<AxesAttr> axes,
                                 int64_t localRows);
  /// Whether this rank adds a term that must count once over `axes`.
  FailureOr<bool> addsOnce(Operation *op, std::optional<AxesAttr> axes);
  LogicalResult logitsMax(LogitsMaxOp op);
  void softmaxSums(SoftmaxSumsOp op);
  void crossEntropy(CrossEntropyOp op);
  LogicalResult crossEntropyGrad(CrossEntropyGradOp op);

  ValueTrace &values;
  const RankContext *rank;
};

FailureOr<int64_t> Evaluator::vocabOffset(Operation *op,
                                          std::optional<AxesAttr> axes,
                                          int64_t localRows) {
  if (!axes || axes->empty())
    return 0;
  if (!rank)
    return op->emitOpError()
           << "is a per-rank op (vocab_axes); evaluate it with a rank";
  return rank->groupIndex(axes->getAxes()) * localRows;
}

FailureOr<bool> Evaluator::addsOnce(Operation *op,
                                    std::optional<AxesAttr> axes) {
  if (!axes || axes->empty())
    return true;
  if (!rank)
    return op->emitOpError()
           << "is a per-rank op (once_over); evaluate it with a rank";
  return rank->groupIndex(axes->getAxes()) == 0;
}

LogicalResult Evaluator::checkTokens(Operation *op, const HostTensor &tokens,
                                     int64_t vocab) {
  for (double token : tokens.data)
    if (token < 0 || token >= vocab || token != std::floor(token))
      return op->emitOpError() << "token id " << token
                               << " is outside the vocabulary of " << vocab;
  return success();
}

LogicalResult Evaluator::embedding(EmbeddingOp op) {
  const HostTensor &tokens = get(op.getTokens()), &table = get(op.getTable());
  int64_t rows = table.shape[0], width = table.shape[1];
  FailureOr<int64_t> offset = vocabOffset(op, op.getVocabAxes(), rows);
  FailureOr<bool> positions = addsOnce(op, op.getOnceOver());
  if (failed(offset) || failed(positions))
    return failure();
  if (!op.getVocabAxes() && failed(checkTokens(op, tokens, rows)))
    return failure();
  HostTensor out = zerosLike(op.getResult());
  int64_t seq = tokens.shape[1], start = 0;
  if (op.getStart()) {
    start = static_cast<int64_t>(get(op.getStart()).data[0]);
    int64_t available = op.getPositions()
                            ? op.getPositions().getType().getDimSize(0)
                            : INT64_MAX;
    if (start < 0 || start > available - seq)
      return op.emitOpError() << "start " << start << " puts " << seq
                              << " tokens outside the " << available
                              << " learned positions";
  }
  for (int64_t i = 0; i < tokens.size(); ++i) {
    // A token outside this rank's slice looks up zeros.
    int64_t row = static_cast<int64_t>(tokens.data[i]) - *offset;
    if (row >= 0 && row < rows)
      for (int64_t j = 0; j < width; ++j)
        out.data[i * width + j] = table.data[row * width + j];
    if (op.getPositions() && *positions) {
      const HostTensor &table = get(op.getPositions());
      for (int64_t j = 0; j < width; ++j)
        out.data[i * width + j] += table.data[(start + i % seq) * width + j];
    }
  }
  set(op.getResult(), std::move(out));
  return success();
}

/// Per-row mean and 1/sqrt(var + eps) of a layer norm: from the local row,
/// or, per rank, from the sums over all `width` features in `stats`.
static std::pair<double, double> layerNormMoments(const double *row,
                                                  int64_t local,
                                                  const double *stats,
                                                  int64_t width, double eps) {
  double mean = 0, var = 0;
  if (stats) {
    mean = stats[0] / width;
    var = stats[1] / width - mean * mean;
  } else {
    for (int64_t j = 0; j < local; ++j)
      mean += row[j];
    mean /= local;
    for (int64_t j = 0; j < local; ++j)
      var += (row[j] - mean) * (row[j] - mean);
    var /= local;
  }
  return {mean, 1 / std::sqrt(var + eps)};
}

/// 1/sqrt(mean(x^2) + eps) of an RMS norm, likewise.
static double rmsInverse(const double *row, int64_t local, const double *stats,
                         int64_t width, double eps) {
  double square = 0;
  if (stats) {
    square = stats[0];
  } else {
    width = local;
    for (int64_t j = 0; j < local; ++j)
      square += row[j] * row[j];
  }
  return 1 / std::sqrt(square / width + eps);
}

/// One row of a layer norm with scale g and bias b (its statistics from
/// `sums` when not null, as layerNormMoments takes them).
static void layerNormRow(const double *row, int64_t local, const double *sums,
                         int64_t width, double eps, const HostTensor &g,
                         const HostTensor &b, double *out) {
  auto [mean, inv] = layerNormMoments(row, local, sums, width, eps);
  for (int64_t j = 0; j < local; ++j)
    out[j] = (row[j] - mean) * inv * g.data[j] + b.data[j];
}

/// One row of an RMS norm with scale g (as rmsInverse takes `sums`).
static void rmsNormRow(const double *row, int64_t local, const double *sums,
                       int64_t width, double eps, const HostTensor &g,
                       double *out) {
  double inv = rmsInverse(row, local, sums, width, eps);
  for (int64_t j = 0; j < local; ++j)
    out[j] = row[j] * inv * g.data[j];
}

void Evaluator::layerNorm(LayerNormOp op) {
  const HostTensor &x = get(op.getInput()), &g = get(op.getScale()),
                   &b = get(op.getBias());
  const HostTensor *stats = op.getStats() ? &get(op.getStats()) : nullptr;
  double eps = op.getEpsilon().convertToDouble();
  int64_t local = x.width(), rows = x.size() / local;
  int64_t width = op.getWidth().value_or(local);
  HostTensor y = zerosLike(op.getResult());
  for (int64_t r = 0; r < rows; ++r)
    layerNormRow(&x.data[r * local], local,
                 stats ? &stats->data[r * 2] : nullptr, width, eps, g, b,
                 &y.data[r * local]);
  set(op.getResult(), std::move(y));
}

void Evaluator::rmsNorm(RMSNormOp op) {
  const HostTensor &x = get(op.getInput()), &g = get(op.getScale());
  const HostTensor *stats = op.getStats() ? &get(op.getStats()) : nullptr;
  double eps = op.getEpsilon().convertToDouble();
  int64_t local = x.width(), rows = x.size() / local;
  int64_t width = op.getWidth().value_or(local);
  HostTensor y = zerosLike(op.getResult());
  for (int64_t r = 0; r < rows; ++r)
    rmsNormRow(&x.data[r * local], local, stats ? &stats->data[r] : nullptr,
               width, eps, g, &y.data[r * local]);
  set(op.getResult(), std::move(y));
}

void Evaluator::normStats(NormStatsOp op) {
  const HostTensor &x = get(op.getInput());
  int64_t local = x.width(), rows = x.size() / local;
  int64_t count = op.getRms() ? 1 : 2;
  HostTensor stats = zerosLike(op.getStats());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < local; ++j) {
      double v = x.data[r * local + j];
      if (op.getRms()) {
        stats.data[r] += v * v;
      } else {
        stats.data[r * count] += v;
        stats.data[r * count + 1] += v * v;
      }
    }
  set(op.getStats(), std::move(stats));
}

void Evaluator::normGradStats(NormGradStatsOp op) {
  const HostTensor &dy = get(op.getGrad()), &x = get(op.getInput()),
                   &g = get(op.getScale());
  int64_t local = x.width(), rows = x.size() / local;
  int64_t count = op.getRms() ? 2 : 4;
  HostTensor stats = zerosLike(op.getStats());
  for (int64_t r = 0; r < rows; ++r) {
    double *out = &stats.data[r * count];
    for (int64_t j = 0; j < local; ++j) {
      double v = x.data[r * local + j];
      double gdy = dy.data[r * local + j] * g.data[j];
      if (op.getRms()) {
        out[0] += v * v;
        out[1] += gdy * v;
      } else {
        out[0] += v;
        out[1] += v * v;
        out[2] += gdy;
        out[3] += gdy * v;
      }
    }
  }
  set(op.getStats(), std::move(stats));
}

/// x [rows, k] w [n, k]^T (+ bias [n]), shaped like `result`.
static HostTensor linearProduct(const HostTensor &x, const HostTensor &w,
                                const HostTensor *bias, Value result) {
  int64_t n = w.shape[0], k = w.shape[1], rows = x.size() / k;
  HostTensor y = zerosLike(result);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double sum = bias ? bias->data[o] : 0;
      for (int64_t i = 0; i < k; ++i)
        sum += x.data[r * k + i] * w.data[o * k + i];
      y.data[r * n + o] = sum;
    }
  return y;
}

/// dy [rows, n] w [n, k], shaped like `result`.
static HostTensor inputGradient(const HostTensor &dy, const HostTensor &w,
                                Value result) {
  int64_t n = w.shape[0], k = w.shape[1], rows = dy.size() / n;
  HostTensor dx = zerosLike(result);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o)
      for (int64_t i = 0; i < k; ++i)
        dx.data[r * k + i] += dy.data[r * n + o] * w.data[o * k + i];
  return dx;
}

LogicalResult Evaluator::linear(LinearOp op) {
  FailureOr<bool> bias = addsOnce(op, op.getOnceOver());
  if (failed(bias))
    return failure();
  set(op.getResult(),
      linearProduct(get(op.getInput()), get(op.getWeight()),
                    op.getBias() && *bias ? &get(op.getBias()) : nullptr,
                    op.getResult()));
  return success();
}

static std::optional<double> ropeBase(std::optional<APFloat> rope) {
  if (!rope)
    return std::nullopt;
  return rope->convertToDouble();
}

void Evaluator::attention(AttentionOp op) {
  const HostTensor &qkv = get(op.getQkv());
  AttentionState state(qkv, op.getHeads(), op.getKvHeads(), op.getCausal(),
                       ropeBase(op.getRope()));
  int64_t d = state.layout.dim, heads = state.heads, seq = state.seq;
  HostTensor out = zerosLike(op.getResult());
  for (int64_t b = 0; b < state.batch; ++b)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t s = 0; s < seq; ++s) {
        const double *p = state.prob(b, h, s);
        double *dst = &out.data[((b * seq + s) * heads + h) * d];
        for (int64_t t = 0; t <= state.last(s); ++t) {
          const double *v = &qkv.data[(b * seq + t) * state.features +
                                      state.layout.v(state.layout.group(h))];
          for (int64_t i = 0; i < d; ++i)
            dst[i] += p[t] * v[i];
        }
      }
  set(op.getResult(), std::move(out));
  if (Value lse = op.getLse()) {
    HostTensor stats = zerosLike(lse);
    stats.data = state.lse;
    set(lse, std::move(stats));
  }
}

/// Logits of the LM head for row r: hidden[r] . W[v] for the first `vocab`
/// rows of W (the rest is padding).
static void logitsOf(const HostTensor &hidden, const HostTensor &weight,
                     int64_t vocab, int64_t row, std::vector<double> &logits) {
  int64_t width = weight.shape[1];
  logits.assign(vocab, 0);
  for (int64_t v = 0; v < vocab; ++v)
    for (int64_t j = 0; j < width; ++j)
      logits[v] += hidden.data[row * width + j] * weight.data[v * width + j];
}

/// Which targets a Goldfish loss keeps (1) or drops (0), from the
/// definition of #axonn.goldfish; without it, all. The reference for the
/// runtime's axonn_rt_goldfish_mask.
static std::vector<double> goldfishKeep(GoldfishAttr goldfish,
                                        const HostTensor &targets) {
  std::vector<double> keep(static_cast<size_t>(targets.size()), 1.0);
  if (!goldfish)
    return keep;
  int64_t seq = targets.width(), k = goldfish.getK(), h = goldfish.getH();
  for (int64_t i = 0; i < targets.size(); ++i) {
    int64_t t = i % seq;
    bool dropped;
    if (goldfish.getStrategy() == GoldfishStrategy::every_kth) {
      dropped = (t + 1) % k == 0;
    } else if (t < h - 1) {
      dropped = false;
    } else {
      uint64_t product = 1; // int64 arithmetic that wraps
      for (int64_t j = i - h + 1; j <= i; ++j)
        product *= static_cast<uint64_t>(static_cast<int64_t>(targets.data[j]));
      int64_t key = static_cast<int64_t>(product) % 1000003;
      if (key < 0)
        key += 1000003;
      uint64_t x = 0x601DF15Bull ^ static_cast<uint64_t>(key);
      x += 0x9e3779b97f4a7c15ull;
      x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
      x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
      x ^= x >> 31;
      dropped = static_cast<double>(x >> 11) / 9007199254740992.0 <
                1.0 / static_cast<double>(k);
    }
    keep[static_cast<size_t>(i)] = dropped ? 0.0 : 1.0;
  }
  return keep;
}

LogicalResult Evaluator::lmHeadLoss(LMHeadLossOp op) {
  const HostTensor &h = get(op.getHidden()), &w = get(op.getWeight()),
                   &targets = get(op.getTargets());
  int64_t vocab = op.getVocabSize().value_or(w.shape[0]);
  if (failed(checkTokens(op, targets, vocab)))
    return failure();
  std::vector<double> keep = goldfishKeep(op.getGoldfishAttr(), targets);
  double total = 0, kept = 0;
  std::vector<double> logits;
  for (int64_t r = 0; r < targets.size(); ++r) {
    if (keep[r] == 0)
      continue;
    logitsOf(h, w, vocab, r, logits);
    double maximum = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double l : logits)
      sum += std::exp(l - maximum);
    total +=
        maximum + std::log(sum) - logits[static_cast<int64_t>(targets.data[r])];
    kept += 1;
  }
  HostTensor loss(ArrayRef<int64_t>{});
  loss.data[0] = kept > 0 ? total / kept : 0.0;
  set(op.getLoss(), std::move(loss));
  return success();
}

LogicalResult Evaluator::embeddingGrad(EmbeddingGradOp op) {
  const HostTensor &dy = get(op.getGrad()), &tokens = get(op.getTokens());
  HostTensor table =
      op.getAccumulate() ? get(op.getAccumulate()) : zerosLike(op.getResult());
  int64_t rows = table.shape[0], width = table.shape[1];
  FailureOr<int64_t> offset = vocabOffset(op, op.getVocabAxes(), rows);
  if (failed(offset))
    return failure();
  if (!op.getVocabAxes() && failed(checkTokens(op, tokens, rows)))
    return failure();
  for (int64_t i = 0; i < tokens.size(); ++i) {
    int64_t row = static_cast<int64_t>(tokens.data[i]) - *offset;
    if (row < 0 || row >= rows)
      continue; // another rank's slice
    for (int64_t j = 0; j < width; ++j)
      table.data[row * width + j] += dy.data[i * width + j];
  }
  set(op.getResult(), std::move(table));
  return success();
}

void Evaluator::positionGrad(PositionGradOp op) {
  const HostTensor &dy = get(op.getGrad());
  HostTensor table = zerosLike(op.getResult());
  int64_t seq = dy.shape[1], width = dy.shape[2];
  for (int64_t i = 0; i < dy.size() / width; ++i)
    for (int64_t j = 0; j < width; ++j)
      table.data[(i % seq) * width + j] += dy.data[i * width + j];
  set(op.getResult(), std::move(table));
}

void Evaluator::layerNormGrad(LayerNormGradOp op) {
  const HostTensor &dy = get(op.getGrad()), &x = get(op.getInput()),
                   &g = get(op.getScale());
  const HostTensor *stats = op.getStats() ? &get(op.getStats()) : nullptr;
  double eps = op.getEpsilon().convertToDouble();
  int64_t local = x.width(), rows = x.size() / local;
  int64_t width = op.getWidth().value_or(local);
  HostTensor dx = zerosLike(op.getInputGrad()),
             dg = zerosLike(op.getScaleGrad()),
             db = zerosLike(op.getBiasGrad());
  std::vector<double> xhat(local), dxhat(local);
  for (int64_t r = 0; r < rows; ++r) {
    const double *row = &x.data[r * local], *drow = &dy.data[r * local];
    const double *sums = stats ? &stats->data[r * 4] : nullptr;
    auto [mean, inv] = layerNormMoments(row, local, sums, width, eps);
    // y = xhat * g + b with xhat = (x - mean) * inv:
    // dx = inv * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
    double meanDxhat = 0, meanDxhatXhat = 0;
    for (int64_t j = 0; j < local; ++j) {
      xhat[j] = (row[j] - mean) * inv;
      dxhat[j] = drow[j] * g.data[j];
      meanDxhat += dxhat[j];
      meanDxhatXhat += dxhat[j] * xhat[j];
      dg.data[j] += drow[j] * xhat[j];
      db.data[j] += drow[j];
    }
    if (sums) {
      // Over all features: sum(dxhat) and sum(dxhat * x).
      meanDxhat = sums[2];
      meanDxhatXhat = (sums[3] - mean * sums[2]) * inv;
    }
    meanDxhat /= width;
    meanDxhatXhat /= width;
    for (int64_t j = 0; j < local; ++j)
      dx.data[r * local + j] =
          inv * (dxhat[j] - meanDxhat - xhat[j] * meanDxhatXhat);
  }
  set(op.getInputGrad(), accumulated(op.getAccumulate(), std::move(dx)));
  set(op.getScaleGrad(), std::move(dg));
  set(op.getBiasGrad(), std::move(db));
}

void Evaluator::rmsNormGrad(RMSNormGradOp op) {
  const HostTensor &dy = get(op.getGrad()), &x = get(op.getInput()),
                   &g = get(op.getScale());
  const HostTensor *stats = op.getStats() ? &get(op.getStats()) : nullptr;
  double eps = op.getEpsilon().convertToDouble();
  int64_t local = x.width(), rows = x.size() / local;
  int64_t width = op.getWidth().value_or(local);
  HostTensor dx = zerosLike(op.getInputGrad()),
             dg = zerosLike(op.getScaleGrad());
  for (int64_t r = 0; r < rows; ++r) {
    const double *row = &x.data[r * local], *drow = &dy.data[r * local];
    const double *sums = stats ? &stats->data[r * 2] : nullptr;
    double inv = rmsInverse(row, local, sums, width, eps);
    // y_j = x_j g_j inv with inv = (mean(x^2) + eps)^(-1/2):
    // dx_j = g_j dy_j inv - x_j inv^3 / width * sum_i g_i dy_i x_i.
    double dot = 0;
    for (int64_t j = 0; j < local; ++j) {
      dot += g.data[j] * drow[j] * row[j];
      dg.data[j] += drow[j] * row[j] * inv;
    }
    if (sums)
      dot = sums[1];
    for (int64_t j = 0; j < local; ++j)
      dx.data[r * local + j] =
          g.data[j] * drow[j] * inv - row[j] * inv * inv * inv * dot / width;
  }
  set(op.getInputGrad(), accumulated(op.getAccumulate(), std::move(dx)));
  set(op.getScaleGrad(), std::move(dg));
}

void Evaluator::linearGradInput(LinearGradInputOp op) {
  set(op.getResult(),
      inputGradient(get(op.getGrad()), get(op.getWeight()), op.getResult()));
}

/// The bias gradient of a linear layer: `dy` summed over all leading
/// positions, shaped as `result`.
static HostTensor biasGradient(const HostTensor &dy, Value result) {
  int64_t n = dy.width();
  HostTensor db = zerosLike(result);
  for (int64_t i = 0; i < dy.size(); ++i)
    db.data[i % n] += dy.data[i];
  return db;
}

void Evaluator::linearGradWeight(LinearGradWeightOp op) {
  const HostTensor &dy = get(op.getGrad()), &x = get(op.getInput());
  int64_t n = dy.width(), k = x.width(), rows = dy.size() / n;
  HostTensor dw = zerosLike(op.getResult());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o)
      for (int64_t i = 0; i < k; ++i)
        dw.data[o * k + i] += dy.data[r * n + o] * x.data[r * k + i];
  set(op.getResult(), std::move(dw));
  if (op.getBiasGrad())
    set(op.getBiasGrad(), biasGradient(dy, op.getBiasGrad()));
}

void Evaluator::linearGradBias(LinearGradBiasOp op) {
  set(op.getResult(), biasGradient(get(op.getGrad()), op.getResult()));
}

void Evaluator::attentionGrad(AttentionGradOp op) {
  const HostTensor &dout = get(op.getGrad()), &qkv = get(op.getQkv());
  AttentionState state(qkv, op.getHeads(), op.getKvHeads(), op.getCausal(),
                       ropeBase(op.getRope()));
  const QKVLayout &layout = state.layout;
  int64_t d = layout.dim, heads = state.heads, seq = state.seq,
          features = state.features;
  double scale = 1 / std::sqrt(double(d));
  // Gradients of the rotated q and k, then of v, in qkv's layout.
  std::vector<double> dq(state.q.size(), 0), dk(state.k.size(), 0);
  HostTensor dqkv = zerosLike(op.getResult());
  std::vector<double> dp(seq), ds(seq);
  for (int64_t b = 0; b < state.batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      int64_t g = layout.group(h);
      for (int64_t s = 0; s < seq; ++s) {
        const double *p = state.prob(b, h, s);
        const double *dO = &dout.data[((b * seq + s) * heads + h) * d];
        // out_s = sum_t p_st v_t: dv_t += p_st dO_s, dp_st = dO_s . v_t.
        double dot = 0;
        for (int64_t t = 0; t <= state.last(s); ++t) {
          const double *v = &qkv.data[(b * seq + t) * features + layout.v(g)];
          double *dv = &dqkv.data[(b * seq + t) * features + layout.v(g)];
          dp[t] = 0;
          for (int64_t i = 0; i < d; ++i) {
            dv[i] += p[t] * dO[i];
            dp[t] += dO[i] * v[i];
          }
          dot += p[t] * dp[t];
        }
        // Softmax: ds_st = p_st (dp_st - sum_t' p_st' dp_st').
        for (int64_t t = 0; t <= state.last(s); ++t) {
          ds[t] = p[t] * (dp[t] - dot) * scale;
          const double *qs = state.qAt(b, h, s), *kt = state.kAt(b, g, t);
          double *dqs = &dq[((b * heads + h) * seq + s) * d];
          double *dkt = &dk[((b * state.kvHeads + g) * seq + t) * d];
          for (int64_t i = 0; i < d; ++i) {
            dqs[i] += ds[t] * kt[i];
            dkt[i] += ds[t] * qs[i];
          }
        }
      }
    }
  // Undo the rotation (its transpose) and place q and k in qkv's layout.
  for (int64_t b = 0; b < state.batch; ++b)
    for (int64_t s = 0; s < seq; ++s) {
      double *row = &dqkv.data[(b * seq + s) * features];
      for (int64_t h = 0; h < heads; ++h) {
        double *src = &dq[((b * heads + h) * seq + s) * d];
        if (state.rope)
          rotate(src, d, s, *state.rope, true);
        for (int64_t i = 0; i < d; ++i)
          row[layout.q(h) + i] += src[i];
      }
      for (int64_t g = 0; g < state.kvHeads; ++g) {
        double *src = &dk[((b * state.kvHeads + g) * seq + s) * d];
        if (state.rope)
          rotate(src, d, s, *state.rope, true);
        for (int64_t i = 0; i < d; ++i)
          row[layout.k(g) + i] += src[i];
      }
    }
  set(op.getResult(), std::move(dqkv));
}

LogicalResult Evaluator::lmHeadLossGrad(LMHeadLossGradOp op) {
  const HostTensor &h = get(op.getHidden()), &w = get(op.getWeight()),
                   &targets = get(op.getTargets());
  int64_t vocab = op.getVocabSize().value_or(w.shape[0]);
  if (failed(checkTokens(op, targets, vocab)))
    return failure();
  int64_t width = w.shape[1], rows = targets.size();
  HostTensor dh = zerosLike(op.getHiddenGrad()),
             dw = zerosLike(op.getWeightGrad());
  std::vector<double> keep = goldfishKeep(op.getGoldfishAttr(), targets);
  double kept = 0;
  for (double k : keep)
    kept += k;
  std::vector<double> logits;
  for (int64_t r = 0; r < rows; ++r) {
    if (keep[r] == 0)
      continue;
    logitsOf(h, w, vocab, r, logits);
    double maximum = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (double l : logits)
      sum += std::exp(l - maximum);
    // d(mean loss)/d logit_v = (softmax_v - [v == target]) / kept.
    for (int64_t v = 0; v < vocab; ++v) {
      double dlogit = std::exp(logits[v] - maximum) / sum;
      if (v == static_cast<int64_t>(targets.data[r]))
        dlogit -= 1;
      dlogit /= kept;
      for (int64_t j = 0; j < width; ++j) {
        dh.data[r * width + j] += dlogit * w.data[v * width + j];
        dw.data[v * width + j] += dlogit * h.data[r * width + j];
      }
    }
  }
  set(op.getHiddenGrad(), std::move(dh));
  set(op.getWeightGrad(), std::move(dw));
  return success();
}

/// The real rows of a local vocabulary slice: global row offset + v is
/// real below `vocab_size`.
static int64_t realRows(int64_t localRows, int64_t offset,
                        std::optional<uint64_t> vocabSize) {
  if (!vocabSize)
    return localRows;
  return std::clamp<int64_t>(static_cast<int64_t>(*vocabSize) - offset, 0,
                             localRows);
}

LogicalResult Evaluator::logitsMax(LogitsMaxOp op) {
  const HostTensor &logits = get(op.getLogits()),
                   &targets = get(op.getTargets());
  int64_t local = logits.width(), tokens = logits.size() / local;
  FailureOr<int64_t> offset = vocabOffset(op, op.getVocabAxes(), local);
  if (failed(offset))
    return failure();
  int64_t real = realRows(local, *offset, op.getVocabSize());
  HostTensor max = zerosLike(op.getMax()), partial = zerosLike(op.getPartial());
  for (int64_t t = 0; t < tokens; ++t) {
    double m = -INFINITY;
    for (int64_t v = 0; v < real; ++v)
      m = std::max(m, logits.data[t * local + v]);
    max.data[t] = m;
    for (int64_t v = 0; v < real; ++v)
      partial.data[t * 2] += std::exp(logits.data[t * local + v] - m);
    int64_t row = static_cast<int64_t>(targets.data[t]) - *offset;
    if (row >= 0 && row < real)
      partial.data[t * 2 + 1] = logits.data[t * local + row];
  }
  set(op.getMax(), std::move(max));
  set(op.getPartial(), std::move(partial));
  return success();
}

void Evaluator::softmaxSums(SoftmaxSumsOp op) {
  const HostTensor &partial = get(op.getPartial()),
                   &local = get(op.getLocalMax()), &max = get(op.getMax());
  HostTensor sums = zerosLike(op.getSums());
  for (int64_t t = 0; t < max.size(); ++t) {
    // A slice of padding only has no sum (and a maximum of -inf); a NaN
    // stays NaN.
    double p = partial.data[t * 2];
    sums.data[t * 2] = p == 0 ? 0 : p * std::exp(local.data[t] - max.data[t]);
    sums.data[t * 2 + 1] = partial.data[t * 2 + 1];
  }
  set(op.getSums(), std::move(sums));
}

void Evaluator::crossEntropy(CrossEntropyOp op) {
  const HostTensor &max = get(op.getMax()), &sums = get(op.getSums());
  const HostTensor *keep = op.getKeep() ? &get(op.getKeep()) : nullptr;
  double total = 0;
  for (int64_t t = 0; t < max.size(); ++t)
    if (!keep || keep->data[t] != 0)
      total += max.data[t] + std::log(sums.data[t * 2]) - sums.data[t * 2 + 1];
  double count = op.getCount() ? get(op.getCount()).data[0]
                               : double(op.getTokens());
  HostTensor loss(ArrayRef<int64_t>{});
  loss.data[0] = count > 0 ? total / count : 0.0;
  set(op.getLoss(), std::move(loss));
}

LogicalResult Evaluator::crossEntropyGrad(CrossEntropyGradOp op) {
  const HostTensor &logits = get(op.getLogits()), &max = get(op.getMax()),
                   &sums = get(op.getSums()), &targets = get(op.getTargets());
  int64_t local = logits.width(), tokens = logits.size() / local;
  FailureOr<int64_t> offset = vocabOffset(op, op.getVocabAxes(), local);
  if (failed(offset))
    return failure();
  int64_t real = realRows(local, *offset, op.getVocabSize());
  double count = op.getCount() ? get(op.getCount()).data[0]
                               : double(op.getTokens());
  const HostTensor *keep = op.getKeep() ? &get(op.getKeep()) : nullptr;
  HostTensor grad = zerosLike(op.getResult());
  for (int64_t t = 0; t < tokens; ++t) {
    if ((keep && keep->data[t] == 0) || count <= 0)
      continue;
    int64_t target = static_cast<int64_t>(targets.data[t]) - *offset;
    for (int64_t v = 0; v < real; ++v) {
      double p =
          std::exp(logits.data[t * local + v] - max.data[t]) / sums.data[t * 2];
      grad.data[t * local + v] = (p - (v == target ? 1 : 0)) / count;
    }
  }
  set(op.getResult(), std::move(grad));
  return success();
}

void Evaluator::adamw(AdamWOp op) {
  TrainingAttr training = op.getTraining();
  int64_t step = static_cast<int64_t>(get(op.getStep()).data[0]);
  double norm = get(op.getNorm()).data[0];
  double lr = learningRate(training, step);
  double beta1 = training.getBeta1().convertToDouble();
  double beta2 = training.getBeta2().convertToDouble();
  double eps = training.getEps().convertToDouble();
  double decay =
      op.getDecay() ? training.getWeightDecay().convertToDouble() : 0;
  double clip = training.getGradClip().convertToDouble();
  double factor = clip > 0 ? std::min(1.0, clip / (norm + 1e-6)) : 1.0;
  double t = double(step + 1);
  const HostTensor &grad = get(op.getGrad());
  HostTensor param = get(op.getMaster() ? op.getMaster() : op.getParam());
  HostTensor m = get(op.getM()), v = get(op.getV());
  for (int64_t i = 0; i < param.size(); ++i) {
    double g = factor * grad.data[i];
    m.data[i] = beta1 * m.data[i] + (1 - beta1) * g;
    v.data[i] = beta2 * v.data[i] + (1 - beta2) * g * g;
    double mhat = m.data[i] / (1 - std::pow(beta1, t));
    double vhat = v.data[i] / (1 - std::pow(beta2, t));
    param.data[i] -=
        lr * (mhat / (std::sqrt(vhat) + eps) + decay * param.data[i]);
  }
  if (op.getNewMaster())
    set(op.getNewMaster(), param);
  set(op.getNewParam(), std::move(param));
  set(op.getNewM(), std::move(m));
  set(op.getNewV(), std::move(v));
}

LogicalResult Evaluator::run(Operation *op) {
  auto unary = [&](Value in, Value out, auto f) {
    HostTensor result = get(in);
    for (double &x : result.data)
      x = f(x);
    set(out, std::move(result));
  };
  return TypeSwitch<Operation *, LogicalResult>(op)
      .Case([&](EmbeddingOp op) { return embedding(op); })
      .Case([&](LayerNormOp op) { return layerNorm(op), success(); })
      .Case([&](RMSNormOp op) { return rmsNorm(op), success(); })
      .Case([&](LinearOp op) { return linear(op); })
      .Case([&](AttentionOp op) { return attention(op), success(); })
      .Case([&](GeluOp op) {
        GeluApproximation a = op.getApproximation();
        unary(op.getInput(), op.getResult(),
              [a](double x) { return gelu(x, a); });
        return success();
      })
      .Case([&](SwiGLUOp op) {
        const HostTensor &x = get(op.getInput());
        HostTensor y = zerosLike(op.getResult());
        for (int64_t j = 0; j < y.size(); ++j) {
          double gate = x.data[2 * j], up = x.data[2 * j + 1];
          y.data[j] = gate * sigmoid(gate) * up;
        }
        set(op.getResult(), std::move(y));
        return success();
      })
      .Case([&](AddOp op) {
        HostTensor sum = get(op.getLhs());
        const HostTensor &rhs = get(op.getRhs());
        for (int64_t i = 0; i < sum.size(); ++i)
          sum.data[i] += rhs.data[i];
        set(op.getResult(), std::move(sum));
        return success();
      })
      // The fused ops of per-rank IR: what their unfused pairs compute.
      .Case([&](ResidualNormOp op) {
        HostTensor sum = get(op.getInput());
        const HostTensor &residual = get(op.getResidual()),
                         &g = get(op.getScale());
        for (int64_t i = 0; i < sum.size(); ++i)
          sum.data[i] += residual.data[i];
        double eps = op.getEpsilon().convertToDouble();
        int64_t local = sum.width(), rows = sum.size() / local;
        HostTensor y = zerosLike(op.getResult());
        for (int64_t r = 0; r < rows; ++r) {
          const double *row = &sum.data[r * local];
          if (op.getRms())
            rmsNormRow(row, local, nullptr, local, eps, g, &y.data[r * local]);
          else
            layerNormRow(row, local, nullptr, local, eps, g, get(op.getBias()),
                         &y.data[r * local]);
        }
        set(op.getSum(), std::move(sum));
        set(op.getResult(), std::move(y));
        return success();
      })
      .Case([&](LinearGeluOp op) {
        HostTensor pre = linearProduct(
            get(op.getInput()), get(op.getWeight()),
            op.getBias() ? &get(op.getBias()) : nullptr, op.getPre());
        HostTensor y = pre;
        for (double &v : y.data)
          v = gelu(v, op.getApproximation());
        set(op.getPre(), std::move(pre));
        set(op.getResult(), std::move(y));
        return success();
      })
      .Case([&](LinearGradInputGeluOp op) {
        const HostTensor &pre = get(op.getPre());
        HostTensor dx = inputGradient(get(op.getGrad()), get(op.getWeight()),
                                      op.getResult());
        for (int64_t i = 0; i < dx.size(); ++i)
          dx.data[i] *= geluDerivative(pre.data[i], op.getApproximation());
        set(op.getResult(), std::move(dx));
        return success();
      })
      .Case([&](LMHeadLossOp op) { return lmHeadLoss(op); })
      .Case([&](EmbeddingGradOp op) { return embeddingGrad(op); })
      .Case([&](PositionGradOp op) { return positionGrad(op), success(); })
      .Case([&](LayerNormGradOp op) { return layerNormGrad(op), success(); })
      .Case([&](RMSNormGradOp op) { return rmsNormGrad(op), success(); })
      .Case(
          [&](LinearGradInputOp op) { return linearGradInput(op), success(); })
      .Case([&](LinearGradWeightOp op) {
        return linearGradWeight(op), success();
      })
      .Case([&](LinearGradBiasOp op) { return linearGradBias(op), success(); })
      .Case([&](AttentionGradOp op) { return attentionGrad(op), success(); })
      .Case([&](GeluGradOp op) {
        const HostTensor &dy = get(op.getGrad()), &x = get(op.getInput());
        HostTensor dx = zerosLike(op.getResult());
        for (int64_t i = 0; i < dx.size(); ++i)
          dx.data[i] =
              dy.data[i] * geluDerivative(x.data[i], op.getApproximation());
        set(op.getResult(), std::move(dx));
        return success();
      })
      .Case([&](SwiGLUGradOp op) {
        const HostTensor &dy = get(op.getGrad()), &x = get(op.getInput());
        HostTensor dx = zerosLike(op.getResult());
        for (int64_t j = 0; j < dy.size(); ++j) {
          double gate = x.data[2 * j], up = x.data[2 * j + 1];
          double s = sigmoid(gate);
          dx.data[2 * j] = dy.data[j] * up * s * (1 + gate * (1 - s));
          dx.data[2 * j + 1] = dy.data[j] * gate * s;
        }
        set(op.getResult(), std::move(dx));
        return success();
      })
      .Case([&](LMHeadLossGradOp op) { return lmHeadLossGrad(op); })
      .Case([&](GlobalNormOp op) {
        double sum = 0;
        for (Value grad : op.getGrads())
          for (double x : get(grad).data)
            sum += x * x;
        HostTensor norm(ArrayRef<int64_t>{});
        norm.data[0] = std::sqrt(sum);
        set(op.getNorm(), std::move(norm));
        return success();
      })
      .Case([&](AdamWOp op) { return adamw(op), success(); })
      .Case([&](NormStatsOp op) { return normStats(op), success(); })
      .Case([&](NormGradStatsOp op) { return normGradStats(op), success(); })
      .Case([&](LogitsMaxOp op) { return logitsMax(op); })
      .Case([&](SoftmaxSumsOp op) { return softmaxSums(op), success(); })
      .Case([&](CrossEntropyOp op) { return crossEntropy(op), success(); })
      .Case([&](GoldfishMaskOp op) {
        const HostTensor &targets = get(op.getTargets());
        std::vector<double> keep = goldfishKeep(op.getGoldfish(), targets);
        HostTensor mask = zerosLike(op.getKeep());
        double count = 0;
        for (size_t i = 0; i < keep.size(); ++i) {
          mask.data[static_cast<int64_t>(i)] = keep[i];
          count += keep[i];
        }
        HostTensor total(ArrayRef<int64_t>{});
        total.data[0] = count;
        set(op.getKeep(), std::move(mask));
        set(op.getCount(), std::move(total));
        return success();
      })
      .Case([&](CrossEntropyGradOp op) { return crossEntropyGrad(op); })
      .Case([&](SumSquaresOp op) {
        double sum = 0;
        for (auto [grad, scale] :
             llvm::zip_equal(op.getGrads(), op.getScales())) {
          double squares = 0;
          for (double x : get(grad).data)
            squares += x * x;
          sum += cast<FloatAttr>(scale).getValueAsDouble() * squares;
        }
        HostTensor result(ArrayRef<int64_t>{});
        result.data[0] = sum;
        set(op.getResult(), std::move(result));
        return success();
      })
      .Case([&](SqrtOp op) {
        HostTensor result = get(op.getInput());
        result.data[0] = std::sqrt(result.data[0]);
        set(op.getResult(), std::move(result));
        return success();
      })
      .Case([&](ReshardOp op) {
        // Layouts say where the pieces live, not what the tensor holds.
        set(op.getResult(), get(op.getInput()));
        return success();
      })
      .Default([](Operation *op) {
        return op->emitOpError() << "cannot be evaluated by the axonn "
                                    "reference interpreter";
      });
}

} // namespace

FailureOr<SmallVector<HostTensor>>
mlir::axonn::interpret(func::FuncOp func, ArrayRef<HostTensor> args,
                       ValueTrace *trace) {
  if (func.isExternal())
    return func.emitOpError() << "has no body to interpret";
  Block &body = func.getBody().front();
  if (args.size() != body.getNumArguments())
    return func.emitOpError()
           << "takes " << body.getNumArguments()
           << " arguments, the interpreter got " << args.size();
  ValueTrace local;
  ValueTrace &values = trace ? *trace : local;
  for (auto [arg, value] : llvm::zip_equal(body.getArguments(), args)) {
    auto type = cast<RankedTensorType>(arg.getType());
    if (type.getShape() != ArrayRef<int64_t>(value.shape))
      return func.emitOpError() << "argument #" << arg.getArgNumber()
                                << " has the wrong shape for the interpreter";
    values[arg] = value;
  }
  Evaluator evaluator(values);
  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      SmallVector<HostTensor> results;
      for (Value value : ret.getOperands())
        results.push_back(values.find(value)->second);
      return results;
    }
    if (failed(evaluator.run(&op)))
      return failure();
  }
  return func.emitOpError() << "has no return";
}

//===----------------------------------------------------------------------===//
// SPMD: every rank in lockstep
//===----------------------------------------------------------------------===//

namespace {

/// The ranks of the group of `axes` that `rank` belongs to, in group order.
SmallVector<int64_t> groupOf(GridAttr grid, int64_t rank, ArrayRef<Axis> axes) {
  RankContext self{grid, rank};
  SmallVector<int64_t> members(grid.getGroupSize(axes), -1);
  for (int64_t other = 0; other < grid.getNumRanks(); ++other) {
    RankContext peer{grid, other};
    bool same = true;
    for (Axis axis : {Axis::x, Axis::y, Axis::z, Axis::data})
      if (!llvm::is_contained(axes, axis) &&
          peer.coordinate(axis) != self.coordinate(axis))
        same = false;
    if (same)
      members[peer.groupIndex(axes)] = other;
  }
  return members;
}

HostTensor reduce(ArrayRef<const HostTensor *> inputs, ReductionKind kind) {
  HostTensor result = *inputs.front();
  for (const HostTensor *input : inputs.drop_front())
    for (int64_t i = 0; i < result.size(); ++i)
      result.data[i] = kind == ReductionKind::sum
                           ? result.data[i] + input->data[i]
                           : std::max(result.data[i], input->data[i]);
  return result;
}

/// Sizes of the dimensions before `dim` and after it.
std::pair<int64_t, int64_t> around(ArrayRef<int64_t> shape, int64_t dim) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d)
    (d < dim ? outer : inner) *= d == dim ? 1 : shape[d];
  return {outer, inner};
}

HostTensor gather(ArrayRef<const HostTensor *> inputs, int64_t dim) {
  SmallVector<int64_t> shape = inputs.front()->shape;
  int64_t piece = shape[dim];
  shape[dim] *= inputs.size();
  HostTensor result(shape);
  auto [outer, inner] = around(shape, dim);
  for (int64_t o = 0; o < outer; ++o)
    for (auto [i, input] : llvm::enumerate(inputs))
      std::copy_n(&input->data[o * piece * inner], piece * inner,
                  &result.data[(o * shape[dim] + i * piece) * inner]);
  return result;
}

HostTensor slice(const HostTensor &input, int64_t dim, int64_t index,
                 int64_t count) {
  SmallVector<int64_t> shape = input.shape;
  int64_t full = shape[dim];
  shape[dim] /= count;
  HostTensor result(shape);
  auto [outer, inner] = around(shape, dim);
  for (int64_t o = 0; o < outer; ++o)
    std::copy_n(&input.data[(o * full + index * shape[dim]) * inner],
                shape[dim] * inner, &result.data[o * shape[dim] * inner]);
  return result;
}

} // namespace

FailureOr<std::vector<SmallVector<HostTensor>>>
mlir::axonn::interpretSPMD(func::FuncOp func, GridAttr grid,
                           ArrayRef<SmallVector<HostTensor>> args) {
  if (func.isExternal())
    return func.emitOpError() << "has no body to interpret";
  int64_t ranks = grid.getNumRanks();
  if (static_cast<int64_t>(args.size()) != ranks)
    return func.emitOpError() << "needs arguments for " << ranks << " ranks";
  Block &body = func.getBody().front();
  std::vector<ValueTrace> traces(ranks);
  std::vector<RankContext> contexts;
  for (int64_t r = 0; r < ranks; ++r) {
    contexts.push_back({grid, r});
    if (args[r].size() != body.getNumArguments())
      return func.emitOpError()
             << "rank " << r << " got " << args[r].size()
             << " arguments, expected " << body.getNumArguments();
    for (auto [arg, value] : llvm::zip_equal(body.getArguments(), args[r])) {
      if (cast<RankedTensorType>(arg.getType()).getShape() !=
          ArrayRef<int64_t>(value.shape))
        return func.emitOpError() << "argument #" << arg.getArgNumber()
                                  << " of rank " << r << " has the wrong shape";
      traces[r][arg] = value;
    }
  }

  // A collective: each rank's result from the inputs of its group.
  auto collective = [&](Value input, ArrayRef<Axis> axes, Value result,
                        auto combine) {
    std::vector<HostTensor> results(ranks);
    for (int64_t r = 0; r < ranks; ++r) {
      SmallVector<const HostTensor *> inputs;
      for (int64_t member : groupOf(grid, r, axes))
        inputs.push_back(&traces[member].find(input)->second);
      results[r] = combine(inputs, contexts[r].groupIndex(axes));
    }
    for (int64_t r = 0; r < ranks; ++r)
      traces[r][result] = std::move(results[r]);
  };
  auto allReduce = [&](ReductionKind kind) {
    return [kind](ArrayRef<const HostTensor *> inputs, int64_t) {
      return reduce(inputs, kind);
    };
  };
  auto allGather = [](int64_t dim) {
    return [dim](ArrayRef<const HostTensor *> inputs, int64_t) {
      return gather(inputs, dim);
    };
  };
  auto reduceScatter = [](ReductionKind kind, int64_t dim) {
    return [kind, dim](ArrayRef<const HostTensor *> inputs, int64_t index) {
      return slice(reduce(inputs, kind), dim, index, inputs.size());
    };
  };

  for (Operation &op : body) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      std::vector<SmallVector<HostTensor>> results(ranks);
      for (int64_t r = 0; r < ranks; ++r)
        for (Value value : ret.getOperands())
          results[r].push_back(traces[r].find(value)->second);
      return results;
    }
    bool handled = true;
    TypeSwitch<Operation *>(&op)
        .Case([&](AllReduceOp c) {
          collective(c.getInput(), c.getAxes().getAxes(), c.getResult(),
                     allReduce(c.getReduction()));
        })
        .Case([&](AllReduceStartOp c) {
          collective(c.getInput(), c.getAxes().getAxes(), c.getHandle(),
                     allReduce(c.getReduction()));
        })
        .Case([&](AllGatherOp c) {
          collective(c.getInput(), c.getAxes().getAxes(), c.getResult(),
                     allGather(c.getDim()));
        })
        .Case([&](AllGatherStartOp c) {
          collective(c.getInput(), c.getAxes().getAxes(), c.getHandle(),
                     allGather(c.getDim()));
        })
        .Case([&](ReduceScatterOp c) {
          collective(c.getInput(), c.getAxes().getAxes(), c.getResult(),
                     reduceScatter(c.getReduction(), c.getDim()));
        })
        .Case([&](ReduceScatterStartOp c) {
          collective(c.getInput(), c.getAxes().getAxes(), c.getHandle(),
                     reduceScatter(c.getReduction(), c.getDim()));
        })
        .Case([&](WaitOp w) {
          for (ValueTrace &trace : traces)
            trace[w.getResult()] = trace.find(w.getHandle())->second;
        })
        .Default([&](Operation *) { handled = false; });
    if (handled)
      continue;
    for (int64_t r = 0; r < ranks; ++r) {
      Evaluator evaluator(traces[r], &contexts[r]);
      if (failed(evaluator.run(&op)))
        return failure();
    }
  }
  return func.emitOpError() << "has no return";
}
