//===- embedding_grad.cuh - the embedding's gradient per table row -*- CUDA
//-*-//
//
// The gradient of an embedding table adds, for each row, the gradients of
// the positions whose token is that row. groupTokensByRow (token_groups.cu)
// sorts the positions by row, stably, so that each row's positions form a
// run of the sorted order, in position order. Summing each run in one
// thread per column would take as long as the most frequent token's run
// (in text, a space or "the": a thousand or more of 8,192 tokens, each a
// dependent global read), so the sorted order is cut into chunks of a
// fixed number of positions and summed in two stages, deterministically
// (the same chunks and order every run, no atomics):
//
// 1. a block per (chunk, columns): each run inside the chunk is summed and
//    stored in its row; the part of a run that crosses the chunk's start
//    (its "head") or end (its "tail") is summed into one of the chunk's two
//    fp32 partial rows instead;
// 2. a block per (chunk, columns) whose tail starts a crossing run adds
//    that tail and the following chunks' heads, in order, into the row.
//
// Plain device code: unittests/EmbeddingGradEmulationTest.cpp runs it on
// the CPU through runtime/check/cuda_emulation.h.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_EMBEDDING_GRAD_CUH
#define AXONN_CUDA_EMBEDDING_GRAD_CUH

#include "elements.cuh"

namespace axonn::cuda {

/// Sorted positions a chunk holds (kernels take it as an argument, so that
/// a test can use small ones), unless the partial rows would pass
/// kPartialBytes: then fewer, longer chunks (embeddingChunk).
constexpr int64_t kEmbeddingChunk = 32;
constexpr int64_t kPartialBytes = int64_t(64) << 20;

/// The chunk length for `count` tokens of rows of `width`: kEmbeddingChunk,
/// or longer where two fp32 partial rows a chunk would take more than
/// kPartialBytes (a wide table over many tokens).
inline int64_t embeddingChunk(int64_t count, int64_t width) {
  int64_t most = kPartialBytes / (2 * int64_t(sizeof(float)) * width);
  most = most < 1 ? 1 : most;
  int64_t chunk = (count + most - 1) / most;
  return chunk > kEmbeddingChunk ? chunk : kEmbeddingChunk;
}

/// The sorted tokens: keys[p] the table row (`rows` or more: outside the
/// local slice, sorted last) and positions[p] the position of sorted entry
/// p; `count` of each, cut into chunks of `chunk` entries.
struct SortedTokens {
  const uint32_t *keys;
  const int32_t *positions;
  int64_t count, rows, width, chunk;

  __device__ int64_t chunks() const { return (count + chunk - 1) / chunk; }
  /// The first entry after p whose key differs (keys are sorted).
  __device__ int64_t runEnd(int64_t p) const {
    uint32_t key = keys[p];
    int64_t lo = p + 1, hi = count;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (keys[mid] == key)
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }
  /// Partial row `slot` (0: head, 1: tail) of chunk c.
  __device__ int64_t partialAt(int64_t c, int slot, int64_t j) const {
    return (2 * c + slot) * width + j;
  }
};

/// acc plus column j of the gradients at sorted entries [s, e), added in
/// order (four reads in flight at a time).
template <typename T>
__device__ float addRows(const T *grad, const SortedTokens &g, int64_t s,
                         int64_t e, int64_t j, float acc) {
  int64_t q = s;
  for (; q + 4 <= e; q += 4) {
    float v[4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
      v[i] = toFloat(grad[int64_t(g.positions[q + i]) * g.width + j]);
#pragma unroll
    for (int i = 0; i < 4; ++i)
      acc += v[i];
  }
  for (; q < e; ++q)
    acc += toFloat(grad[int64_t(g.positions[q]) * g.width + j]);
  return acc;
}

/// Stage 1: grid (chunks, column blocks), both striding. With
/// `accumulate`, a row's sum starts from what tableGrad holds.
template <typename T>
__global__ void embeddingGradRunsKernel(const T *grad, SortedTokens g,
                                        bool accumulate, T *tableGrad,
                                        float *partials) {
  for (int64_t c = blockIdx.x; c < g.chunks(); c += gridDim.x) {
    int64_t lo = c * g.chunk, hi = min(g.count, lo + g.chunk);
    for (int64_t s = lo; s < hi;) {
      uint32_t key = g.keys[s];
      if (key >= g.rows)
        break; // (the rest of the chunk is outside the slice too)
      int64_t e = s + 1;
      while (e < hi && g.keys[e] == key)
        ++e;
      bool head = s == lo && lo > 0 && g.keys[lo - 1] == key;
      bool tail = e == hi && hi < g.count && g.keys[hi] == key;
      for (int64_t j = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
           j < g.width; j += int64_t(gridDim.y) * blockDim.x) {
        if (head || tail) {
          partials[g.partialAt(c, head ? 0 : 1, j)] =
              addRows(grad, g, s, e, j, 0.0f);
        } else {
          T &out = tableGrad[int64_t(key) * g.width + j];
          store(out,
                addRows(grad, g, s, e, j, accumulate ? toFloat(out) : 0.0f));
        }
      }
      s = e;
    }
  }
}

/// Stage 2: grid (chunks, column blocks), both striding: the runs that
/// start in a chunk and cross its end.
template <typename T>
__global__ void embeddingGradJoinKernel(SortedTokens g, bool accumulate,
                                        const float *partials, T *tableGrad) {
  for (int64_t c = blockIdx.x; c < g.chunks(); c += gridDim.x) {
    int64_t lo = c * g.chunk, hi = min(g.count, lo + g.chunk);
    if (hi >= g.count)
      continue; // (the last chunk's runs end in it)
    uint32_t key = g.keys[hi - 1];
    if (key >= g.rows || g.keys[hi] != key)
      continue;
    if (lo > 0 && g.keys[lo - 1] == key)
      continue; // the run started in an earlier chunk, which joins it
    // The chunks whose heads the run covers: c + 1 ... last.
    int64_t last = (g.runEnd(hi) - 1) / g.chunk;
    for (int64_t j = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
         j < g.width; j += int64_t(gridDim.y) * blockDim.x) {
      T &out = tableGrad[int64_t(key) * g.width + j];
      float acc = accumulate ? toFloat(out) : 0.0f;
      acc += partials[g.partialAt(c, 1, j)];
      for (int64_t d = c + 1; d <= last; ++d)
        acc += partials[g.partialAt(d, 0, j)];
      store(out, acc);
    }
  }
}

} // namespace axonn::cuda

#endif // AXONN_CUDA_EMBEDDING_GRAD_CUH
