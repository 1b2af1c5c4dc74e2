// One macro per library turning a CUDA runtime or cuBLAS return code into a
// Status at the call site, and the launch check every kernel launch goes
// through. Private to the CUDA backend (kernels/cuda); includes CUDA headers.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <string>

#include "common/status.h"

namespace skipjoin::kernels::cuda {

inline Status CudaStatus(cudaError_t e, const char* expr, const char* file, int line) {
  return Internal(std::string("CUDA error ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                  ") in " + expr + " at " + file + ":" + std::to_string(line));
}

inline const char* CublasStatusName(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS:
      return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED:
      return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED:
      return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE:
      return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH:
      return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR:
      return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED:
      return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR:
      return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED:
      return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR:
      return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

inline Status CublasStatus(cublasStatus_t s, const char* expr, const char* file, int line) {
  return Internal(std::string("cuBLAS error ") + CublasStatusName(s) + " in " + expr + " at " +
                  file + ":" + std::to_string(line));
}

}  // namespace skipjoin::kernels::cuda

// Returns an Internal Status from the enclosing function when a CUDA runtime
// call fails.
#define SJ_CUDA_RETURN_IF_ERROR(expr)                                                        \
  do {                                                                                       \
    const cudaError_t sj_cuda_err_ = (expr);                                                 \
    if (sj_cuda_err_ != cudaSuccess)                                                         \
      return ::skipjoin::kernels::cuda::CudaStatus(sj_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)

// The same for cuBLAS calls.
#define SJ_CUBLAS_RETURN_IF_ERROR(expr)                                                         \
  do {                                                                                          \
    const cublasStatus_t sj_cublas_st_ = (expr);                                                \
    if (sj_cublas_st_ != CUBLAS_STATUS_SUCCESS)                                                 \
      return ::skipjoin::kernels::cuda::CublasStatus(sj_cublas_st_, #expr, __FILE__, __LINE__); \
  } while (0)

// Right after a <<<...>>> launch: a bad launch configuration (or an earlier
// asynchronous fault) surfaces here as a Status.
#define SJ_CUDA_RETURN_IF_LAUNCH_FAILED() SJ_CUDA_RETURN_IF_ERROR(cudaGetLastError())
