//===- runtime.cpp - the axonn runtime: grid, communicators, collectives --===//
//
// One rank of the grid over Open MPI. Each set of grid axes gets its own
// communicator (made on first use; every rank runs the same program, so the
// MPI_Comm_split calls line up), ordered by the rank's index in the group,
// first axis major, as the axonn dialect defines it. Collectives are
// non-blocking MPI calls completed by axonn_rt_wait. Every MPI call is
// checked; a failure is recorded with the rank, its coordinates and the
// call.
//
//===----------------------------------------------------------------------===//

#include "runtime_internal.h"

#include <cblas.h>

#ifdef AXONN_RT_DOUBLE
#define AXONN_MPI_REAL MPI_DOUBLE
#else
#define AXONN_MPI_REAL MPI_FLOAT
#endif

#include <unistd.h>

#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

namespace {

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

} // namespace

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

//===----------------------------------------------------------------------===//
// Life cycle
//===----------------------------------------------------------------------===//

namespace {

std::string lower(std::string s) {
  for (char &c : s)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Vector width class of an OpenBLAS core: 3 AVX-512, 2 AVX2+FMA, 1 AVX,
/// 0 older.
int coreClass(const std::string &core) {
  std::string c = lower(core);
  if (c == "skylakex" || c == "cooperlake" || c == "sapphirerapids")
    return 3;
  if (c == "haswell" || c == "zen" || c == "skylake")
    return 2;
  if (c == "sandybridge")
    return 1;
  return 0;
}

/// OpenBLAS 0.3.21 takes some virtualized AVX-512 CPUs for a generic core
/// and runs several times slower. It reads OPENBLAS_CORETYPE only when it
/// loads, so when the core it picked is weaker than what the CPU can do
/// (and the user did not choose one), the process starts itself again with
/// the right core type, before MPI starts. AXONN_PRETEND_BLAS_CORE makes
/// the check see another detected core (for tests).
void chooseBlasCore() {
  if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("AXONN_BLAS_RESTARTED"))
    return;
  const char *pretend = std::getenv("AXONN_PRETEND_BLAS_CORE");
  std::string detected = pretend ? pretend : openblas_get_corename();
  __builtin_cpu_init();
  int cpu = 0;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    cpu = 3;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    cpu = 2;
  if (coreClass(detected) >= cpu)
    return;
  const char *want = cpu == 3 ? "SkylakeX" : "Haswell";
  // argv from /proc/self/cmdline: the runtime is not given main's.
  std::FILE *f = std::fopen("/proc/self/cmdline", "rb");
  if (!f)
    return;
  std::string all;
  char chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0)
    all.append(chunk, n);
  std::fclose(f);
  std::vector<char *> argv;
  for (size_t i = 0; i < all.size(); i += std::strlen(&all[i]) + 1)
    argv.push_back(&all[i]);
  argv.push_back(nullptr);
  setenv("OPENBLAS_CORETYPE", want, 1);
  setenv("AXONN_BLAS_RESTARTED", detected.c_str(), 1);
  execv("/proc/self/exe", argv.data());
  // exec failed: go on with the slow kernels.
  unsetenv("OPENBLAS_CORETYPE");
}

} // namespace

extern "C" axonn_status axonn_rt_create(const int64_t grid[4],
                                        axonn_rt **result) {
  *result = nullptr;
  int alreadyInitialized = 0;
  MPI_Initialized(&alreadyInitialized);
  if (!alreadyInitialized)
    chooseBlasCore();
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
  return AXONN_OK;
}

extern "C" void axonn_rt_destroy(axonn_rt *rt) {
  if (!rt)
    return;
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
extern "C" const char *axonn_rt_last_error(const axonn_rt *rt) {
  return rt->lastError.c_str();
}

extern "C" const char *axonn_rt_blas_core(void) {
  static std::string text;
  text = openblas_get_corename();
  if (const char *was = std::getenv("AXONN_BLAS_RESTARTED"))
    text += std::string(" (set by axonn; OpenBLAS detected ") + was + ")";
  return text.c_str();
}

extern "C" double axonn_rt_peak_flops(char *text, int64_t size) {
  int threads = openblas_get_num_threads();
  double mhz = 0;
  if (std::FILE *f = std::fopen("/proc/cpuinfo", "r")) {
    char line[512];
    while (std::fgets(line, sizeof(line), f))
      if (std::sscanf(line, "cpu MHz : %lf", &mhz) == 1)
        break;
    std::fclose(f);
  }
  static const int perCycle[] = {8, 16, 32, 64};
  int flops = perCycle[coreClass(openblas_get_corename())];
  if (text && size > 0)
    std::snprintf(text, size_t(size),
                  "%d thread%s x %.2f GHz x %d FLOP/cycle (fp32 FMA, %s)",
                  threads, threads == 1 ? "" : "s", mhz / 1e3, flops,
                  openblas_get_corename());
  return double(threads) * mhz * 1e6 * double(flops);
}

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
};

extern "C" axonn_status axonn_rt_all_reduce_start(axonn_rt *rt, const axonn_real *in,
                                                  axonn_real *out, int64_t count,
                                                  axonn_axes axes,
                                                  axonn_reduction reduction,
                                                  axonn_request *request) {
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
  *request = req;
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_all_gather_start(axonn_rt *rt, const axonn_real *in,
                                                  axonn_real *out, int64_t outer,
                                                  int64_t rows, int64_t inner,
                                                  axonn_axes axes,
                                                  axonn_request *request) {
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
  *request = req;
  return AXONN_OK;
}

extern "C" axonn_status
axonn_rt_reduce_scatter_start(axonn_rt *rt, const axonn_real *in, axonn_real *out,
                              int64_t outer, int64_t rows, int64_t inner,
                              axonn_axes axes, axonn_reduction reduction,
                              axonn_request *request) {
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
  *request = req;
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_wait(axonn_rt *rt, axonn_request request) {
  if (!request)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "wait on a null request");
  axonn_status status =
      rt->checkMpi(MPI_Wait(&request->request, MPI_STATUS_IGNORE), "MPI_Wait",
                   request->axes);
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
