//===- cuda_check.cpp - every CUDA kernel against the CPU kernels ---------===//
//
//   axonn-rt-cuda-check [path/to/libaxonn_rt_reference.so]
//
// Runs each kernel of the runtime ABI on random inputs twice: on the CUDA
// backend this program is linked with, and on the CPU backend's kernels
// loaded from libaxonn_rt_reference.so (built without OpenBLAS, so that it
// loads on GPU machines without it; the CPU kernels themselves are checked
// against the fp64 reference interpreter in unittests/). For each output
// the largest difference relative to the largest reference magnitude must
// stay below 1e-4 (fp32; the GPU sums in another order).
//
// Exit status: 0 all pass, 1 a kernel differs or fails, 77 no GPU (the
// check is skipped: ctest's SKIP_RETURN_CODE). Built with AXONN_CHECK_CPU
// against the CPU backend instead (axonn-rt-check-harness), it checks the
// harness and the reference build on machines without a GPU.
//
//===----------------------------------------------------------------------===//

#include "axonn_rt.h"

#ifndef AXONN_CHECK_CPU
#include <cuda_runtime.h>
#endif
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr double kTolerance = 1e-4;
/// The tolerance of the pass running: fp32's, or bf16's (1e-2) for the
/// GEMMs with bf16 inputs.
double tolerance = kTolerance;

#define AXONN_CHECKED_FUNCTIONS(X)                                             \
  X(create) X(destroy) X(alloc) X(synchronize) X(last_error) X(copy)           \
  X(embedding) X(embedding_grad) X(position_grad) X(layer_norm) X(rms_norm)    \
  X(norm_stats) X(norm_grad_stats) X(layer_norm_grad) X(rms_norm_grad)         \
  X(residual_layer_norm) X(residual_rms_norm)                                  \
  X(linear) X(linear_grad_input) X(linear_grad_weight) X(linear_grad_bias)     \
  X(linear_gelu) X(linear_gelu_bf16) X(linear_grad_input_gelu)                 \
  X(linear_grad_input_gelu_bf16)                                               \
  X(attention) X(attention_grad) X(cached_attention) X(gelu) X(gelu_grad)      \
  X(swiglu) X(swiglu_grad) X(add) X(logits_max) X(softmax_sums)                \
  X(cross_entropy) X(cross_entropy_grad) X(goldfish_mask)                      \
  X(cross_entropy_masked) X(cross_entropy_grad_masked) X(sum_squares)          \
  X(sqrt) X(adamw) X(sum_squares_group) X(adamw_group)                        \
  X(sum_squares_group_bf16) X(adamw_group_bf16)                                \
  X(all_reduce_start) X(all_gather_start)                                      \
  X(reduce_scatter_start) X(wait) X(peak_allocated)                          \
  X(embedding_bf16) X(embedding_grad_bf16) X(position_grad_bf16)               \
  X(layer_norm_bf16) X(rms_norm_grad_bf16)                                     \
  X(norm_stats_bf16) X(linear_bf16) X(linear_grad_input_bf16)                  \
  X(residual_layer_norm_bf16) X(residual_rms_norm_bf16) X(rms_norm_bf16)       \
  X(layer_norm_grad_bf16) X(norm_grad_stats_bf16)                              \
  X(linear_grad_weight_bf16) X(linear_grad_bias_bf16) X(attention_bf16)        \
  X(attention_grad_bf16) X(gelu_bf16) X(gelu_grad_bf16) X(swiglu_bf16)         \
  X(swiglu_grad_bf16) X(add_bf16)                                              \
  X(logits_max_bf16) X(cross_entropy_grad_bf16)                                \
  X(cross_entropy_grad_masked_bf16)                                            \
  X(sum_squares_bf16) X(adamw_bf16) X(all_reduce_start_bf16)                   \
  X(all_gather_start_bf16) X(reduce_scatter_start_bf16)

/// One backend's entry points.
struct Api {
#define FIELD(name) decltype(&axonn_rt_##name) name = nullptr;
  AXONN_CHECKED_FUNCTIONS(FIELD)
#undef FIELD
  axonn_rt *rt = nullptr;
  const char *label = "";
};

Api linkedApi() {
  Api a;
#define LINKED(name) a.name = &axonn_rt_##name;
  AXONN_CHECKED_FUNCTIONS(LINKED)
#undef LINKED
#ifdef AXONN_CHECK_CPU
  a.label = "linked";
#else
  a.label = "cuda";
#endif
  return a;
}

bool loadedApi(const std::string &path, Api &a) {
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!library) {
    std::fprintf(stderr, "axonn-rt-cuda-check: cannot load %s: %s\n",
                 path.c_str(), dlerror());
    return false;
  }
#define LOADED(name)                                                           \
  a.name = reinterpret_cast<decltype(a.name)>(                                 \
      dlsym(library, "axonn_rt_" #name));                                      \
  if (!a.name) {                                                               \
    std::fprintf(stderr, "axonn-rt-cuda-check: %s lacks axonn_rt_%s\n",        \
                 path.c_str(), #name);                                         \
    return false;                                                              \
  }
  AXONN_CHECKED_FUNCTIONS(LOADED)
#undef LOADED
  a.label = "cpu";
  return true;
}

std::mt19937_64 rng(20261126);

std::vector<float> random(size_t n, double scale = 1.0) {
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = float(normal(rng));
  return v;
}

std::vector<int32_t> randomTokens(size_t n, int32_t vocab) {
  std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
  std::vector<int32_t> v(n);
  for (int32_t &x : v)
    x = pick(rng);
  return v;
}

/// Buffers of one backend for one kernel: inputs copied in, outputs read
/// back after synchronize.
class Run {
public:
  explicit Run(Api &api) : api(api) {}
  template <typename T> T *in(const std::vector<T> &host) {
    T *p = static_cast<T *>(raw(host.size() * sizeof(T)));
    std::memcpy(p, host.data(), host.size() * sizeof(T));
    return p;
  }
  float *out(size_t n) { return static_cast<float *>(raw(n * sizeof(float))); }
  /// bf16 buffers: inputs rounded from fp32, outputs read back widened.
  axonn_bf16 *inBf16(const std::vector<float> &host) {
    auto *p = static_cast<axonn_bf16 *>(raw(host.size() * sizeof(axonn_bf16)));
    for (size_t i = 0; i < host.size(); ++i)
      p[i] = axonn_bf16_from_float(host[i]);
    return p;
  }
  axonn_bf16 *outBf16(size_t n) {
    return static_cast<axonn_bf16 *>(raw(n * sizeof(axonn_bf16)));
  }
  std::vector<float> read(const axonn_bf16 *p, size_t n) {
    if (api.synchronize(api.rt) != AXONN_OK)
      fail("synchronize");
    std::vector<float> out(n);
    for (size_t i = 0; i < n; ++i)
      out[i] = axonn_bf16_to_float(p[i]);
    return out;
  }
  void *raw(size_t bytes) {
    void *p = nullptr;
    if (api.alloc(api.rt, int64_t(bytes), AXONN_MEMORY_SHARED, &p) != AXONN_OK)
      fail("alloc");
    return p;
  }
  void ok(axonn_status status, const char *what) {
    if (status != AXONN_OK)
      fail(what);
  }
  std::vector<float> read(const float *p, size_t n) {
    if (api.synchronize(api.rt) != AXONN_OK)
      fail("synchronize");
    return std::vector<float>(p, p + n);
  }
  [[noreturn]] void fail(const char *what) {
    std::fprintf(stderr, "axonn-rt-cuda-check: %s backend: %s: %s\n",
                 api.label, what, api.last_error(api.rt));
    std::exit(1);
  }
  Api &api;
};

int failures = 0, checks = 0;

/// The values of `got` whose bits differ from `want`'s (same length).
size_t bitsDiffering(const std::vector<float> &got,
                     const std::vector<float> &want) {
  size_t count = 0;
  for (size_t i = 0; i < want.size(); ++i)
    count += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
  return count;
}

void compare(const char *name, const std::vector<float> &got,
             const std::vector<float> &want) {
  ++checks;
  if (got.size() != want.size()) {
    ++failures;
    std::printf("FAIL %-28s %zu values, the reference has %zu\n", name,
                got.size(), want.size());
    return;
  }
  double scale = 0, worst = 0;
  for (float w : want)
    scale = std::max(scale, double(std::fabs(w)));
  for (size_t i = 0; i < want.size(); ++i) {
    double d = std::fabs(double(got[i]) - want[i]);
    if (!std::isfinite(double(got[i])))
      d = INFINITY;
    worst = std::max(worst, d);
  }
  double relative = scale > 0 ? worst / scale : worst;
  bool pass = relative <= tolerance;
  failures += !pass;
  std::printf("%-4s %-28s %zu values, max |diff| / max |ref| = %.2e\n",
              pass ? "ok" : "FAIL", name, want.size(), relative);
}

/// Runs `kernel` on both backends and compares what it returns.
void check(Api &cuda, Api &cpu,
           const std::function<std::vector<std::pair<std::string,
                                                     std::vector<float>>>(Run &)>
               &kernel) {
  Run a(cuda), b(cpu);
  auto got = kernel(a);
  auto want = kernel(b);
  for (size_t i = 0; i < want.size(); ++i)
    compare(want[i].first.c_str(),
            i < got.size() ? got[i].second : std::vector<float>(),
            want[i].second);
}

using Outputs = std::vector<std::pair<std::string, std::vector<float>>>;

void checkLinear(Api &cuda, Api &cpu, const char *label);
void checkGeluEpilogue(Api &cuda, Api &cpu, const char *label);
void checkBf16(Api &cuda, Api &cpu);
void checkAttentionTiles(Api &cuda, Api &cpu, const char *kernels);

void checkAll(Api &cuda, Api &cpu) {
  const axonn_axes none = 0;
  // Embedding with learned positions from a start, and its gradients.
  {
    auto tokens = randomTokens(2 * 5, 11);
    auto table = random(11 * 8), positions = random(9 * 8), grad = random(80);
    std::vector<int32_t> start = {3};
    check(cuda, cpu, [&](Run &r) -> Outputs {
      float *out = r.out(80), *dt = r.out(88), *dp = r.out(72);
      int32_t *tk = r.in(tokens), *st = r.in(start);
      float *t = r.in(table), *p = r.in(positions), *g = r.in(grad);
      r.ok(r.api.embedding(r.api.rt, tk, 10, 5, t, 11, 8, p, 9, st, none,
                           none, out),
           "embedding");
      r.ok(r.api.embedding_grad(r.api.rt, g, tk, 10, 11, 8, none, nullptr, dt),
           "embedding_grad");
      r.ok(r.api.position_grad(r.api.rt, g, 10, 5, 9, 8, dp),
           "position_grad");
      return {{"embedding", r.read(out, 80)},
              {"embedding_grad", r.read(dt, 88)},
              {"position_grad", r.read(dp, 72)}};
    });
  }
  // The embedding's gradient at a larger size: rows shared by many tokens
  // (one by 40% of them, as a space is in text: its run crosses many of
  // the sorted tokens' chunks), rows no token uses, a width above a block's
  // threads, and a vocabulary slice (over x) that some tokens fall outside
  // of.
  {
    const int64_t count = 4000, rows = 700, width = 300;
    auto tokens = randomTokens(size_t(count), 800);
    for (size_t i = 0; i < tokens.size(); ++i)
      if (i % 5 < 2)
        tokens[i] = 123;
    auto grad = random(size_t(count * width)), other = random(rows * width);
    int32_t axes[1] = {AXONN_AXIS_X};
    axonn_axes x1 = axonn_axes_make(1, axes);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      float *dt = r.out(rows * width), *g = r.in(grad);
      int32_t *tk = r.in(tokens);
      r.ok(r.api.embedding_grad(r.api.rt, g, tk, count, rows, width, x1,
                                nullptr, dt),
           "embedding_grad");
      // Added to another gradient of the table (a tied LM head's), from it
      // and in place.
      float *po = r.in(other), *at = r.out(rows * width), *in = r.in(other);
      r.ok(
          r.api.embedding_grad(r.api.rt, g, tk, count, rows, width, x1, po, at),
          "embedding_grad");
      r.ok(
          r.api.embedding_grad(r.api.rt, g, tk, count, rows, width, x1, in, in),
          "embedding_grad");
      return {
          {"embedding_grad (4000 tokens, sliced)", r.read(dt, rows * width)},
          {"embedding_grad (accumulate)", r.read(at, rows * width)},
          {"embedding_grad (accumulate in place)", r.read(in, rows * width)}};
    });
  }
  // Norms, with and without split-feature statistics, and the column sums
  // of the parameter gradients (the bias's too): small, and at a size
  // that splits the rows into several chunks (the last one short) and the
  // columns into several blocks (the last one partial).
  for (auto [tokens, local] :
       {std::pair<int64_t, int64_t>{6, 40}, {1000, 100}}) {
    auto x = random(tokens * local, 2.0), dy = random(tokens * local);
    auto scale = random(local), bias = random(local);
    auto other = random(tokens * local);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      float *px = r.in(x), *pdy = r.in(dy), *ps = r.in(scale),
            *pb = r.in(bias), *pother = r.in(other);
      float *ln = r.out(tokens * local), *rms = r.out(tokens * local);
      float *stats2 = r.out(tokens * 2), *stats1 = r.out(tokens);
      float *gstats4 = r.out(tokens * 4), *gstats2 = r.out(tokens * 2);
      float *lnStats = r.out(tokens * local);
      float *dx = r.out(tokens * local), *dg = r.out(local), *db = r.out(local);
      float *rdx = r.out(tokens * local), *rdg = r.out(local);
      float *rmsStats = r.out(tokens * local), *sdx = r.out(tokens * local),
            *sdg = r.out(local), *sdb = r.out(local),
            *srdx = r.out(tokens * local), *srdg = r.out(local);
      auto &a = r.api;
      r.ok(a.layer_norm(a.rt, px, ps, pb, nullptr, tokens, local, local, 1e-5,
                        ln),
           "layer_norm");
      r.ok(a.rms_norm(a.rt, px, ps, nullptr, tokens, local, local, 1e-5, rms),
           "rms_norm");
      r.ok(a.norm_stats(a.rt, px, tokens, local, 0, stats2), "norm_stats");
      r.ok(a.norm_stats(a.rt, px, tokens, local, 1, stats1), "norm_stats");
      r.ok(a.layer_norm(a.rt, px, ps, pb, stats2, tokens, local, local, 1e-5,
                        lnStats),
           "layer_norm");
      r.ok(a.norm_grad_stats(a.rt, pdy, px, ps, tokens, local, 0, gstats4),
           "norm_grad_stats");
      r.ok(a.norm_grad_stats(a.rt, pdy, px, ps, tokens, local, 1, gstats2),
           "norm_grad_stats");
      r.ok(a.layer_norm_grad(a.rt, pdy, px, ps, nullptr, tokens, local, local,
                             1e-5, nullptr, dx, dg, db),
           "layer_norm_grad");
      r.ok(a.rms_norm_grad(a.rt, pdy, px, ps, nullptr, tokens, local, local,
                           1e-5, nullptr, rdx, rdg),
           "rms_norm_grad");
      // The split-feature forms, from statistics (of one rank here), adding
      // another gradient of x.
      r.ok(a.rms_norm(a.rt, px, ps, stats1, tokens, local, local, 1e-5,
                      rmsStats),
           "rms_norm");
      r.ok(a.layer_norm_grad(a.rt, pdy, px, ps, gstats4, tokens, local, local,
                             1e-5, pother, sdx, sdg, sdb),
           "layer_norm_grad");
      r.ok(a.rms_norm_grad(a.rt, pdy, px, ps, gstats2, tokens, local, local,
                           1e-5, pother, srdx, srdg),
           "rms_norm_grad");
      float *pr = r.in(dy), *rsum = r.out(tokens * local),
            *rln = r.out(tokens * local), *rsum2 = r.out(tokens * local),
            *rrms = r.out(tokens * local);
      r.ok(a.residual_layer_norm(a.rt, px, pr, ps, pb, tokens, local, 1e-5,
                                 rsum, rln),
           "residual_layer_norm");
      r.ok(a.residual_rms_norm(a.rt, px, pr, ps, tokens, local, 1e-5, rsum2,
                               rrms),
           "residual_rms_norm");
      float *biasGrad = r.out(local);
      r.ok(a.linear_grad_bias(a.rt, pdy, tokens, local, biasGrad),
           "linear_grad_bias");
      Outputs out = {{"layer_norm", r.read(ln, tokens * local)},
              {"residual_layer_norm sum", r.read(rsum, tokens * local)},
              {"residual_layer_norm", r.read(rln, tokens * local)},
              {"residual_rms_norm sum", r.read(rsum2, tokens * local)},
              {"residual_rms_norm", r.read(rrms, tokens * local)},
              {"rms_norm", r.read(rms, tokens * local)},
              {"norm_stats (layer)", r.read(stats2, tokens * 2)},
              {"norm_stats (rms)", r.read(stats1, tokens)},
              {"layer_norm (stats)", r.read(lnStats, tokens * local)},
              {"norm_grad_stats (layer)", r.read(gstats4, tokens * 4)},
              {"norm_grad_stats (rms)", r.read(gstats2, tokens * 2)},
              {"layer_norm_grad dx", r.read(dx, tokens * local)},
              {"layer_norm_grad dscale", r.read(dg, local)},
              {"layer_norm_grad dbias", r.read(db, local)},
              {"rms_norm_grad dx", r.read(rdx, tokens * local)},
              {"rms_norm_grad dscale", r.read(rdg, local)},
              {"rms_norm (stats)", r.read(rmsStats, tokens * local)},
              {"layer_norm_grad dx (stats, accumulate)",
               r.read(sdx, tokens * local)},
              {"layer_norm_grad dscale (stats)", r.read(sdg, local)},
              {"rms_norm_grad dx (stats, accumulate)",
               r.read(srdx, tokens * local)},
              {"rms_norm_grad dscale (stats)", r.read(srdg, local)},
              {"linear_grad_bias", r.read(biasGrad, local)}};
      std::string shape =
          " (" + std::to_string(tokens) + "x" + std::to_string(local) + ")";
      for (auto &[name, values] : out)
        name += shape;
      return out;
    });
  }
  checkLinear(cuda, cpu, "");
  checkGeluEpilogue(cuda, cpu, "");
  // Attention: 4 query heads over 2 KV heads of dimension 8, rotary, causal;
  // the cache: a prefill of 5 then one token at a time.
  {
    const int64_t batch = 2, seq = 7, heads = 4, kv = 2, d = 8;
    const int64_t f = (heads + 2 * kv) * d, width = heads * d;
    auto qkv = random(batch * seq * f), dout = random(batch * seq * width);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      float *pq = r.in(qkv), *pd = r.in(dout);
      float *o = r.out(batch * seq * width), *dq = r.out(batch * seq * f);
      float *on = r.out(batch * seq * width);
      float *lse = r.out(batch * seq * heads), *lsen = r.out(batch * seq * heads);
      r.ok(a.attention(a.rt, pq, batch, seq, heads, kv, d, 1, 10000.0, o, lse),
           "attention");
      r.ok(a.attention(a.rt, pq, batch, seq, heads, kv, d, 0, 0.0, on, lsen),
           "attention");
      r.ok(a.attention_grad(a.rt, pd, pq, o, lse, batch, seq, heads, kv, d, 1,
                            10000.0, dq),
           "attention_grad");
      return {{"attention (causal, rope)", r.read(o, batch * seq * width)},
              {"attention lse (causal, rope)", r.read(lse, batch * seq * heads)},
              {"attention (full)", r.read(on, batch * seq * width)},
              {"attention lse (full)", r.read(lsen, batch * seq * heads)},
              {"attention_grad", r.read(dq, batch * seq * f)}};
    });
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      const int64_t capacity = 8;
      float *k = r.out(batch * kv * capacity * d),
            *v = r.out(batch * kv * capacity * d);
      int32_t *start = static_cast<int32_t *>(r.raw(sizeof(int32_t)));
      std::vector<float> all(size_t(batch * seq * width));
      for (auto [from, count] : {std::pair<int64_t, int64_t>{0, 5}, {5, 1},
                                 {6, 1}}) {
        std::vector<float> chunk(size_t(batch * count * f));
        for (int64_t b = 0; b < batch; ++b)
          std::copy_n(&qkv[size_t((b * seq + from) * f)], count * f,
                      &chunk[size_t(b * count * f)]);
        float *pc = r.in(chunk), *o = r.out(batch * count * width);
        if (r.api.synchronize(r.api.rt) != AXONN_OK)
          r.fail("synchronize");
        *start = int32_t(from);
        r.ok(a.cached_attention(a.rt, pc, batch, count, heads, kv, d, 10000.0,
                                k, v, capacity, start, o),
             "cached_attention");
        auto got = r.read(o, size_t(batch * count * width));
        for (int64_t b = 0; b < batch; ++b)
          std::copy_n(&got[size_t(b * count * width)], count * width,
                      &all[size_t((b * seq + from) * width)]);
      }
      return {{"cached_attention", all}};
    });
  }
  checkAttentionTiles(cuda, cpu, "tiled");
  // Wide heads (dimension 160: the loops over it stride), no rotary,
  // not causal.
  {
    const int64_t batch = 1, seq = 5, heads = 2, kv = 2, d = 160;
    const int64_t f = (heads + 2 * kv) * d, width = heads * d;
    auto qkv = random(batch * seq * f, 0.2), dout = random(batch * seq * width);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      float *pq = r.in(qkv), *pd = r.in(dout);
      float *o = r.out(batch * seq * width), *dq = r.out(batch * seq * f);
      float *lse = r.out(batch * seq * heads);
      r.ok(a.attention(a.rt, pq, batch, seq, heads, kv, d, 0, 0.0, o, lse),
           "attention");
      r.ok(a.attention_grad(a.rt, pd, pq, o, lse, batch, seq, heads, kv, d, 0,
                            0.0, dq),
           "attention_grad");
      return {{"attention (d 160, full)", r.read(o, batch * seq * width)},
              {"attention lse (d 160, full)", r.read(lse, batch * seq * heads)},
              {"attention_grad (d 160, full)", r.read(dq, batch * seq * f)}};
    });
  }
  // Elementwise.
  {
    const int64_t n = 1000;
    auto x = random(2 * n, 2.0), y = random(2 * n), dy = random(2 * n);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      float *px = r.in(x), *py = r.in(y), *pdy = r.in(dy);
      float *g0 = r.out(2 * n), *g1 = r.out(2 * n), *gg0 = r.out(2 * n),
            *gg1 = r.out(2 * n), *s = r.out(n), *sg = r.out(2 * n),
            *sum = r.out(2 * n), *copied = r.out(2 * n);
      r.ok(a.gelu(a.rt, px, 2 * n, 0, g0), "gelu");
      r.ok(a.gelu(a.rt, px, 2 * n, 1, g1), "gelu");
      r.ok(a.gelu_grad(a.rt, pdy, px, 2 * n, 0, gg0), "gelu_grad");
      r.ok(a.gelu_grad(a.rt, pdy, px, 2 * n, 1, gg1), "gelu_grad");
      r.ok(a.swiglu(a.rt, px, n, s), "swiglu");
      r.ok(a.swiglu_grad(a.rt, pdy, px, n, sg), "swiglu_grad");
      r.ok(a.add(a.rt, px, py, 2 * n, sum), "add");
      r.ok(a.copy(a.rt, px, copied, 2 * n * int64_t(sizeof(float))), "copy");
      return {{"gelu (erf)", r.read(g0, 2 * n)},
              {"gelu (tanh)", r.read(g1, 2 * n)},
              {"gelu_grad (erf)", r.read(gg0, 2 * n)},
              {"gelu_grad (tanh)", r.read(gg1, 2 * n)},
              {"swiglu", r.read(s, n)},
              {"swiglu_grad", r.read(sg, 2 * n)},
              {"add", r.read(sum, 2 * n)},
              {"copy", r.read(copied, 2 * n)}};
    });
  }
  // Cross-entropy over a padded vocabulary (60 real rows of 64), plain and
  // with the Goldfish mask.
  {
    const int64_t rows = 2, seq = 16, tokens = rows * seq, vocab = 64;
    auto logits = random(tokens * vocab, 3.0);
    auto targets = randomTokens(size_t(tokens), 60);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      float *l = r.in(logits);
      int32_t *t = r.in(targets);
      float *max = r.out(tokens), *sums = r.out(tokens * 2), *loss = r.out(1),
            *dl = r.out(tokens * vocab), *keep = r.out(tokens),
            *count = r.out(1), *mloss = r.out(1),
            *mdl = r.out(tokens * vocab), *skeep = r.out(tokens),
            *partial = r.out(tokens * 2), *shifted = r.out(tokens),
            *rescaled = r.out(tokens * 2);
      r.ok(a.logits_max(a.rt, l, t, tokens, vocab, none, 60, max, partial),
           "logits_max");
      r.ok(a.softmax_sums(a.rt, partial, max, max, tokens, sums),
           "softmax_sums");
      // Against a larger maximum (another rank's), the sums shrink.
      auto higher = r.read(max, size_t(tokens));
      for (int64_t i = 0; i < tokens; ++i)
        shifted[i] = higher[size_t(i)] + 0.5f * float(i % 3);
      r.ok(a.softmax_sums(a.rt, partial, max, shifted, tokens, rescaled),
           "softmax_sums");
      r.ok(a.cross_entropy(a.rt, max, sums, tokens, tokens, loss),
           "cross_entropy");
      r.ok(a.cross_entropy_grad(a.rt, l, max, sums, t, tokens, vocab, none, 60,
                                tokens, dl),
           "cross_entropy_grad");
      r.ok(a.goldfish_mask(a.rt, t, rows, seq, AXONN_GOLDFISH_HASH, 2, 3, keep,
                           count),
           "goldfish_mask");
      r.ok(a.goldfish_mask(a.rt, t, rows, seq, AXONN_GOLDFISH_STATIC, 4, 1,
                           skeep, nullptr),
           "goldfish_mask");
      r.ok(a.cross_entropy_masked(a.rt, max, sums, keep, count, tokens, mloss),
           "cross_entropy_masked");
      r.ok(a.cross_entropy_grad_masked(a.rt, l, max, sums, t, keep, count,
                                       tokens, vocab, none, 60, mdl),
           "cross_entropy_grad_masked");
      return {{"logits_max", r.read(max, tokens)},
              {"logits_max partial", r.read(partial, tokens * 2)},
              {"softmax_sums", r.read(sums, tokens * 2)},
              {"softmax_sums (rescaled)", r.read(rescaled, tokens * 2)},
              {"cross_entropy", r.read(loss, 1)},
              {"cross_entropy_grad", r.read(dl, tokens * vocab)},
              {"goldfish_mask (hash)", r.read(keep, tokens)},
              {"goldfish_mask count", r.read(count, 1)},
              {"goldfish_mask (static)", r.read(skeep, tokens)},
              {"cross_entropy_masked", r.read(mloss, 1)},
              {"cross_entropy_grad_masked", r.read(mdl, tokens * vocab)}};
    });
  }
  // Optimizer: norm, AdamW with fp32 master weights and clipping.
  // The grouped optimizer calls: three tensors (one over several chunks of
  // the GPU's table, its last not a multiple of four elements: the kernels'
  // four-at-a-time loops and their tails; two small), with and without
  // decay, fp32 and bf16 storage (with master weights).
  {
    const std::vector<int64_t> sizes = {150001, 768, 3};
    std::vector<std::vector<float>> grads, params, ms, vs;
    for (int64_t n : sizes) {
      grads.push_back(random(size_t(n)));
      params.push_back(random(size_t(n)));
      ms.push_back(random(size_t(n), 0.1));
      vs.push_back(random(size_t(n), 0.1));
      for (float &x : vs.back())
        x = std::fabs(x);
    }
    const std::vector<double> scales = {1.0, 0.5, 0.25};
    const std::vector<int32_t> decay = {1, 0, 1};
    for (bool bf16 : {false, true})
      check(cuda, cpu, [&](Run &r) -> Outputs {
        auto &a = r.api;
        std::vector<float *> g, p, m, v, master;
        std::vector<axonn_bf16 *> g16, p16;
        for (size_t t = 0; t < sizes.size(); ++t) {
          g.push_back(r.in(grads[t]));
          p.push_back(r.in(params[t]));
          m.push_back(r.in(ms[t]));
          v.push_back(r.in(vs[t]));
          master.push_back(r.in(params[t]));
          g16.push_back(r.inBf16(grads[t]));
          p16.push_back(r.inBf16(params[t]));
        }
        float *squares = r.out(1), *norm = r.out(1);
        int64_t *step = static_cast<int64_t *>(r.raw(sizeof(int64_t)));
        *step = 4;
        int64_t n = int64_t(sizes.size());
        const axonn_bf16 *const *cg16 = g16.data();
        if (bf16)
          r.ok(a.sum_squares_group_bf16(a.rt, n, cg16, sizes.data(),
                                        scales.data(), squares),
               "sum_squares_group");
        else
          r.ok(a.sum_squares_group(a.rt, n, g.data(), sizes.data(),
                                   scales.data(), squares),
               "sum_squares_group");
        r.ok(a.sqrt(a.rt, squares, norm), "sqrt");
        if (bf16)
          r.ok(a.adamw_group_bf16(a.rt, n, p16.data(), cg16, m.data(),
                                  v.data(), master.data(), sizes.data(),
                                  decay.data(), step, norm, 1e-3, 1e-4, 0.9,
                                  0.95, 1e-8, 0.1, 1.0, 5, 100, 2),
               "adamw_group");
        else
          r.ok(a.adamw_group(a.rt, n, p.data(), g.data(), m.data(), v.data(),
                             nullptr, sizes.data(), decay.data(), step, norm,
                             1e-3, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, 5, 100, 2),
               "adamw_group");
        std::string tag = bf16 ? "_bf16" : "";
        Outputs out = {{"sum_squares_group" + tag, r.read(squares, 1)}};
        for (size_t t = 0; t < sizes.size(); ++t) {
          std::string which = " (tensor " + std::to_string(t) + ")";
          out.push_back({"adamw_group" + tag + " param" + which,
                         bf16 ? r.read(p16[t], size_t(sizes[t]))
                              : r.read(p[t], size_t(sizes[t]))});
          out.push_back({"adamw_group" + tag + " v" + which,
                         r.read(v[t], size_t(sizes[t]))});
        }
        return out;
      });
  }
  // The sum of squares (accumulated over two calls) and AdamW with master
  // weights, small (one block) and large (the two-stage sum, and more
  // elements than AdamW's grid has threads: each thread takes several).
  for (int64_t n : {int64_t(5000), int64_t(1200000)}) {
    auto grad = random(size_t(n)), param = random(size_t(n)),
         m = random(size_t(n), 0.1), v = random(size_t(n), 0.1);
    for (float &x : v)
      x = std::fabs(x);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      float *g = r.in(grad), *p = r.in(param), *pm = r.in(m), *pv = r.in(v),
            *master = r.in(param), *squares = r.out(1), *norm = r.out(1);
      int64_t *step = static_cast<int64_t *>(r.raw(sizeof(int64_t)));
      *step = 7;
      r.ok(a.sum_squares(a.rt, g, n, 1.0, 1, squares), "sum_squares");
      r.ok(a.sum_squares(a.rt, g, n / 2, 0.5, 0, squares), "sum_squares");
      r.ok(a.sqrt(a.rt, squares, norm), "sqrt");
      r.ok(a.adamw(a.rt, p, g, pm, pv, master, n, step, norm, 1e-3, 1e-4, 0.9,
                   0.95, 1e-8, 0.1, 1.0, 5, 100, 2, 1),
           "adamw");
      std::string tag = " (" + std::to_string(n) + ")";
      return {{"sum_squares" + tag, r.read(squares, 1)},
              {"sqrt" + tag, r.read(norm, 1)},
              {"adamw param" + tag, r.read(p, size_t(n))},
              {"adamw m" + tag, r.read(pm, size_t(n))},
              {"adamw v" + tag, r.read(pv, size_t(n))}};
    });
  }
  // Collectives over a group of one (a copy), along an inner dimension.
  {
    auto x = random(24);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      int32_t axes[1] = {AXONN_AXIS_X};
      axonn_axes x1 = axonn_axes_make(1, axes);
      float *in = r.in(x), *sum = r.out(24), *gathered = r.out(24),
            *scattered = r.out(24), *max = r.out(24);
      axonn_request req = nullptr;
      r.ok(a.all_reduce_start(a.rt, in, sum, 24, x1, AXONN_REDUCE_SUM, &req),
           "all_reduce_start");
      r.ok(a.wait(a.rt, req), "wait");
      r.ok(a.all_reduce_start(a.rt, in, max, 24, x1, AXONN_REDUCE_MAX, &req),
           "all_reduce_start");
      r.ok(a.wait(a.rt, req), "wait");
      r.ok(a.all_gather_start(a.rt, in, gathered, 2, 3, 4, x1, &req),
           "all_gather_start");
      r.ok(a.wait(a.rt, req), "wait");
      r.ok(a.reduce_scatter_start(a.rt, in, scattered, 2, 3, 4, x1,
                                  AXONN_REDUCE_SUM, &req),
           "reduce_scatter_start");
      r.ok(a.wait(a.rt, req), "wait");
      return {{"all_reduce (1 rank)", r.read(sum, 24)},
              {"all_reduce max (1 rank)", r.read(max, 24)},
              {"all_gather (1 rank)", r.read(gathered, 24)},
              {"reduce_scatter (1 rank)", r.read(scattered, 24)}};
    });
  }
}

/// The bf16 twins (bf16 storage, fp32 arithmetic): both backends round
/// the same fp32 results, so they differ by about one bf16 step.
void checkBf16(Api &cuda, Api &cpu) {
  const axonn_axes none = 0;
  {
    const int64_t rows = 48, n = 40, k = 72;
    auto x = random(rows * k), w = random(n * k), b = random(n),
         dy = random(rows * n);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      axonn_bf16 *px = r.inBf16(x), *pw = r.inBf16(w), *pb = r.inBf16(b),
                 *pdy = r.inBf16(dy);
      axonn_bf16 *y = r.outBf16(rows * n), *dx = r.outBf16(rows * k),
                 *dw = r.outBf16(n * k), *db = r.outBf16(n);
      r.ok(a.linear_bf16(a.rt, px, pw, pb, none, rows, n, k, y), "linear");
      r.ok(a.linear_grad_input_bf16(a.rt, pdy, pw, rows, n, k, dx),
           "linear_grad_input");
      r.ok(a.linear_grad_weight_bf16(a.rt, pdy, px, rows, n, k, dw, nullptr),
           "linear_grad_weight");
      r.ok(a.linear_grad_bias_bf16(a.rt, pdy, rows, n, db),
           "linear_grad_bias");
      // The bias gradient with the weight's (the GEMM's epilogue on a GPU),
      // and at an odd width (37: the epilogue may be refused, then the
      // GEMM and the bias gradient's kernel).
      axonn_bf16 *fdw = r.outBf16(n * k), *fdb = r.outBf16(n),
                 *odw = r.outBf16(37 * k), *odb = r.outBf16(37);
      r.ok(a.linear_grad_weight_bf16(a.rt, pdy, px, rows, n, k, fdw, fdb),
           "linear_grad_weight");
      // (40 rows of 37 and of k: within dy's and x's values.)
      r.ok(a.linear_grad_weight_bf16(a.rt, pdy, px, 40, 37, k, odw, odb),
           "linear_grad_weight");
      axonn_bf16 *pre = r.outBf16(rows * n), *gy = r.outBf16(rows * n);
      r.ok(a.linear_gelu_bf16(a.rt, px, pw, pb, rows, n, k, 1, pre, gy),
           "linear_gelu");
      // The input gradient through a GELU whose pre-activation is x.
      axonn_bf16 *gdx = r.outBf16(rows * k);
      r.ok(a.linear_grad_input_gelu_bf16(a.rt, pdy, pw, px, rows, n, k, 1,
                                         gdx),
           "linear_grad_input_gelu");
      return {{"linear_bf16 (bias)", r.read(y, rows * n)},
              {"linear_grad_input_bf16", r.read(dx, rows * k)},
              {"linear_grad_weight_bf16", r.read(dw, n * k)},
              {"linear_grad_bias_bf16", r.read(db, n)},
              {"linear_grad_weight_bf16 (with bias)", r.read(fdw, n * k)},
              {"linear_grad_weight_bf16 bias", r.read(fdb, n)},
              {"linear_grad_weight_bf16 (37 wide, with bias)",
               r.read(odw, 37 * k)},
              {"linear_grad_weight_bf16 bias (37 wide)", r.read(odb, 37)},
              {"linear_gelu_bf16 pre", r.read(pre, rows * n)},
              {"linear_gelu_bf16", r.read(gy, rows * n)},
              {"linear_grad_input_gelu_bf16", r.read(gdx, rows * k)}};
    });
  }
  {
    const int64_t tokens = 6, local = 40, rows = 11;
    auto x = random(tokens * local, 2.0), dy = random(tokens * local),
         scale = random(local), bias = random(local), table = random(rows * 8),
         other = random(tokens * local);
    auto tokenIds = randomTokens(size_t(tokens), int32_t(rows));
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      axonn_bf16 *px = r.inBf16(x), *pdy = r.inBf16(dy),
                 *ps = r.inBf16(scale), *pb = r.inBf16(bias),
                 *pt = r.inBf16(table);
      int32_t *tk = r.in(tokenIds);
      axonn_bf16 *ln = r.outBf16(tokens * local), *dx = r.outBf16(tokens * local),
                 *dg = r.outBf16(local), *emb = r.outBf16(tokens * 8);
      float *stats = r.out(tokens);
      r.ok(a.layer_norm_bf16(a.rt, px, ps, pb, nullptr, tokens, local, local,
                             1e-5, ln),
           "layer_norm");
      r.ok(a.norm_stats_bf16(a.rt, px, tokens, local, 1, stats), "norm_stats");
      axonn_bf16 *rs = r.outBf16(tokens * local), *rn = r.outBf16(tokens * local);
      r.ok(a.residual_layer_norm_bf16(a.rt, px, pdy, ps, pb, tokens, local,
                                      1e-5, rs, rn),
           "residual_layer_norm");
      axonn_bf16 *rs2 = r.outBf16(tokens * local),
                 *rn2 = r.outBf16(tokens * local);
      r.ok(a.residual_rms_norm_bf16(a.rt, px, pdy, ps, tokens, local, 1e-5, rs2,
                                    rn2),
           "residual_rms_norm");
      r.ok(a.rms_norm_grad_bf16(a.rt, pdy, px, ps, nullptr, tokens, local,
                                local, 1e-5, nullptr, dx, dg),
           "rms_norm_grad");
      r.ok(a.embedding_bf16(a.rt, tk, tokens, tokens, pt, rows, 8, nullptr, 0,
                            nullptr, none, none, emb),
           "embedding");
      // Gradients of a [tokens, 8] output (the first tokens x 8 of dy), and
      // of positions for a sequence of 3.
      axonn_bf16 *eg = r.outBf16(rows * 8), *pg = r.outBf16(tokens * 8);
      r.ok(a.embedding_grad_bf16(a.rt, pdy, tk, tokens, rows, 8, none, nullptr,
                                 eg),
           "embedding_grad");
      // Added to another gradient of the table, in place.
      axonn_bf16 *ea = r.inBf16(table);
      r.ok(a.embedding_grad_bf16(a.rt, pdy, tk, tokens, rows, 8, none, ea, ea),
           "embedding_grad");
      r.ok(a.position_grad_bf16(a.rt, pdy, tokens, 3, tokens, 8, pg),
           "position_grad");
      axonn_bf16 *rms = r.outBf16(tokens * local),
                 *ldx = r.outBf16(tokens * local), *ldg = r.outBf16(local),
                 *ldb = r.outBf16(local);
      float *gstats = r.out(tokens * 4);
      r.ok(a.rms_norm_bf16(a.rt, px, ps, stats, tokens, local, local, 1e-5,
                           rms),
           "rms_norm");
      r.ok(a.layer_norm_grad_bf16(a.rt, pdy, px, ps, nullptr, tokens, local,
                                  local, 1e-5, nullptr, ldx, ldg, ldb),
           "layer_norm_grad");
      r.ok(a.norm_grad_stats_bf16(a.rt, pdy, px, ps, tokens, local, 0,
                                  gstats),
           "norm_grad_stats");
      // The split-feature gradients, from statistics (of one rank here),
      // adding another gradient of x: the layer norm's from `other`, the
      // RMS norm's into it in place.
      float *rstats = r.out(tokens * 2);
      axonn_bf16 *pother = r.inBf16(other), *sdx = r.outBf16(tokens * local),
                 *sdg = r.outBf16(local), *sdb = r.outBf16(local),
                 *srdx = r.inBf16(other), *srdg = r.outBf16(local);
      r.ok(a.norm_grad_stats_bf16(a.rt, pdy, px, ps, tokens, local, 1,
                                  rstats),
           "norm_grad_stats");
      r.ok(a.layer_norm_grad_bf16(a.rt, pdy, px, ps, gstats, tokens, local,
                                  local, 1e-5, pother, sdx, sdg, sdb),
           "layer_norm_grad");
      r.ok(a.rms_norm_grad_bf16(a.rt, pdy, px, ps, rstats, tokens, local,
                                local, 1e-5, srdx, srdx, srdg),
           "rms_norm_grad");
      return {
          {"layer_norm_bf16", r.read(ln, tokens * local)},
          {"rms_norm_bf16 (stats)", r.read(rms, tokens * local)},
          {"layer_norm_grad_bf16 dx", r.read(ldx, tokens * local)},
          {"layer_norm_grad_bf16 dscale", r.read(ldg, local)},
          {"layer_norm_grad_bf16 dbias", r.read(ldb, local)},
          {"norm_grad_stats_bf16 (fp32)", r.read(gstats, tokens * 4)},
          {"norm_grad_stats_bf16 (rms, fp32)", r.read(rstats, tokens * 2)},
          {"layer_norm_grad_bf16 dx (stats, accumulate)",
           r.read(sdx, tokens * local)},
          {"layer_norm_grad_bf16 dscale (stats)", r.read(sdg, local)},
          {"layer_norm_grad_bf16 dbias (stats)", r.read(sdb, local)},
          {"rms_norm_grad_bf16 dx (stats, accumulate in place)",
           r.read(srdx, tokens * local)},
          {"rms_norm_grad_bf16 dscale (stats)", r.read(srdg, local)},
          {"norm_stats_bf16 (rms, fp32)", r.read(stats, tokens)},
          {"residual_layer_norm_bf16 sum", r.read(rs, tokens * local)},
          {"residual_layer_norm_bf16", r.read(rn, tokens * local)},
          {"residual_rms_norm_bf16 sum", r.read(rs2, tokens * local)},
          {"residual_rms_norm_bf16", r.read(rn2, tokens * local)},
          {"rms_norm_grad_bf16 dx", r.read(dx, tokens * local)},
          {"rms_norm_grad_bf16 dscale", r.read(dg, local)},
          {"embedding_bf16", r.read(emb, tokens * 8)},
          {"embedding_grad_bf16", r.read(eg, rows * 8)},
          {"embedding_grad_bf16 (accumulate in place)", r.read(ea, rows * 8)},
          {"position_grad_bf16", r.read(pg, tokens * 8)}};
    });
  }
  // Attention in bf16 (on the tensor cores on a GPU): every tiled head
  // dimension, causal with RoPE and full, over grouped heads; and GPT-2's
  // (as many KV heads as queries, no RoPE, heads of 64), whose operands the
  // tensor-core kernels read in place.
  struct Bf16Attention {
    int64_t d, kv;
    int32_t causal;
    double rope;
    const char *what;
  };
  std::vector<Bf16Attention> attentions;
  for (int64_t d : {int64_t(32), int64_t(64), int64_t(128)}) {
    attentions.push_back({d, 2, 1, 10000.0, "causal, rope"});
    attentions.push_back({d, 2, 0, 0.0, "full"});
  }
  attentions.push_back({64, 4, 1, 0.0, "causal, in place"});
  for (const Bf16Attention &c : attentions) {
    const int64_t batch = 2, seq = 150, heads = 4, kv = c.kv, d = c.d;
    const int64_t f = (heads + 2 * kv) * d, width = heads * d;
    auto qkv = random(batch * seq * f, 0.5), dout = random(batch * seq * width);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      axonn_bf16 *pq = r.inBf16(qkv), *pd = r.inBf16(dout);
      axonn_bf16 *o = r.outBf16(batch * seq * width),
                 *dq = r.outBf16(batch * seq * f);
      float *lse = r.out(batch * seq * heads);
      r.ok(a.attention_bf16(a.rt, pq, batch, seq, heads, kv, d, c.causal,
                            c.rope, o, lse),
           "attention");
      r.ok(a.attention_grad_bf16(a.rt, pd, pq, o, lse, batch, seq, heads, kv, d,
                                 c.causal, c.rope, dq),
           "attention_grad");
      std::string tag = " (d " + std::to_string(d) + ", " + c.what + ")";
      return {{"attention_bf16" + tag, r.read(o, batch * seq * width)},
              {"attention_bf16 lse" + tag, r.read(lse, batch * seq * heads)},
              {"attention_grad_bf16" + tag, r.read(dq, batch * seq * f)}};
    });
  }
  {
    const int64_t n = 1000, tokens = 32, vocab = 64;
    auto x = random(2 * n, 2.0), y = random(2 * n), dy = random(n);
    auto logits = random(tokens * vocab, 3.0);
    auto targets = randomTokens(size_t(tokens), 60);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      axonn_bf16 *px = r.inBf16(x), *py = r.inBf16(y), *pdy = r.inBf16(dy),
                 *pl = r.inBf16(logits);
      int32_t *t = r.in(targets);
      axonn_bf16 *g = r.outBf16(2 * n), *gg = r.outBf16(2 * n),
                 *sw = r.outBf16(n), *sg = r.outBf16(2 * n),
                 *sum = r.outBf16(2 * n), *dl = r.outBf16(tokens * vocab);
      axonn_bf16 *pdy2 = r.inBf16(y);
      float *max = r.out(tokens), *sums = r.out(tokens * 2),
            *partial = r.out(tokens * 2);
      r.ok(a.gelu_bf16(a.rt, px, 2 * n, 1, g), "gelu");
      r.ok(a.gelu_grad_bf16(a.rt, pdy2, px, 2 * n, 0, gg), "gelu_grad");
      r.ok(a.swiglu_bf16(a.rt, px, n, sw), "swiglu");
      r.ok(a.swiglu_grad_bf16(a.rt, pdy, px, n, sg), "swiglu_grad");
      r.ok(a.add_bf16(a.rt, px, py, 2 * n, sum), "add");
      r.ok(a.logits_max_bf16(a.rt, pl, t, tokens, vocab, none, 60, max,
                             partial),
           "logits_max");
      r.ok(a.softmax_sums(a.rt, partial, max, max, tokens, sums),
           "softmax_sums");
      r.ok(a.cross_entropy_grad_bf16(a.rt, pl, max, sums, t, tokens, vocab,
                                     none, 60, tokens, dl),
           "cross_entropy_grad");
      float *keep = r.out(tokens), *count = r.out(1);
      axonn_bf16 *mdl = r.outBf16(tokens * vocab);
      r.ok(a.goldfish_mask(a.rt, t, 2, tokens / 2, AXONN_GOLDFISH_STATIC, 4,
                           1, keep, count),
           "goldfish_mask");
      r.ok(a.cross_entropy_grad_masked_bf16(a.rt, pl, max, sums, t, keep,
                                            count, tokens, vocab, none, 60,
                                            mdl),
           "cross_entropy_grad_masked");
      return {{"gelu_bf16 (tanh)", r.read(g, 2 * n)},
              {"gelu_grad_bf16 (erf)", r.read(gg, 2 * n)},
              {"swiglu_bf16", r.read(sw, n)},
              {"swiglu_grad_bf16", r.read(sg, 2 * n)},
              {"add_bf16", r.read(sum, 2 * n)},
              {"logits_max_bf16 (fp32)", r.read(max, tokens)},
              {"softmax_sums of bf16 logits (fp32)", r.read(sums, tokens * 2)},
              {"cross_entropy_grad_bf16", r.read(dl, tokens * vocab)},
              {"cross_entropy_grad_masked_bf16", r.read(mdl, tokens * vocab)}};
    });
  }
  {
    const int64_t n = 5000;
    auto grad = random(n), master = random(n), m = random(n, 0.1),
         v = random(n, 0.1);
    for (float &x : v)
      x = std::fabs(x);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      axonn_bf16 *g = r.inBf16(grad), *p = r.inBf16(master);
      float *pm = r.in(m), *pv = r.in(v), *pmaster = r.in(master),
            *squares = r.out(1), *norm = r.out(1);
      int64_t *step = static_cast<int64_t *>(r.raw(sizeof(int64_t)));
      *step = 7;
      r.ok(a.sum_squares_bf16(a.rt, g, n, 1.0, 1, squares), "sum_squares");
      r.ok(a.sqrt(a.rt, squares, norm), "sqrt");
      r.ok(a.adamw_bf16(a.rt, p, g, pm, pv, pmaster, n, step, norm, 1e-3, 1e-4,
                        0.9, 0.95, 1e-8, 0.1, 1.0, 5, 100, 2, 1),
           "adamw");
      return {{"sum_squares_bf16 (fp32)", r.read(squares, 1)},
              {"adamw_bf16 m (fp32)", r.read(pm, n)},
              {"adamw_bf16 v (fp32)", r.read(pv, n)},
              {"adamw_bf16 param", r.read(p, n)},
              {"adamw_bf16 master (fp32)", r.read(pmaster, n)}};
    });
  }
  {
    auto x = random(24);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      int32_t axes[1] = {AXONN_AXIS_X};
      axonn_axes x1 = axonn_axes_make(1, axes);
      axonn_bf16 *in = r.inBf16(x), *sum = r.outBf16(24),
                 *gathered = r.outBf16(24), *scattered = r.outBf16(24);
      axonn_request req = nullptr;
      r.ok(a.all_reduce_start_bf16(a.rt, in, sum, 24, x1, AXONN_REDUCE_SUM,
                                   &req),
           "all_reduce_start");
      r.ok(a.wait(a.rt, req), "wait");
      r.ok(a.all_gather_start_bf16(a.rt, in, gathered, 2, 3, 4, x1, &req),
           "all_gather_start");
      r.ok(a.wait(a.rt, req), "wait");
      r.ok(a.reduce_scatter_start_bf16(a.rt, in, scattered, 2, 3, 4, x1,
                                       AXONN_REDUCE_SUM, &req),
           "reduce_scatter_start");
      r.ok(a.wait(a.rt, req), "wait");
      return {{"all_reduce_bf16 (1 rank)", r.read(sum, 24)},
              {"all_gather_bf16 (1 rank)", r.read(gathered, 24)},
              {"reduce_scatter_bf16 (1 rank)", r.read(scattered, 24)}};
    });
  }
}

/// The tiled forward and backward (head dimensions 32, 64, 128): more than
/// one tile of queries and keys, a partial last tile, grouped heads,
/// rotary, causal and not. fp32 storage runs the SIMT kernels ("tiled")
/// with fp32 GEMMs and the tensor-core kernels ("mma") with bf16 GEMMs.
/// The mma.sync forward and dQ kernels with 16 and with 32 rows a warp
/// give the same bits (AXONN_ATTENTION_ROWS=auto chooses between them by
/// timing, which must not change a result): an attention and its gradient
/// with each, compared bit for bit; causal, rotated and grouped in fp32
/// storage (packed operands), and GPT-2's (as many KV heads as queries, no
/// RoPE) in bf16 storage (Q, K, V and dO read in place). (GPU runs only:
/// the harness build has no such kernels.)
[[maybe_unused]] void checkRowBlocksSameBits(Api &cuda) {
  const int64_t batch = 2, seq = 150, heads = 4, d = 64;
  for (bool bf16 : {false, true}) {
    const int64_t kv = bf16 ? heads : 2, f = (heads + 2 * kv) * d,
                  width = heads * d;
    const double rope = bf16 ? 0.0 : 10000.0;
    auto qkv = random(batch * seq * f, 0.5), dout = random(batch * seq * width);
    std::vector<float> results[2];
    for (int i = 0; i < 2; ++i) {
      setenv("AXONN_ATTENTION_ROWS", i ? "32" : "16", 1);
      Run r(cuda);
      auto &a = r.api;
      float *lse = r.out(batch * seq * heads);
      std::vector<float> out, grad;
      if (bf16) {
        axonn_bf16 *pq = r.inBf16(qkv), *pd = r.inBf16(dout),
                   *o = r.outBf16(batch * seq * width),
                   *dq = r.outBf16(batch * seq * f);
        r.ok(a.attention_bf16(a.rt, pq, batch, seq, heads, kv, d, 1, rope, o,
                              lse),
             "attention");
        r.ok(a.attention_grad_bf16(a.rt, pd, pq, o, lse, batch, seq, heads, kv,
                                   d, 1, rope, dq),
             "attention_grad");
        out = r.read(o, batch * seq * width);
        grad = r.read(dq, batch * seq * f);
      } else {
        float *pq = r.in(qkv), *pd = r.in(dout),
              *o = r.out(batch * seq * width), *dq = r.out(batch * seq * f);
        r.ok(a.attention(a.rt, pq, batch, seq, heads, kv, d, 1, rope, o, lse),
             "attention");
        r.ok(a.attention_grad(a.rt, pd, pq, o, lse, batch, seq, heads, kv, d, 1,
                              rope, dq),
             "attention_grad");
        out = r.read(o, batch * seq * width);
        grad = r.read(dq, batch * seq * f);
      }
      for (auto part : {out, r.read(lse, batch * seq * heads), grad})
        results[i].insert(results[i].end(), part.begin(), part.end());
    }
    unsetenv("AXONN_ATTENTION_ROWS");
    size_t differing = bitsDiffering(results[1], results[0]);
    ++checks;
    failures += differing != 0;
    std::printf("%-4s %-28s %zu values, %zu with other bits\n",
                differing ? "FAIL" : "ok",
                bf16 ? "attention rows 16 vs 32 (bf16, in place)"
                     : "attention rows 16 vs 32",
                results[0].size(), differing);
  }
}

/// A result written over its operands is refused (axonn_rt.h), in both
/// storage types: out over qkv, dqkv over qkv. (GPU runs only.)
[[maybe_unused]] void checkRefusesOverlap(Api &cuda) {
  const int64_t batch = 2, seq = 150, heads = 4, d = 64, width = heads * d,
                rows = batch * seq;
  Run r(cuda);
  auto &a = r.api;
  auto x = random(rows * 3 * width, 0.5), dy = random(rows * width);
  float *q = r.in(x), *dout = r.in(dy), *lse = r.out(rows * heads);
  axonn_bf16 *q16 = r.inBf16(x), *d16 = r.inBf16(dy);
  int refused = 0;
  refused += a.attention(a.rt, q, batch, seq, heads, heads, d, 1, 0.0, q,
                         lse) == AXONN_ERR_INVALID_ARGUMENT;
  refused +=
      a.attention_grad(a.rt, dout, q, dout, lse, batch, seq, heads, heads, d, 1,
                       0.0, q) == AXONN_ERR_INVALID_ARGUMENT;
  refused += a.attention_bf16(a.rt, q16, batch, seq, heads, heads, d, 1, 0.0,
                              q16, lse) == AXONN_ERR_INVALID_ARGUMENT;
  refused +=
      a.attention_grad_bf16(a.rt, d16, q16, d16, lse, batch, seq, heads, heads,
                            d, 1, 0.0, q16) == AXONN_ERR_INVALID_ARGUMENT;
  ++checks;
  failures += refused != 4;
  std::printf("%-4s %-28s %d of 4 calls refused\n",
              refused == 4 ? "ok" : "FAIL", "attention results over qkv",
              refused);
}

/// A recorded graph (axonn_rt_graph_begin ... _end, then _launch) gives
/// the bits of the same calls made one by one, on inputs written after the
/// recording (a graph reads its inputs from memory), and recording runs
/// nothing: GPT-2's bf16 attention forward and backward (whose dK/dV run
/// on a second stream) and a linear layer (a tuned GEMM), each tuned by a
/// first call made one by one. (GPU runs only.)
[[maybe_unused]] void checkRecordedSameBits(Api &cuda) {
  const int64_t batch = 2, seq = 150, heads = 4, d = 64, width = heads * d,
                f = 3 * width, n = 96, rows = batch * seq;
  Run r(cuda);
  auto &a = r.api;
  std::vector<float> inputs[2][3];
  for (auto &set : inputs) {
    set[0] = random(rows * f, 0.5);
    set[1] = random(rows * width);
    set[2] = random(n * width, 0.1);
  }
  axonn_bf16 *qkv = r.inBf16(inputs[0][0]), *dout = r.inBf16(inputs[0][1]),
             *w = r.inBf16(inputs[0][2]), *o = r.outBf16(rows * width),
             *dqkv = r.outBf16(rows * f), *y = r.outBf16(rows * n);
  float *lse = r.out(rows * heads);
  auto use = [&](int set) {
    for (auto [src, dst] : {std::pair{&inputs[set][0], qkv},
                            {&inputs[set][1], dout},
                            {&inputs[set][2], w}})
      for (size_t i = 0; i < src->size(); ++i)
        dst[i] = axonn_bf16_from_float((*src)[i]);
  };
  auto calls = [&]() -> axonn_status {
    if (axonn_status st = a.attention_bf16(a.rt, qkv, batch, seq, heads, heads,
                                           d, 1, 0.0, o, lse))
      return st;
    if (axonn_status st = a.attention_grad_bf16(
            a.rt, dout, qkv, o, lse, batch, seq, heads, heads, d, 1, 0.0, dqkv))
      return st;
    return a.linear_bf16(a.rt, o, w, nullptr, 0, rows, n, width, y);
  };
  auto results = [&]() {
    std::vector<float> all;
    for (auto part : {r.read(o, rows * width), r.read(lse, rows * heads),
                      r.read(dqkv, rows * f), r.read(y, rows * n)})
      all.insert(all.end(), part.begin(), part.end());
    return all;
  };
  r.ok(calls(), "the calls (tuning)");
  results();
  use(1);
  r.ok(calls(), "the calls");
  std::vector<float> byCalls = results();
  use(0);
  // (A recording that fails is this check's failure, not the program's.)
  axonn_graph graph = nullptr;
  axonn_status begun = axonn_rt_graph_begin(a.rt);
  axonn_status recorded = begun ? begun : calls();
  std::string why = recorded ? a.last_error(a.rt) : "";
  axonn_status ended = begun ? begun : axonn_rt_graph_end(a.rt, &graph);
  if (why.empty() && ended)
    why = a.last_error(a.rt);
  if (!why.empty()) {
    axonn_rt_graph_destroy(a.rt, graph);
    checks += 2;
    failures += 2;
    std::printf("FAIL %-28s not recorded: %s\n", "graph replay vs calls (bf16)",
                why.c_str());
    return;
  }
  std::vector<float> afterRecording = results();
  use(1);
  r.ok(axonn_rt_graph_launch(a.rt, graph), "graph_launch");
  std::vector<float> byGraph = results();
  bool current = axonn_rt_graph_current(a.rt, graph) == 1;
  axonn_rt_graph_destroy(a.rt, graph);
  size_t replayed = bitsDiffering(byGraph, byCalls),
         ran = bitsDiffering(afterRecording, byCalls);
  checks += 2;
  failures += (replayed != 0 || !current) + (ran != 0);
  std::printf("%-4s %-28s %zu values, %zu with other bits%s\n",
              replayed || !current ? "FAIL" : "ok",
              "graph replay vs calls (bf16)", byCalls.size(), replayed,
              current ? "" : ", and the graph says it is stale");
  std::printf("%-4s %-28s %zu values changed by recording\n",
              ran ? "FAIL" : "ok", "graph recording runs nothing", ran);
}

void checkAttentionTiles(Api &cuda, Api &cpu, const char *kernels) {
  for (int64_t d : {int64_t(32), int64_t(64), int64_t(128)}) {
    const int64_t batch = 2, seq = 150, heads = 4, kv = 2;
    const int64_t f = (heads + 2 * kv) * d, width = heads * d;
    auto qkv = random(batch * seq * f, 0.5),
         dout = random(batch * seq * width);
    check(cuda, cpu, [&](Run &r) -> Outputs {
      auto &a = r.api;
      float *pq = r.in(qkv), *pd = r.in(dout);
      float *o = r.out(batch * seq * width), *on = r.out(batch * seq * width);
      float *dq = r.out(batch * seq * f), *dqn = r.out(batch * seq * f);
      float *lse = r.out(batch * seq * heads), *lsen = r.out(batch * seq * heads);
      r.ok(a.attention(a.rt, pq, batch, seq, heads, kv, d, 1, 10000.0, o, lse),
           "attention");
      r.ok(a.attention(a.rt, pq, batch, seq, heads, kv, d, 0, 0.0, on, lsen),
           "attention");
      r.ok(a.attention_grad(a.rt, pd, pq, o, lse, batch, seq, heads, kv, d, 1,
                            10000.0, dq),
           "attention_grad");
      r.ok(a.attention_grad(a.rt, pd, pq, on, lsen, batch, seq, heads, kv, d, 0,
                            0.0, dqn),
           "attention_grad");
      std::string tag = " " + std::string(kernels) + " (d " + std::to_string(d);
      return {{"attention" + tag + ", causal, rope)",
               r.read(o, batch * seq * width)},
              {"attention lse" + tag + ", causal, rope)",
               r.read(lse, batch * seq * heads)},
              {"attention" + tag + ", full)",
               r.read(on, batch * seq * width)},
              {"attention_grad" + tag + ", causal, rope)",
               r.read(dq, batch * seq * f)},
              {"attention_grad" + tag + ", full)",
               r.read(dqn, batch * seq * f)}};
    });
  }
}

/// The GELU epilogue (tanh form; n = 40 is a multiple of 8, so the GEMM's
/// epilogue runs it), with and without a bias, and the GELU's gradient in
/// the input gradient's epilogue (DGELU; k = 72). cuBLASLt's tanh is
/// approximate: what it computes is held to 1e-3 (the GELU's input to the
/// pass's tolerance).
void checkGeluEpilogue(Api &cuda, Api &cpu, const char *label) {
  const int64_t rows = 48, n = 40, k = 72;
  auto x = random(rows * k), w = random(n * k), b = random(n);
  std::string tag = label;
  double pass = tolerance;
  for (bool biased : {true, false}) {
    std::string form = biased ? " (bias, tanh)" : " (tanh)";
    std::vector<float> pre[2], gelu[2];
    Api *apis[2] = {&cuda, &cpu};
    for (int i = 0; i < 2; ++i) {
      Run r(*apis[i]);
      auto &a = r.api;
      float *px = r.in(x), *pw = r.in(w), *pb = biased ? r.in(b) : nullptr;
      float *pp = r.out(rows * n), *pg = r.out(rows * n);
      r.ok(a.linear_gelu(a.rt, px, pw, pb, rows, n, k, 1, pp, pg),
           "linear_gelu");
      pre[i] = r.read(pp, rows * n);
      gelu[i] = r.read(pg, rows * n);
    }
    compare(("linear_gelu pre" + form + tag).c_str(), pre[0], pre[1]);
    tolerance = std::max(pass, 1e-3);
    compare(("linear_gelu" + form + tag).c_str(), gelu[0], gelu[1]);
    tolerance = pass;
  }
  // The GELU's gradient in the input gradient's epilogue (DGELU, tanh),
  // and after the GEMM (erf).
  auto dy = random(rows * n), pre = random(rows * k);
  for (int32_t approximation : {1, 0}) {
    std::vector<float> dx[2];
    Api *apis[2] = {&cuda, &cpu};
    for (int i = 0; i < 2; ++i) {
      Run r(*apis[i]);
      auto &a = r.api;
      float *pdy = r.in(dy), *pw = r.in(w), *pp = r.in(pre);
      float *pdx = r.out(rows * k);
      r.ok(a.linear_grad_input_gelu(a.rt, pdy, pw, pp, rows, n, k,
                                    approximation, pdx),
           "linear_grad_input_gelu");
      dx[i] = r.read(pdx, rows * k);
    }
    tolerance = approximation ? std::max(pass, 1e-3) : pass;
    compare(("linear_grad_input_gelu" +
             std::string(approximation ? " (tanh)" : " (erf)") + tag)
                .c_str(),
            dx[0], dx[1]);
    tolerance = pass;
  }
}

/// The linear layers' GEMMs (and their bias epilogue).
void checkLinear(Api &cuda, Api &cpu, const char *label) {
  const axonn_axes none = 0;
  const int64_t rows = 48, n = 40, k = 72;
  auto x = random(rows * k), w = random(n * k), b = random(n),
       dy = random(rows * n);
  std::string tag = label;
  check(cuda, cpu, [&](Run &r) -> Outputs {
    auto &a = r.api;
    float *px = r.in(x), *pw = r.in(w), *pb = r.in(b), *pdy = r.in(dy);
    float *y = r.out(rows * n), *dx = r.out(rows * k), *dw = r.out(n * k),
          *db = r.out(n), *y0 = r.out(rows * n);
    r.ok(a.linear(a.rt, px, pw, pb, none, rows, n, k, y), "linear");
    r.ok(a.linear(a.rt, px, pw, nullptr, none, rows, n, k, y0), "linear");
    r.ok(a.linear_grad_input(a.rt, pdy, pw, rows, n, k, dx),
         "linear_grad_input");
    r.ok(a.linear_grad_weight(a.rt, pdy, px, rows, n, k, dw, nullptr),
         "linear_grad_weight");
    r.ok(a.linear_grad_bias(a.rt, pdy, rows, n, db), "linear_grad_bias");
    // The bias gradient with the weight's (the GEMM's epilogue on a GPU).
    float *fdw = r.out(n * k), *fdb = r.out(n);
    r.ok(a.linear_grad_weight(a.rt, pdy, px, rows, n, k, fdw, fdb),
         "linear_grad_weight");
    // With the exact GELU: a GEMM and the GELU kernel.
    float *pre0 = r.out(rows * n), *ge = r.out(rows * n);
    r.ok(a.linear_gelu(a.rt, px, pw, nullptr, rows, n, k, 0, pre0, ge),
         "linear_gelu");
    return {{"linear (bias)" + tag, r.read(y, rows * n)},
            {"linear_gelu pre (erf)" + tag, r.read(pre0, rows * n)},
            {"linear_gelu (erf)" + tag, r.read(ge, rows * n)},
            {"linear" + tag, r.read(y0, rows * n)},
            {"linear_grad_input" + tag, r.read(dx, rows * k)},
            {"linear_grad_weight" + tag, r.read(dw, n * k)},
            {"linear_grad_bias" + tag, r.read(db, n)},
            {"linear_grad_weight (with bias)" + tag, r.read(fdw, n * k)},
            {"linear_grad_weight bias" + tag, r.read(fdb, n)}};
  });
}

} // namespace

int main(int argc, char **argv) {
#ifndef AXONN_CHECK_CPU
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("axonn-rt-cuda-check: no GPU; skipped\n");
    return 77;
  }
#endif
  std::string library = argc > 1 ? argv[1] : "";
  if (library.empty()) {
    // Next to the program, or in ../lib (a build tree's layout).
    std::string self = argv[0];
    size_t slash = self.find_last_of('/');
    std::string dir = slash == std::string::npos ? "." : self.substr(0, slash);
    library = dir + "/libaxonn_rt_reference.so";
    if (FILE *f = std::fopen(library.c_str(), "rb"))
      std::fclose(f);
    else
      library = dir + "/../lib/libaxonn_rt_reference.so";
  }
  // Exact fp32 GEMMs: the tolerance is fp32's (bf16 inputs would need 1e-2).
  setenv("AXONN_GEMM_PRECISION", "fp32", 1);
  Api cuda = linkedApi(), cpu;
  if (!loadedApi(library, cpu))
    return 1;
  int64_t grid[4] = {1, 1, 1, 1};
  if (cuda.create(grid, &cuda.rt) != AXONN_OK ||
      cpu.create(grid, &cpu.rt) != AXONN_OK) {
    std::fprintf(stderr, "axonn-rt-cuda-check: cannot start: %s\n",
                 cuda.rt ? cuda.last_error(cuda.rt) : "");
    return 1;
  }
#ifdef AXONN_CHECK_CPU
  const char *device = "the linked CPU backend (harness check)";
#else
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  const char *device = prop.name;
#endif
  std::printf("axonn-rt-cuda-check: %s against the CPU kernels, fp32, "
              "tolerance %.0e relative\n",
              device, kTolerance);
  checkAll(cuda, cpu);
  tolerance = 1e-2;
  std::printf("axonn-rt-cuda-check: bf16 storage, tolerance 1e-2 relative\n");
  checkBf16(cuda, cpu);
  tolerance = kTolerance;
#ifndef AXONN_CHECK_CPU
  // The GEMMs again with bf16 inputs (the training default), at bf16's
  // tolerance: a runtime started anew reads AXONN_GEMM_PRECISION.
  cuda.destroy(cuda.rt);
  setenv("AXONN_GEMM_PRECISION", "bf16", 1);
  if (cuda.create(grid, &cuda.rt) != AXONN_OK) {
    std::fprintf(stderr, "axonn-rt-cuda-check: cannot start again\n");
    return 1;
  }
  tolerance = 1e-2;
  checkLinear(cuda, cpu, " (bf16 GEMM, 1e-2)");
  checkGeluEpilogue(cuda, cpu, " (bf16 GEMM, 1e-2)");
  // The mma.sync forward and dQ with 16 rows a warp, with 32
  // (AXONN_ATTENTION_ROWS, read at each call), the same bits from both,
  // and the WMMA kernels (AXONN_ATTENTION=wmma).
  setenv("AXONN_ATTENTION_ROWS", "16", 1);
  checkAttentionTiles(cuda, cpu, "mma");
  setenv("AXONN_ATTENTION_ROWS", "32", 1);
  checkAttentionTiles(cuda, cpu, "rows32");
  unsetenv("AXONN_ATTENTION_ROWS");
  checkRowBlocksSameBits(cuda);
  setenv("AXONN_ATTENTION", "wmma", 1);
  checkAttentionTiles(cuda, cpu, "wmma");
  unsetenv("AXONN_ATTENTION");
  // Last: a graph gone wrong cannot cost the checks above their output.
  checkRefusesOverlap(cuda);
  checkRecordedSameBits(cuda);
#endif
  std::printf("axonn-rt-cuda-check: %d of %d outputs within tolerance\n",
              checks - failures, checks);
  cuda.destroy(cuda.rt);
  cpu.destroy(cpu.rt);
  return failures ? 1 : 0;
}
