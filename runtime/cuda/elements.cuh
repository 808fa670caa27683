//===- elements.cuh - element-level code the kernels share -----*- CUDA -*-===//
//
// Storage conversions, the rotary embedding and the grid-stride loop: plain
// device code, which unittests/AttentionMmaEmulationTest.cpp also compiles
// for the host (with runtime/check/cuda_emulation.h).
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_ELEMENTS_CUH
#define AXONN_CUDA_ELEMENTS_CUH

#include "../src/kernel_common.h"

#include <cmath>
#include <cstdint>

namespace axonn::cuda {

using axonn::QKVLayout;

/// log2(e): exponentials as exp2f(x log2(e) - m log2(e)), one fused
/// multiply-add and the hardware's exp2 where expf's range reduction takes
/// several instructions (the softmax statistics of the logits, the
/// attention).
constexpr float kLog2e = 1.4426950408889634f;

#define GRID_STRIDE(i, count)                                                  \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;             \
       i < (count); i += int64_t(blockDim.x) * gridDim.x)

// Storage is fp32 (float) or bf16 (uint16_t, the bits of axonn_bf16).
__device__ inline float toFloat(float x) { return x; }
__device__ inline float toFloat(uint16_t x) {
  return __uint_as_float(uint32_t(x) << 16);
}
/// Stores an fp32 result: as it is, or rounded to bf16 (nearest even).
__device__ inline void store(float &out, float v) { out = v; }
__device__ inline void store(uint16_t &out, float v) {
  uint32_t bits = __float_as_uint(v);
  out = (bits & 0x7fffffffu) > 0x7f800000u
            ? uint16_t((bits >> 16) | 0x40u)
            : uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

/// N consecutive elements of storage T moved as one piece: one access of
/// up to 16 bytes (two for 32), the piece's alignment.
template <typename T, int N>
struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) Piece {
  static constexpr int kCount = N;
  T x[N];
};
/// A piece of 16 bytes (8 bf16 or 4 fp32 elements).
template <typename T> using Vec16 = Piece<T, 16 / int(sizeof(T))>;

/// Whether p can be read or written N elements at a time (Piece<T, N>).
template <int N, typename T> __device__ inline bool pieceAligned(const T *p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(Piece<T, N>) == 0;
}
/// A vector access at p of `Alignment` bytes: on a GPU a misaligned one
/// faults; where runtime/check/cuda_emulation.h runs the kernels on the
/// CPU, which would not, it ends the program with a message instead.
template <size_t Alignment>
__device__ inline void expectAligned(const void *p) {
#ifdef AXONN_CUDA_EMULATION
  if (reinterpret_cast<uintptr_t>(p) % Alignment != 0)
    axonn::emulation::fault("a misaligned vector access");
#else
  (void)p;
#endif
}
/// The N elements at p (pieceAligned), as fp32.
template <int N, typename T>
__device__ inline void loadPiece(const T *p, float (&out)[N]) {
  expectAligned<alignof(Piece<T, N>)>(p);
  Piece<T, N> v = *reinterpret_cast<const Piece<T, N> *>(p);
#pragma unroll
  for (int i = 0; i < N; ++i)
    out[i] = toFloat(v.x[i]);
}
/// in stored at p (pieceAligned) in storage T.
template <int N, typename T>
__device__ inline void storePiece(T *p, const float (&in)[N]) {
  Piece<T, N> v;
#pragma unroll
  for (int i = 0; i < N; ++i)
    store(v.x[i], in[i]);
  expectAligned<alignof(Piece<T, N>)>(p);
  *reinterpret_cast<Piece<T, N> *>(p) = v;
}

/// Element i of a head vector at `position` after rotate-half RoPE
/// (inverse: the transposed rotation), read from `x` (dim elements), in
/// double as the CPU backend computes it.
template <typename T>
__device__ float rotated(const T *x, int64_t i, int64_t dim, int64_t position,
                         double base, bool inverse) {
  int64_t half = dim / 2;
  if (base <= 0 || i >= 2 * half)
    return toFloat(x[i]);
  int64_t p = i % half;
  double angle = double(position) * pow(base, -2.0 * double(p) / double(dim));
  double c = cos(angle), s = inverse ? -sin(angle) : sin(angle);
  double a = toFloat(x[p]), b = toFloat(x[p + half]);
  return float(i < half ? a * c - b * s : b * c + a * s);
}

} // namespace axonn::cuda

#endif // AXONN_CUDA_ELEMENTS_CUH
