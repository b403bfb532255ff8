#pragma once
// annbench index files: the one container every module's save() writes and load() reads.
//
// Layout (little-endian, as x86-64 writes it):
//   header (256 bytes)  magic "ANNBIDX1", container version, the module's own format version,
//                       module name, metric, dim, rows, section count, payload size, checksum
//   section table       one 48-byte entry per section: tag (up to 31 chars), offset, size
//   sections            each at a 64-byte-aligned file offset, zero bytes in between
//
// The checksum is FNV-1a (64-bit, over little-endian words) of the payload: everything after the
// header. Sections are what the module chooses (arrays byte for byte, a small struct of
// scalars); the reader maps the file, so a module may serve large arrays in place (they are
// 64-byte aligned in memory) or copy them out. A file is refused with an Error naming it when
// it is missing, truncated or longer than its header says, foreign, of another container or
// module format version, written by another module, for another metric or dimension, fails
// its checksum, or has a section table that points outside the file, overlaps or repeats a tag.

#include <annbench/common/mapped_file.h>
#include <annbench/error.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace annbench {

inline constexpr std::uint32_t kIndexFileVersion = 1;
inline constexpr std::size_t kIndexFileAlignment = 64;

// What a file says about itself, read from its header and section table only.
struct IndexFileInfo {
  std::string module;
  std::uint32_t format_version = 0;  // the module's own
  Metric metric = Metric::L2;
  std::size_t dim = 0;
  std::size_t rows = 0;
  struct Section {
    std::string tag;
    std::size_t offset = 0;
    std::size_t bytes = 0;
  };
  std::vector<Section> sections;
  std::size_t file_bytes = 0;
};

class IndexFileWriter {
 public:
  // rows: the vectors the index serves (for tools and error messages; not interpreted).
  IndexFileWriter(std::string_view module, std::uint32_t format_version, Metric metric,
                  std::size_t dim, std::size_t rows);

  // The bytes are referenced, not copied: they must stay valid and unchanged until write().
  // Tags are unique, 1 to 31 characters.
  void add(std::string_view tag, const void* data, std::size_t bytes);
  template <typename T>
  void add(std::string_view tag, std::span<const T> values) {
    static_assert(std::is_trivially_copyable_v<T>);
    add(tag, values.data(), values.size_bytes());
  }
  template <typename T>
  void add(std::string_view tag, const std::vector<T>& values) {
    add(tag, std::span<const T>(values));
  }
  // A small trivially copyable value (a struct of scalars), copied in now.
  template <typename T>
  void add_value(std::string_view tag, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    auto& copy = owned_.emplace_back(sizeof(T));
    std::memcpy(copy.data(), &value, sizeof(T));
    add(tag, copy.data(), copy.size());
  }

  // Writes the file: to `path`.tmp first, renamed over `path` once complete, so a reader never
  // sees half a file. Error naming the path when it cannot be written.
  void write(const std::string& path) const;

 private:
  struct Pending {
    std::string tag;
    const void* data;
    std::size_t bytes;
  };
  std::string module_;
  std::uint32_t format_version_;
  Metric metric_;
  std::size_t dim_, rows_;
  std::vector<Pending> sections_;
  std::vector<std::vector<std::byte>> owned_;
};

class IndexFileReader {
 public:
  // Maps and checks the file: it must hold an index of `module` in `format_version`, for
  // `metric` and `dim`, with an intact checksum.
  static IndexFileReader open(const std::string& path, std::string_view module,
                              std::uint32_t format_version, Metric metric, std::size_t dim);

  const IndexFileInfo& info() const { return info_; }
  std::size_t rows() const { return info_.rows; }
  const std::string& path() const { return file_->path(); }
  bool has(std::string_view tag) const { return find(tag) != nullptr; }

  // The section as an array of T, in place in the mapping (valid while mapping() lives). Error
  // when it is missing or its size is not a multiple of sizeof(T). `count`, when given, is the
  // number of elements it must hold.
  template <typename T>
  std::span<const T> array(std::string_view tag, std::size_t count = kAnyCount) const {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= kIndexFileAlignment);
    const auto bytes = raw(tag, sizeof(T), count);
    return {reinterpret_cast<const T*>(bytes.data()), bytes.size() / sizeof(T)};
  }
  template <typename T>
  std::vector<T> copy(std::string_view tag, std::size_t count = kAnyCount) const {
    const auto values = array<T>(tag, count);
    return {values.begin(), values.end()};
  }
  // A section written with add_value: exactly sizeof(T) bytes.
  template <typename T>
  T value(std::string_view tag) const {
    T out;
    std::memcpy(&out, array<T>(tag, 1).data(), sizeof(T));
    return out;
  }

  // The mapping behind array(): a module serving sections in place keeps it alive.
  const std::shared_ptr<const MappedFile>& mapping() const { return file_; }

  // An Error naming the file: for a module's own checks of what the sections hold.
  [[noreturn]] void fail(std::string_view what) const;

  static constexpr std::size_t kAnyCount = static_cast<std::size_t>(-1);

 private:
  IndexFileReader(std::shared_ptr<const MappedFile> file, IndexFileInfo info)
      : file_(std::move(file)), info_(std::move(info)) {}
  const IndexFileInfo::Section* find(std::string_view tag) const;
  std::span<const std::byte> raw(std::string_view tag, std::size_t element,
                                 std::size_t count) const;
  std::shared_ptr<const MappedFile> file_;
  IndexFileInfo info_;
};

// For modules that keep a permutation of the base rows (trees) plus, for angular search, the
// zero rows apart: fails through `reader` unless `ids` and `zero_ids` together hold every row
// 0..rows-1 exactly once, zero_ids ascending (search takes its first k as the smallest ids)
// and empty unless `metric` is angular.
template <typename Id, typename ZeroId>
void check_row_partition(const IndexFileReader& reader, Metric metric, std::span<const Id> ids,
                         std::span<const ZeroId> zero_ids, std::size_t rows) {
  if (metric != Metric::Angular && !zero_ids.empty()) {
    reader.fail("'zero_ids' is not empty in a non-angular index");
  }
  std::vector<std::uint8_t> seen(rows, 0);
  const auto take = [&](auto id) {
    if constexpr (std::is_signed_v<decltype(id)>) {
      if (id < 0) return false;
    }
    if (static_cast<std::uint64_t>(id) >= rows) return false;
    return seen[static_cast<std::size_t>(id)]++ == 0;
  };
  for (const Id id : ids) {
    if (!take(id)) {
      reader.fail(fmt::format("'ids' holds id {}: outside 0..{} or repeated", id, rows));
    }
  }
  for (std::size_t i = 0; i < zero_ids.size(); ++i) {
    const ZeroId id = zero_ids[i];
    if (!take(id) || (i > 0 && id <= zero_ids[i - 1])) {
      reader.fail(
          fmt::format("'zero_ids' holds id {}: outside 0..{}, repeated or unsorted", id, rows));
    }
  }
}

// Header and section table only (no checksum pass): for tools that list saved indexes.
IndexFileInfo read_index_file_info(const std::string& path);

}  // namespace annbench
