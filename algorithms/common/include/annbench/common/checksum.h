#pragma once
// The checksum of annbench's index files (hnsw, annoy): FNV-1a over 64-bit little-endian words
// rather than bytes, so hashing a file of hundreds of megabytes runs at memory speed. A trailing
// partial word is zero-padded by finish().

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace annbench {

class Fnv1a64 {
 public:
  void update(const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    while (bytes > 0 && fill_ > 0) {
      take(*p++);
      --bytes;
    }
    for (; bytes >= 8; bytes -= 8, p += 8) {
      std::uint64_t word;
      std::memcpy(&word, p, 8);
      mix(word);
    }
    while (bytes-- > 0) take(*p++);
  }

  std::uint64_t finish() {
    if (fill_ > 0) {
      mix(pending_);
      fill_ = 0;
      pending_ = 0;
    }
    return hash_;
  }

 private:
  void take(unsigned char byte) {
    pending_ |= static_cast<std::uint64_t>(byte) << (8 * fill_);
    if (++fill_ == 8) {
      mix(pending_);
      fill_ = 0;
      pending_ = 0;
    }
  }
  void mix(std::uint64_t word) {
    hash_ ^= word;
    hash_ *= 0x100000001b3ull;
  }
  std::uint64_t hash_ = 0xcbf29ce484222325ull;
  std::uint64_t pending_ = 0;
  unsigned fill_ = 0;
};

}  // namespace annbench
