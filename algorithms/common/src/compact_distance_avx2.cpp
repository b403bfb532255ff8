// AVX2 + FMA + F16C kernels for compact vectors (compiled for that ISA whatever -march says; see
// compact_simd.h).

#include "compact_simd.h"
#include "simd.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace annbench::detail {
namespace {

constexpr int kRoundEven = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// ---- Exact integer distances -------------------------------------------------------------
//
// Bytes are widened to 16 bits (vpmovzxbw / vpmovsxbw), differences taken there (-255..255 fits)
// and vpmaddwd multiplies 16 pairs into 8 lanes of two-product sums. Not vpmaddubsw: its u8 x s8
// pair sums saturate at 16 bits (2 x 255 x 127 > 32767), and u8 x u8 is not even expressible.

template <typename T>
ANNBENCH_TARGET_COMPACT_AVX2 inline __m256i widen16(const T* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (std::is_signed_v<T>) return _mm256_cvtepi8_epi16(bytes);
  return _mm256_cvtepu8_epi16(bytes);
}

template <typename T, bool L2>
ANNBENCH_TARGET_COMPACT_AVX2 inline __m256i products16(const T* a, const T* b) {
  const __m256i x = widen16(a);
  const __m256i y = widen16(b);
  if constexpr (L2) {
    const __m256i diff = _mm256_sub_epi16(x, y);
    return _mm256_madd_epi16(diff, diff);
  }
  return _mm256_madd_epi16(x, y);
}

// Eight 32-bit lanes folded into four 64-bit ones (their sum may pass 2^31).
ANNBENCH_TARGET_COMPACT_AVX2 inline __m256i widen_epi32(__m256i v) {
  return _mm256_add_epi64(_mm256_cvtepi32_epi64(_mm256_castsi256_si128(v)),
                          _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1)));
}

ANNBENCH_TARGET_COMPACT_AVX2 inline std::int64_t sum_epi64(__m256i v) {
  const __m128i half = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_cvtsi128_si64(_mm_add_epi64(half, _mm_unpackhi_epi64(half, half)));
}

template <typename T, bool L2>
ANNBENCH_TARGET_COMPACT_AVX2 std::int64_t integer_avx2(const T* a, const T* b, std::size_t d) {
  // Per block, s0 + s1 has at most kIntBlock / 16 steps of two terms in each lane.
  static_assert(static_cast<std::int64_t>(kIntBlock / 16) * 2 * kMaxIntTerm <= kInt32Max);
  const std::size_t simd_end = d - d % 16;
  __m256i wide = _mm256_setzero_si256();
  std::size_t i = 0;
  while (i < simd_end) {
    const std::size_t block_end = std::min(simd_end, i + kIntBlock);
    __m256i s0 = _mm256_setzero_si256();
    __m256i s1 = _mm256_setzero_si256();
    for (; i + 32 <= block_end; i += 32) {
      s0 = _mm256_add_epi32(s0, products16<T, L2>(a + i, b + i));
      s1 = _mm256_add_epi32(s1, products16<T, L2>(a + i + 16, b + i + 16));
    }
    if (i < block_end) {
      s0 = _mm256_add_epi32(s0, products16<T, L2>(a + i, b + i));
      i += 16;
    }
    wide = _mm256_add_epi64(wide, widen_epi32(_mm256_add_epi32(s0, s1)));
  }
  std::int64_t total = sum_epi64(wide);
  for (; i < d; ++i) {
    // Vector components (int8 values are numbers), converted by value.
    const auto x = static_cast<std::int64_t>(a[i]);  // NOLINT(bugprone-signed-char-misuse)
    const auto y = static_cast<std::int64_t>(b[i]);  // NOLINT(bugprone-signed-char-misuse)
    total += L2 ? (x - y) * (x - y) : x * y;
  }
  return total;
}

ANNBENCH_TARGET_COMPACT_AVX2 std::int64_t l2sq_u8_avx2(const std::uint8_t* a, const std::uint8_t* b,
                                                       std::size_t d) {
  return integer_avx2<std::uint8_t, true>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_AVX2 std::int64_t dot_u8_avx2(const std::uint8_t* a, const std::uint8_t* b,
                                                      std::size_t d) {
  return integer_avx2<std::uint8_t, false>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_AVX2 std::int64_t l2sq_i8_avx2(const std::int8_t* a, const std::int8_t* b,
                                                       std::size_t d) {
  return integer_avx2<std::int8_t, true>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_AVX2 std::int64_t dot_i8_avx2(const std::int8_t* a, const std::int8_t* b,
                                                      std::size_t d) {
  return integer_avx2<std::int8_t, false>(a, b, d);
}

// ---- fp16 ----------------------------------------------------------------------------------
// AVX2 has no 16-bit masked loads or stores: tails go through a zeroed 8-element buffer.

ANNBENCH_TARGET_COMPACT_AVX2 inline __m256 load_half8_tail(const std::uint16_t* x, std::size_t r) {
  alignas(16) std::uint16_t buffer[8] = {};
  std::memcpy(buffer, x, r * sizeof(std::uint16_t));
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(buffer)));
}

ANNBENCH_TARGET_COMPACT_AVX2 void encode_fp16_avx2(const float* in, std::uint16_t* out,
                                                   std::size_t d) {
  std::size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(in + i), kRoundEven));
  }
  if (i < d) {
    alignas(16) std::uint16_t buffer[8];
    const __m256 tail = _mm256_maskload_ps(in + i, tail_mask8(d - i));
    _mm_store_si128(reinterpret_cast<__m128i*>(buffer), _mm256_cvtps_ph(tail, kRoundEven));
    std::memcpy(out + i, buffer, (d - i) * sizeof(std::uint16_t));
  }
}

ANNBENCH_TARGET_COMPACT_AVX2 void decode_fp16_avx2(const std::uint16_t* in, float* out,
                                                   std::size_t d) {
  std::size_t i = 0;
  for (; i + 8 <= d; i += 8) {
    _mm256_storeu_ps(out + i,
                     _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  }
  if (i < d) _mm256_maskstore_ps(out + i, tail_mask8(d - i), load_half8_tail(in + i, d - i));
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX2 inline __m256 step_fp16(__m256 acc, const float* q,
                                                     const std::uint16_t* x) {
  const __m256 y = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x)));
  if constexpr (L2) {
    const __m256 diff = _mm256_sub_ps(_mm256_loadu_ps(q), y);
    return _mm256_fmadd_ps(diff, diff, acc);
  }
  return _mm256_fmadd_ps(_mm256_loadu_ps(q), y, acc);
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX2 float fp16_avx2(const float* q, const std::uint16_t* x,
                                             std::size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = step_fp16<L2>(s0, q + i, x + i);
    s1 = step_fp16<L2>(s1, q + i + 8, x + i + 8);
    s2 = step_fp16<L2>(s2, q + i + 16, x + i + 16);
    s3 = step_fp16<L2>(s3, q + i + 24, x + i + 24);
  }
  for (; i + 8 <= d; i += 8) s0 = step_fp16<L2>(s0, q + i, x + i);
  if (i < d) {
    // Zero lanes on both sides add (0 - 0)^2 = 0 * 0 = 0.
    const __m256 y = load_half8_tail(x + i, d - i);
    const __m256 p = _mm256_maskload_ps(q + i, tail_mask8(d - i));
    if constexpr (L2) {
      const __m256 diff = _mm256_sub_ps(p, y);
      s1 = _mm256_fmadd_ps(diff, diff, s1);
    } else {
      s1 = _mm256_fmadd_ps(p, y, s1);
    }
  }
  return horizontal_sum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

ANNBENCH_TARGET_COMPACT_AVX2 float l2sq_f32_fp16_avx2(const float* q, const std::uint16_t* x,
                                                      std::size_t d) {
  return fp16_avx2<true>(q, x, d);
}
ANNBENCH_TARGET_COMPACT_AVX2 float dot_f32_fp16_avx2(const float* q, const std::uint16_t* x,
                                                     std::size_t d) {
  return fp16_avx2<false>(q, x, d);
}

// ---- SQ8 -----------------------------------------------------------------------------------

// One step of 8 dimensions: codes widened u8 -> i32 -> float, decoded with one fma.
template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX2 inline __m256 step_sq8(__m256 acc, __m128i codes, __m256 q, __m256 min,
                                                    __m256 scale) {
  const __m256 c = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(codes));
  const __m256 x = _mm256_fmadd_ps(scale, c, min);
  if constexpr (L2) {
    const __m256 diff = _mm256_sub_ps(q, x);
    return _mm256_fmadd_ps(diff, diff, acc);
  }
  return _mm256_fmadd_ps(q, x, acc);
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX2 inline __m256 step_sq8_at(__m256 acc, const float* q,
                                                       const std::uint8_t* code, const float* min,
                                                       const float* scale) {
  return step_sq8<L2>(acc, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(code)),
                      _mm256_loadu_ps(q), _mm256_loadu_ps(min), _mm256_loadu_ps(scale));
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX2 float sq8_avx2(const float* q, const std::uint8_t* code,
                                            const float* min, const float* scale, std::size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= d; i += 32) {
    s0 = step_sq8_at<L2>(s0, q + i, code + i, min + i, scale + i);
    s1 = step_sq8_at<L2>(s1, q + i + 8, code + i + 8, min + i + 8, scale + i + 8);
    s2 = step_sq8_at<L2>(s2, q + i + 16, code + i + 16, min + i + 16, scale + i + 16);
    s3 = step_sq8_at<L2>(s3, q + i + 24, code + i + 24, min + i + 24, scale + i + 24);
  }
  for (; i + 8 <= d; i += 8) s0 = step_sq8_at<L2>(s0, q + i, code + i, min + i, scale + i);
  if (i < d) {
    // Masked lanes: q = min = scale = 0, so x = 0 and they add 0.
    alignas(8) std::uint8_t buffer[8] = {};
    std::memcpy(buffer, code + i, d - i);
    const __m256i m = tail_mask8(d - i);
    s1 = step_sq8<L2>(s1, _mm_loadl_epi64(reinterpret_cast<const __m128i*>(buffer)),
                      _mm256_maskload_ps(q + i, m), _mm256_maskload_ps(min + i, m),
                      _mm256_maskload_ps(scale + i, m));
  }
  return horizontal_sum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

ANNBENCH_TARGET_COMPACT_AVX2 float sq8_l2sq_avx2(const float* q, const std::uint8_t* code,
                                                 const float* min, const float* scale,
                                                 std::size_t d) {
  return sq8_avx2<true>(q, code, min, scale, d);
}
ANNBENCH_TARGET_COMPACT_AVX2 float sq8_dot_avx2(const float* q, const std::uint8_t* code,
                                                const float* min, const float* scale,
                                                std::size_t d) {
  return sq8_avx2<false>(q, code, min, scale, d);
}

}  // namespace

const CompactKernels kAvx2CompactKernels = {
    .isa = "avx2",
    .family = "int8=avx2 fp16=avx2_f16c sq8=avx2",
    .lanes = 8,
    .l2sq_u8 = &l2sq_u8_avx2,
    .dot_u8 = &dot_u8_avx2,
    .l2sq_i8 = &l2sq_i8_avx2,
    .dot_i8 = &dot_i8_avx2,
    .encode_fp16 = &encode_fp16_avx2,
    .decode_fp16 = &decode_fp16_avx2,
    .l2sq_f32_fp16 = &l2sq_f32_fp16_avx2,
    .dot_f32_fp16 = &dot_f32_fp16_avx2,
    .sq8_l2sq = &sq8_l2sq_avx2,
    .sq8_dot = &sq8_dot_avx2,
};

}  // namespace annbench::detail
