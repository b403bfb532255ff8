#pragma once
// A forest of random-projection trees (Annoy's design), stored flat: one 64-byte-aligned float
// array of split planes (plane_stride floats per internal node: dim normal floats, the offset,
// zero padding up to a multiple of 16 so every plane starts on a cache line), two child refs per
// internal node, and leaves as ranges into one id array. A child ref >= 0 is an internal node;
// < 0 is leaf ~ref. Internal nodes are numbered so that every child has a larger number than
// its parent (the tree walk can never cycle). Vectors are in the space the forest was built in
// (unit-normalised for angular).
//
// The arrays are read through spans, so the same Forest serves a freshly built index (arrays on
// the heap) and one loaded from an index file (arrays inside the memory mapping).

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace annbench::annoy {

struct ForestOptions {
  std::size_t n_trees = 1;
  std::size_t leaf_size = 64;  // a node with more ids than this is split
  std::uint64_t seed = 0;
  bool through_origin = false;  // angular: hyperplanes pass through the origin (offset 0)
};

// Floats per internal node for vectors of `dim` floats.
constexpr std::size_t plane_stride_for(std::size_t dim) {
  return (dim + 1 + 15) / 16 * 16;
}

// The forest's arrays, wherever they live.
struct ForestArrays {
  std::size_t dim = 0;
  std::span<const float> planes;                // internal nodes × plane_stride_for(dim)
  std::span<const std::int32_t> children;       // 2 per internal node: left, right
  std::span<const std::uint32_t> leaf_offsets;  // leaves + 1, ascending, from 0 to ids.size()
  std::span<const std::int32_t> ids;            // leaf contents, leaf after leaf
  std::span<const std::int32_t> roots;          // one ref per tree
};

class Forest {
 public:
  // Builds all trees (OpenMP over trees; tree t uses its own seed, so the forest does not depend
  // on the thread count).
  void build(MatrixView data, const ForestOptions& options);

  // Serves arrays that live elsewhere (an index file's mapping), which `owner` keeps alive.
  // Error (starting with `source`) unless the arrays form valid trees over `rows` vectors.
  void adopt(const ForestArrays& arrays, std::size_t rows, std::shared_ptr<const void> owner,
             const std::string& source);

  const ForestArrays& arrays() const { return arrays_; }
  std::size_t dim() const { return arrays_.dim; }
  std::size_t plane_stride() const { return plane_stride_for(arrays_.dim); }
  std::size_t tree_count() const { return arrays_.roots.size(); }
  std::span<const std::int32_t> roots() const { return arrays_.roots; }
  const float* plane(std::int32_t node) const {
    return arrays_.planes.data() + static_cast<std::size_t>(node) * plane_stride();
  }
  const std::int32_t* children(std::int32_t node) const {
    return arrays_.children.data() + 2 * static_cast<std::size_t>(node);
  }
  // Ids of leaf `leaf` as [begin, end) into the id array.
  const std::int32_t* leaf_begin(std::int32_t leaf) const {
    return arrays_.ids.data() + arrays_.leaf_offsets[static_cast<std::size_t>(leaf)];
  }
  const std::int32_t* leaf_end(std::int32_t leaf) const {
    return arrays_.ids.data() + arrays_.leaf_offsets[static_cast<std::size_t>(leaf) + 1];
  }
  std::size_t internal_nodes() const { return arrays_.children.size() / 2; }
  std::size_t leaves() const {
    return arrays_.leaf_offsets.empty() ? 0 : arrays_.leaf_offsets.size() - 1;
  }
  // Bytes of all arrays, and the part of them this object holds on the heap (0 when adopted).
  std::size_t bytes() const;
  std::size_t heap_bytes() const;

 private:
  ForestArrays arrays_;
  // Storage of a built forest; empty when the arrays were adopted.
  Matrix<float> planes_;
  std::vector<std::int32_t> children_;
  std::vector<std::uint32_t> leaf_offsets_;
  std::vector<std::int32_t> ids_;
  std::vector<std::int32_t> roots_;
  std::shared_ptr<const void> owner_;
};

}  // namespace annbench::annoy
