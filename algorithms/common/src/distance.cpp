// Scalar reference kernels, the exact (double) distance and run-time kernel selection.

#include "simd.h"

#include <annbench/common/distance.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace annbench {
namespace detail {

Isa cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
      __builtin_cpu_supports("fma")) {
    return Isa::Avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
  return Isa::Scalar;
}

Isa selected_isa() {
  static const Isa isa = [] {
    const Isa best = cpu_isa();
    const char* cap = std::getenv("ANNBENCH_SIMD");
    if (cap == nullptr) return best;
    const std::string_view name(cap);
    Isa wanted = best;
    if (name == "scalar") wanted = Isa::Scalar;
    if (name == "avx2") wanted = Isa::Avx2;
    if (name == "avx512") wanted = Isa::Avx512;
    return std::min(wanted, best);
  }();
  return isa;
}

}  // namespace detail

namespace {

// Sequential sums on purpose: the reference the SIMD variants are checked against should be the
// plainest possible reading of the definition.
float l2_squared_scalar(const float* a, const float* b, std::size_t dim) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < dim; ++i) {
    const float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

float inner_product_scalar(const float* a, const float* b, std::size_t dim) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < dim; ++i) sum += a[i] * b[i];
  return sum;
}

// Lane-wise halving, the order the SIMD variants reproduce with their register layouts.
double reduce_lanes(std::array<double, detail::kExactLanes>& lanes) {
  for (std::size_t width = detail::kExactLanes / 2; width >= 1; width /= 2) {
    for (std::size_t j = 0; j < width; ++j) lanes[j] += lanes[j + width];
  }
  return lanes[0];
}

// std::fma, not a * b + c: the SIMD variants fuse, and the lanes must round identically.
double exact_scalar(Metric metric, const float* a, const float* b, std::size_t dim) {
  constexpr std::size_t kLanes = detail::kExactLanes;
  std::array<double, kLanes> ab{}, aa{}, bb{};
  for (std::size_t i = 0; i < dim; ++i) {
    const double x = a[i];
    const double y = b[i];
    const std::size_t lane = i % kLanes;
    switch (metric) {
      case Metric::L2: {
        const double d = x - y;
        ab[lane] = std::fma(d, d, ab[lane]);
        break;
      }
      case Metric::Angular:
        ab[lane] = std::fma(x, y, ab[lane]);
        aa[lane] = std::fma(x, x, aa[lane]);
        bb[lane] = std::fma(y, y, bb[lane]);
        break;
      case Metric::InnerProduct: ab[lane] = std::fma(x, y, ab[lane]); break;
    }
  }
  switch (metric) {
    case Metric::L2: return detail::finish_l2(reduce_lanes(ab));
    case Metric::Angular: {
      const double dot = reduce_lanes(ab);
      const double norm_a = reduce_lanes(aa);
      return detail::finish_angular(dot, norm_a, reduce_lanes(bb));
    }
    case Metric::InnerProduct: return detail::finish_dot(reduce_lanes(ab));
  }
  return 0.0;
}

constexpr DistanceKernels kScalarKernels = {
    .isa = "scalar",
    .lanes = 1,
    .l2_squared = &l2_squared_scalar,
    .inner_product = &inner_product_scalar,
    .exact = &exact_scalar,
};

}  // namespace

const DistanceKernels& scalar_distance_kernels() {
  return kScalarKernels;
}

const DistanceKernels& distance_kernels() {
  static const DistanceKernels& kernels = []() -> const DistanceKernels& {
    switch (detail::selected_isa()) {
      case detail::Isa::Avx512: return detail::kAvx512DistanceKernels;
      case detail::Isa::Avx2: return detail::kAvx2DistanceKernels;
      case detail::Isa::Scalar: break;
    }
    return kScalarKernels;
  }();
  return kernels;
}

std::span<const DistanceKernels> available_distance_kernels() {
  static const std::array<DistanceKernels, 3> all = {detail::kAvx512DistanceKernels,
                                                     detail::kAvx2DistanceKernels, kScalarKernels};
  const auto skip =
      static_cast<std::size_t>(detail::Isa::Avx512) - static_cast<std::size_t>(detail::cpu_isa());
  return std::span<const DistanceKernels>(all).subspan(skip);
}

double exact_distance(Metric metric, const float* a, const float* b, std::size_t dim) {
  return distance_kernels().exact(metric, a, b, dim);
}

double dot_error_factor(std::size_t dim, std::size_t lanes) {
  // Longest chain of roundings: dim / lanes fused steps per lane, a tree over the lanes and the
  // partial accumulators, plus a few for the caller's final combination (norms, scaling).
  const double depth = std::ceil(static_cast<double>(dim) / static_cast<double>(lanes)) +
                       2.0 * std::log2(static_cast<double>(lanes)) + 8.0;
  const double u = std::ldexp(1.0, -24);
  return 1.05 * depth * u / (1.0 - depth * u);
}

}  // namespace annbench
