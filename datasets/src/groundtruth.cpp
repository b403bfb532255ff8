// Exact ground truth: the blocked exact scan of annbench_common (SIMD block kernel, OpenMP over
// query blocks, exact re-ranking), packed into the dataset file's shapes.

#include <annbench/common/distance.h>
#include <annbench/common/exact_knn.h>
#include <annbench/common/label_filter.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace annbench {

GroundTruth compute_ground_truth(MatrixView train, MatrixView queries, Metric metric,
                                 std::size_t k) {
  ANNBENCH_CHECK(train.dim == queries.dim,
                 "ground truth: train has dimension {}, test has dimension {}", train.dim,
                 queries.dim);
  // Dataset files store neighbour ids as int32.
  ANNBENCH_CHECK(train.rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "ground truth: {} train vectors do not fit int32 neighbour ids", train.rows);
  k = std::min(k, train.rows);
  GroundTruth truth{IdMatrix(queries.rows, k), FloatMatrix(queries.rows, k)};
  if (k == 0 || queries.rows == 0) return truth;

  const ExactKnn knn(train, metric);
  std::vector<Neighbor> found(queries.rows * k);
  knn.search_batch(queries, k, found.data());
  for (std::size_t i = 0; i < found.size(); ++i) {
    // Distances come from exact_distance, rounded once to float: the harness recomputes
    // returned neighbours the same way, so a true neighbour compares equal, not "close".
    truth.neighbors.data()[i] = static_cast<std::int32_t>(found[i].id);
    truth.distances.data()[i] = found[i].distance;
  }
  return truth;
}

RangeGroundTruth compute_range_ground_truth(MatrixView train, MatrixView queries, Metric metric,
                                            double radius) {
  ANNBENCH_CHECK(train.dim == queries.dim,
                 "range ground truth: train has dimension {}, test has dimension {}", train.dim,
                 queries.dim);
  ANNBENCH_CHECK(!std::isnan(radius), "range ground truth: radius is NaN");
  ANNBENCH_CHECK(train.rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "range ground truth: {} train vectors do not fit int32 neighbour ids", train.rows);
  // Modules receive the radius as a float: the truth uses (and records) that same value.
  const auto radius_f = static_cast<float>(radius);
  RangeGroundTruth truth;
  truth.radius = static_cast<double>(radius_f);
  truth.lims.assign(queries.rows + 1, 0);
  if (queries.rows == 0) return truth;
  std::vector<std::vector<Neighbor>> found;
  const ExactKnn scan(train, metric);
  scan.range_search_batch(queries, radius_f, found);
  for (std::size_t q = 0; q < queries.rows; ++q) {
    auto& hits = found[q];
    std::sort(hits.begin(), hits.end(), [](const Neighbor& a, const Neighbor& b) {
      return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
    });
    truth.lims[q + 1] = truth.lims[q] + hits.size();
    for (const Neighbor& hit : hits) {
      truth.ids.push_back(static_cast<std::int32_t>(hit.id));
      truth.distances.push_back(hit.distance);
    }
  }
  return truth;
}

namespace {

// A candidate of the filtered scan: exact distance, then id, so ties go to the smaller id.
struct Scored {
  double distance;
  std::int64_t id;
  bool operator<(const Scored& other) const {
    return distance < other.distance || (distance == other.distance && id < other.id);
  }
};

// The filtered scan of a block of queries over their allowed rows, in two passes: a float score
// with a proven error bound for every allowed row, then exact_distance only for the rows whose
// score interval can reach the k-th smallest upper bound. Any row among the true k nearest (ties
// included) has score - bound <= its true score <= the k-th true score <= the k-th smallest
// score + bound, so it is a candidate; the candidates are ranked exactly, and the result is a
// naive exact scan's.
//
// Scores (monotone in the dataset distance): euclidean sum (q - x)^2, its float sum's error at
// most eps * the sum; dot -<q, x>, error at most eps |q| |x|; angular 1 - <q, x> / (|q| |x|),
// error at most eps (eps: dot_error_factor, plus the rounding of the differences). The slack
// terms cover underflow and the double rounding inside exact_distance itself.
//
// The first pass walks the train rows in cache-sized blocks and scores each block for every
// query of the query block that allows rows in it: with many queries per block each train row
// is read from memory once per query block instead of once per query, which is what bounds the
// speed of a scan over scattered rows.
class FilteredScan {
 public:
  FilteredScan(const Dataset& dataset, const DistanceKernels& kernels,
               const std::vector<double>& norms)
      : dataset_(dataset),
        kernels_(kernels),
        norms_(norms),
        dim_(dataset.dim()),
        eps_(dot_error_factor(dataset.dim(), kernels.lanes) * 1.01 + 4 * std::ldexp(1.0, -24)),
        underflow_(static_cast<double>(dataset.dim()) * 1e-37),
        block_rows_(std::max<std::size_t>(
            8, (256u << 10) / std::max<std::size_t>(1, dataset.dim() * sizeof(float)))) {}

  // queries[i]'s allowed rows are ids[i] (ascending); out[i] receives its k nearest.
  void run(std::span<const float* const> queries, std::span<const std::vector<std::int64_t>> ids,
           std::size_t k, std::vector<std::vector<Scored>>& out) {
    const std::size_t count = queries.size();
    scores_.resize(std::max(scores_.size(), count));
    cursors_.assign(count, 0);
    query_norms_.assign(count, 0.0);
    out.resize(std::max(out.size(), count));
    for (std::size_t i = 0; i < count; ++i) {
      scores_[i].resize(ids[i].size() > k ? ids[i].size() : 0);
      if (dataset_.metric != Metric::L2) query_norms_[i] = norm(queries[i]);
    }
    const std::size_t rows = dataset_.train.rows();
    for (std::size_t first = 0; first < rows; first += block_rows_) {
      const auto end = static_cast<std::int64_t>(std::min(rows, first + block_rows_));
      for (std::size_t i = 0; i < count; ++i) {
        if (scores_[i].empty()) continue;
        const std::vector<std::int64_t>& list = ids[i];
        std::size_t& at = cursors_[i];
        for (; at < list.size() && list[at] < end; ++at)
          scores_[i][at] = score(queries[i], query_norms_[i], list[at]);
      }
    }
    for (std::size_t i = 0; i < count; ++i)
      finish(queries[i], query_norms_[i], ids[i], k, i, out[i]);
  }

 private:
  void finish(const float* query, double query_norm, const std::vector<std::int64_t>& ids,
              std::size_t k, std::size_t slot, std::vector<Scored>& out) {
    out.clear();
    if (ids.size() <= k) {
      for (const std::int64_t id : ids) out.push_back({exact(query, id), id});
    } else {
      const std::vector<double>& scores = scores_[slot];
      high_.resize(ids.size());
      for (std::size_t j = 0; j < ids.size(); ++j)
        high_[j] = scores[j] + bound(scores[j], query_norm, ids[j]);
      std::nth_element(high_.begin(), high_.begin() + static_cast<std::ptrdiff_t>(k - 1),
                       high_.end());
      const double limit = high_[k - 1];
      for (std::size_t j = 0; j < ids.size(); ++j) {
        if (scores[j] - bound(scores[j], query_norm, ids[j]) <= limit)
          out.push_back({exact(query, ids[j]), ids[j]});
      }
    }
    const std::size_t kept = std::min(k, out.size());
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(kept), out.end());
    out.resize(kept);
  }

  double exact(const float* query, std::int64_t id) const {
    return kernels_.exact(dataset_.metric, query, row(id), dim_);
  }
  const float* row(std::int64_t id) const {
    return dataset_.train.row(static_cast<std::size_t>(id));
  }
  double norm(const float* v) const {
    double sum = 0;
    for (std::size_t i = 0; i < dim_; ++i) sum += static_cast<double>(v[i]) * v[i];
    return std::sqrt(sum);
  }
  double row_norm(std::int64_t id) const {
    return norms_.empty() ? 0.0 : norms_[static_cast<std::size_t>(id)];
  }

  double score(const float* query, double query_norm, std::int64_t id) const {
    switch (dataset_.metric) {
      case Metric::L2: return kernels_.l2_squared(query, row(id), dim_);
      case Metric::InnerProduct:
        return -static_cast<double>(kernels_.inner_product(query, row(id), dim_));
      case Metric::Angular: {
        const double scale = query_norm * row_norm(id);
        if (scale == 0) return 1.0;  // exact_distance's convention for a zero vector
        return 1.0 - static_cast<double>(kernels_.inner_product(query, row(id), dim_)) / scale;
      }
    }
    return 0.0;
  }

  // Bound on |score - the exact score| for `score` of row `id`.
  double bound(double score, double query_norm, std::int64_t id) const {
    switch (dataset_.metric) {
      case Metric::L2: return (eps_ / (1 - eps_) + 1e-9) * score + underflow_;
      case Metric::InnerProduct: return (eps_ + 1e-9) * query_norm * row_norm(id) + underflow_;
      case Metric::Angular: {
        const double scale = query_norm * row_norm(id);
        return scale == 0 ? 1e-9 : eps_ + 1e-9 + underflow_ / scale;
      }
    }
    return std::numeric_limits<double>::infinity();
  }

  const Dataset& dataset_;
  const DistanceKernels& kernels_;
  const std::vector<double>& norms_;  // per train row (dot, angular); empty for euclidean
  std::size_t dim_;
  double eps_;
  double underflow_;
  std::size_t block_rows_;
  std::vector<std::vector<double>> scores_;  // per query of the block, per allowed row
  std::vector<std::size_t> cursors_;
  std::vector<double> query_norms_;
  std::vector<double> high_;
};

}  // namespace

GroundTruth compute_filtered_ground_truth(const Dataset& dataset, std::size_t k,
                                          std::vector<std::size_t>* passing) {
  const std::string file = dataset.path.string();
  ANNBENCH_CHECK(dataset.filters.has_value(),
                 "filtered ground truth for '{}': the dataset was loaded without its filter "
                 "metadata",
                 file);
  const FilterMetadata& meta = *dataset.filters;
  const std::size_t rows = dataset.train.rows();
  const std::size_t queries = dataset.test.rows();
  const std::size_t dim = dataset.train.cols();
  ANNBENCH_CHECK(dataset.test.cols() == dim,
                 "filtered ground truth for '{}': train has dimension {}, test has dimension {}",
                 file, dim, dataset.test.cols());
  ANNBENCH_CHECK(rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "filtered ground truth for '{}': {} train vectors do not fit int32 neighbour ids",
                 file, rows);
  const bool by_labels = meta.test_filters.has_value();
  const bool by_range = !meta.test_attr_range.empty();
  ANNBENCH_CHECK(by_labels || by_range, "filtered ground truth for '{}': no query filters", file);
  if (by_labels) {
    ANNBENCH_CHECK(meta.test_filters->rows() == queries,
                   "filtered ground truth for '{}': {} query filters for {} queries", file,
                   meta.test_filters->rows(), queries);
    ANNBENCH_CHECK(meta.train_labels && meta.train_labels->rows() == rows,
                   "filtered ground truth for '{}': query label filters need labels for all {} "
                   "train rows",
                   file, rows);
  }
  if (by_range) {
    ANNBENCH_CHECK(meta.test_attr_range.rows() == queries && meta.test_attr_range.cols() == 2,
                   "filtered ground truth for '{}': test_attr_range is {} x {} for {} queries",
                   file, meta.test_attr_range.rows(), meta.test_attr_range.cols(), queries);
    ANNBENCH_CHECK(meta.train_attr.size() == rows,
                   "filtered ground truth for '{}': {} train_attr values for {} train rows", file,
                   meta.train_attr.size(), rows);
  }

  k = std::min(k, rows);
  GroundTruth truth{IdMatrix(queries, k, -1),
                    FloatMatrix(queries, k, std::numeric_limits<float>::infinity())};
  if (passing != nullptr) passing->assign(queries, 0);
  if (k == 0 || queries == 0) return truth;

  std::optional<LabelIndex> labels;
  if (meta.train_labels) {
    labels.emplace(meta.train_labels->indptr, meta.train_labels->labels, meta.label_count);
  }
  std::optional<AttributeIndex> attributes;
  if (!meta.train_attr.empty()) attributes.emplace(meta.train_attr);

  // Only the allowed rows are scanned (FilteredScan), and every reported distance is
  // exact_distance (what compute_ground_truth reports and the harness recomputes).
  const DistanceKernels& kernels = distance_kernels();
  std::vector<double> norms;
  if (dataset.metric != Metric::L2) {
    norms.resize(rows);
#pragma omp parallel for schedule(static)
    for (std::size_t r = 0; r < rows; ++r) {
      const float* x = dataset.train.row(r);
      double sum = 0;
      for (std::size_t i = 0; i < dim; ++i) sum += static_cast<double>(x[i]) * x[i];
      norms[r] = std::sqrt(sum);
    }
  }
  // Threads take queries one at a time from a shared counter into blocks of up to kBlock
  // queries (fewer when their allowed rows would take more than kBlockIds ids of memory).
  constexpr std::size_t kBlock = 64;
  constexpr std::size_t kBlockIds = std::size_t{4} << 20;
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::atomic<bool> failed{false};
#pragma omp parallel
  {
    try {
      FilterBuilder builder(rows, labels ? &*labels : nullptr, attributes ? &*attributes : nullptr);
      FilteredScan scan(dataset, kernels, norms);
      std::vector<std::size_t> block;
      std::vector<const float*> block_queries;
      std::vector<std::vector<std::int64_t>> block_ids(kBlock);
      std::vector<std::vector<Scored>> found;
      while (!failed.load(std::memory_order_relaxed)) {
        block.clear();
        block_queries.clear();
        std::size_t ids_held = 0;
        while (block.size() < kBlock && ids_held < kBlockIds) {
          const std::size_t q = next.fetch_add(1, std::memory_order_relaxed);
          if (q >= queries) break;
          FilterQuery condition;
          if (by_labels) condition.labels = meta.test_filters->row(q);
          if (by_range)
            condition.range = std::pair(meta.test_attr_range(q, 0), meta.test_attr_range(q, 1));
          const Filter filter = builder.make(condition);
          if (passing != nullptr) (*passing)[q] = filter.count();
          block_ids[block.size()].assign(filter.ids().begin(), filter.ids().end());
          ids_held += filter.count();
          block.push_back(q);
          block_queries.push_back(dataset.test.row(q));
        }
        if (block.empty()) break;
        scan.run(block_queries, std::span(block_ids.data(), block.size()), k, found);
        for (std::size_t i = 0; i < block.size(); ++i) {
          for (std::size_t j = 0; j < found[i].size(); ++j) {
            truth.neighbors(block[i], j) = static_cast<std::int32_t>(found[i][j].id);
            truth.distances(block[i], j) = static_cast<float>(found[i][j].distance);
          }
        }
      }
    } catch (...) {
#pragma omp critical(annbench_filtered_ground_truth)
      if (!failure) failure = std::current_exception();
      failed.store(true, std::memory_order_relaxed);
    }
  }
  if (failure) std::rethrow_exception(failure);
  return truth;
}

}  // namespace annbench
