#pragma once
// Where datasets live and how to get them: the table of standard ANN-Benchmarks datasets, the
// data directory, name → file resolution, download (fetch) and local build (prepare).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace annbench {

struct RegistryEntry {
  std::string_view name;      // e.g. "glove-100-angular"; the file is <name>.hdf5
  std::size_t dim;            // vector dimension (0 for sparse sets)
  std::size_t train_size;     // rows of train
  std::size_t test_size;      // rows of test (queries)
  std::string_view distance;  // the file's `distance` attribute
  bool buildable;             // `annbench dataset prepare NAME` knows how to build it
  bool supported;             // dense float with a metric annbench handles
};

// The standard datasets, sorted by name.
std::span<const RegistryEntry> dataset_registry();
// nullptr when `name` is not in the table.
const RegistryEntry* find_registry_entry(std::string_view name);
// https://ann-benchmarks.com/<name>.hdf5
std::string dataset_url(std::string_view name);

// big-ann-benchmarks' 10M sets (NeurIPS'21 / '23 tracks), distributed as .fbin / .u8bin / .i8bin
// files plus a ground-truth file (bigann.h), not as HDF5. Facts from their benchmark/datasets.py.
struct BigAnnEntry {
  std::string_view name;         // their name, e.g. "bigann-10M"
  std::size_t dim;               //
  std::size_t train_size;        // base rows used
  std::size_t test_size;         // public queries
  std::string_view distance;     // annbench metric name (their "ip" is "dot")
  std::string_view element;      // "float32", "uint8" or "int8"
  std::string_view search;       // "knn", "range" or "knn_filtered"
  std::size_t source_rows;       // rows of the published base file; the set is its first
                                 // train_size rows (10M subsets are leading slices of 1B)
  std::string_view base_url;     // empty: not known here
  std::string_view query_url;    //
  std::string_view truth_url;    // k-NN (GT) or range ground-truth file
  std::string_view labels_url;   // filter track: base labels (.spmat), else empty
  std::string_view filters_url;  // filter track: query labels (.spmat), else empty
  double squared_radius;         // range sets: their radius (squared L2); else 0
};

// The big-ann-benchmarks sets, sorted by name.
std::span<const BigAnnEntry> bigann_registry();
// nullptr when `name` is not in that table.
const BigAnnEntry* find_bigann_entry(std::string_view name);

// $ANNBENCH_DATA_DIR when set and non-empty, else ./data.
std::filesystem::path data_dir();

// The first executable file named `program` in a folder of $PATH (empty entries skipped).
std::optional<std::filesystem::path> find_program(std::string_view program);

// An existing path → itself; else data_dir()/<name>.hdf5 if it exists; else an Error saying how
// to get it (`annbench dataset prepare NAME` / `annbench dataset fetch NAME`) or that the name is
// unknown.
std::filesystem::path resolve_dataset(std::string_view name_or_path);

// $ANNBENCH_FASHION_MNIST_DIR when set and non-empty, else /usr/share/datasets/fashion-mnist
// (Debian's dataset-fashion-mnist).
std::filesystem::path fashion_mnist_dir();

// True for names `annbench dataset prepare` can build: fashion-mnist-784-euclidean,
// mnist-784-euclidean, random-<xs|s|N>-<dim>-<euclidean|angular|dot> and
// fashion-mnist-cnn-<dim>-<angular|euclidean> (deep_features.h).
bool can_prepare(std::string_view name);

// Downloads data_dir()/<name>.hdf5 with the curl binary, validates it with load_dataset and
// only then moves it into place. Error "cannot download URL: no network here? (curl said ...)"
// when offline; an Error saying to prepare it for fashion-mnist-cnn-* (ours, not published).
// Returns the file written.
// For a big-ann-benchmarks set (bigann_registry): downloads its query, ground-truth (and label)
// files whole and the base file's first train_size rows (an HTTP range request; the header's n is
// then set to train_size) into data_dir()/<name>/, checks each with the bigann.h readers, prints
// the `annbench dataset convert` command that makes <name>.hdf5 and returns the folder. An entry
// with an unknown URL is an Error saying so.
std::filesystem::path fetch_dataset(std::string_view name);

// Builds data_dir()/<name>.hdf5 locally (overwriting it), printing progress and the ground-truth
// time to stdout. Returns the file written.
//  - fashion-mnist-784-euclidean: Debian's dataset-fashion-mnist files (fashion_mnist_dir()):
//    60,000 train / 10,000 test images as float32
//    pixel values 0..255, k = 100 ground truth, as ANN-Benchmarks builds it; plus, when the
//    label files are there too, the filter metadata (filter_tags.h class_filters): each train
//    image's class (label_count 10), each query asking for its own class, filtered top-100.
//  - mnist-784-euclidean: the same from MNIST IDX files in data_dir()/mnist or
//    /usr/share/datasets/mnist, when present.
//  - random-xs-20-*, random-s-100-* (and random-<N>-<dim>-<metric>): ANN-Benchmarks' recipe
//    (make_blobs-like Gaussian blobs, one cluster per 100 points, 10 % test, seed 1) with our
//    own generator, so the points differ from theirs.
// fashion-mnist-cnn-<dim>-<metric> needs the Python training script, which the CLI runs
// (`annbench dataset prepare`, then write_deep_feature_dataset): here it is an Error saying so.
std::filesystem::path prepare_dataset(std::string_view name);

}  // namespace annbench
