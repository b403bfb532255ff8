// Index files: annbench's container (common/index_file.h), module "hnsw", format version 3, with
// the whole state of the index, so that a loaded index searches, adds and removes exactly as the
// saved one would:
//
//   meta          Meta below: slots, M, ef_construction, seed, repair_threshold, top level,
//                 entry point, tombstone count, insertions since the last reachability check,
//                 layer-0 stride, slot capacity (add() grows and repairs by it)
//   levels        uint8 per slot
//   layer0        slots × stride bytes: the layer-0 blocks as in memory (vector, then links)
//   upper_offset  uint32 per slot: where its upper-layer lists start in `upper`
//   upper         uint32 links of layers >= 1, M per list
//   state         uint8 SlotState per slot, or empty while nothing was ever removed
//   free          uint32 free slots, in the order add() reuses them (last first)
//   external      int64 caller id per slot, or empty while ids are positions
//   rng           the level generator's state as text (std::mt19937_64's stream format)
//   storage       StorageMeta below: what the layer-0 blocks hold (Storage: float, sq8, fp16,
//                 and from version 3 uint8, int8) and keep_float
//   float         float32 slots × dim: the float copy (fp16 / sq8 with keep_float only)
//   sq8_min       float per dimension: the SQ8 codec (storage sq8, once trained)
//   sq8_scale     float per dimension
//   alpha         double, the selection's alpha that later add() and repairs use; only when it
//                 is not 1, so alpha-1 files are as before (passes shapes the build only)
//
// The container checks module, version, metric, dimension, sizes and checksum; load() then
// checks what the sections hold (counts, link targets, levels of linked nodes, distinct ids), so
// a corrupt file that passes the checksum still gives an Error, not a stray read.
//
// Version 1 (before storage) had no storage section and float blocks laid out as version 2's
// storage float: load() still reads it, as storage float. Version 2 is version 3 without the
// integer storages (uint8, int8): read as it is. Other versions are refused with an Error naming
// the file and its version.

#include "hnsw_index.h"

#include <annbench/common/index_file.h>
#include <annbench/error.h>

#include <algorithm>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

namespace annbench::hnsw {
namespace {

constexpr const char* kModule = "hnsw";
constexpr std::uint32_t kFormatVersion = 3;
constexpr std::uint32_t kFloatOnlyVersion = 1;  // before storage: read as storage float
constexpr std::uint32_t kNoIntegerVersion = 2;  // before storage uint8 / int8

struct StorageMeta {
  std::uint32_t storage;     // Storage
  std::uint32_t keep_float;  // 0 or 1
};

// The version to open `path` with: this build's, or an older one it reads. Anything else that is
// an hnsw file is refused here with its version named; other files go on to open(), which says
// what they are.
std::uint32_t file_version(const std::string& path) {
  const IndexFileInfo info = read_index_file_info(path);
  if (info.module != kModule || info.format_version == kFormatVersion) return kFormatVersion;
  if (info.format_version == kFloatOnlyVersion || info.format_version == kNoIntegerVersion) {
    return info.format_version;
  }
  ANNBENCH_FAIL("'{}' is a hnsw index of format version {}; this build reads versions {} to {}",
                path, info.format_version, kFloatOnlyVersion, kFormatVersion);
}

struct Meta {
  std::uint64_t slots;
  std::uint64_t m;
  std::uint64_t ef_construction;
  std::uint64_t seed;
  double repair_threshold;
  std::int64_t max_level;
  std::uint64_t entry;
  std::uint64_t deleted;
  std::uint64_t unchecked;
  std::uint64_t stride;
  std::uint64_t capacity;
};

}  // namespace

struct HnswFile {
  static void save(const HnswIndex& x, const std::string& path) {
    const std::size_t n = x.n_;
    Meta meta{};
    meta.slots = n;
    meta.m = x.config_.M;
    meta.ef_construction = x.config_.ef_construction;
    meta.seed = x.config_.seed;
    meta.repair_threshold = x.config_.repair_threshold;
    meta.max_level = x.max_level_;
    meta.entry = x.entry_;
    meta.deleted = x.deleted_;
    meta.unchecked = x.unchecked_;
    meta.stride = x.stride_;
    meta.capacity = x.capacity_;
    std::ostringstream rng;
    rng << x.level_rng_;
    const std::string rng_state = rng.str();

    IndexFileWriter w(kModule, kFormatVersion, x.metric_, x.dim_, x.live_size());
    w.add_value("meta", meta);
    w.add("levels", std::span<const std::uint8_t>(x.levels_.data(), n));
    w.add("layer0", x.level0_.get(), n * x.stride_);
    w.add("upper_offset", std::span<const std::uint32_t>(x.upper_offset_.data(), n));
    w.add("upper", x.upper_);
    w.add("state", x.state_);
    w.add("free", x.free_);
    w.add("external", x.external_);
    w.add("rng", std::span<const char>(rng_state));
    const StorageMeta storage{static_cast<std::uint32_t>(x.config_.storage),
                              x.config_.keep_float ? 1u : 0u};
    w.add_value("storage", storage);
    if (x.float_copy_) w.add("float", std::span<const float>(x.float_.data(), n * x.dim_));
    if (x.sq8_) {
      w.add("sq8_min", x.sq8_->min());
      w.add("sq8_scale", x.sq8_->scale());
    }
    if (x.config_.alpha != 1.0) w.add_value("alpha", x.config_.alpha);
    w.write(path);
  }

  static std::unique_ptr<HnswIndex> load(const std::string& path, Metric metric, std::size_t dim) {
    const IndexFileReader r = IndexFileReader::open(path, kModule, file_version(path), metric, dim);
    const auto meta = r.value<Meta>("meta");
    if (meta.m < 2 || meta.m > kMaxM) r.fail(fmt::format("M = {} out of range", meta.m));
    if (meta.ef_construction < 1) r.fail("ef_construction is 0");
    if (!(meta.repair_threshold >= 0.0 && meta.repair_threshold <= 1.0)) {
      r.fail(fmt::format("repair_threshold = {} out of range", meta.repair_threshold));
    }
    if (meta.slots >= kNoLink) r.fail(fmt::format("{} slots", meta.slots));
    HnswConfig config;
    config.M = meta.m;
    config.ef_construction = meta.ef_construction;
    config.seed = meta.seed;
    config.repair_threshold = meta.repair_threshold;
    if (r.has("alpha")) {
      config.alpha = r.value<double>("alpha");
      if (!(config.alpha > 1.0 && config.alpha <= 2.0) || metric == Metric::InnerProduct) {
        r.fail(fmt::format("alpha = {} out of range (1, 2] or with metric dot", config.alpha));
      }
    }
    read_storage(r, metric, config);
    auto index = std::make_unique<HnswIndex>(metric, dim, config);
    HnswIndex& x = *index;
    if (meta.stride != x.stride_) {
      r.fail(fmt::format("layer-0 stride {}, expected {}", meta.stride, x.stride_));
    }
    const std::size_t n = meta.slots;
    std::vector<std::uint8_t> levels = r.copy<std::uint8_t>("levels", n);
    for (const std::uint8_t level : levels) {
      if (level > kMaxLevel) r.fail(fmt::format("level {}", level));
    }
    std::size_t block_bytes = 0;
    if (__builtin_mul_overflow(n, x.stride_, &block_bytes)) r.fail("layer 0 overflows");
    // Sized by the file before anything is allocated: a bad count cannot ask for more memory.
    const auto layer0 = r.array<std::byte>("layer0", block_bytes);
    x.allocate(n, std::move(levels));
    if (n > 0) std::memcpy(x.level0_.get(), layer0.data(), block_bytes);
    // add() grows by half the capacity at a time, so a saved one is below 1.5 times the slots;
    // restored, later add() calls grow and repair exactly when the saved index's would.
    if (meta.capacity < n || meta.capacity > n + n / 2 + 1) {
      r.fail(fmt::format("capacity {} for {} slots", meta.capacity, n));
    }
    x.reserve_slots(meta.capacity, true);
    read_compact(r, x);
    x.upper_offset_ = r.copy<std::uint32_t>("upper_offset", n);
    x.upper_ = r.copy<std::uint32_t>("upper");
    for (std::size_t u = 0; u < n; ++u) {
      const std::uint64_t end =
          std::uint64_t{x.upper_offset_[u]} + std::uint64_t{x.levels_[u]} * config.M;
      if (x.levels_[u] > 0 && end > x.upper_.size()) {
        r.fail(fmt::format("upper-layer lists of node {} end at {} of {} links", u, end,
                           x.upper_.size()));
      }
    }

    x.state_ = r.copy<std::uint8_t>("state");
    x.free_ = r.copy<std::uint32_t>("free");
    x.external_ = r.copy<std::int64_t>("external");
    check_slots(r, x, meta.deleted);
    x.deleted_ = meta.deleted;
    x.unchecked_ = meta.unchecked;

    if (meta.entry == kNoLink) {
      if (meta.max_level != -1) r.fail("top level without an entry point");
    } else if (meta.entry >= n ||
               x.state(static_cast<std::uint32_t>(meta.entry)) == SlotState::Free ||
               x.levels_[meta.entry] != meta.max_level) {
      r.fail(fmt::format("entry point {} (top level {})", meta.entry, meta.max_level));
    }
    x.entry_ = static_cast<std::uint32_t>(meta.entry);
    x.max_level_ = static_cast<int>(meta.max_level);
    check_links(r, x);

    const auto rng = r.array<char>("rng");
    std::istringstream in(std::string(rng.begin(), rng.end()));
    in >> x.level_rng_;
    if (in.fail()) r.fail("the level generator's state does not parse");
    return index;
  }

 private:
  // The storage section into `config`; a version-1 file is storage float.
  static void read_storage(const IndexFileReader& r, Metric metric, HnswConfig& config) {
    const std::uint32_t version = r.info().format_version;
    if (version == kFloatOnlyVersion) return;
    const auto s = r.value<StorageMeta>("storage");
    const Storage last = version == kNoIntegerVersion ? Storage::Fp16 : Storage::Int8;
    if (s.storage > static_cast<std::uint32_t>(last) || s.keep_float > 1) {
      r.fail(fmt::format("storage {}, keep_float {}", s.storage, s.keep_float));
    }
    // build_uint8 / build_int8 refuse angular, so no such index exists.
    if (is_integer(static_cast<Storage>(s.storage)) && metric == Metric::Angular) {
      r.fail(fmt::format("storage {} with metric angular",
                         storage_name(static_cast<Storage>(s.storage))));
    }
    config.storage = static_cast<Storage>(s.storage);
    config.keep_float = s.keep_float == 1;
  }

  // The float copy and the SQ8 codec, as the storage section says there must be.
  static void read_compact(const IndexFileReader& r, HnswIndex& x) {
    const std::size_t n = x.n_;
    if (x.float_copy_) {
      const auto rows = r.array<float>("float", n * x.dim_);
      std::copy(rows.begin(), rows.end(), x.float_.begin());
    } else if (r.has("float")) {
      r.fail("a float copy in an index that keeps none");
    }
    const bool sq8 = x.config_.storage == Storage::Sq8;
    if (r.has("sq8_min") || r.has("sq8_scale")) {
      if (!sq8) r.fail("an SQ8 codec in an index of another storage");
      std::vector<float> min = r.copy<float>("sq8_min", x.dim_);
      std::vector<float> scale = r.copy<float>("sq8_scale", x.dim_);
      try {
        x.set_codec(Sq8Codec(std::move(min), std::move(scale)));
      } catch (const Error& e) {
        r.fail(e.what());
      }
    } else if (sq8 && n > 0) {
      r.fail("storage sq8 without its codec (sections sq8_min, sq8_scale)");
    }
  }

  // Slot states, free list and caller ids agree with each other and with the tombstone count.
  static void check_slots(const IndexFileReader& r, HnswIndex& x, std::uint64_t deleted) {
    const std::size_t n = x.n_;
    if (!x.state_.empty() && x.state_.size() != n) {
      r.fail(fmt::format("{} slot states for {} slots", x.state_.size(), n));
    }
    if (!x.external_.empty() && x.external_.size() != n) {
      r.fail(fmt::format("{} caller ids for {} slots", x.external_.size(), n));
    }
    std::uint64_t deleted_seen = 0;
    std::size_t free_seen = 0;
    for (const std::uint8_t s : x.state_) {
      if (s > static_cast<std::uint8_t>(SlotState::Free)) r.fail(fmt::format("slot state {}", s));
      deleted_seen += s == static_cast<std::uint8_t>(SlotState::Deleted);
      free_seen += s == static_cast<std::uint8_t>(SlotState::Free);
    }
    if (deleted_seen != deleted || free_seen != x.free_.size()) {
      r.fail(fmt::format("{} deleted and {} free slots, the counts say {} and {}", deleted_seen,
                         free_seen, deleted, x.free_.size()));
    }
    std::vector<bool> listed(n, false);
    for (const std::uint32_t u : x.free_) {
      if (u >= n || listed[u] || x.state(u) != SlotState::Free) {
        r.fail(fmt::format("free slot {} is not a free slot or listed twice", u));
      }
      listed[u] = true;
    }
    if (x.external_.empty()) return;
    // Live caller ids: non-negative and distinct, as add() keeps them.
    for (std::uint32_t u = 0; u < n; ++u) {
      if (x.state(u) != SlotState::Live) continue;
      const std::int64_t id = x.external_[u];
      if (id < 0 || x.ids_.find(id, x.external_) != IdMap::kEmpty) {
        r.fail(fmt::format("caller id {} of slot {} is negative or repeated", id, u));
      }
      x.ids_.insert(u, x.external_);
    }
  }

  // Every link names a slot, and on layer l >= 1 a node that has layer l (searches read the
  // lists of the nodes they move to).
  static void check_links(const IndexFileReader& r, const HnswIndex& x) {
    const std::size_t n = x.n_;
    for (std::uint32_t u = 0; u < n; ++u) {
      for (int level = 0; level <= x.levels_[u]; ++level) {
        const std::uint32_t* links = x.link_list(u, level);
        for (std::size_t j = 0; j < x.max_degree(level); ++j) {
          const std::uint32_t w = links[j];
          if (w == kNoLink) continue;
          if (w >= n || x.levels_[w] < level) {
            r.fail(fmt::format("node {} links node {} on layer {}", u, w, level));
          }
        }
      }
    }
  }
};

void HnswIndex::save(const std::string& path) const {
  HnswFile::save(*this, path);
}

std::unique_ptr<HnswIndex> HnswIndex::load(const std::string& path, Metric metric,
                                           std::size_t dim) {
  return HnswFile::load(path, metric, dim);
}

}  // namespace annbench::hnsw
