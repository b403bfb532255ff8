#pragma once
// Every CUDA runtime and cuBLAS call goes through these, so a failure is reported with the call
// that failed and never ignored.

#include <annbench/error.h>

#include <cublas_v2.h>
#include <cuda_runtime.h>

#define ANNBENCH_CUDA(call)                                                       \
  do {                                                                            \
    const cudaError_t status_ = (call);                                           \
    ANNBENCH_CHECK(status_ == cudaSuccess, "gpu-flat: {} failed: {} ({})", #call, \
                   cudaGetErrorName(status_), cudaGetErrorString(status_));       \
  } while (false)

#define ANNBENCH_CUBLAS(call)                                                          \
  do {                                                                                 \
    const cublasStatus_t status_ = (call);                                             \
    ANNBENCH_CHECK(status_ == CUBLAS_STATUS_SUCCESS, "gpu-flat: {} failed: {}", #call, \
                   cublasGetStatusString(status_));                                    \
  } while (false)
