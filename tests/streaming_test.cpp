// The streaming track: runbook parsing and every bad-input case, the generators, per-step
// ground truth against a naive scan over the live set, and whole streaming sweeps with the real
// bruteforce module (recall 1 at every step) and modules that cannot update.

#include "config.h"
#include "naive_knn.h"
#include "results.h"
#include "runbook.h"
#include "runner.h"

#include <annbench/common/distance.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr const char* kGood = R"(tiny:
  max_pts: 100
  1: {operation: insert, start: 0, end: 100}
  2: {operation: search}
  3: {operation: delete, start: 0, end: 30}
  4: {operation: replace, tags_start: 30, tags_end: 40, ids_start: 150, ids_end: 160}
  5: {operation: insert, start: 100, end: 130}
  6: {operation: search}
other:
  max_pts: 5
  1: {operation: search}
)";

Runbook parse(const std::string& text, std::size_t rows = 200) {
  return parse_runbook(text, "book.yaml", "tiny", rows);
}

// The message of the error parse() throws, or "" when it does not.
std::string error_of(const std::string& text, std::size_t rows = 200) {
  try {
    parse(text, rows);
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(Runbook, ParsesBigAnnLayout) {
  const Runbook book = parse(kGood);
  EXPECT_EQ(book.max_pts, 100u);
  ASSERT_EQ(book.steps.size(), 6u);
  EXPECT_EQ(book.steps[0].op, RunbookStep::Op::Insert);
  EXPECT_EQ(book.steps[0].end, 100u);
  EXPECT_EQ(book.steps[3].op, RunbookStep::Op::Replace);
  EXPECT_EQ(book.steps[3].ids_start, 150u);
  EXPECT_EQ(book.steps[2].line, 5);
  EXPECT_EQ(book.search_steps(), 2u);
  // Replay: tag 35 holds row 155 after the replace, tags 0..29 are gone, 100..129 came.
  std::vector<std::int64_t> after;
  replay(book, 200, [&](std::size_t s, const std::vector<std::int64_t>& live) {
    if (s == 5) after = live;
  });
  EXPECT_EQ(after[35], 155);
  EXPECT_EQ(after[0], -1);
  EXPECT_EQ(after[120], 120);
  EXPECT_EQ(std::count_if(after.begin(), after.end(), [](auto row) { return row >= 0; }), 100);
}

TEST(Runbook, EveryBadInputNamesFileStepAndKey) {
  const std::string head = "tiny:\n  max_pts: 100\n";
  EXPECT_THAT(
      error_of(head + "  1: {operation: insert, start: 0, end: 300}\n  2: {operation: search}\n"),
      HasSubstr("book.yaml:3: step 1 (insert): 'end' 300 is beyond the 200 train rows"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, start: 0, end: 10}\n"
                              "  2: {operation: delete, start: 5, end: 20}\n"),
              HasSubstr("step 2 (delete): id 10 is not live"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, start: 0, end: 101}\n"),
              HasSubstr("101 points would be live, more than max_pts 100"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, start: 0, end: 10}\n"
                              "  3: {operation: search}\n"),
              HasSubstr("steps must be numbered 1..n; step 2 is missing"));
  EXPECT_THAT(error_of(head + "  1: {operation: upsert, start: 0, end: 10}\n"),
              HasSubstr("step 1 has unknown operation 'upsert'"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, begin: 0, end: 10}\n"),
              HasSubstr("step 1 needs 'start'"));
  EXPECT_THAT(error_of(head + "  1: {operation: search, k: 10}\n"),
              HasSubstr("step 1 (search) has unknown key 'k'"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, start: 0, end: 10}\n"
                              "  2: {operation: insert, start: 5, end: 12}\n"),
              HasSubstr("step 2 (insert): id 5 is already live"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, start: 0, end: 10}\n"
                              "  2: {operation: replace, tags_start: 5, tags_end: 15, ids_start: "
                              "50, ids_end: 60}\n"),
              HasSubstr("step 2 (replace): tag 10 is not live"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, start: 0, end: 10}\n"),
              HasSubstr("has no search step"));
  EXPECT_THAT(error_of("tiny:\n  1: {operation: search}\n"), HasSubstr("needs a positive max_pts"));
  EXPECT_THAT(error_of(head + "  first: {operation: search}\n"), HasSubstr("unknown key 'first'"));
  EXPECT_THAT(error_of(head + "  1: {operation: insert, start: -1, end: 10}\n"),
              HasSubstr("'start' must be a non-negative integer, got '-1'"));
  EXPECT_THAT(error_of("elsewhere:\n  max_pts: 1\n"),
              HasSubstr("no runbook for dataset 'tiny' (it has: elsewhere)"));
  EXPECT_THAT(error_of("tiny: [1, 2\n"), HasSubstr("not valid YAML"));
  EXPECT_THROW(load_runbook("/nonexistent/book.yaml", "tiny", 10), Error);
}

TEST(Runbook, GeneratorsAreValidAndDeterministic) {
  for (const char* kind : {"sliding-window", "expiring"}) {
    RunbookRecipe recipe;
    recipe.kind = kind;
    recipe.window = 300;
    recipe.batch = 50;
    recipe.rounds = 4;
    recipe.seed = 9;
    const std::string text = make_runbook(recipe, "tiny", 500);
    EXPECT_EQ(text, make_runbook(recipe, "tiny", 500));
    const Runbook book = parse(text, 500);
    EXPECT_EQ(book.steps.size(), 2u + 3 * 4);
    EXPECT_EQ(book.search_steps(), 5u);
    EXPECT_EQ(book.max_pts, 300u);
    std::size_t live_at_end = 0;
    replay(book, 500, [&](std::size_t, const std::vector<std::int64_t>& live) {
      live_at_end = static_cast<std::size_t>(
          std::count_if(live.begin(), live.end(), [](auto row) { return row >= 0; }));
    });
    EXPECT_EQ(live_at_end, 300u) << kind;
  }
  RunbookRecipe sliding{"sliding-window", 300, 50, 4, 1, {}};
  // The sliding window deletes the oldest slice each round.
  EXPECT_THAT(make_runbook(sliding, "tiny", 500),
              HasSubstr("3: {operation: delete, start: 0, end: 50}"));
  EXPECT_THAT(make_runbook(sliding, "tiny", 500),
              HasSubstr("6: {operation: delete, start: 50, end: 100}"));
  RunbookRecipe too_long{"sliding-window", 300, 50, 5, 1, {}};
  EXPECT_THROW(make_runbook(too_long, "tiny", 500), Error);
  RunbookRecipe unknown{"clustered-by-magic", 300, 50, 1, 1, {}};
  EXPECT_THROW(make_runbook(unknown, "tiny", 500), Error);
}

class StreamingSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("annbench-streaming-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::mt19937 rng(11);
    std::normal_distribution<float> normal;
    FloatMatrix train(600, 12), test(30, 12);
    for (std::size_t i = 0; i < train.size(); ++i) train.data()[i] = normal(rng);
    for (std::size_t i = 0; i < test.size(); ++i) test.data()[i] = normal(rng);
    const GroundTruth truth = compute_ground_truth(train.view(), test.view(), Metric::L2, 20);
    dataset_ = root_ / "tiny.hdf5";
    write_dataset(dataset_, Metric::L2, train, test, truth.neighbors, truth.distances);
    runbook_ = root_ / "book.yaml";
    std::ofstream(runbook_) << R"(tiny:
  max_pts: 400
  1: {operation: insert, start: 0, end: 300}
  2: {operation: search}
  3: {operation: delete, start: 0, end: 150}
  4: {operation: search}
  5: {operation: replace, tags_start: 200, tags_end: 260, ids_start: 500, ids_end: 560}
  6: {operation: insert, start: 300, end: 400}
  7: {operation: search}
  8: {operation: insert, start: 0, end: 100}
  9: {operation: search}
)";
  }
  void TearDown() override { fs::remove_all(root_); }

  SweepOutcome sweep(const std::string& algorithms) {
    const SweepConfig config = parse_sweep_config(
        fmt::format("datasets: [{}]\nmode: streaming\nrunbook: {}\nk: 10\nruns: 1\n"
                    "algorithms:\n{}",
                    dataset_.string(), runbook_.string(), algorithms),
        root_ / "sweep.yaml");
    RunOptions options;
    options.results_root = root_ / "results";
    options.quiet = true;
    return run_sweep(config, registry_, options);
  }

  fs::path root_, dataset_, runbook_;
  ModuleRegistry registry_{{ANNBENCH_TEST_MODULE_DIR, ANNBENCH_TEST_FIXTURE_MODULE_DIR}};
};

TEST_F(StreamingSweep, StepGroundTruthEqualsANaiveScanOfTheLiveSet) {
  DatasetLoadOptions load;
  load.require_ground_truth = false;
  const Dataset dataset = load_dataset(dataset_, load);
  const Runbook book = load_runbook(runbook_, "tiny", dataset.train.rows());
  const auto truth = step_ground_truth(dataset_, dataset, book, true);
  ASSERT_EQ(truth.size(), 4u);
  EXPECT_TRUE(fs::exists(root_ / "tiny.book.gt.hdf5"));
  std::size_t search = 0;
  replay(book, dataset.train.rows(), [&](std::size_t s, const std::vector<std::int64_t>& live) {
    if (book.steps[s].op != RunbookStep::Op::Search) return;
    const StepGroundTruth& step = truth[search++];
    EXPECT_EQ(step.step, s);
    for (std::size_t q = 0; q < dataset.test.rows(); ++q) {
      // Naive: every live tag's distance to the query, sorted by (distance, tag).
      std::vector<std::pair<double, std::int64_t>> all;
      for (std::size_t t = 0; t < live.size(); ++t) {
        if (live[t] < 0) continue;
        all.push_back(
            {exact_distance(Metric::L2, dataset.test.row(q),
                            dataset.train.row(static_cast<std::size_t>(live[t])), dataset.dim()),
             static_cast<std::int64_t>(t)});
      }
      std::sort(all.begin(), all.end());
      for (std::size_t j = 0; j < step.neighbors.cols(); ++j) {
        EXPECT_EQ(step.neighbors(q, j), all[j].second) << "step " << s + 1 << " query " << q;
        EXPECT_NEAR(step.distances(q, j), all[j].first, 1e-4);
      }
    }
  });
  // A second call reads the sidecar instead of recomputing; a changed runbook recomputes.
  const auto again = step_ground_truth(dataset_, dataset, book, true);
  EXPECT_EQ(again[3].neighbors(0, 0), truth[3].neighbors(0, 0));
  std::ofstream(runbook_, std::ios::app) << "  10: {operation: search}\n";
  const Runbook longer = load_runbook(runbook_, "tiny", dataset.train.rows());
  EXPECT_EQ(step_ground_truth(dataset_, dataset, longer, true).size(), 5u);
}

TEST_F(StreamingSweep, BruteForceHasRecallOneAtEveryStep) {
  const SweepOutcome outcome = sweep("  - module: bruteforce\n");
  EXPECT_EQ(outcome.runs_done, 1u);
  EXPECT_EQ(outcome.runs_failed, 0u);
  const fs::path file = root_ / "results/tiny/streaming-10/bruteforce/default.hdf5";
  ASSERT_TRUE(fs::exists(file));
  const RunRecord record = read_run_summary(file);
  EXPECT_EQ(record.mode, "streaming");
  EXPECT_DOUBLE_EQ(record.recall, 1.0);
  EXPECT_DOUBLE_EQ(record.min_recall.value(), 1.0);
  EXPECT_GT(record.insert_per_s.value(), 0);
  EXPECT_GT(record.delete_per_s.value(), 0);
  EXPECT_THAT(record.runbook, HasSubstr("book.yaml"));
  const h5::File h5 = h5::File::open_read(file);
  const FloatMatrix recall = h5.read_floats("step_recall");
  ASSERT_EQ(recall.rows(), 4u);
  for (std::size_t i = 0; i < recall.rows(); ++i) EXPECT_FLOAT_EQ(recall.data()[i], 1.0f);
  const FloatMatrix steps = h5.read_floats("step");
  EXPECT_FLOAT_EQ(steps.data()[3], 9.0f);
  EXPECT_EQ(h5.read_floats("memory_kb").rows(), 9u);
  EXPECT_EQ(h5.shape("neighbors"), (std::vector<std::size_t>{30, 10}));
}

TEST_F(StreamingSweep, ModulesThatCannotUpdateFailNamingTheCapability) {
  const SweepOutcome outcome = sweep("  - module: kdtree\n  - module: fixture-faulty\n");
  EXPECT_EQ(outcome.runs_failed, 2u);
  const RunRecord kdtree = read_run_summary(
      root_ / "results/tiny/streaming-10/kdtree" /
      fs::directory_iterator(root_ / "results/tiny/streaming-10/kdtree")->path().filename());
  EXPECT_FALSE(kdtree.ok);
  EXPECT_THAT(kdtree.error, HasSubstr("no kCapInsert"));
}

TEST_F(StreamingSweep, ClusteredDatasetKeepsItsGroundTruthAndTheRunbookCoversIt) {
  const fs::path clustered = root_ / "tiny-clustered4.hdf5";
  const std::vector<std::size_t> ends = write_clustered_dataset(dataset_, 4, 3, clustered);
  ASSERT_EQ(ends.size(), 4u);
  EXPECT_EQ(ends.back(), 600u);
  const Dataset original = load_dataset(dataset_);
  const Dataset sorted = load_dataset(clustered);
  // The stored neighbours, renumbered, are still exact for the reordered rows.
  const GroundTruth exact =
      compute_ground_truth(sorted.train.view(), sorted.test.view(), Metric::L2, 20);
  for (std::size_t i = 0; i < exact.neighbors.size(); ++i) {
    EXPECT_NEAR(sorted.distances.data()[i], exact.distances.data()[i], 1e-4);
    EXPECT_EQ(sorted.neighbors.data()[i], exact.neighbors.data()[i]) << i;
  }
  // A permutation of the rows: their sum is unchanged.
  double sum_original = 0, sum_sorted = 0;
  for (std::size_t i = 0; i < original.train.size(); ++i) {
    sum_original += original.train.data()[i];
    sum_sorted += sorted.train.data()[i];
  }
  EXPECT_NEAR(sum_original, sum_sorted, 1e-2);
  RunbookRecipe recipe;
  recipe.kind = "clustered";
  recipe.cluster_ends = ends;
  const Runbook book =
      parse_runbook(make_runbook(recipe, sorted.name, 600), "c.yaml", sorted.name, 600);
  EXPECT_EQ(book.search_steps(), 4u);
  EXPECT_EQ(book.steps.back().op, RunbookStep::Op::Search);
  EXPECT_EQ(book.steps[book.steps.size() - 2].end, 600u);
}

TEST_F(StreamingSweep, ConfigErrors) {
  EXPECT_THAT(
      [&] {
        try {
          parse_sweep_config(
              fmt::format("datasets: [{}]\nmode: streaming\nalgorithms: []\n", dataset_.string()),
              "s.yaml");
        } catch (const Error& error) {
          return std::string(error.what());
        }
        return std::string();
      }(),
      HasSubstr("mode: streaming needs 'runbook: FILE'"));
  EXPECT_THROW(parse_sweep_config(fmt::format("datasets: [{}]\nrunbook: b.yaml\nalgorithms: []\n",
                                              dataset_.string()),
                                  "s.yaml"),
               Error);
  EXPECT_THROW(parse_sweep_config(
                   fmt::format("datasets: [{}]\nmode: stream\nalgorithms: []\n", dataset_.string()),
                   "s.yaml"),
               Error);
  // A runbook step beyond the dataset stops the sweep before anything runs.
  std::ofstream(runbook_) << "tiny:\n  max_pts: 10\n  1: {operation: insert, start: 595, end: "
                             "605}\n  2: {operation: search}\n";
  EXPECT_THROW(sweep("  - module: bruteforce\n"), Error);
  EXPECT_FALSE(fs::exists(root_ / "results/tiny/streaming-10/bruteforce"));
}

}  // namespace
}  // namespace annbench
