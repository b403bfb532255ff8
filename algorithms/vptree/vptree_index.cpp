#include "vptree_index.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/common/normalize.h>
#include <annbench/common/topk.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <utility>

namespace annbench::vptree {
namespace {

constexpr const char* kName = "vptree";
constexpr std::uint32_t kFormatVersion = 1;
constexpr float kInfinity = std::numeric_limits<float>::infinity();
// Float squares of larger coordinates could overflow, and pruning needs finite distances.
constexpr float kLargestCoordinate = 1e18f;

// The "meta" section: the build options, the tree's rounding margin (its pruning tests were
// sized with it) and the row counts the arrays are checked against.
struct FileMeta {
  std::uint64_t rows;         // base rows
  std::uint64_t tree_points;  // points in the tree (angular leaves zero rows out)
  std::uint64_t nodes;
  std::uint64_t leaf_size;
  std::uint64_t vp_candidates;
  std::uint64_t vp_sample;
  std::uint64_t seed;
  float margin_relative;
  float margin_absolute;
};

// Angular: a zero vector has no direction (distance 1 to everything, chord 1 to unit vectors).
bool is_zero(const float* x, std::size_t dim) {
  return std::all_of(x, x + dim, [](float v) { return v == 0.0f; });
}

bool in_range(std::span<const float> values) {
  return std::all_of(values.begin(), values.end(),
                     [](float v) { return std::fabs(v) <= kLargestCoordinate; });
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

}  // namespace

// Per-search buffers, pooled: no allocation per query once warm.
struct VpTreeIndex::Scratch {
  std::vector<float> query;
  KnnCollector knn{nullptr, TopK<float>(0), {}, kInfinity};
  std::vector<std::pair<float, std::uint32_t>> near;
  std::vector<std::pair<double, std::int64_t>> exact;

  std::size_t bytes() const {
    return query.capacity() * sizeof(float) + knn.top.capacity() * sizeof(TopK<float>::Entry) +
           knn.near.capacity() * sizeof(knn.near[0]) + near.capacity() * sizeof(near[0]) +
           exact.capacity() * sizeof(exact[0]);
  }
};

VpTreeIndex::VpTreeIndex(Metric metric, std::size_t dim, const TreeOptions& options)
    : metric_(metric), dim_(dim), options_(options) {
  // -<q, x> is not a metric (it can be negative, d(x, x) is not 0, and no triangle
  // inequality holds), so no vantage-point bound would be valid.
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "vptree: metric '{}' is not supported: the tree prunes by the triangle "
                 "inequality, which only euclidean and angular satisfy here",
                 metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "vptree: dimension must be at least 1, got {}", dim);
}

VpTreeIndex::~VpTreeIndex() = default;

void VpTreeIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "vptree: base vectors have dimension {}, expected {}", base.dim,
                 dim_);
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
  rows_ = base.rows;
  raw_ = FloatMatrix();
  pool_.clear();
  built_ = false;
  zero_ids_.clear();
  const DistanceKernels& kernels = distance_kernels();
  const double unit = std::ldexp(1.0, -24);
  // Squared L2 in float: dot_error_factor for the sum plus a few roundings per term; the
  // square root halves the relative error, the slack doubles it back.
  VpTree::Margin margin;
  margin.relative = static_cast<float>(2.0 * (dot_error_factor(dim_, kernels.lanes) + 4.0 * unit));
  // Euclidean: squares of differences below ~1e-19 underflow to zero. Angular: unit vectors
  // rounded to float are off by up to ~2u in norm (normalize_into rounds the scale and each
  // product), so chords by a few u absolute.
  margin.absolute = metric_ == Metric::Angular ? static_cast<float>(16.0 * unit) : 1e-16f;

  std::vector<std::uint32_t> ids;
  if (metric_ == Metric::Angular) {
    // Zero vectors have angular distance 1 to everything but chord 1 (not sqrt 2) to unit
    // vectors, so they stay out of the tree and join every result at distance 1.
    FloatMatrix unit_rows(base.rows, dim_);
    std::size_t kept = 0;
    for (std::size_t i = 0; i < base.rows; ++i) {
      if (is_zero(base.row(i), dim_)) {
        zero_ids_.push_back(static_cast<std::int64_t>(i));
      } else {
        normalize_into(base.row(i), dim_, unit_rows.row(kept));
        ids.push_back(static_cast<std::uint32_t>(i));
        ++kept;
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

void VpTreeIndex::set_search_params(const Params& params) {
  const double stretch = params.get_float("stretch");
  ANNBENCH_CHECK(std::isfinite(stretch) && stretch >= 1.0,
                 "vptree: stretch must be a finite number >= 1 (1 = exact), got {}", stretch);
  stretch_ = static_cast<float>(stretch);
}

void VpTreeIndex::check_built() const {
  ANNBENCH_CHECK(built_, "vptree: search or save before build");
}

// Queries are finite (the harness checks them before timing); only the index state is checked.
// A finite query beyond +-1e18 can make float distances infinite: pruning then stops and the
// search degrades to a scan, still exact after re-ranking.
void VpTreeIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  check_built();
  if (k == 0) return;
  const auto lease = pool_.acquire();
  Scratch& s = *lease;
  s.exact.clear();
  const float* q = prepare(query, s);
  if (q == nullptr) {  // angular zero query: every point is at distance 1
    for (std::size_t i = 0; i < k; ++i)
      out[i] = i < rows_ ? Neighbor{static_cast<std::int64_t>(i), 1.0f} : Neighbor{};
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

void VpTreeIndex::range_search(const float* query, float radius, std::vector<Neighbor>& out) const {
  check_built();
  ANNBENCH_CHECK(!std::isnan(radius), "vptree: range search radius is NaN");
  if (radius < 0.0f) return;  // every distance here is >= 0
  const auto lease = pool_.acquire();
  Scratch& s = *lease;
  const float* q = prepare(query, s);
  if (q == nullptr) {  // angular zero query: every point is at distance 1
    if (radius >= 1.0f)
      for (std::size_t i = 0; i < rows_; ++i) out.push_back({static_cast<std::int64_t>(i), 1.0f});
    return;
  }
  // The tree's scale: angular 1 - cos = chord^2 / 2 on unit vectors.
  const float tree_radius = metric_ == Metric::Angular
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

std::size_t VpTreeIndex::memory_bytes() const {
  // Euclidean re-ranks on the tree's own copy; angular needs the raw rows (the referenced base,
  // or a loaded index's own copy).
  const std::size_t raw = metric_ == Metric::Angular ? rows_ * dim_ * sizeof(float) : 0;
  return tree_.bytes() + raw + zero_ids_.size() * sizeof(std::int64_t) + pool_.bytes();
}

void VpTreeIndex::save(const std::string& path) const {
  check_built();
  FileMeta meta{};
  meta.rows = rows_;
  meta.tree_points = tree_.size();
  meta.nodes = tree_.nodes().size();
  meta.leaf_size = options_.leaf_size;
  meta.vp_candidates = options_.vp_candidates;
  meta.vp_sample = options_.vp_sample;
  meta.seed = options_.seed;
  meta.margin_relative = tree_.margin().relative;
  meta.margin_absolute = tree_.margin().absolute;
  IndexFileWriter writer(kName, kFormatVersion, metric_, dim_, rows_);
  writer.add_value("meta", meta);
  writer.add("points", tree_.points().data(), tree_.points().bytes());
  writer.add("ids", tree_.ids());
  writer.add("parent_distances", tree_.parent_distances());
  writer.add("nodes", tree_.nodes());
  writer.add("zero_ids", zero_ids_);
  if (metric_ == Metric::Angular) writer.add("raw", base_.data, rows_ * dim_ * sizeof(float));
  writer.write(path);
}

std::unique_ptr<Index> VpTreeIndex::load(const std::string& path, Metric metric, std::size_t dim) {
  const auto reader = IndexFileReader::open(path, kName, kFormatVersion, metric, dim);
  const auto meta = reader.value<FileMeta>("meta");
  if (meta.rows != reader.rows()) {
    reader.fail(fmt::format("'meta' says {} rows, the header {}", meta.rows, reader.rows()));
  }
  if (meta.rows == 0 || meta.rows >= std::numeric_limits<std::int32_t>::max() ||
      meta.tree_points > meta.rows || meta.leaf_size < 1 || meta.vp_candidates < 1 ||
      meta.vp_sample < 1) {
    reader.fail(fmt::format(
        "'meta' holds {} rows, {} in the tree, leaf size {}, {} candidates "
        "on {} samples",
        meta.rows, meta.tree_points, meta.leaf_size, meta.vp_candidates, meta.vp_sample));
  }
  const auto rows = static_cast<std::size_t>(meta.rows);
  const auto m = static_cast<std::size_t>(meta.tree_points);
  TreeOptions options;
  options.leaf_size = static_cast<std::size_t>(meta.leaf_size);
  options.vp_candidates = static_cast<std::size_t>(meta.vp_candidates);
  options.vp_sample = static_cast<std::size_t>(meta.vp_sample);
  options.seed = meta.seed;
  auto index = std::make_unique<VpTreeIndex>(metric, dim, options);
  VpTreeIndex& x = *index;
  x.rows_ = rows;

  const auto points = reader.array<float>("points", m * dim);
  if (!in_range(points)) reader.fail("'points' holds a value that is not finite or beyond 1e18");
  FloatMatrix point_copy(m, dim);
  std::copy(points.begin(), points.end(), point_copy.data());
  std::vector<std::uint32_t> ids = reader.copy<std::uint32_t>("ids", m);
  // Every base row exactly once: in the tree (ids) or, angular only, among the zero rows.
  x.zero_ids_ = reader.copy<std::int64_t>("zero_ids", rows - m);
  check_row_partition(reader, metric, std::span<const std::uint32_t>(ids),
                      std::span<const std::int64_t>(x.zero_ids_), rows);
  const std::string problem = x.tree_.adopt(
      std::move(point_copy), std::move(ids), reader.copy<float>("parent_distances", m),
      reader.copy<VpTree::Node>("nodes", static_cast<std::size_t>(meta.nodes)),
      VpTree::Margin{meta.margin_relative, meta.margin_absolute});
  if (!problem.empty()) reader.fail(problem);

  if (metric == Metric::Angular) {
    const auto raw = reader.array<float>("raw", rows * dim);
    if (!in_range(raw)) reader.fail("'raw' holds a value that is not finite or beyond 1e18");
    x.raw_ = FloatMatrix(rows, dim);
    std::copy(raw.begin(), raw.end(), x.raw_.data());
    x.base_ = x.raw_.view();
  } else if (reader.has("raw")) {
    reader.fail("'raw' is present in a euclidean index");
  }
  x.built_ = true;
  return index;
}

// The query in the tree's space; nullptr for an angular zero query.
const float* VpTreeIndex::prepare(const float* query, Scratch& s) const {
  if (metric_ != Metric::Angular) return query;
  if (is_zero(query, dim_)) return nullptr;
  s.query.resize(dim_);
  normalize_into(query, dim_, s.query.data());
  return s.query.data();
}

double VpTreeIndex::exact(const float* query, std::uint32_t position) const {
  const float* row =
      metric_ == Metric::Angular ? base_.row(tree_.id_at(position)) : tree_.row(position);
  return exact_distance(metric_, query, row, dim_);
}

// Zero vectors all tie at distance 1: the k smallest ids are the only ones that can count.
void VpTreeIndex::add_zero_vectors(std::size_t k,
                                   std::vector<std::pair<double, std::int64_t>>& candidates) const {
  const std::size_t take = std::min(k, zero_ids_.size());
  for (std::size_t i = 0; i < take; ++i) candidates.emplace_back(1.0, zero_ids_[i]);
}

}  // namespace annbench::vptree
