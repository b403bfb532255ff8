#include <annbench/common/block_distance.h>
#include <annbench/common/linalg.h>
#include <annbench/error.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace annbench {

namespace {

// Householder reduction A = Q T Q^T. On return d/e hold T's diagonal and off-diagonal and
// `q` (n × n, row-major) holds Q.
void tridiagonalize(std::vector<double>& a, std::size_t n, std::vector<double>& d,
                    std::vector<double>& e, std::vector<double>& q) {
  auto at = [&](std::size_t i, std::size_t j) -> double& { return a[i * n + j]; };
  q.assign(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) q[i * n + i] = 1.0;
  std::vector<double> v(n), p(n);
  for (std::size_t k = 0; k + 2 < n; ++k) {
    const std::size_t m = n - k - 1;  // length of the column below the diagonal
    double norm = 0;
    for (std::size_t i = 0; i < m; ++i) norm += at(k + 1 + i, k) * at(k + 1 + i, k);
    norm = std::sqrt(norm);
    if (norm == 0) continue;
    const double x0 = at(k + 1, k);
    // The sign choice keeps v's first entry away from cancellation.
    const double alpha = x0 > 0 ? -norm : norm;
    for (std::size_t i = 0; i < m; ++i) v[i] = at(k + 1 + i, k);
    v[0] -= alpha;
    double v_norm = 0;
    for (std::size_t i = 0; i < m; ++i) v_norm += v[i] * v[i];
    v_norm = std::sqrt(v_norm);
    if (v_norm == 0) continue;
    for (std::size_t i = 0; i < m; ++i) v[i] /= v_norm;
    // H A22 H = A22 - 2 v w^T - 2 w v^T with p = A22 v and w = p - (v^T p) v.
    for (std::size_t i = 0; i < m; ++i) {
      const double* row = &at(k + 1 + i, k + 1);
      double sum = 0;
      for (std::size_t j = 0; j < m; ++j) sum += row[j] * v[j];
      p[i] = sum;
    }
    const double vp =
        std::inner_product(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), p.begin(), 0.0);
    for (std::size_t i = 0; i < m; ++i) p[i] -= vp * v[i];
    for (std::size_t i = 0; i < m; ++i) {
      double* row = &at(k + 1 + i, k + 1);
      for (std::size_t j = 0; j < m; ++j) row[j] -= 2 * (v[i] * p[j] + p[i] * v[j]);
    }
    at(k + 1, k) = at(k, k + 1) = alpha;
    for (std::size_t i = 1; i < m; ++i) at(k + 1 + i, k) = at(k, k + 1 + i) = 0;
    // Q = H_0 H_1 ... : each row of Q loses twice its component along v.
    for (std::size_t i = 0; i < n; ++i) {
      double* row = &q[i * n + k + 1];
      double t = 0;
      for (std::size_t j = 0; j < m; ++j) t += row[j] * v[j];
      t *= 2;
      for (std::size_t j = 0; j < m; ++j) row[j] -= t * v[j];
    }
  }
  d.resize(n);
  e.assign(n > 0 ? n - 1 : 0, 0.0);
  for (std::size_t i = 0; i < n; ++i) d[i] = at(i, i);
  for (std::size_t i = 0; i + 1 < n; ++i) e[i] = at(i + 1, i);
}

// Rotates rows r and s of the n-column matrix z: (r, s) <- (c r + s s, -s r + c s).
void rotate_rows(std::vector<double>& z, std::size_t n, std::size_t r, double c, double s) {
  double* a = &z[r * n];
  double* b = &z[(r + 1) * n];
  for (std::size_t i = 0; i < n; ++i) {
    const double x = a[i], y = b[i];
    a[i] = c * x + s * y;
    b[i] = -s * x + c * y;
  }
}

// One implicit symmetric QR step with Wilkinson shift on the unreduced block lo..hi of the
// tridiagonal (d, e), chasing the bulge down with Givens rotations; zt (rows = eigenvectors of
// the tridiagonal so far) accumulates the rotations.
void qr_step(std::vector<double>& d, std::vector<double>& e, std::size_t lo, std::size_t hi,
             std::vector<double>& zt, std::size_t n) {
  const double half_gap = (d[hi - 1] - d[hi]) / 2;
  const double last = e[hi - 1];
  const double root = std::hypot(half_gap, last);
  const double shift = d[hi] - last * last / (half_gap + (half_gap >= 0 ? root : -root));
  double x = d[lo] - shift;
  double z = e[lo];
  double bulge = 0;
  for (std::size_t k = lo; k < hi; ++k) {
    if (k > lo) {
      x = e[k - 1];
      z = bulge;
    }
    const double r = std::hypot(x, z);
    const double c = r == 0 ? 1.0 : x / r;
    const double s = r == 0 ? 0.0 : z / r;
    if (k > lo) e[k - 1] = r;
    const double a = d[k], b = e[k], f = d[k + 1];
    d[k] = c * c * a + 2 * c * s * b + s * s * f;
    d[k + 1] = s * s * a - 2 * c * s * b + c * c * f;
    e[k] = c * s * (f - a) + (c * c - s * s) * b;
    if (k + 1 < hi) {
      bulge = s * e[k + 1];
      e[k + 1] *= c;
    }
    rotate_rows(zt, n, k, c, s);
  }
}

}  // namespace

SymmetricEigen symmetric_eigen(std::vector<double> a, std::size_t n, std::size_t top) {
  ANNBENCH_CHECK(a.size() == n * n, "symmetric_eigen: {} values for a {} x {} matrix", a.size(), n,
                 n);
  for (double value : a) {
    ANNBENCH_CHECK(std::isfinite(value), "symmetric_eigen: the matrix has a non-finite entry");
  }
  // The lower triangle is the input: mirror it so the reduction sees a symmetric matrix.
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) a[i * n + j] = a[j * n + i];
  }
  std::vector<double> d, e, q;
  tridiagonalize(a, n, d, e, q);
  std::vector<double> zt(n * n, 0.0);  // eigenvectors of T as rows
  for (std::size_t i = 0; i < n; ++i) zt[i * n + i] = 1.0;

  const double eps = std::numeric_limits<double>::epsilon();
  const std::size_t max_steps = 60 * std::max<std::size_t>(n, 1);
  std::size_t steps = 0;
  std::size_t hi = n > 0 ? n - 1 : 0;
  while (hi > 0) {
    auto negligible = [&](std::size_t i) {
      return std::abs(e[i]) <= eps * (std::abs(d[i]) + std::abs(d[i + 1]));
    };
    if (negligible(hi - 1)) {
      e[hi - 1] = 0;
      --hi;
      continue;
    }
    std::size_t lo = hi - 1;
    while (lo > 0 && !negligible(lo - 1)) --lo;
    ANNBENCH_CHECK(++steps <= max_steps,
                   "symmetric_eigen: no convergence after {} QR steps (n = {})", max_steps, n);
    qr_step(d, e, lo, hi, zt, n);
  }

  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return d[x] > d[y]; });
  SymmetricEigen result;
  result.n = n;
  result.values.resize(n);
  top = std::min(top, n);
  result.vectors.assign(top * n, 0.0);
  for (std::size_t rank = 0; rank < n; ++rank) result.values[rank] = d[order[rank]];
  // Eigenvector j of A = Q z_j.
  for (std::size_t rank = 0; rank < top; ++rank) {
    const std::size_t j = order[rank];
    const double* z = &zt[j * n];
    double* out = &result.vectors[rank * n];
    for (std::size_t i = 0; i < n; ++i) {
      const double* q_row = &q[i * n];
      double sum = 0;
      for (std::size_t t = 0; t < n; ++t) sum += q_row[t] * z[t];
      out[i] = sum;
    }
  }
  return result;
}

std::vector<double> column_means(MatrixView x) {
  std::vector<double> mean(x.dim, 0.0);
  for (std::size_t i = 0; i < x.rows; ++i) {
    const float* row = x.row(i);
    for (std::size_t j = 0; j < x.dim; ++j) mean[j] += row[j];
  }
  if (x.rows > 0) {
    for (double& m : mean) m /= static_cast<double>(x.rows);
  }
  return mean;
}

std::vector<double> second_moment(MatrixView x, const std::vector<double>& mean) {
  const std::size_t d = x.dim;
  ANNBENCH_CHECK(mean.empty() || mean.size() == d, "second_moment: {} means for {} dimensions",
                 mean.size(), d);
  std::vector<double> total(d * d, 0.0);
  if (x.rows == 0 || d == 0) return total;
  // Chunks of rows, transposed (d × chunk) so the block kernel's "queries" and "base" are the
  // dimensions and its inner products are the sums over the chunk's rows. Float sums over 256
  // rows, double across chunks.
  constexpr std::size_t kChunk = 256;
  const std::size_t chunks = (x.rows + kChunk - 1) / kChunk;
  const BlockKernels& kernels = block_kernels();
#pragma omp parallel
  {
    std::vector<double> local(d * d, 0.0);
    FloatMatrix transposed(d, kChunk);
    std::vector<float> products(d * d);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t c = 0; c < static_cast<std::int64_t>(chunks); ++c) {
      const std::size_t first = static_cast<std::size_t>(c) * kChunk;
      const std::size_t count = std::min(kChunk, x.rows - first);
      for (std::size_t i = 0; i < count; ++i) {
        const float* row = x.row(first + i);
        for (std::size_t j = 0; j < d; ++j) {
          const double centred = mean.empty() ? row[j] : row[j] - mean[j];
          transposed(j, i) = static_cast<float>(centred);
        }
      }
      // A short last chunk: zero the unused columns rather than change the stride.
      for (std::size_t j = 0; j < d && count < kChunk; ++j) {
        std::fill(transposed.row(j) + count, transposed.row(j) + kChunk, 0.0f);
      }
      kernels.inner_products(transposed.data(), d, transposed.data(), d, kChunk, products.data(),
                             d);
      for (std::size_t i = 0; i < d * d; ++i) local[i] += products[i];
    }
#pragma omp critical
    for (std::size_t i = 0; i < d * d; ++i) total[i] += local[i];
  }
  for (double& value : total) value /= static_cast<double>(x.rows);
  return total;
}

}  // namespace annbench
