#pragma once
// A forest of random-projection trees (Annoy's design), stored flat: one contiguous float array
// of split planes (dim normal floats + 1 offset per internal node), two child refs per internal
// node, and leaves as ranges into one id array. A child ref >= 0 is an internal node; < 0 is
// leaf ~ref. Vectors are in the space the forest was built in (unit-normalised for angular).

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench::annoy {

struct ForestOptions {
  std::size_t n_trees = 1;
  std::size_t leaf_size = 64;  // a node with more ids than this is split
  std::uint64_t seed = 0;
  bool through_origin = false;  // angular: hyperplanes pass through the origin (offset 0)
};

class Forest {
 public:
  // Builds all trees (OpenMP over trees; tree t uses its own seed, so the forest does not depend
  // on the thread count).
  void build(MatrixView data, const ForestOptions& options);

  std::size_t dim() const { return dim_; }
  std::size_t tree_count() const { return roots_.size(); }
  const std::vector<std::int32_t>& roots() const { return roots_; }
  const float* plane(std::int32_t node) const {
    return planes_.data() + static_cast<std::size_t>(node) * (dim_ + 1);
  }
  std::int32_t child(std::int32_t node, int side) const {
    return children_[2 * static_cast<std::size_t>(node) + static_cast<std::size_t>(side)];
  }
  // Ids of leaf `leaf` as [begin, end) into ids().
  const std::int32_t* leaf_begin(std::int32_t leaf) const {
    return ids_.data() + leaf_offsets_[static_cast<std::size_t>(leaf)];
  }
  const std::int32_t* leaf_end(std::int32_t leaf) const {
    return ids_.data() + leaf_offsets_[static_cast<std::size_t>(leaf) + 1];
  }
  std::size_t internal_nodes() const { return children_.size() / 2; }
  std::size_t leaves() const { return leaf_offsets_.empty() ? 0 : leaf_offsets_.size() - 1; }
  std::size_t bytes() const;

 private:
  std::size_t dim_ = 0;
  std::vector<float> planes_;
  std::vector<std::int32_t> children_;
  std::vector<std::uint32_t> leaf_offsets_;
  std::vector<std::int32_t> ids_;
  std::vector<std::int32_t> roots_;
};

}  // namespace annbench::annoy
