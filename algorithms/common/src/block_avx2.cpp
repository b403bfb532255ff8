// AVX2 + FMA many-to-many inner products (compiled for AVX2 whatever -march says; see simd.h).

#include "simd.h"

#include <immintrin.h>

#include <algorithm>

namespace annbench::detail {
namespace {

// 4 query rows x 3 base rows = 12 accumulators, plus 3 base vectors and one query vector:
// all 16 ymm registers.
constexpr int kRows = 4;
constexpr int kCols = 3;
constexpr std::size_t kBaseBytesPerPass = std::size_t{512} * 1024;  // see block_avx512.cpp

// acc[r * NR + c] accumulates <q_r, x_c> over the dimensions, 8 lanes at a time.
template <int MR, int NR>
ANNBENCH_TARGET_AVX2 inline void tile(const float* q, const float* x, std::size_t dim, float* out,
                                      std::size_t ldo) {
  constexpr int kCount = MR * NR;
  __m256 acc[kCount];
#pragma GCC unroll 24
  for (int f = 0; f < kCount; ++f) acc[f] = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 8 <= dim; i += 8) {
    __m256 xv[NR];
#pragma GCC unroll 3
    for (int c = 0; c < NR; ++c) xv[c] = _mm256_loadu_ps(x + c * dim + i);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      __m256 qv = _mm256_loadu_ps(q + r * dim + i);
      __asm__("" : "+x"(qv));  // one load, not one per FMA (see block_avx512.cpp)
#pragma GCC unroll 3
      for (int c = 0; c < NR; ++c) acc[r * NR + c] = _mm256_fmadd_ps(qv, xv[c], acc[r * NR + c]);
    }
  }
  if (i < dim) {
    // Masked loads do not fault past the end of the last row.
    const __m256i m = tail_mask8(dim - i);
    __m256 xv[NR];
#pragma GCC unroll 3
    for (int c = 0; c < NR; ++c) xv[c] = _mm256_maskload_ps(x + c * dim + i, m);
#pragma GCC unroll 4
    for (int r = 0; r < MR; ++r) {
      const __m256 qv = _mm256_maskload_ps(q + r * dim + i, m);
#pragma GCC unroll 3
      for (int c = 0; c < NR; ++c) acc[r * NR + c] = _mm256_fmadd_ps(qv, xv[c], acc[r * NR + c]);
    }
  }
  // Four accumulators per transposing reduction (zeros pad the last group).
  constexpr int kGroups = (kCount + 3) / 4;
  alignas(16) float sums[kGroups * 4];
#pragma GCC unroll 6
  for (int g = 0; g < kGroups; ++g) {
    __m256 v[4];
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) v[t] = 4 * g + t < kCount ? acc[4 * g + t] : _mm256_setzero_ps();
    _mm_store_ps(sums + 4 * g, horizontal_sums4_256(v[0], v[1], v[2], v[3]));
  }
#pragma GCC unroll 4
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 3
    for (int c = 0; c < NR; ++c) out[r * ldo + c] = sums[r * NR + c];
  }
}

template <int MR>
ANNBENCH_TARGET_AVX2 void row_panel(const float* q, const float* x, std::size_t nx, std::size_t dim,
                                    float* out, std::size_t ldo) {
  std::size_t j = 0;
  for (; j + kCols <= nx; j += kCols) tile<MR, kCols>(q, x + j * dim, dim, out + j, ldo);
  if (nx - j == 2) tile<MR, 2>(q, x + j * dim, dim, out + j, ldo);
  if (nx - j == 1) tile<MR, 1>(q, x + j * dim, dim, out + j, ldo);
}

ANNBENCH_TARGET_AVX2 void inner_products_avx2(const float* q, std::size_t nq, const float* x,
                                              std::size_t nx, std::size_t dim, float* out,
                                              std::size_t ldo) {
  const std::size_t row_bytes = std::max<std::size_t>(dim, 1) * sizeof(float);
  const std::size_t pass = std::max<std::size_t>(kBaseBytesPerPass / row_bytes / kCols, 1) * kCols;
  for (std::size_t x0 = 0; x0 < nx; x0 += pass) {
    const std::size_t xn = std::min(pass, nx - x0);
    std::size_t i = 0;
    for (; i + kRows <= nq; i += kRows) {
      row_panel<kRows>(q + i * dim, x + x0 * dim, xn, dim, out + i * ldo + x0, ldo);
    }
    for (; i < nq; ++i) row_panel<1>(q + i * dim, x + x0 * dim, xn, dim, out + i * ldo + x0, ldo);
  }
}

ANNBENCH_TARGET_AVX2 std::size_t scores_below_avx2(const float* products, const float* bias,
                                                   float scale, std::size_t n, float threshold,
                                                   std::uint32_t* hit_ids, float* hit_scores) {
  const __m256 scale_v = _mm256_set1_ps(scale);
  const __m256 threshold_v = _mm256_set1_ps(threshold);
  std::size_t hits = 0;
  for (std::size_t j = 0; j < n; j += 8) {
    const std::size_t len = std::min<std::size_t>(8, n - j);
    const __m256i m = tail_mask8(len);
    const __m256 p = _mm256_maskload_ps(products + j, m);
    const __m256 b = bias != nullptr ? _mm256_maskload_ps(bias + j, m) : _mm256_setzero_ps();
    const __m256 s = _mm256_fnmadd_ps(scale_v, p, b);
    auto below =
        static_cast<unsigned>(_mm256_movemask_ps(_mm256_cmp_ps(s, threshold_v, _CMP_LT_OQ)));
    below &= (1u << len) - 1u;
    if (below == 0) continue;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, s);
    for (; below != 0; below &= below - 1) {
      const auto t = static_cast<unsigned>(__builtin_ctz(below));
      hit_ids[hits] = static_cast<std::uint32_t>(j + t);
      hit_scores[hits++] = lanes[t];
    }
  }
  return hits;
}

}  // namespace

const BlockKernels kAvx2BlockKernels = {
    .isa = "avx2",
    .lanes = 8,
    .inner_products = &inner_products_avx2,
    .scores_below = &scores_below_avx2,
};

}  // namespace annbench::detail
