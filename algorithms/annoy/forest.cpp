// Tree building: Annoy's split rule. Two random points seed a two-means run over a sample of
// the node's points (one point per step, running weighted averages); the hyperplane between the
// two centroids splits the node; a split leaving 95 % or more on one side is retried (three
// planes at most), and one leaving over 99 % (duplicates, degenerate data) becomes a random split
// with a zero normal, so search explores both sides.

#include "forest.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

namespace annbench::annoy {
namespace {

// Annoy runs 200 two-means steps per split: enough to settle the centroids on a sample.
constexpr int kTwoMeansSteps = 200;
// Annoy's balance rule: retry a split whose larger side holds 95 % or more, and fall back to a
// random split above 99 %, so that no tree degenerates into a long chain.
constexpr int kSplitAttempts = 3;
constexpr double kGoodBalance = 0.95;
constexpr double kWorstBalance = 0.99;

// Share of the ids on the larger side.
double imbalance(const std::vector<std::int32_t> (&sides)[2]) {
  const auto left = static_cast<double>(sides[0].size());
  const auto right = static_cast<double>(sides[1].size());
  return std::max(left, right) / std::max(1.0, left + right);
}

struct Tree {
  std::vector<float> planes;  // plane_stride_for(dim) floats per internal node
  std::vector<std::int32_t> children;
  std::vector<std::uint32_t> leaf_sizes;
  std::vector<std::int32_t> ids;  // leaf contents, leaves in creation order
  std::int32_t root = 0;
};

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class TreeBuilder {
 public:
  TreeBuilder(MatrixView data, const ForestOptions& options, std::uint64_t seed)
      : data_(data),
        options_(options),
        rng_(seed),
        kernels_(distance_kernels()),
        c1_(data.dim),
        c2_(data.dim) {}

  Tree build() {
    std::vector<std::int32_t> ids(data_.rows);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int32_t>(i);
    tree_.root = split(ids);
    return std::move(tree_);
  }

 private:
  std::int32_t make_leaf(const std::vector<std::int32_t>& ids) {
    const auto leaf = static_cast<std::int32_t>(tree_.leaf_sizes.size());
    tree_.leaf_sizes.push_back(static_cast<std::uint32_t>(ids.size()));
    tree_.ids.insert(tree_.ids.end(), ids.begin(), ids.end());
    return ~leaf;
  }

  std::size_t pick(std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_);
  }

  // Fills normal (dim floats) and offset for the node's hyperplane.
  void two_means(const std::vector<std::int32_t>& ids, float* normal, float& offset) {
    const std::size_t dim = data_.dim;
    const std::size_t n = ids.size();
    const std::size_t a = pick(n);
    std::size_t b = pick(n - 1);
    if (b >= a) ++b;
    std::copy_n(data_.row(static_cast<std::size_t>(ids[a])), dim, c1_.data());
    std::copy_n(data_.row(static_cast<std::size_t>(ids[b])), dim, c2_.data());
    double w1 = 1.0;
    double w2 = 1.0;
    for (int step = 0; step < kTwoMeansSteps; ++step) {
      const float* x = data_.row(static_cast<std::size_t>(ids[pick(n)]));
      const double d1 = w1 * kernels_.l2_squared(c1_.data(), x, dim);
      const double d2 = w2 * kernels_.l2_squared(c2_.data(), x, dim);
      std::vector<float>& c = d1 < d2 ? c1_ : c2_;
      double& w = d1 < d2 ? w1 : w2;
      if (d1 == d2) continue;
      const auto keep = static_cast<float>(w / (w + 1.0));
      const auto add = static_cast<float>(1.0 / (w + 1.0));
      for (std::size_t j = 0; j < dim; ++j) c[j] = c[j] * keep + x[j] * add;
      w += 1.0;
    }
    double norm = 0.0;
    for (std::size_t j = 0; j < dim; ++j) {
      normal[j] = c1_[j] - c2_[j];
      norm += static_cast<double>(normal[j]) * normal[j];
    }
    offset = 0.0f;
    if (norm == 0.0) return;  // identical centroids: zero normal, caller splits at random
    const auto inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (std::size_t j = 0; j < dim; ++j) normal[j] *= inv;
    if (!options_.through_origin) {
      double dot = 0.0;
      for (std::size_t j = 0; j < dim; ++j) dot += 0.5 * (c1_[j] + c2_[j]) * normal[j];
      offset = static_cast<float>(-dot);
    }
  }

  std::int32_t split(std::vector<std::int32_t>& ids) {
    if (ids.size() <= options_.leaf_size) return make_leaf(ids);
    const std::size_t dim = data_.dim;
    const std::size_t stride = plane_stride_for(dim);
    const std::size_t node = tree_.children.size() / 2;
    tree_.planes.resize((node + 1) * stride, 0.0f);
    tree_.children.resize((node + 1) * 2);
    float* normal = tree_.planes.data() + node * stride;
    std::vector<std::int32_t> sides[2];
    // Annoy's rule: up to three two-means planes until the larger side holds under 95 % ...
    for (int attempt = 0; attempt < kSplitAttempts; ++attempt) {
      float offset = 0.0f;
      two_means(ids, normal, offset);
      normal[dim] = offset;
      sides[0].clear();
      sides[1].clear();
      for (const std::int32_t id : ids) {
        const float margin =
            kernels_.inner_product(normal, data_.row(static_cast<std::size_t>(id)), dim) + offset;
        const int side = margin > 0.0f ? 1 : margin < 0.0f ? 0 : static_cast<int>(rng_() & 1u);
        sides[side].push_back(id);
      }
      if (imbalance(sides) < kGoodBalance) break;
    }
    // ... and a random split with a zero normal (search then explores both sides alike) when
    // even the last plane left one side nearly empty (duplicates, degenerate data). The node
    // holds > leaf_size >= 1 ids, so both sides fill eventually.
    if (imbalance(sides) > kWorstBalance) {
      std::fill_n(normal, dim + 1, 0.0f);
      do {
        sides[0].clear();
        sides[1].clear();
        for (const std::int32_t id : ids) sides[rng_() & 1u].push_back(id);
      } while (sides[0].empty() || sides[1].empty());
    }
    ids.clear();
    ids.shrink_to_fit();
    const std::int32_t left = split(sides[0]);
    const std::int32_t right = split(sides[1]);
    tree_.children[2 * node] = left;
    tree_.children[2 * node + 1] = right;
    return static_cast<std::int32_t>(node);
  }

  MatrixView data_;
  const ForestOptions& options_;
  std::mt19937_64 rng_;
  const DistanceKernels& kernels_;
  std::vector<float> c1_;
  std::vector<float> c2_;
  Tree tree_;
};

}  // namespace

void Forest::build(MatrixView data, const ForestOptions& options) {
  ANNBENCH_CHECK(options.n_trees >= 1, "annoy: n_trees must be at least 1, got {}",
                 options.n_trees);
  ANNBENCH_CHECK(options.leaf_size >= 1, "annoy: leaf_size must be at least 1, got {}",
                 options.leaf_size);
  ANNBENCH_CHECK(data.rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "annoy: {} base vectors exceed the 32-bit id range", data.rows);
  std::vector<Tree> trees(options.n_trees);
  const auto n_trees = static_cast<std::int64_t>(options.n_trees);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t t = 0; t < n_trees; ++t) {
    const std::uint64_t seed = splitmix(options.seed ^ splitmix(static_cast<std::uint64_t>(t)));
    trees[static_cast<std::size_t>(t)] = TreeBuilder(data, options, seed).build();
  }

  std::size_t total_ids = 0;
  std::size_t total_nodes = 0;
  for (const Tree& tree : trees) {
    total_ids += tree.ids.size();
    total_nodes += tree.children.size() / 2;
  }
  ANNBENCH_CHECK(total_ids <= std::numeric_limits<std::uint32_t>::max(),
                 "annoy: forest holds {} ids, beyond 32-bit leaf offsets", total_ids);
  ANNBENCH_CHECK(total_nodes <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                 "annoy: forest has {} internal nodes, beyond 32-bit node refs", total_nodes);
  const std::size_t stride = plane_stride_for(data.dim);
  planes_ = Matrix<float>(total_nodes, stride);
  children_.clear();
  leaf_offsets_.assign(1, 0);
  ids_.clear();
  ids_.reserve(total_ids);
  roots_.clear();
  for (Tree& tree : trees) {
    const auto node_base = static_cast<std::int32_t>(children_.size() / 2);
    const auto leaf_base = static_cast<std::int32_t>(leaf_offsets_.size() - 1);
    const auto shift = [&](std::int32_t ref) {
      return ref >= 0 ? ref + node_base : ~(~ref + leaf_base);
    };
    std::copy(tree.planes.begin(), tree.planes.end(),
              planes_.data() + static_cast<std::size_t>(node_base) * stride);
    for (const std::int32_t ref : tree.children) children_.push_back(shift(ref));
    for (const std::uint32_t size : tree.leaf_sizes) {
      leaf_offsets_.push_back(leaf_offsets_.back() + size);
    }
    ids_.insert(ids_.end(), tree.ids.begin(), tree.ids.end());
    roots_.push_back(shift(tree.root));
    tree = Tree{};
  }
  owner_.reset();
  arrays_ = ForestArrays{.dim = data.dim,
                         .planes = {planes_.data(), planes_.size()},
                         .children = children_,
                         .leaf_offsets = leaf_offsets_,
                         .ids = ids_,
                         .roots = roots_};
}

void Forest::adopt(const ForestArrays& arrays, std::size_t rows, std::shared_ptr<const void> owner,
                   const std::string& source) {
  const std::size_t stride = plane_stride_for(arrays.dim);
  const std::size_t nodes = arrays.children.size() / 2;
  ANNBENCH_CHECK(arrays.children.size() % 2 == 0 && arrays.planes.size() == nodes * stride,
                 "{}: {} plane floats and {} child refs do not describe the same nodes", source,
                 arrays.planes.size(), arrays.children.size());
  ANNBENCH_CHECK(!arrays.leaf_offsets.empty() && arrays.leaf_offsets.front() == 0 &&
                     arrays.leaf_offsets.back() == arrays.ids.size(),
                 "{}: leaf offsets do not span the {} ids", source, arrays.ids.size());
  for (std::size_t i = 1; i < arrays.leaf_offsets.size(); ++i) {
    ANNBENCH_CHECK(arrays.leaf_offsets[i - 1] <= arrays.leaf_offsets[i],
                   "{}: leaf offsets decrease at leaf {}", source, i);
  }
  for (const std::int32_t id : arrays.ids) {
    ANNBENCH_CHECK(id >= 0 && static_cast<std::size_t>(id) < rows,
                   "{}: leaf id {} outside the {} vectors", source, id, rows);
  }
  const std::size_t leaf_count = arrays.leaf_offsets.size() - 1;
  // Children numbered above their parent: a walk down the refs always ends in a leaf.
  const auto valid_ref = [&](std::int32_t ref, std::size_t parent_or_none) {
    if (ref < 0) return static_cast<std::size_t>(static_cast<std::uint32_t>(~ref)) < leaf_count;
    const auto node = static_cast<std::size_t>(ref);
    return node < nodes && (parent_or_none == nodes || node > parent_or_none);
  };
  for (std::size_t node = 0; node < nodes; ++node) {
    ANNBENCH_CHECK(valid_ref(arrays.children[2 * node], node) &&
                       valid_ref(arrays.children[2 * node + 1], node),
                   "{}: node {} has a child ref outside the forest", source, node);
  }
  ANNBENCH_CHECK(!arrays.roots.empty(), "{}: the forest has no trees", source);
  for (const std::int32_t root : arrays.roots) {
    ANNBENCH_CHECK(valid_ref(root, nodes), "{}: root ref {} outside the forest", source, root);
  }
  planes_ = Matrix<float>();
  children_ = {};
  leaf_offsets_ = {};
  ids_ = {};
  roots_ = {};
  arrays_ = arrays;
  owner_ = std::move(owner);
}

std::size_t Forest::bytes() const {
  return arrays_.planes.size_bytes() + arrays_.children.size_bytes() +
         arrays_.leaf_offsets.size_bytes() + arrays_.ids.size_bytes() + arrays_.roots.size_bytes();
}

std::size_t Forest::heap_bytes() const {
  return planes_.bytes() + children_.capacity() * sizeof(std::int32_t) +
         leaf_offsets_.capacity() * sizeof(std::uint32_t) + ids_.capacity() * sizeof(std::int32_t) +
         roots_.capacity() * sizeof(std::int32_t);
}

}  // namespace annbench::annoy
