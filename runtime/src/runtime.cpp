//===- runtime.cpp - the axonn runtime: grid, communicators, life cycle ---===//
//
// One rank of the grid over Open MPI. Each set of grid axes gets its own
// communicator (made on first use; every rank runs the same program, so the
// MPI_Comm_split calls line up), ordered by the rank's index in the group,
// first axis major, as the axonn dialect defines it. Collectives are
// non-blocking MPI calls completed by axonn_rt_wait. Every MPI call is
// checked; a failure is recorded with the rank, its coordinates and the
// call. The backend (cpu_backend.cpp, cuda/) adds its kernels, memory and
// collectives.
//
//===----------------------------------------------------------------------===//

#include "runtime_internal.h"

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace axonn {

const char *axisName(int32_t axis) {
  static const char *names[] = {"x", "y", "z", "data"};
  return axis >= 0 && axis < 4 ? names[axis] : "?";
}

std::string axesText(axonn_axes axes) {
  std::string text = "[";
  for (int32_t i = 0; i < axonn_axes_count(axes); ++i) {
    if (i)
      text += ", ";
    text += axisName(axonn_axes_axis(axes, i));
  }
  return text + "]";
}

} // namespace axonn

using axonn::axesText;
using axonn::axisName;

axonn_status axonn_rt::fail(axonn_status status, const char *format, ...) {
  char message[1024];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  char where[256];
  std::snprintf(
      where, sizeof(where),
      "rank %lld (x %lld, y %lld, z %lld, data %lld): ", (long long)rank,
      (long long)coordinate(0), (long long)coordinate(1),
      (long long)coordinate(2), (long long)coordinate(3));
  lastError = std::string(where) + message;
  return status;
}

axonn_status axonn_rt::checkMpi(int code, const char *call, axonn_axes axes) {
  if (code == MPI_SUCCESS)
    return AXONN_OK;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return fail(AXONN_ERR_MPI, "%s over %s failed: %s", call,
              axesText(axes).c_str(), text);
}

int64_t axonn_rt::coordinate(int32_t axis) const {
  int64_t stride = 1;
  for (int32_t a = 0; a < 4; ++a) {
    if (a == axis)
      return (rank / stride) % grid[a];
    stride *= grid[a];
  }
  return 0;
}

int64_t axonn_rt::groupIndex(axonn_axes axes) const {
  int64_t index = 0;
  for (int32_t i = 0; i < axonn_axes_count(axes); ++i) {
    int32_t axis = axonn_axes_axis(axes, i);
    index = index * grid[axis] + coordinate(axis);
  }
  return index;
}

int64_t axonn_rt::groupSize(axonn_axes axes) const {
  int64_t size = 1;
  for (int32_t i = 0; i < axonn_axes_count(axes); ++i)
    size *= grid[axonn_axes_axis(axes, i)];
  return size;
}

axonn_status axonn_rt::communicator(axonn_axes axes, MPI_Comm *comm) {
  if (axonn_axes_count(axes) > 4)
    return fail(AXONN_ERR_INVALID_ARGUMENT, "axis set 0x%x names %d axes",
                unsigned(axes), axonn_axes_count(axes));
  uint32_t key = axes;
  auto it = comms.find(key);
  if (it != comms.end()) {
    *comm = it->second;
    return AXONN_OK;
  }
  // Color: the coordinates on the other axes; key: the index in the group.
  int64_t color = 0;
  for (int32_t a = 3; a >= 0; --a) {
    bool inGroup = false;
    for (int32_t i = 0; i < axonn_axes_count(axes); ++i)
      inGroup |= axonn_axes_axis(axes, i) == a;
    if (!inGroup)
      color = color * grid[a] + coordinate(a);
  }
  MPI_Comm split;
  if (axonn_status status = checkMpi(
          MPI_Comm_split(world, int(color), int(groupIndex(axes)), &split),
          "MPI_Comm_split", axes))
    return status;
  MPI_Comm_set_errhandler(split, MPI_ERRORS_RETURN);
  comms[key] = split;
  *comm = split;
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_create(const int64_t grid[4],
                                        axonn_rt **result) {
  *result = nullptr;
  int alreadyInitialized = 0;
  MPI_Initialized(&alreadyInitialized);
  if (!alreadyInitialized)
    axonn::backendBeforeStart();
  auto *rt = new axonn_rt();
  int64_t size = 1;
  for (int a = 0; a < 4; ++a) {
    rt->grid[a] = grid[a];
    size *= grid[a];
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS) {
      std::fprintf(stderr, "axonn: MPI_Init_thread failed\n");
      delete rt;
      return AXONN_ERR_MPI;
    }
    rt->ownsMpi = true;
  }
  rt->world = MPI_COMM_WORLD;
  MPI_Comm_set_errhandler(rt->world, MPI_ERRORS_RETURN);
  int rank = 0, worldSize = 1;
  MPI_Comm_rank(rt->world, &rank);
  MPI_Comm_size(rt->world, &worldSize);
  rt->rank = rank;
  rt->worldSize = worldSize;
  *result = rt;
  for (int a = 0; a < 4; ++a)
    if (grid[a] < 1)
      return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "grid axis %s has %lld ranks",
                      axisName(a), (long long)grid[a]);
  if (size != worldSize)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "the program was compiled for a grid of %lld ranks "
                    "(%lldx%lldx%lldx%lld) but was started with %d; run it "
                    "with mpirun -np %lld",
                    (long long)size, (long long)grid[0], (long long)grid[1],
                    (long long)grid[2], (long long)grid[3], worldSize,
                    (long long)size);
  return axonn::backendStart(rt);
}

extern "C" void axonn_rt_destroy(axonn_rt *rt) {
  if (!rt)
    return;
  axonn::backendStop(rt);
  for (auto &[key, comm] : rt->comms)
    MPI_Comm_free(&comm);
  if (rt->ownsMpi) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
      MPI_Finalize();
  }
  delete rt;
}

extern "C" void axonn_rt_abort(axonn_rt *rt, int code) {
  if (rt && !rt->lastError.empty())
    std::fprintf(stderr, "axonn: %s\n", rt->lastError.c_str());
  std::fflush(stderr);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized && rt && rt->worldSize > 1)
    MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

extern "C" int64_t axonn_rt_rank(const axonn_rt *rt) { return rt->rank; }
extern "C" int64_t axonn_rt_world_size(const axonn_rt *rt) {
  return rt->worldSize;
}
extern "C" int64_t axonn_rt_coordinate(const axonn_rt *rt, axonn_axis axis) {
  return rt->coordinate(axis);
}
extern "C" int64_t axonn_rt_peak_allocated(const axonn_rt *rt) {
  return rt->peakAllocated;
}
extern "C" const char *axonn_rt_last_error(const axonn_rt *rt) {
  return rt->lastError.c_str();
}

extern "C" double axonn_rt_learning_rate(const axonn_adamw_config *c, int64_t step) {
  if (step < c->warmup_steps)
    return c->lr * double(step + 1) / double(c->warmup_steps);
  double progress = c->steps > c->warmup_steps
                        ? std::min(1.0, double(step - c->warmup_steps) /
                                            double(c->steps - c->warmup_steps))
                        : 1.0;
  switch (c->schedule) {
  case 0:
    return c->lr;
  case 1:
    return c->min_lr + (c->lr - c->min_lr) * (1 - progress);
  default:
    return c->min_lr +
           0.5 * (c->lr - c->min_lr) * (1 + std::cos(M_PI * progress));
  }
}
