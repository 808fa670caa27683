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
#include <cstdint>
#include <map>
#include <string>

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
  /// The backend's own state (CUDA: device, streams, handles), or null.
  void *backend = nullptr;

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
} // namespace axonn

#endif // AXONN_RUNTIME_INTERNAL_H
