// End-to-end: sweeps over small generated datasets with the real bruteforce module and the
// fault-injecting fixture, through the same code path as `annbench run`.

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

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("annbench-runner-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    dataset_ = make_dataset("tiny-8-euclidean", Metric::L2, 400, 25, 8);
  }
  void TearDown() override { fs::remove_all(root_); }

  fs::path make_dataset(const std::string& name, Metric metric, std::size_t n, std::size_t q,
                        std::size_t dim, std::size_t k = 20) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> uniform(-1, 1);
    FloatMatrix train(n, dim), test(q, dim);
    for (std::size_t i = 0; i < train.size(); ++i) train.data()[i] = uniform(rng);
    for (std::size_t i = 0; i < test.size(); ++i) test.data()[i] = uniform(rng);
    const GroundTruth truth = compute_ground_truth(train.view(), test.view(), metric, k);
    const fs::path path = root_ / (name + ".hdf5");
    write_dataset(path, metric, train, test, truth.neighbors, truth.distances);
    return path;
  }

  SweepConfig config(const std::string& algorithms_yaml, const std::string& extra = "") {
    return parse_sweep_config(fmt::format("datasets: [{}]\nk: 10\nruns: 1\n{}\nalgorithms:\n{}",
                                          dataset_.string(), extra, algorithms_yaml),
                              root_ / "sweep.yaml");
  }

  RunOptions options() const {
    RunOptions o;
    o.results_root = root_ / "results";
    o.quiet = true;
    return o;
  }

  std::set<std::string> result_files() const {
    std::set<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(root_ / "results")) {
      const auto extension = entry.path().extension();
      if (extension == ".hdf5" || extension == ".failed")
        files.insert(fs::relative(entry.path(), root_ / "results").string());
    }
    return files;
  }

  std::vector<std::string> summary_lines(const std::string& dataset) const {
    std::ifstream in(root_ / "results" / dataset / "summary.csv");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  fs::path root_;
  fs::path dataset_;
  ModuleRegistry registry_{{ANNBENCH_TEST_MODULE_DIR, ANNBENCH_TEST_FIXTURE_MODULE_DIR}};
};

TEST_F(RunnerTest, BruteForceIsExactAndResultsFollowAnnBenchmarksLayout) {
  const auto outcome =
      run_sweep(config("  - module: bruteforce\n", "batch: true"), registry_, options());
  EXPECT_EQ(outcome.runs_done, 2u);  // single-query and batch
  EXPECT_EQ(outcome.runs_failed, 0u);
  const fs::path file = root_ / "results/tiny-8-euclidean/10/bruteforce/default.hdf5";
  ASSERT_TRUE(fs::exists(file));
  ASSERT_TRUE(fs::exists(root_ / "results/tiny-8-euclidean/10/bruteforce-batch/default.hdf5"));
  const RunRecord record = read_run_summary(file);
  EXPECT_DOUBLE_EQ(record.recall, 1.0);
  EXPECT_NEAR(record.rel, 1.0, 1e-6);
  EXPECT_EQ(record.queries, 25u);
  ASSERT_TRUE(record.distcomps.has_value());
  EXPECT_DOUBLE_EQ(*record.distcomps, 400.0);  // one distance per train vector per query

  const h5::File h5 = h5::File::open_read(file);
  const auto names = h5.attribute_names();
  for (const char* name :
       {"batch_mode", "best_search_time", "candidates", "expect_extra", "name", "run_count",
        "distance", "count", "build_time", "index_size", "algo", "dataset", "dist_comps"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  EXPECT_EQ(h5.number_attribute("batch_mode").value(), 0.0);
  EXPECT_EQ(h5.number_attribute("dist_comps").value(),
            400.0 * 25);  // total, as ANN-Benchmarks keeps it
  EXPECT_EQ(h5.string_attribute("distance").value(), "euclidean");
  EXPECT_EQ(h5.shape("neighbors"), (std::vector<std::size_t>{25, 10}));
  EXPECT_EQ(h5.shape("times"), (std::vector<std::size_t>{25}));
  // The stored neighbours are the true ones.
  const Dataset dataset = load_dataset(dataset_);
  const auto neighbors = h5.read_ints("neighbors");
  for (std::size_t q = 0; q < 25; ++q) {
    for (std::size_t j = 0; j < 10; ++j) EXPECT_EQ(neighbors(q, j), dataset.neighbors(q, j));
  }
  const auto lines = summary_lines("tiny-8-euclidean");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], summary_header());
  EXPECT_THAT(lines[1], HasSubstr(",ok,"));
}

TEST_F(RunnerTest, FailuresAreRecordedAndTheSweepGoesOn) {
  const auto outcome = run_sweep(config(R"(
  - module: fixture-faulty
    name: broken-build
    build: {fail_build: true}
  - module: fixture-faulty
    search: [{fail_search: true}, {bad_ids: true}, {repeat_ids: true}, {}]
  - module: bruteforce
)"),
                                 registry_, options());
  EXPECT_EQ(outcome.runs_failed, 3u);  // the build, the throwing search point, the bad ids
  EXPECT_EQ(outcome.runs_done, 3u);    // repeated ids (scored), the clean faulty point, bruteforce
  const auto lines = summary_lines("tiny-8-euclidean");
  ASSERT_EQ(lines.size(), 7u);
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  EXPECT_THAT(all, HasSubstr("build failed: fault injected at build"));
  EXPECT_THAT(all, HasSubstr("search failed: fault injected at search"));
  EXPECT_THAT(all, HasSubstr("outside the 400 train vectors"));
  const RunRecord repeated = read_run_summary(
      root_ /
      "results/tiny-8-euclidean/10/fixture-faulty/"
      "allocate_false_crash_false_fail_above_rows_0_fail_build_false_hang_false_resident_mb_0_"
      "bad_ids_false_fail_search_false_"
      "honour_filter_false_repeat_ids_true.hdf5");
  EXPECT_DOUBLE_EQ(repeated.recall, 0.1);              // only the first of ten copies counts
  EXPECT_EQ(repeated.build_report, "{\"rows\":400}");  // what the module's build reported
  EXPECT_EQ(repeated.duplicate_ids, 9u * 25u);
  EXPECT_FALSE(repeated.distcomps.has_value());  // the fixture cannot count: unknown, not zero
}

TEST_F(RunnerTest, FinishedRunsAreNotRecomputedUnlessForced) {
  const auto sweep = config(
      "  - module: bruteforce\n  - module: fixture-faulty\n    search: {bad_ids: [false, true]}\n");
  const auto first = run_sweep(sweep, registry_, options());
  EXPECT_EQ(first.runs_done, 2u);
  EXPECT_EQ(first.runs_failed, 1u);
  const auto time_before =
      fs::last_write_time(root_ / "results/tiny-8-euclidean/10/bruteforce/default.hdf5");
  const auto second = run_sweep(sweep, registry_, options());
  EXPECT_EQ(second.runs_skipped, 2u);
  EXPECT_EQ(second.runs_done, 0u);
  EXPECT_EQ(second.runs_failed, 1u);  // failed runs are retried
  EXPECT_EQ(fs::last_write_time(root_ / "results/tiny-8-euclidean/10/bruteforce/default.hdf5"),
            time_before);
  RunOptions forced = options();
  forced.force = true;
  EXPECT_EQ(run_sweep(sweep, registry_, forced).runs_done, 2u);
}

TEST_F(RunnerTest, ShardsTogetherCoverTheWholeSweep) {
  const auto sweep = config(R"(
  - module: bruteforce
  - module: fixture-faulty
    build: {fail_build: false}
    search: {repeat_ids: [false, true]}
  - module: fixture-faulty
    name: second
)");
  run_sweep(sweep, registry_, options());
  const auto whole = result_files();
  fs::remove_all(root_ / "results");
  std::set<std::string> shard_files[2];
  for (std::size_t shard = 0; shard < 2; ++shard) {
    RunOptions o = options();
    o.shard_index = shard;
    o.shard_count = 2;
    run_sweep(sweep, registry_, o);
    shard_files[shard] = result_files();
  }
  EXPECT_EQ(shard_files[1], whole);
  EXPECT_LT(shard_files[0].size(), whole.size());  // the first shard did only part of it
  EXPECT_FALSE(shard_files[0].empty());
}

TEST_F(RunnerTest, KLargerThanStoredNeighboursOrDataIsAClearError) {
  RunOptions o = options();
  o.counts = std::vector<std::size_t>{50};
  try {
    run_sweep(config("  - module: bruteforce\n"), registry_, o);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("k = 50 is larger than the 20 true neighbours"));
  }
  dataset_ = make_dataset("small", Metric::L2, 5, 3, 4, 5);
  o.counts = std::vector<std::size_t>{10};
  try {
    run_sweep(config("  - module: bruteforce\n"), registry_, o);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("k = 10 is larger than the 5 train vectors"));
  }
}

TEST_F(RunnerTest, MetricNotServedIsRecordedAsFailure) {
  dataset_ = make_dataset("tiny-angular", Metric::Angular, 100, 5, 4);
  const auto outcome = run_sweep(config("  - module: fixture-faulty\n  - module: bruteforce\n"),
                                 registry_, options());
  EXPECT_EQ(outcome.runs_failed, 1u);
  EXPECT_EQ(outcome.runs_done, 1u);
  const RunRecord bruteforce =
      read_run_summary(root_ / "results/tiny-angular/10/bruteforce/default.hdf5");
  EXPECT_DOUBLE_EQ(bruteforce.recall, 1.0);
}

TEST_F(RunnerTest, UnwritableResultsFolderIsAnError) {
  std::ofstream(root_ / "a-file") << "x";
  RunOptions o = options();
  o.results_root = root_ / "a-file" / "results";
  try {
    run_sweep(config("  - module: bruteforce\n"), registry_, o);
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("a-file/results"));
  }
}

TEST_F(RunnerTest, QueriesOverrideAndAlgorithmSubset) {
  RunOptions o = options();
  o.queries = 7;
  o.algorithms = {"bruteforce"};
  const auto outcome =
      run_sweep(config("  - module: bruteforce\n  - module: fixture-faulty\n"), registry_, o);
  EXPECT_EQ(outcome.runs_done, 1u);
  EXPECT_EQ(read_run_summary(root_ / "results/tiny-8-euclidean/10/bruteforce/default.hdf5").queries,
            7u);
  o.algorithms = {"nosuch"};
  EXPECT_THROW(run_sweep(config("  - module: bruteforce\n"), registry_, o), Error);
}

TEST_F(RunnerTest, StrayTemporaryFilesOfDeadWritersAreRemoved) {
  const fs::path folder = root_ / "results/tiny-8-euclidean/10/bruteforce";
  fs::create_directories(folder);
  // pid 4194304 is above Linux's pid_max: that writer is surely gone.
  std::ofstream(folder / ".default.hdf5.tmp-4194304") << "half a file";
  std::ofstream(folder / fmt::format(".other.hdf5.tmp-{}", ::getpid())) << "being written";
  EXPECT_EQ(clean_temporary_files(root_ / "results"), 1u);
  EXPECT_FALSE(fs::exists(folder / ".default.hdf5.tmp-4194304"));
  EXPECT_TRUE(fs::exists(folder / fmt::format(".other.hdf5.tmp-{}", ::getpid())));
  // A sweep over the folder ignores the live writer's file and finishes normally.
  EXPECT_EQ(run_sweep(config("  - module: bruteforce\n"), registry_, options()).runs_done, 1u);
}

TEST_F(RunnerTest, SavedIndexesAreLoadedInsteadOfBuilt) {
  const auto sweep = config("  - module: hnsw\n    build: {M: 8}\n    search: {ef: [10, 40]}\n");
  RunOptions save = options();
  save.save_index_dir = root_ / "indexes";
  ASSERT_EQ(run_sweep(sweep, registry_, save).runs_done, 2u);
  std::vector<fs::path> saved;
  for (const auto& entry : fs::recursive_directory_iterator(root_ / "indexes")) {
    if (entry.path().extension() == ".annidx") saved.push_back(entry.path());
  }
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_TRUE(fs::exists(fs::path(saved[0]).replace_extension(".json")));
  fs::path run;
  for (const auto& file : result_files()) {
    if (file.find("ef_40") != std::string::npos) run = root_ / "results" / file;
  }
  ASSERT_FALSE(run.empty()) << ::testing::PrintToString(result_files());
  const RunRecord built = read_run_summary(run);
  EXPECT_FALSE(built.load_time.has_value());

  RunOptions load = options();
  load.load_index_dir = root_ / "indexes";
  load.force = true;
  ASSERT_EQ(run_sweep(sweep, registry_, load).runs_done, 2u);
  const RunRecord loaded = read_run_summary(run);
  ASSERT_TRUE(loaded.load_time.has_value());
  EXPECT_DOUBLE_EQ(loaded.build_time, built.build_time);  // the saved build's, not the load's
  EXPECT_DOUBLE_EQ(loaded.recall, built.recall);
  EXPECT_EQ(h5::File::open_read(run).string_attribute("index_file").value(), saved[0].string());

  // A sidecar describing another build is an error naming it, recorded as a failed run.
  {
    std::ofstream sidecar(fs::path(saved[0]).replace_extension(".json"));
    sidecar << R"({"module": "hnsw", "build_params": "{\"M\":99}", "dataset": "x",
                   "dataset_sha256": "00", "build_s": 1})";
  }
  const auto outcome = run_sweep(sweep, registry_, load);
  EXPECT_EQ(outcome.runs_failed, 2u);
  EXPECT_THAT(summary_lines("tiny-8-euclidean")[1], HasSubstr("index load failed"));
}

TEST(Shard, ParsesAndRejects) {
  EXPECT_EQ(parse_shard("1/4"), (std::pair<std::size_t, std::size_t>{1, 4}));
  EXPECT_THROW(parse_shard("4/4"), Error);
  EXPECT_THROW(parse_shard("1-4"), Error);
  EXPECT_THROW(parse_shard("x/2"), Error);
  EXPECT_THROW(parse_shard("0/0"), Error);
}

}  // namespace
}  // namespace annbench
