// Tree building: Annoy's split rule. Two random points seed a two-means run over a sample of
// the node's points (one point per step, running weighted averages); the hyperplane between the
// two centroids splits the node. If every point lands on one side (duplicates, degenerate
// data), the node is split at random and gets a zero normal, so search explores both sides.

#include "forest.h"

#include <annbench/common/distance.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace annbench::annoy {
namespace {

// Annoy runs 200 two-means steps per split: enough to settle the centroids on a sample.
constexpr int kTwoMeansSteps = 200;

struct Tree {
  std::vector<float> planes;
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
    const std::size_t node = tree_.children.size() / 2;
    tree_.planes.resize((node + 1) * (dim + 1));
    tree_.children.resize((node + 1) * 2);
    float* normal = tree_.planes.data() + node * (dim + 1);
    float offset = 0.0f;
    two_means(ids, normal, offset);
    normal[dim] = offset;

    std::vector<std::int32_t> sides[2];
    for (const std::int32_t id : ids) {
      const float margin =
          kernels_.inner_product(normal, data_.row(static_cast<std::size_t>(id)), dim) + offset;
      const int side = margin > 0.0f ? 1 : margin < 0.0f ? 0 : static_cast<int>(rng_() & 1u);
      sides[side].push_back(id);
    }
    if (sides[0].empty() || sides[1].empty()) {
      // Random split (the node holds > leaf_size >= 1 ids, so both sides fill eventually).
      normal = tree_.planes.data() + node * (dim + 1);
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
  dim_ = data.dim;
  std::vector<Tree> trees(options.n_trees);
  const auto n_trees = static_cast<std::int64_t>(options.n_trees);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t t = 0; t < n_trees; ++t) {
    const std::uint64_t seed = splitmix(options.seed ^ splitmix(static_cast<std::uint64_t>(t)));
    trees[static_cast<std::size_t>(t)] = TreeBuilder(data, options, seed).build();
  }

  std::size_t total_ids = 0;
  for (const Tree& tree : trees) total_ids += tree.ids.size();
  ANNBENCH_CHECK(total_ids <= std::numeric_limits<std::uint32_t>::max(),
                 "annoy: forest holds {} ids, beyond 32-bit leaf offsets", total_ids);
  planes_.clear();
  children_.clear();
  leaf_offsets_.assign(1, 0);
  ids_.clear();
  roots_.clear();
  for (Tree& tree : trees) {
    const auto node_base = static_cast<std::int32_t>(children_.size() / 2);
    const auto leaf_base = static_cast<std::int32_t>(leaf_offsets_.size() - 1);
    const auto shift = [&](std::int32_t ref) {
      return ref >= 0 ? ref + node_base : ~(~ref + leaf_base);
    };
    planes_.insert(planes_.end(), tree.planes.begin(), tree.planes.end());
    for (const std::int32_t ref : tree.children) children_.push_back(shift(ref));
    for (const std::uint32_t size : tree.leaf_sizes) {
      leaf_offsets_.push_back(leaf_offsets_.back() + size);
    }
    ids_.insert(ids_.end(), tree.ids.begin(), tree.ids.end());
    roots_.push_back(shift(tree.root));
    tree = Tree{};
  }
}

std::size_t Forest::bytes() const {
  return planes_.size() * sizeof(float) + children_.size() * sizeof(std::int32_t) +
         leaf_offsets_.size() * sizeof(std::uint32_t) + ids_.size() * sizeof(std::int32_t) +
         roots_.size() * sizeof(std::int32_t);
}

}  // namespace annbench::annoy
