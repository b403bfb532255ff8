#include "tree.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <utility>

namespace annbench::vptree {
namespace {

// SplitMix64: a node's random choices come from (seed, range), never from a shared stream, so
// the tree is the same whatever order OpenMP tasks run in.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct NodeRandom {
  std::uint64_t state;
  std::size_t below(std::size_t bound) {
    state = mix(state);
    return static_cast<std::size_t>(state % bound);
  }
};

// Nodes in a subtree over `count` points: fixed by the count alone (splits are by position),
// which lets the builder place every subtree's nodes in pre-order before building it.
std::size_t subtree_nodes(std::size_t count, std::size_t leaf_size) {
  if (count == 0) return 0;
  if (count <= leaf_size) return 1;
  const std::size_t inner = (count - 1) / 2;
  return 1 + subtree_nodes(inner, leaf_size) + subtree_nodes(count - 1 - inner, leaf_size);
}

// Subtrees at least this large are built as separate OpenMP tasks.
constexpr std::size_t kTaskGrain = 4096;

}  // namespace

float VpTree::distance(const float* a, const float* b) const {
  return std::sqrt(distance_kernels().l2_squared(a, b, points_.cols()));
}

struct VpTree::Builder {
  VpTree& tree;
  MatrixView source;  // caller's order
  const TreeOptions& options;
  std::vector<std::uint32_t> rows;       // tree position -> source row
  std::vector<float> scratch_distances;  // tree position -> distance to the current vp
  std::atomic<std::uint64_t> computed{0};

  float distance(std::uint32_t a, std::uint32_t b) const {
    return std::sqrt(distance_kernels().l2_squared(source.row(a), source.row(b), source.dim));
  }

  // Yianilos' rule: the candidate whose distances to a sample spread widest (largest
  // variance) splits the node best. Moves the winner to position begin.
  void choose_vantage_point(std::size_t begin, std::size_t end, NodeRandom& random) {
    const std::size_t count = end - begin;
    const std::size_t candidates = std::min(options.vp_candidates, count);
    const std::size_t sample = std::min(options.vp_sample, count);
    if (candidates <= 1) {
      std::swap(rows[begin], rows[begin + random.below(count)]);
      return;
    }
    std::vector<std::uint32_t> sampled(sample);
    for (auto& s : sampled) s = rows[begin + random.below(count)];
    std::size_t best = begin;
    double best_spread = -1.0;
    for (std::size_t c = 0; c < candidates; ++c) {
      const std::size_t position = begin + random.below(count);
      double sum = 0.0;
      double sum_squares = 0.0;
      for (const std::uint32_t s : sampled) {
        const double d = distance(rows[position], s);
        sum += d;
        sum_squares += d * d;
      }
      const double mean = sum / static_cast<double>(sample);
      const double spread = sum_squares / static_cast<double>(sample) - mean * mean;
      if (spread > best_spread) {
        best_spread = spread;
        best = position;
      }
    }
    computed.fetch_add(candidates * sample, std::memory_order_relaxed);
    std::swap(rows[begin], rows[best]);
  }

  static VpTree::Ring ring_of(const float* first, const float* last) {
    if (first == last) return {};
    const auto [lo, hi] = std::minmax_element(first, last);
    return {*lo, *hi};
  }

  // Builds the subtree over tree positions [begin, end) into nodes_[node_index ...].
  void build(std::size_t node_index, std::size_t begin, std::size_t end) {
    Node& node = tree.nodes_[node_index];
    node.begin = static_cast<std::uint32_t>(begin);
    node.end = static_cast<std::uint32_t>(end);
    const std::size_t count = end - begin;
    if (count <= options.leaf_size) return;

    NodeRandom random{mix(options.seed ^ mix(begin * 0x100000001b3ULL + end))};
    choose_vantage_point(begin, end, random);
    const std::uint32_t vantage = rows[begin];
    const auto first = static_cast<std::int64_t>(begin + 1);
    const auto last = static_cast<std::int64_t>(end);
#pragma omp taskloop grainsize(2048) if (count >= 4 * kTaskGrain)
    for (std::int64_t p = first; p < last; ++p) {
      const auto position = static_cast<std::size_t>(p);
      scratch_distances[position] = distance(vantage, rows[position]);
    }
    computed.fetch_add(count - 1, std::memory_order_relaxed);

    // Median split by position, so depth stays log2(n / leaf_size) even with duplicates.
    const std::size_t inner_count = (count - 1) / 2;
    const std::size_t mid = begin + 1 + inner_count;
    std::vector<std::pair<float, std::uint32_t>> keyed(count - 1);
    for (std::size_t p = begin + 1; p < end; ++p)
      keyed[p - begin - 1] = {scratch_distances[p], rows[p]};
    std::nth_element(keyed.begin(), keyed.begin() + static_cast<std::ptrdiff_t>(inner_count),
                     keyed.end());
    for (std::size_t p = begin + 1; p < end; ++p) {
      scratch_distances[p] = keyed[p - begin - 1].first;
      rows[p] = keyed[p - begin - 1].second;
      tree.parent_distance_[p] = scratch_distances[p];
    }
    node.inner_ring = ring_of(&scratch_distances[begin + 1], scratch_distances.data() + mid);
    node.outer_ring = ring_of(scratch_distances.data() + mid, scratch_distances.data() + end);

    const std::size_t inner_nodes = subtree_nodes(inner_count, options.leaf_size);
    const std::size_t outer_count = end - mid;
    node.inner = inner_count > 0 ? static_cast<std::int32_t>(node_index + 1) : -1;
    node.outer = outer_count > 0 ? static_cast<std::int32_t>(node_index + 1 + inner_nodes) : -1;
    const std::size_t inner_index = node_index + 1;
    const std::size_t outer_index = node_index + 1 + inner_nodes;
    if (inner_count > 0) {
#pragma omp task if (inner_count >= kTaskGrain)
      build(inner_index, begin + 1, mid);
    }
    if (outer_count > 0) {
#pragma omp task if (outer_count >= kTaskGrain)
      build(outer_index, mid, end);
    }
#pragma omp taskwait
  }
};

std::uint64_t VpTree::build(MatrixView points, std::vector<std::uint32_t> ids,
                            const TreeOptions& options, Margin margin) {
  ANNBENCH_CHECK(options.leaf_size >= 1, "vptree: leaf_size must be at least 1, got {}",
                 options.leaf_size);
  ANNBENCH_CHECK(ids.size() == points.rows, "vptree: {} ids for {} points", ids.size(),
                 points.rows);
  ANNBENCH_CHECK(points.rows < std::numeric_limits<std::int32_t>::max(),
                 "vptree: {} points is more than this tree's 32-bit positions allow", points.rows);
  margin_ = margin;
  const std::size_t n = points.rows;
  nodes_.assign(subtree_nodes(n, options.leaf_size), Node{});
  parent_distance_.assign(n, 0.0f);

  // Build on the caller's rows (rows[] is the permutation), then copy once in tree order.
  points_ = FloatMatrix(n, points.dim);  // dim() is read by distance() during the build
  Builder builder{*this, points, options, {}, std::vector<float>(n, 0.0f)};
  builder.rows.resize(n);
  for (std::size_t i = 0; i < n; ++i) builder.rows[i] = static_cast<std::uint32_t>(i);
  if (n > 0) {
#pragma omp parallel
#pragma omp single
    builder.build(0, 0, n);
  }

  ids_.resize(n);
  const auto rows = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static)
  for (std::int64_t p = 0; p < rows; ++p) {
    const auto position = static_cast<std::size_t>(p);
    const std::uint32_t source_row = builder.rows[position];
    ids_[position] = ids[source_row];
    std::copy_n(points.row(source_row), points.dim, points_.row(position));
  }
  return builder.computed.load();
}

std::string VpTree::adopt(FloatMatrix points, std::vector<std::uint32_t> ids,
                          std::vector<float> parent_distances, std::vector<Node> nodes,
                          Margin margin) {
  const std::size_t rows = points.rows();
  if (ids.size() != rows || parent_distances.size() != rows) {
    return fmt::format("{} ids and {} parent distances for {} points", ids.size(),
                       parent_distances.size(), rows);
  }
  if (nodes.empty() != (rows == 0))
    return fmt::format("{} nodes over {} points", nodes.size(), rows);
  if (!(margin.relative >= 0.0f) || !(margin.absolute >= 0.0f) || !std::isfinite(margin.relative) ||
      !std::isfinite(margin.absolute)) {
    return fmt::format("rounding margin {} relative, {} absolute", margin.relative,
                       margin.absolute);
  }
  // Splits by position halve every node: anything much deeper is not a tree a build made.
  const auto depth_limit = 2 * static_cast<std::size_t>(std::log2(rows + 1.0)) + 34;
  const auto valid_child = [&](std::int32_t child, std::size_t parent) {
    return child > static_cast<std::int64_t>(parent) &&
           static_cast<std::size_t>(child) < nodes.size();
  };
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
    const Node& node = nodes[i];
    if (!(node.begin < node.end)) {
      return fmt::format("node {} covers the empty range [{}, {})", i, node.begin, node.end);
    }
    if (node.leaf()) continue;
    // The vantage point at begin; inner then outer cover (begin, end) without a gap.
    std::uint32_t at = node.begin + 1;
    for (const std::int32_t child : {node.inner, node.outer}) {
      if (child < 0) continue;
      if (!valid_child(child, i)) {
        return fmt::format("node {} has child {} outside {}..{}", i, child, i + 1, nodes.size());
      }
      const Node& c = nodes[static_cast<std::size_t>(child)];
      if (c.begin != at) {
        return fmt::format("node {} [{}, {}): child {} starts at {}, not {}", i, node.begin,
                           node.end, child, c.begin, at);
      }
      at = c.end;
    }
    if (at != node.end) {
      return fmt::format("node {} [{}, {}): its children end at {}", i, node.begin, node.end, at);
    }
    if (node.outer >= 0) stack.emplace_back(static_cast<std::size_t>(node.outer), level + 1);
    if (node.inner >= 0) stack.emplace_back(static_cast<std::size_t>(node.inner), level + 1);
  }
  if (next != nodes.size()) return fmt::format("{} of {} nodes reached", next, nodes.size());
  points_ = std::move(points);
  ids_ = std::move(ids);
  parent_distance_ = std::move(parent_distances);
  nodes_ = std::move(nodes);
  margin_ = margin;
  return {};
}

std::size_t VpTree::bytes() const {
  return points_.bytes() + ids_.size() * sizeof(std::uint32_t) +
         parent_distance_.size() * sizeof(float) + nodes_.size() * sizeof(Node);
}

}  // namespace annbench::vptree
