#pragma once
// Helpers shared by the peer modules. The libraries index raw float rows, so angular search is
// served by normalising a copy of the data (common/normalize.h). Some libraries serialise only
// to and from named files: TempFile carries their bytes into and out of a section of annbench's
// index-file container.

#include <annbench/common/normalize.h>
#include <annbench/error.h>
#include <annbench/neighbor.h>

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <vector>

namespace annbench::peers {

// Pads out[found..k) with the "no result" value.
inline void pad_results(Neighbor* out, std::size_t found, std::size_t k) {
  for (std::size_t j = found; j < k; ++j) out[j] = Neighbor{};
}

// A fresh, empty file in the system's temporary folder, removed when this goes out of scope. A
// library that mapped it (Annoy) keeps its mapping after the name is gone.
class TempFile {
 public:
  explicit TempFile(const char* module) : module_(module) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string("annbench-") + module + "-XXXXXX"))
            .string();
    const int fd = mkstemp(pattern.data());
    ANNBENCH_CHECK(fd >= 0, "{}: cannot create a temporary file {}: {}", module, pattern,
                   std::strerror(errno));
    ::close(fd);
    path_ = std::move(pattern);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { std::remove(path_.c_str()); }

  const std::string& path() const { return path_; }

  void write(std::span<const std::byte> bytes) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    ANNBENCH_CHECK(out.good(), "{}: cannot write the temporary file {}", module_, path_);
  }

  std::vector<std::byte> read() const {
    std::ifstream in(path_, std::ios::binary);
    ANNBENCH_CHECK(in.good(), "{}: cannot read the temporary file {}", module_, path_);
    std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    if (!chars.empty()) std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
  }

 private:
  const char* module_;
  std::string path_;
};

}  // namespace annbench::peers
