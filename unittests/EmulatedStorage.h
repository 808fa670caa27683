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
/// largest magnitude.
template <typename T>
void expectClose(const std::vector<T> &got, const std::vector<T> &want,
                 double tolerance, const std::string &what) {
  double scale = 0, worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    scale = std::max(scale, double(std::abs(valueOf(want[i]))));
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(
        worst, std::abs(double(valueOf(got[i])) - double(valueOf(want[i]))));
  EXPECT_EQ(got.size(), want.size()) << what;
  EXPECT_LE(worst, tolerance * std::max(scale, 1e-30)) << what;
}

} // namespace axonn::emulation

#endif // AXONN_UNITTESTS_EMULATEDSTORAGE_H
