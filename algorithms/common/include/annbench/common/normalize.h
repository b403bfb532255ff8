#pragma once
// Unit normalisation for angular search, and the scale conversions every module's search() ends
// with. Angular distance is 1 - cos; a zero vector has cos 0 with everything (distance 1). On
// unit vectors 1 - <q, x> is that distance exactly, zero vectors included, which is why angular
// modules rank by the inner product of normalised copies: |q - x|^2 / 2 equals it for unit
// vectors but gives 0.5 for a zero x.

#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/neighbor.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace annbench {

// out = x / |x| (norm summed in double); a zero vector stays zero. out may equal x.
inline void normalize_into(const float* x, std::size_t dim, float* out) {
  double norm2 = 0;
  for (std::size_t j = 0; j < dim; ++j) norm2 += static_cast<double>(x[j]) * x[j];
  // The scale stays in double: for a norm below ~1e-38 its float would overflow to infinity.
  const double scale = norm2 > 0 ? 1.0 / std::sqrt(norm2) : 0.0;
  for (std::size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(x[j] * scale);
}

// rows × dim copy with every row normalised (with the OpenMP threads in effect).
inline FloatMatrix normalized_copy(MatrixView m) {
  FloatMatrix out(m.rows, m.dim);
  const auto rows = static_cast<std::int64_t>(m.rows);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < rows; ++i) {
    const auto r = static_cast<std::size_t>(i);
    normalize_into(m.row(r), m.dim, out.row(r));
  }
  return out;
}

// The internal scores modules rank by, and their conversion to the dataset metric's scale
// (metric.h), which search() writes.
enum class Score {
  kMetric,       // already the metric's distance
  kSquaredL2,    // euclidean: |q - x|^2
  kNegativeDot,  // angular on unit vectors: -<q, x>; dot: -<q, x>
};

inline float to_metric_scale(Metric metric, Score score, float value) {
  switch (score) {
    case Score::kMetric: return value;
    case Score::kSquaredL2: return std::sqrt(std::max(value, 0.0f));
    case Score::kNegativeDot: return metric == Metric::Angular ? 1.0f + value : value;
  }
  return value;
}

// Converts the k results of one search in place; empty slots (id -1) keep +inf.
inline void to_metric_scale(Metric metric, Score score, Neighbor* out, std::size_t k) {
  if (score == Score::kMetric) return;
  for (std::size_t j = 0; j < k; ++j) {
    if (out[j].id >= 0) out[j].distance = to_metric_scale(metric, score, out[j].distance);
  }
}

}  // namespace annbench
