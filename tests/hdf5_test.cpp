// The HDF5 wrapper: round trips, type conversion, attributes as h5py sees them, errors, and
// atomic writes.

#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
namespace fs = std::filesystem;

class Hdf5Test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-hdf5-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add);
    fs::remove_all(dir_);
  }
  std::string error_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

// Writes a dataset of an arbitrary HDF5 storage type with the C API (what other tools produce).
template <typename T>
void write_raw(const fs::path& path, const char* name, hid_t file_type, hid_t memory_type,
               const std::vector<T>& values, hsize_t rows, hsize_t cols) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hsize_t dims[2] = {rows, cols};
  const hid_t space = H5Screate_simple(2, dims, nullptr);
  const hid_t dataset =
      H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(H5Dwrite(dataset, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), 0);
  H5Dclose(dataset);
  H5Sclose(space);
  H5Fclose(file);
}

TEST_F(Hdf5Test, FloatsAndIntsRoundTrip) {
  const fs::path path = dir_ / "a.hdf5";
  const std::vector<float> floats = {1.5f, -2.f, 3.25f, 4.f, 5.f, 6.f};
  const std::vector<std::int32_t> ints = {7, -8, 9};
  {
    h5::File file = h5::File::create(path);
    file.write_floats("m", floats.data(), 2, 3);
    file.write_ints("v", ints.data(), 3, 0);
    file.write_floats("group/nested", floats.data(), 3, 2);
  }
  const h5::File file = h5::File::open_read(path);
  EXPECT_EQ(file.path(), path);
  EXPECT_TRUE(file.has_dataset("m"));
  EXPECT_TRUE(file.has_dataset("group/nested"));
  EXPECT_FALSE(file.has_dataset("nope"));
  EXPECT_FALSE(file.has_dataset("group"));  // a group, not a dataset
  EXPECT_FALSE(file.has_dataset("missing/deeper"));
  EXPECT_EQ(file.shape("m"), (std::vector<std::size_t>{2, 3}));
  EXPECT_EQ(file.shape("v"), (std::vector<std::size_t>{3}));

  const FloatMatrix m = file.read_floats("m");
  ASSERT_EQ(m.rows(), 2u);
  ASSERT_EQ(m.cols(), 3u);
  EXPECT_EQ(std::vector<float>(m.data(), m.data() + 6), floats);
  const Matrix<std::int32_t> v = file.read_ints("v");  // 1-D reads as n x 1
  ASSERT_EQ(v.rows(), 3u);
  ASSERT_EQ(v.cols(), 1u);
  EXPECT_EQ(v(1, 0), -8);
  const FloatMatrix nested = file.read_floats("group/nested");
  EXPECT_EQ(nested.rows(), 3u);
  EXPECT_EQ(nested(2, 1), 6.f);
}

TEST_F(Hdf5Test, MaxRowsReadsOnlyTheFirstRows) {
  const fs::path path = dir_ / "a.hdf5";
  std::vector<float> values(10 * 4);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  h5::File::create(path).write_floats("m", values.data(), 10, 4);
  const h5::File file = h5::File::open_read(path);
  const FloatMatrix head = file.read_floats("m", 3);
  ASSERT_EQ(head.rows(), 3u);
  ASSERT_EQ(head.cols(), 4u);
  EXPECT_EQ(head(2, 3), 11.f);
  EXPECT_EQ(file.read_floats("m", 100).rows(), 10u);  // more than there are: all
  EXPECT_EQ(file.read_ints("m", 2)(1, 0), 4);
}

TEST_F(Hdf5Test, ConvertsStoredTypes) {
  const fs::path path = dir_ / "a.hdf5";
  h5::File::create(path);
  write_raw<double>(path, "f64", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {0.5, -1.25, 3e10, 7}, 2, 2);
  write_raw<std::int64_t>(path, "i64", H5T_STD_I64LE, H5T_NATIVE_INT64, {1, 2, 5'000'000'000, -3},
                          2, 2);
  write_raw<std::uint8_t>(path, "u8", H5T_STD_U8LE, H5T_NATIVE_UINT8, {0, 255}, 1, 2);
  const h5::File file = h5::File::open_read(path);
  const FloatMatrix f64 = file.read_floats("f64");
  EXPECT_EQ(f64(0, 1), -1.25f);
  EXPECT_EQ(f64(1, 0), 3e10f);
  const Matrix<std::int32_t> i64 = file.read_ints("i64");
  EXPECT_EQ(i64(0, 1), 2);
  EXPECT_EQ(i64(1, 1), -3);
  // HDF5 clips out-of-range values; dataset loading then rejects them as ids.
  EXPECT_EQ(i64(1, 0), std::numeric_limits<std::int32_t>::max());
  EXPECT_EQ(file.read_floats("u8")(0, 1), 255.f);
  EXPECT_EQ(file.read_floats("i64")(1, 1), -3.f);
}

TEST_F(Hdf5Test, WriteReplacesAnExistingDataset) {
  const fs::path path = dir_ / "a.hdf5";
  const std::vector<float> first = {1, 2, 3, 4};
  const std::vector<float> second = {9, 8};
  h5::File file = h5::File::create(path);
  file.write_floats("m", first.data(), 2, 2);
  file.write_floats("m", second.data(), 1, 2);
  EXPECT_EQ(file.shape("m"), (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(file.read_floats("m")(0, 0), 9.f);
}

TEST_F(Hdf5Test, EveryAttributeKind) {
  const fs::path path = dir_ / "a.hdf5";
  {
    h5::File::create(path);
    h5::File file = h5::File::open_read_write(path);
    file.set_attribute("text", std::string_view("héllo"));
    file.set_attribute("literal", "dense");
    file.set_attribute("real", 0.125);
    file.set_attribute("count", std::int64_t{-1234567890123});
    file.set_attribute("yes", true);
    file.set_attribute("no", false);
    file.set_attribute("text", std::string_view("replaced"));
    file.flush();
  }
  const h5::File file = h5::File::open_read(path);
  EXPECT_EQ(file.string_attribute("text"), "replaced");
  EXPECT_EQ(file.string_attribute("literal"), "dense");
  EXPECT_EQ(file.number_attribute("real"), 0.125);
  EXPECT_EQ(file.number_attribute("count"), -1234567890123.0);
  EXPECT_EQ(file.number_attribute("yes"), 1.0);
  EXPECT_EQ(file.number_attribute("no"), 0.0);
  EXPECT_EQ(file.string_attribute("absent"), std::nullopt);
  EXPECT_EQ(file.number_attribute("absent"), std::nullopt);
  EXPECT_THAT(file.attribute_names(),
              UnorderedElementsAre("text", "literal", "real", "count", "yes", "no"));
  EXPECT_THAT(error_of([&] { file.number_attribute("text"); }),
              AllOf(HasSubstr("'text'"), HasSubstr("a.hdf5"), HasSubstr("not a single number")));
  EXPECT_THAT(error_of([&] { file.string_attribute("real"); }), HasSubstr("not a single string"));
}

TEST_F(Hdf5Test, ReadsFixedLengthStringAttributes) {
  const fs::path path = dir_ / "a.hdf5";
  h5::File::create(path);
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  const hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, 12);
  H5Tset_strpad(type, H5T_STR_NULLPAD);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attribute = H5Acreate2(file, "distance", type, space, H5P_DEFAULT, H5P_DEFAULT);
  const char value[12] = "angular";
  H5Awrite(attribute, type, value);
  H5Aclose(attribute);
  H5Sclose(space);
  H5Tclose(type);
  H5Fclose(file);
  EXPECT_EQ(h5::File::open_read(path).string_attribute("distance"), "angular");
}

TEST_F(Hdf5Test, ErrorsNameTheFileAndTheProblem) {
  EXPECT_THAT(
      error_of([&] { h5::File::open_read(dir_ / "missing.hdf5"); }),
      AllOf(HasSubstr("cannot open"), HasSubstr("missing.hdf5"), HasSubstr("no such file")));
  const fs::path garbage = dir_ / "garbage.hdf5";
  std::ofstream(garbage) << "this is not HDF5 at all, just some text padding it out to a size";
  EXPECT_THAT(error_of([&] { h5::File::open_read(garbage); }),
              AllOf(HasSubstr("garbage.hdf5"), HasSubstr("not an HDF5 file")));
  EXPECT_THAT(error_of([&] { h5::File::open_read(dir_); }), HasSubstr("directory"));
  const fs::path path = dir_ / "a.hdf5";
  h5::File::create(path);
  const h5::File file = h5::File::open_read(path);
  EXPECT_THAT(error_of([&] { file.read_floats("train"); }),
              AllOf(HasSubstr("'train'"), HasSubstr("a.hdf5")));
  EXPECT_THAT(error_of([&] { file.shape("test"); }), HasSubstr("no dataset 'test'"));
  EXPECT_THAT(error_of([&] { h5::File::create(dir_ / "no-such-dir" / "x.hdf5"); }),
              HasSubstr("cannot create HDF5 file"));
}

TEST_F(Hdf5Test, MovedFileKeepsWorking) {
  const fs::path path = dir_ / "a.hdf5";
  h5::File original = h5::File::create(path);
  h5::File moved = std::move(original);
  moved.set_attribute("k", std::int64_t{3});
  h5::File assigned = h5::File::create(dir_ / "b.hdf5");
  assigned = std::move(moved);
  EXPECT_EQ(assigned.number_attribute("k"), 3.0);
  EXPECT_EQ(assigned.path(), path);
}

TEST_F(Hdf5Test, H5pyReadsStringsAsStrAndBoolsAsNumpyBool) {
  if (!fs::exists("/usr/bin/python3") ||
      std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-h5py not installed";
  }
  const fs::path path = dir_ / "a.hdf5";
  {
    h5::File file = h5::File::create(path);
    file.set_attribute("distance", "euclidean");
    file.set_attribute("batch_mode", false);
    file.set_attribute("expect_extra", true);
    file.set_attribute("count", std::int64_t{10});
    const std::vector<float> train = {1, 2, 3, 4, 5, 6};
    file.write_floats("train", train.data(), 3, 2);
  }
  const fs::path out = dir_ / "out.txt";
  const std::string script = fmt::format(
      "import h5py, numpy; f = h5py.File('{}', 'r'); a = f.attrs; "
      "print(type(a['distance']).__name__, a['distance'] == 'euclidean', "
      "type(a['batch_mode']).__name__, bool(a['expect_extra']), int(a['count']), "
      "f['train'].shape, f['train'].dtype)",
      path.string());
  ASSERT_EQ(
      std::system(fmt::format("/usr/bin/python3 -c \"{}\" > {}", script, out.string()).c_str()), 0);
  std::stringstream text;
  text << std::ifstream(out).rdbuf();
  EXPECT_EQ(text.str(), "str True bool_ True 10 (3, 2) float32\n");
}

TEST_F(Hdf5Test, WriteAtomicallyReplacesTheFile) {
  const fs::path path = dir_ / "x.hdf5";
  std::ofstream(path) << "old";
  h5::write_atomically(path, [&](const fs::path& temporary) {
    EXPECT_EQ(temporary.parent_path(), dir_);
    EXPECT_THAT(temporary.filename().string(), HasSubstr(".x.hdf5.tmp-"));
    std::ofstream(temporary) << "new";
  });
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_EQ(text.str(), "new");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(Hdf5Test, WriteAtomicallyKeepsTheOldFileOnException) {
  const fs::path path = dir_ / "x.hdf5";
  std::ofstream(path) << "old";
  EXPECT_THROW(h5::write_atomically(path,
                                    [&](const fs::path& temporary) {
                                      h5::File file = h5::File::create(temporary);
                                      file.set_attribute("half", "written");
                                      throw std::runtime_error("interrupted");
                                    }),
               std::runtime_error);
  std::stringstream text;
  text << std::ifstream(path).rdbuf();
  EXPECT_EQ(text.str(), "old");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1)
      << "the temporary file was left behind";
}

TEST_F(Hdf5Test, WriteAtomicallyNamesAMissingDirectory) {
  const auto noop = [](const fs::path&) {};
  EXPECT_THAT(error_of([&] { h5::write_atomically(dir_ / "nope" / "x.hdf5", noop); }),
              AllOf(HasSubstr("nope"), HasSubstr("does not exist")));
}

TEST_F(Hdf5Test, WriteAtomicallyNamesAReadOnlyDirectory) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write into read-only directories";
  const auto noop = [](const fs::path&) {};
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THAT(error_of([&] { h5::write_atomically(dir_ / "x.hdf5", noop); }),
              AllOf(HasSubstr(dir_.string()), HasSubstr("not writable")));
}

TEST_F(Hdf5Test, Int64AndUint32VectorsRoundTrip) {
  const fs::path path = dir_ / "v.hdf5";
  const std::vector<std::int64_t> offsets = {0, 3, std::int64_t{1} << 40, -5};
  const std::vector<std::uint32_t> labels = {0, 7, 4294967295u};
  {
    h5::File file = h5::File::create(path);
    file.write_int64s("offsets", offsets.data(), offsets.size());
    file.write_uint32s("labels", labels.data(), labels.size());
    file.write_uint32s("empty", nullptr, 0);
    file.set_attribute("label_count", std::uint32_t{4000000000u});
  }
  const h5::File file = h5::File::open_read(path);
  EXPECT_EQ(file.read_int64s("offsets"), offsets);
  EXPECT_EQ(file.read_int64s("offsets", 2), (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(file.read_uint32s("labels"), labels);
  EXPECT_EQ(file.read_uint32s("labels", 1), (std::vector<std::uint32_t>{0}));
  EXPECT_TRUE(file.read_uint32s("empty").empty());
  EXPECT_EQ(file.number_attribute("label_count"), 4000000000.0);
  // Stored as the types h5py reports as int64 / uint32.
  const hid_t dataset =
      H5Dopen2(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "labels", H5P_DEFAULT);
  const hid_t type = H5Dget_type(dataset);
  EXPECT_GT(H5Tequal(type, H5T_STD_U32LE), 0);
  H5Tclose(type);
  H5Dclose(dataset);
}

TEST_F(Hdf5Test, IntegerVectorsConvertFromOtherIntegerTypes) {
  const fs::path path = dir_ / "c.hdf5";
  h5::File::create(path);
  write_raw<std::int32_t>(path, "i32", H5T_STD_I32LE, H5T_NATIVE_INT32, {1, 2, 3}, 3, 1);
  {
    // Rank-1 datasets of other integer types.
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    const hsize_t n = 3;
    const hid_t space = H5Screate_simple(1, &n, nullptr);
    const auto put = [&](const char* name, hid_t file_type, hid_t memory_type, const void* data) {
      const hid_t d =
          H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
      H5Dclose(d);
    };
    const std::int64_t signed_values[3] = {5, 0, 4294967295};
    const std::int64_t negative[3] = {1, -2, 3};
    const std::int64_t too_big[3] = {1, 2, 4294967296};
    const std::uint64_t huge[3] = {1, std::uint64_t{1} << 63, 3};
    const std::uint16_t small[3] = {9, 8, 7};
    const float floats[3] = {1, 2, 3};
    put("i64", H5T_STD_I64LE, H5T_NATIVE_INT64, signed_values);
    put("negative", H5T_STD_I64LE, H5T_NATIVE_INT64, negative);
    put("too_big", H5T_STD_I64BE, H5T_NATIVE_INT64, too_big);
    put("u64", H5T_STD_U64LE, H5T_NATIVE_UINT64, huge);
    put("u16", H5T_STD_U16LE, H5T_NATIVE_UINT16, small);
    put("f32", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, floats);
    H5Sclose(space);
    H5Fclose(file);
  }
  const h5::File file = h5::File::open_read(path);
  EXPECT_EQ(file.read_uint32s("i64"), (std::vector<std::uint32_t>{5, 0, 4294967295u}));
  EXPECT_EQ(file.read_uint32s("u16"), (std::vector<std::uint32_t>{9, 8, 7}));
  EXPECT_EQ(file.read_int64s("u16"), (std::vector<std::int64_t>{9, 8, 7}));
  EXPECT_EQ(file.read_int64s("negative"), (std::vector<std::int64_t>{1, -2, 3}));
  // HDF5 would clip these silently; the reader names the entry instead.
  EXPECT_THAT(error_of([&] { file.read_uint32s("negative"); }),
              AllOf(HasSubstr("'negative'"), HasSubstr("c.hdf5"), HasSubstr("entry 1 is -2"),
                    HasSubstr("uint32")));
  EXPECT_THAT(error_of([&] { file.read_uint32s("too_big"); }),
              AllOf(HasSubstr("'too_big'"), HasSubstr("entry 2 is 4294967296")));
  EXPECT_THAT(
      error_of([&] { file.read_int64s("u64"); }),
      AllOf(HasSubstr("'u64'"), HasSubstr("entry 1 is 9223372036854775808"), HasSubstr("int64")));
  EXPECT_THAT(error_of([&] { file.read_uint32s("f32"); }),
              AllOf(HasSubstr("'f32'"), HasSubstr("c.hdf5"), HasSubstr("float values"),
                    HasSubstr("expected integers")));
  EXPECT_THAT(
      error_of([&] { file.read_int64s("i32"); }),
      AllOf(HasSubstr("'i32'"), HasSubstr("c.hdf5"), HasSubstr("rank 2"), HasSubstr("rank 1")));
  EXPECT_THAT(error_of([&] { file.read_int64s("absent"); }),
              AllOf(HasSubstr("c.hdf5"), HasSubstr("no dataset 'absent'")));
}

TEST_F(Hdf5Test, RemoveDatasetAndAttribute) {
  const fs::path path = dir_ / "r.hdf5";
  const std::int64_t one = 1;
  {
    h5::File file = h5::File::create(path);
    file.write_int64s("a", &one, 1);
    file.write_int64s("b", &one, 1);
    file.set_attribute("x", std::int64_t{1});
    file.remove_dataset("a");
    file.remove_dataset("never");  // absent: no error
    file.remove_attribute("x");
    file.remove_attribute("never");
  }
  const h5::File file = h5::File::open_read(path);
  EXPECT_FALSE(file.has_dataset("a"));
  EXPECT_TRUE(file.has_dataset("b"));
  EXPECT_FALSE(file.number_attribute("x").has_value());
}

}  // namespace
}  // namespace annbench
