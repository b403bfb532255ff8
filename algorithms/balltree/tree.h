#pragma once
// The ball tree itself: a binary partition of points into nested balls (centroid + radius),
// stored flat in pre-order so a node's left child is the next node. The tree keeps its own copy
// of the points, permuted so that every node's points are contiguous: a leaf scan streams one
// block of memory.
//
// Radii are upper bounds on the float-space distance from the stored centre to any point of the
// node (inflated by the rounding-error factor the caller passes), so pruning with them never
// loses a point to rounding.

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace annbench::balltree {

enum class SplitRule {
  Farthest,       // direction between two far-apart points (two farthest-point sweeps)
  PrincipalAxis,  // top principal axis of the node (power iteration from the farthest pair)
};

struct BuildOptions {
  std::size_t leaf_size = 16;  // a node with more points than this is split
  SplitRule split = SplitRule::PrincipalAxis;
  std::uint64_t seed = 1;
  // Relative bound on the error of a float sqrt(l2_squared) (see distance.h): radii are
  // inflated by it so they bound the real distance.
  double relative_error = 0.0;
};

struct Node {
  std::uint32_t begin;  // first point position (into the permuted copy)
  std::uint32_t end;    // one past the last point position
  std::uint32_t right;  // right child's index; 0 for a leaf (left child is this index + 1)
  float radius;         // >= real L2 distance from center to any point of the node
  bool leaf() const { return right == 0; }
};

class BallTree {
 public:
  // points: rows × dim; ids[i] is the caller's id of row i (ids.size() == points.rows). Copies
  // the points. An empty input gives an empty tree (no nodes).
  void build(MatrixView points, std::span<const std::uint32_t> ids, const BuildOptions& options);

  bool empty() const { return nodes_.empty(); }
  std::size_t size() const { return points_.rows(); }
  std::size_t dim() const { return dim_; }
  std::size_t node_count() const { return nodes_.size(); }
  std::size_t leaf_count() const { return leaf_count_; }
  std::size_t depth() const { return depth_; }
  const Node& node(std::size_t i) const { return nodes_[i]; }
  const float* center(std::size_t i) const { return centers_.row(i); }
  const float* point(std::size_t position) const { return points_.row(position); }
  std::uint32_t id(std::size_t position) const { return ids_[position]; }
  // Bytes held: point copy, centres, nodes, ids.
  std::size_t bytes() const;
  // The arrays an index file holds (positions in leaf order, nodes in pre-order).
  const FloatMatrix& points() const { return points_; }
  const FloatMatrix& centers() const { return centers_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<std::uint32_t>& ids() const { return ids_; }

  // Takes a tree read from an index file (points: rows × dim, centers: one row per node), after
  // checking that it is one a build could have made: nodes in pre-order, each reached once,
  // every child inside the array and its range the parent's left or right part, the root
  // covering every point, no empty node, depth bounded (search recurses), coordinates finite, radii
  // not negative or NaN. Ids are the caller's to check. Returns what is wrong, or an empty string
  // when the tree was taken.
  std::string adopt(FloatMatrix points, FloatMatrix centers, std::vector<Node> nodes,
                    std::vector<std::uint32_t> ids);

 private:
  struct Builder;

  std::size_t dim_ = 0;
  FloatMatrix points_;
  FloatMatrix centers_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> ids_;
  std::size_t leaf_count_ = 0;
  std::size_t depth_ = 0;
};

}  // namespace annbench::balltree
