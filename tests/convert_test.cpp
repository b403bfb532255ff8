// Vector-file readers: IDX (raw and gzip), TEXMEX .fvecs/.bvecs/.ivecs, NumPy .npy, and the
// errors each gives for malformed input.

#include <annbench/datasets/convert.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;
using Bytes = std::string;

void append_be32(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

template <typename T>
void append_le(Bytes& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// 3 images of 2 × 2 pixels with values 0, 10, 20, ... 110.
Bytes idx_images() {
  Bytes out;
  append_be32(out, 0x00000803);
  append_be32(out, 3);
  append_be32(out, 2);
  append_be32(out, 2);
  for (int i = 0; i < 12; ++i) out += static_cast<char>(10 * i);
  return out;
}

class ConvertTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-convert-{}-{}", ::getpid(),
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
  fs::path write_gz(const std::string& name, const Bytes& content) {
    const fs::path path = dir_ / name;
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr);
    EXPECT_EQ(gzwrite(file, content.data(), static_cast<unsigned>(content.size())),
              static_cast<int>(content.size()));
    gzclose(file);
    return path;
  }
  template <typename Read>
  std::string error_of(Read read) {
    try {
      read();
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }

  fs::path dir_;
};

void expect_idx_values(const FloatMatrix& m) {
  ASSERT_EQ(m.rows(), 3u);
  ASSERT_EQ(m.cols(), 4u);
  EXPECT_EQ(m(0, 0), 0.f);
  EXPECT_EQ(m(1, 2), 60.f);
  EXPECT_EQ(m(2, 3), 110.f);
}

TEST_F(ConvertTest, IdxRawAndGzip) {
  expect_idx_values(read_idx(write("train-images-idx3-ubyte", idx_images())));
  const fs::path gz = write_gz("train-images-idx3-ubyte.gz", idx_images());
  EXPECT_LT(fs::file_size(gz), idx_images().size() + 40);  // really compressed
  expect_idx_values(read_idx(gz));
  expect_idx_values(read_vectors(gz));
}

TEST_F(ConvertTest, IdxLabels) {
  Bytes labels;
  append_be32(labels, 0x00000801);
  append_be32(labels, 4);
  labels += Bytes("\x09\x00\x03\x07", 4);
  EXPECT_EQ(read_idx_labels(write_gz("labels.gz", labels)),
            (std::vector<std::int32_t>{9, 0, 3, 7}));
}

TEST_F(ConvertTest, IdxErrors) {
  EXPECT_THAT(
      error_of([&] { read_idx(write("labels-idx1-ubyte", Bytes("\0\0\x08\x01\0\0\0\0", 8))); }),
      AllOf(HasSubstr("labels-idx1-ubyte"), HasSubstr("magic 0x00000801"),
            HasSubstr("expected 0x00000803")));
  const Bytes full = idx_images();
  EXPECT_THAT(error_of([&] { read_idx(write("cut-idx3-ubyte", full.substr(0, full.size() - 3))); }),
              AllOf(HasSubstr("cut-idx3-ubyte"), HasSubstr("truncated")));
  EXPECT_THAT(error_of([&] { read_idx(write_gz("cut.gz", full.substr(0, full.size() - 3))); }),
              AllOf(HasSubstr("cut.gz"), HasSubstr("truncated"), HasSubstr("9 of 12")));
  EXPECT_THAT(error_of([&] { read_idx(write("long-idx3-ubyte", full + "xyz")); }),
              HasSubstr("past what its IDX header describes"));
  EXPECT_THAT(error_of([&] { read_idx(write("tiny-idx3-ubyte", "\0\0")); }),
              HasSubstr("too short"));
  // A corrupt header promising 4 billion 65536 × 65536 images must fail before allocating.
  Bytes absurd;
  append_be32(absurd, 0x00000803);
  append_be32(absurd, 0xffffffff);
  append_be32(absurd, 0x10000);
  append_be32(absurd, 0x10000);
  EXPECT_THAT(error_of([&] { read_idx(write_gz("absurd.gz", absurd)); }), HasSubstr("absurd.gz"));
  Bytes big;
  append_be32(big, 0x00000803);
  append_be32(big, 1'000'000);
  append_be32(big, 28);
  append_be32(big, 28);
  EXPECT_THAT(error_of([&] { read_idx(write_gz("big.gz", big)); }),
              AllOf(HasSubstr("big.gz"), HasSubstr("truncated or corrupt")));
  EXPECT_THAT(error_of([&] { read_idx(dir_ / "absent-idx3-ubyte"); }),
              HasSubstr("absent-idx3-ubyte"));
}

template <typename T>
Bytes vecs(const std::vector<std::vector<T>>& rows) {
  Bytes out;
  for (const auto& row : rows) {
    append_le<std::int32_t>(out, static_cast<std::int32_t>(row.size()));
    for (T value : row) append_le<T>(out, value);
  }
  return out;
}

TEST_F(ConvertTest, Fvecs) {
  const fs::path path = write("base.fvecs", vecs<float>({{1.5f, 2, 3}, {4, 5, 6}, {-7, 8, 9.25f}}));
  const FloatMatrix m = read_vecs(path);
  ASSERT_EQ(m.rows(), 3u);
  ASSERT_EQ(m.cols(), 3u);
  EXPECT_EQ(m(0, 0), 1.5f);
  EXPECT_EQ(m(2, 0), -7.f);
  EXPECT_EQ(m(2, 2), 9.25f);
  const FloatMatrix head = read_vecs(path, 2);
  EXPECT_EQ(head.rows(), 2u);
  EXPECT_EQ(head(1, 1), 5.f);
  EXPECT_EQ(read_vectors(path).rows(), 3u);
}

TEST_F(ConvertTest, BvecsAndIvecs) {
  const FloatMatrix bytes =
      read_vecs(write("base.bvecs", vecs<std::uint8_t>({{0, 200}, {255, 7}})));
  ASSERT_EQ(bytes.rows(), 2u);
  EXPECT_EQ(bytes(0, 1), 200.f);
  EXPECT_EQ(bytes(1, 0), 255.f);
  const FloatMatrix ints =
      read_vecs(write("gt.ivecs", vecs<std::int32_t>({{-5, 1000000}, {3, 4}})));
  EXPECT_EQ(ints(0, 0), -5.f);
  EXPECT_EQ(ints(0, 1), 1e6f);
}

TEST_F(ConvertTest, VecsErrors) {
  const Bytes good = vecs<float>({{1, 2, 3}, {4, 5, 6}});
  EXPECT_THAT(error_of([&] { read_vecs(write("cut.fvecs", good.substr(0, good.size() - 3))); }),
              AllOf(HasSubstr("cut.fvecs"), HasSubstr("truncated")));
  EXPECT_THAT(error_of([&] {
                read_vecs(write("mixed.fvecs", good + vecs<float>({{1, 2}})));
              }),
              AllOf(HasSubstr("mixed.fvecs"), HasSubstr("row 2 has dimension 2"),
                    HasSubstr("row 0 has 3")));
  EXPECT_THAT(error_of([&] {
                read_vecs(write("mixed2.fvecs", vecs<float>({{1, 2}, {1, 2, 3}, {1, 2}})));
              }),
              HasSubstr("row 1 has dimension 3"));
  EXPECT_THAT(error_of([&] { read_vecs(write("empty.fvecs", "")); }),
              AllOf(HasSubstr("empty.fvecs"), HasSubstr("empty")));
  Bytes negative;
  append_le<std::int32_t>(negative, -4);
  EXPECT_THAT(error_of([&] { read_vecs(write("neg.ivecs", negative + Bytes(16, '\0'))); }),
              HasSubstr("dimension -4"));
  Bytes huge;
  append_le<std::int32_t>(huge, 1 << 30);
  EXPECT_THAT(error_of([&] { read_vecs(write("huge.fvecs", huge + Bytes(16, '\0'))); }),
              AllOf(HasSubstr("huge.fvecs"), HasSubstr("truncated")));
  EXPECT_THAT(error_of([&] { read_vecs(write("x.vecs", good)); }),
              HasSubstr("unknown vecs extension"));
}

Bytes npy(const std::string& descr, const std::string& shape, const Bytes& data,
          bool fortran = false, int version = 1) {
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': {}, 'shape': {}, }}", descr,
                                   fortran ? "True" : "False", shape);
  const std::size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out("\x93NUMPY", 6);
  out += static_cast<char>(version);
  out += '\0';
  if (version == 1) {
    append_le<std::uint16_t>(out, static_cast<std::uint16_t>(header.size()));
  } else {
    append_le<std::uint32_t>(out, static_cast<std::uint32_t>(header.size()));
  }
  return out + header + data;
}

template <typename T>
Bytes raw(const std::vector<T>& values) {
  Bytes out;
  for (T value : values) append_le<T>(out, value);
  return out;
}

TEST_F(ConvertTest, NpyDtypes) {
  const FloatMatrix f4 =
      read_npy(write("a.npy", npy("<f4", "(2, 3)", raw<float>({1, 2, 3, 4, 5, 6.5f}))));
  ASSERT_EQ(f4.rows(), 2u);
  ASSERT_EQ(f4.cols(), 3u);
  EXPECT_EQ(f4(1, 2), 6.5f);
  const FloatMatrix f8 =
      read_npy(write("b.npy", npy("<f8", "(3, 1)", raw<double>({0.25, -1, 1e300}))));
  EXPECT_EQ(f8(0, 0), 0.25f);
  EXPECT_TRUE(std::isinf(f8(2, 0)));  // out of float range: load_dataset rejects it later
  // Hand-written headers may lack the trailing comma numpy puts after the last item.
  Bytes no_comma("\x93NUMPY\x01\x00", 8);
  const std::string header = "{'descr': '<f4', 'shape': (1, 2), 'fortran_order': False }\n";
  append_le<std::uint16_t>(no_comma, static_cast<std::uint16_t>(header.size()));
  const FloatMatrix plain = read_npy(write("plain.npy", no_comma + header + raw<float>({3, 4})));
  EXPECT_EQ(plain(0, 1), 4.f);
  const FloatMatrix u1 = read_npy(write("c.npy", npy("|u1", "(1, 2)", Bytes("\x03\xff", 2))));
  EXPECT_EQ(u1(0, 1), 255.f);
  const FloatMatrix i4 =
      read_npy(write("d.npy", npy("<i4", "(1, 2)", raw<std::int32_t>({-3, 7}), false, 2)));
  EXPECT_EQ(i4(0, 0), -3.f);
  const FloatMatrix i8 =
      read_npy(write("e.npy", npy("<i8", "(2, 1)", raw<std::int64_t>({9, -9}), false, 3)));
  EXPECT_EQ(i8(1, 0), -9.f);
  EXPECT_EQ(read_vectors(dir_ / "e.npy").rows(), 2u);
}

TEST_F(ConvertTest, NpyErrors) {
  const Bytes six = raw<float>({1, 2, 3, 4, 5, 6});
  EXPECT_THAT(error_of([&] { read_npy(write("f.npy", npy("<f4", "(2, 3)", six, true))); }),
              AllOf(HasSubstr("f.npy"), HasSubstr("Fortran order")));
  EXPECT_THAT(error_of([&] { read_npy(write("h.npy", npy("<f2", "(2, 3)", six))); }),
              AllOf(HasSubstr("h.npy"), HasSubstr("dtype '<f2'")));
  EXPECT_THAT(error_of([&] { read_npy(write("big.npy", npy(">f4", "(2, 3)", six))); }),
              HasSubstr("dtype"));
  EXPECT_THAT(
      error_of([&] { read_npy(write("cut.npy", npy("<f4", "(2, 3)", six.substr(0, 20)))); }),
      AllOf(HasSubstr("cut.npy"), HasSubstr("truncated")));
  EXPECT_THAT(error_of([&] { read_npy(write("v.npy", npy("<f4", "(6,)", six))); }),
              AllOf(HasSubstr("v.npy"), HasSubstr("2-D")));
  EXPECT_THAT(error_of([&] { read_npy(write("m.npy", "PK\x03\x04 not numpy")); }),
              AllOf(HasSubstr("m.npy"), HasSubstr("wrong magic")));
  EXPECT_THAT(
      error_of([&] { read_npy(write("s.npy", npy("<f4", "(99999999999, 99999999999)", six))); }),
      HasSubstr("s.npy"));
  Bytes short_header = npy("<f4", "(2, 3)", six).substr(0, 30);
  EXPECT_THAT(error_of([&] { read_npy(write("sh.npy", short_header)); }), HasSubstr("truncated"));
}

TEST_F(ConvertTest, NpyWrittenByNumpy) {
  if (std::system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "no numpy";
  const fs::path path = dir_ / "numpy.npy";
  const std::string script = fmt::format(
      "import numpy; numpy.save('{}', numpy.arange(12, dtype=numpy.float64).reshape(4, 3) / 4)",
      path.string());
  ASSERT_EQ(std::system(fmt::format("/usr/bin/python3 -c \"{}\"", script).c_str()), 0);
  const FloatMatrix m = read_npy(path);
  ASSERT_EQ(m.rows(), 4u);
  ASSERT_EQ(m.cols(), 3u);
  EXPECT_EQ(m(3, 2), 11.f / 4);
}

TEST_F(ConvertTest, UnknownFileType) {
  EXPECT_THAT(error_of([&] { read_vectors(write("data.csv", "1,2\n")); }),
              AllOf(HasSubstr("data.csv"), HasSubstr("unknown vector file type")));
}

// A .spmat file's bytes: header, indptr, indices, data (all little-endian).
Bytes spmat_bytes(std::int64_t rows, std::int64_t cols, const std::vector<std::int64_t>& indptr,
                  const std::vector<std::int32_t>& indices) {
  Bytes out;
  append_le(out, rows);
  append_le(out, cols);
  append_le(out, static_cast<std::int64_t>(indices.size()));
  for (const std::int64_t v : indptr) append_le(out, v);
  for (const std::int32_t v : indices) append_le(out, v);
  for (std::size_t i = 0; i < indices.size(); ++i) append_le(out, 1.0f);
  return out;
}

TEST_F(ConvertTest, SpmatRoundTrip) {
  SparseMatrix m;
  m.rows = 4;
  m.cols = 10;
  m.indptr = {0, 2, 2, 5, 6};
  m.indices = {3, 1, 9, 0, 4, 3};
  m.data = {1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  const fs::path path = dir_ / "m.spmat";
  write_spmat(path, m);
  EXPECT_EQ(fs::file_size(path), 24u + 8 * 5 + 8 * 6);
  const SparseMatrix back = read_spmat(path);
  EXPECT_EQ(back.rows, 4u);
  EXPECT_EQ(back.cols, 10u);
  EXPECT_EQ(back.indptr, m.indptr);
  EXPECT_EQ(back.indices, m.indices);
  EXPECT_EQ(back.data, m.data);
  // The layout big-ann-benchmarks writes, byte for byte.
  std::ifstream in(path, std::ios::binary);
  const Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Bytes expected = spmat_bytes(4, 10, m.indptr, m.indices);
  for (std::size_t i = 0; i < 6; ++i) {
    const float value = m.data[i];
    std::memcpy(expected.data() + expected.size() - 4 * (6 - i), &value, 4);
  }
  EXPECT_EQ(bytes, expected);

  const LabelCsr labels = spmat_labels(back, path);
  EXPECT_EQ(labels.indptr, m.indptr);
  EXPECT_EQ(labels.labels, (std::vector<std::uint32_t>{3, 1, 9, 0, 4, 3}));
  // An empty matrix (no rows) round-trips too.
  SparseMatrix empty;
  empty.indptr = {0};
  write_spmat(dir_ / "e.spmat", empty);
  EXPECT_EQ(read_spmat(dir_ / "e.spmat").rows, 0u);
}

TEST_F(ConvertTest, SpmatErrors) {
  const Bytes good = spmat_bytes(2, 5, {0, 1, 3}, {4, 0, 2});
  EXPECT_EQ(read_spmat(write("good.spmat", good)).nnz(), 3u);
  EXPECT_THAT(error_of([&] { read_spmat(write("short.spmat", good.substr(0, 20))); }),
              AllOf(HasSubstr("short.spmat"), HasSubstr("20 bytes"), HasSubstr("too short")));
  EXPECT_THAT(error_of([&] { read_spmat(write("cut.spmat", good.substr(0, good.size() - 1))); }),
              AllOf(HasSubstr("cut.spmat"), HasSubstr("has 71 bytes"), HasSubstr("needs 72"),
                    HasSubstr("nrow 2, ncol 5, nnz 3")));
  EXPECT_THAT(error_of([&] { read_spmat(write("long.spmat", good + "x")); }),
              AllOf(HasSubstr("long.spmat"), HasSubstr("has 73 bytes"), HasSubstr("needs 72")));
  // A header whose sizes overflow, and a negative one, are caught before any allocation.
  EXPECT_THAT(error_of([&] {
                read_spmat(write("huge.spmat", spmat_bytes(std::int64_t{1} << 62, 5, {}, {})));
              }),
              AllOf(HasSubstr("huge.spmat"), HasSubstr("more than 2^64")));
  EXPECT_THAT(error_of([&] { read_spmat(write("neg.spmat", spmat_bytes(-1, 5, {}, {}))); }),
              AllOf(HasSubstr("neg.spmat"), HasSubstr("nrow -1"), HasSubstr("negative")));
  EXPECT_THAT(
      error_of([&] {
        read_spmat(write("index.spmat", spmat_bytes(2, 5, {0, 1, 3}, {4, 5, 2})));
      }),
      AllOf(HasSubstr("index.spmat"), HasSubstr("row 1 has column index 5"), HasSubstr("ncol 5")));
  EXPECT_THAT(error_of([&] {
                read_spmat(write("minus.spmat", spmat_bytes(2, 5, {0, 1, 3}, {-1, 0, 2})));
              }),
              AllOf(HasSubstr("minus.spmat"), HasSubstr("row 0 has column index -1")));
  EXPECT_THAT(error_of([&] {
                read_spmat(write("dec.spmat", spmat_bytes(2, 5, {0, 2, 1}, {4, 0, 2})));
              }),
              AllOf(HasSubstr("dec.spmat"), HasSubstr("indptr decreases at row 1")));
  EXPECT_THAT(error_of([&] {
                read_spmat(write("end.spmat", spmat_bytes(2, 5, {0, 1, 2}, {4, 0, 2})));
              }),
              AllOf(HasSubstr("end.spmat"), HasSubstr("indptr ends at 2 but nnz is 3")));
  EXPECT_THAT(error_of([&] {
                read_spmat(write("start.spmat", spmat_bytes(2, 5, {1, 1, 3}, {4, 0, 2})));
              }),
              AllOf(HasSubstr("start.spmat"), HasSubstr("indptr[0] is 1")));
  EXPECT_THAT(error_of([&] { read_spmat(dir_ / "absent.spmat"); }), HasSubstr("absent.spmat"));

  const SparseMatrix twice =
      read_spmat(write("twice.spmat", spmat_bytes(2, 5, {0, 1, 3}, {4, 2, 2})));
  EXPECT_THAT(error_of([&] { spmat_labels(twice, dir_ / "twice.spmat"); }),
              AllOf(HasSubstr("twice.spmat"), HasSubstr("row 1 lists column 2 twice")));
  SparseMatrix bad;
  bad.rows = 1;
  bad.cols = 2;
  bad.indptr = {0, 2};
  bad.indices = {0};
  bad.data = {1.f};
  EXPECT_THAT(error_of([&] { write_spmat(dir_ / "bad.spmat", bad); }),
              AllOf(HasSubstr("bad.spmat"), HasSubstr("indptr ends at 2 but nnz is 1")));
  EXPECT_FALSE(fs::exists(dir_ / "bad.spmat"));
}

}  // namespace
}  // namespace annbench
