// AVX-512 many-to-many inner products (compiled for AVX-512 whatever -march says; see simd.h).

#include "simd.h"

#include <immintrin.h>

#include <algorithm>

namespace annbench::detail {
namespace {

// 8 query rows x 3 base rows = 24 accumulators, plus 3 base vectors and one query vector in
// flight: 28 of the 32 zmm registers. Per 16 dimensions that is 11 loads for 24 FMAs, below
// the two loads per cycle the core can issue alongside its two FMAs.
constexpr int kRows = 8;
constexpr int kCols = 3;
// Base rows per pass over the query tiles: about 512 KiB of them, so they stay in L2 while
// every query tile of the block streams past.
constexpr std::size_t kBaseBytesPerPass = std::size_t{512} * 1024;

// acc[r * NR + c] accumulates <q_r, x_c> over the dimensions, 16 lanes at a time.
template <int MR, int NR>
ANNBENCH_TARGET_AVX512 inline void tile(const float* q, const float* x, std::size_t dim, float* out,
                                        std::size_t ldo) {
  constexpr int kCount = MR * NR;
  __m512 acc[kCount];
#pragma GCC unroll 24
  for (int f = 0; f < kCount; ++f) acc[f] = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= dim; i += 16) {
    __m512 xv[NR];
#pragma GCC unroll 3
    for (int c = 0; c < NR; ++c) xv[c] = _mm512_loadu_ps(x + c * dim + i);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      __m512 qv = _mm512_loadu_ps(q + r * dim + i);
      // Keep qv in a register: GCC would otherwise fold the load into each of the NR FMAs,
      // nearly tripling the loads (27 instead of 11 per 24 FMAs) and making them the bottleneck.
      __asm__("" : "+v"(qv));
#pragma GCC unroll 3
      for (int c = 0; c < NR; ++c) acc[r * NR + c] = _mm512_fmadd_ps(qv, xv[c], acc[r * NR + c]);
    }
  }
  if (i < dim) {
    // Masked loads do not fault past the end of the last row.
    const auto m = static_cast<__mmask16>((1u << (dim - i)) - 1u);
    __m512 xv[NR];
#pragma GCC unroll 3
    for (int c = 0; c < NR; ++c) xv[c] = _mm512_maskz_loadu_ps(m, x + c * dim + i);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      __m512 qv = _mm512_maskz_loadu_ps(m, q + r * dim + i);
      __asm__("" : "+v"(qv));
#pragma GCC unroll 3
      for (int c = 0; c < NR; ++c) acc[r * NR + c] = _mm512_fmadd_ps(qv, xv[c], acc[r * NR + c]);
    }
  }
  // Four accumulators per transposing reduction (zeros pad the last group).
  constexpr int kGroups = (kCount + 3) / 4;
  alignas(16) float sums[kGroups * 4];
#pragma GCC unroll 6
  for (int g = 0; g < kGroups; ++g) {
    __m512 v[4];
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) v[t] = 4 * g + t < kCount ? acc[4 * g + t] : _mm512_setzero_ps();
    _mm_store_ps(sums + 4 * g, horizontal_sums4_512(v[0], v[1], v[2], v[3]));
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 3
    for (int c = 0; c < NR; ++c) out[r * ldo + c] = sums[r * NR + c];
  }
}

// MR query rows against nx base rows.
template <int MR>
ANNBENCH_TARGET_AVX512 void row_panel(const float* q, const float* x, std::size_t nx,
                                      std::size_t dim, float* out, std::size_t ldo) {
  std::size_t j = 0;
  for (; j + kCols <= nx; j += kCols) tile<MR, kCols>(q, x + j * dim, dim, out + j, ldo);
  if (nx - j == 2) tile<MR, 2>(q, x + j * dim, dim, out + j, ldo);
  if (nx - j == 1) tile<MR, 1>(q, x + j * dim, dim, out + j, ldo);
}

ANNBENCH_TARGET_AVX512 void inner_products_avx512(const float* q, std::size_t nq, const float* x,
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
    // Leftover rows one at a time: only the last block of a batch has them.
    for (; i < nq; ++i) row_panel<1>(q + i * dim, x + x0 * dim, xn, dim, out + i * ldo + x0, ldo);
  }
}

ANNBENCH_TARGET_AVX512 std::size_t scores_below_avx512(const float* products, const float* bias,
                                                       float scale, std::size_t n, float threshold,
                                                       std::uint32_t* hit_ids, float* hit_scores) {
  const __m512 scale_v = _mm512_set1_ps(scale);
  const __m512 threshold_v = _mm512_set1_ps(threshold);
  std::size_t hits = 0;
  for (std::size_t j = 0; j < n; j += 16) {
    const __mmask16 m = n - j >= 16 ? static_cast<__mmask16>(0xFFFF) : tail_mask16(n - j);
    const __m512 p = _mm512_maskz_loadu_ps(m, products + j);
    const __m512 b = bias != nullptr ? _mm512_maskz_loadu_ps(m, bias + j) : _mm512_setzero_ps();
    const __m512 s = _mm512_fnmadd_ps(scale_v, p, b);
    auto below = static_cast<unsigned>(_mm512_mask_cmp_ps_mask(m, s, threshold_v, _CMP_LT_OQ));
    if (below == 0) continue;
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, s);
    for (; below != 0; below &= below - 1) {
      const auto t = static_cast<unsigned>(__builtin_ctz(below));
      hit_ids[hits] = static_cast<std::uint32_t>(j + t);
      hit_scores[hits++] = lanes[t];
    }
  }
  return hits;
}

}  // namespace

const BlockKernels kAvx512BlockKernels = {
    .isa = "avx512",
    .lanes = 16,
    .inner_products = &inner_products_avx512,
    .scores_below = &scores_below_avx512,
};

}  // namespace annbench::detail
