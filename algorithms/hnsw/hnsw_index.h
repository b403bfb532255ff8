#pragma once
// HNSW (Malkov & Yashunin, 2018): a hierarchy of proximity graphs searched greedily from the
// top layer down, with a beam of width ef on layer 0.
//
// Memory layout (why it is fast): layer 0 is one 64-byte-aligned array of fixed-size blocks,
// one per node: the node's vector (dim floats) followed by its 2M layer-0 links (uint32 ids,
// unused slots hold kNoLink), the stride rounded up to 64 bytes. Expanding a node therefore
// touches one block, and a neighbour's distance reads one contiguous block. Links on layers
// >= 1 (M per layer) live in a separate pool, since only ~1/M of the nodes have any.
//
// Storage (HnswConfig::storage): the vector in a block is float32, fp16 or an SQ8 code (one
// byte per dimension, Sq8Codec trained on the base), padded to 4 bytes before the links. A base
// given natively as uint8 / int8 (build_uint8 / build_int8) is stored as it is (storage uint8 /
// int8): construction and search then take exact integer distances (compact_distance.h), the
// walk's query being the float query converted once to the base's type, with no float copy and
// no re-ranking.
// Construction and the search walk the graph on what the blocks hold (float query against the
// stored vector); with fp16 or SQ8 a float copy of the vectors (keep_float) re-ranks the short
// list with exact float distances. The distance is chosen per search, not per node: the walk is
// a template on the storage (dist<S>), so storage float runs the same loop as before.
//
// Internally, distances are "smaller is closer" in the module's own scale: squared L2 for
// euclidean, the negative dot product for inner product, and for angular the negative dot product
// of the normalised vectors (base and query are normalised).
//
// search() writes distances in the metric's scale (plain L2, 1 - cos, -<q, x>).
//
// Thread safety: build() and add() run on the OpenMP threads the harness set, with one spin
// lock per node guarding its link lists; between updates, search() is lock-free and may run on
// many threads at once (scratch buffers come from a pool).
//
// Streaming: node ids stay uint32 slots into the block array; add() maps the caller's int64 ids
// to slots (identity after build(base) until the first add()). remove() leaves tombstones that
// searches navigate through but never return; once tombstones exceed repair_threshold of the
// nodes, links to them are replaced and their slots are reused by later add() calls.

#include "id_map.h"

#include <annbench/common/scratch_pool.h>
#include <annbench/common/sq8_codec.h>
#include <annbench/index.h>
#include <annbench/metric.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace annbench::hnsw {

inline constexpr std::uint32_t kNoLink = 0xFFFFFFFFu;
inline constexpr std::size_t kMaxM = 128;  // ParamSpec bound; layer-0 lists hold up to 2 kMaxM
inline constexpr std::size_t kMaxLinksPerList = 2 * kMaxM;
inline constexpr int kMaxLevel = 64;  // levels are drawn geometric; this cap is never reached
// add() rechecks layer-0 reachability once the nodes inserted since the last check reach this
// fraction of the live nodes: a linear pass paid for by that many insertions.
inline constexpr double kReachabilityCheck = 1.0 / 32;
// Default filter_exact_below: a filter allowing under 2 % of the base is answered by scanning
// its allowed points (README, "Filtered search").
inline constexpr double kFilterExactBelow = 0.02;

// What a layer-0 block holds as the vector (README, "Compact storage").
// Uint8 / Int8: the native integer vectors of build_uint8 / build_int8, never asked for by the
// `storage` parameter (the dataset's type chooses them).
enum class Storage : std::uint8_t { Float = 0, Sq8 = 1, Fp16 = 2, Uint8 = 3, Int8 = 4 };
// "float", "sq8", "fp16", "uint8", "int8"; parse_storage accepts the parameter's values (float,
// sq8, fp16) and throws Error naming the value and the accepted ones.
const char* storage_name(Storage storage);
Storage parse_storage(const std::string& name);
constexpr bool is_integer(Storage storage) {
  return storage == Storage::Uint8 || storage == Storage::Int8;
}

struct HnswConfig {
  std::size_t M = 16;                 // links per node on layers >= 1; 2M on layer 0
  std::size_t ef_construction = 200;  // beam width while inserting
  std::uint64_t seed = 42;            // level draws
  double repair_threshold = 0.1;      // deleted fraction of the nodes that triggers a repair
  Storage storage = Storage::Float;   // what the blocks hold; the walk computes on it
  bool keep_float = true;  // fp16 / sq8: keep a float copy to re-rank with (ignored for float)
  // Neighbour selection (hnsw_builder.h, occludes()): 1 is the paper's heuristic (Algorithm 4);
  // above 1 Vamana's RobustPrune, which keeps a candidate unless a kept neighbour is alpha times
  // nearer to it than the node is. Not available for the inner product (not a distance).
  double alpha = 1.0;
  // 2: after the build, every layer-0 list is re-selected with alpha from its links and their
  // links (the first pass then selects with alpha 1, as Vamana's does).
  int passes = 1;
};

// Per-slot state once the index has seen a remove(): live, a tombstone (linked, never returned),
// or free (unlinked, waiting for add() to reuse it).
enum class SlotState : std::uint8_t { Live = 0, Deleted = 1, Free = 2 };

struct Candidate {
  float distance;
  std::uint32_t id;
};

struct SearchScratch;

class HnswIndex final : public Index {
 public:
  HnswIndex(Metric metric, std::size_t dim, HnswConfig config);
  ~HnswIndex() override;

  void build(MatrixView base) override;
  // Native integer bases (metric euclidean or dot): stored as they are, exact integer
  // distances. The `storage` parameter must be float (its default): sq8 / fp16 is an Error.
  void build_uint8(U8MatrixView base) override;
  void build_int8(I8MatrixView base) override;
  // ids must be distinct and not live; a removed id may come back.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override;
  // ids must be live. May repair the graph (repair_threshold) before returning.
  void remove(std::span<const std::int64_t> ids) override;
  void set_search_params(const Params& params) override;
  // ef below k is raised to k: the beam must hold at least k results.
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  // Index's default (OpenMP over search()), with integer storage's query check done first: an
  // Error cannot leave an OpenMP thread.
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override;
  // Filter-aware beam search (every node navigates, only allowed live nodes are results), or an
  // exact scan of filter.ids() when the filter's selectivity is below filter_exact_below.
  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override;
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }
  // Layer 0's out-degree over the live nodes (what alpha and the second pass change):
  // {"layer0_mean_degree":..,"layer0_full_lists":..,"layer0_max_degree":2M}; empty when no node
  // is live.
  std::string build_report() const override;

  // The short list search() re-ranks (testing hook): the layer-0 beam of an unfiltered search on
  // the stored vectors, nearest first by the stored-vector distance (internal scale), cut to
  // the rerank count when re-ranking applies (compact storage with a float copy). Node ids.
  std::vector<Candidate> candidates(const float* query, std::size_t k) const;

  // Index files (hnsw_io.cpp): the common container (common/index_file.h) holding the whole
  // state, tombstones and caller ids included, so a loaded index answers and updates as this
  // one would. load() throws Error naming the file when it is not a valid (metric, dim) index.
  void save(const std::string& path) const override;
  static std::unique_ptr<HnswIndex> load(const std::string& path, Metric metric, std::size_t dim);

  // Introspection (tests, tools). Inline so callers outside the module need no symbols.
  Metric metric() const { return metric_; }
  std::size_t dim() const { return dim_; }
  // Slots in use or free (node ids are below this); live_size() counts what searches return.
  std::size_t size() const { return n_; }
  std::size_t capacity() const { return capacity_; }
  std::size_t live_size() const { return n_ - deleted_ - free_.size(); }
  std::size_t deleted_count() const { return deleted_; }
  std::size_t free_count() const { return free_.size(); }
  SlotState state(std::uint32_t node) const {
    return state_.empty() ? SlotState::Live : static_cast<SlotState>(state_[node]);
  }
  // The caller's id of a node (its position while no add() has happened).
  std::int64_t external_id(std::uint32_t node) const {
    return external_.empty() ? static_cast<std::int64_t>(node) : external_[node];
  }
  std::size_t max_degree(int level) const { return level == 0 ? 2 * config_.M : config_.M; }
  const HnswConfig& config() const { return config_; }
  int max_level() const { return max_level_; }
  std::uint32_t entry_point() const { return entry_; }
  int level(std::uint32_t node) const { return levels_[node]; }
  Storage storage() const { return config_.storage; }
  // True when the index holds a float copy of the vectors (compact storage, keep_float).
  bool has_float_copy() const { return float_copy_; }
  const Sq8Codec* sq8_codec() const { return sq8_ ? &*sq8_ : nullptr; }
  // A node's stored vector: code_bytes() bytes at the start of its block.
  const std::byte* stored(std::uint32_t node) const { return level0_.get() + node * stride_; }
  std::size_t code_bytes() const { return code_bytes_; }
  // The block's vector as floats: storage float only (uint8 / int8: stored() holds the values).
  const float* vector(std::uint32_t node) const {
    return reinterpret_cast<const float*>(stored(node));
  }
  // The links of `node` on `level` (level <= level(node)).
  std::span<const std::uint32_t> neighbors(std::uint32_t node, int level) const {
    const std::uint32_t* links = link_list(node, level);
    const std::size_t cap = max_degree(level);
    std::size_t count = 0;
    while (count < cap && links[count] != kNoLink) ++count;
    return {links, count};
  }

 private:
  struct AlignedFree {
    void operator()(std::byte* p) const;
  };
  friend class HnswBuilder;
  friend struct HnswFile;

  bool is_deleted(std::uint32_t node) const {
    return state_[node] == static_cast<std::uint8_t>(SlotState::Deleted);
  }

  const std::uint32_t* link_list(std::uint32_t node, int level) const {
    if (level == 0) return reinterpret_cast<const std::uint32_t*>(stored(node) + code_bytes_);
    return upper_.data() + upper_offset_[node] + static_cast<std::size_t>(level - 1) * config_.M;
  }
  std::uint32_t* link_list(std::uint32_t node, int level) {
    return const_cast<std::uint32_t*>(std::as_const(*this).link_list(node, level));
  }
  // Float against float (storage float's blocks, the float copy), in the internal scale.
  float distance(const float* a, const float* b) const {
    const float d = kernel_(a, b, dim_);
    return negate_ ? -d : d;
  }
  // A float query against a node's stored vector, the storage fixed at compile time: the walk's
  // distance. dist<Storage::Float> is distance(query, vector(node)).
  template <Storage S>
  float dist(const float* query, std::uint32_t node) const {
    float d;
    if constexpr (S == Storage::Float) {
      d = kernel_(query, vector(node), dim_);
    } else if constexpr (S == Storage::Fp16) {
      d = fp16_kernel_(query, reinterpret_cast<const std::uint16_t*>(stored(node)), dim_);
    } else if constexpr (S == Storage::Uint8) {
      // The walk's query holds uint8 values here (walk_query()); the exact integer rounds to
      // float only when above 2^24, monotonically.
      d = static_cast<float>(u8_kernel_(reinterpret_cast<const std::uint8_t*>(query),
                                        reinterpret_cast<const std::uint8_t*>(stored(node)), dim_));
    } else if constexpr (S == Storage::Int8) {
      d = static_cast<float>(i8_kernel_(reinterpret_cast<const std::int8_t*>(query),
                                        reinterpret_cast<const std::int8_t*>(stored(node)), dim_));
    } else {
      d = sq8_kernel_(query, reinterpret_cast<const std::uint8_t*>(stored(node)), sq8_min_,
                      sq8_scale_, dim_);
    }
    return negate_ ? -d : d;
  }
  // dist<S> with the storage chosen at run time (construction, repairs).
  float distance_to(const float* query, std::uint32_t node) const {
    switch (config_.storage) {
      case Storage::Sq8: return dist<Storage::Sq8>(query, node);
      case Storage::Fp16: return dist<Storage::Fp16>(query, node);
      case Storage::Uint8: return dist<Storage::Uint8>(query, node);
      case Storage::Int8: return dist<Storage::Int8>(query, node);
      case Storage::Float: break;
    }
    return dist<Storage::Float>(query, node);
  }
  // Construction's distance between two nodes: a's float vector (query_vector) against b's
  // stored vector; for storage float exactly distance(vector(a), vector(b)).
  float node_distance(std::uint32_t a, std::uint32_t b) const {
    if (config_.storage == Storage::Float) return distance(vector(a), vector(b));
    return compact_node_distance(a, b);
  }
  float compact_node_distance(std::uint32_t a, std::uint32_t b) const;
  // A node's vector as floats, the query of its own insertion: the block (storage float), the
  // float copy, or the stored vector decoded into `buffer`. Integer storage: the block itself,
  // a walk query of that type (walk_query()).
  const float* query_vector(std::uint32_t node, std::vector<float>& buffer) const;
  // A node's row of the float copy (has_float_copy() only): re-ranking and the exact scan.
  const float* float_row(std::uint32_t node) const { return float_.data() + node * dim_; }

  // Storage around build() and add() (hnsw_storage.cpp): checks that the vectors can be stored
  // (fp16's range), trains the SQ8 codec when it has none, and during build() keeps a float
  // copy for construction's queries; finish_build() drops it unless keep_float.
  // Integer storage: checks that float vectors (add(), a float build) hold the type's integers.
  void prepare_storage(MatrixView vectors, bool building);
  // Sets the storage the blocks hold and what follows from it (block and code sizes, float
  // copy); only before allocate().
  void set_storage(Storage storage);
  // build_uint8 / build_int8: `data` is rows × dim values of storage's type.
  void build_integer(Storage storage, const void* data, std::size_t rows, std::size_t dim);
  // The query as integer storage's type into scratch.query's bytes, handed to the walk as its
  // `const float*` query (dist<Uint8 / Int8> reads it back as bytes; never read as floats).
  // Error when a value is not an integer of the type.
  const float* walk_query(const float* query, SearchScratch& scratch) const;
  // The check of walk_query() alone: Error naming the first value the type cannot hold.
  void check_integer_query(const float* query, const char* what) const;
  void finish_build();
  void set_codec(Sq8Codec codec);
  // copy_vector() for compact storage: the (angular: normalised) vector into the float copy,
  // encoded into the block.
  void store_compact(std::uint32_t node, const float* source);

  // Allocates blocks and upper-layer storage for n nodes with the given levels; copies (and for
  // angular normalises) the vectors. Links all kNoLink.
  void allocate(std::size_t n, std::vector<std::uint8_t> levels);
  // Level of the next inserted node: floor(-ln U mL), U uniform in (0, 1], mL = 1 / ln M, from
  // the index's generator (reseeded by build(), so build order and add order draw alike).
  std::uint8_t draw_level();
  // Grows the block array, locks and per-node vectors to hold at least `slots` nodes
  // (geometrically, so a sequence of add() calls copies each block O(1) times; exactly `slots`
  // when `exact`, as load() restores a saved capacity).
  void reserve_slots(std::size_t slots, bool exact = false);
  // Prepares slot `node` for a new vector: zero block, empty links, upper storage for `level`.
  void init_slot(std::uint32_t node, std::uint8_t level, const float* source);
  // Slot of a live caller id, or kNoLink.
  std::uint32_t find_live(std::int64_t id) const;
  void copy_vector(std::uint32_t node, const float* source);
  const float* prepare_query(const float* query, SearchScratch& scratch) const;

  // Beam search on layer 0 from `start`; leaves scratch.results a max-heap of at most ef
  // candidates. Returns the number of distances computed. kLocked: read links under the
  // per-node locks (during a parallel build). kSkipDeleted: tombstones are expanded but kept
  // out of the results, so the beam still ends with ef live nodes when that many are reachable.
  template <bool kLocked, bool kSkipDeleted = false>
  std::size_t search_layer(const float* query, Candidate start, std::size_t ef, int level,
                           SearchScratch& scratch) const;
  // The beam search behind search_layer: every reached node is expanded, only those `keep`
  // accepts enter the results, and the beam stops against the worst kept result.
  // S: what the blocks hold (dist<S>); search_layer and greedy_step pick it once per call.
  template <Storage S, bool kLocked, typename Keep>
  std::size_t beam_search(const float* query, Candidate start, std::size_t ef, int level,
                          SearchScratch& scratch, const Keep& keep) const;
  // Greedy descent from the entry point through layers >= 1; returns layer 0's start.
  template <Storage S>
  Candidate descend(const float* query, std::size_t& count) const;
  // search()'s and search_filtered()'s graph walks on storage S (descent, then the layer-0
  // beam into scratch.results); return the distances computed. Both end with finish().
  template <Storage S>
  std::size_t walk(const float* query, std::size_t k, SearchScratch& scratch) const;
  template <Storage S>
  std::size_t walk_filtered(const float* query, std::size_t k, const Filter& filter,
                            SearchScratch& scratch) const;
  // scan_allowed() on the float copy (kFloatCopy, exact) or on the blocks (storage S).
  template <Storage S, bool kFloatCopy>
  std::size_t scan_on(const float* query, std::size_t k, const Filter& filter,
                      SearchScratch& scratch, Neighbor* out) const;
  // Sorts scratch.results; with a float copy re-ranks the best rerank_count() of them exactly;
  // writes the k best in the metric's scale. Returns the distances it computed.
  std::size_t finish(const float* query, std::size_t k, SearchScratch& scratch,
                     Neighbor* out) const;
  // How many of `found` sorted candidates are re-ranked for k results; 0 when none are (storage
  // float, or no float copy).
  std::size_t rerank_count(std::size_t k, std::size_t found) const;
  // search_filtered's exact path: every allowed live node of filter.ids(), best k kept.
  std::size_t scan_allowed(const float* query, std::size_t k, const Filter& filter,
                           SearchScratch& scratch, Neighbor* out) const;
  // Greedy descent on one upper layer; returns the closest node found.
  template <bool kLocked>
  Candidate greedy_step(const float* query, Candidate start, int level, std::size_t& count) const;
  template <Storage S, bool kLocked>
  Candidate greedy_walk(const float* query, Candidate start, int level, std::size_t& count) const;

  void lock(std::uint32_t node) const;
  void unlock(std::uint32_t node) const;

  Metric metric_;
  std::size_t dim_;
  HnswConfig config_;
  bool negate_ = false;
  float (*kernel_)(const float*, const float*, std::size_t) = nullptr;
  // Compact storage: its kernels (compact_distance.h), chosen with kernel_ in the constructor,
  // and the SQ8 codec (trained by the first build() or add() with vectors) with its arrays.
  float (*fp16_kernel_)(const float*, const std::uint16_t*, std::size_t) = nullptr;
  float (*sq8_kernel_)(const float*, const std::uint8_t*, const float*, const float*,
                       std::size_t) = nullptr;
  // Integer storage: squared L2 or the dot product, exact (compact_distance.h).
  std::int64_t (*u8_kernel_)(const std::uint8_t*, const std::uint8_t*, std::size_t) = nullptr;
  std::int64_t (*i8_kernel_)(const std::int8_t*, const std::int8_t*, std::size_t) = nullptr;
  // config.storage as created: what a float build() stores (config_.storage is what the blocks
  // hold now, uint8 / int8 after an integer build).
  Storage requested_storage_ = Storage::Float;
  std::optional<Sq8Codec> sq8_;
  const float* sq8_min_ = nullptr;    // sq8_->min().data()
  const float* sq8_scale_ = nullptr;  // sq8_->scale().data()
  std::size_t code_bytes_ = 0;        // bytes of a block's vector (4-byte multiple)
  bool float_copy_ = false;           // float_ holds every slot's float vector
  std::vector<float> float_;          // capacity_ x dim_ (angular: normalised), or empty
  std::size_t rerank_ = 0;            // search parameter rerank (0: every candidate)
  std::size_t ef_ = 10;
  double filter_exact_below_ =
      kFilterExactBelow;  // search_filtered scans filter.ids() below this selectivity

  std::size_t n_ = 0;         // slots handed out (live, deleted or free)
  std::size_t capacity_ = 0;  // slots allocated in level0_ and locks_
  std::size_t stride_ = 0;    // bytes per layer-0 block, a multiple of 64
  std::unique_ptr<std::byte[], AlignedFree> level0_;
  std::vector<std::uint8_t> levels_;
  std::vector<std::uint32_t> upper_offset_;  // into upper_, for nodes with level >= 1
  std::vector<std::uint32_t> upper_;
  std::unique_ptr<std::atomic<std::uint8_t>[]> locks_;
  int max_level_ = -1;
  std::uint32_t entry_ = kNoLink;
  std::mt19937_64 level_rng_;

  // Streaming state; all empty for a static index, which then pays nothing for it.
  std::vector<std::uint8_t> state_;     // SlotState per slot, allocated by the first remove()
  std::size_t deleted_ = 0;             // slots in state Deleted
  std::vector<std::uint32_t> free_;     // slots in state Free, reused last-in first-out
  std::vector<std::int64_t> external_;  // caller id per slot, allocated by the first add()
  IdMap ids_;                           // caller id -> slot, live ids only
  std::size_t unchecked_ = 0;           // nodes inserted since the last reachability check

  ScratchPool<SearchScratch> scratch_;
  DistanceCounter distances_;
};

}  // namespace annbench::hnsw
