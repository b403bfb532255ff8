#pragma once
// Private to annbench_common: what the compact-vector kernel files share (see compact_distance.h).

#include <annbench/common/compact_distance.h>

#include <cstddef>
#include <cstdint>

// Compiled for each ISA whatever -march the build uses; called only after a run-time CPU check.
#define ANNBENCH_TARGET_COMPACT_AVX2 __attribute__((target("avx2,fma,f16c")))
#define ANNBENCH_TARGET_COMPACT_AVX512 \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))
#define ANNBENCH_TARGET_COMPACT_VNNI \
  __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

namespace annbench::detail {

// Integer kernels add products into 32-bit lanes for at most kIntBlock elements, then flush the
// lanes into a 64-bit total. Each kernel static_asserts that its worst case per lane and block
// (kIntBlock / elements per step x largest step increment) stays below 2^31.
inline constexpr std::size_t kIntBlock = std::size_t{1} << 16;
inline constexpr std::int64_t kInt32Max = 2147483647;
// Largest |term| of any integer kernel: (255 - 0)^2, 255 * 255, (127 - (-128))^2 (i8 dot: 2^14).
inline constexpr std::int64_t kMaxIntTerm = std::int64_t{255} * 255;

extern const CompactKernels kAvx2CompactKernels;
extern const CompactKernels kAvx512CompactKernels;
extern const CompactKernels kVnniCompactKernels;

}  // namespace annbench::detail
