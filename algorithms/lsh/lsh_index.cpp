// lsh: L hash tables of K concatenated hashes, p-stable (E2LSH) for euclidean and random
// hyperplanes (SimHash) for angular, searched with query-directed multi-probe; candidates
// de-duplicated with an epoch-tagged array and re-ranked exactly. See README.md.

#include "hash_tables.h"
#include "probe_sequence.h"

#include <annbench/common/distance.h>
#include <annbench/common/topk.h>
#include <annbench/common/visited.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace annbench::lsh {
namespace {

// The probe heap grows by about one set per probe: a million probes keep it at ~24 MB per thread
// and a query under a second, where an unbounded budget with K = 32 could exhaust memory.
constexpr std::int64_t kMaxProbes = 1000000;

// Per-thread search scratch, reused across queries (and indexes): no allocation per query once
// warm. `visited` holds the ids already collected by the current query.
struct Scratch {
  VisitedSet visited;
  std::vector<std::uint32_t> candidates;
  std::vector<float> values;
  std::vector<float> query;
  ProbeSequence probes;
  TopK<float> top;

  void begin(std::size_t n) {
    visited.reset(n);
    candidates.clear();
  }
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

class LshIndex final : public Index {
 public:
  LshIndex(Metric metric, std::size_t dim, const HashOptions& options)
      : metric_(metric), dim_(dim), options_(options) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "lsh: base vectors have dimension {}, expected {}", base.dim,
                   dim_);
    check_finite_rows(base, "base vector");
    built_ = false;
    data_ = base;
    inverse_norms_.clear();
    tables_ = HashTables{};
    reset_streaming();
    // Zero rows: a streaming index; its first add() derives the bucket width and hashes.
    if (base.rows == 0) {
      built_ = true;
      return;
    }
    if (metric_ == Metric::Angular) {
      inverse_norms_.resize(base.rows);
      for (std::size_t i = 0; i < base.rows; ++i) inverse_norms_[i] = inverse_norm(base.row(i));
    }
    tables_.build(base, options_);
    built_ = true;
  }

  // New points go to the tables' overflow buckets; when those hold more points than the compact
  // tables, everything live is re-indexed (amortised O(L·K·dim) per point). The first add() of
  // an index built on zero rows derives the p-stable width from its batch.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override {
    ANNBENCH_CHECK(built_, "lsh: add() before build()");
    ANNBENCH_CHECK(vectors.dim == dim_, "lsh: added vectors have dimension {}, expected {}",
                   vectors.dim, dim_);
    ANNBENCH_CHECK(ids.size() == vectors.rows, "lsh: add() of {} vectors with {} ids", vectors.rows,
                   ids.size());
    if (vectors.rows == 0) return;
    check_finite_rows(vectors, "added vector");
    start_streaming();
    std::unordered_set<std::int64_t> batch;
    batch.reserve(ids.size());
    for (const std::int64_t id : ids) {
      ANNBENCH_CHECK(!internal_of_.contains(id) && batch.insert(id).second,
                     "lsh: add() of id {}, which is already in the index", id);
    }
    const std::size_t first = data_.rows;
    ANNBENCH_CHECK(first + vectors.rows < std::numeric_limits<std::uint32_t>::max(),
                   "lsh: {} stored vectors exceed the 32-bit id range", first + vectors.rows);
    store_.resize((first + vectors.rows) * dim_);
    std::copy_n(vectors.data, vectors.rows * dim_, store_.data() + first * dim_);
    data_ = MatrixView{store_.data(), first + vectors.rows, dim_};
    removed_.resize(data_.rows, 0);
    external_.insert(external_.end(), ids.begin(), ids.end());
    for (std::size_t i = 0; i < vectors.rows; ++i)
      internal_of_.emplace(ids[i], static_cast<std::uint32_t>(first + i));
    if (metric_ == Metric::Angular) {
      inverse_norms_.resize(data_.rows);
      for (std::size_t i = 0; i < vectors.rows; ++i)
        inverse_norms_[first + i] = inverse_norm(vectors.row(i));
    }
    if (!tables_.ready()) tables_.init(vectors, options_);
    if (tables_.added_count() + vectors.rows > tables_.indexed()) {
      compact();
    } else {
      tables_.insert(MatrixView{data_.row(first), vectors.rows, dim_},
                     static_cast<std::uint32_t>(first));
    }
  }

  // Removed points are tombstoned (searches skip them); once they are half of what is stored,
  // the survivors are compacted and re-indexed.
  void remove(std::span<const std::int64_t> ids) override {
    ANNBENCH_CHECK(built_, "lsh: remove() before build()");
    start_streaming();
    std::unordered_set<std::int64_t> batch;
    batch.reserve(ids.size());
    for (const std::int64_t id : ids) {
      ANNBENCH_CHECK(internal_of_.contains(id) && batch.insert(id).second,
                     "lsh: remove() of id {}, which is not in the index", id);
    }
    for (const std::int64_t id : ids) {
      const auto found = internal_of_.find(id);
      removed_[found->second] = 1;
      internal_of_.erase(found);
    }
    removed_count_ += ids.size();
    if (2 * removed_count_ > data_.rows) compact();
  }

  void set_search_params(const Params& params) override {
    const std::int64_t probes = params.get_int("probes");
    ANNBENCH_CHECK(probes >= 0 && probes <= kMaxProbes, "lsh: probes must be in [0, {}], got {}",
                   kMaxProbes, probes);
    extra_probes_ = static_cast<std::size_t>(probes);
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(built_, "lsh: search before build");
    if (!tables_.ready()) {  // streaming, nothing added yet
      std::fill_n(out, k, Neighbor{});
      return;
    }
    Scratch& s = scratch();
    if (streaming_) {
      collect<true>(query, s);
    } else {
      collect<false>(query, s);
    }
    const DistanceKernels& kernels = distance_kernels();
    s.top.reset(k);
    const std::size_t count = s.candidates.size();
    if (metric_ == Metric::L2) {
      for (std::size_t i = 0; i < count; ++i) {
        prefetch_ahead(s, i);
        const std::uint32_t id = s.candidates[i];
        s.top.push(kernels.l2_squared(query, data_.row(id), dim_), id);
      }
    } else {
      const float* q = normalized_query(query, s);
      for (std::size_t i = 0; i < count; ++i) {
        prefetch_ahead(s, i);
        const std::uint32_t id = s.candidates[i];
        s.top.push(-kernels.inner_product(q, data_.row(id), dim_) * inverse_norms_[id], id);
      }
    }
    s.top.write_sorted(out, k);
    // Report the dataset metric's scale: plain L2, 1 - cos.
    for (std::size_t i = 0; i < k && out[i].id >= 0; ++i) {
      out[i].distance = metric_ == Metric::L2 ? std::sqrt(out[i].distance) : 1.0f + out[i].distance;
    }
    if (streaming_) {
      for (std::size_t i = 0; i < k && out[i].id >= 0; ++i)
        out[i].id = external_[static_cast<std::size_t>(out[i].id)];
    }
    distances_.add(s.candidates.size());
  }

  // Same probes and candidates as search(); a candidate is kept when its exact distance (the
  // dataset definition, in double) is within the radius, so nothing outside it is returned.
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override {
    ANNBENCH_CHECK(built_, "lsh: range search before build");
    ANNBENCH_CHECK(!std::isnan(radius), "lsh: range search radius is NaN");
    if (!tables_.ready()) return;
    Scratch& s = scratch();
    if (streaming_) {
      collect<true>(query, s);
    } else {
      collect<false>(query, s);
    }
    const DistanceKernels& kernels = distance_kernels();
    for (const std::uint32_t id : s.candidates) {
      const double d = kernels.exact(metric_, query, data_.row(id), dim_);
      if (d <= radius) {
        out.push_back(Neighbor{streaming_ ? external_[id] : id, static_cast<float>(d)});
      }
    }
    distances_.add(s.candidates.size());
  }

  // Tables (with overflow buckets), inverse norms (angular), the vectors (referenced after a
  // static build, owned once the index changes) and then the id maps and tombstones.
  std::size_t memory_bytes() const override {
    std::size_t bytes = tables_.bytes() + inverse_norms_.capacity() * sizeof(float);
    if (!streaming_) return bytes + data_.rows * dim_ * sizeof(float);
    return bytes + store_.capacity() * sizeof(float) + external_.capacity() * sizeof(std::int64_t) +
           removed_.capacity() + internal_of_.bucket_count() * sizeof(void*) +
           internal_of_.size() *
               (sizeof(std::pair<const std::int64_t, std::uint32_t>) + sizeof(void*));
  }

  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  // Probes the L home buckets plus extra_probes_ perturbed ones; unique ids land in s.candidates.
  // kStreaming: also the overflow buckets, and tombstoned ids are skipped.
  template <bool kStreaming>
  void collect(const float* query, Scratch& s) const {
    s.begin(data_.rows);
    s.values.resize(tables_.tables() * tables_.hashes());
    tables_.hash_values(query, s.values.data());
    s.probes.start(tables_, s.values.data());
    const std::size_t budget = tables_.tables() + extra_probes_;
    std::size_t table = 0;
    std::uint64_t key = 0;
    for (std::size_t probe = 0; probe < budget && s.probes.next(table, key); ++probe) {
      for (const std::uint32_t id : tables_.bucket(table, key)) {
        if constexpr (kStreaming) {
          if (removed_[id] != 0) continue;
        }
        if (s.visited.insert(id)) s.candidates.push_back(id);
      }
      if constexpr (kStreaming) {
        for (const std::uint32_t id : tables_.added(table, key)) {
          if (removed_[id] == 0 && s.visited.insert(id)) s.candidates.push_back(id);
        }
      }
    }
  }

  // `what` names the rows in the error: "base vector" or "added vector".
  static void check_finite_rows(MatrixView rows, const char* what) {
    for (std::size_t i = 0; i < rows.rows; ++i) {
      const float* x = rows.row(i);
      for (std::size_t j = 0; j < rows.dim; ++j) {
        ANNBENCH_CHECK(std::isfinite(x[j]), "lsh: {} {} has a non-finite value at {}", what, i, j);
      }
    }
  }

  // 1 / |x| (0 for a zero vector, whose cosine with everything is then 0: distance 1).
  float inverse_norm(const float* x) const {
    const float norm2 = distance_kernels().inner_product(x, x, dim_);
    return norm2 > 0.0f ? 1.0f / std::sqrt(norm2) : 0.0f;
  }

  void reset_streaming() {
    streaming_ = false;
    store_ = {};
    external_ = {};
    internal_of_ = {};
    removed_ = {};
    removed_count_ = 0;
  }

  // A static build references the base and its ids are its rows; the first change copies the
  // vectors (the caller's are only valid during add()) and sets up the id maps.
  void start_streaming() {
    if (streaming_) return;
    streaming_ = true;
    store_.assign(data_.data, data_.data + data_.rows * dim_);
    data_ = MatrixView{store_.data(), data_.rows, dim_};
    external_.resize(data_.rows);
    removed_.assign(data_.rows, 0);
    internal_of_.reserve(data_.rows);
    for (std::size_t i = 0; i < data_.rows; ++i) {
      external_[i] = static_cast<std::int64_t>(i);
      internal_of_.emplace(static_cast<std::int64_t>(i), static_cast<std::uint32_t>(i));
    }
  }

  // Moves the live points to the front (renumbering them in order), drops the tombstones and
  // re-indexes every live point in the compact tables.
  void compact() {
    std::size_t live = 0;
    for (std::size_t i = 0; i < data_.rows; ++i) {
      if (removed_[i] != 0) continue;
      if (live != i) {
        std::copy_n(store_.data() + i * dim_, dim_, store_.data() + live * dim_);
        external_[live] = external_[i];
        if (!inverse_norms_.empty()) inverse_norms_[live] = inverse_norms_[i];
        internal_of_[external_[live]] = static_cast<std::uint32_t>(live);
      }
      ++live;
    }
    store_.resize(live * dim_);
    external_.resize(live);
    if (!inverse_norms_.empty()) inverse_norms_.resize(live);
    removed_.assign(live, 0);
    removed_count_ = 0;
    data_ = MatrixView{store_.data(), live, dim_};
    tables_.index(data_);
  }

  // Candidates are scattered rows of the base, so the hardware prefetcher cannot guess the next
  // one: request a later candidate's row while the current distance is computed.
  void prefetch_ahead(const Scratch& s, std::size_t i) const {
    constexpr std::size_t kAhead = 2;
    constexpr std::size_t kLine = 64;
    if (i + kAhead >= s.candidates.size()) return;
    const auto* row = reinterpret_cast<const char*>(data_.row(s.candidates[i + kAhead]));
    for (std::size_t offset = 0; offset < dim_ * sizeof(float); offset += kLine) {
      __builtin_prefetch(row + offset);
    }
  }

  // Unit query (left zero for a zero query), so 1 + score is 1 - cos.
  const float* normalized_query(const float* query, Scratch& s) const {
    s.query.resize(dim_);
    const float norm2 = distance_kernels().inner_product(query, query, dim_);
    const float inverse = norm2 > 0.0f ? 1.0f / std::sqrt(norm2) : 0.0f;
    for (std::size_t j = 0; j < dim_; ++j) s.query[j] = query[j] * inverse;
    return s.query.data();
  }

  Metric metric_;
  std::size_t dim_;
  HashOptions options_;
  MatrixView data_{};  // rows by internal id: the base (static) or store_
  std::vector<float> inverse_norms_;
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
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  ANNBENCH_CHECK(metric == Metric::L2 || metric == Metric::Angular,
                 "lsh: metric '{}' is not supported (euclidean, angular)", metric_name(metric));
  ANNBENCH_CHECK(dim >= 1, "lsh: dimension must be at least 1");
  const std::int64_t tables = build.get_int("L");
  const std::int64_t hashes = build.get_int("K");
  const double width = build.get_float("w");
  ANNBENCH_CHECK(tables >= 1, "lsh: L (tables) must be at least 1, got {}", tables);
  ANNBENCH_CHECK(hashes >= 1 && hashes <= static_cast<std::int64_t>(kMaxHashes),
                 "lsh: K (hashes per table) must be in [1, {}], got {}", kMaxHashes, hashes);
  ANNBENCH_CHECK(std::isfinite(width) && width > 0.0,
                 "lsh: w must be a positive finite width, got {}", width);
  HashOptions options;
  options.kind = metric == Metric::L2 ? HashKind::PStable : HashKind::Hyperplane;
  options.tables = static_cast<std::size_t>(tables);
  options.hashes = static_cast<std::size_t>(hashes);
  options.relative_width = width;
  options.seed = static_cast<std::uint64_t>(build.get_int("seed"));
  return std::make_unique<LshIndex>(metric, dim, options);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular};
const std::vector<ParamSpec> kBuild = {
    {"L", ParamType::Int, std::int64_t{16}, "hash tables", 1, 4096},
    {"K", ParamType::Int, std::int64_t{12}, "hashes concatenated per table (at most 32)", 1,
     static_cast<double>(kMaxHashes)},
    {"w", ParamType::Float, 1.5,
     "euclidean bucket width, in units of the data's RMS distance to its centroid (angular: "
     "unused)",
     1e-4, 1e4},
    {"seed", ParamType::Int, std::int64_t{1}, "hash-function seed", 0,
     static_cast<double>(std::numeric_limits<std::int64_t>::max())}};
const std::vector<ParamSpec> kSearch = {
    {"probes", ParamType::Int, std::int64_t{0},
     "perturbed buckets probed beyond the L home buckets, over all tables (0: plain LSH)", 0,
     static_cast<double>(kMaxProbes)}};

const ModuleInfo kInfo = {
    .name = "lsh",
    .description = "multi-probe LSH: p-stable (euclidean) / hyperplane (angular), exact re-rank",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .capabilities = kCapRangeSearch | kCapInsert | kCapDelete,
    .create = &create,
};

}  // namespace
}  // namespace annbench::lsh

ANNBENCH_MODULE(annbench::lsh::kInfo)
