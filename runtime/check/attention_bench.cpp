//===- attention_bench.cpp - the attention kernels' speed on a GPU
//---------===//
//
//   axonn-rt-attention-bench [batch seq heads kv_heads head_dim [rope_base]]
//
// Times axonn_rt_attention and axonn_rt_attention_grad (causal; RoPE with
// base 10000 unless rope_base says otherwise, 0 for none, as GPT-2) on
// the backend it is linked with (the CUDA one), for each set of kernels
// AXONN_ATTENTION chooses and both storage types: the median of 10 calls
// after 2 warm-ups, and TFLOP/s by FlashAttention's count (forward 4 B H
// S^2 D / 2 for the causal half; backward 2.5 times that). Default shape:
// GPT-2 124M's (8 x 1024, 12 heads of 64). A benchmark, not a test: it
// prints figures and exits 0 unless a call fails (77 without a GPU).
//
// AXONN_ATTENTION_BENCH_SETS, a comma-separated subset of mma, mma32,
// wmma and tiled (mma: the mma.sync forward and dQ with 16 rows a warp,
// AXONN_ATTENTION_ROWS=16; mma32: with 32, AXONN_ATTENTION_ROWS=32; the
// runtime's default times both per shape and keeps the faster), and
// AXONN_ATTENTION_BENCH_CALLS, the timed
// calls after the warm-ups (10 by default), narrow a run, e.g. for a
// profiler that replays each kernel.
//
//===----------------------------------------------------------------------===//

#include "axonn_rt.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

axonn_rt *rt = nullptr;

void check(axonn_status s, const char *what) {
  if (s != AXONN_OK) {
    std::fprintf(stderr, "axonn-rt-attention-bench: %s: %s\n", what,
                 axonn_rt_last_error(rt));
    std::exit(1);
  }
}

/// Timed calls after the 2 warm-ups (AXONN_ATTENTION_BENCH_CALLS).
int timedCalls = 10;

/// The median milliseconds of `call` (timedCalls runs after 2 warm-ups).
template <typename Call> double median(Call call) {
  std::vector<double> ms;
  for (int i = 0; i < 2 + timedCalls; ++i) {
    check(axonn_rt_synchronize(rt), "synchronize");
    auto begin = std::chrono::steady_clock::now();
    call();
    check(axonn_rt_synchronize(rt), "synchronize");
    auto end = std::chrono::steady_clock::now();
    if (i >= 2)
      ms.push_back(
          std::chrono::duration<double, std::milli>(end - begin).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

} // namespace

int main(int argc, char **argv) {
  int64_t batch = 8, seq = 1024, heads = 12, kv = 12, d = 64;
  double ropeBase = 10000.0;
  if (argc == 6 || argc == 7) {
    batch = std::atoll(argv[1]);
    seq = std::atoll(argv[2]);
    heads = std::atoll(argv[3]);
    kv = std::atoll(argv[4]);
    d = std::atoll(argv[5]);
    if (argc == 7)
      ropeBase = std::atof(argv[6]);
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: axonn-rt-attention-bench [batch seq heads "
                         "kv_heads head_dim [rope_base]]\n");
    return 2;
  }
  std::vector<std::string> sets = {"mma", "mma32", "wmma", "tiled"};
  if (const char *chosen = std::getenv("AXONN_ATTENTION_BENCH_SETS")) {
    sets.clear();
    std::string list = chosen;
    for (size_t at = 0; at <= list.size();) {
      size_t comma = std::min(list.find(',', at), list.size());
      std::string set = list.substr(at, comma - at);
      if (set != "mma" && set != "mma32" && set != "wmma" && set != "tiled") {
        std::fprintf(stderr,
                     "axonn-rt-attention-bench: AXONN_ATTENTION_BENCH_SETS=%s: "
                     "expected a comma-separated list of mma, mma32, wmma "
                     "and tiled\n",
                     chosen);
        return 2;
      }
      sets.push_back(set);
      at = comma + 1;
    }
  }
  if (const char *calls = std::getenv("AXONN_ATTENTION_BENCH_CALLS")) {
    char *end = nullptr;
    long n = std::strtol(calls, &end, 10);
    if (*calls == 0 || *end != 0 || n < 1 || n > 1000) {
      std::fprintf(stderr,
                   "axonn-rt-attention-bench: AXONN_ATTENTION_BENCH_CALLS=%s: "
                   "expected a count from 1 to 1000\n",
                   calls);
      return 2;
    }
    timedCalls = int(n);
  }
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("axonn-rt-attention-bench: no GPU; skipped\n");
    return 77;
  }
  int64_t grid[4] = {1, 1, 1, 1};
  if (axonn_rt_create(grid, &rt) != AXONN_OK) {
    std::fprintf(stderr, "axonn-rt-attention-bench: cannot start: %s\n",
                 rt ? axonn_rt_last_error(rt) : "");
    return 1;
  }
  int64_t f = (heads + 2 * kv) * d, width = heads * d;
  int64_t in = batch * seq * f, outCount = batch * seq * width;
  // Random inputs, in both storage types.
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> hostQkv(static_cast<size_t>(in)),
      hostOut(static_cast<size_t>(outCount));
  for (float &x : hostQkv)
    x = normal(rng);
  for (float &x : hostOut)
    x = normal(rng);
  void *qkv32, *dout32, *out32, *dqkv32, *qkv16, *dout16, *out16, *dqkv16, *lse;
  check(axonn_rt_alloc(rt, batch * seq * heads * 4, AXONN_MEMORY_DEVICE, &lse),
        "alloc");
  check(axonn_rt_alloc(rt, in * 4, AXONN_MEMORY_SHARED, &qkv32), "alloc");
  check(axonn_rt_alloc(rt, outCount * 4, AXONN_MEMORY_SHARED, &dout32),
        "alloc");
  check(axonn_rt_alloc(rt, outCount * 4, AXONN_MEMORY_DEVICE, &out32), "alloc");
  check(axonn_rt_alloc(rt, in * 4, AXONN_MEMORY_DEVICE, &dqkv32), "alloc");
  check(axonn_rt_alloc(rt, in * 2, AXONN_MEMORY_SHARED, &qkv16), "alloc");
  check(axonn_rt_alloc(rt, outCount * 2, AXONN_MEMORY_SHARED, &dout16),
        "alloc");
  check(axonn_rt_alloc(rt, outCount * 2, AXONN_MEMORY_DEVICE, &out16), "alloc");
  check(axonn_rt_alloc(rt, in * 2, AXONN_MEMORY_DEVICE, &dqkv16), "alloc");
  for (int64_t i = 0; i < in; ++i) {
    static_cast<float *>(qkv32)[i] = hostQkv[size_t(i)];
    static_cast<axonn_bf16 *>(qkv16)[i] =
        axonn_bf16_from_float(hostQkv[size_t(i)]);
  }
  for (int64_t i = 0; i < outCount; ++i) {
    static_cast<float *>(dout32)[i] = hostOut[size_t(i)];
    static_cast<axonn_bf16 *>(dout16)[i] =
        axonn_bf16_from_float(hostOut[size_t(i)]);
  }
  double flops = 4.0 * batch * heads * double(seq) * seq * d / 2;
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  std::printf("attention on %s: batch %lld, seq %lld, %lld heads (%lld KV) "
              "of %lld, causal, %s\n",
              prop.name, (long long)batch, (long long)seq, (long long)heads,
              (long long)kv, (long long)d, ropeBase > 0 ? "RoPE" : "no RoPE");
  std::printf("| kernels | storage | forward ms | TFLOP/s | backward ms | "
              "TFLOP/s |\n|---|---|---|---|---|---|\n");
  for (const std::string &set : sets)
    for (bool bf16 : {true, false}) {
      const char *kernels = set.c_str();
      setenv("AXONN_ATTENTION", set == "mma32" ? "mma" : kernels, 1);
      // (mma: 16 rows a warp, mma32: 32; not the default's choice by
      // timing, so that the table shows both)
      if (set == "mma32" || set == "mma")
        setenv("AXONN_ATTENTION_ROWS", set == "mma32" ? "32" : "16", 1);
      else
        unsetenv("AXONN_ATTENTION_ROWS");
      double forward = median([&] {
        check(bf16
                  ? axonn_rt_attention_bf16(
                        rt, static_cast<axonn_bf16 *>(qkv16), batch, seq, heads,
                        kv, d, 1, ropeBase, static_cast<axonn_bf16 *>(out16),
                        static_cast<float *>(lse))
                  : axonn_rt_attention(rt, static_cast<float *>(qkv32), batch,
                                       seq, heads, kv, d, 1, ropeBase,
                                       static_cast<float *>(out32),
                                       static_cast<float *>(lse)),
              "attention");
      });
      double backward = median([&] {
        check(bf16 ? axonn_rt_attention_grad_bf16(
                         rt, static_cast<axonn_bf16 *>(dout16),
                         static_cast<axonn_bf16 *>(qkv16),
                         static_cast<axonn_bf16 *>(out16),
                         static_cast<float *>(lse), batch, seq, heads, kv, d, 1,
                         ropeBase, static_cast<axonn_bf16 *>(dqkv16))
                   : axonn_rt_attention_grad(rt, static_cast<float *>(dout32),
                                             static_cast<float *>(qkv32),
                                             static_cast<float *>(out32),
                                             static_cast<float *>(lse), batch,
                                             seq, heads, kv, d, 1, ropeBase,
                                             static_cast<float *>(dqkv32)),
              "attention_grad");
      });
      std::printf("| %s | %s | %.3f | %.1f | %.3f | %.1f |\n", kernels,
                  bf16 ? "bf16" : "fp32", forward, flops / forward / 1e9,
                  backward, 2.5 * flops / backward / 1e9);
      std::fflush(stdout);
    }
  axonn_rt_destroy(rt);
  return 0;
}
