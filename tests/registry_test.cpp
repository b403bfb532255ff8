// Dataset registry, name resolution, local builds (prepare) and downloads (fetch, with a stand-in
// curl so no network is needed).

#include <annbench/datasets/bigann.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/registry.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-registry-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "data");
    data_env_.emplace("ANNBENCH_DATA_DIR", (dir_ / "data").string());
  }
  void TearDown() override {
    data_env_.reset();
    fs::remove_all(dir_);
  }
  template <typename Action>
  std::string error_of(Action action) {
    try {
      action();
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }
  std::size_t files_in(const fs::path& directory) {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(directory), fs::directory_iterator()));
  }
  // A stand-in `curl` first on PATH, running `body` (a shell snippet; $out is the -o argument).
  std::optional<ScopedEnv> fake_curl(const std::string& body) {
    const fs::path bin = dir_ / "bin";
    fs::create_directories(bin);
    std::ofstream(bin / "curl") << "#!/bin/sh\nout=\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = -o ]; "
                                   "then out=$2; fi\n  shift\ndone\n"
                                << body << "\n";
    fs::permissions(bin / "curl", fs::perms::owner_all);
    return std::optional<ScopedEnv>(std::in_place, "PATH",
                                    bin.string() + ":" + std::getenv("PATH"));
  }

  fs::path dir_;
  std::optional<ScopedEnv> data_env_;
};

TEST_F(RegistryTest, TableIsSortedUniqueAndHasTheStandardSets) {
  const auto registry = dataset_registry();
  ASSERT_GE(registry.size(), 20u);
  std::set<std::string_view> names;
  for (std::size_t i = 0; i < registry.size(); ++i) {
    names.insert(registry[i].name);
    if (i > 0) {
      EXPECT_LT(registry[i - 1].name, registry[i].name);
    }
  }
  EXPECT_EQ(names.size(), registry.size());
  const RegistryEntry* fashion = find_registry_entry("fashion-mnist-784-euclidean");
  ASSERT_NE(fashion, nullptr);
  EXPECT_EQ(fashion->dim, 784u);
  EXPECT_EQ(fashion->train_size, 60'000u);
  EXPECT_EQ(fashion->test_size, 10'000u);
  EXPECT_EQ(fashion->distance, "euclidean");
  EXPECT_TRUE(fashion->buildable);
  const RegistryEntry* sift = find_registry_entry("sift-128-euclidean");
  ASSERT_NE(sift, nullptr);
  EXPECT_EQ(sift->train_size, 1'000'000u);
  EXPECT_FALSE(sift->buildable);
  const RegistryEntry* glove = find_registry_entry("glove-100-angular");
  ASSERT_NE(glove, nullptr);
  EXPECT_EQ(glove->train_size, 1'183'514u);
  EXPECT_EQ(find_registry_entry("gist-960-euclidean")->test_size, 1'000u);
  EXPECT_EQ(find_registry_entry("random-xs-20-angular")->train_size, 9'000u);
  EXPECT_FALSE(find_registry_entry("kosarak-jaccard")->supported);
  EXPECT_EQ(find_registry_entry("no-such-set"), nullptr);
  EXPECT_EQ(dataset_url("glove-25-angular"), "https://ann-benchmarks.com/glove-25-angular.hdf5");
}

TEST_F(RegistryTest, DataDirFollowsTheEnvironment) {
  EXPECT_EQ(data_dir(), dir_ / "data");
  {
    ScopedEnv empty("ANNBENCH_DATA_DIR", "");
    EXPECT_EQ(data_dir(), fs::path("data"));
  }
  ::unsetenv("ANNBENCH_DATA_DIR");
  EXPECT_EQ(data_dir(), fs::path("data"));
}

TEST_F(RegistryTest, ResolveFindsPathsAndNames) {
  const fs::path file = dir_ / "somewhere.hdf5";
  std::ofstream(file) << "x";
  EXPECT_EQ(resolve_dataset(file.string()), file);
  std::ofstream(dir_ / "data" / "glove-25-angular.hdf5") << "x";
  EXPECT_EQ(resolve_dataset("glove-25-angular"), dir_ / "data" / "glove-25-angular.hdf5");
}

TEST_F(RegistryTest, ANameIsNeverAFolderOfTheWorkingDirectory) {
  // Running from a folder that holds results/<dataset>-like folders.
  const fs::path cwd = fs::current_path();
  fs::create_directories(dir_ / "work" / "glove-25-angular");
  std::ofstream(dir_ / "data" / "glove-25-angular.hdf5") << "x";
  fs::current_path(dir_ / "work");
  const fs::path resolved = resolve_dataset("glove-25-angular");
  const std::string directory_error = error_of([] { resolve_dataset("./glove-25-angular"); });
  fs::current_path(cwd);
  EXPECT_EQ(resolved, dir_ / "data" / "glove-25-angular.hdf5");
  EXPECT_THAT(directory_error, HasSubstr("is a directory"));
}

TEST_F(RegistryTest, ResolveSaysHowToGetAMissingDataset) {
  EXPECT_THAT(error_of([] { resolve_dataset("random-xs-20-euclidean"); }),
              HasSubstr("run `annbench dataset prepare random-xs-20-euclidean`"));
  EXPECT_THAT(error_of([] { resolve_dataset("fashion-mnist-784-euclidean"); }),
              HasSubstr("annbench dataset prepare fashion-mnist-784-euclidean"));
  EXPECT_THAT(error_of([] { resolve_dataset("glove-100-angular"); }),
              AllOf(HasSubstr("run `annbench dataset fetch glove-100-angular`"),
                    HasSubstr("https://ann-benchmarks.com/glove-100-angular.hdf5")));
  EXPECT_THAT(error_of([] { resolve_dataset("kosarak-jaccard"); }), HasSubstr("not support"));
  EXPECT_THAT(error_of([] { resolve_dataset("imagenet-9-euclidean"); }),
              AllOf(HasSubstr("unknown dataset 'imagenet-9-euclidean'"),
                    HasSubstr("fashion-mnist-784-euclidean"), HasSubstr("annbench dataset list")));
  EXPECT_THAT(error_of([this] { resolve_dataset((dir_ / "gone.hdf5").string()); }),
              AllOf(HasSubstr("gone.hdf5"), HasSubstr("does not exist")));
}

TEST_F(RegistryTest, CanPrepare) {
  EXPECT_TRUE(can_prepare("fashion-mnist-784-euclidean"));
  EXPECT_TRUE(can_prepare("mnist-784-euclidean"));
  EXPECT_TRUE(can_prepare("random-xs-20-euclidean"));
  EXPECT_TRUE(can_prepare("random-s-100-angular"));
  EXPECT_TRUE(can_prepare("random-5000-32-dot"));
  EXPECT_FALSE(can_prepare("random-xs-16-hamming"));
  EXPECT_FALSE(can_prepare("random-0-8-euclidean"));
  EXPECT_FALSE(can_prepare("random-xs-euclidean"));
  EXPECT_FALSE(can_prepare("random-m-20-euclidean"));
  EXPECT_FALSE(can_prepare("glove-25-angular"));
}

TEST_F(RegistryTest, PrepareRandomDatasetFollowsTheAnnBenchmarksRecipe) {
  const fs::path path = prepare_dataset("random-500-4-angular");
  EXPECT_EQ(path, dir_ / "data" / "random-500-4-angular.hdf5");
  const Dataset dataset = load_dataset(path);
  EXPECT_EQ(dataset.metric, Metric::Angular);
  EXPECT_EQ(dataset.train.rows(), 450u);
  EXPECT_EQ(dataset.test.rows(), 50u);
  EXPECT_EQ(dataset.dim(), 4u);
  EXPECT_EQ(dataset.neighbors.cols(), 100u);
  // Seed 1, one cluster per 100 points: the same points as gaussian_mixture gives.
  const FloatMatrix expected = gaussian_mixture(500, 4, 5, 1);
  EXPECT_EQ(dataset.train(7, 2), expected(7, 2));
  EXPECT_EQ(dataset.test(0, 0), expected(450, 0));
  EXPECT_EQ(resolve_dataset("random-500-4-angular"), path);
}

void write_idx_gz(const fs::path& path, std::uint32_t count, std::uint32_t seed) {
  std::string bytes;
  for (std::uint32_t value : {0x00000803u, count, 28u, 28u}) {
    for (int shift = 24; shift >= 0; shift -= 8)
      bytes += static_cast<char>((value >> shift) & 0xff);
  }
  for (std::uint32_t i = 0; i < count * 784; ++i) {
    seed = seed * 1664525u + 1013904223u;
    bytes += static_cast<char>(seed >> 24);
  }
  gzFile file = gzopen(path.c_str(), "wb");
  gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(file);
}

TEST_F(RegistryTest, PrepareFashionMnistFromIdxFiles) {
  const fs::path source = dir_ / "fashion";
  fs::create_directories(source);
  write_idx_gz(source / "train-images-idx3-ubyte.gz", 150, 1);
  write_idx_gz(source / "t10k-images-idx3-ubyte.gz", 12, 2);
  ScopedEnv package_dir("ANNBENCH_FASHION_MNIST_DIR", source.string());
  const Dataset dataset = load_dataset(prepare_dataset("fashion-mnist-784-euclidean"));
  EXPECT_EQ(dataset.name, "fashion-mnist-784-euclidean");
  EXPECT_EQ(dataset.metric, Metric::L2);
  ASSERT_EQ(dataset.train.rows(), 150u);
  ASSERT_EQ(dataset.test.rows(), 12u);
  EXPECT_EQ(dataset.dim(), 784u);
  EXPECT_EQ(dataset.neighbors.cols(), 100u);
  // Pixels are stored as their 0..255 values, as ANN-Benchmarks does.
  std::uint32_t seed = 1 * 1664525u + 1013904223u;
  EXPECT_EQ(dataset.train(0, 0), static_cast<float>(seed >> 24));
}

TEST_F(RegistryTest, PrepareFashionMnistWithoutThePackage) {
  ScopedEnv package_dir("ANNBENCH_FASHION_MNIST_DIR", (dir_ / "empty").string());
  EXPECT_THAT(error_of([] { prepare_dataset("fashion-mnist-784-euclidean"); }),
              AllOf(HasSubstr("install Debian package dataset-fashion-mnist"),
                    HasSubstr("train-images-idx3-ubyte.gz")));
}

TEST_F(RegistryTest, PrepareRejectsWhatItCannotBuild) {
  EXPECT_THAT(error_of([] { prepare_dataset("sift-128-euclidean"); }),
              HasSubstr("annbench dataset fetch sift-128-euclidean"));
  EXPECT_THAT(error_of([] { prepare_dataset("whatever"); }),
              HasSubstr("unknown dataset 'whatever'"));
}

TEST_F(RegistryTest, FetchOfflineFailsClearlyAndLeavesNothing) {
  auto path = fake_curl("echo 'curl: (6) Could not resolve host: ann-benchmarks.com' >&2\nexit 6");
  EXPECT_THAT(error_of([] { fetch_dataset("glove-25-angular"); }),
              AllOf(HasSubstr("cannot download https://ann-benchmarks.com/glove-25-angular.hdf5"),
                    HasSubstr("no network here?"), HasSubstr("Could not resolve host")));
  EXPECT_EQ(files_in(dir_ / "data"), 0u);
}

TEST_F(RegistryTest, FetchValidatesBeforeMovingIntoPlace) {
  auto path = fake_curl("echo 'not hdf5' > \"$out\"");
  EXPECT_THAT(error_of([] { fetch_dataset("glove-25-angular"); }),
              AllOf(HasSubstr("downloaded https://ann-benchmarks.com/glove-25-angular.hdf5"),
                    HasSubstr("not an HDF5 file")));
  EXPECT_EQ(files_in(dir_ / "data"), 0u);
}

TEST_F(RegistryTest, FetchInstallsAValidDownload) {
  const fs::path served = dir_ / "served.hdf5";
  make_synthetic_dataset(served, 50, 5, 3, Metric::L2, 2, 4, 10);
  auto path = fake_curl(fmt::format("cp '{}' \"$out\"", served.string()));
  const fs::path fetched = fetch_dataset("sift-128-euclidean");
  EXPECT_EQ(fetched, dir_ / "data" / "sift-128-euclidean.hdf5");
  EXPECT_EQ(load_dataset(fetched).train.rows(), 50u);
  EXPECT_EQ(files_in(dir_ / "data"), 1u);
}

TEST_F(RegistryTest, FetchRefusesUnsupportedAndOddNames) {
  EXPECT_THAT(error_of([] { fetch_dataset("movielens10m-jaccard"); }), HasSubstr("jaccard"));
  EXPECT_THAT(error_of([] { fetch_dataset("../etc/passwd"); }), HasSubstr("not a dataset name"));
}

TEST_F(RegistryTest, BigAnnTableIsSortedAndComplete) {
  const auto table = bigann_registry();
  ASSERT_EQ(table.size(), 7u);
  for (std::size_t i = 0; i < table.size(); ++i) {
    const BigAnnEntry& entry = table[i];
    SCOPED_TRACE(std::string(entry.name));
    if (i > 0) {
      EXPECT_LT(table[i - 1].name, entry.name);
    }
    EXPECT_EQ(find_bigann_entry(entry.name), &entry);
    EXPECT_EQ(find_registry_entry(entry.name), nullptr);
    EXPECT_EQ(entry.train_size, 10'000'000u);
    EXPECT_GE(entry.source_rows, entry.train_size);
    EXPECT_GT(entry.dim, 0u);
    EXPECT_TRUE(entry.element == "float32" || entry.element == "uint8" || entry.element == "int8");
    EXPECT_NO_THROW(parse_metric(entry.distance));
    for (const std::string_view url : {entry.base_url, entry.query_url, entry.truth_url})
      EXPECT_TRUE(url.starts_with("https://")) << url;
    EXPECT_EQ(entry.search == "range", entry.squared_radius > 0);
  }
  const BigAnnEntry* bigann = find_bigann_entry("bigann-10M");
  ASSERT_NE(bigann, nullptr);
  EXPECT_EQ(bigann->dim, 128u);
  EXPECT_EQ(bigann->test_size, 10'000u);
  EXPECT_EQ(bigann->element, "uint8");
  EXPECT_EQ(find_bigann_entry("msspacev-10M")->element, "int8");
  EXPECT_EQ(find_bigann_entry("text2image-10M")->distance, "dot");
  EXPECT_EQ(find_bigann_entry("bigann-1B"), nullptr);
  EXPECT_THAT(
      error_of([] { resolve_dataset("deep-10M"); }),
      AllOf(HasSubstr("big-ann-benchmarks set"), HasSubstr("`annbench dataset fetch deep-10M`")));
}

TEST_F(RegistryTest, FetchBigAnnOfflineFailsFastAndLeavesNothing) {
  auto path =
      fake_curl("echo 'curl: (6) Could not resolve host: dl.fbaipublicfiles.com' >&2\nexit 6");
  EXPECT_THAT(error_of([] { fetch_dataset("bigann-10M"); }),
              AllOf(HasSubstr("cannot download https://dl.fbaipublicfiles.com/"
                              "billion-scale-ann-benchmarks/bigann/query.public.10K.u8bin"),
                    HasSubstr("no network here?")));
  EXPECT_EQ(files_in(dir_ / "data"), 0u);
}

TEST_F(RegistryTest, FetchBigAnnKeepsCheckedFilesAndAsksForTheSliceOnly) {
  // Valid query and ground-truth files; the base download fails after logging its arguments.
  const FloatMatrix queries(10'000, 128, 7.f);
  write_bin(dir_ / "query.u8bin", BinElement::UInt8, queries.view());
  write_bin_ground_truth(dir_ / "gt.ibin", IdMatrix(10'000, 100, 3), FloatMatrix(10'000, 100, 1.f));
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  std::ofstream(bin / "curl") << "#!/bin/sh\nall=\"$*\"\nout=\nfor a in \"$@\"; do url=$a; done\n"
                                 "while [ $# -gt 0 ]; do [ \"$1\" = -o ] && out=$2; shift; done\n"
                              << "case $url in\n"
                              << "  *query.public.10K.u8bin) cp '"
                              << (dir_ / "query.u8bin").string() << "' \"$out\" ;;\n"
                              << "  *GT_10M/bigann-10M) cp '" << (dir_ / "gt.ibin").string()
                              << "' \"$out\" ;;\n"
                              << "  *) echo \"$all\" > '" << (dir_ / "asked").string()
                              << "'; echo 'curl: (22) 404' >&2; exit 22 ;;\nesac\n";
  fs::permissions(bin / "curl", fs::perms::owner_all);
  ScopedEnv path("PATH", bin.string() + ":" + std::getenv("PATH"));
  EXPECT_THAT(error_of([] { fetch_dataset("bigann-10M"); }),
              AllOf(HasSubstr("cannot download https://dl.fbaipublicfiles.com/"
                              "billion-scale-ann-benchmarks/bigann/base.1B.u8bin"),
                    HasSubstr("download failed")));
  const fs::path folder = dir_ / "data" / "bigann-10M";
  EXPECT_EQ(files_in(folder), 2u);
  EXPECT_EQ(read_bin_header(folder / "query.u8bin").rows, 10'000u);
  EXPECT_EQ(read_bin_ground_truth(folder / "gt.ibin").neighbors.rows(), 10'000u);
  EXPECT_FALSE(fs::exists(folder / "base.u8bin"));
  // The first 10M rows of the 1B file: 8 + 10^7 · 128 bytes.
  std::ifstream asked(dir_ / "asked");
  const std::string args((std::istreambuf_iterator<char>(asked)), std::istreambuf_iterator<char>());
  EXPECT_THAT(args, AllOf(HasSubstr("-r 0-1280000007"), HasSubstr("base.1B.u8bin")));
}

}  // namespace
}  // namespace annbench
