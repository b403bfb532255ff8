// annoy-ref: Spotify's Annoy 1.17 (Bernhardsson), a forest of random-projection trees, from the
// headers Debian ships in r-cran-rcppannoy. Build: n_trees, seed; search: search_k (nodes to
// inspect; -1 = Annoy's default n_trees * k). The reference for our own `annoy` module.
// Save/load: Annoy's file format (its node array, byte for byte what AnnoyIndex::save writes) as
// the "annoy" section of annbench's index file, read back through AnnoyIndex::load from a
// temporary file; every node's children are checked before the forest is searched.

// Annoy builds its trees on std::threads when this is defined; we give it the harness's count.
#define ANNOYLIB_MULTITHREADED_BUILD

#include "peer_util.h"

#include <annbench/common/index_file.h>
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
#include <span>
#include <string>
#include <type_traits>
#include <vector>

namespace annbench::peers {
namespace {

constexpr const char* kModule = "annoy-ref";
constexpr std::uint32_t kFormatVersion = 1;

struct SavedMeta {
  std::int64_t n_trees;
  std::uint64_t seed;
};

template <typename Distance>
using AnnoyBase =
    AnnoyIndex<std::int32_t, float, Distance, Kiss64Random, AnnoyIndexMultiThreadedBuildPolicy>;

// Exposes the node store, which Annoy keeps protected: its size, its bytes (Annoy's file format)
// and a check of a loaded one.
template <typename Distance>
class SizedAnnoy final : public AnnoyBase<Distance> {
 public:
  using AnnoyBase<Distance>::AnnoyBase;
  std::size_t bytes() const {
    return this->_s * static_cast<std::size_t>(this->_n_nodes) +
           this->_roots.size() * sizeof(std::int32_t);
  }
  std::span<const std::byte> nodes() const {
    return {static_cast<const std::byte*>(this->_nodes),
            this->_s * static_cast<std::size_t>(this->_n_nodes)};
  }
  std::size_t node_bytes() const { return this->_s; }
  std::size_t items() const { return static_cast<std::size_t>(this->_n_items); }

  // What is wrong with a loaded forest (empty when nothing), by the rules Annoy builds by: the
  // first n_items nodes are the items (one descendant each); every later node is either a leaf
  // list of 1.._K item ids or a split node whose two children come before it (children are
  // made first), so a search stays inside the array and cannot loop.
  std::string problem() const {
    const std::int32_t n_nodes = this->_n_nodes, n_items = this->_n_items;
    if (n_items < 1 || n_items > n_nodes || this->_roots.empty()) return "no items or no roots";
    for (std::int32_t i = 0; i < n_nodes; ++i) {
      const auto* node = this->_get(i);
      const std::int32_t count = node->n_descendants;
      if (i < n_items) {
        if (count != 1) return fmt::format("item {} has {} descendants", i, count);
      } else if (count < 1) {
        return fmt::format("node {} has {} descendants", i, count);
      } else if (count <= this->_K) {
        for (std::int32_t j = 0; j < count; ++j) {
          if (node->children[j] < 0 || node->children[j] >= n_items)
            return fmt::format("leaf {} holds item {} of {}", i, node->children[j], n_items);
        }
      } else {
        for (const std::int32_t child : {node->children[0], node->children[1]}) {
          if (child < 0 || child >= i) return fmt::format("split node {} has child {}", i, child);
        }
      }
    }
    return {};
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
    for (std::size_t j = 0; j < found; ++j) out[j] = Neighbor{ids[j], metric_scale(distances[j])};
    pad_results(out, found, k);
  }

  void save(const std::string& path) const override {
    ANNBENCH_CHECK(forest_ != nullptr, "annoy-ref: save() before build()");
    IndexFileWriter file(kModule, kFormatVersion, metric_of(), dim_, forest_->items());
    file.add_value("meta", SavedMeta{n_trees_, seed_});
    file.add("annoy", forest_->nodes());
    file.write(path);
  }

  static std::unique_ptr<Index> load(const std::string& path, std::size_t dim) {
    const auto file = IndexFileReader::open(path, kModule, kFormatVersion, metric_of(), dim);
    const auto meta = file.value<SavedMeta>("meta");
    const auto nodes = file.array<std::byte>("annoy");
    auto peer = std::make_unique<AnnoyPeer>(dim, static_cast<int>(meta.n_trees), meta.seed);
    peer->forest_ = std::make_unique<SizedAnnoy<Distance>>(static_cast<int>(dim));
    if (nodes.empty() || nodes.size() % peer->forest_->node_bytes() != 0 ||
        nodes.size() / peer->forest_->node_bytes() >
            static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()))
      file.fail(fmt::format("annoy section of {} bytes is not a whole number of {}-byte nodes",
                            nodes.size(), peer->forest_->node_bytes()));
    // Annoy maps the file it loads; the mapping outlives the temporary file's name.
    const TempFile temp(kModule);
    temp.write(nodes);
    char* error = nullptr;
    if (!peer->forest_->load(temp.path().c_str(), false, &error)) {
      const std::string message = error != nullptr ? error : "unknown error";
      std::free(error);
      file.fail(fmt::format("Annoy cannot load the forest it holds: {}", message));
    }
    if (const std::string problem = peer->forest_->problem(); !problem.empty()) file.fail(problem);
    if (peer->forest_->items() != file.rows())
      file.fail(fmt::format("forest of {} items, the header says {}", peer->forest_->items(),
                            file.rows()));
    return peer;
  }

  std::size_t memory_bytes() const override { return forest_ ? forest_->bytes() : 0; }

 private:
  static Metric metric_of() {
    if constexpr (std::is_same_v<Distance, Euclidean>) return Metric::L2;
    if constexpr (std::is_same_v<Distance, Angular>) return Metric::Angular;
    return Metric::InnerProduct;
  }

  // Annoy reports euclidean distances as L2, angular ones as sqrt(2 - 2 cos) (|u - v| of the
  // unit vectors; 2 for a zero vector) and dot products as the product itself.
  static float metric_scale(float distance) {
    if constexpr (std::is_same_v<Distance, Angular>) return 0.5f * distance * distance;
    if constexpr (std::is_same_v<Distance, DotProduct>) return -distance;
    return distance;
  }

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

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  switch (metric) {
    case Metric::L2: return AnnoyPeer<Euclidean>::load(path, dim);
    case Metric::Angular: return AnnoyPeer<Angular>::load(path, dim);
    case Metric::InnerProduct: return AnnoyPeer<DotProduct>::load(path, dim);
  }
  ANNBENCH_FAIL("annoy-ref: unsupported metric");
}

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

// 10 trees over 400 points: inspecting 4,000 nodes reaches every leaf of every tree (exact).
constexpr std::array kSmallSearch = {ParamSetting{"search_k", std::int64_t{4000}}};

const ModuleInfo kInfo = {
    .name = "annoy-ref",
    .description = "Annoy 1.17 (Spotify): random-projection tree forest, the reference",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapSaveLoad,
    .library = "Annoy 1.17",
    .create = &create,
    .load = &load,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::peers

ANNBENCH_MODULE(annbench::peers::kInfo)
