// annoy: a forest of random-projection trees searched with one priority queue across all trees
// (Annoy's rule: a child's priority is min(parent priority, signed margin)), candidates
// de-duplicated with an epoch-tagged array and re-ranked exactly. See README.md.

#include "forest.h"

#include <annbench/common/distance.h>
#include <annbench/common/topk.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace annbench::annoy {
namespace {

// Per-thread search scratch, reused across queries (and indexes): no allocation per query once
// warm. visited[id] == epoch marks an id already collected by the current query.
struct Scratch {
  std::vector<std::uint32_t> visited;
  std::uint32_t epoch = 0;
  std::vector<std::int32_t> candidates;
  std::vector<std::pair<float, std::int32_t>> queue;
  std::vector<float> query;
  TopK<float> top;

  void begin(std::size_t n) {
    if (visited.size() < n) visited.resize(n, 0);
    if (++epoch == 0) {  // wrapped: old tags could collide
      std::fill(visited.begin(), visited.end(), 0u);
      epoch = 1;
    }
    candidates.clear();
    queue.clear();
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Unit length, or left zero (a zero vector has angular distance 1 to everything either way).
void normalize(const float* in, float* out, std::size_t dim) {
  double norm = 0.0;
  for (std::size_t j = 0; j < dim; ++j) norm += static_cast<double>(in[j]) * in[j];
  const double inv = norm > 0.0 ? 1.0 / std::sqrt(norm) : 0.0;
  for (std::size_t j = 0; j < dim; ++j) out[j] = static_cast<float>(in[j] * inv);
}

class AnnoyIndex final : public Index {
 public:
  AnnoyIndex(Metric metric, std::size_t dim, const ForestOptions& options)
      : metric_(metric), dim_(dim), options_(options) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "annoy: base vectors have dimension {}, expected {}", base.dim,
                   dim_);
    data_ = base;
    normalized_.clear();
    if (metric_ == Metric::Angular) {
      normalized_.resize(base.rows * dim_);
      const auto n = static_cast<std::int64_t>(base.rows);
#pragma omp parallel for schedule(static)
      for (std::int64_t i = 0; i < n; ++i) {
        const auto row = static_cast<std::size_t>(i);
        normalize(base.row(row), normalized_.data() + row * dim_, dim_);
      }
      data_ = MatrixView{normalized_.data(), base.rows, dim_};
    }
    forest_.build(data_, options_);
    built_ = true;
  }

  void set_search_params(const Params& params) override {
    search_k_ = params.get_int("search_k");
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(built_, "annoy: search before build");
    const std::size_t n = data_.rows;
    Scratch& s = scratch();
    s.begin(n);
    const float* q = query;
    if (metric_ == Metric::Angular) {
      s.query.resize(dim_);
      normalize(query, s.query.data(), dim_);
      q = s.query.data();
    }
    // Annoy's default budget is n_trees * k; an explicit budget below k could not fill k slots.
    const std::size_t budget =
        search_k_ < 0 ? forest_.tree_count() * k : std::max(static_cast<std::size_t>(search_k_), k);
    collect(q, budget, s);

    const DistanceKernels& kernels = distance_kernels();
    s.top.reset(k);
    for (const std::int32_t id : s.candidates) {
      const float* x = data_.row(static_cast<std::size_t>(id));
      const float d = metric_ == Metric::L2 ? kernels.l2_squared(q, x, dim_)
                                            : -kernels.inner_product(q, x, dim_);
      s.top.push(d, id);
    }
    s.top.write_sorted(out, k);
    distances_.add(s.candidates.size());
  }

  std::size_t memory_bytes() const override {
    return forest_.bytes() + data_.rows * dim_ * sizeof(float);
  }

  std::optional<std::uint64_t> distance_count() const override {
    return distances_.get();
  }

 private:
  // Best-first walk over all trees until `budget` ids were collected (duplicates counted, as in
  // Annoy, so search_k means the same in both); unique ids land in s.candidates.
  void collect(const float* q, std::size_t budget, Scratch& s) const {
    const auto cmp = [](const auto& a, const auto& b) { return a.first < b.first; };
    const DistanceKernels& kernels = distance_kernels();
    constexpr float kInf = std::numeric_limits<float>::infinity();
    for (const std::int32_t root : forest_.roots()) s.queue.emplace_back(kInf, root);
    std::make_heap(s.queue.begin(), s.queue.end(), cmp);
    std::size_t collected = 0;
    while (collected < budget && !s.queue.empty()) {
      std::pop_heap(s.queue.begin(), s.queue.end(), cmp);
      const auto [priority, ref] = s.queue.back();
      s.queue.pop_back();
      if (ref < 0) {
        const std::int32_t* end = forest_.leaf_end(~ref);
        for (const std::int32_t* it = forest_.leaf_begin(~ref); it != end; ++it) {
          std::uint32_t& tag = s.visited[static_cast<std::size_t>(*it)];
          if (tag != s.epoch) {
            tag = s.epoch;
            s.candidates.push_back(*it);
          }
        }
        collected += static_cast<std::size_t>(end - forest_.leaf_begin(~ref));
        continue;
      }
      const float* plane = forest_.plane(ref);
      const float margin = kernels.inner_product(plane, q, dim_) + plane[dim_];
      s.queue.emplace_back(std::min(priority, margin), forest_.child(ref, 1));
      std::push_heap(s.queue.begin(), s.queue.end(), cmp);
      s.queue.emplace_back(std::min(priority, -margin), forest_.child(ref, 0));
      std::push_heap(s.queue.begin(), s.queue.end(), cmp);
    }
  }

  Metric metric_;
  std::size_t dim_;
  ForestOptions options_;
  MatrixView data_{};
  std::vector<float> normalized_;
  Forest forest_;
  bool built_ = false;
  std::int64_t search_k_ = -1;
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "annoy: metric '{}' is not supported (euclidean, angular)", metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "annoy: dimension must be at least 1");
  ForestOptions options;
  options.n_trees = static_cast<std::size_t>(build.get_int("n_trees"));
  ANNBENCH_CHECK(options.n_trees >= 1, "annoy: n_trees must be at least 1, got {}",
                 options.n_trees);
  const std::int64_t leaf_size = build.get_int("leaf_size");
  // 0 = Annoy's own bucket: a leaf holds as many ids as a split node holds floats (dim + 2).
  options.leaf_size = leaf_size > 0 ? static_cast<std::size_t>(leaf_size) : dim + 2;
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  options.through_origin = metric == Metric::Angular;
  return std::make_unique<AnnoyIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"n_trees", ParamType::Int, std::int64_t{10}, "trees in the forest", 1, 100000},
    {"leaf_size", ParamType::Int, std::int64_t{0}, "most ids per leaf (0: Annoy's dim + 2)", 0,
     1 << 20},
    {"seed", ParamType::Int, std::int64_t{1}, "tree-building seed", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"search_k", ParamType::Int, std::int64_t{-1},
     "ids to collect from leaves before re-ranking (-1: n_trees * k; below k: k)", -1,
     static_cast<double>(std::numeric_limits<std::int32_t>::max())}};

const ModuleInfo kInfo = {
    .name = "annoy",
    .description = "random-projection tree forest (Annoy-style), exact re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = 0,
    .create = &create,
};

}  // namespace
}  // namespace annbench::annoy

ANNBENCH_MODULE(annbench::annoy::kInfo)
