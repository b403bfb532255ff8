// Vector-file readers. They read straight into the result matrix (float32 data) or convert
// through a small chunk buffer, so a multi-gigabyte input never needs twice its size in memory.

#include "binary_file.h"

#include <annbench/datasets/bigann.h>
#include <annbench/datasets/convert.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace annbench {

static_assert(std::endian::native == std::endian::little,
              "the .vecs and .npy readers assume a little-endian machine");

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunkBytes = std::size_t{1} << 20;

std::size_t checked_multiply(std::size_t a, std::size_t b, const fs::path& path) {
  std::size_t product = 0;
  if (__builtin_mul_overflow(a, b, &product))
    ANNBENCH_FAIL("'{}': header sizes {} x {} overflow (corrupt header?)", path.string(), a, b);
  return product;
}

std::size_t file_size_of(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    ANNBENCH_FAIL("cannot read '{}': it is a directory", path.string());
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) ANNBENCH_FAIL("cannot read '{}' ({})", path.string(), ec.message());
  return static_cast<std::size_t>(size);
}

// Converts `count` values of type T starting at `source` into floats.
template <typename T>
void convert_to_float(const unsigned char* source, std::size_t count, float* out) {
  for (std::size_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, source + i * sizeof(T), sizeof(T));
    out[i] = static_cast<float>(value);
  }
}

// ---------------------------------------------------------------------------------------------
// IDX, through zlib: gzread passes uncompressed files through unchanged, so one path serves
// both the raw and the .gz files.

class GzReader {
 public:
  explicit GzReader(const fs::path& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (file_ == nullptr)
      ANNBENCH_FAIL("cannot open '{}' ({})", path.string(), std::strerror(errno));
  }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;
  ~GzReader() { gzclose(file_); }

  // Reads up to `size` bytes; fewer only at end of data.
  std::size_t read(void* out, std::size_t size) {
    std::size_t done = 0;
    while (done < size) {
      const unsigned request = static_cast<unsigned>(std::min<std::size_t>(size - done, 1u << 30));
      const int got = gzread(file_, static_cast<unsigned char*>(out) + done, request);
      if (got < 0) {
        int code = 0;
        ANNBENCH_FAIL("'{}': corrupt compressed data ({})", path_.string(), gzerror(file_, &code));
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }
  bool compressed() { return gzdirect(file_) == 0; }

 private:
  fs::path path_;
  gzFile file_;
};

std::uint32_t big_endian_u32(const unsigned char* bytes) {
  return std::uint32_t(bytes[0]) << 24 | std::uint32_t(bytes[1]) << 16 |
         std::uint32_t(bytes[2]) << 8 | std::uint32_t(bytes[3]);
}

struct IdxHeader {
  std::vector<std::size_t> dims;
  std::size_t data_bytes = 0;
};

// Reads magic and dimensions, and checks that the data they promise can be in this file.
IdxHeader read_idx_header(GzReader& reader, const fs::path& path, std::uint32_t expected_magic,
                          std::string_view what) {
  unsigned char magic_bytes[4];
  if (reader.read(magic_bytes, 4) != 4)
    ANNBENCH_FAIL("'{}' is too short for an IDX file", path.string());
  const std::uint32_t magic = big_endian_u32(magic_bytes);
  if (magic != expected_magic) {
    ANNBENCH_FAIL("'{}' has IDX magic 0x{:08x}, expected 0x{:08x} ({})", path.string(), magic,
                  expected_magic, what);
  }
  IdxHeader header;
  header.data_bytes = 1;
  for (unsigned i = 0; i < (magic & 0xff); ++i) {
    unsigned char bytes[4];
    if (reader.read(bytes, 4) != 4) ANNBENCH_FAIL("'{}': IDX header is truncated", path.string());
    header.dims.push_back(big_endian_u32(bytes));
    header.data_bytes = checked_multiply(header.data_bytes, header.dims.back(), path);
  }
  const std::size_t header_bytes = 4 + 4 * header.dims.size();
  const std::size_t on_disk = file_size_of(path);
  // Deflate cannot compress better than about 1032:1, which bounds what a .gz can hold.
  const std::size_t limit =
      reader.compressed() ? on_disk * 1032 + kChunkBytes : on_disk - header_bytes;
  if (header.data_bytes > limit) {
    ANNBENCH_FAIL(
        "'{}' is truncated or corrupt: its IDX header promises {} data bytes but the "
        "file {} {}",
        path.string(), header.data_bytes,
        reader.compressed() ? "can decompress to at most" : "has only", limit);
  }
  return header;
}

void expect_idx_end(GzReader& reader, const fs::path& path, std::size_t got, std::size_t wanted) {
  if (got != wanted) {
    ANNBENCH_FAIL("'{}' is truncated: {} of {} data bytes present", path.string(), got, wanted);
  }
  unsigned char extra;
  if (reader.read(&extra, 1) != 0)
    ANNBENCH_FAIL("'{}' has data past what its IDX header describes", path.string());
}

}  // namespace

FloatMatrix read_idx(const fs::path& path) {
  GzReader reader(path);
  const IdxHeader header = read_idx_header(reader, path, 0x00000803, "unsigned-byte images");
  FloatMatrix out(header.dims[0], header.dims[1] * header.dims[2]);
  std::vector<unsigned char> chunk(kChunkBytes);
  std::size_t done = 0;
  while (done < header.data_bytes) {
    const std::size_t want = std::min(chunk.size(), header.data_bytes - done);
    const std::size_t got = reader.read(chunk.data(), want);
    convert_to_float<std::uint8_t>(chunk.data(), got, out.data() + done);
    done += got;
    if (got < want) break;
  }
  expect_idx_end(reader, path, done, header.data_bytes);
  return out;
}

std::vector<std::int32_t> read_idx_labels(const fs::path& path) {
  GzReader reader(path);
  const IdxHeader header = read_idx_header(reader, path, 0x00000801, "unsigned-byte labels");
  std::vector<unsigned char> bytes(header.data_bytes);
  expect_idx_end(reader, path, reader.read(bytes.data(), bytes.size()), bytes.size());
  return {bytes.begin(), bytes.end()};
}

namespace {

// ---------------------------------------------------------------------------------------------
// TEXMEX .fvecs / .bvecs / .ivecs

using detail::FilePtr;
using detail::open_binary;

enum class VecsType { Float, Byte, Int };

}  // namespace

FloatMatrix read_vecs(const fs::path& path, std::size_t max_rows) {
  const std::string extension = path.extension().string();
  VecsType type;
  if (extension == ".fvecs") {
    type = VecsType::Float;
  } else if (extension == ".bvecs") {
    type = VecsType::Byte;
  } else if (extension == ".ivecs") {
    type = VecsType::Int;
  } else {
    ANNBENCH_FAIL("'{}': unknown vecs extension '{}' (expected .fvecs, .bvecs or .ivecs)",
                  path.string(), extension);
  }
  const std::size_t value_bytes = type == VecsType::Byte ? 1 : 4;
  const std::size_t size = file_size_of(path);
  FilePtr file = open_binary(path);

  std::int32_t dim = 0;
  if (size < sizeof dim || std::fread(&dim, sizeof dim, 1, file.get()) != 1)
    ANNBENCH_FAIL("'{}' is empty or truncated (no row header)", path.string());
  if (dim <= 0) ANNBENCH_FAIL("'{}': row 0 has dimension {} (corrupt file?)", path.string(), dim);
  const std::size_t cols = static_cast<std::size_t>(dim);
  const std::size_t row_bytes = 4 + checked_multiply(cols, value_bytes, path);
  if (row_bytes > size) {
    ANNBENCH_FAIL("'{}' is truncated: row 0 has dimension {} ({} bytes) but the file has {} bytes",
                  path.string(), dim, row_bytes, size);
  }
  const std::size_t whole_rows = size / row_bytes;
  const std::size_t rows = max_rows > 0 ? std::min(max_rows, whole_rows) : whole_rows;

  FloatMatrix out(rows, cols);
  std::vector<unsigned char> buffer(type == VecsType::Float ? 0 : row_bytes);
  for (std::size_t i = 0; i < rows; ++i) {
    std::int32_t row_dim = dim;
    if (i > 0 && std::fread(&row_dim, sizeof row_dim, 1, file.get()) != 1)
      ANNBENCH_FAIL("'{}': read error in row {}", path.string(), i);
    if (row_dim != dim) {
      ANNBENCH_FAIL("'{}': row {} has dimension {} but row 0 has {}", path.string(), i, row_dim,
                    dim);
    }
    bool ok;
    if (type == VecsType::Float) {
      ok = std::fread(out.row(i), 4, cols, file.get()) == cols;
    } else {
      ok = std::fread(buffer.data(), value_bytes, cols, file.get()) == cols;
      if (type == VecsType::Byte) {
        convert_to_float<std::uint8_t>(buffer.data(), cols, out.row(i));
      } else {
        convert_to_float<std::int32_t>(buffer.data(), cols, out.row(i));
      }
    }
    if (!ok) ANNBENCH_FAIL("'{}': read error in row {}", path.string(), i);
  }
  if (rows == whole_rows && size % row_bytes != 0) {
    // Either the next row header disagrees or the last row was cut off.
    std::int32_t next_dim = 0;
    if (size % row_bytes >= 4 && std::fread(&next_dim, sizeof next_dim, 1, file.get()) == 1 &&
        next_dim != dim) {
      ANNBENCH_FAIL("'{}': row {} has dimension {} but row 0 has {}", path.string(), rows, next_dim,
                    dim);
    }
    ANNBENCH_FAIL(
        "'{}' is truncated: {} trailing bytes after row {} (rows of dimension {} take "
        "{} bytes)",
        path.string(), size % row_bytes, rows - 1, dim, row_bytes);
  }
  return out;
}

namespace {

// ---------------------------------------------------------------------------------------------
// NumPy .npy: magic, version, header length, then a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }

std::optional<std::string_view> dict_value(std::string_view header, std::string_view key) {
  for (const char quote : {'\'', '"'}) {
    const std::string quoted = fmt::format("{}{}{}", quote, key, quote);
    std::size_t at = header.find(quoted);
    if (at == std::string_view::npos) continue;
    at = header.find(':', at + quoted.size());
    if (at == std::string_view::npos) return std::nullopt;
    at = header.find_first_not_of(' ', at + 1);
    if (at == std::string_view::npos) return std::nullopt;
    const char open = header[at];
    const char close = open == '(' ? ')' : open == '\'' || open == '"' ? open : '\0';
    const std::size_t end =
        close != '\0' ? header.find(close, at + 1) : header.find_first_of(",}", at);
    if (end == std::string_view::npos) return std::nullopt;
    if (close != '\0') return header.substr(at + 1, end - at - 1);
    const std::string_view bare = header.substr(at, end - at);  // True/False, maybe "False }"
    return bare.substr(0, bare.find_last_not_of(' ') + 1);
  }
  return std::nullopt;
}

std::vector<std::size_t> parse_shape(std::string_view text, const fs::path& path) {
  std::vector<std::size_t> shape;
  while (!text.empty()) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    item.remove_prefix(std::min(item.find_first_not_of(' '), item.size()));
    item = item.substr(0, item.find_last_not_of(' ') + 1);
    if (!item.empty()) {
      std::size_t value = 0;
      const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
      if (error != std::errc() || end != item.data() + item.size())
        ANNBENCH_FAIL("'{}': cannot parse the shape '({})' in the .npy header", path.string(),
                      text);
      shape.push_back(value);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return shape;
}

}  // namespace

FloatMatrix read_npy(const fs::path& path) {
  const std::size_t size = file_size_of(path);
  FilePtr file = open_binary(path);
  unsigned char prefix[10];
  if (size < 10 || std::fread(prefix, 1, 10, file.get()) != 10 ||
      std::memcmp(prefix, "\x93NUMPY", 6) != 0) {
    ANNBENCH_FAIL("'{}' is not a .npy file (wrong magic)", path.string());
  }
  const unsigned major = prefix[6];
  if (major < 1 || major > 3)
    ANNBENCH_FAIL("'{}': unsupported .npy format version {}.{}", path.string(), major, prefix[7]);
  std::size_t header_length = prefix[8] | std::size_t{prefix[9]} << 8;
  std::size_t header_start = 10;
  if (major >= 2) {
    unsigned char high[2];
    if (std::fread(high, 1, 2, file.get()) != 2) ANNBENCH_FAIL("'{}' is truncated", path.string());
    header_length |= std::size_t{high[0]} << 16 | std::size_t{high[1]} << 24;
    header_start = 12;
  }
  if (header_length > size - header_start)
    ANNBENCH_FAIL("'{}' is truncated inside its .npy header", path.string());
  std::string header(header_length, '\0');
  if (std::fread(header.data(), 1, header_length, file.get()) != header_length)
    ANNBENCH_FAIL("'{}': read error in the .npy header", path.string());

  const auto descr = dict_value(header, "descr");
  const auto fortran_order = dict_value(header, "fortran_order");
  const auto shape_text = dict_value(header, "shape");
  if (!descr || !fortran_order || !shape_text)
    ANNBENCH_FAIL("'{}': malformed .npy header '{}'", path.string(), header);
  if (*fortran_order != "False") {
    ANNBENCH_FAIL("'{}' is stored in Fortran order; save it C-ordered (numpy.ascontiguousarray)",
                  path.string());
  }
  const std::vector<std::size_t> shape = parse_shape(*shape_text, path);
  if (shape.size() != 2) {
    ANNBENCH_FAIL("'{}' holds an array of shape ({}); expected a 2-D array (rows, dim)",
                  path.string(), *shape_text);
  }
  std::size_t value_bytes = 0;
  if (*descr == "<f4" || *descr == "<i4") {
    value_bytes = 4;
  } else if (*descr == "<f8" || *descr == "<i8") {
    value_bytes = 8;
  } else if (*descr == "|u1" || *descr == "<u1") {
    value_bytes = 1;
  } else {
    ANNBENCH_FAIL("'{}' has dtype '{}'; supported: <f4, <f8, |u1, <i4, <i8", path.string(), *descr);
  }
  const std::size_t values = checked_multiply(shape[0], shape[1], path);
  const std::size_t data_bytes = checked_multiply(values, value_bytes, path);
  const std::size_t available = size - header_start - header_length;
  if (data_bytes != available) {
    ANNBENCH_FAIL("'{}' is {}: shape ({}) of {} needs {} data bytes, the file has {}",
                  path.string(),
                  data_bytes > available ? "truncated" : "longer than its header says", *shape_text,
                  *descr, data_bytes, available);
  }

  FloatMatrix out(shape[0], shape[1]);
  if (*descr == "<f4") {
    if (std::fread(out.data(), 4, values, file.get()) != values)
      ANNBENCH_FAIL("'{}': read error", path.string());
    return out;
  }
  std::vector<unsigned char> chunk(kChunkBytes);
  const std::size_t per_chunk = chunk.size() / value_bytes;
  for (std::size_t done = 0; done < values;) {
    const std::size_t count = std::min(per_chunk, values - done);
    if (std::fread(chunk.data(), value_bytes, count, file.get()) != count)
      ANNBENCH_FAIL("'{}': read error", path.string());
    float* target = out.data() + done;
    if (*descr == "<f8") {
      convert_to_float<double>(chunk.data(), count, target);
    } else if (*descr == "<i4") {
      convert_to_float<std::int32_t>(chunk.data(), count, target);
    } else if (*descr == "<i8") {
      convert_to_float<std::int64_t>(chunk.data(), count, target);
    } else {
      convert_to_float<std::uint8_t>(chunk.data(), count, target);
    }
    done += count;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// big-ann-benchmarks .spmat

namespace {

constexpr std::size_t kSpmatHeaderBytes = 3 * sizeof(std::int64_t);

// Header size + indptr + indices + data, or nullopt when it overflows.
std::optional<std::size_t> spmat_bytes(std::size_t rows, std::size_t nnz) {
  std::size_t indptr_bytes = 0;
  std::size_t entry_bytes = 0;
  std::size_t total = 0;
  if (__builtin_add_overflow(rows, 1, &indptr_bytes) ||
      __builtin_mul_overflow(indptr_bytes, sizeof(std::int64_t), &indptr_bytes) ||
      __builtin_mul_overflow(nnz, sizeof(std::int32_t) + sizeof(float), &entry_bytes) ||
      __builtin_add_overflow(indptr_bytes, entry_bytes, &total) ||
      __builtin_add_overflow(total, kSpmatHeaderBytes, &total)) {
    return std::nullopt;
  }
  return total;
}

// indptr and indices of a CSR with `rows` rows, `cols` columns; `where` starts each message.
void check_spmat(const SparseMatrix& m, std::string_view where) {
  ANNBENCH_CHECK(m.indptr.size() == m.rows + 1, "{}: indptr has {} entries for {} rows", where,
                 m.indptr.size(), m.rows);
  ANNBENCH_CHECK(m.data.size() == m.indices.size(), "{}: {} indices but {} data values", where,
                 m.indices.size(), m.data.size());
  ANNBENCH_CHECK(m.indptr[0] == 0, "{}: indptr[0] is {}, expected 0", where, m.indptr[0]);
  for (std::size_t r = 0; r < m.rows; ++r) {
    ANNBENCH_CHECK(m.indptr[r + 1] >= m.indptr[r], "{}: indptr decreases at row {} ({} then {})",
                   where, r, m.indptr[r], m.indptr[r + 1]);
  }
  ANNBENCH_CHECK(static_cast<std::uint64_t>(m.indptr[m.rows]) == m.indices.size(),
                 "{}: indptr ends at {} but nnz is {}", where, m.indptr[m.rows], m.indices.size());
  for (std::size_t r = 0; r < m.rows; ++r) {
    for (auto i = m.indptr[r]; i < m.indptr[r + 1]; ++i) {
      const std::int32_t index = m.indices[static_cast<std::size_t>(i)];
      ANNBENCH_CHECK(index >= 0 && static_cast<std::uint64_t>(index) < m.cols,
                     "{}: row {} has column index {}, outside 0..{} (ncol {})", where, r, index,
                     static_cast<std::int64_t>(m.cols) - 1, m.cols);
    }
  }
}

template <typename T>
void read_exactly(std::FILE* file, std::vector<T>& out, std::size_t count, const fs::path& path,
                  std::string_view what) {
  out.resize(count);
  if (count > 0 && std::fread(out.data(), sizeof(T), count, file) != count) {
    ANNBENCH_FAIL("'{}': cannot read {} ({} entries): {}", path.string(), what, count,
                  std::ferror(file) != 0 ? std::strerror(errno) : "file ended early");
  }
}

}  // namespace

SparseMatrix read_spmat(const fs::path& path) {
  const std::size_t size = file_size_of(path);
  ANNBENCH_CHECK(size >= kSpmatHeaderBytes,
                 "'{}' has {} bytes, too short for a .spmat header (nrow, ncol, nnz: {} bytes)",
                 path.string(), size, kSpmatHeaderBytes);
  const FilePtr file = open_binary(path);
  std::int64_t header[3];
  ANNBENCH_CHECK(std::fread(header, sizeof header, 1, file.get()) == 1,
                 "'{}': cannot read the .spmat header", path.string());
  const auto [nrow, ncol, nnz] = header;
  ANNBENCH_CHECK(nrow >= 0 && ncol >= 0 && nnz >= 0,
                 "'{}': .spmat header has nrow {}, ncol {}, nnz {} (negative)", path.string(), nrow,
                 ncol, nnz);
  const std::optional<std::size_t> expected =
      spmat_bytes(static_cast<std::size_t>(nrow), static_cast<std::size_t>(nnz));
  ANNBENCH_CHECK(expected.has_value() && *expected == size,
                 "'{}' has {} bytes but its .spmat header (nrow {}, ncol {}, nnz {}) needs {} "
                 "(24 + 8 (nrow + 1) + 8 nnz): truncated or not a .spmat file",
                 path.string(), size, nrow, ncol, nnz,
                 expected ? fmt::format("{}", *expected) : std::string("more than 2^64"));
  SparseMatrix m;
  m.rows = static_cast<std::size_t>(nrow);
  m.cols = static_cast<std::size_t>(ncol);
  read_exactly(file.get(), m.indptr, m.rows + 1, path, "indptr");
  read_exactly(file.get(), m.indices, static_cast<std::size_t>(nnz), path, "indices");
  read_exactly(file.get(), m.data, static_cast<std::size_t>(nnz), path, "data");
  check_spmat(m, fmt::format("'{}'", path.string()));
  return m;
}

void write_spmat(const fs::path& path, const SparseMatrix& matrix) {
  const std::string where = fmt::format("cannot write '{}'", path.string());
  check_spmat(matrix, where);
  const std::int64_t header[3] = {static_cast<std::int64_t>(matrix.rows),
                                  static_cast<std::int64_t>(matrix.cols),
                                  static_cast<std::int64_t>(matrix.nnz())};
  h5::write_atomically(path, [&](const fs::path& temporary) {
    FilePtr file(std::fopen(temporary.c_str(), "wb"));
    if (!file) ANNBENCH_FAIL("cannot create '{}' ({})", temporary.string(), std::strerror(errno));
    const auto put = [&](const void* data, std::size_t bytes) {
      if (bytes > 0 && std::fwrite(data, 1, bytes, file.get()) != bytes)
        ANNBENCH_FAIL("cannot write '{}' ({})", temporary.string(), std::strerror(errno));
    };
    put(header, sizeof header);
    put(matrix.indptr.data(), matrix.indptr.size() * sizeof(std::int64_t));
    put(matrix.indices.data(), matrix.indices.size() * sizeof(std::int32_t));
    put(matrix.data.data(), matrix.data.size() * sizeof(float));
    if (std::fclose(file.release()) != 0)
      ANNBENCH_FAIL("cannot write '{}' ({})", temporary.string(), std::strerror(errno));
  });
}

LabelCsr spmat_labels(const SparseMatrix& matrix, const fs::path& source) {
  check_spmat(matrix, fmt::format("'{}'", source.string()));
  ANNBENCH_CHECK(matrix.cols <= std::numeric_limits<std::uint32_t>::max(),
                 "'{}': ncol {} is too many labels (at most 2^32 - 1)", source.string(),
                 matrix.cols);
  LabelCsr csr;
  csr.indptr = matrix.indptr;
  csr.labels.assign(matrix.indices.begin(), matrix.indices.end());
  std::vector<std::uint32_t> sorted;
  for (std::size_t r = 0; r < csr.rows(); ++r) {
    const std::span<const std::uint32_t> row = csr.row(r);
    sorted.assign(row.begin(), row.end());
    std::sort(sorted.begin(), sorted.end());
    const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
    ANNBENCH_CHECK(twice == sorted.end(),
                   "'{}': row {} lists column {} twice (labels must be distinct per row)",
                   source.string(), r, twice == sorted.end() ? 0u : *twice);
  }
  return csr;
}

FloatMatrix read_vectors(const fs::path& path) {
  const std::string extension = path.extension().string();
  const std::string name = path.filename().string();
  if (extension == ".fvecs" || extension == ".bvecs" || extension == ".ivecs")
    return read_vecs(path);
  if (extension == ".npy") return read_npy(path);
  if (bin_element_of(path)) return read_bin(path);
  if (extension == ".gz" || name.find("-ubyte") != std::string::npos ||
      name.find(".idx") != std::string::npos) {
    return read_idx(path);
  }
  ANNBENCH_FAIL(
      "'{}': unknown vector file type (expected .fvecs, .bvecs, .ivecs, .npy, .fbin, .u8bin, "
      ".i8bin or an IDX file such as train-images-idx3-ubyte[.gz])",
      path.string());
}

}  // namespace annbench
