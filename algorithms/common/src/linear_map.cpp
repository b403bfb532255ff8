#include <annbench/common/block_distance.h>
#include <annbench/common/distance.h>
#include <annbench/common/linalg.h>
#include <annbench/common/linear_map.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace annbench {

LinearMap LinearMap::pca(MatrixView data, std::size_t out_dim, bool centre) {
  ANNBENCH_CHECK(out_dim >= 1 && out_dim <= data.dim,
                 "pca: dim must be between 1 and the data's {} dimensions, got {}", data.dim,
                 out_dim);
  ANNBENCH_CHECK(data.rows >= 2, "pca: needs at least 2 vectors to fit, got {}", data.rows);
  const std::vector<double> mean = centre ? column_means(data) : std::vector<double>{};
  for (double m : mean) {
    ANNBENCH_CHECK(std::isfinite(m), "pca: the data contains NaN or infinite values");
  }
  std::vector<double> moment = second_moment(data, mean);
  for (double m : moment) {
    ANNBENCH_CHECK(std::isfinite(m), "pca: the data contains NaN or infinite values");
  }
  const SymmetricEigen eigen = symmetric_eigen(std::move(moment), data.dim, out_dim);

  LinearMap map;
  map.in_dim_ = data.dim;
  map.out_dim_ = out_dim;
  map.dense_ = FloatMatrix(out_dim, data.dim);
  for (std::size_t r = 0; r < out_dim; ++r) {
    for (std::size_t j = 0; j < data.dim; ++j) {
      map.dense_(r, j) = static_cast<float>(eigen.vectors[r * data.dim + j]);
    }
  }
  if (centre) {
    map.offset_.resize(out_dim);
    for (std::size_t r = 0; r < out_dim; ++r) {
      double sum = 0;
      for (std::size_t j = 0; j < data.dim; ++j) sum += eigen.vectors[r * data.dim + j] * mean[j];
      map.offset_[r] = static_cast<float>(sum);
    }
  }
  map.kept_variance_.assign(eigen.values.begin(),
                            eigen.values.begin() + static_cast<std::ptrdiff_t>(out_dim));
  for (double value : eigen.values) map.total_variance_ += value;
  return map;
}

LinearMap LinearMap::gaussian_projection(std::size_t in_dim, std::size_t out_dim,
                                         std::uint64_t seed) {
  ANNBENCH_CHECK(in_dim >= 1 && out_dim >= 1, "random projection: dimensions must be >= 1");
  LinearMap map;
  map.in_dim_ = in_dim;
  map.out_dim_ = out_dim;
  map.dense_ = FloatMatrix(out_dim, in_dim);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0 / std::sqrt(static_cast<double>(out_dim)));
  for (std::size_t i = 0; i < out_dim * in_dim; ++i) {
    map.dense_.data()[i] = static_cast<float>(normal(rng));
  }
  return map;
}

LinearMap LinearMap::sparse_projection(std::size_t in_dim, std::size_t out_dim, double s,
                                       std::uint64_t seed) {
  ANNBENCH_CHECK(in_dim >= 1 && out_dim >= 1, "random projection: dimensions must be >= 1");
  if (s <= 0) s = std::sqrt(static_cast<double>(in_dim));
  ANNBENCH_CHECK(s >= 1, "random projection: sparsity s must be >= 1 (3 = Achlioptas), got {}", s);
  LinearMap map;
  map.in_dim_ = in_dim;
  map.out_dim_ = out_dim;
  map.magnitude_ = static_cast<float>(std::sqrt(s / static_cast<double>(out_dim)));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  map.starts_.push_back(0);
  for (std::size_t r = 0; r < out_dim; ++r) {
    for (std::size_t j = 0; j < in_dim; ++j) {
      const double u = uniform(rng) * s;  // < 1 with probability 1 / s
      if (u < 1) {
        map.columns_.push_back(static_cast<std::uint32_t>(j));
        map.negative_.push_back(u < 0.5 ? 1 : 0);
      }
    }
    map.starts_.push_back(static_cast<std::uint32_t>(map.columns_.size()));
  }
  return map;
}

void LinearMap::apply(const float* in, float* out) const {
  if (!dense_.empty()) {
    const auto inner = distance_kernels().inner_product;
    for (std::size_t r = 0; r < out_dim_; ++r) {
      out[r] = inner(dense_.row(r), in, in_dim_);
      if (!offset_.empty()) out[r] -= offset_[r];
    }
    return;
  }
  for (std::size_t r = 0; r < out_dim_; ++r) {
    float sum = 0;
    for (std::uint32_t t = starts_[r]; t < starts_[r + 1]; ++t) {
      const float x = in[columns_[t]];
      sum += negative_[t] ? -x : x;
    }
    out[r] = sum * magnitude_;
  }
}

FloatMatrix LinearMap::apply_rows(MatrixView rows) const {
  ANNBENCH_CHECK(rows.dim == in_dim_, "linear map: vectors have {} dimensions, expected {}",
                 rows.dim, in_dim_);
  FloatMatrix out(rows.rows, out_dim_);
  if (rows.rows == 0) return out;
  if (dense_.empty()) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(rows.rows); ++i) {
      apply(rows.row(static_cast<std::size_t>(i)), out.row(static_cast<std::size_t>(i)));
    }
    return out;
  }
  // Blocks of rows against all of W with the GEMM-like block kernel.
  constexpr std::size_t kBlock = 256;
  const std::size_t blocks = (rows.rows + kBlock - 1) / kBlock;
  const BlockKernels& kernels = block_kernels();
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t b = 0; b < static_cast<std::int64_t>(blocks); ++b) {
    const std::size_t first = static_cast<std::size_t>(b) * kBlock;
    const std::size_t count = std::min(kBlock, rows.rows - first);
    kernels.inner_products(rows.row(first), count, dense_.data(), out_dim_, in_dim_, out.row(first),
                           out_dim_);
    if (!offset_.empty()) {
      for (std::size_t i = first; i < first + count; ++i) {
        for (std::size_t r = 0; r < out_dim_; ++r) out(i, r) -= offset_[r];
      }
    }
  }
  return out;
}

std::size_t LinearMap::nonzeros() const {
  return dense_.empty() ? columns_.size() : dense_.size();
}

std::size_t LinearMap::memory_bytes() const {
  return dense_.bytes() + offset_.size() * sizeof(float) + starts_.size() * sizeof(std::uint32_t) +
         columns_.size() * sizeof(std::uint32_t) + negative_.size();
}

}  // namespace annbench
