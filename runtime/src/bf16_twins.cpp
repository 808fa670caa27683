//===- bf16_twins.cpp - the bf16 kernels, over the fp32 ones --------------===//
//
// Each `_bf16` kernel widens its bf16 inputs into fp32 working copies (the
// backend's kernel memory), runs the fp32 kernel, and rounds the results
// back to bf16. The arithmetic is the fp32 kernel's; only storage is bf16,
// which is what a program trained in bf16 needs to be checked against
// fp32. Both backends link this file; the collectives' twins are each
// backend's own (both reduce bf16 in fp32). A backend that defines
// AXONN_RT_NATIVE_BF16_KERNELS (CUDA) has its own twins of everything but
// the cached attention, and calls the widened attention below where its
// own does not apply.
//
//===----------------------------------------------------------------------===//

#include "kernel_common.h"
#include "runtime_internal.h"

#include <vector>

namespace {

/// The fp32 working copies of one bf16 kernel call.
class Widened {
public:
  explicit Widened(axonn_rt *rt) : rt(rt) {}
  ~Widened() {
    for (const Copy &c : copies)
      axonn::widenFree(rt, c.wide);
  }
  Widened(const Widened &) = delete;
  Widened &operator=(const Widened &) = delete;

  /// An input: its fp32 copy (null for null).
  const axonn_real *in(const axonn_bf16 *p, int64_t count) {
    return make(const_cast<axonn_bf16 *>(p), count, true, false);
  }
  /// A result: fp32 memory, rounded into `p` by finish().
  axonn_real *out(axonn_bf16 *p, int64_t count) {
    return make(p, count, false, true);
  }
  /// Updated in place: both.
  axonn_real *inOut(axonn_bf16 *p, int64_t count) {
    return make(p, count, true, true);
  }
  /// The first failure of the copies above, or AXONN_OK.
  axonn_status status() const { return failed; }
  /// After the fp32 kernel returned `ran`: rounds the results back.
  axonn_status finish(axonn_status ran) {
    if (ran != AXONN_OK)
      return ran;
    for (const Copy &c : copies)
      if (c.written)
        if (axonn_status s = axonn::narrow(rt, c.wide, c.count, c.narrow))
          return s;
    return AXONN_OK;
  }

private:
  struct Copy {
    axonn_bf16 *narrow;
    axonn_real *wide;
    int64_t count;
    bool written;
  };
  axonn_real *make(axonn_bf16 *p, int64_t count, bool read, bool written) {
    if (!p || failed != AXONN_OK)
      return nullptr;
    axonn_real *wide = nullptr;
    if ((failed = axonn::widenAlloc(rt, count, !read, &wide)) != AXONN_OK)
      return nullptr;
    copies.push_back({p, wide, count, written});
    if (read)
      failed = axonn::widen(rt, p, count, wide);
    return wide;
  }

  axonn_rt *rt;
  std::vector<Copy> copies;
  axonn_status failed = AXONN_OK;
};

} // namespace

/// Runs `call` (an fp32 kernel call over the copies of `w`) once every
/// copy was made, then rounds the results back.
#define AXONN_WIDENED(w, call)                                                 \
  do {                                                                         \
    if (axonn_status axonn_s_ = (w).status())                                  \
      return axonn_s_;                                                         \
    return (w).finish(call);                                                   \
  } while (0)

axonn_status axonn::widenedAttention(axonn_rt *rt, const axonn_bf16 *qkv,
                                     int64_t batch, int64_t seq, int64_t heads,
                                     int64_t kvHeads, int64_t headDim,
                                     int32_t causal, double ropeBase,
                                     axonn_bf16 *out, axonn_real *lse) {
  Widened w(rt);
  int64_t tokens = batch * seq;
  const axonn_real *q = w.in(qkv, tokens * (heads + 2 * kvHeads) * headDim);
  axonn_real *o = w.out(out, tokens * heads * headDim);
  AXONN_WIDENED(w, axonn_rt_attention(rt, q, batch, seq, heads, kvHeads,
                                      headDim, causal, ropeBase, o, lse));
}

axonn_status axonn::widenedAttentionGrad(
    axonn_rt *rt, const axonn_bf16 *dout, const axonn_bf16 *qkv,
    const axonn_bf16 *out, const axonn_real *lse, int64_t batch, int64_t seq,
    int64_t heads, int64_t kvHeads, int64_t headDim, int32_t causal,
    double ropeBase, axonn_bf16 *dqkv) {
  Widened w(rt);
  int64_t tokens = batch * seq;
  int64_t width = (heads + 2 * kvHeads) * headDim;
  const axonn_real *d = w.in(dout, tokens * heads * headDim);
  const axonn_real *q = w.in(qkv, tokens * width);
  const axonn_real *o = w.in(out, tokens * heads * headDim);
  axonn_real *dq = w.out(dqkv, tokens * width);
  AXONN_WIDENED(w, axonn_rt_attention_grad(rt, d, q, o, lse, batch, seq, heads,
                                           kvHeads, headDim, causal, ropeBase,
                                           dq));
}

extern "C" {

#ifndef AXONN_RT_NATIVE_BF16_KERNELS
axonn_status axonn_rt_embedding_bf16(axonn_rt *rt, const int32_t *tokens,
                                     int64_t count, int64_t seq,
                                     const axonn_bf16 *table, int64_t rows,
                                     int64_t width,
                                     const axonn_bf16 *positions,
                                     int64_t positionRows,
                                     const int32_t *startAt,
                                     axonn_axes vocabAxes, axonn_axes onceOver,
                                     axonn_bf16 *out) {
  Widened w(rt);
  const axonn_real *t = w.in(table, rows * width);
  const axonn_real *p = w.in(positions, positionRows * width);
  axonn_real *o = w.out(out, count * width);
  AXONN_WIDENED(w, axonn_rt_embedding(rt, tokens, count, seq, t, rows, width,
                                      p, positionRows, startAt, vocabAxes,
                                      onceOver, o));
}

axonn_status axonn_rt_embedding_grad_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                          const int32_t *tokens, int64_t count,
                                          int64_t rows, int64_t width,
                                          axonn_axes vocabAxes,
                                          const axonn_bf16 *accumulate,
                                          axonn_bf16 *tableGrad) {
  Widened w(rt);
  const axonn_real *g = w.in(grad, count * width);
  const axonn_real *acc = w.in(accumulate, rows * width); // null: null
  axonn_real *t = w.out(tableGrad, rows * width);
  AXONN_WIDENED(w, axonn_rt_embedding_grad(rt, g, tokens, count, rows, width,
                                           vocabAxes, acc, t));
}

axonn_status axonn_rt_position_grad_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                         int64_t count, int64_t seq,
                                         int64_t positions, int64_t width,
                                         axonn_bf16 *positionsGrad) {
  Widened w(rt);
  const axonn_real *g = w.in(grad, count * width);
  axonn_real *p = w.out(positionsGrad, positions * width);
  AXONN_WIDENED(w, axonn_rt_position_grad(rt, g, count, seq, positions, width,
                                          p));
}

axonn_status axonn_rt_layer_norm_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                      const axonn_bf16 *scale,
                                      const axonn_bf16 *bias,
                                      const axonn_real *stats, int64_t tokens,
                                      int64_t local, int64_t width,
                                      double epsilon, axonn_bf16 *y) {
  Widened w(rt);
  const axonn_real *xw = w.in(x, tokens * local);
  const axonn_real *s = w.in(scale, local);
  const axonn_real *b = w.in(bias, local);
  axonn_real *yw = w.out(y, tokens * local);
  AXONN_WIDENED(w, axonn_rt_layer_norm(rt, xw, s, b, stats, tokens, local,
                                       width, epsilon, yw));
}

axonn_status axonn_rt_rms_norm_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                    const axonn_bf16 *scale,
                                    const axonn_real *stats, int64_t tokens,
                                    int64_t local, int64_t width,
                                    double epsilon, axonn_bf16 *y) {
  Widened w(rt);
  const axonn_real *xw = w.in(x, tokens * local);
  const axonn_real *s = w.in(scale, local);
  axonn_real *yw = w.out(y, tokens * local);
  AXONN_WIDENED(w, axonn_rt_rms_norm(rt, xw, s, stats, tokens, local, width,
                                     epsilon, yw));
}

// The residual norms normalize the stored (rounded) sum, as the two ops
// they fuse do: the add's twin, then the norm's.
axonn_status axonn_rt_residual_layer_norm_bf16(
    axonn_rt *rt, const axonn_bf16 *x, const axonn_bf16 *residual,
    const axonn_bf16 *scale, const axonn_bf16 *bias, int64_t tokens,
    int64_t width, double epsilon, axonn_bf16 *sum, axonn_bf16 *y) {
  if (axonn_status s =
          axonn_rt_add_bf16(rt, x, residual, tokens * width, sum))
    return s;
  return axonn_rt_layer_norm_bf16(rt, sum, scale, bias, nullptr, tokens,
                                  width, width, epsilon, y);
}

axonn_status axonn_rt_residual_rms_norm_bf16(
    axonn_rt *rt, const axonn_bf16 *x, const axonn_bf16 *residual,
    const axonn_bf16 *scale, int64_t tokens, int64_t width, double epsilon,
    axonn_bf16 *sum, axonn_bf16 *y) {
  if (axonn_status s =
          axonn_rt_add_bf16(rt, x, residual, tokens * width, sum))
    return s;
  return axonn_rt_rms_norm_bf16(rt, sum, scale, nullptr, tokens, width, width,
                                epsilon, y);
}

axonn_status axonn_rt_norm_stats_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                      int64_t tokens, int64_t local,
                                      int32_t rms, axonn_real *stats) {
  Widened w(rt);
  const axonn_real *xw = w.in(x, tokens * local);
  AXONN_WIDENED(w, axonn_rt_norm_stats(rt, xw, tokens, local, rms, stats));
}

axonn_status axonn_rt_norm_grad_stats_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                           const axonn_bf16 *x,
                                           const axonn_bf16 *scale,
                                           int64_t tokens, int64_t local,
                                           int32_t rms, axonn_real *stats) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, tokens * local);
  const axonn_real *xw = w.in(x, tokens * local);
  const axonn_real *s = w.in(scale, local);
  AXONN_WIDENED(w, axonn_rt_norm_grad_stats(rt, d, xw, s, tokens, local, rms,
                                            stats));
}

axonn_status axonn_rt_layer_norm_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x,
    const axonn_bf16 *scale, const axonn_real *stats, int64_t tokens,
    int64_t local, int64_t width, double epsilon, const axonn_bf16 *accumulate,
    axonn_bf16 *dx, axonn_bf16 *scaleGrad, axonn_bf16 *biasGrad) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, tokens * local);
  const axonn_real *xw = w.in(x, tokens * local);
  const axonn_real *s = w.in(scale, local);
  const axonn_real *acc = w.in(accumulate, tokens * local); // null: null
  axonn_real *dxw = w.out(dx, tokens * local);
  axonn_real *sg = w.out(scaleGrad, local);
  axonn_real *bg = w.out(biasGrad, local);
  AXONN_WIDENED(w, axonn_rt_layer_norm_grad(rt, d, xw, s, stats, tokens, local,
                                            width, epsilon, acc, dxw, sg, bg));
}

axonn_status axonn_rt_rms_norm_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x,
    const axonn_bf16 *scale, const axonn_real *stats, int64_t tokens,
    int64_t local, int64_t width, double epsilon, const axonn_bf16 *accumulate,
    axonn_bf16 *dx, axonn_bf16 *scaleGrad) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, tokens * local);
  const axonn_real *xw = w.in(x, tokens * local);
  const axonn_real *s = w.in(scale, local);
  const axonn_real *acc = w.in(accumulate, tokens * local); // null: null
  axonn_real *dxw = w.out(dx, tokens * local);
  axonn_real *sg = w.out(scaleGrad, local);
  AXONN_WIDENED(w, axonn_rt_rms_norm_grad(rt, d, xw, s, stats, tokens, local,
                                          width, epsilon, acc, dxw, sg));
}

axonn_status axonn_rt_linear_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                  const axonn_bf16 *weight,
                                  const axonn_bf16 *bias, axonn_axes onceOver,
                                  int64_t rows, int64_t n, int64_t k,
                                  axonn_bf16 *y) {
  Widened w(rt);
  const axonn_real *xw = w.in(x, rows * k);
  const axonn_real *ww = w.in(weight, n * k);
  const axonn_real *b = w.in(bias, n);
  axonn_real *yw = w.out(y, rows * n);
  AXONN_WIDENED(w, axonn_rt_linear(rt, xw, ww, b, onceOver, rows, n, k, yw));
}

axonn_status axonn_rt_linear_gelu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                       const axonn_bf16 *weight,
                                       const axonn_bf16 *bias, int64_t rows,
                                       int64_t n, int64_t k,
                                       int32_t approximation, axonn_bf16 *pre,
                                       axonn_bf16 *y) {
  Widened w(rt);
  const axonn_real *xw = w.in(x, rows * k);
  const axonn_real *ww = w.in(weight, n * k);
  const axonn_real *b = w.in(bias, n);
  axonn_real *pw = w.out(pre, rows * n);
  axonn_real *yw = w.out(y, rows * n);
  AXONN_WIDENED(w, axonn_rt_linear_gelu(rt, xw, ww, b, rows, n, k,
                                        approximation, pw, yw));
}

axonn_status axonn_rt_linear_grad_input_bf16(axonn_rt *rt,
                                             const axonn_bf16 *dy,
                                             const axonn_bf16 *weight,
                                             int64_t rows, int64_t n,
                                             int64_t k, axonn_bf16 *dx) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, rows * n);
  const axonn_real *ww = w.in(weight, n * k);
  axonn_real *dxw = w.out(dx, rows * k);
  AXONN_WIDENED(w, axonn_rt_linear_grad_input(rt, d, ww, rows, n, k, dxw));
}

axonn_status axonn_rt_linear_grad_input_gelu_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *weight,
    const axonn_bf16 *pre, int64_t rows, int64_t n, int64_t k,
    int32_t approximation, axonn_bf16 *dx) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, rows * n);
  const axonn_real *ww = w.in(weight, n * k);
  const axonn_real *p = w.in(pre, rows * k);
  axonn_real *dxw = w.out(dx, rows * k);
  AXONN_WIDENED(w, axonn_rt_linear_grad_input_gelu(rt, d, ww, p, rows, n, k,
                                                   approximation, dxw));
}

axonn_status axonn_rt_linear_grad_weight_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x, int64_t rows,
    int64_t n, int64_t k, axonn_bf16 *dw, axonn_bf16 *biasGrad) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, rows * n);
  const axonn_real *xw = w.in(x, rows * k);
  axonn_real *dww = w.out(dw, n * k);
  axonn_real *dbw = w.out(biasGrad, n); // null: null
  AXONN_WIDENED(w,
                axonn_rt_linear_grad_weight(rt, d, xw, rows, n, k, dww, dbw));
}

axonn_status axonn_rt_linear_grad_bias_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                            int64_t rows, int64_t n,
                                            axonn_bf16 *db) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, rows * n);
  axonn_real *dbw = w.out(db, n);
  AXONN_WIDENED(w, axonn_rt_linear_grad_bias(rt, d, rows, n, dbw));
}

axonn_status axonn_rt_attention_bf16(axonn_rt *rt, const axonn_bf16 *qkv,
                                     int64_t batch, int64_t seq, int64_t heads,
                                     int64_t kvHeads, int64_t headDim,
                                     int32_t causal, double ropeBase,
                                     axonn_bf16 *out, axonn_real *lse) {
  // (refused as by the fp32 kernels, though the widened copies would not
  // mind: the same rules on every backend and storage type)
  if (const char *why =
          axonn::attentionOverlap(qkv, nullptr, out, batch, seq, heads, kvHeads,
                                  headDim, sizeof(axonn_bf16)))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "%s", why);
  return axonn::widenedAttention(rt, qkv, batch, seq, heads, kvHeads, headDim,
                                 causal, ropeBase, out, lse);
}

axonn_status axonn_rt_attention_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dout, const axonn_bf16 *qkv,
    const axonn_bf16 *out, const axonn_real *lse, int64_t batch, int64_t seq,
    int64_t heads, int64_t kvHeads, int64_t headDim, int32_t causal,
    double ropeBase, axonn_bf16 *dqkv) {
  if (const char *why =
          axonn::attentionOverlap(qkv, dout, dqkv, batch, seq, heads, kvHeads,
                                  headDim, sizeof(axonn_bf16)))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "%s", why);
  return axonn::widenedAttentionGrad(rt, dout, qkv, out, lse, batch, seq,
                                     heads, kvHeads, headDim, causal, ropeBase,
                                     dqkv);
}
#endif // AXONN_RT_NATIVE_BF16_KERNELS

axonn_status axonn_rt_cached_attention_bf16(
    axonn_rt *rt, const axonn_bf16 *qkv, int64_t batch, int64_t seq,
    int64_t heads, int64_t kvHeads, int64_t headDim, double ropeBase,
    axonn_bf16 *kCache, axonn_bf16 *vCache, int64_t capacity,
    const int32_t *startAt, axonn_bf16 *out) {
  Widened w(rt);
  int64_t tokens = batch * seq;
  int64_t cache = batch * kvHeads * capacity * headDim;
  const axonn_real *q = w.in(qkv, tokens * (heads + 2 * kvHeads) * headDim);
  axonn_real *k = w.inOut(kCache, cache);
  axonn_real *v = w.inOut(vCache, cache);
  axonn_real *o = w.out(out, tokens * heads * headDim);
  AXONN_WIDENED(w, axonn_rt_cached_attention(rt, q, batch, seq, heads,
                                             kvHeads, headDim, ropeBase, k, v,
                                             capacity, startAt, o));
}

#ifndef AXONN_RT_NATIVE_BF16_KERNELS
axonn_status axonn_rt_gelu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                int64_t count, int32_t approximation,
                                axonn_bf16 *y) {
  Widened w(rt);
  const axonn_real *xw = w.in(x, count);
  axonn_real *yw = w.out(y, count);
  AXONN_WIDENED(w, axonn_rt_gelu(rt, xw, count, approximation, yw));
}

axonn_status axonn_rt_gelu_grad_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                     const axonn_bf16 *x, int64_t count,
                                     int32_t approximation, axonn_bf16 *dx) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, count);
  const axonn_real *xw = w.in(x, count);
  axonn_real *dxw = w.out(dx, count);
  AXONN_WIDENED(w, axonn_rt_gelu_grad(rt, d, xw, count, approximation, dxw));
}

axonn_status axonn_rt_swiglu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                  int64_t count, axonn_bf16 *y) {
  Widened w(rt);
  const axonn_real *xw = w.in(x, 2 * count);
  axonn_real *yw = w.out(y, count);
  AXONN_WIDENED(w, axonn_rt_swiglu(rt, xw, count, yw));
}

axonn_status axonn_rt_swiglu_grad_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                       const axonn_bf16 *x, int64_t count,
                                       axonn_bf16 *dx) {
  Widened w(rt);
  const axonn_real *d = w.in(dy, count);
  const axonn_real *xw = w.in(x, 2 * count);
  axonn_real *dxw = w.out(dx, 2 * count);
  AXONN_WIDENED(w, axonn_rt_swiglu_grad(rt, d, xw, count, dxw));
}

axonn_status axonn_rt_add_bf16(axonn_rt *rt, const axonn_bf16 *a,
                               const axonn_bf16 *b, int64_t count,
                               axonn_bf16 *out) {
  Widened w(rt);
  const axonn_real *aw = w.in(a, count);
  const axonn_real *bw = w.in(b, count);
  axonn_real *o = w.out(out, count);
  AXONN_WIDENED(w, axonn_rt_add(rt, aw, bw, count, o));
}

axonn_status axonn_rt_logits_max_bf16(axonn_rt *rt, const axonn_bf16 *logits,
                                      const int32_t *targets, int64_t tokens,
                                      int64_t rows, axonn_axes vocabAxes,
                                      int64_t vocabSize, axonn_real *max,
                                      axonn_real *partial) {
  Widened w(rt);
  const axonn_real *l = w.in(logits, tokens * rows);
  AXONN_WIDENED(w, axonn_rt_logits_max(rt, l, targets, tokens, rows,
                                       vocabAxes, vocabSize, max, partial));
}

axonn_status axonn_rt_cross_entropy_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *logits, const axonn_real *max,
    const axonn_real *sums, const int32_t *targets, int64_t tokens,
    int64_t rows, axonn_axes vocabAxes, int64_t vocabSize,
    int64_t globalTokens, axonn_bf16 *dlogits) {
  Widened w(rt);
  const axonn_real *l = w.in(logits, tokens * rows);
  axonn_real *d = w.out(dlogits, tokens * rows);
  AXONN_WIDENED(w, axonn_rt_cross_entropy_grad(rt, l, max, sums, targets,
                                               tokens, rows, vocabAxes,
                                               vocabSize, globalTokens, d));
}

axonn_status axonn_rt_cross_entropy_grad_masked_bf16(
    axonn_rt *rt, const axonn_bf16 *logits, const axonn_real *max,
    const axonn_real *sums, const int32_t *targets, const axonn_real *keep,
    const axonn_real *count, int64_t tokens, int64_t rows,
    axonn_axes vocabAxes, int64_t vocabSize, axonn_bf16 *dlogits) {
  Widened w(rt);
  const axonn_real *l = w.in(logits, tokens * rows);
  axonn_real *d = w.out(dlogits, tokens * rows);
  AXONN_WIDENED(w, axonn_rt_cross_entropy_grad_masked(
                       rt, l, max, sums, targets, keep, count, tokens, rows,
                       vocabAxes, vocabSize, d));
}

axonn_status axonn_rt_sum_squares_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                       int64_t size, double scale,
                                       int32_t first, axonn_real *result) {
  Widened w(rt);
  const axonn_real *g = w.in(grad, size);
  AXONN_WIDENED(w, axonn_rt_sum_squares(rt, g, size, scale, first, result));
}

axonn_status axonn_rt_adamw_bf16(
    axonn_rt *rt, axonn_bf16 *param, const axonn_bf16 *grad, axonn_real *m,
    axonn_real *v, axonn_real *master, int64_t count, const int64_t *step,
    const axonn_real *norm, double lr, double minLr, double beta1,
    double beta2, double eps, double weightDecay, double gradClip,
    int64_t warmupSteps, int64_t steps, int32_t schedule, int32_t decay) {
  if (!master)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "adamw_bf16: bf16 parameters need fp32 master weights");
  Widened w(rt);
  const axonn_real *g = w.in(grad, count);
  // The fp32 kernel updates the master and copies it into param: the
  // copy is rounded back into the bf16 parameter.
  axonn_real *p = w.out(param, count);
  AXONN_WIDENED(w, axonn_rt_adamw(rt, p, g, m, v, master, count, step, norm,
                                  lr, minLr, beta1, beta2, eps, weightDecay,
                                  gradClip, warmupSteps, steps, schedule,
                                  decay));
}

axonn_status axonn_rt_sum_squares_group_bf16(axonn_rt *rt, int64_t tensors,
                                             const axonn_bf16 *const *grads,
                                             const int64_t *sizes,
                                             const double *scales,
                                             axonn_real *result) {
  return axonn::sumSquaresEach(axonn_rt_sum_squares_bf16, rt, tensors, grads,
                               sizes, scales, result);
}

axonn_status axonn_rt_adamw_group_bf16(
    axonn_rt *rt, int64_t tensors, axonn_bf16 *const *params,
    const axonn_bf16 *const *grads, axonn_real *const *m,
    axonn_real *const *v, axonn_real *const *master, const int64_t *counts,
    const int32_t *decay, const int64_t *step, const axonn_real *norm,
    double lr, double minLr, double beta1, double beta2, double eps,
    double weightDecay, double gradClip, int64_t warmupSteps, int64_t steps,
    int32_t schedule) {
  return axonn::adamwEach(axonn_rt_adamw_bf16, rt, tensors, params, grads, m,
                          v, master, counts, decay, step, norm,
                          {lr, minLr, beta1, beta2, eps, weightDecay, gradClip,
                           warmupSteps, steps, schedule});
}
#endif // AXONN_RT_NATIVE_BF16_KERNELS

} // extern "C"
