//===- EmulatedStorage.h - what the CUDA emulation tests share --*- C++ -*-===//
//
// The kernels' two storage types (fp32 as float, bf16 as the uint16_t of
// its bits) for tests that run CUDA kernels on the CPU through
// runtime/check/cuda_emulation.h: conversions, random tensors and the
// tolerance check.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_UNITTESTS_EMULATEDSTORAGE_H
#define AXONN_UNITTESTS_EMULATEDSTORAGE_H

#include "../runtime/check/cuda_emulation.h"
#include "../runtime/cuda/elements.cuh"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace axonn::emulation {

/// v in storage T (bf16: rounded to nearest even).
template <typename T> T storageOf(float v) {
  T out;
  axonn::cuda::store(out, v);
  return out;
}
inline float valueOf(float v) { return v; }
inline float valueOf(uint16_t v) { return axonn::cuda::toFloat(v); }

/// n values uniform in [shift - 1, shift + 1), in storage T.
template <typename T>
std::vector<T> randomStorage(std::mt19937 &rng, int64_t n, float shift) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<T> v(static_cast<size_t>(n));
  for (T &e : v)
    e = storageOf<T>(shift + uniform(rng));
  return v;
}

/// Fails where got and want differ by more than tolerance times want's
/// largest magnitude, or where one of them is NaN and the other is not (an
/// element a kernel never wrote keeps the NaN the tests fill results
/// with; std::max would pass over it).
template <typename T>
void expectClose(const std::vector<T> &got, const std::vector<T> &want,
                 double tolerance, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 0, worst = 0;
  size_t nans = 0;
  for (size_t i = 0; i < want.size(); ++i)
    if (!std::isnan(valueOf(want[i])))
      scale = std::max(scale, double(std::abs(valueOf(want[i]))));
  for (size_t i = 0; i < want.size(); ++i) {
    double g = valueOf(got[i]), w = valueOf(want[i]);
    if (std::isnan(g) != std::isnan(w))
      ++nans;
    else if (!std::isnan(w))
      worst = std::max(worst, std::abs(g - w));
  }
  EXPECT_EQ(nans, 0u) << what << ": elements NaN on one side only";
  EXPECT_LE(worst, tolerance * std::max(scale, 1e-30)) << what;
}

} // namespace axonn::emulation

#endif // AXONN_UNITTESTS_EMULATEDSTORAGE_H
