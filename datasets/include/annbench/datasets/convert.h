#pragma once
// Readers for the vector formats datasets come in, each returning rows × dim float32 (row-major,
// values converted exactly where float32 can hold them). Every malformed input (wrong magic,
// truncated, inconsistent or absurd sizes) is an annbench::Error naming the file and the
// problem; sizes in headers are checked against the file size before anything is allocated.

#include <annbench/datasets/dataset.h>
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

// A sparse matrix in big-ann-benchmarks' .spmat layout (little-endian): int64 nrow, ncol, nnz;
// int64 indptr[nrow + 1]; int32 indices[nnz]; float32 data[nnz]. CSR: row r's entries are
// indptr[r] .. indptr[r + 1] - 1. The filter track stores each base point's labels (and each
// query's required labels) as the column indices of its row.
struct SparseMatrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::vector<std::int64_t> indptr;   // rows + 1, indptr[0] = 0, non-decreasing, last = nnz
  std::vector<std::int32_t> indices;  // nnz, each in [0, cols)
  std::vector<float> data;            // nnz
  std::size_t nnz() const { return indices.size(); }
};

// Checks the file size against the header exactly (overflow-safe) before allocating, then
// indptr (starts at 0, non-decreasing, ends at nnz) and every index (0 <= index < ncol).
SparseMatrix read_spmat(const std::filesystem::path& path);

// Writes `matrix` in the same layout, after the same consistency checks (atomically: temporary
// file, then rename).
void write_spmat(const std::filesystem::path& path, const SparseMatrix& matrix);

// The rows' column indices as filter labels; a row listing an index twice is an error naming
// `source` (the .spmat file), the row and the index.
LabelCsr spmat_labels(const SparseMatrix& matrix, const std::filesystem::path& source);

// Any of the vector formats above, by file name: *.fvecs/*.bvecs/*.ivecs, *.npy,
// big-ann-benchmarks' *.fbin/*.u8bin/*.i8bin (bigann.h), and IDX for *-ubyte, *.idx* and *.gz
// names.
FloatMatrix read_vectors(const std::filesystem::path& path);

}  // namespace annbench
