// The filtered track: one run per selectivity band, scored against exact filtered ground truth;
// exact search scores recall 1 in every band (a filter no row passes included), a row the filter
// does not allow fails the run, and modules or datasets that cannot serve the track are clear
// errors.

#include "config.h"
#include "results.h"
#include "runner.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class FilteredSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("annbench-filtered-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<double> uniform;
    FloatMatrix train(2000, 16), test(60, 16);
    for (std::size_t i = 0; i < train.size(); ++i) train.data()[i] = normal(rng);
    for (std::size_t i = 0; i < test.size(); ++i) test.data()[i] = normal(rng);
    const GroundTruth truth = compute_ground_truth(train.view(), test.view(), Metric::L2, 20);
    dataset_ = root_ / "small.hdf5";
    write_dataset(dataset_, Metric::L2, train, test, truth.neighbors, truth.distances);
    plain_ = root_ / "plain.hdf5";
    write_dataset(plain_, Metric::L2, train, test, truth.neighbors, truth.distances);

    // Label 0 on about half the rows, 1 on a tenth, 2 on one in a hundred, 3 on none.
    FilterMetadata meta;
    meta.label_count = 4;
    LabelCsr labels{{0}, {}};
    for (std::size_t r = 0; r < train.rows(); ++r) {
      if (uniform(rng) < 0.5) labels.labels.push_back(0);
      if (uniform(rng) < 0.1) labels.labels.push_back(1);
      if (uniform(rng) < 0.01) labels.labels.push_back(2);
      labels.indptr.push_back(static_cast<std::int64_t>(labels.labels.size()));
    }
    // Queries cycle through {0}, {1}, {2}, {0, 1} (about 5 %) and {3} (nothing passes).
    const std::vector<std::vector<std::uint32_t>> filters = {{0}, {1}, {2}, {0, 1}, {3}};
    LabelCsr queries{{0}, {}};
    for (std::size_t q = 0; q < test.rows(); ++q) {
      for (std::uint32_t label : filters[q % filters.size()]) queries.labels.push_back(label);
      queries.indptr.push_back(static_cast<std::int64_t>(queries.labels.size()));
    }
    meta.train_labels = labels;
    meta.test_filters = queries;
    write_filter_metadata(dataset_, meta);
    DatasetLoadOptions options;
    options.load_filters = true;
    options.require_ground_truth = false;
    const Dataset loaded = load_dataset(dataset_, options);
    GroundTruth filtered = compute_filtered_ground_truth(loaded, 20);
    meta.filtered_neighbors = std::move(filtered.neighbors);
    meta.filtered_distances = std::move(filtered.distances);
    write_filter_metadata(dataset_, meta);
  }
  void TearDown() override { fs::remove_all(root_); }

  SweepOutcome sweep(const fs::path& dataset, const std::string& algorithms,
                     const std::string& extra = "") {
    const SweepConfig config = parse_sweep_config(
        fmt::format("datasets: [{}]\nmode: filtered\nselectivities: [0.01, 0.1, 0.5]\n{}k: "
                    "10\nruns: 1\nthreads: 2\nalgorithms:\n{}",
                    dataset.string(), extra, algorithms),
        root_ / "sweep.yaml");
    RunOptions options;
    options.results_root = root_ / "results";
    options.quiet = true;
    return run_sweep(config, registry_, options);
  }

  std::vector<RunRecord> runs_of(const std::string& algorithm) const {
    return read_runs(root_ / "results/small" / "filtered-10" / algorithm);
  }

  fs::path root_, dataset_, plain_;
  ModuleRegistry registry_{{ANNBENCH_TEST_MODULE_DIR, ANNBENCH_TEST_FIXTURE_MODULE_DIR}};
};

TEST_F(FilteredSweep, ExactSearchHasRecallOneInEveryBand) {
  const SweepOutcome outcome = sweep(dataset_, "  - module: bruteforce\n", "batch: true\n");
  EXPECT_EQ(outcome.runs_failed, 0u);
  // Bands: 0.5 ({0}), 0.1 ({1} and {0, 1}), 0.01 ({2} and {3}); single and batch each.
  EXPECT_EQ(outcome.runs_done, 6u);
  std::set<double> bands;
  std::size_t queries = 0;
  for (const auto& folder : {"bruteforce", "bruteforce-batch"}) {
    for (const RunRecord& r : runs_of(folder)) {
      ASSERT_TRUE(r.ok) << r.error;
      EXPECT_EQ(r.mode, "filtered");
      EXPECT_EQ(r.filter_kind, "labels");
      EXPECT_DOUBLE_EQ(r.recall, 1.0) << folder << " band " << r.selectivity.value_or(-1);
      ASSERT_TRUE(r.selectivity && r.mean_selectivity);
      bands.insert(*r.selectivity);
      queries += r.queries;
    }
  }
  EXPECT_EQ(bands, (std::set<double>{0.01, 0.1, 0.5}));
  EXPECT_EQ(queries, 2 * 60u);
  // The run file says which test rows its neighbours answer.
  for (const auto& entry : fs::directory_iterator(root_ / "results/small/filtered-10/bruteforce")) {
    const auto file = h5::File::open_read(entry.path());
    const auto rows = file.read_ints("query_rows");
    const auto ids = file.read_ints("neighbors");
    EXPECT_EQ(rows.rows(), ids.rows());
  }
  std::ifstream summary(root_ / "results/small/summary.csv");
  std::string header;
  std::getline(summary, header);
  EXPECT_THAT(header, HasSubstr("selectivity"));
  EXPECT_THAT(header, HasSubstr("filter_kind"));
}

TEST_F(FilteredSweep, AttributeRangesAloneOrWithLabelsAreExactForBruteForce) {
  // A uniform attribute; query ranges of widths 0.01, 0.1 and 0.5, and one no row falls in.
  DatasetLoadOptions options;
  options.load_filters = true;
  options.require_ground_truth = false;
  Dataset loaded = load_dataset(dataset_, options);
  const std::optional<LabelCsr> label_filters = loaded.filters->test_filters;
  FilterMetadata meta = std::move(*loaded.filters);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  meta.train_attr.resize(loaded.train.rows());
  for (float& v : meta.train_attr) v = uniform(rng);
  meta.test_attr_range = FloatMatrix(loaded.test.rows(), 2);
  const float widths[] = {0.01f, 0.1f, 0.5f, -1.0f};
  for (std::size_t q = 0; q < loaded.test.rows(); ++q) {
    const float width = widths[q % 4];
    const float lo = width < 0 ? 2.0f : uniform(rng) * (1.0f - width);
    meta.test_attr_range(q, 0) = lo;
    meta.test_attr_range(q, 1) = width < 0 ? 3.0f : lo + width;
  }
  for (const bool with_labels : {false, true}) {
    meta.test_filters = with_labels ? label_filters : std::nullopt;
    meta.filtered_neighbors = IdMatrix();
    meta.filtered_distances = FloatMatrix();
    write_filter_metadata(dataset_, meta, true);
    const Dataset again = load_dataset(dataset_, options);
    GroundTruth truth = compute_filtered_ground_truth(again, 20);
    meta.filtered_neighbors = std::move(truth.neighbors);
    meta.filtered_distances = std::move(truth.distances);
    write_filter_metadata(dataset_, meta, true);
    fs::remove_all(root_ / "results");
    const SweepOutcome outcome = sweep(dataset_, "  - module: bruteforce\n");
    EXPECT_EQ(outcome.runs_failed, 0u);
    ASSERT_GT(outcome.runs_done, 0u);
    for (const RunRecord& r : runs_of("bruteforce")) {
      ASSERT_TRUE(r.ok) << r.error;
      EXPECT_EQ(r.filter_kind, with_labels ? "labels+range" : "range");
      EXPECT_DOUBLE_EQ(r.recall, 1.0) << r.filter_kind << " band " << r.selectivity.value_or(-1);
    }
  }
}

TEST_F(FilteredSweep, ARowTheFilterDoesNotAllowFailsTheRun) {
  const SweepOutcome outcome = sweep(dataset_,
                                     "  - module: fixture-faulty\n    search:\n"
                                     "      honour_filter: [false, true]\n");
  EXPECT_EQ(outcome.runs_done, 3u);
  EXPECT_EQ(outcome.runs_failed, 3u);
  std::size_t failed = 0;
  for (const RunRecord& r : runs_of("fixture-faulty")) {
    if (r.search_params.find("\"honour_filter\":true") != std::string::npos) {
      EXPECT_TRUE(r.ok) << r.error;
      EXPECT_DOUBLE_EQ(r.recall, 1.0);
    } else {
      ASSERT_FALSE(r.ok);
      EXPECT_THAT(r.error, HasSubstr("does not allow"));
      ++failed;
    }
  }
  EXPECT_EQ(failed, 3u);
}

TEST_F(FilteredSweep, ModulesWithoutFilteredSearchAreRefused) {
  const SweepOutcome outcome = sweep(dataset_, "  - module: kdtree\n");
  EXPECT_EQ(outcome.runs_done, 0u);
  EXPECT_EQ(outcome.runs_failed, 3u);
  bool named = false;
  for (const auto& entry : fs::recursive_directory_iterator(root_ / "results/small")) {
    if (entry.path().extension() != ".failed") continue;
    std::ifstream in(entry.path());
    const std::string text((std::istreambuf_iterator<char>(in)), {});
    named = named || text.find("kCapFilter") != std::string::npos;
  }
  EXPECT_TRUE(named);
}

TEST_F(FilteredSweep, DatasetWithoutFiltersIsAClearError) {
  try {
    sweep(plain_, "  - module: bruteforce\n");
    FAIL() << "a dataset without query filters was accepted";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("plain.hdf5"));
    EXPECT_THAT(error.what(), HasSubstr("dataset tags"));
  }
}

TEST_F(FilteredSweep, FilterOnlySearchParametersExistOnlyInFilteredSweeps) {
  const std::string body =
      "k: 10\nalgorithms:\n  - module: hnsw\n    search: {ef: 20, filter_exact_below: 0.1}\n";
  const SweepConfig knn = parse_sweep_config("datasets: [x]\n" + body, root_ / "knn.yaml");
  EXPECT_THROW(expand_sweep(knn, registry_), Error);
  const SweepConfig filtered =
      parse_sweep_config("datasets: [x]\nmode: filtered\n" + body, root_ / "filtered.yaml");
  const auto points = expand_sweep(filtered, registry_);
  ASSERT_EQ(points.size(), 1u);
  ASSERT_EQ(points[0].searches.size(), 1u);
  EXPECT_DOUBLE_EQ(points[0].searches[0].get_float("filter_exact_below"), 0.1);
  // Unfiltered runs keep their names: the filter-only parameter is not filled in there.
  const SweepConfig plain = parse_sweep_config(
      "datasets: [x]\nk: 10\nalgorithms:\n  - module: hnsw\n    search: {ef: 20}\n",
      root_ / "plain.yaml");
  EXPECT_FALSE(expand_sweep(plain, registry_)[0].searches[0].contains("filter_exact_below"));
}

TEST(FilteredConfig, SelectivitiesAreCheckedAndBelongToTheFilteredMode) {
  const fs::path file = "sweep.yaml";
  const std::string head = "datasets: [x]\nk: 10\nalgorithms:\n  - module: bruteforce\n";
  EXPECT_THROW(parse_sweep_config(head + "selectivities: [0.1]\n", file), Error);
  EXPECT_THROW(parse_sweep_config(head + "mode: filtered\nselectivities: [0]\n", file), Error);
  EXPECT_THROW(parse_sweep_config(head + "mode: filtered\nselectivities: [1.5]\n", file), Error);
  EXPECT_THROW(parse_sweep_config(head + "mode: filtered\nselectivities: []\n", file), Error);
  const SweepConfig config =
      parse_sweep_config(head + "mode: filtered\nselectivities: [0.5, 0.01, 0.5]\n", file);
  EXPECT_EQ(config.selectivities, (std::vector<double>{0.01, 0.5}));
}

}  // namespace
}  // namespace annbench
