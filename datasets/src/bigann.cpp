// big-ann-benchmarks' .fbin / .u8bin / .i8bin vectors and their k-NN and range ground-truth
// files. Sizes are checked in 64-bit arithmetic with overflow detection before any allocation.

#include "binary_file.h"

#include <annbench/common/distance.h>
#include <annbench/datasets/bigann.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

namespace annbench {

static_assert(std::endian::native == std::endian::little,
              "the big-ann-benchmarks readers assume a little-endian machine");

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kChunkRows = 4096;
constexpr std::uint64_t kInt32Max =
    static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());

using detail::FilePtr;

FilePtr open_for_reading(const fs::path& path) {
  return detail::open_binary(path);
}

std::uint64_t size_of(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    ANNBENCH_FAIL("cannot read '{}': it is a directory", path.string());
  const std::uintmax_t size = fs::file_size(path, ec);
  if (ec) ANNBENCH_FAIL("cannot read '{}' ({})", path.string(), ec.message());
  return size;
}

// The two int32 of every header; a file shorter than that is an error.
std::pair<std::int32_t, std::int32_t> read_pair(std::FILE* file, const fs::path& path,
                                                std::uint64_t size) {
  std::int32_t header[2];
  ANNBENCH_CHECK(size >= sizeof header && std::fread(header, sizeof header, 1, file) == 1,
                 "'{}' has {} bytes, too short for the 8-byte header (two int32)", path.string(),
                 size);
  return {header[0], header[1]};
}

// a · b + c ... in uint64, or nullopt on overflow.
std::optional<std::uint64_t> multiply(std::uint64_t a, std::uint64_t b) {
  std::uint64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}
std::optional<std::uint64_t> add(std::optional<std::uint64_t> a, std::optional<std::uint64_t> b) {
  std::uint64_t out = 0;
  if (!a || !b || __builtin_add_overflow(*a, *b, &out)) return std::nullopt;
  return out;
}
std::string bytes_text(std::optional<std::uint64_t> bytes) {
  return bytes ? fmt::format("{}", *bytes) : std::string("more than 2^64");
}

template <typename T>
void read_values(std::FILE* file, T* out, std::size_t count, const fs::path& path,
                 std::string_view what) {
  if (count > 0 && std::fread(out, sizeof(T), count, file) != count) {
    ANNBENCH_FAIL("'{}': cannot read {} ({} values): {}", path.string(), what, count,
                  std::ferror(file) != 0 ? std::strerror(errno) : "file ended early");
  }
}

// Writes through a temporary file and renames; `fill` writes the bytes with `put`.
template <typename Fill>
void write_file(const fs::path& path, Fill fill) {
  h5::write_atomically(path, [&](const fs::path& temporary) {
    FilePtr file(std::fopen(temporary.c_str(), "wb"));
    if (!file) ANNBENCH_FAIL("cannot create '{}' ({})", temporary.string(), std::strerror(errno));
    const auto put = [&](const void* data, std::size_t bytes) {
      if (bytes > 0 && std::fwrite(data, 1, bytes, file.get()) != bytes)
        ANNBENCH_FAIL("cannot write '{}' ({})", temporary.string(), std::strerror(errno));
    };
    fill(put);
    if (std::fclose(file.release()) != 0)
      ANNBENCH_FAIL("cannot write '{}' ({})", temporary.string(), std::strerror(errno));
  });
}

void check_fits_int32(const fs::path& path, std::string_view what, std::size_t value) {
  ANNBENCH_CHECK(value <= kInt32Max, "cannot write '{}': {} {} does not fit the int32 header",
                 path.string(), what, value);
}

BinElement element_or_fail(const fs::path& path) {
  const std::optional<BinElement> element = bin_element_of(path);
  ANNBENCH_CHECK(element.has_value(),
                 "'{}': unknown big-ann-benchmarks vector file type '{}' (expected .fbin, .u8bin "
                 "or .i8bin)",
                 path.string(), path.extension().string());
  return *element;
}

// Converts `count` stored values into floats.
void to_float(BinElement element, const std::byte* source, std::size_t count, float* out) {
  switch (element) {
    case BinElement::Float32: std::memcpy(out, source, count * sizeof(float)); return;
    case BinElement::UInt8:
      for (std::size_t i = 0; i < count; ++i)
        out[i] = static_cast<float>(std::to_integer<std::uint8_t>(source[i]));
      return;
    case BinElement::Int8:
      for (std::size_t i = 0; i < count; ++i)
        out[i] =
            static_cast<float>(static_cast<std::int8_t>(std::to_integer<std::uint8_t>(source[i])));
      return;
  }
}

}  // namespace

std::string_view element_name(BinElement element) {
  switch (element) {
    case BinElement::Float32: return "float32";
    case BinElement::UInt8: return "uint8";
    case BinElement::Int8: return "int8";
  }
  return "unknown";
}

std::size_t element_size(BinElement element) {
  return element == BinElement::Float32 ? 4 : 1;
}

std::string_view element_extension(BinElement element) {
  switch (element) {
    case BinElement::Float32: return "fbin";
    case BinElement::UInt8: return "u8bin";
    case BinElement::Int8: return "i8bin";
  }
  return "unknown";
}

std::optional<BinElement> bin_element_of(const fs::path& path) {
  const std::string extension = path.extension().string();
  if (extension == ".fbin") return BinElement::Float32;
  if (extension == ".u8bin") return BinElement::UInt8;
  if (extension == ".i8bin") return BinElement::Int8;
  return std::nullopt;
}

BinHeader read_bin_header(const fs::path& path) {
  return read_bin_header(path, element_or_fail(path));
}

BinHeader read_bin_header(const fs::path& path, BinElement element) {
  const std::uint64_t size = size_of(path);
  const FilePtr file = open_for_reading(path);
  const auto [n, d] = read_pair(file.get(), path, size);
  ANNBENCH_CHECK(n > 0 && d > 0, "'{}': header says {} x {} {} (n and d must be positive)",
                 path.string(), n, d, element_name(element));
  const auto values = multiply(static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(d));
  const auto expected =
      values ? add(multiply(*values, element_size(element)), kBinHeaderBytes) : std::nullopt;
  ANNBENCH_CHECK(expected && *expected == size,
                 "'{}': header says {} x {} {} = {} bytes, the file has {}", path.string(), n, d,
                 element_name(element), bytes_text(expected), size);
  return {element, static_cast<std::size_t>(n), static_cast<std::size_t>(d)};
}

FloatMatrix read_bin_rows(const fs::path& path, std::size_t from, std::size_t count) {
  const BinHeader header = read_bin_header(path);
  ANNBENCH_CHECK(from <= header.rows && count <= header.rows - from,
                 "'{}' has {} rows; cannot read {} rows from row {}", path.string(), header.rows,
                 count, from);
  FloatMatrix out(count, header.dim);
  if (count == 0) return out;
  const FilePtr file = open_for_reading(path);
  const std::size_t offset = kBinHeaderBytes + from * header.row_bytes();
  ANNBENCH_CHECK(::fseeko(file.get(), static_cast<off_t>(offset), SEEK_SET) == 0,
                 "'{}': cannot seek to row {} ({})", path.string(), from, std::strerror(errno));
  if (header.element == BinElement::Float32) {
    read_values(file.get(), out.data(), out.size(), path, "vectors");
    return out;
  }
  std::vector<std::byte> chunk(std::min(count, kChunkRows) * header.row_bytes());
  for (std::size_t done = 0; done < count;) {
    const std::size_t rows = std::min(kChunkRows, count - done);
    read_values(file.get(), chunk.data(), rows * header.row_bytes(), path, "vectors");
    to_float(header.element, chunk.data(), rows * header.dim, out.row(done));
    done += rows;
  }
  return out;
}

FloatMatrix read_bin(const fs::path& path) {
  const BinHeader header = read_bin_header(path);
  // A large float32 file is mapped (its rows follow the 8-byte header exactly as in memory).
  if (header.element == BinElement::Float32 && header.rows * header.row_bytes() >= kMapTrainBytes) {
    FloatMatrix mapped = detail::map_floats(path, kBinHeaderBytes, header.rows, header.dim);
    if (!mapped.empty()) return mapped;
  }
  return read_bin_rows(path, 0, header.rows);
}

TypedMatrix read_bin_typed(const fs::path& path) {
  const BinHeader header = read_bin_header(path);
  TypedMatrix out{header.element, header.rows, header.dim, {}};
  out.bytes.resize(header.rows * header.row_bytes());
  const FilePtr file = open_for_reading(path);
  ANNBENCH_CHECK(std::fseek(file.get(), kBinHeaderBytes, SEEK_SET) == 0, "'{}': cannot seek",
                 path.string());
  read_values(file.get(), out.bytes.data(), out.bytes.size(), path, "vectors");
  return out;
}

void check_representable(BinElement element, MatrixView vectors, std::string_view where) {
  if (element == BinElement::Float32) return;
  const float low = element == BinElement::UInt8 ? 0 : -128;
  const float high = element == BinElement::UInt8 ? 255 : 127;
  for (std::size_t r = 0; r < vectors.rows; ++r) {
    for (std::size_t c = 0; c < vectors.dim; ++c) {
      const float value = vectors.row(r)[c];
      // NaN fails the range test.
      ANNBENCH_CHECK(value >= low && value <= high && std::nearbyint(value) == value,
                     "{} as {}: row {} column {} is {}, not an integer in {}..{}", where,
                     element_name(element), r, c, value, low, high);
    }
  }
}

void write_bin(const fs::path& path, BinElement element, MatrixView vectors) {
  check_fits_int32(path, "row count", vectors.rows);
  check_fits_int32(path, "dimension", vectors.dim);
  check_representable(element, vectors, fmt::format("cannot write '{}'", path.string()));
  const std::int32_t header[2] = {static_cast<std::int32_t>(vectors.rows),
                                  static_cast<std::int32_t>(vectors.dim)};
  write_file(path, [&](const auto& put) {
    put(header, sizeof header);
    if (element == BinElement::Float32) {
      put(vectors.data, vectors.rows * vectors.dim * sizeof(float));
      return;
    }
    std::vector<std::int8_t> row(vectors.dim);
    for (std::size_t r = 0; r < vectors.rows; ++r) {
      for (std::size_t c = 0; c < vectors.dim; ++c) {
        const float value = vectors.row(r)[c];
        row[c] = element == BinElement::UInt8
                     ? static_cast<std::int8_t>(static_cast<std::uint8_t>(value))
                     : static_cast<std::int8_t>(value);
      }
      put(row.data(), row.size());
    }
  });
}

void write_bin(const fs::path& path, const TypedMatrix& vectors) {
  check_fits_int32(path, "row count", vectors.rows);
  check_fits_int32(path, "dimension", vectors.dim);
  ANNBENCH_CHECK(vectors.bytes.size() == vectors.rows * vectors.dim * element_size(vectors.element),
                 "cannot write '{}': {} bytes for {} x {} {}", path.string(), vectors.bytes.size(),
                 vectors.rows, vectors.dim, element_name(vectors.element));
  const std::int32_t header[2] = {static_cast<std::int32_t>(vectors.rows),
                                  static_cast<std::int32_t>(vectors.dim)};
  write_file(path, [&](const auto& put) {
    put(header, sizeof header);
    put(vectors.bytes.data(), vectors.bytes.size());
  });
}

GroundTruth read_bin_ground_truth(const fs::path& path) {
  const std::uint64_t size = size_of(path);
  const FilePtr file = open_for_reading(path);
  const auto [nq, k] = read_pair(file.get(), path, size);
  ANNBENCH_CHECK(
      nq > 0 && k > 0,
      "'{}': ground-truth header says {} queries x {} neighbours (both must be positive)",
      path.string(), nq, k);
  const auto values = multiply(static_cast<std::uint64_t>(nq), static_cast<std::uint64_t>(k));
  const auto expected = values ? add(multiply(*values, 8), kBinHeaderBytes) : std::nullopt;
  ANNBENCH_CHECK(expected && *expected == size,
                 "'{}': ground-truth header says {} queries x {} neighbours = {} bytes (8 + "
                 "nq·k int32 ids + nq·k float32 distances), the file has {}",
                 path.string(), nq, k, bytes_text(expected), size);
  GroundTruth truth;
  truth.neighbors = IdMatrix(static_cast<std::size_t>(nq), static_cast<std::size_t>(k));
  truth.distances = FloatMatrix(static_cast<std::size_t>(nq), static_cast<std::size_t>(k));
  read_values(file.get(), truth.neighbors.data(), truth.neighbors.size(), path, "ids");
  read_values(file.get(), truth.distances.data(), truth.distances.size(), path, "distances");
  return truth;
}

void write_bin_ground_truth(const fs::path& path, const IdMatrix& neighbors,
                            const FloatMatrix& distances) {
  ANNBENCH_CHECK(neighbors.rows() == distances.rows() && neighbors.cols() == distances.cols(),
                 "cannot write '{}': neighbours are {} x {} but distances {} x {}", path.string(),
                 neighbors.rows(), neighbors.cols(), distances.rows(), distances.cols());
  check_fits_int32(path, "query count", neighbors.rows());
  check_fits_int32(path, "k", neighbors.cols());
  const std::int32_t header[2] = {static_cast<std::int32_t>(neighbors.rows()),
                                  static_cast<std::int32_t>(neighbors.cols())};
  write_file(path, [&](const auto& put) {
    put(header, sizeof header);
    put(neighbors.data(), neighbors.bytes());
    put(distances.data(), distances.bytes());
  });
}

RangeGroundTruth read_bin_range_ground_truth(const fs::path& path) {
  const std::uint64_t size = size_of(path);
  const FilePtr file = open_for_reading(path);
  const auto [nq, total] = read_pair(file.get(), path, size);
  ANNBENCH_CHECK(nq >= 0 && total >= 0,
                 "'{}': range ground-truth header says {} queries, {} results (negative)",
                 path.string(), nq, total);
  // Both fit int32, so this cannot overflow 64 bits.
  const std::uint64_t expected =
      kBinHeaderBytes + 4 * static_cast<std::uint64_t>(nq) + 8 * static_cast<std::uint64_t>(total);
  ANNBENCH_CHECK(expected == size,
                 "'{}': range ground-truth header says {} queries, {} results = {} bytes (8 + 4 "
                 "nq + 8 total), the file has {}",
                 path.string(), nq, total, expected, size);
  std::vector<std::int32_t> counts(static_cast<std::size_t>(nq));
  read_values(file.get(), counts.data(), counts.size(), path, "per-query counts");
  RangeGroundTruth truth;
  truth.lims.assign(counts.size() + 1, 0);
  for (std::size_t q = 0; q < counts.size(); ++q) {
    ANNBENCH_CHECK(counts[q] >= 0, "'{}': query {} has a result count of {}", path.string(), q,
                   counts[q]);
    truth.lims[q + 1] = truth.lims[q] + static_cast<std::size_t>(counts[q]);
  }
  ANNBENCH_CHECK(truth.lims.back() == static_cast<std::size_t>(total),
                 "'{}': the per-query counts sum to {} but the header says {} results",
                 path.string(), truth.lims.back(), total);
  truth.ids.resize(static_cast<std::size_t>(total));
  truth.distances.resize(static_cast<std::size_t>(total));
  read_values(file.get(), truth.ids.data(), truth.ids.size(), path, "ids");
  read_values(file.get(), truth.distances.data(), truth.distances.size(), path, "distances");
  return truth;
}

void write_bin_range_ground_truth(const fs::path& path, const RangeGroundTruth& truth) {
  ANNBENCH_CHECK(!truth.lims.empty() && truth.lims.front() == 0 &&
                     truth.ids.size() == truth.total() && truth.distances.size() == truth.total(),
                 "cannot write '{}': lims ({} entries, ending at {}), {} ids and {} distances "
                 "disagree",
                 path.string(), truth.lims.size(), truth.total(), truth.ids.size(),
                 truth.distances.size());
  check_fits_int32(path, "query count", truth.queries());
  check_fits_int32(path, "result count", truth.total());
  std::vector<std::int32_t> counts(truth.queries());
  for (std::size_t q = 0; q < counts.size(); ++q) {
    ANNBENCH_CHECK(truth.lims[q + 1] >= truth.lims[q],
                   "cannot write '{}': lims decrease at query {}", path.string(), q);
    counts[q] = static_cast<std::int32_t>(truth.lims[q + 1] - truth.lims[q]);
  }
  const std::int32_t header[2] = {static_cast<std::int32_t>(truth.queries()),
                                  static_cast<std::int32_t>(truth.total())};
  write_file(path, [&](const auto& put) {
    put(header, sizeof header);
    put(counts.data(), counts.size() * sizeof(std::int32_t));
    put(truth.ids.data(), truth.ids.size() * sizeof(std::int32_t));
    put(truth.distances.data(), truth.distances.size() * sizeof(float));
  });
}

namespace {

// Query count and ids of a ground-truth file against the vectors it describes.
void check_truth_ids(const fs::path& truth_file, std::size_t queries, const std::int32_t* ids,
                     std::size_t count, std::size_t per_query, MatrixView train,
                     const fs::path& train_file, MatrixView test, const fs::path& test_file) {
  ANNBENCH_CHECK(queries == test.rows,
                 "'{}' has ground truth for {} queries but '{}' has {} test vectors",
                 truth_file.string(), queries, test_file.string(), test.rows);
  for (std::size_t i = 0; i < count; ++i) {
    ANNBENCH_CHECK(ids[i] >= 0 && static_cast<std::size_t>(ids[i]) < train.rows,
                   "'{}': entry {} (query {}) is id {}, outside the {} train vectors of '{}'",
                   truth_file.string(), i, per_query > 0 ? i / per_query : 0, ids[i], train.rows,
                   train_file.string());
  }
}

}  // namespace

GroundTruth ground_truth_from_file(const fs::path& truth_file, MatrixView train,
                                   const fs::path& train_file, MatrixView test,
                                   const fs::path& test_file, Metric metric, std::size_t k) {
  ANNBENCH_CHECK(train.dim == test.dim, "'{}' has {}-d vectors but '{}' has {}-d ones",
                 train_file.string(), train.dim, test_file.string(), test.dim);
  GroundTruth stored = read_bin_ground_truth(truth_file);
  const std::size_t stored_k = stored.neighbors.cols();
  check_truth_ids(truth_file, stored.neighbors.rows(), stored.neighbors.data(),
                  stored.neighbors.size(), stored_k, train, train_file, test, test_file);
  ANNBENCH_CHECK(k <= stored_k, "'{}' holds {} neighbours per query; cannot keep {}",
                 truth_file.string(), stored_k, k);
  if (k == 0) k = stored_k;
  GroundTruth truth;
  truth.neighbors = IdMatrix(test.rows, k);
  truth.distances = FloatMatrix(test.rows, k);
  for (std::size_t q = 0; q < test.rows; ++q) {
    for (std::size_t j = 0; j < k; ++j) {
      const std::int32_t id = stored.neighbors(q, j);
      truth.neighbors(q, j) = id;
      truth.distances(q, j) = static_cast<float>(
          exact_distance(metric, test.row(q), train.row(static_cast<std::size_t>(id)), test.dim));
    }
  }
  return truth;
}

RangeGroundTruth range_ground_truth_from_file(const fs::path& truth_file, MatrixView train,
                                              const fs::path& train_file, MatrixView test,
                                              const fs::path& test_file, Metric metric,
                                              double radius) {
  ANNBENCH_CHECK(train.dim == test.dim, "'{}' has {}-d vectors but '{}' has {}-d ones",
                 train_file.string(), train.dim, test_file.string(), test.dim);
  ANNBENCH_CHECK(std::isfinite(radius), "range radius {} is not a finite number", radius);
  RangeGroundTruth truth = read_bin_range_ground_truth(truth_file);
  check_truth_ids(truth_file, truth.queries(), truth.ids.data(), truth.ids.size(), 0, train,
                  train_file, test, test_file);
  truth.radius = static_cast<float>(radius);
  // Float rounding in whoever computed the file (often in squared L2) may put a boundary point
  // a few ulps out; a real convention mismatch is far beyond this.
  const double allowed = truth.radius + 1e-4 * std::abs(truth.radius);
  std::vector<std::pair<float, std::int32_t>> results;
  for (std::size_t q = 0; q < truth.queries(); ++q) {
    results.clear();
    for (std::size_t i = truth.lims[q]; i < truth.lims[q + 1]; ++i) {
      const std::int32_t id = truth.ids[i];
      const double distance =
          exact_distance(metric, test.row(q), train.row(static_cast<std::size_t>(id)), test.dim);
      ANNBENCH_CHECK(distance <= allowed,
                     "'{}': query {} lists id {} at distance {} ({}), beyond the radius {}: "
                     "give the radius in annbench's metric (plain, not squared, L2 for "
                     "euclidean)",
                     truth_file.string(), q, id, distance, metric_name(metric), truth.radius);
      results.emplace_back(static_cast<float>(distance), id);
    }
    std::sort(results.begin(), results.end());
    const auto twice = std::adjacent_find(results.begin(), results.end(),
                                          [](auto& a, auto& b) { return a.second == b.second; });
    ANNBENCH_CHECK(twice == results.end(), "'{}': query {} lists id {} twice", truth_file.string(),
                   q, twice == results.end() ? 0 : twice->second);
    for (std::size_t j = 0; j < results.size(); ++j) {
      truth.distances[truth.lims[q] + j] = results[j].first;
      truth.ids[truth.lims[q] + j] = results[j].second;
    }
  }
  return truth;
}

}  // namespace annbench
