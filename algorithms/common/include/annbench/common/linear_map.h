#pragma once
// Linear dimension reduction y = W (x - m): PCA fitted on data, or a data-independent random
// projection. W is out_dim × in_dim; m is the data mean (PCA on euclidean data) or zero.

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench {

class LinearMap {
 public:
  // Principal components: the top out_dim eigenvectors of the covariance (centre = true) or of
  // the uncentred second moment (centre = false; it keeps inner products, so dot and angular
  // rankings, where subtracting a mean would change them).
  static LinearMap pca(MatrixView data, std::size_t out_dim, bool centre);

  // Gaussian random projection: entries N(0, 1/out_dim), so E|Wx|^2 = |x|^2
  // (Johnson–Lindenstrauss).
  static LinearMap gaussian_projection(std::size_t in_dim, std::size_t out_dim, std::uint64_t seed);

  // Sparse random projection (Achlioptas 2003; Li, Hastie & Church 2006): entries
  // +-sqrt(s / out_dim) with probability 1 / (2s) each, else 0. s = 3 is Achlioptas' choice,
  // s = sqrt(in_dim) Li's "very sparse" one (s <= 0 picks that). Stored and applied sparsely.
  static LinearMap sparse_projection(std::size_t in_dim, std::size_t out_dim, double s,
                                     std::uint64_t seed);

  std::size_t in_dim() const { return in_dim_; }
  std::size_t out_dim() const { return out_dim_; }

  // out (out_dim floats) = W (in - m), in: in_dim floats. Thread-safe.
  void apply(const float* in, float* out) const;
  // Every row mapped: rows × out_dim. OpenMP over rows.
  FloatMatrix apply_rows(MatrixView rows) const;

  std::size_t memory_bytes() const;
  // PCA only: variance along each kept component (largest first) and the total variance
  // (trace), so kept / total is the fraction of variance the reduction keeps.
  const std::vector<double>& kept_variance() const { return kept_variance_; }
  double total_variance() const { return total_variance_; }
  // Non-zero weights (in_dim * out_dim when dense).
  std::size_t nonzeros() const;

 private:
  std::size_t in_dim_ = 0;
  std::size_t out_dim_ = 0;
  FloatMatrix dense_;          // out_dim × in_dim, empty when sparse
  std::vector<float> offset_;  // W m per output (empty: m = 0)
  // Sparse rows (CSR): row r's non-zeros are columns_[starts_[r] .. starts_[r + 1]) with
  // value +-magnitude_ by sign bit in negative_.
  std::vector<std::uint32_t> starts_;
  std::vector<std::uint32_t> columns_;
  std::vector<std::uint8_t> negative_;
  float magnitude_ = 0;
  std::vector<double> kept_variance_;
  double total_variance_ = 0;
};

}  // namespace annbench
