//===- AttentionMmaEmulationTest.cpp - tensor-core attention on the CPU ---===//
//
// Runs the CUDA backend's tensor-core attention kernels, both sets (the
// mma.sync kernels of runtime/cuda/attention_fa2.cuh and the WMMA kernels
// of attention_mma.cuh), on the CPU through an emulation of the
// tensor-core, warp and asynchronous-copy operations
// (runtime/check/cuda_emulation.h), in the order attention_mma.cu launches
// them, and compares their results with the CPU backend's attention. Their
// operands are bf16, so the tolerance is the kernel check's for bf16: 1e-2 of
// the largest reference magnitude.
//
// This checks the kernels' indexing, tiling, masking (causal, the padded
// sequence), grouped heads, RoPE and the barriers they need, on machines
// without a GPU; the kernel check (axonn-rt-cuda-check) checks them on one.
//
//===----------------------------------------------------------------------===//

#include "../runtime/check/cuda_emulation.h"
#include "../runtime/cuda/attention_fa2.cuh"

#include "TestRuntime.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

// Each kernel set's `extern __shared__` array (one block runs at a time).
namespace axonn::cuda::mma {
alignas(128) unsigned char shared[256 * 1024];
} // namespace axonn::cuda::mma
namespace axonn::cuda::fa2 {
alignas(128) unsigned char shared[256 * 1024];
} // namespace axonn::cuda::fa2

namespace {

using namespace axonn::cuda::mma;
using axonn::QKVLayout;
using axonn::emulation::launch;

/// The WMMA kernels (AXONN_ATTENTION=wmma) and the mma.sync ones (the
/// default), with their dynamic shared memory.
template <int D, typename T> struct Wmma {
  static constexpr bool mmaSync = false;
  static constexpr auto forward = mmaForwardKernel<D, T>;
  static constexpr int queriesPerBlock = kTileRows;
  static constexpr auto gradQuery = mmaGradQueryKernel<D, T>;
  static constexpr auto gradKey = mmaGradKeyKernel<D, T>;
  static constexpr size_t shared =
      std::max({forwardShared<D>(), gradQueryShared<D>(), gradKeyShared<D>()});
  /// (the tiles fastest)
  static Dim3 grid(int64_t tiles, int64_t heads, int64_t batch) {
    return {unsigned(tiles), unsigned(heads), unsigned(batch)};
  }
};
/// (R: the forward's row blocks of 16 queries a warp, AXONN_ATTENTION_ROWS)
template <int D, typename T, int R> struct Fa2Rows {
  static constexpr bool mmaSync = true;
  static constexpr auto forward = axonn::cuda::fa2::fa2ForwardKernel<D, R, T>;
  static constexpr int queriesPerBlock = kTileRows * R;
  static constexpr auto gradQuery =
      axonn::cuda::fa2::fa2GradQueryKernel<D, R, T>;
  static constexpr auto gradKey = axonn::cuda::fa2::fa2GradKeyKernel<D, T>;
  static constexpr size_t shared =
      std::max({axonn::cuda::fa2::forwardShared<D, R>(),
                axonn::cuda::fa2::gradQueryShared<D, R>(),
                axonn::cuda::fa2::gradKeyShared<D>()});
  /// (the tiles slowest: attention_fa2.cuh's blockPlace)
  static Dim3 grid(int64_t tiles, int64_t heads, int64_t batch) {
    return {unsigned(heads), unsigned(batch), unsigned(tiles)};
  }
};
template <int D, typename T> using Fa2 = Fa2Rows<D, T, 1>;
template <int D, typename T> using Fa2TwoRowBlocks = Fa2Rows<D, T, 2>;

struct Shape {
  int64_t batch, seq, heads, kvHeads, dim;
  int32_t causal;
  double ropeBase;
};

std::string describe(const Shape &s) {
  return "batch " + std::to_string(s.batch) + ", seq " + std::to_string(s.seq) +
         ", " + std::to_string(s.heads) + "/" + std::to_string(s.kvHeads) +
         " heads of " + std::to_string(s.dim) +
         (s.causal ? ", causal" : ", full") + (s.ropeBase > 0 ? ", rope" : "");
}

std::vector<float> random(size_t n, double scale, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = float(normal(rng));
  return v;
}

/// max |got - want| / max |want|.
double relativeDifference(const std::vector<float> &got,
                          const std::vector<float> &want) {
  double most = 0, worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    most = std::max(most, double(std::fabs(want[i])));
    worst = std::max(worst, double(std::fabs(got[i] - want[i])));
  }
  return most > 0 ? worst / most : worst;
}

/// The packed operands, as attention_mma.cu lays them out, and the rotary
/// table.
struct Packed {
  std::vector<bf16> q, k, v, dO;
  std::vector<float> lse, delta;
  std::vector<float2> table;
  const float2 *rope() const { return table.empty() ? nullptr : table.data(); }
};

template <int D, typename T>
Packed pack(const Shape &s, const std::vector<T> &qkv,
            const std::vector<T> *dout) {
  QKVLayout layout(s.heads, s.kvHeads, s.dim);
  int64_t padded = paddedLength(s.seq);
  Packed p;
  p.q.resize(size_t(s.batch * s.heads * padded * s.dim));
  p.k.resize(size_t(s.batch * s.kvHeads * padded * s.dim));
  p.v.resize(p.k.size());
  float scale = float(1 / std::sqrt(double(s.dim)));
  if (s.ropeBase > 0) {
    p.table.resize(size_t(s.seq * (s.dim / 2)));
    launch(ropeTableKernel, {1, 1, 1}, 256, s.seq, s.dim, s.ropeBase,
           p.table.data());
  }
  for (auto [part, dst] :
       {std::pair<int, std::vector<bf16> *>{0, &p.q}, {1, &p.k}, {2, &p.v}})
    launch(packKernel<D, T>,
           {1, unsigned(part == 0 ? s.heads : s.kvHeads), unsigned(s.batch)},
           256, qkv.data(), part, s.seq, padded, layout, p.rope(),
           part == 0 ? scale : 1.0f, dst->data());
  if (dout) {
    p.dO.resize(p.q.size());
    launch(packKernel<D, T>, {1, unsigned(s.heads), unsigned(s.batch)}, 256,
           dout->data(), 3, s.seq, padded, layout, p.rope(), 1.0f, p.dO.data());
    p.lse.resize(size_t(s.batch * s.heads * padded));
    p.delta.resize(p.lse.size());
  }
  return p;
}

/// The forward's output and each row's log-sum-exp ([batch, seq, heads]).
template <typename T> struct Forward {
  std::vector<T> out;
  std::vector<float> lse;
};

/// A copy of `v` followed by `rows` rows of `width` NaNs: the mma.sync
/// kernels read K, V and dO in place in bf16 storage, and must read the
/// rows past the sequence as zeros, not from memory (past the last batch
/// entry, past the array).
template <typename T>
std::vector<T> withNaNRows(const std::vector<T> &v, int64_t rows,
                           int64_t width) {
  T nan;
  if constexpr (std::is_same_v<T, axonn_bf16>)
    nan = axonn_bf16{0x7FC0};
  else
    nan = T(NAN);
  std::vector<T> out(v);
  out.resize(v.size() + size_t(rows * width), nan);
  return out;
}

/// (direct: the mma.sync kernels read in place what attention_mma.cu lets
/// them, fa2::operandsOf; else every operand packed. shift: the output is
/// written `shift` elements into its array, and returned without them)
template <int D, template <int, typename> class Kernels, typename T>
Forward<T> forwardOn(const Shape &s, const std::vector<T> &qkv,
                     bool direct = true, int shift = 0) {
  static_assert(Kernels<D, T>::shared <= sizeof(shared));
  QKVLayout layout(s.heads, s.kvHeads, s.dim);
  int64_t padded = paddedLength(s.seq);
  Packed p = pack<D, T>(s, qkv, nullptr);
  Forward<T> f;
  f.out.resize(size_t(s.batch * s.seq * s.heads * s.dim + shift));
  T *out = f.out.data() + shift;
  f.lse.assign(size_t(s.batch * s.seq * s.heads), float(NAN));
  constexpr int queries = Kernels<D, T>::queriesPerBlock;
  Dim3 grid =
      Kernels<D, T>::grid((padded + queries - 1) / queries, s.heads, s.batch);
  if constexpr (Kernels<D, T>::mmaSync) {
    // (the operands as attention_mma.cu gives them)
    std::vector<T> x = withNaNRows(qkv, 2 * kTileRows, layout.features());
    axonn::cuda::fa2::Operands o = axonn::cuda::fa2::operandsOf<D>(
        p.q.data(), p.k.data(), p.v.data(), nullptr, x.data(),
        static_cast<const T *>(nullptr), s.seq, layout, p.rope() != nullptr,
        direct);
    // (bf16 storage: V in place at least, or the tests of it test nothing)
    if (std::is_same_v<T, axonn_bf16> && direct) {
      EXPECT_FALSE(o.packV) << "V read in place";
    }
    launch(Kernels<D, T>::forward, grid, kBlock, o.q, o.k, o.v, s.seq, layout,
           s.causal, out, f.lse.data());
  } else {
    launch(Kernels<D, T>::forward, grid, kBlock,
           static_cast<const bf16 *>(p.q.data()),
           static_cast<const bf16 *>(p.k.data()),
           static_cast<const bf16 *>(p.v.data()), s.seq, padded, layout,
           s.causal, out, f.lse.data());
  }
  f.out.erase(f.out.begin(), f.out.begin() + shift);
  return f;
}

/// The backward from the forward's results, as attention_mma.cu runs it
/// (shift: as forwardOn's, for dqkv).
template <int D, template <int, typename> class Kernels, typename T>
std::vector<T> backwardOn(const Shape &s, const std::vector<T> &qkv,
                          const std::vector<T> &dout, const Forward<T> &fwd,
                          T poison, bool direct = true, int shift = 0) {
  QKVLayout layout(s.heads, s.kvHeads, s.dim);
  int64_t padded = paddedLength(s.seq);
  Packed p = pack<D>(s, qkv, &dout);
  // Poison: every element the kernels leave alone keeps it.
  std::vector<T> results(qkv.size() + shift, poison);
  T *dqkv = results.data() + shift;
  unsigned tiles = unsigned(padded / kTileRows);
  int64_t rows = s.batch * s.heads * padded;
  launch(rowStatsKernel<D, T>, {unsigned((rows + 7) / 8), 1, 1}, 256,
         dout.data(), fwd.out.data(), fwd.lse.data(), s.batch, s.seq, padded,
         s.heads, p.lse.data(), p.delta.data());
  constexpr int queries = Kernels<D, T>::queriesPerBlock;
  Dim3 queryGrid =
      Kernels<D, T>::grid((padded + queries - 1) / queries, s.heads, s.batch);
  Dim3 keyGrid = Kernels<D, T>::grid(tiles, s.kvHeads, s.batch);
  const float *lse = p.lse.data(), *delta = p.delta.data();
  if constexpr (Kernels<D, T>::mmaSync) {
    std::vector<T> x = withNaNRows(qkv, 2 * kTileRows, layout.features());
    std::vector<T> dO = withNaNRows(dout, 2 * kTileRows, s.heads * s.dim);
    axonn::cuda::fa2::Operands o = axonn::cuda::fa2::operandsOf<D>(
        p.q.data(), p.k.data(), p.v.data(), p.dO.data(), x.data(), dO.data(),
        s.seq, layout, p.rope() != nullptr, direct);
    if (std::is_same_v<T, axonn_bf16> && direct) {
      EXPECT_FALSE(o.packV || o.packDO) << "V and dO read in place";
    }
    launch(Kernels<D, T>::gradQuery, queryGrid, kBlock, o.q, o.k, o.v, o.dO,
           s.seq, padded, layout, s.causal, p.rope(), lse, delta, dqkv);
    launch(Kernels<D, T>::gradKey, keyGrid, kBlock, o.q, o.k, o.v, o.dO, s.seq,
           padded, layout, s.causal, p.rope(), lse, delta, dqkv);
  } else {
    const bf16 *q = p.q.data(), *k = p.k.data(), *v = p.v.data(),
               *dO = p.dO.data();
    launch(Kernels<D, T>::gradQuery, queryGrid, kBlock, q, k, v, dO, s.seq,
           padded, layout, s.causal, p.rope(), lse, delta, dqkv);
    launch(Kernels<D, T>::gradKey, keyGrid, kBlock, q, k, v, dO, s.seq, padded,
           layout, s.causal, p.rope(), lse, delta, dqkv);
  }
  results.erase(results.begin(), results.begin() + shift);
  return results;
}

std::vector<float> widened(const std::vector<axonn_bf16> &v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = axonn_bf16_to_float(v[i]);
  return out;
}

std::vector<axonn_bf16> narrowed(const std::vector<float> &v) {
  std::vector<axonn_bf16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = axonn_bf16_from_float(v[i]);
  return out;
}

/// One kernel set against the CPU backend for one shape: fp32 storage, or
/// bf16 storage (against the CPU's bf16 attention).
template <int D, template <int, typename> class Kernels>
void checkKernels(const Shape &s, bool bf16Storage, const char *name) {
  SCOPED_TRACE(std::string(name) + ", " + describe(s) +
               (bf16Storage ? ", bf16 storage" : ""));
  ASSERT_EQ(s.dim, D);
  int64_t f = (s.heads + 2 * s.kvHeads) * s.dim;
  auto qkv = random(size_t(s.batch * s.seq * f), 0.5, 11 + s.seq);
  auto dout = random(size_t(s.batch * s.seq * s.heads * s.dim), 1.0, 7);
  axonn_rt *rt = testRuntime();
  ASSERT_NE(rt, nullptr);
  std::vector<float> want, wantGrad, got, gotGrad, gotLse;
  std::vector<float> wantLse(size_t(s.batch * s.seq * s.heads));
  if (!bf16Storage) {
    want.resize(dout.size());
    wantGrad.resize(qkv.size());
    ASSERT_EQ(axonn_rt_attention(rt, qkv.data(), s.batch, s.seq, s.heads,
                                 s.kvHeads, s.dim, s.causal, s.ropeBase,
                                 want.data(), wantLse.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_attention_grad(rt, dout.data(), qkv.data(), want.data(),
                                      wantLse.data(), s.batch, s.seq, s.heads,
                                      s.kvHeads, s.dim, s.causal, s.ropeBase,
                                      wantGrad.data()),
              AXONN_OK);
    Forward<float> fwd = forwardOn<D, Kernels>(s, qkv);
    got = fwd.out;
    gotLse = fwd.lse;
    gotGrad = backwardOn<D, Kernels>(s, qkv, dout, fwd, float(NAN));
  } else {
    auto q16 = narrowed(qkv), d16 = narrowed(dout);
    std::vector<axonn_bf16> o16(dout.size()), g16(qkv.size());
    ASSERT_EQ(axonn_rt_attention_bf16(rt, q16.data(), s.batch, s.seq, s.heads,
                                      s.kvHeads, s.dim, s.causal, s.ropeBase,
                                      o16.data(), wantLse.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_attention_grad_bf16(rt, d16.data(), q16.data(),
                                           o16.data(), wantLse.data(), s.batch,
                                           s.seq, s.heads, s.kvHeads, s.dim,
                                           s.causal, s.ropeBase, g16.data()),
              AXONN_OK);
    want = widened(o16);
    wantGrad = widened(g16);
    Forward<axonn_bf16> fwd = forwardOn<D, Kernels>(s, q16);
    got = widened(fwd.out);
    gotLse = fwd.lse;
    gotGrad = widened(backwardOn<D, Kernels>(
        s, q16, d16, fwd, axonn_bf16_from_float(float(NAN))));
  }
  for (float x : gotLse)
    ASSERT_FALSE(std::isnan(x)) << "an element of lse was not written";
  for (float x : gotGrad)
    ASSERT_FALSE(std::isnan(x)) << "an element of dqkv was not written";
  double forwardError = relativeDifference(got, want),
         lseError = relativeDifference(gotLse, wantLse),
         backwardError = relativeDifference(gotGrad, wantGrad);
  std::printf("%s, %s%s: attention %.2e, lse %.2e, attention_grad %.2e\n", name,
              describe(s).c_str(), bf16Storage ? ", bf16 storage" : "",
              forwardError, lseError, backwardError);
  EXPECT_LT(forwardError, 1e-2) << "attention";
  EXPECT_LT(lseError, 1e-2) << "attention lse";
  EXPECT_LT(backwardError, 1e-2) << "attention_grad";
  // The tolerance is tight enough to see a missing piece: the same check
  // fails against an output with one head dropped.
  std::vector<float> dropped = want;
  for (int64_t t = 0; t < s.batch * s.seq; ++t)
    for (int64_t i = 0; i < s.dim; ++i)
      dropped[size_t(t * s.heads * s.dim + i)] = 0;
  EXPECT_GT(relativeDifference(dropped, want), 1e-2);
}

/// Both kernel sets on one shape.
template <int D> void checkShape(const Shape &s, bool bf16Storage = false) {
  checkKernels<D, Fa2>(s, bf16Storage, "mma.sync");
  if constexpr (axonn::cuda::fa2::kTwoRowBlocksFit<D>)
    checkKernels<D, Fa2TwoRowBlocks>(s, bf16Storage,
                                     "mma.sync, 32 rows a warp");
  checkKernels<D, Wmma>(s, bf16Storage, "wmma");
}

// More than one tile of queries and keys with a partial last tile (seq not
// a multiple of 64), grouped heads, causal with RoPE and full without.
TEST(AttentionMmaEmulation, HeadDim64) {
  checkShape<64>({2, 100, 4, 2, 64, 1, 10000.0});
  checkShape<64>({1, 70, 2, 2, 64, 0, 0.0});
}

TEST(AttentionMmaEmulation, Bf16Storage) {
  checkShape<64>({1, 100, 4, 2, 64, 1, 10000.0}, true);
  // (no RoPE: K read in place too)
  checkShape<64>({2, 100, 4, 2, 64, 1, 0.0}, true);
}

TEST(AttentionMmaEmulation, HeadDim32) {
  checkShape<32>({1, 130, 4, 1, 32, 1, 10000.0});
}

TEST(AttentionMmaEmulation, HeadDim128) {
  checkShape<128>({1, 65, 2, 1, 128, 1, 500000.0});
  checkShape<128>({1, 64, 1, 1, 128, 0, 10000.0});
}

/// The forward and dQ kernels with 32 rows a warp give the bits of those
/// with 16: each row's products, softmax and sums run in the same order
/// (key blocks a row block does not see add nothing), which lets the
/// runtime choose between them by timing (AXONN_ATTENTION_ROWS=auto)
/// without the choice changing a result.
template <typename T>
bool sameBits(const std::vector<T> &a, const std::vector<T> &b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST(AttentionMmaEmulation, RowBlocksSameBits) {
  for (const Shape &s :
       {Shape{2, 100, 4, 2, 64, 1, 10000.0}, Shape{1, 130, 2, 2, 64, 0, 0.0}}) {
    SCOPED_TRACE(describe(s));
    int64_t f = (s.heads + 2 * s.kvHeads) * s.dim;
    auto qkv = random(size_t(s.batch * s.seq * f), 0.5, 5);
    auto dout = random(size_t(s.batch * s.seq * s.heads * s.dim), 1.0, 6);
    Forward<float> one = forwardOn<64, Fa2>(s, qkv),
                   two = forwardOn<64, Fa2TwoRowBlocks>(s, qkv);
    EXPECT_TRUE(sameBits(one.out, two.out)) << "attention";
    EXPECT_TRUE(sameBits(one.lse, two.lse)) << "attention lse";
    EXPECT_TRUE(
        sameBits(backwardOn<64, Fa2>(s, qkv, dout, one, 0.0f),
                 backwardOn<64, Fa2TwoRowBlocks>(s, qkv, dout, one, 0.0f)))
        << "attention_grad";
  }
}

/// The packing reads eight elements at once from 16-byte aligned rows and
/// one at a time otherwise: from a copy of qkv one element further in
/// (every row misaligned), each part packs to the same bits.
template <int D, typename T> void checkPackAlignment(const Shape &s) {
  QKVLayout layout(s.heads, s.kvHeads, s.dim);
  size_t count = size_t(s.batch * s.seq * layout.features());
  std::vector<float> values = random(count, 1.0, 17);
  std::vector<T> aligned(count), shifted(count + 1);
  for (size_t i = 0; i < count; ++i)
    axonn::cuda::store(aligned[i], values[i]);
  std::copy(aligned.begin(), aligned.end(), shifted.begin() + 1);
  int64_t padded = paddedLength(s.seq);
  std::vector<float2> table(size_t(s.seq * (s.dim / 2)));
  launch(ropeTableKernel, {1, 1, 1}, 256, s.seq, s.dim, s.ropeBase,
         table.data());
  for (int part = 0; part < 3; ++part) {
    int64_t heads = part == 0 ? s.heads : s.kvHeads;
    std::vector<bf16> want(size_t(s.batch * heads * padded * D)),
        got(want.size());
    for (auto [src, dst] : {std::pair{aligned.data(), &want},
                            std::pair{shifted.data() + 1, &got}})
      launch(packKernel<D, T>, {1, unsigned(heads), unsigned(s.batch)}, 256,
             static_cast<const T *>(src), part, s.seq, padded, layout,
             static_cast<const float2 *>(table.data()), 0.5f, dst->data());
    int differing = 0;
    for (size_t i = 0; i < want.size(); ++i)
      differing += want[i].bits != got[i].bits;
    EXPECT_EQ(differing, 0) << "part " << part << ", " << describe(s);
  }
}

/// In bf16 storage the mma.sync kernels read V, dO, K (without RoPE) and
/// Q (without RoPE, evenly spaced heads; its scale of 1/8 applied in the
/// exponent and to dK) where they are; packing would copy them bit for
/// bit, and scaling by a power of two is exact, so the results are those
/// of the packed operands, bit for bit.
TEST(AttentionMmaEmulation, InPlaceOperandsSameBits) {
  for (const Shape &s :
       {Shape{2, 100, 4, 4, 64, 1, 0.0}, Shape{1, 70, 4, 1, 64, 0, 0.0},
        Shape{1, 70, 4, 2, 64, 1, 0.0}, Shape{1, 70, 2, 1, 64, 1, 10000.0}}) {
    SCOPED_TRACE(describe(s));
    int64_t f = (s.heads + 2 * s.kvHeads) * s.dim;
    auto qkv = narrowed(random(size_t(s.batch * s.seq * f), 0.5, 7));
    auto dout =
        narrowed(random(size_t(s.batch * s.seq * s.heads * s.dim), 1.0, 8));
    Forward<axonn_bf16> inPlace = forwardOn<64, Fa2>(s, qkv, true),
                        packed = forwardOn<64, Fa2>(s, qkv, false);
    EXPECT_TRUE(sameBits(inPlace.out, packed.out)) << "attention";
    EXPECT_TRUE(sameBits(inPlace.lse, packed.lse)) << "attention lse";
    axonn_bf16 poison = axonn_bf16_from_float(-7.0f);
    std::vector<axonn_bf16> packedGrad =
        backwardOn<64, Fa2>(s, qkv, dout, inPlace, poison, false);
    EXPECT_TRUE(sameBits(
        backwardOn<64, Fa2>(s, qkv, dout, inPlace, poison, true), packedGrad))
        << "attention_grad";
    if (s.kvHeads == s.heads) {
      // (GPT-2's case, with 32 rows a warp: AXONN_ATTENTION_ROWS=auto may
      // take it)
      Forward<axonn_bf16> two = forwardOn<64, Fa2TwoRowBlocks>(s, qkv, true);
      EXPECT_TRUE(sameBits(two.out, packed.out)) << "attention, 32 rows";
      EXPECT_TRUE(sameBits(two.lse, packed.lse)) << "attention lse, 32 rows";
      EXPECT_TRUE(sameBits(
          backwardOn<64, Fa2TwoRowBlocks>(s, qkv, dout, inPlace, poison, true),
          packedGrad))
          << "attention_grad, 32 rows";
    }
  }
}

/// The kernels write their results eight elements at once where the
/// destination is aligned for it and one at a time otherwise: written one
/// element further into their arrays (every row misaligned), the output
/// and dqkv keep their bits.
template <int D, template <int, typename> class Kernels, typename T>
void checkResultAlignment(const Shape &s, const std::vector<T> &qkv,
                          const std::vector<T> &dout, T poison) {
  Forward<T> aligned = forwardOn<D, Kernels>(s, qkv),
             shifted = forwardOn<D, Kernels>(s, qkv, true, 1);
  EXPECT_TRUE(sameBits(aligned.out, shifted.out)) << "attention";
  EXPECT_TRUE(
      sameBits(backwardOn<D, Kernels>(s, qkv, dout, aligned, poison),
               backwardOn<D, Kernels>(s, qkv, dout, aligned, poison, true, 1)))
      << "attention_grad";
}

TEST(AttentionMmaEmulation, ResultAlignment) {
  Shape s{1, 70, 2, 1, 64, 1, 10000.0};
  int64_t f = (s.heads + 2 * s.kvHeads) * s.dim;
  auto qkv = random(size_t(s.batch * s.seq * f), 0.5, 9);
  auto dout = random(size_t(s.batch * s.seq * s.heads * s.dim), 1.0, 10);
  checkResultAlignment<64, Fa2>(s, qkv, dout, 0.0f);
  checkResultAlignment<64, Wmma>(s, qkv, dout, 0.0f);
  checkResultAlignment<64, Fa2>(s, narrowed(qkv), narrowed(dout),
                                axonn_bf16_from_float(0.0f));
}

TEST(AttentionMmaEmulation, PackAlignment) {
  checkPackAlignment<64, float>({1, 20, 2, 1, 64, 1, 10000.0});
  checkPackAlignment<64, uint16_t>({1, 20, 2, 1, 64, 1, 10000.0});
}

} // namespace
