#pragma once
// One k-d tree over the rows of a matrix, stored flat in preorder: an internal node's left child
// is the next node, its right child is stored. Leaves are ranges of `slots` (row numbers of the
// matrix the tree was built on).
//
// Each internal node keeps the gap around its cut, as in FLANN's single k-d tree: every left row
// has x[dim] <= lo and every right row has x[dim] >= hi. A query on the near side of the gap is
// then at least (hi - q[dim]) or (q[dim] - lo) away from every row of the far child along dim,
// which is the Arya & Mount incremental lower bound but tight to the data, not to the cut.

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace annbench::kdtree {

enum class SplitRule {
  Median,  // cut at the median: balanced, depth log2(n / leaf_size)
  // Cut at the middle of the rows' extent along the cut dimension (sliding midpoint,
  // Maneewongvatana & Mount: cutting the rows' extent, not the cell's, never leaves a side
  // empty): fatter cells, unbalanced tree.
  SlidingMidpoint,
};

struct TreeOptions {
  std::size_t leaf_size = 16;  // a node with more rows than this is split
  SplitRule split = SplitRule::Median;
  // 0: split on the dimension of largest spread (variance). r > 1: on one drawn at random from
  // the r largest (FLANN's randomised trees, for forests).
  std::size_t random_top_dims = 0;
  std::uint64_t seed = 0;
};

struct Node {
  float lo = 0.0f;        // internal: largest x[dim] on the left
  float hi = 0.0f;        // internal: smallest x[dim] on the right
  std::int32_t dim = -1;  // -1: leaf
  std::uint32_t right = 0;
  std::uint32_t begin = 0;  // leaf: slots [begin, end)
  std::uint32_t end = 0;
  bool leaf() const { return dim < 0; }
};

class Tree {
 public:
  // Builds over all rows of data (rows < 2^32). Single-threaded; trees are built side by side.
  void build(MatrixView data, const TreeOptions& options);

  bool empty() const { return nodes_.empty(); }
  // After the caller stored its rows in leaf order (row i = old row slots()[i]), slots become
  // the identity and the leaves index rows directly.
  void relabel_slots_in_order();
  const Node& node(std::uint32_t i) const { return nodes_[i]; }
  std::uint32_t parent(std::uint32_t i) const { return parents_[i]; }
  const std::vector<std::uint32_t>& slots() const { return slots_; }
  std::size_t node_count() const { return nodes_.size(); }
  std::size_t depth() const { return depth_; }
  std::size_t bytes() const;
  const std::vector<Node>& nodes() const { return nodes_; }
  const std::vector<std::uint32_t>& parents() const { return parents_; }

  // Takes a tree read from an index file over `rows` rows of dimension `dim`, after checking
  // that it is one a build could have made: nodes in preorder with every child inside the
  // array and reached once, parents matching, cut dimensions below dim, leaves covering
  // 0..rows in order, slots a permutation, depth bounded (search recurses). Returns what is
  // wrong, or an empty string when the tree was taken.
  std::string adopt(std::vector<Node> nodes, std::vector<std::uint32_t> parents,
                    std::vector<std::uint32_t> slots, std::size_t rows, std::size_t dim);

 private:
  std::uint32_t build_node(std::uint32_t begin, std::uint32_t end, std::size_t depth,
                           std::uint32_t parent);
  std::int32_t choose_dim(std::uint32_t begin, std::uint32_t end, float& min_out, float& max_out);
  std::uint32_t partition(std::uint32_t begin, std::uint32_t end, std::size_t dim, float min,
                          float max, std::size_t depth);

  MatrixView data_{};
  TreeOptions options_;
  std::vector<Node> nodes_;
  std::vector<std::uint32_t> parents_;
  std::vector<std::uint32_t> slots_;
  static constexpr std::uint32_t kVarianceSample = 1024;
  std::vector<double> mean_, spread_;  // scratch while building
  std::uint64_t rng_state_ = 0;
  std::size_t depth_ = 0;
  std::size_t midpoint_depth_limit_ = 0;
};

}  // namespace annbench::kdtree
