#pragma once
// Many-to-many inner products (a small "Q times X transposed" GEMM): the kernel behind exact
// ground truth and batch brute force. The AVX-512 variant keeps an 8 x 3 tile of 16-float
// accumulators in registers (8 query rows held in L1, 3 base rows streamed), so 11 loads feed
// 24 FMAs and the FMA units, not the loads, set the pace (80-90 % of FMA peak measured).
//
// Squared L2 follows from |q|^2 + |x|^2 - 2 <q, x>, which is fine for choosing candidates but
// loses digits when the vectors are long compared with their distance: re-rank candidates with
// exact_distance (distance.h) before reporting them. ExactKnn (exact_knn.h) does all that.

#include <cstddef>
#include <cstdint>
#include <span>

namespace annbench {

struct BlockKernels {
  const char* isa;  // "avx512", "avx2", "scalar"
  // Floats summed side by side in each inner product (see DistanceKernels::lanes).
  std::size_t lanes;
  // out[i * ldo + j] = <q_i, x_j> for i < nq, j < nx.
  // q: nq × dim and x: nx × dim, row-major, rows contiguous (stride dim); out: nq rows of
  // stride ldo >= nx. No alignment needed. Single-threaded: callers split the work (query blocks
  // per thread). Fastest with nq a multiple of 8 and up to a few hundred queries per call; the
  // kernel blocks x itself to stay in L2.
  void (*inner_products)(const float* q, std::size_t nq, const float* x, std::size_t nx,
                         std::size_t dim, float* out, std::size_t ldo);
  // The candidate filter of a top-k scan over one row of inner products: scores
  // s_j = bias_j - scale * products_j (bias_j = 0 when bias is null), for j < n. Writes the j
  // with s_j < threshold, ascending, to hit_ids and their scores to hit_scores (both room for
  // n); returns how many. Once a top-k heap is full nearly nothing passes, so this is one
  // vector compare per 16 scores instead of a branch per score.
  std::size_t (*scores_below)(const float* products, const float* bias, float scale, std::size_t n,
                              float threshold, std::uint32_t* hit_ids, float* hit_scores);
};

// Best variant for this CPU (ANNBENCH_SIMD caps it, see distance.h), picked on first call.
const BlockKernels& block_kernels();
// Every variant this CPU can run, best first, scalar last.
std::span<const BlockKernels> available_block_kernels();

}  // namespace annbench
