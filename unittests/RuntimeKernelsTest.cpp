//===- RuntimeKernelsTest.cpp - CPU kernels against the fp64 interpreter --===//
//
// Every fp32 kernel of runtime/ computes what the axonn op of the same name
// computes in the reference interpreter (lib/Interpreter), on random inputs:
// the largest difference, relative to the largest expected magnitude, must
// stay below 2e-5 (fp32 rounding through a few hundred operations).
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Interpreter/Interpreter.h"
#include "TestRuntime.h"
#include "axonn_rt.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>

using namespace mlir;
using namespace mlir::axonn;

namespace {

constexpr double kTolerance = 2e-5;

class RuntimeKernelsTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    rt = testRuntime();
    ASSERT_NE(rt, nullptr);
  }

  RuntimeKernelsTest() {
    context.loadDialect<AxonnDialect, func::FuncDialect>();
  }

  /// Runs @f of `ir` in the interpreter on `args`.
  SmallVector<HostTensor> reference(StringRef ir, ArrayRef<HostTensor> args) {
    module = parseSourceString<ModuleOp>(ir, &context);
    EXPECT_TRUE(module) << ir.str();
    if (!module)
      return {};
    auto func = module->lookupSymbol<func::FuncOp>("f");
    FailureOr<SmallVector<HostTensor>> results = interpret(func, args);
    EXPECT_TRUE(succeeded(results));
    return succeeded(results) ? *results : SmallVector<HostTensor>();
  }

  HostTensor random(ArrayRef<int64_t> shape, double scale = 1.0,
                    double center = 0.0) {
    HostTensor t(shape);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (double &x : t.data)
      x = double(float(center + scale * normal(rng)));
    return t;
  }
  HostTensor tokens(ArrayRef<int64_t> shape, int64_t vocab) {
    HostTensor t(shape);
    std::uniform_int_distribution<int64_t> any(0, vocab - 1);
    for (double &x : t.data)
      x = double(any(rng));
    return t;
  }
  static std::vector<float> f32(const HostTensor &t) {
    return std::vector<float>(t.data.begin(), t.data.end());
  }
  static std::vector<int32_t> i32(const HostTensor &t) {
    return std::vector<int32_t>(t.data.begin(), t.data.end());
  }
  static void expectClose(const HostTensor &want, const std::vector<float> &got,
                          const char *what) {
    ASSERT_EQ(want.data.size(), got.size()) << what;
    double largest = 1e-30, worst = 0;
    for (double x : want.data)
      largest = std::max(largest, std::abs(x));
    for (size_t i = 0; i < got.size(); ++i)
      worst = std::max(worst, std::abs(got[i] - want.data[i]) / largest);
    EXPECT_LE(worst, kTolerance) << what;
  }

  static inline axonn_rt *rt = nullptr;
  static constexpr axonn_axes none = 0;
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  std::mt19937_64 rng{7};
};

TEST_F(RuntimeKernelsTest, EmbeddingWithPositions) {
  HostTensor t = tokens({2, 5}, 11), table = random({11, 8}),
             pos = random({6, 8});
  auto want = reference(R"(
    func.func @f(%t: tensor<2x5xi32>, %w: tensor<11x8xf32>, %p: tensor<6x8xf32>) -> tensor<2x5x8xf32> {
      %0 = axonn.embedding %t, %w positions %p : (tensor<2x5xi32>, tensor<11x8xf32>, tensor<6x8xf32>) -> tensor<2x5x8xf32>
      return %0 : tensor<2x5x8xf32>
    })",
                        {t, table, pos});
  std::vector<float> out(80);
  auto ti = i32(t);
  auto tf = f32(table), pf = f32(pos);
  ASSERT_EQ(axonn_rt_embedding(rt, ti.data(), 10, 5, tf.data(), 11, 8,
                               pf.data(), 6, nullptr, none, none, out.data()),
            AXONN_OK);
  expectClose(want[0], out, "embedding");

  // Its gradients.
  HostTensor dy = random({2, 5, 8});
  auto grads = reference(R"(
    func.func @f(%dy: tensor<2x5x8xf32>, %t: tensor<2x5xi32>, %o: tensor<11x8xf32>) -> (tensor<11x8xf32>, tensor<6x8xf32>, tensor<11x8xf32>) {
      %0 = axonn.embedding_grad %dy, %t : (tensor<2x5x8xf32>, tensor<2x5xi32>) -> tensor<11x8xf32>
      %1 = axonn.position_grad %dy : tensor<2x5x8xf32> -> tensor<6x8xf32>
      %2 = axonn.embedding_grad %dy, %t accumulate %o : (tensor<2x5x8xf32>, tensor<2x5xi32>, tensor<11x8xf32>) -> tensor<11x8xf32>
      return %0, %1, %2 : tensor<11x8xf32>, tensor<6x8xf32>, tensor<11x8xf32>
    })",
                         {dy, t, table});
  std::vector<float> dtable(88), dpos(48);
  auto dyf = f32(dy);
  ASSERT_EQ(axonn_rt_embedding_grad(rt, dyf.data(), ti.data(), 10, 11, 8, none,
                                    nullptr, dtable.data()),
            AXONN_OK);
  // Added to another gradient of the table, in place.
  std::vector<float> summed = tf;
  ASSERT_EQ(axonn_rt_embedding_grad(rt, dyf.data(), ti.data(), 10, 11, 8, none,
                                    summed.data(), summed.data()),
            AXONN_OK);
  expectClose(grads[2], summed, "embedding_grad + accumulate, in place");
  ASSERT_EQ(axonn_rt_position_grad(rt, dyf.data(), 10, 5, 6, 8, dpos.data()),
            AXONN_OK);
  expectClose(grads[0], dtable, "embedding_grad");
  expectClose(grads[1], dpos, "position_grad");
}

TEST_F(RuntimeKernelsTest, Norms) {
  HostTensor x = random({3, 4, 16}, 2.0, 0.5), g = random({16}, 0.1, 1.0),
             b = random({16}, 0.1), dy = random({3, 4, 16});
  auto want = reference(R"(
    func.func @f(%x: tensor<3x4x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>, %dy: tensor<3x4x16xf32>)
        -> (tensor<3x4x16xf32>, tensor<3x4x16xf32>, tensor<3x4x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<3x4x16xf32>, tensor<16xf32>) {
      %0 = axonn.layer_norm %x, %g, %b eps 1.0e-05 : tensor<3x4x16xf32>, tensor<16xf32>
      %1 = axonn.rms_norm %x, %g eps 1.0e-06 : tensor<3x4x16xf32>, tensor<16xf32>
      %2:3 = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-05 : tensor<3x4x16xf32>, tensor<16xf32> -> tensor<16xf32>, tensor<16xf32>
      %3:2 = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-06 : tensor<3x4x16xf32>, tensor<16xf32> -> tensor<16xf32>
      return %0, %1, %2#0, %2#1, %2#2, %3#0, %3#1 : tensor<3x4x16xf32>, tensor<3x4x16xf32>, tensor<3x4x16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<3x4x16xf32>, tensor<16xf32>
    })",
                        {x, g, b, dy});
  auto xf = f32(x), gf = f32(g), bf = f32(b), dyf = f32(dy);
  std::vector<float> ln(192), rms(192), dx(192), dg(16), db(16), rdx(192),
      rdg(16);
  ASSERT_EQ(axonn_rt_layer_norm(rt, xf.data(), gf.data(), bf.data(), nullptr,
                                12, 16, 16, 1e-5, ln.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_rms_norm(rt, xf.data(), gf.data(), nullptr, 12, 16, 16,
                              1e-6, rms.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_layer_norm_grad(rt, dyf.data(), xf.data(), gf.data(),
                                     nullptr, 12, 16, 16, 1e-5, nullptr,
                                     dx.data(), dg.data(), db.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_rms_norm_grad(rt, dyf.data(), xf.data(), gf.data(),
                                   nullptr, 12, 16, 16, 1e-6, nullptr,
                                   rdx.data(), rdg.data()),
            AXONN_OK);
  expectClose(want[0], ln, "layer_norm");
  expectClose(want[1], rms, "rms_norm");
  expectClose(want[2], dx, "layer_norm_grad dx");
  expectClose(want[3], dg, "layer_norm_grad dscale");
  expectClose(want[4], db, "layer_norm_grad dbias");
  expectClose(want[5], rdx, "rms_norm_grad dx");
  expectClose(want[6], rdg, "rms_norm_grad dscale");

  // With statistics of the whole row (one rank holding all features), the
  // split form gives the same answer.
  std::vector<float> stats(24), gstats(48), rstats(12), rgstats(24), ln2(192),
      dx2(192), dg2(16), db2(16), rms2(192), rdx2(192), rdg2(16);
  axonn_rt_norm_stats(rt, xf.data(), 12, 16, 0, stats.data());
  axonn_rt_norm_stats(rt, xf.data(), 12, 16, 1, rstats.data());
  axonn_rt_norm_grad_stats(rt, dyf.data(), xf.data(), gf.data(), 12, 16, 0,
                           gstats.data());
  axonn_rt_norm_grad_stats(rt, dyf.data(), xf.data(), gf.data(), 12, 16, 1,
                           rgstats.data());
  axonn_rt_layer_norm(rt, xf.data(), gf.data(), bf.data(), stats.data(), 12, 16,
                      16, 1e-5, ln2.data());
  axonn_rt_rms_norm(rt, xf.data(), gf.data(), rstats.data(), 12, 16, 16, 1e-6,
                    rms2.data());
  axonn_rt_layer_norm_grad(rt, dyf.data(), xf.data(), gf.data(), gstats.data(),
                           12, 16, 16, 1e-5, nullptr, dx2.data(), dg2.data(),
                           db2.data());
  axonn_rt_rms_norm_grad(rt, dyf.data(), xf.data(), gf.data(), rgstats.data(),
                         12, 16, 16, 1e-6, nullptr, rdx2.data(), rdg2.data());
  expectClose(want[0], ln2, "layer_norm with stats");
  expectClose(want[1], rms2, "rms_norm with stats");
  expectClose(want[2], dx2, "layer_norm_grad with stats");
  expectClose(want[5], rdx2, "rms_norm_grad with stats");
}

// With `accumulate`, the norms' input gradients add another gradient of x
// (axonn.layer_norm_grad/rms_norm_grad ... accumulate), also in place.
TEST_F(RuntimeKernelsTest, NormGradsAccumulate) {
  HostTensor x = random({3, 4, 16}, 2.0, 0.5), g = random({16}, 0.1, 1.0),
             dy = random({3, 4, 16}), other = random({3, 4, 16}, 3.0);
  auto want = reference(R"(
    func.func @f(%x: tensor<3x4x16xf32>, %g: tensor<16xf32>, %dy: tensor<3x4x16xf32>, %o: tensor<3x4x16xf32>)
        -> (tensor<3x4x16xf32>, tensor<3x4x16xf32>) {
      %0:3 = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-05 accumulate %o : tensor<3x4x16xf32>, tensor<16xf32> -> tensor<16xf32>, tensor<16xf32>
      %1:2 = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-06 accumulate %o : tensor<3x4x16xf32>, tensor<16xf32> -> tensor<16xf32>
      return %0#0, %1#0 : tensor<3x4x16xf32>, tensor<3x4x16xf32>
    })",
                        {x, g, dy, other});
  auto xf = f32(x), gf = f32(g), dyf = f32(dy), of = f32(other);
  std::vector<float> dx(192), dg(16), db(16), rdx = of, rdg(16);
  ASSERT_EQ(axonn_rt_layer_norm_grad(rt, dyf.data(), xf.data(), gf.data(),
                                     nullptr, 12, 16, 16, 1e-5, of.data(),
                                     dx.data(), dg.data(), db.data()),
            AXONN_OK);
  // In place: the RMS norm's gradient added into `other`'s copy.
  ASSERT_EQ(axonn_rt_rms_norm_grad(rt, dyf.data(), xf.data(), gf.data(),
                                   nullptr, 12, 16, 16, 1e-6, rdx.data(),
                                   rdx.data(), rdg.data()),
            AXONN_OK);
  expectClose(want[0], dx, "layer_norm_grad dx + accumulate");
  expectClose(want[1], rdx, "rms_norm_grad dx + accumulate, in place");
}

// axonn.residual_norm is axonn.add then the norm: the fused kernels give
// the same bits as the two kernels they replace.
TEST_F(RuntimeKernelsTest, ResidualNormsEqualAddThenNorm) {
  const int64_t tokens = 12, width = 40;
  auto x = f32(random({tokens, width})), r = f32(random({tokens, width}, 3.0));
  auto g = f32(random({width})), b = f32(random({width}));
  size_t n = size_t(tokens * width);
  std::vector<float> sum(n), y(n), fusedSum(n), fused(n);
  ASSERT_EQ(axonn_rt_add(rt, x.data(), r.data(), int64_t(n), sum.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_layer_norm(rt, sum.data(), g.data(), b.data(), nullptr,
                                tokens, width, width, 1e-5, y.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_residual_layer_norm(rt, x.data(), r.data(), g.data(),
                                         b.data(), tokens, width, 1e-5,
                                         fusedSum.data(), fused.data()),
            AXONN_OK);
  EXPECT_EQ(fusedSum, sum);
  EXPECT_EQ(fused, y);
  ASSERT_EQ(axonn_rt_rms_norm(rt, sum.data(), g.data(), nullptr, tokens, width,
                              width, 1e-5, y.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_residual_rms_norm(rt, x.data(), r.data(), g.data(),
                                       tokens, width, 1e-5, fusedSum.data(),
                                       fused.data()),
            AXONN_OK);
  EXPECT_EQ(fusedSum, sum);
  EXPECT_EQ(fused, y);
}

// axonn.linear_gelu is axonn.linear then axonn.gelu, bit for bit.
TEST_F(RuntimeKernelsTest, LinearGeluEqualsLinearThenGelu) {
  const int64_t rows = 12, n = 24, k = 16;
  auto x = f32(random({rows, k})), w = f32(random({n, k})),
       b = f32(random({n}));
  for (int32_t approximation : {0, 1}) {
    std::vector<float> y(size_t(rows * n)), g(y.size()), pre(y.size()),
        fused(y.size());
    ASSERT_EQ(axonn_rt_linear(rt, x.data(), w.data(), b.data(), none, rows, n,
                              k, y.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_gelu(rt, y.data(), rows * n, approximation, g.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_linear_gelu(rt, x.data(), w.data(), b.data(), rows, n,
                                   k, approximation, pre.data(),
                                   fused.data()),
              AXONN_OK);
    EXPECT_EQ(pre, y);
    EXPECT_EQ(fused, g);
  }
}

// axonn.linear_grad_input_gelu is axonn.linear_grad_input then
// axonn.gelu_grad, bit for bit.
TEST_F(RuntimeKernelsTest, LinearGradInputGeluEqualsTheTwoCalls) {
  const int64_t rows = 12, n = 24, k = 16;
  auto dy = f32(random({rows, n})), w = f32(random({n, k})),
       pre = f32(random({rows, k}));
  for (int32_t approximation : {0, 1}) {
    std::vector<float> dh(size_t(rows * k)), want(dh.size()),
        fused(dh.size());
    ASSERT_EQ(axonn_rt_linear_grad_input(rt, dy.data(), w.data(), rows, n, k,
                                         dh.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_gelu_grad(rt, dh.data(), pre.data(), rows * k,
                                 approximation, want.data()),
              AXONN_OK);
    ASSERT_EQ(axonn_rt_linear_grad_input_gelu(rt, dy.data(), w.data(),
                                              pre.data(), rows, n, k,
                                              approximation, fused.data()),
              AXONN_OK);
    EXPECT_EQ(fused, want);
    EXPECT_NE(fused, dh); // the GELU's derivative did something
  }
}

TEST_F(RuntimeKernelsTest, Linear) {
  HostTensor x = random({2, 3, 8}), w = random({5, 8}), b = random({5}),
             dy = random({2, 3, 5});
  auto want = reference(R"(
    func.func @f(%x: tensor<2x3x8xf32>, %w: tensor<5x8xf32>, %b: tensor<5xf32>, %dy: tensor<2x3x5xf32>)
        -> (tensor<2x3x5xf32>, tensor<2x3x8xf32>, tensor<5x8xf32>, tensor<5xf32>, tensor<5x8xf32>, tensor<5xf32>) {
      %0 = axonn.linear %x, %w bias %b : (tensor<2x3x8xf32>, tensor<5x8xf32>, tensor<5xf32>) -> tensor<2x3x5xf32>
      %1 = axonn.linear_grad_input %dy, %w : (tensor<2x3x5xf32>, tensor<5x8xf32>) -> tensor<2x3x8xf32>
      %2 = axonn.linear_grad_weight %dy, %x : (tensor<2x3x5xf32>, tensor<2x3x8xf32>) -> tensor<5x8xf32>
      %3 = axonn.linear_grad_bias %dy : tensor<2x3x5xf32> -> tensor<5xf32>
      %4:2 = axonn.linear_grad_weight %dy, %x : (tensor<2x3x5xf32>, tensor<2x3x8xf32>) -> (tensor<5x8xf32>, tensor<5xf32>)
      return %0, %1, %2, %3, %4#0, %4#1 : tensor<2x3x5xf32>, tensor<2x3x8xf32>, tensor<5x8xf32>, tensor<5xf32>, tensor<5x8xf32>, tensor<5xf32>
    })",
                        {x, w, b, dy});
  auto xf = f32(x), wf = f32(w), bf = f32(b), dyf = f32(dy);
  std::vector<float> y(30), dx(48), dw(40), db(5);
  axonn_rt_linear(rt, xf.data(), wf.data(), bf.data(), none, 6, 5, 8, y.data());
  axonn_rt_linear_grad_input(rt, dyf.data(), wf.data(), 6, 5, 8, dx.data());
  axonn_rt_linear_grad_weight(rt, dyf.data(), xf.data(), 6, 5, 8, dw.data(),
                              nullptr);
  axonn_rt_linear_grad_bias(rt, dyf.data(), 6, 5, db.data());
  // The weight and bias gradients from one call.
  std::vector<float> dw2(40), db2(5);
  ASSERT_EQ(axonn_rt_linear_grad_weight(rt, dyf.data(), xf.data(), 6, 5, 8,
                                        dw2.data(), db2.data()),
            AXONN_OK);
  expectClose(want[0], y, "linear");
  expectClose(want[1], dx, "linear_grad_input");
  expectClose(want[2], dw, "linear_grad_weight");
  expectClose(want[3], db, "linear_grad_bias");
  expectClose(want[4], dw2, "linear_grad_weight (with bias)");
  expectClose(want[5], db2, "linear_grad_weight's bias");
}

TEST_F(RuntimeKernelsTest, AttentionGroupedRotary) {
  // 4 query heads sharing 2 KV heads of dimension 4: (4 + 4) * 4 = 32.
  HostTensor qkv = random({2, 6, 32}), dout = random({2, 6, 16});
  auto want = reference(R"(
    func.func @f(%qkv: tensor<2x6x32xf32>, %dy: tensor<2x6x16xf32>) -> (tensor<2x6x16xf32>, tensor<2x6x4xf32>, tensor<2x6x32xf32>) {
      %0, %lse = axonn.attention %qkv heads 4 kv_heads 2 causal rope 10000.0 : tensor<2x6x32xf32> -> tensor<2x6x16xf32>, tensor<2x6x4xf32>
      %1 = axonn.attention_grad %dy, %qkv, %0, %lse heads 4 kv_heads 2 causal rope 10000.0 : tensor<2x6x16xf32>, tensor<2x6x32xf32>, tensor<2x6x4xf32>
      return %0, %lse, %1 : tensor<2x6x16xf32>, tensor<2x6x4xf32>, tensor<2x6x32xf32>
    })",
                        {qkv, dout});
  auto qf = f32(qkv), df = f32(dout);
  std::vector<float> out(192), lse(48), dqkv(384);
  ASSERT_EQ(axonn_rt_attention(rt, qf.data(), 2, 6, 4, 2, 4, 1, 10000.0,
                               out.data(), lse.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_attention_grad(rt, df.data(), qf.data(), out.data(),
                                    lse.data(), 2, 6, 4, 2, 4, 1, 10000.0,
                                    dqkv.data()),
            AXONN_OK);
  expectClose(want[0], out, "attention");
  expectClose(want[1], lse, "attention lse");
  expectClose(want[2], dqkv, "attention_grad");
}

TEST_F(RuntimeKernelsTest, AttentionRefusesResultsOverOperands) {
  // Other rows and heads still read qkv (and dout) while a result is
  // written: out over qkv, dqkv over qkv or over dout, are refused, in
  // fp32 and in bf16 storage.
  std::vector<float> qkv(2 * 6 * 32, 0.5f), dout(2 * 6 * 16, 0.25f), out(192),
      lse(48), dqkv(384);
  auto refused = [&](axonn_status status, const char *what) {
    EXPECT_EQ(status, AXONN_ERR_INVALID_ARGUMENT) << what;
    EXPECT_NE(std::string(axonn_rt_last_error(rt)).find("overlaps"),
              std::string::npos)
        << what << ": " << axonn_rt_last_error(rt);
  };
  refused(axonn_rt_attention(rt, qkv.data(), 2, 6, 4, 2, 4, 1, 0.0,
                             qkv.data() + 8, lse.data()),
          "out over qkv");
  refused(axonn_rt_attention_grad(rt, dout.data(), qkv.data(), out.data(),
                                  lse.data(), 2, 6, 4, 2, 4, 1, 0.0,
                                  qkv.data()),
          "dqkv over qkv");
  std::vector<float> both(384 + 192);
  refused(axonn_rt_attention_grad(rt, both.data() + 300, qkv.data(), out.data(),
                                  lse.data(), 2, 6, 4, 2, 4, 1, 0.0,
                                  both.data()),
          "dqkv over dout");
  std::vector<axonn_bf16> q16(qkv.size()), d16(dout.size());
  refused(axonn_rt_attention_bf16(rt, q16.data(), 2, 6, 4, 2, 4, 1, 0.0,
                                  q16.data(), lse.data()),
          "bf16 out over qkv");
  refused(axonn_rt_attention_grad_bf16(rt, d16.data(), q16.data(), d16.data(),
                                       lse.data(), 2, 6, 4, 2, 4, 1, 0.0,
                                       q16.data()),
          "bf16 dqkv over qkv");
  // Apart, the same calls run.
  EXPECT_EQ(axonn_rt_attention(rt, qkv.data(), 2, 6, 4, 2, 4, 1, 0.0,
                               out.data(), lse.data()),
            AXONN_OK);
  EXPECT_EQ(axonn_rt_attention_grad(rt, dout.data(), qkv.data(), out.data(),
                                    lse.data(), 2, 6, 4, 2, 4, 1, 0.0,
                                    dqkv.data()),
            AXONN_OK);
}

TEST_F(RuntimeKernelsTest, CachedAttentionEqualsFullAttention) {
  // Decoding with a key/value cache: a prefill of 4 tokens, then one token
  // at a time, gives the rows of the full causal attention (the reference
  // interpreter's), for grouped heads with rotary positions.
  HostTensor qkv = random({2, 6, 32});
  auto want = reference(R"(
    func.func @f(%qkv: tensor<2x6x32xf32>) -> tensor<2x6x16xf32> {
      %0 = axonn.attention %qkv heads 4 kv_heads 2 causal rope 10000.0 : tensor<2x6x32xf32> -> tensor<2x6x16xf32>
      return %0 : tensor<2x6x16xf32>
    })",
                        {qkv});
  auto qf = f32(qkv);
  const int64_t capacity = 8, features = 32, width = 16;
  std::vector<float> k(2 * 2 * capacity * 4, -7.0f), v(k.size(), -7.0f);
  std::vector<float> out(192);
  auto step = [&](int32_t start, int64_t count) {
    std::vector<float> chunk(size_t(2 * count * features)),
        o(size_t(2 * count * width));
    for (int64_t b = 0; b < 2; ++b)
      std::copy_n(&qf[size_t((b * 6 + start) * features)], count * features,
                  &chunk[size_t(b * count * features)]);
    ASSERT_EQ(axonn_rt_cached_attention(rt, chunk.data(), 2, count, 4, 2, 4,
                                        10000.0, k.data(), v.data(), capacity,
                                        &start, o.data()),
              AXONN_OK);
    for (int64_t b = 0; b < 2; ++b)
      std::copy_n(&o[size_t(b * count * width)], count * width,
                  &out[size_t((b * 6 + start) * width)]);
  };
  step(0, 4);
  step(4, 1);
  step(5, 1);
  expectClose(want[0], out, "cached_attention");
  // Positions past the cache are refused.
  int32_t start = 7;
  std::vector<float> chunk(2 * 2 * features), o(2 * 2 * width);
  EXPECT_EQ(axonn_rt_cached_attention(rt, chunk.data(), 2, 2, 4, 2, 4, 10000.0,
                                      k.data(), v.data(), capacity, &start,
                                      o.data()),
            AXONN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(axonn_rt_last_error(rt)).find("do not fit a cache of 8"),
            std::string::npos);
}

TEST_F(RuntimeKernelsTest, Activations) {
  HostTensor x = random({4, 12}, 2.0), dy = random({4, 12}),
             dys = random({4, 6});
  auto want = reference(R"(
    func.func @f(%x: tensor<4x12xf32>, %dy: tensor<4x12xf32>, %dys: tensor<4x6xf32>)
        -> (tensor<4x12xf32>, tensor<4x12xf32>, tensor<4x12xf32>, tensor<4x12xf32>, tensor<4x6xf32>, tensor<4x12xf32>, tensor<4x12xf32>) {
      %0 = axonn.gelu %x tanh : tensor<4x12xf32>
      %1 = axonn.gelu %x none : tensor<4x12xf32>
      %2 = axonn.gelu_grad %dy, %x tanh : tensor<4x12xf32>
      %3 = axonn.gelu_grad %dy, %x none : tensor<4x12xf32>
      %4 = axonn.swiglu %x : tensor<4x12xf32> -> tensor<4x6xf32>
      %5 = axonn.swiglu_grad %dys, %x : tensor<4x6xf32>, tensor<4x12xf32>
      %6 = axonn.add %x, %dy : tensor<4x12xf32>
      return %0, %1, %2, %3, %4, %5, %6 : tensor<4x12xf32>, tensor<4x12xf32>, tensor<4x12xf32>, tensor<4x12xf32>, tensor<4x6xf32>, tensor<4x12xf32>, tensor<4x12xf32>
    })",
                        {x, dy, dys});
  auto xf = f32(x), dyf = f32(dy), dysf = f32(dys);
  std::vector<float> g1(48), g0(48), dg1(48), dg0(48), s(24), ds(48), a(48);
  axonn_rt_gelu(rt, xf.data(), 48, 1, g1.data());
  axonn_rt_gelu(rt, xf.data(), 48, 0, g0.data());
  axonn_rt_gelu_grad(rt, dyf.data(), xf.data(), 48, 1, dg1.data());
  axonn_rt_gelu_grad(rt, dyf.data(), xf.data(), 48, 0, dg0.data());
  axonn_rt_swiglu(rt, xf.data(), 24, s.data());
  axonn_rt_swiglu_grad(rt, dysf.data(), xf.data(), 24, ds.data());
  axonn_rt_add(rt, xf.data(), dyf.data(), 48, a.data());
  expectClose(want[0], g1, "gelu tanh");
  expectClose(want[1], g0, "gelu exact");
  expectClose(want[2], dg1, "gelu_grad tanh");
  expectClose(want[3], dg0, "gelu_grad exact");
  expectClose(want[4], s, "swiglu");
  expectClose(want[5], ds, "swiglu_grad");
  expectClose(want[6], a, "add");
}

TEST_F(RuntimeKernelsTest, CrossEntropyOverPaddedVocabulary) {
  // 13 real rows of 16: the loss and its gradient through the per-rank
  // pieces against lm_head_loss(_grad) on the hidden states.
  HostTensor h = random({2, 3, 8}), w = random({16, 8}), t = tokens({2, 3}, 13);
  auto want = reference(R"(
    func.func @f(%h: tensor<2x3x8xf32>, %w: tensor<16x8xf32>, %t: tensor<2x3xi32>)
        -> (tensor<f32>, tensor<2x3x8xf32>, tensor<16x8xf32>) {
      %0 = axonn.lm_head_loss %h, %w, %t {vocab_size = 13} : (tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<2x3xi32>) -> tensor<f32>
      %1:2 = axonn.lm_head_loss_grad %h, %w, %t {vocab_size = 13} : (tensor<2x3x8xf32>, tensor<16x8xf32>, tensor<2x3xi32>) -> (tensor<2x3x8xf32>, tensor<16x8xf32>)
      return %0, %1#0, %1#1 : tensor<f32>, tensor<2x3x8xf32>, tensor<16x8xf32>
    })",
                        {h, w, t});
  auto hf = f32(h), wf = f32(w);
  auto ti = i32(t);
  std::vector<float> logits(96), max(6), partial(12), sums(12), loss(1),
      dlogits(96), dh(48), dw(128);
  axonn_rt_linear(rt, hf.data(), wf.data(), nullptr, none, 6, 16, 8,
                  logits.data());
  axonn_rt_logits_max(rt, logits.data(), ti.data(), 6, 16, none, 13,
                      max.data(), partial.data());
  axonn_rt_softmax_sums(rt, partial.data(), max.data(), max.data(), 6,
                        sums.data());
  axonn_rt_cross_entropy(rt, max.data(), sums.data(), 6, 6, loss.data());
  axonn_rt_cross_entropy_grad(rt, logits.data(), max.data(), sums.data(),
                              ti.data(), 6, 16, none, 13, 6, dlogits.data());
  axonn_rt_linear_grad_input(rt, dlogits.data(), wf.data(), 6, 16, 8,
                             dh.data());
  axonn_rt_linear_grad_weight(rt, dlogits.data(), hf.data(), 6, 16, 8,
                              dw.data(), nullptr);
  expectClose(want[0], loss, "cross-entropy");
  expectClose(want[1], dh, "hidden gradient");
  expectClose(want[2], dw, "head gradient");
}

TEST_F(RuntimeKernelsTest, SoftmaxStatisticsRescaled) {
  // The one pass over the logits (13 real rows of 16), then its sums moved
  // to a larger maximum (another slice's), against the interpreter's ops.
  HostTensor l = random({2, 3, 16}, 3.0), t = tokens({2, 3}, 13);
  HostTensor higher = random({2, 3}, 1.0);
  for (double &x : higher.data)
    x = std::abs(x) + 6.0;
  auto want = reference(R"(
    func.func @f(%l: tensor<2x3x16xf32>, %t: tensor<2x3xi32>, %g: tensor<2x3xf32>)
        -> (tensor<2x3xf32>, tensor<2x3x2xf32>, tensor<2x3x2xf32>) {
      %m, %p = axonn.logits_max %l, %t {vocab_size = 13} : tensor<2x3x16xf32>, tensor<2x3xi32> -> tensor<2x3xf32>, tensor<2x3x2xf32>
      %s = axonn.softmax_sums %p, %m, %g : tensor<2x3x2xf32>, tensor<2x3xf32>
      return %m, %p, %s : tensor<2x3xf32>, tensor<2x3x2xf32>, tensor<2x3x2xf32>
    })",
                        {l, t, higher});
  auto lf = f32(l), gf = f32(higher);
  auto ti = i32(t);
  std::vector<float> max(6), partial(12), sums(12);
  ASSERT_EQ(axonn_rt_logits_max(rt, lf.data(), ti.data(), 6, 16, none, 13,
                                max.data(), partial.data()),
            AXONN_OK);
  ASSERT_EQ(axonn_rt_softmax_sums(rt, partial.data(), max.data(), gf.data(), 6,
                                  sums.data()),
            AXONN_OK);
  expectClose(want[0], max, "logits_max");
  expectClose(want[1], partial, "logits_max partial");
  expectClose(want[2], sums, "softmax_sums");
}

TEST_F(RuntimeKernelsTest, AdamWWithClippingAndSchedule) {
  HostTensor p = random({20}), g = random({20}), m = random({20}, 0.01),
             v = random({20}, 0.01, 0.05);
  for (double &x : v.data)
    x = std::abs(x);
  HostTensor step({}, 3.0);
  auto want = reference(R"(
    func.func @f(%p: tensor<20xf32>, %g: tensor<20xf32>, %m: tensor<20xf32>, %v: tensor<20xf32>, %s: tensor<i64>)
        -> (tensor<f32>, tensor<20xf32>, tensor<20xf32>, tensor<20xf32>) {
      %n = axonn.global_norm %g : tensor<20xf32> -> tensor<f32>
      %0:3 = axonn.adamw %p, %g, %m, %v step %s norm %n decay {training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.01, min_lr = 0.001, warmup_steps = 2, steps = 10, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 0>}
        : (tensor<20xf32>, tensor<20xf32>, tensor<20xf32>, tensor<20xf32>, tensor<i64>, tensor<f32>) -> (tensor<20xf32>, tensor<20xf32>, tensor<20xf32>)
      return %n, %0#0, %0#1, %0#2 : tensor<f32>, tensor<20xf32>, tensor<20xf32>, tensor<20xf32>
    })",
                        {p, g, m, v, step});
  auto pf = f32(p), gf = f32(g), mf = f32(m), vf = f32(v);
  // The norm in two pieces (scales 1 and 1): as one.
  std::vector<float> squares(1), norm(1);
  axonn_rt_sum_squares(rt, gf.data(), 12, 1.0, 1, squares.data());
  axonn_rt_sum_squares(rt, gf.data() + 12, 8, 1.0, 0, squares.data());
  axonn_rt_sqrt(rt, squares.data(), norm.data());
  int64_t step3 = 3;
  ASSERT_EQ(axonn_rt_adamw(rt, pf.data(), gf.data(), mf.data(), vf.data(),
                           nullptr, 20, &step3, norm.data(), 0.01, 0.001, 0.9,
                           0.95, 1e-8, 0.1, 1.0, 2, 10, 2, 1),
            AXONN_OK);
  expectClose(want[0], norm, "gradient norm");
  expectClose(want[1], pf, "adamw parameter");
  expectClose(want[2], mf, "adamw m");
  expectClose(want[3], vf, "adamw v");
}

// The collective timeout: 600 s unless AXONN_COLLECTIVE_TIMEOUT says
// otherwise, set and read back through the ABI, and refused below zero or
// infinite with the rank's place and the value (the previous limit kept).
TEST_F(RuntimeKernelsTest, CollectiveTimeout) {
  double start = axonn_rt_collective_timeout(rt);
  if (!std::getenv("AXONN_COLLECTIVE_TIMEOUT")) {
    EXPECT_EQ(start, 600.0);
  }
  EXPECT_EQ(axonn_rt_set_collective_timeout(rt, 2.5), AXONN_OK);
  EXPECT_EQ(axonn_rt_collective_timeout(rt), 2.5);
  EXPECT_EQ(axonn_rt_set_collective_timeout(rt, 0), AXONN_OK);
  EXPECT_EQ(axonn_rt_collective_timeout(rt), 0.0);
  EXPECT_EQ(axonn_rt_set_collective_timeout(rt, -1),
            AXONN_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(axonn_rt_last_error(rt))
                .find("rank 0 (x 0, y 0, z 0, data 0): collective timeout of "
                      "-1 s: it must be >= 0"),
            std::string::npos)
      << axonn_rt_last_error(rt);
  EXPECT_EQ(axonn_rt_set_collective_timeout(rt, INFINITY),
            AXONN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(axonn_rt_set_collective_timeout(rt, NAN),
            AXONN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(axonn_rt_collective_timeout(rt), 0.0);
  EXPECT_EQ(axonn_rt_set_collective_timeout(rt, start), AXONN_OK);
}

} // namespace
