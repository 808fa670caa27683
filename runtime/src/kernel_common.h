//===- kernel_common.h - what the CPU and CUDA kernels share ----*- C++ -*-===//
//
// Pieces of kernel semantics that both backends compute element by element
// and must agree on exactly: where each head sits in a grouped qkv vector,
// and the Goldfish loss's drop decision. Compiled for the host by the CPU
// backend and for host and device by nvcc.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_KERNEL_COMMON_H
#define AXONN_KERNEL_COMMON_H

#include "axonn_rt.h"

#include <cstddef>
#include <cstdint>

#ifdef __CUDACC__
#define AXONN_HOST_DEVICE __host__ __device__
#else
#define AXONN_HOST_DEVICE
#endif

namespace axonn {

/// Positions of the pieces of a grouped qkv vector (see axonn.attention).
struct QKVLayout {
  int64_t heads, kvHeads, dim, perGroup;
  AXONN_HOST_DEVICE QKVLayout(int64_t heads, int64_t kvHeads, int64_t dim)
      : heads(heads), kvHeads(kvHeads), dim(dim), perGroup(heads / kvHeads) {}
  AXONN_HOST_DEVICE int64_t features() const {
    return (heads + 2 * kvHeads) * dim;
  }
  AXONN_HOST_DEVICE int64_t group(int64_t head) const {
    return head / perGroup;
  }
  AXONN_HOST_DEVICE int64_t q(int64_t head) const {
    return group(head) * (perGroup + 2) * dim + (head % perGroup) * dim;
  }
  AXONN_HOST_DEVICE int64_t k(int64_t g) const {
    return (g * (perGroup + 2) + perGroup) * dim;
  }
  AXONN_HOST_DEVICE int64_t v(int64_t g) const {
    return (g * (perGroup + 2) + perGroup + 1) * dim;
  }
};

/// Whether `aCount` and `bCount` elements of `size` bytes at `a` and at
/// `b` meet.
inline bool overlaps(const void *a, int64_t aCount, const void *b,
                     int64_t bCount, size_t size) {
  auto x = reinterpret_cast<uintptr_t>(a), y = reinterpret_cast<uintptr_t>(b);
  return aCount > 0 && bCount > 0 && x < y + size_t(bCount) * size &&
         y < x + size_t(aCount) * size;
}

/// Why an attention call may not run, or null: it would write its result
/// (out; with `dout`, the gradient's dqkv) over an operand that other rows
/// and heads still read. Elements of `size` bytes; every backend and
/// storage type refuses the same calls.
inline const char *attentionOverlap(const void *qkv, const void *dout,
                                    const void *result, int64_t batch,
                                    int64_t seq, int64_t heads, int64_t kvHeads,
                                    int64_t headDim, size_t size) {
  int64_t all = batch * seq * (heads + 2 * kvHeads) * headDim,
          width = batch * seq * heads * headDim;
  if (!dout)
    return overlaps(result, width, qkv, all, size)
               ? "attention: out overlaps qkv (a result may not be written "
                 "over its operands)"
               : nullptr;
  return overlaps(result, all, qkv, all, size) ||
                 overlaps(result, all, dout, width, size)
             ? "attention_grad: dqkv overlaps qkv or dout (a result may not "
               "be written over its operands)"
             : nullptr;
}

/// The Goldfish hash table's size and seed (docs/memorization.md).
constexpr int64_t kGoldfishTable = 1000003;
constexpr uint64_t kGoldfishSeed = 0x601DF15Bull;

AXONN_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Whether the Goldfish loss drops target `t` of the sequence `row`.
AXONN_HOST_DEVICE inline bool goldfishDropped(const int32_t *row, int64_t t,
                                              int32_t strategy, int64_t k,
                                              int64_t h) {
  if (strategy == AXONN_GOLDFISH_STATIC)
    return (t + 1) % k == 0;
  if (t < h - 1)
    return false;
  // The product wraps as int64 does: multiply as uint64 (same bits).
  uint64_t product = 1;
  for (int64_t j = t - h + 1; j <= t; ++j)
    product *= uint64_t(int64_t(row[j]));
  int64_t key = int64_t(product) % kGoldfishTable;
  if (key < 0)
    key += kGoldfishTable;
  double u = double(splitmix64(kGoldfishSeed ^ uint64_t(key)) >> 11) /
             9007199254740992.0;
  return u < 1.0 / double(k);
}

} // namespace axonn

#endif // AXONN_KERNEL_COMMON_H
