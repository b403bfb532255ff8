#include "kdtree_index.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/common/normalize.h>
#include <annbench/common/topk.h>
#include <annbench/common/visited.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace annbench::kdtree {

// Per-search state, pooled: no allocation per query once warm.
struct KdTreeIndex::Scratch {
  std::vector<float> query;
  std::vector<double> offsets;       // per-dimension distance from the query to the cell
  std::vector<double> root_offsets;  // the same for the whole data's box
  std::vector<double> cell_lo, cell_hi;
  std::vector<std::uint32_t> touched;
  std::vector<std::uint8_t> is_touched;
  struct Pending {
    double bound;
    std::uint32_t tree;
    std::uint32_t node;
  };
  std::vector<Pending> queue;
  TopK<float> top;
  double prune = std::numeric_limits<double>::infinity();  // skip cells whose bound exceeds it
  double eps_factor = 1.0;                                 // cells need bound * this <= prune
  std::vector<std::pair<float, std::uint32_t>> candidates;
  std::vector<std::pair<double, std::int64_t>> ranked;
  VisitedSet visited;  // forests: a row found in several trees is checked once
  std::uint64_t distances = 0;

  std::size_t bytes() const {
    return query.capacity() * sizeof(float) +
           (offsets.capacity() + root_offsets.capacity() + cell_lo.capacity() +
            cell_hi.capacity()) *
               sizeof(double) +
           touched.capacity() * sizeof(std::uint32_t) + is_touched.capacity() +
           queue.capacity() * sizeof(Pending) + top.capacity() * sizeof(TopK<float>::Entry) +
           candidates.capacity() * sizeof(candidates[0]) + ranked.capacity() * sizeof(ranked[0]) +
           visited.bytes();
  }
};

namespace {

constexpr const char* kName = "kdtree";
constexpr std::uint32_t kFormatVersion = 1;

// The "meta" section: the build options and the row counts the arrays are checked against.
struct FileMeta {
  std::uint64_t rows;       // base rows
  std::uint64_t tree_rows;  // rows in the trees (angular leaves zero rows out)
  std::uint64_t n_trees;
  std::uint64_t leaf_size;
  std::uint64_t seed;
  std::uint32_t split;  // SplitRule
  std::uint32_t reserved;
};

// Angular: a zero row has no direction (distance 1 to everything), so it stays out of the tree.
bool is_zero(const float* x, std::size_t dim) {
  return std::all_of(x, x + dim, [](float v) { return v == 0.0f; });
}

}  // namespace

KdTreeIndex::KdTreeIndex(Metric metric, std::size_t dim, const IndexOptions& options)
    : metric_(metric), dim_(dim), options_(options) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "kdtree: metric '{}' is not supported: a k-d tree bounds distances by "
                 "coordinate gaps, which holds for euclidean and angular (as euclidean on unit "
                 "vectors), not for dot",
                 metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "kdtree: dimension must be at least 1, got {}", dim);
  ANNBENCH_CHECK(options.n_trees >= 1, "kdtree: n_trees must be at least 1, got {}",
                 options.n_trees);
  ANNBENCH_CHECK(options.tree.leaf_size >= 1, "kdtree: leaf_size must be at least 1, got {}",
                 options.tree.leaf_size);
  // Float squared L2 of n terms: each term within 3u and the sum, in whatever order the chunks
  // and SIMD lanes add it, within the sequential bound gamma_n, relative; candidates are kept up
  // to twice that (their own error plus the k-th's), with slack.
  relative_margin_ = 3.0 * (dot_error_factor(dim, 1) + 4.0 * std::ldexp(1.0, -24));
  // Angular ranks by |q/|q| - x/|x||^2 = 2 (1 - cos) on float unit vectors, whose rounding
  // (about u per vector) is absolute, not relative.
  absolute_margin_ = metric == Metric::Angular ? 1e-5 : 0.0;
}

KdTreeIndex::~KdTreeIndex() = default;

void KdTreeIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "kdtree: base vectors have dimension {}, expected {}", base.dim,
                 dim_);
  ANNBENCH_CHECK(base.rows > 0, "kdtree: cannot build on zero-size data (0 base vectors)");
  ANNBENCH_CHECK(base.rows < (std::size_t{1} << 31), "kdtree: {} base vectors exceed 2^31",
                 base.rows);
  const auto n = static_cast<std::int64_t>(base.rows);
  std::int64_t first_bad = n;
#pragma omp parallel for reduction(min : first_bad)
  for (std::int64_t i = 0; i < n; ++i) {
    const float* x = base.row(static_cast<std::size_t>(i));
    for (std::size_t j = 0; j < dim_; ++j) {
      if (!std::isfinite(x[j])) first_bad = std::min(first_bad, i);
    }
  }
  ANNBENCH_CHECK(first_bad == n, "kdtree: base vector {} has a NaN or infinite coordinate",
                 first_bad);
  built_ = false;
  base_ = base;
  rows_ = base.rows;
  raw_ = FloatMatrix();
  pool_.clear();

  // Angular zero rows are at distance 1 from everything, which no unit-sphere bound describes:
  // they stay out of the tree and join every query's candidates.
  std::vector<std::uint32_t> members;
  zero_ids_.clear();
  for (std::size_t i = 0; i < base.rows; ++i) {
    if (metric_ != Metric::Angular || !is_zero(base.row(i), dim_)) {
      members.push_back(static_cast<std::uint32_t>(i));
    } else {
      zero_ids_.push_back(static_cast<std::int64_t>(i));
    }
  }
  const std::size_t m = members.size();
  FloatMatrix unordered(m, dim_);
  const auto m_signed = static_cast<std::int64_t>(m);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < m_signed; ++i) {
    const auto row = static_cast<std::size_t>(i);
    const float* x = base.row(members[row]);
    if (metric_ == Metric::Angular) {
      normalize_into(x, dim_, unordered.row(row));
    } else {
      std::copy_n(x, dim_, unordered.row(row));
    }
  }

  trees_.assign(options_.n_trees, Tree{});
  trees_[0].build(unordered.view(), options_.tree);
  // Rows in leaf order: a leaf scan of tree 0 reads consecutive memory.
  points_ = FloatMatrix(m, dim_);
  ids_.resize(m);
  const std::vector<std::uint32_t>& order = trees_[0].slots();
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < m_signed; ++i) {
    const auto row = static_cast<std::size_t>(i);
    std::copy_n(unordered.row(order[row]), dim_, points_.row(row));
    ids_[row] = members[order[row]];
  }
  trees_[0].relabel_slots_in_order();
  unordered = FloatMatrix();

  // Further trees: FLANN's randomisation (cut dimension drawn from the 5 of largest extent),
  // each with its own seed, so the forest does not depend on the thread count.
  const auto extra = static_cast<std::int64_t>(options_.n_trees) - 1;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t t = 1; t <= extra; ++t) {
    TreeOptions randomized = options_.tree;
    randomized.random_top_dims = 5;
    randomized.seed = options_.tree.seed * 0x100000001b3ull + static_cast<std::uint64_t>(t);
    trees_[static_cast<std::size_t>(t)].build(points_.view(), randomized);
  }

  set_box();
  built_ = true;
}

void KdTreeIndex::set_box() {
  box_lo_.assign(dim_, std::numeric_limits<float>::infinity());
  box_hi_.assign(dim_, -std::numeric_limits<float>::infinity());
  for (std::size_t i = 0; i < points_.rows(); ++i) {
    const float* x = points_.row(i);
    for (std::size_t j = 0; j < dim_; ++j) {
      box_lo_[j] = std::min(box_lo_[j], x[j]);
      box_hi_[j] = std::max(box_hi_[j], x[j]);
    }
  }
}

void KdTreeIndex::save(const std::string& path) const {
  check_built();
  FileMeta meta{};
  meta.rows = rows_;
  meta.tree_rows = points_.rows();
  meta.n_trees = trees_.size();
  meta.leaf_size = options_.tree.leaf_size;
  meta.seed = options_.tree.seed;
  meta.split = static_cast<std::uint32_t>(options_.tree.split);
  // The trees one after another; each has tree_rows slots.
  std::vector<std::uint64_t> node_counts;
  std::vector<Node> nodes;
  std::vector<std::uint32_t> parents, slots;
  for (const Tree& tree : trees_) {
    node_counts.push_back(tree.node_count());
    nodes.insert(nodes.end(), tree.nodes().begin(), tree.nodes().end());
    parents.insert(parents.end(), tree.parents().begin(), tree.parents().end());
    slots.insert(slots.end(), tree.slots().begin(), tree.slots().end());
  }
  IndexFileWriter writer(kName, kFormatVersion, metric_, dim_, rows_);
  writer.add_value("meta", meta);
  writer.add("points", points_.data(), points_.bytes());
  writer.add("ids", ids_);
  writer.add("zero_ids", zero_ids_);
  writer.add("node_counts", node_counts);
  writer.add("nodes", nodes);
  writer.add("parents", parents);
  writer.add("slots", slots);
  if (metric_ == Metric::Angular) writer.add("raw", base_.data, rows_ * dim_ * sizeof(float));
  writer.write(path);
}

std::unique_ptr<Index> KdTreeIndex::load(const std::string& path, Metric metric, std::size_t dim) {
  const auto reader = IndexFileReader::open(path, kName, kFormatVersion, metric, dim);
  const auto meta = reader.value<FileMeta>("meta");
  if (meta.rows != reader.rows()) {
    reader.fail(fmt::format("'meta' says {} rows, the header {}", meta.rows, reader.rows()));
  }
  if (meta.rows == 0 || meta.rows >= (std::uint64_t{1} << 31) || meta.tree_rows > meta.rows ||
      meta.n_trees < 1 || meta.n_trees > 256 || meta.leaf_size < 1 ||
      meta.split > static_cast<std::uint32_t>(SplitRule::SlidingMidpoint)) {
    reader.fail(fmt::format("'meta' holds {} rows, {} in trees, {} trees, leaf size {}, split {}",
                            meta.rows, meta.tree_rows, meta.n_trees, meta.leaf_size, meta.split));
  }
  const auto rows = static_cast<std::size_t>(meta.rows);
  const auto m = static_cast<std::size_t>(meta.tree_rows);
  const auto n_trees = static_cast<std::size_t>(meta.n_trees);
  IndexOptions options;
  options.n_trees = n_trees;
  options.tree.leaf_size = static_cast<std::size_t>(meta.leaf_size);
  options.tree.seed = meta.seed;
  options.tree.split = static_cast<SplitRule>(meta.split);
  auto index = std::make_unique<KdTreeIndex>(metric, dim, options);
  KdTreeIndex& x = *index;
  x.rows_ = rows;

  const auto points = reader.array<float>("points", m * dim);
  if (!std::all_of(points.begin(), points.end(), [](float v) { return std::isfinite(v); })) {
    reader.fail("'points' holds a non-finite value");
  }
  x.points_ = FloatMatrix(m, dim);
  std::copy(points.begin(), points.end(), x.points_.data());
  // Every base row exactly once: in a tree (ids) or, angular only, among the zero rows.
  x.ids_ = reader.copy<std::uint32_t>("ids", m);
  x.zero_ids_ = reader.copy<std::int64_t>("zero_ids", rows - m);
  check_row_partition(reader, metric, std::span<const std::uint32_t>(x.ids_),
                      std::span<const std::int64_t>(x.zero_ids_), rows);

  const auto node_counts = reader.array<std::uint64_t>("node_counts", n_trees);
  const auto nodes = reader.array<Node>("nodes");
  const auto parents = reader.array<std::uint32_t>("parents", nodes.size());
  const auto slots = reader.array<std::uint32_t>("slots", n_trees * m);
  std::size_t first = 0;
  x.trees_.assign(n_trees, Tree{});
  for (std::size_t t = 0; t < n_trees; ++t) {
    if (node_counts[t] > nodes.size() - first) {
      reader.fail(fmt::format("'node_counts' gives tree {} {} nodes; {} are left", t,
                              node_counts[t], nodes.size() - first));
    }
    const auto count = static_cast<std::size_t>(node_counts[t]);
    const std::string problem =
        x.trees_[t].adopt({nodes.begin() + first, nodes.begin() + first + count},
                          {parents.begin() + first, parents.begin() + first + count},
                          {slots.begin() + t * m, slots.begin() + (t + 1) * m}, m, dim);
    if (!problem.empty()) reader.fail(fmt::format("tree {}: {}", t, problem));
    first += count;
  }
  if (first != nodes.size()) {
    reader.fail(fmt::format("'nodes' holds {} nodes, the trees {}", nodes.size(), first));
  }
  // Tree 0's leaves index the rows directly (the rows are stored in its leaf order).
  for (std::size_t i = 0; i < m; ++i) {
    if (x.trees_[0].slots()[i] != i) reader.fail("tree 0's slots are not in row order");
  }

  if (metric == Metric::Angular) {
    const auto raw = reader.array<float>("raw", rows * dim);
    if (!std::all_of(raw.begin(), raw.end(), [](float v) { return std::isfinite(v); })) {
      reader.fail("'raw' holds a non-finite value");
    }
    x.raw_ = FloatMatrix(rows, dim);
    std::copy(raw.begin(), raw.end(), x.raw_.data());
    x.base_ = x.raw_.view();
  } else if (reader.has("raw")) {
    reader.fail("'raw' is present in a euclidean index");
  }
  x.set_box();
  x.built_ = true;
  return index;
}

void KdTreeIndex::set_search_params(const Params& params) {
  const std::int64_t checks = params.get_int("checks");
  ANNBENCH_CHECK(checks == -1 || checks >= 1,
                 "kdtree: search parameter 'checks' = {} is not a budget: use -1 (no budget) or "
                 "a number of points >= 1",
                 checks);
  const double eps = params.get_float("eps");
  ANNBENCH_CHECK(std::isfinite(eps) && eps >= 0.0,
                 "kdtree: search parameter 'eps' = {} must be finite and >= 0", eps);
  checks_ = checks;
  eps_factor_ = (1.0 + eps) * (1.0 + eps);
}

void KdTreeIndex::check_built() const {
  ANNBENCH_CHECK(built_, "kdtree: search or save before build");
}

const float* KdTreeIndex::prepare(const float* query, Scratch& s) const {
  if (metric_ != Metric::Angular) return query;
  if (is_zero(query, dim_)) return nullptr;
  s.query.resize(dim_);
  normalize_into(query, dim_, s.query.data());
  return s.query.data();
}

double KdTreeIndex::widen(float distance) const {
  if (std::isinf(distance)) return std::numeric_limits<double>::infinity();
  return static_cast<double>(distance) * (1.0 + relative_margin_) + absolute_margin_;
}

double KdTreeIndex::exact(const float* query, std::uint32_t position) const {
  // Euclidean rows are stored unchanged (only reordered); angular needs the raw row.
  const float* x = metric_ == Metric::Angular ? base_.row(ids_[position]) : points_.row(position);
  return distance_kernels().exact(metric_, query, x, dim_);
}

// Distance from the query to the data's box, per dimension: the bound every root starts from.
void KdTreeIndex::start(const float* q, Scratch& s) const {
  s.offsets.resize(dim_);
  s.root_offsets.resize(dim_);
  s.cell_lo.assign(box_lo_.begin(), box_lo_.end());
  s.cell_hi.assign(box_hi_.begin(), box_hi_.end());
  s.is_touched.assign(dim_, 0);
  s.touched.clear();
  s.candidates.clear();
  s.distances = 0;
  for (std::size_t j = 0; j < dim_; ++j) {
    const double v = q[j];
    s.root_offsets[j] = std::max({0.0, box_lo_[j] - v, v - box_hi_[j]});
  }
  std::copy(s.root_offsets.begin(), s.root_offsets.end(), s.offsets.begin());
}

void KdTreeIndex::scan_leaf(const float* q, const Tree& tree, const Node& leaf, bool dedupe,
                            Scratch& s) const {
  const auto l2_squared = distance_kernels().l2_squared;
  const std::uint32_t* slots = tree.slots().data();
  for (std::uint32_t i = leaf.begin; i < leaf.end; ++i) {
    const std::uint32_t position = slots[i];
    if (dedupe && !s.visited.insert(position)) continue;
    const float* x = points_.row(position);
    ++s.distances;
    // Partial distance search: a sum of squares only grows (in float too), so a row is given
    // up once a prefix exceeds the bound; in high dimension most rows go after a chunk or two.
    float d = 0.0f;
    std::size_t j = 0;
    for (; j + kChunk < dim_ && d <= s.prune; j += kChunk) d += l2_squared(q + j, x + j, kChunk);
    if (d > s.prune) continue;
    d += l2_squared(q + j, x + j, dim_ - j);
    if (d > s.prune) continue;
    s.candidates.emplace_back(d, position);
    if (s.top.push(d, position) && s.top.full()) s.prune = widen(s.top.worst());
  }
}

// Arya & Mount's incremental search: `bound` = sum of offsets^2 is a lower bound on the squared
// distance to every row under `node`; crossing a cut replaces one offset.
void KdTreeIndex::depth_first(const float* q, std::uint32_t index, double bound, Scratch& s) const {
  const Tree& tree = trees_[0];
  const Node& node = tree.node(index);
  if (node.leaf()) {
    scan_leaf(q, tree, node, false, s);
    return;
  }
  const auto dim = static_cast<std::size_t>(node.dim);
  const double v = q[dim];
  const bool left_first = (v - node.lo) + (v - node.hi) < 0.0;
  const std::uint32_t near = left_first ? index + 1 : node.right;
  const std::uint32_t far = left_first ? node.right : index + 1;
  const double gap = left_first ? node.hi - v : v - node.lo;
  depth_first(q, near, bound, s);
  const double old = s.offsets[dim];
  const double far_bound = bound - old * old + gap * gap;
  if (far_bound * s.eps_factor > s.prune) return;
  s.offsets[dim] = gap;
  depth_first(q, far, far_bound, s);
  s.offsets[dim] = old;
}

// The exact per-dimension offsets of a queued cell, from the cuts on its path (the near-side
// moves of the descent that queued it did not record them), and its bound. Leaves the
// offsets set for the descent; the caller restores them.
double KdTreeIndex::reconstruct_cell(const float* q, std::size_t tree_index, std::uint32_t index,
                                     double root_bound, Scratch& s) const {
  const Tree& tree = trees_[tree_index];
  for (std::uint32_t child = index; child != 0;) {
    const std::uint32_t parent = tree.parent(child);
    const Node& node = tree.node(parent);
    const auto dim = static_cast<std::size_t>(node.dim);
    if (!s.is_touched[dim]) {
      s.is_touched[dim] = 1;
      s.touched.push_back(static_cast<std::uint32_t>(dim));
    }
    if (child == parent + 1) {
      s.cell_hi[dim] = std::min<double>(s.cell_hi[dim], node.lo);
    } else {
      s.cell_lo[dim] = std::max<double>(s.cell_lo[dim], node.hi);
    }
    child = parent;
  }
  double bound = root_bound;
  for (const std::uint32_t dim : s.touched) {
    const double v = q[dim];
    const double offset = std::max({0.0, s.cell_lo[dim] - v, v - s.cell_hi[dim]});
    bound += offset * offset - s.root_offsets[dim] * s.root_offsets[dim];
    s.offsets[dim] = offset;
  }
  return bound;
}

// Best-bin-first over all trees from one priority queue of cells ordered by their bound, until
// `budget` distinct points were checked (and k found) or no queued cell can hold a better one.
void KdTreeIndex::best_bin_first(const float* q, std::size_t budget, Scratch& s) const {
  const auto later = [](const Scratch::Pending& a, const Scratch::Pending& b) {
    return a.bound > b.bound;
  };
  double root_bound = 0.0;
  for (const double offset : s.root_offsets) root_bound += offset * offset;
  const bool dedupe = trees_.size() > 1;
  if (dedupe) s.visited.reset(points_.rows());
  s.queue.clear();
  for (std::size_t t = 0; t < trees_.size(); ++t) {
    s.queue.push_back({root_bound, static_cast<std::uint32_t>(t), 0});
  }
  std::size_t checked = 0;
  while (!s.queue.empty()) {
    std::pop_heap(s.queue.begin(), s.queue.end(), later);
    const Scratch::Pending cell = s.queue.back();
    s.queue.pop_back();
    if (cell.bound * s.eps_factor > s.prune) break;
    if (checked >= budget && s.top.full()) break;
    const Tree& tree = trees_[cell.tree];
    double bound = reconstruct_cell(q, cell.tree, cell.node, root_bound, s);
    std::uint32_t index = cell.node;
    while (!tree.node(index).leaf() && bound * s.eps_factor <= s.prune) {
      const Node& node = tree.node(index);
      const auto dim = static_cast<std::size_t>(node.dim);
      const double v = q[dim];
      const bool left_first = (v - node.lo) + (v - node.hi) < 0.0;
      const double gap = left_first ? node.hi - v : v - node.lo;
      const double old = s.offsets[dim];
      const double far_bound = bound - old * old + gap * gap;
      if (far_bound * s.eps_factor <= s.prune) {
        s.queue.push_back({far_bound, cell.tree, left_first ? node.right : index + 1});
        std::push_heap(s.queue.begin(), s.queue.end(), later);
      }
      index = left_first ? index + 1 : node.right;
    }
    const Node& leaf = tree.node(index);
    if (leaf.leaf() && bound * s.eps_factor <= s.prune) {
      const std::uint64_t before = s.distances;
      scan_leaf(q, tree, leaf, dedupe, s);
      checked += static_cast<std::size_t>(s.distances - before);
    }
    for (const std::uint32_t dim : s.touched) {
      s.offsets[dim] = s.root_offsets[dim];
      s.cell_lo[dim] = box_lo_[dim];
      s.cell_hi[dim] = box_hi_[dim];
      s.is_touched[dim] = 0;
    }
    s.touched.clear();
  }
}

// Queries are finite (the harness checks them before timing); only the index state is checked.
void KdTreeIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  check_built();
  if (k == 0) return;
  const auto lease = pool_.acquire();
  Scratch& s = *lease;
  const float* q = prepare(query, s);
  s.ranked.clear();
  if (q == nullptr) {  // angular zero query: distance 1 to every row, ties by id
    const std::size_t found = std::min(k, rows_);
    for (std::size_t i = 0; i < found; ++i) out[i] = {static_cast<std::int64_t>(i), 1.0f};
    for (std::size_t i = found; i < k; ++i) out[i] = Neighbor{};
    return;
  }
  start(q, s);
  s.top.reset(std::min(k, points_.rows()));  // k beyond n must not size anything by k
  s.prune = std::numeric_limits<double>::infinity();
  s.eps_factor = eps_factor_;
  if (points_.rows() > 0) {
    if (checks_ < 0) {
      double root_bound = 0.0;
      for (const double offset : s.root_offsets) root_bound += offset * offset;
      depth_first(q, 0, root_bound, s);
    } else {
      best_bin_first(q, static_cast<std::size_t>(checks_), s);
    }
  }
  // Everything within the widened k-th distance goes to the exact re-ranking.
  const double keep = widen(s.top.worst());
  for (const auto& [d, position] : s.candidates) {
    if (d <= keep) s.ranked.emplace_back(exact(query, position), ids_[position]);
  }
  s.distances += s.ranked.size();
  for (std::size_t i = 0; i < std::min(k, zero_ids_.size()); ++i) {
    s.ranked.emplace_back(1.0, zero_ids_[i]);
  }
  const std::size_t found = std::min(k, s.ranked.size());
  std::partial_sort(s.ranked.begin(), s.ranked.begin() + static_cast<std::ptrdiff_t>(found),
                    s.ranked.end());
  for (std::size_t i = 0; i < found; ++i) {
    out[i] = {s.ranked[i].second, static_cast<float>(s.ranked[i].first)};
  }
  for (std::size_t i = found; i < k; ++i) out[i] = Neighbor{};
  distances_.add(s.distances);
}

void KdTreeIndex::search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
  // Checked up front: an exception cannot leave an OpenMP loop.
  check_built();
  const auto n = static_cast<std::int64_t>(queries.rows);
#pragma omp parallel for schedule(dynamic, 8)
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::size_t>(i);
    search(queries.row(row), k, out + row * k);
  }
}

void KdTreeIndex::range_search(const float* query, float radius, std::vector<Neighbor>& out) const {
  check_built();
  ANNBENCH_CHECK(!std::isnan(radius), "kdtree: range_search radius is NaN");
  if (radius < 0.0f) return;
  const auto lease = pool_.acquire();
  Scratch& s = *lease;
  const float* q = prepare(query, s);
  if (q == nullptr || radius >= 1.0f) {  // distance 1 rows: every row or the zero rows
    if (q == nullptr) {
      for (std::size_t i = 0; i < rows_; ++i) {
        out.push_back({static_cast<std::int64_t>(i), 1.0f});
      }
      return;
    }
    for (const std::int64_t id : zero_ids_) out.push_back({id, 1.0f});
  }
  if (points_.rows() == 0) return;
  start(q, s);
  s.top.reset(0);  // a fixed bound: nothing tightens it
  const double r = radius;
  const double tree_radius2 = metric_ == Metric::Angular ? 2.0 * r : r * r;
  s.prune = tree_radius2 * (1.0 + relative_margin_) + absolute_margin_;
  s.eps_factor = 1.0;  // exact whatever eps the k-NN search uses
  double root_bound = 0.0;
  for (const double offset : s.root_offsets) root_bound += offset * offset;
  depth_first(q, 0, root_bound, s);
  for (const auto& [d, position] : s.candidates) {
    const double distance = exact(query, position);
    if (distance <= r) out.push_back({ids_[position], static_cast<float>(distance)});
  }
  distances_.add(s.distances + s.candidates.size());
}

std::size_t KdTreeIndex::memory_bytes() const {
  std::size_t bytes = points_.bytes() + ids_.size() * sizeof(std::uint32_t) +
                      zero_ids_.size() * sizeof(std::int64_t) +
                      (box_lo_.size() + box_hi_.size()) * sizeof(float);
  for (const Tree& tree : trees_) bytes += tree.bytes();
  // Angular re-ranks against the raw rows (the referenced base, or a loaded index's own copy).
  if (metric_ == Metric::Angular) bytes += rows_ * dim_ * sizeof(float);
  return bytes + pool_.bytes();
}

}  // namespace annbench::kdtree
