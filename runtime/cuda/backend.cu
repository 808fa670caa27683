//===- backend.cu - the CUDA backend: device, memory, synchronization -----===//
//
// One GPU per rank (the launcher's local rank, else rank modulo the GPUs),
// one compute stream on which every kernel and GEMM is queued, a cuBLASLt
// handle with its workspace. Shared memory (parameters, inputs, results)
// is CUDA managed memory, so the driver reads and writes it from the host
// after axonn_rt_synchronize; the workspace is device memory.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace axonn::cuda {

axonn_status checkCuda(axonn_rt *rt, cudaError_t code, const char *call,
                       const char *file, int line) {
  if (code == cudaSuccess)
    return AXONN_OK;
  return rt->fail(code == cudaErrorMemoryAllocation ? AXONN_ERR_OUT_OF_MEMORY
                                                    : AXONN_ERR_CUDA,
                  "%s failed at %s:%d: %s (%s)", call, file, line,
                  cudaGetErrorString(code), cudaGetErrorName(code));
}

/// cuBLASLt has no status-string call of its own (cublasGetStatusString is
/// in libcublas, which the backend does not link).
static const char *cublasStatusName(cublasStatus_t code) {
  switch (code) {
  case CUBLAS_STATUS_NOT_INITIALIZED:
    return "CUBLAS_STATUS_NOT_INITIALIZED";
  case CUBLAS_STATUS_ALLOC_FAILED:
    return "CUBLAS_STATUS_ALLOC_FAILED";
  case CUBLAS_STATUS_INVALID_VALUE:
    return "CUBLAS_STATUS_INVALID_VALUE";
  case CUBLAS_STATUS_ARCH_MISMATCH:
    return "CUBLAS_STATUS_ARCH_MISMATCH";
  case CUBLAS_STATUS_MAPPING_ERROR:
    return "CUBLAS_STATUS_MAPPING_ERROR";
  case CUBLAS_STATUS_EXECUTION_FAILED:
    return "CUBLAS_STATUS_EXECUTION_FAILED";
  case CUBLAS_STATUS_INTERNAL_ERROR:
    return "CUBLAS_STATUS_INTERNAL_ERROR";
  case CUBLAS_STATUS_NOT_SUPPORTED:
    return "CUBLAS_STATUS_NOT_SUPPORTED";
  case CUBLAS_STATUS_LICENSE_ERROR:
    return "CUBLAS_STATUS_LICENSE_ERROR";
  default:
    return "unknown cuBLAS status";
  }
}

axonn_status checkCublas(axonn_rt *rt, cublasStatus_t code, const char *call,
                         const char *file, int line) {
  if (code == CUBLAS_STATUS_SUCCESS)
    return AXONN_OK;
  return rt->fail(AXONN_ERR_CUBLAS, "%s failed at %s:%d: %s (%d)", call, file,
                  line, cublasStatusName(code), int(code));
}

#ifndef AXONN_RT_SINGLE_PROCESS
axonn_status checkNccl(axonn_rt *rt, ncclResult_t code, const char *call,
                       const char *file, int line) {
  if (code == ncclSuccess || code == ncclInProgress)
    return AXONN_OK;
  return rt->fail(AXONN_ERR_NCCL, "%s failed at %s:%d: %s", call, file, line,
                  ncclGetErrorString(code));
}
#endif

#ifndef AXONN_RT_SINGLE_PROCESS
/// Whether the host's waits poll (hostWait).
static bool watched(axonn_rt *rt) {
  if (rt->collectiveTimeout <= 0)
    return false;
  for (auto &[key, group] : state(rt).groups)
    if (group.comm)
      return true;
  return false;
}

/// Ends every NCCL communicator's operations (their kernels stop waiting
/// for peers) and returns `status`, a failure rt->fail has recorded, whose
/// message later collectives repeat (State::communicatorsAborted).
static axonn_status abortCommunicators(axonn_rt *rt, axonn_status status) {
  State &s = state(rt);
  for (auto &[key, group] : s.groups)
    if (group.comm) {
      ncclCommAbort(group.comm);
      group.comm = nullptr;
    }
  s.communicatorsAborted = rt->lastError;
  return status;
}

/// Polls `query` (cudaStreamQuery or cudaEventQuery, named `call`) until
/// the work is done, checking the communicators' asynchronous errors and
/// the time every 64 queries.
template <typename Query>
static axonn_status poll(axonn_rt *rt, Query query, const char *call,
                         const char *what) {
  State &s = state(rt);
  auto start = std::chrono::steady_clock::now();
  for (uint64_t queries = 1;; ++queries) {
    cudaError_t done = query();
    if (done == cudaSuccess)
      return AXONN_OK;
    if (done != cudaErrorNotReady)
      return checkCuda(rt, done, call, __FILE__, __LINE__);
    if (queries % 64 == 0) {
      for (auto &[key, group] : s.groups) {
        ncclResult_t async = ncclSuccess;
        if (!group.comm ||
            ncclCommGetAsyncError(group.comm, &async) != ncclSuccess ||
            async == ncclSuccess || async == ncclInProgress)
          continue;
        std::string axes = axesText(key & ~(1u << 31));
        return abortCommunicators(
            rt, rt->fail(AXONN_ERR_NCCL,
                         "the NCCL communicator over %s failed while the "
                         "host waited for %s: %s (ncclCommGetAsyncError)",
                         axes.c_str(), what, ncclGetErrorString(async)));
      }
      if (rt->pastTimeout(start))
        return abortCommunicators(
            rt, rt->timedOut(std::string(what) +
                             " (with NCCL collectives among it)"));
    }
    std::this_thread::yield();
  }
}
#endif

/// hostWait on a stream or an event: `query` it (named queryName) under
/// watch, else `block` on it (named blockName).
template <typename Handle>
static axonn_status waitOn(axonn_rt *rt, Handle handle,
                           cudaError_t (*query)(Handle), const char *queryName,
                           cudaError_t (*block)(Handle), const char *blockName,
                           const char *what) {
#ifndef AXONN_RT_SINGLE_PROCESS
  if (watched(rt))
    return poll(
        rt, [&] { return query(handle); }, queryName, what);
#else
  (void)query, (void)queryName, (void)what;
#endif
  return checkCuda(rt, block(handle), blockName, __FILE__, __LINE__);
}

axonn_status hostWait(axonn_rt *rt, cudaStream_t stream, const char *what) {
  return waitOn(rt, stream, cudaStreamQuery, "cudaStreamQuery",
                cudaStreamSynchronize, "cudaStreamSynchronize", what);
}

axonn_status hostWait(axonn_rt *rt, cudaEvent_t event, const char *what) {
  return waitOn(rt, event, cudaEventQuery, "cudaEventQuery",
                cudaEventSynchronize, "cudaEventSynchronize", what);
}

axonn_status scratch(axonn_rt *rt, size_t bytes, void **ptr) {
  State &s = state(rt);
  if (bytes > s.scratchBytes && s.recording)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "a call needs %zu bytes of scratch, more than the %zu "
                    "there are, while recording a graph (growing it waits "
                    "for the GPU: run the calls once before recording them)",
                    bytes, s.scratchBytes);
  if (bytes > s.scratchBytes) {
    if (axonn_status st =
            hostWait(rt, s.compute, "the GPU work before scratch grew"))
      return st;
    ++s.memoryGeneration;
    if (s.scratch)
      AXONN_CUDA(rt, cudaFree(s.scratch));
    // No scratch until the allocation succeeds: a failed growth must not
    // leave a size that later, smaller requests would take as granted.
    s.scratch = nullptr;
    s.scratchBytes = 0;
    size_t size = std::max(bytes, size_t(1) << 20);
    AXONN_CUDA(rt, cudaMalloc(&s.scratch, size));
    s.scratchBytes = size;
  }
  *ptr = s.scratch;
  return AXONN_OK;
}

int64_t traceBegin(axonn_rt *rt, cudaStream_t stream, std::string name,
                   const char *category, char phase, int64_t id, int lane) {
  if (!rt || !rt->tracer.on)
    return -1;
  State &s = state(rt);
  if (!s.traceBase) {
    if (cudaEventCreate(&s.traceBase) != cudaSuccess ||
        cudaEventRecord(s.traceBase, s.compute) != cudaSuccess ||
        cudaEventSynchronize(s.traceBase) != cudaSuccess)
      return -1;
    s.traceBaseHost = rt->tracer.now();
  }
  PendingSpan span{std::move(name), category, nullptr, nullptr, phase, id,
                   lane};
  if (cudaEventCreate(&span.start) != cudaSuccess ||
      cudaEventCreate(&span.end) != cudaSuccess ||
      cudaEventRecord(span.start, stream) != cudaSuccess) {
    if (span.start)
      cudaEventDestroy(span.start);
    if (span.end)
      cudaEventDestroy(span.end);
    cudaGetLastError(); // tracing must not leave an error behind
    return -1;
  }
  s.pending.push_back(span);
  return int64_t(s.pending.size()) - 1;
}

void traceEnd(axonn_rt *rt, cudaStream_t stream, int64_t span) {
  State &s = state(rt);
  if (span >= 0 && span < int64_t(s.pending.size()))
    cudaEventRecord(s.pending[size_t(span)].end, stream);
}

void traceDrain(axonn_rt *rt) {
  State &s = state(rt);
  std::vector<PendingSpan> later;
  for (PendingSpan &p : s.pending) {
    // Not finished yet (a span whose end is still queued): keep it.
    if (cudaEventQuery(p.end) == cudaErrorNotReady) {
      later.push_back(p);
      continue;
    }
    float begin = 0, end = 0;
    if (cudaEventElapsedTime(&begin, s.traceBase, p.start) == cudaSuccess &&
        cudaEventElapsedTime(&end, s.traceBase, p.end) == cudaSuccess) {
      double start = s.traceBaseHost + begin / 1e3,
             finish = s.traceBaseHost + end / 1e3;
      if (p.phase == 'b') {
        // A collective's flight: begin and end events of the same id.
        rt->tracer.events.push_back(
            {p.name, p.category, start, start, 'b', p.id, p.lane});
        rt->tracer.events.push_back(
            {p.name, p.category, finish, finish, 'e', p.id, p.lane});
      } else {
        rt->tracer.events.push_back(
            {p.name, p.category, start, finish, 'X', 0, p.lane});
      }
    }
    cudaEventDestroy(p.start);
    cudaEventDestroy(p.end);
  }
  s.pending = std::move(later);
  cudaGetLastError(); // a span that never ended must not fail the next call
}

void backendBeforeStart() {}

/// The rank's GPU: AXONN_CUDA_DEVICE if set (taken as given, so that a
/// wrong one fails at cudaSetDevice), else the launcher's local rank, else
/// rank modulo the GPUs.
static int localRank(const axonn_rt *rt, int devices) {
  if (const char *forced = std::getenv("AXONN_CUDA_DEVICE"))
    return std::atoi(forced);
  for (const char *name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID",
                           "MPI_LOCALRANKID", "LOCAL_RANK"})
    if (const char *value = std::getenv(name))
      return std::atoi(value) % devices;
  return int(rt->rank % devices);
}

axonn_status backendStart(axonn_rt *rt) {
  auto *s = new State();
  rt->backend = s;
  int devices = 0;
  cudaError_t found = cudaGetDeviceCount(&devices);
  if (found != cudaSuccess || devices == 0)
    return rt->fail(AXONN_ERR_CUDA,
                    "no GPU for the CUDA runtime: cudaGetDeviceCount: %s "
                    "(%d devices)",
                    cudaGetErrorString(found), devices);
  s->device = localRank(rt, devices);
  AXONN_CUDA(rt, cudaSetDevice(s->device));
  AXONN_CUDA(rt, cudaGetDeviceProperties(&s->prop, s->device));
  AXONN_CUDA(rt, cudaStreamCreateWithFlags(&s->compute, cudaStreamNonBlocking));
  AXONN_CUDA(rt, cudaStreamCreateWithFlags(&s->side, cudaStreamNonBlocking));
  AXONN_CUDA(rt, cudaEventCreateWithFlags(&s->fork, cudaEventDisableTiming));
  AXONN_CUDA(rt, cudaEventCreateWithFlags(&s->join, cudaEventDisableTiming));
  // Stream-ordered allocations (the bf16 twins' working copies, staging of
  // collectives) keep their memory in the pool between steps instead of
  // giving it back at every synchronize: no allocator work after the first
  // step. axonn_rt_peak_allocated counts the pool's high-water mark.
  cudaMemPool_t pool;
  AXONN_CUDA(rt, cudaDeviceGetDefaultMemPool(&pool, s->device));
  uint64_t keep = UINT64_MAX;
  AXONN_CUDA(rt, cudaMemPoolSetAttribute(
                     pool, cudaMemPoolAttrReleaseThreshold, &keep));
  AXONN_CUBLAS(rt, cublasLtCreate(&s->lt));
  AXONN_CUDA(rt, cudaMalloc(&s->ltWorkspace, s->ltWorkspaceBytes));
  AXONN_CUDA(rt, cudaMallocManaged(reinterpret_cast<void **>(&s->errors),
                                   sizeof(int32_t)));
  *s->errors = 0;
  return AXONN_OK;
}

void backendStop(axonn_rt *rt) {
  auto *s = static_cast<State *>(rt->backend);
  if (!s)
    return;
  if (s->compute)
    cudaStreamSynchronize(s->compute);
  if (s->side)
    cudaStreamSynchronize(s->side);
  for (auto &[key, group] : s->groups) {
#ifndef AXONN_RT_SINGLE_PROCESS
    if (group.comm)
      ncclCommDestroy(group.comm);
#endif
    if (group.stream)
      cudaStreamDestroy(group.stream);
  }
  for (PendingSpan &p : s->pending) {
    cudaEventDestroy(p.start);
    cudaEventDestroy(p.end);
  }
  if (s->traceBase)
    cudaEventDestroy(s->traceBase);
  s->gemmPlans.clear();
  if (s->lt)
    cublasLtDestroy(s->lt);
  cudaFree(s->ltWorkspace);
  cudaFree(s->scratch);
  for (auto &[content, table] : s->tables)
    cudaFree(table);
  cudaFree(s->errors);
  if (s->fork)
    cudaEventDestroy(s->fork);
  if (s->join)
    cudaEventDestroy(s->join);
  if (s->side)
    cudaStreamDestroy(s->side);
  if (s->compute)
    cudaStreamDestroy(s->compute);
  delete s;
  rt->backend = nullptr;
}

} // namespace axonn::cuda

namespace axonn {
void backendBeforeStart() { cuda::backendBeforeStart(); }
axonn_status backendStart(axonn_rt *rt) { return cuda::backendStart(rt); }
void backendStop(axonn_rt *rt) { cuda::backendStop(rt); }
} // namespace axonn

using namespace axonn::cuda;

extern "C" const char *axonn_rt_backend(void) { return "cuda"; }

extern "C" axonn_status axonn_rt_alloc(axonn_rt *rt, int64_t bytes,
                                       axonn_memory kind, void **ptr) {
  if (!ptr || bytes < 0)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "alloc: bad arguments");
  *ptr = nullptr;
  // (Its zero fill would be recorded, not run.)
  if (state(rt).recording)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "alloc while recording a graph");
  size_t size = size_t(bytes > 256 ? bytes : 256);
  if (kind == AXONN_MEMORY_DEVICE) {
    AXONN_CUDA(rt, cudaMalloc(ptr, size));
    // On the compute stream: ordered before the kernels that use it.
    if (axonn_status status = checkCuda(
            rt, cudaMemsetAsync(*ptr, 0, size, state(rt).compute),
            "cudaMemsetAsync", __FILE__, __LINE__)) {
      cudaFree(*ptr);
      *ptr = nullptr;
      return status;
    }
  } else {
    AXONN_CUDA(rt, cudaMallocManaged(ptr, size));
    std::memset(*ptr, 0, size);
  }
  rt->allocatedNow(*ptr, int64_t(size));
  return AXONN_OK;
}

extern "C" void axonn_rt_free(axonn_rt *rt, void *ptr) {
  rt->freedNow(ptr);
  ++state(rt).memoryGeneration;
  cudaFree(ptr);
}

extern "C" axonn_status axonn_rt_prefetch(axonn_rt *rt, const void *ptr,
                                          int64_t bytes) {
  State &s = state(rt);
  if (!ptr || bytes <= 0 || !s.prop.concurrentManagedAccess)
    return AXONN_OK;
  cudaPointerAttributes attributes;
  AXONN_CUDA(rt, cudaPointerGetAttributes(&attributes, ptr));
  if (attributes.type != cudaMemoryTypeManaged)
    return AXONN_OK;
  cudaMemLocation gpu{};
  gpu.type = cudaMemLocationTypeDevice;
  gpu.id = s.device;
  AXONN_CUDA(rt, cudaMemPrefetchAsync(ptr, size_t(bytes), gpu, 0, s.compute));
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_synchronize(axonn_rt *rt) {
  State &s = state(rt);
  if (s.recording)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "synchronize while recording a graph");
  if (axonn_status st = hostWait(rt, s.compute, "the rank's queued GPU work"))
    return st;
  // Collectives started and not yet waited for run on their own streams.
  for (auto &[key, group] : s.groups)
    if (axonn_status st =
            hostWait(rt, group.stream, "the rank's queued collectives"))
      return st;
  if (!s.pending.empty())
    traceDrain(rt);
  int32_t error = *s.errors;
  *s.errors = 0;
  switch (error) {
  case 0:
    return AXONN_OK;
  case kTokenOutsideVocabulary:
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "a token id is outside the vocabulary (found by the "
                    "embedding kernel)");
  case kPositionOutsideTable:
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "a position is outside the learned positions (found by "
                    "the embedding kernel)");
  default:
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "positions do not fit the key/value cache (found by the "
                    "cached attention kernel)");
  }
}

//===----------------------------------------------------------------------===//
// Recorded calls: stream capture on the compute stream. The side stream
// and the collectives' streams join the capture through the events the
// calls already use to order them after the compute stream (and leave it
// by the events the compute stream waits for), so one graph holds them all.
//===----------------------------------------------------------------------===//

struct axonn_graph_impl {
  cudaGraphExec_t exec = nullptr;
  uint64_t generation = 0;
};

extern "C" int32_t axonn_rt_graph_supported(const axonn_rt *rt) {
  (void)rt;
  return 1;
}

extern "C" axonn_status axonn_rt_graph_begin(axonn_rt *rt) {
  State &s = state(rt);
  if (s.recording)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "axonn_rt_graph_begin: already recording");
  if (rt->tracer.on)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "cannot record a graph while tracing (a trace times "
                    "each call as it runs)");
  // Thread-local: only this thread's calls are held to capture's rules.
  AXONN_CUDA(
      rt, cudaStreamBeginCapture(s.compute, cudaStreamCaptureModeThreadLocal));
  s.recording = true;
  s.untunedWhileRecording = false;
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_graph_end(axonn_rt *rt, axonn_graph *out) {
  State &s = state(rt);
  if (!out)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "axonn_rt_graph_end: no out");
  *out = nullptr;
  if (!s.recording)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "axonn_rt_graph_end: not recording");
  s.recording = false;
  // Ending on the stream that began it ends the capture on every stream
  // that joined, even after a failed call left one unjoined (the graph is
  // then null). Captured work never ran; capture errors are not sticky.
  cudaGraph_t graph = nullptr;
  cudaError_t ended = cudaStreamEndCapture(s.compute, &graph);
  cudaGetLastError();
  if (ended != cudaSuccess || !graph) {
    if (graph)
      cudaGraphDestroy(graph);
    return rt->fail(AXONN_ERR_CUDA,
                    "recording a graph failed: cudaStreamEndCapture: %s",
                    ended != cudaSuccess ? cudaGetErrorString(ended)
                                         : "no graph (the capture was "
                                           "invalidated)");
  }
  if (s.untunedWhileRecording) {
    cudaGraphDestroy(graph);
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "a GEMM shape or attention kernel met while recording "
                    "was not tuned yet (a call made one by one tunes it)");
  }
  // (Memory a graph allocates is freed inside it; should a future call
  // leave some allocated, relaunching frees it rather than failing.)
  cudaGraphExec_t exec = nullptr;
  cudaError_t made = cudaGraphInstantiate(
      &exec, graph, cudaGraphInstantiateFlagAutoFreeOnLaunch);
  cudaGraphDestroy(graph);
  if (made != cudaSuccess) {
    cudaGetLastError();
    return rt->fail(AXONN_ERR_CUDA,
                    "recording a graph failed: cudaGraphInstantiate: %s",
                    cudaGetErrorString(made));
  }
  *out = new axonn_graph_impl{exec, s.memoryGeneration};
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_graph_launch(axonn_rt *rt, axonn_graph graph) {
  State &s = state(rt);
  if (!graph || s.recording || rt->tracer.on)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "axonn_rt_graph_launch: %s",
                    !graph        ? "no graph"
                    : s.recording ? "while recording"
                                  : "while tracing (a trace times each call)");
  if (graph->generation != s.memoryGeneration)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "axonn_rt_graph_launch: memory the graph uses was freed "
                    "after it was recorded");
  AXONN_CUDA(rt, cudaGraphLaunch(graph->exec, s.compute));
  return AXONN_OK;
}

extern "C" int32_t axonn_rt_graph_current(const axonn_rt *rt,
                                          axonn_graph graph) {
  auto *s = static_cast<const State *>(rt->backend);
  return graph && s && graph->generation == s->memoryGeneration;
}

extern "C" void axonn_rt_graph_destroy(axonn_rt *rt, axonn_graph graph) {
  (void)rt;
  if (!graph)
    return;
  cudaGraphExecDestroy(graph->exec);
  delete graph;
}

extern "C" const char *axonn_rt_blas_core(void) {
  static std::string text;
  cudaDeviceProp prop;
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaGetDeviceProperties(&prop, device) != cudaSuccess)
    return "cuBLASLt";
  text = std::string("cuBLASLt, ") + prop.name;
  return text.c_str();
}

/// Dense bf16 tensor-core peak (the usual MFU denominator): SMs x clock x
/// FLOP per cycle per SM (A100: 2048, H100/H200: 4096).
extern "C" double axonn_rt_peak_flops(char *text, int64_t size) {
  cudaDeviceProp prop;
  int device = 0, clockKHz = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaGetDeviceProperties(&prop, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&clockKHz, cudaDevAttrClockRate, device) !=
          cudaSuccess)
    return 0;
  int perCycle = prop.major >= 9 ? 4096 : prop.major == 8 ? 2048 : 1024;
  double peak = double(prop.multiProcessorCount) * clockKHz * 1e3 * perCycle;
  if (text && size > 0)
    std::snprintf(text, size_t(size),
                  "%s: %d SMs x %.2f GHz x %d FLOP/cycle (dense bf16 tensor "
                  "cores)",
                  prop.name, prop.multiProcessorCount, clockKHz / 1e6,
                  perCycle);
  return peak;
}

//===----------------------------------------------------------------------===//
// The bf16 twins' fp32 copies (src/bf16_twins.cpp): stream-ordered device
// memory from the pool, conversions on the compute stream.
//===----------------------------------------------------------------------===//

namespace {
__global__ void widenKernel(const uint16_t *in, int64_t count, float *out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += int64_t(blockDim.x) * gridDim.x)
    out[i] = __uint_as_float(uint32_t(in[i]) << 16);
}
__global__ void narrowKernel(const float *in, int64_t count, uint16_t *out) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += int64_t(blockDim.x) * gridDim.x) {
    uint32_t bits = __float_as_uint(in[i]);
    out[i] = (bits & 0x7fffffffu) > 0x7f800000u
                 ? uint16_t((bits >> 16) | 0x40u)
                 : uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  }
}
int conversionBlocks(int64_t count) {
  return int(std::max<int64_t>(
      1, std::min<int64_t>((count + 255) / 256, int64_t(1) << 16)));
}
} // namespace

namespace axonn {
using cuda::state;

axonn_status widenAlloc(axonn_rt *rt, int64_t count, bool zeroed,
                        axonn_real **out) {
  cudaStream_t stream = state(rt).compute;
  size_t bytes = size_t(std::max<int64_t>(count, 1)) * sizeof(float);
  AXONN_CUDA(rt, cudaMallocAsync(reinterpret_cast<void **>(out), bytes,
                                 stream));
  if (zeroed)
    AXONN_CUDA(rt, cudaMemsetAsync(*out, 0, bytes, stream));
  return AXONN_OK;
}
void widenFree(axonn_rt *rt, axonn_real *p) {
  cudaFreeAsync(p, state(rt).compute);
}

int64_t backendPoolPeak(const axonn_rt *rt) {
  auto *s = static_cast<const cuda::State *>(rt->backend);
  cudaMemPool_t pool;
  uint64_t high = 0;
  if (!s || cudaDeviceGetDefaultMemPool(&pool, s->device) != cudaSuccess ||
      cudaMemPoolGetAttribute(pool, cudaMemPoolAttrReservedMemHigh, &high) !=
          cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  // Recorded graphs keep the memory their allocations take apart.
  uint64_t graphs = 0;
  if (cudaDeviceGetGraphMemAttribute(s->device, cudaGraphMemAttrReservedMemHigh,
                                     &graphs) != cudaSuccess) {
    cudaGetLastError();
    graphs = 0;
  }
  return int64_t(high + graphs);
}
axonn_status widen(axonn_rt *rt, const axonn_bf16 *in, int64_t count,
                   axonn_real *out) {
  if (count > 0) {
    widenKernel<<<conversionBlocks(count), 256, 0, state(rt).compute>>>(
        in, count, out);
    AXONN_LAUNCHED(rt);
  }
  return AXONN_OK;
}
axonn_status narrow(axonn_rt *rt, const axonn_real *in, int64_t count,
                    axonn_bf16 *out) {
  if (count > 0) {
    narrowKernel<<<conversionBlocks(count), 256, 0, state(rt).compute>>>(
        in, count, out);
    AXONN_LAUNCHED(rt);
  }
  return AXONN_OK;
}
} // namespace axonn
