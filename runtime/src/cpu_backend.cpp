//===- cpu_backend.cpp - the CPU backend's start, memory and BLAS ---------===//
//
// OpenBLAS: the core type it runs (and the restart that fixes a
// misdetected one), a nominal peak for MFU; host memory.
//
//===----------------------------------------------------------------------===//

#include "runtime_internal.h"

#ifdef AXONN_RT_NAIVE_BLAS
#include "naive_blas.h"
#else
#include <cblas.h>
#endif
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

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
[[maybe_unused]] void chooseBlasCore() {
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

namespace axonn {
void backendBeforeStart() {
#ifndef AXONN_RT_NAIVE_BLAS
  chooseBlasCore();
#endif
}
axonn_status backendStart(axonn_rt *) { return AXONN_OK; }
void backendStop(axonn_rt *) {}

axonn_status widenAlloc(axonn_rt *rt, int64_t count, bool zeroed,
                        axonn_real **out) {
  size_t n = size_t(std::max<int64_t>(count, 1));
  *out = static_cast<axonn_real *>(
      zeroed ? std::calloc(n, sizeof(axonn_real))
             : std::malloc(n * sizeof(axonn_real)));
  if (!*out)
    return rt->fail(AXONN_ERR_OUT_OF_MEMORY,
                    "cannot allocate %lld fp32 values for a bf16 kernel",
                    (long long)count);
  return AXONN_OK;
}
void widenFree(axonn_rt *, axonn_real *p) { std::free(p); }
int64_t backendPoolPeak(const axonn_rt *) { return 0; }
axonn_status widen(axonn_rt *, const axonn_bf16 *in, int64_t count,
                   axonn_real *out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = axonn_real(axonn_bf16_to_float(in[i]));
  return AXONN_OK;
}
axonn_status narrow(axonn_rt *, const axonn_real *in, int64_t count,
                    axonn_bf16 *out) {
  for (int64_t i = 0; i < count; ++i)
    out[i] = axonn_bf16_from_float(float(in[i]));
  return AXONN_OK;
}
} // namespace axonn

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

extern "C" const char *axonn_rt_backend(void) { return "cpu"; }

extern "C" axonn_status axonn_rt_alloc(axonn_rt *rt, int64_t bytes,
                                       axonn_memory kind, void **ptr) {
  (void)kind;
  if (!ptr || bytes < 0)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "alloc: bad arguments");
  size_t size = size_t(bytes > 256 ? bytes : 256);
  *ptr = nullptr;
  if (posix_memalign(ptr, 256, size) != 0)
    return rt->fail(AXONN_ERR_OUT_OF_MEMORY, "cannot allocate %lld bytes",
                    (long long)bytes);
  std::memset(*ptr, 0, size);
  rt->allocatedNow(*ptr, int64_t(size));
  return AXONN_OK;
}

extern "C" void axonn_rt_free(axonn_rt *rt, void *ptr) {
  rt->freedNow(ptr);
  std::free(ptr);
}

extern "C" axonn_status axonn_rt_prefetch(axonn_rt *rt, const void *ptr,
                                          int64_t bytes) {
  (void)rt, (void)ptr, (void)bytes;
  return AXONN_OK;
}

extern "C" axonn_status axonn_rt_synchronize(axonn_rt *rt) {
  (void)rt;
  return AXONN_OK;
}

// Calls run as they are made here: nothing to record.
struct axonn_graph_impl {};
extern "C" int32_t axonn_rt_graph_supported(const axonn_rt *rt) {
  (void)rt;
  return 0;
}
extern "C" axonn_status axonn_rt_graph_begin(axonn_rt *rt) {
  return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                  "the cpu backend records no graphs");
}
extern "C" axonn_status axonn_rt_graph_end(axonn_rt *rt, axonn_graph *graph) {
  if (graph)
    *graph = nullptr;
  return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                  "the cpu backend records no graphs");
}
extern "C" axonn_status axonn_rt_graph_launch(axonn_rt *rt, axonn_graph graph) {
  (void)graph;
  return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                  "the cpu backend records no graphs");
}
extern "C" int32_t axonn_rt_graph_current(const axonn_rt *rt,
                                          axonn_graph graph) {
  (void)rt, (void)graph;
  return 0;
}
extern "C" void axonn_rt_graph_destroy(axonn_rt *rt, axonn_graph graph) {
  (void)rt, (void)graph;
}
