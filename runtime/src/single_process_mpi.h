//===- single_process_mpi.h - the MPI calls of a world of one ---*- C++ -*-===//
//
// The runtime built with AXONN_RT_SINGLE_PROCESS links no MPI library: it
// runs one rank (grid 1x1x1x1), for machines without MPI. This header gives
// the few MPI calls the runtime makes their meaning in a world of one
// process: every communicator has one rank, so a collective copies its
// input to its output. It is not a communicator: started by a launcher
// with more than one rank, MPI_Init_thread fails and says so.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_SINGLE_PROCESS_MPI_H
#define AXONN_SINGLE_PROCESS_MPI_H

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

using MPI_Comm = int;
using MPI_Request = int;
using MPI_Datatype = int;
using MPI_Op = int;
using MPI_Errhandler = int;
struct MPI_Status {
  int unused;
};

inline constexpr int MPI_SUCCESS = 0;
inline constexpr int MPI_ERR_OTHER = 16;
inline constexpr MPI_Comm MPI_COMM_NULL = 0;
inline constexpr MPI_Comm MPI_COMM_WORLD = 1;
inline constexpr MPI_Request MPI_REQUEST_NULL = 0;
// A datatype is its size in bytes.
inline constexpr MPI_Datatype MPI_BYTE = 1;
inline constexpr MPI_Datatype MPI_UINT16_T = 2;
inline constexpr MPI_Datatype MPI_FLOAT = 4;
inline constexpr MPI_Datatype MPI_DOUBLE = 8;
inline constexpr MPI_Op MPI_SUM = 0;
inline constexpr MPI_Op MPI_MAX = 1;
inline constexpr MPI_Errhandler MPI_ERRORS_RETURN = 0;
inline constexpr int MPI_THREAD_FUNNELED = 1;
inline constexpr int MPI_MAX_ERROR_STRING = 256;
inline MPI_Status *const MPI_STATUS_IGNORE = nullptr;
inline const void *const MPI_IN_PLACE = reinterpret_cast<const void *>(1);

namespace axonn::single {
inline int &initialized() {
  static int state = 0; // 0 never, 1 running, 2 finalized
  return state;
}
/// The number of ranks a launcher started, from its environment, or 1.
inline long launchedRanks() {
  for (const char *name :
       {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"})
    if (const char *value = std::getenv(name))
      return std::strtol(value, nullptr, 10);
  return 1;
}
inline int copy(const void *in, void *out, int count, MPI_Datatype type) {
  if (in != MPI_IN_PLACE && in != out)
    std::memmove(out, in, size_t(count) * size_t(type));
  return MPI_SUCCESS;
}
} // namespace axonn::single

inline int MPI_Initialized(int *flag) {
  *flag = axonn::single::initialized() != 0;
  return MPI_SUCCESS;
}
inline int MPI_Finalized(int *flag) {
  *flag = axonn::single::initialized() == 2;
  return MPI_SUCCESS;
}
inline int MPI_Init_thread(int *, char ***, int, int *provided) {
  long ranks = axonn::single::launchedRanks();
  if (ranks > 1) {
    std::fprintf(stderr,
                 "axonn: this program was linked with the single-process "
                 "runtime (no MPI) but a launcher started %ld ranks; link it "
                 "with the MPI runtime (axonnc without --single-process)\n",
                 ranks);
    return MPI_ERR_OTHER;
  }
  axonn::single::initialized() = 1;
  *provided = MPI_THREAD_FUNNELED;
  return MPI_SUCCESS;
}
inline int MPI_Finalize() {
  axonn::single::initialized() = 2;
  return MPI_SUCCESS;
}
inline int MPI_Abort(MPI_Comm, int code) { std::exit(code); }
inline int MPI_Comm_rank(MPI_Comm, int *rank) {
  *rank = 0;
  return MPI_SUCCESS;
}
inline int MPI_Comm_size(MPI_Comm, int *size) {
  *size = 1;
  return MPI_SUCCESS;
}
inline int MPI_Comm_split(MPI_Comm, int, int, MPI_Comm *out) {
  *out = MPI_COMM_WORLD;
  return MPI_SUCCESS;
}
inline int MPI_Comm_free(MPI_Comm *comm) {
  *comm = MPI_COMM_NULL;
  return MPI_SUCCESS;
}
inline int MPI_Comm_set_errhandler(MPI_Comm, MPI_Errhandler) {
  return MPI_SUCCESS;
}
inline int MPI_Error_string(int code, char *text, int *length) {
  *length = std::snprintf(text, MPI_MAX_ERROR_STRING, "error %d", code);
  return MPI_SUCCESS;
}
inline int MPI_Ibcast(void *, int, MPI_Datatype, int, MPI_Comm,
                      MPI_Request *request) {
  *request = MPI_REQUEST_NULL;
  return MPI_SUCCESS;
}
inline int MPI_Ibarrier(MPI_Comm, MPI_Request *request) {
  *request = MPI_REQUEST_NULL;
  return MPI_SUCCESS;
}
inline int MPI_Iallreduce(const void *in, void *out, int count,
                          MPI_Datatype type, MPI_Op, MPI_Comm,
                          MPI_Request *request) {
  *request = MPI_REQUEST_NULL;
  return axonn::single::copy(in, out, count, type);
}
inline int MPI_Iallgather(const void *in, int count, MPI_Datatype type,
                          void *out, int, MPI_Datatype, MPI_Comm,
                          MPI_Request *request) {
  *request = MPI_REQUEST_NULL;
  return axonn::single::copy(in, out, count, type);
}
inline int MPI_Ireduce_scatter_block(const void *in, void *out, int count,
                                     MPI_Datatype type, MPI_Op, MPI_Comm,
                                     MPI_Request *request) {
  *request = MPI_REQUEST_NULL;
  return axonn::single::copy(in, out, count, type);
}
inline int MPI_Wait(MPI_Request *request, MPI_Status *) {
  *request = MPI_REQUEST_NULL;
  return MPI_SUCCESS;
}
inline int MPI_Test(MPI_Request *request, int *flag, MPI_Status *) {
  *request = MPI_REQUEST_NULL;
  *flag = 1;
  return MPI_SUCCESS;
}

#endif // AXONN_SINGLE_PROCESS_MPI_H
