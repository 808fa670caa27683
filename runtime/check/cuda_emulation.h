//===- cuda_emulation.h - CUDA kernel source run on the CPU -----*- C++ -*-===//
//
// Just enough of CUDA to run the tensor-core attention's kernels
// (cuda/attention_mma.cuh, cuda/attention_fa2.cuh), the embedding's
// gradient (cuda/embedding_grad.cuh), the norms (cuda/norms.cuh), AdamW
// (cuda/optimizer.cuh) and the cross-entropy (cuda/cross_entropy.cuh,
// with reductions.cuh's block reductions) on a machine without a GPU, so
// that a test can check their indexing, masking, tiling and
// synchronization against the CPU backend:
//
// - a block's threads are std::threads (one block at a time); its dynamic
//   shared memory is one array, `axonn::cuda::mma::shared`;
// - __syncthreads and __syncwarp are barriers over the block and the warp;
//   __shfl_xor_sync and __shfl_down_sync exchange through memory between
//   two warp barriers;
//   a kernel's `static __shared__` array is a function-local static, one
//   for all threads;
// - a WMMA fragment holds the whole 16 x 16 tile in every lane:
//   load_matrix_sync reads it as the layout says, mma_sync multiplies in
//   fp32 (products of bf16 values are exact there), store_matrix_sync
//   writes from lane 0, so that a lane that reads a stored tile before a
//   __syncwarp may see old values, as on a GPU;
// - bf16 is its bits, rounded to nearest even.
//
// Only what those kernels use is here; it is not a CUDA implementation.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CHECK_CUDA_EMULATION_H
#define AXONN_CHECK_CUDA_EMULATION_H

#define AXONN_CUDA_EMULATION 1

#include <algorithm>
#include <array>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__
#define __align__(n)

using std::max;
using std::min;

struct Dim3 {
  unsigned x = 0, y = 0, z = 0;
};
inline thread_local Dim3 threadIdx, blockIdx;
inline Dim3 blockDim, gridDim;

struct alignas(16) uint4 {
  uint32_t x, y, z, w;
};
struct float2 {
  float x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }

inline float __uint_as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}
inline uint32_t __float_as_uint(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

struct __nv_bfloat16 {
  uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16_rn(float v) {
  uint32_t bits = __float_as_uint(v);
  uint16_t b = (bits & 0x7fffffffu) > 0x7f800000u
                   ? uint16_t((bits >> 16) | 0x40u)
                   : uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  return {b};
}
inline float __bfloat162float(__nv_bfloat16 b) {
  return __uint_as_float(uint32_t(b.bits) << 16);
}

namespace axonn::emulation {

/// What the lanes of a warp hand each other in a warp-wide operation
/// (ldmatrix, mma): each lane's row address or fragments.
struct WarpExchange {
  const void *rows[32];
  uint32_t a[32][4], b[32][2];
};

/// The barriers and shuffle slots of the block running now.
struct Block {
  explicit Block(unsigned threads)
      : all(threads), slots((threads + 31) / 32),
        exchange((threads + 31) / 32) {
    for (unsigned w = 0; w < (threads + 31) / 32; ++w)
      warps.push_back(std::make_unique<std::barrier<>>(32));
  }
  std::barrier<> all;
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  std::vector<std::array<double, 32>> slots;
  std::vector<WarpExchange> exchange;
};
inline Block *block = nullptr;

/// What would fault on a GPU (a misaligned vector access): the message,
/// then the program ends.
[[noreturn]] inline void fault(const char *what) {
  std::fprintf(stderr, "CUDA emulation: %s\n", what);
  std::abort();
}

/// Runs kernel(args...) over `grid` blocks of `threads` threads (a
/// multiple of 32), one block after another.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), Dim3 grid, unsigned threads,
            Args... args) {
  blockDim = {threads, 1, 1};
  gridDim = grid;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        Block b(threads);
        block = &b;
        std::vector<std::thread> team;
        for (unsigned t = 0; t < threads; ++t)
          team.emplace_back([=] {
            threadIdx = {t, 0, 0};
            blockIdx = {x, y, z};
            kernel(args...);
          });
        for (std::thread &t : team)
          t.join();
        block = nullptr;
      }
}

} // namespace axonn::emulation

inline void __syncthreads() { axonn::emulation::block->all.arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) {
  axonn::emulation::block->warps[threadIdx.x / 32]->arrive_and_wait();
}
inline double __shfl_xor_sync(unsigned, double v, int mask) {
  auto &slots = axonn::emulation::block->slots[threadIdx.x / 32];
  unsigned lane = threadIdx.x % 32;
  slots[lane] = v;
  __syncwarp();
  double other = slots[lane ^ unsigned(mask)];
  __syncwarp();
  return other;
}
inline float __shfl_xor_sync(unsigned m, float v, int mask) {
  return float(__shfl_xor_sync(m, double(v), mask));
}
/// Lane + delta's value, or the lane's own past the warp's last lane.
inline double __shfl_down_sync(unsigned, double v, unsigned delta) {
  auto &slots = axonn::emulation::block->slots[threadIdx.x / 32];
  unsigned lane = threadIdx.x % 32;
  slots[lane] = v;
  __syncwarp();
  double other = lane + delta < 32 ? slots[lane + delta] : v;
  __syncwarp();
  return other;
}
inline float __shfl_down_sync(unsigned m, float v, unsigned delta) {
  return float(__shfl_down_sync(m, double(v), delta));
}

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

/// The whole tile, (row, column) of the matrix it stands for, in every
/// lane.
template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  float x[16][16];
};

inline float valueOf(float v) { return v; }
inline float valueOf(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename Use, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout> &f, const T *p,
                      unsigned ld) {
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j)
      f.x[i][j] = valueOf(std::is_same_v<Layout, row_major> ? p[i * ld + j]
                                                            : p[j * ld + i]);
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f,
                             const float *p, unsigned ld, layout_t layout) {
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j)
      f.x[i][j] = layout == mem_row_major ? p[i * ld + j] : p[j * ld + i];
}

inline void store_matrix_sync(float *p,
                              const fragment<accumulator, 16, 16, 16, float> &f,
                              unsigned ld, layout_t layout) {
  if (threadIdx.x % 32 != 0)
    return;
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j)
      (layout == mem_row_major ? p[i * ld + j] : p[j * ld + i]) = f.x[i][j];
}

inline void fill_fragment(fragment<accumulator, 16, 16, 16, float> &f,
                          float v) {
  for (auto &row : f.x)
    for (float &e : row)
      e = v;
}

template <typename A, typename B>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const A &a,
              const B &b, const fragment<accumulator, 16, 16, 16, float> &c) {
  fragment<accumulator, 16, 16, 16, float> r = c;
  for (int i = 0; i < 16; ++i)
    for (int k = 0; k < 16; ++k)
      for (int j = 0; j < 16; ++j)
        r.x[i][j] += a.x[i][k] * b.x[k][j];
  d = r;
}

} // namespace nvcuda::wmma

// The mma.sync path (attention_fa2.cuh): ldmatrix, mma.sync m16n8k16 and
// cp.async as the PTX ISA lays out their fragments, each lane holding
// only its own registers, exchanged through the warp's slots between two
// warp barriers.
namespace axonn::emulation {

inline WarpExchange &exchangeOfWarp() {
  return block->exchange[threadIdx.x / 32];
}
inline uint16_t bitsAt(const void *row, int element) {
  return static_cast<const __nv_bfloat16 *>(row)[element].bits;
}
inline uint32_t pairOf(uint16_t low, uint16_t high) {
  return uint32_t(low) | uint32_t(high) << 16;
}
inline float lowOf(uint32_t r) { return __uint_as_float(r << 16); }
inline float highOf(uint32_t r) { return __uint_as_float(r & 0xffff0000u); }

/// ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16: lanes 8i ... 8i + 7
/// give the rows of matrix i; register i of lane l holds row l / 4,
/// elements 2 (l % 4) and + 1 of it (transposed: column l / 4, rows
/// 2 (l % 4) and + 1).
inline void loadMatrices(uint32_t (&r)[4], const void *row, bool transposed) {
  WarpExchange &x = exchangeOfWarp();
  unsigned lane = threadIdx.x % 32;
  x.rows[lane] = row;
  __syncwarp();
  for (int i = 0; i < 4; ++i) {
    if (!transposed)
      r[i] = pairOf(bitsAt(x.rows[8 * i + lane / 4], int(2 * (lane % 4))),
                    bitsAt(x.rows[8 * i + lane / 4], int(2 * (lane % 4) + 1)));
    else
      r[i] = pairOf(bitsAt(x.rows[8 * i + 2 * (lane % 4)], int(lane / 4)),
                    bitsAt(x.rows[8 * i + 2 * (lane % 4) + 1], int(lane / 4)));
  }
  __syncwarp();
}

/// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: d = a b + c with
/// A 16 x 16 (a0: row g, columns 2t, 2t+1; a1: row g + 8; a2, a3: the
/// same at column + 8), B 16 x 8 (b0: rows 2t, 2t+1 of column g; b1: rows
/// + 8) and C, D 16 x 8 (c0, c1: row g, columns 2t, 2t+1; c2, c3: row
/// g + 8), g = lane / 4 and t = lane % 4. Products of bf16 values are
/// exact in fp32; the sum's order is not the tensor core's.
inline void mmaBf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                    uint32_t b1) {
  WarpExchange &x = exchangeOfWarp();
  unsigned lane = threadIdx.x % 32;
  for (int i = 0; i < 4; ++i)
    x.a[lane][i] = a[i];
  x.b[lane][0] = b0;
  x.b[lane][1] = b1;
  __syncwarp();
  auto elementA = [&](int row, int k) {
    uint32_t reg = x.a[(row % 8) * 4 + (k % 8) / 2][(row >= 8) + 2 * (k >= 8)];
    return k % 2 ? highOf(reg) : lowOf(reg);
  };
  auto elementB = [&](int k, int column) {
    uint32_t reg = x.b[column * 4 + (k % 8) / 2][k >= 8];
    return k % 2 ? highOf(reg) : lowOf(reg);
  };
  float out[4];
  for (int i = 0; i < 4; ++i) {
    int row = int(lane / 4) + (i >= 2 ? 8 : 0),
        column = int(2 * (lane % 4)) + i % 2;
    float sum = d[i];
    for (int k = 0; k < 16; ++k)
      sum += elementA(row, k) * elementB(k, column);
    out[i] = sum;
  }
  __syncwarp();
  for (int i = 0; i < 4; ++i)
    d[i] = out[i];
}

} // namespace axonn::emulation

#endif // AXONN_CHECK_CUDA_EMULATION_H
