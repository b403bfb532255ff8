#include "balltree_index.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/common/normalize.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace annbench::balltree {
namespace {

constexpr const char* kName = "balltree";
constexpr std::uint32_t kFormatVersion = 1;

// The "meta" section: the build options and the row counts the arrays are checked against.
struct FileMeta {
  std::uint64_t rows;         // base rows
  std::uint64_t tree_points;  // points in the tree (angular leaves zero rows out)
  std::uint64_t nodes;
  std::uint64_t leaf_size;
  std::uint64_t seed;
  std::uint32_t split;  // SplitRule
  std::uint32_t reserved;
};

bool all_finite(const float* x, std::size_t dim) {
  for (std::size_t j = 0; j < dim; ++j)
    if (!std::isfinite(x[j])) return false;
  return true;
}

// Angular: a zero vector has no direction (distance 1 to everything).
bool is_zero(const float* x, std::size_t dim) {
  return std::all_of(x, x + dim, [](float v) { return v == 0.0f; });
}

template <typename T>
std::size_t capacity_bytes(const std::vector<T>& v) {
  return v.capacity() * sizeof(T);
}

}  // namespace

std::size_t BallTreeIndex::Scratch::bytes() const {
  return capacity_bytes(walk.candidates) + capacity_bytes(walk.nearest) +
         capacity_bytes(walk.queue) + capacity_bytes(query) + capacity_bytes(ranked);
}

BallTreeIndex::BallTreeIndex(Metric metric, std::size_t dim, const BuildOptions& options)
    : metric_(metric), dim_(dim), options_(options) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "balltree: metric '{}' is not supported (euclidean, angular): its pruning needs "
                 "the triangle inequality, which inner-product 'distance' does not satisfy",
                 metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "balltree: dimension must be at least 1");
  ANNBENCH_CHECK(options.leaf_size >= 1, "balltree: leaf_size must be at least 1, got {}",
                 options.leaf_size);
  const DistanceKernels& kernels = distance_kernels();
  const double u = std::ldexp(1.0, -24);
  // Twice the kernels' dot-product bound, plus the roundings of the differences and squares:
  // generous, and still only a few 1e-6 of slack on the pruning.
  errors_.relative = 2.0 * dot_error_factor(dim, kernels.lanes) + 8.0 * u;
  // Angular vectors are rounded to float after normalising (normalize_into: the scale and each
  // product round once): each moves at most ~2u from the true unit vector, so distances between
  // them move by at most 4u; 8u leaves room. Euclidean needs none but a guard against
  // underflowed (subnormal) squares.
  errors_.absolute = metric == Metric::Angular ? 8.0 * u : 1e-18;
  options_.relative_error = errors_.relative;
}

void BallTreeIndex::build(MatrixView base) {
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
  rows_ = base.rows;
  raw_ = FloatMatrix();
  pool_.clear();
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

void BallTreeIndex::set_search_params(const Params& params) {
  const std::int64_t max_leaves = params.get_int("max_leaves");
  ANNBENCH_CHECK(max_leaves >= 1, "balltree: max_leaves must be at least 1, got {}", max_leaves);
  const double eps = params.get_float("eps");
  ANNBENCH_CHECK(eps >= 0.0 && std::isfinite(eps),
                 "balltree: eps must be finite and at least 0, got {}", eps);
  max_leaves_ = static_cast<std::size_t>(max_leaves);
  eps_ = eps;
}

void BallTreeIndex::check_built() const {
  ANNBENCH_CHECK(built_, "balltree: search or save before build");
}

// Queries are finite (the harness checks them before timing); only the index state is checked.
void BallTreeIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  check_built();
  std::fill(out, out + k, Neighbor{});
  if (k == 0) return;
  const auto lease = pool_.acquire();
  Scratch& s = *lease;
  s.ranked.clear();
  const float* walk_query = prepare(query, s);
  if (walk_query == nullptr) {  // angular zero query: every distance is 1, ties by id
    for (std::size_t i = 0; i < std::min(k, rows_); ++i)
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

// Checks the index once before the parallel loop: an exception must not leave an OpenMP region.
void BallTreeIndex::search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
  check_built();
  ANNBENCH_CHECK(queries.dim == dim_, "balltree: queries have dimension {}, expected {}",
                 queries.dim, dim_);
  const auto n = static_cast<std::int64_t>(queries.rows);
#pragma omp parallel for schedule(dynamic, 4)
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::size_t>(i);
    search(queries.row(row), k, out + row * k);
  }
}

void BallTreeIndex::range_search(const float* query, float radius,
                                 std::vector<Neighbor>& out) const {
  check_built();
  ANNBENCH_CHECK(!std::isnan(radius), "balltree: range search radius is NaN");
  if (radius < 0.0f) return;
  const auto lease = pool_.acquire();
  Scratch& s = *lease;
  const float* walk_query = prepare(query, s);
  if (walk_query == nullptr) {  // angular zero query: everything at distance 1
    if (radius >= 1.0f)
      for (std::size_t i = 0; i < rows_; ++i)
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

std::size_t BallTreeIndex::memory_bytes() const {
  // Angular re-ranks against the raw rows (the referenced base, or a loaded index's own copy);
  // euclidean only needs the tree's copy.
  const std::size_t raw = metric_ == Metric::Angular ? rows_ * dim_ * sizeof(float) : 0;
  return tree_.bytes() + raw + zero_ids_.size() * sizeof(std::uint32_t) + pool_.bytes();
}

void BallTreeIndex::save(const std::string& path) const {
  check_built();
  FileMeta meta{};
  meta.rows = rows_;
  meta.tree_points = tree_.size();
  meta.nodes = tree_.node_count();
  meta.leaf_size = options_.leaf_size;
  meta.seed = options_.seed;
  meta.split = static_cast<std::uint32_t>(options_.split);
  IndexFileWriter writer(kName, kFormatVersion, metric_, dim_, rows_);
  writer.add_value("meta", meta);
  writer.add("points", tree_.points().data(), tree_.points().bytes());
  writer.add("centers", tree_.centers().data(), tree_.centers().bytes());
  writer.add("nodes", tree_.nodes());
  writer.add("ids", tree_.ids());
  writer.add("zero_ids", zero_ids_);
  if (metric_ == Metric::Angular) writer.add("raw", base_.data, rows_ * dim_ * sizeof(float));
  writer.write(path);
}

namespace {

FloatMatrix matrix_from(const IndexFileReader& reader, const char* tag, std::size_t rows,
                        std::size_t dim) {
  const auto values = reader.array<float>(tag, rows * dim);
  FloatMatrix out(rows, dim);
  std::copy(values.begin(), values.end(), out.data());
  return out;
}

}  // namespace

std::unique_ptr<Index> BallTreeIndex::load(const std::string& path, Metric metric,
                                           std::size_t dim) {
  const auto reader = IndexFileReader::open(path, kName, kFormatVersion, metric, dim);
  const auto meta = reader.value<FileMeta>("meta");
  if (meta.rows != reader.rows()) {
    reader.fail(fmt::format("'meta' says {} rows, the header {}", meta.rows, reader.rows()));
  }
  if (meta.rows == 0 || meta.rows >= std::numeric_limits<std::uint32_t>::max() ||
      meta.tree_points > meta.rows || meta.leaf_size < 1 ||
      meta.split > static_cast<std::uint32_t>(SplitRule::PrincipalAxis)) {
    reader.fail(fmt::format("'meta' holds {} rows, {} in the tree, leaf size {}, split {}",
                            meta.rows, meta.tree_points, meta.leaf_size, meta.split));
  }
  const auto rows = static_cast<std::size_t>(meta.rows);
  const auto m = static_cast<std::size_t>(meta.tree_points);
  BuildOptions options;
  options.leaf_size = static_cast<std::size_t>(meta.leaf_size);
  options.seed = meta.seed;
  options.split = static_cast<SplitRule>(meta.split);
  auto index = std::make_unique<BallTreeIndex>(metric, dim, options);
  BallTreeIndex& x = *index;
  x.rows_ = rows;

  const auto nodes = reader.copy<Node>("nodes", static_cast<std::size_t>(meta.nodes));
  std::vector<std::uint32_t> ids = reader.copy<std::uint32_t>("ids", m);
  // Every base row exactly once: in the tree (ids) or, angular only, among the zero rows.
  x.zero_ids_ = reader.copy<std::uint32_t>("zero_ids", rows - m);
  check_row_partition(reader, metric, std::span<const std::uint32_t>(ids),
                      std::span<const std::uint32_t>(x.zero_ids_), rows);
  const std::string problem =
      x.tree_.adopt(matrix_from(reader, "points", m, dim),
                    matrix_from(reader, "centers", nodes.size(), dim), nodes, std::move(ids));
  if (!problem.empty()) reader.fail(problem);

  if (metric == Metric::Angular) {
    x.raw_ = matrix_from(reader, "raw", rows, dim);
    if (!std::all_of(x.raw_.data(), x.raw_.data() + x.raw_.size(),
                     [](float v) { return std::isfinite(v); })) {
      reader.fail("'raw' holds a non-finite value");
    }
    x.base_ = x.raw_.view();
  } else if (reader.has("raw")) {
    reader.fail("'raw' is present in a euclidean index");
  }
  x.built_ = true;
  return index;
}

void BallTreeIndex::build_angular(MatrixView base) {
  // Zero vectors stay out of the tree: they sit at distance 1 from everything, which no point
  // of the unit sphere does, so they would break the sphere's triangle inequality.
  std::vector<std::uint32_t> ids;
  for (std::size_t i = 0; i < base.rows; ++i) {
    if (is_zero(base.row(i), dim_)) {
      zero_ids_.push_back(static_cast<std::uint32_t>(i));
    } else {
      ids.push_back(static_cast<std::uint32_t>(i));
    }
  }
  FloatMatrix unit(ids.size(), dim_);
  for (std::size_t r = 0; r < ids.size(); ++r) normalize_into(base.row(ids[r]), dim_, unit.row(r));
  tree_.build(unit.view(), ids, options_);
}

// The vector the walk uses: the query itself (euclidean) or its unit copy in s.query
// (angular); nullptr for an angular zero query.
const float* BallTreeIndex::prepare(const float* query, Scratch& s) const {
  if (metric_ == Metric::L2) return query;
  if (is_zero(query, dim_)) return nullptr;
  s.query.resize(dim_);
  normalize_into(query, dim_, s.query.data());
  return s.query.data();
}

// Exact dataset-metric distances of the walk's candidates, appended to s.ranked. The tree's
// euclidean copy holds the base's exact bits; angular needs the raw vectors.
void BallTreeIndex::rank(const float* query, Scratch& s) const {
  const DistanceKernels& kernels = distance_kernels();
  for (const Candidate& c : s.walk.candidates) {
    const std::uint32_t id = tree_.id(c.position);
    const float* x = metric_ == Metric::L2 ? tree_.point(c.position) : base_.row(id);
    s.ranked.emplace_back(kernels.exact(metric_, query, x, dim_), id);
  }
}

}  // namespace annbench::balltree
