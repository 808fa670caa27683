//===- attention_fa2.cuh - register-resident tensor-core attention -*- CUDA
//-*-//
//
// The attention kernels attention_mma.cu runs by default: FlashAttention-2's
// algorithm in mma.sync (m16n8k16, bf16 operands, fp32 accumulation), with
// every product, score, probability and accumulator in registers. The
// WMMA kernels of attention_mma.cuh (AXONN_ATTENTION=wmma) store each
// warp's scores and output in shared memory every tile because WMMA's
// fragment layout is opaque; here the PTX ISA's documented layouts let a
// lane do the online softmax on its own rows (two per lane, a row's four
// lanes a quad), turn the scores' accumulators into the next product's A
// operand without leaving registers, and read B operands from shared
// memory with ldmatrix (transposed where the product needs it). Tiles of K
// and V (forward, dQ) or of Q and dO (dK, dV) stream through two shared
// buffers with cp.async, the next loading while the current is used.
//
// The operands are packed as for the WMMA kernels (attention_mma.cuh's
// packKernel: [batch, head, padded, D] bf16, queries rotated and times
// 1/sqrt(D)), except what bf16 storage lets the kernels read in place
// (Rows, operandsOf: packing would copy it bit for bit); the backward
// reads the same packed lse and delta, so both kernel sets share the
// packing, the statistics and the results' rotation. P and dS are rounded
// to bf16 before their products, as there; the forward's row sums add P
// in fp32 (FlashAttention-2's way; the WMMA kernels add the rounded P).
// Masks are evaluated only on the tiles that cross the causal diagonal or
// the sequence's end.
//
// The device code is plain CUDA with inline PTX; under AXONN_CUDA_EMULATION
// (runtime/check/cuda_emulation.h) the PTX operations are emulated lane by
// lane, so unittests/AttentionMmaEmulationTest.cpp runs these kernels on
// the CPU too.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_ATTENTION_FA2_CUH
#define AXONN_CUDA_ATTENTION_FA2_CUH

#include "attention_mma.cuh"

#include <type_traits>

namespace axonn::cuda::fa2 {

using mma::bf16;
using mma::headRows;
using mma::kBlock;
using mma::kTileRows;
using mma::kWarpRows;
using mma::tileBytes;

/// Row stride of a bf16 tile in shared memory: D + 8 elements, so that the
/// eight rows an ldmatrix reads fall in different banks.
template <int D> constexpr int kLd = mma::Dims<D>::tileLd;
/// Row stride of the fp32 rows a warp stages its results in.
template <int D> constexpr int kWorkLd = D + 4;

/// (R: the forward's row blocks a warp, below)
template <int D, int R = 1> constexpr size_t forwardShared() {
  return (R + 4) * tileBytes<D>(); // R tiles of Q, and K and V twice
}
template <int D, int R = 1> constexpr size_t gradQueryShared() {
  return (2 * R + 4) * tileBytes<D>(); // R tiles of Q and dO, K and V twice
}
template <int D> constexpr size_t gradKeyShared() {
  // K, V, Q and dO twice, lse and delta twice
  return 6 * tileBytes<D>() + 4 * mma::kRowBytes;
}

// The PTX operations (and their emulation).

#ifdef AXONN_CUDA_EMULATION
inline void loadMatrices(uint32_t (&r)[4], const bf16 *row) {
  emulation::loadMatrices(r, row, false);
}
inline void loadMatricesTransposed(uint32_t (&r)[4], const bf16 *row) {
  emulation::loadMatrices(r, row, true);
}
inline void mmaBf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                    uint32_t b1) {
  emulation::mmaBf16(d, a, b0, b1);
}
inline void copyAsync16(void *sharedDst, const void *src) {
  expectAligned<16>(sharedDst);
  expectAligned<16>(src);
  std::memcpy(sharedDst, src, 16);
}
inline void commitCopies() {}
template <int Pending> void waitCopies() {}
inline uint32_t pairBits(float low, float high) {
  return emulation::pairOf(__float2bfloat16_rn(low).bits,
                           __float2bfloat16_rn(high).bits);
}
inline float exp2Flushed(float x) {
  float r = std::exp2(x);
  return r < 1.17549435e-38f ? 0.0f : r; // (subnormal results flush)
}
#else
__device__ __forceinline__ uint32_t sharedAddress(const void *p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
/// ldmatrix x4: lanes 8i ... 8i + 7 give the rows of 8 x 8 matrix i.
__device__ __forceinline__ void loadMatrices(uint32_t (&r)[4],
                                             const bf16 *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, "
               "[%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(row)));
}
__device__ __forceinline__ void loadMatricesTransposed(uint32_t (&r)[4],
                                                       const bf16 *row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, "
               "%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(row)));
}
/// d += a b: A 16 x 16, B 16 x 8, D 16 x 8 (PTX ISA fragment layouts).
__device__ __forceinline__ void mmaBf16(float (&d)[4], const uint32_t (&a)[4],
                                        uint32_t b0, uint32_t b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
               "{%0, %1, %2, %3};\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void copyAsync16(void *sharedDst, const void *src) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(
                   sharedAddress(sharedDst)),
               "l"(src)
               : "memory");
}
__device__ __forceinline__ void commitCopies() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
/// Waits until at most `Pending` committed groups are still in flight.
template <int Pending> __device__ __forceinline__ void waitCopies() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(Pending) : "memory");
}
/// Two floats rounded to bf16, `low` in the low half (the lower column).
__device__ __forceinline__ uint32_t pairBits(float low, float high) {
  __nv_bfloat162 v = __floats2bfloat162_rn(low, high);
  return *reinterpret_cast<uint32_t *>(&v);
}
/// 2^x, subnormal inputs and results flushed to zero: one MUFU.EX2, where
/// exp2f's care for subnormals takes three more instructions an
/// exponential (the softmax's probabilities below 2^-126 add nothing to
/// a row sum of at least 1, and P below 2^-126 rounds to a bf16 zero
/// anyway). The forward's: 1,896 instructions instead of 2,096 at D = 64.
/// The backward's dQ and dK/dV kernels both take it for their P (the same
/// P in both): since the whole tiles' products run without branches it
/// costs them no registers (with exp2f the 32-row dQ spilled 16 bytes).
__device__ __forceinline__ float exp2Flushed(float x) {
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
}
#endif

// Tiles and fragments. A lane's place in a fragment: g = lane / 4 (its
// rows g and g + 8 of an accumulator), t = lane % 4 (its columns 2t and
// 2t + 1 of each 8-column block).

__device__ __forceinline__ int laneGroup() { return threadIdx.x % 32 / 4; }
__device__ __forceinline__ int laneThread() { return threadIdx.x % 4; }

/// Tile i of consecutive tiles from `first` (a double buffer's halves by
/// arithmetic: an array of pointers indexed at run time would live in
/// local memory).
template <int D> __device__ __forceinline__ bf16 *tileAt(bf16 *first, int i) {
  return first + size_t(i) * (tileBytes<D>() / sizeof(bf16));
}

/// Where a kernel reads an operand's rows (D bf16 each): row r of head h
/// of batch entry b at `at` + b * batch + h * head + r * row. Packed by
/// packKernel ([batch, head, padded, D]), or, in bf16 storage, the tensor
/// itself where packing would only copy it (operandsOf: parts of qkv, and
/// dout). Rows from the sequence's end on are read as zeros, not from
/// memory. `scale`: what the rows' products still need
/// (Q read in place: 1/sqrt(D), which the packing applies; else 1).
struct Rows {
  const bf16 *at;
  int64_t batch, head, row;
  float scale = 1.0f;
  __host__ __device__ const bf16 *of(int64_t b, int64_t h) const {
    return at + b * batch + h * head;
  }
};

/// The rows the kernels read of each operand, and which operands
/// attention_mma.cu packs: everything in fp32 storage or where `direct` is
/// false (the WMMA kernels read packed operands only). In bf16 storage,
/// 16-byte aligned, the kernels read V and dO where they are, K too
/// without RoPE, and Q too without RoPE where 1/sqrt(D) is a power of two
/// (D = 64) and Q's heads are evenly spaced (one KV head, or as many as
/// queries): its scale then goes into the products' exponent and dK
/// (exact for a power of two, so the results keep the packed operands'
/// bits). Packing would copy them bit for bit; each saves a kernel's
/// traffic, read and written. q, k, v, dO: the packed arrays ([batch,
/// head, padded, D]); qkv and dout: the call's tensors (dout null in the
/// forward).
struct Operands {
  Rows q, k, v, dO;
  bool packQ = true, packK = true, packV = true, packDO = true;
};
template <int D, typename T>
Operands operandsOf(const bf16 *q, const bf16 *k, const bf16 *v, const bf16 *dO,
                    const T *qkv, const T *dout, int64_t seq,
                    const QKVLayout &layout, bool rotated, bool direct) {
  int64_t padded = mma::paddedLength(seq), f = layout.features();
  auto packed = [&](const bf16 *at, int64_t heads) {
    return Rows{at, heads * padded * D, padded * D, D};
  };
  Operands o{packed(q, layout.heads), packed(k, layout.kvHeads),
             packed(v, layout.kvHeads), packed(dO, layout.heads)};
  auto aligned = [](const void *at) {
    return reinterpret_cast<uintptr_t>(at) % 16 == 0;
  };
  if constexpr (std::is_same_v<T, uint16_t>) {
    if (!direct || !aligned(qkv))
      return o;
    const bf16 *x = reinterpret_cast<const bf16 *>(qkv);
    int64_t group = (layout.perGroup + 2) * D; // one KV head to the next
    o.v = {x + layout.v(0), seq * f, group, f};
    o.packV = false;
    if (!rotated) {
      o.k = {x + layout.k(0), seq * f, group, f};
      o.packK = false;
      // (one KV head: queries D apart; as many: 3 D apart)
      if (D == 64 && (layout.kvHeads == 1 || layout.perGroup == 1)) {
        o.q = {x + layout.q(0), seq * f,
               layout.kvHeads == 1 ? int64_t(D) : group, f, 1.0f / 8};
        o.packQ = false;
      }
    }
    if (dout && aligned(dout)) {
      int64_t width = layout.heads * D;
      o.dO = {reinterpret_cast<const bf16 *>(dout), seq * width, D, width};
      o.packDO = false;
    }
  }
  return o;
}

/// The rows of a tile from `first` that precede the sequence's end.
__device__ __forceinline__ int rowsBefore(int64_t seq, int64_t first) {
  return int(max(int64_t(0), min(seq - first, int64_t(kTileRows))));
}

/// Starts copying 64 rows (D each, `stride` apart from `src`) into a shared
/// tile, 16 bytes a thread at a time, the rows from `left` on as zeros
/// (every thread of the block calls it).
template <int D>
__device__ void copyTileAsync(const bf16 *src, int64_t stride, int left,
                              bf16 *tile) {
  // (a thread keeps its column piece; each pass takes `step` rows)
  constexpr int pieces = D / 8, step = kBlock / pieces;
  static_assert(kBlock % pieces == 0, "whole rows a pass");
  int r = int(threadIdx.x) / pieces, c = int(threadIdx.x) % pieces;
  const bf16 *from = src + r * stride + c * 8;
  bf16 *to = tile + r * kLd<D> + c * 8;
#pragma unroll
  for (int pass = 0; pass < kTileRows / step; ++pass) {
    if (r < left) {
      copyAsync16(to, from);
    } else {
      expectAligned<16>(to);
      *reinterpret_cast<uint4 *>(to) = uint4{0, 0, 0, 0};
    }
    r += step;
    from += step * stride;
    to += step * kLd<D>;
  }
}

/// Starts copying 64 floats (16 bytes a thread, the first 16 threads).
__device__ __forceinline__ void copyRowsAsync(const float *src, float *dst) {
  if (threadIdx.x < kTileRows / 4)
    copyAsync16(dst + 4 * threadIdx.x, src + 4 * threadIdx.x);
}

/// Starts copying a block's R query-side tiles (64 rows each from row
/// `first` of `head`, rows `stride` apart) into consecutive shared tiles
/// from `tile`; rows past the sequence (two row blocks a warp: up to a
/// whole tile) are zeros.
template <int D, int R>
__device__ void copyQueryTilesAsync(const bf16 *head, int64_t stride,
                                    int64_t first, int64_t seq, bf16 *tile) {
  for (int i = 0; i < R; ++i) {
    int64_t at = first + int64_t(i) * kTileRows;
    copyTileAsync<D>(head + at * stride, stride, rowsBefore(seq, at),
                     tileAt<D>(tile, i));
  }
}

/// The streamed K/V tiles of the forward and dQ kernels, from `buffers`:
/// K of buffer i is tile 2i, V tile 2i + 1. next(it) starts copying key
/// tile it + 1 (if any) into the other buffer and waits, with the whole
/// block, for tile it (the caller's barrier after using a tile keeps the
/// next copy off it).
template <int D> struct KeyValueStream {
  const bf16 *kHead, *vHead;
  int64_t kStride, vStride, seq;
  bf16 *buffers;
  int tiles;
  __device__ bf16 *k(int it) const { return tileAt<D>(buffers, 2 * (it % 2)); }
  __device__ bf16 *v(int it) const {
    return tileAt<D>(buffers, 2 * (it % 2) + 1);
  }
  /// Starts copying the first tile (the caller commits).
  __device__ void start() const {
    copyTileAsync<D>(kHead, kStride, rowsBefore(seq, 0), k(0));
    copyTileAsync<D>(vHead, vStride, rowsBefore(seq, 0), v(0));
  }
  __device__ void next(int it) const {
    if (it + 1 < tiles) {
      int64_t t1 = int64_t(it + 1) * kTileRows;
      int left = rowsBefore(seq, t1);
      copyTileAsync<D>(kHead + t1 * kStride, kStride, left, k(it + 1));
      copyTileAsync<D>(vHead + t1 * vStride, vStride, left, v(it + 1));
    }
    commitCopies();
    waitCopies<1>();
    __syncthreads();
  }
};

/// The 16-key blocks of the tile at t0 that each of a warp's R row
/// blocks (16 rows from row0 + 16 r) sees (mma::visibleBlocks).
template <int R>
__device__ __forceinline__ void
visibleRowBlocks(int64_t row0, int64_t t0, bool causal, int (&blocks)[R]) {
#pragma unroll
  for (int r = 0; r < R; ++r)
    blocks[r] = mma::visibleBlocks(row0 + 16 * r, t0, causal);
}

/// The A operand of rows r0 ... r0 + 15, columns k0 ... k0 + 15 of a tile.
template <int D>
__device__ __forceinline__ void loadA(uint32_t (&a)[4], const bf16 *tile,
                                      int r0, int k0) {
  int lane = threadIdx.x % 32;
  loadMatrices(a, tile + (r0 + lane % 16) * kLd<D> + k0 + lane / 16 * 8);
}

/// The B operands of two 8-column blocks, B = the transpose of tile rows
/// n0 ... n0 + 15 (columns k0 ... k0 + 15 of the tile): b[0], b[1] for
/// rows n0 ... n0 + 7, b[2], b[3] for n0 + 8 ... n0 + 15.
template <int D>
__device__ __forceinline__ void loadBt(uint32_t (&b)[4], const bf16 *tile,
                                       int n0, int k0) {
  int lane = threadIdx.x % 32;
  loadMatrices(b, tile + (n0 + lane / 16 * 8 + lane % 8) * kLd<D> + k0 +
                      lane / 8 % 2 * 8);
}

/// The B operands of two 8-column blocks, B = tile rows k0 ... k0 + 15,
/// columns n0 ... n0 + 15: b[0], b[1] for columns n0 ... n0 + 7, b[2],
/// b[3] for n0 + 8 ... n0 + 15.
template <int D>
__device__ __forceinline__ void loadB(uint32_t (&b)[4], const bf16 *tile,
                                      int k0, int n0) {
  int lane = threadIdx.x % 32;
  loadMatricesTransposed(b, tile + (k0 + lane / 8 % 2 * 8 + lane % 8) * kLd<D> +
                                n0 + lane / 16 * 8);
}

// The tile products below take the 16-column blocks a warp's rows see of
// a tile (the causal diagonal's tile sees some). Most tiles are seen
// whole: for them each product is instantiated with `Whole` true, one
// straight run of loads and products (in the PTX, 32 mma.sync without a
// branch, where a branch around every pair of products split the run into
// 16 blocks, across which loads are not hoisted ahead of earlier
// products), which the compiler schedules as one; the same products in
// the same order either way, so the same bits. ptxas at D = 64: the dK/dV
// kernel's spills fell from 32 bytes to none (168 registers; its mask
// fix-up costs 4 now, kGradKeyBlocksPerSm), the dQ kernel holds 128
// registers for its four blocks, the forward 124.

/// acc (16 x 64, eight 8-column blocks) = rows r0 ... r0 + 15 of tile `a`
/// times the transpose of tile `b`'s 64 rows, over the 16-column blocks
/// from `first` to `end` - 1 (the rest stays zero; Whole: all four).
template <int D, bool Whole = false>
__device__ void scoresOf(const bf16 *a, int r0, const bf16 *b, int first,
                         int end, float (&acc)[8][4]) {
  if (!Whole && first == 0 && end == 4)
    return scoresOf<D, true>(a, r0, b, first, end, acc);
#pragma unroll
  for (int j = 0; j < 8; ++j)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t fa[4];
    loadA<D>(fa, a, r0, kk * 16);
#pragma unroll
    for (int nb = 0; nb < 4; ++nb)
      if (Whole || (nb >= first && nb < end)) {
        uint32_t fb[4];
        loadBt<D>(fb, b, nb * 16, kk * 16);
        mmaBf16(acc[2 * nb], fa, fb[0], fb[1]);
        mmaBf16(acc[2 * nb + 1], fa, fb[2], fb[3]);
      }
  }
}

/// The A operands (16 x 64 as four 16 x 16 blocks) of an accumulator's
/// values, rounded to bf16.
__device__ __forceinline__ void operandsOf(const float (&v)[8][4],
                                           uint32_t (&a)[4][4]) {
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    a[kk][0] = pairBits(v[2 * kk][0], v[2 * kk][1]);
    a[kk][1] = pairBits(v[2 * kk][2], v[2 * kk][3]);
    a[kk][2] = pairBits(v[2 * kk + 1][0], v[2 * kk + 1][1]);
    a[kk][3] = pairBits(v[2 * kk + 1][2], v[2 * kk + 1][3]);
  }
}

/// acc (16 x D) += a (16 x 64) times tile rows 0 ... 63 (all D columns),
/// over a's 16-column blocks from `first` to `end` - 1 (Whole: all four).
template <int D, bool Whole = false>
__device__ void accumulate(const uint32_t (&a)[4][4], const bf16 *tile,
                           int first, int end, float (&acc)[D / 8][4]) {
  if (!Whole && first == 0 && end == 4)
    return accumulate<D, true>(a, tile, first, end, acc);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk)
    if (Whole || (kk >= first && kk < end)) {
#pragma unroll
      for (int nd = 0; nd < D / 16; ++nd) {
        uint32_t fb[4];
        loadB<D>(fb, tile, kk * 16, nd * 16);
        mmaBf16(acc[2 * nd], a[kk], fb[0], fb[1]);
        mmaBf16(acc[2 * nd + 1], a[kk], fb[2], fb[3]);
      }
    }
}

/// A warp's 16 x D accumulator into its fp32 staging rows (row stride
/// kWorkLd), then out to dqkv by mma::storeStagedRows, as the WMMA
/// kernels' writeResult writes them. One warp.
template <int D, typename T>
__device__ void writeRows(const float (&acc)[D / 8][4], float *work,
                          int64_t row0, int64_t seq, int64_t b, int64_t f,
                          int64_t offset, const float2 *rope, float scale,
                          T *dqkv) {
  constexpr int ld = kWorkLd<D>;
  int g = laneGroup(), t = laneThread();
  __syncwarp(); // every lane is done reading `work`
#pragma unroll
  for (int n = 0; n < D / 8; ++n) {
    work[g * ld + 8 * n + 2 * t] = acc[n][0];
    work[g * ld + 8 * n + 2 * t + 1] = acc[n][1];
    work[(g + 8) * ld + 8 * n + 2 * t] = acc[n][2];
    work[(g + 8) * ld + 8 * n + 2 * t + 1] = acc[n][3];
  }
  __syncwarp();
  mma::storeStagedRows<D>(work, ld, row0, seq, b, f, offset, rope, scale, dqkv);
}

/// The masks of a tile that crosses the diagonal or the sequence's end,
/// in 32-bit offsets within the tile: columns (keys or queries) from
/// `left` on are past the sequence; in the forward and dQ, causal, row r
/// sees the key columns c <= ahead + r (ahead: the warp's first row minus
/// the tile's first key), in dK/dV key row r sees the query columns with
/// ahead + c >= r (ahead: the tile's first query minus the warp's first
/// key). Clamped: past a tile's width every answer is the same.
struct Edge {
  int left, ahead;
  __device__ Edge(int64_t columnsLeft, int64_t firstRowMinusFirstColumn)
      : left(int(min(columnsLeft, int64_t(2 * kTileRows)))),
        ahead(int(max(min(firstRowMinusFirstColumn, int64_t(2 * kTileRows)),
                      int64_t(-2 * kTileRows)))) {}
  __device__ bool pastColumn(int c) const { return c >= left; }
  /// Forward and dQ: key column c masked for query row r.
  __device__ bool past(int c, int r, bool causal) const {
    return c >= left || (causal && c > ahead + r);
  }
};

/// The kernels' grids: (heads, batch entries, sequence tiles), the tiles
/// slowest. Blocks start in the order of their linear index, x fastest,
/// and causal the tiles' work differs (query tile i sees i + 1 key tiles,
/// key tile i the query tiles from i on). With the tiles fastest (the
/// WMMA kernels' grids) every tile count's blocks start interleaved, and
/// the last long blocks to start set the kernel's end while other SMs
/// idle: GPT-2 124M's forward on 132 SMs of four blocks, scheduled
/// greedily, ends after 35 tile steps a block slot for 24.7 of work. Here
/// every head and batch entry of the tile with the most work starts first,
/// then the next (27 steps there). Each block computes what it computed
/// in any order: the same bits.
///
/// The most tiles a grid holds (its z); attention_mma.cu runs longer
/// sequences on the WMMA kernels.
constexpr int64_t kMostGridTiles = 65535;

/// A block's tile, head and batch entry; `lastMost`: the last tile has the
/// most work (queries), else the first (keys).
struct BlockPlace {
  int64_t tile, head, batch;
};
__device__ __forceinline__ BlockPlace blockPlace(bool lastMost) {
  return {int64_t(lastMost ? gridDim.z - 1 - blockIdx.z : blockIdx.z),
          int64_t(blockIdx.x), int64_t(blockIdx.y)};
}

/// Row blocks of 16 queries a warp of the forward and dQ take: 1 (16
/// rows) or 2 (32 rows: each K and V operand loaded from shared memory
/// feeds two products, and a block's K/V tile serves 128 queries; heads
/// of 64 or fewer). AXONN_ATTENTION_ROWS chooses, by default the faster
/// per shape (attention_mma.cu).
template <int D> constexpr bool kTwoRowBlocksFit = D <= 64;

/// Forward blocks an SM should hold (registers a thread at most 65536 /
/// (128 x this)): with one row block at D <= 64, four (shared memory
/// allows them; left to itself ptxas took 96 registers and spilled); with
/// two, three (at D = 64: 168 registers and 32 to 48 bytes of spills,
/// where ptxas took 178 and held two); at D = 128, shared memory allows
/// two.
template <int D, int R>
constexpr int kForwardBlocksPerSm = R == 1 && D <= 64 ? 4
                                    : R == 2          ? 3
                                                      : 1;

/// acc[r] (16 x 64) = rows r0 + 16 r ... of tile `a` times the transpose
/// of tile `b`'s 64 rows, over the 16-column blocks before end[r] (the
/// rest stays zero; Whole: all four); each B operand loaded once for the R
/// row blocks. (end[r] grows with r.)
template <int D, int R, bool Whole = false>
__device__ void scoresOfRows(const bf16 *a, int r0, const bf16 *b,
                             const int (&end)[R], float (&acc)[R][8][4]) {
  if (!Whole && end[0] == 4)
    return scoresOfRows<D, R, true>(a, r0, b, end, acc);
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int j = 0; j < 8; ++j)
      acc[r][j][0] = acc[r][j][1] = acc[r][j][2] = acc[r][j][3] = 0;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    uint32_t fa[R][4];
#pragma unroll
    for (int r = 0; r < R; ++r)
      loadA<D>(fa[r], a, r0 + 16 * r, kk * 16);
#pragma unroll
    for (int nb = 0; nb < 4; ++nb)
      if (Whole || nb < end[R - 1]) { // (the last row block sees the most)
        uint32_t fb[4];
        loadBt<D>(fb, b, nb * 16, kk * 16);
#pragma unroll
        for (int r = 0; r < R; ++r)
          if (Whole || nb < end[r]) {
            mmaBf16(acc[r][2 * nb], fa[r], fb[0], fb[1]);
            mmaBf16(acc[r][2 * nb + 1], fa[r], fb[2], fb[3]);
          }
      }
  }
}

/// As scoresOfRows for one row block whose A operands (its 16 rows, each
/// 16-column block kk) are held in registers, `held[kk]`: the same
/// products in the same order.
template <int D, bool Whole = false>
__device__ void scoresOfHeld(const uint32_t (&held)[D / 16][4], const bf16 *b,
                             int end, float (&acc)[8][4]) {
  if (!Whole && end == 4)
    return scoresOfHeld<D, true>(held, b, end, acc);
#pragma unroll
  for (int j = 0; j < 8; ++j)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
#pragma unroll
    for (int nb = 0; nb < 4; ++nb)
      if (Whole || nb < end) {
        uint32_t fb[4];
        loadBt<D>(fb, b, nb * 16, kk * 16);
        mmaBf16(acc[2 * nb], held[kk], fb[0], fb[1]);
        mmaBf16(acc[2 * nb + 1], held[kk], fb[2], fb[3]);
      }
}

/// acc[r] (16 x D) += a[r] (16 x 64) times tile rows 0 ... 63, over a[r]'s
/// 16-column blocks before end[r] (Whole: all four); each B operand loaded
/// once.
template <int D, int R, bool Whole = false>
__device__ void accumulateRows(const uint32_t (&a)[R][4][4], const bf16 *tile,
                               const int (&end)[R], float (&acc)[R][D / 8][4]) {
  if (!Whole && end[0] == 4)
    return accumulateRows<D, R, true>(a, tile, end, acc);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk)
    if (Whole || kk < end[R - 1]) {
#pragma unroll
      for (int nd = 0; nd < D / 16; ++nd) {
        uint32_t fb[4];
        loadB<D>(fb, tile, kk * 16, nd * 16);
#pragma unroll
        for (int r = 0; r < R; ++r)
          if (Whole || kk < end[r]) {
            mmaBf16(acc[r][2 * nd], a[r][kk], fb[0], fb[1]);
            mmaBf16(acc[r][2 * nd + 1], a[r][kk], fb[2], fb[3]);
          }
      }
    }
}

/// Forward: a block per (64 R queries, head, batch), 16 R rows a warp (R
/// row blocks of 16); each lane keeps the running maximum and sum of its
/// two rows of each row block.
template <int D, int R, typename T>
__global__ void __launch_bounds__(kBlock, (kForwardBlocksPerSm<D, R>))
    fa2ForwardKernel(Rows q, Rows k, Rows v, int64_t seq, QKVLayout layout,
                     int32_t causal, T *out, float *lse) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  constexpr int kQueries = kTileRows * R; // a block's
  extern __shared__ __align__(128) unsigned char shared[];
  int warp = threadIdx.x / 32, g = laneGroup(), t = laneThread();
  BlockPlace place = blockPlace(true);
  // (log2(e) times the scale Q still needs, 1 when packed: S's scaling
  // goes into the exponent, exact where the scale is a power of two)
  float log2eScaled = kLog2e * q.scale;
  int64_t h = place.head, b = place.batch, kv = layout.group(h);
  int64_t first = place.tile * kQueries, row0 = first + warp * kWarpRows * R;
  mma::Carver carve{shared};
  bf16 *qTile = carve.take<bf16>(R * tileBytes<D>()); // kQueries rows
  int64_t keyEnd = causal && first + kQueries < seq ? first + kQueries : seq;
  KeyValueStream<D> keys{k.of(b, kv),
                         v.of(b, kv),
                         k.row,
                         v.row,
                         seq,
                         carve.take<bf16>(4 * tileBytes<D>()),
                         int((keyEnd + kTileRows - 1) / kTileRows)};

  copyQueryTilesAsync<D, R>(q.of(b, h), q.row, first, seq, qTile);
  keys.start();
  commitCopies();

  float o[R][D / 8][4];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
      o[r][n][0] = o[r][n][1] = o[r][n][2] = o[r][n][3] = 0;
  // Row g's statistics of row block r in [r][0], row g + 8's in [r][1].
  float rowMax[R][2], rowSum[R][2];
#pragma unroll
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < 2; ++i) {
      rowMax[r][i] = -INFINITY;
      rowSum[r][i] = 0;
    }
  // With one row block a warp, its Q operands stay in registers from the
  // first key tile on (read from shared memory once, not every tile).
  uint32_t held[R == 1 ? D / 16 : 1][4];
  for (int it = 0; it < keys.tiles; ++it) {
    int64_t t0 = int64_t(it) * kTileRows;
    keys.next(it); // (the first waits for the Q tile too)
    int blocks[R];
    visibleRowBlocks<R>(row0, t0, causal, blocks);
    float s[R][8][4];
    if constexpr (R == 1) {
      if (it == 0)
#pragma unroll
        for (int kk = 0; kk < D / 16; ++kk)
          loadA<D>(held[kk], qTile, warp * kWarpRows, kk * 16);
      scoresOfHeld<D>(held, keys.k(it), blocks[0], s[0]);
    } else {
      scoresOfRows<D, R>(qTile, warp * kWarpRows * R, keys.k(it), blocks, s);
    }
    uint32_t p[R][4][4];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      int64_t rows0 = row0 + 16 * r;
      // Mask (on the tiles that cross the diagonal or the sequence's end:
      // the 16-key blocks left out above are past the diagonal), then the
      // online softmax of the lane's two rows.
      if ((causal && t0 + kTileRows - 1 > rows0) || t0 + kTileRows > seq) {
        Edge edge(seq - t0, rows0 - t0);
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            if (edge.past(8 * j + 2 * t + e % 2, g + 8 * (e / 2), causal))
              s[r][j][e] = -INFINITY;
      }
      float top[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int j = 0; j < 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          top[e / 2] = fmaxf(top[e / 2], s[r][j][e]);
      float correction[2], shift[2], sum[2] = {0, 0};
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        top[i] = fmaxf(top[i], __shfl_xor_sync(0xffffffffu, top[i], 1));
        top[i] = fmaxf(top[i], __shfl_xor_sync(0xffffffffu, top[i], 2));
        top[i] *= q.scale; // (the row statistics in scaled units)
        float next = fmaxf(rowMax[r][i], top[i]);
        shift[i] = (next == -INFINITY ? 0.0f : next) * kLog2e;
        correction[i] = exp2Flushed(rowMax[r][i] * kLog2e - shift[i]);
        rowMax[r][i] = next;
      }
      // P in fp32 into the row sums (as FlashAttention-2), rounded to bf16
      // only as the operand of P V.
#pragma unroll
      for (int j = 0; j < 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[r][j][e] =
              exp2Flushed(fmaf(s[r][j][e], log2eScaled, -shift[e / 2]));
          sum[e / 2] += s[r][j][e];
        }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        sum[i] += __shfl_xor_sync(0xffffffffu, sum[i], 1);
        sum[i] += __shfl_xor_sync(0xffffffffu, sum[i], 2);
        rowSum[r][i] = rowSum[r][i] * correction[i] + sum[i];
      }
#pragma unroll
      for (int n = 0; n < D / 8; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          o[r][n][e] *= correction[e / 2];
      operandsOf(s[r], p[r]);
    }
    accumulateRows<D, R>(p, keys.v(it), blocks, o);
    __syncthreads(); // the tiles are read before the next copy into them
  }
  waitCopies<0>();
  // The K and V tiles are free now (the loop's last barrier): the warps'
  // staging rows, from which the output leaves in 16-byte pieces.
  float *work =
      reinterpret_cast<float *>(keys.buffers) + warp * kWarpRows * kWorkLd<D>;
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      int64_t row = row0 + 16 * r + g + 8 * i;
      float inverse = 1 / rowSum[r][i];
      if (lse && t == 0 && row < seq)
        lse[(b * seq + row) * layout.heads + h] =
            rowMax[r][i] + logf(rowSum[r][i]);
#pragma unroll
      for (int n = 0; n < D / 8; ++n) {
        o[r][n][2 * i] *= inverse;
        o[r][n][2 * i + 1] *= inverse;
      }
    }
    writeRows<D>(o[r], work, row0 + 16 * r, seq, b, layout.heads * D, h * D,
                 nullptr, 1.0f, out);
  }
#endif
}

/// dQ blocks an SM should hold: with one row block at D <= 64, four (128
/// registers, no spills; shared memory allows them; ptxas took 134 and
/// held three); at D = 128 shared memory allows two, and saying so keeps
/// ptxas from aiming at three (168 registers and a spill).
template <int D, int R>
constexpr int kGradQueryBlocksPerSm = D == 128            ? 2
                                      : R == 1 && D <= 64 ? 4
                                                          : 1;

/// Backward, first kernel: a block per (64 R queries, head, batch), 16 R
/// rows a warp (R row blocks of 16, as the forward's): dQ = sum over key
/// tiles of dS K, dS = P (dO V^T - delta), P from the packed lse, written
/// (times 1/sqrt(D), rotated back) into dqkv.
template <int D, int R, typename T>
__global__ void __launch_bounds__(kBlock, (kGradQueryBlocksPerSm<D, R>))
    fa2GradQueryKernel(Rows q, Rows k, Rows v, Rows dO, int64_t seq,
                       int64_t padded, QKVLayout layout, int32_t causal,
                       const float2 *rope, const float *lse, const float *delta,
                       T *dqkv) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  constexpr int kQueries = kTileRows * R; // a block's
  extern __shared__ __align__(128) unsigned char shared[];
  int warp = threadIdx.x / 32, g = laneGroup(), t = laneThread();
  BlockPlace place = blockPlace(true);
  // (log2(e) times the scale Q still needs, 1 when packed: S's scaling
  // goes into the exponent, exact where the scale is a power of two)
  float log2eScaled = kLog2e * q.scale;
  int64_t h = place.head, b = place.batch, kv = layout.group(h);
  int64_t first = place.tile * kQueries, row0 = first + warp * kWarpRows * R;
  mma::Carver carve{shared};
  bf16 *qTile = carve.take<bf16>(R * tileBytes<D>());  // kQueries rows
  bf16 *dOTile = carve.take<bf16>(R * tileBytes<D>()); // kQueries rows
  // (lse and delta: packed rows, [batch, head, padded])
  int64_t queryRows = headRows(b, layout.heads, h, padded);
  int64_t keyEnd = causal && first + kQueries < seq ? first + kQueries : seq;
  KeyValueStream<D> keys{k.of(b, kv),
                         v.of(b, kv),
                         k.row,
                         v.row,
                         seq,
                         carve.take<bf16>(4 * tileBytes<D>()),
                         int((keyEnd + kTileRows - 1) / kTileRows)};

  copyQueryTilesAsync<D, R>(q.of(b, h), q.row, first, seq, qTile);
  copyQueryTilesAsync<D, R>(dO.of(b, h), dO.row, first, seq, dOTile);
  keys.start();
  commitCopies();
  // (each row's lse times log2(e): P = exp2(S log2(e) - that); rows past
  // the padded length get zeros)
  float rowLse[R][2], rowDelta[R][2];
#pragma unroll
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < 2; ++i) {
      int64_t row = row0 + 16 * r + g + 8 * i;
      bool inside = R == 1 || row < padded; // (one row block: always)
      rowLse[r][i] = inside ? lse[queryRows + row] * kLog2e : 0.0f;
      rowDelta[r][i] = inside ? delta[queryRows + row] : 0.0f;
    }

  float dq[R][D / 8][4];
#pragma unroll
  for (int r = 0; r < R; ++r)
#pragma unroll
    for (int n = 0; n < D / 8; ++n)
      dq[r][n][0] = dq[r][n][1] = dq[r][n][2] = dq[r][n][3] = 0;
  for (int it = 0; it < keys.tiles; ++it) {
    int64_t t0 = int64_t(it) * kTileRows;
    keys.next(it);
    int blocks[R];
    visibleRowBlocks<R>(row0, t0, causal, blocks);
    float s[R][8][4], dp[R][8][4];
    scoresOfRows<D, R>(qTile, warp * kWarpRows * R, keys.k(it), blocks, s);
    scoresOfRows<D, R>(dOTile, warp * kWarpRows * R, keys.v(it), blocks, dp);
    uint32_t ds[R][4][4];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      int64_t rows0 = row0 + 16 * r;
      bool masked =
          (causal && t0 + kTileRows - 1 > rows0) || t0 + kTileRows > seq;
      Edge edge(seq - t0, rows0 - t0);
      // P and dS: the masks' tests only on the tiles that need them (a
      // loop of its own for each, no per-element test on the rest).
      auto gradients = [&](auto masking) {
        constexpr bool kMasked = decltype(masking)::value;
#pragma unroll
        for (int j = 0; j < 8; ++j)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            bool ok = !kMasked || !edge.past(8 * j + 2 * t + e % 2,
                                             g + 8 * (e / 2), causal);
            float p = ok ? exp2Flushed(
                               fmaf(s[r][j][e], log2eScaled, -rowLse[r][e / 2]))
                         : 0.0f;
            s[r][j][e] = ok ? p * (dp[r][j][e] - rowDelta[r][e / 2]) : 0.0f;
          }
      };
      if (masked)
        gradients(std::true_type{});
      else
        gradients(std::false_type{});
      operandsOf(s[r], ds[r]);
    }
    accumulateRows<D, R>(ds, keys.k(it), blocks, dq);
    __syncthreads();
  }
  waitCopies<0>();
  // The K and V tiles are free now: the warps' staging rows (16 a warp,
  // one row block at a time).
  float *work =
      reinterpret_cast<float *>(keys.buffers) + warp * kWarpRows * kWorkLd<D>;
#pragma unroll
  for (int r = 0; r < R; ++r)
    writeRows<D>(dq[r], work, row0 + 16 * r, seq, b, layout.features(),
                 layout.q(h), rope, float(1 / sqrt(double(D))), dqkv);
#endif
}

/// dK/dV blocks an SM should hold: at D = 64 three (168 registers and 4
/// bytes of spills since the whole tiles' products run without branches;
/// before, 24 to 32 bytes; left alone ptxas takes 180 and holds two). (At
/// D = 128: 254 registers, one block.)
template <int D> constexpr int kGradKeyBlocksPerSm = D == 64 ? 3 : 1;

/// Backward, second kernel: a block per (64 keys, KV head, batch), 16 keys
/// a warp, its dK and dV in registers; the queries, dO, lse and delta of
/// every head of the group stream through two shared buffers a tile at a
/// time, in a fixed order: dV += P^T dO, dK += dS^T Q.
template <int D, typename T>
__global__ void __launch_bounds__(kBlock, (kGradKeyBlocksPerSm<D>))
    fa2GradKeyKernel(Rows q, Rows k, Rows v, Rows dO, int64_t seq,
                     int64_t padded, QKVLayout layout, int32_t causal,
                     const float2 *rope, const float *lse, const float *delta,
                     T *dqkv) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  extern __shared__ __align__(128) unsigned char shared[];
  int warp = threadIdx.x / 32, g = laneGroup(), t = laneThread();
  BlockPlace place = blockPlace(false);
  // (log2(e) times the scale Q still needs, 1 when packed: S's scaling
  // goes into the exponent, exact where the scale is a power of two)
  float log2eScaled = kLog2e * q.scale;
  int64_t kv = place.head, b = place.batch;
  int64_t first = place.tile * kTileRows, key0 = first + warp * kWarpRows;
  mma::Carver carve{shared};
  bf16 *kTile = carve.take<bf16>(tileBytes<D>());
  bf16 *vTile = carve.take<bf16>(tileBytes<D>());
  // Q and dO of buffer i: tiles 2i and 2i + 1; its lse and delta: rows 2i
  // and 2i + 1.
  bf16 *buffers = carve.take<bf16>(4 * tileBytes<D>());
  float *rowBuffers = carve.take<float>(4 * mma::kRowBytes);
  auto qTile = [&](int i) { return tileAt<D>(buffers, 2 * i); };
  auto dOTile = [&](int i) { return tileAt<D>(buffers, 2 * i + 1); };
  constexpr int rowStride = mma::kRowBytes / sizeof(float);
  auto lseRow = [&](int i) { return rowBuffers + 2 * i * rowStride; };
  auto deltaRow = [&](int i) { return rowBuffers + (2 * i + 1) * rowStride; };
  // Causal: the queries before the block's first key see none of its keys.
  int64_t firstQuery = causal ? first : 0;
  int perHead = int((seq - firstQuery + kTileRows - 1) / kTileRows);
  int tiles = int(layout.perGroup) * perHead;
  // copyStep starts copying the operands of step `it` (head it / perHead
  // of the group, query tile it % perHead) into buffer `to`, from the
  // group's first head at the first query row read: the queries and dO
  // from these pointers, lse and delta (packed rows, [batch, head,
  // padded]) from this offset.
  int64_t firstHead = kv * layout.perGroup;
  const bf16 *qAt = q.of(b, firstHead) + firstQuery * q.row,
             *dOAt = dO.of(b, firstHead) + firstQuery * dO.row;
  int64_t packedFrom =
      headRows(b, layout.heads, firstHead, padded) + firstQuery;
  auto copyStep = [&](int it, int to) {
    int head = it / perHead, tile = it % perHead;
    int left = rowsBefore(seq, firstQuery + int64_t(tile) * kTileRows);
    int64_t row = int64_t(tile) * kTileRows;
    copyTileAsync<D>(qAt + head * q.head + row * q.row, q.row, left, qTile(to));
    copyTileAsync<D>(dOAt + head * dO.head + row * dO.row, dO.row, left,
                     dOTile(to));
    int64_t packed = packedFrom + head * padded + row;
    copyRowsAsync(lse + packed, lseRow(to));
    copyRowsAsync(delta + packed, deltaRow(to));
  };
  int left = rowsBefore(seq, first);
  copyTileAsync<D>(k.of(b, kv) + first * k.row, k.row, left, kTile);
  copyTileAsync<D>(v.of(b, kv) + first * v.row, v.row, left, vTile);
  if (tiles > 0)
    copyStep(0, 0);
  commitCopies();

  float dk[D / 8][4], dv[D / 8][4];
#pragma unroll
  for (int n = 0; n < D / 8; ++n)
#pragma unroll
    for (int e = 0; e < 4; ++e)
      dk[n][e] = dv[n][e] = 0;
  for (int it = 0; it < tiles; ++it) {
    int at = it % 2;
    int64_t s0 = firstQuery + int64_t(it % perHead) * kTileRows;
    if (it + 1 < tiles)
      copyStep(it + 1, (it + 1) % 2);
    commitCopies();
    waitCopies<1>();
    __syncthreads();
    // Causal: the 16-query blocks before the warp's first key are all
    // masked (on the diagonal tile).
    int skipped = 0;
    if (causal && key0 > s0)
      skipped = int(min(int64_t(4), (key0 - s0) / 16));
    float s[8][4], dp[8][4];
    const float *lseAt = lseRow(at), *deltaAt = deltaRow(at);
    scoresOf<D>(kTile, warp * kWarpRows, qTile(at), skipped, 4, s);
    scoresOf<D>(vTile, warp * kWarpRows, dOTile(at), skipped, 4, dp);
    // Masked: the tiles where some query precedes some key (causal) or
    // the queries or keys pass the sequence's end (the skipped blocks are
    // before the diagonal).
    bool masked = (causal && s0 < key0 + kWarpRows - 1) ||
                  s0 + kTileRows > seq || key0 + kWarpRows > seq;
    Edge edge(seq - s0, s0 - key0);
    int keysLeft = int(min(seq - key0, int64_t(kWarpRows)));
    // P and dS for every element (P as the dQ kernel computes it from the
    // same score), then, on the tiles with masks, zeros where they mask
    // (whatever was computed there, a NaN of a row past the sequence
    // included): no test on the other tiles' elements.
#pragma unroll
    for (int j = 0; j < 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int c = 8 * j + 2 * t + e % 2;
        float p = exp2Flushed(fmaf(s[j][e], log2eScaled, -(lseAt[c] * kLog2e)));
        s[j][e] = p;
        dp[j][e] = p * (dp[j][e] - deltaAt[c]);
      }
    if (masked)
#pragma unroll
      for (int j = 0; j < 8; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          int c = 8 * j + 2 * t + e % 2, r = g + 8 * (e / 2);
          // (key r sees query c: c + s0 - key0 >= r, so Edge's "past" with
          // row and column swapped)
          if (!(r < keysLeft && !edge.pastColumn(c) &&
                !(causal && edge.ahead + c < r)))
            s[j][e] = dp[j][e] = 0.0f;
        }
    uint32_t pa[4][4], ds[4][4];
    operandsOf(s, pa);
    operandsOf(dp, ds);
    accumulate<D>(pa, dOTile(at), skipped, 4, dv);
    accumulate<D>(ds, qTile(at), skipped, 4, dk);
    __syncthreads();
  }
  waitCopies<0>();
  __syncthreads(); // (no step: the copies of K and V are waited for too)
  // The query buffers are free now: the warps' staging rows.
  float *work =
      reinterpret_cast<float *>(buffers) + warp * kWarpRows * kWorkLd<D>;
  int64_t f = layout.features();
  writeRows<D>(dk, work, key0, seq, b, f, layout.k(kv), rope, q.scale, dqkv);
  writeRows<D>(dv, work, key0, seq, b, f, layout.v(kv), nullptr, 1.0f, dqkv);
#endif
}

} // namespace axonn::cuda::fa2

#endif // AXONN_CUDA_ATTENTION_FA2_CUH
