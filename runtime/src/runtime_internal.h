//===- runtime_internal.h - the runtime's own types ------------*- C++ -*-===//

#ifndef AXONN_RUNTIME_INTERNAL_H
#define AXONN_RUNTIME_INTERNAL_H

#include "axonn_rt.h"

#ifdef AXONN_RT_SINGLE_PROCESS
#include "single_process_mpi.h"
#else
#include <mpi.h>
#endif

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>
#include <map>
#include <string>

namespace axonn {
/// One event of a rank's trace: a span of one call ('X'), or the begin or
/// end of a collective in flight ('b', 'e', matched by id).
struct TraceEvent {
  std::string name;
  const char *category;
  double start, end;
  char phase;
  int64_t id;
  /// The row of the trace: 0 the rank's calls (or its GPU's compute
  /// stream), 1 collectives in flight.
  int lane = 0;
};
struct Tracer {
  bool on = false;
  std::chrono::steady_clock::time_point origin =
      std::chrono::steady_clock::now();
  std::vector<TraceEvent> events;
  int64_t nextId = 0;
  double now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         origin)
        .count();
  }
};
} // namespace axonn

struct axonn_rt {
  int64_t grid[4] = {1, 1, 1, 1};
  int64_t rank = 0, worldSize = 1;
  MPI_Comm world = MPI_COMM_NULL;
  bool ownsMpi = false;
  /// Communicators by ordered axis set.
  std::map<uint32_t, MPI_Comm> comms;
  std::string lastError;
  /// Bytes of each live axonn_rt_alloc allocation, and the most at once.
  std::map<void *, int64_t> allocations;
  int64_t allocated = 0, peakAllocated = 0;
  void allocatedNow(void *p, int64_t bytes) {
    allocations[p] = bytes;
    allocated += bytes;
    peakAllocated = std::max(peakAllocated, allocated);
  }
  void freedNow(void *p) {
    auto it = allocations.find(p);
    if (it == allocations.end())
      return;
    allocated -= it->second;
    allocations.erase(it);
  }
  axonn::Tracer tracer;
  /// The backend's own state (CUDA: device, streams, handles), or null.
  void *backend = nullptr;
  /// Seconds a rank waits for a collective (or, on a GPU with NCCL
  /// communicators, for its queued work) before it gives up with an
  /// error: AXONN_COLLECTIVE_TIMEOUT, 600 by default, 0 for no limit.
  double collectiveTimeout = 600;

  int64_t coordinate(int32_t axis) const;
  /// This rank's index in its group of `axes`, the first axis major.
  int64_t groupIndex(axonn_axes axes) const;
  int64_t groupSize(axonn_axes axes) const;
  /// Whether this rank adds a term that counts once over `axes`.
  bool addsOnce(axonn_axes axes) const { return groupIndex(axes) == 0; }

  axonn_status communicator(axonn_axes axes, MPI_Comm *comm);
  /// Records an error with this rank's place in the grid; returns `status`.
  axonn_status fail(axonn_status status, const char *format, ...)
      __attribute__((format(printf, 3, 4)));
  axonn_status checkMpi(int code, const char *call, axonn_axes axes);
  /// Whether a wait begun at `start` has passed collectiveTimeout.
  bool pastTimeout(std::chrono::steady_clock::time_point start) const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
               .count() > collectiveTimeout;
  }
  /// The error of a wait that passed collectiveTimeout: `what` names it.
  axonn_status timedOut(const std::string &what);
  /// Completes `request`, a non-blocking `call` over `axes` (`purpose`, if
  /// not empty, says what for): MPI_Wait, or under collectiveTimeout
  /// MPI_Test until it is done, failing with timedOut past the limit.
  axonn_status await(MPI_Request &request, const char *call, axonn_axes axes,
                     const char *purpose = "");
};

namespace axonn {
const char *axisName(int32_t axis);
/// "[x, z]"
std::string axesText(axonn_axes axes);

/// The backend's part of axonn_rt_create: before MPI starts (in a process
/// that has not started it), once the rank is known (its status is
/// create's), and in axonn_rt_destroy.
void backendBeforeStart();
axonn_status backendStart(axonn_rt *rt);
void backendStop(axonn_rt *rt);

/// The bf16 twins' fp32 working copies, in the backend's kernel memory
/// (host on the CPU, device on CUDA, ordered on the compute stream):
/// `count` elements (zero-filled if `zeroed`), the conversions between
/// them, and their release.
axonn_status widenAlloc(axonn_rt *rt, int64_t count, bool zeroed,
                        axonn_real **out);
void widenFree(axonn_rt *rt, axonn_real *p);
axonn_status widen(axonn_rt *rt, const axonn_bf16 *in, int64_t count,
                   axonn_real *out);
/// Rounds to nearest even.
axonn_status narrow(axonn_rt *rt, const axonn_real *in, int64_t count,
                    axonn_bf16 *out);
/// Bytes the backend holds outside axonn_rt_alloc at most (CUDA: its
/// stream-ordered pool), for axonn_rt_peak_allocated.
int64_t backendPoolPeak(const axonn_rt *rt);
/// The bf16 attention over the fp32 kernels (widened copies, as every
/// generic twin): axonn_rt_attention_bf16 and axonn_rt_attention_grad_bf16
/// on the CPU, and on CUDA where its tensor-core kernels do not apply.
axonn_status widenedAttention(axonn_rt *rt, const axonn_bf16 *qkv,
                              int64_t batch, int64_t seq, int64_t heads,
                              int64_t kvHeads, int64_t headDim, int32_t causal,
                              double ropeBase, axonn_bf16 *out,
                              axonn_real *lse);
axonn_status widenedAttentionGrad(axonn_rt *rt, const axonn_bf16 *dout,
                                  const axonn_bf16 *qkv, const axonn_bf16 *out,
                                  const axonn_real *lse, int64_t batch,
                                  int64_t seq, int64_t heads, int64_t kvHeads,
                                  int64_t headDim, int32_t causal,
                                  double ropeBase, axonn_bf16 *dqkv);
} // namespace axonn

namespace axonn {
/// Records the call it spans as a trace event (when tracing is on).
class TraceScope {
public:
  TraceScope(axonn_rt *rt, const char *name, const char *category)
      : rt(rt && rt->tracer.on ? rt : nullptr), name(name),
        category(category), start(this->rt ? rt->tracer.now() : 0) {}
  ~TraceScope() {
    if (rt)
      rt->tracer.events.push_back(
          {name, category, start, rt->tracer.now(), 'X', 0});
  }

private:
  axonn_rt *rt;
  const char *name, *category;
  double start;
};
} // namespace axonn

#define AXONN_TRACE(rt, name, category)                                        \
  ::axonn::TraceScope axonnTraceScope_((rt), (name), (category))

namespace axonn {
/// The grouped optimizer calls as their single calls, one tensor after
/// another (the CPU backend's and the generic bf16 twins'): the same bits
/// as calling them one by one.
template <typename Grad, typename Single>
axonn_status sumSquaresEach(Single single, axonn_rt *rt, int64_t tensors,
                            const Grad *const *grads, const int64_t *sizes,
                            const double *scales, axonn_real *result) {
  if (tensors == 0)
    *result = 0;
  for (int64_t i = 0; i < tensors; ++i)
    if (axonn_status s =
            single(rt, grads[i], sizes[i], scales[i], i == 0, result))
      return s;
  return AXONN_OK;
}

template <typename Param, typename Single>
axonn_status adamwEach(Single single, axonn_rt *rt, int64_t tensors,
                       Param *const *params, const Param *const *grads,
                       axonn_real *const *m, axonn_real *const *v,
                       axonn_real *const *master, const int64_t *counts,
                       const int32_t *decay, const int64_t *step,
                       const axonn_real *norm, const axonn_adamw_config &c) {
  for (int64_t i = 0; i < tensors; ++i)
    if (axonn_status s = single(
            rt, params[i], grads[i], m[i], v[i], master ? master[i] : nullptr,
            counts[i], step, norm, c.lr, c.min_lr, c.beta1, c.beta2, c.eps,
            c.weight_decay, c.grad_clip, c.warmup_steps, c.steps, c.schedule,
            decay[i]))
      return s;
  return AXONN_OK;
}
} // namespace axonn

#endif // AXONN_RUNTIME_INTERNAL_H
