// Device kernels of gpu-flat. Kept apart from the module's host code so that nvcc sees no
// annbench/fmt headers (whose consteval format checks it cannot evaluate).

#include "kernels.h"

namespace annbench::gpu {
namespace {

constexpr unsigned kThreads = 256;

unsigned blocks_for(std::size_t n) {
  return static_cast<unsigned>((n + kThreads - 1) / kThreads);
}

struct DeviceSync {
  __device__ static void sync() { __syncthreads(); }
};

__global__ void squared_norms(const float* rows, std::size_t n, std::size_t dim, float* norms) {
  const std::size_t row = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (row >= n) return;
  float sum = 0;
  for (std::size_t d = 0; d < dim; ++d) sum += rows[row * dim + d] * rows[row * dim + d];
  norms[row] = sum;
}

__global__ void normalize_rows(float* rows, std::size_t n, std::size_t dim, const float* norms) {
  const std::size_t row = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (row >= n || norms[row] == 0) return;
  const float scale = rsqrtf(norms[row]);
  for (std::size_t d = 0; d < dim; ++d) rows[row * dim + d] *= scale;
}

__global__ void reset_best(Candidate* best, std::size_t count) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  if (i < count) best[i] = {INFINITY, -1};
}

// One block per query of the batch. products: tile_rows × batch, column-major per query
// (products[q * tile_rows + j] = <x_j, q>). score = base_norm[j] - 2 <x,q> for L2 (the query's
// norm is the same for every j), -<x,q> for angular (normalised) and inner product.
__global__ void fold_tile(const float* products, std::size_t tile_rows, std::size_t tile_start,
                          const float* base_norms, bool use_norms, Candidate* best_all, int width) {
  extern __shared__ Candidate shared[];
  Candidate* best = shared;
  Candidate* chunk = shared + width;
  const std::size_t query = blockIdx.x;
  const float* column = products + query * tile_rows;
  Candidate* best_global = best_all + query * static_cast<std::size_t>(width);
  for (int i = threadIdx.x; i < width; i += blockDim.x) best[i] = best_global[i];
  __syncthreads();
  for (std::size_t start = 0; start < tile_rows; start += width) {
    for (int i = threadIdx.x; i < width; i += blockDim.x) {
      const std::size_t j = start + i;
      if (j < tile_rows) {
        const float product = column[j];
        const float score = use_norms ? base_norms[tile_start + j] - 2.0f * product : -product;
        chunk[i] = {score, static_cast<std::int32_t>(tile_start + j)};
      } else {
        chunk[i] = {INFINITY, -1};
      }
    }
    __syncthreads();
    merge_chunk<DeviceSync>(best, chunk, width, threadIdx.x, blockDim.x);
  }
  for (int i = threadIdx.x; i < width; i += blockDim.x) best_global[i] = best[i];
}

}  // namespace

cudaError_t launch_squared_norms(const float* rows, std::size_t n, std::size_t dim, float* norms) {
  if (n == 0) return cudaSuccess;
  squared_norms<<<blocks_for(n), kThreads>>>(rows, n, dim, norms);
  return cudaGetLastError();
}

cudaError_t launch_normalize_rows(float* rows, std::size_t n, std::size_t dim, const float* norms) {
  if (n == 0) return cudaSuccess;
  normalize_rows<<<blocks_for(n), kThreads>>>(rows, n, dim, norms);
  return cudaGetLastError();
}

cudaError_t launch_reset_best(Candidate* best, std::size_t count, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  reset_best<<<blocks_for(count), kThreads, 0, stream>>>(best, count);
  return cudaGetLastError();
}

cudaError_t launch_fold_tile(const float* products, std::size_t tile_rows, std::size_t queries,
                             std::size_t tile_start, const float* base_norms, bool use_norms,
                             Candidate* best, int width, cudaStream_t stream) {
  if (queries == 0) return cudaSuccess;
  fold_tile<<<static_cast<unsigned>(queries), kThreads, 2 * width * sizeof(Candidate), stream>>>(
      products, tile_rows, tile_start, base_norms, use_norms, best, width);
  return cudaGetLastError();
}

}  // namespace annbench::gpu
