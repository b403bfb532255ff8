// balltree: a ball tree (nested centroid balls, median splits along a far-apart or principal
// direction) searched with triangle-inequality pruning: exactly (depth-first, nearer ball first)
// or with a budget of leaves (best-first) and a (1 + eps) pruning factor. Candidates the float
// walk cannot rule out are re-ranked in double, ties by smaller id, so exact mode returns what
// the bruteforce module returns. See README.md.

#include "ball_tree.h"
#include "walk.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

namespace annbench::balltree {
namespace {

constexpr std::int64_t kNoLeafLimit = std::numeric_limits<std::int32_t>::max();

struct Scratch {
  WalkScratch walk;
  std::vector<float> query;
  std::vector<std::pair<double, std::int64_t>> ranked;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

bool all_finite(const float* x, std::size_t dim) {
  for (std::size_t j = 0; j < dim; ++j)
    if (!std::isfinite(x[j])) return false;
  return true;
}

// |x| in double; 0 for the zero vector.
double norm(const float* x, std::size_t dim) {
  double sum = 0.0;
  for (std::size_t j = 0; j < dim; ++j) sum += static_cast<double>(x[j]) * x[j];
  return std::sqrt(sum);
}

void scale_into(const float* x, double factor, float* out, std::size_t dim) {
  for (std::size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(x[j] * factor);
}

class BallTreeIndex final : public Index {
 public:
  BallTreeIndex(Metric metric, std::size_t dim, const BuildOptions& options)
      : metric_(metric), dim_(dim), options_(options) {
    const DistanceKernels& kernels = distance_kernels();
    const double u = std::ldexp(1.0, -24);
    // Twice the kernels' dot-product bound, plus the roundings of the differences and squares:
    // generous, and still only a few 1e-6 of slack on the pruning.
    errors_.relative = 2.0 * dot_error_factor(dim, kernels.lanes) + 8.0 * u;
    // Angular vectors are rounded to float after normalising: each moves at most ~u from the
    // true unit vector, so distances between them move by at most 2u; 8u leaves room. Euclidean
    // needs none but a guard against underflowed (subnormal) squares.
    errors_.absolute = metric == Metric::Angular ? 8.0 * u : 1e-18;
    options_.relative_error = errors_.relative;
  }

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "balltree: base vectors have dimension {}, expected {}",
                   base.dim, dim_);
    ANNBENCH_CHECK(base.rows > 0, "balltree: cannot build on an empty base (0 vectors)");
    ANNBENCH_CHECK(base.rows < std::numeric_limits<std::uint32_t>::max(),
                   "balltree: {} base vectors exceed the 32-bit id space", base.rows);
    built_ = false;
    const auto rows = static_cast<std::int64_t>(base.rows);
    std::int64_t first_bad = rows;
#pragma omp parallel for schedule(static) reduction(min : first_bad)
    for (std::int64_t i = 0; i < rows; ++i)
      if (!all_finite(base.row(static_cast<std::size_t>(i)), dim_))
        first_bad = std::min(first_bad, i);
    ANNBENCH_CHECK(first_bad == rows, "balltree: base vector {} has a NaN or infinite value",
                   first_bad);
    base_ = base;
    zero_ids_.clear();
    if (metric_ == Metric::L2) {
      std::vector<std::uint32_t> ids(base.rows);
      std::iota(ids.begin(), ids.end(), 0u);
      tree_.build(base, ids, options_);
    } else {
      build_angular(base);
    }
    built_ = true;
  }

  void set_search_params(const Params& params) override {
    const std::int64_t max_leaves = params.get_int("max_leaves");
    ANNBENCH_CHECK(max_leaves >= 1, "balltree: max_leaves must be at least 1, got {}", max_leaves);
    const double eps = params.get_float("eps");
    ANNBENCH_CHECK(eps >= 0.0 && std::isfinite(eps),
                   "balltree: eps must be finite and at least 0, got {}", eps);
    max_leaves_ = static_cast<std::size_t>(max_leaves);
    eps_ = eps;
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(built_, "balltree: search before build");
    ANNBENCH_CHECK(all_finite(query, dim_), "balltree: the query has a NaN or infinite value");
    std::fill(out, out + k, Neighbor{});
    if (k == 0) return;
    Scratch& s = scratch();
    s.ranked.clear();
    const float* walk_query = prepare(query, s);
    if (walk_query == nullptr) {  // angular zero query: every distance is 1, ties by id
      for (std::size_t i = 0; i < std::min(k, base_.rows); ++i)
        out[i] = Neighbor{static_cast<std::int64_t>(i), 1.0f};
      return;
    }
    Walk walk(tree_, errors_, walk_query, s.walk);
    walk.nearest(k, max_leaves_, eps_);
    walk.finish();
    rank(query, s);
    // A zero base vector is at distance 1 from every query; only the k smallest ids can win.
    for (std::size_t i = 0; i < std::min(k, zero_ids_.size()); ++i)
      s.ranked.emplace_back(1.0, zero_ids_[i]);
    const std::size_t found = std::min(k, s.ranked.size());
    std::partial_sort(s.ranked.begin(), s.ranked.begin() + static_cast<std::ptrdiff_t>(found),
                      s.ranked.end());
    for (std::size_t i = 0; i < found; ++i)
      out[i] = Neighbor{s.ranked[i].second, static_cast<float>(s.ranked[i].first)};
    distances_.add(walk.distance_count() + s.walk.candidates.size());
  }

  // Checks the whole batch before the parallel loop: an exception must not leave an OpenMP
  // region.
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(built_, "balltree: search before build");
    ANNBENCH_CHECK(queries.dim == dim_, "balltree: queries have dimension {}, expected {}",
                   queries.dim, dim_);
    for (std::size_t i = 0; i < queries.rows; ++i)
      ANNBENCH_CHECK(all_finite(queries.row(i), dim_),
                     "balltree: query {} has a NaN or infinite value", i);
    const auto n = static_cast<std::int64_t>(queries.rows);
#pragma omp parallel for schedule(dynamic, 4)
    for (std::int64_t i = 0; i < n; ++i) {
      const auto row = static_cast<std::size_t>(i);
      search(queries.row(row), k, out + row * k);
    }
  }

  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override {
    ANNBENCH_CHECK(built_, "balltree: range search before build");
    ANNBENCH_CHECK(all_finite(query, dim_), "balltree: the query has a NaN or infinite value");
    ANNBENCH_CHECK(!std::isnan(radius), "balltree: range search radius is NaN");
    if (radius < 0.0f) return;
    Scratch& s = scratch();
    const float* walk_query = prepare(query, s);
    if (walk_query == nullptr) {  // angular zero query: everything at distance 1
      if (radius >= 1.0f)
        for (std::size_t i = 0; i < base_.rows; ++i)
          out.push_back(Neighbor{static_cast<std::int64_t>(i), 1.0f});
      return;
    }
    // Angular: 1 - cos = |a - b|^2 / 2 for unit vectors (and never more than 2).
    const double walk_radius = metric_ == Metric::L2
                                   ? static_cast<double>(radius)
                                   : std::sqrt(2.0 * std::min(static_cast<double>(radius), 2.0));
    Walk walk(tree_, errors_, walk_query, s.walk);
    walk.within(walk_radius);
    walk.finish();
    s.ranked.clear();
    rank(query, s);
    for (const auto& [distance, id] : s.ranked)
      if (distance <= static_cast<double>(radius))
        out.push_back(Neighbor{id, static_cast<float>(distance)});
    if (radius >= 1.0f)
      for (const std::uint32_t id : zero_ids_) out.push_back(Neighbor{id, 1.0f});
    distances_.add(walk.distance_count() + s.walk.candidates.size());
  }

  std::size_t memory_bytes() const override {
    // Angular re-ranks against the referenced raw base; euclidean only needs the tree's copy.
    const std::size_t raw = metric_ == Metric::Angular ? base_.rows * dim_ * sizeof(float) : 0;
    return tree_.bytes() + raw + zero_ids_.size() * sizeof(std::uint32_t);
  }

  std::optional<std::uint64_t> distance_count() const override {
    return distances_.get();
  }

 private:
  void build_angular(MatrixView base) {
    // Zero vectors stay out of the tree: they sit at distance 1 from everything, which no point
    // of the unit sphere does, so they would break the sphere's triangle inequality.
    std::vector<std::uint32_t> ids;
    std::vector<double> inverse_norms;
    for (std::size_t i = 0; i < base.rows; ++i) {
      const double length = norm(base.row(i), dim_);
      if (length > 0.0) {
        ids.push_back(static_cast<std::uint32_t>(i));
        inverse_norms.push_back(1.0 / length);
      } else {
        zero_ids_.push_back(static_cast<std::uint32_t>(i));
      }
    }
    FloatMatrix unit(ids.size(), dim_);
    for (std::size_t r = 0; r < ids.size(); ++r)
      scale_into(base.row(ids[r]), inverse_norms[r], unit.row(r), dim_);
    tree_.build(unit.view(), ids, options_);
  }

  // The vector the walk uses: the query itself (euclidean) or its unit copy in s.query
  // (angular); nullptr for an angular zero query.
  const float* prepare(const float* query, Scratch& s) const {
    if (metric_ == Metric::L2) return query;
    const double length = norm(query, dim_);
    if (!(length > 0.0)) return nullptr;
    s.query.resize(dim_);
    scale_into(query, 1.0 / length, s.query.data(), dim_);
    return s.query.data();
  }

  // Exact dataset-metric distances of the walk's candidates, appended to s.ranked. The tree's
  // euclidean copy holds the base's exact bits; angular needs the raw vectors.
  void rank(const float* query, Scratch& s) const {
    const DistanceKernels& kernels = distance_kernels();
    for (const Candidate& c : s.walk.candidates) {
      const std::uint32_t id = tree_.id(c.position);
      const float* x = metric_ == Metric::L2 ? tree_.point(c.position) : base_.row(id);
      s.ranked.emplace_back(kernels.exact(metric_, query, x, dim_), id);
    }
  }

  Metric metric_;
  std::size_t dim_;
  BuildOptions options_;
  ErrorModel errors_;
  MatrixView base_{};
  BallTree tree_;
  std::vector<std::uint32_t> zero_ids_;  // angular: zero base vectors, ascending
  bool built_ = false;
  std::size_t max_leaves_ = kNoLeafLimit;
  double eps_ = 0.0;
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "balltree: metric '{}' is not supported (euclidean, angular): its pruning needs "
                 "the triangle inequality, which inner-product 'distance' does not satisfy",
                 metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "balltree: dimension must be at least 1");
  BuildOptions options;
  const std::int64_t leaf_size = build.get_int("leaf_size");
  ANNBENCH_CHECK(leaf_size >= 1, "balltree: leaf_size must be at least 1, got {}", leaf_size);
  options.leaf_size = static_cast<std::size_t>(leaf_size);
  const std::string& split = build.get_string("split");
  if (split == "farthest")
    options.split = SplitRule::Farthest;
  else if (split == "principal")
    options.split = SplitRule::PrincipalAxis;
  else
    ANNBENCH_FAIL("balltree: split '{}' is not one of farthest, principal", split);
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  return std::make_unique<BallTreeIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"leaf_size", ParamType::Int, std::int64_t{16},
     "most points per leaf (leaves hold leaf_size/2 to leaf_size)", 1, 1 << 24},
    {"split", ParamType::String, std::string("principal"),
     "split direction: farthest (two farthest-point sweeps) or principal (principal axis, power "
     "iteration)"},
    {"seed", ParamType::Int, std::int64_t{1}, "seed for the farthest-point sweeps' start", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"max_leaves", ParamType::Int, kNoLeafLimit,
     "leaves scanned at most, best-first (2147483647: no limit; with eps 0 the search is exact)", 1,
     static_cast<double>(kNoLeafLimit)},
    {"eps", ParamType::Float, 0.0,
     "prune balls whose bound times (1 + eps) exceeds the k-th distance", 0.0,
     std::numeric_limits<double>::infinity()}};

const ModuleInfo kInfo = {
    .name = "balltree",
    .description = "ball tree, exact or budgeted best-first search, exact re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch,
    .create = &create,
};

}  // namespace
}  // namespace annbench::balltree

ANNBENCH_MODULE(annbench::balltree::kInfo)
