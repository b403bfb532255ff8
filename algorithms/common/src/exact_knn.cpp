// Exact kNN by full scan: float candidate scores, exact re-ranking, and a proof that the margin
// of candidates was wide enough (else a rescan). See exact_knn.h.

#include <annbench/common/block_distance.h>
#include <annbench/common/distance.h>
#include <annbench/common/exact_knn.h>
#include <annbench/error.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace annbench {
namespace {

// Queries per block in search_batch: a multiple of the block kernel's 8-row tile. 128 rows of
// 784 floats (400 KiB) share L2 with one pass of base rows.
constexpr std::size_t kQueryTile = 8;
constexpr std::size_t kMaxQueryBlock = 128;

// Base rows per block-kernel call: about the 512 KiB the kernel keeps in L2 per pass.
std::size_t base_block_rows(std::size_t dim) {
  return std::clamp<std::size_t>(std::size_t{512} * 1024 / (std::max<std::size_t>(dim, 1) * sizeof(float)), 64,
                                 1024);
}

// Beyond k, keep this many more candidates so that float rounding near the k-th rarely needs a
// rescan (it does for heavy ties, which the rescan handles exactly).
std::size_t candidate_margin(std::size_t k) {
  return std::max<std::size_t>(16, k / 4);
}

double squared_norm(const float* x, std::size_t dim) {
  return -distance_kernels().exact(Metric::InnerProduct, x, x, dim);
}

// Rows are scaled in double and rounded once, so |normalised|^2 = 1 within a few ulps.
void normalise(const float* source, float* target, std::size_t dim) {
  const double norm = std::sqrt(squared_norm(source, dim));
  for (std::size_t i = 0; i < dim; ++i) {
    target[i] = norm == 0.0 ? 0.0f : static_cast<float>(source[i] / norm);
  }
}

// Candidates are scattered over the base, each row many cache lines long: ask for the rows a
// couple of candidates ahead so their misses overlap the exact distances being computed.
constexpr std::size_t kPrefetchAhead = 2;

void prefetch_row(const float* row, std::size_t dim) {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (std::size_t offset = 0; offset < dim * sizeof(float); offset += 64) {
    __builtin_prefetch(bytes + offset);
  }
}

}  // namespace

ExactKnn::ExactKnn(MatrixView base, Metric metric) : base_(base), metric_(metric) {
  ANNBENCH_CHECK(base.data != nullptr || base.rows == 0, "ExactKnn: base has {} rows but no data",
                 base.rows);
  const auto n = static_cast<std::int64_t>(base.rows);
  const std::size_t dim = base.dim;
  error_factor_ = dot_error_factor(dim, std::min(distance_kernels().lanes, block_kernels().lanes));
  if (metric == Metric::Angular) {
    normalised_ = FloatMatrix(base.rows, dim);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const auto row = static_cast<std::size_t>(i);
      normalise(base.row(row), normalised_.row(row), dim);
    }
    max_norm_ = 1.0;
    return;
  }
  if (metric == Metric::L2) bias_.resize(base.rows);
  double max_norm2 = 0.0;
#pragma omp parallel for schedule(static) reduction(max : max_norm2)
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::size_t>(i);
    const double norm2 = squared_norm(base.row(row), dim);
    if (metric == Metric::L2) bias_[row] = static_cast<float>(norm2);
    max_norm2 = std::max(max_norm2, norm2);
  }
  max_norm_ = std::sqrt(max_norm2);
}

std::size_t ExactKnn::owned_bytes() const {
  return normalised_.bytes() + bias_.capacity() * sizeof(float);
}

const float* ExactKnn::scan_row(std::size_t i) const {
  return metric_ == Metric::Angular ? normalised_.row(i) : base_.row(i);
}

ExactKnn::Query ExactKnn::prepare(const float* query, float* normalised) const {
  Query prepared;
  prepared.raw = query;
  prepared.scan = query;
  prepared.norm2 = squared_norm(query, dim());
  const double norm = std::sqrt(prepared.norm2);
  // Scale of the terms each float score sums (Cauchy-Schwarz bounds sum |q_i x_i| by |q||x|).
  double scale = 0.0;
  switch (metric_) {
    case Metric::L2: scale = (norm + max_norm_) * (norm + max_norm_); break;
    case Metric::Angular:
      normalise(query, normalised, dim());
      prepared.scan = normalised;
      // Unit vectors, plus the rounding of the normalised copies themselves.
      scale = 2.0;
      break;
    case Metric::InnerProduct: scale = norm * max_norm_; break;
  }
  prepared.error = error_factor_ * scale;
  return prepared;
}

double ExactKnn::exact_score(const Query& query, double distance) const {
  switch (metric_) {
    case Metric::L2: return distance * distance - query.norm2;
    case Metric::Angular: return distance - 1.0;
    case Metric::InnerProduct: return distance;
  }
  return distance;
}

float ExactKnn::score(std::size_t i, float inner_product) const {
  return metric_ == Metric::L2 ? bias_[i] - 2.0f * inner_product : -inner_product;
}

std::size_t ExactKnn::candidate_count(std::size_t k) const {
  return k + candidate_margin(k);
}

void ExactKnn::scan_block(const float* inner_products, std::size_t first, std::size_t count,
                          TopK<float>& candidates, std::uint32_t* hit_ids,
                          float* hit_scores) const {
  // Filter against the threshold on entry (worst() only falls, so this keeps a superset), then
  // offer the few survivors.
  const bool l2 = metric_ == Metric::L2;
  const std::size_t hits = block_kernels().scores_below(
      inner_products, l2 ? bias_.data() + first : nullptr, l2 ? 2.0f : 1.0f, count,
      candidates.worst(), hit_ids, hit_scores);
  float worst = candidates.worst();
  for (std::size_t h = 0; h < hits; ++h) {
    if (hit_scores[h] < worst) {
      candidates.push(hit_scores[h], static_cast<std::int64_t>(first + hit_ids[h]));
      worst = candidates.worst();
    }
  }
}

void ExactKnn::finish(const Query& query, TopK<float>& candidates, std::size_t k,
                      Neighbor* out) const {
  const bool saw_all = size() <= candidates.capacity();
  const auto exact = distance_kernels().exact;
  const std::vector<TopK<float>::Entry> chosen = candidates.take_sorted();
  TopK<double> best(k);
  const auto row_of = [&](std::size_t i) {
    return base_.row(static_cast<std::size_t>(chosen[i].id));
  };
  for (std::size_t i = 0; i < std::min(kPrefetchAhead, chosen.size()); ++i)
    prefetch_row(row_of(i), dim());
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (i + kPrefetchAhead < chosen.size()) prefetch_row(row_of(i + kPrefetchAhead), dim());
    best.push(exact(metric_, query.raw, row_of(i), dim()), chosen[i].id);
  }
  if (!saw_all && k > 0) {
    // Every point left out scored at least chosen.back(), so its exact score is at least that
    // minus the error bound; if that is beyond the k-th exact score, none of them can displace
    // the k kept.
    const double kth = exact_score(query, best.worst());
    if (!(static_cast<double>(chosen.back().distance) - query.error > kth)) {
      rescans_.fetch_add(1, std::memory_order_relaxed);
      // Any point at least as near as the k-th kept one scores at most kth + error: keep all of
      // those (ties included), whatever their number.
      const double limit = kth + query.error;
      const auto inner_product = distance_kernels().inner_product;
      best.reset(k);
      for (std::size_t i = 0; i < size(); ++i) {
        const float s = score(i, inner_product(query.scan, scan_row(i), dim()));
        if (static_cast<double>(s) <= limit) {
          best.push(exact(metric_, query.raw, base_.row(i), dim()), static_cast<std::int64_t>(i));
        }
      }
    }
  }
  best.write_sorted(out, k);
}

void ExactKnn::search(const float* query, std::size_t k, Neighbor* out) const {
  if (k == 0) return;
  std::vector<float> normalised(metric_ == Metric::Angular ? dim() : 0);
  const Query prepared = prepare(query, normalised.data());
  TopK<float> candidates(candidate_count(k));
  const auto inner_product = distance_kernels().inner_product;
  float worst = candidates.worst();
  for (std::size_t i = 0; i < size(); ++i) {
    const float s = score(i, inner_product(prepared.scan, scan_row(i), dim()));
    if (s < worst) {
      candidates.push(s, static_cast<std::int64_t>(i));
      worst = candidates.worst();
    }
  }
  finish(prepared, candidates, k, out);
}

void ExactKnn::search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
  ANNBENCH_CHECK(queries.dim == dim(), "exact search: queries have dimension {}, the base has {}",
                 queries.dim, dim());
  const std::size_t nq = queries.rows;
  if (nq == 0 || k == 0) return;
  const auto threads = static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
  // Enough blocks to keep every thread busy, each a whole number of kernel tiles.
  std::size_t query_block = (nq + threads - 1) / threads;
  query_block = (query_block + kQueryTile - 1) / kQueryTile * kQueryTile;
  query_block = std::clamp(query_block, kQueryTile, kMaxQueryBlock);
  const auto blocks = static_cast<std::int64_t>((nq + query_block - 1) / query_block);
  const std::size_t base_block = base_block_rows(dim());
  const std::size_t n = size();
  const std::size_t d = dim();
  const bool angular = metric_ == Metric::Angular;
  const auto inner_products = block_kernels().inner_products;

#pragma omp parallel
  {
    std::vector<float> normalised(angular ? query_block * d : 0);
    std::vector<float> products(query_block * base_block);
    std::vector<Query> prepared(query_block);
    std::vector<TopK<float>> candidates(query_block);
    std::vector<std::uint32_t> hit_ids(base_block);
    std::vector<float> hit_scores(base_block);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::size_t q0 = static_cast<std::size_t>(b) * query_block;
      const std::size_t m = std::min(query_block, nq - q0);
      for (std::size_t i = 0; i < m; ++i) {
        prepared[i] = prepare(queries.row(q0 + i), angular ? normalised.data() + i * d : nullptr);
        candidates[i].reset(candidate_count(k));
      }
      const float* scan_queries = angular ? normalised.data() : queries.row(q0);
      for (std::size_t x0 = 0; x0 < n; x0 += base_block) {
        const std::size_t xn = std::min(base_block, n - x0);
        inner_products(scan_queries, m, scan_row(x0), xn, d, products.data(), base_block);
        for (std::size_t i = 0; i < m; ++i) {
          scan_block(products.data() + i * base_block, x0, xn, candidates[i], hit_ids.data(),
                     hit_scores.data());
        }
      }
      for (std::size_t i = 0; i < m; ++i) finish(prepared[i], candidates[i], k, out + (q0 + i) * k);
    }
  }
}

std::optional<float> ExactKnn::range_score_limit(const Query& query, float radius) const {
  // Distances in these metrics are never negative, and exact_score squares the L2 radius.
  if (radius < 0.0f && metric_ != Metric::InnerProduct) return std::nullopt;
  if (std::isinf(radius)) return std::numeric_limits<float>::infinity();
  const double limit = exact_score(query, static_cast<double>(radius)) + query.error;
  // Rounded up, so that every score the bound cannot exclude passes a `<=` test.
  float rounded = static_cast<float>(limit);
  if (static_cast<double>(rounded) < limit)
    rounded = std::nextafter(rounded, std::numeric_limits<float>::infinity());
  return rounded;
}

void ExactKnn::check_range(const Query& query, float radius, std::size_t id,
                           std::vector<Neighbor>& out) const {
  const double distance = distance_kernels().exact(metric_, query.raw, base_.row(id), dim());
  if (distance <= static_cast<double>(radius))
    out.push_back({static_cast<std::int64_t>(id), static_cast<float>(distance)});
}

void ExactKnn::range_search(const float* query, float radius, std::vector<Neighbor>& out) const {
  ANNBENCH_CHECK(!std::isnan(radius), "range search: radius is NaN");
  std::vector<float> normalised(metric_ == Metric::Angular ? dim() : 0);
  const Query prepared = prepare(query, normalised.data());
  const std::optional<float> limit = range_score_limit(prepared, radius);
  if (!limit) return;
  const auto inner_product = distance_kernels().inner_product;
  for (std::size_t i = 0; i < size(); ++i) {
    if (score(i, inner_product(prepared.scan, scan_row(i), dim())) <= *limit)
      check_range(prepared, radius, i, out);
  }
}

void ExactKnn::range_search_batch(MatrixView queries, float radius,
                                  std::vector<std::vector<Neighbor>>& out) const {
  ANNBENCH_CHECK(!std::isnan(radius), "range search: radius is NaN");
  ANNBENCH_CHECK(queries.dim == dim(), "range search: queries have dimension {}, the base has {}",
                 queries.dim, dim());
  const std::size_t nq = queries.rows;
  out.assign(nq, {});
  if (nq == 0) return;
  const auto threads = static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
  std::size_t query_block = (nq + threads - 1) / threads;
  query_block = (query_block + kQueryTile - 1) / kQueryTile * kQueryTile;
  query_block = std::clamp(query_block, kQueryTile, kMaxQueryBlock);
  const auto blocks = static_cast<std::int64_t>((nq + query_block - 1) / query_block);
  const std::size_t base_block = base_block_rows(dim());
  const std::size_t n = size();
  const std::size_t d = dim();
  const bool angular = metric_ == Metric::Angular;
  const bool l2 = metric_ == Metric::L2;
  const auto inner_products = block_kernels().inner_products;
  const auto scores_below = block_kernels().scores_below;

#pragma omp parallel
  {
    std::vector<float> normalised(angular ? query_block * d : 0);
    std::vector<float> products(query_block * base_block);
    std::vector<Query> prepared(query_block);
    std::vector<std::optional<float>> limits(query_block);
    std::vector<std::uint32_t> hit_ids(base_block);
    std::vector<float> hit_scores(base_block);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::size_t q0 = static_cast<std::size_t>(b) * query_block;
      const std::size_t m = std::min(query_block, nq - q0);
      for (std::size_t i = 0; i < m; ++i) {
        prepared[i] = prepare(queries.row(q0 + i), angular ? normalised.data() + i * d : nullptr);
        limits[i] = range_score_limit(prepared[i], radius);
      }
      const float* scan_queries = angular ? normalised.data() : queries.row(q0);
      for (std::size_t x0 = 0; x0 < n; x0 += base_block) {
        const std::size_t xn = std::min(base_block, n - x0);
        inner_products(scan_queries, m, scan_row(x0), xn, d, products.data(), base_block);
        for (std::size_t i = 0; i < m; ++i) {
          if (!limits[i]) continue;
          // scores_below keeps s < threshold: one float step above the limit keeps s <= limit.
          const float threshold =
              std::nextafter(*limits[i], std::numeric_limits<float>::infinity());
          const std::size_t hits =
              scores_below(products.data() + i * base_block, l2 ? bias_.data() + x0 : nullptr,
                           l2 ? 2.0f : 1.0f, xn, threshold, hit_ids.data(), hit_scores.data());
          for (std::size_t h = 0; h < hits; ++h)
            check_range(prepared[i], radius, x0 + hit_ids[h], out[q0 + i]);
        }
      }
    }
  }
}

}  // namespace annbench
