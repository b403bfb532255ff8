// Scalar many-to-many inner products and run-time selection of the block kernel.

#include "simd.h"

#include <annbench/common/block_distance.h>
#include <annbench/common/distance.h>

#include <array>

namespace annbench {
namespace {

void inner_products_scalar(const float* q, std::size_t nq, const float* x, std::size_t nx,
                           std::size_t dim, float* out, std::size_t ldo) {
  const auto inner_product = scalar_distance_kernels().inner_product;
  for (std::size_t i = 0; i < nq; ++i) {
    for (std::size_t j = 0; j < nx; ++j)
      out[i * ldo + j] = inner_product(q + i * dim, x + j * dim, dim);
  }
}

std::size_t scores_below_scalar(const float* products, const float* bias, float scale,
                                std::size_t n, float threshold, std::uint32_t* hit_ids,
                                float* hit_scores) {
  std::size_t hits = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const float s = (bias != nullptr ? bias[j] : 0.0f) - scale * products[j];
    if (s < threshold) {
      hit_ids[hits] = static_cast<std::uint32_t>(j);
      hit_scores[hits++] = s;
    }
  }
  return hits;
}

constexpr BlockKernels kScalarBlockKernels = {
    .isa = "scalar",
    .lanes = 1,
    .inner_products = &inner_products_scalar,
    .scores_below = &scores_below_scalar,
};

}  // namespace

const BlockKernels& block_kernels() {
  static const BlockKernels& kernels = []() -> const BlockKernels& {
    switch (detail::selected_isa()) {
      case detail::Isa::Avx512: return detail::kAvx512BlockKernels;
      case detail::Isa::Avx2: return detail::kAvx2BlockKernels;
      case detail::Isa::Scalar: break;
    }
    return kScalarBlockKernels;
  }();
  return kernels;
}

std::span<const BlockKernels> available_block_kernels() {
  static const std::array<BlockKernels, 3> all = {detail::kAvx512BlockKernels,
                                                  detail::kAvx2BlockKernels, kScalarBlockKernels};
  const auto skip =
      static_cast<std::size_t>(detail::Isa::Avx512) - static_cast<std::size_t>(detail::cpu_isa());
  return std::span<const BlockKernels>(all).subspan(skip);
}

}  // namespace annbench
