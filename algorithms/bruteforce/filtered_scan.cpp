// Exact filtered search for bruteforce; see filtered_scan.h.

#include "filtered_scan.h"

#include <annbench/common/block_distance.h>
#include <annbench/common/distance.h>
#include <annbench/common/topk.h>

#include <algorithm>
#include <cmath>

namespace annbench::bruteforce {
namespace {

// Rows per block-kernel call in the dense scan: the products stay on the stack, and 256 rows of
// up to ~1000 floats stream through L2 while the next block's rows are read.
constexpr std::size_t kBlockRows = 256;

// Allowed rows are scattered over the base (ascending, but with gaps): ask for the rows a couple
// of positions ahead so their misses overlap the distances being computed.
constexpr std::size_t kPrefetchAhead = 2;

// One float rounding (unit roundoff of binary32).
constexpr double kUnitRoundoff = 1.0 / (1 << 24);

void prefetch_row(const float* row, std::size_t dim) {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (std::size_t offset = 0; offset < dim * sizeof(float); offset += 64)
    __builtin_prefetch(bytes + offset);
}

double squared_norm(const float* x, std::size_t dim) {
  return -distance_kernels().exact(Metric::InnerProduct, x, x, dim);
}

// Beyond k, as many more candidates as ExactKnn keeps, so float rounding near the k-th rarely
// forces the rescan.
std::size_t candidate_count(std::size_t k) {
  return k + std::max<std::size_t>(16, k / 4);
}

}  // namespace

struct FilteredScan::Query {
  const float* raw = nullptr;   // as given: exact distances use it
  const float* scan = nullptr;  // what the float scores use (unit length for angular)
  double norm2 = 0.0;           // |q|^2
  double error = 0.0;           // bound on |float score - exact score|
};

void FilteredScan::prepare(MatrixView base, Metric metric) {
  base_ = base;
  metric_ = metric;
  per_row_.clear();
  const auto n = static_cast<std::int64_t>(base.rows);
  if (metric != Metric::InnerProduct) per_row_.resize(base.rows);
  double max_norm2 = 0.0;
#pragma omp parallel for schedule(static) reduction(max : max_norm2)
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::size_t>(i);
    const double norm2 = squared_norm(base.row(row), base.dim);
    if (metric == Metric::L2) per_row_[row] = static_cast<float>(norm2);
    if (metric == Metric::Angular)
      per_row_[row] = norm2 > 0.0 ? static_cast<float>(1.0 / std::sqrt(norm2)) : 0.0f;
    max_norm2 = std::max(max_norm2, norm2);
  }
  max_norm_ = std::sqrt(max_norm2);
}

// The bounds: a float inner product of length d errs by at most g sum |q_i x_i| <= g |q||x|
// (g = dot_error_factor); the per-row terms and the final subtraction or product add a few
// roundings; exact_distance itself is a double sum, good to ~1e-12 of the same scale. Each
// bound is then taken with generous slack, since a loose bound only costs an occasional rescan.
FilteredScan::Query FilteredScan::prepare_query(const float* query,
                                                std::vector<float>& normalised) const {
  const std::size_t dim = base_.dim;
  const double g = dot_error_factor(dim, std::min(distance_kernels().lanes, block_kernels().lanes));
  const double u = kUnitRoundoff;
  Query prepared;
  prepared.raw = query;
  prepared.scan = query;
  prepared.norm2 = squared_norm(query, dim);
  const double norm = std::sqrt(prepared.norm2);
  switch (metric_) {
    case Metric::L2:
      // |x|^2 - 2 <q, x> against the true value: 2 g |q||x| + roundings of |x|^2 and the sum.
      prepared.error = (2.5 * g + 8.0 * u + 1e-12) * (norm + max_norm_) * (norm + max_norm_);
      break;
    case Metric::InnerProduct:
      prepared.error = (1.5 * g + 4.0 * u + 1e-12) * norm * max_norm_;
      break;
    case Metric::Angular:
      // -<q^, x> / |x| against -cos: g plus the roundings of q^, 1 / |x| and the product.
      normalised.resize(dim);
      for (std::size_t i = 0; i < dim; ++i)
        normalised[i] = norm == 0.0 ? 0.0f : static_cast<float>(query[i] / norm);
      prepared.scan = normalised.data();
      prepared.error = 2.0 * g + 16.0 * u + 1e-12;
      break;
  }
  return prepared;
}

float FilteredScan::score(std::size_t row, float inner_product) const {
  switch (metric_) {
    case Metric::L2: return per_row_[row] - 2.0f * inner_product;
    case Metric::Angular: return -inner_product * per_row_[row];
    case Metric::InnerProduct: return -inner_product;
  }
  return -inner_product;
}

// The exact distance on the float scores' scale: |q - x|^2 - |q|^2, -cos, -<q, x>.
double FilteredScan::exact_score(const Query& query, double distance) const {
  switch (metric_) {
    case Metric::L2: return distance * distance - query.norm2;
    case Metric::Angular: return distance - 1.0;
    case Metric::InnerProduct: return distance;
  }
  return distance;
}

std::size_t FilteredScan::search(const float* query, std::size_t k, const Filter& filter,
                                 std::span<const std::int64_t> ids, Neighbor* out) const {
  std::fill_n(out, k, Neighbor{});
  const std::size_t dim = base_.dim;
  const bool mapped = !ids.empty();
  // A static index's rows are the filter's rows; rows beyond the filter's base are not allowed.
  const std::size_t rows = mapped ? base_.rows : std::min(base_.rows, filter.base_rows());
  if (k == 0 || rows == 0 || filter.count() == 0) return 0;
  const auto id_of = [&](std::size_t row) {
    return mapped ? ids[row] : static_cast<std::int64_t>(row);
  };
  const auto allowed = [&](std::size_t row) {
    const std::int64_t id = id_of(row);
    return id >= 0 && static_cast<std::size_t>(id) < filter.base_rows() && filter.allowed(id);
  };
  // Sparse: the filter's allowed rows, cut to the rows this index has.
  std::span<const std::int64_t> allowed_rows = filter.ids();
  if (!mapped) {
    const auto end =
        std::lower_bound(allowed_rows.begin(), allowed_rows.end(), static_cast<std::int64_t>(rows));
    allowed_rows = allowed_rows.first(static_cast<std::size_t>(end - allowed_rows.begin()));
  }
  // A changed index's rows are not the filter's ids, so it always scans every row.
  const bool dense = mapped || filter.selectivity() >= kDenseSelectivity;

  std::vector<float> normalised;
  const Query prepared = prepare_query(query, normalised);
  const auto inner_product = distance_kernels().inner_product;
  // Calls visit(row, float score) for every allowed row; returns the distances computed.
  const auto scan = [&](auto&& visit, bool use_block_kernel) -> std::size_t {
    if (dense && use_block_kernel) {
      float products[kBlockRows];
      const auto inner_products = block_kernels().inner_products;
      for (std::size_t x0 = 0; x0 < rows; x0 += kBlockRows) {
        const std::size_t xn = std::min(kBlockRows, rows - x0);
        inner_products(prepared.scan, 1, base_.row(x0), xn, dim, products, kBlockRows);
        for (std::size_t j = 0; j < xn; ++j) {
          if (allowed(x0 + j)) visit(x0 + j, score(x0 + j, products[j]));
        }
      }
      return rows;
    }
    if (dense) {
      for (std::size_t row = 0; row < rows; ++row) {
        if (allowed(row)) visit(row, score(row, inner_product(prepared.scan, base_.row(row), dim)));
      }
      return rows;
    }
    const std::size_t count = allowed_rows.size();
    const auto row_at = [&](std::size_t i) { return static_cast<std::size_t>(allowed_rows[i]); };
    for (std::size_t i = 0; i < std::min(kPrefetchAhead, count); ++i)
      prefetch_row(base_.row(row_at(i)), dim);
    for (std::size_t i = 0; i < count; ++i) {
      if (i + kPrefetchAhead < count) prefetch_row(base_.row(row_at(i + kPrefetchAhead)), dim);
      const std::size_t row = row_at(i);
      visit(row, score(row, inner_product(prepared.scan, base_.row(row), dim)));
    }
    return count;
  };

  TopK<float> candidates(candidate_count(k));
  float worst = candidates.worst();
  std::size_t offered = 0;  // allowed rows seen
  std::size_t computed = scan(
      [&](std::size_t row, float s) {
        ++offered;
        if (s < worst) {
          candidates.push(s, static_cast<std::int64_t>(row));
          worst = candidates.worst();
        }
      },
      true);

  const auto exact = distance_kernels().exact;
  const std::vector<TopK<float>::Entry> chosen = candidates.take_sorted();
  // Ranked by the caller's ids, so that ties go to the smaller id as in a naive scan.
  TopK<double> best(k);
  const auto row_of = [&](std::size_t i) {
    return base_.row(static_cast<std::size_t>(chosen[i].id));
  };
  for (std::size_t i = 0; i < std::min(kPrefetchAhead, chosen.size()); ++i)
    prefetch_row(row_of(i), dim);
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (i + kPrefetchAhead < chosen.size()) prefetch_row(row_of(i + kPrefetchAhead), dim);
    best.push(exact(metric_, prepared.raw, row_of(i), dim),
              id_of(static_cast<std::size_t>(chosen[i].id)));
  }
  computed += chosen.size();
  if (offered > chosen.size()) {
    // Every allowed row left out scored at least chosen.back(), so its exact score is at least
    // that minus the bound: beyond the k-th exact score, none of them can enter the top k.
    const double kth = exact_score(prepared, best.worst());
    if (!(static_cast<double>(chosen.back().distance) - prepared.error > kth)) {
      // Every row at least as near as the k-th scores at most kth + error: keep all of them.
      const double limit = kth + prepared.error;
      best.reset(k);
      std::size_t checked = 0;
      const std::size_t rescanned = scan(
          [&](std::size_t row, float s) {
            if (static_cast<double>(s) <= limit) {
              best.push(exact(metric_, prepared.raw, base_.row(row), dim), id_of(row));
              ++checked;
            }
          },
          false);
      computed += rescanned + checked;
    }
  }
  best.write_sorted(out, k);
  return computed;
}

}  // namespace annbench::bruteforce
