//===- token_groups.cu - the positions of each vocabulary row -------------===//
//
// The embedding's gradient adds, for every row of the (local slice of the)
// table, the gradients of the positions whose token is that row. A block
// per row that scans all the tokens costs rows x tokens (50257 x 8192 for
// GPT-2 at 8K tokens a step: milliseconds); atomics would make the sums'
// order, and so their bits, vary from run to run. Instead the positions
// are grouped by row once per call with CUB's radix sort, which is stable:
// within a row the positions stay in ascending order, so that each row's
// sum runs in a fixed order (embedding_grad.cuh: token order within chunks
// of the sorted tokens, the chunks' sums in order).
//
// This file is apart from kernels.cu because CUB's sort is slow to
// compile; one instantiation serves both storage types.
//
//===----------------------------------------------------------------------===//

#include "device.cuh"

#include <cub/device/device_radix_sort.cuh>

#include <climits>

namespace axonn::cuda {
namespace {

/// keys[i] = the local row of token i (rows if the token is outside the
/// local slice [offset, offset + rows)); positions[i] = i.
__global__ void rowKeysKernel(const int32_t *tokens, int64_t count,
                              int64_t rows, int64_t offset, uint32_t *keys,
                              int32_t *positions) {
  GRID_STRIDE(i, count) {
    int64_t row = int64_t(tokens[i]) - offset;
    keys[i] = uint32_t(row >= 0 && row < rows ? row : rows);
    positions[i] = int32_t(i);
  }
}

/// The number of low bits that hold every key in [0, rows].
int keyBits(int64_t rows) {
  int bits = 1;
  while (bits < 32 && (uint64_t(1) << bits) <= uint64_t(rows))
    ++bits;
  return bits;
}

size_t aligned(size_t bytes) { return (bytes + 255) / 256 * 256; }

} // namespace

axonn_status groupTokensByRow(axonn_rt *rt, const int32_t *tokens,
                              int64_t count, int64_t rows, int64_t offset,
                              size_t extraBytes, TokenGroups *out) {
  if (count > INT_MAX || rows >= int64_t(UINT32_MAX))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "embedding_grad: %lld tokens over %lld rows: more than "
                    "the token sort takes (2^31 - 1 tokens, 2^32 - 1 rows)",
                    (long long)count, (long long)rows);
  int n = int(count), bits = keyBits(rows);
  size_t sortBytes = 0;
  AXONN_CUDA(rt, cub::DeviceRadixSort::SortPairs(
                     nullptr, sortBytes, static_cast<const uint32_t *>(nullptr),
                     static_cast<uint32_t *>(nullptr),
                     static_cast<const int32_t *>(nullptr),
                     static_cast<int32_t *>(nullptr), n, 0, bits,
                     streamOf(rt)));
  // Scratch: the keys and positions in and out, the caller's extra, then
  // CUB's own.
  size_t array = aligned(size_t(n) * 4), extra = aligned(extraBytes);
  void *buffer = nullptr;
  if (axonn_status s = scratch(rt, 4 * array + extra + sortBytes, &buffer))
    return s;
  auto *base = static_cast<unsigned char *>(buffer);
  auto *keysIn = reinterpret_cast<uint32_t *>(base);
  auto *positionsIn = reinterpret_cast<int32_t *>(base + array);
  auto *keys = reinterpret_cast<uint32_t *>(base + 2 * array);
  auto *positions = reinterpret_cast<int32_t *>(base + 3 * array);
  rowKeysKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(
      tokens, count, rows, offset, keysIn, positionsIn);
  AXONN_LAUNCHED(rt);
  AXONN_CUDA(rt, cub::DeviceRadixSort::SortPairs(
                     base + 4 * array + extra, sortBytes, keysIn, keys,
                     positionsIn, positions, n, 0, bits, streamOf(rt)));
  *out = TokenGroups{keys, positions, base + 4 * array};
  return AXONN_OK;
}

} // namespace axonn::cuda
