// annbench dataset: build, download, convert, generate, list and inspect dataset files.

#include "args.h"
#include "commands.h"
#include "python_script.h"

#include <annbench/datasets/convert.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/deep_features.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/registry.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

namespace annbench {

namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(usage: annbench dataset SUBCOMMAND ...

  prepare NAME [--force]       build NAME locally into the data directory:
                               fashion-mnist-784-euclidean (Debian dataset-fashion-mnist),
                               mnist-784-euclidean (IDX files in DATA_DIR/mnist),
                               random-<xs|s|N>-<dim>-<euclidean|angular|dot>,
                               fashion-mnist-cnn-<dim>-<angular|euclidean> (trains a small CNN
                               on Fashion-MNIST with python3-torch, about 2 CPU-minutes; its
                               <dim>-wide penultimate layer is the vector), options:
        [--epochs 3] [--seed 1] [--threads 1] [--out FILE]
        [--train-images N --test-images Q --out FILE]   first N / Q images only (tests)
  fetch NAME                   download NAME from ann-benchmarks.com (needs network and curl)
  list                         the standard datasets, and which are present here
  info FILE|NAME               shapes, metric, attributes, checks and sha256 of a dataset file
  convert --train FILE --test FILE --metric M --out OUT.hdf5 [--k 100]
                               make a dataset from .fvecs/.bvecs/.ivecs/.npy/IDX(.gz) files,
                               computing exact ground truth
  synthetic --n N --queries Q --dim D --metric M --out FILE [--clusters C] [--seed S] [--k 100]
                               Gaussian-blob dataset with exact ground truth
  slice NAME|FILE --train N --queries Q --out FILE [--from ROW] [--k 100]
                               N train vectors from row ROW (default 0) and the first Q test
                               vectors, with exact ground truth for that subset

data directory: $ANNBENCH_DATA_DIR, default ./data
)";

std::size_t positive(const Args& args, const std::string& name, long long fallback) {
  const long long value = args.get_int_or(name, fallback);
  ANNBENCH_CHECK(value > 0, "annbench dataset: --{} must be positive, got {}", name, value);
  return static_cast<std::size_t>(value);
}

std::string required(const Args& args, const std::string& name, const char* usage) {
  const auto value = args.get(name);
  ANNBENCH_CHECK(value.has_value(), "annbench dataset: missing --{}\nusage: {}", name, usage);
  return *value;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Removes the script's features file however prepare ends.
class FeaturesFileGuard {
 public:
  explicit FeaturesFileGuard(fs::path path) : path_(std::move(path)) {}
  FeaturesFileGuard(const FeaturesFileGuard&) = delete;
  FeaturesFileGuard& operator=(const FeaturesFileGuard&) = delete;
  ~FeaturesFileGuard() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// fashion-mnist-cnn-<dim>-<metric>: datasets/cnn_features.py trains the CNN and writes the
// features; ground truth and the final file are ours (write_deep_feature_dataset).
int prepare_deep_features(const Args& args, const std::string& name,
                          const DeepFeatureRecipe& recipe) {
  DeepFeatureOptions options;
  const bool subset = args.get("train-images").has_value() || args.get("test-images").has_value();
  options.train_images = subset ? positive(args, "train-images", 60'000) : 0;
  options.test_images = subset ? positive(args, "test-images", 10'000) : 0;
  options.epochs = positive(args, "epochs", static_cast<long long>(options.epochs));
  options.threads = positive(args, "threads", static_cast<long long>(options.threads));
  const long long seed = args.get_int_or("seed", static_cast<long long>(options.seed));
  ANNBENCH_CHECK(seed >= 0, "annbench dataset prepare: --seed must be >= 0, got {}", seed);
  options.seed = static_cast<std::uint64_t>(seed);
  const std::optional<std::string> out_option = args.get("out");
  ANNBENCH_CHECK(!subset || out_option.has_value(),
                 "annbench dataset prepare {}: --train-images/--test-images build a subset; give "
                 "--out FILE so that it does not take the standard name in {}",
                 name, data_dir().string());
  const fs::path out = out_option ? fs::path(*out_option) : data_dir() / (name + ".hdf5");
  std::error_code ec;
  if (!args.flag("force") && fs::exists(out, ec)) {
    fmt::print("{} is already there ({}); --force rebuilds it\n", name, out.string());
    return 0;
  }
  const fs::path directory = out.has_parent_path() ? out.parent_path() : fs::path(".");
  fs::create_directories(directory, ec);
  ANNBENCH_CHECK(!ec, "cannot create directory '{}' ({})", directory.string(), ec.message());

  const FeaturesFileGuard features(
      directory / fmt::format(".{}.features-{}.hdf5", out.filename().string(), ::getpid()));
  const std::vector<std::string> script_arguments =
      cnn_features_arguments(recipe, options, fashion_mnist_dir(), features.path());
  std::fflush(stdout);  // the script writes to the same stdout
  // The helper runs scripts from plots/; the training script lives with the dataset tools.
  const int status =
      run_python_script("dataset prepare", "datasets/cnn_features.py", script_arguments);
  constexpr int kMissingPythonPackage = 3;  // cnn_features.py's exit status for an ImportError
  if (status == kMissingPythonPackage) {
    ANNBENCH_FAIL(
        "annbench dataset prepare {}: the CNN training script could not import a Python package "
        "(its message is above): install Debian's python3-torch python3-numpy python3-h5py "
        "(apt-get install --no-install-recommends python3-torch), or point $ANNBENCH_PYTHON at "
        "a python3 that has them",
        name);
  }
  ANNBENCH_CHECK(status == 0,
                 "annbench dataset prepare {}: datasets/cnn_features.py failed with exit status {} "
                 "(its message is above)",
                 name, status);
  write_deep_feature_dataset(features.path(), recipe.metric, out);
  fmt::print("wrote {}\n", out.string());
  return 0;
}

int prepare(const std::vector<std::string>& argv) {
  const Args args(argv, {"epochs", "seed", "threads", "train-images", "test-images", "out"},
                  {"force"}, "annbench dataset prepare", kUsage);
  args.expect_positionals(1, 1, "annbench dataset prepare NAME [--force]");
  const std::string& name = args.positionals()[0];
  if (const std::optional<DeepFeatureRecipe> recipe = parse_deep_feature_name(name))
    return prepare_deep_features(args, name, *recipe);
  ANNBENCH_CHECK(!name.starts_with("fashion-mnist-cnn-"),
                 "unknown dataset '{}': deep-feature datasets are named "
                 "fashion-mnist-cnn-<dim>-<angular|euclidean> with 2 <= dim <= 4096",
                 name);
  for (const char* option : {"epochs", "seed", "threads", "train-images", "test-images", "out"}) {
    ANNBENCH_CHECK(!args.get(option).has_value(),
                   "annbench dataset prepare: --{} applies only to "
                   "fashion-mnist-cnn-<dim>-<angular|euclidean>, not to '{}'",
                   option, name);
  }
  const fs::path existing = data_dir() / (name + ".hdf5");
  std::error_code ec;
  if (!args.flag("force") && fs::exists(existing, ec)) {
    fmt::print("{} is already there ({}); --force rebuilds it\n", name, existing.string());
    return 0;
  }
  prepare_dataset(name);
  return 0;
}

int fetch(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {}, "annbench dataset fetch", kUsage);
  args.expect_positionals(1, 1, "annbench dataset fetch NAME");
  fetch_dataset(args.positionals()[0]);
  return 0;
}

std::string count_or_unknown(std::size_t value) {
  return value == 0 ? "?" : fmt::format("{}", value);
}

int list(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {}, "annbench dataset list", kUsage);
  args.expect_positionals(0, 0, "annbench dataset list");
  fmt::print("data directory: {}\n\n", data_dir().string());
  fmt::print("{:<30} {:>6} {:>10} {:>7}  {:<10} {}\n", "name", "dim", "train", "test", "distance",
             "status");
  for (const RegistryEntry& entry : dataset_registry()) {
    std::error_code ec;
    const fs::path file = data_dir() / fmt::format("{}.hdf5", entry.name);
    std::string status;
    if (fs::exists(file, ec)) {
      status = "present";
    } else if (!entry.supported) {
      status = "not supported yet";
    } else if (entry.buildable) {
      status = "annbench dataset prepare";
    } else {
      status = "annbench dataset fetch";
    }
    fmt::print("{:<30} {:>6} {:>10} {:>7}  {:<10} {}\n", entry.name, count_or_unknown(entry.dim),
               count_or_unknown(entry.train_size), count_or_unknown(entry.test_size),
               entry.distance, status);
  }
  return 0;
}

std::string describe_attribute(const h5::File& file, const std::string& name) {
  try {
    if (auto text = file.string_attribute(name)) return fmt::format("'{}'", *text);
  } catch (const Error&) {
  }
  try {
    if (auto number = file.number_attribute(name)) return fmt::format("{}", *number);
  } catch (const Error&) {
  }
  return "(unprintable type)";
}

int info(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {}, "annbench dataset info", kUsage);
  args.expect_positionals(1, 1, "annbench dataset info FILE|NAME");
  const fs::path path = resolve_dataset(args.positionals()[0]);
  {
    const h5::File file = h5::File::open_read(path);
    fmt::print("file: {}\n", path.string());
    for (const char* name : {"train", "test", "neighbors", "distances"}) {
      if (!file.has_dataset(name)) {
        fmt::print("  {:<10} (missing)\n", name);
        continue;
      }
      std::string shape;
      for (std::size_t extent : file.shape(name))
        shape += fmt::format("{}{}", shape.empty() ? "" : " x ", extent);
      fmt::print("  {:<10} {}\n", name, shape);
    }
    fmt::print("attributes:\n");
    for (const std::string& name : file.attribute_names())
      fmt::print("  {:<12} {}\n", name, describe_attribute(file, name));
  }
  try {
    const Dataset dataset = load_dataset(path, {.max_queries = 0, .require_ground_truth = true});
    fmt::print("metric: {}\ncheck: ok ({} train, {} test, {}-d, k = {})\n",
               metric_name(dataset.metric), dataset.train.rows(), dataset.test.rows(),
               dataset.dim(), dataset.neighbors.cols());
  } catch (const Error& error) {
    fmt::print("check: FAILED: {}\n", error.what());
  }
  fmt::print("sha256: {}\n", file_sha256(path));
  return 0;
}

// Ground truth with the time it took, for the commands that build datasets.
GroundTruth timed_ground_truth(const FloatMatrix& train, const FloatMatrix& test, Metric metric,
                               std::size_t k) {
  const auto start = std::chrono::steady_clock::now();
  GroundTruth truth = compute_ground_truth(train.view(), test.view(), metric, k);
  fmt::print("ground truth: {} queries x {} points ({}-d, {}), k = {}: {:.2f} s on {} threads\n",
             test.rows(), train.rows(), train.cols(), metric_name(metric), truth.neighbors.cols(),
             seconds_since(start), omp_get_max_threads());
  std::fflush(stdout);
  return truth;
}

int convert(const std::vector<std::string>& argv) {
  constexpr const char* kConvertUsage =
      "annbench dataset convert --train FILE --test FILE --metric M --out OUT.hdf5 [--k 100]";
  const Args args(argv, {"train", "test", "metric", "out", "k"}, {}, "annbench dataset convert",
                  kUsage);
  args.expect_positionals(0, 0, kConvertUsage);
  const fs::path train_file = required(args, "train", kConvertUsage);
  const fs::path test_file = required(args, "test", kConvertUsage);
  const Metric metric = parse_metric(required(args, "metric", kConvertUsage));
  const fs::path out = required(args, "out", kConvertUsage);
  const std::size_t k = positive(args, "k", 100);

  const FloatMatrix train = read_vectors(train_file);
  const FloatMatrix test = read_vectors(test_file);
  ANNBENCH_CHECK(train.cols() == test.cols(), "'{}' has {}-d vectors but '{}' has {}-d ones",
                 train_file.string(), train.cols(), test_file.string(), test.cols());
  fmt::print("read {} train and {} test vectors ({}-d)\n", train.rows(), test.rows(), train.cols());
  const GroundTruth truth = timed_ground_truth(train, test, metric, k);
  write_dataset(out, metric, train, test, truth.neighbors, truth.distances,
                {{"source_train", train_file.filename().string()},
                 {"source_test", test_file.filename().string()}});
  fmt::print("wrote {}\n", out.string());
  return 0;
}

int synthetic(const std::vector<std::string>& argv) {
  constexpr const char* kSyntheticUsage =
      "annbench dataset synthetic --n N --queries Q --dim D --metric M --out FILE [--clusters C] "
      "[--seed S] [--k 100]";
  const Args args(argv, {"n", "queries", "dim", "metric", "clusters", "seed", "out", "k"}, {},
                  "annbench dataset synthetic", kUsage);
  args.expect_positionals(0, 0, kSyntheticUsage);
  for (const char* name : {"n", "queries", "dim"}) required(args, name, kSyntheticUsage);
  const std::size_t n = positive(args, "n", 0);
  const std::size_t queries = positive(args, "queries", 0);
  const std::size_t dim = positive(args, "dim", 0);
  const Metric metric = parse_metric(required(args, "metric", kSyntheticUsage));
  const fs::path out = required(args, "out", kSyntheticUsage);
  // One cluster per 100 points, as ANN-Benchmarks' random-* datasets.
  const std::size_t clusters = positive(
      args, "clusters", static_cast<long long>(std::max<std::size_t>(1, (n + queries) / 100)));
  const long long seed = args.get_int_or("seed", 1);
  const std::size_t k = positive(args, "k", 100);
  const auto start = std::chrono::steady_clock::now();
  make_synthetic_dataset(out, n, queries, dim, metric, clusters, static_cast<std::uint64_t>(seed),
                         k);
  fmt::print("wrote {} ({} train, {} test, {}-d, {} clusters, seed {}): {:.2f} s\n", out.string(),
             n, queries, dim, clusters, seed, seconds_since(start));
  return 0;
}

// A smaller dataset from a bigger one: the first N train and Q test vectors, with exact ground
// truth recomputed for that train subset (e.g. for CI on a slice of fashion-mnist).
int slice(const std::vector<std::string>& argv) {
  constexpr const char* kSliceUsage =
      "annbench dataset slice NAME|FILE --train N --queries Q --out OUT.hdf5 [--from ROW] "
      "[--k 100]";
  const Args args(argv, {"train", "queries", "out", "k", "from"}, {}, "annbench dataset slice",
                  kUsage);
  args.expect_positionals(1, 1, kSliceUsage);
  for (const char* name : {"train", "queries"}) required(args, name, kSliceUsage);
  const std::size_t n = positive(args, "train", 0);
  const std::size_t queries = positive(args, "queries", 0);
  const fs::path out = required(args, "out", kSliceUsage);
  const std::size_t k = positive(args, "k", 100);
  const fs::path source = resolve_dataset(args.positionals()[0]);
  DatasetLoadOptions options;
  options.max_queries = queries;
  options.require_ground_truth = false;
  const Dataset dataset = load_dataset(source, options);
  const long long from = args.get_int_or("from", 0);
  ANNBENCH_CHECK(from >= 0, "annbench dataset slice: --from must be >= 0, got {}", from);
  const auto first = static_cast<std::size_t>(from);
  ANNBENCH_CHECK(first + n <= dataset.train.rows() && queries <= dataset.test.rows(),
                 "'{}' has {} train and {} test vectors; cannot slice {} (from row {}) and {}",
                 source.string(), dataset.train.rows(), dataset.test.rows(), n, first, queries);
  FloatMatrix train(n, dataset.dim());
  std::copy(dataset.train.row(first), dataset.train.row(first) + train.size(), train.data());
  const GroundTruth truth = timed_ground_truth(train, dataset.test, dataset.metric, k);
  write_dataset(
      out, dataset.metric, train, dataset.test, truth.neighbors, truth.distances,
      {{"source", source.filename().string()},
       {"slice", fmt::format("train rows [{}, {}), first {} test", first, first + n, queries)}});
  fmt::print("wrote {} ({} train, {} test)\n", out.string(), n, queries);
  return 0;
}

}  // namespace

int dataset_command(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  const std::string& sub = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (sub == "--help" || sub == "-h" || sub == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (sub == "prepare") return prepare(rest);
  if (sub == "fetch") return fetch(rest);
  if (sub == "list") return list(rest);
  if (sub == "info") return info(rest);
  if (sub == "convert") return convert(rest);
  if (sub == "synthetic") return synthetic(rest);
  if (sub == "slice") return slice(rest);
  fmt::print(stderr, "annbench dataset: unknown subcommand '{}'\n\n{}", sub, kUsage);
  return 2;
}

}  // namespace annbench
