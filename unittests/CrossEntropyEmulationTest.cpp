//===- CrossEntropyEmulationTest.cpp - the CUDA cross-entropy on the CPU --===//
//
// Runs the CUDA backend's cross-entropy (runtime/cuda/cross_entropy.cuh: the
// logits' statistics, the rescaled sums, the loss and the logits' gradient,
// with the block reductions of reductions.cuh) on the CPU through
// runtime/check/cuda_emulation.h, launched as kernels.cu launches them, and
// compares every result with the CPU backend's calls:
//
// - rows of 16-byte pieces (1024 logits from an aligned address), the same
//   rows from an address one element off and rows of 1003 (whose starts
//   are not all aligned: one element at a time throughout);
// - a padded vocabulary (the rows past vocab_size get a zero gradient and
//   count in no statistic; 1001 real rows of 1024: pieces, then the one
//   past the last whole piece) and a rank's slice of a sharded one (targets in
//   other slices add no target logit and no -1/n): the CPU backend on one
//   rank sees slice 0, so its targets are shifted by the slice's offset;
// - the plain loss over all tokens and the masked one (some tokens
//   dropped, over the kept count), in fp32 and bf16 storage.
//
// Tolerances: the statistics and the loss within 1e-5 relative (both sum
// in double over fp32 exponentials, in other orders, the GPU's exp2f of a
// fused multiply-add against the CPU's expf), the gradient within 1e-5 of
// its largest magnitude in fp32 and 1e-2 in bf16 (the kernel check's).
//
//===----------------------------------------------------------------------===//

// (first: CUDA emulated for the kernels' source)
#include "EmulatedStorage.h"

#include "../runtime/cuda/cross_entropy.cuh"

#include "TestRuntime.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using namespace axonn::cuda;
using namespace axonn::emulation;

constexpr int64_t kTokens = 6;
/// Threads of the per-token kernels and of the loss's one block
/// (kernels.cu's kThreads and 1024).
constexpr unsigned kRowThreads = 256, kLossThreads = 1024;

/// One case: rows of `rows` logits, the first `real` real, the slice's
/// first global id `offset`, the logits `shift` elements into their array.
struct Case {
  int64_t rows, real, offset;
  int shift;
  bool masked;
};

std::string describe(const Case &c, bool bf16) {
  return std::to_string(c.rows) + " rows, " + std::to_string(c.real) +
         " real, offset " + std::to_string(c.offset) + ", shift " +
         std::to_string(c.shift) + (c.masked ? ", masked" : "") +
         (bf16 ? ", bf16" : ", fp32");
}

/// The statistics, loss and gradient of one side.
template <typename T> struct Results {
  std::vector<float> max, partial, sums, loss;
  std::vector<T> grad;
};

/// The CPU backend's calls in storage T.
template <typename T> struct Cpu;
template <> struct Cpu<float> {
  static constexpr auto logitsMax = axonn_rt_logits_max;
  static constexpr auto grad = axonn_rt_cross_entropy_grad;
  static constexpr auto gradMasked = axonn_rt_cross_entropy_grad_masked;
};
template <> struct Cpu<uint16_t> {
  static axonn_status logitsMax(axonn_rt *rt, const uint16_t *logits,
                                const int32_t *targets, int64_t tokens,
                                int64_t rows, axonn_axes axes, int64_t vocab,
                                float *max, float *partial) {
    return axonn_rt_logits_max_bf16(rt, bits(logits), targets, tokens, rows,
                                    axes, vocab, max, partial);
  }
  static axonn_status grad(axonn_rt *rt, const uint16_t *logits,
                           const float *max, const float *sums,
                           const int32_t *targets, int64_t tokens, int64_t rows,
                           axonn_axes axes, int64_t vocab, int64_t global,
                           uint16_t *dlogits) {
    return axonn_rt_cross_entropy_grad_bf16(
        rt, bits(logits), max, sums, targets, tokens, rows, axes, vocab, global,
        reinterpret_cast<axonn_bf16 *>(dlogits));
  }
  static axonn_status gradMasked(axonn_rt *rt, const uint16_t *logits,
                                 const float *max, const float *sums,
                                 const int32_t *targets, const float *keep,
                                 const float *count, int64_t tokens,
                                 int64_t rows, axonn_axes axes, int64_t vocab,
                                 uint16_t *dlogits) {
    return axonn_rt_cross_entropy_grad_masked_bf16(
        rt, bits(logits), max, sums, targets, keep, count, tokens, rows, axes,
        vocab, reinterpret_cast<axonn_bf16 *>(dlogits));
  }
  static const axonn_bf16 *bits(const uint16_t *p) {
    return reinterpret_cast<const axonn_bf16 *>(p);
  }
};

template <typename T> void check(const Case &c) {
  constexpr bool bf16 = std::is_same_v<T, uint16_t>;
  SCOPED_TRACE(describe(c, bf16));
  axonn_rt *rt = testRuntime();
  ASSERT_NE(rt, nullptr);
  std::mt19937 rng(unsigned(c.rows + c.offset + c.shift));
  // Logits around 3 with a spread of 4 (exponentials far from 1), and one
  // token's logits far larger (the running maximum moves late in the row).
  std::vector<T> storage =
      randomStorage<T>(rng, kTokens * c.rows + c.shift, 3.0f);
  for (T &x : storage)
    x = storageOf<T>(4.0f * valueOf(x) - 9.0f);
  for (int64_t v = c.rows / 2; v < c.rows; ++v)
    storage[size_t(c.shift + 2 * c.rows + v)] = storageOf<T>(40.0f);
  const T *logits = storage.data() + c.shift;
  // Global targets: in the slice (the first and the last real row among
  // them) and, for a slice past the first, in the slice before it.
  std::vector<int32_t> targets(kTokens), shifted(kTokens);
  std::uniform_int_distribution<int64_t> row(0, c.real - 1);
  for (int64_t t = 0; t < kTokens; ++t) {
    int64_t local = t == 0 ? 0 : t == 1 ? c.real - 1 : row(rng);
    targets[t] = int32_t(c.offset + local - (t == 3 && c.offset ? c.real : 0));
    shifted[t] = targets[t] - int32_t(c.offset);
  }
  std::vector<float> keep(kTokens, 1.0f), count(1, float(kTokens));
  if (c.masked) {
    keep[1] = keep[4] = 0.0f;
    count[0] = float(kTokens - 2);
  }
  // vocab_size on the CPU's slice 0: the slice's real rows exactly, or
  // none (every row real).
  int64_t vocab = c.real < c.rows ? c.real : 0;
  double global = c.masked ? 0.0 : double(kTokens);

  auto sized = [&](Results<T> &r) {
    r.max.assign(kTokens, NAN);
    r.partial.assign(2 * kTokens, NAN);
    r.sums.assign(2 * kTokens, NAN);
    r.loss.assign(1, NAN);
    r.grad.assign(size_t(kTokens * c.rows), storageOf<T>(NAN));
  };
  Results<T> want, got;
  sized(want);
  sized(got);

  ASSERT_EQ(Cpu<T>::logitsMax(rt, logits, shifted.data(), kTokens, c.rows, 0,
                              vocab, want.max.data(), want.partial.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_softmax_sums(rt, want.partial.data(), want.max.data(),
                                  want.max.data(), kTokens, want.sums.data()),
            AXONN_OK);
  if (c.masked) {
    ASSERT_EQ(axonn_rt_cross_entropy_masked(
                  rt, want.max.data(), want.sums.data(), keep.data(),
                  count.data(), kTokens, want.loss.data()),
              AXONN_OK);
    ASSERT_EQ(Cpu<T>::gradMasked(rt, logits, want.max.data(), want.sums.data(),
                                 shifted.data(), keep.data(), count.data(),
                                 kTokens, c.rows, 0, vocab, want.grad.data()),
              AXONN_OK);
  } else {
    ASSERT_EQ(axonn_rt_cross_entropy(rt, want.max.data(), want.sums.data(),
                                     kTokens, kTokens, want.loss.data()),
              AXONN_OK);
    ASSERT_EQ(Cpu<T>::grad(rt, logits, want.max.data(), want.sums.data(),
                           shifted.data(), kTokens, c.rows, 0, vocab, kTokens,
                           want.grad.data()),
              AXONN_OK);
  }

  // As kernels.cu launches them (one rank: the global maximum is the
  // slice's).
  const float *keepAt = c.masked ? keep.data() : nullptr;
  const float *countAt = c.masked ? count.data() : nullptr;
  launch(logitsMaxKernel<T>, {unsigned(kTokens), 1, 1}, kRowThreads, logits,
         static_cast<const int32_t *>(targets.data()), c.rows, c.real, c.offset,
         vectorRows(logits, c.rows), got.max.data(), got.partial.data());
  launch(softmaxSumsKernel, {1, 1, 1}, kRowThreads,
         static_cast<const float *>(got.partial.data()),
         static_cast<const float *>(got.max.data()),
         static_cast<const float *>(got.max.data()), kTokens, got.sums.data());
  launch(crossEntropyKernel, {1, 1, 1}, kLossThreads,
         static_cast<const float *>(got.max.data()),
         static_cast<const float *>(got.sums.data()), keepAt, countAt, kTokens,
         global, got.loss.data());
  T *dlogits = got.grad.data();
  launch(crossEntropyGradKernel<T>, {unsigned(kTokens), 1, 1}, kRowThreads,
         logits, static_cast<const float *>(got.max.data()),
         static_cast<const float *>(got.sums.data()),
         static_cast<const int32_t *>(targets.data()), keepAt, countAt, kTokens,
         c.rows, c.real, c.offset, global,
         vectorRows(logits, c.rows, static_cast<const T *>(dlogits)), dlogits);

  EXPECT_EQ(got.max, want.max) << "max";
  expectClose(got.partial, want.partial, 1e-5, "partial");
  expectClose(got.sums, want.sums, 1e-5, "sums");
  expectClose(got.loss, want.loss, 1e-5, "loss");
  expectClose(got.grad, want.grad, bf16 ? 1e-2 : 1e-5, "gradient");
  // Each element too, relative to itself: against the largest magnitude
  // (a target's -1/n) the small probabilities would pass as zeros. fp32:
  // 1e-5 (the exponentials' argument rounded differently); bf16: one
  // rounding step of 2^-8 relative either way (both round an fp32 value
  // that differs in the last bits), and a floor for values near zero.
  size_t far = 0, first = 0;
  double relative = bf16 ? 1.0 / 128 : 1e-5;
  for (size_t i = 0; i < want.grad.size(); ++i) {
    double g = valueOf(got.grad[i]), w = valueOf(want.grad[i]);
    if (!(std::abs(g - w) <= relative * std::abs(w) + 1e-9)) {
      if (far++ == 0)
        first = i;
    }
  }
  EXPECT_EQ(far, 0u) << "gradient elements beyond " << relative
                     << " of themselves, the first at " << first << ": "
                     << valueOf(got.grad[first]) << " against "
                     << valueOf(want.grad[first]);
  // The sums rescaled to a global maximum above the slice's (another
  // slice held larger logits): [partial * exp(local - global), target].
  std::vector<float> larger(kTokens), wantScaled(2 * kTokens, NAN),
      gotScaled(2 * kTokens, NAN);
  for (int64_t t = 0; t < kTokens; ++t)
    larger[t] = want.max[t] + 0.75f * float(t);
  ASSERT_EQ(axonn_rt_softmax_sums(rt, want.partial.data(), want.max.data(),
                                  larger.data(), kTokens, wantScaled.data()),
            AXONN_OK);
  launch(softmaxSumsKernel, {1, 1, 1}, kRowThreads,
         static_cast<const float *>(want.partial.data()),
         static_cast<const float *>(want.max.data()),
         static_cast<const float *>(larger.data()), kTokens, gotScaled.data());
  expectClose(gotScaled, wantScaled, 1e-6, "sums at a larger maximum");
  // The padding rows' gradient is zero, not left as it was.
  for (int64_t t = 0; t < kTokens; ++t)
    for (int64_t v = c.real; v < c.rows; ++v)
      ASSERT_EQ(valueOf(got.grad[size_t(t * c.rows + v)]), 0.0f)
          << "token " << t << ", row " << v;
  // The tolerance sees a target's -1/n: the same check fails against a
  // gradient without it.
  std::vector<T> missing = want.grad;
  int64_t t0 = c.masked ? 0 : 1; // (a kept token whose target is here)
  size_t at = size_t(t0 * c.rows + shifted[t0]);
  missing[at] = storageOf<T>(valueOf(missing[at]) + float(1.0 / kTokens));
  double scale = 0, worst = 0;
  for (size_t i = 0; i < missing.size(); ++i) {
    scale = std::max(scale, double(std::abs(valueOf(want.grad[i]))));
    worst = std::max(
        worst, double(std::abs(valueOf(missing[i]) - valueOf(want.grad[i]))));
  }
  EXPECT_GT(worst, (bf16 ? 1e-2 : 1e-5) * scale);
}

const Case kCases[] = {
    {1024, 1024, 0, 0, false}, // 16-byte pieces
    {1024, 1024, 0, 1, false}, // one element off: one at a time
    {1003, 1003, 0, 0, true},  // rows not all aligned: one at a time; masked
    {1024, 1001, 0, 0, false}, // padded: pieces, then the last real row
    {512, 512, 512, 0, true},  // a second slice; masked
};

TEST(CrossEntropyEmulation, Fp32) {
  for (const Case &c : kCases)
    check<float>(c);
}

TEST(CrossEntropyEmulation, Bf16) {
  for (const Case &c : kCases)
    check<uint16_t>(c);
}

} // namespace
