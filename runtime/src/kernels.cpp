//===- kernels.cpp - fp32 CPU kernels of the axonn ops --------------------===//
//
// Each kernel computes the axonn op of the same name on the rank's local
// piece (see the op descriptions and lib/Interpreter, the fp64 reference
// they are tested against). GEMMs go to BLAS; reductions over features and
// tokens accumulate in double so that grids summing in different orders
// agree closely.
//
//===----------------------------------------------------------------------===//

#include "fastmath.h"
#include "kernel_common.h"
#include "runtime_internal.h"

#ifdef AXONN_RT_NAIVE_BLAS
#include "naive_blas.h"
#define AXONN_GEMM naiveGemm<axonn_real>
#else
#include <cblas.h>
#ifdef AXONN_RT_DOUBLE
#define AXONN_GEMM cblas_dgemm
#else
#define AXONN_GEMM cblas_sgemm
#endif
#endif

#include <algorithm>
#include <cstring>
#include <cmath>
#include <vector>

using axonn::QKVLayout;

namespace {

constexpr double kSqrt2OverPi = 0.7978845608028654;

double geluValue(double x, int32_t approximation) {
  if (approximation == 1)
    return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + 0.044715 * x * x * x)));
  return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
}

double geluDerivative(double x, int32_t approximation) {
  if (approximation == 1) {
    double u = kSqrt2OverPi * (x + 0.044715 * x * x * x);
    double t = std::tanh(u);
    double du = kSqrt2OverPi * (1 + 3 * 0.044715 * x * x);
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
  }
  double pdf = std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * pdf;
}

/// First global row of a vocabulary slice.
int64_t vocabOffset(const axonn_rt *rt, axonn_axes axes, int64_t rows) {
  return rt->groupIndex(axes) * rows;
}

/// Rows of a local vocabulary slice below vocab_size (0: all).
int64_t realRows(int64_t rows, int64_t offset, int64_t vocabSize) {
  if (vocabSize <= 0)
    return rows;
  return std::clamp<int64_t>(vocabSize - offset, 0, rows);
}

bool badPointer(const void *p) { return p == nullptr; }

/// Layer-norm moments of one row: from the row or from global sums.
void layerMoments(const axonn_real *row, int64_t local, const axonn_real *stats,
                  int64_t width, double eps, double *mean, double *inv) {
  double m = 0, var = 0;
  if (stats) {
    m = double(stats[0]) / width;
    var = double(stats[1]) / width - m * m;
  } else {
    m = axonn::fast::sum(local, [&](int64_t j) { return double(row[j]); }) /
        double(local);
    var = axonn::fast::sum(local, [&](int64_t j) {
            double d = row[j] - m;
            return d * d;
          }) /
          double(local);
  }
  *mean = m;
  *inv = 1 / std::sqrt(var + eps);
}

double rmsInverse(const axonn_real *row, int64_t local, const axonn_real *stats,
                  int64_t width, double eps) {
  double square = 0;
  if (stats) {
    square = stats[0];
  } else {
    width = local;
    square = axonn::fast::sum(
        local, [&](int64_t j) { return double(row[j]) * double(row[j]); });
  }
  return 1 / std::sqrt(square / width + eps);
}


/// Rotate-half RoPE on one vector of `dim` at `position`.
void rotate(axonn_real *x, int64_t dim, int64_t position, double base,
            bool inverse) {
  int64_t half = dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    double angle = position * std::pow(base, -2.0 * i / dim);
    double c = std::cos(angle),
           s = inverse ? -std::sin(angle) : std::sin(angle);
    double a = x[i], b = x[i + half];
    x[i] = axonn_real(a * c - b * s);
    x[i + half] = axonn_real(b * c + a * s);
  }
}

/// Q, K (rotated) and V of one batch entry and head, contiguous [seq, d],
/// and the softmax probabilities [seq, seq].
struct HeadState {
  std::vector<axonn_real> q, k, v, p;
  /// Each row's log-sum-exp of its scaled scores.
  std::vector<double> lse;
};

/// x[t] = exp(x[t] - max); returns the sum in double.
AXONN_CLONES double expInPlace(axonn_real *x, int64_t n, axonn_real max) {
  for (int64_t t = 0; t < n; ++t)
    x[t] = axonn::fast::exp(x[t] - max);
  return axonn::fast::sum(n, [&](int64_t t) { return x[t]; });
}

/// Softmax over row[0 ... last] in place, zeros after it up to width;
/// returns the log-sum-exp of the row's scores.
double softmaxPrefix(axonn_real *row, int64_t last, int64_t width) {
  double maximum = -INFINITY;
  for (int64_t t = 0; t <= last; ++t)
    maximum = std::max(maximum, double(row[t]));
  double sum = expInPlace(row, last + 1, axonn_real(maximum));
  for (int64_t t = 0; t <= last; ++t)
    row[t] = axonn_real(row[t] / sum);
  for (int64_t t = last + 1; t < width; ++t)
    row[t] = 0;
  return double(axonn_real(maximum)) + std::log(sum);
}

void headForward(const axonn_real *qkv, int64_t seq, const QKVLayout &layout,
                 int64_t head, bool causal, double ropeBase, HeadState &st) {
  int64_t d = layout.dim, f = layout.features();
  int64_t g = layout.group(head);
  st.q.assign(size_t(seq * d), 0);
  st.k.assign(size_t(seq * d), 0);
  st.v.assign(size_t(seq * d), 0);
  for (int64_t s = 0; s < seq; ++s) {
    const axonn_real *row = qkv + s * f;
    std::copy_n(row + layout.q(head), d, &st.q[size_t(s * d)]);
    std::copy_n(row + layout.k(g), d, &st.k[size_t(s * d)]);
    std::copy_n(row + layout.v(g), d, &st.v[size_t(s * d)]);
    if (ropeBase > 0) {
      rotate(&st.q[size_t(s * d)], d, s, ropeBase, false);
      rotate(&st.k[size_t(s * d)], d, s, ropeBase, false);
    }
  }
  st.p.assign(size_t(seq * seq), 0);
  axonn_real scale = axonn_real(1 / std::sqrt(double(d)));
  AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, int(seq), int(seq),
              int(d), scale, st.q.data(), int(d), st.k.data(), int(d), 0.0f,
              st.p.data(), int(seq));
  st.lse.resize(size_t(seq));
  for (int64_t s = 0; s < seq; ++s)
    st.lse[size_t(s)] =
        softmaxPrefix(&st.p[size_t(s * seq)], causal ? s : seq - 1, seq);
}

} // namespace

#define AXONN_CHECK(cond, ...)                                                 \
  do {                                                                         \
    if (!(cond))                                                               \
      return rt->fail(AXONN_ERR_INVALID_ARGUMENT, __VA_ARGS__);                \
  } while (0)

extern "C" {

axonn_status axonn_rt_copy(axonn_rt *rt, const void *src, void *dst,
                           int64_t bytes) {
  AXONN_TRACE(rt, "copy", "compute");
  AXONN_CHECK(src && dst && bytes >= 0, "copy: bad arguments");
  std::memmove(dst, src, size_t(bytes));
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Embedding
//===----------------------------------------------------------------------===//

axonn_status axonn_rt_embedding(axonn_rt *rt, const int32_t *tokens,
                                int64_t count, int64_t seq, const axonn_real *table,
                                int64_t rows, int64_t width,
                                const axonn_real *positions,
                                int64_t positionRows, const int32_t *startAt,
                                axonn_axes vocabAxes, axonn_axes onceOver,
                                axonn_real *out) {
  AXONN_TRACE(rt, "embedding", "compute");
  AXONN_CHECK(!badPointer(tokens) && !badPointer(table) && !badPointer(out),
              "embedding: null pointer");
  int64_t start = startAt ? *startAt : 0;
  AXONN_CHECK(!positions || (start >= 0 && start + seq <= positionRows),
              "embedding: positions %lld to %lld are outside the %lld learned "
              "positions",
              (long long)start, (long long)(start + seq - 1),
              (long long)positionRows);
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  bool addPositions = positions && rt->addsOnce(onceOver);
  bool sliced = axonn_axes_count(vocabAxes) > 0;
  for (int64_t i = 0; i < count; ++i) {
    int64_t token = tokens[i];
    if (!sliced && (token < 0 || token >= rows))
      return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                      "token id %lld is outside the vocabulary of %lld",
                      (long long)token, (long long)rows);
    int64_t row = token - offset;
    axonn_real *dst = out + i * width;
    if (row >= 0 && row < rows)
      std::copy_n(table + row * width, width, dst);
    else
      std::fill_n(dst, width, 0.0f);
    if (addPositions) {
      const axonn_real *pos = positions + (start + i % seq) * width;
      for (int64_t j = 0; j < width; ++j)
        dst[j] += pos[j];
    }
  }
  return AXONN_OK;
}

axonn_status axonn_rt_embedding_grad(axonn_rt *rt, const axonn_real *grad,
                                     const int32_t *tokens, int64_t count,
                                     int64_t rows, int64_t width,
                                     axonn_axes vocabAxes,
                                     const axonn_real *accumulate,
                                     axonn_real *tableGrad) {
  AXONN_TRACE(rt, "embedding_grad", "compute");
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  if (!accumulate)
    std::fill_n(tableGrad, rows * width, axonn_real(0));
  else if (accumulate != tableGrad)
    std::copy_n(accumulate, rows * width, tableGrad);
  for (int64_t i = 0; i < count; ++i) {
    int64_t row = int64_t(tokens[i]) - offset;
    if (row < 0 || row >= rows)
      continue;
    axonn_real *dst = tableGrad + row * width;
    const axonn_real *src = grad + i * width;
    for (int64_t j = 0; j < width; ++j)
      dst[j] += src[j];
  }
  return AXONN_OK;
}

axonn_status axonn_rt_position_grad(axonn_rt *rt, const axonn_real *grad,
                                    int64_t count, int64_t seq,
                                    int64_t positions, int64_t width,
                                    axonn_real *positionsGrad) {
  AXONN_TRACE(rt, "position_grad", "compute");
  AXONN_CHECK(seq <= positions, "position_grad: %lld positions < seq %lld",
              (long long)positions, (long long)seq);
  std::vector<double> sum(size_t(positions * width), 0.0);
  for (int64_t i = 0; i < count; ++i)
    for (int64_t j = 0; j < width; ++j)
      sum[size_t((i % seq) * width + j)] += grad[i * width + j];
  for (size_t i = 0; i < sum.size(); ++i)
    positionsGrad[i] = axonn_real(sum[i]);
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Norms
//===----------------------------------------------------------------------===//

axonn_status axonn_rt_layer_norm(axonn_rt *rt, const axonn_real *x,
                                 const axonn_real *scale, const axonn_real *bias,
                                 const axonn_real *stats, int64_t tokens,
                                 int64_t local, int64_t width, double eps,
                                 axonn_real *y) {
  AXONN_TRACE(rt, "layer_norm", "compute");
  (void)rt;
  for (int64_t r = 0; r < tokens; ++r) {
    const axonn_real *row = x + r * local;
    double mean, inv;
    layerMoments(row, local, stats ? stats + r * 2 : nullptr, width, eps, &mean,
                 &inv);
    for (int64_t j = 0; j < local; ++j)
      y[r * local + j] = axonn_real((row[j] - mean) * inv * scale[j] + bias[j]);
  }
  return AXONN_OK;
}

axonn_status axonn_rt_rms_norm(axonn_rt *rt, const axonn_real *x, const axonn_real *scale,
                               const axonn_real *stats, int64_t tokens,
                               int64_t local, int64_t width, double eps,
                               axonn_real *y) {
  AXONN_TRACE(rt, "rms_norm", "compute");
  (void)rt;
  for (int64_t r = 0; r < tokens; ++r) {
    const axonn_real *row = x + r * local;
    double inv =
        rmsInverse(row, local, stats ? stats + r : nullptr, width, eps);
    for (int64_t j = 0; j < local; ++j)
      y[r * local + j] = axonn_real(row[j] * inv * scale[j]);
  }
  return AXONN_OK;
}

// One token at a time: its sum is normalized while still in cache, with
// the arithmetic of axonn_rt_add and the norm (the same results).
axonn_status axonn_rt_residual_layer_norm(axonn_rt *rt, const axonn_real *x,
                                          const axonn_real *residual,
                                          const axonn_real *scale,
                                          const axonn_real *bias,
                                          int64_t tokens, int64_t width,
                                          double eps, axonn_real *sum,
                                          axonn_real *y) {
  AXONN_TRACE(rt, "residual_layer_norm", "compute");
  (void)rt;
  for (int64_t r = 0; r < tokens; ++r) {
    axonn_real *row = sum + r * width;
    for (int64_t j = 0; j < width; ++j)
      row[j] = x[r * width + j] + residual[r * width + j];
    double mean, inv;
    layerMoments(row, width, nullptr, width, eps, &mean, &inv);
    for (int64_t j = 0; j < width; ++j)
      y[r * width + j] = axonn_real((row[j] - mean) * inv * scale[j] + bias[j]);
  }
  return AXONN_OK;
}

axonn_status axonn_rt_residual_rms_norm(axonn_rt *rt, const axonn_real *x,
                                        const axonn_real *residual,
                                        const axonn_real *scale,
                                        int64_t tokens, int64_t width,
                                        double eps, axonn_real *sum,
                                        axonn_real *y) {
  AXONN_TRACE(rt, "residual_rms_norm", "compute");
  (void)rt;
  for (int64_t r = 0; r < tokens; ++r) {
    axonn_real *row = sum + r * width;
    for (int64_t j = 0; j < width; ++j)
      row[j] = x[r * width + j] + residual[r * width + j];
    double inv = rmsInverse(row, width, nullptr, width, eps);
    for (int64_t j = 0; j < width; ++j)
      y[r * width + j] = axonn_real(row[j] * inv * scale[j]);
  }
  return AXONN_OK;
}

axonn_status axonn_rt_norm_stats(axonn_rt *rt, const axonn_real *x, int64_t tokens,
                                 int64_t local, int32_t rms, axonn_real *stats) {
  AXONN_TRACE(rt, "norm_stats", "compute");
  (void)rt;
  for (int64_t r = 0; r < tokens; ++r) {
    double sum = 0, squares = 0;
    for (int64_t j = 0; j < local; ++j) {
      double v = x[r * local + j];
      sum += v;
      squares += v * v;
    }
    if (rms) {
      stats[r] = axonn_real(squares);
    } else {
      stats[r * 2] = axonn_real(sum);
      stats[r * 2 + 1] = axonn_real(squares);
    }
  }
  return AXONN_OK;
}

axonn_status axonn_rt_norm_grad_stats(axonn_rt *rt, const axonn_real *dy,
                                      const axonn_real *x, const axonn_real *scale,
                                      int64_t tokens, int64_t local,
                                      int32_t rms, axonn_real *stats) {
  AXONN_TRACE(rt, "norm_grad_stats", "compute");
  (void)rt;
  for (int64_t r = 0; r < tokens; ++r) {
    double s[4] = {0, 0, 0, 0};
    for (int64_t j = 0; j < local; ++j) {
      double v = x[r * local + j];
      double g = double(dy[r * local + j]) * scale[j];
      s[0] += v;
      s[1] += v * v;
      s[2] += g;
      s[3] += g * v;
    }
    if (rms) {
      stats[r * 2] = axonn_real(s[1]);
      stats[r * 2 + 1] = axonn_real(s[3]);
    } else {
      for (int k = 0; k < 4; ++k)
        stats[r * 4 + k] = axonn_real(s[k]);
    }
  }
  return AXONN_OK;
}

axonn_status axonn_rt_layer_norm_grad(
    axonn_rt *rt, const axonn_real *dy, const axonn_real *x,
    const axonn_real *scale, const axonn_real *stats, int64_t tokens,
    int64_t local, int64_t width, double eps, const axonn_real *accumulate,
    axonn_real *dx, axonn_real *scaleGrad, axonn_real *biasGrad) {
  AXONN_TRACE(rt, "layer_norm_grad", "compute");
  (void)rt;
  std::vector<double> dg(size_t(local), 0.0), db(size_t(local), 0.0);
  std::vector<double> xhat(static_cast<size_t>(local)),
      dxhat(static_cast<size_t>(local));
  for (int64_t r = 0; r < tokens; ++r) {
    const axonn_real *row = x + r * local, *drow = dy + r * local;
    const axonn_real *sums = stats ? stats + r * 4 : nullptr;
    double mean, inv;
    layerMoments(row, local, sums, width, eps, &mean, &inv);
    for (int64_t j = 0; j < local; ++j) {
      xhat[size_t(j)] = (row[j] - mean) * inv;
      dxhat[size_t(j)] = double(drow[j]) * scale[j];
      dg[size_t(j)] += drow[j] * xhat[size_t(j)];
      db[size_t(j)] += drow[j];
    }
    double meanDxhat =
        axonn::fast::sum(local, [&](int64_t j) { return dxhat[size_t(j)]; });
    double meanDxhatXhat = axonn::fast::sum(local, [&](int64_t j) {
      return dxhat[size_t(j)] * xhat[size_t(j)];
    });
    if (sums) {
      meanDxhat = sums[2];
      meanDxhatXhat = (double(sums[3]) - mean * sums[2]) * inv;
    }
    meanDxhat /= width;
    meanDxhatXhat /= width;
    for (int64_t j = 0; j < local; ++j)
      dx[r * local + j] =
          axonn_real((accumulate ? double(accumulate[r * local + j]) : 0.0) +
                     inv * (dxhat[size_t(j)] - meanDxhat -
                            xhat[size_t(j)] * meanDxhatXhat));
  }
  for (int64_t j = 0; j < local; ++j) {
    scaleGrad[j] = axonn_real(dg[size_t(j)]);
    biasGrad[j] = axonn_real(db[size_t(j)]);
  }
  return AXONN_OK;
}

axonn_status axonn_rt_rms_norm_grad(axonn_rt *rt, const axonn_real *dy,
                                    const axonn_real *x,
                                    const axonn_real *scale,
                                    const axonn_real *stats, int64_t tokens,
                                    int64_t local, int64_t width, double eps,
                                    const axonn_real *accumulate,
                                    axonn_real *dx, axonn_real *scaleGrad) {
  AXONN_TRACE(rt, "rms_norm_grad", "compute");
  (void)rt;
  std::vector<double> dg(size_t(local), 0.0);
  for (int64_t r = 0; r < tokens; ++r) {
    const axonn_real *row = x + r * local, *drow = dy + r * local;
    const axonn_real *sums = stats ? stats + r * 2 : nullptr;
    double inv = rmsInverse(row, local, sums, width, eps);
    int64_t w = sums ? width : local;
    double dot = 0;
    for (int64_t j = 0; j < local; ++j) {
      dot += double(scale[j]) * drow[j] * row[j];
      dg[size_t(j)] += double(drow[j]) * row[j] * inv;
    }
    if (sums)
      dot = sums[1];
    for (int64_t j = 0; j < local; ++j)
      dx[r * local + j] =
          axonn_real((accumulate ? double(accumulate[r * local + j]) : 0.0) +
                     double(scale[j]) * drow[j] * inv -
                     row[j] * inv * inv * inv * dot / w);
  }
  for (int64_t j = 0; j < local; ++j)
    scaleGrad[j] = axonn_real(dg[size_t(j)]);
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Linear layers
//===----------------------------------------------------------------------===//

axonn_status axonn_rt_linear(axonn_rt *rt, const axonn_real *x, const axonn_real *w,
                             const axonn_real *bias, axonn_axes onceOver,
                             int64_t rows, int64_t n, int64_t k, axonn_real *y) {
  AXONN_TRACE(rt, "linear", "compute");
  AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(n),
              int(k), 1.0f, x, int(k), w, int(k), 0.0f, y, int(n));
  if (bias && rt->addsOnce(onceOver))
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < n; ++o)
        y[r * n + o] += bias[o];
  return AXONN_OK;
}

// The linear layer, then the GELU of its result: the same bits as the two
// calls.
axonn_status axonn_rt_linear_gelu(axonn_rt *rt, const axonn_real *x,
                                  const axonn_real *w, const axonn_real *bias,
                                  int64_t rows, int64_t n, int64_t k,
                                  int32_t approximation, axonn_real *pre,
                                  axonn_real *y) {
  if (axonn_status s = axonn_rt_linear(rt, x, w, bias, 0, rows, n, k, pre))
    return s;
  return axonn_rt_gelu(rt, pre, rows * n, approximation, y);
}

axonn_status axonn_rt_linear_grad_input(axonn_rt *rt, const axonn_real *dy,
                                        const axonn_real *w, int64_t rows, int64_t n,
                                        int64_t k, axonn_real *dx) {
  AXONN_TRACE(rt, "linear_grad_input", "compute");
  (void)rt;
  AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), int(k),
              int(n), 1.0f, dy, int(n), w, int(k), 0.0f, dx, int(k));
  return AXONN_OK;
}

// The input gradient, then the GELU's gradient over it in place: the same
// bits as the two calls.
axonn_status axonn_rt_linear_grad_input_gelu(axonn_rt *rt,
                                             const axonn_real *dy,
                                             const axonn_real *w,
                                             const axonn_real *pre,
                                             int64_t rows, int64_t n,
                                             int64_t k, int32_t approximation,
                                             axonn_real *dx) {
  if (axonn_status s = axonn_rt_linear_grad_input(rt, dy, w, rows, n, k, dx))
    return s;
  return axonn_rt_gelu_grad(rt, dx, pre, rows * k, approximation, dx);
}

axonn_status axonn_rt_linear_grad_weight(axonn_rt *rt, const axonn_real *dy,
                                         const axonn_real *x, int64_t rows,
                                         int64_t n, int64_t k, axonn_real *dw,
                                         axonn_real *biasGrad) {
  {
    AXONN_TRACE(rt, "linear_grad_weight", "compute");
    AXONN_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, int(n), int(k),
               int(rows), 1.0f, dy, int(n), x, int(k), 0.0f, dw, int(k));
  }
  return biasGrad ? axonn_rt_linear_grad_bias(rt, dy, rows, n, biasGrad)
                  : AXONN_OK;
}

axonn_status axonn_rt_linear_grad_bias(axonn_rt *rt, const axonn_real *dy,
                                       int64_t rows, int64_t n, axonn_real *db) {
  AXONN_TRACE(rt, "linear_grad_bias", "compute");
  (void)rt;
  std::vector<double> sum(size_t(n), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o)
      sum[size_t(o)] += dy[r * n + o];
  for (int64_t o = 0; o < n; ++o)
    db[o] = axonn_real(sum[size_t(o)]);
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

axonn_status axonn_rt_attention(axonn_rt *rt, const axonn_real *qkv, int64_t batch,
                                int64_t seq, int64_t heads, int64_t kvHeads,
                                int64_t headDim, int32_t causal,
                                double ropeBase, axonn_real *out,
                                axonn_real *lse) {
  AXONN_TRACE(rt, "attention", "compute");
  AXONN_CHECK(kvHeads > 0 && heads % kvHeads == 0,
              "attention: %lld heads, %lld KV heads", (long long)heads,
              (long long)kvHeads);
  QKVLayout layout(heads, kvHeads, headDim);
  if (const char *why =
          axonn::attentionOverlap(qkv, nullptr, out, batch, seq, heads, kvHeads,
                                  headDim, sizeof(axonn_real)))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "%s", why);
  int64_t f = layout.features(), d = headDim, width = heads * d;
  HeadState st;
  std::vector<axonn_real> o(static_cast<size_t>(seq * d));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      headForward(qkv + b * seq * f, seq, layout, h, causal, ropeBase, st);
      AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(seq), int(d),
                  int(seq), 1.0f, st.p.data(), int(seq), st.v.data(), int(d),
                  0.0f, o.data(), int(d));
      for (int64_t s = 0; s < seq; ++s) {
        std::copy_n(&o[size_t(s * d)], d, out + (b * seq + s) * width + h * d);
        if (lse)
          lse[(b * seq + s) * heads + h] = axonn_real(st.lse[size_t(s)]);
      }
    }
  return AXONN_OK;
}

axonn_status axonn_rt_cached_attention(axonn_rt *rt, const axonn_real *qkv,
                                       int64_t batch, int64_t seq,
                                       int64_t heads, int64_t kvHeads,
                                       int64_t headDim, double ropeBase,
                                       axonn_real *kCache, axonn_real *vCache,
                                       int64_t capacity, const int32_t *startAt,
                                       axonn_real *out) {
  AXONN_TRACE(rt, "cached_attention", "compute");
  AXONN_CHECK(kvHeads > 0 && heads % kvHeads == 0,
              "cached_attention: %lld heads, %lld KV heads", (long long)heads,
              (long long)kvHeads);
  AXONN_CHECK(startAt && !badPointer(kCache) && !badPointer(vCache),
              "cached_attention: null pointer");
  int64_t start = *startAt, end = start + seq;
  AXONN_CHECK(start >= 0 && end <= capacity,
              "cached_attention: positions %lld to %lld do not fit a cache of "
              "%lld",
              (long long)start, (long long)(end - 1), (long long)capacity);
  QKVLayout layout(heads, kvHeads, headDim);
  int64_t f = layout.features(), d = headDim, width = heads * d;
  axonn_real scale = axonn_real(1 / std::sqrt(double(d)));
  std::vector<axonn_real> q(size_t(seq * d)), p(size_t(seq * end)),
      o(size_t(seq * d));
  for (int64_t b = 0; b < batch; ++b) {
    const axonn_real *rows = qkv + b * seq * f;
    // The new keys and values go into the caches first.
    for (int64_t g = 0; g < kvHeads; ++g) {
      axonn_real *k = kCache + (b * kvHeads + g) * capacity * d;
      axonn_real *v = vCache + (b * kvHeads + g) * capacity * d;
      for (int64_t s = 0; s < seq; ++s) {
        std::copy_n(rows + s * f + layout.k(g), d, k + (start + s) * d);
        std::copy_n(rows + s * f + layout.v(g), d, v + (start + s) * d);
        if (ropeBase > 0)
          rotate(k + (start + s) * d, d, start + s, ropeBase, false);
      }
    }
    for (int64_t h = 0; h < heads; ++h) {
      int64_t g = layout.group(h);
      const axonn_real *k = kCache + (b * kvHeads + g) * capacity * d;
      const axonn_real *v = vCache + (b * kvHeads + g) * capacity * d;
      for (int64_t s = 0; s < seq; ++s) {
        std::copy_n(rows + s * f + layout.q(h), d, &q[size_t(s * d)]);
        if (ropeBase > 0)
          rotate(&q[size_t(s * d)], d, start + s, ropeBase, false);
      }
      // Scores against every cached row, then the causal softmax.
      AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, int(seq), int(end),
                 int(d), scale, q.data(), int(d), k, int(d), 0.0f, p.data(),
                 int(end));
      for (int64_t s = 0; s < seq; ++s)
        softmaxPrefix(&p[size_t(s * end)], start + s, end);
      AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(seq), int(d),
                 int(end), 1.0f, p.data(), int(end), v, int(d), 0.0f, o.data(),
                 int(d));
      for (int64_t s = 0; s < seq; ++s)
        std::copy_n(&o[size_t(s * d)], d, out + (b * seq + s) * width + h * d);
    }
  }
  return AXONN_OK;
}

// The CPU backend keeps the whole probability matrix of a head: it
// recomputes it (one product) rather than reading `out` and `lse`.
axonn_status axonn_rt_attention_grad(axonn_rt *rt, const axonn_real *dout,
                                     const axonn_real *qkv,
                                     const axonn_real *out,
                                     const axonn_real *lse, int64_t batch,
                                     int64_t seq, int64_t heads,
                                     int64_t kvHeads, int64_t headDim,
                                     int32_t causal, double ropeBase,
                                     axonn_real *dqkv) {
  (void)out;
  (void)lse;
  AXONN_TRACE(rt, "attention_grad", "compute");
  AXONN_CHECK(kvHeads > 0 && heads % kvHeads == 0,
              "attention_grad: %lld heads, %lld KV heads", (long long)heads,
              (long long)kvHeads);
  QKVLayout layout(heads, kvHeads, headDim);
  if (const char *why =
          axonn::attentionOverlap(qkv, dout, dqkv, batch, seq, heads, kvHeads,
                                  headDim, sizeof(axonn_real)))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "%s", why);
  int64_t f = layout.features(), d = headDim, width = heads * d;
  std::fill_n(dqkv, batch * seq * f, 0.0f);
  HeadState st;
  std::vector<axonn_real> dO(static_cast<size_t>(seq * d)),
      dP(static_cast<size_t>(seq * seq)), dQ(size_t(seq * d)),
      dK(static_cast<size_t>(seq * d)), dV(static_cast<size_t>(seq * d));
  axonn_real scale = axonn_real(1 / std::sqrt(double(d)));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t h = 0; h < heads; ++h) {
      const axonn_real *base = qkv + b * seq * f;
      headForward(base, seq, layout, h, causal, ropeBase, st);
      for (int64_t s = 0; s < seq; ++s)
        std::copy_n(dout + (b * seq + s) * width + h * d, d,
                    &dO[size_t(s * d)]);
      // dV = P^T dO; dP = dO V^T.
      AXONN_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, int(seq), int(d),
                  int(seq), 1.0f, st.p.data(), int(seq), dO.data(), int(d),
                  0.0f, dV.data(), int(d));
      AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, int(seq), int(seq),
                  int(d), 1.0f, dO.data(), int(d), st.v.data(), int(d), 0.0f,
                  dP.data(), int(seq));
      // dS = P * (dP - rowsum(dP * P)), scaled into dP.
      for (int64_t s = 0; s < seq; ++s) {
        axonn_real *p = &st.p[size_t(s * seq)], *dp = &dP[size_t(s * seq)];
        double dot = 0;
        for (int64_t t = 0; t < seq; ++t)
          dot += double(dp[t]) * p[t];
        for (int64_t t = 0; t < seq; ++t)
          dp[t] = axonn_real(p[t] * (dp[t] - dot)) * scale;
      }
      // dQ = dS K; dK = dS^T Q (rotated frames).
      AXONN_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(seq), int(d),
                  int(seq), 1.0f, dP.data(), int(seq), st.k.data(), int(d),
                  0.0f, dQ.data(), int(d));
      AXONN_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, int(seq), int(d),
                  int(seq), 1.0f, dP.data(), int(seq), st.q.data(), int(d),
                  0.0f, dK.data(), int(d));
      int64_t g = layout.group(h);
      for (int64_t s = 0; s < seq; ++s) {
        if (ropeBase > 0) {
          rotate(&dQ[size_t(s * d)], d, s, ropeBase, true);
          rotate(&dK[size_t(s * d)], d, s, ropeBase, true);
        }
        axonn_real *row = dqkv + (b * seq + s) * f;
        for (int64_t i = 0; i < d; ++i) {
          row[layout.q(h) + i] += dQ[size_t(s * d + i)];
          row[layout.k(g) + i] += dK[size_t(s * d + i)];
          row[layout.v(g) + i] += dV[size_t(s * d + i)];
        }
      }
    }
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

AXONN_CLONES static void geluTanh(const axonn_real *x, int64_t count, axonn_real *y) {
  constexpr axonn_real c = 0.7978845608028654f, a = 0.044715f;
  for (int64_t i = 0; i < count; ++i) {
    axonn_real v = x[i];
    y[i] = 0.5f * v * (1.0f + axonn::fast::tanh(c * (v + a * v * v * v)));
  }
}

AXONN_CLONES static void geluTanhGrad(const axonn_real *dy, const axonn_real *x,
                                      int64_t count, axonn_real *dx) {
  constexpr axonn_real c = 0.7978845608028654f, a = 0.044715f;
  for (int64_t i = 0; i < count; ++i) {
    axonn_real v = x[i];
    axonn_real t = axonn::fast::tanh(c * (v + a * v * v * v));
    axonn_real du = c * (1.0f + 3.0f * a * v * v);
    dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
  }
}

axonn_status axonn_rt_gelu(axonn_rt *rt, const axonn_real *x, int64_t count,
                           int32_t approximation, axonn_real *y) {
  AXONN_TRACE(rt, "gelu", "compute");
  (void)rt;
  if (approximation == 1) {
    geluTanh(x, count, y);
    return AXONN_OK;
  }
  for (int64_t i = 0; i < count; ++i)
    y[i] = axonn_real(geluValue(x[i], approximation));
  return AXONN_OK;
}

axonn_status axonn_rt_gelu_grad(axonn_rt *rt, const axonn_real *dy, const axonn_real *x,
                                int64_t count, int32_t approximation,
                                axonn_real *dx) {
  AXONN_TRACE(rt, "gelu_grad", "compute");
  (void)rt;
  if (approximation == 1) {
    geluTanhGrad(dy, x, count, dx);
    return AXONN_OK;
  }
  for (int64_t i = 0; i < count; ++i)
    dx[i] = axonn_real(dy[i] * geluDerivative(x[i], approximation));
  return AXONN_OK;
}

AXONN_CLONES static void swigluLoop(const axonn_real *x, int64_t count, axonn_real *y) {
  for (int64_t j = 0; j < count; ++j) {
    axonn_real gate = x[2 * j], up = x[2 * j + 1];
    y[j] = gate * axonn::fast::sigmoid(gate) * up;
  }
}

AXONN_CLONES static void swigluGradLoop(const axonn_real *dy, const axonn_real *x,
                                        int64_t count, axonn_real *dx) {
  for (int64_t j = 0; j < count; ++j) {
    axonn_real gate = x[2 * j], up = x[2 * j + 1];
    axonn_real s = axonn::fast::sigmoid(gate);
    dx[2 * j] = dy[j] * up * s * (1.0f + gate * (1.0f - s));
    dx[2 * j + 1] = dy[j] * gate * s;
  }
}

axonn_status axonn_rt_swiglu(axonn_rt *rt, const axonn_real *x, int64_t count,
                             axonn_real *y) {
  AXONN_TRACE(rt, "swiglu", "compute");
  (void)rt;
  swigluLoop(x, count, y);
  return AXONN_OK;
}

axonn_status axonn_rt_swiglu_grad(axonn_rt *rt, const axonn_real *dy, const axonn_real *x,
                                  int64_t count, axonn_real *dx) {
  AXONN_TRACE(rt, "swiglu_grad", "compute");
  (void)rt;
  swigluGradLoop(dy, x, count, dx);
  return AXONN_OK;
}

axonn_status axonn_rt_add(axonn_rt *rt, const axonn_real *a, const axonn_real *b,
                          int64_t count, axonn_real *out) {
  AXONN_TRACE(rt, "add", "compute");
  (void)rt;
  for (int64_t i = 0; i < count; ++i)
    out[i] = a[i] + b[i];
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Cross-entropy
//===----------------------------------------------------------------------===//

/// sum_v exp(x[v] - max), accumulated in double.
AXONN_CLONES static double sumExp(const axonn_real *x, int64_t n, axonn_real max) {
  return axonn::fast::sum(n, [&](int64_t v) { return axonn::fast::exp(x[v] - max); });
}

/// g[v] = exp(x[v] - max) * scale.
AXONN_CLONES static void softmaxGrad(const axonn_real *x, int64_t n, axonn_real max,
                                     axonn_real scale, axonn_real *g) {
  for (int64_t v = 0; v < n; ++v)
    g[v] = axonn::fast::exp(x[v] - max) * scale;
}

// A token's row is read from memory once: its maximum, then (the row in
// cache) its sum relative to it.
axonn_status axonn_rt_logits_max(axonn_rt *rt, const axonn_real *logits,
                                 const int32_t *targets, int64_t tokens,
                                 int64_t rows, axonn_axes vocabAxes,
                                 int64_t vocabSize, axonn_real *max,
                                 axonn_real *partial) {
  AXONN_TRACE(rt, "logits_max", "compute");
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  int64_t real = realRows(rows, offset, vocabSize);
  for (int64_t t = 0; t < tokens; ++t) {
    const axonn_real *row = logits + t * rows;
    axonn_real m = -INFINITY;
    for (int64_t v = 0; v < real; ++v)
      m = std::max(m, row[v]);
    max[t] = m;
    int64_t target = int64_t(targets[t]) - offset;
    partial[t * 2] = axonn_real(real > 0 ? sumExp(row, real, m) : 0.0);
    partial[t * 2 + 1] = target >= 0 && target < real ? row[target] : 0.0f;
  }
  return AXONN_OK;
}

axonn_status axonn_rt_softmax_sums(axonn_rt *rt, const axonn_real *partial,
                                   const axonn_real *localMax,
                                   const axonn_real *max, int64_t tokens,
                                   axonn_real *sums) {
  AXONN_TRACE(rt, "softmax_sums", "compute");
  (void)rt;
  for (int64_t t = 0; t < tokens; ++t) {
    // A slice of padding only has no sum (and a maximum of -inf); a NaN
    // stays NaN.
    double p = partial[t * 2];
    sums[t * 2] =
        axonn_real(p == 0 ? 0.0 : p * std::exp(double(localMax[t]) - max[t]));
    sums[t * 2 + 1] = partial[t * 2 + 1];
  }
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy(axonn_rt *rt, const axonn_real *max,
                                    const axonn_real *sums, int64_t tokens,
                                    int64_t globalTokens, axonn_real *loss) {
  AXONN_TRACE(rt, "cross_entropy", "compute");
  (void)rt;
  double total = 0;
  for (int64_t t = 0; t < tokens; ++t)
    total += double(max[t]) + std::log(double(sums[t * 2])) - sums[t * 2 + 1];
  *loss = axonn_real(total / double(globalTokens));
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy_grad(axonn_rt *rt, const axonn_real *logits,
                                         const axonn_real *max, const axonn_real *sums,
                                         const int32_t *targets, int64_t tokens,
                                         int64_t rows, axonn_axes vocabAxes,
                                         int64_t vocabSize,
                                         int64_t globalTokens, axonn_real *dlogits) {
  AXONN_TRACE(rt, "cross_entropy_grad", "compute");
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  int64_t real = realRows(rows, offset, vocabSize);
  double count = double(globalTokens);
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t target = int64_t(targets[t]) - offset;
    const axonn_real *l = logits + t * rows;
    axonn_real *g = dlogits + t * rows;
    softmaxGrad(l, real, max[t], axonn_real(1 / (double(sums[t * 2]) * count)), g);
    if (target >= 0 && target < real)
      g[target] -= axonn_real(1 / count);
    for (int64_t v = real; v < rows; ++v)
      g[v] = 0;
  }
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Goldfish loss
//===----------------------------------------------------------------------===//


axonn_status axonn_rt_goldfish_mask(axonn_rt *rt, const int32_t *targets,
                                    int64_t rows, int64_t seq,
                                    int32_t strategy, int64_t k, int64_t h,
                                    axonn_real *keep, axonn_real *count) {
  AXONN_TRACE(rt, "goldfish_mask", "compute");
  if (k < 2 || h < 1 || (strategy != AXONN_GOLDFISH_HASH &&
                         strategy != AXONN_GOLDFISH_STATIC)) {
    if (rt)
      return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                      "goldfish mask: k = %lld must be at least 2 and h = "
                      "%lld at least 1",
                      (long long)k, (long long)h);
    return AXONN_ERR_INVALID_ARGUMENT;
  }
  int64_t kept = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t *row = targets + r * seq;
    for (int64_t t = 0; t < seq; ++t) {
      bool dropped = axonn::goldfishDropped(row, t, strategy, k, h);
      keep[r * seq + t] = dropped ? axonn_real(0) : axonn_real(1);
      kept += dropped ? 0 : 1;
    }
  }
  if (count)
    *count = axonn_real(kept);
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy_masked(axonn_rt *rt, const axonn_real *max,
                                           const axonn_real *sums,
                                           const axonn_real *keep,
                                           const axonn_real *count,
                                           int64_t tokens, axonn_real *loss) {
  AXONN_TRACE(rt, "cross_entropy_masked", "compute");
  (void)rt;
  double total = 0;
  for (int64_t t = 0; t < tokens; ++t)
    if (keep[t] != 0)
      total += double(max[t]) + std::log(double(sums[t * 2])) - sums[t * 2 + 1];
  *loss = *count > 0 ? axonn_real(total / double(*count)) : axonn_real(0);
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy_grad_masked(
    axonn_rt *rt, const axonn_real *logits, const axonn_real *max,
    const axonn_real *sums, const int32_t *targets, const axonn_real *keep,
    const axonn_real *count, int64_t tokens, int64_t rows,
    axonn_axes vocabAxes, int64_t vocabSize, axonn_real *dlogits) {
  AXONN_TRACE(rt, "cross_entropy_grad_masked", "compute");
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  int64_t real = realRows(rows, offset, vocabSize);
  double n = double(*count);
  for (int64_t t = 0; t < tokens; ++t) {
    axonn_real *g = dlogits + t * rows;
    if (keep[t] == 0 || n <= 0) {
      std::fill(g, g + rows, axonn_real(0));
      continue;
    }
    int64_t target = int64_t(targets[t]) - offset;
    softmaxGrad(logits + t * rows, real, max[t],
                axonn_real(1 / (double(sums[t * 2]) * n)), g);
    if (target >= 0 && target < real)
      g[target] -= axonn_real(1 / n);
    for (int64_t v = real; v < rows; ++v)
      g[v] = 0;
  }
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

AXONN_CLONES static double sumSquares(const axonn_real *x, int64_t n) {
  return axonn::fast::sum(n, [&](int64_t k) { return double(x[k]) * x[k]; });
}

axonn_status axonn_rt_sum_squares(axonn_rt *rt, const axonn_real *grad, int64_t size,
                                  double scale, int32_t first, axonn_real *result) {
  AXONN_TRACE(rt, "sum_squares", "optimizer");
  (void)rt;
  double squares = sumSquares(grad, size);
  *result = axonn_real((first ? 0.0 : double(*result)) + scale * squares);
  return AXONN_OK;
}

axonn_status axonn_rt_sum_squares_group(axonn_rt *rt, int64_t tensors,
                                        const axonn_real *const *grads,
                                        const int64_t *sizes,
                                        const double *scales,
                                        axonn_real *result) {
  return axonn::sumSquaresEach(axonn_rt_sum_squares, rt, tensors, grads,
                               sizes, scales, result);
}

axonn_status axonn_rt_sqrt(axonn_rt *rt, const axonn_real *x, axonn_real *y) {
  AXONN_TRACE(rt, "sqrt", "optimizer");
  (void)rt;
  *y = std::sqrt(*x);
  return AXONN_OK;
}

/// AdamW on float32, in the form PyTorch's fused AdamW uses:
/// p -= lr/c1 * m / (sqrt(v)/sqrt(c2) + eps) + lr*wd * p.
AXONN_CLONES static void adamwLoop(axonn_real *param, const axonn_real *grad, axonn_real *m,
                                   axonn_real *v, axonn_real *master, int64_t count,
                                   axonn_real factor, axonn_real beta1, axonn_real beta2,
                                   axonn_real stepSize, axonn_real invRootC2, axonn_real eps,
                                   axonn_real decay) {
  axonn_real *weights = master ? master : param;
  for (int64_t i = 0; i < count; ++i) {
    axonn_real g = factor * grad[i];
    axonn_real mi = beta1 * m[i] + (1 - beta1) * g;
    axonn_real vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    axonn_real p = weights[i];
    p -= stepSize * mi / (std::sqrt(vi) * invRootC2 + eps) + decay * p;
    weights[i] = p;
  }
  if (master)
    for (int64_t i = 0; i < count; ++i)
      param[i] = master[i];
}

axonn_status axonn_rt_adamw(axonn_rt *rt, axonn_real *param, const axonn_real *grad,
                            axonn_real *m, axonn_real *v, axonn_real *master, int64_t count,
                            const int64_t *stepPtr, const axonn_real *norm,
                            double lr, double minLr, double beta1, double beta2,
                            double eps, double weightDecay, double gradClip,
                            int64_t warmupSteps, int64_t steps,
                            int32_t schedule, int32_t decay) {
  AXONN_TRACE(rt, "adamw", "optimizer");
  (void)rt;
  axonn_adamw_config c{lr,          minLr,    beta1,       beta2, eps,
                       weightDecay, gradClip, warmupSteps, steps, schedule};
  int64_t step = *stepPtr;
  double rate = axonn_rt_learning_rate(&c, step);
  double factor =
      gradClip > 0 ? std::min(1.0, gradClip / (double(*norm) + 1e-6)) : 1.0;
  double t = double(step + 1);
  double correction1 = 1 - std::pow(beta1, t);
  double correction2 = 1 - std::pow(beta2, t);
  double wd = decay ? weightDecay : 0;
  adamwLoop(param, grad, m, v, master, count, axonn_real(factor), axonn_real(beta1),
            axonn_real(beta2), axonn_real(rate / correction1),
            axonn_real(1 / std::sqrt(correction2)), axonn_real(eps), axonn_real(rate * wd));
  return AXONN_OK;
}

axonn_status axonn_rt_adamw_group(
    axonn_rt *rt, int64_t tensors, axonn_real *const *params,
    const axonn_real *const *grads, axonn_real *const *m,
    axonn_real *const *v, axonn_real *const *master, const int64_t *counts,
    const int32_t *decay, const int64_t *step, const axonn_real *norm,
    double lr, double minLr, double beta1, double beta2, double eps,
    double weightDecay, double gradClip, int64_t warmupSteps, int64_t steps,
    int32_t schedule) {
  return axonn::adamwEach(axonn_rt_adamw, rt, tensors, params, grads, m, v,
                          master, counts, decay, step, norm,
                          {lr, minLr, beta1, beta2, eps, weightDecay, gradClip,
                           warmupSteps, steps, schedule});
}

} // extern "C"
