#pragma once
// A C stdio file opened for binary reading, closed when it goes out of scope; the readers of
// TEXMEX (convert.cpp) and big-ann-benchmarks (bigann.cpp) files share it. And a float matrix
// mapped from a file, which the HDF5 and .fbin readers share.

#include <annbench/error.h>
#include <annbench/matrix.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace annbench::detail {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// Throws naming the file and the system's reason when it cannot be opened.
inline FilePtr open_binary(const std::filesystem::path& path) {
  FilePtr file(std::fopen(path.c_str(), "rb"));
  if (!file) ANNBENCH_FAIL("cannot open '{}' ({})", path.string(), std::strerror(errno));
  return file;
}

// rows × cols little-endian float32 stored at `offset` of `path`, mapped copy-on-write (the
// matrix stays writable, the file is never changed) and read from the page cache on demand, so
// a base larger than memory need not fit; an empty matrix when the mapping cannot be made (the
// caller then reads instead).
inline FloatMatrix map_floats(const std::filesystem::path& path, std::uint64_t offset,
                              std::size_t rows, std::size_t cols) {
  const std::size_t bytes = rows * cols * sizeof(float);
  if (bytes == 0 || offset % alignof(float) != 0) return {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  const std::uint64_t start = offset / page * page;
  const std::size_t length = bytes + (offset - start);
  void* base =
      ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, static_cast<off_t>(start));
  ::close(fd);
  if (base == MAP_FAILED) return {};
  ::madvise(base, length, MADV_WILLNEED);
  std::shared_ptr<void> owner(base, [length](void* p) { ::munmap(p, length); });
  auto* data = reinterpret_cast<float*>(static_cast<char*>(base) + (offset - start));
  return FloatMatrix::adopt(data, rows, cols, std::move(owner));
}

}  // namespace annbench::detail
