// The lsh index; see lsh_index.h.

#include "lsh_index.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/common/normalize.h>
#include <annbench/common/rerank.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace annbench::lsh {
namespace {

// What an index file's "meta" section holds.
struct FileMeta {
  std::uint64_t rows = 0;  // stored vectors (live and tombstoned)
  std::uint64_t tables = 0, hashes = 0;
  double relative_width = 0.0;
  std::uint64_t seed = 0;
  std::uint64_t removed_count = 0;
  std::uint32_t streaming = 0;  // 1: "external_ids" and "removed" are present
  std::uint32_t reserved = 0;
};

// `what` names the rows in the error: "base vector" or "added vector".
void check_finite_rows(MatrixView rows, const char* what) {
  for (std::size_t i = 0; i < rows.rows; ++i) {
    const float* x = rows.row(i);
    for (std::size_t j = 0; j < rows.dim; ++j) {
      ANNBENCH_CHECK(std::isfinite(x[j]), "lsh: {} {} has a non-finite value at {}", what, i, j);
    }
  }
}

}  // namespace

void LshIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "lsh: base vectors have dimension {}, expected {}", base.dim,
                 dim_);
  check_finite_rows(base, "base vector");
  built_ = false;
  data_ = MatrixView{nullptr, 0, dim_};
  store_ = {};
  tables_ = HashTables{};
  scratch_.clear();
  reset_streaming();
  // Zero rows: a streaming index; its first add() derives the bucket width and hashes.
  if (base.rows == 0) {
    built_ = true;
    return;
  }
  apply_tuning(base);
  if (metric_ == Metric::Angular) {
    store(base);
  } else {
    data_ = base;
  }
  tables_.build(data_, options_);
  built_ = true;
}

void LshIndex::apply_tuning(MatrixView rows) {
  if (!tune_) return;
  if (rows.rows < kTuneMinRows) {
    report_ = fmt::format(
        "{{\"K\":{},\"L\":{},\"w\":{},\"tuned\":false,\"reason\":\"{} rows, the tuner needs "
        "at least {}\"}}",
        options_.hashes, options_.tables, options_.relative_width, rows.rows, kTuneMinRows);
    return;
  }
  TuneRequest request = *tune_;
  request.kind = options_.kind;
  const TuneResult result = tune(rows, request);
  options_.tables = result.tables;
  options_.hashes = result.hashes;
  options_.relative_width = result.relative_width;
  report_ = result.json(request);
}

void LshIndex::store(MatrixView rows) {
  const std::size_t first = data_.rows;
  store_.resize((first + rows.rows) * dim_);
  if (metric_ == Metric::Angular) {
    for (std::size_t i = 0; i < rows.rows; ++i)
      normalize_into(rows.row(i), dim_, store_.data() + (first + i) * dim_);
  } else {
    std::copy_n(rows.data, rows.rows * dim_, store_.data() + first * dim_);
  }
  data_ = MatrixView{store_.data(), first + rows.rows, dim_};
}

void LshIndex::add(std::span<const std::int64_t> ids, MatrixView vectors) {
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
  store(vectors);
  removed_.resize(data_.rows, 0);
  external_.insert(external_.end(), ids.begin(), ids.end());
  for (std::size_t i = 0; i < vectors.rows; ++i)
    internal_of_.emplace(ids[i], static_cast<std::uint32_t>(first + i));
  const MatrixView added{data_.row(first), vectors.rows, dim_};
  if (!tables_.ready()) {
    apply_tuning(added);
    tables_.init(added, options_);
  }
  if (tables_.added_count() + vectors.rows > tables_.indexed()) {
    compact();
  } else {
    tables_.insert(added, static_cast<std::uint32_t>(first));
  }
}

void LshIndex::remove(std::span<const std::int64_t> ids) {
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

void LshIndex::set_search_params(const Params& params) {
  const std::int64_t probes = params.get_int("probes");
  ANNBENCH_CHECK(probes >= 0 && probes <= kMaxProbes, "lsh: probes must be in [0, {}], got {}",
                 kMaxProbes, probes);
  extra_probes_ = static_cast<std::size_t>(probes);
}

void LshIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  ANNBENCH_CHECK(built_, "lsh: search before build");
  if (!tables_.ready()) {  // streaming, nothing added yet
    std::fill_n(out, k, Neighbor{});
    return;
  }
  const auto lease = scratch_.acquire();
  Scratch& s = *lease;
  collect(query, s);
  // Angular re-ranks unit vectors by inner product: 1 - <q^, x^> is 1 - cos, zero vectors
  // included.
  const float* q = query;
  if (metric_ == Metric::Angular) {
    s.query.resize(dim_);
    normalize_into(query, dim_, s.query.data());
    q = s.query.data();
  }
  rerank_exact(
      metric_, q, data_, s.candidates, k, out,
      streaming_ ? std::span<const std::int64_t>(external_) : std::span<const std::int64_t>{});
  distances_.add(s.candidates.size());
}

void LshIndex::range_search(const float* query, float radius, std::vector<Neighbor>& out) const {
  ANNBENCH_CHECK(built_, "lsh: range search before build");
  ANNBENCH_CHECK(!std::isnan(radius), "lsh: range search radius is NaN");
  if (!tables_.ready()) return;
  const auto lease = scratch_.acquire();
  Scratch& s = *lease;
  collect(query, s);
  const DistanceKernels& kernels = distance_kernels();
  for (const std::uint32_t id : s.candidates) {
    const double d = kernels.exact(metric_, query, data_.row(id), dim_);
    if (d <= radius) {
      out.push_back(Neighbor{streaming_ ? external_[id] : id, static_cast<float>(d)});
    }
  }
  distances_.add(s.candidates.size());
}

std::size_t LshIndex::memory_bytes() const {
  std::size_t bytes = tables_.bytes() + scratch_.bytes();
  bytes += owns_data() ? store_.capacity() * sizeof(float) : data_.rows * dim_ * sizeof(float);
  if (!streaming_) return bytes;
  return bytes + external_.capacity() * sizeof(std::int64_t) + removed_.capacity() +
         internal_of_.bucket_count() * sizeof(void*) +
         internal_of_.size() *
             (sizeof(std::pair<const std::int64_t, std::uint32_t>) + sizeof(void*));
}

void LshIndex::collect(const float* query, Scratch& s) const {
  if (streaming_) {
    collect<true>(query, s);
  } else {
    collect<false>(query, s);
  }
}

template <bool kStreaming>
void LshIndex::collect(const float* query, Scratch& s) const {
  s.visited.reset(data_.rows);
  s.candidates.clear();
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

void LshIndex::reset_streaming() {
  streaming_ = false;
  external_ = {};
  internal_of_ = {};
  removed_ = {};
  removed_count_ = 0;
}

void LshIndex::start_streaming() {
  if (streaming_) return;
  streaming_ = true;
  if (!owns_data() && data_.rows > 0) {
    store_.assign(data_.data, data_.data + data_.rows * dim_);
    data_ = MatrixView{store_.data(), data_.rows, dim_};
  }
  external_.resize(data_.rows);
  removed_.assign(data_.rows, 0);
  internal_of_.reserve(data_.rows);
  for (std::size_t i = 0; i < data_.rows; ++i) {
    external_[i] = static_cast<std::int64_t>(i);
    internal_of_.emplace(static_cast<std::int64_t>(i), static_cast<std::uint32_t>(i));
  }
}

void LshIndex::compact() {
  std::size_t live = 0;
  for (std::size_t i = 0; i < data_.rows; ++i) {
    if (removed_[i] != 0) continue;
    if (live != i) {
      std::copy_n(store_.data() + i * dim_, dim_, store_.data() + live * dim_);
      external_[live] = external_[i];
      internal_of_[external_[live]] = static_cast<std::uint32_t>(live);
    }
    ++live;
  }
  store_.resize(live * dim_);
  external_.resize(live);
  removed_.assign(live, 0);
  removed_count_ = 0;
  data_ = MatrixView{store_.data(), live, dim_};
  tables_.index(data_);
}

void LshIndex::save(const std::string& path) const {
  ANNBENCH_CHECK(built_, "lsh: save() before build()");
  FileMeta meta;
  meta.rows = data_.rows;
  meta.tables = options_.tables;
  meta.hashes = options_.hashes;
  meta.relative_width = options_.relative_width;
  meta.seed = options_.seed;
  meta.removed_count = removed_count_;
  meta.streaming = streaming_ ? 1 : 0;
  IndexFileWriter writer(kName, kFormatVersion, metric_, dim_, data_.rows);
  writer.add_value("meta", meta);
  writer.add("vectors", data_.data, data_.rows * dim_ * sizeof(float));
  HashTables::Flat flat;
  tables_.save(writer, flat);
  if (streaming_) {
    writer.add("external_ids", external_);
    writer.add("removed", removed_);
  }
  writer.write(path);
}

std::unique_ptr<Index> LshIndex::load(const std::string& path, Metric metric, std::size_t dim) {
  const auto reader = IndexFileReader::open(path, kName, kFormatVersion, metric, dim);
  const auto meta = reader.value<FileMeta>("meta");
  if (meta.tables < 1 || meta.tables > 4096 || meta.hashes < 1 || meta.hashes > kMaxHashes ||
      !(std::isfinite(meta.relative_width) && meta.relative_width > 0.0) || meta.streaming > 1)
    reader.fail("'meta' holds invalid hash options");
  HashOptions options;
  options.kind = metric == Metric::L2 ? HashKind::PStable : HashKind::Hyperplane;
  options.tables = static_cast<std::size_t>(meta.tables);
  options.hashes = static_cast<std::size_t>(meta.hashes);
  options.relative_width = meta.relative_width;
  options.seed = meta.seed;
  const auto rows = static_cast<std::size_t>(meta.rows);
  if (rows != reader.rows() || rows > reader.info().file_bytes / (dim * sizeof(float)) ||
      rows >= std::numeric_limits<std::uint32_t>::max())
    reader.fail(fmt::format("{} rows of dimension {} do not fit in the file", rows, dim));
  auto index = std::make_unique<LshIndex>(metric, dim, options);
  index->built_ = true;
  index->store_ = reader.copy<float>("vectors", rows * dim);
  for (const float x : index->store_) {
    if (!std::isfinite(x)) reader.fail("'vectors' holds a non-finite value");
  }
  index->data_ = MatrixView{rows > 0 ? index->store_.data() : nullptr, rows, dim};
  index->tables_.load(reader, options, dim, rows);
  if (!index->tables_.ready() && rows != 0)
    reader.fail("the index stores vectors but has no hash functions");
  if (meta.streaming == 0) {
    if (meta.removed_count != 0 || reader.has("external_ids") || reader.has("removed") ||
        index->tables_.added_count() != 0)
      reader.fail("a static index has tombstones, overflow buckets or an id map");
    return index;
  }
  index->streaming_ = true;
  index->external_ = reader.copy<std::int64_t>("external_ids", rows);
  index->removed_ = reader.copy<std::uint8_t>("removed", rows);
  index->internal_of_.reserve(rows);
  std::size_t removed = 0;
  for (std::size_t i = 0; i < rows; ++i) {
    if (index->removed_[i] > 1) reader.fail(fmt::format("'removed' holds {}", index->removed_[i]));
    if (index->removed_[i] == 1) {
      ++removed;
      continue;
    }
    if (!index->internal_of_.emplace(index->external_[i], static_cast<std::uint32_t>(i)).second)
      reader.fail(fmt::format("'external_ids' holds live id {} twice", index->external_[i]));
  }
  if (removed != meta.removed_count)
    reader.fail(fmt::format("{} tombstones, 'meta' says {}", removed, meta.removed_count));
  index->removed_count_ = removed;
  return index;
}

}  // namespace annbench::lsh
