#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

namespace annbench::h5 {

static_assert(std::is_same_v<hid_t, std::int64_t>, "File keeps hid_t as std::int64_t");

namespace fs = std::filesystem;

namespace {

// HDF5 prints its error stack to stderr by default; we report through annbench::Error instead.
// Set on every open because the setting is per thread in thread-safe builds.
void silence_hdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

// The innermost description on HDF5's error stack: usually the most specific one ("file
// signature not found", "can't open directory", ...). Clears the stack.
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned, const H5E_error2_t* entry, void* out) -> herr_t {
        if (entry->desc != nullptr && entry->desc[0] != '\0')
          *static_cast<std::string*>(out) = entry->desc;
        return 0;
      },
      &reason);
  H5Eclear2(H5E_DEFAULT);
  return reason.empty() ? "HDF5 error" : reason;
}

// Owns one HDF5 identifier of any kind.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) closer_(id_);
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  Closer closer_;
};

std::string c_name(std::string_view name) {
  return std::string(name);
}

const char* class_name(H5T_class_t type_class) {
  switch (type_class) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_ENUM: return "enum";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array";
    case H5T_VLEN: return "variable-length";
    case H5T_OPAQUE: return "opaque";
    case H5T_BITFIELD: return "bitfield";
    case H5T_REFERENCE: return "reference";
    default: return "unknown";
  }
}

// An integer of type T from unaligned bytes in host order.
template <typename T>
double raw_integer(const unsigned char* bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof value);
  return static_cast<double>(value);
}

template <typename T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) {
    return H5T_NATIVE_FLOAT;
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return H5T_NATIVE_INT32;
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    return H5T_NATIVE_INT64;
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return H5T_NATIVE_UINT64;
  } else if constexpr (std::is_same_v<T, std::uint8_t>) {
    return H5T_NATIVE_UINT8;
  } else if constexpr (std::is_same_v<T, std::int8_t>) {
    return H5T_NATIVE_INT8;
  } else {
    static_assert(std::is_same_v<T, std::uint32_t>);
    return H5T_NATIVE_UINT32;
  }
}

template <typename T>
const char* type_name() {
  if constexpr (std::is_same_v<T, std::int64_t>) {
    return "int64";
  } else {
    static_assert(std::is_same_v<T, std::uint32_t>);
    return "uint32";
  }
}

// Opens dataset `name` of `file` (an identifier for H5Dclose), or throws naming the file.
hid_t open_dataset(hid_t file, const fs::path& path, std::string_view name) {
  const hid_t dataset = H5Dopen2(file, c_name(name).c_str(), H5P_DEFAULT);
  if (dataset < 0) {
    H5Eclear2(H5E_DEFAULT);
    ANNBENCH_FAIL("'{}' has no dataset '{}'", path.string(), name);
  }
  return dataset;
}

// Throws naming the dataset and the file unless it holds integers or floats.
void check_numeric(hid_t dataset, const fs::path& path, std::string_view name) {
  Handle type(H5Dget_type(dataset), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_INTEGER && type_class != H5T_FLOAT) {
    ANNBENCH_FAIL("dataset '{}' in '{}' holds {} values, expected numbers", name, path.string(),
                  class_name(type_class));
  }
}

// The shape comes from the file: before allocating or reading, check that rows x cols x
// element_bytes does not overflow (it wrapped to a tiny buffer that H5Dread then overran) and
// that the file really stores that much data (deflate expands at most ~1032:1), so a few corrupt
// bytes cannot ask for gigabytes.
void check_claimed_size(hid_t dataset, const hsize_t dims[2], std::size_t element_bytes,
                        const fs::path& path, std::string_view name) {
  std::size_t claimed_bytes = 0;
  if (__builtin_mul_overflow(dims[0], dims[1], &claimed_bytes) ||
      __builtin_mul_overflow(claimed_bytes, element_bytes, &claimed_bytes) ||
      claimed_bytes / 1032 > H5Dget_storage_size(dataset)) {
    H5Eclear2(H5E_DEFAULT);
    ANNBENCH_FAIL(
        "dataset '{}' in '{}' claims shape {} x {} but the file stores only {} bytes of it", name,
        path.string(), dims[0], dims[1], H5Dget_storage_size(dataset));
  }
}

// Reads entries [first, first + count) of a rank-1 dataset as `memory_type` into `out`.
bool read_entries(hid_t dataset, hid_t file_space, hid_t memory_type, hsize_t first, hsize_t count,
                  void* out) {
  const hsize_t start[1] = {first};
  const hsize_t size[1] = {count};
  Handle memory_space(H5Screate_simple(1, size, nullptr), H5Sclose);
  return H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, nullptr, size, nullptr) >= 0 &&
         H5Dread(dataset, memory_type, memory_space.get(), file_space, H5P_DEFAULT, out) >= 0;
}

}  // namespace

File File::open_existing(const fs::path& path, bool writable) {
  silence_hdf5();
  std::error_code ec;
  if (!fs::exists(path, ec))
    ANNBENCH_FAIL("cannot open '{}' as HDF5 (no such file)", path.string());
  if (fs::is_directory(path, ec))
    ANNBENCH_FAIL("cannot open '{}' as HDF5 (it is a directory)", path.string());
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  if (is_hdf5 == 0) ANNBENCH_FAIL("cannot open '{}' as HDF5 (not an HDF5 file)", path.string());
  if (is_hdf5 < 0) ANNBENCH_FAIL("cannot open '{}' as HDF5 ({})", path.string(), hdf5_reason());
  const hid_t id = H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) {
    ANNBENCH_FAIL("cannot open '{}' as HDF5{} ({})", path.string(), writable ? " for writing" : "",
                  hdf5_reason());
  }
  return File(path, id);
}

File File::open_read(const fs::path& path) {
  return open_existing(path, false);
}

File File::open_read_write(const fs::path& path) {
  return open_existing(path, true);
}

File File::create(const fs::path& path) {
  silence_hdf5();
  const hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (id < 0) ANNBENCH_FAIL("cannot create HDF5 file '{}' ({})", path.string(), hdf5_reason());
  return File(path, id);
}

File::File(File&& other) noexcept
    : path_(std::move(other.path_)), id_(std::exchange(other.id_, -1)) {}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    id_ = std::exchange(other.id_, -1);
  }
  return *this;
}

File::~File() {
  close();
}

void File::close() noexcept {
  if (id_ >= 0) H5Fclose(id_);
  id_ = -1;
}

bool File::has_dataset(std::string_view name) const {
  // Opening (rather than H5Lexists) also answers false for groups and for paths whose
  // intermediate groups are missing, where H5Lexists itself fails.
  Handle dataset(H5Dopen2(id_, c_name(name).c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) H5Eclear2(H5E_DEFAULT);
  return dataset.valid();
}

std::vector<std::size_t> File::shape(std::string_view name) const {
  Handle dataset(H5Dopen2(id_, c_name(name).c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) {
    H5Eclear2(H5E_DEFAULT);
    ANNBENCH_FAIL("'{}' has no dataset '{}'", path_.string(), name);
  }
  Handle space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = space.valid() ? H5Sget_simple_extent_ndims(space.get()) : -1;
  if (rank < 0)
    ANNBENCH_FAIL("cannot read the shape of dataset '{}' in '{}' ({})", name, path_.string(),
                  hdf5_reason());
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return {dims.begin(), dims.end()};
}

template <typename T>
Matrix<T> File::read_matrix(std::string_view name, std::size_t max_rows) const {
  Handle dataset(open_dataset(id_, path_, name), H5Dclose);
  check_numeric(dataset.get(), path_, name);
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  if (rank != 1 && rank != 2) {
    ANNBENCH_FAIL("dataset '{}' in '{}' has rank {}, expected a vector or a matrix", name,
                  path_.string(), rank);
  }
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(file_space.get(), dims, nullptr);
  check_claimed_size(dataset.get(), dims, std::max(H5Tget_size(type.get()), sizeof(T)), path_,
                     name);
  const std::size_t rows =
      max_rows > 0 && max_rows < dims[0] ? max_rows : static_cast<std::size_t>(dims[0]);
  Matrix<T> out(rows, dims[1]);
  if (out.empty()) return out;

  const hsize_t start[2] = {0, 0};
  const hsize_t count[2] = {rows, dims[1]};
  Handle memory_space(H5Screate_simple(rank, count, nullptr), H5Sclose);
  // HDF5 converts from the stored type (e.g. float64, int64) strip by strip through its own
  // small conversion buffer, writing straight into `out`.
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr) < 0 ||
      H5Dread(dataset.get(), native_type<T>(), memory_space.get(), file_space.get(), H5P_DEFAULT,
              out.data()) < 0) {
    ANNBENCH_FAIL("cannot read dataset '{}' from '{}' ({})", name, path_.string(), hdf5_reason());
  }
  return out;
}

FloatMatrix File::read_floats(std::string_view name, std::size_t max_rows) const {
  return read_matrix<float>(name, max_rows);
}

Matrix<std::int32_t> File::read_ints(std::string_view name, std::size_t max_rows) const {
  return read_matrix<std::int32_t>(name, max_rows);
}

Matrix<std::uint8_t> File::read_uint8s(std::string_view name, std::size_t max_rows) const {
  return read_matrix<std::uint8_t>(name, max_rows);
}

Matrix<std::int8_t> File::read_int8s(std::string_view name, std::size_t max_rows) const {
  return read_matrix<std::int8_t>(name, max_rows);
}

StoredElement File::stored_element(std::string_view name) const {
  Handle dataset(open_dataset(id_, path_, name), H5Dclose);
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  if (type_class == H5T_FLOAT) return StoredElement::kFloat;
  if (type_class == H5T_INTEGER && size == 1) {
    return H5Tget_sign(type.get()) == H5T_SGN_NONE ? StoredElement::kUint8 : StoredElement::kInt8;
  }
  if (type_class == H5T_INTEGER) return StoredElement::kWiderInteger;
  return StoredElement::kOther;
}

std::optional<std::uint64_t> File::contiguous_float32_offset(std::string_view name) const {
  Handle dataset(H5Dopen2(id_, c_name(name).c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  Handle properties(H5Dget_create_plist(dataset.get()), H5Pclose);
  // Only a plain little-endian float32 array stored in one piece, without filters, is the
  // file's bytes exactly as a row-major float matrix in memory.
  if (H5Tequal(type.get(), H5T_IEEE_F32LE) <= 0 ||
      H5Pget_layout(properties.get()) != H5D_CONTIGUOUS || H5Pget_nfilters(properties.get()) != 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  const haddr_t offset = H5Dget_offset(dataset.get());
  if (offset == HADDR_UNDEF) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(offset);
}

template <typename T>
std::vector<T> File::read_vector(std::string_view name, std::size_t max_length) const {
  Handle dataset(H5Dopen2(id_, c_name(name).c_str(), H5P_DEFAULT), H5Dclose);
  if (!dataset.valid()) {
    H5Eclear2(H5E_DEFAULT);
    ANNBENCH_FAIL("'{}' has no dataset '{}'", path_.string(), name);
  }
  Handle type(H5Dget_type(dataset.get()), H5Tclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  if (type_class != H5T_INTEGER) {
    ANNBENCH_FAIL("dataset '{}' in '{}' holds {} values, expected integers ({})", name,
                  path_.string(), class_name(type_class), type_name<T>());
  }
  Handle file_space(H5Dget_space(dataset.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(file_space.get());
  if (rank != 1) {
    ANNBENCH_FAIL("dataset '{}' in '{}' has rank {}, expected a vector (rank 1)", name,
                  path_.string(), rank);
  }
  hsize_t length = 0;
  H5Sget_simple_extent_dims(file_space.get(), &length, nullptr);
  const std::size_t stored_size = H5Tget_size(type.get());
  std::size_t claimed_bytes = 0;
  if (__builtin_mul_overflow(length, std::max(stored_size, sizeof(T)), &claimed_bytes) ||
      claimed_bytes / 1032 > H5Dget_storage_size(dataset.get())) {
    H5Eclear2(H5E_DEFAULT);
    ANNBENCH_FAIL("dataset '{}' in '{}' claims {} entries but the file stores only {} bytes of it",
                  name, path_.string(), length, H5Dget_storage_size(dataset.get()));
  }
  const std::size_t count =
      max_length > 0 && max_length < length ? max_length : static_cast<std::size_t>(length);
  std::vector<T> out(count);
  if (count == 0) return out;

  const bool is_signed = H5Tget_sign(type.get()) == H5T_SGN_2;
  // Types whose every value fits T are converted by HDF5 straight into `out`; the others go
  // through a chunk buffer wide enough for every stored value and are range-checked, because
  // HDF5 would clip an out-of-range value silently.
  const bool fits = std::is_same_v<T, std::int64_t> ? (is_signed || stored_size < 8)
                                                    : (!is_signed && stored_size <= 4);
  if (fits) {
    if (!read_entries(dataset.get(), file_space.get(), native_type<T>(), 0, count, out.data()))
      ANNBENCH_FAIL("cannot read dataset '{}' from '{}' ({})", name, path_.string(), hdf5_reason());
    return out;
  }
  constexpr std::size_t kChunk = std::size_t{1} << 16;
  const auto fail_range = [&](std::size_t at, auto value) {
    ANNBENCH_FAIL("dataset '{}' in '{}': entry {} is {}, outside the {} range", name,
                  path_.string(), at, value, type_name<T>());
  };
  auto convert = [&]<typename Wide>(Wide) {
    std::vector<Wide> buffer(std::min(kChunk, count));
    for (std::size_t first = 0; first < count; first += kChunk) {
      const std::size_t n = std::min(kChunk, count - first);
      if (!read_entries(dataset.get(), file_space.get(), native_type<Wide>(), first, n,
                        buffer.data()))
        ANNBENCH_FAIL("cannot read dataset '{}' from '{}' ({})", name, path_.string(),
                      hdf5_reason());
      for (std::size_t i = 0; i < n; ++i) {
        const Wide value = buffer[i];
        if constexpr (std::is_signed_v<Wide>) {
          if (value < 0 || static_cast<std::uint64_t>(value) >
                               static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            fail_range(first + i, value);
        } else {
          if (value > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            fail_range(first + i, value);
        }
        out[first + i] = static_cast<T>(value);
      }
    }
  };
  if (is_signed) {
    convert(std::int64_t{});
  } else {
    convert(std::uint64_t{});
  }
  return out;
}

std::vector<std::int64_t> File::read_int64s(std::string_view name, std::size_t max_length) const {
  return read_vector<std::int64_t>(name, max_length);
}

std::vector<std::uint32_t> File::read_uint32s(std::string_view name, std::size_t max_length) const {
  return read_vector<std::uint32_t>(name, max_length);
}

void File::write_int64s(std::string_view name, const std::int64_t* data, std::size_t length) {
  write_matrix(name, H5T_NATIVE_INT64, data, length, 0);
}

void File::write_uint32s(std::string_view name, const std::uint32_t* data, std::size_t length) {
  write_matrix(name, H5T_NATIVE_UINT32, data, length, 0);
}

void File::write_uint8s(std::string_view name, const std::uint8_t* data, std::size_t rows,
                        std::size_t cols) {
  write_matrix(name, H5T_NATIVE_UINT8, data, rows, cols);
}

void File::write_int8s(std::string_view name, const std::int8_t* data, std::size_t rows,
                       std::size_t cols) {
  write_matrix(name, H5T_NATIVE_INT8, data, rows, cols);
}

void File::remove_dataset(std::string_view name) {
  const std::string key = c_name(name);
  if (has_dataset(name) && H5Ldelete(id_, key.c_str(), H5P_DEFAULT) < 0)
    ANNBENCH_FAIL("cannot remove dataset '{}' from '{}' ({})", name, path_.string(), hdf5_reason());
  H5Eclear2(H5E_DEFAULT);
}

void File::write_matrix(std::string_view name, std::int64_t memory_type, const void* data,
                        std::size_t rows, std::size_t cols) {
  const std::string key = c_name(name);
  if (H5Lexists(id_, key.c_str(), H5P_DEFAULT) > 0 && H5Ldelete(id_, key.c_str(), H5P_DEFAULT) < 0)
    ANNBENCH_FAIL("cannot replace dataset '{}' in '{}' ({})", name, path_.string(), hdf5_reason());
  H5Eclear2(H5E_DEFAULT);

  const int rank = cols == 0 ? 1 : 2;
  const hsize_t dims[2] = {rows, cols};
  Handle space(H5Screate_simple(rank, dims, nullptr), H5Sclose);
  // Little-endian storage types, as numpy/h5py write on the machines everyone uses.
  hid_t file_type = H5T_STD_I32LE;
  if (memory_type == H5T_NATIVE_FLOAT) {
    file_type = H5T_IEEE_F32LE;
  } else if (memory_type == H5T_NATIVE_INT64) {
    file_type = H5T_STD_I64LE;
  } else if (memory_type == H5T_NATIVE_UINT32) {
    file_type = H5T_STD_U32LE;
  } else if (memory_type == H5T_NATIVE_UINT8) {
    file_type = H5T_STD_U8LE;
  } else if (memory_type == H5T_NATIVE_INT8) {
    file_type = H5T_STD_I8LE;
  }
  Handle link_properties(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(link_properties.get(), 1);
  // Without modification times, the same data written twice gives the same bytes (seeded
  // generators promise that, and a dataset's SHA-256 identifies it in every run).
  Handle create_properties(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(create_properties.get(), 0);
  Handle dataset(H5Dcreate2(id_, key.c_str(), file_type, space.get(), link_properties.get(),
                            create_properties.get(), H5P_DEFAULT),
                 H5Dclose);
  if (!dataset.valid())
    ANNBENCH_FAIL("cannot create dataset '{}' in '{}' ({})", name, path_.string(), hdf5_reason());
  // No data: create_floats, whose rows are written later by write_float_rows.
  if (data == nullptr || rows * (cols == 0 ? 1 : cols) == 0) return;
  if (H5Dwrite(dataset.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    ANNBENCH_FAIL("cannot write dataset '{}' to '{}' ({})", name, path_.string(), hdf5_reason());
}

void File::write_floats(std::string_view name, const float* data, std::size_t rows,
                        std::size_t cols) {
  write_matrix(name, H5T_NATIVE_FLOAT, data, rows, cols);
}

void File::write_ints(std::string_view name, const std::int32_t* data, std::size_t rows,
                      std::size_t cols) {
  write_matrix(name, H5T_NATIVE_INT32, data, rows, cols);
}

namespace {

// Rows [first, first + count) of a rank-1 or rank-2 numeric dataset, opened and selected for one
// H5Dread or H5Dwrite; every check failing is an Error naming the file, the dataset and the rows.
class RowSelection {
 public:
  RowSelection(hid_t file, const fs::path& path, std::string_view name, std::size_t first,
               std::size_t count, bool reading)
      : dataset_(open_dataset(file, path, name), H5Dclose),
        file_space_(H5Dget_space(dataset_.get()), H5Sclose) {
    check_numeric(dataset_.get(), path, name);
    Handle type(H5Dget_type(dataset_.get()), H5Tclose);
    const int rank = H5Sget_simple_extent_ndims(file_space_.get());
    if (rank != 1 && rank != 2) {
      ANNBENCH_FAIL("dataset '{}' in '{}' has rank {}, expected a vector or a matrix", name,
                    path.string(), rank);
    }
    hsize_t dims[2] = {0, 1};
    H5Sget_simple_extent_dims(file_space_.get(), dims, nullptr);
    cols_ = static_cast<std::size_t>(dims[1]);
    if (first > dims[0] || count > dims[0] - first) {
      ANNBENCH_FAIL("rows {} to {} of dataset '{}' in '{}' are out of range: it has {} rows", first,
                    first + count, name, path.string(), dims[0]);
    }
    // A corrupt shape must not make a caller walk through rows that the file does not hold (a
    // write may come before the storage is allocated, so only reads check).
    if (reading) check_claimed_size(dataset_.get(), dims, H5Tget_size(type.get()), path, name);
    if (count == 0) return;
    const hsize_t start[2] = {first, 0};
    const hsize_t size[2] = {count, dims[1]};
    memory_space_.emplace(H5Screate_simple(rank, size, nullptr), H5Sclose);
    if (H5Sselect_hyperslab(file_space_.get(), H5S_SELECT_SET, start, nullptr, size, nullptr) < 0) {
      ANNBENCH_FAIL("cannot select rows {} to {} of dataset '{}' in '{}' ({})", first,
                    first + count, name, path.string(), hdf5_reason());
    }
  }

  std::size_t cols() const { return cols_; }
  bool empty() const { return !memory_space_.has_value(); }
  hid_t dataset() const { return dataset_.get(); }
  hid_t file_space() const { return file_space_.get(); }
  hid_t memory_space() const { return memory_space_->get(); }

 private:
  Handle dataset_;
  Handle file_space_;
  std::optional<Handle> memory_space_;
  std::size_t cols_ = 1;
};

}  // namespace

void File::read_float_rows(std::string_view name, std::size_t first, std::size_t count,
                           float* out) const {
  const RowSelection rows(id_, path_, name, first, count, true);
  if (rows.empty()) return;
  if (H5Dread(rows.dataset(), H5T_NATIVE_FLOAT, rows.memory_space(), rows.file_space(), H5P_DEFAULT,
              out) < 0) {
    ANNBENCH_FAIL("cannot read rows {} to {} of dataset '{}' from '{}' ({})", first, first + count,
                  name, path_.string(), hdf5_reason());
  }
}

void File::create_floats(std::string_view name, std::size_t rows, std::size_t cols) {
  write_matrix(name, H5T_NATIVE_FLOAT, nullptr, rows, cols);
}

void File::write_float_rows(std::string_view name, std::size_t first, std::size_t count,
                            const float* data) {
  const RowSelection rows(id_, path_, name, first, count, false);
  if (rows.empty()) return;
  if (H5Dwrite(rows.dataset(), H5T_NATIVE_FLOAT, rows.memory_space(), rows.file_space(),
               H5P_DEFAULT, data) < 0) {
    ANNBENCH_FAIL("cannot write rows {} to {} of dataset '{}' to '{}' ({})", first, first + count,
                  name, path_.string(), hdf5_reason());
  }
}

std::int64_t File::open_attribute(std::string_view name) const {
  const std::string key = c_name(name);
  const htri_t exists = H5Aexists(id_, key.c_str());
  if (exists < 0)
    ANNBENCH_FAIL("cannot look up attribute '{}' of '{}' ({})", name, path_.string(),
                  hdf5_reason());
  if (exists == 0) return -1;
  const hid_t attribute = H5Aopen(id_, key.c_str(), H5P_DEFAULT);
  if (attribute < 0)
    ANNBENCH_FAIL("cannot open attribute '{}' of '{}' ({})", name, path_.string(), hdf5_reason());
  return attribute;
}

void File::remove_attribute(std::string_view name) {
  const std::string key = c_name(name);
  if (H5Aexists(id_, key.c_str()) > 0 && H5Adelete(id_, key.c_str()) < 0)
    ANNBENCH_FAIL("cannot replace attribute '{}' of '{}' ({})", name, path_.string(),
                  hdf5_reason());
  H5Eclear2(H5E_DEFAULT);
}

namespace {

// Creates a scalar root attribute of `file_type` and writes `value` (in `memory_type`).
void write_scalar_attribute(hid_t file, const fs::path& path, std::string_view name,
                            hid_t file_type, hid_t memory_type, const void* value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attribute(
      H5Acreate2(file, c_name(name).c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  if (!attribute.valid() || H5Awrite(attribute.get(), memory_type, value) < 0)
    ANNBENCH_FAIL("cannot write attribute '{}' to '{}' ({})", name, path.string(), hdf5_reason());
}

}  // namespace

void File::set_attribute(std::string_view name, std::string_view value) {
  remove_attribute(name);
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), H5T_VARIABLE);
  H5Tset_cset(type.get(), H5T_CSET_UTF8);
  const std::string text(value);
  const char* pointer = text.c_str();
  write_scalar_attribute(id_, path_, name, type.get(), type.get(), &pointer);
}

void File::set_attribute(std::string_view name, const char* value) {
  set_attribute(name, std::string_view(value));
}

void File::set_attribute(std::string_view name, double value) {
  remove_attribute(name);
  write_scalar_attribute(id_, path_, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void File::set_attribute(std::string_view name, std::int64_t value) {
  remove_attribute(name);
  write_scalar_attribute(id_, path_, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void File::set_attribute(std::string_view name, bool value) {
  remove_attribute(name);
  // numpy has no HDF5 bool; h5py stores numpy.bool_ as this enum and reads it back as one.
  Handle type(H5Tenum_create(H5T_STD_I8LE), H5Tclose);
  const std::int8_t false_value = 0;
  const std::int8_t true_value = 1;
  H5Tenum_insert(type.get(), "FALSE", &false_value);
  H5Tenum_insert(type.get(), "TRUE", &true_value);
  const std::int8_t stored = value ? 1 : 0;
  write_scalar_attribute(id_, path_, name, type.get(), type.get(), &stored);
}

void File::set_attribute(std::string_view name, std::uint32_t value) {
  remove_attribute(name);
  write_scalar_attribute(id_, path_, name, H5T_STD_U32LE, H5T_NATIVE_UINT32, &value);
}

std::optional<std::string> File::string_attribute(std::string_view name) const {
  Handle attribute(open_attribute(name), H5Aclose);
  if (!attribute.valid()) return std::nullopt;
  Handle type(H5Aget_type(attribute.get()), H5Tclose);
  Handle space(H5Aget_space(attribute.get()), H5Sclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Sget_simple_extent_npoints(space.get()) != 1) {
    ANNBENCH_FAIL("attribute '{}' of '{}' is not a single string (it holds {} values)", name,
                  path_.string(), class_name(H5Tget_class(type.get())));
  }
  std::string value;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle memory_type(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memory_type.get(), H5T_VARIABLE);
    H5Tset_cset(memory_type.get(), H5Tget_cset(type.get()));
    char* text = nullptr;
    if (H5Aread(attribute.get(), memory_type.get(), &text) < 0)
      ANNBENCH_FAIL("cannot read attribute '{}' of '{}' ({})", name, path_.string(), hdf5_reason());
    if (text != nullptr) value = text;
    H5free_memory(text);
  } else {
    // Fixed-length: numpy bytes (h5py's `np.bytes_`), often null-padded rather than terminated.
    value.resize(H5Tget_size(type.get()));
    if (H5Aread(attribute.get(), type.get(), value.data()) < 0)
      ANNBENCH_FAIL("cannot read attribute '{}' of '{}' ({})", name, path_.string(), hdf5_reason());
    value.resize(std::strlen(value.c_str()));
    if (H5Tget_strpad(type.get()) == H5T_STR_SPACEPAD) {
      while (!value.empty() && value.back() == ' ') value.pop_back();
    }
  }
  return value;
}

std::optional<double> File::number_attribute(std::string_view name) const {
  Handle attribute(open_attribute(name), H5Aclose);
  if (!attribute.valid()) return std::nullopt;
  Handle type(H5Aget_type(attribute.get()), H5Tclose);
  Handle space(H5Aget_space(attribute.get()), H5Sclose);
  const H5T_class_t type_class = H5Tget_class(type.get());
  const bool numeric = type_class == H5T_INTEGER || type_class == H5T_FLOAT;
  if ((!numeric && type_class != H5T_ENUM) || H5Sget_simple_extent_npoints(space.get()) != 1) {
    ANNBENCH_FAIL("attribute '{}' of '{}' is not a single number (it holds {} values)", name,
                  path_.string(), class_name(type_class));
  }
  if (numeric) {
    double value = 0;
    if (H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value) < 0)
      ANNBENCH_FAIL("cannot read attribute '{}' of '{}' ({})", name, path_.string(), hdf5_reason());
    return value;
  }
  // HDF5 converts enums only to other enums, so read the raw base integer (bools: 0 or 1).
  Handle base(H5Tget_super(type.get()), H5Tclose);
  Handle memory_type(H5Tget_native_type(type.get(), H5T_DIR_ASCEND), H5Tclose);
  const std::size_t size = H5Tget_size(memory_type.get());
  unsigned char raw[8] = {};
  if (size > sizeof raw || H5Aread(attribute.get(), memory_type.get(), raw) < 0)
    ANNBENCH_FAIL("cannot read attribute '{}' of '{}' ({})", name, path_.string(), hdf5_reason());
  const bool is_signed = H5Tget_sign(base.get()) == H5T_SGN_2;
  switch (size) {
    case 1: return is_signed ? raw_integer<std::int8_t>(raw) : raw_integer<std::uint8_t>(raw);
    case 2: return is_signed ? raw_integer<std::int16_t>(raw) : raw_integer<std::uint16_t>(raw);
    case 4: return is_signed ? raw_integer<std::int32_t>(raw) : raw_integer<std::uint32_t>(raw);
    default: return is_signed ? raw_integer<std::int64_t>(raw) : raw_integer<std::uint64_t>(raw);
  }
}

std::vector<std::string> File::attribute_names() const {
  std::vector<std::string> names;
  const herr_t status = H5Aiterate2(
      id_, H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* out) -> herr_t {
        static_cast<std::vector<std::string>*>(out)->emplace_back(name);
        return 0;
      },
      &names);
  if (status < 0)
    ANNBENCH_FAIL("cannot list the attributes of '{}' ({})", path_.string(), hdf5_reason());
  return names;
}

void File::flush() {
  if (H5Fflush(id_, H5F_SCOPE_LOCAL) < 0)
    ANNBENCH_FAIL("cannot flush '{}' ({})", path_.string(), hdf5_reason());
}

namespace {

// Data must be on disk before the rename makes it visible, or a crash could leave an empty or
// partial file under the final name.
void fsync_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    ANNBENCH_FAIL("cannot open '{}' to sync it ({})", path.string(), std::strerror(errno));
  const int status = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  if (status != 0)
    ANNBENCH_FAIL("cannot sync '{}' to disk ({})", path.string(), std::strerror(saved_errno));
}

// Makes the rename itself durable. Best effort: some filesystems refuse fsync on directories,
// and the new file is complete either way.
void fsync_directory(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_atomically(const fs::path& final_path,
                      const std::function<void(const fs::path& temporary)>& write) {
  ANNBENCH_CHECK(!final_path.filename().empty(), "cannot write '{}': not a file name",
                 final_path.string());
  const fs::path directory = final_path.has_parent_path() ? final_path.parent_path() : ".";
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) {
    ANNBENCH_FAIL("cannot write '{}': directory '{}' does not exist", final_path.string(),
                  directory.string());
  }
  if (::access(directory.c_str(), W_OK) != 0) {
    ANNBENCH_FAIL("cannot write '{}': directory '{}' is not writable ({})", final_path.string(),
                  directory.string(), std::strerror(errno));
  }
  const fs::path temporary =
      directory / fmt::format(".{}.tmp-{}", final_path.filename().string(), ::getpid());
  try {
    write(temporary);
    fsync_file(temporary);
    fs::rename(temporary, final_path, ec);
    if (ec) {
      ANNBENCH_FAIL("cannot rename '{}' to '{}' ({})", temporary.string(), final_path.string(),
                    ec.message());
    }
  } catch (...) {
    fs::remove(temporary, ec);
    throw;
  }
  fsync_directory(directory);
}

}  // namespace annbench::h5
