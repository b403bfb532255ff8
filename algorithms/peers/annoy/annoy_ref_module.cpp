// annoy-ref: Spotify's Annoy 1.17 (Bernhardsson), a forest of random-projection trees, from the
// headers Debian ships in r-cran-rcppannoy. Build: n_trees, seed; search: search_k (nodes to
// inspect; -1 = Annoy's default n_trees * k). The reference for our own `annoy` module.

// Annoy builds its trees on std::threads when this is defined; we give it the harness's count.
#define ANNOYLIB_MULTITHREADED_BUILD

#include "peer_util.h"

#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <annoylib.h>
#include <kissrandom.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace annbench::peers {
namespace {

template <typename Distance>
using AnnoyBase =
    AnnoyIndex<std::int32_t, float, Distance, Kiss64Random, AnnoyIndexMultiThreadedBuildPolicy>;

// Exposes the node store's size, which Annoy keeps protected.
template <typename Distance>
class SizedAnnoy final : public AnnoyBase<Distance> {
 public:
  using AnnoyBase<Distance>::AnnoyBase;
  std::size_t bytes() const {
    return this->_s * static_cast<std::size_t>(this->_n_nodes) +
           this->_roots.size() * sizeof(std::int32_t);
  }
};

template <typename Distance>
class AnnoyPeer final : public Index {
 public:
  AnnoyPeer(std::size_t dim, int n_trees, std::uint64_t seed)
      : dim_(dim), n_trees_(n_trees), seed_(seed) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "annoy-ref: base vectors have dimension {}, expected {}",
                   base.dim, dim_);
    ANNBENCH_CHECK(base.rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                   "annoy-ref: {} base vectors exceed Annoy's 32-bit ids", base.rows);
    forest_ = std::make_unique<SizedAnnoy<Distance>>(static_cast<int>(dim_));
    forest_->set_seed(seed_);
    char* error = nullptr;
    for (std::size_t i = 0; i < base.rows; ++i) {
      if (!forest_->add_item(static_cast<std::int32_t>(i), base.row(i), &error)) fail(error);
    }
    if (!forest_->build(n_trees_, omp_get_max_threads(), &error)) fail(error);
  }

  void set_search_params(const Params& params) override {
    search_k_ = static_cast<int>(params.get_int("search_k"));
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(forest_ != nullptr, "annoy-ref: search before build");
    thread_local std::vector<std::int32_t> ids;
    thread_local std::vector<float> distances;
    ids.clear();
    distances.clear();
    forest_->get_nns_by_vector(query, k, search_k_, &ids, &distances);
    const std::size_t found = std::min(ids.size(), k);
    for (std::size_t j = 0; j < found; ++j) out[j] = Neighbor{ids[j], distances[j]};
    pad_results(out, found, k);
  }

  std::size_t memory_bytes() const override { return forest_ ? forest_->bytes() : 0; }

 private:
  // Annoy reports errors as malloc'd strings.
  [[noreturn]] void fail(char* error) const {
    const std::string message = error != nullptr ? error : "unknown error";
    std::free(error);
    ANNBENCH_FAIL("annoy-ref: build failed (n_trees={}): {}", n_trees_, message);
  }

  std::size_t dim_;
  int n_trees_;
  std::uint64_t seed_;
  int search_k_ = -1;
  std::unique_ptr<SizedAnnoy<Distance>> forest_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  const auto n_trees = static_cast<int>(build.get_int("n_trees"));
  const auto seed = static_cast<std::uint64_t>(build.get_int("seed"));
  switch (metric) {
    case Metric::L2: return std::make_unique<AnnoyPeer<Euclidean>>(dim, n_trees, seed);
    case Metric::Angular: return std::make_unique<AnnoyPeer<Angular>>(dim, n_trees, seed);
    case Metric::InnerProduct: return std::make_unique<AnnoyPeer<DotProduct>>(dim, n_trees, seed);
  }
  ANNBENCH_FAIL("annoy-ref: unsupported metric");
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = {
    {"n_trees", ParamType::Int, std::int64_t{10}, "trees in the forest", 1, 100000},
    {"seed", ParamType::Int, std::int64_t{1234567890}, "tree-building seed (Kiss64Random)", 0,
     static_cast<double>(std::numeric_limits<std::int32_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"search_k", ParamType::Int, std::int64_t{-1},
     "tree nodes to inspect (-1: Annoy's default n_trees * k)", -1,
     static_cast<double>(std::numeric_limits<std::int32_t>::max())}};

const ModuleInfo kInfo = {
    .name = "annoy-ref",
    .description = "Annoy 1.17 (Spotify): random-projection tree forest, the reference",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = 0,
    .library = "Annoy 1.17",
    .create = &create,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
