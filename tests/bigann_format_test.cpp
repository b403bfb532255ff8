// big-ann-benchmarks binary formats (bigann.h): vectors, k-NN and range ground truth.

#include <annbench/common/distance.h>
#include <annbench/datasets/bigann.h>
#include <annbench/datasets/convert.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using Bytes = std::string;

template <typename T>
void append(Bytes& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

Bytes header(std::int32_t a, std::int32_t b) {
  Bytes out;
  append(out, a);
  append(out, b);
  return out;
}

// Values each element type holds exactly: every uint8 / int8 value occurs for dim 97.
FloatMatrix sample(BinElement element, std::size_t rows, std::size_t dim) {
  FloatMatrix m(rows, dim);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < dim; ++j) {
      const int v = static_cast<int>((i * 97 + j * 13) % 256);
      switch (element) {
        case BinElement::UInt8: m(i, j) = static_cast<float>(v); break;
        case BinElement::Int8: m(i, j) = static_cast<float>(v - 128); break;
        case BinElement::Float32:
          m(i, j) = static_cast<float>(v) * 0.37f - static_cast<float>(j) * 1.5e-3f;
          break;
      }
    }
  }
  return m;
}

class BigAnnFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-bigann-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const Bytes& content) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  Bytes contents(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  template <typename Action>
  std::string error_of(Action action) {
    try {
      action();
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

void expect_equal(const FloatMatrix& a, const FloatMatrix& b) {
  ASSERT_EQ(a.rows(), b.rows());
  ASSERT_EQ(a.cols(), b.cols());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.bytes()), 0);
}

TEST_F(BigAnnFormatTest, EveryFormatRoundTripsWithOddDimensions) {
  for (const BinElement element : {BinElement::Float32, BinElement::UInt8, BinElement::Int8}) {
    for (const std::size_t dim : {1u, 3u, 97u}) {
      SCOPED_TRACE(fmt::format("{} dim {}", element_name(element), dim));
      const std::size_t rows = 7;
      const FloatMatrix m = sample(element, rows, dim);
      const fs::path path = dir_ / fmt::format("v{}.{}", dim, element_extension(element));
      write_bin(path, element, m.view());
      const Bytes bytes = contents(path);
      ASSERT_EQ(bytes.size(), 8 + rows * dim * element_size(element));
      EXPECT_EQ(bytes.substr(0, 8), header(7, static_cast<std::int32_t>(dim)));
      const BinHeader h = read_bin_header(path);
      EXPECT_EQ(h.element, element);
      EXPECT_EQ(h.rows, rows);
      EXPECT_EQ(h.dim, dim);
      EXPECT_EQ(h.row_bytes(), dim * element_size(element));
      expect_equal(read_bin(path), m);
      expect_equal(read_vectors(path), m);  // the generic reader dispatches by extension
      const TypedMatrix typed = read_bin_typed(path);
      EXPECT_EQ(typed.element, element);
      EXPECT_EQ(typed.rows, rows);
      EXPECT_EQ(typed.dim, dim);
      ASSERT_EQ(typed.bytes.size(), bytes.size() - 8);
      EXPECT_EQ(std::memcmp(typed.bytes.data(), bytes.data() + 8, typed.bytes.size()), 0);
      // Writing the typed rows back gives the same file.
      write_bin(dir_ / "copy.bin", typed);
      EXPECT_EQ(contents(dir_ / "copy.bin"), bytes);
    }
  }
}

TEST_F(BigAnnFormatTest, IntegerTypesConvertExactly) {
  Bytes u8 = header(1, 256);
  Bytes i8 = header(1, 256);
  for (int v = 0; v < 256; ++v) {
    u8 += static_cast<char>(v);
    i8 += static_cast<char>(v);
  }
  const FloatMatrix u = read_bin(write("all.u8bin", u8));
  const FloatMatrix s = read_bin(write("all.i8bin", i8));
  for (int v = 0; v < 256; ++v) {
    EXPECT_EQ(u(0, v), static_cast<float>(v));
    EXPECT_EQ(s(0, v), static_cast<float>(v < 128 ? v : v - 256));
  }
  EXPECT_EQ(read_bin_typed(dir_ / "all.i8bin").data<std::int8_t>()[255], -1);
  EXPECT_EQ(read_bin_typed(dir_ / "all.u8bin").data<std::uint8_t>()[255], 255);
}

TEST_F(BigAnnFormatTest, WritingIntegersRefusesValuesTheTypeCannotHold) {
  FloatMatrix m(3, 4, 1.f);
  m(2, 1) = 255.5f;
  EXPECT_THAT(
      error_of([&] { write_bin(dir_ / "a.u8bin", BinElement::UInt8, m.view()); }),
      AllOf(HasSubstr("a.u8bin"), HasSubstr("row 2 column 1 is 255.5"), HasSubstr("0..255")));
  m(2, 1) = 256;
  EXPECT_THAT(error_of([&] { write_bin(dir_ / "a.u8bin", BinElement::UInt8, m.view()); }),
              HasSubstr("row 2 column 1 is 256"));
  m(2, 1) = -1;
  EXPECT_THAT(error_of([&] { write_bin(dir_ / "a.u8bin", BinElement::UInt8, m.view()); }),
              HasSubstr("row 2 column 1 is -1"));
  write_bin(dir_ / "a.i8bin", BinElement::Int8, m.view());
  EXPECT_EQ(read_bin(dir_ / "a.i8bin")(2, 1), -1.f);
  m(0, 3) = 128;
  EXPECT_THAT(error_of([&] { write_bin(dir_ / "b.i8bin", BinElement::Int8, m.view()); }),
              AllOf(HasSubstr("row 0 column 3 is 128"), HasSubstr("-128..127")));
  EXPECT_FALSE(fs::exists(dir_ / "b.i8bin"));
  EXPECT_FALSE(fs::exists(dir_ / "a.u8bin"));
}

TEST_F(BigAnnFormatTest, SizeIsCheckedExactly) {
  // The message the brief asks for, byte for byte.
  const Bytes big = header(1000, 96) + Bytes(384000 - 8, '\0');
  EXPECT_EQ(error_of([&] { read_bin_header(write("x.fbin", big)); }),
            fmt::format("'{}': header says 1000 x 96 float32 = 384008 bytes, the file has 384000",
                        (dir_ / "x.fbin").string()));

  const Bytes good = header(4, 3) + Bytes(48, '\1');
  EXPECT_EQ(read_bin(write("good.fbin", good)).rows(), 4u);
  EXPECT_THAT(error_of([&] { read_bin(write("cut.fbin", good.substr(0, good.size() - 1))); }),
              AllOf(HasSubstr("cut.fbin"), HasSubstr("4 x 3 float32 = 56 bytes"),
                    HasSubstr("the file has 55")));
  EXPECT_THAT(error_of([&] { read_bin(write("long.fbin", good + "x")); }),
              AllOf(HasSubstr("long.fbin"), HasSubstr("= 56 bytes"), HasSubstr("has 57")));
  const Bytes bytes12 = header(4, 3) + Bytes(12, '\1');
  EXPECT_EQ(read_bin(write("good.u8bin", bytes12)).rows(), 4u);
  EXPECT_THAT(error_of([&] { read_bin(write("cut.i8bin", bytes12.substr(0, 19))); }),
              AllOf(HasSubstr("4 x 3 int8 = 20 bytes"), HasSubstr("has 19")));
  // n·d·4 near 2^64: reported, never allocated.
  EXPECT_THAT(error_of([&] { read_bin(write("huge.fbin", header(2147483647, 2147483647))); }),
              AllOf(HasSubstr("huge.fbin"), HasSubstr("2147483647 x 2147483647 float32"),
                    HasSubstr("18446744056529682444 bytes"), HasSubstr("the file has 8")));
  EXPECT_THAT(error_of([&] { read_bin(write("neg.fbin", header(-1, 3) + Bytes(12, 'x'))); }),
              AllOf(HasSubstr("neg.fbin"), HasSubstr("-1 x 3"), HasSubstr("must be positive")));
  EXPECT_THAT(error_of([&] { read_bin(write("zero.u8bin", header(2, 0))); }),
              AllOf(HasSubstr("zero.u8bin"), HasSubstr("2 x 0")));
  EXPECT_THAT(error_of([&] { read_bin(write("tiny.fbin", "abc")); }),
              AllOf(HasSubstr("tiny.fbin"), HasSubstr("3 bytes"), HasSubstr("8-byte header")));
  EXPECT_THAT(error_of([&] { read_bin(write("v.bin", good)); }),
              AllOf(HasSubstr("v.bin"), HasSubstr(".fbin, .u8bin or .i8bin")));
  EXPECT_THAT(error_of([&] { read_bin(dir_ / "absent.fbin"); }), HasSubstr("absent.fbin"));
}

TEST_F(BigAnnFormatTest, StreamedRowRangesEqualTheWholeRead) {
  // More rows than one conversion chunk, so slices cross chunk boundaries.
  for (const BinElement element : {BinElement::Float32, BinElement::UInt8, BinElement::Int8}) {
    SCOPED_TRACE(element_name(element));
    const FloatMatrix m = sample(element, 5000, 3);
    const fs::path path = dir_ / fmt::format("s.{}", element_extension(element));
    write_bin(path, element, m.view());
    const FloatMatrix whole = read_bin(path);
    expect_equal(whole, m);
    for (const std::size_t step : {1u, 977u, 4096u, 5000u}) {
      std::vector<float> joined;
      for (std::size_t from = 0; from < 5000; from += step) {
        const std::size_t count = std::min<std::size_t>(step, 5000 - from);
        const FloatMatrix part = read_bin_rows(path, from, count);
        ASSERT_EQ(part.rows(), count);
        joined.insert(joined.end(), part.data(), part.data() + part.size());
      }
      ASSERT_EQ(joined.size(), whole.size());
      EXPECT_EQ(std::memcmp(joined.data(), whole.data(), whole.bytes()), 0) << "step " << step;
    }
    EXPECT_EQ(read_bin_rows(path, 5000, 0).rows(), 0u);
    EXPECT_THAT(error_of([&] { read_bin_rows(path, 4990, 11); }),
                AllOf(HasSubstr("has 5000 rows"), HasSubstr("cannot read 11 rows from row 4990")));
    EXPECT_THAT(error_of([&] { read_bin_rows(path, 5001, 0); }), HasSubstr("has 5000 rows"));
  }
}

TEST_F(BigAnnFormatTest, KnnGroundTruthRoundTripAndErrors) {
  IdMatrix ids(3, 5);
  FloatMatrix distances(3, 5);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    ids.data()[i] = static_cast<std::int32_t>(i * 11 % 17);
    distances.data()[i] = static_cast<float>(i) * 0.25f;
  }
  const fs::path path = dir_ / "gt.ibin";
  write_bin_ground_truth(path, ids, distances);
  const Bytes bytes = contents(path);
  ASSERT_EQ(bytes.size(), 8u + 3 * 5 * 8);
  EXPECT_EQ(bytes.substr(0, 8), header(3, 5));
  std::int32_t first_id = -1;
  float first_distance_of_row1 = -1;
  std::memcpy(&first_id, bytes.data() + 8 + 4, 4);
  std::memcpy(&first_distance_of_row1, bytes.data() + 8 + 60 + 5 * 4, 4);
  EXPECT_EQ(first_id, ids.data()[1]);  // ids first, row-major
  EXPECT_EQ(first_distance_of_row1, distances(1, 0));
  const GroundTruth back = read_bin_ground_truth(path);
  ASSERT_EQ(back.neighbors.rows(), 3u);
  ASSERT_EQ(back.neighbors.cols(), 5u);
  EXPECT_EQ(std::memcmp(back.neighbors.data(), ids.data(), ids.bytes()), 0);
  expect_equal(back.distances, distances);

  EXPECT_THAT(error_of([&] { read_bin_ground_truth(write("cut", bytes.substr(0, 127))); }),
              AllOf(HasSubstr("3 queries x 5 neighbours = 128 bytes"), HasSubstr("has 127")));
  EXPECT_THAT(error_of([&] { read_bin_ground_truth(write("long", bytes + "z")); }),
              HasSubstr("has 129"));
  EXPECT_THAT(error_of([&] { read_bin_ground_truth(write("neg", header(-3, 5))); }),
              AllOf(HasSubstr("-3 queries"), HasSubstr("must be positive")));
  EXPECT_THAT(
      error_of([&] { read_bin_ground_truth(write("huge", header(2147483647, 2147483647))); }),
      AllOf(HasSubstr("huge"), HasSubstr("more than 2^64 bytes"), HasSubstr("the file has 8")));
  EXPECT_THAT(error_of([&] { write_bin_ground_truth(dir_ / "x", ids, FloatMatrix(3, 4)); }),
              HasSubstr("neighbours are 3 x 5 but distances 3 x 4"));
}

RangeGroundTruth sample_range() {
  RangeGroundTruth truth;
  truth.lims = {0, 2, 2, 5, 6};  // query 1 has no results
  truth.ids = {4, 1, 0, 9, 3, 7};
  truth.distances = {0.5f, 1.f, 0.f, 2.f, 2.5f, 0.25f};
  return truth;
}

TEST_F(BigAnnFormatTest, RangeGroundTruthRoundTripAndErrors) {
  const RangeGroundTruth truth = sample_range();
  const fs::path path = dir_ / "range.bin";
  write_bin_range_ground_truth(path, truth);
  Bytes expected = header(4, 6);
  for (const std::int32_t count : {2, 0, 3, 1}) append(expected, count);
  for (const std::int32_t id : truth.ids) append(expected, id);
  for (const float distance : truth.distances) append(expected, distance);
  EXPECT_EQ(contents(path), expected);
  const RangeGroundTruth back = read_bin_range_ground_truth(path);
  EXPECT_EQ(back.lims, truth.lims);
  EXPECT_EQ(back.ids, truth.ids);
  EXPECT_EQ(back.distances, truth.distances);

  RangeGroundTruth empty;
  empty.lims = {0, 0};
  write_bin_range_ground_truth(dir_ / "empty.bin", empty);
  EXPECT_EQ(read_bin_range_ground_truth(dir_ / "empty.bin").lims, empty.lims);

  EXPECT_THAT(error_of([&] { read_bin_range_ground_truth(write("cut", expected.substr(0, 71))); }),
              AllOf(HasSubstr("4 queries, 6 results = 72 bytes"), HasSubstr("has 71")));
  EXPECT_THAT(error_of([&] { read_bin_range_ground_truth(write("long", expected + "z")); }),
              HasSubstr("has 73"));
  Bytes wrong_sum = expected;
  wrong_sum[8] = 3;  // counts 3, 0, 3, 1: 7 results for a header of 6
  EXPECT_THAT(error_of([&] { read_bin_range_ground_truth(write("sum", wrong_sum)); }),
              HasSubstr("counts sum to 7 but the header says 6 results"));
  Bytes negative = expected;
  const std::int32_t minus = -1;
  std::memcpy(negative.data() + 12, &minus, 4);
  EXPECT_THAT(error_of([&] { read_bin_range_ground_truth(write("minus", negative)); }),
              HasSubstr("query 1 has a result count of -1"));
  EXPECT_THAT(error_of([&] { read_bin_range_ground_truth(write("neg", header(2, -1))); }),
              HasSubstr("negative"));
  RangeGroundTruth bad = truth;
  bad.ids.pop_back();
  EXPECT_THAT(error_of([&] { write_bin_range_ground_truth(dir_ / "bad.bin", bad); }),
              HasSubstr("disagree"));
}

TEST_F(BigAnnFormatTest, GroundTruthFromFileChecksAndRecomputes) {
  const FloatMatrix train = sample(BinElement::UInt8, 40, 3);
  const FloatMatrix test = sample(BinElement::Float32, 6, 3);
  const GroundTruth exact = compute_ground_truth(train.view(), test.view(), Metric::L2, 10);
  // big-ann stores squared L2: the distances must come back as annbench's plain L2.
  FloatMatrix squared(6, 10);
  for (std::size_t i = 0; i < squared.size(); ++i)
    squared.data()[i] = exact.distances.data()[i] * exact.distances.data()[i];
  write_bin_ground_truth(dir_ / "gt.ibin", exact.neighbors, squared);
  const GroundTruth back = ground_truth_from_file(dir_ / "gt.ibin", train.view(), "b.u8bin",
                                                  test.view(), "q.fbin", Metric::L2);
  EXPECT_EQ(std::memcmp(back.neighbors.data(), exact.neighbors.data(), exact.neighbors.bytes()), 0);
  expect_equal(back.distances, exact.distances);
  const GroundTruth first4 = ground_truth_from_file(dir_ / "gt.ibin", train.view(), "b.u8bin",
                                                    test.view(), "q.fbin", Metric::L2, 4);
  ASSERT_EQ(first4.neighbors.cols(), 4u);
  EXPECT_EQ(first4.neighbors(5, 3), exact.neighbors(5, 3));
  EXPECT_THAT(error_of([&] {
                ground_truth_from_file(dir_ / "gt.ibin", train.view(), "b.u8bin", test.view(),
                                       "q.fbin", Metric::L2, 11);
              }),
              HasSubstr("holds 10 neighbours per query; cannot keep 11"));
  EXPECT_THAT(error_of([&] {
                ground_truth_from_file(dir_ / "gt.ibin", train.view(), "b.u8bin",
                                       MatrixView{test.data(), 5, 3}, "q.fbin", Metric::L2);
              }),
              AllOf(HasSubstr("gt.ibin' has ground truth for 6 queries"),
                    HasSubstr("'q.fbin' has 5 test vectors")));
  IdMatrix outside(6, 10);
  std::memcpy(outside.data(), exact.neighbors.data(), outside.bytes());
  outside(2, 7) = 40;
  write_bin_ground_truth(dir_ / "bad.ibin", outside, squared);
  EXPECT_THAT(error_of([&] {
                ground_truth_from_file(dir_ / "bad.ibin", train.view(), "b.u8bin", test.view(),
                                       "q.fbin", Metric::L2);
              }),
              AllOf(HasSubstr("bad.ibin': entry 27 (query 2) is id 40"),
                    HasSubstr("outside the 40 train vectors of 'b.u8bin'")));
}

TEST_F(BigAnnFormatTest, RangeGroundTruthFromFileSortsAndChecksTheRadius) {
  const FloatMatrix train = sample(BinElement::Int8, 60, 4);
  const FloatMatrix test = sample(BinElement::Int8, 5, 4);
  const double radius = 120;
  const RangeGroundTruth exact =
      compute_range_ground_truth(train.view(), test.view(), Metric::L2, radius);
  ASSERT_GT(exact.total(), 5u);
  // Shuffled within each query, as another tool may order them; squared distances.
  RangeGroundTruth shuffled = exact;
  for (std::size_t q = 0; q < exact.queries(); ++q) {
    std::reverse(shuffled.ids.begin() + static_cast<std::ptrdiff_t>(exact.lims[q]),
                 shuffled.ids.begin() + static_cast<std::ptrdiff_t>(exact.lims[q + 1]));
  }
  for (float& d : shuffled.distances) d = d * d;
  write_bin_range_ground_truth(dir_ / "r.bin", shuffled);
  const RangeGroundTruth back = range_ground_truth_from_file(
      dir_ / "r.bin", train.view(), "b.i8bin", test.view(), "q.i8bin", Metric::L2, radius);
  EXPECT_EQ(back.radius, exact.radius);
  EXPECT_EQ(back.lims, exact.lims);
  EXPECT_EQ(back.ids, exact.ids);
  EXPECT_EQ(back.distances, exact.distances);
  // The squared radius would have been right for the file's distances, not for annbench's.
  EXPECT_THAT(error_of([&] {
                range_ground_truth_from_file(dir_ / "r.bin", train.view(), "b.i8bin", test.view(),
                                             "q.i8bin", Metric::L2, 10);
              }),
              AllOf(HasSubstr("r.bin': query"), HasSubstr("beyond the radius 10"),
                    HasSubstr("not squared")));
  EXPECT_THAT(error_of([&] {
                range_ground_truth_from_file(dir_ / "r.bin", train.view(), "b.i8bin",
                                             MatrixView{test.data(), 4, 4}, "q.i8bin", Metric::L2,
                                             radius);
              }),
              HasSubstr("ground truth for 5 queries but 'q.i8bin' has 4 test vectors"));
}

}  // namespace
}  // namespace annbench
