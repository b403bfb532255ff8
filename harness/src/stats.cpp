#include "stats.h"

#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace annbench {

namespace {

// count[u] = number of ways m values of x and n values of y interleave with exactly u pairs
// (x_i > y_j); the recursion takes off the largest value: it is an x (adding n pairs) or a y.
std::vector<double> u_distribution(std::size_t m, std::size_t n) {
  // table[i][j] for the current i, over j = 0..n, each a vector over u = 0..i*j.
  std::vector<std::vector<double>> previous(n + 1), current(n + 1);
  for (std::size_t j = 0; j <= n; ++j) previous[j] = {1.0};  // i = 0: one arrangement, u = 0
  for (std::size_t i = 1; i <= m; ++i) {
    current[0] = {1.0};
    for (std::size_t j = 1; j <= n; ++j) {
      std::vector<double> counts(i * j + 1, 0.0);
      // Largest is x: it beats all j values of y.
      for (std::size_t u = 0; u < previous[j].size(); ++u) counts[u + j] += previous[j][u];
      // Largest is y: it beats no x.
      for (std::size_t u = 0; u < current[j - 1].size(); ++u) counts[u] += current[j - 1][u];
      current[j] = std::move(counts);
    }
    std::swap(previous, current);
  }
  return previous[n];
}

}  // namespace

double mann_whitney_less(std::span<const double> x, std::span<const double> y) {
  ANNBENCH_CHECK(!x.empty() && !y.empty(), "Mann-Whitney test needs two non-empty samples");
  const std::size_t m = x.size();
  const std::size_t n = y.size();
  double u = 0;
  bool ties = false;
  for (double a : x) {
    for (double b : y) {
      if (a > b) {
        u += 1;
      } else if (a == b) {
        u += 0.5;
        ties = true;
      }
    }
  }
  if (!ties && m <= 50 && n <= 50) {
    const std::vector<double> counts = u_distribution(m, n);
    double total = 0, at_most = 0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
      total += counts[k];
      if (static_cast<double>(k) <= u) at_most += counts[k];
    }
    return at_most / total;
  }
  // Normal approximation; the variance shrinks by the tied groups of the pooled sample.
  std::vector<double> pooled(x.begin(), x.end());
  pooled.insert(pooled.end(), y.begin(), y.end());
  std::sort(pooled.begin(), pooled.end());
  double tie_term = 0;
  for (std::size_t i = 0; i < pooled.size();) {
    std::size_t j = i;
    while (j < pooled.size() && pooled[j] == pooled[i]) ++j;
    const double t = static_cast<double>(j - i);
    tie_term += t * t * t - t;
    i = j;
  }
  const double md = static_cast<double>(m), nd = static_cast<double>(n), big_n = md + nd;
  const double mean = md * nd / 2;
  const double variance = md * nd / 12 * ((big_n + 1) - tie_term / (big_n * (big_n - 1)));
  if (variance <= 0) return 1.0;  // every value equal: no evidence either way
  const double z = (u - mean + 0.5) / std::sqrt(variance);
  return 0.5 * std::erfc(-z / std::sqrt(2.0));
}

double median(std::span<const double> values) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  const std::size_t half = sorted.size() / 2;
  return sorted.size() % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
}

}  // namespace annbench
