#pragma once
// SQ8 scalar quantisation: each dimension j maps linearly onto 0..255,
//   code_j = clamp(round((x_j - min_j) / scale_j), 0, 255),   x_j ~ fma(scale_j, code_j, min_j),
// trained on a sample as min_j and scale_j = (max_j - min_j) / 255. A trained value decodes
// within scale_j / 2 (plus float rounding); a constant dimension has scale 0 and decodes exactly.
//
// Sq8Scale::Uniform uses one scale for every dimension (the largest range / 255; per-dimension
// minima kept), so the squared L2 between two decoded vectors is exactly
// scale^2 * l2sq_u8(codes): symmetric distances in integer code space.

#include <annbench/common/compact_distance.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench {

enum class Sq8Scale { PerDimension, Uniform };

class Sq8Codec {
 public:
  // Trains on n x d row-major floats. Throws annbench::Error when n or d is 0 or a value is not
  // finite (naming the row and column).
  static Sq8Codec train(const float* data, std::size_t n, std::size_t d,
                        Sq8Scale kind = Sq8Scale::PerDimension);
  // From stored parameters (an index file): d = min.size(). Throws annbench::Error when the sizes
  // differ or are 0, a value is not finite or a scale is negative.
  Sq8Codec(std::vector<float> min, std::vector<float> scale);

  std::size_t dim() const { return min_.size(); }
  const std::vector<float>& min() const { return min_; }
  const std::vector<float>& scale() const { return scale_; }
  // True when every dimension has the same scale (always after training with Sq8Scale::Uniform).
  bool uniform_scale() const { return uniform_; }

  // d floats -> d codes. Values outside the trained range clamp to 0 / 255; NaN encodes as 0.
  void encode(const float* x, std::uint8_t* code) const;
  // The query side of l2sq_codes: the same mapping as encode.
  void encode_query(const float* q, std::uint8_t* code) const { encode(q, code); }
  // d codes -> d floats: fma(scale_j, code_j, min_j).
  void decode(const std::uint8_t* code, float* x) const;

  // Float query against a code, without decoding to memory (squared L2 and inner product of q
  // and decode(code), in single precision).
  float l2sq(const float* q, const std::uint8_t* code) const {
    return kernels_->sq8_l2sq(q, code, min_.data(), scale_.data(), min_.size());
  }
  float dot(const float* q, const std::uint8_t* code) const {
    return kernels_->sq8_dot(q, code, min_.data(), scale_.data(), min_.size());
  }
  // Squared L2 between two decoded codes: scale^2 * l2sq_u8(a, b), as float(double(scale)^2 *
  // integer). Needs uniform_scale() (throws annbench::Error otherwise).
  float l2sq_codes(const std::uint8_t* a, const std::uint8_t* b) const {
    if (!uniform_) fail_not_uniform();
    return static_cast<float>(scale_squared_ *
                              static_cast<double>(kernels_->l2sq_u8(a, b, min_.size())));
  }

 private:
  [[noreturn]] static void fail_not_uniform();

  std::vector<float> min_;
  std::vector<float> scale_;
  bool uniform_ = false;
  double scale_squared_ = 0.0;  // scale^2 when uniform_
  const CompactKernels* kernels_;
};

}  // namespace annbench
