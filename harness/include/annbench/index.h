#pragma once
// The one interface every algorithm module implements.
//
// Life cycle, as the harness drives it:
//   create (module factory, with resolved build parameters) -> build(base) once ->
//   { set_search_params(p) -> search / search_batch many times } for each search point.
// set_search_params is never called concurrently with searches; search and search_batch may be
// called from several threads at once and must be safe to do so.
//
// Streaming (modules declaring kCapInsert / kCapDelete): create -> build(zero rows) ->
// { add / remove / set_search_params + searches } in any order. Ids are then the dataset's
// train-row ids given to add(), not positions; after build(base) they are base row positions.

#include <annbench/error.h>
#include <annbench/filter.h>
#include <annbench/matrix.h>
#include <annbench/neighbor.h>
#include <annbench/params.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace annbench {

class Index {
 public:
  virtual ~Index() = default;

  // base: n × dim, row-major. The harness keeps it alive and unchanged for the index's whole
  // lifetime, so a module may reference it instead of copying (but must then count it in
  // memory_bytes()). Uses as many OpenMP threads as the harness has set.
  virtual void build(MatrixView base) = 0;

  // Datasets stored as uint8 / int8 (euclidean or dot; angular ones are normalised to float):
  // modules declaring kCapUint8 / kCapInt8 receive the base in its own type instead, through
  // these calls in place of build(), with the same lifetime rules. Queries still reach search()
  // and search_batch() as floats, each value an exact integer of the base's type, so a module
  // may convert a query back without loss. Distances are reported as for float data.
  virtual void build_uint8(U8MatrixView base) {
    (void)base;
    ANNBENCH_FAIL("this module does not take uint8 vectors");
  }
  virtual void build_int8(I8MatrixView base) {
    (void)base;
    ANNBENCH_FAIL("this module does not take int8 vectors");
  }

  // Search parameters, resolved against the module's search specs (defaults filled in).
  virtual void set_search_params(const Params& params) { (void)params; }

  // query: dim floats, finite (the harness checks every query once, before timing starts).
  // out: k slots, filled nearest first; slots beyond the number of results found keep id -1
  // and +inf. Distances are in the dataset metric's scale (metric.h), as range_search's are;
  // common/normalize.h converts the usual internal scores. The harness still recomputes them.
  virtual void search(const float* query, std::size_t k, Neighbor* out) const = 0;

  // queries: q × dim. out: q × k, row-major. Default: OpenMP over single searches.
  virtual void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
    const auto n = static_cast<std::int64_t>(queries.rows);
#pragma omp parallel for schedule(dynamic, 16)
    for (std::int64_t i = 0; i < n; ++i) {
      search(queries.row(static_cast<std::size_t>(i)), k, out + static_cast<std::size_t>(i) * k);
    }
  }

  // Range search: every base point whose distance to `query` is at most `radius`, appended to
  // `out` (not cleared first) in any order. radius and the distances written are in the dataset
  // metric's scale (metric.h: plain L2, 1 - cos, -<q, x>), not a module's internal one, so the
  // harness can compare them with range ground truth. Approximate modules may miss points but
  // must not return points outside the radius. Called only on modules declaring
  // kCapRangeSearch, and like search() possibly from several threads at once.
  virtual void range_search(const float* query, float radius, std::vector<Neighbor>& out) const {
    (void)query;
    (void)radius;
    (void)out;
    ANNBENCH_FAIL("this module does not support range search");
  }

  // Filtered k-NN: the k nearest base points among those `filter` allows (filter.h), written
  // to `out` like search()'s, nearest first, -1 / +inf padded when fewer than k points pass or
  // were found. Must never write a disallowed id. Building the Filter is part of the timed
  // query; the module chooses how to use it (scan the allowed rows, skip disallowed points while
  // searching, ...). Called only on modules declaring kCapFilter, possibly from several threads.
  virtual void search_filtered(const float* query, std::size_t k, const Filter& filter,
                               Neighbor* out) const {
    (void)query;
    (void)k;
    (void)filter;
    (void)out;
    ANNBENCH_FAIL("this module does not support filtered search");
  }

  // Inserts vectors (n × dim, row-major) under `ids` (n distinct ids, none of them live in the
  // index); searches return these ids. Valid during the call only: copy what you keep. Called
  // only on modules declaring kCapInsert, never concurrently with searches or other updates,
  // with as many OpenMP threads as the harness has set. A module that trains (k-means, product
  // quantizers) trains on the first add() when build() was given zero rows.
  virtual void add(std::span<const std::int64_t> ids, MatrixView vectors) {
    (void)ids;
    (void)vectors;
    ANNBENCH_FAIL("this module does not support insertion");
  }

  // Removes live ids: later searches never return them. kCapDelete only; same calling rules
  // as add(). Re-adding a removed id is allowed.
  virtual void remove(std::span<const std::int64_t> ids) {
    (void)ids;
    ANNBENCH_FAIL("this module does not support deletion");
  }

  // Writes the index to `path` in annbench's index-file container (common/index_file.h), so
  // that the module's ModuleInfo::load gives back an index answering every search exactly as
  // this one does. kCapSaveLoad only; called after build(), never concurrently with updates.
  virtual void save(const std::string& path) const {
    (void)path;
    ANNBENCH_FAIL("this module cannot save its index");
  }

  // Bytes the index needs to answer queries, including referenced base vectors and the idle
  // per-search scratch buffers (common/scratch_pool.h).
  virtual std::size_t memory_bytes() const = 0;

  // Distance evaluations (full-dimensional, against base or centroid vectors) since build
  // started, summed over threads; nullopt where a module cannot know (some peer libraries).
  virtual std::optional<std::uint64_t> distance_count() const {
    return std::nullopt;
  }

  // What build() decided that its parameters did not say (a tuner's choices, sizes derived
  // from the data), as one JSON object, e.g. {"K":10,"L":24,"w":2.5}; empty when nothing. The
  // harness stores it with every run of the build point (result field build_report).
  virtual std::string build_report() const {
    return {};
  }
};

// A cheap thread-safe counter for distance_count(): add once per query, not per distance.
class DistanceCounter {
 public:
  void add(std::uint64_t n) const { count_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return count_.load(std::memory_order_relaxed); }

 private:
  mutable std::atomic<std::uint64_t> count_{0};
};

}  // namespace annbench
