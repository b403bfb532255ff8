#pragma once
// Distance kernels on compact vectors: native uint8 / int8 vectors (exact, in integers), fp16
// vectors against a float query, and SQ8 codes (see sq8_codec.h) against a float query.
//
// Like distance.h: a scalar reference plus SIMD variants compiled with target attributes, so a
// portable build (no -march=native) still gets them; the best one this CPU runs is picked at the
// first call, capped by ANNBENCH_SIMD=scalar|avx2|avx512 (read once).
//
// Variants: "avx512_vnni" (AVX-512 F/BW/VL + VNNI: integer products with vpdpbusd),
// "avx512" (AVX-512 F/BW/VL: integers widened to 16 bits and vpmaddwd), "avx2" (AVX2 + FMA +
// F16C) and "scalar". fp16 and SQ8 kernels are the same in both AVX-512 variants.
//
// All pointers: d contiguous elements, no alignment needed; d = 0 gives 0.

#include <cstddef>
#include <cstdint>
#include <span>

namespace annbench {

// Exact integer distances, for any d (partial sums are kept in 32-bit lanes over blocks short
// enough not to overflow, then added in 64 bits). Squared L2: sum (a_i - b_i)^2; dot: sum a_i b_i.
std::int64_t l2sq_u8(const std::uint8_t* a, const std::uint8_t* b, std::size_t d);
std::int64_t dot_u8(const std::uint8_t* a, const std::uint8_t* b, std::size_t d);
std::int64_t l2sq_i8(const std::int8_t* a, const std::int8_t* b, std::size_t d);
std::int64_t dot_i8(const std::int8_t* a, const std::int8_t* b, std::size_t d);

// IEEE binary16, stored as its bit pattern. encode rounds to nearest, ties to even, as the
// hardware conversion does (vcvtps2ph with round-to-nearest): finite values of magnitude
// >= 65520 become +-inf, tiny values become fp16 subnormals or +-0, NaN stays NaN (quiet, top
// payload bits kept). decode is exact (every fp16 value is a float). Every variant gives the
// same bits.
void encode_fp16(const float* in, std::uint16_t* out, std::size_t d);
void decode_fp16(const std::uint16_t* in, float* out, std::size_t d);
// Float query q against an fp16 vector x, in single precision (x decoded in registers).
float l2sq_f32_fp16(const float* q, const std::uint16_t* x, std::size_t d);
float dot_f32_fp16(const float* q, const std::uint16_t* x, std::size_t d);

struct CompactKernels {
  const char* isa;     // "avx512_vnni", "avx512", "avx2", "scalar"
  const char* family;  // which ISA each family uses, e.g. "int8=avx512_vnni fp16=avx512 sq8=avx512"
  // Float sums side by side (for error bounds, as DistanceKernels::lanes; 1 = sequential).
  std::size_t lanes;
  std::int64_t (*l2sq_u8)(const std::uint8_t* a, const std::uint8_t* b, std::size_t d);
  std::int64_t (*dot_u8)(const std::uint8_t* a, const std::uint8_t* b, std::size_t d);
  std::int64_t (*l2sq_i8)(const std::int8_t* a, const std::int8_t* b, std::size_t d);
  std::int64_t (*dot_i8)(const std::int8_t* a, const std::int8_t* b, std::size_t d);
  void (*encode_fp16)(const float* in, std::uint16_t* out, std::size_t d);
  void (*decode_fp16)(const std::uint16_t* in, float* out, std::size_t d);
  float (*l2sq_f32_fp16)(const float* q, const std::uint16_t* x, std::size_t d);
  float (*dot_f32_fp16)(const float* q, const std::uint16_t* x, std::size_t d);
  // SQ8 asymmetric distances: the code decodes to x_i = fma(scale_i, code_i, min_i) (in
  // registers, never to memory); sum (q_i - x_i)^2 and sum q_i x_i in single precision.
  float (*sq8_l2sq)(const float* q, const std::uint8_t* code, const float* min, const float* scale,
                    std::size_t d);
  float (*sq8_dot)(const float* q, const std::uint8_t* code, const float* min, const float* scale,
                   std::size_t d);
};

// Best kernels for this CPU (capped by ANNBENCH_SIMD), picked on first call.
const CompactKernels& compact_kernels();
// The portable reference.
const CompactKernels& scalar_compact_kernels();
// Every variant this CPU can run (ignoring ANNBENCH_SIMD), best first, scalar last: the testing
// hook to call each path directly.
std::span<const CompactKernels> available_compact_kernels();
// compact_kernels().family, for run records.
const char* compact_isa_name();

}  // namespace annbench
