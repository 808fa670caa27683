/*===- axonn_rt.h - C ABI of the axonn runtime ----------------------------===*
 *
 * The lowered training program calls the runtime only through this header,
 * so that the same emitted code links against the CPU (MPI + BLAS) or the
 * CUDA (NCCL + cuBLASLt) backend. Every call returns a status; on failure the
 * runtime records which rank and which call failed, and the program decides
 * how to stop.
 *
 * Stability: this is version 0 of the ABI. Entry points are added by the
 * runtime issue (allocation, kernels, collectives, data, checkpoints).
 *===----------------------------------------------------------------------===*/

#ifndef AXONN_RT_H
#define AXONN_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AXONN_RT_ABI_VERSION 0

/* Result of every runtime call. */
typedef enum axonn_status {
  AXONN_OK = 0,
  AXONN_ERR_INVALID_ARGUMENT = 1, /* a caller bug: bad shape, null pointer */
  AXONN_ERR_OUT_OF_MEMORY = 2,
  AXONN_ERR_IO = 3,               /* data or checkpoint file */
  AXONN_ERR_MPI = 4,
  AXONN_ERR_CUDA = 5,
  AXONN_ERR_NCCL = 6,
  AXONN_ERR_CUBLAS = 7,
  AXONN_ERR_NUMERIC = 8           /* non-finite loss or gradient */
} axonn_status;

/* The four axes of the process grid; ranks are ordered x fastest. */
typedef enum axonn_axis {
  AXONN_AXIS_X = 0,
  AXONN_AXIS_Y = 1,
  AXONN_AXIS_Z = 2,
  AXONN_AXIS_DATA = 3
} axonn_axis;

#ifdef __cplusplus
}
#endif

#endif /* AXONN_RT_H */
