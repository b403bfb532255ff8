// `annbench dataset prepare fashion-mnist-cnn-<dim>-<metric>` on a tiny configuration (600
// training images, 100 queries, 2 epochs): a valid ANN-Benchmarks file with exact ground truth,
// class structure in the neighbours, the training record in the attributes, and the same
// features for the same seed. Skipped where python3-torch or Fashion-MNIST is not installed.

#include "commands.h"
#include "naive_knn.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/deep_features.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/registry.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr std::size_t kTrainImages = 600;
constexpr std::size_t kTestImages = 100;
constexpr std::size_t kDim = 16;
constexpr std::size_t kClasses = 10;

std::string python() {
  const char* configured = std::getenv("ANNBENCH_PYTHON");
  return configured != nullptr ? configured : "/usr/bin/python3";
}

// Why the training tests cannot run here, or nullopt when they can.
std::optional<std::string> training_unavailable() {
  const std::string probe = python() + " -c 'import torch, numpy, h5py' >/dev/null 2>&1";
  if (std::system(probe.c_str()) != 0)
    return python() + " cannot import torch (install python3-torch)";
  for (const char* stem : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}) {
    const fs::path file = fashion_mnist_dir() / (std::string(stem) + ".gz");
    if (!fs::exists(file)) return file.string() + " is missing (install dataset-fashion-mnist)";
  }
  return std::nullopt;
}

std::string error_of(const std::vector<std::string>& args) {
  try {
    ::testing::internal::CaptureStdout();
    dataset_command(args);
    ::testing::internal::GetCapturedStdout();
  } catch (const Error& error) {
    ::testing::internal::GetCapturedStdout();
    return error.what();
  }
  return "(no error)";
}

// Builds a tiny dataset with the CLI; the error message, or "" on success.
std::string prepare_tiny(const std::string& metric, const fs::path& out, std::string& output) {
  ::testing::internal::CaptureStdout();
  std::string error;
  try {
    dataset_command({"prepare", fmt::format("fashion-mnist-cnn-{}-{}", kDim, metric),
                     "--train-images", std::to_string(kTrainImages), "--test-images",
                     std::to_string(kTestImages), "--epochs", "2", "--seed", "7", "--out",
                     out.string()});
  } catch (const Error& caught) {
    error = caught.what();
  }
  output += ::testing::internal::GetCapturedStdout();
  return error;
}

void expect_valid_with_exact_ground_truth(const fs::path& path, Metric metric) {
  const Dataset dataset = load_dataset(path);
  EXPECT_EQ(dataset.metric, metric);
  ASSERT_EQ(dataset.train.rows(), kTrainImages);
  ASSERT_EQ(dataset.test.rows(), kTestImages);
  ASSERT_EQ(dataset.dim(), kDim);
  ASSERT_EQ(dataset.neighbors.cols(), 100u);
  constexpr std::size_t kChecked = 8;
  const MatrixView queries{dataset.test.data(), kChecked, kDim};
  const std::vector<Neighbor> expected =
      testing::naive_knn(dataset.train.view(), queries, dataset.metric, 100);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const float stored = dataset.distances.data()[i];
    EXPECT_NEAR(stored, expected[i].distance, 1e-4f * std::max(1.0f, std::abs(stored))) << i;
    // Ids agree wherever the distance is not (nearly) tied with a neighbour's.
    const bool tied =
        (i % 100 > 0 && std::abs(expected[i].distance - expected[i - 1].distance) < 1e-4f) ||
        (i % 100 < 99 && std::abs(expected[i + 1].distance - expected[i].distance) < 1e-4f);
    if (!tied) {
      EXPECT_EQ(dataset.neighbors.data()[i], expected[i].id) << i;
    }
  }
}

// Fraction of the 10 nearest training images that share the query's class.
double same_class_fraction(const fs::path& path) {
  const h5::File file = h5::File::open_read(path);
  const Matrix<std::int32_t> train_labels = file.read_ints("train_labels");
  const Matrix<std::int32_t> test_labels = file.read_ints("test_labels");
  const Matrix<std::int32_t> neighbors = file.read_ints("neighbors");
  EXPECT_EQ(train_labels.rows(), kTrainImages);
  EXPECT_EQ(test_labels.rows(), kTestImages);
  constexpr std::size_t kNearest = 10;
  std::size_t same = 0;
  for (std::size_t q = 0; q < test_labels.rows(); ++q) {
    EXPECT_GE(test_labels.data()[q], 0);
    EXPECT_LT(test_labels.data()[q], static_cast<std::int32_t>(kClasses));
    for (std::size_t j = 0; j < kNearest; ++j) {
      const auto id = static_cast<std::size_t>(neighbors(q, j));
      same += id < train_labels.rows() && train_labels.data()[id] == test_labels.data()[q];
    }
  }
  return static_cast<double>(same) / static_cast<double>(test_labels.rows() * kNearest);
}

void expect_training_attributes(const fs::path& path, std::string_view distance) {
  const h5::File file = h5::File::open_read(path);
  EXPECT_EQ(file.string_attribute("distance"), distance);
  EXPECT_THAT(file.string_attribute("model_architecture").value_or(""), HasSubstr("conv3x3"));
  EXPECT_FALSE(file.string_attribute("torch_version").value_or("").empty());
  EXPECT_EQ(file.number_attribute("epochs"), 2.0);
  EXPECT_EQ(file.number_attribute("seed"), 7.0);
  EXPECT_EQ(file.number_attribute("feature_dim"), static_cast<double>(kDim));
  EXPECT_EQ(file.number_attribute("train_images"), static_cast<double>(kTrainImages));
  EXPECT_GT(file.number_attribute("batch_size").value_or(0), 0);
  EXPECT_GT(file.number_attribute("learning_rate").value_or(0), 0);
  const double accuracy = file.number_attribute("test_accuracy").value_or(-1);
  EXPECT_GT(accuracy, 0.3);  // chance is 0.1
  EXPECT_LE(accuracy, 1.0);
}

// One test for everything that needs training: ctest runs each test in its own process, so
// separate tests would each train again.
TEST(CnnFeatures, TinyConfigurationGivesValidClassfulReproducibleDatasets) {
  if (const std::optional<std::string> reason = training_unavailable()) GTEST_SKIP() << *reason;
  const fs::path dir = fs::temp_directory_path() / fmt::format("annbench-cnn-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string output;
  ASSERT_EQ(prepare_tiny("angular", dir / "angular.hdf5", output), "") << output;
  ASSERT_EQ(prepare_tiny("euclidean", dir / "euclidean.hdf5", output), "") << output;
  EXPECT_THAT(output, AllOf(HasSubstr("test accuracy"), HasSubstr("ground truth: 100 queries")));

  expect_valid_with_exact_ground_truth(dir / "angular.hdf5", Metric::Angular);
  expect_valid_with_exact_ground_truth(dir / "euclidean.hdf5", Metric::L2);
  // Chance is 1 / 10; 600 images and 2 epochs give about 0.6.
  EXPECT_GT(same_class_fraction(dir / "angular.hdf5"), 0.4);
  EXPECT_GT(same_class_fraction(dir / "euclidean.hdf5"), 0.4);
  expect_training_attributes(dir / "angular.hdf5", "angular");
  expect_training_attributes(dir / "euclidean.hdf5", "euclidean");

  // Two training runs with the same seed and thread count: the same features, bit for bit,
  // except that the angular set has the train mean taken away (see deep_features.cpp).
  const Dataset angular = load_dataset(dir / "angular.hdf5");
  const Dataset euclidean = load_dataset(dir / "euclidean.hdf5");
  ASSERT_EQ(angular.train.bytes(), euclidean.train.bytes());
  ASSERT_EQ(angular.test.bytes(), euclidean.test.bytes());
  std::vector<double> mean(kDim, 0.0);
  for (std::size_t i = 0; i < euclidean.train.rows(); ++i) {
    for (std::size_t j = 0; j < kDim; ++j) mean[j] += euclidean.train(i, j);
  }
  for (double& m : mean) m /= static_cast<double>(euclidean.train.rows());
  const auto expect_centred_copy = [&](const FloatMatrix& centred, const FloatMatrix& raw) {
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < raw.rows(); ++i) {
      for (std::size_t j = 0; j < kDim; ++j) {
        const auto expected = static_cast<float>(raw(i, j) - mean[j]);
        mismatches += std::abs(centred(i, j) - expected) > 1e-5f * (1 + std::abs(expected));
      }
    }
    EXPECT_EQ(mismatches, 0u);
  };
  expect_centred_copy(angular.train, euclidean.train);
  expect_centred_copy(angular.test, euclidean.test);
  EXPECT_THAT(h5::File::open_read(dir / "angular.hdf5").string_attribute("centred").value_or(""),
              HasSubstr("train mean subtracted"));
  // Only the two datasets are left: the script's features files are gone.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 2);
  fs::remove_all(dir);
}

TEST(CnnFeaturesBadInput, IsAClearError) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("annbench-cnn-bad-{}", ::getpid());
  const std::string out = (dir / "x.hdf5").string();
  EXPECT_THAT(error_of({"prepare", "fashion-mnist-cnn-16-angular", "--epochs", "0", "--out", out}),
              HasSubstr("--epochs must be positive, got 0"));
  EXPECT_THAT(error_of({"prepare", "fashion-mnist-cnn-16-angular", "--threads", "-2"}),
              HasSubstr("--threads must be positive, got -2"));
  EXPECT_THAT(error_of({"prepare", "fashion-mnist-cnn-16-angular", "--train-images", "0"}),
              HasSubstr("--train-images must be positive, got 0"));
  EXPECT_THAT(error_of({"prepare", "fashion-mnist-cnn-16-angular", "--seed", "-1"}),
              HasSubstr("--seed must be >= 0, got -1"));
  EXPECT_THAT(error_of({"prepare", "fashion-mnist-cnn-16-angular", "--train-images", "500"}),
              HasSubstr("give --out FILE"));
  EXPECT_THAT(error_of({"prepare", "random-xs-20-angular", "--epochs", "2"}),
              HasSubstr("--epochs applies only to fashion-mnist-cnn"));
  for (const char* name : {"fashion-mnist-cnn-16-dot", "fashion-mnist-cnn-1-angular",
                           "fashion-mnist-cnn-x-angular", "fashion-mnist-cnn-5000-euclidean"}) {
    EXPECT_FALSE(parse_deep_feature_name(name).has_value()) << name;
    EXPECT_THAT(error_of({"prepare", name, "--out", out}), HasSubstr("unknown dataset")) << name;
  }
  const std::optional<DeepFeatureRecipe> recipe =
      parse_deep_feature_name("fashion-mnist-cnn-64-angular");
  ASSERT_TRUE(recipe.has_value());
  EXPECT_EQ(recipe->dim, 64u);
  EXPECT_EQ(recipe->metric, Metric::Angular);
  EXPECT_TRUE(can_prepare("fashion-mnist-cnn-128-euclidean"));
  EXPECT_NE(find_registry_entry("fashion-mnist-cnn-64-euclidean"), nullptr);
  EXPECT_THAT(error_of({"fetch", "fashion-mnist-cnn-64-angular"}),
              HasSubstr("not published on ann-benchmarks.com"));
  try {
    prepare_dataset("fashion-mnist-cnn-64-angular");
    ADD_FAILURE() << "prepare_dataset built a CNN dataset without the script";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("annbench dataset prepare fashion-mnist-cnn-64-angular"));
  }
  EXPECT_THROW(write_deep_feature_dataset(dir / "no-such-features.hdf5", Metric::L2, out), Error);
  EXPECT_FALSE(fs::exists(out));
}

// A features file as cnn_features.py writes it, with `value` at train[1][2].
void write_features_file(const fs::path& path, float value, bool with_seed) {
  h5::File file = h5::File::create(path);
  FloatMatrix train = testing::tied_matrix(40, 4, 5, 3);
  train.data()[1 * 4 + 2] = value;
  const FloatMatrix test = testing::random_matrix(6, 4, 9);
  file.write_floats("train", train.data(), train.rows(), train.cols());
  file.write_floats("test", test.data(), test.rows(), test.cols());
  std::vector<std::int32_t> labels(40);
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<std::int32_t>(i % 10);
  file.write_ints("train_labels", labels.data(), 40, 0);
  file.write_ints("test_labels", labels.data(), 6, 0);
  file.set_attribute("model_architecture", "stand-in");
  file.set_attribute("torch_version", "0.0");
  file.set_attribute("epochs", std::int64_t{3});
  if (with_seed) file.set_attribute("seed", std::int64_t{11});
  file.set_attribute("learning_rate", 0.001);
  file.set_attribute("batch_size", std::int64_t{128});
  file.set_attribute("test_accuracy", 0.875);
  file.set_attribute("feature_dim", std::int64_t{4});
}

// The C++ half alone (no torch needed): ground truth, labels and attributes carried over.
TEST(CnnFeaturesFile, BecomesADatasetWithLabelsAndAttributes) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("annbench-cnn-file-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_features_file(dir / "features.hdf5", 0.5f, true);
  ::testing::internal::CaptureStdout();
  write_deep_feature_dataset(dir / "features.hdf5", Metric::L2, dir / "out.hdf5");
  EXPECT_THAT(::testing::internal::GetCapturedStdout(), HasSubstr("ground truth: 6 queries"));
  const Dataset dataset = load_dataset(dir / "out.hdf5");
  EXPECT_EQ(dataset.metric, Metric::L2);
  ASSERT_EQ(dataset.neighbors.rows(), 6u);
  ASSERT_EQ(dataset.neighbors.cols(), 40u);  // k = 100 clamped to the 40 points
  const std::vector<Neighbor> expected =
      testing::naive_knn(dataset.train.view(), dataset.test.view(), Metric::L2, 40);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    // tied_matrix repeats rows, so ties are broken by id on both sides.
    EXPECT_EQ(dataset.neighbors.data()[i], expected[i].id) << i;
    EXPECT_NEAR(dataset.distances.data()[i], expected[i].distance, 1e-4f) << i;
  }
  const h5::File file = h5::File::open_read(dir / "out.hdf5");
  EXPECT_EQ(file.read_ints("train_labels").rows(), 40u);
  EXPECT_EQ(file.read_ints("test_labels").data()[5], 5);
  EXPECT_EQ(file.string_attribute("model_architecture"), "stand-in");
  EXPECT_EQ(file.number_attribute("seed"), 11.0);
  EXPECT_EQ(file.number_attribute("test_accuracy"), 0.875);
  EXPECT_EQ(file.string_attribute("distance"), "euclidean");

  write_features_file(dir / "nan.hdf5", std::nanf(""), true);
  EXPECT_THROW(
      {
        try {
          write_deep_feature_dataset(dir / "nan.hdf5", Metric::Angular, dir / "nan-out.hdf5");
        } catch (const Error& error) {
          EXPECT_THAT(error.what(), HasSubstr("train features hold NaN or Inf"));
          throw;
        }
      },
      Error);
  write_features_file(dir / "no-seed.hdf5", 0.5f, false);
  EXPECT_THROW(
      {
        try {
          write_deep_feature_dataset(dir / "no-seed.hdf5", Metric::L2, dir / "no-seed-out.hdf5");
        } catch (const Error& error) {
          EXPECT_THAT(error.what(), HasSubstr("lacks the 'seed' attribute"));
          throw;
        }
      },
      Error);
  EXPECT_THROW(
      write_deep_feature_dataset(dir / "features.hdf5", Metric::InnerProduct, dir / "dot.hdf5"),
      Error);
  for (const char* name : {"nan-out.hdf5", "no-seed-out.hdf5", "dot.hdf5"})
    EXPECT_FALSE(fs::exists(dir / name)) << name;
  fs::remove_all(dir);
}

// A python3 whose `import torch` fails stands in for a machine without python3-torch.
TEST(CnnFeaturesMissingTorch, SaysWhatToInstall) {
  const fs::path dir =
      fs::temp_directory_path() / fmt::format("annbench-cnn-notorch-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir / "fake" / "torch");
  std::ofstream(dir / "fake" / "torch" / "__init__.py")
      << "raise ImportError('No module named torch', name='torch')\n";
  const char* previous = std::getenv("PYTHONPATH");
  const std::string saved = previous != nullptr ? previous : "";
  ::setenv("PYTHONPATH", (dir / "fake").c_str(), 1);
  const std::string error =
      error_of({"prepare", "fashion-mnist-cnn-16-euclidean", "--train-images", "10",
                "--test-images", "10", "--out", (dir / "out.hdf5").string()});
  if (previous != nullptr) {
    ::setenv("PYTHONPATH", saved.c_str(), 1);
  } else {
    ::unsetenv("PYTHONPATH");
  }
  EXPECT_THAT(error,
              AllOf(HasSubstr("could not import a Python package"), HasSubstr("python3-torch")));
  EXPECT_FALSE(fs::exists(dir / "out.hdf5"));
  // No features file is left behind either.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace annbench
