// SQ8 training, encoding and decoding (the distance kernels are in compact_distance*.cpp).

#include <annbench/common/sq8_codec.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace annbench {

Sq8Codec Sq8Codec::train(const float* data, std::size_t n, std::size_t d, Sq8Scale kind) {
  ANNBENCH_CHECK(n > 0 && d > 0,
                 "SQ8 training needs at least one vector of dimension >= 1 (got {} x {})", n, d);
  std::vector<float> lo(data, data + d);
  std::vector<float> hi(data, data + d);
  for (std::size_t row = 0; row < n; ++row) {
    const float* x = data + row * d;
    for (std::size_t j = 0; j < d; ++j) {
      ANNBENCH_CHECK(std::isfinite(x[j]),
                     "SQ8 training data: value {} at row {}, column {} is not finite", x[j], row,
                     j);
      lo[j] = std::min(lo[j], x[j]);
      hi[j] = std::max(hi[j], x[j]);
    }
  }
  // The range in double: max - min may exceed FLT_MAX; divided by 255 it fits again.
  std::vector<float> scale(d);
  for (std::size_t j = 0; j < d; ++j) {
    scale[j] = static_cast<float>((static_cast<double>(hi[j]) - lo[j]) / 255.0);
  }
  if (kind == Sq8Scale::Uniform) {
    // The widest dimension sets the step; narrower ones use fewer of the 256 codes.
    std::fill(scale.begin(), scale.end(), *std::max_element(scale.begin(), scale.end()));
  }
  return Sq8Codec(std::move(lo), std::move(scale));
}

Sq8Codec::Sq8Codec(std::vector<float> min, std::vector<float> scale)
    : min_(std::move(min)), scale_(std::move(scale)), kernels_(&compact_kernels()) {
  ANNBENCH_CHECK(!min_.empty() && min_.size() == scale_.size(),
                 "SQ8 parameters: {} minima and {} scales (need the same number, at least 1)",
                 min_.size(), scale_.size());
  for (std::size_t j = 0; j < min_.size(); ++j) {
    ANNBENCH_CHECK(std::isfinite(min_[j]), "SQ8 parameters: min[{}] = {} is not finite", j,
                   min_[j]);
    ANNBENCH_CHECK(std::isfinite(scale_[j]) && scale_[j] >= 0.0f,
                   "SQ8 parameters: scale[{}] = {} is not a finite value >= 0", j, scale_[j]);
  }
  uniform_ = std::all_of(scale_.begin(), scale_.end(), [&](float s) { return s == scale_[0]; });
  if (uniform_) scale_squared_ = static_cast<double>(scale_[0]) * scale_[0];
}

void Sq8Codec::encode(const float* x, std::uint8_t* code) const {
  for (std::size_t j = 0; j < min_.size(); ++j) {
    // In double, so the only rounding that matters is the final one to an integer (the encoded
    // value is then the nearest code, within scale / 2 of x for x in the trained range).
    const double level = scale_[j] > 0.0f ? (static_cast<double>(x[j]) - min_[j]) / scale_[j] : 0.0;
    // NaN fails both comparisons and lands on 0.
    const double clamped = level > 0.0 ? std::min(std::nearbyint(level), 255.0) : 0.0;
    code[j] = static_cast<std::uint8_t>(clamped);
  }
}

void Sq8Codec::decode(const std::uint8_t* code, float* x) const {
  // fma like the distance kernels, so decode(code) is exactly the vector they measure against.
  for (std::size_t j = 0; j < min_.size(); ++j) {
    x[j] = std::fma(scale_[j], static_cast<float>(code[j]), min_[j]);
  }
}

void Sq8Codec::fail_not_uniform() {
  ANNBENCH_FAIL("Sq8Codec::l2sq_codes needs one scale for every dimension (Sq8Scale::Uniform)");
}

}  // namespace annbench
