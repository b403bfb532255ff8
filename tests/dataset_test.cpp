// Dataset files: round trip, every validation load_dataset promises, and the SHA-256 checksum.

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

FloatMatrix sequence(std::size_t rows, std::size_t cols, float start) {
  FloatMatrix m(rows, cols);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = start + static_cast<float>(i);
  return m;
}

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-dataset-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A valid 6-train, 3-test, 2-d file with k = 2 ground truth (values need not be exact here).
  fs::path write_valid(const std::string& name = "small.hdf5") {
    IdMatrix neighbors(3, 2);
    FloatMatrix distances(3, 2);
    for (std::size_t i = 0; i < 3; ++i) {
      neighbors(i, 0) = static_cast<std::int32_t>(i);
      neighbors(i, 1) = 5;
      distances(i, 0) = 0.5f;
      distances(i, 1) = 1.5f;
    }
    const fs::path path = dir_ / name;
    write_dataset(path, Metric::L2, sequence(6, 2, 0), sequence(3, 2, 100), neighbors, distances,
                  {{"source", "unit test"}});
    return path;
  }

  std::string load_error(const fs::path& path, const DatasetLoadOptions& options = {}) {
    try {
      load_dataset(path, options);
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }

  fs::path dir_;
};

TEST_F(DatasetTest, RoundTrip) {
  const fs::path path = write_valid();
  const Dataset dataset = load_dataset(path);
  EXPECT_EQ(dataset.path, path);
  EXPECT_EQ(dataset.name, "small");
  EXPECT_EQ(dataset.distance, "euclidean");
  EXPECT_EQ(dataset.metric, Metric::L2);
  EXPECT_EQ(dataset.dim(), 2u);
  ASSERT_EQ(dataset.train.rows(), 6u);
  EXPECT_EQ(dataset.train(5, 1), 11.f);
  ASSERT_EQ(dataset.test.rows(), 3u);
  EXPECT_EQ(dataset.test(0, 0), 100.f);
  ASSERT_EQ(dataset.neighbors.rows(), 3u);
  ASSERT_EQ(dataset.neighbors.cols(), 2u);
  EXPECT_EQ(dataset.neighbors(2, 0), 2);
  EXPECT_EQ(dataset.distances(1, 1), 1.5f);

  const h5::File file = h5::File::open_read(path);
  EXPECT_EQ(file.string_attribute("type"), "dense");
  EXPECT_EQ(file.string_attribute("point_type"), "float");
  EXPECT_EQ(file.number_attribute("dimension"), 2.0);
  EXPECT_EQ(file.string_attribute("source"), "unit test");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << "write_dataset left a temporary file";
}

TEST_F(DatasetTest, MaxQueriesReadsTheFirstQueries) {
  const Dataset dataset = load_dataset(write_valid(), {.max_queries = 2});
  EXPECT_EQ(dataset.test.rows(), 2u);
  EXPECT_EQ(dataset.neighbors.rows(), 2u);
  EXPECT_EQ(dataset.distances.rows(), 2u);
  EXPECT_EQ(dataset.train.rows(), 6u);
}

TEST_F(DatasetTest, AngularAndDotNames) {
  for (const auto& [name, metric] :
       std::vector<std::pair<std::string, Metric>>{{"angular", Metric::Angular},
                                                   {"dot", Metric::InnerProduct},
                                                   {"ip", Metric::InnerProduct},
                                                   {"inner_product", Metric::InnerProduct}}) {
    const fs::path path = write_valid();
    h5::File::open_read_write(path).set_attribute("distance", std::string_view(name));
    EXPECT_EQ(load_dataset(path).metric, metric) << name;
  }
}

TEST_F(DatasetTest, OldFilesWithOnlyTheDistanceAttributeLoad) {
  const fs::path path = dir_ / "old.hdf5";
  {
    h5::File file = h5::File::create(path);
    file.set_attribute("distance", "angular");
    const FloatMatrix train = sequence(4, 3, 1);
    const FloatMatrix test = sequence(2, 3, 1);
    file.write_floats("train", train.data(), 4, 3);
    file.write_floats("test", test.data(), 2, 3);
  }
  const Dataset dataset = load_dataset(path, {.require_ground_truth = false});
  EXPECT_EQ(dataset.metric, Metric::Angular);
  EXPECT_TRUE(dataset.neighbors.empty());
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("old.hdf5"), HasSubstr("'neighbors'"),
                                      HasSubstr("annbench groundtruth")));
}

// Rewrites dataset `name` of `path` with another storage type via the C API.
template <typename T>
void replace_raw(const fs::path& path, const char* name, hid_t file_type, hid_t memory_type,
                 const std::vector<T>& values, hsize_t rows, hsize_t cols) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(file, name, H5P_DEFAULT);
  const hsize_t dims[2] = {rows, cols};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t dataset =
      H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5Dclose(dataset);
  H5Sclose(space);
  H5Fclose(file);
}

TEST_F(DatasetTest, AcceptsInt64AndUint32NeighborsAndFloat64Vectors) {
  const fs::path path = write_valid();
  replace_raw<std::int64_t>(path, "neighbors", H5T_STD_I64LE, H5T_NATIVE_INT64, {0, 1, 2, 3, 4, 5},
                            3, 2);
  replace_raw<double>(path, "train", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                      {0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 6, 2);
  Dataset dataset = load_dataset(path);
  EXPECT_EQ(dataset.neighbors(2, 1), 5);
  EXPECT_EQ(dataset.train(0, 0), 0.5f);
  replace_raw<std::uint32_t>(path, "neighbors", H5T_STD_U32LE, H5T_NATIVE_UINT32,
                             {5, 4, 3, 2, 1, 0}, 3, 2);
  dataset = load_dataset(path);
  EXPECT_EQ(dataset.neighbors(0, 0), 5);
  // Ids beyond int32 are clipped by the conversion, then caught by the range check.
  replace_raw<std::int64_t>(path, "neighbors", H5T_STD_I64LE, H5T_NATIVE_INT64,
                            {0, 1, 2, 3, 4, 5'000'000'000}, 3, 2);
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("'neighbors'"), HasSubstr("row 2 column 1")));
}

TEST_F(DatasetTest, MissingOrGarbageFile) {
  EXPECT_THAT(load_error(dir_ / "absent.hdf5"),
              AllOf(HasSubstr("absent.hdf5"), HasSubstr("no such file")));
  const fs::path garbage = dir_ / "garbage.hdf5";
  std::ofstream(garbage) << std::string(4096, 'x');
  EXPECT_THAT(load_error(garbage), AllOf(HasSubstr("garbage.hdf5"), HasSubstr("not an HDF5 file")));
}

TEST_F(DatasetTest, MissingDataset) {
  const fs::path path = dir_ / "no-test.hdf5";
  {
    h5::File file = h5::File::create(path);
    file.set_attribute("distance", "euclidean");
    const FloatMatrix train = sequence(4, 3, 1);
    file.write_floats("train", train.data(), 4, 3);
  }
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("no-test.hdf5"), HasSubstr("no dataset 'test'")));
}

TEST_F(DatasetTest, TestDimensionDiffersFromTrain) {
  const fs::path path = write_valid();
  replace_raw<float>(path, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 2, 3, 4, 5, 6, 7, 8, 9}, 3,
                     3);
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("small.hdf5"), HasSubstr("'test' has dimension 3"),
                                      HasSubstr("'train' has dimension 2")));
}

TEST_F(DatasetTest, WrongRank) {
  const fs::path path = write_valid();
  {
    h5::File file = h5::File::open_read_write(path);
    const std::vector<float> flat = {1, 2, 3};
    file.write_floats("train", flat.data(), 3, 0);
  }
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("'train'"), HasSubstr("rank 1")));
}

TEST_F(DatasetTest, NanInTrainAndInfInTestNameDatasetAndRow) {
  const fs::path path = write_valid();
  std::vector<float> train(12, 1.f);
  train[9] = std::numeric_limits<float>::quiet_NaN();
  replace_raw<float>(path, "train", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, train, 6, 2);
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("'train'"), HasSubstr("small.hdf5"),
                                      HasSubstr("row 4"), HasSubstr("column 1"), HasSubstr("nan")));
  const fs::path other = write_valid("other.hdf5");
  replace_raw<float>(other, "test", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                     {1, 2, 3, 4, -std::numeric_limits<float>::infinity(), 6}, 3, 2);
  EXPECT_THAT(load_error(other),
              AllOf(HasSubstr("'test'"), HasSubstr("row 2"), HasSubstr("column 0")));
}

TEST_F(DatasetTest, NeighborIdOutOfRange) {
  const fs::path path = write_valid();
  replace_raw<std::int32_t>(path, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, {0, 1, 2, 6, 4, 5},
                            3, 2);
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("'neighbors'"), HasSubstr("small.hdf5"),
                                      HasSubstr("row 1 column 1"), HasSubstr("id 6")));
  replace_raw<std::int32_t>(path, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, {0, -1, 2, 3, 4, 5},
                            3, 2);
  EXPECT_THAT(load_error(path), HasSubstr("id -1"));
}

TEST_F(DatasetTest, GroundTruthShapeMustMatchTest) {
  const fs::path path = write_valid();
  replace_raw<std::int32_t>(path, "neighbors", H5T_STD_I32LE, H5T_NATIVE_INT32, {0, 1, 2, 3}, 2, 2);
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("'neighbors' is 2 x 2"), HasSubstr("3 rows")));
  const fs::path other = write_valid("other.hdf5");
  replace_raw<float>(other, "distances", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {1, 2, 3}, 3, 1);
  EXPECT_THAT(load_error(other), HasSubstr("'distances' is 3 x 1 but 'neighbors' is 3 x 2"));
}

TEST_F(DatasetTest, UnknownOrUnsupportedDistance) {
  const fs::path path = write_valid();
  h5::File::open_read_write(path).set_attribute("distance", "manhattan");
  EXPECT_THAT(load_error(path),
              AllOf(HasSubstr("small.hdf5"), HasSubstr("unknown distance 'manhattan'")));
  h5::File::open_read_write(path).set_attribute("distance", "jaccard");
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("'jaccard'"), HasSubstr("not supported yet")));
  h5::File::open_read_write(path).set_attribute("distance", "hamming");
  EXPECT_THAT(load_error(path), HasSubstr("not supported yet"));
}

TEST_F(DatasetTest, MissingDistanceAttributeAndMismatchedDimension) {
  const fs::path path = write_valid();
  h5::File::open_read_write(path).set_attribute("dimension", std::int64_t{7});
  EXPECT_THAT(load_error(path), AllOf(HasSubstr("'dimension' is 7"), HasSubstr("2 columns")));
  const fs::path bare = dir_ / "bare.hdf5";
  {
    h5::File file = h5::File::create(bare);
    const FloatMatrix train = sequence(4, 3, 1);
    file.write_floats("train", train.data(), 4, 3);
  }
  EXPECT_THAT(load_error(bare),
              AllOf(HasSubstr("bare.hdf5"), HasSubstr("no attribute 'distance'")));
}

TEST_F(DatasetTest, WriteRejectsInconsistentShapes) {
  const IdMatrix no_ids;
  const FloatMatrix no_distances;
  EXPECT_THROW(write_dataset(dir_ / "x.hdf5", Metric::L2, sequence(4, 3, 0), sequence(2, 2, 0),
                             no_ids, no_distances),
               Error);
  EXPECT_THROW(write_dataset(dir_ / "x.hdf5", Metric::L2, sequence(4, 3, 0), sequence(2, 3, 0),
                             IdMatrix(2, 5), FloatMatrix(2, 4)),
               Error);
  EXPECT_FALSE(fs::exists(dir_ / "x.hdf5"));
  write_dataset(dir_ / "x.hdf5", Metric::InnerProduct, sequence(4, 3, 0), sequence(2, 3, 0), no_ids,
                no_distances);
  const Dataset dataset = load_dataset(dir_ / "x.hdf5", {.require_ground_truth = false});
  EXPECT_EQ(dataset.distance, "dot");
}

std::string sha256_of(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
  return file_sha256(path);
}

TEST_F(DatasetTest, Sha256KnownVectors) {
  const fs::path path = dir_ / "data.bin";
  EXPECT_EQ(sha256_of(path, ""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_of(path, "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_of(path, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_of(path, std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_THROW(file_sha256(dir_ / "absent"), Error);
}

TEST_F(DatasetTest, Sha256OfAFileLargerThanOneChunkMatchesSha256sum) {
  if (std::system("command -v sha256sum >/dev/null 2>&1") != 0) GTEST_SKIP() << "no sha256sum";
  const fs::path path = dir_ / "big.bin";
  std::string content(3 * (1 << 20) + 17, '\0');
  std::uint32_t state = 12345;
  for (char& c : content) c = static_cast<char>((state = state * 1103515245u + 12345u) >> 24);
  std::ofstream(path, std::ios::binary) << content;
  const fs::path out = dir_ / "sum.txt";
  ASSERT_EQ(std::system(fmt::format("sha256sum {} > {}", path.string(), out.string()).c_str()), 0);
  std::string expected;
  std::ifstream(out) >> expected;
  EXPECT_EQ(file_sha256(path), expected);
}

}  // namespace
}  // namespace annbench
