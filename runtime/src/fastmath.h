//===- fastmath.h - branch-free float math for vectorized kernels -*- C++ -*-===//
//
// The elementwise kernels (GELU, SwiGLU, softmax, AdamW) spend their time in
// exp and tanh; libm's are scalar calls in double. These are float,
// branch-free and inline, so loops over them vectorize, and AXONN_CLONES
// compiles such loops for AVX-512, AVX2+FMA and baseline x86-64, picked at
// load time for the CPU at hand. exp is Cephes' expf (relative error below
// 2e-7 over the clamped range).
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_RUNTIME_FASTMATH_H
#define AXONN_RUNTIME_FASTMATH_H

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AXONN_CLONES                                                           \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3",            \
                               "default")))
#else
#define AXONN_CLONES
#endif

namespace axonn::fast {

__attribute__((always_inline)) inline float exp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  // floor(x / ln 2 + 0.5) by truncation of a positive value: SSE2 has it.
  float n = float(int32_t(x * 1.44269504088896341f + 128.5f)) - 128.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float e = p * r * r + r + 1.0f;
  int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return e * scale;
}

__attribute__((always_inline)) inline float tanh(float x) {
  return 1.0f - 2.0f / (exp(2.0f * x) + 1.0f);
}

__attribute__((always_inline)) inline float sigmoid(float x) {
  return 1.0f / (1.0f + exp(-x));
}

// The fp64 build (gradient checks) keeps libm's accuracy.
inline double exp(double x) { return std::exp(x); }
inline double tanh(double x) { return std::tanh(x); }
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

/// Reductions in 8 interleaved double lanes, then combined pairwise: the
/// compiler may not reorder a plain `sum += x[i]` (it would change the
/// rounding), so such loops run one add at a time; written with lanes they
/// vectorize, and the result is still the same on every run.
constexpr int kLanes = 8;

inline double combine(const double (&lanes)[kLanes]) {
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
         ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/// sum_i f(i) over [0, n).
template <typename F>
__attribute__((always_inline)) inline double sum(int64_t n, F f) {
  double lanes[kLanes] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int l = 0; l < kLanes; ++l)
      lanes[l] += double(f(i + l));
  for (; i < n; ++i)
    lanes[0] += double(f(i));
  return combine(lanes);
}

} // namespace axonn::fast

#endif // AXONN_RUNTIME_FASTMATH_H
