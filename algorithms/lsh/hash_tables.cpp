// Building the tables: projections of every base vector with the many-to-many SIMD kernel (one
// small GEMM per block of rows instead of L·K dot products per row), keys per table, then per
// table a sort by key into CSR order and an open-addressing directory of the unique keys.

#include "hash_tables.h"

#include <annbench/common/block_distance.h>
#include <annbench/error.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

namespace annbench::lsh {
namespace {

// Rows per projection block: the block kernel prefers a multiple of 8 and a few hundred at most.
constexpr std::size_t kBuildBlock = 64;
// |f| beyond this would only ever hash alone; clamping keeps floor() inside int64.
constexpr double kValueLimit = 1e15;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace

double rms_spread(MatrixView base) {
  const std::size_t n = base.rows;
  const std::size_t dim = base.dim;
  std::vector<double> mean(dim, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    const float* x = base.row(i);
    for (std::size_t j = 0; j < dim; ++j) mean[j] += x[j];
  }
  for (double& m : mean) m /= static_cast<double>(n);
  std::vector<double> spread(n);
  const auto rows = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < rows; ++i) {
    const float* x = base.row(static_cast<std::size_t>(i));
    double sum = 0.0;
    for (std::size_t j = 0; j < dim; ++j) sum += (x[j] - mean[j]) * (x[j] - mean[j]);
    spread[static_cast<std::size_t>(i)] = sum;
  }
  double total = 0.0;
  for (const double s : spread) total += s;
  return std::sqrt(total / static_cast<double>(n));
}

void HashTables::build(MatrixView base, const HashOptions& options) {
  ANNBENCH_CHECK(base.rows >= 1, "lsh: cannot build on an empty base");
  init(base, options);
  index(base);
}

void HashTables::init(MatrixView sample, const HashOptions& options) {
  ANNBENCH_CHECK(options.tables >= 1, "lsh: L (tables) must be at least 1, got {}", options.tables);
  ANNBENCH_CHECK(options.hashes >= 1 && options.hashes <= kMaxHashes,
                 "lsh: K (hashes per table) must be in [1, {}], got {}", kMaxHashes,
                 options.hashes);
  ANNBENCH_CHECK(std::isfinite(options.relative_width) && options.relative_width > 0.0,
                 "lsh: w must be a positive finite width, got {}", options.relative_width);
  ANNBENCH_CHECK(sample.rows >= 1, "lsh: cannot derive the hash width from 0 vectors");
  options_ = options;
  dim_ = sample.dim;
  const std::size_t hash_count = options.tables * options.hashes;

  std::mt19937_64 rng(options.seed);
  std::normal_distribution<float> gaussian(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  projections_.resize(hash_count * dim_);
  for (float& a : projections_) a = gaussian(rng);
  if (options.kind == HashKind::Hyperplane) {
    // Unit normals: f_i is then the query's signed distance to the hyperplane (times |q|), so
    // multi-probe costs compare across hyperplanes. The sign, hence the hash, is unchanged.
    for (std::size_t i = 0; i < hash_count; ++i) {
      float* normal = projections_.data() + i * dim_;
      double norm = 0.0;
      for (std::size_t j = 0; j < dim_; ++j) norm += static_cast<double>(normal[j]) * normal[j];
      if (norm == 0.0) continue;
      const auto inverse = static_cast<float>(1.0 / std::sqrt(norm));
      for (std::size_t j = 0; j < dim_; ++j) normal[j] *= inverse;
    }
  }
  offsets_.assign(hash_count, 0.0f);
  key_weights_.resize(hash_count);
  for (std::size_t i = 0; i < hash_count; ++i) {
    if (options.kind == HashKind::PStable) offsets_[i] = uniform(rng);
    key_weights_[i] = mix(rng()) | 1u;
  }

  // A base of identical points has scale 0: any width then puts them in one bucket, so fall
  // back to an absolute width of w.
  scale_ = options.kind == HashKind::PStable ? rms_spread(sample) : 1.0;
  if (!(scale_ > 0.0)) scale_ = 1.0;
  width_ = options.relative_width * scale_;
  points_ = 0;
  slot_mask_ = 0;
  slots_.clear();
  ids_.clear();
  added_.assign(options.tables, {});
  added_count_ = 0;
}

void HashTables::compute_keys(MatrixView points, std::uint64_t* keys) const {
  const std::size_t n = points.rows;
  const std::size_t hash_count = options_.tables * options_.hashes;
  const BlockKernels& block = block_kernels();
  const auto blocks = static_cast<std::int64_t>((n + kBuildBlock - 1) / kBuildBlock);
#pragma omp parallel if (blocks > 1)
  {
    std::vector<float> values(kBuildBlock * hash_count);
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::size_t first = static_cast<std::size_t>(b) * kBuildBlock;
      const std::size_t count = std::min(kBuildBlock, n - first);
      block.inner_products(points.row(first), count, projections_.data(), hash_count, dim_,
                           values.data(), hash_count);
      for (std::size_t r = 0; r < count; ++r) {
        float* row = values.data() + r * hash_count;
        const auto inverse_width = static_cast<float>(1.0 / width_);
        for (std::size_t i = 0; i < hash_count; ++i) {
          if (options_.kind == HashKind::PStable) row[i] = row[i] * inverse_width + offsets_[i];
        }
        for (std::size_t t = 0; t < options_.tables; ++t) {
          keys[t * n + first + r] = bucket_key(t, row + t * options_.hashes);
        }
      }
    }
  }
}

void HashTables::index(MatrixView points) {
  ANNBENCH_CHECK(points.rows < std::numeric_limits<std::uint32_t>::max(),
                 "lsh: {} base vectors exceed the 32-bit id range", points.rows);
  points_ = points.rows;
  added_.assign(options_.tables, {});
  added_count_ = 0;
  std::vector<std::uint64_t> keys(options_.tables * points_);
  compute_keys(points, keys.data());

  // Unique keys per table decide the directory size: at most half full, so probes stay short.
  std::size_t most_unique = 1;
  for (std::size_t t = 0; t < options_.tables; ++t) {
    std::vector<std::uint64_t> sorted(
        keys.begin() + static_cast<std::ptrdiff_t>(t * points_),
        keys.begin() + static_cast<std::ptrdiff_t>((t + 1) * points_));
    std::sort(sorted.begin(), sorted.end());
    const auto unique =
        static_cast<std::size_t>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
    most_unique = std::max(most_unique, unique);
  }
  const std::size_t slots = std::bit_ceil(2 * most_unique);
  slot_mask_ = slots - 1;
  slots_.assign(options_.tables * slots, Slot{});
  ids_.resize(options_.tables * points_);
  const auto tables = static_cast<std::int64_t>(options_.tables);
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t t = 0; t < tables; ++t) {
    const auto table = static_cast<std::size_t>(t);
    fill_table(table, keys.data() + table * points_);
  }
}

void HashTables::insert(MatrixView points, std::uint32_t first) {
  std::vector<std::uint64_t> keys(options_.tables * points.rows);
  compute_keys(points, keys.data());
  for (std::size_t t = 0; t < options_.tables; ++t) {
    for (std::size_t r = 0; r < points.rows; ++r) {
      added_[t][keys[t * points.rows + r]].push_back(first + static_cast<std::uint32_t>(r));
    }
  }
  added_count_ += points.rows;
}

std::span<const std::uint32_t> HashTables::added(std::size_t table, std::uint64_t key) const {
  const auto& buckets = added_[table];
  const auto found = buckets.find(key);
  if (found == buckets.end()) return {};
  return found->second;
}

void HashTables::fill_table(std::size_t table, const std::uint64_t* keys) {
  std::vector<std::pair<std::uint64_t, std::uint32_t>> order(points_);
  for (std::size_t i = 0; i < points_; ++i) order[i] = {keys[i], static_cast<std::uint32_t>(i)};
  std::sort(order.begin(), order.end());
  std::uint32_t* ids = ids_.data() + table * points_;
  Slot* slots = slots_.data() + table * (slot_mask_ + 1);
  std::size_t begin = 0;
  while (begin < points_) {
    std::size_t end = begin;
    while (end < points_ && order[end].first == order[begin].first) {
      ids[end] = order[end].second;
      ++end;
    }
    std::size_t s = mix(order[begin].first) & slot_mask_;
    while (slots[s].count != 0) s = (s + 1) & slot_mask_;
    slots[s] = Slot{order[begin].first, static_cast<std::uint32_t>(begin),
                    static_cast<std::uint32_t>(end - begin)};
    begin = end;
  }
}

void HashTables::hash_values(const float* query, float* values) const {
  const std::size_t hash_count = options_.tables * options_.hashes;
  block_kernels().inner_products(query, 1, projections_.data(), hash_count, dim_, values,
                                 hash_count);
  const auto inverse_width = static_cast<float>(1.0 / width_);
  for (std::size_t i = 0; i < hash_count; ++i) {
    if (options_.kind == HashKind::PStable) values[i] = values[i] * inverse_width + offsets_[i];
    // A finite query so large that a projection overflows (inf - inf): hash it as 0, as the
    // build does, so probe costs never see NaN.
    if (std::isnan(values[i])) values[i] = 0.0f;
  }
}

std::int64_t HashTables::hash_of(float value) const {
  if (options_.kind == HashKind::Hyperplane) return value >= 0.0f ? 1 : 0;
  // Only a base vector so large that its projection overflows (inf - inf) gets here with NaN.
  if (std::isnan(value)) return 0;
  const double clamped = std::clamp(static_cast<double>(value), -kValueLimit, kValueLimit);
  return static_cast<std::int64_t>(std::floor(clamped));
}

std::uint64_t HashTables::bucket_key(std::size_t table, const float* table_values) const {
  std::uint64_t key = 0;
  for (std::size_t i = 0; i < options_.hashes; ++i) {
    key += static_cast<std::uint64_t>(hash_of(table_values[i])) * key_weight(table, i);
  }
  return key;
}

std::span<const std::uint32_t> HashTables::bucket(std::size_t table, std::uint64_t key) const {
  const Slot* slots = slots_.data() + table * (slot_mask_ + 1);
  for (std::size_t s = mix(key) & slot_mask_;; s = (s + 1) & slot_mask_) {
    const Slot& slot = slots[s];
    if (slot.count == 0) return {};
    if (slot.key == key) return {ids_.data() + table * points_ + slot.begin, slot.count};
  }
}

std::size_t HashTables::bytes() const {
  std::size_t added = 0;
  if (added_count_ > 0) {
    for (const auto& buckets : added_) {
      // Bucket array, and per node the key, the vector header and the next pointer.
      added +=
          buckets.bucket_count() * sizeof(void*) +
          buckets.size() *
              (sizeof(std::pair<const std::uint64_t, std::vector<std::uint32_t>>) + sizeof(void*));
      for (const auto& [key, ids] : buckets) added += ids.capacity() * sizeof(std::uint32_t);
    }
  }
  return projections_.size() * sizeof(float) + offsets_.size() * sizeof(float) +
         key_weights_.size() * sizeof(std::uint64_t) + slots_.size() * sizeof(Slot) +
         ids_.size() * sizeof(std::uint32_t) + added;
}

void HashTables::save(IndexFileWriter& writer, Flat& flat) const {
  flat.meta = {dim_,
               points_,
               slot_mask_,
               added_count_,
               std::bit_cast<std::uint64_t>(scale_),
               std::bit_cast<std::uint64_t>(width_)};
  flat.added_tables.assign(1, 0);
  flat.added_keys.clear();
  flat.added_offsets.assign(1, 0);
  flat.added_ids.clear();
  for (const auto& buckets : added_) {
    for (const auto& [key, ids] : buckets) {
      flat.added_keys.push_back(key);
      flat.added_ids.insert(flat.added_ids.end(), ids.begin(), ids.end());
      flat.added_offsets.push_back(flat.added_ids.size());
    }
    flat.added_tables.push_back(flat.added_keys.size());
  }
  writer.add("hash_meta", flat.meta);
  writer.add("hash_projections", projections_);
  writer.add("hash_offsets", offsets_);
  writer.add("hash_key_weights", key_weights_);
  writer.add("hash_slots", slots_);
  writer.add("hash_ids", ids_);
  writer.add("hash_added_tables", flat.added_tables);
  writer.add("hash_added_keys", flat.added_keys);
  writer.add("hash_added_offsets", flat.added_offsets);
  writer.add("hash_added_ids", flat.added_ids);
}

void HashTables::load(const IndexFileReader& reader, const HashOptions& options, std::size_t dim,
                      std::size_t rows) {
  const auto meta = reader.array<std::uint64_t>("hash_meta", 6);
  options_ = options;
  dim_ = static_cast<std::size_t>(meta[0]);
  points_ = static_cast<std::size_t>(meta[1]);
  slot_mask_ = static_cast<std::size_t>(meta[2]);
  added_count_ = static_cast<std::size_t>(meta[3]);
  scale_ = std::bit_cast<double>(meta[4]);
  width_ = std::bit_cast<double>(meta[5]);
  const std::size_t tables = options.tables;
  const std::size_t hash_count = tables * options.hashes;
  projections_ = reader.copy<float>("hash_projections");
  // Before any hash was drawn (a streaming index nothing was added to) every array is empty.
  const bool ready = !projections_.empty();
  // An index nothing was added to has drawn no hash functions: dimension 0.
  if ((dim_ != dim && (ready || dim_ != 0)) || !(std::isfinite(scale_) && scale_ > 0.0) ||
      !(std::isfinite(width_) && width_ > 0.0) || points_ > rows)
    reader.fail("'hash_meta' does not fit the index");
  if (ready && projections_.size() != hash_count * dim)
    reader.fail(fmt::format("'hash_projections' does not hold {} x {} floats", hash_count, dim));
  offsets_ = reader.copy<float>("hash_offsets", ready ? hash_count : 0);
  key_weights_ = reader.copy<std::uint64_t>("hash_key_weights", ready ? hash_count : 0);
  // Slots: a power of two per table, each table with an empty slot (a probe for a missing key
  // stops there), every bucket inside its table's ids.
  const auto slots = reader.array<Slot>("hash_slots");
  const std::size_t per_table = slot_mask_ + 1;
  if (ready ? (!std::has_single_bit(per_table) || slots.size() / tables != per_table ||
               slots.size() % tables != 0)
            : (!slots.empty() || points_ != 0))
    reader.fail("'hash_slots' does not match the slot count");
  ids_ = reader.copy<std::uint32_t>("hash_ids", ready ? tables * points_ : 0);
  slots_.assign(slots.begin(), slots.end());
  for (std::size_t t = 0; ready && t < tables; ++t) {
    bool has_empty = false;
    for (std::size_t s = 0; s < per_table; ++s) {
      const Slot& slot = slots_[t * per_table + s];
      has_empty |= slot.count == 0;
      if (static_cast<std::uint64_t>(slot.begin) + slot.count > points_)
        reader.fail(fmt::format("table {} has a bucket outside its ids", t));
    }
    if (!has_empty) reader.fail(fmt::format("table {} has no empty slot", t));
  }
  for (const std::uint32_t id : ids_) {
    if (id >= points_) reader.fail(fmt::format("'hash_ids' holds id {} of {}", id, points_));
  }
  // Overflow buckets: per table a range of keys, per key a range of ids.
  // (Before any hash was drawn there are no per-table maps either.)
  const std::size_t maps = ready ? tables : 0;
  const auto added_tables = reader.array<std::uint64_t>("hash_added_tables", maps + 1);
  const auto keys = reader.array<std::uint64_t>("hash_added_keys");
  const auto offsets = reader.array<std::uint64_t>("hash_added_offsets", keys.size() + 1);
  const auto ids = reader.array<std::uint32_t>("hash_added_ids");
  if (added_tables.front() != 0 || added_tables.back() != keys.size() || offsets.front() != 0 ||
      offsets.back() != ids.size() || ids.size() != added_count_ * tables)
    reader.fail("the overflow buckets do not cover their ids");
  added_.assign(maps, {});
  for (std::size_t t = 0; t < maps; ++t) {
    if (added_tables[t + 1] < added_tables[t]) reader.fail("the overflow tables overlap");
    for (std::uint64_t b = added_tables[t]; b < added_tables[t + 1]; ++b) {
      if (offsets[b + 1] < offsets[b]) reader.fail("the overflow buckets overlap");
      std::vector<std::uint32_t> bucket(ids.begin() + static_cast<std::ptrdiff_t>(offsets[b]),
                                        ids.begin() + static_cast<std::ptrdiff_t>(offsets[b + 1]));
      for (const std::uint32_t id : bucket) {
        if (id >= rows) reader.fail(fmt::format("an overflow bucket holds id {} of {}", id, rows));
      }
      if (!added_[t].emplace(keys[b], std::move(bucket)).second)
        reader.fail(fmt::format("overflow table {} holds a key twice", t));
    }
  }
}

}  // namespace annbench::lsh
