//===- reductions.cuh - block-wide sum and maximum -------------*- CUDA -*-===//
//
// A block's threads' values combined into one that every thread gets: a
// shuffle tree within each warp, then the warps' results in warp 0, in a
// fixed order (the same bits at every call). Plain device code, which the
// emulation tests (runtime/check/cuda_emulation.h) compile for the host.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_REDUCTIONS_CUH
#define AXONN_CUDA_REDUCTIONS_CUH

#include <cmath>

namespace axonn::cuda {

/// Block-wide reduction of v by `op` (blockDim.x a multiple of 32, at most
/// 1024; `identity` fills the lanes of warp 0 past the block's warps).
template <typename T, typename Op>
__device__ inline T blockReduce(T v, T identity, Op op) {
  static __shared__ T partial[32];
  for (int o = 16; o > 0; o >>= 1)
    v = op(v, __shfl_down_sync(0xffffffffu, v, o));
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  __syncthreads();
  if (lane == 0)
    partial[warp] = v;
  __syncthreads();
  unsigned warps = (blockDim.x + 31) / 32;
  v = threadIdx.x < warps ? partial[threadIdx.x] : identity;
  if (warp == 0)
    for (int o = 16; o > 0; o >>= 1)
      v = op(v, __shfl_down_sync(0xffffffffu, v, o));
  static __shared__ T total;
  if (threadIdx.x == 0)
    total = v;
  __syncthreads();
  return total;
}

struct Add {
  __device__ double operator()(double a, double b) const { return a + b; }
};
struct Max {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/// Block-wide sum of a double.
__device__ inline double blockSum(double v) {
  return blockReduce(v, 0.0, Add{});
}

/// Block-wide maximum of a float.
__device__ inline float blockMax(float v) {
  return blockReduce(v, -INFINITY, Max{});
}

} // namespace axonn::cuda

#endif // AXONN_CUDA_REDUCTIONS_CUH
