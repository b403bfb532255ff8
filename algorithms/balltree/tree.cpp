// Ball tree construction: top-down, each node split at the median of the points' projections
// on one direction (Omohundro's "five balltree construction algorithms", 1989; the projection
// split is the k-d construction of Moore's "anchors" and of scikit-learn's BallTree, but on a
// data-driven direction instead of a coordinate).

#include "tree.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

namespace annbench::balltree {

struct BallTree::Builder {
  MatrixView source;
  const BuildOptions& options;
  const DistanceKernels& kernels = distance_kernels();
  std::vector<std::uint32_t> order;  // source rows, permuted as nodes are split
  std::vector<float> centers;        // node_count × dim, grown in pre-order
  std::vector<Node> nodes;
  std::mt19937_64 rng;
  std::vector<std::pair<float, std::uint32_t>> projections;  // scratch for the median split
  std::vector<double> accumulator;                           // scratch, dim doubles
  std::size_t leaf_count = 0;
  std::size_t depth = 0;

  Builder(MatrixView points, const BuildOptions& build_options)
      : source(points), options(build_options), rng(build_options.seed) {
    order.resize(points.rows);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
    accumulator.resize(points.dim);
  }

  const float* row(std::size_t position) const { return source.row(order[position]); }

  std::uint32_t build_node(std::size_t begin, std::size_t end, std::size_t level) {
    const auto index = static_cast<std::uint32_t>(nodes.size());
    nodes.push_back(
        Node{static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end), 0, 0.0f});
    depth = std::max(depth, level);
    const std::size_t dim = source.dim;
    centers.resize(centers.size() + dim);
    set_centroid(begin, end, centers.data() + index * dim);
    nodes[index].radius = radius(begin, end, centers.data() + index * dim);
    if (end - begin <= options.leaf_size) {
      ++leaf_count;
      return index;
    }
    const std::size_t middle = split(begin, end, index);
    build_node(begin, middle, level + 1);
    nodes[index].right = build_node(middle, end, level + 1);
    return index;
  }

  void set_centroid(std::size_t begin, std::size_t end, float* center) {
    std::fill(accumulator.begin(), accumulator.end(), 0.0);
    for (std::size_t p = begin; p < end; ++p) {
      const float* x = row(p);
      for (std::size_t j = 0; j < source.dim; ++j) accumulator[j] += x[j];
    }
    const double inverse = 1.0 / static_cast<double>(end - begin);
    for (std::size_t j = 0; j < source.dim; ++j)
      center[j] = static_cast<float>(accumulator[j] * inverse);
  }

  // Largest float distance to the centre, widened into a bound on the real distance.
  float radius(std::size_t begin, std::size_t end, const float* center) const {
    float largest = 0.0f;
    for (std::size_t p = begin; p < end; ++p)
      largest = std::max(largest, kernels.l2_squared(center, row(p), source.dim));
    const double bound = std::sqrt(static_cast<double>(largest)) * (1.0 + options.relative_error);
    return std::nextafter(static_cast<float>(bound), std::numeric_limits<float>::infinity());
  }

  std::size_t farthest_from(const float* from, std::size_t begin, std::size_t end) const {
    std::size_t best = begin;
    float best_distance = -1.0f;
    for (std::size_t p = begin; p < end; ++p) {
      const float d = kernels.l2_squared(from, row(p), source.dim);
      if (d > best_distance) {
        best_distance = d;
        best = p;
      }
    }
    return best;
  }

  // Direction a -> b between the two ends of two farthest-point sweeps: a cheap stand-in for
  // the node's diameter. All-equal points give the zero vector (the split then goes by id).
  std::vector<float> farthest_direction(std::size_t begin, std::size_t end) {
    std::uniform_int_distribution<std::size_t> pick(begin, end - 1);
    const std::size_t a = farthest_from(row(pick(rng)), begin, end);
    const std::size_t b = farthest_from(row(a), begin, end);
    std::vector<float> direction(source.dim);
    for (std::size_t j = 0; j < source.dim; ++j) direction[j] = row(b)[j] - row(a)[j];
    return direction;
  }

  // A few power-iteration steps on the node's scatter matrix, started from the farthest pair's
  // direction (already close to the top axis on most data, so three steps suffice).
  void refine_to_principal_axis(std::size_t begin, std::size_t end, const float* center,
                                std::vector<float>& direction) {
    constexpr int kSteps = 3;
    const std::size_t dim = source.dim;
    std::vector<float> centered(dim);
    for (int step = 0; step < kSteps; ++step) {
      std::fill(accumulator.begin(), accumulator.end(), 0.0);
      for (std::size_t p = begin; p < end; ++p) {
        const float* x = row(p);
        for (std::size_t j = 0; j < dim; ++j) centered[j] = x[j] - center[j];
        const double along = kernels.inner_product(centered.data(), direction.data(), dim);
        for (std::size_t j = 0; j < dim; ++j) accumulator[j] += along * centered[j];
      }
      double norm = 0.0;
      for (const double v : accumulator) norm += v * v;
      if (!(norm > 0.0) || !std::isfinite(norm)) return;  // no spread along it: keep as is
      const double inverse = 1.0 / std::sqrt(norm);
      for (std::size_t j = 0; j < dim; ++j)
        direction[j] = static_cast<float>(accumulator[j] * inverse);
    }
  }

  // Median split on the projections (ties by source row, so the tree does not depend on the
  // order points arrive in). Returns the first position of the right half.
  std::size_t split(std::size_t begin, std::size_t end, std::uint32_t node) {
    std::vector<float> direction = farthest_direction(begin, end);
    if (options.split == SplitRule::PrincipalAxis)
      refine_to_principal_axis(begin, end, centers.data() + node * source.dim, direction);
    projections.clear();
    for (std::size_t p = begin; p < end; ++p)
      projections.emplace_back(kernels.inner_product(row(p), direction.data(), source.dim),
                               order[p]);
    const std::size_t half = (end - begin) / 2;
    std::nth_element(projections.begin(), projections.begin() + static_cast<std::ptrdiff_t>(half),
                     projections.end());
    for (std::size_t i = 0; i < projections.size(); ++i) order[begin + i] = projections[i].second;
    return begin + half;
  }
};

void BallTree::build(MatrixView points, std::span<const std::uint32_t> ids,
                     const BuildOptions& options) {
  ANNBENCH_CHECK(ids.size() == points.rows, "balltree: {} ids for {} points", ids.size(),
                 points.rows);
  ANNBENCH_CHECK(options.leaf_size >= 1, "balltree: leaf_size must be at least 1, got {}",
                 options.leaf_size);
  ANNBENCH_CHECK(points.rows < std::numeric_limits<std::uint32_t>::max(),
                 "balltree: {} points exceed the 32-bit position space", points.rows);
  dim_ = points.dim;
  nodes_.clear();
  ids_.clear();
  points_ = FloatMatrix();
  centers_ = FloatMatrix();
  leaf_count_ = 0;
  depth_ = 0;
  if (points.rows == 0) return;

  Builder builder(points, options);
  builder.build_node(0, points.rows, 0);

  points_ = FloatMatrix(points.rows, dim_);
  ids_.resize(points.rows);
  for (std::size_t p = 0; p < points.rows; ++p) {
    const std::uint32_t source_row = builder.order[p];
    std::copy_n(points.row(source_row), dim_, points_.row(p));
    ids_[p] = ids[source_row];
  }
  centers_ = FloatMatrix(builder.nodes.size(), dim_);
  std::copy(builder.centers.begin(), builder.centers.end(), centers_.data());
  nodes_ = std::move(builder.nodes);
  leaf_count_ = builder.leaf_count;
  depth_ = builder.depth;
}

std::string BallTree::adopt(FloatMatrix points, FloatMatrix centers, std::vector<Node> nodes,
                            std::vector<std::uint32_t> ids) {
  const std::size_t rows = points.rows();
  if (ids.size() != rows) return fmt::format("{} ids for {} points", ids.size(), rows);
  if (centers.rows() != nodes.size() || centers.cols() != points.cols()) {
    return fmt::format("{} centres of dimension {} for {} nodes of dimension {}", centers.rows(),
                       centers.cols(), nodes.size(), points.cols());
  }
  if (nodes.empty() != (rows == 0))
    return fmt::format("{} nodes over {} points", nodes.size(), rows);
  const auto finite = [](const FloatMatrix& m) {
    return std::all_of(m.data(), m.data() + m.size(), [](float v) { return std::isfinite(v); });
  };
  if (!finite(points) || !finite(centers)) return "a point or centre is not finite";
  // Median splits halve every node: anything much deeper is not a tree a build made.
  const auto depth_limit = 2 * static_cast<std::size_t>(std::log2(rows + 1.0)) + 34;
  std::size_t depth = 0;
  std::size_t leaves = 0;
  std::size_t next = 0;  // pre-order: nodes are reached in index order, each once
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // (node, depth)
  if (!nodes.empty()) {
    if (nodes[0].begin != 0 || nodes[0].end != rows) {
      return fmt::format("the root covers [{}, {}), not the {} points", nodes[0].begin,
                         nodes[0].end, rows);
    }
    stack.emplace_back(0, 0);
  }
  while (!stack.empty()) {
    const auto [i, level] = stack.back();
    stack.pop_back();
    if (i != next) return fmt::format("node {} is out of pre-order (expected node {})", i, next);
    ++next;
    if (level > depth_limit) return fmt::format("depth {} exceeds {}", level, depth_limit);
    depth = std::max(depth, level);
    const Node& node = nodes[i];
    if (!(node.radius >= 0.0f)) {  // +inf is possible: squares of huge coordinates overflow
      return fmt::format("node {} has radius {}", i, node.radius);
    }
    if (node.leaf()) {
      ++leaves;
      continue;
    }
    if (node.right <= i + 1 || node.right >= nodes.size()) {
      return fmt::format("node {} has right child {} outside {}..{}", i, node.right, i + 2,
                         nodes.size());
    }
    const Node& left = nodes[i + 1];
    const Node& right = nodes[node.right];
    // Parent's range [begin, end) cut into non-empty [begin, middle) and [middle, end).
    if (left.begin != node.begin || right.end != node.end || left.end != right.begin ||
        !(left.begin < left.end) || !(right.begin < right.end)) {
      return fmt::format("node {} [{}, {}) has children [{}, {}) and [{}, {})", i, node.begin,
                         node.end, left.begin, left.end, right.begin, right.end);
    }
    stack.emplace_back(node.right, level + 1);
    stack.emplace_back(i + 1, level + 1);
  }
  if (next != nodes.size()) return fmt::format("{} of {} nodes reached", next, nodes.size());
  dim_ = points.cols();
  points_ = std::move(points);
  centers_ = std::move(centers);
  nodes_ = std::move(nodes);
  ids_ = std::move(ids);
  leaf_count_ = leaves;
  depth_ = depth;
  return {};
}

std::size_t BallTree::bytes() const {
  return points_.bytes() + centers_.bytes() + nodes_.size() * sizeof(Node) +
         ids_.size() * sizeof(std::uint32_t);
}

}  // namespace annbench::balltree
