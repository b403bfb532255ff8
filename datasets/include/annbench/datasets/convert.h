#pragma once
// Readers for the vector formats datasets come in, each returning rows × dim float32 (row-major,
// values converted exactly where float32 can hold them). Every malformed input (wrong magic,
// truncated, inconsistent or absurd sizes) is an annbench::Error naming the file and the
// problem; sizes in headers are checked against the file size before anything is allocated.

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

namespace annbench {

// IDX image file (MNIST / Fashion-MNIST: magic 0x00000803, unsigned bytes, count × height ×
// width), raw or gzip-compressed: count × (height·width) pixel values 0..255.
FloatMatrix read_idx(const std::filesystem::path& path);

// IDX label file (magic 0x00000801, unsigned bytes), raw or gzip-compressed.
std::vector<std::int32_t> read_idx_labels(const std::filesystem::path& path);

// TEXMEX vectors, format chosen by extension: .fvecs (float32), .bvecs (uint8), .ivecs (int32).
// Each row is a little-endian int32 dimension followed by that many values; every row must have
// the same dimension. max_rows > 0 reads only the first max_rows rows.
FloatMatrix read_vecs(const std::filesystem::path& path, std::size_t max_rows = 0);

// NumPy .npy (format versions 1 to 3): a C-order 2-D array of dtype <f4, <f8, |u1, <i4 or <i8.
FloatMatrix read_npy(const std::filesystem::path& path);

// Any of the above, by file name: *.fvecs/*.bvecs/*.ivecs, *.npy, and IDX for *-ubyte, *.idx*
// and *.gz names.
FloatMatrix read_vectors(const std::filesystem::path& path);

}  // namespace annbench
