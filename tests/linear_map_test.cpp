// The symmetric eigen-solver, PCA and random projections (algorithms/common linalg, linear_map).

#include <annbench/common/linalg.h>
#include <annbench/common/linear_map.h>
#include <annbench/error.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

namespace annbench {
namespace {

// A random orthogonal n × n matrix (rows orthonormal): Gram–Schmidt on Gaussian rows.
std::vector<double> random_orthogonal(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> u(n * n);
  for (double& x : u) x = normal(rng);
  for (std::size_t i = 0; i < n; ++i) {
    for (int pass = 0; pass < 2; ++pass) {
      for (std::size_t j = 0; j < i; ++j) {
        double dot = 0;
        for (std::size_t t = 0; t < n; ++t) dot += u[i * n + t] * u[j * n + t];
        for (std::size_t t = 0; t < n; ++t) u[i * n + t] -= dot * u[j * n + t];
      }
    }
    double norm = 0;
    for (std::size_t t = 0; t < n; ++t) norm += u[i * n + t] * u[i * n + t];
    for (std::size_t t = 0; t < n; ++t) u[i * n + t] /= std::sqrt(norm);
  }
  return u;
}

// A = U^T diag(values) U.
std::vector<double> with_spectrum(const std::vector<double>& values, std::uint64_t seed) {
  const std::size_t n = values.size();
  const auto u = random_orthogonal(n, seed);
  std::vector<double> a(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double sum = 0;
      for (std::size_t t = 0; t < n; ++t) sum += u[t * n + i] * values[t] * u[t * n + j];
      a[i * n + j] = sum;
    }
  }
  return a;
}

void expect_decomposes(const std::vector<double>& a, const SymmetricEigen& eigen, double tol) {
  const std::size_t n = eigen.n;
  double scale = 1e-300;
  for (double v : a) scale = std::max(scale, std::abs(v));
  for (std::size_t r = 0; r < n; ++r) {
    const double* v = &eigen.vectors[r * n];
    for (std::size_t s = 0; s <= r; ++s) {
      const double* w = &eigen.vectors[s * n];
      const double dot = std::inner_product(v, v + n, w, 0.0);
      EXPECT_NEAR(dot, r == s ? 1.0 : 0.0, tol) << "vectors " << r << ", " << s;
    }
    for (std::size_t i = 0; i < n; ++i) {
      double av = 0;
      for (std::size_t j = 0; j < n; ++j) av += a[i * n + j] * v[j];
      EXPECT_NEAR(av, eigen.values[r] * v[i], tol * scale) << "row " << i << " of A v" << r;
    }
  }
}

TEST(SymmetricEigen, RecoversAPrescribedSpectrum) {
  for (std::size_t n : {1, 2, 3, 7, 40, 150}) {
    std::vector<double> values(n);
    std::mt19937_64 rng(n);
    std::uniform_real_distribution<double> uniform(-5, 10);
    for (double& v : values) v = uniform(rng);
    const auto a = with_spectrum(values, 100 + n);
    const SymmetricEigen eigen = symmetric_eigen(a, n);
    std::sort(values.begin(), values.end(), std::greater<>());
    for (std::size_t i = 0; i < n; ++i) EXPECT_NEAR(eigen.values[i], values[i], 1e-9) << n;
    expect_decomposes(a, eigen, 1e-9);
  }
}

TEST(SymmetricEigen, RepeatedZeroAndDiagonalCases) {
  // Heavily repeated eigenvalues: any orthonormal basis of each eigenspace is right.
  const std::vector<double> repeated = {3, 3, 3, 1, 1, 0, 0, 0, -2, -2};
  const auto a = with_spectrum(repeated, 7);
  const SymmetricEigen eigen = symmetric_eigen(a, repeated.size());
  auto sorted = repeated;
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  for (std::size_t i = 0; i < sorted.size(); ++i) EXPECT_NEAR(eigen.values[i], sorted[i], 1e-10);
  expect_decomposes(a, eigen, 1e-10);

  const SymmetricEigen zero = symmetric_eigen(std::vector<double>(25, 0.0), 5);
  for (double v : zero.values) EXPECT_EQ(v, 0.0);
  expect_decomposes(std::vector<double>(25, 0.0), zero, 1e-12);

  std::vector<double> diagonal(16, 0.0);
  for (std::size_t i = 0; i < 4; ++i) diagonal[i * 4 + i] = static_cast<double>(i) - 1.5;
  const SymmetricEigen eigen_diagonal = symmetric_eigen(diagonal, 4);
  EXPECT_DOUBLE_EQ(eigen_diagonal.values[0], 1.5);
  EXPECT_DOUBLE_EQ(eigen_diagonal.values[3], -1.5);
  expect_decomposes(diagonal, eigen_diagonal, 1e-12);
}

TEST(SymmetricEigen, RejectsNonFiniteAndMisSizedInput) {
  std::vector<double> a = {1, 0, 0, 1};
  a[2] = std::nan("");
  EXPECT_THROW(symmetric_eigen(a, 2), Error);
  EXPECT_THROW(symmetric_eigen({1, 2, 3}, 2), Error);
}

// x = m + sum_t sigma_t z_t u_t with z ~ N(0, 1): covariance U^T diag(sigma^2) U.
FloatMatrix gaussian_data(const std::vector<double>& sigma, std::size_t rows, double mean_shift,
                          std::uint64_t seed, std::vector<double>* basis_out = nullptr) {
  const std::size_t d = sigma.size();
  const auto u = random_orthogonal(d, seed);
  if (basis_out) *basis_out = u;
  std::mt19937_64 rng(seed + 1);
  std::normal_distribution<double> normal;
  FloatMatrix x(rows, d);
  std::vector<double> z(d);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t t = 0; t < d; ++t) z[t] = sigma[t] * normal(rng);
    for (std::size_t j = 0; j < d; ++j) {
      double value = mean_shift * static_cast<double>(j % 3);
      for (std::size_t t = 0; t < d; ++t) value += z[t] * u[t * d + j];
      x(i, j) = static_cast<float>(value);
    }
  }
  return x;
}

TEST(Pca, RecoversTheVarianceSpectrumAndDirections) {
  const std::vector<double> sigma = {8, 5, 3, 2, 1, 0.5, 0.25, 0.1, 0.1, 0.05, 0.02, 0.01};
  std::vector<double> basis;
  const FloatMatrix x = gaussian_data(sigma, 20000, 4.0, 11, &basis);
  const LinearMap pca = LinearMap::pca(x.view(), 4, /*centre=*/true);
  ASSERT_EQ(pca.kept_variance().size(), 4u);
  double total = 0;
  for (double s : sigma) total += s * s;
  for (std::size_t i = 0; i < 4; ++i) {
    // 20,000 samples: a variance estimate's relative standard error is sqrt(2/n) = 1 %.
    EXPECT_NEAR(pca.kept_variance()[i], sigma[i] * sigma[i], 0.05 * sigma[i] * sigma[i]) << i;
  }
  EXPECT_NEAR(pca.total_variance(), total, 0.03 * total);
  // Component i maps basis vector u_i to +-1 and the other basis vectors to about 0.
  const std::size_t d = sigma.size();
  std::vector<float> u_row(d), y(4), origin(d, 0.0f), y0(4);
  pca.apply(origin.data(), y0.data());
  for (std::size_t t = 0; t < 4; ++t) {
    for (std::size_t j = 0; j < d; ++j) u_row[j] = static_cast<float>(basis[t * d + j]);
    pca.apply(u_row.data(), y.data());
    for (std::size_t i = 0; i < 4; ++i) {
      EXPECT_NEAR(std::abs(y[i] - y0[i]), i == t ? 1.0 : 0.0, 0.05) << "component " << i;
    }
  }
}

TEST(Pca, CentringMattersOnlyWhenAsked) {
  const std::vector<double> sigma = {2, 1, 0.5};
  const FloatMatrix x = gaussian_data(sigma, 5000, 10.0, 3);
  const LinearMap centred = LinearMap::pca(x.view(), 1, true);
  const LinearMap uncentred = LinearMap::pca(x.view(), 1, false);
  // The mean (10 * (0, 1, 2)) dominates the uncentred second moment: |m|^2 = 500.
  EXPECT_NEAR(centred.kept_variance()[0], 4.0, 0.3);
  EXPECT_GT(uncentred.kept_variance()[0], 400.0);
}

TEST(Pca, FullRankMapIsARotationAndBatchEqualsSingle) {
  const std::vector<double> sigma = {3, 2, 2, 1, 0.5, 0.5, 0.2, 0.1};
  const FloatMatrix x = gaussian_data(sigma, 600, 1.0, 5);
  const LinearMap pca = LinearMap::pca(x.view(), sigma.size(), true);
  const FloatMatrix y = pca.apply_rows(x.view());
  std::vector<float> single(sigma.size());
  for (std::size_t i = 0; i < x.rows(); i += 37) {
    pca.apply(x.row(i), single.data());
    for (std::size_t r = 0; r < sigma.size(); ++r) EXPECT_NEAR(single[r], y(i, r), 1e-4);
  }
  for (std::size_t i = 0; i + 1 < x.rows(); i += 13) {
    double before = 0, after = 0;
    for (std::size_t j = 0; j < sigma.size(); ++j) {
      before += std::pow(x(i, j) - x(i + 1, j), 2);
      after += std::pow(y(i, j) - y(i + 1, j), 2);
    }
    EXPECT_NEAR(after, before, 1e-4 * before + 1e-6);
  }
}

TEST(Pca, RejectsBadRequests) {
  const FloatMatrix x = gaussian_data({1, 1, 1}, 10, 0, 1);
  EXPECT_THROW(LinearMap::pca(x.view(), 0, true), Error);
  EXPECT_THROW(LinearMap::pca(x.view(), 4, true), Error);
  FloatMatrix one(1, 3, 1.0f);
  EXPECT_THROW(LinearMap::pca(one.view(), 2, true), Error);
  FloatMatrix with_nan = gaussian_data({1, 1, 1}, 10, 0, 1);
  with_nan(3, 1) = std::nanf("");
  EXPECT_THROW(LinearMap::pca(with_nan.view(), 2, true), Error);
}

// The smallest eps with D >= 4 ln(n) / (eps^2 / 2 - eps^3 / 3) (Dasgupta & Gupta's JL form).
double jl_epsilon(std::size_t points, std::size_t out_dim) {
  const double need = 4 * std::log(static_cast<double>(points)) / static_cast<double>(out_dim);
  double lo = 0, hi = 1.5;
  for (int it = 0; it < 60; ++it) {
    const double mid = (lo + hi) / 2;
    (mid * mid / 2 - mid * mid * mid / 3 >= need ? hi : lo) = mid;
  }
  return hi;
}

void expect_preserves_distances(const LinearMap& map, const FloatMatrix& x) {
  const FloatMatrix y = map.apply_rows(x.view());
  const double eps = jl_epsilon(x.rows(), map.out_dim());
  double sum_distortion = 0, worst = 0;
  std::size_t pairs = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) {
    for (std::size_t j = i + 1; j < x.rows(); ++j) {
      double before = 0, after = 0;
      for (std::size_t t = 0; t < x.cols(); ++t) before += std::pow(x(i, t) - x(j, t), 2);
      for (std::size_t t = 0; t < y.cols(); ++t) after += std::pow(y(i, t) - y(j, t), 2);
      const double distortion = std::abs(after / before - 1);
      sum_distortion += distortion;
      worst = std::max(worst, distortion);
      ++pairs;
    }
  }
  const double mean = sum_distortion / static_cast<double>(pairs);
  // E|ratio - 1| for a chi-square / D ratio is about sqrt(2 / (pi D)) * 2: far below eps.
  EXPECT_LT(mean, eps / 2) << "eps " << eps;
  EXPECT_LT(worst, eps) << "eps " << eps;
}

TEST(RandomProjection, PreservesDistancesWithinTheJlBound) {
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal;
  FloatMatrix x(60, 784);
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  expect_preserves_distances(LinearMap::gaussian_projection(784, 128, 1), x);
  expect_preserves_distances(LinearMap::sparse_projection(784, 128, 3.0, 2), x);
  expect_preserves_distances(LinearMap::sparse_projection(784, 128, 0.0, 3), x);
}

TEST(RandomProjection, SparseDensityAndSeeds) {
  const LinearMap very_sparse = LinearMap::sparse_projection(784, 64, 0.0, 1);
  const double expected = 784.0 * 64 / 28;  // s = sqrt(784) = 28
  EXPECT_NEAR(static_cast<double>(very_sparse.nonzeros()), expected, 0.1 * expected);
  EXPECT_LT(very_sparse.memory_bytes(), LinearMap::gaussian_projection(784, 64, 1).memory_bytes());
  std::vector<float> in(784, 1.0f), a(64), b(64), c(64);
  LinearMap::sparse_projection(784, 64, 0.0, 1).apply(in.data(), a.data());
  LinearMap::sparse_projection(784, 64, 0.0, 1).apply(in.data(), b.data());
  LinearMap::sparse_projection(784, 64, 0.0, 2).apply(in.data(), c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_THROW(LinearMap::sparse_projection(784, 64, 0.5, 1), Error);
  EXPECT_THROW(LinearMap::gaussian_projection(784, 0, 1), Error);
}

}  // namespace
}  // namespace annbench
