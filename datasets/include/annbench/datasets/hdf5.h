#pragma once
// A small RAII layer over the HDF5 C API: just what ANN-Benchmarks files need (2-D numeric
// datasets, rank-1 integer vectors for annbench's label CSRs, and scalar root attributes). Every
// failure is an annbench::Error naming the file and the dataset or attribute; HDF5's own error
// printing is switched off.

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace annbench::h5 {

// What a dataset's stored type is, as far as the vector loaders care.
enum class StoredElement { kFloat, kUint8, kInt8, kWiderInteger, kOther };

class File {
 public:
  // Throws "cannot open 'PATH' as HDF5 (reason)" for missing or non-HDF5 files.
  static File open_read(const std::filesystem::path& path);
  static File open_read_write(const std::filesystem::path& path);
  // Creates the file, truncating any existing one.
  static File create(const std::filesystem::path& path);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::filesystem::path& path() const { return path_; }

  // `name` is a path from the root ("train", "group/data").
  bool has_dataset(std::string_view name) const;
  std::vector<std::size_t> shape(std::string_view name) const;

  // Rank-1 datasets read as n × 1, rank-2 as rows × cols; other ranks are errors. Any integer or
  // float storage type is converted by HDF5 straight into the returned buffer (no second copy).
  // max_rows > 0 reads only the first max_rows rows.
  FloatMatrix read_floats(std::string_view name, std::size_t max_rows = 0) const;
  Matrix<std::int32_t> read_ints(std::string_view name, std::size_t max_rows = 0) const;
  // Byte-wide vectors kept in their type (HDF5 still converts, clipping, from wider types).
  Matrix<std::uint8_t> read_uint8s(std::string_view name, std::size_t max_rows = 0) const;
  Matrix<std::int8_t> read_int8s(std::string_view name, std::size_t max_rows = 0) const;
  // The stored type of dataset `name` (an Error naming the file when it is absent).
  StoredElement stored_element(std::string_view name) const;
  // The file offset of dataset `name`'s data when it is one contiguous, unfiltered array of
  // little-endian float32 (so it can be memory-mapped as a matrix); nullopt otherwise.
  std::optional<std::uint64_t> contiguous_float32_offset(std::string_view name) const;

  // data: rows × cols, row-major. cols == 0 writes a 1-D dataset of `rows` values. An existing
  // dataset of that name is replaced.
  void write_floats(std::string_view name, const float* data, std::size_t rows, std::size_t cols);
  void write_ints(std::string_view name, const std::int32_t* data, std::size_t rows,
                  std::size_t cols);
  void write_uint8s(std::string_view name, const std::uint8_t* data, std::size_t rows,
                    std::size_t cols);
  void write_int8s(std::string_view name, const std::int8_t* data, std::size_t rows,
                   std::size_t cols);

  // Row blocks of a 2-D dataset, so that a matrix larger than memory is never held whole.
  // read_float_rows reads rows [first, first + count) of `name` (rank 2, or rank 1 read as n × 1)
  // into out (count × cols floats, row-major), converted by HDF5 from any numeric stored type; a
  // range past the last row is an Error naming file, dataset and range. create_floats makes an
  // empty rows × cols float32 dataset exactly as write_floats would (same type and properties,
  // so the finished file has the same bytes), replacing one of that name; write_float_rows then
  // fills rows [first, first + count) from data (count × cols). Rows not yet written read as
  // unspecified values.
  void read_float_rows(std::string_view name, std::size_t first, std::size_t count,
                       float* out) const;
  void create_floats(std::string_view name, std::size_t rows, std::size_t cols);
  void write_float_rows(std::string_view name, std::size_t first, std::size_t count,
                        const float* data);

  // Rank-1 integer datasets (CSR offsets and label lists). The stored type must be an integer
  // and the rank 1, else an Error naming file and dataset. max_length > 0 reads only the first
  // max_length entries. read_uint32s rejects stored values outside 0 .. 2^32 - 1 (naming the
  // position) instead of letting HDF5 clip them; read_int64s rejects stored uint64 values above
  // 2^63 - 1 the same way.
  std::vector<std::int64_t> read_int64s(std::string_view name, std::size_t max_length = 0) const;
  std::vector<std::uint32_t> read_uint32s(std::string_view name, std::size_t max_length = 0) const;
  // Writes a rank-1 dataset (little-endian int64 / uint32), replacing one of that name.
  void write_int64s(std::string_view name, const std::int64_t* data, std::size_t length);
  void write_uint32s(std::string_view name, const std::uint32_t* data, std::size_t length);

  // Removes a dataset if present (no error when absent).
  void remove_dataset(std::string_view name);

  // Root attributes, replacing any of the same name. Strings are variable-length UTF-8 (h5py
  // reads them as str); bools are h5py's numpy-bool enum (int8 FALSE = 0, TRUE = 1).
  void set_attribute(std::string_view name, std::string_view value);
  void set_attribute(std::string_view name, const char* value);
  void set_attribute(std::string_view name, double value);
  void set_attribute(std::string_view name, std::int64_t value);
  void set_attribute(std::string_view name, bool value);
  void set_attribute(std::string_view name, std::uint32_t value);  // stored as uint32
  // Removes a root attribute if present (no error when absent).
  void remove_attribute(std::string_view name);

  // nullopt when the attribute is absent; an Error when it exists with another type.
  std::optional<std::string> string_attribute(std::string_view name) const;  // var or fixed length
  std::optional<double> number_attribute(std::string_view name) const;       // numeric or bool enum
  std::vector<std::string> attribute_names() const;

  void flush();

 private:
  File(std::filesystem::path path, std::int64_t id) : path_(std::move(path)), id_(id) {}
  static File open_existing(const std::filesystem::path& path, bool writable);
  void close() noexcept;
  template <typename T>
  Matrix<T> read_matrix(std::string_view name, std::size_t max_rows) const;
  void write_matrix(std::string_view name, std::int64_t memory_type, const void* data,
                    std::size_t rows, std::size_t cols);
  std::int64_t open_attribute(std::string_view name) const;  // -1 when absent
  template <typename T>
  std::vector<T> read_vector(std::string_view name, std::size_t max_length) const;

  std::filesystem::path path_;
  std::int64_t id_ = -1;  // hid_t; kept as int64 so this header needs no HDF5 include
};

// Writes `final_path` all-or-nothing: `write` fills a temporary file in the same directory
// (".<name>.tmp-<pid>"), which is fsynced and renamed over final_path. If `write` throws, the
// temporary is removed, final_path is left as it was, and the exception propagates.
void write_atomically(const std::filesystem::path& final_path,
                      const std::function<void(const std::filesystem::path& temporary)>& write);

}  // namespace annbench::h5
