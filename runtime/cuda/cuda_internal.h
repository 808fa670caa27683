//===- cuda_internal.h - the CUDA backend's state and checks ---*- C++ -*-===//
//
// Every CUDA, cuBLASLt and NCCL call goes through AXONN_CUDA /
// AXONN_CUBLAS / AXONN_NCCL, which record the failing call, its file:line
// and the library's error string with the rank (axonn_rt::fail) and return
// the status from the enclosing runtime entry point.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_INTERNAL_H
#define AXONN_CUDA_INTERNAL_H

#include "../src/runtime_internal.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#ifndef AXONN_RT_SINGLE_PROCESS
#include <nccl.h>
#endif

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace axonn::cuda {

/// Input errors the kernels find (the host cannot see the data before they
/// run); reported by the next axonn_rt_synchronize.
enum DeviceError : int32_t {
  kTokenOutsideVocabulary = 1,
  kPositionOutsideTable = 2,
  kPositionOutsideCache = 3,
};

/// One collective group: its NCCL communicator and stream.
struct Group {
#ifndef AXONN_RT_SINGLE_PROCESS
  ncclComm_t comm = nullptr;
#endif
  cudaStream_t stream = nullptr;
  int64_t size = 1, index = 0;
};

/// A span queued on a stream, timed by two events once they complete.
struct PendingSpan {
  std::string name;
  const char *category;
  cudaEvent_t start, end;
  char phase;
  int64_t id;
  int lane;
};

/// A cuBLASLt matmul descriptor and its three layouts, destroyed with it.
struct MatmulHandles {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  MatmulHandles() = default;
  MatmulHandles(const MatmulHandles &) = delete;
  MatmulHandles &operator=(const MatmulHandles &) = delete;
  ~MatmulHandles() {
    if (c)
      cublasLtMatrixLayoutDestroy(c);
    if (b)
      cublasLtMatrixLayoutDestroy(b);
    if (a)
      cublasLtMatrixLayoutDestroy(a);
    if (desc)
      cublasLtMatmulDescDestroy(desc);
  }
};

/// A GEMM's cuBLASLt setup (descriptor, layouts, the chosen algorithm),
/// made and tuned at the first call of its shape and reused by the later
/// ones, which then only set the bias and aux pointers.
struct GemmPlan : MatmulHandles {
  cublasLtMatmulAlgo_t algo{};
  /// The transposed formulation (its operands are B and A).
  bool swapped = false;
  /// No epilogue algorithm: the GEMM and the GELU (gradient) or bias
  /// gradient kernel.
  bool unfused = false;
};

/// What a GEMM's plan depends on: storage type, transposes, m, n, k, the
/// leading dimensions, bias / aux / GELU-gradient / bias-gradient use and
/// the pointers' alignments.
using GemmKey = std::array<int64_t, 18>;

struct State {
  int device = -1;
  cudaDeviceProp prop{};
  cudaStream_t compute = nullptr;
  /// A second compute stream for independent kernels of one call (the
  /// attention backward's dK/dV beside its dQ), forked from and joined
  /// back to `compute` by the two events.
  cudaStream_t side = nullptr;
  cudaEvent_t fork = nullptr, join = nullptr;
  cublasLtHandle_t lt = nullptr;
  void *ltWorkspace = nullptr;
  size_t ltWorkspaceBytes = size_t(32) << 20;
  /// Device-side input errors (DeviceError), in managed memory.
  int32_t *errors = nullptr;
  /// Scratch for reductions and staging, grown on demand.
  void *scratch = nullptr;
  size_t scratchBytes = 0;
  /// Between axonn_rt_graph_begin and _end: calls are recorded (CUDA
  /// stream capture on `compute`), so whatever would wait for the GPU,
  /// allocate or time (scratch growth, a new optimizer table, first-call
  /// tuning) fails or is skipped instead.
  bool recording = false;
  /// Set while recording when a call skipped its first-call tuning (a
  /// GEMM shape, the attention's row blocks): the recording then fails,
  /// to be made again after an unrecorded call has tuned it, so that a
  /// graph replays what calls made one by one would run.
  bool untunedWhileRecording = false;
  /// Counts the frees of memory a recorded graph may use (scratch growth,
  /// axonn_rt_free): a graph recorded under another count is stale.
  uint64_t memoryGeneration = 0;
  /// Per kernel: its static shared memory (asked once) and the dynamic
  /// shared memory it was opted in to so far (device.cuh's sharedMemory).
  struct KernelShared {
    size_t fixed = 0, optedIn = 0;
  };
  std::map<const void *, KernelShared> kernelShared;
  /// Device copies of the grouped optimizer calls' tables, by content
  /// (the same tensors every step: copied once).
  std::map<std::string, void *> tables;
  /// Groups by axis set (bit 31: the all-gathers' own).
  std::map<uint32_t, Group> groups;
  /// Why hostWait aborted the NCCL communicators (empty: it has not); a
  /// later collective fails with it.
  std::string communicatorsAborted;
  /// Tracing: spans on the GPU's streams, placed on the host clock by a
  /// base event recorded (and waited for) when the first one was queued.
  std::vector<PendingSpan> pending;
  cudaEvent_t traceBase = nullptr;
  double traceBaseHost = 0;
  /// GEMM tuning: the fastest cuBLASLt algorithm (its rank among the
  /// heuristic's candidates) per GEMM shape, measured once and kept in a
  /// file keyed by GPU and cuBLASLt version (AXONN_GEMM_CACHE, default
  /// ~/.cache/axonn/gemm-tuning.txt); AXONN_GEMM_TUNING=0 takes the
  /// heuristic's first instead.
  std::map<std::string, int> gemmChoice;
  /// The tensor-core attention's row blocks a warp (1 or 2) per kernel and
  /// shape, timed at its first call (AXONN_ATTENTION_ROWS unset or auto;
  /// attention_mma.cu's chooseRowBlocks).
  std::map<std::string, int> attentionRows;
  /// The plans of the GEMMs called so far (freed before the handle).
  std::map<GemmKey, std::unique_ptr<GemmPlan>> gemmPlans;
  /// The GEMMs' arithmetic on the fp32 tensors (AXONN_GEMM_PRECISION):
  /// bf16 (default: inputs rounded to bf16 on the tensor cores, fp32
  /// accumulation), tf32, or fp32 (exact; the kernel check uses it).
  cublasComputeType_t gemmCompute = CUBLAS_COMPUTE_32F_FAST_16BF;
  std::string gemmPrecision = "bf16";
  bool gemmCacheLoaded = false, gemmTuning = true;
  std::string gemmCachePath, gemmKeyPrefix;
};

inline State &state(axonn_rt *rt) { return *static_cast<State *>(rt->backend); }

/// Queues the start of a span on `stream` (when tracing is on); returns
/// the index of the pending span, or -1.
int64_t traceBegin(axonn_rt *rt, cudaStream_t stream, std::string name,
                   const char *category, char phase = 'X', int64_t id = 0,
                   int lane = 0);
/// Queues its end.
void traceEnd(axonn_rt *rt, cudaStream_t stream, int64_t span);
/// Turns the completed spans into trace events (after a synchronize).
void traceDrain(axonn_rt *rt);

/// Times what an entry point queues on the compute stream.
class GpuTraceScope {
public:
  GpuTraceScope(axonn_rt *rt, const char *name, const char *category)
      : rt(rt), span(rt && rt->tracer.on
                         ? traceBegin(rt, state(rt).compute, name, category)
                         : -1) {}
  ~GpuTraceScope() {
    if (span >= 0)
      traceEnd(rt, state(rt).compute, span);
  }

private:
  axonn_rt *rt;
  int64_t span;
};

axonn_status checkCuda(axonn_rt *rt, cudaError_t code, const char *call,
                       const char *file, int line);
axonn_status checkCublas(axonn_rt *rt, cublasStatus_t code, const char *call,
                         const char *file, int line);
#ifndef AXONN_RT_SINGLE_PROCESS
axonn_status checkNccl(axonn_rt *rt, ncclResult_t code, const char *call,
                       const char *file, int line);
#endif

/// At least `bytes` of device scratch (waits for the stream when it grows).
axonn_status scratch(axonn_rt *rt, size_t bytes, void **ptr);

/// The host waits for the work queued on `stream` (or before `event`),
/// `what` naming it in errors: cudaStreamSynchronize (cudaEventSynchronize)
/// where this rank has no NCCL communicator or no collective timeout;
/// otherwise by querying, so that an NCCL communicator's asynchronous
/// error (a peer or the network failed: its kernels would wait forever)
/// or axonn_rt::collectiveTimeout passing aborts the communicators and
/// fails the call, rather than hanging.
axonn_status hostWait(axonn_rt *rt, cudaStream_t stream, const char *what);
axonn_status hostWait(axonn_rt *rt, cudaEvent_t event, const char *what);

} // namespace axonn::cuda

#define AXONN_CUDA(rt, expr)                                                   \
  do {                                                                         \
    if (axonn_status axonn_s_ = ::axonn::cuda::checkCuda(                      \
            (rt), (expr), #expr, __FILE__, __LINE__))                          \
      return axonn_s_;                                                         \
  } while (0)
#define AXONN_CUBLAS(rt, expr)                                                 \
  do {                                                                         \
    if (axonn_status axonn_s_ = ::axonn::cuda::checkCublas(                    \
            (rt), (expr), #expr, __FILE__, __LINE__))                          \
      return axonn_s_;                                                         \
  } while (0)
#define AXONN_NCCL(rt, expr)                                                   \
  do {                                                                         \
    if (axonn_status axonn_s_ = ::axonn::cuda::checkNccl(                      \
            (rt), (expr), #expr, __FILE__, __LINE__))                          \
      return axonn_s_;                                                         \
  } while (0)
#define AXONN_GPU_TRACE(rt, name, category)                                    \
  ::axonn::cuda::GpuTraceScope axonnGpuTraceScope_((rt), (name), (category))
/// After a kernel launch: the launch's own error.
#define AXONN_LAUNCHED(rt) AXONN_CUDA(rt, cudaGetLastError())

#endif // AXONN_CUDA_INTERNAL_H
