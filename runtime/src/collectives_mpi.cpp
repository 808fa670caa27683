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
  std::vector<axonn_real> staging;
  axonn_real *out = nullptr;
  int64_t outer = 0, piece = 0, inner = 0, group = 0;
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
} // namespace

extern "C" axonn_status axonn_rt_all_reduce_start(axonn_rt *rt, const axonn_real *in,
                                                  axonn_real *out, int64_t count,
                                                  axonn_axes axes,
                                                  axonn_reduction reduction,
                                                  axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  MPI_Comm comm;
  if (axonn_status status = rt->communicator(axes, &comm))
    return status;
  auto *req = new axonn_request_impl();
  req->call = "MPI_Iallreduce";
  req->axes = axes;
  MPI_Op op = reduction == AXONN_REDUCE_MAX ? MPI_MAX : MPI_SUM;
  const void *send = in == out ? MPI_IN_PLACE : in;
  if (axonn_status status =
          rt->checkMpi(MPI_Iallreduce(send, out, int(count), AXONN_MPI_REAL, op,
                                      comm, &req->request),
                       "MPI_Iallreduce", axes)) {
    delete req;
    return status;
  }
  traceStart(rt, req, entered);
  *request = req;
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_all_gather_start(axonn_rt *rt, const axonn_real *in,
                                                  axonn_real *out, int64_t outer,
                                                  int64_t rows, int64_t inner,
                                                  axonn_axes axes,
                                                  axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  MPI_Comm comm;
  if (axonn_status status = rt->communicator(axes, &comm))
    return status;
  auto *req = new axonn_request_impl();
  req->call = "MPI_Iallgather";
  req->axes = axes;
  int64_t count = outer * rows * inner;
  axonn_real *target = out;
  if (outer > 1) {
    // Lands as [group][outer][rows][inner]; unpacked on wait.
    req->staging.resize(size_t(count * rt->groupSize(axes)));
    req->out = out;
    req->outer = outer;
    req->piece = rows;
    req->inner = inner;
    req->group = rt->groupSize(axes);
    target = req->staging.data();
  }
  if (axonn_status status = rt->checkMpi(
          MPI_Iallgather(in, int(count), AXONN_MPI_REAL, target, int(count),
                         AXONN_MPI_REAL, comm, &req->request),
          "MPI_Iallgather", axes)) {
    delete req;
    return status;
  }
  traceStart(rt, req, entered);
  *request = req;
  return AXONN_OK;
}

extern "C" axonn_status
axonn_rt_reduce_scatter_start(axonn_rt *rt, const axonn_real *in, axonn_real *out,
                              int64_t outer, int64_t rows, int64_t inner,
                              axonn_axes axes, axonn_reduction reduction,
                              axonn_request *request) {
  double entered = rt->tracer.on ? rt->tracer.now() : 0;
  MPI_Comm comm;
  if (axonn_status status = rt->communicator(axes, &comm))
    return status;
  int64_t group = rt->groupSize(axes);
  if (rows % group != 0)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "reduce-scatter of %lld rows over %s (%lld ranks)",
                    (long long)rows, axesText(axes).c_str(), (long long)group);
  auto *req = new axonn_request_impl();
  req->call = "MPI_Ireduce_scatter_block";
  req->axes = axes;
  int64_t piece = rows / group;
  const axonn_real *source = in;
  if (outer > 1) {
    // Make each rank's slice contiguous: [group][outer][piece][inner].
    req->staging.resize(size_t(outer * rows * inner));
    for (int64_t g = 0; g < group; ++g)
      for (int64_t o = 0; o < outer; ++o)
        std::memcpy(&req->staging[size_t(((g * outer + o) * piece) * inner)],
                    &in[(o * rows + g * piece) * inner],
                    size_t(piece * inner) * sizeof(axonn_real));
    source = req->staging.data();
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

extern "C" axonn_status axonn_rt_wait(axonn_rt *rt, axonn_request request) {
  if (!request)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "wait on a null request");
  double waitStart = rt->tracer.on ? rt->tracer.now() : 0;
  axonn_status status =
      rt->checkMpi(MPI_Wait(&request->request, MPI_STATUS_IGNORE), "MPI_Wait",
                   request->axes);
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
    int64_t block = request->piece * request->inner;
    for (int64_t g = 0; g < request->group; ++g)
      for (int64_t o = 0; o < request->outer; ++o)
        std::memcpy(&request->out[(o * request->group + g) * block],
                    &request->staging[size_t((g * request->outer + o) * block)],
                    size_t(block) * sizeof(axonn_real));
  }
  delete request;
  return status;
}
