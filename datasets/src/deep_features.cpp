// Deep-feature datasets: name parsing, the training script's arguments, and the final file.

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/deep_features.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace annbench {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kGroundTruthK = 100;
constexpr std::size_t kMaxFeatureDim = 4096;

// Attributes the features file must carry: without them the dataset could not say how its
// vectors were made.
constexpr const char* kRequiredAttributes[] = {"model_architecture", "epochs",     "seed",
                                               "learning_rate",      "batch_size", "test_accuracy",
                                               "torch_version",      "feature_dim"};

// Labels as one int32 per row, checked against the number of vectors they describe.
std::vector<std::int32_t> read_labels(const h5::File& file, std::string_view name,
                                      std::size_t rows) {
  const Matrix<std::int32_t> labels = file.read_ints(name);
  ANNBENCH_CHECK(labels.cols() == 1 && labels.rows() == rows,
                 "features file '{}': '{}' has {} x {} values, expected {} labels",
                 file.path().string(), name, labels.rows(), labels.cols(), rows);
  return {labels.data(), labels.data() + labels.size()};
}

// Copies every root attribute of `from` onto `to`. Numbers come back from HDF5 as doubles;
// whole ones (epochs, seed, batch size) are written as integers so they stay integers.
void copy_attributes(const h5::File& from, h5::File& to) {
  for (const std::string& name : from.attribute_names()) {
    if (name == "distance" || name == "type" || name == "dimension" || name == "point_type")
      continue;
    std::optional<std::string> text;
    try {
      text = from.string_attribute(name);
    } catch (const Error&) {
      // Not a string: read as a number below.
    }
    if (text) {
      to.set_attribute(name, std::string_view(*text));
      continue;
    }
    const std::optional<double> number = from.number_attribute(name);
    ANNBENCH_CHECK(number.has_value(), "features file '{}': attribute '{}' is unreadable",
                   from.path().string(), name);
    constexpr double kLargestExactInteger = 9'007'199'254'740'992.0;  // 2^53
    if (std::trunc(*number) == *number && std::abs(*number) <= kLargestExactInteger) {
      to.set_attribute(name, static_cast<std::int64_t>(*number));
    } else {
      to.set_attribute(name, *number);
    }
  }
}

}  // namespace

std::optional<DeepFeatureRecipe> parse_deep_feature_name(std::string_view name) {
  constexpr std::string_view kPrefix = "fashion-mnist-cnn-";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const std::size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view dim_text = name.substr(0, dash);
  const std::string_view metric_text = name.substr(dash + 1);
  std::size_t dim = 0;
  const auto [end, error] =
      std::from_chars(dim_text.data(), dim_text.data() + dim_text.size(), dim);
  if (error != std::errc() || end != dim_text.data() + dim_text.size() || dim < 2 ||
      dim > kMaxFeatureDim)
    return std::nullopt;
  if (metric_text == "angular") return DeepFeatureRecipe{dim, Metric::Angular};
  if (metric_text == "euclidean") return DeepFeatureRecipe{dim, Metric::L2};
  return std::nullopt;
}

std::vector<std::string> cnn_features_arguments(const DeepFeatureRecipe& recipe,
                                                const DeepFeatureOptions& options,
                                                const fs::path& fashion_mnist_directory,
                                                const fs::path& features_file) {
  ANNBENCH_CHECK(options.epochs > 0, "CNN features: epochs must be positive, got {}",
                 options.epochs);
  ANNBENCH_CHECK(options.threads > 0, "CNN features: threads must be positive, got {}",
                 options.threads);
  std::vector<std::string> arguments = {
      "--out",  features_file.string(),       "--data-dir", fashion_mnist_directory.string(),
      "--dim",  std::to_string(recipe.dim),   "--epochs",   std::to_string(options.epochs),
      "--seed", std::to_string(options.seed), "--threads",  std::to_string(options.threads)};
  if (options.train_images > 0) {
    arguments.insert(arguments.end(), {"--train-images", std::to_string(options.train_images)});
  }
  if (options.test_images > 0) {
    arguments.insert(arguments.end(), {"--test-images", std::to_string(options.test_images)});
  }
  return arguments;
}

namespace {

void centre_on_train_mean(FloatMatrix& train, FloatMatrix& test) {
  std::vector<double> mean(train.cols(), 0.0);
  for (std::size_t i = 0; i < train.rows(); ++i) {
    for (std::size_t j = 0; j < train.cols(); ++j) mean[j] += train(i, j);
  }
  for (double& m : mean) m /= static_cast<double>(train.rows());
  for (FloatMatrix* matrix : {&train, &test}) {
    for (std::size_t i = 0; i < matrix->rows(); ++i) {
      for (std::size_t j = 0; j < matrix->cols(); ++j) {
        (*matrix)(i, j) = static_cast<float>((*matrix)(i, j) - mean[j]);
      }
    }
  }
}

}  // namespace

void write_deep_feature_dataset(const fs::path& features_file, Metric metric, const fs::path& out) {
  ANNBENCH_CHECK(metric == Metric::Angular || metric == Metric::L2,
                 "deep-feature datasets are angular or euclidean, not {}", metric_name(metric));
  const h5::File features = h5::File::open_read(features_file);
  for (const char* name : {"train", "test", "train_labels", "test_labels"}) {
    ANNBENCH_CHECK(features.has_dataset(name), "features file '{}' has no '{}' dataset",
                   features_file.string(), name);
  }
  const std::vector<std::string> attribute_names = features.attribute_names();
  for (const char* name : kRequiredAttributes) {
    ANNBENCH_CHECK(
        std::find(attribute_names.begin(), attribute_names.end(), name) != attribute_names.end(),
        "features file '{}' lacks the '{}' attribute", features_file.string(), name);
  }
  FloatMatrix train = features.read_floats("train");
  FloatMatrix test = features.read_floats("test");
  ANNBENCH_CHECK(!train.empty() && !test.empty() && train.cols() == test.cols(),
                 "features file '{}': train is {} x {} and test is {} x {}; expected non-empty "
                 "matrices of one dimension",
                 features_file.string(), train.rows(), train.cols(), test.rows(), test.cols());
  for (const FloatMatrix* matrix : {&train, &test}) {
    ANNBENCH_CHECK(std::all_of(matrix->data(), matrix->data() + matrix->size(),
                               [](float value) { return std::isfinite(value); }),
                   "features file '{}': the {} features hold NaN or Inf (training diverged?)",
                   features_file.string(), matrix == &train ? "train" : "test");
  }
  const std::vector<std::int32_t> train_labels =
      read_labels(features, "train_labels", train.rows());
  const std::vector<std::int32_t> test_labels = read_labels(features, "test_labels", test.rows());

  // Features of one network point into a narrow cone (1 - cos of the 10th neighbour is ~0.007
  // uncentred), where ANN-Benchmarks' absolute 1e-3 recall tolerance counts a fifth of the
  // 100 true neighbours as hits: recall saturates and tells algorithms apart poorly. Taking the
  // train mean away (the usual retrieval practice before cosine) spreads the cone (~0.023) and
  // keeps the neighbours' classes (it is a translation of every vector).
  const bool centre = metric == Metric::Angular;
  if (centre) centre_on_train_mean(train, test);

  const auto start = std::chrono::steady_clock::now();
  const GroundTruth truth = compute_ground_truth(train.view(), test.view(), metric, kGroundTruthK);
  fmt::print("ground truth: {} queries x {} points ({}-d, {}), k = {}: {:.2f} s on {} threads\n",
             test.rows(), train.rows(), train.cols(), metric_name(metric), truth.neighbors.cols(),
             std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
             omp_get_max_threads());
  std::fflush(stdout);

  h5::write_atomically(out, [&](const fs::path& temporary) {
    write_dataset(temporary, metric, train, test, truth.neighbors, truth.distances);
    h5::File file = h5::File::open_read_write(temporary);
    file.write_ints("train_labels", train_labels.data(), train_labels.size(), 0);
    file.write_ints("test_labels", test_labels.data(), test_labels.size(), 0);
    copy_attributes(features, file);
    file.set_attribute("centred", centre ? "train mean subtracted from train and test"
                                         : "no (features as the network gives them)");
    file.flush();
  });
}

}  // namespace annbench
