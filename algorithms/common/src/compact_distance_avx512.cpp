// AVX-512 kernels for compact vectors: F/BW/VL for all, plus VNNI for the "avx512_vnni" integer
// kernels (compiled for those ISAs whatever -march says; see compact_simd.h).

#include "compact_simd.h"
#include "simd.h"

#include <immintrin.h>

#include <algorithm>
#include <type_traits>

namespace annbench::detail {
namespace {

constexpr int kRoundEven = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;

// The eight 64-bit lanes added (one reduction per call, at the end).
ANNBENCH_TARGET_COMPACT_AVX512 inline std::int64_t sum_epi64(__m512i v) {
  const __m256i half = _mm256_add_epi64(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  const __m128i quarter =
      _mm_add_epi64(_mm256_castsi256_si128(half), _mm256_extracti128_si256(half, 1));
  return _mm_cvtsi128_si64(_mm_add_epi64(quarter, _mm_unpackhi_epi64(quarter, quarter)));
}

// Sixteen 32-bit lanes folded into eight 64-bit ones (their sum may pass 2^31).
ANNBENCH_TARGET_COMPACT_AVX512 inline __m512i widen_epi32(__m512i v) {
  return _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)),
                          _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
}

// ---- Exact integer distances, AVX-512BW ----------------------------------------------------
// As in the AVX2 file: widen to 16 bits, vpmaddwd; 32 elements a step, 2 terms a lane.

template <typename T>
ANNBENCH_TARGET_COMPACT_AVX512 inline __m512i widen16(__m256i bytes) {
  if constexpr (std::is_signed_v<T>) return _mm512_cvtepi8_epi16(bytes);
  return _mm512_cvtepu8_epi16(bytes);
}

template <typename T, bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 inline __m512i products32(__m256i a, __m256i b) {
  const __m512i x = widen16<T>(a);
  const __m512i y = widen16<T>(b);
  if constexpr (L2) {
    const __m512i diff = _mm512_sub_epi16(x, y);
    return _mm512_madd_epi16(diff, diff);
  }
  return _mm512_madd_epi16(x, y);
}

ANNBENCH_TARGET_COMPACT_AVX512 inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

template <typename T, bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 std::int64_t integer_avx512(const T* a, const T* b, std::size_t d) {
  static_assert(static_cast<std::int64_t>(kIntBlock / 32) * 2 * kMaxIntTerm <= kInt32Max);
  static_assert(kIntBlock % 32 == 0);  // so only the last block has a tail
  __m512i total = _mm512_setzero_si512();
  std::size_t i = 0;
  while (i < d) {
    const std::size_t block_end = std::min(d, i + kIntBlock);
    __m512i s0 = _mm512_setzero_si512();
    __m512i s1 = _mm512_setzero_si512();
    for (; i + 64 <= block_end; i += 64) {
      s0 = _mm512_add_epi32(s0, products32<T, L2>(load32(a + i), load32(b + i)));
      s1 = _mm512_add_epi32(s1, products32<T, L2>(load32(a + i + 32), load32(b + i + 32)));
    }
    if (i + 32 <= block_end) {
      s0 = _mm512_add_epi32(s0, products32<T, L2>(load32(a + i), load32(b + i)));
      i += 32;
    }
    if (i < block_end) {
      // Masked loads read nothing past the end; the zero lanes add 0 * 0 or (0 - 0)^2.
      const auto m = static_cast<__mmask32>((std::uint32_t{1} << (block_end - i)) - 1u);
      s1 = _mm512_add_epi32(s1, products32<T, L2>(_mm256_maskz_loadu_epi8(m, a + i),
                                                  _mm256_maskz_loadu_epi8(m, b + i)));
      i = block_end;
    }
    total = _mm512_add_epi64(total, widen_epi32(_mm512_add_epi32(s0, s1)));
  }
  return sum_epi64(total);
}

ANNBENCH_TARGET_COMPACT_AVX512 std::int64_t l2sq_u8_avx512(const std::uint8_t* a,
                                                           const std::uint8_t* b, std::size_t d) {
  return integer_avx512<std::uint8_t, true>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_AVX512 std::int64_t dot_u8_avx512(const std::uint8_t* a,
                                                          const std::uint8_t* b, std::size_t d) {
  return integer_avx512<std::uint8_t, false>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_AVX512 std::int64_t l2sq_i8_avx512(const std::int8_t* a,
                                                           const std::int8_t* b, std::size_t d) {
  return integer_avx512<std::int8_t, true>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_AVX512 std::int64_t dot_i8_avx512(const std::int8_t* a,
                                                          const std::int8_t* b, std::size_t d) {
  return integer_avx512<std::int8_t, false>(a, b, d);
}

// ---- Exact integer distances, AVX-512 VNNI -------------------------------------------------
//
// vpdpbusd adds four u8 x s8 products per 32-bit lane: 64 bytes a step, twice vpdpwssd's 32
// (which would need the widening above first). Its second operand is signed, so neither u8 x u8
// nor a squared difference fits directly; each kernel shifts one operand by 128 (flipping the
// top bit turns u8 v into the s8 v - 128, and s8 v into the u8 v + 128) and adds back the
// shifted-out part, a byte sum from vpsadbw (exact, in 64-bit lanes):
//   dot u8:  a.b = a.(b - 128) + 128 sum(a)
//   dot i8:  a.b = (a + 128).b - 128 sum(b),  sum(b) = sum(b + 128) - 128 n
//   l2 u8:   with e = |a - b| in u8 (two saturating subtractions), e.e = e.(e - 128) + 128 sum(e)
//   l2 i8:   the same after a + 128, b + 128 (differences unchanged).
// Zero-padded tail lanes: l2 and dot u8 add 0; dot i8 adds 128 to sum(b + 128), which the
// 128 n term takes back when n counts the padded lanes too.

enum class VnniKind { L2U8, L2I8, DotU8, DotI8 };

template <VnniKind K>
ANNBENCH_TARGET_COMPACT_VNNI inline __m512i vnni_step(__m512i acc, __m512i& byte_sum, __m512i a,
                                                      __m512i b) {
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  const __m512i zero = _mm512_setzero_si512();
  if constexpr (K == VnniKind::L2U8 || K == VnniKind::L2I8) {
    if constexpr (K == VnniKind::L2I8) {
      a = _mm512_xor_si512(a, flip);
      b = _mm512_xor_si512(b, flip);
    }
    const __m512i diff = _mm512_or_si512(_mm512_subs_epu8(a, b), _mm512_subs_epu8(b, a));
    byte_sum = _mm512_add_epi64(byte_sum, _mm512_sad_epu8(diff, zero));
    return _mm512_dpbusd_epi32(acc, diff, _mm512_xor_si512(diff, flip));
  } else if constexpr (K == VnniKind::DotU8) {
    byte_sum = _mm512_add_epi64(byte_sum, _mm512_sad_epu8(a, zero));
    return _mm512_dpbusd_epi32(acc, a, _mm512_xor_si512(b, flip));
  } else {
    byte_sum = _mm512_add_epi64(byte_sum, _mm512_sad_epu8(_mm512_xor_si512(b, flip), zero));
    return _mm512_dpbusd_epi32(acc, _mm512_xor_si512(a, flip), b);
  }
}

template <VnniKind K>
ANNBENCH_TARGET_COMPACT_VNNI std::int64_t integer_vnni(const void* a_bytes, const void* b_bytes,
                                                       std::size_t d) {
  // A step adds four products of magnitude <= 255 x 128 to a lane.
  static_assert(static_cast<std::int64_t>(kIntBlock / 64) * 4 * 255 * 128 <= kInt32Max);
  static_assert(kIntBlock % 64 == 0);
  const auto* a = static_cast<const std::uint8_t*>(a_bytes);
  const auto* b = static_cast<const std::uint8_t*>(b_bytes);
  __m512i byte_sum = _mm512_setzero_si512();
  __m512i total = _mm512_setzero_si512();
  std::size_t i = 0;
  while (i < d) {
    const std::size_t block_end = std::min(d, i + kIntBlock);
    __m512i s0 = _mm512_setzero_si512();
    __m512i s1 = _mm512_setzero_si512();
    for (; i + 128 <= block_end; i += 128) {
      s0 = vnni_step<K>(s0, byte_sum, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
      s1 = vnni_step<K>(s1, byte_sum, _mm512_loadu_si512(a + i + 64),
                        _mm512_loadu_si512(b + i + 64));
    }
    if (i + 64 <= block_end) {
      s0 = vnni_step<K>(s0, byte_sum, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
      i += 64;
    }
    if (i < block_end) {
      const auto m = static_cast<__mmask64>((std::uint64_t{1} << (block_end - i)) - 1u);
      s1 = vnni_step<K>(s1, byte_sum, _mm512_maskz_loadu_epi8(m, a + i),
                        _mm512_maskz_loadu_epi8(m, b + i));
      i = block_end;
    }
    total = _mm512_add_epi64(total, widen_epi32(_mm512_add_epi32(s0, s1)));
  }
  // 128 x the byte sums, added or taken back in the vector: one horizontal sum in all.
  const __m512i shifted = _mm512_slli_epi64(byte_sum, 7);
  if constexpr (K == VnniKind::DotI8) {
    const auto padded = static_cast<std::int64_t>((d + 63) / 64 * 64);
    return sum_epi64(_mm512_sub_epi64(total, shifted)) + std::int64_t{16384} * padded;
  }
  return sum_epi64(_mm512_add_epi64(total, shifted));
}

ANNBENCH_TARGET_COMPACT_VNNI std::int64_t l2sq_u8_vnni(const std::uint8_t* a, const std::uint8_t* b,
                                                       std::size_t d) {
  return integer_vnni<VnniKind::L2U8>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_VNNI std::int64_t dot_u8_vnni(const std::uint8_t* a, const std::uint8_t* b,
                                                      std::size_t d) {
  return integer_vnni<VnniKind::DotU8>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_VNNI std::int64_t l2sq_i8_vnni(const std::int8_t* a, const std::int8_t* b,
                                                       std::size_t d) {
  return integer_vnni<VnniKind::L2I8>(a, b, d);
}
ANNBENCH_TARGET_COMPACT_VNNI std::int64_t dot_i8_vnni(const std::int8_t* a, const std::int8_t* b,
                                                      std::size_t d) {
  return integer_vnni<VnniKind::DotI8>(a, b, d);
}

// ---- fp16 ----------------------------------------------------------------------------------

ANNBENCH_TARGET_COMPACT_AVX512 void encode_fp16_avx512(const float* in, std::uint16_t* out,
                                                       std::size_t d) {
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(in + i), kRoundEven));
  }
  if (i < d) {
    const __mmask16 m = tail_mask16(d - i);
    _mm256_mask_storeu_epi16(out + i, m,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, in + i), kRoundEven));
  }
}

ANNBENCH_TARGET_COMPACT_AVX512 void decode_fp16_avx512(const std::uint16_t* in, float* out,
                                                       std::size_t d) {
  std::size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    _mm512_storeu_ps(out + i,
                     _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + i))));
  }
  if (i < d) {
    const __mmask16 m = tail_mask16(d - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, in + i)));
  }
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 inline __m512 fp16_step(__m512 acc, __m512 q, __m256i halves) {
  const __m512 x = _mm512_cvtph_ps(halves);
  if constexpr (L2) {
    const __m512 diff = _mm512_sub_ps(q, x);
    return _mm512_fmadd_ps(diff, diff, acc);
  }
  return _mm512_fmadd_ps(q, x, acc);
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 inline __m512 fp16_step_at(__m512 acc, const float* q,
                                                          const std::uint16_t* x) {
  return fp16_step<L2>(acc, _mm512_loadu_ps(q),
                       _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x)));
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 float fp16_avx512(const float* q, const std::uint16_t* x,
                                                 std::size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 64 <= d; i += 64) {
    s0 = fp16_step_at<L2>(s0, q + i, x + i);
    s1 = fp16_step_at<L2>(s1, q + i + 16, x + i + 16);
    s2 = fp16_step_at<L2>(s2, q + i + 32, x + i + 32);
    s3 = fp16_step_at<L2>(s3, q + i + 48, x + i + 48);
  }
  for (; i + 16 <= d; i += 16) s0 = fp16_step_at<L2>(s0, q + i, x + i);
  if (i < d) {
    const __mmask16 m = tail_mask16(d - i);
    s1 = fp16_step<L2>(s1, _mm512_maskz_loadu_ps(m, q + i), _mm256_maskz_loadu_epi16(m, x + i));
  }
  return horizontal_sum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

ANNBENCH_TARGET_COMPACT_AVX512 float l2sq_f32_fp16_avx512(const float* q, const std::uint16_t* x,
                                                          std::size_t d) {
  return fp16_avx512<true>(q, x, d);
}
ANNBENCH_TARGET_COMPACT_AVX512 float dot_f32_fp16_avx512(const float* q, const std::uint16_t* x,
                                                         std::size_t d) {
  return fp16_avx512<false>(q, x, d);
}

// ---- SQ8 -----------------------------------------------------------------------------------

// 16 dimensions: codes widened u8 -> i32 -> float, decoded with one fma.
template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 inline __m512 sq8_step(__m512 acc, __m128i codes, __m512 q,
                                                      __m512 min, __m512 scale) {
  const __m512 x = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(codes)), min);
  if constexpr (L2) {
    const __m512 diff = _mm512_sub_ps(q, x);
    return _mm512_fmadd_ps(diff, diff, acc);
  }
  return _mm512_fmadd_ps(q, x, acc);
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 inline __m512 sq8_step_at(__m512 acc, const float* q,
                                                         const std::uint8_t* code, const float* min,
                                                         const float* scale) {
  return sq8_step<L2>(acc, _mm_loadu_si128(reinterpret_cast<const __m128i*>(code)),
                      _mm512_loadu_ps(q), _mm512_loadu_ps(min), _mm512_loadu_ps(scale));
}

template <bool L2>
ANNBENCH_TARGET_COMPACT_AVX512 float sq8_avx512(const float* q, const std::uint8_t* code,
                                                const float* min, const float* scale,
                                                std::size_t d) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 64 <= d; i += 64) {
    s0 = sq8_step_at<L2>(s0, q + i, code + i, min + i, scale + i);
    s1 = sq8_step_at<L2>(s1, q + i + 16, code + i + 16, min + i + 16, scale + i + 16);
    s2 = sq8_step_at<L2>(s2, q + i + 32, code + i + 32, min + i + 32, scale + i + 32);
    s3 = sq8_step_at<L2>(s3, q + i + 48, code + i + 48, min + i + 48, scale + i + 48);
  }
  for (; i + 16 <= d; i += 16) s0 = sq8_step_at<L2>(s0, q + i, code + i, min + i, scale + i);
  if (i < d) {
    // Masked lanes: q = min = scale = 0, so x = 0 and they add 0.
    const __mmask16 m = tail_mask16(d - i);
    s1 = sq8_step<L2>(s1, _mm_maskz_loadu_epi8(m, code + i), _mm512_maskz_loadu_ps(m, q + i),
                      _mm512_maskz_loadu_ps(m, min + i), _mm512_maskz_loadu_ps(m, scale + i));
  }
  return horizontal_sum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

ANNBENCH_TARGET_COMPACT_AVX512 float sq8_l2sq_avx512(const float* q, const std::uint8_t* code,
                                                     const float* min, const float* scale,
                                                     std::size_t d) {
  return sq8_avx512<true>(q, code, min, scale, d);
}
ANNBENCH_TARGET_COMPACT_AVX512 float sq8_dot_avx512(const float* q, const std::uint8_t* code,
                                                    const float* min, const float* scale,
                                                    std::size_t d) {
  return sq8_avx512<false>(q, code, min, scale, d);
}

}  // namespace

const CompactKernels kAvx512CompactKernels = {
    .isa = "avx512",
    .family = "int8=avx512bw fp16=avx512 sq8=avx512",
    .lanes = 16,
    .l2sq_u8 = &l2sq_u8_avx512,
    .dot_u8 = &dot_u8_avx512,
    .l2sq_i8 = &l2sq_i8_avx512,
    .dot_i8 = &dot_i8_avx512,
    .encode_fp16 = &encode_fp16_avx512,
    .decode_fp16 = &decode_fp16_avx512,
    .l2sq_f32_fp16 = &l2sq_f32_fp16_avx512,
    .dot_f32_fp16 = &dot_f32_fp16_avx512,
    .sq8_l2sq = &sq8_l2sq_avx512,
    .sq8_dot = &sq8_dot_avx512,
};

const CompactKernels kVnniCompactKernels = {
    .isa = "avx512_vnni",
    .family = "int8=avx512_vnni fp16=avx512 sq8=avx512",
    .lanes = 16,
    .l2sq_u8 = &l2sq_u8_vnni,
    .dot_u8 = &dot_u8_vnni,
    .l2sq_i8 = &l2sq_i8_vnni,
    .dot_i8 = &dot_i8_vnni,
    .encode_fp16 = &encode_fp16_avx512,
    .decode_fp16 = &decode_fp16_avx512,
    .l2sq_f32_fp16 = &l2sq_f32_fp16_avx512,
    .dot_f32_fp16 = &dot_f32_fp16_avx512,
    .sq8_l2sq = &sq8_l2sq_avx512,
    .sq8_dot = &sq8_dot_avx512,
};

}  // namespace annbench::detail
