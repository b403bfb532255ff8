// AVX2 + FMA distance kernels (compiled for AVX2 whatever -march says; see simd.h).

#include "simd.h"

#include <immintrin.h>

namespace annbench::detail {
namespace {

ANNBENCH_TARGET_AVX2 float l2_squared_avx2(const float* a, const float* b, std::size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    const __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    const __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    const __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  for (; i + 8 <= dim; i += 8) {
    const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d, d, s0);
  }
  if (i < dim) {
    const __m256i m = tail_mask8(dim - i);
    const __m256 d = _mm256_sub_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m));
    s1 = _mm256_fmadd_ps(d, d, s1);
  }
  return horizontal_sum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

ANNBENCH_TARGET_AVX2 float inner_product_avx2(const float* a, const float* b, std::size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  }
  if (i < dim) {
    const __m256i m = tail_mask8(dim - i);
    s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, m), _mm256_maskload_ps(b + i, m), s1);
  }
  return horizontal_sum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

// 32 double lanes = eight registers of four: acc[r] holds lanes 4r .. 4r + 3.
struct Lanes256 {
  __m256d acc[8];
};

// The scalar reference's halving order: j += j + 16 is acc[r] + acc[r + 4], j += j + 8 is
// acc[r] + acc[r + 2], j += j + 4 is acc[0] + acc[1], then within one register.
ANNBENCH_TARGET_AVX2 inline double reduce_exact(const Lanes256& lanes) {
  __m256d fold[4];
  for (int r = 0; r < 4; ++r) fold[r] = _mm256_add_pd(lanes.acc[r], lanes.acc[r + 4]);
  fold[0] = _mm256_add_pd(fold[0], fold[2]);
  fold[1] = _mm256_add_pd(fold[1], fold[3]);
  const __m256d folded4 = _mm256_add_pd(fold[0], fold[1]);
  const __m128d folded2 =
      _mm_add_pd(_mm256_castpd256_pd128(folded4), _mm256_extractf128_pd(folded4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(folded2, _mm_unpackhi_pd(folded2, folded2)));
}

template <Metric M>
ANNBENCH_TARGET_AVX2 inline void exact_step(Lanes256& ab, Lanes256& aa, Lanes256& bb, int r,
                                            __m128 fa, __m128 fb) {
  const __m256d x = _mm256_cvtps_pd(fa);
  const __m256d y = _mm256_cvtps_pd(fb);
  if constexpr (M == Metric::L2) {
    const __m256d d = _mm256_sub_pd(x, y);
    ab.acc[r] = _mm256_fmadd_pd(d, d, ab.acc[r]);
  } else {
    ab.acc[r] = _mm256_fmadd_pd(x, y, ab.acc[r]);
  }
  if constexpr (M == Metric::Angular) {
    aa.acc[r] = _mm256_fmadd_pd(x, x, aa.acc[r]);
    bb.acc[r] = _mm256_fmadd_pd(y, y, bb.acc[r]);
  }
}

template <Metric M>
ANNBENCH_TARGET_AVX2 double exact_avx2_impl(const float* a, const float* b, std::size_t dim) {
  Lanes256 ab, aa, bb;
  for (int r = 0; r < 8; ++r) {
    ab.acc[r] = _mm256_setzero_pd();
    aa.acc[r] = _mm256_setzero_pd();
    bb.acc[r] = _mm256_setzero_pd();
  }
  std::size_t i = 0;
  for (; i + kExactLanes <= dim; i += kExactLanes) {
    for (int r = 0; r < 8; ++r) {
      const std::size_t at = i + 4 * static_cast<std::size_t>(r);
      exact_step<M>(ab, aa, bb, r, _mm_loadu_ps(a + at), _mm_loadu_ps(b + at));
    }
  }
  // Zero-filled tail lanes add fma(0, 0, acc) = acc: the same as the reference skipping them.
  for (int r = 0; i + 4 * static_cast<std::size_t>(r) < dim; ++r) {
    const std::size_t offset = i + 4 * static_cast<std::size_t>(r);
    const __m128i m = _mm256_castsi256_si128(tail_mask8(std::min<std::size_t>(dim - offset, 4)));
    exact_step<M>(ab, aa, bb, r, _mm_maskload_ps(a + offset, m), _mm_maskload_ps(b + offset, m));
  }
  if constexpr (M == Metric::L2) return finish_l2(reduce_exact(ab));
  if constexpr (M == Metric::Angular) {
    return finish_angular(reduce_exact(ab), reduce_exact(aa), reduce_exact(bb));
  }
  return finish_dot(reduce_exact(ab));
}

ANNBENCH_TARGET_AVX2 double exact_avx2(Metric metric, const float* a, const float* b,
                                       std::size_t dim) {
  switch (metric) {
    case Metric::L2: return exact_avx2_impl<Metric::L2>(a, b, dim);
    case Metric::Angular: return exact_avx2_impl<Metric::Angular>(a, b, dim);
    case Metric::InnerProduct: return exact_avx2_impl<Metric::InnerProduct>(a, b, dim);
  }
  return 0.0;
}

}  // namespace

const DistanceKernels kAvx2DistanceKernels = {
    .isa = "avx2",
    .lanes = 8,
    .l2_squared = &l2_squared_avx2,
    .inner_product = &inner_product_avx2,
    .exact = &exact_avx2,
};

}  // namespace annbench::detail
