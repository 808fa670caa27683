//===- naive_blas.h - the BLAS calls of the CPU kernels, in loops -*- C++ -*-===//
//
// For the reference build of the CPU kernels (AXONN_RT_NAIVE_BLAS,
// libaxonn_rt_reference.so) that the GPU kernel check loads on machines
// without OpenBLAS: row-major GEMM in plain loops, accumulated in double,
// and the few OpenBLAS queries the CPU backend makes.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_NAIVE_BLAS_H
#define AXONN_NAIVE_BLAS_H

enum CBLAS_ORDER { CblasRowMajor = 101 };
enum CBLAS_TRANSPOSE { CblasNoTrans = 111, CblasTrans = 112 };

/// C = alpha op(A) op(B) + beta C, row-major.
template <typename T>
inline void naiveGemm(CBLAS_ORDER, CBLAS_TRANSPOSE transA,
                      CBLAS_TRANSPOSE transB, int m, int n, int k, T alpha,
                      const T *a, int lda, const T *b, int ldb, T beta, T *c,
                      int ldc) {
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int l = 0; l < k; ++l) {
        double x = transA == CblasTrans ? a[l * lda + i] : a[i * lda + l];
        double y = transB == CblasTrans ? b[j * ldb + l] : b[l * ldb + j];
        sum += x * y;
      }
      c[i * ldc + j] = T(alpha * sum + (beta != T(0) ? beta * c[i * ldc + j]
                                                     : 0.0));
    }
}

inline const char *openblas_get_corename() { return "naive"; }
inline int openblas_get_num_threads() { return 1; }

#endif // AXONN_NAIVE_BLAS_H
