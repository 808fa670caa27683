//===- collectives.cu - the CUDA backend's collectives over NCCL ----------===//
//
// One NCCL communicator per set of grid axes, made on first use from a
// unique id that the group's first rank broadcasts over the group's MPI
// communicator, each with its own stream. A start records an event on the
// compute stream, makes the group's stream wait for it and enqueues the
// NCCL call there; axonn_rt_wait makes the compute stream wait for the
// collective's event, so compute queued in between overlaps it. An
// all-gather along an inner dimension lands in a staging buffer and is
// unpacked on the compute stream at the wait; a reduce-scatter along one
// is packed first. Host buffers (the driver's) are staged through device
// memory and complete at the start.
//
// bf16 collectives (the `_bf16` twins) gather bf16 through NCCL; their
// reductions run in fp32 (the input widened on the compute stream, the
// result rounded at the wait), as the CPU backend's do, unless
// AXONN_BF16_REDUCE=bf16 asks NCCL to add in bf16 (half the traffic).
//
// The single-process build (AXONN_RT_SINGLE_PROCESS, no MPI and no NCCL)
// has groups of one rank: every collective is a copy.
//
//===----------------------------------------------------------------------===//

#include "cuda_internal.h"

#include <chrono>
#include <future>
#include <thread>

using namespace axonn::cuda;

struct axonn_request_impl {
  cudaEvent_t done = nullptr;
  /// An all-gather along an inner dimension: staging [group][outer][rows]
  /// [inner] unpacked into out [outer][group * rows][inner] at the wait.
  void *staging = nullptr, *out = nullptr;
  int64_t outer = 0, rows = 0, inner = 0, group = 1, elementBytes = 4;
  /// Host buffers: completed synchronously at the start.
  bool finished = false;
  /// A bf16 reduction in fp32: its fp32 buffer, freed at the wait after
  /// the result (narrowCount values at narrowFrom) is rounded into
  /// narrowOut.
  float *wide = nullptr, *narrowFrom = nullptr;
  axonn_bf16 *narrowOut = nullptr;
  int64_t narrowCount = 0;
};

namespace {

template <typename T>
__global__ void unpackGatherKernel(const T *staging, int64_t group,
                                   int64_t outer, int64_t rows, int64_t inner,
                                   T *out) {
  int64_t block = rows * inner, count = group * outer * block;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += int64_t(blockDim.x) * gridDim.x) {
    int64_t g = e / (outer * block), o = (e / block) % outer, i = e % block;
    out[(o * group + g) * block + i] = staging[e];
  }
}

template <typename T>
__global__ void packScatterKernel(const T *in, int64_t group,
                                  int64_t outer, int64_t piece, int64_t inner,
                                  T *staging) {
  int64_t block = piece * inner, count = group * outer * block;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < count;
       e += int64_t(blockDim.x) * gridDim.x) {
    int64_t g = e / (outer * block), o = (e / block) % outer, i = e % block;
    staging[e] = in[(o * group + g) * block + i];
  }
}

int blocks(int64_t count) {
  return int(std::max<int64_t>(1, std::min<int64_t>((count + 255) / 256, 65535)));
}

/// The element type of a collective.
struct Element {
  int64_t bytes;
#ifndef AXONN_RT_SINGLE_PROCESS
  ncclDataType_t nccl;
#endif
};
#ifdef AXONN_RT_SINGLE_PROCESS
const Element kFloat = {4}, kBf16 = {2};
#else
const Element kFloat = {4, ncclFloat32}, kBf16 = {2, ncclBfloat16};
#endif

bool onHost(const void *p) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, p) != cudaSuccess) {
    cudaGetLastError(); // clear the error of an unknown pointer
    return true;
  }
  return attributes.type == cudaMemoryTypeUnregistered ||
         attributes.type == cudaMemoryTypeHost;
}

#ifndef AXONN_RT_SINGLE_PROCESS
/// ncclCommInitRank for `g` (its size and index set) from `id`. It waits
/// for every rank of the group, with no time limit of its own: under
/// axonn_rt::collectiveTimeout a thread of its own makes it while this one
/// watches the clock, and past the limit it is left to the failure's end
/// of the process.
static axonn_status makeCommunicator(axonn_rt *rt, const ncclUniqueId &id,
                                     axonn_axes axes, Group &g) {
  int size = int(g.size), index = int(g.index);
  if (rt->collectiveTimeout <= 0) {
    AXONN_NCCL(rt, ncclCommInitRank(&g.comm, size, id, index));
    return AXONN_OK;
  }
  struct Made {
    cudaError_t device;
    ncclResult_t result;
    ncclComm_t comm;
  };
  int device = state(rt).device;
  std::packaged_task<Made()> init([device, id, size, index] {
    Made made{cudaSetDevice(device), ncclSuccess, nullptr};
    if (made.device == cudaSuccess)
      made.result = ncclCommInitRank(&made.comm, size, id, index);
    return made;
  });
  std::future<Made> done = init.get_future();
  std::thread(std::move(init)).detach();
  // (a second at a time: a limit of 1e10 s as one wait_for overflows the
  // clock's nanoseconds)
  auto start = std::chrono::steady_clock::now();
  while (done.wait_for(std::chrono::seconds(1)) != std::future_status::ready)
    if (rt->pastTimeout(start))
      return rt->timedOut("ncclCommInitRank over " + axonn::axesText(axes));
  Made made = done.get();
  if (axonn_status st =
          checkCuda(rt, made.device, "cudaSetDevice", __FILE__, __LINE__))
    return st;
  if (axonn_status st =
          checkNccl(rt, made.result, "ncclCommInitRank", __FILE__, __LINE__))
    return st;
  g.comm = made.comm;
  return AXONN_OK;
}
#endif

/// The group of `axes`: its communicator and stream, made on first use.
/// All-gathers (the weight prefetches) get a communicator and stream of
/// their own, so that they do not queue behind the gradient reductions
/// over the same axes.
axonn_status group(axonn_rt *rt, axonn_axes axes, bool gathers, Group **out) {
  State &s = state(rt);
  if (!s.communicatorsAborted.empty())
    return rt->fail(AXONN_ERR_NCCL,
                    "a collective after the NCCL communicators were "
                    "aborted: %s",
                    s.communicatorsAborted.c_str());
  uint32_t key = axes | (gathers ? 1u << 31 : 0u);
  auto it = s.groups.find(key);
  if (it != s.groups.end()) {
    *out = &it->second;
    return AXONN_OK;
  }
  Group g;
  g.size = rt->groupSize(axes);
  g.index = rt->groupIndex(axes);
  AXONN_CUDA(rt, cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking));
#ifndef AXONN_RT_SINGLE_PROCESS
  if (g.size > 1) {
    axonn_status status = [&]() -> axonn_status {
      MPI_Comm comm;
      if (axonn_status st = rt->communicator(axes, &comm))
        return st;
      ncclUniqueId id;
      if (g.index == 0)
        AXONN_NCCL(rt, ncclGetUniqueId(&id));
      MPI_Request sent;
      if (axonn_status st = rt->checkMpi(
              MPI_Ibcast(&id, sizeof(id), MPI_BYTE, 0, comm, &sent),
              "MPI_Ibcast", axes))
        return st;
      if (axonn_status st =
              rt->await(sent, "MPI_Ibcast", axes, "the NCCL unique id"))
        return st;
      return makeCommunicator(rt, id, axes, g);
    }();
    if (status) {
      cudaStreamDestroy(g.stream);
      return status;
    }
  }
#endif
  *out = &s.groups.emplace(key, g).first->second;
  return AXONN_OK;
}

enum class Kind { AllReduce, AllGather, ReduceScatter };

/// The collective on device buffers, enqueued on the group's stream after
/// the compute stream's work so far; `request->done` marks its end.
axonn_status enqueue(axonn_rt *rt, Kind kind, const void *in, void *out,
                     int64_t count, Element element, axonn_axes axes,
                     axonn_reduction reduction, axonn_request_impl *request) {
  State &s = state(rt);
  Group *g = nullptr;
  if (axonn_status status = group(rt, axes, kind == Kind::AllGather, &g))
    return status;
  cudaEvent_t ready;
  AXONN_CUDA(rt, cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  cudaError_t ordered = cudaEventRecord(ready, s.compute);
  if (ordered == cudaSuccess)
    ordered = cudaStreamWaitEvent(g->stream, ready, 0);
  cudaEventDestroy(ready);
  AXONN_CUDA(rt, ordered);
  static const char *names[] = {"all_reduce", "all_gather", "reduce_scatter"};
  int64_t span = traceBegin(
      rt, g->stream,
      std::string(names[int(kind)]) + " " + axonn::axesText(axes),
      "communication", 'b', rt->tracer.on ? rt->tracer.nextId++ : 0, 1);
  // The span ends on every way out.
  struct EndSpan {
    axonn_rt *rt;
    cudaStream_t stream;
    int64_t span;
    ~EndSpan() { traceEnd(rt, stream, span); }
  } endSpan{rt, g->stream, span};
  if (g->size == 1) {
    if (in != out)
      AXONN_CUDA(rt, cudaMemcpyAsync(out, in, size_t(count * element.bytes),
                                     cudaMemcpyDefault, g->stream));
  } else {
#ifdef AXONN_RT_SINGLE_PROCESS
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "a collective over %lld ranks in the single-process "
                    "runtime",
                    (long long)g->size);
#else
    ncclRedOp_t op = reduction == AXONN_REDUCE_MAX ? ncclMax : ncclSum;
    switch (kind) {
    case Kind::AllReduce:
      AXONN_NCCL(rt, ncclAllReduce(in, out, size_t(count), element.nccl, op,
                                   g->comm, g->stream));
      break;
    case Kind::AllGather:
      AXONN_NCCL(rt, ncclAllGather(in, out, size_t(count), element.nccl,
                                   g->comm, g->stream));
      break;
    case Kind::ReduceScatter:
      AXONN_NCCL(rt, ncclReduceScatter(in, out, size_t(count), element.nccl,
                                       op, g->comm, g->stream));
      break;
    }
#endif
  }
  AXONN_CUDA(rt, cudaEventCreateWithFlags(&request->done,
                                          cudaEventDisableTiming));
  AXONN_CUDA(rt, cudaEventRecord(request->done, g->stream));
  return AXONN_OK;
}

/// A collective on host buffers (the driver's): staged through device
/// memory and finished before it returns.
axonn_status onHostBuffers(axonn_rt *rt, Kind kind, const void *in,
                           void *out, int64_t inCount, int64_t outCount,
                           Element element, axonn_axes axes,
                           axonn_reduction reduction,
                           axonn_request_impl *request) {
  State &s = state(rt);
  if (s.recording)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "a collective on host memory while recording a graph "
                    "(it waits for the GPU)");
  char *staging = nullptr;
  size_t inBytes = size_t(inCount * element.bytes);
  size_t bytes = inBytes + size_t(outCount * element.bytes);
  AXONN_CUDA(rt, cudaMalloc(&staging, bytes));
  axonn_status status = [&]() -> axonn_status {
    AXONN_CUDA(rt, cudaMemcpyAsync(staging, in, inBytes, cudaMemcpyDefault,
                                   s.compute));
    if (axonn_status st = enqueue(rt, kind, staging, staging + inBytes,
                                  kind == Kind::AllGather ? inCount : outCount,
                                  element, axes, reduction, request))
      return st;
    if (axonn_status st =
            hostWait(rt, request->done, "a collective on host buffers"))
      return st;
    AXONN_CUDA(rt, cudaMemcpy(out, staging + inBytes,
                              size_t(outCount * element.bytes),
                              cudaMemcpyDefault));
    return AXONN_OK;
  }();
  cudaFree(staging);
  request->finished = true;
  return status;
}

} // namespace

namespace {
/// Hands `req` to the caller if `status` is OK, else frees it (and its
/// staging) and passes the error on.
axonn_status finishStart(axonn_rt *rt, axonn_status status,
                         axonn_request_impl *req, axonn_request *request) {
  if (status == AXONN_OK) {
    *request = req;
    return AXONN_OK;
  }
  if (req->staging)
    cudaFreeAsync(req->staging, state(rt).compute);
  if (req->done)
    cudaEventDestroy(req->done);
  delete req;
  return status;
}
} // namespace

namespace {
/// (`ours`: buffers the runtime allocated on the GPU itself, the bf16
/// reductions' fp32 copies, which may be a recorded graph's memory that a
/// pointer query cannot place yet.)
axonn_status allReduce(axonn_rt *rt, const void *in, void *out, int64_t count,
                       Element element, axonn_axes axes,
                       axonn_reduction reduction, axonn_request *request,
                       bool ours = false) {
  auto *req = new axonn_request_impl();
  axonn_status status =
      !ours && (onHost(in) || onHost(out))
          ? onHostBuffers(rt, Kind::AllReduce, in, out, count, count, element,
                          axes, reduction, req)
          : enqueue(rt, Kind::AllReduce, in, out, count, element, axes,
                    reduction, req);
  return finishStart(rt, status, req, request);
}

axonn_status allGather(axonn_rt *rt, const void *in, void *out, int64_t outer,
                       int64_t rows, int64_t inner, Element element,
                       axonn_axes axes, axonn_request *request) {
  auto *req = new axonn_request_impl();
  int64_t count = outer * rows * inner, size = rt->groupSize(axes);
  axonn_status status = [&]() -> axonn_status {
    if (onHost(in) || onHost(out)) {
      if (outer > 1)
        return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                        "all-gather of host memory along an inner dimension");
      return onHostBuffers(rt, Kind::AllGather, in, out, count, count * size,
                           element, axes, AXONN_REDUCE_SUM, req);
    }
    void *target = out;
    if (outer > 1 && size > 1) {
      AXONN_CUDA(rt, cudaMallocAsync(&req->staging,
                                     size_t(count * size * element.bytes),
                                     state(rt).compute));
      req->out = out;
      req->outer = outer;
      req->rows = rows;
      req->inner = inner;
      req->group = size;
      req->elementBytes = element.bytes;
      target = req->staging;
    }
    return enqueue(rt, Kind::AllGather, in, target, count, element, axes,
                   AXONN_REDUCE_SUM, req);
  }();
  return finishStart(rt, status, req, request);
}

axonn_status reduceScatter(axonn_rt *rt, const void *in, void *out,
                           int64_t outer, int64_t rows, int64_t inner,
                           Element element, axonn_axes axes,
                           axonn_reduction reduction, axonn_request *request,
                           bool ours = false) {
  int64_t size = rt->groupSize(axes);
  if (rows % size != 0)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "reduce-scatter of %lld rows over %s (%lld ranks)",
                    (long long)rows, axonn::axesText(axes).c_str(),
                    (long long)size);
  auto *req = new axonn_request_impl();
  int64_t piece = rows / size, count = outer * piece * inner;
  axonn_status status = [&]() -> axonn_status {
    if (!ours && (onHost(in) || onHost(out))) {
      if (outer > 1)
        return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                        "reduce-scatter of host memory along an inner "
                        "dimension");
      return onHostBuffers(rt, Kind::ReduceScatter, in, out, count * size,
                           count, element, axes, reduction, req);
    }
    const void *source = in;
    if (outer > 1 && size > 1) {
      // Make each rank's slice contiguous: [group][outer][piece][inner].
      State &s = state(rt);
      AXONN_CUDA(rt, cudaMallocAsync(&req->staging,
                                     size_t(count * size * element.bytes),
                                     s.compute));
      if (element.bytes == 2)
        packScatterKernel<<<blocks(count * size), 256, 0, s.compute>>>(
            static_cast<const uint16_t *>(in), size, outer, piece, inner,
            static_cast<uint16_t *>(req->staging));
      else
        packScatterKernel<<<blocks(count * size), 256, 0, s.compute>>>(
            static_cast<const float *>(in), size, outer, piece, inner,
            static_cast<float *>(req->staging));
      AXONN_LAUNCHED(rt);
      source = req->staging;
    }
    return enqueue(rt, Kind::ReduceScatter, source, out, count, element, axes,
                   reduction, req);
  }();
  return finishStart(rt, status, req, request);
}
} // namespace

extern "C" axonn_status axonn_rt_all_reduce_start(axonn_rt *rt, const float *in,
                                                  float *out, int64_t count,
                                                  axonn_axes axes,
                                                  axonn_reduction reduction,
                                                  axonn_request *request) {
  return allReduce(rt, in, out, count, kFloat, axes, reduction, request);
}

namespace {
/// Whether bf16 reductions run in fp32 (AXONN_BF16_REDUCE, default fp32).
bool reduceBf16InFp32() {
  static const bool fp32 = [] {
    const char *v = std::getenv("AXONN_BF16_REDUCE");
    return !(v && std::string(v) == "bf16");
  }();
  return fp32;
}

/// Widens `count` bf16 values into a new fp32 buffer of `total` floats.
axonn_status widened(axonn_rt *rt, const axonn_bf16 *in, int64_t count,
                     int64_t total, float **wide) {
  AXONN_CUDA(rt, cudaMallocAsync(reinterpret_cast<void **>(wide),
                                 size_t(std::max<int64_t>(total, 1)) *
                                     sizeof(float),
                                 state(rt).compute));
  if (axonn_status st = axonn::widen(rt, in, count, *wide)) {
    cudaFreeAsync(*wide, state(rt).compute);
    return st;
  }
  return AXONN_OK;
}

/// Hands the fp32 buffer of a started reduction to its request. After a
/// failed start the buffer is left allocated: NCCL may have queued work
/// on it, and the run is ending.
axonn_status attachWide(axonn_rt *, axonn_status status, float *wide,
                        float *result, int64_t count, axonn_bf16 *out,
                        axonn_request *request) {
  if (status != AXONN_OK)
    return status;
  axonn_request_impl *req = *request;
  req->wide = wide;
  req->narrowFrom = result;
  req->narrowCount = count;
  req->narrowOut = out;
  return AXONN_OK;
}
} // namespace

extern "C" axonn_status
axonn_rt_all_reduce_start_bf16(axonn_rt *rt, const axonn_bf16 *in,
                               axonn_bf16 *out, int64_t count, axonn_axes axes,
                               axonn_reduction reduction,
                               axonn_request *request) {
  // A group of one copies; host buffers (never the program's) go through
  // NCCL's bf16.
  if (!reduceBf16InFp32() || rt->groupSize(axes) == 1 || onHost(in) ||
      onHost(out))
    return allReduce(rt, in, out, count, kBf16, axes, reduction, request);
  float *wide = nullptr;
  if (axonn_status st = widened(rt, in, count, count, &wide))
    return st;
  return attachWide(rt,
                    allReduce(rt, wide, wide, count, kFloat, axes, reduction,
                              request, /*ours=*/true),
                    wide, wide, count, out, request);
}

extern "C" axonn_status axonn_rt_all_gather_start(axonn_rt *rt, const float *in,
                                                  float *out, int64_t outer,
                                                  int64_t rows, int64_t inner,
                                                  axonn_axes axes,
                                                  axonn_request *request) {
  return allGather(rt, in, out, outer, rows, inner, kFloat, axes, request);
}

extern "C" axonn_status
axonn_rt_all_gather_start_bf16(axonn_rt *rt, const axonn_bf16 *in,
                               axonn_bf16 *out, int64_t outer, int64_t rows,
                               int64_t inner, axonn_axes axes,
                               axonn_request *request) {
  return allGather(rt, in, out, outer, rows, inner, kBf16, axes, request);
}

extern "C" axonn_status
axonn_rt_reduce_scatter_start(axonn_rt *rt, const float *in, float *out,
                              int64_t outer, int64_t rows, int64_t inner,
                              axonn_axes axes, axonn_reduction reduction,
                              axonn_request *request) {
  return reduceScatter(rt, in, out, outer, rows, inner, kFloat, axes,
                       reduction, request);
}

extern "C" axonn_status axonn_rt_reduce_scatter_start_bf16(
    axonn_rt *rt, const axonn_bf16 *in, axonn_bf16 *out, int64_t outer,
    int64_t rows, int64_t inner, axonn_axes axes, axonn_reduction reduction,
    axonn_request *request) {
  int64_t size = rt->groupSize(axes);
  if (!reduceBf16InFp32() || size == 1 || onHost(in) || onHost(out) ||
      rows % size != 0)
    return reduceScatter(rt, in, out, outer, rows, inner, kBf16, axes,
                         reduction, request);
  int64_t total = outer * rows * inner, piece = total / size;
  float *wide = nullptr;
  if (axonn_status st = widened(rt, in, total, total + piece, &wide))
    return st;
  return attachWide(rt,
                    reduceScatter(rt, wide, wide + total, outer, rows, inner,
                                  kFloat, axes, reduction, request,
                                  /*ours=*/true),
                    wide, wide + total, piece, out, request);
}

extern "C" axonn_status axonn_rt_wait(axonn_rt *rt, axonn_request request) {
  if (!request)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "wait on a null request");
  State &s = state(rt);
  axonn_status status = AXONN_OK;
  auto finish = [&]() -> axonn_status {
    if (request->finished)
      return AXONN_OK;
    AXONN_CUDA(rt, cudaStreamWaitEvent(s.compute, request->done, 0));
    if (request->out) {
      int64_t count =
          request->group * request->outer * request->rows * request->inner;
      if (request->elementBytes == 2)
        unpackGatherKernel<<<blocks(count), 256, 0, s.compute>>>(
            static_cast<const uint16_t *>(request->staging), request->group,
            request->outer, request->rows, request->inner,
            static_cast<uint16_t *>(request->out));
      else
        unpackGatherKernel<<<blocks(count), 256, 0, s.compute>>>(
            static_cast<const float *>(request->staging), request->group,
            request->outer, request->rows, request->inner,
            static_cast<float *>(request->out));
      AXONN_LAUNCHED(rt);
    }
    if (request->staging)
      AXONN_CUDA(rt, cudaFreeAsync(request->staging, s.compute));
    if (request->narrowOut)
      if (axonn_status st = axonn::narrow(rt, request->narrowFrom,
                                          request->narrowCount,
                                          request->narrowOut))
        return st;
    return AXONN_OK;
  };
  status = finish();
  // After a failed wait the compute stream may not follow the collective:
  // its buffer is left allocated (the run is ending).
  if (request->wide && status == AXONN_OK)
    cudaFreeAsync(request->wide, s.compute);
  if (request->done)
    cudaEventDestroy(request->done);
  delete request;
  return status;
}
