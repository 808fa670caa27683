//===- RuntimeBf16Test.cpp - the bf16 twins against the fp32 kernels ------===//
//
// A `_bf16` kernel stores bf16 and computes in fp32: on bf16 inputs its
// results must be, bit for bit, the fp32 kernel's results on the same
// values rounded to bf16 (and its fp32 statistics the fp32 kernel's). The
// conversions themselves round to nearest even and keep NaN and infinity.
//
//===----------------------------------------------------------------------===//

#include "TestRuntime.h"
#include "axonn_rt.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

using Floats = std::vector<float>;
using Bf16s = std::vector<axonn_bf16>;

float bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Bf16Conversion, RoundsToNearestEven) {
  // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: even (1) wins; 1 + 3 *
  // 2^-8 lies halfway between 1 + 2^-7 and 1 + 2^-6: even (1 + 2^-6).
  EXPECT_EQ(axonn_bf16_from_float(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(axonn_bf16_from_float(1.0f + 3 * 0x1p-8f), 0x3f82);
  EXPECT_EQ(axonn_bf16_from_float(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
  EXPECT_EQ(axonn_bf16_from_float(-2.0f), 0xc000);
  EXPECT_EQ(axonn_bf16_from_float(INFINITY), 0x7f80);
  // The largest finite fp32 rounds up to infinity, as IEEE rounding does.
  EXPECT_EQ(axonn_bf16_from_float(bits(0x7f7fffffu)), 0x7f80);
  EXPECT_TRUE(std::isnan(axonn_bf16_to_float(axonn_bf16_from_float(NAN))));
  // A NaN whose payload lies only in the low bits stays a NaN.
  EXPECT_TRUE(std::isnan(
      axonn_bf16_to_float(axonn_bf16_from_float(bits(0x7f800001u)))));
  EXPECT_EQ(axonn_bf16_to_float(0x3f80), 1.0f);
}

class RuntimeBf16Test : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    rt = testRuntime();
    ASSERT_NE(rt, nullptr);
  }

  /// n random bf16 values (normal, times `scale`).
  Bf16s random(size_t n, double scale = 1.0) {
    std::normal_distribution<double> normal(0.0, scale);
    Bf16s v(n);
    for (axonn_bf16 &x : v)
      x = axonn_bf16_from_float(float(normal(rng)));
    return v;
  }
  static Floats widen(const Bf16s &v) {
    Floats out(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      out[i] = axonn_bf16_to_float(v[i]);
    return out;
  }
  static Bf16s narrow(const Floats &v) {
    Bf16s out(v.size());
    for (size_t i = 0; i < v.size(); ++i)
      out[i] = axonn_bf16_from_float(v[i]);
    return out;
  }
  /// The twin's bf16 result must be the fp32 kernel's, rounded.
  static void expectRounded(const Bf16s &twin, const Floats &fp32,
                            const char *what) {
    ASSERT_EQ(twin.size(), fp32.size()) << what;
    Bf16s want = narrow(fp32);
    size_t differ = 0;
    for (size_t i = 0; i < want.size(); ++i)
      differ += twin[i] != want[i];
    EXPECT_EQ(differ, 0u) << what << ": " << differ << " of " << want.size()
                          << " values differ";
  }

  static axonn_rt *rt;
  std::mt19937_64 rng{20261126};
};

axonn_rt *RuntimeBf16Test::rt = nullptr;

TEST_F(RuntimeBf16Test, EmbeddingAndGradients) {
  const int64_t count = 10, seq = 5, rows = 11, width = 8, positions = 9;
  Bf16s table = random(rows * width), pos = random(positions * width),
        grad = random(count * width);
  std::vector<int32_t> tokens = {0, 3, 10, 2, 2, 7, 1, 9, 4, 3};
  int32_t start = 2;
  Floats out(count * width), dt(rows * width), dp(positions * width);
  Bf16s tOut(out.size()), tDt(dt.size()), tDp(dp.size());
  ASSERT_EQ(axonn_rt_embedding(rt, tokens.data(), count, seq,
                               widen(table).data(), rows, width,
                               widen(pos).data(), positions, &start, 0, 0,
                               out.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_embedding_bf16(rt, tokens.data(), count, seq,
                                    table.data(), rows, width, pos.data(),
                                    positions, &start, 0, 0, tOut.data()),
            AXONN_OK);
  expectRounded(tOut, out, "embedding");
  ASSERT_EQ(axonn_rt_embedding_grad(rt, widen(grad).data(), tokens.data(),
                                    count, rows, width, 0, nullptr, dt.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_embedding_grad_bf16(rt, grad.data(), tokens.data(), count,
                                         rows, width, 0, nullptr, tDt.data()),
            AXONN_OK);
  expectRounded(tDt, dt, "embedding_grad");
  ASSERT_EQ(axonn_rt_position_grad(rt, widen(grad).data(), count, seq,
                                   positions, width, dp.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_position_grad_bf16(rt, grad.data(), count, seq, positions,
                                        width, tDp.data()),
            AXONN_OK);
  expectRounded(tDp, dp, "position_grad");
}

TEST_F(RuntimeBf16Test, Norms) {
  const int64_t tokens = 6, local = 40;
  Bf16s x = random(tokens * local, 2.0), dy = random(tokens * local),
        scale = random(local), bias = random(local);
  Floats wx = widen(x), wdy = widen(dy), ws = widen(scale), wb = widen(bias);
  size_t n = size_t(tokens * local);
  // Statistics are fp32 in both.
  Floats stats(tokens * 2), tStats(tokens * 2), gstats(tokens * 4),
      tGstats(tokens * 4);
  ASSERT_EQ(axonn_rt_norm_stats(rt, wx.data(), tokens, local, 0, stats.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_norm_stats_bf16(rt, x.data(), tokens, local, 0,
                                     tStats.data()),
            AXONN_OK);
  EXPECT_EQ(tStats, stats);
  ASSERT_EQ(axonn_rt_norm_grad_stats(rt, wdy.data(), wx.data(), ws.data(),
                                     tokens, local, 0, gstats.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_norm_grad_stats_bf16(rt, dy.data(), x.data(),
                                          scale.data(), tokens, local, 0,
                                          tGstats.data()),
            AXONN_OK);
  EXPECT_EQ(tGstats, gstats);

  Floats ln(n), rms(n);
  Bf16s tLn(n), tRms(n);
  ASSERT_EQ(axonn_rt_layer_norm(rt, wx.data(), ws.data(), wb.data(),
                                stats.data(), tokens, local, local, 1e-5,
                                ln.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_layer_norm_bf16(rt, x.data(), scale.data(), bias.data(),
                                     stats.data(), tokens, local, local, 1e-5,
                                     tLn.data()),
            AXONN_OK);
  expectRounded(tLn, ln, "layer_norm");
  ASSERT_EQ(axonn_rt_rms_norm(rt, wx.data(), ws.data(), nullptr, tokens, local,
                              local, 1e-5, rms.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_rms_norm_bf16(rt, x.data(), scale.data(), nullptr, tokens,
                                   local, local, 1e-5, tRms.data()),
            AXONN_OK);
  expectRounded(tRms, rms, "rms_norm");

  Floats dx(n), dg(local), db(local), rdx(n), rdg(local);
  Bf16s tDx(n), tDg(local), tDb(local), tRdx(n), tRdg(local);
  ASSERT_EQ(axonn_rt_layer_norm_grad(rt, wdy.data(), wx.data(), ws.data(),
                                     nullptr, tokens, local, local, 1e-5,
                                     nullptr, dx.data(), dg.data(), db.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_layer_norm_grad_bf16(
                rt, dy.data(), x.data(), scale.data(), nullptr, tokens, local,
                local, 1e-5, nullptr, tDx.data(), tDg.data(), tDb.data()),
            AXONN_OK);
  expectRounded(tDx, dx, "layer_norm_grad dx");
  expectRounded(tDg, dg, "layer_norm_grad dscale");
  expectRounded(tDb, db, "layer_norm_grad dbias");
  ASSERT_EQ(axonn_rt_rms_norm_grad(rt, wdy.data(), wx.data(), ws.data(),
                                   nullptr, tokens, local, local, 1e-5, nullptr,
                                   rdx.data(), rdg.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_rms_norm_grad_bf16(rt, dy.data(), x.data(), scale.data(),
                                        nullptr, tokens, local, local, 1e-5,
                                        nullptr, tRdx.data(), tRdg.data()),
            AXONN_OK);
  expectRounded(tRdx, rdx, "rms_norm_grad dx");
  expectRounded(tRdg, rdg, "rms_norm_grad dscale");
}

// The residual norms in bf16 are the add and the norm they fuse, bit for
// bit (the norm reads the rounded sum).
TEST_F(RuntimeBf16Test, ResidualNormsEqualAddThenNorm) {
  const int64_t tokens = 6, width = 40;
  Bf16s x = random(tokens * width), r = random(tokens * width, 2.0),
        g = random(width), b = random(width);
  size_t n = size_t(tokens * width);
  Bf16s sum(n), y(n), fusedSum(n), fused(n);
  ASSERT_EQ(axonn_rt_add_bf16(rt, x.data(), r.data(), int64_t(n), sum.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_layer_norm_bf16(rt, sum.data(), g.data(), b.data(),
                                     nullptr, tokens, width, width, 1e-5,
                                     y.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_residual_layer_norm_bf16(rt, x.data(), r.data(), g.data(),
                                              b.data(), tokens, width, 1e-5,
                                              fusedSum.data(), fused.data()),
            AXONN_OK);
  EXPECT_EQ(fusedSum, sum);
  EXPECT_EQ(fused, y);
  ASSERT_EQ(axonn_rt_rms_norm_bf16(rt, sum.data(), g.data(), nullptr, tokens,
                                   width, width, 1e-5, y.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_residual_rms_norm_bf16(rt, x.data(), r.data(), g.data(),
                                            tokens, width, 1e-5,
                                            fusedSum.data(), fused.data()),
            AXONN_OK);
  EXPECT_EQ(fusedSum, sum);
  EXPECT_EQ(fused, y);
}

TEST_F(RuntimeBf16Test, Linear) {
  const int64_t rows = 12, n = 10, k = 16;
  Bf16s x = random(rows * k), w = random(n * k), b = random(n),
        dy = random(rows * n);
  Floats y(rows * n), dx(rows * k), dw(n * k), db(n);
  Bf16s tY(y.size()), tDx(dx.size()), tDw(dw.size()), tDb(db.size());
  ASSERT_EQ(axonn_rt_linear(rt, widen(x).data(), widen(w).data(),
                            widen(b).data(), 0, rows, n, k, y.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_linear_bf16(rt, x.data(), w.data(), b.data(), 0, rows, n,
                                 k, tY.data()),
            AXONN_OK);
  expectRounded(tY, y, "linear");
  ASSERT_EQ(axonn_rt_linear_grad_input(rt, widen(dy).data(), widen(w).data(),
                                       rows, n, k, dx.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_linear_grad_input_bf16(rt, dy.data(), w.data(), rows, n,
                                            k, tDx.data()),
            AXONN_OK);
  expectRounded(tDx, dx, "linear_grad_input");
  ASSERT_EQ(axonn_rt_linear_grad_weight(rt, widen(dy).data(), widen(x).data(),
                                        rows, n, k, dw.data(), nullptr),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_linear_grad_weight_bf16(rt, dy.data(), x.data(), rows, n,
                                             k, tDw.data(), nullptr),
            AXONN_OK);
  expectRounded(tDw, dw, "linear_grad_weight");
  ASSERT_EQ(axonn_rt_linear_grad_bias(rt, widen(dy).data(), rows, n,
                                      db.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_linear_grad_bias_bf16(rt, dy.data(), rows, n, tDb.data()),
            AXONN_OK);
  expectRounded(tDb, db, "linear_grad_bias");
}

TEST_F(RuntimeBf16Test, LinearGelu) {
  const int64_t rows = 12, n = 24, k = 16;
  Bf16s x = random(rows * k), w = random(n * k), b = random(n);
  Floats pre(rows * n), y(rows * n);
  Bf16s tPre(pre.size()), tY(y.size());
  ASSERT_EQ(axonn_rt_linear_gelu(rt, widen(x).data(), widen(w).data(),
                                 widen(b).data(), rows, n, k, 1, pre.data(),
                                 y.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_linear_gelu_bf16(rt, x.data(), w.data(), b.data(), rows,
                                      n, k, 1, tPre.data(), tY.data()),
            AXONN_OK);
  expectRounded(tPre, pre, "linear_gelu pre");
  expectRounded(tY, y, "linear_gelu");
}

TEST_F(RuntimeBf16Test, LinearGradInputGelu) {
  const int64_t rows = 12, n = 24, k = 16;
  Bf16s dy = random(rows * n), w = random(n * k), pre = random(rows * k);
  Floats dx(rows * k);
  Bf16s tDx(dx.size());
  ASSERT_EQ(axonn_rt_linear_grad_input_gelu(rt, widen(dy).data(),
                                            widen(w).data(), widen(pre).data(),
                                            rows, n, k, 1, dx.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_linear_grad_input_gelu_bf16(rt, dy.data(), w.data(),
                                                 pre.data(), rows, n, k, 1,
                                                 tDx.data()),
            AXONN_OK);
  expectRounded(tDx, dx, "linear_grad_input_gelu");
}

TEST_F(RuntimeBf16Test, Attention) {
  const int64_t batch = 2, seq = 6, heads = 4, kv = 2, d = 8;
  const int64_t f = (heads + 2 * kv) * d, width = heads * d;
  Bf16s qkv = random(batch * seq * f), dout = random(batch * seq * width);
  Floats o(batch * seq * width), dq(batch * seq * f);
  Bf16s tO(o.size()), tDq(dq.size());
  Floats lse(batch * seq * heads), tLse(lse.size());
  ASSERT_EQ(axonn_rt_attention(rt, widen(qkv).data(), batch, seq, heads, kv, d,
                               1, 10000.0, o.data(), lse.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_attention_bf16(rt, qkv.data(), batch, seq, heads, kv, d,
                                    1, 10000.0, tO.data(), tLse.data()),
            AXONN_OK);
  expectRounded(tO, o, "attention");
  // The statistics stay fp32: the same values.
  EXPECT_EQ(tLse, lse);
  ASSERT_EQ(axonn_rt_attention_grad(rt, widen(dout).data(), widen(qkv).data(),
                                    o.data(), lse.data(), batch, seq, heads,
                                    kv, d, 1, 10000.0, dq.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_attention_grad_bf16(rt, dout.data(), qkv.data(),
                                         tO.data(), tLse.data(), batch, seq,
                                         heads, kv, d, 1, 10000.0, tDq.data()),
            AXONN_OK);
  expectRounded(tDq, dq, "attention_grad");
  // The cache: a prefill of all six tokens; the caches are updated in
  // place, rounded.
  const int64_t capacity = 8, cache = batch * kv * capacity * d;
  Floats k(cache, 0.0f), v(cache, 0.0f), co(o.size());
  Bf16s tK(cache, 0), tV(cache, 0), tCo(o.size());
  int32_t start = 0;
  ASSERT_EQ(axonn_rt_cached_attention(rt, widen(qkv).data(), batch, seq, heads,
                                      kv, d, 10000.0, k.data(), v.data(),
                                      capacity, &start, co.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_cached_attention_bf16(rt, qkv.data(), batch, seq, heads,
                                           kv, d, 10000.0, tK.data(),
                                           tV.data(), capacity, &start,
                                           tCo.data()),
            AXONN_OK);
  expectRounded(tCo, co, "cached_attention");
  expectRounded(tK, k, "cached_attention k_cache");
  expectRounded(tV, v, "cached_attention v_cache");
}

TEST_F(RuntimeBf16Test, Elementwise) {
  const int64_t n = 300;
  Bf16s x = random(2 * n, 2.0), y = random(2 * n), dy = random(2 * n);
  Floats wx = widen(x), wy = widen(y), wdy = widen(dy);
  for (int32_t approximation : {0, 1}) {
    Floats g(2 * n), gg(2 * n);
    Bf16s tG(2 * n), tGg(2 * n);
    ASSERT_EQ(axonn_rt_gelu(rt, wx.data(), 2 * n, approximation, g.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_gelu_bf16(rt, x.data(), 2 * n, approximation,
                                 tG.data()),
              AXONN_OK);
    expectRounded(tG, g, "gelu");
    ASSERT_EQ(axonn_rt_gelu_grad(rt, wdy.data(), wx.data(), 2 * n,
                                 approximation, gg.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_gelu_grad_bf16(rt, dy.data(), x.data(), 2 * n,
                                      approximation, tGg.data()),
              AXONN_OK);
    expectRounded(tGg, gg, "gelu_grad");
  }
  Floats s(n), sg(2 * n), sum(2 * n);
  Bf16s tS(n), tSg(2 * n), tSum(2 * n);
  ASSERT_EQ(axonn_rt_swiglu(rt, wx.data(), n, s.data()), AXONN_OK);
  ASSERT_EQ(axonn_rt_swiglu_bf16(rt, x.data(), n, tS.data()), AXONN_OK);
  expectRounded(tS, s, "swiglu");
  ASSERT_EQ(axonn_rt_swiglu_grad(rt, wdy.data(), wx.data(), n, sg.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_swiglu_grad_bf16(rt, dy.data(), x.data(), n, tSg.data()),
            AXONN_OK);
  expectRounded(tSg, sg, "swiglu_grad");
  ASSERT_EQ(axonn_rt_add(rt, wx.data(), wy.data(), 2 * n, sum.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_add_bf16(rt, x.data(), y.data(), 2 * n, tSum.data()),
            AXONN_OK);
  expectRounded(tSum, sum, "add");
}

TEST_F(RuntimeBf16Test, CrossEntropy) {
  const int64_t rows = 2, seq = 8, tokens = rows * seq, vocab = 32;
  Bf16s logits = random(tokens * vocab, 3.0);
  Floats wl = widen(logits);
  std::vector<int32_t> targets(tokens);
  for (int64_t t = 0; t < tokens; ++t)
    targets[size_t(t)] = int32_t((t * 7) % 30);
  Floats max(tokens), tMax(tokens), sums(tokens * 2), partial(tokens * 2),
      tPartial(tokens * 2);
  ASSERT_EQ(axonn_rt_logits_max(rt, wl.data(), targets.data(), tokens, vocab,
                                0, 30, max.data(), partial.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_logits_max_bf16(rt, logits.data(), targets.data(),
                                     tokens, vocab, 0, 30, tMax.data(),
                                     tPartial.data()),
            AXONN_OK);
  EXPECT_EQ(tMax, max);
  EXPECT_EQ(tPartial, partial);
  ASSERT_EQ(axonn_rt_softmax_sums(rt, partial.data(), max.data(), max.data(),
                                  tokens, sums.data()),
            AXONN_OK);
  // Against its own maximum the partial sums are the sums.
  EXPECT_EQ(sums, partial);
  Floats dl(tokens * vocab), mdl(tokens * vocab), keep(tokens);
  Bf16s tDl(dl.size()), tMdl(mdl.size());
  float count = 0;
  ASSERT_EQ(axonn_rt_cross_entropy_grad(rt, wl.data(), max.data(),
                                        sums.data(), targets.data(), tokens,
                                        vocab, 0, 30, tokens, dl.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_cross_entropy_grad_bf16(
                rt, logits.data(), max.data(), sums.data(), targets.data(),
                tokens, vocab, 0, 30, tokens, tDl.data()),
            AXONN_OK);
  expectRounded(tDl, dl, "cross_entropy_grad");
  ASSERT_EQ(axonn_rt_goldfish_mask(rt, targets.data(), rows, seq,
                                   AXONN_GOLDFISH_STATIC, 4, 1, keep.data(),
                                   &count),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_cross_entropy_grad_masked(
                rt, wl.data(), max.data(), sums.data(), targets.data(),
                keep.data(), &count, tokens, vocab, 0, 30, mdl.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_cross_entropy_grad_masked_bf16(
                rt, logits.data(), max.data(), sums.data(), targets.data(),
                keep.data(), &count, tokens, vocab, 0, 30, tMdl.data()),
            AXONN_OK);
  expectRounded(tMdl, mdl, "cross_entropy_grad_masked");
}

TEST_F(RuntimeBf16Test, Optimizer) {
  const int64_t n = 500;
  Bf16s grad = random(n), param = random(n);
  Floats wg = widen(grad), master(n), m(n, 0.01f), v(n, 0.02f);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (float &x : master)
    x = float(normal(rng)); // not representable in bf16
  float squares = 0, tSquares = 0;
  ASSERT_EQ(axonn_rt_sum_squares(rt, wg.data(), n, 0.5, 1, &squares),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_sum_squares_bf16(rt, grad.data(), n, 0.5, 1, &tSquares),
            AXONN_OK);
  EXPECT_EQ(tSquares, squares);
  // AdamW updates the fp32 master; the bf16 parameter is its rounding.
  Floats p(n), tMaster = master, tM = m, tV = v;
  Bf16s tP = param;
  int64_t step = 3;
  float norm = 2.0f;
  ASSERT_EQ(axonn_rt_adamw(rt, p.data(), wg.data(), m.data(), v.data(),
                           master.data(), n, &step, &norm, 1e-3, 1e-4, 0.9,
                           0.95, 1e-8, 0.1, 1.0, 2, 100, 2, 1),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_adamw_bf16(rt, tP.data(), grad.data(), tM.data(),
                                tV.data(), tMaster.data(), n, &step, &norm,
                                1e-3, 1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, 2, 100,
                                2, 1),
            AXONN_OK);
  EXPECT_EQ(tMaster, master);
  EXPECT_EQ(tM, m);
  EXPECT_EQ(tV, v);
  expectRounded(tP, master, "adamw param");
  // Without masters there is nothing to round from.
  EXPECT_EQ(axonn_rt_adamw_bf16(rt, tP.data(), grad.data(), tM.data(),
                                tV.data(), nullptr, n, &step, &norm, 1e-3,
                                1e-4, 0.9, 0.95, 1e-8, 0.1, 1.0, 2, 100, 2, 1),
            AXONN_ERR_INVALID_ARGUMENT);
}

TEST_F(RuntimeBf16Test, CollectivesOfOneRank) {
  // A group of one: sums and gathers are the input; the bf16 reductions
  // (in fp32) give it back exactly.
  Bf16s x = random(24), sum(24), gathered(24), scattered(24);
  int32_t axes[1] = {AXONN_AXIS_X};
  axonn_axes x1 = axonn_axes_make(1, axes);
  axonn_request req = nullptr;
  ASSERT_EQ(axonn_rt_all_reduce_start_bf16(rt, x.data(), sum.data(), 24, x1,
                                           AXONN_REDUCE_SUM, &req),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_wait(rt, req), AXONN_OK);
  EXPECT_EQ(sum, x);
  ASSERT_EQ(axonn_rt_all_gather_start_bf16(rt, x.data(), gathered.data(), 2, 3,
                                           4, x1, &req),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_wait(rt, req), AXONN_OK);
  EXPECT_EQ(gathered, x);
  ASSERT_EQ(axonn_rt_reduce_scatter_start_bf16(rt, x.data(), scattered.data(),
                                               2, 3, 4, x1, AXONN_REDUCE_SUM,
                                               &req),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_wait(rt, req), AXONN_OK);
  EXPECT_EQ(scattered, x);
}

} // namespace
