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
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>
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

/// A collective timeout the runtime takes: seconds >= 0, finite (not NaN).
static bool validTimeout(double seconds) {
  return seconds >= 0 && !std::isinf(seconds);
}

axonn_status axonn_rt::timedOut(const std::string &what) {
  return fail(AXONN_ERR_MPI,
              "%s did not finish within %g s (AXONN_COLLECTIVE_TIMEOUT, "
              "--collective-timeout): another rank has stopped, hangs or "
              "is far behind",
              what.c_str(), collectiveTimeout);
}

axonn_status axonn_rt::await(MPI_Request &request, const char *call,
                             axonn_axes axes, const char *purpose) {
  if (collectiveTimeout <= 0)
    return checkMpi(MPI_Wait(&request, MPI_STATUS_IGNORE), "MPI_Wait", axes);
  // MPI_Test, yielding the core between tests (ranks may share cores) and
  // looking at the clock every 64.
  auto start = std::chrono::steady_clock::now();
  for (uint64_t tests = 1;; ++tests) {
    int done = 0;
    if (axonn_status status = checkMpi(
            MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test", axes))
      return status;
    if (done)
      return AXONN_OK;
    if (tests % 64 == 0 && pastTimeout(start))
      return timedOut(std::string(call) + " over " + axesText(axes) +
                      (*purpose ? std::string(" (") + purpose + ")" : ""));
    std::this_thread::yield();
  }
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
  // MPI_Comm_split waits for every rank, with no time limit: the ranks
  // first meet at a barrier waited on under the limit, so that a rank that
  // stopped before its first collective over `axes` fails the others
  // there (and one that stops between the two calls is all that is left).
  // Every rank takes part whatever its own limit (ranks may have
  // different ones: the collectives they call must match).
  if (worldSize > 1) {
    static const int32_t all[] = {0, 1, 2, 3};
    axonn_axes everyone = axonn_axes_make(4, all);
    std::string purpose =
        "before making the communicator over " + axesText(axes);
    MPI_Request barrier;
    if (axonn_status status =
            checkMpi(MPI_Ibarrier(world, &barrier), "MPI_Ibarrier", everyone))
      return status;
    if (axonn_status status =
            await(barrier, "MPI_Ibarrier", everyone, purpose.c_str()))
      return status;
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
  if (const char *timeout = std::getenv("AXONN_COLLECTIVE_TIMEOUT")) {
    char *end = nullptr;
    double seconds = std::strtod(timeout, &end);
    if (!*timeout || *end || !validTimeout(seconds))
      return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                      "AXONN_COLLECTIVE_TIMEOUT must be a number of seconds "
                      ">= 0 (0: no limit), not '%s'",
                      timeout);
    rt->collectiveTimeout = seconds;
  }
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

extern "C" axonn_status axonn_rt_set_collective_timeout(axonn_rt *rt,
                                                        double seconds) {
  if (!validTimeout(seconds))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "collective timeout of %g s: it must be >= 0 (0: no "
                    "limit)",
                    seconds);
  rt->collectiveTimeout = seconds;
  return AXONN_OK;
}

extern "C" double axonn_rt_collective_timeout(const axonn_rt *rt) {
  return rt->collectiveTimeout;
}

extern "C" int64_t axonn_rt_rank(const axonn_rt *rt) { return rt->rank; }
extern "C" int64_t axonn_rt_world_size(const axonn_rt *rt) {
  return rt->worldSize;
}
extern "C" int64_t axonn_rt_coordinate(const axonn_rt *rt, axonn_axis axis) {
  return rt->coordinate(axis);
}
extern "C" int64_t axonn_rt_peak_allocated(const axonn_rt *rt) {
  return rt->peakAllocated + axonn::backendPoolPeak(rt);
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

//===----------------------------------------------------------------------===//
// Tracing
//===----------------------------------------------------------------------===//

extern "C" void axonn_rt_trace_enable(axonn_rt *rt, int32_t on) {
  rt->tracer.on = on != 0;
}

extern "C" double axonn_rt_now(const axonn_rt *rt) { return rt->tracer.now(); }

extern "C" void axonn_rt_trace_record(axonn_rt *rt, const char *name,
                                      const char *category, double start,
                                      double end) {
  if (!rt->tracer.on)
    return;
  // Keep the category: callers pass literals ("data", "step").
  rt->tracer.events.push_back({name, category, start, end, 'X', 0});
}

extern "C" void axonn_rt_trace_totals(const axonn_rt *rt, double since,
                                      double until,
                                      axonn_trace_totals *totals) {
  *totals = {0, 0, 0, 0};
  std::map<int64_t, double> begins;
  std::vector<std::pair<double, double>> inFlight;
  for (const axonn::TraceEvent &e : rt->tracer.events) {
    if (e.start < since || e.end > until)
      continue;
    std::string category = e.category;
    if (e.phase == 'b')
      begins[e.id] = e.start;
    else if (e.phase == 'e' && begins.count(e.id))
      inFlight.push_back({begins[e.id], e.end});
    else if (category == "compute")
      totals->compute += e.end - e.start;
    else if (category == "optimizer")
      totals->optimizer += e.end - e.start;
    else if (category == "exposed")
      totals->exposed += e.end - e.start;
  }
  // The time some collective was in flight (the union of the spans), less
  // the time this rank spent starting and waiting for collectives.
  std::sort(inFlight.begin(), inFlight.end());
  double covered = 0, from = -1, to = -1;
  for (auto [b, e] : inFlight) {
    if (b > to) {
      covered += to - from;
      from = b;
      to = e;
    } else {
      to = std::max(to, e);
    }
  }
  covered += to - from;
  totals->overlapped = std::max(0.0, covered - totals->exposed);
}

extern "C" axonn_status axonn_rt_trace_write(axonn_rt *rt, const char *path) {
  std::string tmp = std::string(path) + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "w");
  if (!f)
    return rt->fail(AXONN_ERR_IO, "cannot write %s: %s", tmp.c_str(),
                    std::strerror(errno));
  auto quoted = [](const std::string &text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\')
        out.push_back('\\');
      if (static_cast<unsigned char>(c) >= 0x20)
        out.push_back(c);
    }
    return out + "\"";
  };
  std::fprintf(f, "{\"displayTimeUnit\": \"ms\", \"otherData\": {\"rank\": "
                  "%lld, \"grid\": [%lld, %lld, %lld, %lld]},\n \"traceEvents\": [",
               (long long)rt->rank, (long long)rt->grid[0],
               (long long)rt->grid[1], (long long)rt->grid[2],
               (long long)rt->grid[3]);
  std::fprintf(f, "\n  {\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %lld, "
                  "\"args\": {\"name\": \"rank %lld\"}}",
               (long long)rt->rank, (long long)rt->rank);
  for (const axonn::TraceEvent &e : rt->tracer.events) {
    // Communication in flight on its own row (tid 1), the rest on tid 0.
    bool async = e.phase == 'b' || e.phase == 'e';
    std::fprintf(f,
                 ",\n  {\"name\": %s, \"cat\": \"%s\", \"ph\": \"%c\", "
                 "\"ts\": %.3f, \"pid\": %lld, \"tid\": %d",
                 quoted(e.name).c_str(), e.category, e.phase,
                 (e.phase == 'e' ? e.end : e.start) * 1e6, (long long)rt->rank,
                 async ? 1 : e.lane);
    if (e.phase == 'X')
      std::fprintf(f, ", \"dur\": %.3f", (e.end - e.start) * 1e6);
    if (async)
      std::fprintf(f, ", \"id\": %lld", (long long)e.id);
    std::fprintf(f, "}");
  }
  std::fprintf(f, "\n]}\n");
  if (std::fflush(f) != 0 || fsync(fileno(f)) != 0 || std::fclose(f) != 0 ||
      std::rename(tmp.c_str(), path) != 0)
    return rt->fail(AXONN_ERR_IO, "cannot write %s: %s", path,
                    std::strerror(errno));
  return AXONN_OK;
}
