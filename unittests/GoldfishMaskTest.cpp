//===- GoldfishMaskTest.cpp - the Goldfish loss mask of the runtime -------===//
//
// axonn_rt_goldfish_mask against values computed independently: the
// expected masks below come from a separate Python program written from the
// definition (docs/training.md, "Goldfish loss"):
//
//   def u(key): return (splitmix64(0x601DF15B ^ key) >> 11) / 2.0**53
//   key = (wrapping int64 product of targets[t-h+1..t]) % 1000003  (Python %)
//   dropped iff t >= h-1 and u(key) < 1/k
//
// plus the properties the loss relies on: the first h-1 positions are never
// dropped, about 1/k of random tokens are, and identical windows get
// identical masks wherever they are (so every rank masks alike).
//
//===----------------------------------------------------------------------===//

#include "axonn_rt.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

std::string maskOf(const std::vector<int32_t> &tokens, int64_t k, int64_t h,
                   int32_t strategy = AXONN_GOLDFISH_HASH) {
  std::vector<axonn_real> keep(tokens.size(), -1);
  EXPECT_EQ(axonn_rt_goldfish_mask(nullptr, tokens.data(), 1,
                                   int64_t(tokens.size()), strategy, k, h,
                                   keep.data(), nullptr),
            AXONN_OK);
  std::string text;
  for (axonn_real v : keep)
    text.push_back(v == 1 ? '1' : v == 0 ? '0' : '?');
  return text;
}

TEST(GoldfishMask, MatchesIndependentReference) {
  std::vector<int32_t> a, b, c;
  for (int i = 0; i < 40; ++i)
    a.push_back(i + 1);
  for (int i = 0; i < 64; ++i)
    b.push_back((i * 7919 + 13) % 50257);
  for (int i = 0; i < 48; ++i)
    c.push_back((i * 104729 + 7) % 50257);
  // From the Python reference (products wrap past 2^63 in a and b).
  EXPECT_EQ(maskOf(a, 2, 3), "1111100111100110001111011110001010110010");
  EXPECT_EQ(maskOf(b, 4, 13),
            "1111111111111101001100011111110110011011101111111111111000100111");
  EXPECT_EQ(maskOf(c, 4, 1), "111111101111111011111110010110111001010111001101");
}

TEST(GoldfishMask, StaticDropsEveryKthPosition) {
  std::vector<int32_t> tokens(12, 5);
  EXPECT_EQ(maskOf(tokens, 4, 13, AXONN_GOLDFISH_STATIC), "111011101110");
  EXPECT_EQ(maskOf(tokens, 3, 1, AXONN_GOLDFISH_STATIC), "110110110110");
}

TEST(GoldfishMask, FirstPositionsNeverDropped) {
  std::mt19937 rng(7);
  for (int64_t h : {1, 2, 5, 13, 20}) {
    std::vector<int32_t> tokens(64);
    for (int trial = 0; trial < 50; ++trial) {
      for (int32_t &t : tokens)
        t = int32_t(rng() % 50257);
      std::string mask = maskOf(tokens, 2, h);
      EXPECT_EQ(mask.substr(0, size_t(h - 1)), std::string(size_t(h - 1), '1'))
          << "h = " << h;
    }
  }
}

TEST(GoldfishMask, DropsOneInK) {
  std::mt19937 rng(1234);
  const int64_t n = 1000000, seq = 1000;
  std::vector<int32_t> tokens(n);
  for (int32_t &t : tokens)
    t = int32_t(rng() % 50257);
  for (int64_t k : {2, 4, 8}) {
    std::vector<axonn_real> keep(n);
    ASSERT_EQ(axonn_rt_goldfish_mask(nullptr, tokens.data(), n / seq, seq,
                                     AXONN_GOLDFISH_HASH, k, 13, keep.data(), nullptr),
              AXONN_OK);
    // Of the positions that can be dropped (t >= h-1 in each row).
    double dropped = 0, eligible = 0;
    for (int64_t i = 0; i < n; ++i)
      if (i % seq >= 12) {
        eligible += 1;
        dropped += keep[size_t(i)] == 0;
      }
    std::printf("k = %lld: %.5f of %.0f tokens dropped (1/k = %.5f)\n",
                (long long)k, dropped / eligible, eligible, 1.0 / double(k));
    EXPECT_NEAR(dropped / eligible, 1.0 / double(k), 0.005) << "k = " << k;
  }
}

TEST(GoldfishMask, SameWindowSameMaskAnywhere) {
  std::mt19937 rng(99);
  const int64_t h = 13, seq = 256;
  // Two rows; a 40-token passage appears at position 30 of row 0 and at
  // position 200 of row 1.
  std::vector<int32_t> tokens(2 * seq);
  for (int32_t &t : tokens)
    t = int32_t(rng() % 50257);
  for (int i = 0; i < 40; ++i)
    tokens[size_t(seq + 200 + i)] = tokens[size_t(30 + i)];
  std::vector<axonn_real> both(2 * seq), alone(seq);
  ASSERT_EQ(axonn_rt_goldfish_mask(nullptr, tokens.data(), 2, seq,
                                   AXONN_GOLDFISH_HASH, 4, h, both.data(), nullptr),
            AXONN_OK);
  for (int i = h - 1; i < 40; ++i)
    EXPECT_EQ(both[size_t(30 + i)], both[size_t(seq + 200 + i)]) << i;
  // The count it reports is the number kept.
  axonn_real count = -1;
  ASSERT_EQ(axonn_rt_goldfish_mask(nullptr, tokens.data(), 2, seq,
                                   AXONN_GOLDFISH_HASH, 4, h, both.data(),
                                   &count),
            AXONN_OK);
  double kept = 0;
  for (axonn_real v : both)
    kept += v;
  EXPECT_EQ(double(count), kept);
  // A row masked on its own (as on a rank holding only that row) is masked
  // as in the batch.
  ASSERT_EQ(axonn_rt_goldfish_mask(nullptr, tokens.data() + seq, 1, seq,
                                   AXONN_GOLDFISH_HASH, 4, h, alone.data(), nullptr),
            AXONN_OK);
  for (int64_t t = 0; t < seq; ++t)
    EXPECT_EQ(alone[size_t(t)], both[size_t(seq + t)]);
}

TEST(GoldfishMask, RefusesBadParameters) {
  std::vector<int32_t> tokens(8, 1);
  std::vector<axonn_real> keep(8);
  EXPECT_EQ(axonn_rt_goldfish_mask(nullptr, tokens.data(), 1, 8,
                                   AXONN_GOLDFISH_HASH, 1, 13, keep.data(), nullptr),
            AXONN_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(axonn_rt_goldfish_mask(nullptr, tokens.data(), 1, 8,
                                   AXONN_GOLDFISH_HASH, 4, 0, keep.data(), nullptr),
            AXONN_ERR_INVALID_ARGUMENT);
}

} // namespace
