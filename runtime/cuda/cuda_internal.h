//===- cuda_internal.h - the CUDA backend's state and checks ---*- C++ -*-===//
//
// Every CUDA, cuBLASLt and NCCL call goes through AXONN_CUDA /
// AXONN_CUBLAS / AXONN_NCCL, which record the failing call, its file:line
// and the library's error string with the rank (axonn_rt::fail) and return
// the status from the enclosing runtime entry point.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_CUDA_INTERNAL_H
#define AXONN_CUDA_INTERNAL_H

#include "../src/runtime_internal.h"

#include <cublasLt.h>
#include <cuda_runtime.h>
#ifndef AXONN_RT_SINGLE_PROCESS
#include <nccl.h>
#endif

#include <cstdint>
#include <map>

namespace axonn::cuda {

/// Input errors the kernels find (the host cannot see the data before they
/// run); reported by the next axonn_rt_synchronize.
enum DeviceError : int32_t {
  kTokenOutsideVocabulary = 1,
  kPositionOutsideTable = 2,
  kPositionOutsideCache = 3,
};

/// One collective group: its NCCL communicator and stream.
struct Group {
#ifndef AXONN_RT_SINGLE_PROCESS
  ncclComm_t comm = nullptr;
#endif
  cudaStream_t stream = nullptr;
  int64_t size = 1, index = 0;
};

struct State {
  int device = -1;
  cudaDeviceProp prop{};
  cudaStream_t compute = nullptr;
  cublasLtHandle_t lt = nullptr;
  void *ltWorkspace = nullptr;
  size_t ltWorkspaceBytes = size_t(32) << 20;
  /// Device-side input errors (DeviceError), in managed memory.
  int32_t *errors = nullptr;
  /// Scratch for reductions and staging, grown on demand.
  void *scratch = nullptr;
  size_t scratchBytes = 0;
  std::map<uint32_t, Group> groups;
};

inline State &state(axonn_rt *rt) { return *static_cast<State *>(rt->backend); }

axonn_status checkCuda(axonn_rt *rt, cudaError_t code, const char *call,
                       const char *file, int line);
axonn_status checkCublas(axonn_rt *rt, cublasStatus_t code, const char *call,
                         const char *file, int line);
#ifndef AXONN_RT_SINGLE_PROCESS
axonn_status checkNccl(axonn_rt *rt, ncclResult_t code, const char *call,
                       const char *file, int line);
#endif

/// At least `bytes` of device scratch (waits for the stream when it grows).
axonn_status scratch(axonn_rt *rt, size_t bytes, void **ptr);

} // namespace axonn::cuda

#define AXONN_CUDA(rt, expr)                                                   \
  do {                                                                         \
    if (axonn_status axonn_s_ = ::axonn::cuda::checkCuda(                      \
            (rt), (expr), #expr, __FILE__, __LINE__))                          \
      return axonn_s_;                                                         \
  } while (0)
#define AXONN_CUBLAS(rt, expr)                                                 \
  do {                                                                         \
    if (axonn_status axonn_s_ = ::axonn::cuda::checkCublas(                    \
            (rt), (expr), #expr, __FILE__, __LINE__))                          \
      return axonn_s_;                                                         \
  } while (0)
#define AXONN_NCCL(rt, expr)                                                   \
  do {                                                                         \
    if (axonn_status axonn_s_ = ::axonn::cuda::checkNccl(                      \
            (rt), (expr), #expr, __FILE__, __LINE__))                          \
      return axonn_s_;                                                         \
  } while (0)
/// After a kernel launch: the launch's own error.
#define AXONN_LAUNCHED(rt) AXONN_CUDA(rt, cudaGetLastError())

#endif // AXONN_CUDA_INTERNAL_H
