#pragma once
// big-ann-benchmarks' binary files (benchmark/dataset_io.py), all little-endian:
//   vectors  .fbin (float32), .u8bin (uint8), .i8bin (int8): int32 n, int32 d, then n × d
//            values, row-major. The file size must be exactly 8 + n·d·itemsize.
//   k-NN ground truth ("GT" files: GT.public.ibin, *_gt100, GT_10M/<name>-10M): int32 nq,
//            int32 k, then nq × k int32 ids, then nq × k float32 distances; size 8 + 8·nq·k.
//   range ground truth (SSNPP): int32 nq, int32 total, int32 count[nq] (results per query,
//            summing to total), int32 ids[total], float32 distances[total].
// Every reader checks the header against the file size before allocating anything; a bad file is
// an annbench::Error naming it and the numbers (header, expected and actual bytes).

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

namespace annbench {

enum class BinElement { Float32, UInt8, Int8 };

// "float32", "uint8", "int8".
std::string_view element_name(BinElement element);
// Bytes per value: 4 or 1.
std::size_t element_size(BinElement element);
// "fbin", "u8bin", "i8bin" (the extension, without the dot).
std::string_view element_extension(BinElement element);
// The element type named by a file's extension (.fbin, .u8bin, .i8bin), or nullopt.
std::optional<BinElement> bin_element_of(const std::filesystem::path& path);

// What a vector file's header says, after the exact size check. Row r starts at byte
// kBinHeaderBytes + r · row_bytes() (what a memory mapping needs).
inline constexpr std::size_t kBinHeaderBytes = 8;
struct BinHeader {
  BinElement element = BinElement::Float32;
  std::size_t rows = 0;
  std::size_t dim = 0;
  std::size_t row_bytes() const { return dim * element_size(element); }
};

// Header only (element type from the extension). Errors: unknown extension, file shorter than
// the header, n or d <= 0, size != 8 + n·d·itemsize (computed without overflow).
BinHeader read_bin_header(const std::filesystem::path& path);
// The same for a file whose name does not say its element type (e.g. a download in progress).
BinHeader read_bin_header(const std::filesystem::path& path, BinElement element);

// Rows [from, from + count) as float32 (uint8 / int8 converted exactly), count × d. Reads only
// those rows, so a file much larger than memory can be streamed in slices. from + count beyond
// n is an error naming the numbers.
FloatMatrix read_bin_rows(const std::filesystem::path& path, std::size_t from, std::size_t count);

// Every row as float32, n × d.
FloatMatrix read_bin(const std::filesystem::path& path);

// Rows kept in their stored element type: `bytes` holds rows × dim values of `element`,
// row-major, exactly as in the file (for code that works on native uint8 / int8 vectors).
struct TypedMatrix {
  BinElement element = BinElement::Float32;
  std::size_t rows = 0;
  std::size_t dim = 0;
  std::vector<std::byte> bytes;  // rows · dim · element_size(element)
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes.data());
  }
};
TypedMatrix read_bin_typed(const std::filesystem::path& path);

// Throws unless every value of `vectors` can be stored as `element` exactly: for uint8 / int8 an
// integer within the type's range. The error names `where`, the first bad row, column and value.
void check_representable(BinElement element, MatrixView vectors, std::string_view where);

// Writes `vectors` (n × d float32) as `element` (atomically: temporary file, then rename). For
// uint8 / int8 every value must be an integer within the type's range; the first that is not is
// an error naming the file, its row, column and value. n and d must fit int32.
void write_bin(const std::filesystem::path& path, BinElement element, MatrixView vectors);
// Writes stored bytes as they are.
void write_bin(const std::filesystem::path& path, const TypedMatrix& vectors);

// k-NN ground truth file: neighbors (nq × k ids) and distances (nq × k, whatever the writer
// used: big-ann-benchmarks' own files hold squared L2 for euclidean sets).
GroundTruth read_bin_ground_truth(const std::filesystem::path& path);
// neighbors and distances must have the same shape, fitting int32 (atomic write).
void write_bin_ground_truth(const std::filesystem::path& path, const IdMatrix& neighbors,
                            const FloatMatrix& distances);

// Range ground truth file, as RangeGroundTruth's CSR (lims[q + 1] - lims[q] = count[q]). The file
// does not store the radius: the result's radius is 0. Errors: negative nq / total / count, counts
// not summing to total, size != 8 + 4·nq + 8·total.
RangeGroundTruth read_bin_range_ground_truth(const std::filesystem::path& path);
// Writes truth.lims as per-query counts (atomic write); everything must fit int32.
void write_bin_range_ground_truth(const std::filesystem::path& path, const RangeGroundTruth& truth);

// Ground truth taken from files instead of computed, for `train` (read from train_file) and
// `test` (from test_file); the file names only serve the error messages. The query count must
// equal test.rows and every id must be in [0, train.rows). Distances are recomputed with
// exact_distance in `metric` (the files' own are squared L2 or inner products for big-ann sets).
//  - k-NN: the file's order is kept; k > 0 keeps the first k columns (k above the file's is an
//    error).
//  - range: per query sorted by (distance, id); radius is rounded to float (what modules get);
//    a result farther than the radius (beyond float rounding) is an error that names it, since
//    it usually means a radius in another convention (big-ann's SSNPP radius is squared L2).
GroundTruth ground_truth_from_file(const std::filesystem::path& truth_file, MatrixView train,
                                   const std::filesystem::path& train_file, MatrixView test,
                                   const std::filesystem::path& test_file, Metric metric,
                                   std::size_t k = 0);
RangeGroundTruth range_ground_truth_from_file(const std::filesystem::path& truth_file,
                                              MatrixView train,
                                              const std::filesystem::path& train_file,
                                              MatrixView test,
                                              const std::filesystem::path& test_file, Metric metric,
                                              double radius);

}  // namespace annbench
