// Scalar reference kernels for compact vectors and the run-time choice of variant.

#include "compact_simd.h"
#include "simd.h"

#include <annbench/common/compact_distance.h>

#include <cpuid.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>

namespace annbench {
namespace {

// One 32-bit accumulator: the block has to be short enough for kMaxIntTerm per element.
constexpr std::size_t kScalarBlock = std::size_t{1} << 15;
static_assert(static_cast<std::int64_t>(kScalarBlock) * detail::kMaxIntTerm <= detail::kInt32Max);

template <typename T, bool L2>
std::int64_t integer_scalar(const T* a, const T* b, std::size_t d) {
  std::int64_t total = 0;
  for (std::size_t start = 0; start < d; start += kScalarBlock) {
    const std::size_t end = std::min(d, start + kScalarBlock);
    std::int32_t sum = 0;
    for (std::size_t i = start; i < end; ++i) {
      // T is uint8_t or int8_t: vector components, small numbers converted by value.
      const auto x = static_cast<std::int32_t>(a[i]);  // NOLINT(bugprone-signed-char-misuse)
      const auto y = static_cast<std::int32_t>(b[i]);  // NOLINT(bugprone-signed-char-misuse)
      sum += L2 ? (x - y) * (x - y) : x * y;
    }
    total += sum;
  }
  return total;
}

std::int64_t l2sq_u8_scalar(const std::uint8_t* a, const std::uint8_t* b, std::size_t d) {
  return integer_scalar<std::uint8_t, true>(a, b, d);
}
std::int64_t dot_u8_scalar(const std::uint8_t* a, const std::uint8_t* b, std::size_t d) {
  return integer_scalar<std::uint8_t, false>(a, b, d);
}
std::int64_t l2sq_i8_scalar(const std::int8_t* a, const std::int8_t* b, std::size_t d) {
  return integer_scalar<std::int8_t, true>(a, b, d);
}
std::int64_t dot_i8_scalar(const std::int8_t* a, const std::int8_t* b, std::size_t d) {
  return integer_scalar<std::int8_t, false>(a, b, d);
}

// Rounds `value >> shift` to nearest, ties to even (shift >= 1).
std::uint32_t shift_round_even(std::uint32_t value, unsigned shift) {
  const std::uint32_t kept = value >> shift;
  const std::uint32_t rest = value & ((std::uint32_t{1} << shift) - 1);
  const std::uint32_t half = std::uint32_t{1} << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1u) != 0)) ? 1u : 0u);
}

// float -> binary16 bits in integer arithmetic, bit-identical to vcvtps2ph (round to nearest
// even), so that the scalar path needs no F16C and agrees with the hardware paths.
std::uint16_t float_to_half(float value) {
  const auto bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude >= 0x7F800000u) {
    if (magnitude == 0x7F800000u) return sign | 0x7C00u;
    // NaN: quieted, the top ten payload bits kept (what the hardware does).
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  const std::uint32_t exponent = magnitude >> 23;   // biased by 127
  if (exponent >= 127 + 16) return sign | 0x7C00u;  // >= 65536: inf
  if (exponent >= 127 - 14) {
    // Normal fp16: rebias the exponent, round the mantissa; a carry out of the mantissa moves
    // into the exponent, which is right (and gives inf at 65520 and above).
    const std::uint32_t rebased = magnitude - ((127u - 15u) << 23);
    return static_cast<std::uint16_t>(sign | shift_round_even(rebased, 13));
  }
  // Below 2^-14: an fp16 subnormal, in units of 2^-24. Below 2^-25 that rounds to 0 (2^-25
  // itself is a tie, to the even 0); float subnormals are far below.
  if (exponent < 127 - 25) return sign;
  const std::uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;  // value = sig * 2^(e-150)
  // sig * 2^(e - 150) / 2^-24 = sig >> (126 - e); rounding up to 1024 gives the smallest normal.
  return static_cast<std::uint16_t>(sign | shift_round_even(significand, 126 - exponent));
}

float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  const std::uint32_t mantissa = half & 0x3FFu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float.
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) {
    // inf, or NaN made quiet (as vcvtph2ps does).
    const std::uint32_t quiet = mantissa != 0 ? 0x400000u : 0u;
    return std::bit_cast<float>(sign | 0x7F800000u | quiet | (mantissa << 13));
  }
  return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
}

void encode_fp16_scalar(const float* in, std::uint16_t* out, std::size_t d) {
  for (std::size_t i = 0; i < d; ++i) out[i] = float_to_half(in[i]);
}

void decode_fp16_scalar(const std::uint16_t* in, float* out, std::size_t d) {
  for (std::size_t i = 0; i < d; ++i) out[i] = half_to_float(in[i]);
}

// Sequential sums: the plainest reading of the definition, as in distance.cpp.
float l2sq_f32_fp16_scalar(const float* q, const std::uint16_t* x, std::size_t d) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < d; ++i) {
    const float diff = q[i] - half_to_float(x[i]);
    sum += diff * diff;
  }
  return sum;
}

float dot_f32_fp16_scalar(const float* q, const std::uint16_t* x, std::size_t d) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < d; ++i) sum += q[i] * half_to_float(x[i]);
  return sum;
}

// std::fma as in Sq8Codec::decode and the SIMD kernels: the decoded value is the same everywhere.
float sq8_l2sq_scalar(const float* q, const std::uint8_t* code, const float* min,
                      const float* scale, std::size_t d) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < d; ++i) {
    const float diff = q[i] - std::fma(scale[i], static_cast<float>(code[i]), min[i]);
    sum += diff * diff;
  }
  return sum;
}

float sq8_dot_scalar(const float* q, const std::uint8_t* code, const float* min, const float* scale,
                     std::size_t d) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < d; ++i) {
    sum += q[i] * std::fma(scale[i], static_cast<float>(code[i]), min[i]);
  }
  return sum;
}

constexpr CompactKernels kScalarKernels = {
    .isa = "scalar",
    .family = "int8=scalar fp16=scalar sq8=scalar",
    .lanes = 1,
    .l2sq_u8 = &l2sq_u8_scalar,
    .dot_u8 = &dot_u8_scalar,
    .l2sq_i8 = &l2sq_i8_scalar,
    .dot_i8 = &dot_i8_scalar,
    .encode_fp16 = &encode_fp16_scalar,
    .decode_fp16 = &decode_fp16_scalar,
    .l2sq_f32_fp16 = &l2sq_f32_fp16_scalar,
    .dot_f32_fp16 = &dot_f32_fp16_scalar,
    .sq8_l2sq = &sq8_l2sq_scalar,
    .sq8_dot = &sq8_dot_scalar,
};

enum class CompactIsa { Scalar = 0, Avx2 = 1, Avx512 = 2, Vnni = 3 };

// F16C straight from CPUID leaf 1 (clang's __builtin_cpu_supports has no "f16c"); it uses the
// YMM state that the AVX2 check below already confirmed the OS saves.
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

// __builtin_cpu_supports checks the OS saves the registers (XCR0) as well as CPUID.
CompactIsa cpu_compact_isa() {
  __builtin_cpu_init();
  const bool avx2 =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
  if (!avx2) return CompactIsa::Scalar;
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl");
  if (!avx512) return CompactIsa::Avx2;
  return __builtin_cpu_supports("avx512vnni") ? CompactIsa::Vnni : CompactIsa::Avx512;
}

}  // namespace

const CompactKernels& scalar_compact_kernels() {
  return kScalarKernels;
}

std::span<const CompactKernels> available_compact_kernels() {
  static const std::array<CompactKernels, 4> all = {detail::kVnniCompactKernels,
                                                    detail::kAvx512CompactKernels,
                                                    detail::kAvx2CompactKernels, kScalarKernels};
  const auto skip =
      static_cast<std::size_t>(CompactIsa::Vnni) - static_cast<std::size_t>(cpu_compact_isa());
  return std::span<const CompactKernels>(all).subspan(skip);
}

const CompactKernels& compact_kernels() {
  static const CompactKernels& kernels = []() -> const CompactKernels& {
    CompactIsa isa = cpu_compact_isa();
    // ANNBENCH_SIMD (through the float kernels' choice) caps this one: avx512 allows both
    // AVX-512 variants, avx2 only AVX2, scalar only scalar.
    switch (detail::selected_isa()) {
      case detail::Isa::Scalar: isa = CompactIsa::Scalar; break;
      case detail::Isa::Avx2: isa = std::min(isa, CompactIsa::Avx2); break;
      case detail::Isa::Avx512: break;
    }
    switch (isa) {
      case CompactIsa::Vnni: return detail::kVnniCompactKernels;
      case CompactIsa::Avx512: return detail::kAvx512CompactKernels;
      case CompactIsa::Avx2: return detail::kAvx2CompactKernels;
      case CompactIsa::Scalar: break;
    }
    return kScalarKernels;
  }();
  return kernels;
}

const char* compact_isa_name() {
  return compact_kernels().family;
}

std::int64_t l2sq_u8(const std::uint8_t* a, const std::uint8_t* b, std::size_t d) {
  return compact_kernels().l2sq_u8(a, b, d);
}
std::int64_t dot_u8(const std::uint8_t* a, const std::uint8_t* b, std::size_t d) {
  return compact_kernels().dot_u8(a, b, d);
}
std::int64_t l2sq_i8(const std::int8_t* a, const std::int8_t* b, std::size_t d) {
  return compact_kernels().l2sq_i8(a, b, d);
}
std::int64_t dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t d) {
  return compact_kernels().dot_i8(a, b, d);
}
void encode_fp16(const float* in, std::uint16_t* out, std::size_t d) {
  compact_kernels().encode_fp16(in, out, d);
}
void decode_fp16(const std::uint16_t* in, float* out, std::size_t d) {
  compact_kernels().decode_fp16(in, out, d);
}
float l2sq_f32_fp16(const float* q, const std::uint16_t* x, std::size_t d) {
  return compact_kernels().l2sq_f32_fp16(q, x, d);
}
float dot_f32_fp16(const float* q, const std::uint16_t* x, std::size_t d) {
  return compact_kernels().dot_f32_fp16(q, x, d);
}

}  // namespace annbench
