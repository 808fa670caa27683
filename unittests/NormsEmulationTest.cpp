//===- NormsEmulationTest.cpp - the CUDA norms on the CPU -----------------===//
//
// Runs the CUDA backend's norm kernels (runtime/cuda/norms.cuh, a warp per
// row) on the CPU through runtime/check/cuda_emulation.h, as kernels.cu
// launches them, and compares them with the CPU backend's:
//
// - the gradients: dx, then the column sums of the parameter gradients,
//   with and without the split-feature statistics (summed over a row
//   twice the local slice's width), with and without a gradient to add to;
// - the forward: layer and RMS norm with and without the statistics, the
//   residual-add norms, and both kinds of statistics.
//
// fp32 storage within 1e-5 of the largest reference magnitude (both sum in
// double, in other orders), bf16 storage within 1e-2 (the kernel check's
// tolerance). The rows are more than a block's warps, so that the warps
// stride, their width is not a multiple of 32 (lanes with different
// counts) and more than a column block, and they make two chunks of the
// column sums, or in one case nine (more than a block's lanes of chunks).
//
//===----------------------------------------------------------------------===//

// (first: CUDA emulated for the kernels' source)
#include "EmulatedStorage.h"

#include "../runtime/cuda/norms.cuh"

#include "TestRuntime.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace {

using namespace axonn::cuda;
using namespace axonn::emulation;

constexpr int64_t kLocal = 70;
constexpr double kEps = 1e-5;

/// The CPU backend's calls in storage T.
template <typename T> struct Cpu;
template <> struct Cpu<float> {
  static constexpr auto stats = axonn_rt_norm_grad_stats;
  static constexpr auto layer = axonn_rt_layer_norm_grad;
  static constexpr auto rms = axonn_rt_rms_norm_grad;
  static constexpr auto forwardStats = axonn_rt_norm_stats;
  static constexpr auto layerForward = axonn_rt_layer_norm;
  static constexpr auto rmsForward = axonn_rt_rms_norm;
  static constexpr auto residualLayer = axonn_rt_residual_layer_norm;
  static constexpr auto residualRms = axonn_rt_residual_rms_norm;
};
template <> struct Cpu<uint16_t> {
  static constexpr auto stats = axonn_rt_norm_grad_stats_bf16;
  static constexpr auto layer = axonn_rt_layer_norm_grad_bf16;
  static constexpr auto rms = axonn_rt_rms_norm_grad_bf16;
  static constexpr auto forwardStats = axonn_rt_norm_stats_bf16;
  static constexpr auto layerForward = axonn_rt_layer_norm_bf16;
  static constexpr auto rmsForward = axonn_rt_rms_norm_bf16;
  static constexpr auto residualLayer = axonn_rt_residual_layer_norm_bf16;
  static constexpr auto residualRms = axonn_rt_residual_rms_norm_bf16;
};
template <typename T> auto cpu(const T *p) {
  if constexpr (std::is_same_v<T, float>)
    return p;
  else
    return reinterpret_cast<const axonn_bf16 *>(p);
}
template <typename T> auto cpu(T *p) {
  if constexpr (std::is_same_v<T, float>)
    return p;
  else
    return reinterpret_cast<axonn_bf16 *>(p);
}

template <typename T>
void check(bool rms, bool split, bool accumulate, int64_t tokens) {
  std::string what = std::string(rms ? "rms" : "layer") +
                     (split ? ", split features" : "") +
                     (accumulate ? ", accumulating" : "") +
                     (std::is_same_v<T, float> ? ", fp32" : ", bf16");
  axonn_rt *rt = testRuntime();
  ASSERT_NE(rt, nullptr);
  std::mt19937 rng(rms * 4 + split * 2 + accumulate);
  // Rows of `width` features; the kernels see the first kLocal of each.
  int64_t width = split ? 2 * kLocal : kLocal;
  auto randomOf = [&](int64_t n, float shift) {
    return randomStorage<T>(rng, n, shift);
  };
  std::vector<T> fullX = randomOf(tokens * width, 0.5f),
                 fullDy = randomOf(tokens * width, 0.0f),
                 fullScale = randomOf(width, 1.0f);
  std::vector<T> x(static_cast<size_t>(tokens * kLocal)), dy(x.size());
  for (int64_t r = 0; r < tokens; ++r)
    for (int64_t j = 0; j < kLocal; ++j) {
      x[r * kLocal + j] = fullX[r * width + j];
      dy[r * kLocal + j] = fullDy[r * width + j];
    }
  std::vector<T> scale(fullScale.begin(), fullScale.begin() + kLocal);
  std::vector<T> other = randomOf(tokens * kLocal, 0.0f);
  const T *add = accumulate ? other.data() : nullptr;
  std::vector<float> stats;
  if (split) {
    stats.resize(size_t(tokens * (rms ? 2 : 4)));
    ASSERT_EQ(Cpu<T>::stats(rt, cpu(fullDy.data()), cpu(fullX.data()),
                            cpu(fullScale.data()), tokens, width, rms,
                            stats.data()),
              AXONN_OK);
  }
  const float *st = split ? stats.data() : nullptr;

  std::vector<T> wantDx(x.size()), wantScale(kLocal), wantBias(kLocal);
  if (rms)
    ASSERT_EQ(Cpu<T>::rms(rt, cpu(dy.data()), cpu(x.data()), cpu(scale.data()),
                          st, tokens, kLocal, width, kEps, cpu(add),
                          cpu(wantDx.data()), cpu(wantScale.data())),
              AXONN_OK);
  else
    ASSERT_EQ(Cpu<T>::layer(rt, cpu(dy.data()), cpu(x.data()),
                            cpu(scale.data()), st, tokens, kLocal, width, kEps,
                            cpu(add), cpu(wantDx.data()), cpu(wantScale.data()),
                            cpu(wantBias.data())),
              AXONN_OK);

  // As kernels.cu: the rows (two blocks, so that the warps stride), then
  // the column sums.
  std::vector<T> dx(x.size()), dScale(kLocal), dBias(kLocal);
  std::vector<double> rowValues(size_t(tokens * 2));
  RowChunks chunks(tokens);
  ASSERT_EQ(chunks.chunks, (tokens + kChunkRows - 1) / kChunkRows);
  std::vector<double> partial(columnSumBytes(2, tokens, kLocal) /
                              sizeof(double));
  Dim3 rowsGrid{2, 1, 1};
  Dim3 partialsGrid{unsigned((kLocal + kSumColumns - 1) / kSumColumns),
                    unsigned(chunks.chunks), 1};
  Dim3 finishGrid{partialsGrid.x, 1, 1};
  if (rms) {
    launch(rmsNormGradKernel<T>, rowsGrid, 32 * kRowWarps,
           static_cast<const T *>(dy.data()), static_cast<const T *>(x.data()),
           static_cast<const T *>(scale.data()), st, tokens, kLocal, width,
           kEps, add, dx.data(), rowValues.data());
    RmsNormTerm<T> term{dy.data(), x.data(), rowValues.data()};
    launch(columnPartialsKernel<1, RmsNormTerm<T>>, partialsGrid, kSumThreads,
           term, tokens, kLocal, chunks.chunkRows, partial.data());
    launch(columnFinishKernel<1, T>, finishGrid, kSumThreads,
           static_cast<const double *>(partial.data()), chunks.chunks, kLocal,
           dScale.data(), dScale.data());
  } else {
    launch(layerNormGradKernel<T>, rowsGrid, 32 * kRowWarps,
           static_cast<const T *>(dy.data()), static_cast<const T *>(x.data()),
           static_cast<const T *>(scale.data()), st, tokens, kLocal, width,
           kEps, add, dx.data(), rowValues.data());
    LayerNormTerm<T> term{dy.data(), x.data(), rowValues.data()};
    launch(columnPartialsKernel<2, LayerNormTerm<T>>, partialsGrid, kSumThreads,
           term, tokens, kLocal, chunks.chunkRows, partial.data());
    launch(columnFinishKernel<2, T>, finishGrid, kSumThreads,
           static_cast<const double *>(partial.data()), chunks.chunks, kLocal,
           dScale.data(), dBias.data());
  }
  double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-2;
  expectClose(dx, wantDx, tolerance, "dx, " + what);
  expectClose(dScale, wantScale, tolerance, "scale gradient, " + what);
  if (!rms)
    expectClose(dBias, wantBias, tolerance, "bias gradient, " + what);
}

/// Rows of each case: 100 (two chunks of the column sums), and 520 in one
/// (nine chunks: more than a block's lanes of them).
int64_t tokensOf(bool split, bool accumulate) {
  return !split && accumulate ? 520 : 100;
}

TEST(NormsEmulation, LayerNormGrad) {
  for (bool split : {false, true})
    for (bool accumulate : {false, true}) {
      check<float>(false, split, accumulate, tokensOf(split, accumulate));
      check<uint16_t>(false, split, accumulate, tokensOf(split, accumulate));
    }
}

TEST(NormsEmulation, RmsNormGrad) {
  for (bool split : {false, true})
    for (bool accumulate : {false, true}) {
      check<float>(true, split, accumulate, tokensOf(split, accumulate));
      check<uint16_t>(true, split, accumulate, tokensOf(split, accumulate));
    }
}

/// The forward kernels: the norms from a slice of rows twice as wide (with
/// the statistics, from the CPU's norm_stats over whole rows) or whole,
/// the residual-add norms, and both statistics.
template <typename T> void checkForward(bool rms, bool split) {
  std::string what = std::string(rms ? "rms" : "layer") +
                     (split ? ", split features" : "") +
                     (std::is_same_v<T, float> ? ", fp32" : ", bf16");
  axonn_rt *rt = testRuntime();
  ASSERT_NE(rt, nullptr);
  const int64_t tokens = 100;
  std::mt19937 rng(11 + rms * 2 + split);
  int64_t width = split ? 2 * kLocal : kLocal;
  auto randomOf = [&](int64_t n, float shift) {
    return randomStorage<T>(rng, n, shift);
  };
  std::vector<T> fullX = randomOf(tokens * width, 0.5f),
                 dy = randomOf(tokens * kLocal, 0.0f),
                 residual = randomOf(tokens * kLocal, 0.0f),
                 scale = randomOf(kLocal, 1.0f), bias = randomOf(kLocal, 0.0f);
  std::vector<T> x(static_cast<size_t>(tokens * kLocal));
  for (int64_t r = 0; r < tokens; ++r)
    for (int64_t j = 0; j < kLocal; ++j)
      x[r * kLocal + j] = fullX[r * width + j];
  int perRow = rms ? 1 : 2;
  std::vector<float> stats(size_t(tokens * perRow));
  ASSERT_EQ(Cpu<T>::forwardStats(rt, cpu(fullX.data()), tokens, width, rms,
                                 stats.data()),
            AXONN_OK);
  const float *st = split ? stats.data() : nullptr;
  Dim3 grid{2, 1, 1};
  unsigned threads = 32 * kRowWarps;
  double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-2;

  std::vector<T> want(x.size()), got(x.size());
  if (rms) {
    ASSERT_EQ(Cpu<T>::rmsForward(rt, cpu(x.data()), cpu(scale.data()), st,
                                 tokens, kLocal, width, kEps, cpu(want.data())),
              AXONN_OK);
    launch(rmsNormKernel<T>, grid, threads, static_cast<const T *>(x.data()),
           static_cast<const T *>(scale.data()), st, tokens, kLocal, width,
           kEps, got.data());
  } else {
    ASSERT_EQ(Cpu<T>::layerForward(rt, cpu(x.data()), cpu(scale.data()),
                                   cpu(bias.data()), st, tokens, kLocal, width,
                                   kEps, cpu(want.data())),
              AXONN_OK);
    launch(layerNormKernel<T>, grid, threads, static_cast<const T *>(x.data()),
           static_cast<const T *>(scale.data()),
           static_cast<const T *>(bias.data()), st, tokens, kLocal, width, kEps,
           got.data());
  }
  expectClose(got, want, tolerance, "norm, " + what);

  if (!split) {
    // The residual-add norm over whole rows: the sum and its norm.
    std::vector<T> wantSum(x.size()), gotSum(x.size());
    if (rms) {
      ASSERT_EQ(Cpu<T>::residualRms(rt, cpu(x.data()), cpu(residual.data()),
                                    cpu(scale.data()), tokens, kLocal, kEps,
                                    cpu(wantSum.data()), cpu(want.data())),
                AXONN_OK);
      launch(residualRmsNormKernel<T>, grid, threads,
             static_cast<const T *>(x.data()),
             static_cast<const T *>(residual.data()),
             static_cast<const T *>(scale.data()), tokens, kLocal, kEps,
             gotSum.data(), got.data());
    } else {
      ASSERT_EQ(Cpu<T>::residualLayer(rt, cpu(x.data()), cpu(residual.data()),
                                      cpu(scale.data()), cpu(bias.data()),
                                      tokens, kLocal, kEps, cpu(wantSum.data()),
                                      cpu(want.data())),
                AXONN_OK);
      launch(residualLayerNormKernel<T>, grid, threads,
             static_cast<const T *>(x.data()),
             static_cast<const T *>(residual.data()),
             static_cast<const T *>(scale.data()),
             static_cast<const T *>(bias.data()), tokens, kLocal, kEps,
             gotSum.data(), got.data());
    }
    expectClose(gotSum, wantSum, tolerance, "residual sum, " + what);
    expectClose(got, want, tolerance, "residual norm, " + what);
  }

  // The statistics of this slice, of the forward and of the gradient.
  std::vector<float> wantStats(size_t(tokens * perRow)),
      gotStats(wantStats.size());
  ASSERT_EQ(Cpu<T>::forwardStats(rt, cpu(x.data()), tokens, kLocal, rms,
                                 wantStats.data()),
            AXONN_OK);
  launch(normStatsKernel<T>, grid, threads, static_cast<const T *>(x.data()),
         tokens, kLocal, int32_t(rms), gotStats.data());
  expectClose(gotStats, wantStats, 1e-5, "norm_stats, " + what);
  std::vector<float> wantGradStats(size_t(tokens * perRow * 2)),
      gotGradStats(wantGradStats.size());
  ASSERT_EQ(Cpu<T>::stats(rt, cpu(dy.data()), cpu(x.data()), cpu(scale.data()),
                          tokens, kLocal, rms, wantGradStats.data()),
            AXONN_OK);
  launch(normGradStatsKernel<T>, grid, threads,
         static_cast<const T *>(dy.data()), static_cast<const T *>(x.data()),
         static_cast<const T *>(scale.data()), tokens, kLocal, int32_t(rms),
         gotGradStats.data());
  expectClose(gotGradStats, wantGradStats, 1e-5, "norm_grad_stats, " + what);
}

TEST(NormsEmulation, Forward) {
  for (bool rms : {false, true})
    for (bool split : {false, true}) {
      checkForward<float>(rms, split);
      checkForward<uint16_t>(rms, split);
    }
}

} // namespace
