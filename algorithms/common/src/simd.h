#pragma once
// Private to annbench_common: ISA detection and the pieces the per-ISA source files share.

#include <annbench/common/block_distance.h>
#include <annbench/common/distance.h>

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

// GCC 12's AVX-512 headers make "undefined" vectors as `__m512 __Y = __Y;`, which
// -Wuninitialized then reports wherever such an intrinsic is inlined (GCC bug 105593). Only the
// SIMD sources include this header.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ <= 12
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Each SIMD variant is compiled for its ISA whatever -march the build uses; it is only called
// after a run-time check, so a portable binary still gets the fast kernels.
#define ANNBENCH_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define ANNBENCH_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))

namespace annbench::detail {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// What the CPU (and OS) support: __builtin_cpu_supports checks XCR0 as well as CPUID.
Isa cpu_isa();
// cpu_isa() capped by ANNBENCH_SIMD (read once).
Isa selected_isa();

// Exact distances: every variant accumulates in 32 double lanes (element i into lane i % 32) and
// calls these to finish, so the results agree to the bit.
inline constexpr std::size_t kExactLanes = 32;

inline double finish_l2(double squared_sum) {
  return std::sqrt(squared_sum);
}

inline double finish_angular(double ab, double aa, double bb) {
  // A zero vector has no direction: ANN-Benchmarks' convention is cos = 0, distance 1.
  if (aa == 0.0 || bb == 0.0) return 1.0;
  return 1.0 - std::clamp(ab / std::sqrt(aa * bb), -1.0, 1.0);
}

inline double finish_dot(double ab) {
  return -ab;
}

// Eight entries from kTailMask + 8 - r mask the first r lanes for AVX2's maskload, which (unlike
// a plain load) does not touch memory past the end of a vector.
alignas(64) inline constexpr std::int32_t kTailMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                           0,  0,  0,  0,  0,  0,  0,  0};

ANNBENCH_TARGET_AVX2 inline __m256i tail_mask8(std::size_t remaining) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailMask + 8 - remaining));
}

ANNBENCH_TARGET_AVX512 inline __mmask16 tail_mask16(std::size_t remaining) {
  return static_cast<__mmask16>((1u << remaining) - 1u);
}

// Horizontal sums written out by hand: GCC 12's _mm512_reduce_add_ps trips -Wmaybe-uninitialized.
ANNBENCH_TARGET_AVX512 inline float horizontal_sum512(__m512 v) {
  // Fold 512 -> 256 -> 128 bits with whole-lane shuffles, then within the last 128 bits.
  const __m512 folded = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0b01001110));
  __m128 sum = _mm_add_ps(_mm512_castps512_ps128(folded),
                          _mm512_castps512_ps128(_mm512_shuffle_f32x4(folded, folded, 0b10110001)));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

// The four horizontal sums of a, b, c, d at once (transposing as it adds): 13 instructions
// instead of 4 x 8.
ANNBENCH_TARGET_AVX512 inline __m128 horizontal_sums4_512(__m512 a, __m512 b, __m512 c, __m512 d) {
  // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  // Per 128-bit lane: [a, b, c, d] partial sums.
  const __m512d ab_d = _mm512_castps_pd(ab);
  const __m512d cd_d = _mm512_castps_pd(cd);
  const __m512 abcd = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(ab_d, cd_d)),
                                    _mm512_castpd_ps(_mm512_unpackhi_pd(ab_d, cd_d)));
  // Add the four 128-bit lanes.
  const __m512 half = _mm512_add_ps(abcd, _mm512_shuffle_f32x4(abcd, abcd, 0b01001110));
  const __m512 all = _mm512_add_ps(half, _mm512_shuffle_f32x4(half, half, 0b10110001));
  return _mm512_castps512_ps128(all);
}

ANNBENCH_TARGET_AVX2 inline float horizontal_sum256(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

ANNBENCH_TARGET_AVX2 inline __m128 horizontal_sums4_256(__m256 a, __m256 b, __m256 c, __m256 d) {
  // hadd pairs neighbours within 128-bit halves: [a01, a23, b01, b23 | a45, a67, b45, b67].
  const __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

extern const DistanceKernels kAvx2DistanceKernels;
extern const DistanceKernels kAvx512DistanceKernels;
extern const BlockKernels kAvx2BlockKernels;
extern const BlockKernels kAvx512BlockKernels;

}  // namespace annbench::detail
