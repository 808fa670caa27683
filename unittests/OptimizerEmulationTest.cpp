//===- OptimizerEmulationTest.cpp - the CUDA AdamW on the CPU -------------===//
//
// Runs the CUDA backend's grouped AdamW (runtime/cuda/optimizer.cuh) on the
// CPU through runtime/check/cuda_emulation.h and compares parameters, master
// weights and moments with the CPU backend's axonn_rt_adamw_group(_bf16)
// after one update: a warmed-up cosine schedule with clipping and weight
// decay on some tensors, tensors of 1, 7, 37 and 100 elements in chunks of
// 12 (four at a time, then the elements past the last four), one tensor
// whose moments are not 16-byte aligned (one at a time throughout), fp32
// storage and bf16 storage with fp32 master weights. Both compute each
// element in the same fp32 operations, so the tolerance is 1e-6 of the
// largest magnitude (the CPU may contract into fused multiply-adds), and
// the bf16 parameters, roundings of the masters, within one bf16 step.
// Also the gradient norm's grouped sum of squares (checkSquares).
//
//===----------------------------------------------------------------------===//

// (first: CUDA emulated for the kernels' source)
#include "EmulatedStorage.h"

#include "../runtime/cuda/optimizer.cuh"

#include "TestRuntime.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using namespace axonn::cuda;
using namespace axonn::emulation;

constexpr int64_t kChunk = 12;
const int64_t kCounts[] = {1, 7, 37, 100};
constexpr int kTensors = 4;
/// The tensor whose moments start one element past a 16-byte boundary.
constexpr int kUnaligned = 2;

/// A tensor's arrays, each `pad` elements into its own allocation.
template <typename T> struct Arrays {
  std::vector<T> param, grad;
  std::vector<float> m, v, master;
  int pad = 0;
  T *p() { return param.data() + pad; }
  T *g() { return grad.data() + pad; }
  float *mm() { return m.data() + pad; }
  float *vv() { return v.data() + pad; }
  float *ms() { return master.data() + pad; }
};

template <typename T> void check() {
  constexpr bool bf16 = std::is_same_v<T, uint16_t>;
  axonn_rt *rt = testRuntime();
  ASSERT_NE(rt, nullptr);
  std::mt19937 rng(bf16 ? 5 : 3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  // Four floats of padding in front (16 bytes), one more for kUnaligned's
  // moments.
  std::vector<Arrays<T>> cpuSide(kTensors), gpuSide(kTensors);
  for (int t = 0; t < kTensors; ++t) {
    Arrays<T> &a = cpuSide[t];
    size_t n = size_t(kCounts[t]) + 8;
    a.pad = 4;
    a.param.resize(n);
    a.grad.resize(n);
    a.m.resize(n);
    a.v.resize(n);
    a.master.resize(n);
    for (size_t i = 0; i < n; ++i) {
      a.master[i] = uniform(rng);
      store(a.param[i], a.master[i]);
      if (!bf16)
        a.master[i] = toFloat(a.param[i]);
      store(a.grad[i], uniform(rng));
      a.m[i] = 0.1f * uniform(rng);
      a.v[i] = 0.01f * (1.0f + uniform(rng));
    }
    gpuSide[t] = a;
  }
  int32_t decay[kTensors] = {1, 0, 1, 0};
  int64_t step = 3;
  float norm = 4.0f; // above the clip of 1: the gradients are scaled
  AdamWArgs args{1e-3, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, 2, 20, 2, 1};

  // The CPU backend.
  std::vector<T *> params;
  std::vector<const T *> grads;
  std::vector<float *> ms, vs, masters;
  for (Arrays<T> &a : cpuSide) {
    params.push_back(a.p());
    grads.push_back(a.g());
    ms.push_back(a.mm());
    vs.push_back(a.vv());
    masters.push_back(a.ms());
  }
  axonn_status status;
  if constexpr (bf16)
    status = axonn_rt_adamw_group_bf16(
        rt, kTensors, reinterpret_cast<axonn_bf16 *const *>(params.data()),
        reinterpret_cast<const axonn_bf16 *const *>(grads.data()), ms.data(),
        vs.data(), masters.data(), kCounts, decay, &step, &norm, args.lr,
        args.minLr, args.beta1, args.beta2, args.eps, args.weightDecay,
        args.gradClip, args.warmup, args.steps, args.schedule);
  else
    status = axonn_rt_adamw_group(
        rt, kTensors, params.data(), grads.data(), ms.data(), vs.data(),
        nullptr, kCounts, decay, &step, &norm, args.lr, args.minLr, args.beta1,
        args.beta2, args.eps, args.weightDecay, args.gradClip, args.warmup,
        args.steps, args.schedule);
  ASSERT_EQ(status, AXONN_OK);

  // The kernel, with kUnaligned's moments one float further in.
  std::vector<AdamWTensor> tensors;
  std::vector<Chunk> chunks;
  for (int t = 0; t < kTensors; ++t) {
    Arrays<T> &a = gpuSide[t];
    float *m = a.mm(), *v = a.vv();
    if (t == kUnaligned) {
      std::vector<float> m0(a.mm(), a.mm() + kCounts[t]),
          v0(a.vv(), a.vv() + kCounts[t]);
      std::copy(m0.begin(), m0.end(), a.m.data() + a.pad + 1);
      std::copy(v0.begin(), v0.end(), a.v.data() + a.pad + 1);
      m = a.m.data() + a.pad + 1;
      v = a.v.data() + a.pad + 1;
      ASSERT_FALSE(pieceAligned<4>(m));
    }
    ASSERT_TRUE(pieceAligned<4>(a.p()) && pieceAligned<4>(a.ms()));
    tensors.push_back({a.p(), a.g(), m, v, bf16 ? a.ms() : nullptr, decay[t]});
    for (int64_t b = 0; b < kCounts[t]; b += kChunk)
      chunks.push_back({t, b, std::min(kCounts[t], b + kChunk)});
  }
  launch(adamwGroupKernel<T>, Dim3{3, 1, 1}, 32,
         static_cast<const AdamWTensor *>(tensors.data()),
         static_cast<const Chunk *>(chunks.data()), int64_t(chunks.size()),
         static_cast<const int64_t *>(&step), static_cast<const float *>(&norm),
         args);

  for (int t = 0; t < kTensors; ++t) {
    std::string what =
        std::string(bf16 ? "bf16" : "fp32") + ", tensor " + std::to_string(t);
    Arrays<T> &want = cpuSide[t], &got = gpuSide[t];
    int shift = t == kUnaligned ? 1 : 0;
    auto slice = [&](const auto &v, int at) {
      return std::vector<std::decay_t<decltype(v[0])>>(
          v.begin() + at, v.begin() + at + kCounts[t]);
    };
    expectClose(slice(got.m, got.pad + shift), slice(want.m, want.pad), 1e-6,
                "m, " + what);
    expectClose(slice(got.v, got.pad + shift), slice(want.v, want.pad), 1e-6,
                "v, " + what);
    if (bf16)
      expectClose(slice(got.master, got.pad), slice(want.master, want.pad),
                  1e-6, "master, " + what);
    expectClose(slice(got.param, got.pad), slice(want.param, want.pad),
                bf16 ? 1e-2 : 1e-6, "param, " + what);
    // Nothing outside the tensor written.
    EXPECT_EQ(got.param[got.pad - 1], want.param[want.pad - 1]) << what;
    EXPECT_EQ(got.param[got.pad + kCounts[t]],
              want.param[want.pad + kCounts[t]])
        << what;
  }
}

TEST(OptimizerEmulation, AdamWGroupFp32) { check<float>(); }
TEST(OptimizerEmulation, AdamWGroupBf16) { check<uint16_t>(); }

/// The gradient norm's grouped sum of squares against the CPU backend's
/// axonn_rt_sum_squares_group(_bf16): tensors of 1, 7, 37 and 1,000
/// elements in chunks of 200 (pieces of four past the block's 32 threads,
/// then the elements past the last four), the third tensor one element
/// off a 16-byte boundary (one at a time throughout), per-tensor scales.
/// Both add the squares in double, in other orders: within 1e-6.
template <typename T> void checkSquares() {
  constexpr bool bf16 = std::is_same_v<T, uint16_t>;
  constexpr int64_t counts[] = {1, 7, 37, 1000}, chunkLength = 200;
  const double scales[] = {1.0, 0.5, 2.0, 0.25};
  axonn_rt *rt = testRuntime();
  ASSERT_NE(rt, nullptr);
  std::mt19937 rng(bf16 ? 9 : 8);
  std::vector<std::vector<T>> storage;
  std::vector<const T *> grads;
  std::vector<Chunk> chunks;
  for (int t = 0; t < 4; ++t) {
    int shift = t == 2 ? 1 : 0;
    storage.push_back(randomStorage<T>(rng, counts[t] + shift, 0.5f));
    grads.push_back(storage.back().data() + shift);
    EXPECT_EQ(pieceAligned<4>(grads.back()), shift == 0);
    for (int64_t b = 0; b < counts[t]; b += chunkLength)
      chunks.push_back({t, b, std::min(counts[t], b + chunkLength)});
  }
  float want = NAN, got = NAN;
  if constexpr (bf16)
    ASSERT_EQ(axonn_rt_sum_squares_group_bf16(
                  rt, 4,
                  reinterpret_cast<const axonn_bf16 *const *>(grads.data()),
                  counts, scales, &want),
              AXONN_OK);
  else
    ASSERT_EQ(
        axonn_rt_sum_squares_group(rt, 4, grads.data(), counts, scales, &want),
        AXONN_OK);
  std::vector<const void *> pointers(grads.begin(), grads.end());
  std::vector<double> partial(chunks.size(), NAN);
  int64_t count = int64_t(chunks.size());
  launch(squaresGroupKernel<T>, Dim3{3, 1, 1}, 32,
         static_cast<const void *const *>(pointers.data()),
         static_cast<const Chunk *>(chunks.data()), count, partial.data());
  launch(finishSquaresGroupKernel, Dim3{1, 1, 1}, 64,
         static_cast<const double *>(partial.data()),
         static_cast<const Chunk *>(chunks.data()), count,
         static_cast<const double *>(scales), &got);
  EXPECT_NEAR(got, want, 1e-6 * want) << (bf16 ? "bf16" : "fp32");
  // The tolerance sees one element: the last one's square is more.
  double last = valueOf(grads[3][counts[3] - 1]);
  EXPECT_GT(scales[3] * last * last, 1e-6 * want);
}

TEST(OptimizerEmulation, SquaresGroupFp32) { checkSquares<float>(); }
TEST(OptimizerEmulation, SquaresGroupBf16) { checkSquares<uint16_t>(); }

} // namespace
