//===- optimizer.cuh - AdamW on the GPU ------------------------*- CUDA -*-===//
//
// AdamW on fp32 state (m, v and, with bf16 parameters, fp32 master
// weights), with the learning-rate schedule and gradient clipping worked
// out on the device from the step counter and the gradient norm, as the
// CPU backend does on the host.
//
// The update reads and writes every parameter's state once a step: memory
// traffic and nothing else. The grouped kernel moves four elements a
// thread at a time (16-byte accesses to the fp32 state; 16 or 8 bytes of
// parameter and gradient) where the tensor's arrays are aligned for it,
// and the elements past the last four one at a time; so does the gradient
// norm's grouped sum of squares.
//
// Plain device code: unittests/OptimizerEmulationTest.cpp runs it on the
// CPU through runtime/check/cuda_emulation.h.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_OPTIMIZER_CUH
#define AXONN_CUDA_OPTIMIZER_CUH

#include "elements.cuh"
#include "reductions.cuh"

namespace axonn::cuda {

/// The schedule's learning rate at `step` (from 0): linear warm-up, then
/// constant (0), linear (1) or cosine (2) decay to minLr.
__device__ inline double learningRate(double lr, double minLr, int64_t warmup,
                                      int64_t steps, int32_t schedule,
                                      int64_t step) {
  if (step < warmup)
    return lr * double(step + 1) / double(warmup);
  double progress =
      steps > warmup ? fmin(1.0, double(step - warmup) / double(steps - warmup))
                     : 1.0;
  if (schedule == 0)
    return lr;
  if (schedule == 1)
    return minLr + (lr - minLr) * (1 - progress);
  return minLr + 0.5 * (lr - minLr) * (1 + cos(M_PI * progress));
}

struct AdamWArgs {
  double lr, minLr, beta1, beta2, eps, weightDecay, gradClip;
  int64_t warmup, steps;
  int32_t schedule, decay;
};

/// The step's scalars of AdamW, from the schedule at *stepPtr and the
/// gradient norm (in double, then rounded as the update uses them).
struct AdamWStep {
  float factor, stepSize, invRootC2, decay, beta1, beta2, eps;
  /// (norm is read only when clipping is on, as on the CPU.)
  __device__ AdamWStep(const AdamWArgs &a, int64_t step, const float *norm,
                       bool decays) {
    double rate =
        learningRate(a.lr, a.minLr, a.warmup, a.steps, a.schedule, step);
    factor = float(
        a.gradClip > 0 ? fmin(1.0, a.gradClip / (double(*norm) + 1e-6)) : 1.0);
    double t = double(step + 1);
    stepSize = float(rate / (1 - pow(a.beta1, t)));
    invRootC2 = float(1 / sqrt(1 - pow(a.beta2, t)));
    decay = float(rate * (decays ? a.weightDecay : 0));
    beta1 = float(a.beta1);
    beta2 = float(a.beta2);
    eps = float(a.eps);
  }
  /// One element's update: m, v and p (the parameter or its master
  /// weight) from the gradient g.
  __device__ void update(float g, float &m, float &v, float &p) const {
    g *= factor;
    m = beta1 * m + (1 - beta1) * g;
    v = beta2 * v + (1 - beta2) * g * g;
    p -= stepSize * m / (sqrtf(v) * invRootC2 + eps) + decay * p;
  }
  /// Element i's update.
  template <typename T>
  __device__ void apply(T *param, const T *grad, float *m, float *v,
                        float *master, int64_t i) const {
    float mi = m[i], vi = v[i];
    float p = master ? master[i] : toFloat(param[i]);
    update(toFloat(grad[i]), mi, vi, p);
    m[i] = mi;
    v[i] = vi;
    if (master)
      master[i] = p;
    store(param[i], p);
  }
  /// Elements i ... i + 3's update, four at a time (i a multiple of 4, the
  /// arrays pieceAligned<4>).
  template <typename T>
  __device__ void applyFour(T *param, const T *grad, float *m, float *v,
                            float *master, int64_t i) const {
    float g[4], mi[4], vi[4], p[4];
    loadPiece(grad + i, g);
    loadPiece(m + i, mi);
    loadPiece(v + i, vi);
    if (master)
      loadPiece(master + i, p);
    else
      loadPiece(param + i, p);
#pragma unroll
    for (int e = 0; e < 4; ++e)
      update(g[e], mi[e], vi[e], p[e]);
    storePiece(m + i, mi);
    storePiece(v + i, vi);
    if (master)
      storePiece(master + i, p);
    storePiece(param + i, p);
  }
};

/// AdamW on fp32 state; param and grad in fp32 or bf16 storage (T). With
/// master weights the update runs on them and param is their rounding.
template <typename T>
__global__ void adamwKernel(T *param, const T *grad, float *m, float *v,
                            float *master, int64_t count,
                            const int64_t *stepPtr, const float *norm,
                            AdamWArgs a) {
  AdamWStep step(a, *stepPtr, norm, a.decay);
  GRID_STRIDE(i, count)
  step.apply(param, grad, m, v, master, i);
}

/// A piece of one tensor of a group: its elements [begin, end).
struct Chunk {
  int64_t tensor, begin, end;
};

/// One tensor of an AdamW group (param and grad of the storage type).
struct AdamWTensor {
  void *param;
  const void *grad;
  float *m, *v, *master;
  int64_t decay;
};

/// A block per chunk (striding over them): AdamW on the chunk's elements,
/// the step's scalars worked out once per chunk; four at a time from the
/// chunk's start (a multiple of 4) where the tensor's arrays allow.
template <typename T>
__global__ void
adamwGroupKernel(const AdamWTensor *tensors, const Chunk *chunks, int64_t count,
                 const int64_t *stepPtr, const float *norm, AdamWArgs a) {
  for (int64_t c = blockIdx.x; c < count; c += gridDim.x) {
    Chunk chunk = chunks[c];
    AdamWTensor t = tensors[chunk.tensor];
    AdamWStep step(a, *stepPtr, norm, t.decay != 0);
    auto *param = static_cast<T *>(t.param);
    auto *grad = static_cast<const T *>(t.grad);
    int64_t begin = chunk.begin;
    if (begin % 4 == 0 && pieceAligned<4>(param) && pieceAligned<4>(grad) &&
        pieceAligned<4>(t.m) && pieceAligned<4>(t.v) &&
        (!t.master || pieceAligned<4>(t.master))) {
      int64_t fours = (chunk.end - begin) / 4;
      for (int64_t q = threadIdx.x; q < fours; q += blockDim.x)
        step.applyFour(param, grad, t.m, t.v, t.master, begin + 4 * q);
      begin += 4 * fours;
    }
    for (int64_t i = begin + threadIdx.x; i < chunk.end; i += blockDim.x)
      step.apply(param, grad, t.m, t.v, t.master, i);
  }
}

// The gradient norm's sum of squares (clipping's input), over the same
// chunks as the grouped AdamW: partial sums a block per chunk, then one
// block adds them, scaled per tensor, in a fixed order.

/// A thread's share of the sum of squares of x: elements begin, begin +
/// stride, ... before end, in double.
template <typename T>
__device__ double squaresFrom(const T *x, int64_t begin, int64_t end,
                              int64_t stride) {
  double sum = 0;
  for (int64_t i = begin; i < end; i += stride) {
    double v = toFloat(x[i]);
    sum += v * v;
  }
  return sum;
}

/// partial[c] = the sum of squares of chunk c of the gradients, a block
/// per chunk (striding).
template <typename T>
__global__ void squaresGroupKernel(const void *const *grads,
                                   const Chunk *chunks, int64_t count,
                                   double *partial) {
  for (int64_t c = blockIdx.x; c < count; c += gridDim.x) {
    Chunk chunk = chunks[c];
    const T *x = static_cast<const T *>(grads[chunk.tensor]);
    // Four at a time from the chunk's start (a multiple of 4) where the
    // tensor is aligned for it (elements.cuh's pieces), then one at a
    // time.
    double sum = 0;
    int64_t begin = chunk.begin;
    if (begin % 4 == 0 && pieceAligned<4>(x)) {
      int64_t fours = (chunk.end - begin) / 4;
      for (int64_t q = threadIdx.x; q < fours; q += blockDim.x) {
        float v[4];
        loadPiece(x + begin + 4 * q, v);
#pragma unroll
        for (int e = 0; e < 4; ++e)
          sum += double(v[e]) * v[e];
      }
      begin += 4 * fours;
    }
    sum = blockSum(sum + squaresFrom(x, begin + threadIdx.x, chunk.end,
                                     int64_t(blockDim.x)));
    if (threadIdx.x == 0)
      partial[c] = sum;
  }
}

/// *result = the sum over chunks of scales[tensor] * partial, in a fixed
/// order (one block).
static __global__ void
finishSquaresGroupKernel(const double *partial, const Chunk *chunks,
                         int64_t count, const double *scales, float *result) {
  double sum = 0;
  for (int64_t c = threadIdx.x; c < count; c += blockDim.x)
    sum += scales[chunks[c].tensor] * partial[c];
  sum = blockSum(sum);
  if (threadIdx.x == 0)
    *result = float(sum);
}

} // namespace axonn::cuda

#endif // AXONN_CUDA_OPTIMIZER_CUH
