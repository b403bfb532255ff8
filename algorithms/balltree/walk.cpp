#include "walk.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace annbench::balltree {

namespace {
constexpr double kInfinity = std::numeric_limits<double>::infinity();
constexpr float kFloatInfinity = std::numeric_limits<float>::infinity();
}  // namespace

Walk::Walk(const BallTree& tree, const ErrorModel& errors, const float* query, WalkScratch& scratch)
    : tree_(tree),
      kernels_(distance_kernels()),
      errors_(errors),
      query_(query),
      scratch_(scratch),
      bound_(kInfinity),
      keep_(kFloatInfinity) {}

// `answer`: an upper bound on the real distance of the answer's farthest point (the k-th
// neighbour, or the range radius).
void Walk::set_bound(double answer) {
  bound_ = answer + errors_.absolute;
  const double keep = bound_ * (1.0 + errors_.relative);
  keep_ = std::isfinite(keep) ? std::nextafter(static_cast<float>(keep * keep), kFloatInfinity)
                              : kFloatInfinity;
}

double Walk::center_distance(std::uint32_t node) {
  ++distances_;
  const float squared = kernels_.l2_squared(query_, tree_.center(node), tree_.dim());
  return std::sqrt(static_cast<double>(squared)) / (1.0 + errors_.relative);
}

double Walk::lower_bound(std::uint32_t node) {
  return center_distance(node) - static_cast<double>(tree_.node(node).radius);
}

void Walk::offer(float distance, std::uint32_t position) {
  if (!(distance <= keep_)) return;
  std::vector<Candidate>& candidates = scratch_.candidates;
  candidates.push_back({distance, position});
  if (k_ == 0) return;
  std::vector<float>& nearest = scratch_.nearest;
  if (nearest.size() < k_) {
    nearest.push_back(distance);
    std::push_heap(nearest.begin(), nearest.end());
    if (nearest.size() < k_) return;
  } else if (distance < nearest.front()) {
    std::pop_heap(nearest.begin(), nearest.end());
    nearest.back() = distance;
    std::push_heap(nearest.begin(), nearest.end());
  } else {
    return;
  }
  set_bound(std::sqrt(static_cast<double>(nearest.front())) * (1.0 + errors_.relative) +
            errors_.absolute);
  if (candidates.size() >= compact_at_) {
    finish();
    // Many exact ties can keep most candidates: grow the trigger so compaction stays linear.
    compact_at_ = std::max(compact_at_, 2 * candidates.size());
  }
}

void Walk::scan_leaf(const Node& node) {
  const std::size_t dim = tree_.dim();
  for (std::uint32_t p = node.begin; p < node.end; ++p)
    offer(kernels_.l2_squared(query_, tree_.point(p), dim), p);
  distances_ += node.end - node.begin;
}

void Walk::depth_first(std::uint32_t index) {
  const Node& node = tree_.node(index);
  if (node.leaf()) {
    scan_leaf(node);
    return;
  }
  std::uint32_t near = index + 1;
  std::uint32_t far = node.right;
  double near_bound = lower_bound(near);
  double far_bound = lower_bound(far);
  if (far_bound < near_bound) {
    std::swap(near, far);
    std::swap(near_bound, far_bound);
  }
  if (near_bound * eps_factor_ <= bound_) depth_first(near);
  if (far_bound * eps_factor_ <= bound_) depth_first(far);
}

// Best-first in the manner of Arya & Mount's priority search: descend to the nearest leaf,
// queueing every sibling passed with its bound, then resume from the closest queued ball.
void Walk::best_first(std::size_t max_leaves) {
  auto& queue = scratch_.queue;
  const auto farther = std::greater<std::pair<double, std::uint32_t>>();
  queue.clear();
  queue.emplace_back(-kInfinity, 0u);
  std::size_t leaves = 0;
  while (!queue.empty() && leaves < max_leaves) {
    std::pop_heap(queue.begin(), queue.end(), farther);
    auto [bound, index] = queue.back();
    queue.pop_back();
    if (bound * eps_factor_ > bound_) break;  // every queued ball is at least this far
    bool reached_leaf = true;
    while (!tree_.node(index).leaf()) {
      // Descend towards the nearer centre, not the smaller bound: a wide ball has the smaller
      // bound but its points are mostly far, and one leaf must be a good guess on its own.
      std::uint32_t near = index + 1;
      std::uint32_t far = tree_.node(index).right;
      const double near_center = center_distance(near);
      const double far_center = center_distance(far);
      if (far_center < near_center) std::swap(near, far);
      const double near_bound = std::min(near_center, far_center) - tree_.node(near).radius;
      const double far_bound = std::max(near_center, far_center) - tree_.node(far).radius;
      if (far_bound * eps_factor_ <= bound_) {
        queue.emplace_back(far_bound, far);
        std::push_heap(queue.begin(), queue.end(), farther);
      }
      if (near_bound * eps_factor_ > bound_) {
        reached_leaf = false;
        break;
      }
      index = near;
    }
    if (!reached_leaf) continue;
    scan_leaf(tree_.node(index));
    ++leaves;
  }
}

void Walk::nearest(std::size_t k, std::size_t max_leaves, double eps) {
  k_ = k;
  eps_factor_ = 1.0 + eps;
  bound_ = kInfinity;
  keep_ = kFloatInfinity;
  compact_at_ = 2 * k + 64;
  scratch_.candidates.clear();
  scratch_.nearest.clear();
  if (tree_.empty() || k == 0) return;
  if (max_leaves >= tree_.leaf_count())
    depth_first(0);
  else
    best_first(max_leaves);
}

void Walk::within(double radius) {
  k_ = 0;
  eps_factor_ = 1.0;
  set_bound(radius);
  scratch_.candidates.clear();
  if (tree_.empty()) return;
  depth_first(0);
}

void Walk::finish() {
  std::vector<Candidate>& candidates = scratch_.candidates;
  const float keep = keep_;
  std::erase_if(candidates, [keep](const Candidate& c) { return !(c.distance <= keep); });
}

}  // namespace annbench::balltree
