//===- attention_mma.cu - attention on the tensor cores -------------------===//
//
// FlashAttention-2's algorithm on the tensor cores (bf16 operands, fp32
// accumulation) for head dimensions 32, 64 and 128 on sm_80 and newer, in
// three steps:
//
//   pack      the queries (rotated, times 1/sqrt(D)), keys (rotated),
//             values and, for the backward, dO into [batch, head, padded
//             sequence, D] bf16, the sequence padded with zero rows to whole
//             64-row tiles, so that the kernels read aligned rows (the
//             rotation's cosines and sines come from a table made once per
//             call, [seq, D/2], in double rounded to float); in bf16
//             storage the mma.sync kernels read in place instead what
//             packing would copy bit for bit (V, dO, and without RoPE K
//             and at D = 64 Q: fa2::operandsOf), rows past the sequence
//             as zeros;
//   forward   a block of four warps per 64 queries of a head, 16 rows a
//             warp (or 128 queries, 32 rows a warp: whichever is faster at
//             the shape, AXONN_ATTENTION_ROWS): per 64-key tile S = Q K^T,
//             the softmax online in fp32 (a running maximum and sum per
//             row), O += P V;
//   backward  from the forward's statistics (its log-sum-exp per row, a
//             result of the forward) and delta = dO . O (from the forward's
//             output), packed by row: dQ per query tile and, beside it on
//             a second stream, dK and dV per key tile over the queries of
//             every head of its group, in a fixed order (no atomics):
//             seven tile products where recomputing the statistics took
//             nine.
//
// Two kernel sets do the forward and backward steps: by default
// attention_fa2.cuh's, in mma.sync with scores, probabilities and
// accumulators in registers and the next tile loading (cp.async) while
// the current one is used; with AXONN_ATTENTION=wmma attention_mma.cuh's
// in WMMA, whose products go through shared memory (the WMMA fragments'
// layout is opaque): S and dP are stored there, and each lane owns half of
// one of the warp's 16 rows (its even or odd columns) for the softmax, so
// a row's maximum and sum take one shuffle. Both round P and dS to bf16
// before the second products, as FlashAttention does.
//
// The kernels serve bf16 storage, and fp32 storage while the GEMMs round
// their inputs to bf16 (AXONN_GEMM_PRECISION=bf16, the default);
// AXONN_ATTENTION=tiled or rows selects the fp32 SIMT kernels of
// kernels.cu instead.
//
//===----------------------------------------------------------------------===//

#include "attention_fa2.cuh"
#include "attention_mma.cuh"
#include "device.cuh"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

namespace axonn::cuda {
namespace {

using namespace mma;

/// Dynamic shared memory a block of the WMMA kernels (attention_mma.cuh)
/// and of the mma.sync ones (attention_fa2.cuh) needs at most.
template <int D> constexpr size_t wmmaShared() {
  return std::max(
      {forwardShared<D>(), gradQueryShared<D>(), gradKeyShared<D>()});
}
template <int D> constexpr size_t fa2Shared() {
  return std::max({fa2::forwardShared<D, 1>(), fa2::forwardShared<D, 2>(),
                   fa2::gradQueryShared<D, 1>(), fa2::gradQueryShared<D, 2>(),
                   fa2::gradKeyShared<D>()});
}

/// Whether calls run the WMMA kernels (AXONN_ATTENTION=wmma) instead of
/// the register-resident mma.sync ones.
bool wmmaChosen() {
  const char *choice = std::getenv("AXONN_ATTENTION");
  return choice && std::string(choice) == "wmma";
}

/// Says once per process (on rank 0), as "axonn: attention ...", why the
/// attention leaves its fastest kernels when the user did not ask for it:
/// a slowdown should not be silent.
void noteOnce(axonn_rt *rt, bool &said, const char *format, ...) {
  if (said || rt->rank != 0)
    return;
  said = true;
  char text[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof(text), format, args);
  va_end(args);
  std::fprintf(stderr, "axonn: attention %s\n", text);
}

/// Whether a call over `seq` runs the WMMA kernels: chosen, or a sequence
/// of more tiles than the mma.sync kernels' grids hold (said once).
bool wmmaFor(axonn_rt *rt, int64_t seq) {
  if (wmmaChosen())
    return true;
  if (paddedLength(seq) / kTileRows <= fa2::kMostGridTiles)
    return false;
  static bool longSequences = false;
  noteOnce(rt, longSequences,
           "over sequences of %lld runs the WMMA kernels (the mma.sync "
           "kernels take up to %lld tiles of %d)",
           (long long)seq, (long long)fa2::kMostGridTiles, kTileRows);
  return true;
}

/// The grid of `tiles` sequence tiles of `heads` heads and `batch` entries:
/// the mma.sync kernels' (heads, batch, tiles), the tiles with the most
/// work first (attention_fa2.cuh), or the WMMA kernels' (tiles, heads,
/// batch).
dim3 gridOf(bool wmma, int64_t tiles, int64_t heads, int64_t batch) {
  return wmma ? dim3(unsigned(tiles), unsigned(heads), unsigned(batch))
              : dim3(unsigned(heads), unsigned(batch), unsigned(tiles));
}

/// AXONN_ATTENTION_ROWS: the query rows a warp of the mma.sync forward and
/// dQ kernels takes: 16, 32 (two row blocks; heads of 64 or fewer, else
/// 16), or, unset or `auto`, the faster of the two for each shape
/// (chooseRowBlocks); anything else fails. Returns 1 or 2 row blocks, or 0
/// for auto.
axonn_status forwardRowBlocks(axonn_rt *rt, int *blocks) {
  const char *rows = std::getenv("AXONN_ATTENTION_ROWS");
  std::string r = rows ? rows : "";
  if (r.empty() || r == "auto")
    *blocks = 0;
  else if (r == "16")
    *blocks = 1;
  else if (r == "32")
    *blocks = 2;
  else
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "AXONN_ATTENTION_ROWS=%s: expected auto, 16 or 32",
                    r.c_str());
  return AXONN_OK;
}

/// Destroys the events it made.
struct Events {
  cudaEvent_t marks[3] = {};
  ~Events() {
    for (cudaEvent_t e : marks)
      if (e)
        cudaEventDestroy(e);
  }
};

/// Queues launch(blocks), the kernel with `blocks` row blocks a warp
/// (1 or 2), as `wanted` says: 1 or 2 as it is; 0 (auto) the faster of
/// the two for `key` (a kernel and shape), timed at the shape's first
/// call in this process: one untimed launch of each (a kernel's first
/// launch loads it), then one timed launch of each, the faster kept. Both
/// give the same bits (each row's products and softmax run in the same
/// order: unittests/AttentionMmaEmulationTest.cpp checks it), so the
/// choice cannot change a result, and the last launch's output stands.
template <typename Launch>
axonn_status chooseRowBlocks(axonn_rt *rt, int wanted, const std::string &key,
                             Launch &&launch) {
  if (wanted != 0)
    return launch(wanted);
  State &s = state(rt);
  auto known = s.attentionRows.find(key);
  if (known != s.attentionRows.end())
    return launch(known->second);
  // (Timing waits for the GPU: the recording fails at graph_end, and is
  // made again after a call made one by one has timed the shape.)
  if (s.recording) {
    s.untunedWhileRecording = true;
    return launch(1);
  }
  for (int blocks : {1, 2})
    if (axonn_status st = launch(blocks))
      return st;
  // (the work queued before, collectives among it, within the collective
  // timeout: the timing below waits for it too)
  if (axonn_status st =
          hostWait(rt, s.compute, "the GPU work before the attention's timing"))
    return st;
  Events events;
  for (cudaEvent_t &e : events.marks)
    AXONN_CUDA(rt, cudaEventCreate(&e));
  AXONN_CUDA(rt, cudaEventRecord(events.marks[0], s.compute));
  for (int blocks : {1, 2}) {
    if (axonn_status st = launch(blocks))
      return st;
    AXONN_CUDA(rt, cudaEventRecord(events.marks[blocks], s.compute));
  }
  AXONN_CUDA(rt, cudaEventSynchronize(events.marks[2]));
  float ms[2];
  for (int i = 0; i < 2; ++i)
    AXONN_CUDA(
        rt, cudaEventElapsedTime(&ms[i], events.marks[i], events.marks[i + 1]));
  s.attentionRows[key] = ms[1] < ms[0] ? 2 : 1;
  return AXONN_OK;
}

/// The key of a kernel at a shape for chooseRowBlocks.
std::string shapeKey(const char *kernel, int d, bool bf16Storage, int64_t batch,
                     int64_t seq, const QKVLayout &layout, int32_t causal) {
  char key[160];
  std::snprintf(key, sizeof(key),
                "%s d %d %s batch %lld seq %lld heads %lld/%lld%s", kernel, d,
                bf16Storage ? "bf16" : "fp32", (long long)batch, (long long)seq,
                (long long)layout.heads, (long long)layout.kvHeads,
                causal ? " causal" : "");
  return key;
}

/// Packs `part` (see packKernel) into dst.
template <int D, typename T>
axonn_status pack(axonn_rt *rt, const T *src, int part, int64_t batch,
                  int64_t seq, const QKVLayout &layout, const float2 *rope,
                  bf16 *dst) {
  int64_t padded = paddedLength(seq);
  int64_t heads = part == 0 || part == 3 ? layout.heads : layout.kvHeads;
  float scale = part == 0 ? float(1 / sqrt(double(D))) : 1.0f;
  packKernel<D, T><<<dim3(unsigned(blocksFor(padded * D)), unsigned(heads),
                          unsigned(batch)),
                     kThreads, 0, streamOf(rt)>>>(src, part, seq, padded,
                                                  layout, rope, scale, dst);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

/// The packed operands in scratch: q, k, v and (backward) dO, then (the
/// backward) lse and delta, then the rotary table (with RoPE).
struct Packed {
  bf16 *q, *k, *v, *dO;
  float *lse, *delta;
  float2 *rope;
};

axonn_status packedScratch(axonn_rt *rt, int64_t batch, int64_t seq,
                           const QKVLayout &layout, bool backward,
                           double ropeBase, Packed &p) {
  int64_t padded = paddedLength(seq);
  size_t queries = size_t(batch * layout.heads * padded * layout.dim);
  size_t keys = size_t(batch * layout.kvHeads * padded * layout.dim);
  size_t rows = size_t(batch * layout.heads * padded);
  size_t tableEntries = ropeBase > 0 ? size_t(seq * (layout.dim / 2)) : 0;
  size_t packedBytes =
      (queries + 2 * keys + (backward ? queries : 0)) * sizeof(bf16) +
      (backward ? 2 * rows * sizeof(float) : 0);
  size_t bytes = packedBytes + tableEntries * sizeof(float2);
  void *buffer = nullptr;
  if (axonn_status s = scratch(rt, bytes, &buffer))
    return s;
  p.q = static_cast<bf16 *>(buffer);
  p.k = p.q + queries;
  p.v = p.k + keys;
  p.dO = backward ? p.v + keys : nullptr;
  p.lse = backward ? reinterpret_cast<float *>(p.dO + queries) : nullptr;
  p.delta = backward ? p.lse + rows : nullptr;
  p.rope = nullptr;
  if (tableEntries) {
    // (8-byte aligned: every piece before it is a multiple of 8 bytes)
    p.rope =
        reinterpret_cast<float2 *>(static_cast<char *>(buffer) + packedBytes);
    ropeTableKernel<<<blocksFor(int64_t(tableEntries)), kThreads, 0,
                      streamOf(rt)>>>(seq, layout.dim, ropeBase, p.rope);
    AXONN_LAUNCHED(rt);
  }
  return AXONN_OK;
}

/// Packs the parts of qkv, and of dout in the backward (not null), that
/// the kernels read packed (`o`).
template <int D, typename T>
axonn_status packOperands(axonn_rt *rt, const T *qkv, const T *dout,
                          int64_t batch, int64_t seq, const QKVLayout &layout,
                          const Packed &p, const fa2::Operands &o) {
  for (auto [part, dst, wanted] :
       {std::tuple<int, bf16 *, bool>{0, p.q, o.packQ},
        {1, p.k, o.packK},
        {2, p.v, o.packV},
        {3, p.dO, dout && o.packDO}})
    if (wanted)
      if (axonn_status s = pack<D>(rt, part == 3 ? dout : qkv, part, batch, seq,
                                   layout, p.rope, dst))
        return s;
  return AXONN_OK;
}

/// Launches `kernel` over `grid` (blocks of kBlock threads, `bytes` of
/// dynamic shared memory) on `stream`.
template <typename... Params, typename... Args>
axonn_status launchOn(axonn_rt *rt, cudaStream_t stream,
                      void (*kernel)(Params...), dim3 grid, size_t bytes,
                      const char *what, int64_t seq, Args... args) {
  if (axonn_status s = sharedMemory(rt, kernel, bytes, kBlock, what, seq))
    return s;
  kernel<<<grid, kBlock, bytes, stream>>>(args...);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <int D, typename T>
axonn_status forward(axonn_rt *rt, const T *qkv, int64_t batch, int64_t seq,
                     const QKVLayout &layout, int32_t causal, double ropeBase,
                     T *out, float *lse) {
  Packed p;
  if (axonn_status s =
          packedScratch(rt, batch, seq, layout, false, ropeBase, p))
    return s;
  bool wmma = wmmaFor(rt, seq);
  fa2::Operands o = fa2::operandsOf<D>(p.q, p.k, p.v, nullptr, qkv,
                                       static_cast<const T *>(nullptr), seq,
                                       layout, p.rope != nullptr, !wmma);
  if (axonn_status s = packOperands<D>(rt, qkv, static_cast<const T *>(nullptr),
                                       batch, seq, layout, p, o))
    return s;
  int64_t padded = paddedLength(seq);
  int rowBlocks = 1;
  if (axonn_status s = forwardRowBlocks(rt, &rowBlocks))
    return s;
  // (two row blocks a warp only where their registers fit)
  if (wmma || !fa2::kTwoRowBlocksFit<D>)
    rowBlocks = 1;
  cudaStream_t stream = streamOf(rt);
  auto launch = [&](int blocks) -> axonn_status {
    int64_t queries = kTileRows * blocks; // a block's
    dim3 grid =
        gridOf(wmma, (padded + queries - 1) / queries, layout.heads, batch);
    if (wmma)
      return launchOn(rt, stream, mmaForwardKernel<D, T>, grid,
                      forwardShared<D>(), "attention", seq, p.q, p.k, p.v, seq,
                      padded, layout, causal, out, lse);
    if constexpr (fa2::kTwoRowBlocksFit<D>)
      if (blocks == 2)
        return launchOn(rt, stream, fa2::fa2ForwardKernel<D, 2, T>, grid,
                        fa2::forwardShared<D, 2>(), "attention", seq, o.q, o.k,
                        o.v, seq, layout, causal, out, lse);
    return launchOn(rt, stream, fa2::fa2ForwardKernel<D, 1, T>, grid,
                    fa2::forwardShared<D, 1>(), "attention", seq, o.q, o.k, o.v,
                    seq, layout, causal, out, lse);
  };
  return chooseRowBlocks(rt, rowBlocks,
                         shapeKey("forward", D, std::is_same_v<T, uint16_t>,
                                  batch, seq, layout, causal),
                         launch);
}

template <int D, typename T>
axonn_status backward(axonn_rt *rt, const T *dout, const T *qkv, const T *out,
                      const float *lse, int64_t batch, int64_t seq,
                      const QKVLayout &layout, int32_t causal, double ropeBase,
                      T *dqkv) {
  if (!out || !lse)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "attention_grad: the forward's out and lse are needed");
  Packed p;
  if (axonn_status s = packedScratch(rt, batch, seq, layout, true, ropeBase, p))
    return s;
  bool wmma = wmmaFor(rt, seq);
  fa2::Operands o = fa2::operandsOf<D>(p.q, p.k, p.v, p.dO, qkv, dout, seq,
                                       layout, p.rope != nullptr, !wmma);
  if (axonn_status s = packOperands<D>(rt, qkv, dout, batch, seq, layout, p, o))
    return s;
  int64_t padded = paddedLength(seq);
  int64_t tiles = padded / kTileRows;
  // The rows' statistics in the packed order, a warp (of 8 a block) each.
  int64_t rows = batch * layout.heads * padded;
  rowStatsKernel<D, T><<<unsigned(std::min<int64_t>((rows + 7) / 8, 65535 * 8)),
                         256, 0, streamOf(rt)>>>(
      dout, out, lse, batch, seq, padded, layout.heads, p.lse, p.delta);
  AXONN_LAUNCHED(rt);
  // dQ and dK/dV read the same operands and write their own parts of
  // dqkv: dK/dV runs on the side stream, from here on, beside dQ on the
  // compute stream, so that the SMs one kernel's last blocks leave idle
  // run the other's; the compute stream waits for both.
  State &st = state(rt);
  AXONN_CUDA(rt, cudaEventRecord(st.fork, st.compute));
  int rowBlocks = 1;
  if (axonn_status s = forwardRowBlocks(rt, &rowBlocks))
    return s;
  // (dQ with two row blocks a warp only where their registers fit)
  if (wmma || !fa2::kTwoRowBlocksFit<D>)
    rowBlocks = 1;
  auto launchQuery = [&](int blocks) -> axonn_status {
    dim3 grid =
        gridOf(wmma, (tiles + blocks - 1) / blocks, layout.heads, batch);
    if (wmma)
      return launchOn(rt, st.compute, mmaGradQueryKernel<D, T>, grid,
                      gradQueryShared<D>(), "attention_grad", seq, p.q, p.k,
                      p.v, p.dO, seq, padded, layout, causal, p.rope, p.lse,
                      p.delta, dqkv);
    if constexpr (fa2::kTwoRowBlocksFit<D>)
      if (blocks == 2)
        return launchOn(rt, st.compute, fa2::fa2GradQueryKernel<D, 2, T>, grid,
                        fa2::gradQueryShared<D, 2>(), "attention_grad", seq,
                        o.q, o.k, o.v, o.dO, seq, padded, layout, causal,
                        p.rope, p.lse, p.delta, dqkv);
    return launchOn(rt, st.compute, fa2::fa2GradQueryKernel<D, 1, T>, grid,
                    fa2::gradQueryShared<D, 1>(), "attention_grad", seq, o.q,
                    o.k, o.v, o.dO, seq, padded, layout, causal, p.rope, p.lse,
                    p.delta, dqkv);
  };
  if (axonn_status s =
          chooseRowBlocks(rt, rowBlocks,
                          shapeKey("dq", D, std::is_same_v<T, uint16_t>, batch,
                                   seq, layout, causal),
                          launchQuery))
    return s;
  // (after dQ's launches: where those are timed, chooseRowBlocks, they
  // run alone)
  AXONN_CUDA(rt, cudaStreamWaitEvent(st.side, st.fork, 0));
  dim3 keyGrid = gridOf(wmma, tiles, layout.kvHeads, batch);
  if (axonn_status s =
          wmma ? launchOn(rt, st.side, mmaGradKeyKernel<D, T>, keyGrid,
                          gradKeyShared<D>(), "attention_grad", seq, p.q, p.k,
                          p.v, p.dO, seq, padded, layout, causal, p.rope, p.lse,
                          p.delta, dqkv)
               : launchOn(rt, st.side, fa2::fa2GradKeyKernel<D, T>, keyGrid,
                          fa2::gradKeyShared<D>(), "attention_grad", seq, o.q,
                          o.k, o.v, o.dO, seq, padded, layout, causal, p.rope,
                          p.lse, p.delta, dqkv))
    return s;
  AXONN_CUDA(rt, cudaEventRecord(st.join, st.side));
  AXONN_CUDA(rt, cudaStreamWaitEvent(st.compute, st.join, 0));
  return AXONN_OK;
}

/// Calls f with the head dimension as a constant
/// (std::integral_constant<int, D>) when the kernels take it (32, 64 or
/// 128); false for any other.
template <typename F> bool forHeadDim(int64_t dim, F &&f) {
  switch (dim) {
  case 32:
    f(std::integral_constant<int, 32>());
    return true;
  case 64:
    f(std::integral_constant<int, 64>());
    return true;
  case 128:
    f(std::integral_constant<int, 128>());
    return true;
  default:
    return false;
  }
}

axonn_status unsupportedHeads(axonn_rt *rt, int64_t headDim) {
  return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                  "attention: the tensor-core kernels take heads of 32, 64 "
                  "or 128, not %lld",
                  (long long)headDim);
}

template <typename T>
axonn_status forwardFor(axonn_rt *rt, const T *qkv, int64_t batch, int64_t seq,
                        const QKVLayout &layout, int32_t causal,
                        double ropeBase, T *out, float *lse) {
  axonn_status status = AXONN_OK;
  if (!forHeadDim(layout.dim, [&](auto d) {
        status = forward<decltype(d)::value>(rt, qkv, batch, seq, layout,
                                             causal, ropeBase, out, lse);
      }))
    return unsupportedHeads(rt, layout.dim);
  return status;
}

template <typename T>
axonn_status backwardFor(axonn_rt *rt, const T *dout, const T *qkv,
                         const T *out, const float *lse, int64_t batch,
                         int64_t seq, const QKVLayout &layout, int32_t causal,
                         double ropeBase, T *dqkv) {
  axonn_status status = AXONN_OK;
  if (!forHeadDim(layout.dim, [&](auto d) {
        status =
            backward<decltype(d)::value>(rt, dout, qkv, out, lse, batch, seq,
                                         layout, causal, ropeBase, dqkv);
      }))
    return unsupportedHeads(rt, layout.dim);
  return status;
}

} // namespace

axonn_status attentionKernels(axonn_rt *rt, AttentionKernels *out) {
  const char *choice = std::getenv("AXONN_ATTENTION");
  std::string c = choice ? choice : "";
  if (c.empty() || c == "mma" || c == "wmma")
    *out = AttentionKernels::Mma;
  else if (c == "tiled")
    *out = AttentionKernels::Tiled;
  else if (c == "rows")
    *out = AttentionKernels::Rows;
  else
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "AXONN_ATTENTION=%s: expected mma, wmma, tiled or rows",
                    c.c_str());
  return AXONN_OK;
}

bool mmaAttentionApplies(axonn_rt *rt, bool bf16Storage, int64_t headDim) {
  State &s = state(rt);
  loadGemmSettings(s); // the precision, even before the first GEMM
  // fp32 or tf32 GEMMs ask for fp32 attention too: no note.
  if (!bf16Storage && s.gemmPrecision != "bf16")
    return false;
  static bool oldGpu = false, oldBuild = false, oddHeads = false,
              smallShared = false;
  if (s.prop.major < 8) {
    noteOnce(rt, oldGpu, "runs on the CUDA cores: %s is older than sm_80",
             s.prop.name);
    return false;
  }
  // Built for sm_80 or newer: code for older GPUs only (a JIT from their
  // PTX) would trap in the kernels.
  static const bool built = [] {
    cudaFuncAttributes attributes;
    bool ok = cudaFuncGetAttributes(&attributes, mmaForwardKernel<64, float>) ==
                  cudaSuccess &&
              attributes.ptxVersion >= 80 && attributes.binaryVersion >= 80;
    cudaGetLastError();
    return ok;
  }();
  if (!built) {
    noteOnce(rt, oldBuild,
             "runs on the CUDA cores: the runtime was built without sm_80 "
             "code "
             "(CMAKE_CUDA_ARCHITECTURES)");
    return false;
  }
  size_t most = s.prop.sharedMemPerBlockOptin, need = 0;
  if (!forHeadDim(headDim, [&](auto d) {
        constexpr int D = decltype(d)::value;
        need = wmmaChosen() ? wmmaShared<D>() : fa2Shared<D>();
      })) {
    noteOnce(rt, oddHeads,
             "runs on the CUDA cores: heads of %lld (the tensor-core "
             "kernels take 32, 64 and 128)",
             (long long)headDim);
    return false;
  }
  if (need > most) {
    noteOnce(rt, smallShared,
             "runs on the CUDA cores: heads of %lld need %zu bytes of shared "
             "memory a block, %s has %zu",
             (long long)headDim, need, s.prop.name, most);
    return false;
  }
  return true;
}

axonn_status mmaAttention(axonn_rt *rt, bool bf16Storage, const void *qkv,
                          int64_t batch, int64_t seq, const QKVLayout &layout,
                          int32_t causal, double ropeBase, void *out,
                          float *lse) {
  if (bf16Storage)
    return forwardFor(rt, static_cast<const uint16_t *>(qkv), batch, seq,
                      layout, causal, ropeBase, static_cast<uint16_t *>(out),
                      lse);
  return forwardFor(rt, static_cast<const float *>(qkv), batch, seq, layout,
                    causal, ropeBase, static_cast<float *>(out), lse);
}

axonn_status mmaAttentionGrad(axonn_rt *rt, bool bf16Storage, const void *dout,
                              const void *qkv, const void *out,
                              const float *lse, int64_t batch, int64_t seq,
                              const QKVLayout &layout, int32_t causal,
                              double ropeBase, void *dqkv) {
  if (bf16Storage)
    return backwardFor(rt, static_cast<const uint16_t *>(dout),
                       static_cast<const uint16_t *>(qkv),
                       static_cast<const uint16_t *>(out), lse, batch, seq,
                       layout, causal, ropeBase, static_cast<uint16_t *>(dqkv));
  return backwardFor(rt, static_cast<const float *>(dout),
                     static_cast<const float *>(qkv),
                     static_cast<const float *>(out), lse, batch, seq, layout,
                     causal, ropeBase, static_cast<float *>(dqkv));
}

} // namespace axonn::cuda
