#pragma once
// A whole file mapped read-only into memory (mmap), unmapped when the last owner lets go. The
// mapping starts on a page boundary, so data at a 64-byte-aligned file offset is 64-byte aligned
// in memory and can be used in place.

#include <cstddef>
#include <memory>
#include <string>

namespace annbench {

class MappedFile {
 public:
  // Error naming `path` when it cannot be opened or mapped, or is empty.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(const std::byte* data, std::size_t size, std::string path);
  const std::byte* data_;
  std::size_t size_;
  std::string path_;
};

}  // namespace annbench
