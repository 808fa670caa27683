//===- device.cuh - what the CUDA kernel files share -----------*- CUDA -*-===//
//
// Launch helpers and the element-level pieces (elements.cuh) that
// kernels.cu and attention_mma.cu both use.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_DEVICE_CUH
#define AXONN_CUDA_DEVICE_CUH

#include "cuda_internal.h"
#include "elements.cuh"

#include <cxxabi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace axonn::cuda {

constexpr int kThreads = 256;

/// Blocks for a grid-stride loop over `count` (at least one: a grid of
/// none is a launch error).
inline int blocksFor(int64_t count) {
  return int(std::max<int64_t>(
      1, std::min<int64_t>((count + kThreads - 1) / kThreads, 65535 * 8)));
}

/// With AXONN_CUDA_KERNEL_REPORT=1, says (rank 0, stderr) what an SM
/// holds of a kernel at its first launch (sharedMemory): registers and
/// local memory a thread (spills), shared memory a block, and the blocks
/// of `threads` an SM can run at once (CUDA's occupancy calculator), so
/// that a GPU run without a profiler still shows whether the kernels that
/// keep their tiles in shared memory (the attention's) run as many blocks
/// as their design counts on.
inline void reportKernel(axonn_rt *rt, const void *kernel,
                         const cudaFuncAttributes &a, int threads,
                         size_t bytes) {
  static const bool wanted = [] {
    const char *v = std::getenv("AXONN_CUDA_KERNEL_REPORT");
    return v && std::string(v) == "1";
  }();
  if (!wanted || rt->rank != 0)
    return;
  const char *mangled = nullptr;
  int blocks = 0;
  if (cudaFuncGetName(&mangled, kernel) != cudaSuccess ||
      cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, kernel, threads,
                                                    bytes) != cudaSuccess) {
    cudaGetLastError();
    std::fprintf(stderr, "axonn: kernel report: the CUDA queries failed\n");
    return;
  }
  int status = 0;
  char *name = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::fprintf(stderr,
               "axonn: kernel %s: %d registers, %zu B local a thread; %zu B "
               "shared a block (%zu static); %d threads: %d blocks an SM "
               "(%d of %d warps)\n",
               name ? name : mangled, a.numRegs, size_t(a.localSizeBytes),
               bytes + size_t(a.sharedSizeBytes), size_t(a.sharedSizeBytes),
               threads, blocks, blocks * threads / 32,
               state(rt).prop.maxThreadsPerMultiProcessor / 32);
  std::free(name);
}

/// Lets `kernel` (blocks of `threads`) use `bytes` of dynamic shared
/// memory (when that and the kernel's static shared memory pass 48 KiB,
/// through the opt-in), or fails naming what asked for it. The kernels that
/// call it keep their tiles in shared memory (the attention's), so at its first
/// call a kernel also asks for the most shared memory an SM has
/// (cudaSharedmemCarveoutMaxShared): the driver's choice of the L1/shared
/// split then never holds fewer of its blocks on an SM than their shared
/// memory and registers allow. The opt-in is set when a call needs more
/// than the kernel's earlier calls, not at every launch.
template <typename Kernel>
axonn_status sharedMemory(axonn_rt *rt, Kernel kernel, size_t bytes,
                          int threads, const char *what, int64_t length) {
  auto &known = state(rt).kernelShared;
  auto it = known.find(reinterpret_cast<const void *>(kernel));
  if (it == known.end()) {
    cudaFuncAttributes attributes;
    AXONN_CUDA(rt, cudaFuncGetAttributes(&attributes, kernel));
    AXONN_CUDA(rt, cudaFuncSetAttribute(
                       kernel, cudaFuncAttributePreferredSharedMemoryCarveout,
                       int(cudaSharedmemCarveoutMaxShared)));
    reportKernel(rt, reinterpret_cast<const void *>(kernel), attributes,
                 threads, bytes);
    State::KernelShared entry;
    entry.fixed = size_t(attributes.sharedSizeBytes);
    it = known.emplace(reinterpret_cast<const void *>(kernel), entry).first;
  }
  State::KernelShared &k = it->second;
  if (bytes + k.fixed <= 48 * 1024 || bytes <= k.optedIn)
    return AXONN_OK;
  if (bytes + k.fixed > state(rt).prop.sharedMemPerBlockOptin)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "%s: %zu bytes of shared memory for length %lld (and "
                    "%zu of the kernel's own), more than the GPU's %zu",
                    what, bytes, (long long)length, k.fixed,
                    size_t(state(rt).prop.sharedMemPerBlockOptin));
  AXONN_CUDA(
      rt, cudaFuncSetAttribute(
              kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)));
  k.optedIn = bytes;
  return AXONN_OK;
}

inline cudaStream_t streamOf(axonn_rt *rt) { return state(rt).compute; }

/// The local tokens grouped by table row (token_groups.cu): keys[p] is a
/// row (or `rows` for a token outside the slice, sorted last) and
/// positions[p] the token's position, in ascending row order and, within a
/// row, ascending position; count entries each, in scratch (valid until
/// the next use of scratch), followed there by `extraBytes` for the
/// caller (`extra`, 256-byte aligned).
struct TokenGroups {
  const uint32_t *keys;
  const int32_t *positions;
  void *extra;
};
axonn_status groupTokensByRow(axonn_rt *rt, const int32_t *tokens,
                              int64_t count, int64_t rows, int64_t offset,
                              size_t extraBytes, TokenGroups *out);

/// Reads the GEMM settings (AXONN_GEMM_PRECISION, tuning, its cache) once,
/// before the first GEMM or whatever depends on them.
void loadGemmSettings(State &s);

/// The attention kernels AXONN_ATTENTION chooses: mma (the default: on
/// the tensor cores where they apply, attention_mma.cu), tiled (the fp32
/// SIMT kernels tiled for head dimensions 32, 64 and 128) or rows (a block
/// per query row); anything else fails.
enum class AttentionKernels { Mma, Tiled, Rows };
axonn_status attentionKernels(axonn_rt *rt, AttentionKernels *out);

/// Whether the tensor-core attention takes a call: head dimension 32, 64
/// or 128 on sm_80 or newer where its shared memory fits, with bf16
/// storage, or fp32 storage while AXONN_GEMM_PRECISION is bf16.
bool mmaAttentionApplies(axonn_rt *rt, bool bf16Storage, int64_t headDim);
/// axonn_rt_attention(_bf16) and axonn_rt_attention_grad(_bf16) on the
/// tensor cores, in the storage type (bf16Storage: axonn_bf16, else fp32).
/// lse (if not null) as axonn_rt_attention's; the backward reads the
/// forward's out and lse.
axonn_status mmaAttention(axonn_rt *rt, bool bf16Storage, const void *qkv,
                          int64_t batch, int64_t seq, const QKVLayout &layout,
                          int32_t causal, double ropeBase, void *out,
                          float *lse);
axonn_status mmaAttentionGrad(axonn_rt *rt, bool bf16Storage, const void *dout,
                              const void *qkv, const void *out,
                              const float *lse, int64_t batch, int64_t seq,
                              const QKVLayout &layout, int32_t causal,
                              double ropeBase, void *dqkv);

} // namespace axonn::cuda

#endif // AXONN_CUDA_DEVICE_CUH
