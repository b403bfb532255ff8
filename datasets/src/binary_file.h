#pragma once
// A C stdio file opened for binary reading, closed when it goes out of scope; the readers of
// TEXMEX (convert.cpp) and big-ann-benchmarks (bigann.cpp) files share it.

#include <annbench/error.h>

#include <cerrno>
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

}  // namespace annbench::detail
