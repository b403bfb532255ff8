#pragma once
// Helpers shared by the peer modules: the libraries index raw float rows, so angular search is
// served by normalising a copy of the data (then L2 or inner product ranks as 1 - cos does).

#include <annbench/matrix.h>
#include <annbench/neighbor.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace annbench::peers {

// out = x / |x|; a zero vector stays zero (angular distance 1 to everything, as the metric says).
inline void normalize_into(const float* x, std::size_t dim, float* out) {
  double norm2 = 0;
  for (std::size_t j = 0; j < dim; ++j) norm2 += static_cast<double>(x[j]) * x[j];
  const float scale = norm2 > 0 ? static_cast<float>(1.0 / std::sqrt(norm2)) : 0.0f;
  for (std::size_t j = 0; j < dim; ++j) out[j] = x[j] * scale;
}

// rows × dim copy with every row normalised.
inline FloatMatrix normalized_copy(MatrixView m) {
  FloatMatrix out(m.rows, m.dim);
  for (std::size_t i = 0; i < m.rows; ++i) normalize_into(m.row(i), m.dim, out.row(i));
  return out;
}

// Pads out[found..k) with the "no result" value.
inline void pad_results(Neighbor* out, std::size_t found, std::size_t k) {
  for (std::size_t j = found; j < k; ++j) out[j] = Neighbor{};
}

}  // namespace annbench::peers
