//===- collectives_mpi.cpp - the CPU backend's collectives over MPI ------===//
//
// Non-blocking MPI collectives on the communicator of each axis set,
// completed by axonn_rt_wait; every call checked.
//
//===----------------------------------------------------------------------===//

#include "runtime_internal.h"

#include <cstring>
#include <vector>

#ifdef AXONN_RT_DOUBLE
#define AXONN_MPI_REAL MPI_DOUBLE
#else
#define AXONN_MPI_REAL MPI_FLOAT
#endif

using axonn::axesText;

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

struct axonn_request_impl {
  MPI_Request request = MPI_REQUEST_NULL;
  const char *call = "";
  axonn_axes axes = 0;
  // An all-gather along a dimension other than the first lands in `staging`
  // ([group][outer][piece][inner]) and is unpacked into `out` on wait.
  std::vector<char> staging;
  char *out = nullptr;
  int64_t outer = 0, piece = 0, inner = 0, group = 0, elementBytes = 0;
  // A bf16 reduction runs in fp32 (MPI has no bf16 sum): `wide` holds the
  // fp32 result, rounded into `narrowOut` on wait.
  std::vector<axonn_real> wideIn, wide;
  axonn_bf16 *narrowOut = nullptr;
  /// Tracing: when it started, and its span's id (-1: not traced).
  double started = 0;
  int64_t traceId = -1;
};

namespace {
/// Records the start of a collective (the call, from `entered`: time this
/// rank did not compute) and opens the span of its flight.
void traceStart(axonn_rt *rt, axonn_request_impl *req, double entered) {
  if (!rt->tracer.on)
    return;
  req->started = entered;
  req->traceId = rt->tracer.nextId++;
  std::string name = std::string(req->call) + " " + axesText(req->axes);
  rt->tracer.events.push_back(
      {"start " + name, "exposed", entered, rt->tracer.now(), 'X', 0});
  rt->tracer.events.push_back(
      {name, "communication", entered, entered, 'b', req->traceId});
}

/// The element type of a collective: its MPI datatype and size.
struct Element {
  MPI_Datatype type;
  int64_t bytes;
};
const Element kReal = {AXONN_MPI_REAL, int64_t(sizeof(axonn_real))};
const Element kBf16 = {MPI_UINT16_T, 2};

/// Starts an all-reduce of `req` (made by the caller, owned on success).
axonn_status allReduce(axonn_rt *rt, axonn_request_impl *req, const void *in,
                       void *out, int64_t count, axonn_axes axes,
                       axonn_reduction reduction, double entered,
                       axonn_request *request) {
  MPI_Comm comm;
  if (axonn_status status = rt->communicator(axes, &comm)) {
    delete req;
    return status;
  }
  req->call = "MPI_Iallreduce";
  req->axes = axes;
  MPI_Op op = reduction == AXONN_REDUCE_MAX ? MPI_MAX : MPI_SUM;
  const void *send = in == out ? MPI_IN_PLACE : in;
  if (axonn_status status =
          rt->checkMpi(MPI_Iallreduce(send, out, int(count), AXONN_MPI_REAL,
                                      op, comm, &req->request),
                       "MPI_Iallreduce", axes)) {
    delete req;
    return status;
  }
  traceStart(rt, req, entered);
  *request = req;
  return AXONN_OK;
}

axonn_status allGather(axonn_rt *rt, const void *in, void *out, int64_t outer,
                       int64_t rows, int64_t inner, axonn_axes axes,
                       Element element, axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  MPI_Comm comm;
  if (axonn_status status = rt->communicator(axes, &comm))
    return status;
  auto *req = new axonn_request_impl();
  req->call = "MPI_Iallgather";
  req->axes = axes;
  int64_t count = outer * rows * inner;
  void *target = out;
  if (outer > 1) {
    // Lands as [group][outer][rows][inner]; unpacked on wait.
    req->staging.resize(size_t(count * rt->groupSize(axes) * element.bytes));
    req->out = static_cast<char *>(out);
    req->outer = outer;
    req->piece = rows;
    req->inner = inner;
    req->group = rt->groupSize(axes);
    req->elementBytes = element.bytes;
    target = req->staging.data();
  }
  if (axonn_status status = rt->checkMpi(
          MPI_Iallgather(in, int(count), element.type, target, int(count),
                         element.type, comm, &req->request),
          "MPI_Iallgather", axes)) {
    delete req;
    return status;
  }
  traceStart(rt, req, entered);
  *request = req;
  return AXONN_OK;
}

/// Starts a reduce-scatter of fp32 values for `req` (owned on success).
axonn_status reduceScatter(axonn_rt *rt, axonn_request_impl *req,
                           const axonn_real *in, axonn_real *out,
                           int64_t outer, int64_t rows, int64_t inner,
                           axonn_axes axes, axonn_reduction reduction,
                           double entered, axonn_request *request) {
  MPI_Comm comm;
  axonn_status status = rt->communicator(axes, &comm);
  int64_t group = rt->groupSize(axes);
  if (status == AXONN_OK && rows % group != 0)
    status = rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                      "reduce-scatter of %lld rows over %s (%lld ranks)",
                      (long long)rows, axesText(axes).c_str(),
                      (long long)group);
  if (status != AXONN_OK) {
    delete req;
    return status;
  }
  req->call = "MPI_Ireduce_scatter_block";
  req->axes = axes;
  int64_t piece = rows / group;
  const axonn_real *source = in;
  if (outer > 1) {
    // Make each rank's slice contiguous: [group][outer][piece][inner].
    req->staging.resize(size_t(outer * rows * inner) * sizeof(axonn_real));
    auto *staging = reinterpret_cast<axonn_real *>(req->staging.data());
    for (int64_t g = 0; g < group; ++g)
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(&staging[((g * outer + o) * piece) * inner],
                    &in[(o * rows + g * piece) * inner],
                    size_t(piece * inner) * sizeof(axonn_real));
    source = staging;
  }
  MPI_Op op = reduction == AXONN_REDUCE_MAX ? MPI_MAX : MPI_SUM;
  if (axonn_status status = rt->checkMpi(
          MPI_Ireduce_scatter_block(source, out, int(outer * piece * inner),
                                    AXONN_MPI_REAL, op, comm, &req->request),
          "MPI_Ireduce_scatter_block", axes)) {
    delete req;
    return status;
  }
  traceStart(rt, req, entered);
  *request = req;
  return AXONN_OK;
}

/// A bf16 reduction's request: its input widened to fp32, and an fp32
/// result of `resultCount` values to be rounded into `out` on wait.
axonn_request_impl *wideRequest(const axonn_bf16 *in, int64_t inCount,
                                axonn_bf16 *out, int64_t resultCount) {
  auto *req = new axonn_request_impl();
  req->wideIn.resize(size_t(inCount));
  for (int64_t i = 0; i < inCount; ++i)
    req->wideIn[size_t(i)] = axonn_real(axonn_bf16_to_float(in[i]));
  req->wide.resize(size_t(resultCount));
  req->narrowOut = out;
  return req;
}
} // namespace

extern "C" axonn_status axonn_rt_all_reduce_start(axonn_rt *rt, const axonn_real *in,
                                                  axonn_real *out, int64_t count,
                                                  axonn_axes axes,
                                                  axonn_reduction reduction,
                                                  axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  return allReduce(rt, new axonn_request_impl(), in, out, count, axes,
                   reduction, entered, request);
}

extern "C" axonn_status
axonn_rt_all_reduce_start_bf16(axonn_rt *rt, const axonn_bf16 *in,
                               axonn_bf16 *out, int64_t count, axonn_axes axes,
                               axonn_reduction reduction,
                               axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  axonn_request_impl *req = wideRequest(in, count, out, count);
  return allReduce(rt, req, req->wideIn.data(), req->wide.data(), count, axes,
                   reduction, entered, request);
}

extern "C" axonn_status axonn_rt_all_gather_start(axonn_rt *rt, const axonn_real *in,
                                                  axonn_real *out, int64_t outer,
                                                  int64_t rows, int64_t inner,
                                                  axonn_axes axes,
                                                  axonn_request *request) {
  return allGather(rt, in, out, outer, rows, inner, axes, kReal, request);
}

extern "C" axonn_status
axonn_rt_all_gather_start_bf16(axonn_rt *rt, const axonn_bf16 *in,
                               axonn_bf16 *out, int64_t outer, int64_t rows,
                               int64_t inner, axonn_axes axes,
                               axonn_request *request) {
  return allGather(rt, in, out, outer, rows, inner, axes, kBf16, request);
}

extern "C" axonn_status
axonn_rt_reduce_scatter_start(axonn_rt *rt, const axonn_real *in, axonn_real *out,
                              int64_t outer, int64_t rows, int64_t inner,
                              axonn_axes axes, axonn_reduction reduction,
                              axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  return reduceScatter(rt, new axonn_request_impl(), in, out, outer, rows,
                       inner, axes, reduction, entered, request);
}

extern "C" axonn_status axonn_rt_reduce_scatter_start_bf16(
    axonn_rt *rt, const axonn_bf16 *in, axonn_bf16 *out, int64_t outer,
    int64_t rows, int64_t inner, axonn_axes axes, axonn_reduction reduction,
    axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  int64_t group = rt->groupSize(axes);
  int64_t total = outer * rows * inner;
  axonn_request_impl *req =
      wideRequest(in, total, out, group > 0 ? total / group : 0);
  return reduceScatter(rt, req, req->wideIn.data(), req->wide.data(), outer,
                       rows, inner, axes, reduction, entered, request);
}

extern "C" axonn_status axonn_rt_wait(axonn_rt *rt, axonn_request request) {
  if (!request)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "wait on a null request");
  double waitStart = rt->tracer.on ? rt->tracer.now() : 0;
  axonn_status status =
      rt->await(request->request, request->call, request->axes);
  if (request->traceId >= 0) {
    // The wait blocks (exposed); the span shows the collective in flight.
    double end = rt->tracer.now();
    std::string name = std::string(request->call) + " " + axesText(request->axes);
    rt->tracer.events.push_back(
        {"wait " + name, "exposed", waitStart, end, 'X', 0});
    rt->tracer.events.push_back(
        {name, "communication", request->started, end, 'e', request->traceId});
  }
  if (status == AXONN_OK && request->out) {
    // [group][outer][piece][inner] -> [outer][group * piece][inner]
    int64_t block = request->piece * request->inner * request->elementBytes;
    for (int64_t g = 0; g < request->group; ++g)
      for (int64_t o = 0; o < request->outer; ++o)
        std::memcpy(&request->out[(o * request->group + g) * block],
                    &request->staging[size_t((g * request->outer + o) * block)],
                    size_t(block));
  }
  if (status == AXONN_OK && request->narrowOut)
    for (size_t i = 0; i < request->wide.size(); ++i)
      request->narrowOut[i] = axonn_bf16_from_float(float(request->wide[i]));
  // (a collective still in flight keeps its buffers: the error ends the
  // run, and MPI may yet write into them)
  if (request->request == MPI_REQUEST_NULL || status == AXONN_OK)
    delete request;
  return status;
}
