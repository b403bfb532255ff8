#pragma once
// Deep-feature datasets: fashion-mnist-cnn-<dim>-<angular|euclidean>, the penultimate layer of a
// small CNN trained on Fashion-MNIST by datasets/cnn_features.py (Python, PyTorch). The CLI
// (`annbench dataset prepare`) runs that script, which writes a features file; the functions
// here name the recipe, build the script's arguments and turn the features file into an
// ANN-Benchmarks dataset with our own exact ground truth.

#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace annbench {

struct DeepFeatureRecipe {
  std::size_t dim;  // width of the CNN's penultimate layer = vector dimension
  Metric metric;    // Angular or L2; the features are the same for both
};

// fashion-mnist-cnn-<dim>-<angular|euclidean> with 2 <= dim <= 4096; nullopt for other names.
std::optional<DeepFeatureRecipe> parse_deep_feature_name(std::string_view name);

// Training settings. Training and feature extraction are deterministic for a fixed seed and
// thread count.
struct DeepFeatureOptions {
  std::size_t train_images = 0;  // first N Fashion-MNIST training images; 0 = all 60,000
  std::size_t test_images = 0;   // first N test images (the queries); 0 = all 10,000
  std::size_t epochs = 3;
  std::uint64_t seed = 1;
  // One by default: on a shared 2-core machine a second torch thread spin-waits for a busy core
  // and trains several times slower.
  std::size_t threads = 1;
};

// The command line for datasets/cnn_features.py that writes `features_file`, reading the IDX
// files from `fashion_mnist_directory`. Throws annbench::Error for a zero epoch or thread count.
std::vector<std::string> cnn_features_arguments(
    const DeepFeatureRecipe& recipe, const DeepFeatureOptions& options,
    const std::filesystem::path& fashion_mnist_directory,
    const std::filesystem::path& features_file);

// Reads the script's features file (train, test, train_labels, test_labels, attributes),
// computes exact k = 100 ground truth in `metric` and writes `out` atomically as an
// ANN-Benchmarks file that keeps the labels and every attribute of the features file (model,
// training settings, test accuracy). Prints the ground-truth time. Throws annbench::Error naming
// the file for a missing or malformed features file.
void write_deep_feature_dataset(const std::filesystem::path& features_file, Metric metric,
                                const std::filesystem::path& out);

}  // namespace annbench
