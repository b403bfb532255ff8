#pragma once
// FaissPeer: one annbench::Index over any faiss::Index, shared by the faiss-* modules. A module
// supplies a FaissRecipe (how to make the empty faiss index, how to apply search parameters and
// how distances are counted); FaissPeer does metric handling, training, result conversion to the
// metric's scale, thread pinning, memory accounting, filtered search through faiss's IDSelector,
// and save/load: faiss's own serialisation (write_index / read_index, in memory) as the "faiss"
// section of annbench's index file.
//
// The faiss linked is Debian's generic x86-64 build (no AVX2 kernels) or, where
// scripts/build-faiss.sh has run, the same source built with -march=native against OpenBLAS
// (CMakeLists.txt here); faiss_library() names the one a result was measured with.

#include <annbench/common/mapped_file.h>
#include <annbench/index.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/params.h>

#include <faiss/Index.h>
#include <faiss/IndexIVF.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace annbench::peers {

// ModuleInfo::library of every faiss-* module, so that results say which faiss measured them:
// the version of the headers built against, faiss's own get_compile_options() ("OPTIMIZE AVX2",
// "OPTIMIZE GENERIC", ...) and where the library came from, e.g.
// "faiss 1.7.3 (OPTIMIZE AVX2; built by scripts/build-faiss.sh with -march=native)".
const char* faiss_library();

// A faiss index and the sub-index it references (IVF's coarse quantizer), destroyed in order.
struct FaissHolder {
  std::unique_ptr<faiss::Index> quantizer;  // may be null
  std::unique_ptr<faiss::Index> index;      // declared after quantizer: destroyed first
};

// How distance_count() is obtained (see README: faiss's statistics are process-wide globals).
enum class FaissCounting {
  kNone,      // unknown (codes compared, not vectors)
  kFullScan,  // ntotal per query, counted by FaissPeer
  kIvfStats,  // faiss::indexIVF_stats.ndis + nlist coarse distances per query
};

struct FaissRecipe {
  const char* module = "";
  // Builds the empty index for dimension dim and faiss metric (METRIC_L2 or METRIC_INNER_PRODUCT).
  std::function<FaissHolder(std::size_t dim, faiss::MetricType metric)> make;
  // Applies resolved search parameters; called only between searches. May be empty.
  std::function<void(faiss::Index& index, const Params& params)> apply_search;
  FaissCounting counting = FaissCounting::kNone;
  // Coarse-quantizer distances per query (IVF: nlist); used with kIvfStats.
  std::size_t coarse_per_query = 0;
  // For add() with caller ids on an index without its own ids (IndexFlat): the streaming index
  // is wrapped in an IndexIDMap. A static build is never wrapped.
  bool id_map = false;
  // The index ranks by something other than the metric (IndexLSH: Hamming distances between
  // codes): FaissPeer keeps the vectors it indexed and writes the metric's distances of the k
  // results, re-sorted by them.
  bool rerank = false;
  // search_filtered is served (kCapFilter): faiss's SearchParameters with an IDSelector over the
  // stored ids (faiss_filter.cpp); the index type must honour `sel` in this faiss version.
  bool filter = false;
  // faiss is never asked for more than ntotal results; the rest is padding. IndexNSG needs it:
  // its search draws random start nodes until it holds max(search_L, k) distinct ones, which
  // never ends when that exceeds ntotal.
  bool k_at_most_ntotal = false;
};

// What a loaded faiss index must be for a module: given the index faiss read back (its type,
// dimension and metric already unchecked), the module's recipe with search parameters at their
// defaults applied to it, or nullopt when it is not the module's kind of index (the loader then
// names the file).
using FaissRecipeOf = std::function<std::optional<FaissRecipe>(faiss::Index& index)>;

// apply_search for the IVF peers: sets nprobe from the "nprobe" parameter; above nlist is an
// error naming the module (faiss would silently clamp it).
void apply_ivf_nprobe(const char* module, faiss::Index& index, const Params& params);

// A loaded IVF index is searchable: a flat coarse quantizer of its dimension holding nlist
// centroids once trained, and nlist inverted lists.
bool usable_ivf(const faiss::IndexIVF& ivf);

class FaissPeer final : public Index {
 public:
  FaissPeer(FaissRecipe recipe, Metric metric, std::size_t dim);

  void build(MatrixView base) override;
  // add_with_ids (training an untrained index on the first batch), remove_ids with an
  // IDSelectorBatch: for modules declaring kCapInsert / kCapDelete.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override;
  void remove(std::span<const std::int64_t> ids) override;
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override;
  // One faiss search with the module's current parameters plus a selector over the filter's
  // bitmap (faiss_filter.cpp), for recipes with `filter`.
  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override;
  void save(const std::string& path) const override;
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override;

  // ModuleInfo::load of the faiss-* modules.
  static std::unique_ptr<Index> load(const char* module, const std::string& path, Metric metric,
                                     std::size_t dim, const FaissRecipeOf& recipe_of);

 private:
  // A single query's result arrays (k slots) and the query faiss searches with (normalised for
  // angular): thread-local, reused by the next search on the same thread.
  struct QueryBuffers {
    std::vector<float> unit;
    std::vector<float> distances;
    std::vector<faiss::Index::idx_t> labels;
    const float* query = nullptr;
  };
  QueryBuffers& query_buffers(const float* query, std::size_t k) const;

  const faiss::Index& ready() const;
  // k, or at most ntotal for recipes with k_at_most_ntotal.
  std::size_t asked_k(const faiss::Index& index, std::size_t k) const;
  faiss::MetricType faiss_metric() const;
  void measure_memory() const;
  void wrap_in_id_map();
  // queries: what faiss searched with (normalised for angular).
  void convert(std::size_t n, std::size_t k, const float* queries, const float* distances,
               const faiss::Index::idx_t* labels, Neighbor* out) const;

  FaissRecipe recipe_;
  Metric metric_;
  std::size_t dim_;
  FaissHolder holder_;
  // The serialised size; after add() / remove() measured again on the next memory_bytes()
  // (serialising per update would cost O(n) each).
  mutable std::size_t memory_bytes_ = 0;
  mutable bool memory_stale_ = false;
  std::uint64_t global_at_build_ = 0;  // the global faiss counter when build finished
  DistanceCounter own_count_;
  // recipe_.rerank: the indexed vectors (normalised for angular), row = faiss label. Referenced
  // from the harness's base (euclidean), owned (angular) or in a loaded file's mapping.
  MatrixView vectors_;
  FloatMatrix owned_vectors_;
  std::shared_ptr<const MappedFile> mapping_;
};

// The faiss index under an IndexIDMap (itself when not wrapped).
const faiss::Index& unwrap_id_map(const faiss::Index& index);
// The default of a module's integer search parameter, from its ParamSpec list.
std::int64_t default_int(std::span<const ParamSpec> specs, std::string_view name);

// faiss::FaissException (and std::exception from faiss) -> annbench::Error naming the module.
[[noreturn]] void rethrow_faiss(const char* module, const char* what, const std::exception& e);

}  // namespace annbench::peers
