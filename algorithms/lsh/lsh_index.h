#pragma once
// lsh: L hash tables of K concatenated hashes, p-stable (E2LSH) for euclidean and random
// hyperplanes (SimHash) for angular, searched with query-directed multi-probe; candidates
// de-duplicated with an epoch-tagged array and re-ranked exactly (common/rerank.h). See
// README.md.
//
// Vectors: euclidean references the base after a static build; angular keeps a unit copy
// (common/normalize.h), which re-ranking by inner product needs and which hashes the same
// (a hyperplane's side does not depend on the length). Either is copied once the index changes.
//
// Index file (format 1): "meta" (the hash options, row count, tombstone count), "vectors" (the
// stored rows, unit ones for angular), the hash tables as hash_tables.h writes them and, once
// the index changed, "external_ids" and "removed" (the id and tombstone of every stored row).

#include "hash_tables.h"
#include "probe_sequence.h"
#include "tuner.h"

#include <annbench/common/scratch_pool.h>
#include <annbench/common/visited.h>
#include <annbench/index.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace annbench::lsh {

inline constexpr const char* kName = "lsh";
inline constexpr std::uint32_t kFormatVersion = 1;
// The probe heap grows by about one set per probe: a million probes keep it at ~24 MB per thread
// and a query under a second, where an unbounded budget with K = 32 could exhaust memory.
inline constexpr std::int64_t kMaxProbes = 1000000;

class LshIndex final : public Index {
 public:
  LshIndex(Metric metric, std::size_t dim, const HashOptions& options)
      : metric_(metric), dim_(dim), options_(options) {}

  void build(MatrixView base) override;
  // New points go to the tables' overflow buckets; when those hold more points than the compact
  // tables, everything live is re-indexed (amortised O(L·K·dim) per point). The first add() of
  // an index built on zero rows derives the p-stable width from its batch.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override;
  // Removed points are tombstoned (searches skip them); once they are half of what is stored,
  // the survivors are compacted and re-indexed.
  void remove(std::span<const std::int64_t> ids) override;
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  // Same probes and candidates as search(); a candidate is kept when its exact distance (the
  // dataset definition, in double) is within the radius, so nothing outside it is returned.
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override;
  void save(const std::string& path) const override;
  // Tables (with overflow buckets), the vectors (referenced after a static euclidean build,
  // owned otherwise), once the index changes the id maps and tombstones, and idle scratch.
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }
  // tune: auto: the tuner's choice and estimates (tuner.h) as JSON; empty for tune: off and for
  // a loaded index.
  std::string build_report() const override { return report_; }

  // tune: auto. build() (or the first add() of an index built on zero rows) then picks K, L and
  // w from the data for `request` instead of the given ones (a base under kTuneMinRows rows
  // keeps them and says so in the report).
  void enable_tuning(const TuneRequest& request) { tune_ = request; }

  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

 private:
  // Per-search buffers, pooled: no allocation per query once warm. `visited` holds the ids
  // already collected by the current query.
  struct Scratch {
    VisitedSet visited;
    std::vector<std::uint32_t> candidates;
    std::vector<float> values;
    std::vector<float> query;
    ProbeSequence probes;
    std::size_t bytes() const {
      return visited.bytes() + candidates.capacity() * sizeof(std::uint32_t) +
             (values.capacity() + query.capacity()) * sizeof(float) + probes.bytes();
    }
  };

  // Probes the L home buckets plus extra_probes_ perturbed ones; unique ids land in
  // s.candidates. kStreaming: also the overflow buckets, and tombstoned ids are skipped.
  template <bool kStreaming>
  void collect(const float* query, Scratch& s) const;
  void collect(const float* query, Scratch& s) const;
  // Appends rows to store_ (unit copies for angular) and points data_ at it.
  void store(MatrixView rows);
  bool owns_data() const { return data_.data != nullptr && data_.data == store_.data(); }
  void reset_streaming();
  // A static build's ids are its rows; the first change copies the vectors (the caller's are
  // only valid during add()) and sets up the id maps.
  void start_streaming();
  // Moves the live points to the front (renumbering them in order), drops the tombstones and
  // re-indexes every live point in the compact tables.
  void compact();
  // tune: auto: replaces options_' K, L, w by the tuner's choice for `rows`.
  void apply_tuning(MatrixView rows);

  Metric metric_;
  std::size_t dim_;
  HashOptions options_;
  std::optional<TuneRequest> tune_;
  std::string report_;
  MatrixView data_{};  // rows by internal id: the base (static euclidean) or store_
  HashTables tables_;
  bool built_ = false;
  // Set by the first add() or remove(): ids are then external_[internal id].
  bool streaming_ = false;
  std::vector<float> store_;
  std::vector<std::int64_t> external_;
  std::unordered_map<std::int64_t, std::uint32_t> internal_of_;  // live ids only
  std::vector<std::uint8_t> removed_;                            // tombstones by internal id
  std::size_t removed_count_ = 0;
  std::size_t extra_probes_ = 0;
  ScratchPool<Scratch> scratch_;
  DistanceCounter distances_;
};

}  // namespace annbench::lsh
