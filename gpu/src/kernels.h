#pragma once
// Host-callable launchers for gpu-flat's kernels; each returns the launch's cudaError_t.

#include <annbench/gpu/select.h>

#include <cuda_runtime.h>

#include <cstddef>

namespace annbench::gpu {

// norms[i] = |rows[i]|², rows: n × dim on the device.
cudaError_t launch_squared_norms(const float* rows, std::size_t n, std::size_t dim, float* norms);
// rows[i] /= |rows[i]| (zero rows stay zero).
cudaError_t launch_normalize_rows(float* rows, std::size_t n, std::size_t dim, const float* norms);
// best[0..count) = empty candidates. On `stream`, like launch_fold_tile: concurrent searches each
// run on their own stream.
cudaError_t launch_reset_best(Candidate* best, std::size_t count, cudaStream_t stream);
// Folds one base tile into each query's running top-`width` list (one block per query).
// products: tile_rows × queries, column-major (products[q * tile_rows + j] = <x_j, q>).
// Score: base_norms[j] - 2<x,q> when use_norms (L2), else -<x,q>.
cudaError_t launch_fold_tile(const float* products, std::size_t tile_rows, std::size_t queries,
                             std::size_t tile_start, const float* base_norms, bool use_norms,
                             Candidate* best, int width, cudaStream_t stream);

}  // namespace annbench::gpu
