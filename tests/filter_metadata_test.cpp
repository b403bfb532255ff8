// Filter metadata in dataset files: write_filter_metadata and load_dataset(load_filters) round
// trips, every loader check (each error names the file and the dataset), and the
// `annbench groundtruth --filtered` / `annbench dataset convert --train-labels` commands.

#include "cli_support.h"
#include "commands.h"

#include <annbench/datasets/convert.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr std::size_t kRows = 20;
constexpr std::size_t kQueries = 4;
constexpr float kInf = std::numeric_limits<float>::infinity();

LabelCsr csr(const std::vector<std::vector<std::uint32_t>>& rows) {
  LabelCsr out;
  out.indptr.push_back(0);
  for (const auto& row : rows) {
    out.labels.insert(out.labels.end(), row.begin(), row.end());
    out.indptr.push_back(static_cast<std::int64_t>(out.labels.size()));
  }
  return out;
}

// Row r carries label r % 3 and, for odd r, label 3; attribute r / 2.
FilterMetadata sample_meta() {
  FilterMetadata meta;
  meta.label_count = 5;  // label 4 is on no row
  std::vector<std::vector<std::uint32_t>> rows;
  for (std::uint32_t r = 0; r < kRows; ++r) {
    rows.push_back(r % 2 == 1 ? std::vector<std::uint32_t>{3, r % 3}
                              : std::vector<std::uint32_t>{r % 3});
    meta.train_attr.push_back(static_cast<float>(r) / 2);
  }
  meta.train_labels = csr(rows);
  meta.test_filters = csr({{0}, {1, 3}, {}, {4}});
  meta.test_attr_range = FloatMatrix(kQueries, 2);
  const float ranges[kQueries][2] = {{0, 5}, {2, 9.5f}, {3, 3}, {0, 100}};
  for (std::size_t q = 0; q < kQueries; ++q) {
    meta.test_attr_range(q, 0) = ranges[q][0];
    meta.test_attr_range(q, 1) = ranges[q][1];
  }
  return meta;
}

class FilterMetadataTest : public test::DataDirTest {
 protected:
  FilterMetadataTest() : DataDirTest("filters") {}

  // A kRows x 3 / kQueries x 3 dataset with plain ground truth and attribute origin = kept.
  fs::path make_file(const std::string& name) {
    FloatMatrix train(kRows, 3);
    FloatMatrix test(kQueries, 3);
    for (std::size_t i = 0; i < train.size(); ++i)
      train.data()[i] = static_cast<float>((i * 7) % 11);
    for (std::size_t i = 0; i < test.size(); ++i) test.data()[i] = static_cast<float>(i % 5);
    const GroundTruth truth = compute_ground_truth(train.view(), test.view(), Metric::L2, 5);
    const fs::path path = dir_ / name;
    write_dataset(path, Metric::L2, train, test, truth.neighbors, truth.distances,
                  {{"origin", "kept"}});
    return path;
  }

  // make_file + sample_meta + filtered ground truth.
  fs::path make_filtered_file(const std::string& name) {
    const fs::path path = make_file(name);
    write_filter_metadata(path, sample_meta());
    Dataset dataset = load(path, false);
    GroundTruth truth = compute_filtered_ground_truth(dataset, 6);
    FilterMetadata written;
    written.filtered_neighbors = std::move(truth.neighbors);
    written.filtered_distances = std::move(truth.distances);
    write_filter_metadata(path, written);
    return path;
  }

  static Dataset load(const fs::path& path, bool require_ground_truth,
                      std::size_t max_queries = 0) {
    DatasetLoadOptions options;
    options.load_filters = true;
    options.require_ground_truth = require_ground_truth;
    options.max_queries = max_queries;
    return load_dataset(path, options);
  }

  // The loader's error for a copy of a filtered file changed by `edit` (through the raw HDF5
  // layer, which checks nothing).
  std::string load_error(const std::function<void(h5::File&)>& edit,
                         bool require_ground_truth = true) {
    const fs::path path = dir_ / fmt::format("broken-{}.hdf5", broken_++);
    fs::copy_file(base(), path);
    {
      h5::File file = h5::File::open_read_write(path);
      edit(file);
    }
    try {
      load(path, require_ground_truth);
    } catch (const Error& error) {
      EXPECT_THAT(error.what(), HasSubstr(path.string()));
      return error.what();
    }
    return "(no error)";
  }

  fs::path base() {
    if (base_.empty()) base_ = make_filtered_file("base.hdf5");
    return base_;
  }

  template <typename Command>
  std::pair<int, std::string> run(Command command, const std::vector<std::string>& args) {
    return test::run_captured(command, args);
  }

  fs::path base_;
  int broken_ = 0;
};

void expect_same(const LabelCsr& a, const LabelCsr& b) {
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.labels, b.labels);
}

template <typename T>
std::vector<T> values(const Matrix<T>& m) {
  return {m.data(), m.data() + m.size()};
}

TEST_F(FilterMetadataTest, WriteThenLoadRoundTripKeepsEverythingElse) {
  const fs::path path = make_file("a.hdf5");
  const Dataset before = load_dataset(path);
  const FilterMetadata meta = sample_meta();
  write_filter_metadata(path, meta);
  const Dataset dataset = load(path, false);
  ASSERT_TRUE(dataset.filters.has_value());
  const FilterMetadata& got = *dataset.filters;
  EXPECT_EQ(got.label_count, 5u);
  expect_same(*got.train_labels, *meta.train_labels);
  expect_same(*got.test_filters, *meta.test_filters);
  EXPECT_EQ(got.train_attr, meta.train_attr);
  EXPECT_EQ(values(got.test_attr_range), values(meta.test_attr_range));
  EXPECT_TRUE(got.filtered_neighbors.empty());
  EXPECT_EQ(got.kind(), "labels+range");
  // Everything else is as it was.
  EXPECT_EQ(values(dataset.neighbors), values(before.neighbors));
  EXPECT_EQ(values(dataset.train), values(before.train));
  EXPECT_EQ(h5::File::open_read(path).string_attribute("origin"), "kept");
  // Stored as the layout says: int64 offsets, uint32 labels, label_count.
  const h5::File file = h5::File::open_read(path);
  EXPECT_EQ(file.number_attribute("label_count"), 5.0);
  EXPECT_EQ(file.read_int64s("train_labels_indptr"), meta.train_labels->indptr);
  EXPECT_EQ(file.shape("test_attr_range"), (std::vector<std::size_t>{kQueries, 2}));
  // Nothing left behind by the atomic write.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
  // Without load_filters nothing is read.
  EXPECT_FALSE(load_dataset(path).filters.has_value());
}

TEST_F(FilterMetadataTest, GroundTruthRequiredUnlessAsked) {
  const fs::path path = make_file("a.hdf5");
  write_filter_metadata(path, sample_meta());
  try {
    load(path, true);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(),
                AllOf(HasSubstr(path.string()), HasSubstr("filtered_neighbors"),
                      HasSubstr("annbench groundtruth " + path.string() + " --filtered")));
  }
  EXPECT_NO_THROW(load(path, false));
}

TEST_F(FilterMetadataTest, FilteredGroundTruthLoadsAndMaxQueriesTruncates) {
  const fs::path path = base();
  const Dataset all = load(path, true);
  const FilterMetadata& meta = *all.filters;
  ASSERT_EQ(meta.filtered_neighbors.rows(), kQueries);
  ASSERT_EQ(meta.filtered_neighbors.cols(), 6u);
  // Query 3 names label 4, which no row carries: all padding.
  for (std::size_t j = 0; j < 6; ++j) {
    EXPECT_EQ(meta.filtered_neighbors(3, j), -1);
    EXPECT_EQ(meta.filtered_distances(3, j), kInf);
  }
  // Query 2: no labels, attribute exactly 3: row 6 only.
  EXPECT_EQ(meta.filtered_neighbors(2, 0), 6);
  EXPECT_EQ(meta.filtered_neighbors(2, 1), -1);

  const Dataset two = load(path, true, 2);
  EXPECT_EQ(two.test.rows(), 2u);
  EXPECT_EQ(two.filters->test_filters->rows(), 2u);
  EXPECT_EQ(two.filters->test_filters->labels, (std::vector<std::uint32_t>{0, 1, 3}));
  EXPECT_EQ(two.filters->test_attr_range.rows(), 2u);
  EXPECT_EQ(two.filters->filtered_neighbors.rows(), 2u);
  EXPECT_EQ(two.filters->filtered_distances.rows(), 2u);
  EXPECT_EQ(two.filters->train_labels->rows(), kRows);
  EXPECT_EQ(std::vector<std::int32_t>(meta.filtered_neighbors.data(),
                                      meta.filtered_neighbors.data() + 12),
            values(two.filters->filtered_neighbors));
}

TEST_F(FilterMetadataTest, PartialWritesKeepReplaceAllRemovesAndStaleTruthIsDropped) {
  const fs::path path = base();
  // Only the ground truth: labels, attributes and filters stay.
  {
    Dataset dataset = load(path, true);
    FilterMetadata truth_only;
    truth_only.filtered_neighbors = std::move(dataset.filters->filtered_neighbors);
    truth_only.filtered_distances = std::move(dataset.filters->filtered_distances);
    write_filter_metadata(path, truth_only);
    EXPECT_EQ(load(path, true).filters->kind(), "labels+range");
  }
  // New filters without new ground truth: the old truth is removed, not kept stale.
  {
    FilterMetadata filters_only;
    filters_only.label_count = 5;
    filters_only.test_filters = csr({{1}, {2}, {3}, {0}});
    write_filter_metadata(path, filters_only);
    const Dataset dataset = load(path, false);
    EXPECT_TRUE(dataset.filters->filtered_neighbors.empty());
    EXPECT_EQ(dataset.filters->test_filters->labels, (std::vector<std::uint32_t>{1, 2, 3, 0}));
    EXPECT_EQ(dataset.filters->train_attr.size(), kRows);  // kept
  }
  // replace_all: what meta leaves empty goes.
  {
    FilterMetadata range_only;
    range_only.train_attr = sample_meta().train_attr;
    range_only.test_attr_range = std::move(sample_meta().test_attr_range);
    write_filter_metadata(path, range_only, true);
    const Dataset dataset = load(path, false);
    EXPECT_EQ(dataset.filters->kind(), "range");
    EXPECT_FALSE(dataset.filters->train_labels.has_value());
    const h5::File file = h5::File::open_read(path);
    EXPECT_FALSE(file.has_dataset("train_labels"));
    EXPECT_FALSE(file.number_attribute("label_count").has_value());
    EXPECT_TRUE(file.has_dataset("neighbors"));
  }
}

TEST_F(FilterMetadataTest, WriteChecksShapesAndLeavesTheFileAlone) {
  const fs::path path = make_file("w.hdf5");
  const auto sha = file_sha256(path);
  const auto error_of = [&](const FilterMetadata& meta) -> std::string {
    try {
      write_filter_metadata(path, meta);
    } catch (const Error& error) {
      EXPECT_THAT(error.what(), HasSubstr(path.string()));
      return error.what();
    }
    return "(no error)";
  };
  FilterMetadata meta = sample_meta();
  meta.train_labels = csr({{0}, {1}});
  EXPECT_THAT(error_of(meta),
              AllOf(HasSubstr("'train_labels_indptr' has 2 rows"), HasSubstr("'train' has 20")));
  meta = sample_meta();
  meta.test_filters->labels[0] = 9;
  EXPECT_THAT(error_of(meta), HasSubstr("'test_filters': row 0 has label 9, not below "
                                        "label_count 5"));
  meta = sample_meta();
  meta.train_attr.pop_back();
  EXPECT_THAT(error_of(meta), HasSubstr("'train_attr' has 19 rows"));
  meta = sample_meta();
  meta.test_attr_range(1, 0) = 50;
  EXPECT_THAT(error_of(meta), HasSubstr("'test_attr_range' row 1 is [50, 9.5]: lo > hi"));
  meta = sample_meta();
  meta.filtered_neighbors = IdMatrix(kQueries, 2, 25);
  meta.filtered_distances = FloatMatrix(kQueries, 2, 1.f);
  EXPECT_THAT(error_of(meta), HasSubstr("holds id 25, outside -1..19"));
  EXPECT_EQ(file_sha256(path), sha);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 2);
}

TEST_F(FilterMetadataTest, LoaderRejectsMalformedCsr) {
  EXPECT_EQ(load_error([](h5::File&) {}), "(no error)");
  const std::vector<std::int64_t> good = load(base(), false).filters->train_labels->indptr;
  auto with_indptr = [&](std::vector<std::int64_t> indptr) {
    return load_error([indptr](h5::File& file) {
      file.write_int64s("train_labels_indptr", indptr.data(), indptr.size());
    });
  };
  {
    std::vector<std::int64_t> shorter(good.begin(), good.end() - 1);
    EXPECT_THAT(with_indptr(shorter),
                AllOf(HasSubstr("dataset 'train_labels_indptr' has 20 entries"),
                      HasSubstr("'train' has 20 rows (expected 21)")));
  }
  {
    std::vector<std::int64_t> indptr = good;
    indptr[0] = 1;
    EXPECT_THAT(with_indptr(indptr),
                HasSubstr("dataset 'train_labels_indptr' starts at 1, expected 0"));
  }
  {
    std::vector<std::int64_t> indptr = good;
    indptr[5] = indptr[7];
    EXPECT_THAT(with_indptr(indptr), HasSubstr("dataset 'train_labels_indptr' decreases at row 5"));
  }
  {
    std::vector<std::int64_t> indptr = good;
    indptr.back() -= 1;
    EXPECT_THAT(with_indptr(indptr), AllOf(HasSubstr("dataset 'train_labels_indptr' ends at 29"),
                                           HasSubstr("has 30 entries")));
  }
  EXPECT_THAT(
      load_error([](h5::File& file) { file.set_attribute("label_count", std::uint32_t{3}); }),
      HasSubstr("dataset 'train_labels': row 1 has label 3, not below label_count 3"));
  EXPECT_THAT(load_error([](h5::File& file) {
                const std::uint32_t labels[] = {0, 1, 1, 2};  // row 1 is {3, 1} -> {1, 1}
                file.write_uint32s("test_filters", labels, 3);
                const std::int64_t indptr[] = {0, 1, 3, 3, 3};
                file.write_int64s("test_filters_indptr", indptr, 5);
              }),
              HasSubstr("dataset 'test_filters': row 1 lists label 1 twice"));
  EXPECT_THAT(load_error([](h5::File& file) { file.remove_attribute("label_count"); }),
              HasSubstr("no attribute label_count"));
  EXPECT_THAT(load_error([](h5::File& file) {
                const float labels[] = {0, 1, 3, 4};
                file.write_floats("test_filters", labels, 4, 0);
              }),
              AllOf(HasSubstr("'test_filters'"), HasSubstr("float values")));
  EXPECT_THAT(load_error([](h5::File& file) { file.remove_dataset("train_labels_indptr"); }),
              AllOf(HasSubstr("dataset 'train_labels' but no 'train_labels_indptr'"),
                    HasSubstr("annbench dataset tags")));
}

TEST_F(FilterMetadataTest, LoaderRejectsBadAttributes) {
  EXPECT_THAT(
      load_error([](h5::File& file) {
        const float values[] = {1, 2, 3};
        file.write_floats("train_attr", values, 3, 0);
      }),
      AllOf(HasSubstr("dataset 'train_attr' has shape 3"), HasSubstr("'train' has 20 rows")));
  EXPECT_THAT(load_error([](h5::File& file) {
                std::vector<float> values(kRows, 1.f);
                values[4] = std::numeric_limits<float>::quiet_NaN();
                file.write_floats("train_attr", values.data(), kRows, 0);
              }),
              HasSubstr("dataset 'train_attr' is nan at row 4"));
  EXPECT_THAT(
      load_error([](h5::File& file) {
        const float ranges[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
        file.write_floats("test_attr_range", ranges, kQueries, 3);
      }),
      AllOf(HasSubstr("dataset 'test_attr_range' has shape 4 x 3"), HasSubstr("expected 4 x 2")));
  EXPECT_THAT(load_error([](h5::File& file) {
                const float ranges[] = {0, 1, 2, kInf, 4, 5, 6, 7};
                file.write_floats("test_attr_range", ranges, kQueries, 2);
              }),
              HasSubstr("dataset 'test_attr_range' row 1 is [2, inf] (must be finite)"));
  EXPECT_THAT(load_error([](h5::File& file) {
                const float ranges[] = {0, 1, 2, 3, 4, 5, 7, 6};
                file.write_floats("test_attr_range", ranges, kQueries, 2);
              }),
              HasSubstr("dataset 'test_attr_range' row 3 is [7, 6]: lo > hi"));
}

TEST_F(FilterMetadataTest, LoaderRejectsBadFilteredGroundTruth) {
  const auto with_truth = [&](std::size_t rows, std::size_t cols, std::size_t distance_cols,
                              const std::function<void(IdMatrix&, FloatMatrix&)>& change) {
    return load_error([=](h5::File& file) {
      IdMatrix ids(rows, cols);
      FloatMatrix distances(rows, distance_cols, 1.f);
      for (std::size_t q = 0; q < rows; ++q)
        for (std::size_t j = 0; j < cols; ++j) ids(q, j) = static_cast<std::int32_t>(j);
      change(ids, distances);
      file.write_ints("filtered_neighbors", ids.data(), rows, cols);
      file.write_floats("filtered_distances", distances.data(), rows, distance_cols);
    });
  };
  const auto nothing = [](IdMatrix&, FloatMatrix&) {};
  EXPECT_EQ(with_truth(kQueries, 3, 3, nothing), "(no error)");
  EXPECT_THAT(with_truth(kQueries - 1, 3, 3, nothing),
              HasSubstr("dataset 'filtered_neighbors' is 3 x 3 but 'test' has 4 rows"));
  EXPECT_THAT(with_truth(kQueries, 3, 2, nothing),
              HasSubstr("dataset 'filtered_distances' is 4 x 2 but 'filtered_neighbors' is 4 x 3"));
  EXPECT_THAT(with_truth(kQueries, 3, 3, [](IdMatrix& ids, FloatMatrix&) { ids(2, 1) = 20; }),
              HasSubstr("'filtered_neighbors' row 2 column 1 holds id 20, outside -1..19"));
  EXPECT_THAT(with_truth(kQueries, 3, 3, [](IdMatrix& ids, FloatMatrix&) { ids(2, 1) = -2; }),
              HasSubstr("holds id -2"));
  EXPECT_THAT(with_truth(kQueries, 3, 3,
                         [](IdMatrix& ids, FloatMatrix& distances) {
                           ids(1, 1) = -1;
                           distances(1, 1) = kInf;
                         }),
              HasSubstr("'filtered_neighbors' row 1 column 2 holds id 2 after a -1"));
  EXPECT_THAT(with_truth(kQueries, 3, 3, [](IdMatrix& ids, FloatMatrix&) { ids(0, 2) = -1; }),
              HasSubstr("'filtered_distances' row 0 column 2 is 1 for padding id -1"));
  EXPECT_THAT(load_error([](h5::File& file) { file.remove_dataset("filtered_distances"); }),
              HasSubstr("has dataset 'filtered_neighbors' but no 'filtered_distances'"));
}

TEST_F(FilterMetadataTest, LoaderNeedsMatchingConditions) {
  EXPECT_THAT(load_error([](h5::File& file) {
                file.remove_dataset("train_labels_indptr");
                file.remove_dataset("train_labels");
              }),
              HasSubstr("has query label filters (test_filters) but no train labels"));
  EXPECT_THAT(load_error([](h5::File& file) { file.remove_dataset("train_attr"); }),
              HasSubstr("has query attribute ranges (test_attr_range) but no train attribute"));
  EXPECT_THAT(load_error([](h5::File& file) {
                file.remove_dataset("test_filters_indptr");
                file.remove_dataset("test_filters");
                file.remove_dataset("test_attr_range");
              }),
              AllOf(HasSubstr("has no query filters"), HasSubstr("annbench dataset tags")));
  // Range-only and labels-only files load.
  EXPECT_EQ(load_error([](h5::File& file) {
              file.remove_dataset("test_filters_indptr");
              file.remove_dataset("test_filters");
            }),
            "(no error)");
  EXPECT_EQ(load_error([](h5::File& file) { file.remove_dataset("test_attr_range"); }),
            "(no error)");
}

TEST_F(FilterMetadataTest, GroundtruthFilteredCommand) {
  const fs::path path = make_file("g.hdf5");
  write_filter_metadata(path, sample_meta());
  const auto [code, out] =
      run(groundtruth_command, {path.string(), "--filtered", "--k", "7", "--threads", "2"});
  EXPECT_EQ(code, 0);
  EXPECT_THAT(out, AllOf(HasSubstr("filtered ground truth (labels+range)"),
                         HasSubstr("4 queries x 20 points"), HasSubstr("k = 7"),
                         HasSubstr("mean selectivity"), HasSubstr("1 with none"),
                         HasSubstr(" s on 2 threads")));
  const Dataset dataset = load(path, true);
  const GroundTruth truth = compute_filtered_ground_truth(dataset, 7);
  EXPECT_EQ(values(dataset.filters->filtered_neighbors), values(truth.neighbors));
  EXPECT_EQ(values(dataset.filters->filtered_distances), values(truth.distances));
  EXPECT_EQ(h5::File::open_read(path).string_attribute("origin"), "kept");
  // k above the train size is clamped, as for plain ground truth.
  run(groundtruth_command, {path.string(), "--filtered", "--count", "1000"});
  EXPECT_EQ(load(path, true).filters->filtered_neighbors.cols(), kRows);
  EXPECT_THROW(run(groundtruth_command, {path.string(), "--filtered", "--k", "3", "--count", "3"}),
               Error);
  EXPECT_THROW(run(groundtruth_command, {path.string(), "--count", "3"}), Error);
  // A file without filters says how to add them.
  const fs::path plain = make_file("plain.hdf5");
  try {
    run(groundtruth_command, {plain.string(), "--filtered"});
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("plain.hdf5"), HasSubstr("no query filters")));
  }
  EXPECT_THROW(run(groundtruth_command, {path.string(), "--filtered", "--range", "1"}), Error);
}

void write_fvecs(const fs::path& path, std::size_t rows, std::size_t dim, float offset) {
  std::ofstream out(path, std::ios::binary);
  for (std::size_t r = 0; r < rows; ++r) {
    const auto d = static_cast<std::int32_t>(dim);
    out.write(reinterpret_cast<const char*>(&d), 4);
    for (std::size_t c = 0; c < dim; ++c) {
      const float value = static_cast<float>((r * 5 + c * 3) % 13) + offset;
      out.write(reinterpret_cast<const char*>(&value), 4);
    }
  }
}

SparseMatrix sparse(std::size_t cols, const std::vector<std::vector<std::int32_t>>& rows) {
  SparseMatrix m;
  m.rows = rows.size();
  m.cols = cols;
  m.indptr.push_back(0);
  for (const auto& row : rows) {
    m.indices.insert(m.indices.end(), row.begin(), row.end());
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  m.data.assign(m.indices.size(), 1.f);
  return m;
}

TEST_F(FilterMetadataTest, ConvertAttachesSpmatLabels) {
  write_fvecs(dir_ / "base.fvecs", 30, 4, 0);
  write_fvecs(dir_ / "query.fvecs", 3, 4, 0.5f);
  std::vector<std::vector<std::int32_t>> rows;
  for (std::int32_t r = 0; r < 30; ++r) rows.push_back({r % 4, 4 + r % 2});
  write_spmat(dir_ / "base.spmat", sparse(6, rows));
  write_spmat(dir_ / "query.spmat", sparse(8, {{1}, {5, 3}, {7}}));
  const std::string out = (dir_ / "c.hdf5").string();
  const std::vector<std::string> args = {"convert",
                                         "--train",
                                         (dir_ / "base.fvecs").string(),
                                         "--test",
                                         (dir_ / "query.fvecs").string(),
                                         "--metric",
                                         "euclidean",
                                         "--k",
                                         "5",
                                         "--out",
                                         out,
                                         "--train-labels",
                                         (dir_ / "base.spmat").string(),
                                         "--query-filters",
                                         (dir_ / "query.spmat").string()};
  const auto [code, printed] = run(dataset_command, args);
  EXPECT_EQ(code, 0);
  EXPECT_THAT(printed, HasSubstr("filtered ground truth: 3 queries, k = 5"));
  const Dataset dataset = load(out, true);
  const FilterMetadata& meta = *dataset.filters;
  EXPECT_EQ(meta.label_count, 8u);  // the larger ncol of the two
  EXPECT_EQ(meta.train_labels->row(3)[0], 3u);
  EXPECT_EQ(meta.train_labels->row(3)[1], 5u);
  EXPECT_EQ(meta.test_filters->labels, (std::vector<std::uint32_t>{1, 5, 3, 7}));
  EXPECT_EQ(meta.kind(), "labels");
  const GroundTruth truth = compute_filtered_ground_truth(dataset, 5);
  EXPECT_EQ(values(meta.filtered_neighbors), values(truth.neighbors));
  EXPECT_EQ(meta.filtered_neighbors(2, 0), -1);     // label 7 is on no base row
  EXPECT_EQ(meta.filtered_neighbors(1, 0) % 4, 3);  // odd rows with r % 4 == 3
  EXPECT_EQ(h5::File::open_read(out).string_attribute("source_train_labels"), "base.spmat");

  // Row counts that do not match the vectors: an error naming both files, nothing written.
  write_spmat(dir_ / "short.spmat", sparse(8, {{1}, {2}}));
  std::vector<std::string> bad = args;
  bad.back() = (dir_ / "short.spmat").string();
  bad[10] = (dir_ / "d.hdf5").string();
  try {
    run(dataset_command, bad);
    FAIL() << "no error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), AllOf(HasSubstr("short.spmat"), HasSubstr("has 2 rows"),
                                    HasSubstr("query.fvecs"), HasSubstr("3 test vectors")));
  }
  EXPECT_FALSE(fs::exists(dir_ / "d.hdf5"));
  // Filters need train labels.
  std::vector<std::string> no_train(args.begin(), args.end() - 4);
  no_train.insert(no_train.end(), {"--query-filters", (dir_ / "query.spmat").string()});
  EXPECT_THROW(run(dataset_command, no_train), Error);
}

}  // namespace
}  // namespace annbench
