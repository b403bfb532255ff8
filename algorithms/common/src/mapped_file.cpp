#include <annbench/common/mapped_file.h>
#include <annbench/error.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace annbench {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ANNBENCH_CHECK(fd >= 0, "cannot open '{}': {}", path, std::strerror(errno));
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    ANNBENCH_FAIL("cannot stat '{}': {}", path, std::strerror(error));
  }
  const auto size = static_cast<std::size_t>(info.st_size);
  if (size == 0) {
    ::close(fd);
    ANNBENCH_FAIL("'{}' is empty", path);
  }
  void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int error = errno;
  ::close(fd);  // the mapping keeps the file referenced
  ANNBENCH_CHECK(mapped != MAP_FAILED, "cannot map '{}': {}", path, std::strerror(error));
  return std::shared_ptr<const MappedFile>(
      new MappedFile(static_cast<const std::byte*>(mapped), size, path));
}

MappedFile::MappedFile(const std::byte* data, std::size_t size, std::string path)
    : data_(data), size_(size), path_(std::move(path)) {}

MappedFile::~MappedFile() {
  ::munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace annbench
