//===- kernels.cu - the CUDA backend's kernels ----------------------------===//
//
// The ops of the axonn dialect on the GPU, queued on the rank's compute
// stream, with the semantics of the CPU backend (runtime/src/kernels.cpp):
// GEMMs through cuBLASLt (bias and GELU in the epilogue, algorithms tuned
// per shape), attention on the tensor cores where attention_mma.cu applies
// and otherwise on the CUDA cores: tiled for the usual head dimensions 32,
// 64 and 128 (FlashAttention-style: online softmax forward; a backward in
// two kernels, dQ per query tile and dK/dV per key tile, from recomputed
// statistics) and one block per query row otherwise; a warp per row for
// norms (norms.cuh), a block per row for the cross-entropy
// (cross_entropy.cuh), elementwise kernels for the rest (the embedding's
// gradient: embedding_grad.cuh; AdamW and the gradient norm's grouped sum
// of squares: optimizer.cuh; block reductions: reductions.cuh).
// Every sum runs in a fixed order (no atomics), norms and losses in
// double.
//
// Storage is fp32 or bf16 (the kernels are templated on it; bf16 attention
// that the tensor-core kernels do not take reaches the fp32 kernels
// through the twins of src/bf16_twins.cpp). fp32 GEMMs round their inputs
// to bf16 on the tensor cores and accumulate in fp32 unless
// AXONN_GEMM_PRECISION says fp32 or tf32 (the kernel check runs fp32, then
// bf16); bf16 GEMMs take their operands as they are. The SIMT attention
// kernels spill registers at head dimension 128.
#ifndef AXONN_RT_NATIVE_BF16_KERNELS
#error "the CUDA kernels define bf16 twins: build with AXONN_RT_NATIVE_BF16_KERNELS"
#endif
//
//===----------------------------------------------------------------------===//

#include "cross_entropy.cuh"
#include "device.cuh"
#include "embedding_grad.cuh"
#include "norms.cuh"
#include "optimizer.cuh"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <type_traits>

using namespace axonn::cuda;
using axonn::QKVLayout;

namespace {

int64_t vocabOffset(const axonn_rt *rt, axonn_axes axes, int64_t rows) {
  return rt->groupIndex(axes) * rows;
}

int64_t realRows(int64_t rows, int64_t offset, int64_t vocabSize) {
  if (vocabSize <= 0)
    return rows;
  return std::clamp<int64_t>(vocabSize - offset, 0, rows);
}

//===----------------------------------------------------------------------===//
// GEMM (column-major, as cuBLASLt sees the row-major tensors)
//===----------------------------------------------------------------------===//

/// Loads the GEMM tuning cache of this GPU and cuBLASLt version.
void loadGemmCache(State &s) {
  s.gemmCacheLoaded = true;
  if (const char *off = std::getenv("AXONN_GEMM_TUNING"))
    s.gemmTuning = std::string(off) != "0";
  if (const char *precision = std::getenv("AXONN_GEMM_PRECISION")) {
    std::string p = precision;
    if (p == "fp32")
      s.gemmCompute = CUBLAS_COMPUTE_32F;
    else if (p == "tf32")
      s.gemmCompute = CUBLAS_COMPUTE_32F_FAST_TF32;
    else
      p = "bf16";
    s.gemmPrecision = p;
  }
  if (const char *path = std::getenv("AXONN_GEMM_CACHE"))
    s.gemmCachePath = path;
  else if (const char *home = std::getenv("HOME"))
    s.gemmCachePath = std::string(home) + "/.cache/axonn/gemm-tuning.txt";
  s.gemmKeyPrefix = std::string(s.prop.name) + " cublasLt " +
                    std::to_string(cublasLtGetVersion()) + " ";
  for (char &c : s.gemmKeyPrefix)
    if (c == '|')
      c = '/';
  std::ifstream in(s.gemmCachePath);
  std::string line;
  while (std::getline(in, line)) {
    size_t bar = line.rfind('|');
    if (bar == std::string::npos)
      continue;
    s.gemmChoice[line.substr(0, bar)] = std::atoi(line.c_str() + bar + 1);
  }
}

} // namespace

void axonn::cuda::loadGemmSettings(State &s) {
  if (!s.gemmCacheLoaded)
    loadGemmCache(s);
}

namespace {

/// Appends a choice to the cache file (best effort: tuning again later is
/// the only cost of a cache that cannot be written).
void saveGemmChoice(const State &s, const std::string &key, int choice) {
  if (s.gemmCachePath.empty())
    return;
  size_t slash = s.gemmCachePath.rfind('/');
  if (slash != std::string::npos) {
    std::string dir = s.gemmCachePath.substr(0, slash);
    for (size_t i = 1; i <= dir.size(); ++i)
      if (i == dir.size() || dir[i] == '/')
        mkdir(dir.substr(0, i).c_str(), 0755);
  }
  std::ofstream out(s.gemmCachePath, std::ios::app);
  out << key << "|" << choice << "\n";
}

/// One way to ask cuBLASLt for a GEMM: its descriptor, the three layouts
/// and up to kCandidates algorithms from the heuristic.
struct Formulation : MatmulHandles {
  static constexpr int kCandidates = 8;
  const void *A = nullptr, *B = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic[kCandidates] = {};
  int found = 0;
};

/// Sets up `f` for D[rows, cols] = op(X) op(Y) in the given storage order,
/// X [xRows, xCols] and Y [yRows, yCols] as stored (before op), and asks
/// for algorithms. Failures leave f.found at 0 (the caller falls back).
cublasStatus_t formulate(State &s, Formulation &f, cudaDataType_t type,
                         cublasLtOrder_t order, bool transX, bool transY,
                         int64_t rows, int64_t cols, int64_t xRows,
                         int64_t xCols, int64_t ldx, int64_t yRows,
                         int64_t yCols, int64_t ldy, int64_t ldd,
                         const void *bias, void *aux, bool geluGrad,
                         void *biasGrad, int wanted, uint32_t alignX,
                         uint32_t alignY, uint32_t alignD) {
  cublasOperation_t opX = transX ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t opY = transY ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasStatus_t st;
#define TRY(expr)                                                              \
  if ((st = (expr)) != CUBLAS_STATUS_SUCCESS)                                  \
    return st;
  // fp32 tensors: the precision AXONN_GEMM_PRECISION chose; bf16 tensors
  // go to the tensor cores as they are, accumulating in fp32.
  cublasComputeType_t compute =
      type == CUDA_R_32F ? s.gemmCompute : CUBLAS_COMPUTE_32F;
  TRY(cublasLtMatmulDescCreate(&f.desc, compute, CUDA_R_32F));
  TRY(cublasLtMatmulDescSetAttribute(f.desc, CUBLASLT_MATMUL_DESC_TRANSA, &opX,
                                     sizeof(opX)));
  TRY(cublasLtMatmulDescSetAttribute(f.desc, CUBLASLT_MATMUL_DESC_TRANSB, &opY,
                                     sizeof(opY)));
  // Epilogues: the bias (a D-typed vector along the rows of D); the GELU
  // (tanh form) with its input kept in `aux` (laid out like D); or, with
  // geluGrad, the product times the GELU's derivative at `aux`; or the
  // bias gradient: the sums of op(Y) over the inner dimension (a D-typed
  // vector along the columns of D) into `biasGrad`.
  cublasLtEpilogue_t epilogue =
      biasGrad          ? CUBLASLT_EPILOGUE_BGRADB
      : aux && geluGrad ? CUBLASLT_EPILOGUE_DGELU
      : aux             ? (bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS
                                : CUBLASLT_EPILOGUE_GELU_AUX)
            : (bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT);
  if (epilogue != CUBLASLT_EPILOGUE_DEFAULT)
    TRY(cublasLtMatmulDescSetAttribute(f.desc, CUBLASLT_MATMUL_DESC_EPILOGUE,
                                       &epilogue, sizeof(epilogue)));
  if (bias)
    TRY(cublasLtMatmulDescSetAttribute(
        f.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
  if (biasGrad) {
    cudaDataType_t biasType = type;
    TRY(cublasLtMatmulDescSetAttribute(f.desc,
                                       CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                       &biasGrad, sizeof(biasGrad)));
    TRY(cublasLtMatmulDescSetAttribute(f.desc,
                                       CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE,
                                       &biasType, sizeof(biasType)));
  }
  if (aux) {
    TRY(cublasLtMatmulDescSetAttribute(
        f.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof(aux)));
    TRY(cublasLtMatmulDescSetAttribute(
        f.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ldd, sizeof(ldd)));
  }
  TRY(cublasLtMatrixLayoutCreate(&f.a, type, xRows, xCols, ldx));
  TRY(cublasLtMatrixLayoutCreate(&f.b, type, yRows, yCols, ldy));
  TRY(cublasLtMatrixLayoutCreate(&f.c, type, rows, cols, ldd));
  for (cublasLtMatrixLayout_t layout : {f.a, f.b, f.c})
    TRY(cublasLtMatrixLayoutSetAttribute(
        layout, CUBLASLT_MATRIX_LAYOUT_ORDER, &order, sizeof(order)));
  cublasLtMatmulPreference_t preference = nullptr;
  TRY(cublasLtMatmulPreferenceCreate(&preference));
  st = cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
      &s.ltWorkspaceBytes, sizeof(s.ltWorkspaceBytes));
  // The pointers' real alignment (the heuristic assumes 256 bytes).
  for (auto [attribute, value] :
       {std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, alignX},
        std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, alignY},
        std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, alignD},
        std::pair{CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, alignD}})
    if (st == CUBLAS_STATUS_SUCCESS)
      st = cublasLtMatmulPreferenceSetAttribute(preference, attribute, &value,
                                                sizeof(value));
  if (st == CUBLAS_STATUS_SUCCESS)
    st = cublasLtMatmulAlgoGetHeuristic(s.lt, f.desc, f.a, f.b, f.c, f.c,
                                        preference, wanted, f.heuristic,
                                        &f.found);
  cublasLtMatmulPreferenceDestroy(preference);
#undef TRY
  if (st != CUBLAS_STATUS_SUCCESS)
    f.found = 0;
  return st;
}

/// max |x - y| and max |y| over n values, into out[0] and out[1] (zeroed
/// before): per block, then across blocks by an atomic maximum on the
/// bits (non-negative floats order as their bits; a maximum does not
/// depend on the order). NaN counts as infinitely far.
template <typename T>
__global__ void differenceKernel(const T *x, const T *y, int64_t n,
                                 float *out) {
  float diff = 0, scale = 0;
  GRID_STRIDE(i, n) {
    float xi = toFloat(x[i]), yi = toFloat(y[i]);
    float d = fabsf(xi - yi), r = fabsf(yi);
    diff = fmaxf(diff, d != d ? INFINITY : d);
    scale = fmaxf(scale, r != r ? INFINITY : r);
  }
  diff = blockMax(diff);
  scale = blockMax(scale);
  if (threadIdx.x == 0) {
    atomicMax(reinterpret_cast<int *>(out), __float_as_int(diff));
    atomicMax(reinterpret_cast<int *>(out + 1), __float_as_int(scale));
  }
}

/// C[m, n] = op(A) op(B) (+ bias[m] per column), column-major, all of
/// `type` (fp32 or bf16; fp32 accumulation).
///
/// Two formulations are candidates: this one, and the transposed product
/// C^T = op(B)^T op(A)^T on the same memory seen in row-major order (only
/// without a bias: the epilogue's bias runs along the other dimension
/// there). The first GEMM of each shape (m, n, k, transposes, bias: the
/// phase of the layer it comes from) times up to eight algorithms of each
/// and keeps the fastest whose result matches the heuristic's first
/// choice (1e-2 relative, bf16's tolerance); see State::gemmChoice. The
/// descriptors and the algorithm chosen then stay as the shape's plan
/// (State::gemmPlans): later calls of the shape only set their pointers,
/// with no heuristic query or descriptor work on the host.
/// The largest power of two up to 256 that divides the address.
uint32_t alignmentOf(const void *p) {
  uint32_t a = 256;
  while (a > 2 && reinterpret_cast<uintptr_t>(p) % a != 0)
    a /= 2;
  return a;
}

/// GELU of `count` values of `type` (defined with the elementwise kernels).
axonn_status applyGelu(axonn_rt *rt, cudaDataType_t type, const void *x,
                       int64_t count, void *y);
axonn_status applyGeluGrad(axonn_rt *rt, cudaDataType_t type, const void *dy,
                           const void *x, int64_t count, void *dx);
/// db[n] = the sums over rows of dy[rows, n] (defined with the bias
/// gradient's kernels).
axonn_status applyBiasGrad(axonn_rt *rt, cudaDataType_t type, const void *dy,
                           int64_t rows, int64_t n, void *db);

/// With `aux`: C = GELU(product + bias) (tanh form) and aux = product +
/// bias, in the epilogue where cuBLASLt has an algorithm for it (else as
/// a GEMM into aux and a GELU kernel). With `aux` and geluGrad (no bias):
/// C = product * GELU'(aux) (tanh form), aux read only, in the epilogue
/// where it can be (else a GEMM into C and the GELU gradient kernel).
/// With `biasGrad` (op(B) = B^T, B stored [k, n] row-major: ldb == n, no
/// bias or aux): also biasGrad[n] = B's column sums over k, in the BGRADB
/// epilogue where cuBLASLt has an algorithm for it (else the GEMM and the
/// bias gradient's kernel).
axonn_status gemm(axonn_rt *rt, cudaDataType_t type, bool transA, bool transB,
                  int64_t m, int64_t n, int64_t k, const void *A, int64_t lda,
                  const void *B, int64_t ldb, void *C, int64_t ldc,
                  const void *bias, void *aux = nullptr, bool geluGrad = false,
                  void *biasGrad = nullptr) {
  State &s = state(rt);
  const size_t elementBytes = type == CUDA_R_16BF ? 2 : 4;
  if (geluGrad && (!aux || bias))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "GEMM with the GELU's gradient needs its input (aux) and "
                    "no bias");
  if (biasGrad && (bias || aux || !transB || ldb != n))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "GEMM with the bias gradient needs a transposed B of "
                    "leading dimension n and no bias or aux");
  if (m == 0 || n == 0)
    return AXONN_OK;
  if (k == 0)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "GEMM with an empty inner dimension (%lldx%lld)",
                    (long long)m, (long long)n);
  loadGemmSettings(s);
  uint32_t alignA = alignmentOf(A), alignB = alignmentOf(B),
           alignC = alignmentOf(C);
  const void *vector = bias ? bias : biasGrad;
  uint32_t alignAux = aux ? alignmentOf(aux) : 0,
           alignVector = vector ? alignmentOf(vector) : 0;
  // The same GEMM as before (all but the pointers): its plan.
  // clang-format off
  GemmKey key = {int64_t(type), transA, transB, m, n, k, lda, ldb, ldc,
                 bias != nullptr, aux != nullptr, geluGrad,
                 biasGrad != nullptr, alignA, alignB, alignC, alignAux,
                 alignVector};
  // clang-format on
  // Without an epilogue algorithm for this shape (none found, or the one
  // found refuses to run): the product into aux, then the GELU kernel (or
  // the product into C, then the GELU's gradient in place; or the product,
  // then the bias gradient's kernel). Callers pass ldc == m, so the kernel
  // covers exactly the m x n values.
  auto unfused = [&]() -> axonn_status {
    if (!s.gemmPlans.count(key)) {
      auto plan = std::make_unique<GemmPlan>();
      plan->unfused = true;
      s.gemmPlans[key] = std::move(plan);
    }
    if (biasGrad) {
      if (axonn_status st = gemm(rt, type, transA, transB, m, n, k, A, lda, B,
                                 ldb, C, ldc, nullptr))
        return st;
      return applyBiasGrad(rt, type, B, k, n, biasGrad);
    }
    if (geluGrad) {
      if (axonn_status st = gemm(rt, type, transA, transB, m, n, k, A, lda, B,
                                 ldb, C, ldc, bias))
        return st;
      return applyGeluGrad(rt, type, C, aux, ldc * (n - 1) + m, C);
    }
    if (axonn_status st = gemm(rt, type, transA, transB, m, n, k, A, lda, B,
                               ldb, aux, ldc, bias))
      return st;
    return applyGelu(rt, type, aux, ldc * (n - 1) + m, C);
  };
  float one = 1.0f, zero = 0.0f;
  if (auto known = s.gemmPlans.find(key); known != s.gemmPlans.end()) {
    GemmPlan &plan = *known->second;
    if (plan.unfused)
      return unfused();
    if (vector)
      AXONN_CUBLAS(rt, cublasLtMatmulDescSetAttribute(
                           plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                           &vector, sizeof(vector)));
    if (aux)
      AXONN_CUBLAS(rt, cublasLtMatmulDescSetAttribute(
                           plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER,
                           &aux, sizeof(aux)));
    AXONN_CUBLAS(rt, cublasLtMatmul(s.lt, plan.desc, &one,
                                    plan.swapped ? B : A, plan.a,
                                    plan.swapped ? A : B, plan.b, &zero, C,
                                    plan.c, C, plan.c, &plan.algo,
                                    s.ltWorkspace, s.ltWorkspaceBytes,
                                    s.compute));
    return AXONN_OK;
  }
  int wanted = s.gemmTuning ? Formulation::kCandidates : 1;
  Formulation forms[2];
  // Column-major: C[m, n] = op(A) op(B).
  forms[0].A = A;
  forms[0].B = B;
  cublasStatus_t formed = formulate(
      s, forms[0], type, CUBLASLT_ORDER_COL, transA, transB, m, n,
      transA ? k : m, transA ? m : k, lda, transB ? n : k, transB ? k : n, ldb,
      ldc, bias, aux, geluGrad, biasGrad, wanted, alignA, alignB, alignC);
  auto refused = [](cublasStatus_t st) {
    return st == CUBLAS_STATUS_NOT_SUPPORTED ||
           st == CUBLAS_STATUS_INVALID_VALUE;
  };
  bool epilogue = aux || biasGrad; // with a fallback when refused
  if (epilogue && (refused(formed) ||
                   (formed == CUBLAS_STATUS_SUCCESS && forms[0].found == 0)))
    return unfused();
  AXONN_CUBLAS(rt, formed);
  if (forms[0].found == 0)
    return rt->fail(AXONN_ERR_CUBLAS,
                    "cublasLtMatmulAlgoGetHeuristic found no algorithm for "
                    "%lldx%lldx%lld",
                    (long long)m, (long long)n, (long long)k);
  // Row-major transposed product: C^T[n, m] = op'(B^T) op'(A^T), where
  // the row-major view of B's memory is B^T (as stored) and likewise A.
  if (s.gemmTuning && !bias && !aux && !biasGrad) {
    forms[1].A = B;
    forms[1].B = A;
    (void)formulate(s, forms[1], type, CUBLASLT_ORDER_ROW, transB, transA, n, m,
                    transB ? k : n, transB ? n : k, ldb, transA ? m : k,
                    transA ? k : m, lda, ldc, nullptr, nullptr, false, nullptr,
                    wanted, alignB, alignA, alignC);
    cudaGetLastError();
  }
  auto matmul = [&](int choice) {
    Formulation &f = forms[choice / Formulation::kCandidates];
    int i = choice % Formulation::kCandidates;
    return cublasLtMatmul(s.lt, f.desc, &one, f.A, f.a, f.B, f.b, &zero, C,
                          f.c, C, f.c, &f.heuristic[i].algo, s.ltWorkspace,
                          s.ltWorkspaceBytes, s.compute);
  };
  auto valid = [&](int choice) {
    return choice >= 0 && choice / Formulation::kCandidates < 2 &&
           choice % Formulation::kCandidates <
               forms[choice / Formulation::kCandidates].found;
  };
  int choice = 0;
  // A degenerate reference (zeros) validates no candidate: the heuristic's
  // choice runs, and the shape is tuned again at its next call.
  bool remember = true;
  // The wait for the work queued before a tuning (collectives among it),
  // within the collective timeout.
  axonn_status waited = AXONN_OK;
  int candidates = forms[0].found + forms[1].found;
  if (s.gemmTuning && candidates > 1) {
    char shape[192];
    std::snprintf(
        shape, sizeof(shape),
        "%s%s%c%c m %lld n %lld k %lld%s%s align %u %u %u%s",
        s.gemmKeyPrefix.c_str(),
        // fp32 tensors at the chosen precision; bf16 tensors
        // are the same GEMM whatever AXONN_GEMM_PRECISION says.
        type == CUDA_R_16BF ? "bf16-storage " : (s.gemmPrecision + " ").c_str(),
        transA ? 'T' : 'N', transB ? 'T' : 'N', (long long)m, (long long)n,
        (long long)k, bias ? " bias" : (biasGrad ? " bgrad" : ""),
        aux ? (geluGrad ? " dgelu" : " gelu") : "", alignA, alignB, alignC,
        aux ? (" " + std::to_string(alignmentOf(aux))).c_str() : "");
    std::string key = shape;
    auto known = s.gemmChoice.find(key);
    // The reference copy costs an m x n buffer: very large products (an
    // LM head over a large vocabulary) keep the heuristic's choice.
    size_t elements = size_t(ldc) * size_t(n - 1) + size_t(m);
    void *buffer = nullptr;
    if (known != s.gemmChoice.end() && valid(known->second)) {
      choice = known->second;
    } else if (s.recording) {
      // Tuning waits for the GPU: the recording fails (graph_end), and is
      // made again after a call made one by one has tuned the shape.
      s.untunedWhileRecording = true;
      remember = false;
    } else if (elements <= (size_t(1) << 26) &&
               (waited = hostWait(rt, s.compute,
                                  "the GPU work before a GEMM shape's first "
                                  "tuning")) == AXONN_OK &&
               (scratch(rt, elements * elementBytes + 512, &buffer) ==
                    AXONN_OK ||
                // No room to tune now: the heuristic's choice, and the
                // shape is tuned again at its next call.
                (cudaGetLastError(), remember = false))) {
      // The reference result: the heuristic's first choice.
      cublasStatus_t first = matmul(0);
      if (epilogue && refused(first))
        return unfused();
      AXONN_CUBLAS(rt, first);
      char *reference = static_cast<char *>(buffer);
      // The difference after the reference copy, 256-byte aligned.
      float *difference = reinterpret_cast<float *>(
          reference + (elements * elementBytes + 255) / 256 * 256);
      AXONN_CUDA(rt, cudaMemcpyAsync(reference, C, elements * elementBytes,
                                     cudaMemcpyDeviceToDevice, s.compute));
      cudaEvent_t begin, end;
      AXONN_CUDA(rt, cudaEventCreate(&begin));
      AXONN_CUDA(rt, cudaEventCreate(&end));
      float best = INFINITY;
      bool degenerate = false;
      for (int form = 0; form < 2 && !degenerate; ++form)
        for (int i = 0; i < forms[form].found && !degenerate; ++i) {
          int candidate = form * Formulation::kCandidates + i;
          if (matmul(candidate) != CUBLAS_STATUS_SUCCESS)
            continue;
          // Another algorithm or formulation must give the same product.
          int blocks = std::min(blocksFor(int64_t(elements)), 1024);
          if (cudaMemsetAsync(difference, 0, 2 * sizeof(float), s.compute) !=
              cudaSuccess)
            continue;
          if (type == CUDA_R_16BF)
            differenceKernel<<<blocks, kThreads, 0, s.compute>>>(
                static_cast<const uint16_t *>(C),
                reinterpret_cast<const uint16_t *>(reference),
                int64_t(elements), difference);
          else
            differenceKernel<<<blocks, kThreads, 0, s.compute>>>(
                static_cast<const float *>(C),
                reinterpret_cast<const float *>(reference), int64_t(elements),
                difference);
          float maxima[2] = {INFINITY, 0};
          if (cudaMemcpyAsync(maxima, difference, sizeof(maxima),
                              cudaMemcpyDeviceToHost,
                              s.compute) != cudaSuccess ||
              cudaStreamSynchronize(s.compute) != cudaSuccess)
            continue;
          // A reference of zeros or non-finite values validates nothing.
          float relative = maxima[1] > 0 && maxima[1] < INFINITY
                               ? maxima[0] / maxima[1]
                               : -1.0f;
          if (relative < 0) {
            // Nothing to validate against: keep the heuristic's choice,
            // and do not remember it.
            degenerate = true;
            break;
          }
          if (!(relative <= 1e-2f))
            continue;
          float fastest = INFINITY;
          for (int rep = 0; rep < 3; ++rep) {
            cudaEventRecord(begin, s.compute);
            cublasStatus_t ran = matmul(candidate);
            cudaEventRecord(end, s.compute);
            float ms = 0;
            if (ran != CUBLAS_STATUS_SUCCESS ||
                cudaEventSynchronize(end) != cudaSuccess ||
                cudaEventElapsedTime(&ms, begin, end) != cudaSuccess)
              break;
            fastest = std::min(fastest, ms);
          }
          if (fastest < best) {
            best = fastest;
            choice = candidate;
          }
        }
      cudaEventDestroy(begin);
      cudaEventDestroy(end);
      cudaGetLastError(); // a candidate that failed must not linger
      if (degenerate) {
        choice = 0;
        remember = false;
      } else {
        s.gemmChoice[key] = choice;
        saveGemmChoice(s, key, choice);
      }
    }
  }
  if (waited != AXONN_OK)
    return waited;
  cublasStatus_t ran = matmul(choice);
  if (epilogue && refused(ran))
    return unfused();
  AXONN_CUBLAS(rt, ran);
  if (remember) {
    // The chosen formulation's descriptors move into the plan.
    Formulation &f = forms[choice / Formulation::kCandidates];
    auto plan = std::make_unique<GemmPlan>();
    plan->swapped = choice >= Formulation::kCandidates;
    plan->algo = f.heuristic[choice % Formulation::kCandidates].algo;
    std::swap(plan->desc, f.desc);
    std::swap(plan->a, f.a);
    std::swap(plan->b, f.b);
    std::swap(plan->c, f.c);
    s.gemmPlans[key] = std::move(plan);
  }
  return AXONN_OK;
}

//===----------------------------------------------------------------------===//
// Kernels
//===----------------------------------------------------------------------===//

// The embedding kernels take fp32 or bf16 storage (T).
template <typename T>
__global__ void embeddingKernel(const int32_t *tokens, int64_t count,
                                int64_t seq, const T *table, int64_t rows,
                                int64_t width, const T *positions,
                                int64_t positionRows, const int32_t *startAt,
                                int64_t offset, bool sliced, bool addPositions,
                                T *out, int32_t *errors) {
  int64_t start = startAt ? *startAt : 0;
  // A block per token (its id and position read once), threads over the
  // row.
  for (int64_t i = blockIdx.x; i < count; i += gridDim.x) {
    int64_t token = tokens[i], row = token - offset, p = start + i % seq;
    bool bad = !sliced && (token < 0 || token >= rows);
    bool badPosition = addPositions && (p < 0 || p >= positionRows);
    if (threadIdx.x == 0 && (bad || badPosition))
      *errors = bad ? kTokenOutsideVocabulary : kPositionOutsideTable;
    bool real = !bad && row >= 0 && row < rows;
    for (int64_t j = threadIdx.x; j < width; j += blockDim.x) {
      float v = real ? toFloat(table[row * width + j]) : 0.0f;
      if (!bad && addPositions && !badPosition)
        v += toFloat(positions[p * width + j]);
      store(out[i * width + j], v);
    }
  }
}

template <typename T>
__global__ void positionGradKernel(const T *grad, int64_t count, int64_t seq,
                                   int64_t positions, int64_t width, T *out) {
  GRID_STRIDE(e, positions * width) {
    int64_t p = e / width, j = e % width;
    double sum = 0;
    if (p < seq)
      for (int64_t i = p; i < count; i += seq)
        sum += toFloat(grad[i * width + j]);
    store(out[e], float(sum));
  }
}

template <typename T>
axonn_status embedding(axonn_rt *rt, const int32_t *tokens, int64_t count,
                       int64_t seq, const T *table, int64_t rows,
                       int64_t width, const T *positions, int64_t positionRows,
                       const int32_t *startAt, axonn_axes vocabAxes,
                       axonn_axes onceOver, T *out) {
  AXONN_GPU_TRACE(rt, "embedding", "compute");
  if (!(tokens && table && out))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "embedding: null pointer");
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  bool add = positions && rt->addsOnce(onceOver);
  if (count == 0)
    return AXONN_OK;
  embeddingKernel<<<unsigned(std::min<int64_t>(count, INT32_MAX)), kThreads, 0,
                    streamOf(rt)>>>(
      tokens, count, seq, table, rows, width, positions, positionRows, startAt,
      offset, axonn_axes_count(vocabAxes) > 0, add, out, state(rt).errors);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status embeddingGrad(axonn_rt *rt, const T *grad, const int32_t *tokens,
                           int64_t count, int64_t rows, int64_t width,
                           axonn_axes vocabAxes, const T *accumulate,
                           T *tableGrad) {
  AXONN_GPU_TRACE(rt, "embedding_grad", "compute");
  if (rows == 0)
    return AXONN_OK;
  size_t bytes = size_t(rows * width) * sizeof(T);
  if (!accumulate)
    AXONN_CUDA(rt, cudaMemsetAsync(tableGrad, 0, bytes, streamOf(rt)));
  else if (accumulate != tableGrad)
    AXONN_CUDA(rt, cudaMemcpyAsync(tableGrad, accumulate, bytes,
                                   cudaMemcpyDeviceToDevice, streamOf(rt)));
  if (count == 0 || width == 0)
    return AXONN_OK;
  // Two stages over chunks of the sorted tokens (embedding_grad.cuh), with
  // two fp32 partial rows a chunk after the sort's arrays in scratch.
  int64_t chunk = embeddingChunk(count, width),
          chunks = (count + chunk - 1) / chunk;
  TokenGroups groups;
  if (axonn_status s = groupTokensByRow(
          rt, tokens, count, rows, vocabOffset(rt, vocabAxes, rows),
          size_t(2 * chunks * width) * sizeof(float), &groups))
    return s;
  SortedTokens sorted{groups.keys, groups.positions, count, rows, width, chunk};
  constexpr int threads = 128;
  dim3 grid(
      unsigned(std::min<int64_t>(chunks, INT32_MAX)),
      unsigned(std::min<int64_t>((width + threads - 1) / threads, 65535)));
  auto *partials = static_cast<float *>(groups.extra);
  embeddingGradRunsKernel<<<grid, threads, 0, streamOf(rt)>>>(
      grad, sorted, accumulate != nullptr, tableGrad, partials);
  AXONN_LAUNCHED(rt);
  embeddingGradJoinKernel<<<grid, threads, 0, streamOf(rt)>>>(
      sorted, accumulate != nullptr, partials, tableGrad);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status positionGrad(axonn_rt *rt, const T *grad, int64_t count,
                          int64_t seq, int64_t positions, int64_t width,
                          T *positionsGrad) {
  AXONN_GPU_TRACE(rt, "position_grad", "compute");
  if (seq > positions)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "position_grad: %lld positions < seq %lld",
                    (long long)positions, (long long)seq);
  positionGradKernel<<<blocksFor(positions * width), kThreads, 0,
                       streamOf(rt)>>>(grad, count, seq, positions, width,
                                       positionsGrad);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

// The norm kernels (norms.cuh) take fp32 or bf16 storage (T) for the
// model's tensors; statistics are fp32, moments double, arithmetic double.

/// The column sums of `term` (K of 1 or 2 terms) over rows into out0 (and
/// out1), with `partial` scratch of columnSumBytes(K, rows, n).
template <int K, typename Term, typename T>
axonn_status columnSums(axonn_rt *rt, Term term, int64_t rows, int64_t n,
                        double *partial, T *out0, T *out1) {
  if (n == 0)
    return AXONN_OK;
  RowChunks split(rows);
  auto columnBlocks = unsigned((n + kSumColumns - 1) / kSumColumns);
  columnPartialsKernel<K>
      <<<dim3(columnBlocks, unsigned(split.chunks)), kSumThreads, 0,
         streamOf(rt)>>>(term, rows, n, split.chunkRows, partial);
  AXONN_LAUNCHED(rt);
  columnFinishKernel<K><<<columnBlocks, kSumThreads, 0, streamOf(rt)>>>(
      partial, split.chunks, n, out0, out1);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

/// Blocks of kRowWarps warps for a warp per row over `rows` (at least one).
unsigned rowBlocks(int64_t rows) {
  return unsigned(std::clamp<int64_t>((rows + kRowWarps - 1) / kRowWarps, 1,
                                      int64_t(1) << 20));
}

//--- The norms' launches, for both storage types ------------------------------

/// Launches `kernel` with a warp per token (nothing for none), traced as
/// `name`: the norms' and their statistics' launches.
template <typename... Params, typename... Args>
axonn_status perToken(axonn_rt *rt, const char *name, int64_t tokens,
                      void (*kernel)(Params...), Args... args) {
  AXONN_GPU_TRACE(rt, name, "compute");
  if (tokens == 0)
    return AXONN_OK;
  kernel<<<rowBlocks(tokens), 32 * kRowWarps, 0, streamOf(rt)>>>(args...);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status layerNorm(axonn_rt *rt, const T *x, const T *scale, const T *bias,
                       const float *stats, int64_t tokens, int64_t local,
                       int64_t width, double eps, T *y) {
  return perToken(rt, "layer_norm", tokens, layerNormKernel<T>, x, scale, bias,
                  stats, tokens, local, width, eps, y);
}

template <typename T>
axonn_status residualLayerNorm(axonn_rt *rt, const T *x, const T *residual,
                               const T *scale, const T *bias, int64_t tokens,
                               int64_t width, double eps, T *sum, T *y) {
  return perToken(rt, "residual_layer_norm", tokens, residualLayerNormKernel<T>,
                  x, residual, scale, bias, tokens, width, eps, sum, y);
}

template <typename T>
axonn_status residualRmsNorm(axonn_rt *rt, const T *x, const T *residual,
                             const T *scale, int64_t tokens, int64_t width,
                             double eps, T *sum, T *y) {
  return perToken(rt, "residual_rms_norm", tokens, residualRmsNormKernel<T>, x,
                  residual, scale, tokens, width, eps, sum, y);
}

template <typename T>
axonn_status rmsNorm(axonn_rt *rt, const T *x, const T *scale,
                     const float *stats, int64_t tokens, int64_t local,
                     int64_t width, double eps, T *y) {
  return perToken(rt, "rms_norm", tokens, rmsNormKernel<T>, x, scale, stats,
                  tokens, local, width, eps, y);
}

template <typename T>
axonn_status normStats(axonn_rt *rt, const T *x, int64_t tokens, int64_t local,
                       int32_t rms, float *stats) {
  return perToken(rt, "norm_stats", tokens, normStatsKernel<T>, x, tokens, local,
                  rms, stats);
}

template <typename T>
axonn_status normGradStats(axonn_rt *rt, const T *dy, const T *x,
                           const T *scale, int64_t tokens, int64_t local,
                           int32_t rms, float *stats) {
  return perToken(rt, "norm_grad_stats", tokens, normGradStatsKernel<T>, dy, x,
                  scale, tokens, local, rms, stats);
}

template <typename T>
axonn_status layerNormGrad(axonn_rt *rt, const T *dy, const T *x,
                           const T *scale, const float *stats, int64_t tokens,
                           int64_t local, int64_t width, double eps,
                           const T *accumulate, T *dx, T *scaleGrad,
                           T *biasGrad) {
  AXONN_GPU_TRACE(rt, "layer_norm_grad", "compute");
  // Scratch: the rows' moments, then the column sums' partials.
  void *buffer = nullptr;
  if (axonn_status s = scratch(rt,
                               size_t(tokens * 2) * sizeof(double) +
                                   columnSumBytes(2, tokens, local),
                               &buffer))
    return s;
  auto *moments = static_cast<double *>(buffer);
  if (tokens > 0) {
    layerNormGradKernel<<<rowBlocks(tokens), 32 * kRowWarps, 0,
                          streamOf(rt)>>>(dy, x, scale, stats, tokens, local,
                                          width, eps, accumulate, dx, moments);
    AXONN_LAUNCHED(rt);
  }
  return columnSums<2>(rt, LayerNormTerm<T>{dy, x, moments}, tokens, local,
                       moments + tokens * 2, scaleGrad, biasGrad);
}

template <typename T>
axonn_status rmsNormGrad(axonn_rt *rt, const T *dy, const T *x, const T *scale,
                         const float *stats, int64_t tokens, int64_t local,
                         int64_t width, double eps, const T *accumulate, T *dx,
                         T *scaleGrad) {
  AXONN_GPU_TRACE(rt, "rms_norm_grad", "compute");
  // Scratch: the rows' inverses, then the column sums' partials.
  void *buffer = nullptr;
  if (axonn_status s =
          scratch(rt,
                  size_t(tokens) * sizeof(double) +
                      columnSumBytes(1, tokens, local),
                  &buffer))
    return s;
  auto *inverses = static_cast<double *>(buffer);
  if (tokens > 0) {
    rmsNormGradKernel<<<rowBlocks(tokens), 32 * kRowWarps, 0,
                        streamOf(rt)>>>(dy, x, scale, stats, tokens, local,
                                        width, eps, accumulate, dx, inverses);
    AXONN_LAUNCHED(rt);
  }
  return columnSums<1>(rt, RmsNormTerm<T>{dy, x, inverses}, tokens, local,
                       inverses + tokens, scaleGrad, scaleGrad);
}

//--- Attention ---------------------------------------------------------------

/// scores[t] = q . k_t * scale for t = 0 ... last, one warp per key (its
/// lanes split the head dimension, so that reads of a key row coalesce).
/// `q` (rotated) is in shared memory.
__device__ void scoreRow(const float *base, int64_t f, const QKVLayout &layout,
                         int64_t g, const float *q, int64_t last,
                         double ropeBase, float scale, float *scores) {
  int64_t d = layout.dim;
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32,
      warps = blockDim.x / 32;
  for (int64_t t = warp; t <= last; t += warps) {
    const float *k = base + t * f + layout.k(g);
    float dot = 0;
    for (int64_t i = lane; i < d; i += 32)
      dot += q[i] * rotated(k, i, d, t, ropeBase, false);
    for (int o = 16; o > 0; o >>= 1)
      dot += __shfl_down_sync(0xffffffffu, dot, o);
    if (lane == 0)
      scores[t] = dot * scale;
  }
  __syncthreads();
}

/// Softmax of scores[0 ... last] in place; every thread sees the result
/// after the call, and gets the scores' log-sum-exp.
__device__ float softmaxRow(float *scores, int64_t last) {
  float m = -INFINITY;
  for (int64_t t = threadIdx.x; t <= last; t += blockDim.x)
    m = fmaxf(m, scores[t]);
  m = blockMax(m);
  double sum = 0;
  for (int64_t t = threadIdx.x; t <= last; t += blockDim.x) {
    scores[t] = expf(scores[t] - m);
    sum += scores[t];
  }
  sum = blockSum(sum);
  float inverse = float(1 / sum);
  for (int64_t t = threadIdx.x; t <= last; t += blockDim.x)
    scores[t] *= inverse;
  __syncthreads();
  return m + float(log(sum));
}

/// One block per (query, head, batch): scores over the keys up to the
/// query, softmax, weighted values (and the log-sum-exp into lse, if not
/// null). Shared: scores [seq] then q [dim].
__global__ void attentionKernel(const float *qkv, int64_t seq, QKVLayout layout,
                                int32_t causal, double ropeBase, float *out,
                                float *lse) {
  extern __shared__ float shared[];
  int64_t s = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  int64_t d = layout.dim, f = layout.features(), g = layout.group(h);
  float *scores = shared, *q = shared + seq;
  const float *base = qkv + b * seq * f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    q[i] = rotated(base + s * f + layout.q(h), i, d, s, ropeBase, false);
  __syncthreads();
  int64_t last = causal ? s : seq - 1;
  scoreRow(base, f, layout, g, q, last, ropeBase, float(1 / sqrt(double(d))),
           scores);
  float rowLse = softmaxRow(scores, last);
  if (lse && threadIdx.x == 0)
    lse[(b * seq + s) * layout.heads + h] = rowLse;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float o = 0;
    for (int64_t t = 0; t <= last; ++t)
      o += scores[t] * base[t * f + layout.v(g) + i];
    out[(b * seq + s) * layout.heads * d + h * d + i] = o;
  }
}

/// Rows per tile of the tiled attention kernels (and threads per block).
constexpr int kTile = 64;

/// Keys (rotated) and values t0 ... t0 + kTile - 1 of group g into shared
/// tiles (zeros past the sequence). Every thread of the block calls it.
template <int D>
__device__ void loadKeyValueTile(const float *base, int64_t f,
                                 const QKVLayout &layout, int64_t g,
                                 int64_t t0, int64_t seq, double ropeBase,
                                 float *kTileBuf, float *vTileBuf) {
  __syncthreads();
  for (int64_t e = threadIdx.x; e < int64_t(kTile) * D; e += blockDim.x) {
    int64_t r = e / D, i = e % D, t = t0 + r;
    float kv = 0, vv = 0;
    if (t < seq) {
      kv = rotated(base + t * f + layout.k(g), i, D, t, ropeBase, false);
      vv = base[t * f + layout.v(g) + i];
    }
    kTileBuf[e] = kv;
    vTileBuf[e] = vv;
  }
  __syncthreads();
}

/// Online softmax over the keys t0 ... end - 1 of the tiles (FlashAttention's
/// running maximum and sum): the scores q . k_t (q already scaled) update
/// `running`, `sum` and the unnormalized output `o`.
template <int D>
__device__ __forceinline__ void softmaxTile(const float (&q)[D],
                                            const float *kTileBuf,
                                            const float *vTileBuf, int64_t t0,
                                            int64_t end, float &running,
                                            float &sum, float (&o)[D]) {
  for (int64_t t = t0; t < end; ++t) {
    const float *k = kTileBuf + (t - t0) * D;
    float score = 0;
#pragma unroll
    for (int i = 0; i < D; ++i)
      score += q[i] * k[i];
    if (score > running) {
      float correction = expf(running - score);
      sum *= correction;
#pragma unroll
      for (int i = 0; i < D; ++i)
        o[i] *= correction;
      running = score;
    }
    float p = expf(score - running);
    sum += p;
    const float *v = vTileBuf + (t - t0) * D;
#pragma unroll
    for (int i = 0; i < D; ++i)
      o[i] += p * v[i];
  }
}

/// Attention forward in tiles, for head dimensions known at compile time:
/// a block of kTile threads per (query tile, head, batch), a thread per
/// query holding its q (rotated) and output accumulator in registers; the
/// keys and values stream through shared memory kTile at a time, with the
/// softmax computed online (a running maximum and sum, as in
/// FlashAttention). Shared: K and V tiles, kTile x D each.
template <int D>
__global__ void attentionTiledKernel(const float *qkv, int64_t seq,
                                     QKVLayout layout, int32_t causal,
                                     double ropeBase, float *out,
                                     float *lse) {
  extern __shared__ float shared[];
  float *kTileBuf = shared, *vTileBuf = shared + kTile * D;
  int64_t h = blockIdx.y, b = blockIdx.z, g = layout.group(h);
  int64_t f = layout.features();
  int64_t first = int64_t(blockIdx.x) * kTile, s = first + threadIdx.x;
  bool active = s < seq;
  const float *base = qkv + b * seq * f;
  float q[D], o[D];
  float scale = float(1 / sqrt(double(D)));
#pragma unroll
  for (int i = 0; i < D; ++i) {
    q[i] = active ? rotated(base + s * f + layout.q(h), i, D, s, ropeBase,
                            false) *
                        scale
                  : 0.0f;
    o[i] = 0;
  }
  float running = -INFINITY, sum = 0;
  int64_t tileEnd = first + kTile < seq ? first + kTile : seq;
  int64_t lastKey = causal ? tileEnd - 1 : seq - 1;
  int64_t limit = causal ? s + 1 : seq;
  for (int64_t t0 = 0; t0 <= lastKey; t0 += kTile) {
    loadKeyValueTile<D>(base, f, layout, g, t0, seq, ropeBase, kTileBuf,
                        vTileBuf);
    if (active)
      softmaxTile<D>(q, kTileBuf, vTileBuf, t0,
                     t0 + kTile < limit ? t0 + kTile : limit, running, sum, o);
  }
  if (!active)
    return;
  float *row = out + (b * seq + s) * layout.heads * D + h * D;
#pragma unroll
  for (int i = 0; i < D; ++i)
    row[i] = o[i] / sum;
  if (lse)
    lse[(b * seq + s) * layout.heads + h] = running + logf(sum);
}

/// Launches the tiled kernel for head dimension D.
template <int D>
axonn_status launchTiled(axonn_rt *rt, const float *qkv, int64_t batch,
                         int64_t seq, const QKVLayout &layout, int32_t causal,
                         double ropeBase, float *out, float *lse) {
  size_t shared = size_t(2 * kTile * D) * sizeof(float);
  if (axonn_status s = sharedMemory(rt, attentionTiledKernel<D>, shared, kTile,
                                    "attention", seq))
    return s;
  attentionTiledKernel<D>
      <<<dim3(unsigned((seq + kTile - 1) / kTile), unsigned(layout.heads),
              unsigned(batch)),
         kTile, shared, streamOf(rt)>>>(qkv, seq, layout, causal, ropeBase,
                                        out, lse);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

/// Rotates a head vector held in registers back (the inverse of the
/// rotate-half RoPE at `position`), in place.
template <int D>
__device__ __forceinline__ void rotateBack(float (&x)[D], int64_t position,
                                           double base) {
  if (base <= 0)
    return;
  constexpr int half = D / 2;
#pragma unroll
  for (int p = 0; p < half; ++p) {
    double angle = double(position) * pow(base, -2.0 * double(p) / double(D));
    double c = cos(angle), sn = sin(angle);
    double a = x[p], b = x[p + half];
    x[p] = float(a * c + b * sn);
    x[p + half] = float(b * c - a * sn);
  }
}

/// Attention backward in tiles, first kernel (FlashAttention-2's order of
/// work without atomics): a thread per query of a kTile-query tile of one
/// head. Pass 1 recomputes the softmax statistics and O online, giving the
/// log-sum-exp and delta = dO . O of the query; pass 2 accumulates
/// dQ = sum_t P (dO . v_t - delta) k_t / sqrt(D). Both go through the K
/// and V tiles in shared memory (kTile x D each); each thread's dO waits
/// there too (transposed: a warp reads consecutive words), which leaves q
/// and one accumulator in registers. lse and delta go to
/// [batch, heads, seq] for the key kernel.
template <int D>
__global__ void attentionGradQueryKernel(const float *dout, const float *qkv,
                                         int64_t seq, QKVLayout layout,
                                         int32_t causal, double ropeBase,
                                         float *dqkv, float *lse,
                                         float *delta) {
  extern __shared__ float shared[];
  float *kTileBuf = shared, *vTileBuf = shared + kTile * D;
  float *dOT = vTileBuf + kTile * D; // [D][kTile]
  int64_t h = blockIdx.y, b = blockIdx.z, g = layout.group(h);
  int64_t f = layout.features(), width = layout.heads * D;
  int64_t first = int64_t(blockIdx.x) * kTile, s = first + threadIdx.x;
  bool active = s < seq;
  const float *base = qkv + b * seq * f;
  float scale = float(1 / sqrt(double(D)));
  float q[D], acc[D];
#pragma unroll
  for (int i = 0; i < D; ++i) {
    q[i] = active ? rotated(base + s * f + layout.q(h), i, D, s, ropeBase,
                            false) *
                        scale
                  : 0.0f;
    dOT[i * kTile + threadIdx.x] =
        active ? dout[(b * seq + s) * width + h * D + i] : 0.0f;
    acc[i] = 0;
  }
  int64_t tileEnd = first + kTile < seq ? first + kTile : seq;
  int64_t lastKey = causal ? tileEnd - 1 : seq - 1;
  int64_t limit = causal ? s + 1 : seq;
  // Pass 1: statistics and O, as the tiled forward computes them.
  float running = -INFINITY, sum = 0;
  for (int64_t t0 = 0; t0 <= lastKey; t0 += kTile) {
    loadKeyValueTile<D>(base, f, layout, g, t0, seq, ropeBase, kTileBuf,
                        vTileBuf);
    if (active)
      softmaxTile<D>(q, kTileBuf, vTileBuf, t0,
                     t0 + kTile < limit ? t0 + kTile : limit, running, sum,
                     acc);
  }
  float logSumExp = running + logf(sum), di = 0;
#pragma unroll
  for (int i = 0; i < D; ++i) {
    di += dOT[i * kTile + threadIdx.x] * (acc[i] / sum);
    acc[i] = 0;
  }
  // Pass 2: dQ.
  for (int64_t t0 = 0; t0 <= lastKey; t0 += kTile) {
    loadKeyValueTile<D>(base, f, layout, g, t0, seq, ropeBase, kTileBuf,
                        vTileBuf);
    if (!active)
      continue;
    int64_t end = t0 + kTile < limit ? t0 + kTile : limit;
    for (int64_t t = t0; t < end; ++t) {
      const float *k = kTileBuf + (t - t0) * D, *v = vTileBuf + (t - t0) * D;
      float score = 0, dp = 0;
#pragma unroll
      for (int i = 0; i < D; ++i) {
        score += q[i] * k[i];
        dp += dOT[i * kTile + threadIdx.x] * v[i];
      }
      float ds = expf(score - logSumExp) * (dp - di);
#pragma unroll
      for (int i = 0; i < D; ++i)
        acc[i] += ds * k[i];
    }
  }
  if (!active)
    return;
  lse[(b * layout.heads + h) * seq + s] = logSumExp;
  delta[(b * layout.heads + h) * seq + s] = di;
#pragma unroll
  for (int i = 0; i < D; ++i)
    acc[i] *= scale;
  rotateBack<D>(acc, s, ropeBase);
  float *row = dqkv + (b * seq + s) * f + layout.q(h);
#pragma unroll
  for (int i = 0; i < D; ++i)
    row[i] = acc[i];
}

/// Attention backward in tiles, second kernel: a thread per key of a
/// kTile-key tile of one KV head, its dK and dV accumulators in registers
/// and its k (rotated) and v in shared memory (transposed: a warp reads
/// consecutive words); the queries (rotated, scaled) and dO of every head of the
/// group stream through shared memory a tile at a time, in a fixed order
/// (no atomics): dV = sum_s P dO_s, dK = sum_s P (dO_s . v - delta_s) q_s
/// / sqrt(D), from the query kernel's lse and delta.
template <int D>
__global__ void attentionGradKeyTiledKernel(const float *dout,
                                            const float *qkv, int64_t seq,
                                            QKVLayout layout, int32_t causal,
                                            double ropeBase, const float *lse,
                                            const float *delta, float *dqkv) {
  extern __shared__ float shared[];
  float *qTile = shared, *dOTile = shared + kTile * D;
  float *kT = dOTile + kTile * D, *vT = kT + kTile * D; // [D][kTile]
  float *lseTile = vT + kTile * D, *deltaTile = lseTile + kTile;
  int64_t g = blockIdx.y, b = blockIdx.z;
  int64_t f = layout.features(), width = layout.heads * D;
  int64_t first = int64_t(blockIdx.x) * kTile, t = first + threadIdx.x;
  bool active = t < seq;
  const float *base = qkv + b * seq * f;
  float scale = float(1 / sqrt(double(D)));
  float dk[D], dv[D];
#pragma unroll
  for (int i = 0; i < D; ++i) {
    kT[i * kTile + threadIdx.x] =
        active ? rotated(base + t * f + layout.k(g), i, D, t, ropeBase, false)
               : 0.0f;
    vT[i * kTile + threadIdx.x] = active ? base[t * f + layout.v(g) + i] : 0.0f;
    dk[i] = 0;
    dv[i] = 0;
  }
  // Causal: queries before the tile's first key see none of its keys.
  int64_t firstQuery = causal ? first : 0;
  for (int64_t j = 0; j < layout.perGroup; ++j) {
    int64_t h = g * layout.perGroup + j;
    const float *headLse = lse + (b * layout.heads + h) * seq;
    const float *headDelta = delta + (b * layout.heads + h) * seq;
    for (int64_t s0 = firstQuery; s0 < seq; s0 += kTile) {
      __syncthreads();
      for (int64_t e = threadIdx.x; e < int64_t(kTile) * D; e += blockDim.x) {
        int64_t r = e / D, i = e % D, s = s0 + r;
        float qv = 0, ov = 0;
        if (s < seq) {
          qv = rotated(base + s * f + layout.q(h), i, D, s, ropeBase, false) *
               scale;
          ov = dout[(b * seq + s) * width + h * D + i];
        }
        qTile[e] = qv;
        dOTile[e] = ov;
      }
      for (int64_t r = threadIdx.x; r < kTile; r += blockDim.x) {
        int64_t s = s0 + r;
        lseTile[r] = s < seq ? headLse[s] : 0.0f;
        deltaTile[r] = s < seq ? headDelta[s] : 0.0f;
      }
      __syncthreads();
      if (!active)
        continue;
      int64_t start = causal && t > s0 ? t : s0;
      int64_t end = s0 + kTile < seq ? s0 + kTile : seq;
      for (int64_t s = start; s < end; ++s) {
        const float *qs = qTile + (s - s0) * D, *dos = dOTile + (s - s0) * D;
        float score = 0, dp = 0;
#pragma unroll
        for (int i = 0; i < D; ++i) {
          score += qs[i] * kT[i * kTile + threadIdx.x];
          dp += dos[i] * vT[i * kTile + threadIdx.x];
        }
        float p = expf(score - lseTile[s - s0]);
        float ds = p * (dp - deltaTile[s - s0]);
#pragma unroll
        for (int i = 0; i < D; ++i) {
          dv[i] += p * dos[i];
          dk[i] += ds * qs[i];
        }
      }
    }
  }
  if (!active)
    return;
  rotateBack<D>(dk, t, ropeBase);
  float *row = dqkv + (b * seq + t) * f;
#pragma unroll
  for (int i = 0; i < D; ++i) {
    row[layout.k(g) + i] = dk[i];
    row[layout.v(g) + i] = dv[i];
  }
}

/// Shared memory of the tiled backward's kernels for head dimension D.
template <int D> constexpr size_t tiledGradQueryShared() {
  return size_t(3 * kTile * D) * sizeof(float);
}
template <int D> constexpr size_t tiledGradKeyShared() {
  return size_t(4 * kTile * D + 2 * kTile) * sizeof(float);
}

/// Whether both kernels of the tiled backward fit this GPU's shared
/// memory (head dimension 128 needs 129 KiB: not on sm_86/sm_89).
template <int D> bool tiledGradFits(axonn_rt *rt) {
  size_t most = state(rt).prop.sharedMemPerBlockOptin;
  return tiledGradQueryShared<D>() <= most && tiledGradKeyShared<D>() <= most;
}

/// Launches the tiled backward for head dimension D (tiledGradFits<D>).
template <int D>
axonn_status launchTiledGrad(axonn_rt *rt, const float *dout,
                             const float *qkv, int64_t batch, int64_t seq,
                             const QKVLayout &layout, int32_t causal,
                             double ropeBase, float *dqkv) {
  // lse and delta of every query of every head: [batch, heads, seq] each.
  int64_t rows = batch * layout.heads * seq;
  void *buffer = nullptr;
  if (axonn_status s = scratch(rt, size_t(2 * rows) * sizeof(float), &buffer))
    return s;
  float *lse = static_cast<float *>(buffer), *delta = lse + rows;
  unsigned tiles = unsigned((seq + kTile - 1) / kTile);
  size_t queryShared = tiledGradQueryShared<D>();
  if (axonn_status s = sharedMemory(rt, attentionGradQueryKernel<D>,
                                    queryShared, kTile, "attention_grad", seq))
    return s;
  attentionGradQueryKernel<D>
      <<<dim3(tiles, unsigned(layout.heads), unsigned(batch)), kTile,
         queryShared, streamOf(rt)>>>(dout, qkv, seq, layout, causal,
                                      ropeBase, dqkv, lse, delta);
  AXONN_LAUNCHED(rt);
  size_t keyShared = tiledGradKeyShared<D>();
  if (axonn_status s = sharedMemory(rt, attentionGradKeyTiledKernel<D>,
                                    keyShared, kTile, "attention_grad", seq))
    return s;
  attentionGradKeyTiledKernel<D>
      <<<dim3(tiles, unsigned(layout.kvHeads), unsigned(batch)), kTile,
         keyShared, streamOf(rt)>>>(dout, qkv, seq, layout, causal, ropeBase,
                                    lse, delta, dqkv);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

/// Backward, first half, one block per (query, head, batch): the row's
/// probabilities P and score gradients dS = P (dP - rowsum(dP P)) scale go
/// to `probs` and `grads` ([batch, heads, seq, seq]); dQ of the query
/// (rotated back) into dqkv. Shared: p [seq], dp [seq], q [dim], dO [dim],
/// dq [dim].
__global__ void attentionGradRowKernel(const float *dout, const float *qkv,
                                       int64_t seq, QKVLayout layout,
                                       int32_t causal, double ropeBase,
                                       float *dqkv, float *probs,
                                       float *grads) {
  extern __shared__ float shared[];
  int64_t s = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  int64_t d = layout.dim, f = layout.features(), g = layout.group(h);
  int64_t width = layout.heads * d;
  float *p = shared, *dp = shared + seq, *q = dp + seq, *dO = q + d,
        *dq = dO + d;
  const float *base = qkv + b * seq * f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    q[i] = rotated(base + s * f + layout.q(h), i, d, s, ropeBase, false);
    dO[i] = dout[(b * seq + s) * width + h * d + i];
  }
  __syncthreads();
  int64_t last = causal ? s : seq - 1;
  float scale = float(1 / sqrt(double(d)));
  scoreRow(base, f, layout, g, q, last, ropeBase, scale, p);
  softmaxRow(p, last);
  // dP[t] = dO . v_t, a warp per key.
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32,
      warps = blockDim.x / 32;
  for (int64_t t = warp; t <= last; t += warps) {
    const float *v = base + t * f + layout.v(g);
    float dot = 0;
    for (int64_t i = lane; i < d; i += 32)
      dot += dO[i] * v[i];
    for (int o = 16; o > 0; o >>= 1)
      dot += __shfl_down_sync(0xffffffffu, dot, o);
    if (lane == 0)
      dp[t] = dot;
  }
  __syncthreads();
  double dot = 0;
  for (int64_t t = threadIdx.x; t <= last; t += blockDim.x)
    dot += double(dp[t]) * p[t];
  dot = blockSum(dot);
  float *rowP = probs + ((b * layout.heads + h) * seq + s) * seq;
  float *rowG = grads + ((b * layout.heads + h) * seq + s) * seq;
  for (int64_t t = threadIdx.x; t <= last; t += blockDim.x) {
    dp[t] = float(p[t] * (dp[t] - dot) * scale);
    rowP[t] = p[t];
    rowG[t] = dp[t];
  }
  __syncthreads();
  // dQ (rotated frame) = dS K, then rotated back.
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float acc = 0;
    for (int64_t t = 0; t <= last; ++t)
      acc += dp[t] *
             rotated(base + t * f + layout.k(g), i, d, t, ropeBase, false);
    dq[i] = acc;
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    dqkv[(b * seq + s) * f + layout.q(h) + i] =
        rotated(dq, i, d, s, ropeBase, true);
}

/// Backward, second half, one block per (key, KV head, batch): dK and dV of
/// the key from the stored rows of every query head of its group, summed
/// in a fixed order (no atomics); K rotated back. Shared: dk [dim].
__global__ void attentionGradKeyKernel(const float *dout, const float *qkv,
                                       int64_t seq, QKVLayout layout,
                                       int32_t causal, double ropeBase,
                                       const float *probs, const float *grads,
                                       float *dqkv) {
  extern __shared__ float shared[];
  int64_t t = blockIdx.x, g = blockIdx.y, b = blockIdx.z;
  int64_t d = layout.dim, f = layout.features(), width = layout.heads * d;
  float *dk = shared;
  const float *base = qkv + b * seq * f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    float accK = 0, accV = 0;
    for (int64_t j = 0; j < layout.perGroup; ++j) {
      int64_t h = g * layout.perGroup + j;
      const float *colP = probs + (b * layout.heads + h) * seq * seq + t;
      const float *colG = grads + (b * layout.heads + h) * seq * seq + t;
      for (int64_t s = causal ? t : 0; s < seq; ++s) {
        accV += colP[s * seq] * dout[(b * seq + s) * width + h * d + i];
        accK += colG[s * seq] *
                rotated(base + s * f + layout.q(h), i, d, s, ropeBase, false);
      }
    }
    dk[i] = accK;
    dqkv[(b * seq + t) * f + layout.v(g) + i] = accV;
  }
  __syncthreads();
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    dqkv[(b * seq + t) * f + layout.k(g) + i] =
        rotated(dk, i, d, t, ropeBase, true);
}

/// The new tokens' keys (rotated) and values into the caches.
__global__ void cacheWriteKernel(const float *qkv, int64_t batch, int64_t seq,
                                 QKVLayout layout, double ropeBase, float *kCache,
                                 float *vCache, int64_t capacity,
                                 const int32_t *startAt, int32_t *errors) {
  int64_t d = layout.dim, f = layout.features(), start = *startAt;
  if (start < 0 || start + seq > capacity) {
    if (blockIdx.x == 0 && threadIdx.x == 0)
      *errors = kPositionOutsideCache;
    return;
  }
  GRID_STRIDE(e, batch * layout.kvHeads * seq * d) {
    int64_t i = e % d, s = (e / d) % seq, g = (e / d / seq) % layout.kvHeads,
            b = e / d / seq / layout.kvHeads;
    const float *row = qkv + (b * seq + s) * f;
    int64_t at = ((b * layout.kvHeads + g) * capacity + start + s) * d + i;
    kCache[at] = rotated(row + layout.k(g), i, d, start + s, ropeBase, false);
    vCache[at] = row[layout.v(g) + i];
  }
}

/// One block per (batch, head, new token): attention over the cache rows up
/// to the token's position.
__global__ void cachedAttentionKernel(const float *qkv, int64_t seq,
                                      QKVLayout layout, double ropeBase,
                                      const float *kCache, const float *vCache,
                                      int64_t capacity, const int32_t *startAt,
                                      float *out) {
  extern __shared__ float shared[];
  int64_t s = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  int64_t start = *startAt;
  if (start < 0 || start + seq > capacity)
    return;
  int64_t d = layout.dim, f = layout.features(), g = layout.group(h);
  float *scores = shared, *q = shared + capacity;
  const float *row = qkv + (b * seq + s) * f;
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x)
    q[i] = rotated(row + layout.q(h), i, d, start + s, ropeBase, false);
  __syncthreads();
  const float *k = kCache + (b * layout.kvHeads + g) * capacity * d;
  const float *v = vCache + (b * layout.kvHeads + g) * capacity * d;
  int64_t last = start + s;
  double scale = 1 / sqrt(double(d));
  for (int64_t t = threadIdx.x; t <= last; t += blockDim.x) {
    double dot = 0;
    for (int64_t i = 0; i < d; ++i)
      dot += double(q[i]) * k[t * d + i];
    scores[t] = float(dot * scale);
  }
  __syncthreads();
  softmaxRow(scores, last);
  for (int64_t i = threadIdx.x; i < d; i += blockDim.x) {
    double o = 0;
    for (int64_t t = 0; t <= last; ++t)
      o += double(scores[t]) * v[t * d + i];
    out[(b * seq + s) * layout.heads * d + h * d + i] = float(o);
  }
}

//--- Elementwise ---------------------------------------------------------------

constexpr double kSqrt2OverPi = 0.7978845608028654;

// The elementwise kernels take fp32 (T = float) or bf16 (T = uint16_t)
// storage; they compute in fp32 or better either way.

template <typename T>
__global__ void geluKernel(const T *x, int64_t count, int32_t tanhForm, T *y) {
  GRID_STRIDE(i, count) {
    double v = toFloat(x[i]);
    store(y[i],
          float(tanhForm
                    ? 0.5 * v * (1 + tanh(kSqrt2OverPi * (v + 0.044715 * v * v * v)))
                    : 0.5 * v * (1 + erf(v / sqrt(2.0)))));
  }
}

template <typename T>
__global__ void geluGradKernel(const T *dy, const T *x, int64_t count,
                               int32_t tanhForm, T *dx) {
  GRID_STRIDE(i, count) {
    double v = toFloat(x[i]), derivative;
    if (tanhForm) {
      double u = kSqrt2OverPi * (v + 0.044715 * v * v * v), t = tanh(u);
      double du = kSqrt2OverPi * (1 + 3 * 0.044715 * v * v);
      derivative = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du;
    } else {
      double pdf = exp(-0.5 * v * v) / sqrt(2 * M_PI);
      derivative = 0.5 * (1 + erf(v / sqrt(2.0))) + v * pdf;
    }
    store(dx[i], float(toFloat(dy[i]) * derivative));
  }
}

template <typename T>
__global__ void swigluKernel(const T *x, int64_t count, T *y) {
  GRID_STRIDE(j, count) {
    float gate = toFloat(x[2 * j]), up = toFloat(x[2 * j + 1]);
    store(y[j], gate / (1.0f + expf(-gate)) * up);
  }
}

template <typename T>
__global__ void swigluGradKernel(const T *dy, const T *x, int64_t count,
                                 T *dx) {
  GRID_STRIDE(j, count) {
    float gate = toFloat(x[2 * j]), up = toFloat(x[2 * j + 1]);
    float g = toFloat(dy[j]);
    float s = 1.0f / (1.0f + expf(-gate));
    store(dx[2 * j], g * up * s * (1.0f + gate * (1.0f - s)));
    store(dx[2 * j + 1], g * gate * s);
  }
}

template <typename T>
__global__ void addKernel(const T *a, const T *b, int64_t count, T *out) {
  GRID_STRIDE(i, count) store(out[i], toFloat(a[i]) + toFloat(b[i]));
}

axonn_status applyGelu(axonn_rt *rt, cudaDataType_t type, const void *x,
                       int64_t count, void *y) {
  if (type == CUDA_R_16BF)
    geluKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(
        static_cast<const uint16_t *>(x), count, 1, static_cast<uint16_t *>(y));
  else
    geluKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(
        static_cast<const float *>(x), count, 1, static_cast<float *>(y));
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

axonn_status applyGeluGrad(axonn_rt *rt, cudaDataType_t type, const void *dy,
                           const void *x, int64_t count, void *dx) {
  if (type == CUDA_R_16BF)
    geluGradKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(
        static_cast<const uint16_t *>(dy), static_cast<const uint16_t *>(x),
        count, 1, static_cast<uint16_t *>(dx));
  else
    geluGradKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(
        static_cast<const float *>(dy), static_cast<const float *>(x), count, 1,
        static_cast<float *>(dx));
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

/// The GELU epilogue: tanh form only, and an aux leading dimension
/// divisible by 8 (cuBLASLt's rule); AXONN_GELU_EPILOGUE=0 turns it off.
bool geluEpilogue(int32_t approximation, int64_t n) {
  static const bool allowed = [] {
    const char *v = std::getenv("AXONN_GELU_EPILOGUE");
    return !(v && std::string(v) == "0");
  }();
  return allowed && approximation == 1 && n % 8 == 0;
}

//--- Cross-entropy ------------------------------------------------------------

__global__ void goldfishKernel(const int32_t *targets, int64_t rows,
                               int64_t seq, int32_t strategy, int64_t k,
                               int64_t h, float *keep) {
  GRID_STRIDE(e, rows * seq) {
    int64_t t = e % seq;
    keep[e] = axonn::goldfishDropped(targets + (e - t), t, strategy, k, h)
                  ? 0.0f
                  : 1.0f;
  }
}

__global__ void countKernel(const float *keep, int64_t n, float *count) {
  double total = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x)
    total += keep[i];
  total = blockSum(total);
  if (threadIdx.x == 0)
    *count = float(total);
}

//--- Optimizer -------------------------------------------------------------------

/// Partial sums of squares per block, in double.
template <typename T>
__global__ void squaresKernel(const T *x, int64_t n, double *partial) {
  double sum = blockSum(squaresFrom(x, int64_t(blockIdx.x) * blockDim.x +
                                           threadIdx.x,
                                    n, int64_t(blockDim.x) * gridDim.x));
  if (threadIdx.x == 0)
    partial[blockIdx.x] = sum;
}

/// The whole sum of a small gradient in one block of 1024 threads.
template <typename T>
__global__ void smallSquaresKernel(const T *x, int64_t n, double scale,
                                   int32_t first, float *result) {
  double sum = blockSum(squaresFrom(x, threadIdx.x, n, blockDim.x));
  if (threadIdx.x == 0)
    *result = float((first ? 0.0 : double(*result)) + scale * sum);
}

__global__ void finishSquaresKernel(const double *partial, int blocks,
                                    double scale, int32_t first,
                                    float *result) {
  double sum = 0;
  for (int i = threadIdx.x; i < blocks; i += blockDim.x)
    sum += partial[i];
  sum = blockSum(sum);
  if (threadIdx.x == 0)
    *result = float((first ? 0.0 : double(*result)) + scale * sum);
}

__global__ void sqrtKernel(const float *x, float *y) { *y = sqrtf(*x); }

//--- Host launches for both storage types (float, or axonn_bf16 bits) -------

template <typename T> constexpr cudaDataType_t cudaTypeOf();
template <> constexpr cudaDataType_t cudaTypeOf<float>() { return CUDA_R_32F; }
template <> constexpr cudaDataType_t cudaTypeOf<uint16_t>() {
  return CUDA_R_16BF;
}

template <typename T>
axonn_status gelu(axonn_rt *rt, const T *x, int64_t count,
                  int32_t approximation, T *y) {
  AXONN_GPU_TRACE(rt, "gelu", "compute");
  geluKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(
      x, count, approximation == 1, y);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status geluGrad(axonn_rt *rt, const T *dy, const T *x, int64_t count,
                      int32_t approximation, T *dx) {
  AXONN_GPU_TRACE(rt, "gelu_grad", "compute");
  geluGradKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(
      dy, x, count, approximation == 1, dx);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status swiglu(axonn_rt *rt, const T *x, int64_t count, T *y) {
  AXONN_GPU_TRACE(rt, "swiglu", "compute");
  swigluKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(x, count, y);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status swigluGrad(axonn_rt *rt, const T *dy, const T *x, int64_t count,
                        T *dx) {
  AXONN_GPU_TRACE(rt, "swiglu_grad", "compute");
  swigluGradKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(dy, x,
                                                                    count, dx);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status add(axonn_rt *rt, const T *a, const T *b, int64_t count, T *out) {
  AXONN_GPU_TRACE(rt, "add", "compute");
  addKernel<<<blocksFor(count), kThreads, 0, streamOf(rt)>>>(a, b, count, out);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

// y[rows, n] = x[rows, k] w[n, k]^T: column-major y^T = w^T(T) x^T.
template <typename T>
axonn_status linear(axonn_rt *rt, const T *x, const T *w, const T *bias,
                    axonn_axes onceOver, int64_t rows, int64_t n, int64_t k,
                    T *y) {
  AXONN_GPU_TRACE(rt, "linear", "compute");
  const T *b = bias && rt->addsOnce(onceOver) ? bias : nullptr;
  return gemm(rt, cudaTypeOf<T>(), true, false, n, rows, k, w, k, x, k, y, n,
              b);
}

// pre = x w^T + bias and y = GELU(pre): the GEMM's epilogue where it can.
template <typename T>
axonn_status linearGelu(axonn_rt *rt, const T *x, const T *w, const T *bias,
                        int64_t rows, int64_t n, int64_t k,
                        int32_t approximation, T *pre, T *y) {
  AXONN_GPU_TRACE(rt, "linear_gelu", "compute");
  if (geluEpilogue(approximation, n))
    return gemm(rt, cudaTypeOf<T>(), true, false, n, rows, k, w, k, x, k, y, n,
                bias, pre);
  if (axonn_status st = gemm(rt, cudaTypeOf<T>(), true, false, n, rows, k, w,
                             k, x, k, pre, n, bias))
    return st;
  return gelu(rt, pre, rows * n, approximation, y);
}

// dx[rows, k] = dy[rows, n] w[n, k]: column-major dx^T = w^T dy^T.
template <typename T>
axonn_status linearGradInput(axonn_rt *rt, const T *dy, const T *w,
                             int64_t rows, int64_t n, int64_t k, T *dx) {
  AXONN_GPU_TRACE(rt, "linear_grad_input", "compute");
  return gemm(rt, cudaTypeOf<T>(), false, false, k, rows, n, w, k, dy, n, dx,
              k, nullptr);
}

// dx = (dy w) * GELU'(pre): the GEMM's DGELU epilogue (tanh form), or
// the GEMM and the GELU gradient kernel in place.
template <typename T>
axonn_status linearGradInputGelu(axonn_rt *rt, const T *dy, const T *w,
                                 const T *pre, int64_t rows, int64_t n,
                                 int64_t k, int32_t approximation, T *dx) {
  AXONN_GPU_TRACE(rt, "linear_grad_input_gelu", "compute");
  if (geluEpilogue(approximation, k))
    return gemm(rt, cudaTypeOf<T>(), false, false, k, rows, n, w, k, dy, n, dx,
                k, nullptr, const_cast<T *>(pre), true);
  if (axonn_status st = gemm(rt, cudaTypeOf<T>(), false, false, k, rows, n, w,
                             k, dy, n, dx, k, nullptr))
    return st;
  return geluGrad(rt, dx, pre, rows * k, approximation, dx);
}

template <typename T>
axonn_status linearGradBias(axonn_rt *rt, const T *dy, int64_t rows,
                            int64_t n, T *db) {
  AXONN_GPU_TRACE(rt, "linear_grad_bias", "compute");
  void *partial = nullptr;
  if (axonn_status s = scratch(rt, columnSumBytes(1, rows, n), &partial))
    return s;
  return columnSums<1>(rt, BiasTerm<T>{dy}, rows, n,
                       static_cast<double *>(partial), db, db);
}

axonn_status applyBiasGrad(axonn_rt *rt, cudaDataType_t type, const void *dy,
                           int64_t rows, int64_t n, void *db) {
  if (type == CUDA_R_16BF)
    return linearGradBias(rt, static_cast<const axonn_bf16 *>(dy), rows, n,
                          static_cast<axonn_bf16 *>(db));
  return linearGradBias(rt, static_cast<const float *>(dy), rows, n,
                        static_cast<float *>(db));
}

/// The bias gradient in the weight gradient's GEMM (cuBLASLt's BGRADB
/// epilogue, where it has an algorithm); AXONN_BGRAD_EPILOGUE=0 turns it
/// off (the GEMM, then the bias gradient's kernel).
bool biasGradEpilogue() {
  static const bool allowed = [] {
    const char *v = std::getenv("AXONN_BGRAD_EPILOGUE");
    return !(v && std::string(v) == "0");
  }();
  return allowed;
}

// dw[n, k] = dy^T x: column-major dw^T[k, n] = x^T dy; db[n] (if not null)
// = dy's column sums, the GEMM's op(B) summed over its inner dimension.
template <typename T>
axonn_status linearGradWeight(axonn_rt *rt, const T *dy, const T *x,
                              int64_t rows, int64_t n, int64_t k, T *dw,
                              T *db) {
  {
    AXONN_GPU_TRACE(rt, "linear_grad_weight", "compute");
    if (db && biasGradEpilogue())
      return gemm(rt, cudaTypeOf<T>(), false, true, k, n, rows, x, k, dy, n, dw,
                  k, nullptr, nullptr, false, db);
    if (axonn_status st = gemm(rt, cudaTypeOf<T>(), false, true, k, n, rows, x,
                               k, dy, n, dw, k, nullptr))
      return st;
  }
  return db ? linearGradBias(rt, dy, rows, n, db) : AXONN_OK;
}

template <typename T>
axonn_status logitsMax(axonn_rt *rt, const T *logits, const int32_t *targets,
                       int64_t tokens, int64_t rows, axonn_axes vocabAxes,
                       int64_t vocabSize, float *max, float *partial) {
  AXONN_GPU_TRACE(rt, "logits_max", "compute");
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  if (tokens == 0)
    return AXONN_OK;
  logitsMaxKernel<<<unsigned(tokens), kThreads, 0, streamOf(rt)>>>(
      logits, targets, rows, realRows(rows, offset, vocabSize), offset,
      vectorRows(logits, rows), max, partial);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

/// The cross-entropy's gradient over globalTokens tokens, or with the
/// Goldfish mask (keep, count) over the kept ones.
template <typename T>
axonn_status crossEntropyGrad(axonn_rt *rt, const char *name, const T *logits,
                              const float *max, const float *sums,
                              const int32_t *targets, const float *keep,
                              const float *count, int64_t tokens,
                              int64_t rows, axonn_axes vocabAxes,
                              int64_t vocabSize, double globalTokens,
                              T *dlogits) {
  AXONN_GPU_TRACE(rt, name, "compute");
  int64_t offset = vocabOffset(rt, vocabAxes, rows);
  if (tokens == 0)
    return AXONN_OK;
  crossEntropyGradKernel<<<unsigned(std::min<int64_t>(tokens, INT32_MAX)),
                           kThreads, 0, streamOf(rt)>>>(
      logits, max, sums, targets, keep, count, tokens, rows,
      realRows(rows, offset, vocabSize), offset, globalTokens,
      vectorRows(logits, rows, dlogits), dlogits);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status sumSquares(axonn_rt *rt, const T *grad, int64_t size,
                        double scale, int32_t first, float *result) {
  AXONN_GPU_TRACE(rt, "sum_squares", "optimizer");
  // Biases and norm scales (most of a model's tensors, few of its
  // elements): one launch, not two.
  if (size <= 64 * 1024) {
    smallSquaresKernel<<<1, 1024, 0, streamOf(rt)>>>(grad, size, scale, first,
                                                     result);
    AXONN_LAUNCHED(rt);
    return AXONN_OK;
  }
  int blocks = std::max(1, std::min(blocksFor(size), 1024));
  void *partial = nullptr;
  if (axonn_status s = scratch(rt, size_t(blocks) * sizeof(double), &partial))
    return s;
  squaresKernel<<<blocks, kThreads, 0, streamOf(rt)>>>(
      grad, size, static_cast<double *>(partial));
  AXONN_LAUNCHED(rt);
  finishSquaresKernel<<<1, 1024, 0, streamOf(rt)>>>(
      static_cast<double *>(partial), blocks, scale, first, result);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status adamw(axonn_rt *rt, T *param, const T *grad, float *m, float *v,
                   float *master, int64_t count, const int64_t *step,
                   const float *norm, const AdamWArgs &args) {
  AXONN_GPU_TRACE(rt, "adamw", "optimizer");
  // A few waves of blocks, each thread over many elements: the step's
  // scalars (the schedule's cosine, the bias corrections' powers, in
  // double) are worked out once per thread, not once per element.
  adamwKernel<<<std::min(blocksFor(count), 4096), kThreads, 0,
                streamOf(rt)>>>(
      param, grad, m, v, master, count, step, norm, args);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

/// Elements per chunk of a group: a block's share.
constexpr int64_t kChunkElements = 64 * 1024;

/// The chunks of `tensors` tensors of counts[i] elements, in order.
std::vector<Chunk> chunksOf(int64_t tensors, const int64_t *counts) {
  std::vector<Chunk> chunks;
  for (int64_t t = 0; t < tensors; ++t)
    for (int64_t b = 0; b < counts[t]; b += kChunkElements)
      chunks.push_back({t, b, std::min(counts[t], b + kChunkElements)});
  return chunks;
}

/// A device copy of `content` (bytes), made once per distinct content and
/// kept until the runtime ends: a step groups the same tensors every time.
axonn_status deviceTable(axonn_rt *rt, const std::string &content,
                         const void **out) {
  State &s = state(rt);
  auto it = s.tables.find(content);
  if (it == s.tables.end() && s.recording)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "a grouped optimizer call's first, while recording a "
                    "graph (its table is copied from the host once)");
  if (it == s.tables.end()) {
    void *table = nullptr;
    AXONN_CUDA(rt, cudaMalloc(&table, std::max<size_t>(content.size(), 1)));
    it = s.tables.emplace(content, table).first;
    // On the compute stream (which does not wait for the default one),
    // from the map's own copy of the bytes, which outlives the transfer.
    cudaError_t copied =
        cudaMemcpyAsync(table, it->first.data(), it->first.size(),
                        cudaMemcpyHostToDevice, streamOf(rt));
    if (copied != cudaSuccess) {
      s.tables.erase(it);
      cudaFree(table);
      AXONN_CUDA(rt, copied);
    }
  }
  *out = it->second;
  return AXONN_OK;
}

template <typename T> void append(std::string &bytes, const T &value) {
  bytes.append(reinterpret_cast<const char *>(&value), sizeof(T));
}

/// The table of a group: `head` (one entry per tensor), then its chunks;
/// returns the device copies of both.
template <typename Entry>
axonn_status groupTable(axonn_rt *rt, const std::vector<Entry> &head,
                        const std::vector<Chunk> &chunks, const Entry **entries,
                        const Chunk **chunkTable) {
  std::string bytes;
  for (const Entry &e : head)
    append(bytes, e);
  size_t chunkOffset = (bytes.size() + 15) / 16 * 16;
  bytes.resize(chunkOffset);
  for (const Chunk &c : chunks)
    append(bytes, c);
  const void *table = nullptr;
  if (axonn_status s = deviceTable(rt, bytes, &table))
    return s;
  *entries = static_cast<const Entry *>(table);
  *chunkTable = reinterpret_cast<const Chunk *>(
      static_cast<const char *>(table) + chunkOffset);
  return AXONN_OK;
}

template <typename T>
axonn_status sumSquaresGroup(axonn_rt *rt, int64_t tensors,
                             const T *const *grads, const int64_t *sizes,
                             const double *scales, float *result) {
  AXONN_GPU_TRACE(rt, "sum_squares", "optimizer");
  std::vector<Chunk> chunks = chunksOf(tensors, sizes);
  if (chunks.empty()) {
    AXONN_CUDA(rt, cudaMemsetAsync(result, 0, sizeof(float), streamOf(rt)));
    return AXONN_OK;
  }
  // The table: each gradient's pointer, then (16-byte aligned) the scales
  // as a separate array for the finishing kernel, then the chunks.
  std::vector<const void *> pointers(grads, grads + tensors);
  std::string bytes;
  for (const void *g : pointers)
    append(bytes, g);
  size_t scalesAt = (bytes.size() + 15) / 16 * 16;
  bytes.resize(scalesAt);
  for (int64_t t = 0; t < tensors; ++t)
    append(bytes, scales[t]);
  size_t chunksAt = (bytes.size() + 15) / 16 * 16;
  bytes.resize(chunksAt);
  for (const Chunk &c : chunks)
    append(bytes, c);
  const void *table = nullptr;
  if (axonn_status s = deviceTable(rt, bytes, &table))
    return s;
  auto *base = static_cast<const char *>(table);
  void *partial = nullptr;
  int64_t count = int64_t(chunks.size());
  if (axonn_status s = scratch(rt, size_t(count) * sizeof(double), &partial))
    return s;
  auto *chunkTable = reinterpret_cast<const Chunk *>(base + chunksAt);
  squaresGroupKernel<T><<<unsigned(std::min<int64_t>(count, 65535)), kThreads,
                          0, streamOf(rt)>>>(
      reinterpret_cast<const void *const *>(base), chunkTable, count,
      static_cast<double *>(partial));
  AXONN_LAUNCHED(rt);
  finishSquaresGroupKernel<<<1, 1024, 0, streamOf(rt)>>>(
      static_cast<double *>(partial), chunkTable, count,
      reinterpret_cast<const double *>(base + scalesAt), result);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

template <typename T>
axonn_status adamwGroup(axonn_rt *rt, int64_t tensors, T *const *params,
                        const T *const *grads, float *const *m,
                        float *const *v, float *const *master,
                        const int64_t *counts, const int32_t *decay,
                        const int64_t *step, const float *norm,
                        const AdamWArgs &args) {
  AXONN_GPU_TRACE(rt, "adamw", "optimizer");
  std::vector<AdamWTensor> head;
  for (int64_t t = 0; t < tensors; ++t) {
    if (std::is_same_v<T, uint16_t> && !(master && master[t]))
      return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                      "adamw_bf16: bf16 parameters need fp32 master weights");
    head.push_back({params[t], grads[t], m[t], v[t],
                    master ? master[t] : nullptr, int64_t(decay[t])});
  }
  std::vector<Chunk> chunks = chunksOf(tensors, counts);
  if (chunks.empty())
    return AXONN_OK;
  const AdamWTensor *entries = nullptr;
  const Chunk *chunkTable = nullptr;
  if (axonn_status s = groupTable(rt, head, chunks, &entries, &chunkTable))
    return s;
  int64_t count = int64_t(chunks.size());
  adamwGroupKernel<T><<<unsigned(std::min<int64_t>(count, 65535)), kThreads, 0,
                        streamOf(rt)>>>(entries, chunkTable, count, step, norm,
                                        args);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

} // namespace

#define CHECK_ARG(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond))                                                               \
      return rt->fail(AXONN_ERR_INVALID_ARGUMENT, __VA_ARGS__);                \
  } while (0)

extern "C" {

axonn_status axonn_rt_copy(axonn_rt *rt, const void *src, void *dst,
                           int64_t bytes) {
  AXONN_GPU_TRACE(rt, "copy", "compute");
  CHECK_ARG(src && dst && bytes >= 0, "copy: bad arguments");
  AXONN_CUDA(rt, cudaMemcpyAsync(dst, src, size_t(bytes), cudaMemcpyDefault,
                                 streamOf(rt)));
  return AXONN_OK;
}

axonn_status axonn_rt_embedding(axonn_rt *rt, const int32_t *tokens,
                                int64_t count, int64_t seq, const float *table,
                                int64_t rows, int64_t width,
                                const float *positions, int64_t positionRows,
                                const int32_t *startAt, axonn_axes vocabAxes,
                                axonn_axes onceOver, float *out) {
  return embedding(rt, tokens, count, seq, table, rows, width, positions,
                   positionRows, startAt, vocabAxes, onceOver, out);
}

axonn_status axonn_rt_embedding_grad(axonn_rt *rt, const float *grad,
                                     const int32_t *tokens, int64_t count,
                                     int64_t rows, int64_t width,
                                     axonn_axes vocabAxes,
                                     const float *accumulate,
                                     float *tableGrad) {
  return embeddingGrad(rt, grad, tokens, count, rows, width, vocabAxes,
                       accumulate, tableGrad);
}

axonn_status axonn_rt_position_grad(axonn_rt *rt, const float *grad,
                                    int64_t count, int64_t seq,
                                    int64_t positions, int64_t width,
                                    float *positionsGrad) {
  return positionGrad(rt, grad, count, seq, positions, width, positionsGrad);
}

// The embedding in bf16 storage, natively (src/bf16_twins.cpp leaves it
// to the backend: AXONN_RT_NATIVE_BF16_KERNELS).
axonn_status axonn_rt_embedding_bf16(axonn_rt *rt, const int32_t *tokens,
                                     int64_t count, int64_t seq,
                                     const axonn_bf16 *table, int64_t rows,
                                     int64_t width,
                                     const axonn_bf16 *positions,
                                     int64_t positionRows,
                                     const int32_t *startAt,
                                     axonn_axes vocabAxes, axonn_axes onceOver,
                                     axonn_bf16 *out) {
  return embedding(rt, tokens, count, seq, table, rows, width, positions,
                   positionRows, startAt, vocabAxes, onceOver, out);
}

axonn_status axonn_rt_embedding_grad_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                          const int32_t *tokens, int64_t count,
                                          int64_t rows, int64_t width,
                                          axonn_axes vocabAxes,
                                          const axonn_bf16 *accumulate,
                                          axonn_bf16 *tableGrad) {
  return embeddingGrad(rt, grad, tokens, count, rows, width, vocabAxes,
                       accumulate, tableGrad);
}

axonn_status axonn_rt_position_grad_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                         int64_t count, int64_t seq,
                                         int64_t positions, int64_t width,
                                         axonn_bf16 *positionsGrad) {
  return positionGrad(rt, grad, count, seq, positions, width, positionsGrad);
}

axonn_status axonn_rt_layer_norm(axonn_rt *rt, const float *x,
                                 const float *scale, const float *bias,
                                 const float *stats, int64_t tokens,
                                 int64_t local, int64_t width, double eps,
                                 float *y) {
  return layerNorm(rt, x, scale, bias, stats, tokens, local, width, eps, y);
}

axonn_status axonn_rt_residual_layer_norm(axonn_rt *rt, const float *x,
                                          const float *residual,
                                          const float *scale,
                                          const float *bias, int64_t tokens,
                                          int64_t width, double eps,
                                          float *sum, float *y) {
  return residualLayerNorm(rt, x, residual, scale, bias, tokens, width, eps,
                           sum, y);
}

axonn_status axonn_rt_residual_rms_norm(axonn_rt *rt, const float *x,
                                        const float *residual,
                                        const float *scale, int64_t tokens,
                                        int64_t width, double eps, float *sum,
                                        float *y) {
  return residualRmsNorm(rt, x, residual, scale, tokens, width, eps, sum, y);
}

axonn_status axonn_rt_rms_norm(axonn_rt *rt, const float *x,
                               const float *scale, const float *stats,
                               int64_t tokens, int64_t local, int64_t width,
                               double eps, float *y) {
  return rmsNorm(rt, x, scale, stats, tokens, local, width, eps, y);
}

axonn_status axonn_rt_norm_stats(axonn_rt *rt, const float *x, int64_t tokens,
                                 int64_t local, int32_t rms, float *stats) {
  return normStats(rt, x, tokens, local, rms, stats);
}

axonn_status axonn_rt_norm_grad_stats(axonn_rt *rt, const float *dy,
                                      const float *x, const float *scale,
                                      int64_t tokens, int64_t local,
                                      int32_t rms, float *stats) {
  return normGradStats(rt, dy, x, scale, tokens, local, rms, stats);
}

axonn_status axonn_rt_layer_norm_grad(axonn_rt *rt, const float *dy,
                                      const float *x, const float *scale,
                                      const float *stats, int64_t tokens,
                                      int64_t local, int64_t width, double eps,
                                      const float *accumulate, float *dx,
                                      float *scaleGrad, float *biasGrad) {
  return layerNormGrad(rt, dy, x, scale, stats, tokens, local, width, eps,
                       accumulate, dx, scaleGrad, biasGrad);
}

axonn_status axonn_rt_rms_norm_grad(axonn_rt *rt, const float *dy,
                                    const float *x, const float *scale,
                                    const float *stats, int64_t tokens,
                                    int64_t local, int64_t width, double eps,
                                    const float *accumulate, float *dx,
                                    float *scaleGrad) {
  return rmsNormGrad(rt, dy, x, scale, stats, tokens, local, width, eps,
                     accumulate, dx, scaleGrad);
}

// The norms in bf16 storage, natively (src/bf16_twins.cpp leaves them to
// the backend: AXONN_RT_NATIVE_BF16_KERNELS).
axonn_status axonn_rt_layer_norm_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                      const axonn_bf16 *scale,
                                      const axonn_bf16 *bias,
                                      const float *stats, int64_t tokens,
                                      int64_t local, int64_t width, double eps,
                                      axonn_bf16 *y) {
  return layerNorm(rt, x, scale, bias, stats, tokens, local, width, eps, y);
}

axonn_status axonn_rt_residual_layer_norm_bf16(
    axonn_rt *rt, const axonn_bf16 *x, const axonn_bf16 *residual,
    const axonn_bf16 *scale, const axonn_bf16 *bias, int64_t tokens,
    int64_t width, double eps, axonn_bf16 *sum, axonn_bf16 *y) {
  return residualLayerNorm(rt, x, residual, scale, bias, tokens, width, eps,
                           sum, y);
}

axonn_status axonn_rt_residual_rms_norm_bf16(
    axonn_rt *rt, const axonn_bf16 *x, const axonn_bf16 *residual,
    const axonn_bf16 *scale, int64_t tokens, int64_t width, double eps,
    axonn_bf16 *sum, axonn_bf16 *y) {
  return residualRmsNorm(rt, x, residual, scale, tokens, width, eps, sum, y);
}

axonn_status axonn_rt_rms_norm_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                    const axonn_bf16 *scale,
                                    const float *stats, int64_t tokens,
                                    int64_t local, int64_t width, double eps,
                                    axonn_bf16 *y) {
  return rmsNorm(rt, x, scale, stats, tokens, local, width, eps, y);
}

axonn_status axonn_rt_norm_stats_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                      int64_t tokens, int64_t local,
                                      int32_t rms, float *stats) {
  return normStats(rt, x, tokens, local, rms, stats);
}

axonn_status axonn_rt_norm_grad_stats_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                           const axonn_bf16 *x,
                                           const axonn_bf16 *scale,
                                           int64_t tokens, int64_t local,
                                           int32_t rms, float *stats) {
  return normGradStats(rt, dy, x, scale, tokens, local, rms, stats);
}

axonn_status axonn_rt_layer_norm_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x,
    const axonn_bf16 *scale, const float *stats, int64_t tokens, int64_t local,
    int64_t width, double eps, const axonn_bf16 *accumulate, axonn_bf16 *dx,
    axonn_bf16 *scaleGrad, axonn_bf16 *biasGrad) {
  return layerNormGrad(rt, dy, x, scale, stats, tokens, local, width, eps,
                       accumulate, dx, scaleGrad, biasGrad);
}

axonn_status axonn_rt_rms_norm_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x,
    const axonn_bf16 *scale, const float *stats, int64_t tokens, int64_t local,
    int64_t width, double eps, const axonn_bf16 *accumulate, axonn_bf16 *dx,
    axonn_bf16 *scaleGrad) {
  return rmsNormGrad(rt, dy, x, scale, stats, tokens, local, width, eps,
                     accumulate, dx, scaleGrad);
}

axonn_status axonn_rt_linear(axonn_rt *rt, const float *x, const float *w,
                             const float *bias, axonn_axes onceOver,
                             int64_t rows, int64_t n, int64_t k, float *y) {
  return linear(rt, x, w, bias, onceOver, rows, n, k, y);
}

axonn_status axonn_rt_linear_gelu(axonn_rt *rt, const float *x, const float *w,
                                  const float *bias, int64_t rows, int64_t n,
                                  int64_t k, int32_t approximation, float *pre,
                                  float *y) {
  return linearGelu(rt, x, w, bias, rows, n, k, approximation, pre, y);
}

axonn_status axonn_rt_linear_grad_input(axonn_rt *rt, const float *dy,
                                        const float *w, int64_t rows,
                                        int64_t n, int64_t k, float *dx) {
  return linearGradInput(rt, dy, w, rows, n, k, dx);
}

axonn_status axonn_rt_linear_grad_input_gelu(axonn_rt *rt, const float *dy,
                                             const float *w, const float *pre,
                                             int64_t rows, int64_t n,
                                             int64_t k, int32_t approximation,
                                             float *dx) {
  return linearGradInputGelu(rt, dy, w, pre, rows, n, k, approximation, dx);
}

axonn_status axonn_rt_linear_grad_weight(axonn_rt *rt, const float *dy,
                                         const float *x, int64_t rows,
                                         int64_t n, int64_t k, float *dw,
                                         float *biasGrad) {
  return linearGradWeight(rt, dy, x, rows, n, k, dw, biasGrad);
}

axonn_status axonn_rt_linear_grad_bias(axonn_rt *rt, const float *dy,
                                       int64_t rows, int64_t n, float *db) {
  return linearGradBias(rt, dy, rows, n, db);
}

// The linear layers in bf16 storage, natively: cuBLASLt takes bf16
// operands (and a bf16 bias) and accumulates in fp32 (src/bf16_twins.cpp
// leaves these to the backend: AXONN_RT_NATIVE_BF16_KERNELS).
axonn_status axonn_rt_linear_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                  const axonn_bf16 *w, const axonn_bf16 *bias,
                                  axonn_axes onceOver, int64_t rows, int64_t n,
                                  int64_t k, axonn_bf16 *y) {
  return linear(rt, x, w, bias, onceOver, rows, n, k, y);
}

axonn_status axonn_rt_linear_gelu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                       const axonn_bf16 *w,
                                       const axonn_bf16 *bias, int64_t rows,
                                       int64_t n, int64_t k,
                                       int32_t approximation, axonn_bf16 *pre,
                                       axonn_bf16 *y) {
  return linearGelu(rt, x, w, bias, rows, n, k, approximation, pre, y);
}

axonn_status axonn_rt_linear_grad_input_bf16(axonn_rt *rt,
                                             const axonn_bf16 *dy,
                                             const axonn_bf16 *w, int64_t rows,
                                             int64_t n, int64_t k,
                                             axonn_bf16 *dx) {
  return linearGradInput(rt, dy, w, rows, n, k, dx);
}

axonn_status axonn_rt_linear_grad_input_gelu_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *w,
    const axonn_bf16 *pre, int64_t rows, int64_t n, int64_t k,
    int32_t approximation, axonn_bf16 *dx) {
  return linearGradInputGelu(rt, dy, w, pre, rows, n, k, approximation, dx);
}

axonn_status axonn_rt_linear_grad_weight_bf16(
    axonn_rt *rt, const axonn_bf16 *dy, const axonn_bf16 *x, int64_t rows,
    int64_t n, int64_t k, axonn_bf16 *dw, axonn_bf16 *biasGrad) {
  return linearGradWeight(rt, dy, x, rows, n, k, dw, biasGrad);
}

axonn_status axonn_rt_linear_grad_bias_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                            int64_t rows, int64_t n,
                                            axonn_bf16 *db) {
  return linearGradBias(rt, dy, rows, n, db);
}

static axonn_status checkHeads(axonn_rt *rt, int64_t batch, int64_t heads,
                               int64_t kvHeads, int64_t headDim) {
  CHECK_ARG(kvHeads > 0 && heads >= kvHeads && heads % kvHeads == 0 &&
                headDim <= 256,
            "attention: %lld heads, %lld KV heads of dimension %lld (the "
            "CUDA kernels take at most 256)",
            (long long)heads, (long long)kvHeads, (long long)headDim);
  // Heads and sequences are grid dimensions (y and z) of the kernels.
  CHECK_ARG(heads <= 65535 && batch <= 65535,
            "attention: %lld heads over %lld sequences (the CUDA kernels "
            "take at most 65535 of each)",
            (long long)heads, (long long)batch);
  return AXONN_OK;
}

/// An attention call whose result would meet its operands (while other
/// blocks still read them) is refused (kernel_common.h).
static axonn_status checkApart(axonn_rt *rt, const void *qkv, const void *dout,
                               const void *result, int64_t batch, int64_t seq,
                               int64_t heads, int64_t kvHeads, int64_t headDim,
                               size_t size) {
  if (const char *why = axonn::attentionOverlap(qkv, dout, result, batch, seq,
                                                heads, kvHeads, headDim, size))
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT, "%s", why);
  return AXONN_OK;
}

axonn_status axonn_rt_attention(axonn_rt *rt, const float *qkv, int64_t batch,
                                int64_t seq, int64_t heads, int64_t kvHeads,
                                int64_t headDim, int32_t causal,
                                double ropeBase, float *out, float *lse) {
  AXONN_GPU_TRACE(rt, "attention", "compute");
  if (axonn_status s = checkHeads(rt, batch, heads, kvHeads, headDim))
    return s;
  if (axonn_status s = checkApart(rt, qkv, nullptr, out, batch, seq, heads,
                                  kvHeads, headDim, sizeof(float)))
    return s;
  if (seq == 0 || batch == 0)
    return AXONN_OK;
  QKVLayout layout(heads, kvHeads, headDim);
  // On the tensor cores where they apply, tiled for the usual head
  // dimensions, one block per query row otherwise (AXONN_ATTENTION).
  AttentionKernels kernels;
  if (axonn_status s = attentionKernels(rt, &kernels))
    return s;
  if (kernels == AttentionKernels::Mma &&
      mmaAttentionApplies(rt, false, headDim))
    return mmaAttention(rt, false, qkv, batch, seq, layout, causal, ropeBase,
                        out, lse);
  if (kernels != AttentionKernels::Rows) {
    switch (headDim) {
    case 32:
      return launchTiled<32>(rt, qkv, batch, seq, layout, causal, ropeBase,
                             out, lse);
    case 64:
      return launchTiled<64>(rt, qkv, batch, seq, layout, causal, ropeBase,
                             out, lse);
    case 128:
      return launchTiled<128>(rt, qkv, batch, seq, layout, causal, ropeBase,
                              out, lse);
    default:
      break;
    }
  }
  size_t shared = size_t(seq + headDim) * sizeof(float);
  if (axonn_status s =
          sharedMemory(rt, attentionKernel, shared, 128, "attention", seq))
    return s;
  attentionKernel<<<dim3(unsigned(seq), unsigned(heads), unsigned(batch)),
                    128, shared, streamOf(rt)>>>(qkv, seq, layout, causal,
                                                 ropeBase, out, lse);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

// The tensor-core kernels read the forward's out and lse; the SIMT ones
// recompute the softmax statistics.
axonn_status axonn_rt_attention_grad(axonn_rt *rt, const float *dout,
                                     const float *qkv, const float *out,
                                     const float *lse, int64_t batch,
                                     int64_t seq, int64_t heads,
                                     int64_t kvHeads, int64_t headDim,
                                     int32_t causal, double ropeBase,
                                     float *dqkv) {
  AXONN_GPU_TRACE(rt, "attention_grad", "compute");
  if (axonn_status s = checkHeads(rt, batch, heads, kvHeads, headDim))
    return s;
  if (axonn_status s = checkApart(rt, qkv, dout, dqkv, batch, seq, heads,
                                  kvHeads, headDim, sizeof(float)))
    return s;
  if (seq == 0 || batch == 0)
    return AXONN_OK;
  QKVLayout layout(heads, kvHeads, headDim);
  // On the tensor cores where they apply, tiled for the usual head
  // dimensions where their shared memory fits, else the row kernels, which
  // store P and dS (AXONN_ATTENTION).
  AttentionKernels kernels;
  if (axonn_status s = attentionKernels(rt, &kernels))
    return s;
  if (kernels == AttentionKernels::Mma &&
      mmaAttentionApplies(rt, false, headDim))
    return mmaAttentionGrad(rt, false, dout, qkv, out, lse, batch, seq,
                            layout, causal, ropeBase, dqkv);
  if (kernels != AttentionKernels::Rows) {
    if (headDim == 32 && tiledGradFits<32>(rt))
      return launchTiledGrad<32>(rt, dout, qkv, batch, seq, layout, causal,
                                 ropeBase, dqkv);
    if (headDim == 64 && tiledGradFits<64>(rt))
      return launchTiledGrad<64>(rt, dout, qkv, batch, seq, layout, causal,
                                 ropeBase, dqkv);
    if (headDim == 128 && tiledGradFits<128>(rt))
      return launchTiledGrad<128>(rt, dout, qkv, batch, seq, layout, causal,
                                  ropeBase, dqkv);
  }
  // The rows of P and dS of every head: [batch, heads, seq, seq] each.
  int64_t rows = batch * heads * seq * seq;
  void *buffer = nullptr;
  if (axonn_status s = scratch(rt, size_t(2 * rows) * sizeof(float), &buffer))
    return s;
  float *probs = static_cast<float *>(buffer), *grads = probs + rows;
  size_t shared = size_t(2 * seq + 3 * headDim) * sizeof(float);
  if (axonn_status s = sharedMemory(rt, attentionGradRowKernel, shared, 128,
                                    "attention_grad", seq))
    return s;
  attentionGradRowKernel<<<dim3(unsigned(seq), unsigned(heads),
                                unsigned(batch)),
                           128, shared, streamOf(rt)>>>(
      dout, qkv, seq, layout, causal, ropeBase, dqkv, probs, grads);
  AXONN_LAUNCHED(rt);
  attentionGradKeyKernel<<<dim3(unsigned(seq), unsigned(kvHeads),
                                unsigned(batch)),
                           128, size_t(headDim) * sizeof(float),
                           streamOf(rt)>>>(dout, qkv, seq, layout, causal,
                                           ropeBase, probs, grads, dqkv);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

axonn_status axonn_rt_attention_bf16(axonn_rt *rt, const axonn_bf16 *qkv,
                                     int64_t batch, int64_t seq, int64_t heads,
                                     int64_t kvHeads, int64_t headDim,
                                     int32_t causal, double ropeBase,
                                     axonn_bf16 *out, float *lse) {
  if (axonn_status s = checkApart(rt, qkv, nullptr, out, batch, seq, heads,
                                  kvHeads, headDim, sizeof(axonn_bf16)))
    return s;
  AttentionKernels kernels;
  if (axonn_status s = attentionKernels(rt, &kernels))
    return s;
  if (kernels != AttentionKernels::Mma ||
      !mmaAttentionApplies(rt, true, headDim))
    return axonn::widenedAttention(rt, qkv, batch, seq, heads, kvHeads,
                                   headDim, causal, ropeBase, out, lse);
  AXONN_GPU_TRACE(rt, "attention", "compute");
  if (axonn_status s = checkHeads(rt, batch, heads, kvHeads, headDim))
    return s;
  if (seq == 0 || batch == 0)
    return AXONN_OK;
  return mmaAttention(rt, true, qkv, batch, seq,
                      QKVLayout(heads, kvHeads, headDim), causal, ropeBase,
                      out, lse);
}

axonn_status axonn_rt_attention_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *dout, const axonn_bf16 *qkv,
    const axonn_bf16 *out, const float *lse, int64_t batch, int64_t seq,
    int64_t heads, int64_t kvHeads, int64_t headDim, int32_t causal,
    double ropeBase, axonn_bf16 *dqkv) {
  if (axonn_status s = checkApart(rt, qkv, dout, dqkv, batch, seq, heads,
                                  kvHeads, headDim, sizeof(axonn_bf16)))
    return s;
  AttentionKernels kernels;
  if (axonn_status s = attentionKernels(rt, &kernels))
    return s;
  if (kernels != AttentionKernels::Mma ||
      !mmaAttentionApplies(rt, true, headDim))
    return axonn::widenedAttentionGrad(rt, dout, qkv, out, lse, batch, seq,
                                       heads, kvHeads, headDim, causal,
                                       ropeBase, dqkv);
  AXONN_GPU_TRACE(rt, "attention_grad", "compute");
  if (axonn_status s = checkHeads(rt, batch, heads, kvHeads, headDim))
    return s;
  if (seq == 0 || batch == 0)
    return AXONN_OK;
  return mmaAttentionGrad(rt, true, dout, qkv, out, lse, batch, seq,
                          QKVLayout(heads, kvHeads, headDim), causal, ropeBase,
                          dqkv);
}

axonn_status axonn_rt_cached_attention(axonn_rt *rt, const float *qkv,
                                       int64_t batch, int64_t seq,
                                       int64_t heads, int64_t kvHeads,
                                       int64_t headDim, double ropeBase,
                                       float *kCache, float *vCache,
                                       int64_t capacity,
                                       const int32_t *startAt, float *out) {
  AXONN_GPU_TRACE(rt, "cached_attention", "compute");
  if (axonn_status s = checkHeads(rt, batch, heads, kvHeads, headDim))
    return s;
  CHECK_ARG(startAt && kCache && vCache, "cached_attention: null pointer");
  if (seq == 0 || batch == 0)
    return AXONN_OK;
  QKVLayout layout(heads, kvHeads, headDim);
  cacheWriteKernel<<<blocksFor(batch * kvHeads * seq * headDim), kThreads, 0,
                     streamOf(rt)>>>(qkv, batch, seq, layout, ropeBase, kCache,
                                     vCache, capacity, startAt,
                                     state(rt).errors);
  AXONN_LAUNCHED(rt);
  size_t shared = size_t(capacity + headDim) * sizeof(float);
  if (axonn_status s = sharedMemory(rt, cachedAttentionKernel, shared, 128,
                                    "cached_attention", capacity))
    return s;
  cachedAttentionKernel<<<dim3(unsigned(seq), unsigned(heads),
                               unsigned(batch)),
                          128, shared, streamOf(rt)>>>(
      qkv, seq, layout, ropeBase, kCache, vCache, capacity, startAt, out);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

axonn_status axonn_rt_gelu(axonn_rt *rt, const float *x, int64_t count,
                           int32_t approximation, float *y) {
  return gelu(rt, x, count, approximation, y);
}

axonn_status axonn_rt_gelu_grad(axonn_rt *rt, const float *dy, const float *x,
                                int64_t count, int32_t approximation,
                                float *dx) {
  return geluGrad(rt, dy, x, count, approximation, dx);
}

axonn_status axonn_rt_swiglu(axonn_rt *rt, const float *x, int64_t count,
                             float *y) {
  return swiglu(rt, x, count, y);
}

axonn_status axonn_rt_swiglu_grad(axonn_rt *rt, const float *dy,
                                  const float *x, int64_t count, float *dx) {
  return swigluGrad(rt, dy, x, count, dx);
}

axonn_status axonn_rt_add(axonn_rt *rt, const float *a, const float *b,
                          int64_t count, float *out) {
  return add(rt, a, b, count, out);
}

// The elementwise ops in bf16 storage, natively (src/bf16_twins.cpp
// leaves them to the backend: AXONN_RT_NATIVE_BF16_KERNELS).
axonn_status axonn_rt_gelu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                int64_t count, int32_t approximation,
                                axonn_bf16 *y) {
  return gelu(rt, x, count, approximation, y);
}

axonn_status axonn_rt_gelu_grad_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                     const axonn_bf16 *x, int64_t count,
                                     int32_t approximation, axonn_bf16 *dx) {
  return geluGrad(rt, dy, x, count, approximation, dx);
}

axonn_status axonn_rt_swiglu_bf16(axonn_rt *rt, const axonn_bf16 *x,
                                  int64_t count, axonn_bf16 *y) {
  return swiglu(rt, x, count, y);
}

axonn_status axonn_rt_swiglu_grad_bf16(axonn_rt *rt, const axonn_bf16 *dy,
                                       const axonn_bf16 *x, int64_t count,
                                       axonn_bf16 *dx) {
  return swigluGrad(rt, dy, x, count, dx);
}

axonn_status axonn_rt_add_bf16(axonn_rt *rt, const axonn_bf16 *a,
                               const axonn_bf16 *b, int64_t count,
                               axonn_bf16 *out) {
  return add(rt, a, b, count, out);
}

axonn_status axonn_rt_logits_max(axonn_rt *rt, const float *logits,
                                 const int32_t *targets, int64_t tokens,
                                 int64_t rows, axonn_axes vocabAxes,
                                 int64_t vocabSize, float *max,
                                 float *partial) {
  return logitsMax(rt, logits, targets, tokens, rows, vocabAxes, vocabSize,
                   max, partial);
}

axonn_status axonn_rt_softmax_sums(axonn_rt *rt, const float *partial,
                                   const float *localMax, const float *max,
                                   int64_t tokens, float *sums) {
  AXONN_GPU_TRACE(rt, "softmax_sums", "compute");
  if (tokens == 0)
    return AXONN_OK;
  softmaxSumsKernel<<<blocksFor(tokens), kThreads, 0, streamOf(rt)>>>(
      partial, localMax, max, tokens, sums);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy(axonn_rt *rt, const float *max,
                                    const float *sums, int64_t tokens,
                                    int64_t globalTokens, float *loss) {
  AXONN_GPU_TRACE(rt, "cross_entropy", "compute");
  crossEntropyKernel<<<1, 1024, 0, streamOf(rt)>>>(
      max, sums, nullptr, nullptr, tokens, double(globalTokens), loss);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy_grad(
    axonn_rt *rt, const float *logits, const float *max, const float *sums,
    const int32_t *targets, int64_t tokens, int64_t rows, axonn_axes vocabAxes,
    int64_t vocabSize, int64_t globalTokens, float *dlogits) {
  return crossEntropyGrad(rt, "cross_entropy_grad", logits, max, sums,
                          targets, nullptr, nullptr, tokens, rows, vocabAxes,
                          vocabSize, double(globalTokens), dlogits);
}

axonn_status axonn_rt_goldfish_mask(axonn_rt *rt, const int32_t *targets,
                                    int64_t rows, int64_t seq,
                                    int32_t strategy, int64_t k, int64_t h,
                                    float *keep, float *count) {
  AXONN_GPU_TRACE(rt, "goldfish_mask", "compute");
  CHECK_ARG(k >= 2 && h >= 1 && (strategy == AXONN_GOLDFISH_HASH ||
                                 strategy == AXONN_GOLDFISH_STATIC),
            "goldfish mask: k = %lld must be at least 2 and h = %lld at "
            "least 1",
            (long long)k, (long long)h);
  goldfishKernel<<<blocksFor(rows * seq), kThreads, 0, streamOf(rt)>>>(
      targets, rows, seq, strategy, k, h, keep);
  AXONN_LAUNCHED(rt);
  if (count) {
    countKernel<<<1, 1024, 0, streamOf(rt)>>>(keep, rows * seq, count);
    AXONN_LAUNCHED(rt);
  }
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy_masked(axonn_rt *rt, const float *max,
                                           const float *sums,
                                           const float *keep,
                                           const float *count, int64_t tokens,
                                           float *loss) {
  AXONN_GPU_TRACE(rt, "cross_entropy_masked", "compute");
  crossEntropyKernel<<<1, 1024, 0, streamOf(rt)>>>(max, sums, keep, count,
                                                   tokens, 0.0, loss);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

axonn_status axonn_rt_cross_entropy_grad_masked(
    axonn_rt *rt, const float *logits, const float *max, const float *sums,
    const int32_t *targets, const float *keep, const float *count,
    int64_t tokens, int64_t rows, axonn_axes vocabAxes, int64_t vocabSize,
    float *dlogits) {
  return crossEntropyGrad(rt, "cross_entropy_grad_masked", logits, max, sums,
                          targets, keep, count, tokens, rows, vocabAxes,
                          vocabSize, 0.0, dlogits);
}

// The cross-entropy in bf16 storage, natively: the logits and their
// gradient are the large tensors of a step (src/bf16_twins.cpp leaves
// these to the backend: AXONN_RT_NATIVE_BF16_KERNELS).
axonn_status axonn_rt_logits_max_bf16(axonn_rt *rt, const axonn_bf16 *logits,
                                      const int32_t *targets, int64_t tokens,
                                      int64_t rows, axonn_axes vocabAxes,
                                      int64_t vocabSize, float *max,
                                      float *partial) {
  return logitsMax(rt, logits, targets, tokens, rows, vocabAxes, vocabSize,
                   max, partial);
}

axonn_status axonn_rt_cross_entropy_grad_bf16(
    axonn_rt *rt, const axonn_bf16 *logits, const float *max,
    const float *sums, const int32_t *targets, int64_t tokens, int64_t rows,
    axonn_axes vocabAxes, int64_t vocabSize, int64_t globalTokens,
    axonn_bf16 *dlogits) {
  return crossEntropyGrad(rt, "cross_entropy_grad", logits, max, sums,
                          targets, nullptr, nullptr, tokens, rows, vocabAxes,
                          vocabSize, double(globalTokens), dlogits);
}

axonn_status axonn_rt_cross_entropy_grad_masked_bf16(
    axonn_rt *rt, const axonn_bf16 *logits, const float *max,
    const float *sums, const int32_t *targets, const float *keep,
    const float *count, int64_t tokens, int64_t rows, axonn_axes vocabAxes,
    int64_t vocabSize, axonn_bf16 *dlogits) {
  return crossEntropyGrad(rt, "cross_entropy_grad_masked", logits, max, sums,
                          targets, keep, count, tokens, rows, vocabAxes,
                          vocabSize, 0.0, dlogits);
}

axonn_status axonn_rt_sum_squares(axonn_rt *rt, const float *grad,
                                  int64_t size, double scale, int32_t first,
                                  float *result) {
  return sumSquares(rt, grad, size, scale, first, result);
}

axonn_status axonn_rt_sum_squares_bf16(axonn_rt *rt, const axonn_bf16 *grad,
                                       int64_t size, double scale,
                                       int32_t first, float *result) {
  return sumSquares(rt, grad, size, scale, first, result);
}

axonn_status axonn_rt_sum_squares_group(axonn_rt *rt, int64_t tensors,
                                        const float *const *grads,
                                        const int64_t *sizes,
                                        const double *scales, float *result) {
  return sumSquaresGroup(rt, tensors, grads, sizes, scales, result);
}

axonn_status axonn_rt_sum_squares_group_bf16(axonn_rt *rt, int64_t tensors,
                                             const axonn_bf16 *const *grads,
                                             const int64_t *sizes,
                                             const double *scales,
                                             float *result) {
  return sumSquaresGroup(rt, tensors, grads, sizes, scales, result);
}

axonn_status axonn_rt_sqrt(axonn_rt *rt, const float *x, float *y) {
  AXONN_GPU_TRACE(rt, "sqrt", "optimizer");
  sqrtKernel<<<1, 1, 0, streamOf(rt)>>>(x, y);
  AXONN_LAUNCHED(rt);
  return AXONN_OK;
}

axonn_status axonn_rt_adamw(axonn_rt *rt, float *param, const float *grad,
                            float *m, float *v, float *master, int64_t count,
                            const int64_t *step, const float *norm, double lr,
                            double minLr, double beta1, double beta2,
                            double eps, double weightDecay, double gradClip,
                            int64_t warmupSteps, int64_t steps,
                            int32_t schedule, int32_t decay) {
  return adamw(rt, param, grad, m, v, master, count, step, norm,
               AdamWArgs{lr, minLr, beta1, beta2, eps, weightDecay, gradClip,
                         warmupSteps, steps, schedule, decay});
}

// The optimizer in bf16 storage, natively (src/bf16_twins.cpp leaves it
// to the backend: AXONN_RT_NATIVE_BF16_KERNELS).
axonn_status axonn_rt_adamw_bf16(axonn_rt *rt, axonn_bf16 *param,
                                 const axonn_bf16 *grad, float *m, float *v,
                                 float *master, int64_t count,
                                 const int64_t *step, const float *norm,
                                 double lr, double minLr, double beta1,
                                 double beta2, double eps, double weightDecay,
                                 double gradClip, int64_t warmupSteps,
                                 int64_t steps, int32_t schedule,
                                 int32_t decay) {
  if (!master)
    return rt->fail(AXONN_ERR_INVALID_ARGUMENT,
                    "adamw_bf16: bf16 parameters need fp32 master weights");
  return adamw(rt, param, grad, m, v, master, count, step, norm,
               AdamWArgs{lr, minLr, beta1, beta2, eps, weightDecay, gradClip,
                         warmupSteps, steps, schedule, decay});
}

axonn_status axonn_rt_adamw_group(
    axonn_rt *rt, int64_t tensors, float *const *params,
    const float *const *grads, float *const *m, float *const *v,
    float *const *master, const int64_t *counts, const int32_t *decay,
    const int64_t *step, const float *norm, double lr, double minLr,
    double beta1, double beta2, double eps, double weightDecay,
    double gradClip, int64_t warmupSteps, int64_t steps, int32_t schedule) {
  return adamwGroup(rt, tensors, params, grads, m, v, master, counts, decay,
                    step, norm,
                    AdamWArgs{lr, minLr, beta1, beta2, eps, weightDecay,
                              gradClip, warmupSteps, steps, schedule, 0});
}

axonn_status axonn_rt_adamw_group_bf16(
    axonn_rt *rt, int64_t tensors, axonn_bf16 *const *params,
    const axonn_bf16 *const *grads, float *const *m, float *const *v,
    float *const *master, const int64_t *counts, const int32_t *decay,
    const int64_t *step, const float *norm, double lr, double minLr,
    double beta1, double beta2, double eps, double weightDecay,
    double gradClip, int64_t warmupSteps, int64_t steps, int32_t schedule) {
  return adamwGroup(rt, tensors, params, grads, m, v, master, counts, decay,
                    step, norm,
                    AdamWArgs{lr, minLr, beta1, beta2, eps, weightDecay,
                              gradClip, warmupSteps, steps, schedule, 0});
}

} // extern "C"
