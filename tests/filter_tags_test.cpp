// Filter metadata sources (filter_tags.h): the synthetic tag generator against naive counts, the
// class label reader, and the `annbench dataset tags` / `prepare fashion-mnist` paths end to end.

#include "commands.h"

#include <annbench/common/distance.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/filter_tags.h>
#include <annbench/datasets/registry.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// Rows carrying all of query q's tags and inside its range: a scan written independently of
// the library's count_matching_rows.
std::size_t naive_count(const FilterMetadata& meta, std::size_t q) {
  const std::size_t rows = meta.train_labels->rows();
  std::size_t count = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    bool pass = true;
    if (meta.test_filters) {
      const std::set<std::uint32_t> carried(meta.train_labels->row(r).begin(),
                                            meta.train_labels->row(r).end());
      for (const std::uint32_t tag : meta.test_filters->row(q)) pass = pass && carried.count(tag);
    }
    if (!meta.test_attr_range.empty()) {
      pass = pass && meta.test_attr_range(q, 0) <= meta.train_attr[r] &&
             meta.train_attr[r] <= meta.test_attr_range(q, 1);
    }
    count += pass;
  }
  return count;
}

bool same_metadata(const FilterMetadata& a, const FilterMetadata& b) {
  const auto same_csr = [](const std::optional<LabelCsr>& x, const std::optional<LabelCsr>& y) {
    return x.has_value() == y.has_value() &&
           (!x || (x->indptr == y->indptr && x->labels == y->labels));
  };
  const auto same_matrix = [](const FloatMatrix& x, const FloatMatrix& y) {
    return x.rows() == y.rows() && x.cols() == y.cols() &&
           std::equal(x.data(), x.data() + x.size(), y.data());
  };
  return a.label_count == b.label_count && same_csr(a.train_labels, b.train_labels) &&
         same_csr(a.test_filters, b.test_filters) && a.train_attr == b.train_attr &&
         same_matrix(a.test_attr_range, b.test_attr_range);
}

TEST(TagGenerator, SameSeedSameMetadataOtherSeedOther) {
  TagOptions options;
  options.seed = 7;
  const FilterMetadata a = generate_tag_filters(5'000, 40, options);
  const FilterMetadata b = generate_tag_filters(5'000, 40, options);
  EXPECT_TRUE(same_metadata(a, b));
  options.seed = 8;
  const FilterMetadata c = generate_tag_filters(5'000, 40, options);
  EXPECT_FALSE(same_metadata(a, c));
  EXPECT_NE(a.train_labels->labels, c.train_labels->labels);
  EXPECT_NE(a.test_filters->labels, c.test_filters->labels);

  options.attribute = true;
  const FilterMetadata d = generate_tag_filters(5'000, 40, options);
  const FilterMetadata e = generate_tag_filters(5'000, 40, options);
  EXPECT_TRUE(same_metadata(d, e));
  options.seed = 9;
  EXPECT_NE(generate_tag_filters(5'000, 40, options).train_attr, d.train_attr);
}

TEST(TagGenerator, EveryQueryIsWithinTheFactorOfItsBand) {
  const std::size_t rows = 20'000;
  const std::size_t queries = 120;
  TagOptions options;
  options.seed = 3;
  std::vector<TagBandStats> stats;
  const FilterMetadata meta = generate_tag_filters(rows, queries, options, &stats);
  EXPECT_EQ(meta.kind(), "labels");
  EXPECT_EQ(meta.label_count, 2000u);
  ASSERT_TRUE(meta.train_labels && meta.test_filters);
  ASSERT_EQ(meta.train_labels->rows(), rows);
  ASSERT_EQ(meta.test_filters->rows(), queries);
  EXPECT_TRUE(meta.train_attr.empty());
  EXPECT_TRUE(meta.test_attr_range.empty());
  // Every row has at least one tag, each listed once, ascending, below label_count.
  for (std::size_t r = 0; r < rows; ++r) {
    const auto row = meta.train_labels->row(r);
    ASSERT_FALSE(row.empty()) << r;
    ASSERT_TRUE(std::adjacent_find(row.begin(), row.end(), std::greater_equal<>()) == row.end())
        << r;
    ASSERT_LT(row.back(), meta.label_count);
  }
  std::size_t pairs = 0;
  std::vector<double> band_sum(options.selectivities.size(), 0);
  for (std::size_t q = 0; q < queries; ++q) {
    const double target = options.selectivities[q % options.selectivities.size()];
    const auto filter = meta.test_filters->row(q);
    ASSERT_TRUE(filter.size() == 1 || filter.size() == 2) << q;
    if (filter.size() == 2) {
      EXPECT_NE(filter[0], filter[1]);
    }
    pairs += filter.size() == 2;
    const std::size_t count = naive_count(meta, q);
    EXPECT_EQ(count_matching_rows(meta, q), count);
    const double selectivity = static_cast<double>(count) / static_cast<double>(rows);
    band_sum[q % band_sum.size()] += selectivity;
    EXPECT_GE(selectivity, target / 1.5) << "query " << q << ", band " << target;
    EXPECT_LE(selectivity, target * 1.5) << "query " << q << ", band " << target;
  }
  EXPECT_GT(pairs, queries / 4);  // two-tag filters are really there
  ASSERT_EQ(stats.size(), 4u);
  for (std::size_t b = 0; b < stats.size(); ++b) {
    EXPECT_EQ(stats[b].target, options.selectivities[b]);
    EXPECT_EQ(stats[b].queries, queries / 4);
    EXPECT_NEAR(stats[b].mean_selectivity, band_sum[b] / static_cast<double>(queries / 4), 1e-12);
    EXPECT_GE(stats[b].mean_selectivity, stats[b].target / 1.5);
    EXPECT_LE(stats[b].mean_selectivity, stats[b].target * 1.5);
  }
}

TEST(TagGenerator, AttributeRangesHaveTheBandsWidthAndSelectivity) {
  const std::size_t rows = 10'000;
  TagOptions options;
  options.attribute = true;
  options.selectivities = {0.002, 0.05, 0.3};
  const FilterMetadata meta = generate_tag_filters(rows, 30, options);
  EXPECT_EQ(meta.kind(), "range");
  EXPECT_FALSE(meta.test_filters.has_value());
  ASSERT_EQ(meta.train_attr.size(), rows);
  for (const float value : meta.train_attr) {
    ASSERT_GE(value, 0.0f);
    ASSERT_LT(value, 1.0f);
  }
  ASSERT_EQ(meta.test_attr_range.rows(), 30u);
  ASSERT_EQ(meta.test_attr_range.cols(), 2u);
  for (std::size_t q = 0; q < 30; ++q) {
    const double target = options.selectivities[q % 3];
    EXPECT_NEAR(meta.test_attr_range(q, 1) - meta.test_attr_range(q, 0), target, 1e-6);
    const double selectivity =
        static_cast<double>(naive_count(meta, q)) / static_cast<double>(rows);
    EXPECT_GE(selectivity, target / 1.5) << q;
    EXPECT_LE(selectivity, target * 1.5) << q;
  }
}

TEST(TagGenerator, TagFrequenciesDecreaseWithRank) {
  const std::size_t rows = 50'000;
  TagOptions options;
  const FilterMetadata meta = generate_tag_filters(rows, 4, options);
  std::vector<double> count(options.tags, 0);
  for (const std::uint32_t tag : meta.train_labels->labels) ++count[tag];
  // Ranks 1, 2, 4, ..., 1024 (tags 0, 1, 3, ...): strictly fewer carriers each time, and each
  // within a few binomial standard deviations of rows * 0.7 / rank.
  double previous = static_cast<double>(rows) + 1;
  for (std::uint32_t rank = 1; rank <= 1024; rank *= 2) {
    const double got = count[rank - 1];
    const double p = 0.7 / rank;
    const double expected = p * static_cast<double>(rows);
    const double sigma = std::sqrt(expected * (1 - p));
    EXPECT_LT(got, previous) << "rank " << rank;
    EXPECT_NEAR(got, expected, 6 * sigma + 0.01 * expected) << "rank " << rank;
    previous = got;
  }
  // Deciles of ranks: each carries fewer tags in all than the one before.
  double previous_block = static_cast<double>(meta.train_labels->labels.size()) + 1;
  for (std::uint32_t first = 0; first < options.tags; first += options.tags / 10) {
    double block = 0;
    for (std::uint32_t t = first; t < first + options.tags / 10; ++t) block += count[t];
    EXPECT_LT(block, previous_block) << "ranks from " << first + 1;
    previous_block = block;
  }
}

TEST(TagGenerator, UnreachableBandIsAnErrorNamingIt) {
  TagOptions options;
  // 0.001 of 500 rows is half a row: no whole number of rows is within a factor 1.5 of it.
  EXPECT_THAT(error_of([&] { generate_tag_filters(500, 10, options); }),
              AllOf(HasSubstr("band 0.001"), HasSubstr("500 rows")));
  options.selectivities = {0.01, 0.1, 0.5};  // 5, 50 and 250 rows: reachable
  const FilterMetadata meta = generate_tag_filters(500, 9, options);
  for (std::size_t q = 0; q < 9; ++q) {
    const double target = options.selectivities[q % 3];
    const double selectivity = static_cast<double>(naive_count(meta, q)) / 500.0;
    EXPECT_GE(selectivity, target / 1.5) << q;
    EXPECT_LE(selectivity, target * 1.5) << q;
  }
  options.selectivities = {0.0};
  EXPECT_THAT(error_of([&] { generate_tag_filters(500, 10, options); }), HasSubstr("(0, 1]"));
  options.selectivities = {0.1};
  options.tags = 0;
  EXPECT_THAT(error_of([&] { generate_tag_filters(500, 10, options); }), HasSubstr("--tags"));
}

TEST(TagGenerator, ParsesSelectivityLists) {
  EXPECT_EQ(parse_selectivities("0.001,0.01,0.1,0.5"),
            (std::vector<double>{0.001, 0.01, 0.1, 0.5}));
  EXPECT_EQ(parse_selectivities("1"), std::vector<double>{1.0});
  for (const char* bad : {"", "0.1,", "0.1,,0.2", "abc", "0", "1.5", "-0.1", "0.1x"}) {
    EXPECT_THAT(error_of([&] { parse_selectivities(bad); }),
                AllOf(HasSubstr("not a number in (0, 1]"), HasSubstr(fmt::format("'{}'", bad))))
        << bad;
  }
}

class FilterFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-filter-tags-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write_gz(const std::string& name, const std::string& bytes) const {
    const fs::path path = dir_ / name;
    gzFile file = gzopen(path.c_str(), "wb");
    EXPECT_NE(file, nullptr);
    gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(file);
    return path;
  }

  fs::path dir_;
};

std::string be32(std::uint32_t value) {
  std::string bytes;
  for (int shift = 24; shift >= 0; shift -= 8) bytes += static_cast<char>((value >> shift) & 0xff);
  return bytes;
}

std::string idx_labels(const std::vector<std::uint8_t>& labels, std::uint32_t magic = 0x801) {
  std::string bytes = be32(magic) + be32(static_cast<std::uint32_t>(labels.size()));
  for (const std::uint8_t label : labels) bytes += static_cast<char>(label);
  return bytes;
}

TEST_F(FilterFilesTest, ReadsIdxClassLabelsAndNamesTheFileOnErrors) {
  const fs::path good = write_gz("train-labels-idx1-ubyte.gz", idx_labels({3, 0, 9, 1, 1}));
  EXPECT_EQ(read_class_labels(good, 10), (std::vector<std::int32_t>{3, 0, 9, 1, 1}));
  EXPECT_THAT(
      error_of([&] { read_class_labels(good, 5); }),
      AllOf(HasSubstr("train-labels-idx1-ubyte.gz"), HasSubstr("label 9"), HasSubstr("below 5")));
  const fs::path images = write_gz("images.gz", idx_labels({1, 2}, 0x803));
  EXPECT_THAT(error_of([&] { read_class_labels(images, 10); }),
              AllOf(HasSubstr("images.gz"), HasSubstr("magic")));
  const std::string full = idx_labels({1, 2, 3, 4, 5, 6});
  const fs::path cut = write_gz("cut.gz", full.substr(0, full.size() - 2));
  EXPECT_THAT(error_of([&] { read_class_labels(cut, 10); }),
              AllOf(HasSubstr("cut.gz"), HasSubstr("truncated")));
  EXPECT_THAT(error_of([&] { read_class_labels(dir_ / "missing.gz", 10); }),
              HasSubstr("missing.gz"));
}

TEST(ClassFilters, OneLabelPerRowAndTheQueryClassAsFilter) {
  const std::vector<std::int32_t> train{4, 0, 4, 9};
  const std::vector<std::int32_t> test{9, 4};
  const FilterMetadata meta = class_filters(train, test, 10);
  EXPECT_EQ(meta.kind(), "labels");
  EXPECT_EQ(meta.label_count, 10u);
  EXPECT_EQ(meta.train_labels->indptr, (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(meta.train_labels->labels, (std::vector<std::uint32_t>{4, 0, 4, 9}));
  EXPECT_EQ(meta.test_filters->indptr, (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_EQ(meta.test_filters->labels, (std::vector<std::uint32_t>{9, 4}));
  EXPECT_EQ(count_matching_rows(meta, 0), 1u);
  EXPECT_EQ(count_matching_rows(meta, 1), 2u);
  const std::vector<std::int32_t> negative{0, -1};
  EXPECT_THAT(error_of([&] { class_filters(negative, test, 10); }), HasSubstr("-1"));
}

TEST(DebianFashionMnist, LabelFilesHoldTenBalancedClasses) {
  const fs::path directory = fashion_mnist_dir();
  const fs::path train_file = directory / "train-labels-idx1-ubyte.gz";
  const fs::path test_file = directory / "t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(train_file) || !fs::exists(test_file)) {
    GTEST_SKIP() << train_file << " or " << test_file
                 << " is missing (Debian package dataset-fashion-mnist not installed)";
  }
  const std::vector<std::int32_t> train = read_class_labels(train_file, 10);
  const std::vector<std::int32_t> test = read_class_labels(test_file, 10);
  ASSERT_EQ(train.size(), 60'000u);
  ASSERT_EQ(test.size(), 10'000u);
  // The published first labels (ankle boot, T-shirt, T-shirt, dress, ...).
  EXPECT_EQ(std::vector<std::int32_t>(train.begin(), train.begin() + 10),
            (std::vector<std::int32_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  std::vector<std::size_t> train_counts(10, 0);
  std::vector<std::size_t> test_counts(10, 0);
  for (const std::int32_t label : train) ++train_counts[static_cast<std::size_t>(label)];
  for (const std::int32_t label : test) ++test_counts[static_cast<std::size_t>(label)];
  EXPECT_EQ(train_counts, std::vector<std::size_t>(10, 6'000));
  EXPECT_EQ(test_counts, std::vector<std::size_t>(10, 1'000));
}

// The exact filtered top-k by brute force: rows passing the filter, by (distance, id).
std::vector<std::pair<double, std::int32_t>> naive_filtered(const Dataset& dataset,
                                                            const FilterMetadata& meta,
                                                            std::size_t q, std::size_t k) {
  std::vector<std::pair<double, std::int32_t>> all;
  for (std::size_t r = 0; r < dataset.train.rows(); ++r) {
    const auto row = meta.train_labels->row(r);
    bool pass = true;
    if (meta.test_filters) {
      for (const std::uint32_t tag : meta.test_filters->row(q))
        pass = pass && std::find(row.begin(), row.end(), tag) != row.end();
    }
    if (!meta.test_attr_range.empty()) {
      pass = pass && meta.test_attr_range(q, 0) <= meta.train_attr[r] &&
             meta.train_attr[r] <= meta.test_attr_range(q, 1);
    }
    if (pass) {
      all.emplace_back(
          exact_distance(dataset.metric, dataset.test.row(q), dataset.train.row(r), dataset.dim()),
          static_cast<std::int32_t>(r));
    }
  }
  std::sort(all.begin(), all.end());
  all.resize(std::min(all.size(), k));
  return all;
}

void expect_filtered_truth_exact(const Dataset& dataset, std::size_t k) {
  const FilterMetadata& meta = *dataset.filters;
  ASSERT_EQ(meta.filtered_neighbors.rows(), dataset.test.rows());
  ASSERT_EQ(meta.filtered_neighbors.cols(), k);
  for (std::size_t q = 0; q < dataset.test.rows(); ++q) {
    const auto expected = naive_filtered(dataset, meta, q, k);
    for (std::size_t j = 0; j < k; ++j) {
      if (j < expected.size()) {
        ASSERT_EQ(meta.filtered_neighbors(q, j), expected[j].second) << q << " " << j;
        ASSERT_NEAR(meta.filtered_distances(q, j), expected[j].first,
                    1e-4 * std::max(1.0, expected[j].first));
      } else {
        ASSERT_EQ(meta.filtered_neighbors(q, j), -1) << q << " " << j;
        ASSERT_TRUE(std::isinf(meta.filtered_distances(q, j)));
      }
    }
  }
}

TEST_F(FilterFilesTest, TagsCommandWritesMetadataAndExactFilteredTruth) {
  const fs::path file = dir_ / "small.hdf5";
  make_synthetic_dataset(file, 2'000, 24, 8, Metric::L2, 20, 5, 10);
  ::testing::internal::CaptureStdout();
  const int status = dataset_command({"tags", file.string(), "--selectivities", "0.005,0.05,0.5",
                                      "--tags", "300", "--seed", "4", "--count", "20"});
  const std::string output = ::testing::internal::GetCapturedStdout();
  ASSERT_EQ(status, 0);
  EXPECT_THAT(output,
              AllOf(HasSubstr("band 0.005"), HasSubstr("band 0.5"), HasSubstr("mean selectivity")));
  DatasetLoadOptions options;
  options.load_filters = true;
  const Dataset dataset = load_dataset(file, options);
  ASSERT_TRUE(dataset.filters.has_value());
  EXPECT_EQ(dataset.filters->kind(), "labels");
  EXPECT_EQ(dataset.filters->label_count, 300u);
  EXPECT_EQ(dataset.neighbors.cols(), 10u);  // the unfiltered ground truth is kept
  TagOptions same;
  same.selectivities = {0.005, 0.05, 0.5};
  same.tags = 300;
  same.seed = 4;
  const FilterMetadata expected = generate_tag_filters(2'000, 24, same);
  EXPECT_TRUE(same_metadata(*dataset.filters, expected));
  expect_filtered_truth_exact(dataset, 20);

  // Rewritten with --attribute: range queries only, nothing left of the tag filters.
  ::testing::internal::CaptureStdout();
  dataset_command(
      {"tags", file.string(), "--selectivities", "0.05,0.2", "--attribute", "--count", "5"});
  ::testing::internal::GetCapturedStdout();
  const Dataset ranged = load_dataset(file, options);
  EXPECT_EQ(ranged.filters->kind(), "range");
  EXPECT_FALSE(ranged.filters->test_filters.has_value());
  expect_filtered_truth_exact(ranged, 5);

  EXPECT_THAT(error_of([&] {
                dataset_command({"tags", file.string(), "--selectivities", "0.0001"});
              }),
              AllOf(HasSubstr("band 0.0001"), HasSubstr("2000 rows")));
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
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

std::string idx_images(std::uint32_t count, std::uint32_t seed) {
  std::string bytes = be32(0x803) + be32(count) + be32(28) + be32(28);
  for (std::uint32_t i = 0; i < count * 784; ++i) {
    seed = seed * 1664525u + 1013904223u;
    bytes += static_cast<char>(seed >> 24);
  }
  return bytes;
}

TEST_F(FilterFilesTest, PrepareFashionMnistStoresClassLabelsAndClassFilters) {
  const fs::path source = dir_ / "fashion";
  fs::create_directories(source);
  std::vector<std::uint8_t> train_classes(150);
  std::vector<std::uint8_t> test_classes(12);
  for (std::size_t i = 0; i < train_classes.size(); ++i)
    train_classes[i] = static_cast<std::uint8_t>((i * 7) % 10);
  for (std::size_t i = 0; i < test_classes.size(); ++i)
    test_classes[i] = static_cast<std::uint8_t>((i * 3) % 10);
  const auto put = [&](const char* name, const std::string& bytes) {
    const fs::path written = write_gz(name, bytes);
    fs::rename(written, source / name);
  };
  put("train-images-idx3-ubyte.gz", idx_images(150, 1));
  put("t10k-images-idx3-ubyte.gz", idx_images(12, 2));
  put("train-labels-idx1-ubyte.gz", idx_labels(train_classes));
  put("t10k-labels-idx1-ubyte.gz", idx_labels(test_classes));
  const ScopedEnv package("ANNBENCH_FASHION_MNIST_DIR", source.string());
  const ScopedEnv data("ANNBENCH_DATA_DIR", (dir_ / "data").string());
  ::testing::internal::CaptureStdout();
  const fs::path path = prepare_dataset("fashion-mnist-784-euclidean");
  ::testing::internal::GetCapturedStdout();
  DatasetLoadOptions options;
  options.load_filters = true;
  const Dataset dataset = load_dataset(path, options);
  ASSERT_EQ(dataset.train.rows(), 150u);
  EXPECT_EQ(dataset.neighbors.cols(), 100u);
  const FilterMetadata& meta = *dataset.filters;
  EXPECT_EQ(meta.label_count, 10u);
  EXPECT_EQ(meta.kind(), "labels");
  for (std::size_t i = 0; i < train_classes.size(); ++i) {
    ASSERT_EQ(meta.train_labels->row(i).size(), 1u);
    EXPECT_EQ(meta.train_labels->row(i)[0], train_classes[i]) << i;
  }
  for (std::size_t q = 0; q < test_classes.size(); ++q) {
    ASSERT_EQ(meta.test_filters->row(q).size(), 1u);
    EXPECT_EQ(meta.test_filters->row(q)[0], test_classes[q]) << q;
  }
  // 15 images per class: the top-100 of a class is all 15 of them, then padding.
  expect_filtered_truth_exact(dataset, 100);

  // A label file that does not match the images is an error naming it.
  put("t10k-labels-idx1-ubyte.gz", idx_labels({1, 2, 3}));
  EXPECT_THAT(
      error_of([] { prepare_dataset("fashion-mnist-784-euclidean"); }),
      AllOf(HasSubstr("t10k-labels-idx1-ubyte.gz"), HasSubstr("3 labels"), HasSubstr("12 images")));
}

// fashion-mnist-cnn-*: row i is image i, so the package's class of image i is row i's label.
TEST_F(FilterFilesTest, PrepareCnnFeaturesStoresTheImagesClasses) {
  const std::string python = std::getenv("ANNBENCH_PYTHON") != nullptr
                                 ? std::getenv("ANNBENCH_PYTHON")
                                 : "/usr/bin/python3";
  if (std::system((python + " -c 'import torch, numpy, h5py' >/dev/null 2>&1").c_str()) != 0)
    GTEST_SKIP() << python << " cannot import torch, numpy and h5py (install python3-torch)";
  const fs::path train_file = fashion_mnist_dir() / "train-labels-idx1-ubyte.gz";
  const fs::path test_file = fashion_mnist_dir() / "t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(train_file) || !fs::exists(test_file))
    GTEST_SKIP() << train_file << " is missing (install dataset-fashion-mnist)";
  const fs::path out = dir_ / "cnn.hdf5";
  ::testing::internal::CaptureStdout();
  dataset_command({"prepare", "fashion-mnist-cnn-8-angular", "--train-images", "300",
                   "--test-images", "30", "--epochs", "1", "--out", out.string()});
  ::testing::internal::GetCapturedStdout();
  DatasetLoadOptions options;
  options.load_filters = true;
  const Dataset dataset = load_dataset(out, options);
  const FilterMetadata& meta = *dataset.filters;
  EXPECT_EQ(meta.label_count, 10u);
  const std::vector<std::int32_t> train = read_class_labels(train_file, 10);
  const std::vector<std::int32_t> test = read_class_labels(test_file, 10);
  ASSERT_EQ(meta.train_labels->rows(), 300u);
  ASSERT_EQ(meta.test_filters->rows(), 30u);
  for (std::size_t i = 0; i < 300; ++i)
    ASSERT_EQ(meta.train_labels->row(i)[0], static_cast<std::uint32_t>(train[i])) << i;
  for (std::size_t q = 0; q < 30; ++q)
    ASSERT_EQ(meta.test_filters->row(q)[0], static_cast<std::uint32_t>(test[q])) << q;
  expect_filtered_truth_exact(dataset, 100);
}

}  // namespace
}  // namespace annbench
