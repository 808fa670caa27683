//===- attention_mma.cuh - the tensor-core attention kernels -*- CUDA -*-===//
//
// The device code of attention_mma.cu (which describes the algorithm):
// plain CUDA with WMMA, which unittests/AttentionMmaEmulationTest.cpp also
// compiles for the host against an emulation of the tensor-core and warp
// operations (runtime/check/cuda_emulation.h).
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_ATTENTION_MMA_CUH
#define AXONN_CUDA_ATTENTION_MMA_CUH

#include "elements.cuh"

#ifndef AXONN_CUDA_EMULATION
#include <cuda_bf16.h>
#include <mma.h>
#endif

namespace axonn::cuda::mma {

using bf16 = __nv_bfloat16;
namespace wmma = nvcuda::wmma;

constexpr int kTileRows = 64; // queries (keys) per block and per tile
constexpr int kWarpRows = 16; // rows of a warp
constexpr int kWarps = kTileRows / kWarpRows;
constexpr int kBlock = 32 * kWarps;
/// Row strides in shared memory, padded against bank conflicts (multiples
/// of 8 bf16 or 4 floats, as WMMA needs).
constexpr int kScoreLd = kTileRows + 4; // fp32 scores of a warp's rows
constexpr int kProbLd = kTileRows + 8;  // bf16 probabilities

template <int D> struct Dims {
  static constexpr int tileLd = D + 8; // bf16 tiles of 64 rows
  /// The fp32 work rows of a warp: O, dP, or a result on its way out.
  static constexpr int workLd = D + 4 > kScoreLd ? D + 4 : kScoreLd;
};

__host__ __device__ constexpr size_t aligned(size_t bytes) {
  return (bytes + 127) / 128 * 128;
}
template <int D> __host__ __device__ constexpr size_t tileBytes() {
  return aligned(size_t(kTileRows) * Dims<D>::tileLd * sizeof(bf16));
}
template <int D> __host__ __device__ constexpr size_t workBytes() {
  return aligned(size_t(kWarpRows) * Dims<D>::workLd * sizeof(float));
}
constexpr size_t kScoreBytes = aligned(kWarpRows * kScoreLd * sizeof(float));
constexpr size_t kProbBytes = aligned(kWarpRows * kProbLd * sizeof(bf16));
constexpr size_t kRowBytes = aligned(kTileRows * sizeof(float));
constexpr size_t kWarpRowBytes = aligned(kWarpRows * sizeof(float));

/// Dynamic shared memory of each kernel (the carving in the kernels takes
/// the pieces in this order).
template <int D> constexpr size_t forwardShared() {
  return 3 * tileBytes<D>() +
         kWarps * (kScoreBytes + workBytes<D>() + kProbBytes + kWarpRowBytes);
}
template <int D> constexpr size_t gradQueryShared() {
  return 4 * tileBytes<D>() +
         kWarps * (kScoreBytes + workBytes<D>() + kProbBytes);
}
template <int D> constexpr size_t gradKeyShared() {
  return 4 * tileBytes<D>() + 2 * kRowBytes +
         kWarps * (kScoreBytes + workBytes<D>() + 2 * kProbBytes);
}

/// Consecutive 128-byte aligned pieces of the dynamic shared memory.
struct Carver {
  unsigned char *at;
  template <typename T> __device__ T *take(size_t bytes) {
    T *p = reinterpret_cast<T *>(at);
    at += bytes;
    return p;
  }
};

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major>;
/// B given as rows of its transpose (the keys of S = Q K^T).
using FragBt =
    wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

/// The rotary embedding's cosines and sines: (cos, sin) of the angle of
/// position s and pair p at table[s * D/2 + p], computed in double as the
/// CPU backend computes them, once per call rather than per element.
/// (static: a kernel that is not a template, in a header)
static __global__ void ropeTableKernel(int64_t seq, int64_t d, double base,
                                       float2 *table) {
  GRID_STRIDE(e, seq * (d / 2)) {
    int64_t s = e / (d / 2), p = e % (d / 2);
    double angle = double(s) * pow(base, -2.0 * double(p) / double(d));
    table[e] = make_float2(float(cos(angle)), float(sin(angle)));
  }
}

/// Element i of a head vector (d elements at x) after rotate-half RoPE by
/// the table's row of its position (inverse: the transposed rotation); as
/// it is without a table.
template <typename T>
__device__ float rotatedBy(const T *x, int64_t i, int64_t d, const float2 *row,
                           bool inverse) {
  if (!row)
    return toFloat(x[i]);
  int64_t half = d / 2, p = i % half;
  float c = row[p].x, sn = inverse ? -row[p].y : row[p].y;
  float a = toFloat(x[p]), b = toFloat(x[p + half]);
  return i < half ? a * c - b * sn : b * c + a * sn;
}

/// The table's row of `position`, or null without rotary embedding.
__device__ __forceinline__ const float2 *ropeRow(const float2 *rope,
                                                 int64_t position, int64_t d) {
  return rope ? rope + position * (d / 2) : nullptr;
}

/// Eight consecutive elements from p, as fp32: in 16-byte pieces where p
/// is aligned for them, else one at a time.
template <typename T> __device__ void loadEight(const T *p, float (&out)[8]) {
  if (pieceAligned<8>(p)) {
    loadPiece(p, out);
  } else {
#pragma unroll
    for (int j = 0; j < 8; ++j)
      out[j] = toFloat(p[j]);
  }
}

/// Packs one part of qkv (or of dout) into [batch, heads, padded, D] bf16:
/// part 0 the queries (rotated, times `scale`), 1 the keys (rotated), 2 the
/// values, 3 dO (`src` is dout, [batch, seq, heads * D]). Rows past the
/// sequence are zeros. The grid's y and z are the head and the batch
/// entry, its x strides over the head's padded * D / 8 pieces of eight
/// elements (D a constant: no index division per element): each thread
/// reads a piece (and, rotated, the piece half a head away that pairs
/// with it) and writes eight bf16 in one 16-byte store.
template <int D, typename T>
__global__ void packKernel(const T *src, int part, int64_t seq, int64_t padded,
                           QKVLayout layout, const float2 *rope, float scale,
                           bf16 *dst) {
  static_assert(D % 16 == 0, "pieces of eight within each half of a head");
  constexpr int kPieces = D / 8, kHalf = D / 2;
  int64_t f = layout.features(), h = blockIdx.y, b = blockIdx.z;
  bf16 *head = dst + (b * gridDim.y + h) * padded * D;
  GRID_STRIDE(e, padded * kPieces) {
    int64_t s = e / kPieces;
    int i0 = int(e % kPieces) * 8;
    float v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (s < seq) {
      const T *x = part == 3 ? src + (b * seq + s) * layout.heads * D + h * D
                             : src + (b * seq + s) * f +
                                   (part == 0   ? layout.q(h)
                                    : part == 1 ? layout.k(h)
                                                : layout.v(h));
      const float2 *row = part < 2 ? ropeRow(rope, s, D) : nullptr;
      if (!row) {
        loadEight(x + i0, v);
      } else {
        // Rotate-half: element i pairs x[p] and x[p + half], p = i % half.
        int p0 = i0 % kHalf;
        float lo[8], hi[8];
        loadEight(x + p0, lo);
        loadEight(x + p0 + kHalf, hi);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          float c = row[p0 + j].x, sn = row[p0 + j].y;
          v[j] = i0 < kHalf ? lo[j] * c - hi[j] * sn : hi[j] * c + lo[j] * sn;
        }
      }
      if (part == 0)
#pragma unroll
        for (int j = 0; j < 8; ++j)
          v[j] *= scale;
    }
    // (bf16 as its bits: the storage type bf16 tensors have)
    storePiece(reinterpret_cast<uint16_t *>(head + s * D + i0), v);
  }
}

/// 64 packed rows (D each) into a shared tile (row stride tileLd), 16 bytes
/// a thread at a time. Every thread of the block calls it.
template <int D> __device__ void loadTile(const bf16 *src, bf16 *tile) {
  constexpr int pieces = D / 8;
  for (int e = threadIdx.x; e < kTileRows * pieces; e += kBlock) {
    int r = e / pieces, c = e % pieces;
    bf16 *to = tile + r * Dims<D>::tileLd + c * 8;
    const bf16 *from = src + int64_t(r) * D + c * 8;
    expectAligned<16>(to);
    expectAligned<16>(from);
    *reinterpret_cast<uint4 *>(to) = *reinterpret_cast<const uint4 *>(from);
  }
}

/// out (16 x 64 fp32, row stride ld) = a (16 rows of a tile) times the
/// transpose of `rows` (a 64-row tile), 16-column blocks `first` ...
/// `end` - 1 only (the caller masks the rest). One warp.
template <int D>
__device__ void productT(const bf16 *a, const bf16 *rows, int first, int end,
                         float *out, int ld) {
  // a's fragments stay in registers for every column block.
  FragA fa[D / 16];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
    wmma::load_matrix_sync(fa[kk], a + kk * 16, Dims<D>::tileLd);
  for (int n = first; n < end; ++n) {
    FragC c;
    wmma::fill_fragment(c, 0.0f);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      FragBt fb;
      wmma::load_matrix_sync(fb, rows + n * 16 * Dims<D>::tileLd + kk * 16,
                             Dims<D>::tileLd);
      wmma::mma_sync(c, fa[kk], fb, c);
    }
    wmma::store_matrix_sync(out + n * 16, c, ld, wmma::mem_row_major);
  }
}

/// acc (16 x D) += p (16 x 64 bf16, row stride kProbLd) times `rows` (a
/// 64-row tile), over its 16-row blocks `first` ... `end` - 1 (where p
/// is not all zeros). One warp.
template <int D>
__device__ void productAccumulate(const bf16 *p, const bf16 *rows, int first,
                                  int end, FragC (&acc)[D / 16]) {
  for (int kk = first; kk < end; ++kk) {
    FragA fa;
    wmma::load_matrix_sync(fa, p + kk * 16, kProbLd);
#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      FragB fb;
      wmma::load_matrix_sync(fb, rows + kk * 16 * Dims<D>::tileLd + n * 16,
                             Dims<D>::tileLd);
      wmma::mma_sync(acc[n], fa, fb, acc[n]);
    }
  }
}

/// The row (of a warp's 16) and column parity a lane owns.
__device__ __forceinline__ int ownRow() { return threadIdx.x % 32 % 16; }
__device__ __forceinline__ int ownParity() { return threadIdx.x % 32 / 16; }

/// The running softmax of a lane's row: its maximum and sum so far.
struct RowSoftmax {
  float max = -INFINITY, sum = 0;
};

/// One tile of the online softmax of a warp's rows: the scores of row
/// `row` (the lane's) against keys t0 ... t0 + 63 (masked past the sequence
/// and, causal, past the row) become probabilities (bf16, relative to the
/// new running maximum) in `probs`; returns the factor that rescales what
/// was accumulated before.
__device__ float softmaxTile(const float *scores, bf16 *probs, int64_t row,
                             int64_t t0, int64_t seq, bool causal,
                             RowSoftmax &state) {
  int r = ownRow(), parity = ownParity();
  float s[kTileRows / 2], top = -INFINITY;
#pragma unroll
  for (int j = 0; j < kTileRows / 2; ++j) {
    int c = parity + 2 * j;
    int64_t t = t0 + c;
    bool ok = t < seq && (!causal || t <= row);
    s[j] = ok ? scores[r * kScoreLd + c] : -INFINITY;
    top = fmaxf(top, s[j]);
  }
  top = fmaxf(top, __shfl_xor_sync(0xffffffffu, top, 16));
  float next = fmaxf(state.max, top);
  float shift = next == -INFINITY ? 0.0f : next;
  float sum = 0;
#pragma unroll
  for (int j = 0; j < kTileRows / 2; ++j) {
    bf16 p = __float2bfloat16_rn(exp2f((s[j] - shift) * kLog2e));
    probs[r * kProbLd + parity + 2 * j] = p;
    sum += __bfloat162float(p);
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 16);
  float correction = exp2f((state.max - shift) * kLog2e);
  state.sum = state.sum * correction + sum;
  state.max = next;
  return correction;
}

/// K and V rows t0 ... t0 + 63 into their tiles, between barriers (every
/// thread of the block calls it).
template <int D>
__device__ void loadKeyValueTiles(const bf16 *kHead, const bf16 *vHead,
                                  int64_t t0, bf16 *kTile, bf16 *vTile) {
  __syncthreads();
  loadTile<D>(kHead + t0 * D, kTile);
  loadTile<D>(vHead + t0 * D, vTile);
  __syncthreads();
}

/// The 16-key blocks of the tile at t0 that a warp's rows from row0 see:
/// causal, the blocks past its last row are all masked.
__device__ __forceinline__ int visibleBlocks(int64_t row0, int64_t t0,
                                             bool causal) {
  int blocks = kTileRows / 16;
  return causal ? min(blocks, int((row0 + kWarpRows - 1 - t0) / 16) + 1)
                : blocks;
}

/// The forward over keys 0 ... keyEnd - 1 for a warp's 16 query rows from
/// `row0` (their tile rows `q`): leaves the unnormalized output in `out`
/// (16 x D, row stride workLd) and the lane's row statistics in `state`.
/// Every thread of the block calls it (it loads the K and V tiles).
template <int D>
__device__ void
forwardRows(const bf16 *q, const bf16 *kHead, const bf16 *vHead, bf16 *kTile,
            bf16 *vTile, int64_t row0, int64_t keyEnd, int64_t seq, bool causal,
            float *scores, bf16 *probs, float *out, RowSoftmax &state) {
  constexpr int ld = Dims<D>::workLd;
  int r = ownRow(), parity = ownParity();
  for (int c = parity; c < D; c += 2)
    out[r * ld + c] = 0;
  for (int64_t t0 = 0; t0 < keyEnd; t0 += kTileRows) {
    loadKeyValueTiles<D>(kHead, vHead, t0, kTile, vTile);
    int blocks = visibleBlocks(row0, t0, causal);
    productT<D>(q, kTile, 0, blocks, scores, kScoreLd);
    __syncwarp();
    float correction =
        softmaxTile(scores, probs, row0 + r, t0, seq, causal, state);
    for (int c = parity; c < D; c += 2)
      out[r * ld + c] *= correction;
    __syncwarp();
    FragC o[D / 16];
#pragma unroll
    for (int n = 0; n < D / 16; ++n)
      wmma::load_matrix_sync(o[n], out + n * 16, ld, wmma::mem_row_major);
    productAccumulate<D>(probs, vTile, 0, blocks, o);
#pragma unroll
    for (int n = 0; n < D / 16; ++n)
      wmma::store_matrix_sync(out + n * 16, o[n], ld, wmma::mem_row_major);
    __syncwarp();
  }
}

/// Packed row offsets of head h (of `heads`) of batch b.
__device__ __forceinline__ int64_t headRows(int64_t b, int64_t heads, int64_t h,
                                            int64_t padded) {
  return (b * heads + h) * padded;
}

/// Forward: a block per (64 queries, head, batch). Writes out [batch, seq,
/// heads * D] in the storage type T and, if lse is not null, each row's
/// log-sum-exp into lse [batch, seq, heads].
template <int D, typename T>
__global__ void __launch_bounds__(kBlock)
    mmaForwardKernel(const bf16 *q, const bf16 *k, const bf16 *v, int64_t seq,
                     int64_t padded, QKVLayout layout, int32_t causal, T *out,
                     float *lse) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  extern __shared__ __align__(128) unsigned char shared[];
  constexpr int ld = Dims<D>::workLd;
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int64_t h = blockIdx.y, b = blockIdx.z, g = layout.group(h);
  int64_t first = int64_t(blockIdx.x) * kTileRows,
          row0 = first + warp * kWarpRows;
  Carver carve{shared};
  bf16 *qTile = carve.take<bf16>(tileBytes<D>());
  bf16 *kTile = carve.take<bf16>(tileBytes<D>());
  bf16 *vTile = carve.take<bf16>(tileBytes<D>());
  carve.at +=
      warp * (kScoreBytes + workBytes<D>() + kProbBytes + kWarpRowBytes);
  float *scores = carve.take<float>(kScoreBytes);
  float *work = carve.take<float>(workBytes<D>());
  bf16 *probs = carve.take<bf16>(kProbBytes);
  float *inverse = carve.take<float>(kWarpRowBytes);

  loadTile<D>(q + (headRows(b, layout.heads, h, padded) + first) * D, qTile);
  int64_t keyEnd = causal && first + kTileRows < seq ? first + kTileRows : seq;
  RowSoftmax state;
  forwardRows<D>(qTile + warp * kWarpRows * Dims<D>::tileLd,
                 k + headRows(b, layout.kvHeads, g, padded) * D,
                 v + headRows(b, layout.kvHeads, g, padded) * D, kTile, vTile,
                 row0, keyEnd, seq, causal, scores, probs, work, state);
  if (ownParity() == 0) {
    inverse[ownRow()] = 1 / state.sum;
    int64_t s = row0 + ownRow();
    if (lse && s < seq)
      lse[(b * seq + s) * layout.heads + h] = state.max + logf(state.sum);
  }
  __syncwarp();
  for (int e = lane; e < kWarpRows * D; e += 32) {
    int r = e / D, i = e % D;
    int64_t s = row0 + r;
    if (s < seq)
      store(out[(b * seq + s) * layout.heads * D + h * D + i],
            work[r * ld + i] * inverse[r]);
  }
#endif
}

/// A warp's 16 result rows staged in `work` (row stride ld) out to dqkv:
/// rows row0 ... before seq, column `offset`, times `scale`, rotated back
/// by the RoPE table (null: as they are). One warp, after a __syncwarp
/// since the staging.
template <int D, typename T>
__device__ void storeStagedRows(const float *work, int ld, int64_t row0,
                                int64_t seq, int64_t b, int64_t f,
                                int64_t offset, const float2 *rope, float scale,
                                T *dqkv) {
  // Eight consecutive elements a lane (one or two 16-byte stores where the
  // destination is aligned for them, where one element a lane took eight
  // 2- or 4-byte stores), in the same half of the row for the rotation
  // (D / 2 is a multiple of 8).
  constexpr int N = 8, pieces = D / N;
  static_assert(D % 16 == 0, "a row's halves in whole pieces");
  for (int e = threadIdx.x % 32; e < kWarpRows * pieces; e += 32) {
    int r = e / pieces, i0 = e % pieces * N;
    int64_t s = row0 + r;
    if (s >= seq)
      continue;
    const float2 *rotation = ropeRow(rope, s, D);
    float v[N];
#pragma unroll
    for (int j = 0; j < N; ++j)
      v[j] = rotatedBy(work + r * ld, i0 + j, D, rotation, true) * scale;
    T *dst = dqkv + (b * seq + s) * f + offset + i0;
    if (pieceAligned<N>(dst)) {
      storePiece(dst, v);
    } else {
#pragma unroll
      for (int j = 0; j < N; ++j)
        store(dst[j], v[j]);
    }
  }
}

/// Writes a warp's 16 result rows, held in `acc`, into column `offset` of
/// dqkv (rows from row0, those before seq): times `scale`, and rotated back
/// by the RoPE table (null: as they are). `work` (16 x D, row stride
/// workLd) stages them. One warp.
template <int D, typename T>
__device__ void writeResult(const FragC (&acc)[D / 16], float *work,
                            int64_t row0, int64_t seq, int64_t b, int64_t f,
                            int64_t offset, const float2 *rope, float scale,
                            T *dqkv) {
  constexpr int ld = Dims<D>::workLd;
  __syncwarp(); // every lane is done reading `work`
#pragma unroll
  for (int n = 0; n < D / 16; ++n)
    wmma::store_matrix_sync(work + n * 16, acc[n], ld, wmma::mem_row_major);
  __syncwarp();
  storeStagedRows<D>(work, ld, row0, seq, b, f, offset, rope, scale, dqkv);
}

/// Backward, before the two kernels: each row's statistics in the packed
/// order [batch, heads, padded], from the forward's: lse (from lse [batch,
/// seq, heads]) and delta = dO . O (from dout and out [batch, seq, heads *
/// D], in fp32). A warp per row; rows past the sequence get zeros.
template <int D, typename T>
__global__ void rowStatsKernel(const T *dout, const T *out, const float *lse,
                               int64_t batch, int64_t seq, int64_t padded,
                               int64_t heads, float *lsePacked,
                               float *deltaPacked) {
  int lane = threadIdx.x % 32;
  int64_t warps = int64_t(gridDim.x) * (blockDim.x / 32);
  for (int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
       row < batch * heads * padded; row += warps) {
    int64_t s = row % padded, h = row / padded % heads,
            b = row / padded / heads;
    float dot = 0, rowLse = 0;
    if (s < seq) {
      const T *o = out + (b * seq + s) * heads * D + h * D;
      const T *dO = dout + (b * seq + s) * heads * D + h * D;
#pragma unroll
      for (int i = lane; i < D; i += 32)
        dot += toFloat(dO[i]) * toFloat(o[i]);
      rowLse = lse[(b * seq + s) * heads + h];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
      dot += __shfl_xor_sync(0xffffffffu, dot, o);
    if (lane == 0) {
      lsePacked[row] = rowLse;
      deltaPacked[row] = dot;
    }
  }
}

/// Backward, first kernel: a block per (64 queries, head, batch): dQ = sum
/// over keys of dS K, dS = P (dO . v - delta), with P from the forward's
/// log-sum-exp (lse and delta packed by rowStatsKernel), written (times
/// 1/sqrt(D), rotated back) into dqkv.
template <int D, typename T>
__global__ void __launch_bounds__(kBlock)
    mmaGradQueryKernel(const bf16 *q, const bf16 *k, const bf16 *v,
                       const bf16 *dO, int64_t seq, int64_t padded,
                       QKVLayout layout, int32_t causal, const float2 *rope,
                       const float *lse, const float *delta, T *dqkv) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  extern __shared__ __align__(128) unsigned char shared[];
  constexpr int ld = Dims<D>::workLd, tileLd = Dims<D>::tileLd;
  int warp = threadIdx.x / 32;
  int r = ownRow(), parity = ownParity();
  int64_t h = blockIdx.y, b = blockIdx.z, g = layout.group(h);
  int64_t first = int64_t(blockIdx.x) * kTileRows,
          row0 = first + warp * kWarpRows, row = row0 + r;
  Carver carve{shared};
  bf16 *qTile = carve.take<bf16>(tileBytes<D>());
  bf16 *dOTile = carve.take<bf16>(tileBytes<D>());
  bf16 *kTile = carve.take<bf16>(tileBytes<D>());
  bf16 *vTile = carve.take<bf16>(tileBytes<D>());
  carve.at += warp * (kScoreBytes + workBytes<D>() + kProbBytes);
  float *scores = carve.take<float>(kScoreBytes);
  float *work = carve.take<float>(workBytes<D>());
  bf16 *probs = carve.take<bf16>(kProbBytes);

  int64_t queryRows = headRows(b, layout.heads, h, padded);
  const bf16 *kHead = k + headRows(b, layout.kvHeads, g, padded) * D;
  const bf16 *vHead = v + headRows(b, layout.kvHeads, g, padded) * D;
  loadTile<D>(q + (queryRows + first) * D, qTile);
  loadTile<D>(dO + (queryRows + first) * D, dOTile);
  const bf16 *qRows = qTile + warp * kWarpRows * tileLd;
  const bf16 *dORows = dOTile + warp * kWarpRows * tileLd;
  int64_t keyEnd = causal && first + kTileRows < seq ? first + kTileRows : seq;
  float rowLse = lse[queryRows + row], rowDelta = delta[queryRows + row];

  FragC dq[D / 16];
#pragma unroll
  for (int n = 0; n < D / 16; ++n)
    wmma::fill_fragment(dq[n], 0.0f);
  for (int64_t t0 = 0; t0 < keyEnd; t0 += kTileRows) {
    loadKeyValueTiles<D>(kHead, vHead, t0, kTile, vTile);
    int blocks = visibleBlocks(row0, t0, causal);
    productT<D>(qRows, kTile, 0, blocks, scores, kScoreLd);
    productT<D>(dORows, vTile, 0, blocks, work, ld);
    __syncwarp();
#pragma unroll 8
    for (int j = 0; j < kTileRows / 2; ++j) {
      int c = parity + 2 * j;
      int64_t t = t0 + c;
      bool ok = t < seq && (!causal || t <= row);
      float p = ok ? exp2f((scores[r * kScoreLd + c] - rowLse) * kLog2e) : 0;
      probs[r * kProbLd + c] =
          __float2bfloat16_rn(ok ? p * (work[r * ld + c] - rowDelta) : 0.0f);
    }
    __syncwarp();
    productAccumulate<D>(probs, kTile, 0, blocks, dq);
  }
  writeResult<D>(dq, work, row0, seq, b, layout.features(), layout.q(h), rope,
                 float(1 / sqrt(double(D))), dqkv);
#endif
}

/// Backward, second kernel: a block per (64 keys, KV head, batch), 16 keys
/// a warp, its dK and dV in fragments; the queries and dO of every head of
/// the group stream through shared memory a tile at a time, in a fixed
/// order: dV += P^T dO, dK += dS^T Q (Q packed times 1/sqrt(D)), with P and
/// dS from the packed lse and delta.
template <int D, typename T>
__global__ void __launch_bounds__(kBlock)
    mmaGradKeyKernel(const bf16 *q, const bf16 *k, const bf16 *v,
                     const bf16 *dO, int64_t seq, int64_t padded,
                     QKVLayout layout, int32_t causal, const float2 *rope,
                     const float *lse, const float *delta, T *dqkv) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  extern __shared__ __align__(128) unsigned char shared[];
  constexpr int ld = Dims<D>::workLd, tileLd = Dims<D>::tileLd;
  int warp = threadIdx.x / 32;
  int r = ownRow(), parity = ownParity();
  int64_t g = blockIdx.y, b = blockIdx.z;
  int64_t first = int64_t(blockIdx.x) * kTileRows,
          key0 = first + warp * kWarpRows, key = key0 + r;
  Carver carve{shared};
  bf16 *kTile = carve.take<bf16>(tileBytes<D>());
  bf16 *vTile = carve.take<bf16>(tileBytes<D>());
  bf16 *qTile = carve.take<bf16>(tileBytes<D>());
  bf16 *dOTile = carve.take<bf16>(tileBytes<D>());
  float *lseTile = carve.take<float>(kRowBytes);
  float *deltaTile = carve.take<float>(kRowBytes);
  carve.at += warp * (kScoreBytes + workBytes<D>() + 2 * kProbBytes);
  float *scores = carve.take<float>(kScoreBytes);
  float *work = carve.take<float>(workBytes<D>());
  bf16 *probs = carve.take<bf16>(kProbBytes);
  bf16 *grads = carve.take<bf16>(kProbBytes);

  int64_t keyRows = headRows(b, layout.kvHeads, g, padded) + first;
  loadTile<D>(k + keyRows * D, kTile);
  loadTile<D>(v + keyRows * D, vTile);
  const bf16 *kRows = kTile + warp * kWarpRows * tileLd;
  const bf16 *vRows = vTile + warp * kWarpRows * tileLd;
  FragC dk[D / 16], dv[D / 16];
#pragma unroll
  for (int n = 0; n < D / 16; ++n) {
    wmma::fill_fragment(dk[n], 0.0f);
    wmma::fill_fragment(dv[n], 0.0f);
  }
  // Causal: the queries before the block's first key see none of its keys.
  int64_t firstQuery = causal ? first : 0;
  for (int64_t j = 0; j < layout.perGroup; ++j) {
    int64_t h = g * layout.perGroup + j;
    int64_t queryRows = headRows(b, layout.heads, h, padded);
    for (int64_t s0 = firstQuery; s0 < seq; s0 += kTileRows) {
      __syncthreads();
      loadTile<D>(q + (queryRows + s0) * D, qTile);
      loadTile<D>(dO + (queryRows + s0) * D, dOTile);
      for (int e = threadIdx.x; e < kTileRows; e += kBlock) {
        lseTile[e] = lse[queryRows + s0 + e];
        deltaTile[e] = delta[queryRows + s0 + e];
      }
      __syncthreads();
      // Causal: the 16-query blocks before the warp's first key are all
      // masked (on the diagonal tile).
      int blocks = kTileRows / 16, skipped = 0;
      if (causal && key0 > s0)
        skipped = min(blocks, int((key0 - s0) / 16));
      productT<D>(kRows, qTile, skipped, blocks, scores, kScoreLd);
      productT<D>(vRows, dOTile, skipped, blocks, work, ld);
      __syncwarp();
#pragma unroll 8
      for (int jj = 0; jj < kTileRows / 2; ++jj) {
        int c = parity + 2 * jj;
        int64_t s = s0 + c;
        bool ok = s < seq && key < seq && (!causal || s >= key);
        float p =
            ok ? exp2f((scores[r * kScoreLd + c] - lseTile[c]) * kLog2e) : 0.0f;
        probs[r * kProbLd + c] = __float2bfloat16_rn(p);
        grads[r * kProbLd + c] = __float2bfloat16_rn(
            ok ? p * (work[r * ld + c] - deltaTile[c]) : 0.0f);
      }
      __syncwarp();
      productAccumulate<D>(probs, dOTile, skipped, blocks, dv);
      productAccumulate<D>(grads, qTile, skipped, blocks, dk);
    }
  }
  int64_t f = layout.features();
  writeResult<D>(dk, work, key0, seq, b, f, layout.k(g), rope, 1.0f, dqkv);
  writeResult<D>(dv, work, key0, seq, b, f, layout.v(g), nullptr, 1.0f, dqkv);
#endif
}

/// The sequence length padded to whole tiles.
inline int64_t paddedLength(int64_t seq) {
  return (seq + kTileRows - 1) / kTileRows * kTileRows;
}

} // namespace axonn::cuda::mma

#endif // AXONN_CUDA_ATTENTION_MMA_CUH
