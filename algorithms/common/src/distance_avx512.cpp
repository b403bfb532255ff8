// AVX-512 distance kernels (compiled for AVX-512 whatever -march says; see simd.h).

#include "simd.h"

#include <immintrin.h>

namespace annbench::detail {
namespace {

// Four independent accumulators: one FMA chain would wait on its latency (4 cycles) every step.
ANNBENCH_TARGET_AVX512 float l2_squared_avx512(const float* a, const float* b, std::size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
    const __m512 d2 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32));
    const __m512 d3 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48));
    s0 = _mm512_fmadd_ps(d0, d0, s0);
    s1 = _mm512_fmadd_ps(d1, d1, s1);
    s2 = _mm512_fmadd_ps(d2, d2, s2);
    s3 = _mm512_fmadd_ps(d3, d3, s3);
  }
  for (; i + 16 <= dim; i += 16) {
    const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
    s0 = _mm512_fmadd_ps(d, d, s0);
  }
  if (i < dim) {
    // Masked loads do not fault on the lanes past the end of the vectors.
    const __mmask16 m = tail_mask16(dim - i);
    const __m512 d =
        _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
    s1 = _mm512_fmadd_ps(d, d, s1);
  }
  return horizontal_sum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

ANNBENCH_TARGET_AVX512 float inner_product_avx512(const float* a, const float* b, std::size_t dim) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 64 <= dim; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= dim; i += 16) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  }
  if (i < dim) {
    const __mmask16 m = tail_mask16(dim - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return horizontal_sum512(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

// 32 double lanes = four registers of eight: acc[r] holds lanes 8r .. 8r + 7.
struct Lanes512 {
  __m512d acc[4];
};

// The scalar reference's halving order: lanes j += j + 16 (acc0 + acc2, acc1 + acc3), then
// j += j + 8, then halves of one register down to a single lane.
ANNBENCH_TARGET_AVX512 inline double reduce_exact(const Lanes512& lanes) {
  const __m512d folded8 = _mm512_add_pd(_mm512_add_pd(lanes.acc[0], lanes.acc[2]),
                                        _mm512_add_pd(lanes.acc[1], lanes.acc[3]));
  const __m256d folded4 =
      _mm256_add_pd(_mm512_castpd512_pd256(folded8),
                    _mm512_castpd512_pd256(_mm512_shuffle_f64x2(folded8, folded8, 0b01001110)));
  const __m128d folded2 =
      _mm_add_pd(_mm256_castpd256_pd128(folded4), _mm256_extractf128_pd(folded4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(folded2, _mm_unpackhi_pd(folded2, folded2)));
}

template <Metric M>
ANNBENCH_TARGET_AVX512 inline void exact_step(Lanes512& ab, Lanes512& aa, Lanes512& bb, int r,
                                              __m256 fa, __m256 fb) {
  const __m512d x = _mm512_cvtps_pd(fa);
  const __m512d y = _mm512_cvtps_pd(fb);
  if constexpr (M == Metric::L2) {
    const __m512d d = _mm512_sub_pd(x, y);
    ab.acc[r] = _mm512_fmadd_pd(d, d, ab.acc[r]);
  } else {
    ab.acc[r] = _mm512_fmadd_pd(x, y, ab.acc[r]);
  }
  if constexpr (M == Metric::Angular) {
    aa.acc[r] = _mm512_fmadd_pd(x, x, aa.acc[r]);
    bb.acc[r] = _mm512_fmadd_pd(y, y, bb.acc[r]);
  }
}

template <Metric M>
ANNBENCH_TARGET_AVX512 double exact_avx512_impl(const float* a, const float* b, std::size_t dim) {
  Lanes512 ab, aa, bb;
  for (int r = 0; r < 4; ++r) {
    ab.acc[r] = _mm512_setzero_pd();
    aa.acc[r] = _mm512_setzero_pd();
    bb.acc[r] = _mm512_setzero_pd();
  }
  std::size_t i = 0;
  for (; i + kExactLanes <= dim; i += kExactLanes) {
    for (int r = 0; r < 4; ++r) {
      const std::size_t at = i + 8 * static_cast<std::size_t>(r);
      exact_step<M>(ab, aa, bb, r, _mm256_loadu_ps(a + at), _mm256_loadu_ps(b + at));
    }
  }
  // Zero-filled tail lanes add fma(0, 0, acc) = acc: the same as the reference skipping them.
  for (int r = 0; i + 8 * static_cast<std::size_t>(r) < dim; ++r) {
    const std::size_t offset = i + 8 * static_cast<std::size_t>(r);
    const __mmask16 m = tail_mask16(std::min<std::size_t>(dim - offset, 8));
    exact_step<M>(ab, aa, bb, r, _mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, a + offset)),
                  _mm512_castps512_ps256(_mm512_maskz_loadu_ps(m, b + offset)));
  }
  if constexpr (M == Metric::L2) return finish_l2(reduce_exact(ab));
  if constexpr (M == Metric::Angular) {
    return finish_angular(reduce_exact(ab), reduce_exact(aa), reduce_exact(bb));
  }
  return finish_dot(reduce_exact(ab));
}

ANNBENCH_TARGET_AVX512 double exact_avx512(Metric metric, const float* a, const float* b,
                                           std::size_t dim) {
  switch (metric) {
    case Metric::L2: return exact_avx512_impl<Metric::L2>(a, b, dim);
    case Metric::Angular: return exact_avx512_impl<Metric::Angular>(a, b, dim);
    case Metric::InnerProduct: return exact_avx512_impl<Metric::InnerProduct>(a, b, dim);
  }
  return 0.0;
}

}  // namespace

const DistanceKernels kAvx512DistanceKernels = {
    .isa = "avx512",
    .lanes = 16,
    .l2_squared = &l2_squared_avx512,
    .inner_product = &inner_product_avx512,
    .exact = &exact_avx512,
};

}  // namespace annbench::detail
