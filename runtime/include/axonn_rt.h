/*===- axonn_rt.h - C ABI of the axonn runtime ----------------------------===*
 *
 * The lowered training program calls the runtime only through this header,
 * so that the same emitted code links against the CPU (MPI + BLAS) or the
 * CUDA (NCCL + cuBLASLt) backend. Every call returns a status; on failure the
 * runtime records which rank and which call failed
 * (axonn_rt_last_error), and the program decides how to stop.
 *
 * Conventions: tensors are dense, row-major, fp32 unless said otherwise,
 * and passed as pointers to the rank's local piece; shapes are int64_t.
 * "tokens" is the number of (batch, sequence) positions of the local piece,
 * "seq" its sequence length. A set of grid axes (the group of a collective,
 * or the axes a vocabulary slice is taken over) is an axonn_axes, major
 * axis first. The semantics of each kernel is the op of the same name in the
 * axonn dialect (docs/reference/AxonnDialect.md).
 *
 * Training in bfloat16 (training.dtype) calls the `_bf16` twin of each
 * kernel and collective: the same arguments, with the model's tensors
 * (activations, parameters, their gradients, key/value caches) stored as
 * bf16, while statistics stay fp32 (norm statistics, logits max and sums,
 * the Goldfish mask and count, losses, the gradient norm, AdamW's moments
 * and master weights). Kernels compute in fp32 (the fp64 build: fp64) and
 * round their bf16 results to nearest even.
 *
 * Stability: version 10 of the ABI (9 lacked the collective timeout's
 * calls; 8 the recorded calls, axonn_graph;
 * 7 the norm and embedding
 * gradients' accumulate and linear_grad_weight's bias_grad; 6 had logits_max
 *without the partial sums, and softmax_sums over the logits; 5 lacked the
 *grouped sum of squares and AdamW; 4 attention's lse and attention_grad's out
 *and lse; 3 linear_grad_input_gelu; 2 the bf16 twins, the residual norms and
 * linear_gelu; 1 the memory calls, cached attention and the embedding's
 * start position).
 *===----------------------------------------------------------------------===*/

#ifndef AXONN_RT_H
#define AXONN_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AXONN_RT_ABI_VERSION 10

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

/* The element type of every tensor: float, or double in the fp64 build of
 * the runtime (AXONN_RT_DOUBLE, libaxonn_rt_f64.a), which gradient checks
 * link. Emitted code passes pointers, so one program text serves both;
 * its memory plan must be for the same element size. */
#ifdef AXONN_RT_DOUBLE
typedef double axonn_real;
#else
typedef float axonn_real;
#endif

/* A bfloat16 value: the upper 16 bits of an IEEE fp32. */
typedef uint16_t axonn_bf16;

/* fp32 -> bf16, rounded to nearest even (NaN stays NaN). */
static inline axonn_bf16 axonn_bf16_from_float(float value) {
  union { float f; uint32_t u; } bits;
  bits.f = value;
  if ((bits.u & 0x7fffffffu) > 0x7f800000u)
    return (axonn_bf16)((bits.u >> 16) | 0x40u);
  bits.u += 0x7fffu + ((bits.u >> 16) & 1u);
  return (axonn_bf16)(bits.u >> 16);
}
static inline float axonn_bf16_to_float(axonn_bf16 value) {
  union { float f; uint32_t u; } bits;
  bits.u = (uint32_t)value << 16;
  return bits.f;
}

/* The four axes of the process grid; ranks are ordered x fastest. */
typedef enum axonn_axis {
  AXONN_AXIS_X = 0,
  AXONN_AXIS_Y = 1,
  AXONN_AXIS_Z = 2,
  AXONN_AXIS_DATA = 3
} axonn_axis;

/* An ordered set of grid axes, major first, packed in 32 bits so that
 * emitted code passes it as a plain integer: bits 0-2 hold the count (0 to
 * 4), bits 4+2i and 5+2i the i-th axis. 0 is the empty set. */
typedef uint32_t axonn_axes;

static inline axonn_axes axonn_axes_make(int32_t count, const int32_t *axes) {
  axonn_axes code = (axonn_axes)count;
  int32_t i;
  for (i = 0; i < count; ++i)
    code |= (axonn_axes)axes[i] << (4 + 2 * i);
  return code;
}
static inline int32_t axonn_axes_count(axonn_axes code) {
  return (int32_t)(code & 7u);
}
static inline int32_t axonn_axes_axis(axonn_axes code, int32_t i) {
  return (int32_t)((code >> (4 + 2 * i)) & 3u);
}

typedef enum axonn_reduction {
  AXONN_REDUCE_SUM = 0,
  AXONN_REDUCE_MAX = 1
} axonn_reduction;

/* The runtime of one rank: its place in the grid, its communicators, the
 * last error. Opaque. */
typedef struct axonn_rt axonn_rt;

/* An asynchronous collective in flight; completed by axonn_rt_wait. */
typedef struct axonn_request_impl *axonn_request;

/*--- Life cycle -----------------------------------------------------------*/

/* Starts the runtime for a grid of grid[0..3] = (Gx, Gy, Gz, Gdata) ranks.
 * Initializes MPI when the process was started by a launcher (the world
 * must then have exactly Gx*Gy*Gz*Gdata ranks); a process started alone is
 * one rank and needs a 1x1x1x1 grid. */
axonn_status axonn_rt_create(const int64_t grid[4], axonn_rt **rt);
/* Stops the runtime (and MPI, if it started it). */
void axonn_rt_destroy(axonn_rt *rt);
/* Ends every rank at once after an error: reports it on stderr, then
 * aborts the MPI job with `code` (or exits, alone). Does not return. */
void axonn_rt_abort(axonn_rt *rt, int code);

int64_t axonn_rt_rank(const axonn_rt *rt);
int64_t axonn_rt_world_size(const axonn_rt *rt);
/* The rank's coordinate along an axis. */
int64_t axonn_rt_coordinate(const axonn_rt *rt, axonn_axis axis);
/* "rank 3 (x 1, y 1, z 0, data 0): MPI_Iallreduce over [y] failed: ..." */
const char *axonn_rt_last_error(const axonn_rt *rt);
/* The BLAS core type in use ("SkylakeX", ...), for logs. When OpenBLAS
 * picks a core weaker than the CPU supports (and OPENBLAS_CORETYPE is not
 * set), axonn_rt_create starts the process again with the right one. */
const char *axonn_rt_blas_core(void);
/* A nominal fp32 peak of one rank in FLOP/s (BLAS threads x clock x FMA
 * FLOP per cycle of the core), described in `text`; 0 if unknown. */
double axonn_rt_peak_flops(char *text, int64_t size);

/*--- Collectives (asynchronous; in and out may alias for all-reduce) -------*/

axonn_status axonn_rt_all_reduce_start(axonn_rt *rt, const axonn_real *in,
                                       axonn_real *out, int64_t count,
                                       axonn_axes axes,
                                       axonn_reduction reduction,
                                       axonn_request *request);
/* The input is viewed as [outer, rows, inner] (the dimension gathered or
 * scattered in the middle). All-gather concatenates the group's inputs
 * along the rows: out is [outer, rows * group, inner]. */
axonn_status axonn_rt_all_gather_start(axonn_rt *rt, const axonn_real *in,
                                       axonn_real *out, int64_t outer, int64_t rows,
                                       int64_t inner, axonn_axes axes,
                                       axonn_request *request);
/* Reduces the group's inputs and keeps this rank's slice of the rows:
 * out is [outer, rows / group, inner]. */
axonn_status axonn_rt_reduce_scatter_start(axonn_rt *rt, const axonn_real *in,
                                           axonn_real *out, int64_t outer,
                                           int64_t rows, int64_t inner,
                                           axonn_axes axes,
                                           axonn_reduction reduction,
                                           axonn_request *request);
/* Completes the collective. A wait longer than the collective timeout
 * fails ("MPI_Iallreduce over [data] did not finish within 600 s ..."):
 * the collective is still in flight then, and only axonn_rt_abort ends the
 * run cleanly (MPI cannot be finalized over it). */
axonn_status axonn_rt_wait(axonn_rt *rt, axonn_request request);
/* The longest a rank waits for a collective, in seconds (0: no limit): at
 * axonn_rt_wait, and on a GPU with NCCL communicators wherever the host
 * waits for queued work (axonn_rt_synchronize, collectives on host
 * buffers, first-call tuning), where NCCL's asynchronous errors end the
 * wait too. Starts at AXONN_COLLECTIVE_TIMEOUT, else 600. Making a group's
 * communicator (the first collective over a set of axes) is not bounded.
 * A caller that knows one rank works alone for long (writing a
 * checkpoint) lifts it around that work. */
axonn_status axonn_rt_set_collective_timeout(axonn_rt *rt, double seconds);
double axonn_rt_collective_timeout(const axonn_rt *rt);

/*--- Memory ---------------------------------------------------------------*/

typedef enum axonn_memory {
  /* Read and written by the host and by the backend's kernels: parameters,
   * optimizer state, inputs and results (host memory on the CPU backend,
   * CUDA managed memory on the CUDA backend). */
  AXONN_MEMORY_SHARED = 0,
  /* Only the backend's kernels touch it: the workspace of the memory plan
   * (device memory on the CUDA backend). */
  AXONN_MEMORY_DEVICE = 1
} axonn_memory;

/* The backend this runtime was built with: "cpu" or "cuda". */
const char *axonn_rt_backend(void);
/* Allocates `bytes`, zero-filled, aligned to 256 bytes. */
axonn_status axonn_rt_alloc(axonn_rt *rt, int64_t bytes, axonn_memory kind,
                            void **ptr);
void axonn_rt_free(axonn_rt *rt, void *ptr);
/* The most bytes this rank had allocated through axonn_rt_alloc at once
 * (device and managed memory on the CUDA backend), plus the high-water
 * mark of the backend's own working memory (CUDA's stream-ordered pool). */
int64_t axonn_rt_peak_allocated(const axonn_rt *rt);
/* A hint that the backend's kernels use the `bytes` of shared memory at
 * `ptr` (from axonn_rt_alloc with AXONN_MEMORY_SHARED) next, queued after
 * the work already queued: the CUDA backend migrates those pages to the
 * GPU (cudaMemPrefetchAsync on the compute stream) instead of letting its
 * kernels fault them in; the CPU backend, and the CUDA backend for memory
 * that is not managed or on a GPU without concurrent managed access, do
 * nothing. For inputs the host writes, and results it reads, every step. */
axonn_status axonn_rt_prefetch(axonn_rt *rt, const void *ptr, int64_t bytes);
/* Waits for all the work this rank has queued (kernels, collectives);
 * after it the host may read results and write inputs in shared memory.
 * Compiled functions queue work and may return before it ends. */
axonn_status axonn_rt_synchronize(axonn_rt *rt);

/*--- Recorded calls (CUDA graphs) ------------------------------------------*/

/* The work a compiled function queues (a training step) can be recorded
 * once and replayed: one launch instead of hundreds, the same kernels with
 * the same arguments, so the same bits. What must stay the same between
 * replays: the buffers' addresses (a static plan's are) and every value the
 * host passes by value; inputs that change (tokens, the step number) are
 * read from memory. A recording captures no host work: a call that would
 * wait for the GPU, allocate, or first time or tune something makes the
 * recording fail, not the run. */
typedef struct axonn_graph_impl *axonn_graph;
/* 1 where the backend records (CUDA), 0 where it does not (CPU). */
int32_t axonn_rt_graph_supported(const axonn_rt *rt);
/* From here to axonn_rt_graph_end, this thread's calls are recorded
 * instead of run. */
axonn_status axonn_rt_graph_begin(axonn_rt *rt);
/* Ends the recording. On success *graph is ready to launch; on failure
 * *graph is null, the error says why, nothing recorded has run, and the
 * backend is as it was before axonn_rt_graph_begin (the calls may be made
 * again, unrecorded; a call that skipped its first-call tuning while
 * recording fails the recording, and is tuned when made unrecorded). */
axonn_status axonn_rt_graph_end(axonn_rt *rt, axonn_graph *graph);
/* Queues a recorded graph's work, as a call of what was recorded would
 * (refused while recording or tracing, and once the graph is stale). */
axonn_status axonn_rt_graph_launch(axonn_rt *rt, axonn_graph graph);
/* 0 once memory the graph uses may have moved (the backend's scratch grew
 * after the recording, or axonn_rt_free freed a buffer): record it again. */
int32_t axonn_rt_graph_current(const axonn_rt *rt, axonn_graph graph);
void axonn_rt_graph_destroy(axonn_rt *rt, axonn_graph graph);

/*--- Tracing (Chrome trace events) ---------------------------------------*/

/* Off until enabled. When on, every kernel, collective start and wait (and
 * whatever the caller records) becomes an event of this rank's trace. */
void axonn_rt_trace_enable(axonn_rt *rt, int32_t on);
/* Seconds since the runtime started (the clock of the trace). */
double axonn_rt_now(const axonn_rt *rt);
/* An event of the caller's ("data", "step"), from start to end (seconds). */
void axonn_rt_trace_record(axonn_rt *rt, const char *name,
                           const char *category, double start, double end);
/* Where the time between `since` and `until` went: kernels (compute and
 * optimizer), waits on collectives (exposed communication), collectives in
 * flight while this rank computed (overlapped communication). */
typedef struct axonn_trace_totals {
  double compute, optimizer, exposed, overlapped;
} axonn_trace_totals;
void axonn_rt_trace_totals(const axonn_rt *rt, double since, double until,
                           axonn_trace_totals *totals);
/* Writes the events as Chrome trace JSON (opens in Perfetto or
 * chrome://tracing), atomically (a temporary file, then rename). */
axonn_status axonn_rt_trace_write(axonn_rt *rt, const char *path);

/* Copies `bytes` bytes (a step's result out of the workspace). */
axonn_status axonn_rt_copy(axonn_rt *rt, const void *src, void *dst,
                           int64_t bytes);

/*--- Kernels (fp32) --------------------------------------------------------*/

/* out[t] = table[tokens[t] - offset] (zero outside the local slice) +
 * positions[start + t % seq] (when positions is not null and this rank adds
 * it: once_over names the axes along which only coordinate 0 adds). start
 * is *start_at, or 0 when start_at is null; the positions used must lie
 * within the table's position_rows rows. */
axonn_status axonn_rt_embedding(axonn_rt *rt, const int32_t *tokens,
                                int64_t tokens_count, int64_t seq,
                                const axonn_real *table, int64_t rows,
                                int64_t width, const axonn_real *positions,
                                int64_t position_rows,
                                const int32_t *start_at,
                                axonn_axes vocab_axes, axonn_axes once_over,
                                axonn_real *out);
/* table_grad[v] = the sum of grad over the tokens equal to v (this rank's
 * slice of rows), plus accumulate[v] when accumulate is not null (another
 * gradient of the table; it may be table_grad). */
axonn_status axonn_rt_embedding_grad(axonn_rt *rt, const axonn_real *grad,
                                     const int32_t *tokens,
                                     int64_t tokens_count, int64_t rows,
                                     int64_t width, axonn_axes vocab_axes,
                                     const axonn_real *accumulate,
                                     axonn_real *table_grad);
axonn_status axonn_rt_position_grad(axonn_rt *rt, const axonn_real *grad,
                                    int64_t tokens_count, int64_t seq,
                                    int64_t positions, int64_t width,
                                    axonn_real *positions_grad);

/* Layer norm over the last dimension (local width `local`); with `stats`
 * ([tokens, 2] sums over all `width` features) the moments come from it. */
axonn_status axonn_rt_layer_norm(axonn_rt *rt, const axonn_real *x,
                                 const axonn_real *scale, const axonn_real *bias,
                                 const axonn_real *stats, int64_t tokens,
                                 int64_t local, int64_t width, double epsilon,
                                 axonn_real *y);
axonn_status axonn_rt_rms_norm(axonn_rt *rt, const axonn_real *x,
                               const axonn_real *scale, const axonn_real *stats,
                               int64_t tokens, int64_t local, int64_t width,
                               double epsilon, axonn_real *y);
/* sum = x + residual, and y its layer norm (scale, bias) or RMS norm
 * (scale), over whole features of width `width` (axonn.residual_norm). */
axonn_status axonn_rt_residual_layer_norm(axonn_rt *rt, const axonn_real *x,
                                          const axonn_real *residual,
                                          const axonn_real *scale,
                                          const axonn_real *bias,
                                          int64_t tokens, int64_t width,
                                          double epsilon, axonn_real *sum,
                                          axonn_real *y);
axonn_status axonn_rt_residual_rms_norm(axonn_rt *rt, const axonn_real *x,
                                        const axonn_real *residual,
                                        const axonn_real *scale,
                                        int64_t tokens, int64_t width,
                                        double epsilon, axonn_real *sum,
                                        axonn_real *y);
/* [sum x, sum x^2] per token, or [sum x^2] with rms. */
axonn_status axonn_rt_norm_stats(axonn_rt *rt, const axonn_real *x, int64_t tokens,
                                 int64_t local, int32_t rms, axonn_real *stats);
/* [sum x, sum x^2, sum g dy, sum g dy x], or [sum x^2, sum g dy x]. */
axonn_status axonn_rt_norm_grad_stats(axonn_rt *rt, const axonn_real *dy,
                                      const axonn_real *x, const axonn_real *scale,
                                      int64_t tokens, int64_t local,
                                      int32_t rms, axonn_real *stats);
/* The gradients of a layer norm (dx, scale_grad, bias_grad) or RMS norm
 * (dx, scale_grad) from dy; with `stats` ([tokens, 4] or [tokens, 2] sums
 * of norm_grad_stats over all `width` features) the per-token sums come
 * from it. dx = accumulate + the norm's input gradient when accumulate is
 * not null (another gradient of x, added before rounding; it may be dx). */
axonn_status axonn_rt_layer_norm_grad(
    axonn_rt *rt, const axonn_real *dy, const axonn_real *x,
    const axonn_real *scale, const axonn_real *stats, int64_t tokens,
    int64_t local, int64_t width, double epsilon, const axonn_real *accumulate,
    axonn_real *dx, axonn_real *scale_grad, axonn_real *bias_grad);
axonn_status
axonn_rt_rms_norm_grad(axonn_rt *rt, const axonn_real *dy, const axonn_real *x,
                       const axonn_real *scale, const axonn_real *stats,
                       int64_t tokens, int64_t local, int64_t width,
                       double epsilon, const axonn_real *accumulate,
                       axonn_real *dx, axonn_real *scale_grad);

/* y[rows, n] = x[rows, k] w[n, k]^T (+ bias, if not null and this rank
 * adds it). */
axonn_status axonn_rt_linear(axonn_rt *rt, const axonn_real *x, const axonn_real *w,
                             const axonn_real *bias, axonn_axes once_over,
                             int64_t rows, int64_t n, int64_t k, axonn_real *y);
/* pre = x w^T (+ bias, if not null) and y = GELU(pre) with `approximation`
 * as for axonn_rt_gelu (axonn.linear_gelu). */
axonn_status axonn_rt_linear_gelu(axonn_rt *rt, const axonn_real *x,
                                  const axonn_real *w, const axonn_real *bias,
                                  int64_t rows, int64_t n, int64_t k,
                                  int32_t approximation, axonn_real *pre,
                                  axonn_real *y);
/* dx[rows, k] = dy[rows, n] w[n, k]. */
axonn_status axonn_rt_linear_grad_input(axonn_rt *rt, const axonn_real *dy,
                                        const axonn_real *w, int64_t rows,
                                        int64_t n, int64_t k, axonn_real *dx);
/* dx[rows, k] = (dy[rows, n] w[n, k]) * GELU'(pre[rows, k]), `approximation`
 * as for axonn_rt_gelu (axonn.linear_grad_input_gelu: the gradient of the
 * pre-activation of a GELU whose output fed the linear layer). */
axonn_status axonn_rt_linear_grad_input_gelu(axonn_rt *rt,
                                             const axonn_real *dy,
                                             const axonn_real *w,
                                             const axonn_real *pre,
                                             int64_t rows, int64_t n,
                                             int64_t k, int32_t approximation,
                                             axonn_real *dx);
/* dw[n, k] = dy[rows, n]^T x[rows, k], and, when bias_grad is not null,
 * bias_grad[n] = sum over rows of dy (linear_grad_bias) from the same
 * pass (on GPUs the GEMM's epilogue). */
axonn_status axonn_rt_linear_grad_weight(axonn_rt *rt, const axonn_real *dy,
                                         const axonn_real *x, int64_t rows,
                                         int64_t n, int64_t k, axonn_real *dw,
                                         axonn_real *bias_grad);
/* db[n] = sum over rows of dy[rows, n]. */
axonn_status axonn_rt_linear_grad_bias(axonn_rt *rt, const axonn_real *dy,
                                       int64_t rows, int64_t n, axonn_real *db);

/* Causal (or not) attention with grouped KV heads on qkv [batch, seq,
 * (heads + 2 kv_heads) d] in the grouped layout of axonn.attention;
 * rope_base 0 means no rotary embedding. out is [batch, seq, heads d];
 * lse (if not null) [batch, seq, heads] receives each query row's log of
 * the sum over its visible keys of exp(q . k / sqrt(d)). */
axonn_status axonn_rt_attention(axonn_rt *rt, const axonn_real *qkv, int64_t batch,
                                int64_t seq, int64_t heads, int64_t kv_heads,
                                int64_t head_dim, int32_t causal,
                                double rope_base, axonn_real *out,
                                axonn_real *lse);
/* Attention of `seq` new tokens at positions *start_at ... over a key/value
 * cache (decoding): k_cache and v_cache are [batch, kv_heads, capacity,
 * head_dim]; the new keys (rotated) and values are written at rows
 * *start_at ..., then each new token attends to the rows up to its own
 * position. qkv and out as for axonn_rt_attention. */
axonn_status axonn_rt_cached_attention(axonn_rt *rt, const axonn_real *qkv,
                                       int64_t batch, int64_t seq,
                                       int64_t heads, int64_t kv_heads,
                                       int64_t head_dim, double rope_base,
                                       axonn_real *k_cache,
                                       axonn_real *v_cache, int64_t capacity,
                                       const int32_t *start_at,
                                       axonn_real *out);
/* dqkv from dout; out and lse are the forward's results for this qkv
 * (the backward reads them rather than recomputing the softmax). Neither
 * attention call writes a result over its operands: out overlapping qkv,
 * or dqkv overlapping qkv or dout, is refused (AXONN_ERR_INVALID_ARGUMENT);
 * the compiler's memory plan never asks for it. */
axonn_status axonn_rt_attention_grad(axonn_rt *rt, const axonn_real *dout,
                                     const axonn_real *qkv,
                                     const axonn_real *out,
                                     const axonn_real *lse, int64_t batch,
                                     int64_t seq, int64_t heads,
                                     int64_t kv_heads, int64_t head_dim,
                                     int32_t causal, double rope_base,
                                     axonn_real *dqkv);

/* approximation: 0 exact (erf), 1 tanh. */
axonn_status axonn_rt_gelu(axonn_rt *rt, const axonn_real *x, int64_t count,
                           int32_t approximation, axonn_real *y);
axonn_status axonn_rt_gelu_grad(axonn_rt *rt, const axonn_real *dy, const axonn_real *x,
                                int64_t count, int32_t approximation,
                                axonn_real *dx);
/* x holds interleaved (gate, up) pairs; y has count outputs. */
axonn_status axonn_rt_swiglu(axonn_rt *rt, const axonn_real *x, int64_t count,
                             axonn_real *y);
axonn_status axonn_rt_swiglu_grad(axonn_rt *rt, const axonn_real *dy,
                                  const axonn_real *x, int64_t count, axonn_real *dx);
axonn_status axonn_rt_add(axonn_rt *rt, const axonn_real *a, const axonn_real *b,
                          int64_t count, axonn_real *out);

/* The vocabulary-parallel cross-entropy (logits [tokens, rows] of the local
 * vocabulary slice; vocab_size 0 means every row is real). logits_max reads
 * the logits once: per token, max = the maximum over the real rows and
 * partial = [sum of exp(logit - max) over them, the target's logit if it
 * is in this slice else 0]. softmax_sums rescales partial to the global
 * maximum: sums = [partial[0] * exp(local_max - max), partial[1]]. */
axonn_status axonn_rt_logits_max(axonn_rt *rt, const axonn_real *logits,
                                 const int32_t *targets, int64_t tokens,
                                 int64_t rows, axonn_axes vocab_axes,
                                 int64_t vocab_size, axonn_real *max,
                                 axonn_real *partial);
axonn_status axonn_rt_softmax_sums(axonn_rt *rt, const axonn_real *partial,
                                   const axonn_real *local_max,
                                   const axonn_real *max, int64_t tokens,
                                   axonn_real *sums);
axonn_status axonn_rt_cross_entropy(axonn_rt *rt, const axonn_real *max,
                                    const axonn_real *sums, int64_t tokens,
                                    int64_t global_tokens, axonn_real *loss);
axonn_status axonn_rt_cross_entropy_grad(axonn_rt *rt, const axonn_real *logits,
                                         const axonn_real *max, const axonn_real *sums,
                                         const int32_t *targets,
                                         int64_t tokens, int64_t rows,
                                         axonn_axes vocab_axes,
                                         int64_t vocab_size,
                                         int64_t global_tokens,
                                         axonn_real *dlogits);

/* The gradient norm, one gradient at a time: result (+)= scale * sum(grad^2);
 * `first` starts a new sum. */
axonn_status axonn_rt_sum_squares(axonn_rt *rt, const axonn_real *grad,
                                  int64_t size, double scale, int32_t first,
                                  axonn_real *result);
axonn_status axonn_rt_sqrt(axonn_rt *rt, const axonn_real *x, axonn_real *y);
/* The sum of squares of `tensors` gradients at once: result = sum over i
 * of scales[i] * sum(grads[i]^2), grads[i] of sizes[i] elements (one or
 * two launches on a GPU, not two per gradient). */
axonn_status axonn_rt_sum_squares_group(axonn_rt *rt, int64_t tensors,
                                        const axonn_real *const *grads,
                                        const int64_t *sizes,
                                        const double *scales,
                                        axonn_real *result);

/*--- Goldfish loss ----------------------------------------------------------*/

typedef enum axonn_goldfish_strategy {
  AXONN_GOLDFISH_HASH = 0,  /* hash of the h targets ending at t */
  AXONN_GOLDFISH_STATIC = 1 /* every k-th position */
} axonn_goldfish_strategy;

/* The Goldfish mask of `rows` sequences of `seq` targets: keep[t] = 1 if
 * target t counts in the loss, 0 if dropped. Hash strategy: positions
 * t < h-1 are kept; otherwise key = (product of targets[t-h+1..t] as
 * wrapping int64) mod 1,000,003 taken non-negative, and the target is
 * dropped iff table[key] < 1/k, where table[i] = (splitmix64(0x601DF15B ^ i)
 * >> 11) / 2^53 (the fixed table of 1,000,003 uniform values, computed on
 * demand). Static strategy: dropped iff (t + 1) % k == 0. `count` (if not
 * null) receives the number kept. */
axonn_status axonn_rt_goldfish_mask(axonn_rt *rt, const int32_t *targets,
                                    int64_t rows, int64_t seq,
                                    int32_t strategy, int64_t k, int64_t h,
                                    axonn_real *keep, axonn_real *count);
/* The Goldfish loss's share of this rank: sum over kept local tokens
 * (keep[t] = 1) of max + log(sums[0]) - sums[1], over *count (the kept
 * tokens of the whole batch). */
axonn_status axonn_rt_cross_entropy_masked(axonn_rt *rt, const axonn_real *max,
                                           const axonn_real *sums,
                                           const axonn_real *keep,
                                           const axonn_real *count,
                                           int64_t tokens, axonn_real *loss);
/* Its gradient: as axonn_rt_cross_entropy_grad, times keep, over *count. */
axonn_status axonn_rt_cross_entropy_grad_masked(
    axonn_rt *rt, const axonn_real *logits, const axonn_real *max,
    const axonn_real *sums, const int32_t *targets, const axonn_real *keep,
    const axonn_real *count, int64_t tokens, int64_t rows,
    axonn_axes vocab_axes, int64_t vocab_size, axonn_real *dlogits);

/* AdamW hyper-parameters (#axonn.training); schedule 0 constant, 1 linear,
 * 2 cosine. */
typedef struct axonn_adamw_config {
  double lr, min_lr, beta1, beta2, eps, weight_decay, grad_clip;
  int64_t warmup_steps, steps;
  int32_t schedule;
} axonn_adamw_config;

/* One AdamW step of one parameter, in place: param, m, v (and master, if
 * not null: the f32 master copy, of which param is then the rounding).
 * `step` (from 0) and `norm` (the global gradient norm) are read from
 * memory; the hyper-parameters come one by one, as emitted code passes
 * them. */
axonn_status axonn_rt_adamw(axonn_rt *rt, axonn_real *param, const axonn_real *grad,
                            axonn_real *m, axonn_real *v, axonn_real *master, int64_t count,
                            const int64_t *step, const axonn_real *norm, double lr,
                            double min_lr, double beta1, double beta2,
                            double eps, double weight_decay, double grad_clip,
                            int64_t warmup_steps, int64_t steps,
                            int32_t schedule, int32_t decay);
/* axonn_rt_adamw on `tensors` parameters at once (one launch on a GPU):
 * the arrays hold each one's pointers and counts[i] its element count,
 * decay[i] its decay flag; master is null (no master weights) or holds one
 * per parameter. The hyper-parameters, step and norm are shared. */
axonn_status axonn_rt_adamw_group(
    axonn_rt *rt, int64_t tensors, axonn_real *const *params,
    const axonn_real *const *grads, axonn_real *const *m,
    axonn_real *const *v, axonn_real *const *master, const int64_t *counts,
    const int32_t *decay, const int64_t *step, const axonn_real *norm,
    double lr, double min_lr, double beta1, double beta2, double eps,
    double weight_decay, double grad_clip, int64_t warmup_steps, int64_t steps,
    int32_t schedule);
/* The learning rate of the schedule at `step` (from 0). */
double axonn_rt_learning_rate(const axonn_adamw_config *config, int64_t step);

/*--- bf16 twins (see the top of this header) -------------------------------*/

axonn_status axonn_rt_all_reduce_start_bf16(axonn_rt *rt, const axonn_bf16 *in,
                                            axonn_bf16 *out, int64_t count,
                                            axonn_axes axes,
                                            axonn_reduction reduction,
                                            axonn_request *request);
axonn_status axonn_rt_all_gather_start_bf16(axonn_rt *rt, const axonn_bf16 *in,
                                            axonn_bf16 *out, int64_t outer,
                                            int64_t rows, int64_t inner,
                                            axonn_axes axes,
                                            axonn_request *request);
axonn_status axonn_rt_reduce_scatter_start_bf16(
    axonn_rt *rt, const axonn_bf16 *in, axonn_bf16 *out, int64_t outer,
    int64_t rows, int64_t inner, axonn_axes axes, axonn_reduction reduction,
    axonn_request *request);

axonn_status axonn_rt_embedding_bf16(axonn_rt *rt, const int32_t *tokens,
                                     int64_t tokens_count, int64_t seq,
                                     const axonn_bf16 *table, int64_t rows,
                                     int64_t width,
                                     const axonn_bf16 *positions,
                                     int64_t position_rows,
                                     const int32_t *start_at,
                                     axonn_axes vocab_axes,
                                     axonn_axes once_over, axonn_bf16 *out);
axonn_status axonn_rt_embedding_grad_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                          const int32_t *tokens,
                                          int64_t tokens_count, int64_t rows,
                                          int64_t width, axonn_axes vocab_axes,
                                          const axonn_bf16 *accumulate,
                                          axonn_bf16 *table_grad);
axonn_status axonn_rt_position_grad_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                         int64_t tokens_count, int64_t seq,
                                         int64_t positions, int64_t width,
                                         axonn_bf16 *positions_grad);
axonn_status axonn_rt_layer_norm_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                      const axonn_bf16 *scale,
                                      const axonn_bf16 *bias,
                                      const axonn_real *stats, int64_t tokens,
                                      int64_t local, int64_t width,
                                      double epsilon, axonn_bf16 *y);
axonn_status axonn_rt_rms_norm_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                    const axonn_bf16 *scale,
                                    const axonn_real *stats, int64_t tokens,
                                    int64_t local, int64_t width,
                                    double epsilon, axonn_bf16 *y);
axonn_status axonn_rt_residual_layer_norm_bf16(
    axonn_rt *rt, const axonn_bf16 *x, const axonn_bf16 *residual,
    const axonn_bf16 *scale, const axonn_bf16 *bias, int64_t tokens,
    int64_t width, double epsilon, axonn_bf16 *sum, axonn_bf16 *y);
axonn_status axonn_rt_residual_rms_norm_bf16(
    axonn_rt *rt, const axonn_bf16 *x, const axonn_bf16 *residual,
    const axonn_bf16 *scale, int64_t tokens, int64_t width, double epsilon,
    axonn_bf16 *sum, axonn_bf16 *y);
axonn_status axonn_rt_norm_stats_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                      int64_t tokens, int64_t local,
                                      int32_t rms, axonn_real *stats);
axonn_status axonn_rt_norm_grad_stats_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                           const axonn_bf16 *x,
                                           const axonn_bf16 *scale,
                                           int64_t tokens, int64_t local,
                                           int32_t rms, axonn_real *stats);
axonn_status axonn_rt_layer_norm_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x,
    const axonn_bf16 *scale, const axonn_real *stats, int64_t tokens,
    int64_t local, int64_t width, double epsilon, const axonn_bf16 *accumulate,
    axonn_bf16 *dx, axonn_bf16 *scale_grad, axonn_bf16 *bias_grad);
axonn_status axonn_rt_rms_norm_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x,
    const axonn_bf16 *scale, const axonn_real *stats, int64_t tokens,
    int64_t local, int64_t width, double epsilon, const axonn_bf16 *accumulate,
    axonn_bf16 *dx, axonn_bf16 *scale_grad);
axonn_status axonn_rt_linear_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                  const axonn_bf16 *w, const axonn_bf16 *bias,
                                  axonn_axes once_over, int64_t rows,
                                  int64_t n, int64_t k, axonn_bf16 *y);
axonn_status axonn_rt_linear_gelu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                       const axonn_bf16 *w,
                                       const axonn_bf16 *bias, int64_t rows,
                                       int64_t n, int64_t k,
                                       int32_t approximation, axonn_bf16 *pre,
                                       axonn_bf16 *y);
axonn_status axonn_rt_linear_grad_input_bf16(axonn_rt *rt,
                                             const axonn_bf16 *dy,
                                             const axonn_bf16 *w, int64_t rows,
                                             int64_t n, int64_t k,
                                             axonn_bf16 *dx);
axonn_status axonn_rt_linear_grad_input_gelu_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *w,
    const axonn_bf16 *pre, int64_t rows, int64_t n, int64_t k,
    int32_t approximation, axonn_bf16 *dx);
axonn_status axonn_rt_linear_grad_weight_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x, int64_t rows,
    int64_t n, int64_t k, axonn_bf16 *dw, axonn_bf16 *bias_grad);
axonn_status axonn_rt_linear_grad_bias_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                            int64_t rows, int64_t n,
                                            axonn_bf16 *db);
axonn_status axonn_rt_attention_bf16(axonn_rt *rt, const axonn_bf16 *qkv,
                                     int64_t batch, int64_t seq, int64_t heads,
                                     int64_t kv_heads, int64_t head_dim,
                                     int32_t causal, double rope_base,
                                     axonn_bf16 *out, axonn_real *lse);
axonn_status axonn_rt_cached_attention_bf16(
    axonn_rt *rt, const axonn_bf16 *qkv, int64_t batch, int64_t seq,
    int64_t heads, int64_t kv_heads, int64_t head_dim, double rope_base,
    axonn_bf16 *k_cache, axonn_bf16 *v_cache, int64_t capacity,
    const int32_t *start_at, axonn_bf16 *out);
axonn_status axonn_rt_attention_grad_bf16(axonn_rt *rt, const axonn_bf16 *dout,
                                          const axonn_bf16 *qkv,
                                          const axonn_bf16 *out,
                                          const axonn_real *lse, int64_t batch,
                                          int64_t seq, int64_t heads,
                                          int64_t kv_heads, int64_t head_dim,
                                          int32_t causal, double rope_base,
                                          axonn_bf16 *dqkv);
axonn_status axonn_rt_gelu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                int64_t count, int32_t approximation,
                                axonn_bf16 *y);
axonn_status axonn_rt_gelu_grad_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                     const axonn_bf16 *x, int64_t count,
                                     int32_t approximation, axonn_bf16 *dx);
axonn_status axonn_rt_swiglu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                  int64_t count, axonn_bf16 *y);
axonn_status axonn_rt_swiglu_grad_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                       const axonn_bf16 *x, int64_t count,
                                       axonn_bf16 *dx);
axonn_status axonn_rt_add_bf16(axonn_rt *rt, const axonn_bf16 *a,
                               const axonn_bf16 *b, int64_t count,
                               axonn_bf16 *out);
axonn_status axonn_rt_logits_max_bf16(axonn_rt *rt, const axonn_bf16 *logits,
                                      const int32_t *targets, int64_t tokens,
                                      int64_t rows, axonn_axes vocab_axes,
                                      int64_t vocab_size, axonn_real *max,
                                      axonn_real *partial);
axonn_status axonn_rt_cross_entropy_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *logits, const axonn_real *max,
    const axonn_real *sums, const int32_t *targets, int64_t tokens,
    int64_t rows, axonn_axes vocab_axes, int64_t vocab_size,
    int64_t global_tokens, axonn_bf16 *dlogits);
axonn_status axonn_rt_cross_entropy_grad_masked_bf16(
    axonn_rt *rt, const axonn_bf16 *logits, const axonn_real *max,
    const axonn_real *sums, const int32_t *targets, const axonn_real *keep,
    const axonn_real *count, int64_t tokens, int64_t rows,
    axonn_axes vocab_axes, int64_t vocab_size, axonn_bf16 *dlogits);
axonn_status axonn_rt_sum_squares_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                       int64_t size, double scale,
                                       int32_t first, axonn_real *result);
axonn_status axonn_rt_sum_squares_group_bf16(axonn_rt *rt, int64_t tensors,
                                             const axonn_bf16 *const *grads,
                                             const int64_t *sizes,
                                             const double *scales,
                                             axonn_real *result);
axonn_status axonn_rt_adamw_group_bf16(
    axonn_rt *rt, int64_t tensors, axonn_bf16 *const *params,
    const axonn_bf16 *const *grads, axonn_real *const *m,
    axonn_real *const *v, axonn_real *const *master, const int64_t *counts,
    const int32_t *decay, const int64_t *step, const axonn_real *norm,
    double lr, double min_lr, double beta1, double beta2, double eps,
    double weight_decay, double grad_clip, int64_t warmup_steps, int64_t steps,
    int32_t schedule);
/* The update runs on the fp32 master; param becomes its rounding. */
axonn_status axonn_rt_adamw_bf16(
    axonn_rt *rt, axonn_bf16 *param, const axonn_bf16 *grad, axonn_real *m,
    axonn_real *v, axonn_real *master, int64_t count, const int64_t *step,
    const axonn_real *norm, double lr, double min_lr, double beta1,
    double beta2, double eps, double weight_decay, double grad_clip,
    int64_t warmup_steps, int64_t steps, int32_t schedule, int32_t decay);

#ifdef __cplusplus
}
#endif

#endif /* AXONN_RT_H */
