#pragma once
// A vantage-point tree (Yianilos 1993) over any true metric, stored flat.
//
// Each internal node holds one vantage point (the first position of its range) and splits the
// rest at the median distance to it into an inner and an outer child; instead of the median
// alone it keeps each child's [lo, hi] ring of distances to the vantage point, which prunes
// more than the median does. Leaves hold up to leaf_size points. Points are stored in tree
// order (a node's subtree is one contiguous range of rows), and every point also keeps its
// distance to the vantage point of its leaf's parent, so a leaf scan can skip points by the
// triangle inequality before computing their distance.
//
// The tree computes distances in float (sqrt of the SIMD squared L2). Pruning tests add a
// margin larger than the float rounding error, so callers that re-rank in exact arithmetic
// never miss a true neighbour (see VpTree::Margin).

#include <annbench/matrix.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace annbench::vptree {

struct TreeOptions {
  std::size_t leaf_size = 32;     // most points per leaf, >= 1
  std::size_t vp_candidates = 8;  // vantage-point candidates sampled per node (1: random)
  std::size_t vp_sample = 64;     // points each candidate's spread is measured on
  std::uint64_t seed = 1;
};

class VpTree {
 public:
  // Inclusive [lo, hi] of the distances from a node's vantage point to a child's points.
  struct Ring {
    float lo = 0.0f;
    float hi = 0.0f;
  };
  struct Node {
    std::uint32_t begin = 0;  // internal: vantage point at begin, children cover (begin, end)
    std::uint32_t end = 0;
    std::int32_t inner = -1;  // child node indices; -1 = none (both -1: a leaf)
    std::int32_t outer = -1;
    Ring inner_ring;
    Ring outer_ring;
    bool leaf() const { return inner < 0 && outer < 0; }
  };

  // Float-rounding allowance: a float distance x may be off from the exact one by at most
  // x * relative + absolute (with slack), for the vectors this tree was built on.
  struct Margin {
    float relative = 0.0f;
    float absolute = 0.0f;
    float of(float x) const { return x * relative + absolute; }
  };

  // points: n × dim, row-major, in any order; ids[i] is the caller's id of row i. The rows are
  // copied in tree order. Uses the OpenMP threads in effect; the tree depends only on the data,
  // the ids and the options, not on the thread count. Returns distances computed.
  std::uint64_t build(MatrixView points, std::vector<std::uint32_t> ids, const TreeOptions& options,
                      Margin margin);

  std::size_t size() const { return ids_.size(); }
  std::size_t dim() const { return points_.cols(); }
  std::size_t bytes() const;
  const Margin& margin() const { return margin_; }
  std::uint32_t id_at(std::size_t position) const { return ids_[position]; }
  const float* row(std::size_t position) const { return points_.row(position); }
  // The arrays an index file holds (positions in tree order, nodes in pre-order).
  const FloatMatrix& points() const { return points_; }
  const std::vector<std::uint32_t>& ids() const { return ids_; }
  const std::vector<float>& parent_distances() const { return parent_distance_; }
  const std::vector<Node>& nodes() const { return nodes_; }

  // Takes a tree read from an index file (points: n × dim in tree order), after checking that
  // it is one a build could have made: nodes in pre-order, each reached once, every child
  // inside the array and covering its part of the parent's range (inner first, after the
  // vantage point), the root covering every point, depth bounded (search recurses), margin
  // finite and not negative. Ids are the caller's to check. Returns what is wrong, or an empty
  // string when the tree was taken.
  std::string adopt(FloatMatrix points, std::vector<std::uint32_t> ids,
                    std::vector<float> parent_distances, std::vector<Node> nodes, Margin margin);

  // Depth-first search, nearer child first. Collector needs:
  //   float limit() const;              // current pruning radius (float distance scale)
  //   void offer(float distance, std::uint32_t position);
  // A subtree (or leaf point) is skipped when stretch × (its lower bound) exceeds limit() plus
  // the rounding margin; stretch 1 is exact. Returns the distances computed.
  template <typename Collector>
  std::uint64_t search(const float* query, float stretch, Collector& collector) const;

  float distance(const float* a, const float* b) const;

 private:
  struct Builder;

  template <typename Collector>
  void visit(std::int32_t node_index, const float* query, float parent_distance, float stretch,
             Collector& collector, std::uint64_t& computed) const;

  // Lower bound on the distance from a query at `d` from the vantage point to any point of a
  // child with ring r, before the rounding allowance.
  static float ring_bound(float d, Ring r) { return std::max({r.lo - d, d - r.hi, 0.0f}); }

  bool pruned(float bound, float stretch, float limit, float scale) const {
    return bound * stretch > limit + margin_.of(limit) + 2.0f * margin_.of(scale);
  }

  FloatMatrix points_;                  // tree order
  std::vector<std::uint32_t> ids_;      // tree position -> caller's id
  std::vector<float> parent_distance_;  // tree position -> distance to its leaf's parent vp
  std::vector<Node> nodes_;             // pre-order; nodes_[0] is the root
  Margin margin_;
};

template <typename Collector>
std::uint64_t VpTree::search(const float* query, float stretch, Collector& collector) const {
  std::uint64_t computed = 0;
  if (!nodes_.empty()) visit(0, query, -1.0f, stretch, collector, computed);
  return computed;
}

template <typename Collector>
void VpTree::visit(std::int32_t node_index, const float* query, float parent_distance,
                   float stretch, Collector& collector, std::uint64_t& computed) const {
  const Node& node = nodes_[static_cast<std::size_t>(node_index)];
  if (node.leaf()) {
    // A root leaf has no parent vantage point (parent_distance < 0): no filter.
    const bool filter = parent_distance >= 0.0f;
    for (std::uint32_t p = node.begin; p < node.end; ++p) {
      if (filter) {
        const float bound = std::fabs(parent_distance - parent_distance_[p]);
        if (pruned(bound, stretch, collector.limit(), parent_distance + parent_distance_[p]))
          continue;
      }
      ++computed;
      collector.offer(distance(query, points_.row(p)), p);
    }
    return;
  }
  const float d = distance(query, points_.row(node.begin));
  ++computed;
  collector.offer(d, node.begin);
  const float inner_bound = ring_bound(d, node.inner_ring);
  const float outer_bound = ring_bound(d, node.outer_ring);
  struct Branch {
    std::int32_t child;
    float bound;
    float scale;
  };
  Branch first{node.inner, inner_bound, d + node.inner_ring.hi};
  Branch second{node.outer, outer_bound, d + node.outer_ring.hi};
  if (second.bound < first.bound) std::swap(first, second);
  for (const Branch& branch : {first, second}) {
    if (branch.child < 0) continue;
    if (pruned(branch.bound, stretch, collector.limit(), branch.scale)) continue;
    visit(branch.child, query, d, stretch, collector, computed);
  }
}

}  // namespace annbench::vptree
