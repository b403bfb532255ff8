// Datasets kept in their stored type (uint8 / int8), memory-mapped float train sets, and the
// harness handing integer bases to the modules that take them.

#include "cli_support.h"
#include "commands.h"
#include "config.h"
#include "results.h"
#include "runner.h"

#include <annbench/datasets/bigann.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class NativeDatasetTest : public test::DataDirTest {
 protected:
  NativeDatasetTest() : DataDirTest("native-dataset") {}

  // n × dim values lo .. lo + span - 1 (an LCG, so every platform gets the same ones).
  static FloatMatrix integers(std::size_t n, std::size_t dim, int lo, int span,
                              std::uint32_t seed) {
    FloatMatrix m(n, dim);
    std::uint32_t state = seed;
    for (std::size_t i = 0; i < m.size(); ++i) {
      state = state * 1664525u + 1013904223u;
      m.data()[i] = static_cast<float>(lo + static_cast<int>((state >> 8) % span));
    }
    return m;
  }

  fs::path write(const std::string& name, ElementType type, Metric metric = Metric::L2) {
    const int lo = type == ElementType::kInt8 ? -128 : 0;
    train_ = integers(500, 13, lo, 256, 11);
    test_ = integers(20, 13, lo, 256, 12);
    const GroundTruth truth = compute_ground_truth(train_.view(), test_.view(), metric, 10);
    const fs::path path = dir_ / (name + ".hdf5");
    write_integer_dataset(path, metric, type, train_, test_, truth.neighbors, truth.distances);
    return path;
  }

  static std::string error_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }

  FloatMatrix train_;
  FloatMatrix test_;
};

TEST_F(NativeDatasetTest, Uint8StaysUint8WhenAskedAndIsExactFloatOtherwise) {
  const fs::path path = write("u8", ElementType::kUint8);
  EXPECT_EQ(h5::File::open_read(path).stored_element("train"), h5::StoredElement::kUint8);
  EXPECT_EQ(h5::File::open_read(path).string_attribute("point_type"), "uint8");

  DatasetLoadOptions native;
  native.native_integers = true;
  const Dataset typed = load_dataset(path, native);
  EXPECT_EQ(typed.element_type, ElementType::kUint8);
  EXPECT_TRUE(typed.train.empty());
  ASSERT_EQ(typed.train_u8.rows(), 500u);
  EXPECT_EQ(typed.rows(), 500u);
  EXPECT_EQ(typed.dim(), 13u);
  for (std::size_t i = 0; i < train_.size(); ++i)
    ASSERT_EQ(static_cast<float>(typed.train_u8.data()[i]), train_.data()[i]) << i;
  EXPECT_EQ(typed.train_u8.bytes() * 4, train_.bytes());  // a quarter of float32's memory

  const Dataset widened = load_dataset(path);  // every other reader gets floats, as before
  EXPECT_EQ(widened.element_type, ElementType::kUint8);
  ASSERT_EQ(widened.train.rows(), 500u);
  EXPECT_TRUE(widened.train_u8.empty());
  for (std::size_t i = 0; i < train_.size(); ++i)
    ASSERT_EQ(widened.train.data()[i], train_.data()[i]) << i;
  for (std::size_t i = 0; i < test_.size(); ++i)
    ASSERT_EQ(widened.test.data()[i], test_.data()[i]) << i;

  Dataset materialized = load_dataset(path, native);
  materialize_float_train(materialized);
  for (std::size_t i = 0; i < train_.size(); ++i)
    ASSERT_EQ(materialized.train.data()[i], train_.data()[i]) << i;
}

TEST_F(NativeDatasetTest, Int8KeepsItsSign) {
  const fs::path path = write("i8", ElementType::kInt8, Metric::InnerProduct);
  DatasetLoadOptions native;
  native.native_integers = true;
  const Dataset typed = load_dataset(path, native);
  EXPECT_EQ(typed.element_type, ElementType::kInt8);
  ASSERT_EQ(typed.train_i8.rows(), 500u);
  bool negative = false;
  for (std::size_t i = 0; i < train_.size(); ++i) {
    ASSERT_EQ(static_cast<float>(typed.train_i8.data()[i]), train_.data()[i]) << i;
    negative = negative || typed.train_i8.data()[i] < 0;
  }
  EXPECT_TRUE(negative);
}

TEST_F(NativeDatasetTest, ValuesOutsideTheTypeAreErrorsNamingThem) {
  FloatMatrix train = integers(10, 4, 0, 256, 1);
  const FloatMatrix test = integers(3, 4, 0, 256, 2);
  train(7, 2) = 256;
  const fs::path path = dir_ / "bad.hdf5";
  EXPECT_THAT(
      error_of([&] {
        write_integer_dataset(path, Metric::L2, ElementType::kUint8, train, test, {}, {});
      }),
      HasSubstr("bad.hdf5': train as uint8: row 7 column 2 is 256, not an integer in 0..255"));
  train(7, 2) = 1.5f;
  EXPECT_THAT(error_of([&] {
                write_integer_dataset(path, Metric::L2, ElementType::kUint8, train, test, {}, {});
              }),
              HasSubstr("row 7 column 2 is 1.5"));
  train = integers(10, 4, -128, 256, 1);
  train(7, 2) = -129;
  EXPECT_THAT(error_of([&] {
                write_integer_dataset(path, Metric::L2, ElementType::kInt8, train,
                                      integers(3, 4, -128, 256, 2), {}, {});
              }),
              HasSubstr("train as int8: row 7 column 2 is -129, not an integer in -128..127"));
  EXPECT_FALSE(fs::exists(path));  // nothing half-written
}

TEST_F(NativeDatasetTest, AUint8BaseWithFloatQueriesIsAnError) {
  const fs::path path = dir_ / "mixed.hdf5";
  {
    h5::File file = h5::File::create(path);
    file.set_attribute("distance", "euclidean");
    const Matrix<std::uint8_t> train(20, 4, 3);
    const FloatMatrix test(2, 4, 0.5f);
    file.write_uint8s("train", train.data(), train.rows(), train.cols());
    file.write_floats("test", test.data(), test.rows(), test.cols());
  }
  EXPECT_THAT(error_of([&] { load_dataset(path, {.require_ground_truth = false}); }),
              HasSubstr("mixed.hdf5': train is stored as uint8 but test as float32"));

  const fs::path declared = dir_ / "declared.hdf5";
  {
    h5::File file = h5::File::create(declared);
    file.set_attribute("distance", "euclidean");
    file.set_attribute("point_type", "uint8");
    const FloatMatrix rows(20, 4, 1.0f);
    file.write_floats("train", rows.data(), rows.rows(), rows.cols());
    file.write_floats("test", rows.data(), 2, rows.cols());
  }
  EXPECT_THAT(error_of([&] { load_dataset(declared, {.require_ground_truth = false}); }),
              HasSubstr("point_type 'uint8' but its train vectors are stored as float32"));
}

TEST_F(NativeDatasetTest, AMappedTrainEqualsARead) {
  FloatMatrix train = integers(3000, 17, -50, 100, 5);
  for (std::size_t i = 0; i < train.size(); ++i) train.data()[i] *= 0.37f;
  const FloatMatrix test = integers(4, 17, -50, 100, 6);
  const fs::path path = dir_ / "float.hdf5";
  write_dataset(path, Metric::L2, train, test, {}, {});

  DatasetLoadOptions mapped{.require_ground_truth = false, .map_train = MapTrain::kAlways};
  DatasetLoadOptions read{.require_ground_truth = false, .map_train = MapTrain::kNever};
  Dataset a = load_dataset(path, mapped);
  const Dataset b = load_dataset(path, read);
  EXPECT_TRUE(a.train.adopted());
  EXPECT_FALSE(b.train.adopted());
  ASSERT_EQ(a.train.rows(), 3000u);
  ASSERT_EQ(a.train.cols(), 17u);
  for (std::size_t i = 0; i < train.size(); ++i) ASSERT_EQ(a.train.data()[i], train.data()[i]);
  // The mapping is private: writing to it changes neither the file nor another load.
  a.train(0, 0) = 1e6f;
  EXPECT_EQ(load_dataset(path, mapped).train(0, 0), train(0, 0));
  // Small sets are read unless mapping is forced.
  EXPECT_FALSE(load_dataset(path, {.require_ground_truth = false}).train.adopted());
}

TEST_F(NativeDatasetTest, NonFiniteValuesInAMappedTrainAreStillCaught) {
  FloatMatrix train = integers(100, 8, 0, 10, 5);
  train(42, 3) = std::numeric_limits<float>::quiet_NaN();
  const fs::path path = dir_ / "nan.hdf5";
  write_dataset(path, Metric::L2, train, integers(2, 8, 0, 10, 6), {}, {});
  EXPECT_THAT(error_of([&] {
                load_dataset(path, {.require_ground_truth = false, .map_train = MapTrain::kAlways});
              }),
              HasSubstr("non-finite value (nan) in row 42, column 3"));
}

TEST_F(NativeDatasetTest, ConvertKeepsTheTypeWhenAsked) {
  const FloatMatrix base = integers(300, 6, 0, 256, 3);
  const FloatMatrix queries = integers(5, 6, 0, 256, 4);
  write_bin(dir_ / "base.u8bin", BinElement::UInt8, base.view());
  write_bin(dir_ / "query.u8bin", BinElement::UInt8, queries.view());
  const auto convert = [&](const std::string& out, const std::string& type) {
    return test::run_captured(dataset_command,
                              {"convert", "--train", (dir_ / "base.u8bin").string(), "--test",
                               (dir_ / "query.u8bin").string(), "--metric", "euclidean", "--out",
                               (dir_ / out).string(), "--k", "10", "--point-type", type});
  };
  EXPECT_EQ(convert("u8.hdf5", "uint8").first, 0);
  EXPECT_EQ(h5::File::open_read(dir_ / "u8.hdf5").stored_element("train"),
            h5::StoredElement::kUint8);
  EXPECT_EQ(convert("f.hdf5", "float").first, 0);
  const Dataset typed = load_dataset(dir_ / "u8.hdf5");
  const Dataset widened = load_dataset(dir_ / "f.hdf5");
  for (std::size_t i = 0; i < base.size(); ++i)
    ASSERT_EQ(typed.train.data()[i], widened.train.data()[i]);
  for (std::size_t i = 0; i < typed.neighbors.size(); ++i)
    ASSERT_EQ(typed.neighbors.data()[i], widened.neighbors.data()[i]);

  EXPECT_THAT(error_of([&] { convert("x.hdf5", "uint16"); }),
              HasSubstr("--point-type 'uint16': expected float, uint8 or int8"));
  EXPECT_THAT(error_of([&] { convert("x.hdf5", "int8"); }),
              HasSubstr("not an integer in -128..127"));
  write_bin(dir_ / "query.fbin", BinElement::Float32, queries.view());
  EXPECT_THAT(error_of([&] {
                test::run_captured(dataset_command,
                                   {"convert", "--train", (dir_ / "base.u8bin").string(), "--test",
                                    (dir_ / "query.fbin").string(), "--metric", "euclidean",
                                    "--out", (dir_ / "y.hdf5").string(), "--point-type", "uint8"});
              }),
              HasSubstr("--point-type uint8 needs both in that type"));
}

TEST_F(NativeDatasetTest, SyntheticByteSetsAreTheQuantizedMixture) {
  const auto make = [&](const std::string& type) {
    const fs::path out = dir_ / (type + ".hdf5");
    const auto [code, text] =
        test::run_captured(dataset_command, {"synthetic", "--n", "400", "--queries", "10", "--dim",
                                             "9", "--metric", "euclidean", "--clusters", "4", "--k",
                                             "10", "--point-type", type, "--out", out.string()});
    EXPECT_EQ(code, 0) << text;
    return out;
  };
  const FloatMatrix mixture = gaussian_mixture(410, 9, 4, 1);
  for (const std::string type : {"uint8", "int8"}) {
    SCOPED_TRACE(type);
    const fs::path path = make(type);
    const h5::File file = h5::File::open_read(path);
    EXPECT_EQ(file.stored_element("train"),
              type == "uint8" ? h5::StoredElement::kUint8 : h5::StoredElement::kInt8);
    const Dataset dataset = load_dataset(path);
    const float shift = type == "uint8" ? 128.0f : 0.0f;
    for (std::size_t i = 0; i < 400 * 9; ++i) {
      const float want =
          std::clamp(std::nearbyint(8.0f * mixture.data()[i]) + shift, shift - 128, shift + 127);
      ASSERT_EQ(dataset.train.data()[i], want) << i;
    }
    const GroundTruth truth =
        compute_ground_truth(dataset.train.view(), dataset.test.view(), Metric::L2, 10);
    for (std::size_t i = 0; i < truth.neighbors.size(); ++i)
      ASSERT_EQ(dataset.neighbors.data()[i], truth.neighbors.data()[i]);
  }
  EXPECT_THAT(error_of([&] { make("float16"); }),
              HasSubstr("--point-type 'float16': expected float, uint8 or int8"));
}

TEST_F(NativeDatasetTest, TheRunnerHandsUint8ToModulesThatTakeIt) {
  const fs::path path = write("tiny-u8", ElementType::kUint8);
  const SweepConfig sweep = parse_sweep_config(
      fmt::format("datasets: [{}]\nk: 10\nruns: 1\nalgorithms:\n"
                  "  - module: fixture-faulty\n  - module: bruteforce\n"
                  "  - module: fixture-faulty\n    name: pca\n    pca: {{dim: 6}}\n",
                  path.string()),
      dir_ / "sweep.yaml");
  RunOptions options;
  options.results_root = dir_ / "results";
  options.quiet = true;
  const ModuleRegistry registry{{ANNBENCH_TEST_MODULE_DIR, ANNBENCH_TEST_FIXTURE_MODULE_DIR}};
  const SweepOutcome outcome = run_sweep(sweep, registry, options);
  EXPECT_EQ(outcome.runs_failed, 0u);
  EXPECT_EQ(outcome.runs_done, 3u);
  std::vector<RunRecord> runs;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "results"))
    if (entry.path().extension() == ".hdf5") runs.push_back(read_run_summary(entry.path()));
  ASSERT_EQ(runs.size(), 3u);
  for (const RunRecord& run : runs) {
    if (run.algorithm != "pca") {
      EXPECT_DOUBLE_EQ(run.recall, 1.0) << run.algorithm;  // exact scans, exact distances
    }
    if (run.algorithm == "fixture-faulty") {
      EXPECT_EQ(run.build_report, "{\"rows\":500,\"input\":\"uint8\"}");
    } else if (run.algorithm == "pca") {
      EXPECT_EQ(run.build_report.find("uint8"), std::string::npos);  // a transform needs floats
    }
  }
}

}  // namespace
}  // namespace annbench
