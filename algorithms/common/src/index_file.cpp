#include <annbench/common/checksum.h>
#include <annbench/common/index_file.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <utility>

namespace annbench {
namespace {

static_assert(std::endian::native == std::endian::little, "index files are little-endian");

constexpr std::array<char, 8> kMagic = {'A', 'N', 'N', 'B', 'I', 'D', 'X', '1'};
constexpr std::size_t kNameBytes = 64;
constexpr std::size_t kTagBytes = 32;

struct Header {
  std::array<char, 8> magic;
  std::uint32_t container_version;
  std::uint32_t format_version;
  std::array<char, kNameBytes> module;
  std::uint32_t metric;
  std::uint32_t reserved0;
  std::uint64_t dim;
  std::uint64_t rows;
  std::uint64_t sections;
  std::uint64_t payload_bytes;
  std::uint64_t checksum;
  std::array<std::uint64_t, 16> reserved;  // zero; room for later container versions
};
static_assert(sizeof(Header) == 256);

struct TableEntry {
  std::array<char, kTagBytes> tag;
  std::uint64_t offset;
  std::uint64_t bytes;
};
static_assert(sizeof(TableEntry) == 48);

std::uint64_t align_up(std::uint64_t x) {
  return (x + kIndexFileAlignment - 1) / kIndexFileAlignment * kIndexFileAlignment;
}

std::string fixed_string(const char* chars, std::size_t size) {
  return {chars, std::find(chars, chars + size, '\0')};
}

std::uint32_t metric_code(Metric metric) {
  return static_cast<std::uint32_t>(metric);
}

// Parses and checks the header and section table of a file of `size` bytes at `data`.
IndexFileInfo parse(const std::byte* data, std::size_t size, const std::string& path) {
  ANNBENCH_CHECK(size >= sizeof(Header),
                 "'{}' is not an annbench index file: {} bytes, shorter than the header", path,
                 size);
  Header h;
  std::memcpy(&h, data, sizeof h);
  ANNBENCH_CHECK(h.magic == kMagic, "'{}' is not an annbench index file (wrong magic)", path);
  ANNBENCH_CHECK(h.container_version == kIndexFileVersion,
                 "'{}' is an index file of container version {}; this annbench reads version {}",
                 path, h.container_version, kIndexFileVersion);
  ANNBENCH_CHECK(h.metric <= metric_code(Metric::InnerProduct),
                 "'{}' is corrupt: unknown metric code {}", path, h.metric);
  ANNBENCH_CHECK(h.payload_bytes == size - sizeof(Header),
                 "'{}' is truncated or has trailing bytes: the header says {} bytes, the file "
                 "has {}",
                 path, sizeof(Header) + h.payload_bytes, size);
  ANNBENCH_CHECK(h.sections <= h.payload_bytes / sizeof(TableEntry),
                 "'{}' is corrupt: {} sections do not fit in the file", path, h.sections);
  IndexFileInfo info;
  info.module = fixed_string(h.module.data(), h.module.size());
  info.format_version = h.format_version;
  info.metric = static_cast<Metric>(h.metric);
  info.dim = h.dim;
  info.rows = h.rows;
  info.file_bytes = size;
  const std::uint64_t table_end = sizeof(Header) + h.sections * sizeof(TableEntry);
  std::uint64_t previous_end = table_end;
  for (std::uint64_t i = 0; i < h.sections; ++i) {
    TableEntry e;
    std::memcpy(&e, data + sizeof(Header) + i * sizeof(TableEntry), sizeof e);
    const std::string tag = fixed_string(e.tag.data(), e.tag.size());
    std::uint64_t end = 0;
    const bool overflow = __builtin_add_overflow(e.offset, e.bytes, &end);
    ANNBENCH_CHECK(!tag.empty() && e.offset % kIndexFileAlignment == 0 && !overflow &&
                       e.offset >= previous_end && end <= size,
                   "'{}' is corrupt: section {} ('{}') at offset {} with {} bytes lies outside "
                   "the file, overlaps another or is misaligned",
                   path, i, tag, e.offset, e.bytes);
    for (const auto& s : info.sections) {
      ANNBENCH_CHECK(s.tag != tag, "'{}' is corrupt: section '{}' appears twice", path, tag);
    }
    info.sections.push_back(
        {tag, static_cast<std::size_t>(e.offset), static_cast<std::size_t>(e.bytes)});
    previous_end = end;
  }
  return info;
}

}  // namespace

IndexFileWriter::IndexFileWriter(std::string_view module, std::uint32_t format_version,
                                 Metric metric, std::size_t dim, std::size_t rows)
    : module_(module), format_version_(format_version), metric_(metric), dim_(dim), rows_(rows) {
  ANNBENCH_CHECK(!module_.empty() && module_.size() < kNameBytes,
                 "index file: module name '{}' must have 1 to {} characters", module_,
                 kNameBytes - 1);
}

void IndexFileWriter::add(std::string_view tag, const void* data, std::size_t bytes) {
  ANNBENCH_CHECK(!tag.empty() && tag.size() < kTagBytes,
                 "index file: section tag '{}' must have 1 to {} characters", tag, kTagBytes - 1);
  ANNBENCH_CHECK(data != nullptr || bytes == 0, "index file: section '{}' has no data", tag);
  for (const auto& s : sections_) {
    ANNBENCH_CHECK(s.tag != tag, "index file: section '{}' added twice", tag);
  }
  sections_.push_back({std::string(tag), data, bytes});
}

void IndexFileWriter::write(const std::string& path) const {
  std::vector<TableEntry> table(sections_.size());
  std::uint64_t at = align_up(sizeof(Header) + table.size() * sizeof(TableEntry));
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    TableEntry& e = table[i];
    e = {};
    std::copy(sections_[i].tag.begin(), sections_[i].tag.end(), e.tag.begin());
    e.offset = at;
    e.bytes = sections_[i].bytes;
    at = align_up(at + e.bytes);
  }
  const std::uint64_t file_bytes =
      sections_.empty() ? sizeof(Header) + table.size() * sizeof(TableEntry) : at;

  // The payload in file order, as (pointer, bytes) pieces; padding comes from one zero block.
  static const std::array<std::byte, kIndexFileAlignment> kZeros{};
  std::vector<std::pair<const void*, std::size_t>> pieces;
  pieces.emplace_back(table.data(), table.size() * sizeof(TableEntry));
  std::uint64_t written = sizeof(Header) + table.size() * sizeof(TableEntry);
  for (std::size_t i = 0; i < sections_.size(); ++i) {
    pieces.emplace_back(kZeros.data(), table[i].offset - written);
    pieces.emplace_back(sections_[i].data, sections_[i].bytes);
    written = table[i].offset + sections_[i].bytes;
  }
  pieces.emplace_back(kZeros.data(), file_bytes - written);

  Header h{};
  h.magic = kMagic;
  h.container_version = kIndexFileVersion;
  h.format_version = format_version_;
  std::copy(module_.begin(), module_.end(), h.module.begin());
  h.metric = metric_code(metric_);
  h.dim = dim_;
  h.rows = rows_;
  h.sections = sections_.size();
  h.payload_bytes = file_bytes - sizeof(Header);
  Fnv1a64 hash;
  for (const auto& [data, bytes] : pieces) hash.update(data, bytes);
  h.checksum = hash.finish();

  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    ANNBENCH_CHECK(out.good(), "cannot write index file '{}': {}", temporary, std::strerror(errno));
    out.write(reinterpret_cast<const char*>(&h), sizeof h);
    for (const auto& [data, bytes] : pieces) {
      out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    }
    out.flush();
    if (!out.good()) {
      std::remove(temporary.c_str());
      ANNBENCH_FAIL("cannot write index file '{}' (disk full?)", temporary);
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(temporary.c_str());
    ANNBENCH_FAIL("cannot rename '{}' to '{}': {}", temporary, path, std::strerror(error));
  }
}

IndexFileReader IndexFileReader::open(const std::string& path, std::string_view module,
                                      std::uint32_t format_version, Metric metric,
                                      std::size_t dim) {
  auto file = MappedFile::open(path);
  IndexFileInfo info = parse(file->data(), file->size(), path);
  ANNBENCH_CHECK(info.module == module, "'{}' holds a '{}' index, not a '{}' index", path,
                 info.module, module);
  ANNBENCH_CHECK(info.format_version == format_version,
                 "'{}' is a {} index of format version {}; this build reads version {}", path,
                 module, info.format_version, format_version);
  ANNBENCH_CHECK(info.metric == metric, "'{}' holds a {} index, not {}", path,
                 metric_name(info.metric), metric_name(metric));
  ANNBENCH_CHECK(info.dim == dim, "'{}' holds an index of dimension {}, not {}", path, info.dim,
                 dim);
  Header h;
  std::memcpy(&h, file->data(), sizeof h);
  Fnv1a64 hash;
  hash.update(file->data() + sizeof(Header), file->size() - sizeof(Header));
  ANNBENCH_CHECK(hash.finish() == h.checksum, "'{}' is corrupt: checksum mismatch", path);
  return IndexFileReader(std::move(file), std::move(info));
}

const IndexFileInfo::Section* IndexFileReader::find(std::string_view tag) const {
  for (const auto& s : info_.sections) {
    if (s.tag == tag) return &s;
  }
  return nullptr;
}

std::span<const std::byte> IndexFileReader::raw(std::string_view tag, std::size_t element,
                                                std::size_t count) const {
  const auto* s = find(tag);
  if (s == nullptr) fail(fmt::format("section '{}' is missing", tag));
  if (s->bytes % element != 0) {
    fail(fmt::format("section '{}' has {} bytes, not a multiple of {}", tag, s->bytes, element));
  }
  if (count != kAnyCount && s->bytes / element != count) {
    fail(
        fmt::format("section '{}' holds {} elements, expected {}", tag, s->bytes / element, count));
  }
  return {file_->data() + s->offset, s->bytes};
}

void IndexFileReader::fail(std::string_view what) const {
  ANNBENCH_FAIL("'{}' is corrupt: {}", path(), what);
}

IndexFileInfo read_index_file_info(const std::string& path) {
  auto file = MappedFile::open(path);
  return parse(file->data(), file->size(), path);
}

}  // namespace annbench
