#pragma once
// Dense linear algebra for dimension reduction (PCA): a symmetric eigen-solver and the
// second-moment matrix of a data set. Double precision throughout; sizes are dimensions
// (up to a few thousand), not data counts.

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench {

struct SymmetricEigen {
  std::size_t n = 0;
  std::vector<double> values;   // n eigenvalues, largest first
  std::vector<double> vectors;  // top × n, row i = unit eigenvector of values[i]
};

// Eigen-decomposition of the symmetric n × n matrix `a` (row-major; only symmetric input is
// meaningful, the lower triangle is read). Householder reduction to tridiagonal form, then
// implicit QR steps with Wilkinson shifts (Golub & Van Loan, Matrix Computations, 8.3):
// O(n^3), backward stable. Throws if the iteration does not converge (non-finite input).
// Eigenvectors are returned for the `top` largest eigenvalues only (all when top >= n).
SymmetricEigen symmetric_eigen(std::vector<double> a, std::size_t n, std::size_t top = SIZE_MAX);

// S = sum_i (x_i - m)(x_i - m)^T / rows over the rows of x (n × d result, row-major), with
// m = `mean` (d values) or zero when `mean` is empty. Products come from the SIMD block kernel
// over chunks of rows, summed in double across chunks; OpenMP over row chunks.
std::vector<double> second_moment(MatrixView x, const std::vector<double>& mean);

// Column means of x in double.
std::vector<double> column_means(MatrixView x);

}  // namespace annbench
