// vptree: a vantage-point tree searched exactly (stretch 1) or approximately (stretch > 1
// shrinks the pruning radius, as NMSLIB's VP-tree does with its linear pruner), with the final
// candidates re-ranked in double precision, ties by smaller id, like the bruteforce module.
// Angular data is served as the euclidean distance between unit vectors, a true metric that
// orders like 1 - cos. See README.md.

#include "vp_tree.h"

#include <annbench/common/distance.h>
#include <annbench/common/topk.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace annbench::vptree {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();
// Float squares of larger coordinates could overflow, and pruning needs finite distances.
constexpr float kLargestCoordinate = 1e18f;

// Unit length in double, rounded to float; false (and left zero) for a zero vector.
bool normalize(const float* in, float* out, std::size_t dim) {
  double norm2 = 0.0;
  for (std::size_t j = 0; j < dim; ++j) norm2 += static_cast<double>(in[j]) * in[j];
  if (norm2 == 0.0) {
    std::fill_n(out, dim, 0.0f);
    return false;
  }
  const double inverse = 1.0 / std::sqrt(norm2);
  for (std::size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(in[j] * inverse);
  return true;
}

// Float candidates of one query: a TopK for the pruning radius (the k-th float distance) plus
// everything within the rounding margin of it, to be re-ranked exactly.
struct KnnCollector {
  const VpTree::Margin* margin;
  TopK<float> top;
  std::vector<std::pair<float, std::uint32_t>> near;
  float radius = kInfinity;

  // Beyond tau + twice the error no point can be among the exact k nearest (see README).
  float limit() const { return radius + 2.0f * margin->of(radius); }
  void offer(float distance, std::uint32_t position) {
    if (!(distance <= limit())) return;
    near.emplace_back(distance, position);
    if (top.push(distance, position) && top.full()) radius = top.worst();
  }
};

struct RangeCollector {
  float radius;
  std::vector<std::pair<float, std::uint32_t>>* near;
  const VpTree::Margin* margin;
  float limit() const { return radius + 2.0f * margin->of(radius); }
  void offer(float distance, std::uint32_t position) {
    if (distance <= limit()) near->emplace_back(distance, position);
  }
};

struct Scratch {
  std::vector<float> query;
  KnnCollector knn{nullptr, TopK<float>(0), {}, kInfinity};
  std::vector<std::pair<float, std::uint32_t>> near;
  std::vector<std::pair<double, std::int64_t>> exact;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

class VpTreeIndex final : public Index {
 public:
  VpTreeIndex(Metric metric, std::size_t dim, const TreeOptions& options)
      : metric_(metric), dim_(dim), options_(options) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "vptree: base vectors have dimension {}, expected {}",
                   base.dim, dim_);
    ANNBENCH_CHECK(base.rows > 0, "vptree: cannot build on an empty base (0 rows)");
    for (std::size_t i = 0; i < base.rows; ++i) {
      const float* row = base.row(i);
      for (std::size_t j = 0; j < dim_; ++j) {
        ANNBENCH_CHECK(std::fabs(row[j]) <= kLargestCoordinate,
                       "vptree: base row {} has value {} at coordinate {} (NaN, infinite or "
                       "beyond +-1e18)",
                       i, row[j], j);
      }
    }
    base_ = base;
    built_ = false;
    zero_ids_.clear();
    const DistanceKernels& kernels = distance_kernels();
    const double unit = std::ldexp(1.0, -24);
    // Squared L2 in float: dot_error_factor for the sum plus a few roundings per term; the
    // square root halves the relative error, the slack doubles it back.
    VpTree::Margin margin;
    margin.relative =
        static_cast<float>(2.0 * (dot_error_factor(dim_, kernels.lanes) + 4.0 * unit));
    // Euclidean: squares of differences below ~1e-19 underflow to zero. Angular: unit vectors
    // rounded to float are off by up to ~u in norm, so chords by a few u absolute.
    margin.absolute = metric_ == Metric::Angular ? static_cast<float>(16.0 * unit) : 1e-16f;

    std::vector<std::uint32_t> ids;
    if (metric_ == Metric::Angular) {
      // Zero vectors have angular distance 1 to everything but chord 1 (not sqrt 2) to unit
      // vectors, so they stay out of the tree and join every result at distance 1.
      FloatMatrix unit_rows(base.rows, dim_);
      std::size_t kept = 0;
      for (std::size_t i = 0; i < base.rows; ++i) {
        if (normalize(base.row(i), unit_rows.row(kept), dim_)) {
          ids.push_back(static_cast<std::uint32_t>(i));
          ++kept;
        } else {
          zero_ids_.push_back(static_cast<std::int64_t>(i));
        }
      }
      distances_.add(tree_.build({unit_rows.data(), kept, dim_}, std::move(ids), options_, margin));
    } else {
      ids.resize(base.rows);
      for (std::size_t i = 0; i < base.rows; ++i) ids[i] = static_cast<std::uint32_t>(i);
      distances_.add(tree_.build(base, std::move(ids), options_, margin));
    }
    built_ = true;
  }

  void set_search_params(const Params& params) override {
    const double stretch = params.get_float("stretch");
    ANNBENCH_CHECK(std::isfinite(stretch) && stretch >= 1.0,
                   "vptree: stretch must be a finite number >= 1 (1 = exact), got {}", stretch);
    stretch_ = static_cast<float>(stretch);
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(built_, "vptree: search before build");
    check_query(query);
    if (k == 0) return;
    Scratch& s = scratch();
    s.exact.clear();
    const float* q = prepare(query, s);
    if (q == nullptr) {  // angular zero query: every point is at distance 1
      for (std::size_t i = 0; i < k; ++i)
        out[i] = i < base_.rows ? Neighbor{static_cast<std::int64_t>(i), 1.0f} : Neighbor{};
      return;
    }
    KnnCollector& c = s.knn;
    c.margin = &tree_.margin();
    c.top.reset(k);
    c.near.clear();
    c.radius = kInfinity;
    std::uint64_t computed = tree_.search(q, stretch_, c);
    const float limit = c.limit();
    for (const auto& [distance, position] : c.near) {
      if (distance <= limit) s.exact.emplace_back(exact(query, position), tree_.id_at(position));
    }
    computed += s.exact.size();
    add_zero_vectors(k, s.exact);
    const std::size_t kept = std::min(k, s.exact.size());
    std::partial_sort(s.exact.begin(), s.exact.begin() + static_cast<std::ptrdiff_t>(kept),
                      s.exact.end());
    for (std::size_t i = 0; i < k; ++i) {
      out[i] =
          i < kept ? Neighbor{s.exact[i].second, static_cast<float>(s.exact[i].first)} : Neighbor{};
    }
    distances_.add(computed);
  }

  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override {
    ANNBENCH_CHECK(built_, "vptree: range search before build");
    ANNBENCH_CHECK(!std::isnan(radius), "vptree: range search radius is NaN");
    check_query(query);
    if (radius < 0.0f) return;  // every distance here is >= 0
    Scratch& s = scratch();
    const float* q = prepare(query, s);
    if (q == nullptr) {  // angular zero query: every point is at distance 1
      if (radius >= 1.0f)
        for (std::size_t i = 0; i < base_.rows; ++i)
          out.push_back({static_cast<std::int64_t>(i), 1.0f});
      return;
    }
    // The tree's scale: angular 1 - cos = chord^2 / 2 on unit vectors.
    const float tree_radius =
        metric_ == Metric::Angular
            ? static_cast<float>(std::sqrt(2.0 * std::min<double>(radius, 2.0)))
            : radius;
    s.near.clear();
    RangeCollector collector{tree_radius, &s.near, &tree_.margin()};
    std::uint64_t computed = tree_.search(q, stretch_, collector);
    for (const auto& [distance, position] : s.near) {
      const double d = exact(query, position);
      if (d <= static_cast<double>(radius))
        out.push_back({static_cast<std::int64_t>(tree_.id_at(position)), static_cast<float>(d)});
    }
    computed += s.near.size();
    if (radius >= 1.0f)
      for (const std::int64_t id : zero_ids_) out.push_back({id, 1.0f});
    distances_.add(computed);
  }

  std::size_t memory_bytes() const override {
    // Euclidean re-ranks on the tree's own copy; angular needs the referenced raw base.
    const std::size_t referenced =
        metric_ == Metric::Angular ? base_.rows * base_.dim * sizeof(float) : 0;
    return tree_.bytes() + referenced + zero_ids_.size() * sizeof(std::int64_t);
  }

  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  void check_query(const float* query) const {
    for (std::size_t j = 0; j < dim_; ++j) {
      ANNBENCH_CHECK(std::fabs(query[j]) <= kLargestCoordinate,
                     "vptree: query has value {} at coordinate {} (NaN, infinite or beyond "
                     "+-1e18)",
                     query[j], j);
    }
  }

  // The query in the tree's space; nullptr for an angular zero query.
  const float* prepare(const float* query, Scratch& s) const {
    if (metric_ != Metric::Angular) return query;
    s.query.resize(dim_);
    return normalize(query, s.query.data(), dim_) ? s.query.data() : nullptr;
  }

  double exact(const float* query, std::uint32_t position) const {
    const float* row =
        metric_ == Metric::Angular ? base_.row(tree_.id_at(position)) : tree_.row(position);
    return exact_distance(metric_, query, row, dim_);
  }

  // Zero vectors all tie at distance 1: the k smallest ids are the only ones that can count.
  void add_zero_vectors(std::size_t k,
                        std::vector<std::pair<double, std::int64_t>>& candidates) const {
    const std::size_t take = std::min(k, zero_ids_.size());
    for (std::size_t i = 0; i < take; ++i) candidates.emplace_back(1.0, zero_ids_[i]);
  }

  Metric metric_;
  std::size_t dim_;
  TreeOptions options_;
  MatrixView base_{};
  VpTree tree_;
  std::vector<std::int64_t> zero_ids_;  // angular: ids of zero base vectors, ascending
  bool built_ = false;
  float stretch_ = 1.0f;
  DistanceCounter distances_;
};

std::size_t positive(const Params& build, const char* key) {
  const std::int64_t value = build.get_int(key);
  ANNBENCH_CHECK(value >= 1, "vptree: {} must be at least 1, got {}", key, value);
  return static_cast<std::size_t>(value);
}

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  // -<q, x> is not a metric (it can be negative, d(x, x) is not 0, and no triangle
  // inequality holds), so no vantage-point bound would be valid.
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "vptree: metric '{}' is not supported: the tree prunes by the triangle "
                 "inequality, which only euclidean and angular satisfy here",
                 metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "vptree: dimension must be at least 1, got {}", dim);
  TreeOptions options;
  options.leaf_size = positive(build, "leaf_size");
  options.vp_candidates = positive(build, "vp_candidates");
  options.vp_sample = positive(build, "vp_sample");
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  return std::make_unique<VpTreeIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"leaf_size", ParamType::Int, std::int64_t{32}, "most points per leaf", 1, 1 << 20},
    {"vp_candidates", ParamType::Int, std::int64_t{8},
     "vantage-point candidates sampled per node (1: random choice)", 1, 1024},
    {"vp_sample", ParamType::Int, std::int64_t{64},
     "points each candidate's distance spread is measured on", 1, 1 << 16},
    {"seed", ParamType::Int, std::int64_t{1}, "vantage-point sampling seed", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"stretch", ParamType::Float, 1.0,
     "pruning-radius shrink factor: a branch is skipped when stretch x its bound exceeds the "
     "k-th distance (1 = exact)",
     1.0, 1e6}};

const ModuleInfo kInfo = {
    .name = "vptree",
    .description = "vantage-point tree (exact, or approximate by stretch), exact re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch,
    .create = &create,
};

}  // namespace
}  // namespace annbench::vptree

ANNBENCH_MODULE(annbench::vptree::kInfo)
