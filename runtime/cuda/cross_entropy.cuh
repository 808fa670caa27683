//===- cross_entropy.cuh - softmax cross-entropy over logits ---*- CUDA -*-===//
//
// The softmax cross-entropy's kernels, over a rank's slice of the
// vocabulary (the logits' rows, `rows` wide, of which the first `real`
// are real; targets are global ids, `offset` the slice's first): the
// statistics of each token's logits in one pass (a running maximum and
// the sum of exponentials relative to it), the sums rescaled to the
// maximum over the slices, the loss, and the logits' gradient, without a
// softmax ever stored. Logits and their gradient are fp32 or bf16 storage
// (T); the statistics fp32, their sums in double.
//
// A block per token over 50,257 logits: its rows move in 16-byte pieces
// (Vec16, elements.cuh: 8 bf16 or 4 floats) where they are aligned, 16
// bytes a thread per access instead of 2 (bf16), keeping enough bytes in
// flight for HBM. The exponentials are exp2f of one fused multiply-add
// (kLog2e): expf's range reduction took several instructions per logit,
// much of both kernels' work.
//
// Plain device code: unittests/CrossEntropyEmulationTest.cpp runs it on
// the CPU through runtime/check/cuda_emulation.h.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_CROSS_ENTROPY_CUH
#define AXONN_CUDA_CROSS_ENTROPY_CUH

#include "elements.cuh"
#include "reductions.cuh"

namespace axonn::cuda {

/// Whether rows of `length` elements from `base` (and from `other`, if
/// not null) can be read 16 bytes at a time.
template <typename T>
bool vectorRows(const T *base, int64_t length, const T *other = nullptr) {
  auto aligned = [](const void *p) {
    return reinterpret_cast<uintptr_t>(p) % 16 == 0;
  };
  return aligned(base) && (!other || aligned(other)) &&
         length * int64_t(sizeof(T)) % 16 == 0;
}

/// Over a row's elements 0 ... end - 1 this thread owns: piece(v) for
/// each 16-byte piece (elements v ... v + W - 1; vector: the row is
/// 16-byte aligned), then single(v) for each element left.
template <typename T, typename Piece, typename Single>
__device__ void rowPieces(int64_t end, bool vector, Piece &&piece,
                          Single &&single) {
  constexpr int W = Vec16<T>::kCount;
  int64_t whole = vector ? end / W * W : 0;
  for (int64_t v = int64_t(threadIdx.x) * W; v < whole;
       v += int64_t(blockDim.x) * W)
    piece(v);
  for (int64_t v = whole + threadIdx.x; v < end; v += blockDim.x)
    single(v);
}

/// A block per token, one pass over its logits: each thread keeps a
/// running maximum and its sum of exp relative to it (online softmax, exp
/// in fp32), then the block combines them in double: max[t] and partial[t]
/// = [sum of exp(logit - max), the target's logit or 0].
template <typename T>
__global__ void logitsMaxKernel(const T *logits, const int32_t *targets,
                                int64_t rows, int64_t real, int64_t offset,
                                bool vector, float *max, float *partial) {
  int64_t t = blockIdx.x;
  const T *row = logits + t * rows;
  float m = -INFINITY, scaledMax = -INFINITY, s = 0;
  auto add = [&](float x) {
    if (x > m) {
      float scaled = x * kLog2e;
      s = s * exp2f(scaledMax - scaled) + 1.0f;
      m = x;
      scaledMax = scaled;
    } else {
      s += exp2f(fmaf(x, kLog2e, -scaledMax));
    }
  };
  rowPieces<T>(
      real, vector,
      [&](int64_t v) {
        expectAligned<16>(row + v);
        Vec16<T> piece = *reinterpret_cast<const Vec16<T> *>(row + v);
#pragma unroll
        for (int k = 0; k < Vec16<T>::kCount; ++k)
          add(toFloat(piece.x[k]));
      },
      [&](int64_t v) { add(toFloat(row[v])); });
  float top = blockMax(m);
  // (a thread with no rows adds nothing, nor does a slice of padding only;
  // a NaN stays NaN)
  double sum = blockSum(s == 0 ? 0.0 : double(s) * exp(double(m) - top));
  if (threadIdx.x == 0) {
    int64_t target = int64_t(targets[t]) - offset;
    max[t] = top;
    partial[t * 2] = float(sum);
    partial[t * 2 + 1] =
        target >= 0 && target < real ? toFloat(row[target]) : 0.0f;
  }
}

/// sums = partial rescaled from the local maximum to the global one.
static __global__ void softmaxSumsKernel(const float *partial,
                                         const float *localMax,
                                         const float *max, int64_t tokens,
                                         float *sums) {
  GRID_STRIDE(t, tokens) {
    double p = partial[t * 2]; // (no sum: none; NaN stays NaN)
    sums[t * 2] = float(p == 0 ? 0.0 : p * exp(double(localMax[t]) - max[t]));
    sums[t * 2 + 1] = partial[t * 2 + 1];
  }
}

/// One block: loss = sum over kept tokens / count (keep null: all tokens,
/// count = globalTokens).
static __global__ void crossEntropyKernel(const float *max, const float *sums,
                                          const float *keep, const float *count,
                                          int64_t tokens, double globalTokens,
                                          float *loss) {
  double total = 0;
  for (int64_t t = threadIdx.x; t < tokens; t += blockDim.x)
    if (!keep || keep[t] != 0)
      total += double(max[t]) + log(double(sums[t * 2])) - sums[t * 2 + 1];
  total = blockSum(total);
  if (threadIdx.x == 0) {
    double n = count ? double(*count) : globalTokens;
    *loss = n > 0 ? float(total / n) : 0.0f;
  }
}

/// A block per token (its statistics read once, no index division per
/// element): dlogits = softmax / n, minus 1 / n at the target, in fp32 as
/// the CPU backend; zero past the real rows and for dropped tokens.
template <typename T>
__global__ void
crossEntropyGradKernel(const T *logits, const float *max, const float *sums,
                       const int32_t *targets, const float *keep,
                       const float *count, int64_t tokens, int64_t rows,
                       int64_t real, int64_t offset, double globalTokens,
                       bool vector, T *dlogits) {
  double n = count ? double(*count) : globalTokens;
  for (int64_t t = blockIdx.x; t < tokens; t += gridDim.x) {
    const T *row = logits + t * rows;
    T *out = dlogits + t * rows;
    bool dropped = (keep && keep[t] == 0) || n <= 0;
    int64_t end = dropped ? 0 : real, target = int64_t(targets[t]) - offset;
    float m = max[t] * kLog2e, scale = float(1 / (double(sums[t * 2]) * n)),
          one = float(1 / n);
    auto gradient = [&](int64_t v, float x) {
      float g = exp2f(fmaf(x, kLog2e, -m)) * scale;
      return v == target ? g - one : g;
    };
    rowPieces<T>(
        end, vector,
        [&](int64_t v) {
          expectAligned<16>(row + v);
          expectAligned<16>(out + v);
          Vec16<T> piece = *reinterpret_cast<const Vec16<T> *>(row + v);
#pragma unroll
          for (int k = 0; k < Vec16<T>::kCount; ++k)
            store(piece.x[k], gradient(v + k, toFloat(piece.x[k])));
          *reinterpret_cast<Vec16<T> *>(out + v) = piece;
        },
        [&](int64_t v) { store(out[v], gradient(v, toFloat(row[v]))); });
    for (int64_t v = end + threadIdx.x; v < rows; v += blockDim.x)
      store(out[v], 0.0f);
  }
}

} // namespace axonn::cuda

#endif // AXONN_CUDA_CROSS_ENTROPY_CUH
