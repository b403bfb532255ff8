// Index files. Layout (little-endian, as written by x86-64), every section starting at a
// 64-byte-aligned file offset, zero bytes between sections and after the last one:
//
//   FileHeader (128 bytes): magic "ANNBANOY", format version, metric, dim, vector count, tree
//                           count, internal node count, leaf count, id count, leaf_size, seed,
//                           payload size, payload checksum
//   vectors       rows × dim floats (the build space: unit-normalised for angular)
//   planes        internal nodes × plane_stride_for(dim) floats (normal, offset, zero padding)
//   children      2 int32 refs per internal node
//   leaf offsets  leaves + 1 uint32
//   ids           int32
//   roots         one int32 ref per tree
//
// The sections are the Forest's arrays byte for byte, so load() maps the file and serves them
// in place: a page-aligned mapping plus 64-byte-aligned offsets keep every float array aligned
// as a built index's is. The checksum is FNV-1a (64-bit) over the payload (everything after the
// header) taken as little-endian 64-bit words. A file is refused with an Error naming it when it
// is shorter or longer than its header says, has another magic or version, holds another metric
// or dimension than the caller expects, fails the checksum, or has refs outside its forest.

#include "annoy_index.h"
#include "mapped_file.h"

#include <annbench/common/checksum.h>
#include <annbench/error.h>

#include <array>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <utility>

namespace annbench::annoy {
namespace {

static_assert(std::endian::native == std::endian::little, "index files are little-endian");

constexpr std::array<char, 8> kMagic = {'A', 'N', 'N', 'B', 'A', 'N', 'O', 'Y'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint64_t kAlign = 64;

struct FileHeader {
  std::array<char, 8> magic;
  std::uint32_t version;
  std::uint32_t metric;
  std::uint64_t dim;
  std::uint64_t rows;
  std::uint64_t trees;
  std::uint64_t internal_nodes;
  std::uint64_t leaves;
  std::uint64_t ids;
  std::uint64_t leaf_size;
  std::uint64_t seed;
  std::uint64_t payload_bytes;
  std::uint64_t checksum;
  std::array<std::uint64_t, 4> reserved;  // zero; room for later versions
};
static_assert(sizeof(FileHeader) == 128 && sizeof(FileHeader) % kAlign == 0);

// Byte offsets of the sections from the file start; end = file size.
struct Layout {
  std::uint64_t vectors, planes, children, leaf_offsets, ids, roots, end;
};

// nullopt when the counts overflow 64 bits (a corrupt or hostile header).
std::optional<Layout> layout_for(const FileHeader& h) {
  bool overflow = false;
  const auto mul = [&](std::uint64_t a, std::uint64_t b) {
    std::uint64_t r = 0;
    overflow |= __builtin_mul_overflow(a, b, &r);
    return r;
  };
  std::uint64_t at = sizeof(FileHeader);
  const auto section = [&](std::uint64_t bytes) {
    const std::uint64_t start = at;
    std::uint64_t end = 0;
    overflow |= __builtin_add_overflow(start, bytes, &end);
    overflow |= __builtin_add_overflow(end, kAlign - 1, &end);
    at = end / kAlign * kAlign;
    return start;
  };
  Layout l{};
  l.vectors = section(mul(mul(h.rows, h.dim), sizeof(float)));
  l.planes = section(mul(mul(h.internal_nodes, plane_stride_for(h.dim)), sizeof(float)));
  l.children = section(mul(mul(h.internal_nodes, 2), sizeof(std::int32_t)));
  l.leaf_offsets = section(mul(h.leaves + 1, sizeof(std::uint32_t)));
  l.ids = section(mul(h.ids, sizeof(std::int32_t)));
  l.roots = section(mul(h.trees, sizeof(std::int32_t)));
  l.end = at;
  overflow |= h.leaves == std::numeric_limits<std::uint64_t>::max();
  if (overflow) return std::nullopt;
  return l;
}

// Feeds the payload, zero padding included, to sink(const std::byte*, size_t) in file order.
template <typename Sink>
void emit_payload(const AnnoyIndex& index, Sink&& sink) {
  static constexpr std::array<std::byte, kAlign> kZeros{};
  std::uint64_t at = sizeof(FileHeader);
  const auto section = [&](const void* data, std::uint64_t bytes) {
    sink(static_cast<const std::byte*>(data), bytes);
    at += bytes;
    const std::uint64_t pad = (kAlign - at % kAlign) % kAlign;
    sink(kZeros.data(), pad);
    at += pad;
  };
  const ForestArrays& a = index.forest().arrays();
  const MatrixView v = index.vectors();
  section(v.data, v.rows * v.dim * sizeof(float));
  section(a.planes.data(), a.planes.size_bytes());
  section(a.children.data(), a.children.size_bytes());
  section(a.leaf_offsets.data(), a.leaf_offsets.size_bytes());
  section(a.ids.data(), a.ids.size_bytes());
  section(a.roots.data(), a.roots.size_bytes());
}

const char* metric_label(std::uint32_t code) {
  switch (code) {
    case static_cast<std::uint32_t>(Metric::L2): return "euclidean";
    case static_cast<std::uint32_t>(Metric::Angular): return "angular";
    default: return nullptr;
  }
}

}  // namespace

void AnnoyIndex::save(const std::string& path) const {
  ANNBENCH_CHECK(built_, "annoy: save('{}') before build", path);
  const ForestArrays& a = forest_.arrays();
  FileHeader header{};
  header.magic = kMagic;
  header.version = kVersion;
  header.metric = static_cast<std::uint32_t>(metric_);
  header.dim = dim_;
  header.rows = data_.rows;
  header.trees = a.roots.size();
  header.internal_nodes = forest_.internal_nodes();
  header.leaves = forest_.leaves();
  header.ids = a.ids.size();
  header.leaf_size = options_.leaf_size;
  header.seed = options_.seed;
  header.payload_bytes = layout_for(header).value().end - sizeof(FileHeader);
  Fnv1a64 hash;
  emit_payload(*this, [&](const std::byte* data, std::size_t bytes) { hash.update(data, bytes); });
  header.checksum = hash.finish();

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  ANNBENCH_CHECK(out.good(), "annoy: cannot open '{}' for writing", path);
  out.write(reinterpret_cast<const char*>(&header), sizeof(header));
  emit_payload(*this, [&](const std::byte* data, std::size_t bytes) {
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  });
  out.close();
  ANNBENCH_CHECK(!out.fail(), "annoy: writing '{}' failed", path);
}

std::unique_ptr<AnnoyIndex> AnnoyIndex::load(const std::string& path, Metric metric,
                                             std::size_t dim) {
  std::shared_ptr<const MappedFile> file = MappedFile::open(path);
  const std::size_t file_bytes = file->size();
  ANNBENCH_CHECK(file_bytes >= sizeof(FileHeader),
                 "annoy: '{}' is truncated ({} bytes, the header alone needs {})", path, file_bytes,
                 sizeof(FileHeader));
  FileHeader h{};
  std::memcpy(&h, file->data(), sizeof(h));
  ANNBENCH_CHECK(h.magic == kMagic, "annoy: '{}' is not an annbench annoy index (bad magic)", path);
  ANNBENCH_CHECK(h.version == kVersion,
                 "annoy: '{}' has format version {}, this build reads version {}", path, h.version,
                 kVersion);
  const char* label = metric_label(h.metric);
  ANNBENCH_CHECK(label != nullptr, "annoy: '{}' has unknown metric code {}", path, h.metric);
  ANNBENCH_CHECK(h.metric == static_cast<std::uint32_t>(metric),
                 "annoy: '{}' holds a {} index, expected {}", path, label, metric_name(metric));
  ANNBENCH_CHECK(h.dim == dim, "annoy: '{}' has dimension {}, expected {}", path, h.dim, dim);
  ANNBENCH_CHECK(h.leaf_size >= 1 && h.trees >= 1,
                 "annoy: '{}' is corrupted (leaf_size {}, {} trees)", path, h.leaf_size, h.trees);
  const std::optional<Layout> layout = layout_for(h);
  ANNBENCH_CHECK(layout.has_value() && layout->end - sizeof(FileHeader) == h.payload_bytes,
                 "annoy: '{}' is corrupted (its counts do not add up to its payload size {})", path,
                 h.payload_bytes);
  ANNBENCH_CHECK(file_bytes == layout->end,
                 "annoy: '{}' is truncated or padded ({} bytes, its header says {})", path,
                 file_bytes, layout->end);
  Fnv1a64 hash;
  hash.update(file->data() + sizeof(FileHeader), file_bytes - sizeof(FileHeader));
  ANNBENCH_CHECK(hash.finish() == h.checksum, "annoy: '{}' is corrupted (checksum mismatch)", path);

  const auto at = [&](std::uint64_t offset) { return file->data() + offset; };
  ForestArrays arrays;
  arrays.dim = dim;
  arrays.planes = {reinterpret_cast<const float*>(at(layout->planes)),
                   h.internal_nodes * plane_stride_for(dim)};
  arrays.children = {reinterpret_cast<const std::int32_t*>(at(layout->children)),
                     2 * h.internal_nodes};
  arrays.leaf_offsets = {reinterpret_cast<const std::uint32_t*>(at(layout->leaf_offsets)),
                         h.leaves + 1};
  arrays.ids = {reinterpret_cast<const std::int32_t*>(at(layout->ids)), h.ids};
  arrays.roots = {reinterpret_cast<const std::int32_t*>(at(layout->roots)), h.trees};
  const MatrixView vectors{reinterpret_cast<const float*>(at(layout->vectors)), h.rows, dim};

  ForestOptions options;
  options.n_trees = h.trees;
  options.leaf_size = h.leaf_size;
  options.seed = h.seed;
  options.through_origin = metric == Metric::Angular;
  auto index = std::make_unique<AnnoyIndex>(metric, dim, options);
  index->forest_.adopt(arrays, h.rows, file, fmt::format("annoy: '{}' is corrupted", path));
  index->file_ = std::move(file);
  index->adopt(vectors);
  return index;
}

}  // namespace annbench::annoy
