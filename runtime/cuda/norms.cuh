//===- norms.cuh - layer and RMS norms, and the column sums ----*- CUDA -*-===//
//
// The layer and RMS norms (with a residual add or without, from their own
// rows or from statistics summed over a row split across ranks), those
// statistics, the norms' input gradients, a warp per row each, and the
// sums over rows per column that their parameter gradients (and a
// bias's) need.
//
// A row of a norm is short (768 to a few thousand features) and there are
// many (a step's tokens). A block per row spent its time in block-wide
// reductions, each two barriers, five of them a row; here a warp takes a
// row and reduces with shuffles (the xor butterfly leaves the same bits in
// every lane), so that a block of kRowWarps warps works on as many rows
// with no barrier at all. Sums are in double, as the CPU backend's.
//
// The column sums run in two stages with a fixed order (deterministic, no
// atomics): a block per 32 columns and chunk of up to kChunkRows rows adds
// each column's terms over its chunk (8 lanes of rows, each with its
// reads in flight together, then the lanes in order) into a partial sum;
// then a block per 32 columns adds the chunks' partials (8 lanes of
// chunks, then the lanes in order).
//
// Plain device code: unittests/NormsEmulationTest.cpp runs it on the
// CPU through runtime/check/cuda_emulation.h.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_NORMS_CUH
#define AXONN_CUDA_NORMS_CUH

#include "elements.cuh"

namespace axonn::cuda {

/// Warps (rows) a block of the row kernels has.
constexpr int kRowWarps = 8;

/// The sum of v over a warp's lanes, the same bits in every lane.
__device__ inline double warpSum(double v) {
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/// Runs body(r) for the rows r of this warp (a warp per row, striding).
template <typename Body>
__device__ void forEachWarpRow(int64_t rows, Body body) {
  for (int64_t r = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / 32; r < rows;
       r += int64_t(gridDim.x) * kRowWarps)
    body(r);
}

/// The lane's share of a row: j = lane, lane + 32, ...
#define FOR_LANE(j, length)                                                    \
  for (int64_t j = threadIdx.x % 32; j < (length); j += 32)

/// The value of `accumulate` (another gradient of the norm's input) at i,
/// or 0 without one.
template <typename T>
__device__ inline double accumulated(const T *accumulate, int64_t i) {
  return accumulate ? double(toFloat(accumulate[i])) : 0.0;
}

/// The mean and inverse standard deviation of a layer norm's row (a
/// warp's): from `sums` (of x and x^2 over all `width` features) or from
/// the row's `local` values in two passes.
template <typename T>
__device__ void layerMoments(const T *row, int64_t local, const float *sums,
                             int64_t width, double eps, double *mean,
                             double *inv) {
  double m, var;
  if (sums) {
    m = double(sums[0]) / width;
    var = double(sums[1]) / width - m * m;
  } else {
    double sum = 0;
    FOR_LANE(j, local) sum += toFloat(row[j]);
    m = warpSum(sum) / double(local);
    double squares = 0;
    FOR_LANE(j, local) {
      double d = toFloat(row[j]) - m;
      squares += d * d;
    }
    var = warpSum(squares) / double(local);
  }
  *mean = m;
  *inv = 1 / sqrt(var + eps);
}

/// The inverse RMS of a row (a warp's): from `sums` (x^2 over all `width`
/// features) or from the row's `local` values.
template <typename T>
__device__ double rmsInverse(const T *row, int64_t local, const float *sums,
                             int64_t width, double eps) {
  if (sums)
    return 1 / sqrt(double(sums[0]) / width + eps);
  double squares = 0;
  FOR_LANE(j, local) {
    double v = toFloat(row[j]);
    squares += v * v;
  }
  return 1 / sqrt(warpSum(squares) / local + eps);
}

/// y = layer norm of each row of x (a warp per row), from its own values
/// or from `stats` ([tokens, 2]: x and x^2 summed over `width` features).
template <typename T>
__global__ void layerNormKernel(const T *x, const T *scale, const T *bias,
                                const float *stats, int64_t tokens,
                                int64_t local, int64_t width, double eps,
                                T *y) {
  forEachWarpRow(tokens, [&](int64_t r) {
    const T *row = x + r * local;
    double mean, inv;
    layerMoments(row, local, stats ? stats + r * 2 : nullptr, width, eps, &mean,
                 &inv);
    FOR_LANE(j, local)
    store(y[r * local + j],
          float((toFloat(row[j]) - mean) * inv * toFloat(scale[j]) +
                toFloat(bias[j])));
  });
}

/// y = RMS norm of each row of x (a warp per row), from its own values or
/// from `stats` ([tokens]: x^2 summed over `width` features).
template <typename T>
__global__ void rmsNormKernel(const T *x, const T *scale, const float *stats,
                              int64_t tokens, int64_t local, int64_t width,
                              double eps, T *y) {
  forEachWarpRow(tokens, [&](int64_t r) {
    const T *row = x + r * local;
    double inv =
        rmsInverse(row, local, stats ? stats + r : nullptr, width, eps);
    FOR_LANE(j, local)
    store(y[r * local + j], float(toFloat(row[j]) * inv * toFloat(scale[j])));
  });
}

/// sum = x + residual, then y = its layer norm, a warp per row. The norm
/// reads the sum back as stored (in bf16 the rounded sum, as the two
/// unfused kernels would); each lane reads only the elements it wrote.
template <typename T>
__global__ void residualLayerNormKernel(const T *x, const T *residual,
                                        const T *scale, const T *bias,
                                        int64_t tokens, int64_t width,
                                        double eps, T *sum, T *y) {
  forEachWarpRow(tokens, [&](int64_t r) {
    T *row = sum + r * width;
    FOR_LANE(j, width)
    store(row[j], toFloat(x[r * width + j]) + toFloat(residual[r * width + j]));
    double mean, inv;
    layerMoments(row, width, nullptr, width, eps, &mean, &inv);
    FOR_LANE(j, width)
    store(y[r * width + j],
          float((toFloat(row[j]) - mean) * inv * toFloat(scale[j]) +
                toFloat(bias[j])));
  });
}

/// sum = x + residual, then y = its RMS norm, a warp per row (as
/// residualLayerNormKernel).
template <typename T>
__global__ void residualRmsNormKernel(const T *x, const T *residual,
                                      const T *scale, int64_t tokens,
                                      int64_t width, double eps, T *sum, T *y) {
  forEachWarpRow(tokens, [&](int64_t r) {
    T *row = sum + r * width;
    FOR_LANE(j, width)
    store(row[j], toFloat(x[r * width + j]) + toFloat(residual[r * width + j]));
    double inv = rmsInverse(row, width, nullptr, width, eps);
    FOR_LANE(j, width)
    store(y[r * width + j], float(toFloat(row[j]) * inv * toFloat(scale[j])));
  });
}

/// The sums a norm split over features needs from this slice, a warp per
/// row: x and x^2 ([tokens, 2]) or, for an RMS norm, x^2 ([tokens]).
template <typename T>
__global__ void normStatsKernel(const T *x, int64_t tokens, int64_t local,
                                int32_t rms, float *stats) {
  forEachWarpRow(tokens, [&](int64_t r) {
    double sum = 0, squares = 0;
    FOR_LANE(j, local) {
      double v = toFloat(x[r * local + j]);
      sum += v;
      squares += v * v;
    }
    sum = warpSum(sum);
    squares = warpSum(squares);
    if (threadIdx.x % 32 == 0) {
      if (rms) {
        stats[r] = float(squares);
      } else {
        stats[r * 2] = float(sum);
        stats[r * 2 + 1] = float(squares);
      }
    }
  });
}

/// The sums a split norm's gradient needs from this slice, a warp per row
/// (g = dy scale): x, x^2, g, g x ([tokens, 4]) or x^2, g x ([tokens, 2]).
template <typename T>
__global__ void normGradStatsKernel(const T *dy, const T *x, const T *scale,
                                    int64_t tokens, int64_t local, int32_t rms,
                                    float *stats) {
  forEachWarpRow(tokens, [&](int64_t r) {
    double s[4] = {0, 0, 0, 0};
    FOR_LANE(j, local) {
      double v = toFloat(x[r * local + j]);
      double g = double(toFloat(dy[r * local + j])) * toFloat(scale[j]);
      s[0] += v;
      s[1] += v * v;
      s[2] += g;
      s[3] += g * v;
    }
    for (double &v : s)
      v = warpSum(v);
    if (threadIdx.x % 32 == 0) {
      if (rms) {
        stats[r * 2] = float(s[1]);
        stats[r * 2 + 1] = float(s[3]);
      } else {
        for (int k = 0; k < 4; ++k)
          stats[r * 4 + k] = float(s[k]);
      }
    }
  });
}

/// dx (plus `accumulate`) of a layer norm, a warp per row; the row's mean
/// and inverse standard deviation go to `moments` for the parameter
/// gradients. With `stats` (the sums of norm_grad_stats over all `width`
/// features: x, x^2, g and g x, g = dy scale) the row's sums are those.
template <typename T>
__global__ void
layerNormGradKernel(const T *dy, const T *x, const T *scale, const float *stats,
                    int64_t tokens, int64_t local, int64_t width, double eps,
                    const T *accumulate, T *dx, double *moments) {
  forEachWarpRow(tokens, [&](int64_t r) {
    const T *row = x + r * local, *drow = dy + r * local;
    const float *sums = stats ? stats + r * 4 : nullptr;
    double mean, inv;
    layerMoments(row, local, sums, width, eps, &mean, &inv);
    double meanDxhat, meanDxhatXhat;
    if (sums) {
      meanDxhat = sums[2];
      meanDxhatXhat = (double(sums[3]) - mean * sums[2]) * inv;
    } else {
      double a = 0, b = 0;
      FOR_LANE(j, local) {
        double xhat = (toFloat(row[j]) - mean) * inv,
               dxhat = double(toFloat(drow[j])) * toFloat(scale[j]);
        a += dxhat;
        b += dxhat * xhat;
      }
      meanDxhat = warpSum(a);
      meanDxhatXhat = warpSum(b);
    }
    meanDxhat /= width;
    meanDxhatXhat /= width;
    FOR_LANE(j, local) {
      double xhat = (toFloat(row[j]) - mean) * inv,
             dxhat = double(toFloat(drow[j])) * toFloat(scale[j]);
      store(dx[r * local + j],
            float(accumulated(accumulate, r * local + j) +
                  inv * (dxhat - meanDxhat - xhat * meanDxhatXhat)));
    }
    if (threadIdx.x % 32 == 0) {
      moments[r * 2] = mean;
      moments[r * 2 + 1] = inv;
    }
  });
}

/// dx (plus `accumulate`) of an RMS norm, a warp per row; the row's
/// inverse RMS goes to `inverses`. With `stats` (x^2 and g x summed over
/// all `width` features) the row's sums are those.
template <typename T>
__global__ void
rmsNormGradKernel(const T *dy, const T *x, const T *scale, const float *stats,
                  int64_t tokens, int64_t local, int64_t width, double eps,
                  const T *accumulate, T *dx, double *inverses) {
  forEachWarpRow(tokens, [&](int64_t r) {
    const T *row = x + r * local, *drow = dy + r * local;
    const float *sums = stats ? stats + r * 2 : nullptr;
    int64_t w = sums ? width : local;
    double square, dot;
    if (sums) {
      square = sums[0];
      dot = sums[1];
    } else {
      double s = 0, d = 0;
      FOR_LANE(j, local) {
        double v = toFloat(row[j]);
        s += v * v;
        d += double(toFloat(scale[j])) * toFloat(drow[j]) * v;
      }
      square = warpSum(s);
      dot = warpSum(d);
    }
    double inv = 1 / sqrt(square / w + eps);
    FOR_LANE(j, local) {
      store(dx[r * local + j],
            float(accumulated(accumulate, r * local + j) +
                  double(toFloat(scale[j])) * toFloat(drow[j]) * inv -
                  toFloat(row[j]) * inv * inv * inv * dot / w));
    }
    if (threadIdx.x % 32 == 0)
      inverses[r] = inv;
  });
}

//--- Sums over rows, per column
//------------------------------------------------

constexpr int kSumColumns = 32, kSumLanes = 8, kSumThreads = 256;
static_assert(kSumColumns * kSumLanes == kSumThreads);
/// Rows a chunk has at most (so a lane's rows, 8, are read together).
constexpr int64_t kChunkRows = 64;

/// How a column sum splits the rows: `chunks` of `chunkRows` rows (at most
/// 1024 chunks, which bounds the partials).
struct RowChunks {
  int64_t chunks, chunkRows;
  __host__ __device__ explicit RowChunks(int64_t rows) {
    chunks = (rows + kChunkRows - 1) / kChunkRows;
    chunks = chunks < 1 ? 1 : chunks > 1024 ? 1024 : chunks;
    chunkRows = (rows + chunks - 1) / chunks;
    if (chunkRows < 1)
      chunkRows = 1;
  }
};

/// The bytes of the partials of a K-term column sum over rows x n.
inline size_t columnSumBytes(int K, int64_t rows, int64_t n) {
  return size_t(K * RowChunks(rows).chunks * n) * sizeof(double);
}

/// The sums over a block's kSumLanes lanes of each column's K
/// accumulators, in lane order, through `lanes`: true, with them in sum,
/// in lane 0 of a column inside the range (`inside`). Every thread of the
/// block calls it.
template <int K>
__device__ bool sumOverLanes(const double (&acc)[K],
                             double (&lanes)[K][kSumLanes][kSumColumns],
                             bool inside, double (&sum)[K]) {
  int tx = threadIdx.x % kSumColumns, ty = threadIdx.x / kSumColumns;
#pragma unroll
  for (int k = 0; k < K; ++k)
    lanes[k][ty][tx] = acc[k];
  __syncthreads();
  if (ty != 0 || !inside)
    return false;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    sum[k] = 0;
    for (int l = 0; l < kSumLanes; ++l)
      sum[k] += lanes[k][l][tx];
  }
  return true;
}

/// partial[(k * chunks + chunk) * n + j] = the sum over the chunk's rows r
/// of term k of (r, j), for the K terms that `term` adds into acc. Grid:
/// (column blocks, chunks); kSumThreads threads.
template <int K, typename Term>
__global__ void columnPartialsKernel(Term term, int64_t rows, int64_t n,
                                     int64_t chunkRows, double *partial) {
  static __shared__ double lanes[K][kSumLanes][kSumColumns];
  int tx = threadIdx.x % kSumColumns, ty = threadIdx.x / kSumColumns;
  int64_t j = int64_t(blockIdx.x) * kSumColumns + tx, chunk = blockIdx.y;
  int64_t first = chunk * chunkRows, end = min(rows, first + chunkRows);
  double acc[K] = {};
  if (j < n) {
#pragma unroll 4
    for (int64_t r = first + ty; r < end; r += kSumLanes)
      term(r, j, n, acc);
  }
  double sum[K];
  if (sumOverLanes<K>(acc, lanes, j < n, sum))
#pragma unroll
    for (int k = 0; k < K; ++k)
      partial[(k * gridDim.y + chunk) * n + j] = sum[k];
}

/// out_k[j] = the sum over chunks of partial k of column j. Grid: column
/// blocks; kSumThreads threads.
template <int K, typename T>
__global__ void columnFinishKernel(const double *partial, int64_t chunks,
                                   int64_t n, T *out0, T *out1) {
  static __shared__ double lanes[K][kSumLanes][kSumColumns];
  int tx = threadIdx.x % kSumColumns, ty = threadIdx.x / kSumColumns;
  int64_t j = int64_t(blockIdx.x) * kSumColumns + tx;
  double acc[K] = {};
  if (j < n) {
#pragma unroll 4
    for (int64_t c = ty; c < chunks; c += kSumLanes)
#pragma unroll
      for (int k = 0; k < K; ++k)
        acc[k] += partial[(k * chunks + c) * n + j];
  }
  double sum[K];
  if (sumOverLanes<K>(acc, lanes, j < n, sum))
#pragma unroll
    for (int k = 0; k < K; ++k)
      store((k == 0 ? out0 : out1)[j], float(sum[k]));
}

/// The terms: a bias's gradient (dy), a layer norm's scale and bias
/// gradients (dy xhat, dy) and an RMS norm's scale gradient (dy x inv).
template <typename T> struct BiasTerm {
  const T *dy;
  __device__ void operator()(int64_t r, int64_t j, int64_t n,
                             double *acc) const {
    acc[0] += toFloat(dy[r * n + j]);
  }
};

template <typename T> struct LayerNormTerm {
  const T *dy, *x;
  const double *moments;
  __device__ void operator()(int64_t r, int64_t j, int64_t n,
                             double *acc) const {
    double g = toFloat(dy[r * n + j]);
    acc[0] += g * (toFloat(x[r * n + j]) - moments[r * 2]) * moments[r * 2 + 1];
    acc[1] += g;
  }
};

template <typename T> struct RmsNormTerm {
  const T *dy, *x;
  const double *inverses;
  __device__ void operator()(int64_t r, int64_t j, int64_t n,
                             double *acc) const {
    acc[0] +=
        double(toFloat(dy[r * n + j])) * toFloat(x[r * n + j]) * inverses[r];
  }
};

} // namespace axonn::cuda

#endif // AXONN_CUDA_NORMS_CUH
