#include "tree.h"

#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

namespace annbench::kdtree {
namespace {

std::uint64_t next_random(std::uint64_t& state) {  // splitmix64
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

void Tree::build(MatrixView data, const TreeOptions& options) {
  ANNBENCH_CHECK(data.rows < (std::size_t{1} << 32), "kdtree: {} rows exceed 2^32", data.rows);
  ANNBENCH_CHECK(options.leaf_size >= 1, "kdtree: leaf_size must be at least 1");
  data_ = data;
  options_ = options;
  rng_state_ = options.seed;
  nodes_.clear();
  parents_.clear();
  depth_ = 0;
  slots_.resize(data.rows);
  std::iota(slots_.begin(), slots_.end(), 0u);
  mean_.resize(data.dim);
  spread_.resize(data.dim);
  // Sliding-midpoint cuts can peel off a few rows per level on skewed data; past this depth a
  // subtree switches to median cuts, so depth (and the recursion here and in search) stays
  // O(log n).
  midpoint_depth_limit_ = 2 * static_cast<std::size_t>(std::log2(data.rows + 1.0)) + 16;
  if (data.rows == 0) return;
  nodes_.reserve(2 * (data.rows / options.leaf_size) + 1);
  build_node(0, static_cast<std::uint32_t>(data.rows), 0, 0);
  mean_ = {};
  spread_ = {};
}

std::uint32_t Tree::build_node(std::uint32_t begin, std::uint32_t end, std::size_t depth,
                               std::uint32_t parent) {
  const auto index = static_cast<std::uint32_t>(nodes_.size());
  nodes_.emplace_back();
  parents_.push_back(parent);
  depth_ = std::max(depth_, depth);
  float min = 0.0f;
  float max = 0.0f;
  const std::int32_t dim = end - begin > options_.leaf_size ? choose_dim(begin, end, min, max) : -1;
  if (dim < 0) {  // small enough, or every row identical: nothing to cut
    nodes_[index].begin = begin;
    nodes_[index].end = end;
    return index;
  }
  const auto d = static_cast<std::size_t>(dim);
  const std::uint32_t middle = partition(begin, end, d, min, max, depth);
  float lo = -INFINITY;
  for (std::uint32_t i = begin; i < middle; ++i) lo = std::max(lo, data_.row(slots_[i])[d]);
  float hi = INFINITY;
  for (std::uint32_t i = middle; i < end; ++i) hi = std::min(hi, data_.row(slots_[i])[d]);
  build_node(begin, middle, depth + 1, index);
  const std::uint32_t right = build_node(middle, end, depth + 1, index);
  Node& node = nodes_[index];
  node.dim = dim;
  node.lo = lo;
  node.hi = hi;
  node.right = right;
  return index;
}

std::int32_t Tree::choose_dim(std::uint32_t begin, std::uint32_t end, float& min_out,
                              float& max_out) {
  const std::size_t dim = data_.dim;
  // Spread = variance, as FLANN measures it: on image-like data every coordinate has the same
  // range (0..255), so the extent would not tell the informative dimensions apart. Large nodes
  // estimate it on an even sample of rows.
  const std::uint32_t count = end - begin;
  const std::uint32_t stride = std::max<std::uint32_t>(1, count / kVarianceSample);
  std::fill(mean_.begin(), mean_.end(), 0.0);
  std::fill(spread_.begin(), spread_.end(), 0.0);
  std::size_t sampled = 0;
  for (std::uint32_t i = begin; i < end; i += stride) {
    const float* x = data_.row(slots_[i]);
    ++sampled;
    for (std::size_t j = 0; j < dim; ++j) {  // Welford: stable for offset data
      const double delta = x[j] - mean_[j];
      mean_[j] += delta / static_cast<double>(sampled);
      spread_[j] += delta * (x[j] - mean_[j]);
    }
  }
  std::size_t best = 0;
  for (std::size_t j = 1; j < dim; ++j) {
    if (spread_[j] > spread_[best]) best = j;
  }
  if (!(spread_[best] > 0.0)) {
    // The sample is constant; the node may still not be. Use extents over every row.
    if (stride == 1) return -1;
    std::fill(spread_.begin(), spread_.end(), 0.0);
    const float* first = data_.row(slots_[begin]);
    for (std::uint32_t i = begin + 1; i < end; ++i) {
      const float* x = data_.row(slots_[i]);
      for (std::size_t j = 0; j < dim; ++j) {
        spread_[j] = std::max(spread_[j], std::abs(static_cast<double>(x[j]) - first[j]));
      }
    }
    best = static_cast<std::size_t>(std::max_element(spread_.begin(), spread_.end()) -
                                    spread_.begin());
    if (!(spread_[best] > 0.0)) return -1;
  }
  if (options_.random_top_dims > 1) {
    std::vector<std::size_t> order(dim);
    std::iota(order.begin(), order.end(), std::size_t{0});
    const std::size_t top = std::min(options_.random_top_dims, dim);
    const auto wider = [&](std::size_t a, std::size_t b) {
      return spread_[a] > spread_[b] || (spread_[a] == spread_[b] && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                      wider);
    std::size_t usable = 0;  // a dimension without spread cannot be cut
    while (usable < top && spread_[order[usable]] > 0.0) ++usable;
    best = order[next_random(rng_state_) % usable];
  }
  min_out = max_out = data_.row(slots_[begin])[best];
  for (std::uint32_t i = begin + 1; i < end; ++i) {
    const float x = data_.row(slots_[i])[best];
    min_out = std::min(min_out, x);
    max_out = std::max(max_out, x);
  }
  return static_cast<std::int32_t>(best);
}

std::uint32_t Tree::partition(std::uint32_t begin, std::uint32_t end, std::size_t dim, float min,
                              float max, std::size_t depth) {
  const auto coordinate = [&](std::uint32_t slot) { return data_.row(slot)[dim]; };
  if (options_.split == SplitRule::SlidingMidpoint && depth < midpoint_depth_limit_) {
    // min < max, so both sides are non-empty unless the midpoint rounds onto min.
    const float cut = min + (max - min) * 0.5f;
    const auto middle = std::partition(slots_.begin() + begin, slots_.begin() + end,
                                       [&](std::uint32_t s) { return coordinate(s) < cut; });
    const auto split = static_cast<std::uint32_t>(middle - slots_.begin());
    if (split > begin && split < end) return split;
  }
  const std::uint32_t middle = begin + (end - begin) / 2;
  std::nth_element(slots_.begin() + begin, slots_.begin() + middle, slots_.begin() + end,
                   [&](std::uint32_t a, std::uint32_t b) { return coordinate(a) < coordinate(b); });
  return middle;
}

void Tree::relabel_slots_in_order() {
  std::iota(slots_.begin(), slots_.end(), 0u);
}

std::string Tree::adopt(std::vector<Node> nodes, std::vector<std::uint32_t> parents,
                        std::vector<std::uint32_t> slots, std::size_t rows, std::size_t dim) {
  if (slots.size() != rows) return fmt::format("{} slots for {} rows", slots.size(), rows);
  if (parents.size() != nodes.size()) {
    return fmt::format("{} parents for {} nodes", parents.size(), nodes.size());
  }
  if (nodes.empty() != (rows == 0)) {
    return fmt::format("{} nodes over {} rows", nodes.size(), rows);
  }
  std::vector<std::uint8_t> seen(rows, 0);
  for (const std::uint32_t slot : slots) {
    if (slot >= rows || seen[slot]++ != 0) {
      return fmt::format("slot {} is outside 0..{} or repeated", slot, rows);
    }
  }
  // Deeper than any build makes (sliding-midpoint levels are capped, then median cuts halve):
  // the search recurses once per level.
  const auto depth_limit = 4 * static_cast<std::size_t>(std::log2(rows + 1.0)) + 34;
  std::size_t depth = 0;
  std::size_t next = 0;     // preorder: nodes are reached in index order, each once
  std::size_t covered = 0;  // leaves cover the slots left to right
  std::vector<std::pair<std::size_t, std::size_t>> stack;  // (node, depth)
  if (!nodes.empty()) stack.emplace_back(0, 0);
  while (!stack.empty()) {
    const auto [i, level] = stack.back();
    stack.pop_back();
    if (i != next) return fmt::format("node {} is out of preorder (expected node {})", i, next);
    ++next;
    if (level > depth_limit) return fmt::format("depth {} exceeds {}", level, depth_limit);
    depth = std::max(depth, level);
    const Node& node = nodes[i];
    if (node.leaf()) {
      if (node.begin != covered || node.end < node.begin || node.end > rows) {
        return fmt::format("leaf {} covers slots [{}, {}), expected a range from {} within {}", i,
                           node.begin, node.end, covered, rows);
      }
      covered = node.end;
      continue;
    }
    if (static_cast<std::size_t>(node.dim) >= dim || std::isnan(node.lo) || std::isnan(node.hi)) {
      return fmt::format("node {} cuts dimension {} of {} at [{}, {}]", i, node.dim, dim, node.lo,
                         node.hi);
    }
    if (node.right <= i + 1 || node.right >= nodes.size()) {
      return fmt::format("node {} has right child {} outside {}..{}", i, node.right, i + 2,
                         nodes.size());
    }
    if (parents[i + 1] != i || parents[node.right] != i) {
      return fmt::format("the children of node {} name other parents", i);
    }
    stack.emplace_back(node.right, level + 1);
    stack.emplace_back(i + 1, level + 1);
  }
  if (next != nodes.size()) return fmt::format("{} of {} nodes reached", next, nodes.size());
  if (covered != rows) return fmt::format("leaves cover {} of {} slots", covered, rows);
  if (!parents.empty() && parents[0] != 0) return "the root names a parent";
  data_ = {};
  options_ = {};
  nodes_ = std::move(nodes);
  parents_ = std::move(parents);
  slots_ = std::move(slots);
  depth_ = depth;
  return {};
}

std::size_t Tree::bytes() const {
  return nodes_.size() * (sizeof(Node) + sizeof(std::uint32_t)) +
         slots_.size() * sizeof(std::uint32_t);
}

}  // namespace annbench::kdtree
