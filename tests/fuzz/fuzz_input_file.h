#pragma once
// The readers under test take a path, so each fuzz input is written to a file first. One file per
// process (named by pid) keeps parallel fuzzers (-jobs / -fork) from reading each other's bytes.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace annbench::fuzz {

inline std::filesystem::path input_path(std::string_view extension) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  return dir / ("annbench-fuzz-" + std::to_string(::getpid()) + std::string(extension));
}

// Writes the input to `path`; aborts if it cannot (a broken harness, not a finding).
inline void write_input(const std::filesystem::path& path, const std::uint8_t* data,
                        std::size_t size) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr || (size > 0 && std::fwrite(data, 1, size, file) != size)) std::abort();
  std::fclose(file);
}

}  // namespace annbench::fuzz
