// annbench dataset: build, download, convert, generate, list and inspect dataset files.

#include "args.h"
#include "commands.h"
#include "isolation.h"
#include "python_script.h"

#include <annbench/datasets/bigann.h>
#include <annbench/datasets/convert.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/deep_features.h>
#include <annbench/datasets/filter_tags.h>
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
#include <string_view>

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
                               the Fashion-MNIST sets also get filter metadata: each image's
                               class as its label, each query filtered to its own class, and
                               the exact filtered top-100; a file prepared before that has
                               none: rebuild it with `prepare NAME --force`
  fetch NAME                   download NAME from ann-benchmarks.com (needs network and curl);
                               a big-ann-benchmarks set: its binary files into DATA_DIR/NAME/,
                               then prints the `convert` command that makes NAME.hdf5
  list                         the standard datasets, and which are present here
  info FILE|NAME               shapes, metric, attributes, checks and sha256 of a dataset file
  convert --train FILE --test FILE --metric M --out OUT.hdf5 [--k 100]
        [--train-labels A.spmat [--query-filters B.spmat]]
        [--groundtruth GT.ibin] [--range-groundtruth FILE --radius R]
        [--point-type float|uint8|int8]
                               make a dataset from .fvecs/.bvecs/.ivecs/.npy/IDX(.gz) or
                               big-ann-benchmarks .fbin/.u8bin/.i8bin files, computing exact
                               ground truth, or taking the neighbours of a big-ann GT file
                               (--groundtruth; distances recomputed); --range-groundtruth adds a
                               big-ann range ground-truth file for radius R (annbench's metric:
                               plain L2); .spmat label files become train_labels / test_filters
                               (and filtered ground truth); --point-type uint8 / int8
                               keeps byte vectors in their type (a quarter of the memory;
                               modules that take them get them as they are)
  export NAME|FILE --format fbin|u8bin|i8bin --out PREFIX
                               write PREFIX.base.<ext>, PREFIX.query.<ext> and PREFIX.gt.ibin
                               (big-ann-benchmarks layout; distances in annbench's metric)
  synthetic --n N --queries Q --dim D --metric M --out FILE [--clusters C] [--seed S] [--k 100]
        [--memory SIZE]        Gaussian-blob dataset with exact ground truth, written block by
                               block (train need not fit in memory; the ground truth uses at
                               most SIZE, e.g. 2G, default a quarter of the machine's memory);
                               progress on stderr every few seconds
        [--point-type uint8|int8]
                               the same mixture quantized to bytes (round(8x), + 128 for
                               uint8) and stored in that type (built in memory)
  slice NAME|FILE --train N --queries Q --out FILE [--from ROW] [--k 100]
                               N train vectors from row ROW (default 0) and the first Q test
                               vectors, with exact ground truth for that subset
  tags FILE|NAME [--selectivities 0.001,0.01,0.1,0.5] [--tags 2000] [--seed 1] [--attribute]
       [--count 100]           replace the file's filter metadata with synthetic YFCC-like tags
                               (tag r on each train row with probability 0.7 / r) and one
                               query filter per test vector (one tag or two) whose selectivity
                               is within a factor 1.5 of its band (query i: band i % bands);
                               --attribute: a uniform [0, 1) attribute and range queries of
                               the band's width instead; then the exact filtered top-COUNT

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

// The label file `stem`(.gz) of Debian's Fashion-MNIST, first `rows` classes.
std::vector<std::int32_t> fashion_mnist_classes(const std::string& stem, std::size_t rows) {
  fs::path file = fashion_mnist_dir() / (stem + ".gz");
  std::error_code ec;
  if (!fs::exists(file, ec)) file = fashion_mnist_dir() / stem;
  std::vector<std::int32_t> classes = read_class_labels(file, 10);
  ANNBENCH_CHECK(classes.size() >= rows, "'{}' holds {} labels; the dataset has {} rows",
                 file.string(), classes.size(), rows);
  classes.resize(rows);
  return classes;
}

// The class filter metadata of a fashion-mnist-cnn-* file: row i of train / test is image i of
// Fashion-MNIST (cnn_features.py embeds the first N images in file order), so image i's class
// from the package's label files is row i's label; the labels the script stored are compared
// first, which fails if the rows were ever reordered.
void add_class_filters(const fs::path& file) {
  Dataset dataset = load_dataset(file, {.max_queries = 0, .require_ground_truth = false});
  const std::vector<std::int32_t> train =
      fashion_mnist_classes("train-labels-idx1-ubyte", dataset.train.rows());
  const std::vector<std::int32_t> test =
      fashion_mnist_classes("t10k-labels-idx1-ubyte", dataset.test.rows());
  {
    const h5::File stored = h5::File::open_read(file);
    for (const auto& [name, classes] :
         {std::pair{"train_labels", &train}, std::pair{"test_labels", &test}}) {
      const Matrix<std::int32_t> labels = stored.read_ints(name);
      ANNBENCH_CHECK(labels.size() == classes->size() &&
                         std::equal(classes->begin(), classes->end(), labels.data()),
                     "'{}': the {} the training script stored differ from the classes of the "
                     "first {} images in {}: the rows are not in image order",
                     file.string(), name, classes->size(), fashion_mnist_dir().string());
    }
  }
  FilterMetadata meta = class_filters(train, test, 10);
  add_filtered_ground_truth(dataset, meta, 100);
  write_filter_metadata(file, meta);
}

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
  // Features and class filters in one atomic write: no file without its labels.
  h5::write_atomically(out, [&](const fs::path& temporary) {
    write_deep_feature_dataset(features.path(), recipe.metric, temporary);
    add_class_filters(temporary);
  });
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
  fmt::print(
      "\nbig-ann-benchmarks sets (binary files: `fetch` downloads them into DATA_DIR/NAME/, "
      "`convert` makes NAME.hdf5)\n");
  fmt::print("{:<30} {:>6} {:>10} {:>7}  {:<10} {:<8} {:<13} {}\n", "name", "dim", "train", "test",
             "distance", "type", "search", "status");
  for (const BigAnnEntry& entry : bigann_registry()) {
    std::error_code ec;
    std::string status;
    if (fs::exists(data_dir() / fmt::format("{}.hdf5", entry.name), ec)) {
      status = "present";
    } else if (fs::is_directory(data_dir() / entry.name, ec)) {
      status = "files fetched: annbench dataset convert";
    } else if (entry.base_url.empty() || entry.query_url.empty() || entry.truth_url.empty()) {
      status = "URL unknown";
    } else {
      status = "annbench dataset fetch";
    }
    fmt::print("{:<30} {:>6} {:>10} {:>7}  {:<10} {:<8} {:<13} {}\n", entry.name, entry.dim,
               entry.train_size, entry.test_size, entry.distance, entry.element, entry.search,
               status);
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

// The element type a vector file stores, where its name says it (.npy says it inside).
std::optional<std::string_view> stored_type(const fs::path& path) {
  if (const std::optional<BinElement> element = bin_element_of(path)) return element_name(*element);
  const std::string extension = path.extension().string();
  if (extension == ".fvecs") return "float32";
  if (extension == ".ivecs") return "int32";
  if (extension == ".bvecs" || extension == ".gz" ||
      path.filename().string().find("-ubyte") != std::string::npos)
    return "uint8";
  return std::nullopt;
}

int convert(const std::vector<std::string>& argv) {
  constexpr const char* kConvertUsage =
      "annbench dataset convert --train FILE --test FILE --metric M --out OUT.hdf5 [--k 100] "
      "[--train-labels A.spmat [--query-filters B.spmat]] [--groundtruth GT.ibin] "
      "[--range-groundtruth FILE --radius R] [--point-type float|uint8|int8]";
  const Args args(argv,
                  {"train", "test", "metric", "out", "k", "train-labels", "query-filters",
                   "groundtruth", "range-groundtruth", "radius", "point-type"},
                  {}, "annbench dataset convert", kUsage);
  args.expect_positionals(0, 0, kConvertUsage);
  const fs::path train_file = required(args, "train", kConvertUsage);
  const fs::path test_file = required(args, "test", kConvertUsage);
  const Metric metric = parse_metric(required(args, "metric", kConvertUsage));
  const fs::path out = required(args, "out", kConvertUsage);
  const std::size_t k = positive(args, "k", 100);
  const std::string point_type = args.get_or("point-type", "float");
  ANNBENCH_CHECK(point_type == "float" || point_type == "uint8" || point_type == "int8",
                 "annbench dataset convert: --point-type '{}': expected float, uint8 or int8",
                 point_type);
  const std::optional<std::string> train_labels_file = args.get("train-labels");
  const std::optional<std::string> query_filters_file = args.get("query-filters");
  ANNBENCH_CHECK(train_labels_file || !query_filters_file,
                 "annbench dataset convert: --query-filters needs --train-labels (the labels "
                 "the filters select by)\nusage: {}",
                 kConvertUsage);
  const std::optional<std::string> truth_file = args.get("groundtruth");
  const std::optional<std::string> range_file = args.get("range-groundtruth");
  ANNBENCH_CHECK(range_file.has_value() == args.get("radius").has_value(),
                 "annbench dataset convert: --range-groundtruth and --radius go together (the "
                 "file does not store its radius)\nusage: {}",
                 kConvertUsage);
  ANNBENCH_CHECK(!truth_file || !query_filters_file,
                 "annbench dataset convert: --groundtruth with --query-filters: a filter-track "
                 "ground-truth file holds the filtered neighbours, which convert computes from the "
                 "labels; leave --groundtruth out\nusage: {}",
                 kConvertUsage);

  const FloatMatrix train = read_vectors(train_file);
  const FloatMatrix test = read_vectors(test_file);
  ANNBENCH_CHECK(train.cols() == test.cols(), "'{}' has {}-d vectors but '{}' has {}-d ones",
                 train_file.string(), train.cols(), test_file.string(), test.cols());
  fmt::print("read {} train and {} test vectors ({}-d)\n", train.rows(), test.rows(), train.cols());
  const std::optional<std::string_view> train_type = stored_type(train_file);
  const std::optional<std::string_view> test_type = stored_type(test_file);
  if (train_type && test_type && *train_type != *test_type) {
    ANNBENCH_CHECK(point_type == "float",
                   "annbench dataset convert: train is {} ('{}') but test is {} ('{}'); "
                   "--point-type {} needs both in that type",
                   *train_type, train_file.string(), *test_type, test_file.string(), point_type);
    fmt::print("note: train is {} ('{}') but test is {} ('{}'); both are stored as float32\n",
               *train_type, train_file.filename().string(), *test_type,
               test_file.filename().string());
  }
  // Ground-truth files are read and checked before anything is written.
  std::optional<RangeGroundTruth> range;
  if (range_file) {
    const double radius = args.get_float_or("radius", 0);
    range = range_ground_truth_from_file(*range_file, train.view(), train_file, test.view(),
                                         test_file, metric, radius);
    fmt::print("range ground truth from '{}': {} results within {} ({})\n", *range_file,
               range->total(), range->radius, metric_name(metric));
  }
  std::optional<GroundTruth> stored_truth;
  if (truth_file) {
    stored_truth =
        ground_truth_from_file(*truth_file, train.view(), train_file, test.view(), test_file,
                               metric, args.get("k") ? positive(args, "k", 100) : 0);
    fmt::print("ground truth from '{}': {} queries, k = {} (distances recomputed, {})\n",
               *truth_file, stored_truth->neighbors.rows(), stored_truth->neighbors.cols(),
               metric_name(metric));
  }
  // Labels are read and checked before anything is written, so a bad label file leaves no
  // half-made dataset behind.
  FilterMetadata labels;
  if (train_labels_file) {
    const SparseMatrix matrix = read_spmat(*train_labels_file);
    ANNBENCH_CHECK(matrix.rows == train.rows(), "'{}' has {} rows but '{}' has {} train vectors",
                   *train_labels_file, matrix.rows, train_file.string(), train.rows());
    labels.train_labels = spmat_labels(matrix, *train_labels_file);
    std::size_t label_count = matrix.cols;
    if (query_filters_file) {
      const SparseMatrix filters = read_spmat(*query_filters_file);
      ANNBENCH_CHECK(filters.rows == test.rows(), "'{}' has {} rows but '{}' has {} test vectors",
                     *query_filters_file, filters.rows, test_file.string(), test.rows());
      labels.test_filters = spmat_labels(filters, *query_filters_file);
      label_count = std::max(label_count, filters.cols);
    }
    labels.label_count = static_cast<std::uint32_t>(label_count);
    fmt::print("read labels of {} train rows ({} labels, {} in all){}\n", matrix.rows, matrix.cols,
               matrix.nnz(),
               labels.test_filters ? fmt::format(" and {} query filters ({} labels)", test.rows(),
                                                 labels.test_filters->labels.size())
                                   : std::string());
  }
  const GroundTruth truth =
      stored_truth ? std::move(*stored_truth) : timed_ground_truth(train, test, metric, k);
  std::map<std::string, std::string> attributes = {{"source_train", train_file.filename().string()},
                                                   {"source_test", test_file.filename().string()}};
  if (truth_file) attributes["source_groundtruth"] = fs::path(*truth_file).filename().string();
  if (range_file)
    attributes["source_range_groundtruth"] = fs::path(*range_file).filename().string();
  if (train_labels_file)
    attributes["source_train_labels"] = fs::path(*train_labels_file).filename().string();
  if (query_filters_file)
    attributes["source_query_filters"] = fs::path(*query_filters_file).filename().string();
  if (point_type == "float") {
    write_dataset(out, metric, train, test, truth.neighbors, truth.distances, attributes);
  } else {
    write_integer_dataset(out, metric,
                          point_type == "uint8" ? ElementType::kUint8 : ElementType::kInt8, train,
                          test, truth.neighbors, truth.distances, attributes);
  }
  if (range) write_range_ground_truth(out, *range);
  if (train_labels_file) {
    write_filter_metadata(out, labels);
    if (query_filters_file) {
      DatasetLoadOptions options;
      options.require_ground_truth = false;
      options.load_filters = true;
      const Dataset dataset = load_dataset(out, options);
      const auto start = std::chrono::steady_clock::now();
      GroundTruth filtered = compute_filtered_ground_truth(dataset, k);
      fmt::print("filtered ground truth: {} queries, k = {}: {:.2f} s\n", test.rows(),
                 filtered.neighbors.cols(), seconds_since(start));
      FilterMetadata written;
      written.filtered_neighbors = std::move(filtered.neighbors);
      written.filtered_distances = std::move(filtered.distances);
      write_filter_metadata(out, written);
    }
  }
  fmt::print("wrote {}\n", out.string());
  return 0;
}

int synthetic(const std::vector<std::string>& argv) {
  constexpr const char* kSyntheticUsage =
      "annbench dataset synthetic --n N --queries Q --dim D --metric M --out FILE [--clusters C] "
      "[--seed S] [--k 100] [--memory SIZE] [--point-type float|uint8|int8]";
  const Args args(
      argv,
      {"n", "queries", "dim", "metric", "clusters", "seed", "out", "k", "memory", "point-type"}, {},
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
  std::size_t memory = default_ground_truth_memory();
  if (const std::optional<std::string> text = args.get("memory")) {
    try {
      memory = parse_bytes(*text);
    } catch (const Error& error) {
      ANNBENCH_FAIL("annbench dataset synthetic: --memory '{}': {}", *text, error.what());
    }
  }
  const std::string point_type = args.get_or("point-type", "float");
  ANNBENCH_CHECK(point_type == "float" || point_type == "uint8" || point_type == "int8",
                 "annbench dataset synthetic: --point-type '{}': expected float, uint8 or int8",
                 point_type);
  const auto start = std::chrono::steady_clock::now();
  if (point_type != "float") {
    make_synthetic_integer_dataset(
        out, point_type == "uint8" ? ElementType::kUint8 : ElementType::kInt8, n, queries, dim,
        metric, clusters, static_cast<std::uint64_t>(seed), k);
    fmt::print("wrote {} ({} train, {} test, {}-d {}, {} clusters, seed {}): {:.2f} s\n",
               out.string(), n, queries, dim, point_type, clusters, seed, seconds_since(start));
    return 0;
  }
  // A line every few seconds on stderr, so a long run (10M x 96: about 35 s) shows it moving.
  double reported = 0;
  const SyntheticProgress progress = [&](std::string_view stage, std::size_t done,
                                         std::size_t total) {
    const double elapsed = seconds_since(start);
    if (elapsed - reported < 3.0) return;
    reported = elapsed;
    fmt::print(stderr, "{}: {} / {} train rows {} ({:.1f}%), {:.1f} s\n", out.string(), done, total,
               stage == "train" ? "written" : "scanned for ground truth",
               100.0 * static_cast<double>(done) / static_cast<double>(total), elapsed);
    std::fflush(stderr);
  };
  make_synthetic_dataset(out, n, queries, dim, metric, clusters, static_cast<std::uint64_t>(seed),
                         k, memory, progress);
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

// A dataset as big-ann-benchmarks files: base and query vectors, and the k-NN ground truth in
// their GT layout (distances in annbench's metric, e.g. plain L2, where theirs are squared).
int export_bin(const std::vector<std::string>& argv) {
  constexpr const char* kExportUsage =
      "annbench dataset export NAME|FILE --format fbin|u8bin|i8bin --out PREFIX";
  const Args args(argv, {"format", "out"}, {}, "annbench dataset export", kUsage);
  args.expect_positionals(1, 1, kExportUsage);
  const std::string format = required(args, "format", kExportUsage);
  const std::string prefix = required(args, "out", kExportUsage);
  const std::optional<BinElement> element = bin_element_of("x." + format);
  ANNBENCH_CHECK(element.has_value(),
                 "annbench dataset export: --format must be fbin, u8bin or i8bin, got '{}'",
                 format);
  const fs::path source = resolve_dataset(args.positionals()[0]);
  const Dataset dataset = load_dataset(source);
  // Both checked before anything is written, so a refused export leaves no files.
  check_representable(*element, dataset.train.view(),
                      fmt::format("cannot export '{}' train", source.string()));
  check_representable(*element, dataset.test.view(),
                      fmt::format("cannot export '{}' test", source.string()));
  const fs::path base = prefix + ".base." + format;
  const fs::path query = prefix + ".query." + format;
  const fs::path truth = prefix + ".gt.ibin";
  if (base.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(base.parent_path(), ec);
    ANNBENCH_CHECK(!ec, "cannot create directory '{}' ({})", base.parent_path().string(),
                   ec.message());
  }
  write_bin(base, *element, dataset.train.view());
  write_bin(query, *element, dataset.test.view());
  write_bin_ground_truth(truth, dataset.neighbors, dataset.distances);
  fmt::print("wrote {} ({} x {} {}), {} ({} queries) and {} (k = {}, {} distances)\n",
             base.string(), dataset.train.rows(), dataset.dim(), element_name(*element),
             query.string(), dataset.test.rows(), truth.string(), dataset.neighbors.cols(),
             metric_name(dataset.metric));
  return 0;
}

// Synthetic YFCC-like tags and query filters for an existing dataset file (filter_tags.h).
int tags(const std::vector<std::string>& argv) {
  constexpr const char* kTagsUsage =
      "annbench dataset tags FILE|NAME [--selectivities 0.001,0.01,0.1,0.5] [--tags 2000] "
      "[--seed 1] [--attribute] [--count 100]";
  const Args args(argv, {"selectivities", "tags", "seed", "count"}, {"attribute"},
                  "annbench dataset tags", kUsage);
  args.expect_positionals(1, 1, kTagsUsage);
  const fs::path path = resolve_dataset(args.positionals()[0]);
  TagOptions options;
  if (const auto text = args.get("selectivities"))
    options.selectivities = parse_selectivities(*text);
  const std::size_t tag_count = positive(args, "tags", options.tags);
  ANNBENCH_CHECK(tag_count <= (1u << 24),
                 "annbench dataset tags: --tags must be at most {}, got {}", 1u << 24, tag_count);
  options.tags = static_cast<std::uint32_t>(tag_count);
  const long long seed = args.get_int_or("seed", 1);
  ANNBENCH_CHECK(seed >= 0, "annbench dataset tags: --seed must be >= 0, got {}", seed);
  options.seed = static_cast<std::uint64_t>(seed);
  options.attribute = args.flag("attribute");
  const std::size_t count = positive(args, "count", 100);

  Dataset dataset = load_dataset(path, {.max_queries = 0, .require_ground_truth = false});
  std::vector<TagBandStats> bands;
  FilterMetadata meta =
      generate_tag_filters(dataset.train.rows(), dataset.test.rows(), options, &bands);
  fmt::print("{} tags on {} train rows ({} labels), {} queries ({}), seed {}\n", options.tags,
             dataset.train.rows(), meta.train_labels->labels.size(), dataset.test.rows(),
             meta.kind(), options.seed);
  for (const TagBandStats& band : bands) {
    fmt::print("  band {:<8} {:>6} queries ({} of two tags), mean selectivity {:.6f}, {:.3f} s\n",
               band.target, band.queries, band.pairs, band.mean_selectivity, band.seconds);
  }
  std::fflush(stdout);
  add_filtered_ground_truth(dataset, meta, count);
  write_filter_metadata(path, meta, /*replace_all=*/true);
  fmt::print("wrote the filter metadata of {}\n", path.string());
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
  if (sub == "export") return export_bin(rest);
  if (sub == "synthetic") return synthetic(rest);
  if (sub == "slice") return slice(rest);
  if (sub == "tags") return tags(rest);
  fmt::print(stderr, "annbench dataset: unknown subcommand '{}'\n\n{}", sub, kUsage);
  return 2;
}

}  // namespace annbench
