// The dataset registry, name resolution, download and local builds.

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

#include <fcntl.h>
#include <fmt/format.h>
#include <omp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

extern char** environ;

namespace annbench {

namespace fs = std::filesystem;

namespace {

// Sizes and distances as ANN-Benchmarks publishes them (its README table and datasets.py).
// lastfm-64-dot is stored as 65-d angular (their inner-product → cosine transform). Sizes of
// the sparse jaccard sets are kept only where recorded; annbench cannot load those yet.
constexpr std::array kRegistry = {
    RegistryEntry{"coco-i2i-512-angular", 512, 113'287, 10'000, "angular", false, true},
    RegistryEntry{"coco-t2i-512-angular", 512, 113'287, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-1000k-angular", 1536, 990'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-100k-angular", 1536, 90'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-200k-angular", 1536, 190'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-300k-angular", 1536, 290'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-400k-angular", 1536, 390'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-500k-angular", 1536, 490'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-600k-angular", 1536, 590'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-700k-angular", 1536, 690'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-800k-angular", 1536, 790'000, 10'000, "angular", false, true},
    RegistryEntry{"dbpedia-openai-900k-angular", 1536, 890'000, 10'000, "angular", false, true},
    RegistryEntry{"deep-image-96-angular", 96, 9'990'000, 10'000, "angular", false, true},
    RegistryEntry{"fashion-mnist-784-euclidean", 784, 60'000, 10'000, "euclidean", true, true},
    // Ours, not ANN-Benchmarks': CNN features of Fashion-MNIST (any width; 64 is the default).
    RegistryEntry{"fashion-mnist-cnn-64-angular", 64, 60'000, 10'000, "angular", true, true},
    RegistryEntry{"fashion-mnist-cnn-64-euclidean", 64, 60'000, 10'000, "euclidean", true, true},
    RegistryEntry{"gist-960-euclidean", 960, 1'000'000, 1'000, "euclidean", false, true},
    RegistryEntry{"glove-100-angular", 100, 1'183'514, 10'000, "angular", false, true},
    RegistryEntry{"glove-200-angular", 200, 1'183'514, 10'000, "angular", false, true},
    RegistryEntry{"glove-25-angular", 25, 1'183'514, 10'000, "angular", false, true},
    RegistryEntry{"glove-50-angular", 50, 1'183'514, 10'000, "angular", false, true},
    RegistryEntry{"kosarak-jaccard", 27'983, 74'962, 500, "jaccard", false, false},
    RegistryEntry{"lastfm-64-dot", 65, 292'385, 50'000, "angular", false, true},
    RegistryEntry{"mnist-784-euclidean", 784, 60'000, 10'000, "euclidean", true, true},
    RegistryEntry{"movielens10m-jaccard", 65'134, 69'363, 500, "jaccard", false, false},
    RegistryEntry{"movielens1m-jaccard", 0, 0, 500, "jaccard", false, false},
    RegistryEntry{"movielens20m-jaccard", 0, 0, 500, "jaccard", false, false},
    RegistryEntry{"nytimes-16-angular", 16, 290'000, 10'000, "angular", false, true},
    RegistryEntry{"nytimes-256-angular", 256, 290'000, 10'000, "angular", false, true},
    RegistryEntry{"random-s-100-angular", 100, 90'000, 10'000, "angular", true, true},
    RegistryEntry{"random-s-100-euclidean", 100, 90'000, 10'000, "euclidean", true, true},
    RegistryEntry{"random-xs-20-angular", 20, 9'000, 1'000, "angular", true, true},
    RegistryEntry{"random-xs-20-euclidean", 20, 9'000, 1'000, "euclidean", true, true},
    RegistryEntry{"sift-128-euclidean", 128, 1'000'000, 10'000, "euclidean", false, true},
};

constexpr std::size_t kGroundTruthK = 100;
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
constexpr std::uint32_t kImageClasses = 10;  // MNIST digits, Fashion-MNIST garment kinds

bool is_safe_name(std::string_view name) {
  return !name.empty() && name.front() != '.' && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::optional<std::size_t> parse_count(std::string_view text) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

struct RandomRecipe {
  std::size_t points;
  std::size_t dim;
  Metric metric;
};

// random-<xs|s|N>-<dim>-<euclidean|angular|dot>, sized like ANN-Benchmarks' random-* sets.
std::optional<RandomRecipe> parse_random_name(std::string_view name) {
  constexpr std::string_view kPrefix = "random-";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  name.remove_prefix(kPrefix.size());
  const std::size_t first = name.find('-');
  const std::size_t second = first == std::string_view::npos ? first : name.find('-', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  const std::string_view size = name.substr(0, first);
  const std::string_view dim_text = name.substr(first + 1, second - first - 1);
  const std::string_view metric_text = name.substr(second + 1);

  std::optional<std::size_t> points;
  if (size == "xs") {
    points = 10'000;
  } else if (size == "s") {
    points = 100'000;
  } else {
    points = parse_count(size);
  }
  const std::optional<std::size_t> dim = parse_count(dim_text);
  if (!points || !dim || *points < 2 || *points > 100'000'000 || *dim > 65'536) return std::nullopt;
  if (metric_text != "euclidean" && metric_text != "angular" && metric_text != "dot")
    return std::nullopt;
  return RandomRecipe{*points, *dim, parse_metric(metric_text)};
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

fs::path dataset_file(std::string_view name) {
  return data_dir() / fmt::format("{}.hdf5", name);
}

void ensure_data_dir() {
  std::error_code ec;
  fs::create_directories(data_dir(), ec);
  if (ec)
    ANNBENCH_FAIL("cannot create data directory '{}' ({})", data_dir().string(), ec.message());
}

// The class label files that go with an image set's IDX files.
struct IdxLabelFiles {
  fs::path train;
  fs::path test;
};

// Each file's labels, which must be one per image (row order = image order).
std::vector<std::int32_t> labels_for(const fs::path& file, std::size_t images,
                                     const fs::path& image_file) {
  std::vector<std::int32_t> labels = read_class_labels(file, kImageClasses);
  ANNBENCH_CHECK(labels.size() == images, "'{}' holds {} labels but '{}' holds {} images",
                 file.string(), labels.size(), image_file.string(), images);
  return labels;
}

// Train/test from two IDX image files, exact k = 100 ground truth, written as `name`. With
// label files, also the filter metadata: each train image's class, each query asking for its
// own class ("nearest images of this class"), and the exact filtered top-100.
fs::path build_from_idx(std::string_view name, const fs::path& train_file,
                        const fs::path& test_file, const std::string& source,
                        const std::optional<IdxLabelFiles>& label_files) {
  fmt::print("reading {} and {}\n", train_file.string(), test_file.string());
  std::fflush(stdout);
  Dataset dataset;
  dataset.name = std::string(name);
  dataset.path = dataset_file(name);
  dataset.distance = "euclidean";
  dataset.metric = Metric::L2;
  dataset.train = read_idx(train_file);
  dataset.test = read_idx(test_file);
  ANNBENCH_CHECK(dataset.train.cols() == dataset.test.cols(),
                 "'{}' has {}-d images but '{}' has {}-d ones", train_file.string(),
                 dataset.train.cols(), test_file.string(), dataset.test.cols());
  std::optional<FilterMetadata> filters;
  if (label_files) {
    // Read before the ground truth, so that a bad label file fails in seconds.
    const std::vector<std::int32_t> train_classes =
        labels_for(label_files->train, dataset.train.rows(), train_file);
    const std::vector<std::int32_t> test_classes =
        labels_for(label_files->test, dataset.test.rows(), test_file);
    filters = class_filters(train_classes, test_classes, kImageClasses);
  }
  const auto start = std::chrono::steady_clock::now();
  const GroundTruth truth =
      compute_ground_truth(dataset.train.view(), dataset.test.view(), Metric::L2, kGroundTruthK);
  fmt::print("ground truth: {} queries x {} points ({}-d), k = {}: {:.2f} s on {} threads\n",
             dataset.test.rows(), dataset.train.rows(), dataset.dim(), kGroundTruthK,
             seconds_since(start), omp_get_max_threads());
  if (filters) add_filtered_ground_truth(dataset, *filters, kGroundTruthK);
  const fs::path out = dataset_file(name);
  ensure_data_dir();
  // One atomic write of the whole file: a failure in the metadata leaves no file without it.
  h5::write_atomically(out, [&](const fs::path& temporary) {
    write_dataset(temporary, Metric::L2, dataset.train, dataset.test, truth.neighbors,
                  truth.distances, {{"source", source}});
    if (filters) write_filter_metadata(temporary, *filters);
  });
  fmt::print(
      "wrote {}{}\n", out.string(),
      filters ? fmt::format(" (with {} class labels and class filters)", kImageClasses) : "");
  std::fflush(stdout);
  return out;
}

// The first of `names` that exists in `directory`.
std::optional<fs::path> find_in(const fs::path& directory,
                                std::initializer_list<const char*> names) {
  for (const char* name : names) {
    std::error_code ec;
    if (fs::is_regular_file(directory / name, ec)) return directory / name;
  }
  return std::nullopt;
}

struct ProgramResult {
  int exit_code = -1;
  std::string error_output;
};

// Runs `program` with `args` (no shell, so no quoting issues), stdout discarded, stderr captured.
ProgramResult run_program(const fs::path& program, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    ANNBENCH_FAIL("cannot run {} ({})", program.string(), std::strerror(errno));
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error =
      posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  ProgramResult result;
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    ANNBENCH_FAIL("cannot run {} ({})", program.string(), std::strerror(spawn_error));
  }
  char buffer[4096];
  ssize_t got;
  while ((got = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (got < 0 && errno == EINTR)) {
    if (got > 0) result.error_output.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  while (!result.error_output.empty() &&
         std::isspace(static_cast<unsigned char>(result.error_output.back())))
    result.error_output.pop_back();
  return result;
}

fs::path curl_program(std::string_view url) {
  const std::optional<fs::path> curl = find_program("curl");
  if (!curl) {
    ANNBENCH_FAIL("cannot download {}: the curl program is not installed (apt-get install curl)",
                  url);
  }
  return *curl;
}

// `url` (its first `bytes` bytes when given) into `out` with curl, or an Error that says whether
// the network looks absent.
void download(const fs::path& curl, std::string_view url, const fs::path& out,
              std::optional<std::uint64_t> bytes) {
  std::vector<std::string> args = {"-fsSL", "--connect-timeout", "10", "-o", out.string()};
  if (bytes) {
    args.push_back("-r");
    args.push_back(fmt::format("0-{}", *bytes - 1));
  }
  args.emplace_back(url);
  const ProgramResult result = run_program(curl, args);
  if (result.exit_code != 0) {
    // curl exit codes: 5/6 could not resolve, 7 could not connect, 28 timeout, 35 TLS failure.
    const bool network = result.exit_code == 5 || result.exit_code == 6 || result.exit_code == 7 ||
                         result.exit_code == 28 || result.exit_code == 35;
    ANNBENCH_FAIL("cannot download {}: {} (curl said: {}; exit code {})", url,
                  network ? "no network here?" : "download failed",
                  result.error_output.empty() ? "nothing" : result.error_output, result.exit_code);
  }
}

// A downloaded vector file (`file`, a temporary name) of `element`: its header must say
// stored_rows x dim; a leading slice (rows < stored_rows) gets n = rows written into its header;
// then the exact size check.
void check_downloaded_vectors(const fs::path& file, std::string_view url, BinElement element,
                              std::size_t stored_rows, std::size_t rows, std::size_t dim) {
  {
    struct Closer {
      void operator()(std::FILE* f) const { std::fclose(f); }
    };
    const std::unique_ptr<std::FILE, Closer> stream(std::fopen(file.c_str(), "r+b"));
    ANNBENCH_CHECK(stream != nullptr, "cannot open '{}' ({})", file.string(), std::strerror(errno));
    std::int32_t header[2] = {0, 0};
    ANNBENCH_CHECK(std::fread(header, sizeof header, 1, stream.get()) == 1,
                   "downloaded {} but it is shorter than its 8-byte header", url);
    ANNBENCH_CHECK(header[0] == static_cast<std::int64_t>(stored_rows) &&
                       header[1] == static_cast<std::int64_t>(dim),
                   "downloaded {} but its header says {} x {}, expected {} x {}", url, header[0],
                   header[1], stored_rows, dim);
    if (rows != stored_rows) {
      header[0] = static_cast<std::int32_t>(rows);
      ANNBENCH_CHECK(std::fseek(stream.get(), 0, SEEK_SET) == 0 &&
                         std::fwrite(header, sizeof header, 1, stream.get()) == 1 &&
                         std::fflush(stream.get()) == 0,
                     "cannot rewrite the header of '{}' ({})", file.string(), std::strerror(errno));
    }
  }
  read_bin_header(file, element);
}

// A big-ann-benchmarks set's files into data_dir()/<name>/ (registry.h, fetch_dataset).
fs::path fetch_bigann(const BigAnnEntry& entry) {
  for (const std::string_view url : {entry.base_url, entry.query_url, entry.truth_url}) {
    ANNBENCH_CHECK(!url.empty(),
                   "cannot fetch {}: the URL of one of its files is unknown here (not in "
                   "big-ann-benchmarks' benchmark/datasets.py as read); download the files "
                   "yourself and run `annbench dataset convert`",
                   entry.name);
  }
  const fs::path curl = curl_program(entry.query_url);
  const BinElement element = entry.element == "uint8"  ? BinElement::UInt8
                             : entry.element == "int8" ? BinElement::Int8
                                                       : BinElement::Float32;
  const std::string extension(element_extension(element));
  const fs::path directory = data_dir() / entry.name;
  const fs::path base = directory / ("base." + extension);
  const fs::path query = directory / ("query." + extension);
  const bool range = entry.search == "range";
  const fs::path truth = directory / (range ? "gt.range.bin" : "gt.ibin");
  const fs::path labels = directory / "base.metadata.spmat";
  const fs::path filters = directory / "query.metadata.spmat";
  std::error_code ec;
  const bool existed = fs::exists(directory, ec);
  fs::create_directories(directory, ec);
  ANNBENCH_CHECK(!ec, "cannot create '{}' ({})", directory.string(), ec.message());

  // Each file is checked before it takes its final name; one already there is kept.
  const auto fetch_one = [&](std::string_view url, const fs::path& out,
                             std::optional<std::uint64_t> bytes, const auto& check) {
    if (url.empty() || fs::exists(out, ec)) return;
    fmt::print("downloading {}{} -> {}\n", url,
               bytes ? fmt::format(" (first {} bytes)", *bytes) : std::string(), out.string());
    std::fflush(stdout);
    h5::write_atomically(out, [&](const fs::path& temporary) {
      download(curl, url, temporary, bytes);
      try {
        check(temporary);
      } catch (const Error& error) {
        ANNBENCH_FAIL("downloaded {} but it is not what {} needs: {}", url, entry.name,
                      error.what());
      }
    });
  };
  const auto expect_queries = [&](std::size_t queries, const fs::path& file) {
    ANNBENCH_CHECK(queries == entry.test_size, "'{}' holds {} queries, expected {}", file.string(),
                   queries, entry.test_size);
  };
  try {
    // The small files first, as big-ann-benchmarks does.
    fetch_one(entry.query_url, query, std::nullopt, [&](const fs::path& file) {
      check_downloaded_vectors(file, entry.query_url, element, entry.test_size, entry.test_size,
                               entry.dim);
    });
    fetch_one(entry.truth_url, truth, std::nullopt, [&](const fs::path& file) {
      expect_queries(range ? read_bin_range_ground_truth(file).queries()
                           : read_bin_ground_truth(file).neighbors.rows(),
                     file);
    });
    fetch_one(entry.labels_url, labels, std::nullopt, [&](const fs::path& file) {
      ANNBENCH_CHECK(read_spmat(file).rows == entry.train_size, "'{}' does not have {} rows",
                     file.string(), entry.train_size);
    });
    fetch_one(entry.filters_url, filters, std::nullopt,
              [&](const fs::path& file) { expect_queries(read_spmat(file).rows, file); });
    // A leading slice of a bigger file: only its bytes are requested.
    const std::uint64_t base_bytes =
        kBinHeaderBytes + std::uint64_t{entry.train_size} * entry.dim * element_size(element);
    fetch_one(entry.base_url, base,
              entry.source_rows == entry.train_size ? std::nullopt : std::optional(base_bytes),
              [&](const fs::path& file) {
                check_downloaded_vectors(file, entry.base_url, element, entry.source_rows,
                                         entry.train_size, entry.dim);
              });
  } catch (const Error&) {
    if (!existed && fs::is_empty(directory, ec)) fs::remove(directory, ec);
    throw;
  }
  const fs::path out = dataset_file(entry.name);
  std::string convert =
      fmt::format("annbench dataset convert --train {} --test {} --metric {} --out {}",
                  base.string(), query.string(), entry.distance, out.string());
  if (range) {
    convert += fmt::format(" --range-groundtruth {} --radius {}", truth.string(),
                           std::sqrt(entry.squared_radius));
  } else if (entry.search == "knn_filtered") {
    convert +=
        fmt::format(" --train-labels {} --query-filters {}", labels.string(), filters.string());
  } else {
    convert += fmt::format(" --groundtruth {}", truth.string());
  }
  fmt::print("fetched {} into {}\nnext: {}\n", entry.name, directory.string(), convert);
  return directory;
}

}  // namespace

std::optional<fs::path> find_program(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path != nullptr ? path : "/usr/bin:/bin";
  while (true) {
    const std::size_t colon = rest.find(':');
    const fs::path candidate = fs::path(rest.substr(0, colon)) / program;
    if (!candidate.parent_path().empty() && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    if (colon == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(colon + 1);
  }
}

std::span<const RegistryEntry> dataset_registry() {
  return kRegistry;
}

const RegistryEntry* find_registry_entry(std::string_view name) {
  const auto it = std::find_if(kRegistry.begin(), kRegistry.end(),
                               [&](const RegistryEntry& entry) { return entry.name == name; });
  return it == kRegistry.end() ? nullptr : &*it;
}

std::string dataset_url(std::string_view name) {
  return fmt::format("https://ann-benchmarks.com/{}.hdf5", name);
}

fs::path data_dir() {
  const char* configured = std::getenv("ANNBENCH_DATA_DIR");
  return configured != nullptr && configured[0] != '\0' ? fs::path(configured) : fs::path("data");
}

fs::path fashion_mnist_dir() {
  const char* configured = std::getenv("ANNBENCH_FASHION_MNIST_DIR");
  return configured != nullptr && configured[0] != '\0' ? fs::path(configured)
                                                        : fs::path(kFashionMnistDir);
}

bool can_prepare(std::string_view name) {
  return name == "fashion-mnist-784-euclidean" || name == "mnist-784-euclidean" ||
         parse_random_name(name).has_value() || parse_deep_feature_name(name).has_value();
}

fs::path resolve_dataset(std::string_view name_or_path) {
  std::error_code ec;
  const fs::path as_path(name_or_path);
  const std::string name(name_or_path);
  // Only something that looks like a path is taken as one: a bare name is a dataset of the data
  // directory, even when the working directory holds a folder of that name (a results tree).
  const bool looks_like_path = name.find('/') != std::string::npos ||
                               as_path.extension() == ".hdf5" || as_path.extension() == ".h5";
  if (looks_like_path) {
    ANNBENCH_CHECK(fs::exists(as_path, ec), "dataset file '{}' does not exist", name);
    ANNBENCH_CHECK(!fs::is_directory(as_path, ec), "dataset '{}' is a directory, not a file", name);
    return as_path;
  }
  if (is_safe_name(name)) {
    const fs::path in_data_dir = dataset_file(name);
    if (fs::is_regular_file(in_data_dir, ec)) return in_data_dir;
  }
  if (can_prepare(name)) {
    ANNBENCH_FAIL("dataset '{}' is not in {} yet: run `annbench dataset prepare {}`", name,
                  data_dir().string(), name);
  }
  if (const RegistryEntry* entry = find_registry_entry(name)) {
    if (!entry->supported) {
      ANNBENCH_FAIL("dataset '{}' uses the {} distance, which annbench does not support yet", name,
                    entry->distance);
    }
    ANNBENCH_FAIL(
        "dataset '{}' is not in {}: run `annbench dataset fetch {}` (downloads {}; "
        "needs network)",
        name, data_dir().string(), name, dataset_url(name));
  }
  if (find_bigann_entry(name) != nullptr) {
    ANNBENCH_FAIL(
        "dataset '{}' is not in {}: it is a big-ann-benchmarks set; `annbench dataset fetch {}` "
        "downloads its binary files into {} (needs network) and prints the `annbench dataset "
        "convert` command that makes {}",
        name, data_dir().string(), name, (data_dir() / name).string(), dataset_file(name).string());
  }
  std::string buildable;
  for (const RegistryEntry& entry : kRegistry) {
    if (entry.buildable)
      buildable += fmt::format("{}{}", buildable.empty() ? "" : ", ", entry.name);
  }
  ANNBENCH_FAIL(
      "unknown dataset '{}' (no such file, nor {}); buildable here: {}, or "
      "random-<N>-<dim>-<euclidean|angular|dot>, fashion-mnist-cnn-<dim>-<angular|euclidean>; "
      "downloadable: see `annbench dataset list`",
      name, dataset_file(name).string(), buildable);
}

fs::path fetch_dataset(std::string_view name) {
  ANNBENCH_CHECK(is_safe_name(name), "'{}' is not a dataset name (letters, digits, '-', '_', '.')",
                 name);
  if (const RegistryEntry* entry = find_registry_entry(name); entry && !entry->supported) {
    ANNBENCH_FAIL("dataset '{}' uses the {} distance, which annbench does not support yet", name,
                  entry->distance);
  }
  if (parse_deep_feature_name(name)) {
    ANNBENCH_FAIL(
        "dataset '{}' is not published on ann-benchmarks.com: build it with `annbench dataset "
        "prepare {}` (trains a CNN; needs python3-torch)",
        name, name);
  }
  if (const BigAnnEntry* entry = find_bigann_entry(name)) return fetch_bigann(*entry);
  const std::string url = dataset_url(name);
  const fs::path curl = curl_program(url);
  ensure_data_dir();
  const fs::path out = dataset_file(name);
  fmt::print("downloading {} -> {}\n", url, out.string());
  std::fflush(stdout);
  h5::write_atomically(out, [&](const fs::path& temporary) {
    download(curl, url, temporary, std::nullopt);
    try {
      load_dataset(temporary);
    } catch (const Error& error) {
      ANNBENCH_FAIL("downloaded {} but it is not a usable dataset: {}", url, error.what());
    }
  });
  fmt::print("wrote {}\n", out.string());
  return out;
}

fs::path prepare_dataset(std::string_view name) {
  if (name == "fashion-mnist-784-euclidean") {
    const fs::path directory = fashion_mnist_dir();
    const auto train =
        find_in(directory, {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"});
    const auto test = find_in(directory, {"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"});
    if (!train || !test) {
      ANNBENCH_FAIL(
          "{} needs train-images-idx3-ubyte.gz and t10k-images-idx3-ubyte.gz in {}: "
          "install Debian package dataset-fashion-mnist (apt-get install "
          "dataset-fashion-mnist)",
          name, directory.string());
    }
    // The package ships the class labels next to the images; without them (a bare copy of the
    // images) the dataset is built as before, with no filter metadata.
    const auto train_labels =
        find_in(directory, {"train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"});
    const auto test_labels =
        find_in(directory, {"t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte"});
    std::optional<IdxLabelFiles> labels;
    if (train_labels && test_labels) {
      labels = IdxLabelFiles{*train_labels, *test_labels};
    } else {
      fmt::print(
          "note: no train-labels-idx1-ubyte.gz / t10k-labels-idx1-ubyte.gz in {}: "
          "building without class labels (no filtered-search metadata)\n",
          directory.string());
    }
    return build_from_idx(name, *train, *test, "Fashion-MNIST (Debian dataset-fashion-mnist)",
                          labels);
  }
  if (name == "mnist-784-euclidean") {
    const std::array<fs::path, 2> directories = {data_dir() / "mnist", "/usr/share/datasets/mnist"};
    for (const fs::path& directory : directories) {
      const auto train =
          find_in(directory, {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"});
      const auto test = find_in(directory, {"t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"});
      if (train && test) return build_from_idx(name, *train, *test, "MNIST", std::nullopt);
    }
    ANNBENCH_FAIL(
        "{} needs the MNIST files train-images-idx3-ubyte.gz and "
        "t10k-images-idx3-ubyte.gz in {} or {}; or run `annbench dataset fetch {}` "
        "where there is network",
        name, directories[0].string(), directories[1].string(), name);
  }
  if (const std::optional<RandomRecipe> recipe = parse_random_name(name)) {
    // ANN-Benchmarks: make_blobs(n, d, centers = n / 100, random_state = 1), 10 % test.
    const std::size_t test = std::max<std::size_t>(1, recipe->points / 10);
    const std::size_t clusters = std::max<std::size_t>(1, recipe->points / 100);
    ensure_data_dir();
    const fs::path out = dataset_file(name);
    fmt::print("generating {}: {} train + {} test points, {}-d, {} clusters, seed 1\n", name,
               recipe->points - test, test, recipe->dim, clusters);
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    make_synthetic_dataset(out, recipe->points - test, test, recipe->dim, recipe->metric, clusters,
                           1, kGroundTruthK);
    fmt::print("data and ground truth (k = {}): {:.2f} s on {} threads\nwrote {}\n", kGroundTruthK,
               seconds_since(start), omp_get_max_threads(), out.string());
    std::fflush(stdout);
    return out;
  }
  if (parse_deep_feature_name(name)) {
    // Training runs datasets/cnn_features.py, which only the CLI knows how to find and run.
    ANNBENCH_FAIL(
        "dataset '{}' is built by the command line: run `annbench dataset prepare {}` (it trains "
        "the CNN with datasets/cnn_features.py, then calls write_deep_feature_dataset)",
        name, name);
  }
  if (find_registry_entry(name) != nullptr) {
    ANNBENCH_FAIL("dataset '{}' cannot be built locally: run `annbench dataset fetch {}`", name,
                  name);
  }
  ANNBENCH_FAIL(
      "unknown dataset '{}': prepare builds fashion-mnist-784-euclidean, "
      "mnist-784-euclidean, random-<xs|s|N>-<dim>-<euclidean|angular|dot> and "
      "fashion-mnist-cnn-<dim>-<angular|euclidean>",
      name);
}

}  // namespace annbench
