//===- EmbeddingGradEmulationTest.cpp - embedding gradient on the CPU -----===//
//
// Runs the CUDA backend's embedding-gradient kernels
// (runtime/cuda/embedding_grad.cuh) on the CPU through
// runtime/check/cuda_emulation.h, on tokens sorted as token_groups.cu sorts
// them, and compares each table row with the sum of its positions'
// gradients in double: fp32 storage within 1e-5 of the sum of the terms'
// magnitudes (the kernels add in fp32, in another order), bf16 storage
// within 1e-2 (the kernel check's tolerance). The tokens are skewed as
// text is: one row takes 40% of them, so that its run crosses many
// chunks, next to rows of a few tokens, rows of none and tokens outside
// the table's slice; chunks of 1, 3, 4 and 32 entries put run ends on and
// off their boundaries, and a grid smaller than the work makes the kernels
// stride.
//
//===----------------------------------------------------------------------===//

// (first: CUDA emulated for the kernels' source)
#include "EmulatedStorage.h"

#include "../runtime/cuda/embedding_grad.cuh"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

namespace {

using axonn::cuda::embeddingGradJoinKernel;
using axonn::cuda::embeddingGradRunsKernel;
using axonn::cuda::SortedTokens;
using axonn::emulation::launch;
using axonn::emulation::storageOf;
using axonn::emulation::valueOf;

struct Case {
  int64_t chunk;
  bool accumulate;
  Dim3 grid; // {0, 0, 0}: every chunk and column block its own block
};

template <typename T> void check(const Case &c) {
  const int64_t count = 201, rows = 50, offset = 10, width = 45;
  const unsigned threads = 32;
  std::mt19937 rng(7 + unsigned(c.chunk));
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  // Tokens over [0, offset + rows + 5): the slice is [offset, offset +
  // rows); token offset + 17 is 40% of them.
  std::vector<int32_t> tokens(count);
  std::uniform_int_distribution<int32_t> anyToken(0,
                                                  int32_t(offset + rows + 4));
  for (int32_t &t : tokens)
    t = rng() % 5 < 2 ? int32_t(offset + 17) : anyToken(rng);
  std::vector<T> grad(size_t(count * width)), table(size_t(rows * width));
  for (T &g : grad)
    g = storageOf<T>(uniform(rng));
  for (T &t : table)
    t = c.accumulate ? storageOf<T>(uniform(rng)) : storageOf<T>(0.0f);

  // As token_groups.cu: keys (rows for a token outside the slice), then a
  // stable sort by key.
  std::vector<uint32_t> keys(count);
  std::vector<int32_t> positions(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t row = tokens[i] - offset;
    keys[i] = uint32_t(row >= 0 && row < rows ? row : rows);
  }
  std::iota(positions.begin(), positions.end(), 0);
  std::stable_sort(positions.begin(), positions.end(),
                   [&](int32_t a, int32_t b) { return keys[a] < keys[b]; });
  std::vector<uint32_t> sortedKeys(count);
  for (int64_t p = 0; p < count; ++p)
    sortedKeys[p] = keys[positions[p]];

  // The reference and the bound on its rounding, before the kernels write.
  std::vector<double> want(size_t(rows * width)), scale(size_t(rows * width));
  for (int64_t i = 0; i < rows * width; ++i) {
    want[i] = c.accumulate ? valueOf(table[i]) : 0.0;
    scale[i] = std::abs(want[i]);
  }
  for (int64_t i = 0; i < count; ++i)
    if (keys[i] < uint32_t(rows))
      for (int64_t j = 0; j < width; ++j) {
        double v = valueOf(grad[i * width + j]);
        want[keys[i] * width + j] += v;
        scale[keys[i] * width + j] += std::abs(v);
      }

  SortedTokens sorted{
      sortedKeys.data(), positions.data(), count, rows, width, c.chunk};
  int64_t chunks = (count + c.chunk - 1) / c.chunk;
  std::vector<float> partials(size_t(2 * chunks * width), NAN);
  Dim3 grid = c.grid.x ? c.grid
                       : Dim3{unsigned(chunks),
                              unsigned((width + threads - 1) / threads), 1};
  launch(embeddingGradRunsKernel<T>, grid, threads, grad.data(), sorted,
         c.accumulate, table.data(), partials.data());
  launch(embeddingGradJoinKernel<T>, grid, threads, sorted, c.accumulate,
         static_cast<const float *>(partials.data()), table.data());

  double tolerance = std::is_same_v<T, float> ? 1e-5 : 1e-2;
  int wrong = 0;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < width; ++j) {
      int64_t i = r * width + j;
      double got = valueOf(table[i]);
      if (!(std::abs(got - want[i]) <= tolerance * std::max(1.0, scale[i])) &&
          wrong++ < 5)
        ADD_FAILURE() << "row " << r << " column " << j << ": " << got
                      << ", expected " << want[i] << " (chunk " << c.chunk
                      << ", accumulate " << c.accumulate << ")";
    }
  EXPECT_EQ(wrong, 0);
}

const Case kCases[] = {
    {1, false, {}},         {3, true, {}},        {4, false, {}},
    {32, true, {}},         {4, true, {5, 1, 1}}, // strides over chunks and
    {32, false, {2, 1, 1}},                       // columns
};

TEST(EmbeddingGradEmulation, Fp32) {
  for (const Case &c : kCases)
    check<float>(c);
}

TEST(EmbeddingGradEmulation, Bf16) {
  for (const Case &c : kCases)
    check<uint16_t>(c);
}

} // namespace

namespace {

/// Chunks are kEmbeddingChunk long unless their partial rows would pass
/// kPartialBytes; then as long as it takes to stay within.
TEST(EmbeddingGradEmulation, ChunkLength) {
  using axonn::cuda::embeddingChunk;
  using axonn::cuda::kEmbeddingChunk;
  using axonn::cuda::kPartialBytes;
  EXPECT_EQ(embeddingChunk(8192, 768), kEmbeddingChunk);
  EXPECT_EQ(embeddingChunk(1, 1), kEmbeddingChunk);
  for (auto [count, width] : {std::pair<int64_t, int64_t>{131072, 8192},
                              {1 << 20, 4096},
                              {1000, int64_t(1) << 26}}) {
    int64_t chunk = embeddingChunk(count, width),
            chunks = (count + chunk - 1) / chunk;
    EXPECT_GE(chunk, kEmbeddingChunk);
    EXPECT_LE(2 * chunks * width * int64_t(sizeof(float)),
              std::max(kPartialBytes, 2 * width * int64_t(sizeof(float))))
        << count << " tokens of width " << width;
  }
  EXPECT_EQ(embeddingChunk(131072, 8192), 128);
}

} // namespace
