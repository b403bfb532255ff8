#pragma once
// The L hash tables of an LSH index: K hash functions per table, evaluated together as one
// (L·K) × dim projection matrix, and per table a compact bucket directory (open addressing over
// 64-bit bucket keys) pointing into a CSR array of point ids.
//
// Hash values. p-stable (Datar et al. 2004), for euclidean: f_i = <a_i, x> / W + b_i with
// a_i ~ N(0, I), b_i ~ U[0, 1) and h_i = floor(f_i), where W = w · scale and scale is the data's
// RMS distance to its centroid (so w is a width relative to the data's spread). Random
// hyperplane (Charikar 2002), for angular: f_i = <a_i, x>, h_i = [f_i >= 0].
//
// Bucket key of a table: sum_i h_i · r_i (mod 2^64) with random odd r_i. Linear, so a probe
// that moves coordinate i by ±1 changes the key by ±r_i without rehashing all K values. Two
// different K-tuples collide only by chance (about 2^-64 per pair); a collision merely merges
// two buckets, and candidates are re-ranked exactly anyway.

#include <annbench/common/index_file.h>
#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace annbench::lsh {

enum class HashKind { PStable, Hyperplane };

struct HashOptions {
  HashKind kind = HashKind::PStable;
  std::size_t tables = 1;       // L
  std::size_t hashes = 1;       // K, at most kMaxHashes
  double relative_width = 1.0;  // w (p-stable only), in units of the data scale
  std::uint64_t seed = 1;
};

// The data scale of the p-stable width: RMS distance of the rows to their centroid, in double and
// in a fixed order (independent of the thread count). 0 for identical rows.
double rms_spread(MatrixView base);

// 2K perturbations per table must fit a 64-bit set mask (probe_sequence.h).
inline constexpr std::size_t kMaxHashes = 32;

class HashTables {
 public:
  // base: n × dim, row-major, finite values. Uses the OpenMP threads in effect; the tables do
  // not depend on the thread count. init(base) then index(base).
  void build(MatrixView base, const HashOptions& options);

  // Draws the hash functions (from options.seed) and, p-stable, the data scale from `sample`
  // (at least one row); no points are indexed yet.
  void init(MatrixView sample, const HashOptions& options);
  // Indexes points (ids = rows) in the compact tables, replacing everything indexed or added
  // before; the hash functions stay.
  void index(MatrixView points);
  // Adds points as ids first, first + 1, ... to per-table hashed overflow buckets: O(L·K·dim)
  // per point, without rebuilding the compact tables.
  void insert(MatrixView points, std::uint32_t first);
  bool ready() const { return !projections_.empty(); }
  std::size_t indexed() const { return points_; }
  std::size_t added_count() const { return added_count_; }

  HashKind kind() const { return options_.kind; }
  std::size_t tables() const { return options_.tables; }
  std::size_t hashes() const { return options_.hashes; }
  std::size_t dim() const { return dim_; }
  // W, the absolute bucket width (p-stable), and the data scale it was derived from.
  double absolute_width() const { return width_; }
  double data_scale() const { return scale_; }

  // values: L·K floats, f_i of every hash function of every table (table-major), never NaN.
  // The query must be finite (the harness checks queries once, before timing).
  void hash_values(const float* query, float* values) const;

  // The integer hash h_i of a value f_i (clamped, so absurd widths cannot overflow).
  std::int64_t hash_of(float value) const;
  // r_i of hash i of table t.
  std::uint64_t key_weight(std::size_t table, std::size_t hash) const {
    return key_weights_[table * options_.hashes + hash];
  }
  // Key of a whole table from its K values.
  std::uint64_t bucket_key(std::size_t table, const float* table_values) const;

  // Ids in the bucket with this key (empty when there is none).
  std::span<const std::uint32_t> bucket(std::size_t table, std::uint64_t key) const;
  // Ids with this key given to insert() since the last index().
  std::span<const std::uint32_t> added(std::size_t table, std::uint64_t key) const;

  std::size_t bytes() const;

  // Buffers an index file references until it is written (the overflow buckets flattened).
  struct Flat {
    std::vector<std::uint64_t> meta;
    std::vector<std::uint64_t> added_tables, added_keys, added_offsets;
    std::vector<std::uint32_t> added_ids;
  };
  // Sections "hash_*": hash functions, compact tables and overflow buckets, as they are.
  void save(IndexFileWriter& writer, Flat& flat) const;
  // Reads what save() wrote for `options` and `dim`; every id must be below `rows` (the
  // vectors the index stores). Checks every reference, so a corrupt file gives an Error naming
  // it, never a read out of bounds or an endless probe.
  void load(const IndexFileReader& reader, const HashOptions& options, std::size_t dim,
            std::size_t rows);

 private:
  struct Slot {
    std::uint64_t key = 0;
    std::uint32_t begin = 0;
    std::uint32_t count = 0;  // 0: empty slot (buckets are never empty)
  };

  void fill_table(std::size_t table, const std::uint64_t* keys);
  // keys[t * n + r]: the key of row r of points in table t.
  void compute_keys(MatrixView points, std::uint64_t* keys) const;

  HashOptions options_;
  std::size_t dim_ = 0;
  std::size_t points_ = 0;
  double scale_ = 1.0;
  double width_ = 1.0;
  std::vector<float> projections_;  // (L·K) × dim, row-major
  std::vector<float> offsets_;      // L·K values b_i (p-stable), zeros (hyperplane)
  std::vector<std::uint64_t> key_weights_;
  std::size_t slot_mask_ = 0;       // slots per table - 1 (a power of two minus one)
  std::vector<Slot> slots_;         // L × (slot_mask_ + 1)
  std::vector<std::uint32_t> ids_;  // L × n, each table's ids grouped by bucket
  // Per table, key -> ids inserted since the last index().
  std::vector<std::unordered_map<std::uint64_t, std::vector<std::uint32_t>>> added_;
  std::size_t added_count_ = 0;
};

}  // namespace annbench::lsh
