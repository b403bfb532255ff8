// Index files. Layout (little-endian, as written by x86-64):
//
//   FileHeader (below): magic "ANNBHNSW", format version, metric, dim, node count, M,
//                       ef_construction, seed, max level, entry point, upper-layer link count,
//                       payload size, payload checksum
//   payload:            levels (n bytes) | layer-0 blocks (n × stride bytes, as in memory) |
//                       upper-layer links (uint32 each)
//
// The checksum is FNV-1a (64-bit) over the payload taken as little-endian 64-bit words (the
// last partial word zero-padded): word-wise so that a 200 MB index hashes in a fraction of a
// second. A file is refused with an Error naming it when it is shorter or longer than its
// header says, has another magic or version, fails the checksum, or links outside the graph.
//
// Only indexes without tombstones or free slots, whose ids are their positions, can be saved
// (save() says so otherwise); repair_threshold is not stored and comes back as its default.

#include "hnsw_index.h"

#include <annbench/common/checksum.h>
#include <annbench/error.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace annbench::hnsw {
namespace {

constexpr std::array<char, 8> kMagic = {'A', 'N', 'N', 'B', 'H', 'N', 'S', 'W'};
constexpr std::uint32_t kVersion = 1;

struct FileHeader {
  std::array<char, 8> magic;
  std::uint32_t version;
  std::uint32_t metric;
  std::uint64_t dim;
  std::uint64_t n;
  std::uint64_t m;
  std::uint64_t ef_construction;
  std::uint64_t seed;
  std::int64_t max_level;
  std::uint64_t entry;
  std::uint64_t upper_links;
  std::uint64_t payload_bytes;
  std::uint64_t checksum;
};

}  // namespace

struct HnswFile {
  static void save(const HnswIndex& index, const std::string& path) {
    const std::size_t n = index.n_;
    // The format holds a graph whose node ids are the caller's ids: nothing else to record.
    ANNBENCH_CHECK(index.deleted_ == 0 && index.free_.empty(),
                   "hnsw: cannot save '{}': the index has {} deleted nodes and {} free slots, "
                   "which the file format (static graphs) cannot hold",
                   path, index.deleted_, index.free_.size());
    for (std::size_t u = 0; u < index.external_.size(); ++u) {
      ANNBENCH_CHECK(index.external_[u] == static_cast<std::int64_t>(u),
                     "hnsw: cannot save '{}': node {} has id {}; the file format holds only "
                     "indexes whose ids are their positions",
                     path, u, index.external_[u]);
    }
    FileHeader header{};
    header.magic = kMagic;
    header.version = kVersion;
    header.metric = static_cast<std::uint32_t>(index.metric_);
    header.dim = index.dim_;
    header.n = n;
    header.m = index.config_.M;
    header.ef_construction = index.config_.ef_construction;
    header.seed = index.config_.seed;
    header.max_level = index.max_level_;
    header.entry = index.entry_;
    header.upper_links = index.upper_.size();
    header.payload_bytes = n + n * index.stride_ + index.upper_.size() * sizeof(std::uint32_t);
    Fnv1a64 hash;
    hash.update(index.levels_.data(), n);
    hash.update(index.level0_.get(), n * index.stride_);
    hash.update(index.upper_.data(), index.upper_.size() * sizeof(std::uint32_t));
    header.checksum = hash.finish();

    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    ANNBENCH_CHECK(out.good(), "hnsw: cannot open '{}' for writing", path);
    out.write(reinterpret_cast<const char*>(&header), sizeof(header));
    out.write(reinterpret_cast<const char*>(index.levels_.data()), static_cast<std::streamsize>(n));
    out.write(reinterpret_cast<const char*>(index.level0_.get()),
              static_cast<std::streamsize>(n * index.stride_));
    out.write(reinterpret_cast<const char*>(index.upper_.data()),
              static_cast<std::streamsize>(index.upper_.size() * sizeof(std::uint32_t)));
    out.close();
    ANNBENCH_CHECK(!out.fail(), "hnsw: writing '{}' failed", path);
  }

  static std::unique_ptr<HnswIndex> load(const std::string& path) {
    std::error_code ec;
    const std::uintmax_t file_bytes = std::filesystem::file_size(path, ec);
    ANNBENCH_CHECK(!ec, "hnsw: cannot read '{}': {}", path, ec.message());
    ANNBENCH_CHECK(file_bytes >= sizeof(FileHeader),
                   "hnsw: '{}' is truncated ({} bytes, the header alone needs {})", path,
                   file_bytes, sizeof(FileHeader));
    std::ifstream in(path, std::ios::binary);
    ANNBENCH_CHECK(in.good(), "hnsw: cannot open '{}'", path);
    FileHeader h{};
    in.read(reinterpret_cast<char*>(&h), sizeof(h));
    ANNBENCH_CHECK(h.magic == kMagic, "hnsw: '{}' is not an annbench HNSW index (bad magic)", path);
    ANNBENCH_CHECK(h.version == kVersion,
                   "hnsw: '{}' has format version {}, this build reads version {}", path, h.version,
                   kVersion);
    ANNBENCH_CHECK(h.metric <= static_cast<std::uint32_t>(Metric::InnerProduct),
                   "hnsw: '{}' has unknown metric code {}", path, h.metric);
    ANNBENCH_CHECK(h.dim >= 1 && h.dim <= (1u << 24), "hnsw: '{}' has bad dimension {}", path,
                   h.dim);
    ANNBENCH_CHECK(h.m >= 2 && h.m <= kMaxM, "hnsw: '{}' has bad M {}", path, h.m);
    ANNBENCH_CHECK(h.n < kNoLink && h.n <= file_bytes, "hnsw: '{}' has bad node count {}", path,
                   h.n);
    const std::size_t stride =
        (h.dim * sizeof(float) + 2 * h.m * sizeof(std::uint32_t) + 63) / 64 * 64;
    // Bounded by the file size before any product is formed, so nothing below overflows.
    ANNBENCH_CHECK(h.n <= file_bytes / stride, "hnsw: '{}' is truncated ({} nodes of {} bytes)",
                   path, h.n, stride);
    ANNBENCH_CHECK(h.upper_links <= file_bytes, "hnsw: '{}' has bad upper-layer size", path);
    const std::uint64_t payload = h.n + h.n * stride + h.upper_links * sizeof(std::uint32_t);
    ANNBENCH_CHECK(payload == h.payload_bytes,
                   "hnsw: '{}' is inconsistent (payload {} bytes, header fields imply {})", path,
                   h.payload_bytes, payload);
    ANNBENCH_CHECK(file_bytes == sizeof(FileHeader) + payload,
                   "hnsw: '{}' is truncated or padded ({} bytes, expected {})", path, file_bytes,
                   sizeof(FileHeader) + payload);

    HnswConfig config;
    config.M = h.m;
    config.ef_construction = h.ef_construction;
    config.seed = h.seed;
    auto index = std::make_unique<HnswIndex>(static_cast<Metric>(h.metric), h.dim, config);
    std::vector<std::uint8_t> levels(h.n);
    in.read(reinterpret_cast<char*>(levels.data()), static_cast<std::streamsize>(h.n));
    std::uint64_t upper_expected = 0;
    for (const std::uint8_t level : levels) {
      ANNBENCH_CHECK(level <= kMaxLevel, "hnsw: '{}' is corrupted (level {})", path, level);
      upper_expected += level * h.m;
    }
    ANNBENCH_CHECK(upper_expected == h.upper_links,
                   "hnsw: '{}' is corrupted (levels imply {} upper links, header says {})", path,
                   upper_expected, h.upper_links);
    index->allocate(h.n, levels);
    in.read(reinterpret_cast<char*>(index->level0_.get()),
            static_cast<std::streamsize>(h.n * stride));
    in.read(reinterpret_cast<char*>(index->upper_.data()),
            static_cast<std::streamsize>(h.upper_links * sizeof(std::uint32_t)));
    ANNBENCH_CHECK(in.good(), "hnsw: reading '{}' failed", path);

    Fnv1a64 hash;
    hash.update(levels.data(), h.n);
    hash.update(index->level0_.get(), h.n * stride);
    hash.update(index->upper_.data(), h.upper_links * sizeof(std::uint32_t));
    ANNBENCH_CHECK(hash.finish() == h.checksum, "hnsw: '{}' is corrupted (checksum mismatch)",
                   path);

    // A file that passes the checksum was written by save(); still, never follow a link
    // outside the graph.
    if (h.n > 0) {
      ANNBENCH_CHECK(h.entry < h.n && h.max_level == levels[h.entry],
                     "hnsw: '{}' is corrupted (entry point)", path);
    } else {
      ANNBENCH_CHECK(h.max_level == -1, "hnsw: '{}' is corrupted (empty index)", path);
    }
    for (std::uint32_t node = 0; node < h.n; ++node) {
      for (int level = 0; level <= levels[node]; ++level) {
        const std::uint32_t* links = index->link_list(node, level);
        for (std::size_t j = 0; j < index->max_degree(level); ++j) {
          ANNBENCH_CHECK(links[j] == kNoLink || links[j] < h.n,
                         "hnsw: '{}' is corrupted (link to {} of {} nodes)", path, links[j], h.n);
        }
      }
    }
    index->max_level_ = static_cast<int>(h.max_level);
    index->entry_ = static_cast<std::uint32_t>(h.entry);
    // Later add() calls draw levels as they would after build(): past the n levels drawn.
    for (std::uint64_t i = 0; i < h.n; ++i) index->draw_level();
    return index;
  }
};

void HnswIndex::save(const std::string& path) const {
  HnswFile::save(*this, path);
}

std::unique_ptr<HnswIndex> HnswIndex::load(const std::string& path) {
  return HnswFile::load(path);
}

}  // namespace annbench::hnsw
