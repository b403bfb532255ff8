// The sharded track under a real mpirun (Open MPI, ranks oversubscribing this machine's cores):
// an exact module's merged answers equal one process's exact search whatever the shard count;
// k-means shards probed all equal contiguous shards; probing fewer shards sends fewer bytes;
// a failing rank fails its runs with the rank's message instead of hanging; a missing mpirun
// is a clear error.

#include "config.h"
#include "results.h"
#include "runner.h"

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

bool on_path(const char* name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

class ShardedSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(fs::read_symlink("/proc/self/exe").parent_path() / "annbench-shard"))
      GTEST_SKIP() << "this build has no annbench-shard (MPI not found at configure time)";
    if (!on_path("mpirun")) GTEST_SKIP() << "mpirun is not on PATH (Debian: openmpi-bin)";
    root_ = fs::temp_directory_path() /
            fmt::format("annbench-sharded-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    // Four separated blobs, so that k-means shards differ from contiguous ones.
    std::mt19937 rng(9);
    std::normal_distribution<float> normal;
    const std::size_t rows = 2001;  // contiguous halves of 1000 and 1001 rows
    FloatMatrix train(rows, 12), test(40, 12);
    for (std::size_t i = 0; i < rows; ++i) {
      for (std::size_t d = 0; d < 12; ++d) train(i, d) = normal(rng) + (d == i % 4 ? 30.0f : 0.0f);
    }
    for (std::size_t q = 0; q < 40; ++q) {
      for (std::size_t d = 0; d < 12; ++d) test(q, d) = normal(rng) + (d == q % 4 ? 30.0f : 0.0f);
    }
    const GroundTruth truth = compute_ground_truth(train.view(), test.view(), Metric::L2, 20);
    dataset_ = root_ / "blobs.hdf5";
    write_dataset(dataset_, Metric::L2, train, test, truth.neighbors, truth.distances);
    for (std::size_t q = 0; q < test.rows(); ++q)
      for (std::size_t j = 0; j < 10; ++j) expected_.push_back(truth.neighbors(q, j));
  }
  void TearDown() override {
    if (!root_.empty()) fs::remove_all(root_);
  }

  SweepOutcome sweep(const std::string& head, const std::string& algorithms,
                     const std::string& results = "results") {
    const SweepConfig config = parse_sweep_config(
        fmt::format("datasets: [{}]\nmode: sharded\n{}\nk: 10\nruns: 1\nthreads: 1\n"
                    "algorithms:\n{}",
                    dataset_.string(), head, algorithms),
        root_ / "sweep.yaml");
    RunOptions options;
    options.results_root = root_ / results;
    options.quiet = true;
    return run_sweep(config, registry_, options);
  }

  // The run file of `algorithm` whose name contains every one of `parts`.
  fs::path run_with(const std::string& algorithm, std::initializer_list<const char*> parts,
                    const std::string& results = "results") const {
    std::vector<fs::path> found;
    for (const auto& entry :
         fs::directory_iterator(root_ / results / "blobs/sharded-10" / algorithm)) {
      const std::string name = entry.path().filename().string();
      bool all = true;
      for (const char* part : parts) all = all && name.find(part) != std::string::npos;
      if (all) found.push_back(entry.path());
    }
    EXPECT_EQ(found.size(), 1u) << algorithm << " runs matching";
    return found.empty() ? fs::path() : found.front();
  }

  static std::vector<std::int64_t> ids(const fs::path& run) {
    const auto values = h5::File::open_read(run).read_ints("neighbors");
    return {values.data(), values.data() + values.size()};
  }

  fs::path root_, dataset_;
  std::vector<std::int64_t> expected_;  // the exact top 10 of each query, row after row
  ModuleRegistry registry_{{ANNBENCH_TEST_MODULE_DIR, ANNBENCH_TEST_FIXTURE_MODULE_DIR}};
};

TEST_F(ShardedSweep, ExactModuleMergesToTheExactAnswerAtEveryShardCount) {
  const SweepOutcome outcome =
      sweep("shards: [1, 2, 3]\nsingle: true\nbatch: true", "  - module: bruteforce\n");
  ASSERT_EQ(outcome.runs_failed, 0u);
  EXPECT_EQ(outcome.runs_done, 6u);  // three shard counts, single and batch
  for (const char* shards : {"shards_1_", "shards_2_", "shards_3_"}) {
    for (bool batch : {false, true}) {
      const fs::path run = run_with(batch ? "bruteforce-batch" : "bruteforce", {shards});
      ASSERT_FALSE(run.empty());
      EXPECT_EQ(ids(run), expected_) << run;
      const RunRecord record = read_run_summary(run);
      EXPECT_DOUBLE_EQ(record.recall, 1.0) << run;
      ASSERT_TRUE(record.distcomps) << run;
      EXPECT_DOUBLE_EQ(*record.distcomps, 2001.0) << run;  // every shard scanned in full
      ASSERT_TRUE(record.shards && record.bytes_per_query && record.shard_imbalance);
      // Queries out (12 floats to each other rank) and ten 12-byte answers back from each.
      const double others = *record.shards - 1;
      EXPECT_DOUBLE_EQ(*record.bytes_per_query, others * (12 * 4 + 10 * 12)) << run;
      EXPECT_EQ(record.partition, "contiguous");
      // The largest rank's peak resident set: at least the dataset every rank loads.
      ASSERT_TRUE(record.peak_rss_kb);
      EXPECT_GT(*record.peak_rss_kb, 2001.0 * 12 * 4 / 1024);
    }
  }
}

TEST_F(ShardedSweep, KmeansShardsProbedInFullEqualContiguousAndFewerProbesSendLess) {
  ASSERT_EQ(sweep("shards: 4", "  - module: bruteforce\n").runs_failed, 0u);
  ASSERT_EQ(sweep("shards: 4\npartition: kmeans\nprobe_shards: [1, 4]", "  - module: bruteforce\n")
                .runs_failed,
            0u);
  const fs::path contiguous = run_with("bruteforce", {"contiguous"});
  const fs::path all = run_with("bruteforce", {"kmeans", "probe_shards_4"});
  const fs::path one = run_with("bruteforce", {"kmeans", "probe_shards_1"});
  EXPECT_EQ(ids(all), ids(contiguous));
  const RunRecord all_record = read_run_summary(all), one_record = read_run_summary(one);
  EXPECT_DOUBLE_EQ(all_record.recall, 1.0);
  // The blobs are far apart: a query's own blob's shard holds its neighbours.
  EXPECT_GE(one_record.recall, 0.95);
  EXPECT_LT(*one_record.bytes_per_query, *all_record.bytes_per_query);
  EXPECT_LT(*one_record.distcomps, *all_record.distcomps);
  EXPECT_EQ(one_record.probe_shards.value_or(0), 1.0);
  // Four blobs of about 500 rows: k-means finds them, so the shards are nearly even.
  EXPECT_LT(*all_record.shard_imbalance, 1.2);
}

TEST_F(ShardedSweep, GraphModuleRunsOnShardsItDoesNotKnowAbout) {
  const SweepOutcome outcome = sweep("shards: [1, 2]",
                                     "  - module: hnsw\n    build: {M: 8, ef_construction: 40}\n"
                                     "    search: {ef: 40}\n");
  ASSERT_EQ(outcome.runs_failed, 0u);
  for (const char* shards : {"shards_1_", "shards_2_"}) {
    const RunRecord record = read_run_summary(run_with("hnsw", {shards}));
    EXPECT_GE(record.recall, 0.9) << shards;
    EXPECT_GT(record.index_kb, 0.0);
  }
}

TEST_F(ShardedSweep, AFailingRankFailsItsRunsWithItsMessage) {
  // Contiguous halves of 1000 and 1001 rows: only rank 1 fails its build.
  const SweepOutcome outcome =
      sweep("shards: [1, 2]", "  - module: fixture-faulty\n    build: {fail_above_rows: 1000}\n");
  EXPECT_EQ(outcome.runs_failed, 2u);  // one process of 2001 rows fails too
  std::ifstream failed(run_with("fixture-faulty", {"shards_2_"}));
  std::string text((std::istreambuf_iterator<char>(failed)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("rank 1 of 2"));
  EXPECT_THAT(text, HasSubstr("1001 rows, more than 1000"));
}

TEST_F(ShardedSweep, ACrashingRankEndsTheJob) {
  const SweepOutcome outcome =
      sweep("shards: 2", "  - module: fixture-faulty\n    build: {crash: true}\n");
  EXPECT_EQ(outcome.runs_failed, 1u);
  std::ifstream failed(run_with("fixture-faulty", {"shards_2_"}));
  std::string text((std::istreambuf_iterator<char>(failed)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("mpirun failed"));
}

TEST_F(ShardedSweep, MissingMpirunIsAClearError) {
  const std::string saved = std::getenv("PATH");
  ::setenv("PATH", (root_ / "empty").c_str(), 1);
  const SweepOutcome outcome = sweep("shards: 2", "  - module: bruteforce\n");
  ::setenv("PATH", saved.c_str(), 1);
  EXPECT_EQ(outcome.runs_failed, 1u);
  std::ifstream failed(run_with("bruteforce", {"shards_2_"}));
  std::string text((std::istreambuf_iterator<char>(failed)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("mpirun, which is not on PATH (Debian: openmpi-bin)"));
}

TEST(ShardedConfig, KeysAreCheckedAndNamed) {
  auto parse = [](const std::string& head) {
    return parse_sweep_config("datasets: [x]\n" + head + "\nalgorithms:\n  - module: bruteforce\n",
                              "s.yaml");
  };
  EXPECT_EQ(parse("mode: sharded\nshards: [4, 1, 2, 2]").sharding.shards,
            (std::vector<int>{1, 2, 4}));
  EXPECT_THAT([&] { parse("mode: knn\nshards: 2"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'shards' applies to mode: sharded only")));
  EXPECT_THAT([&] { parse("mode: sharded\nshards: 0"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'shards' must be in 1..1024, got 0")));
  EXPECT_THAT([&] { parse("mode: sharded\npartition: random"); },
              ::testing::ThrowsMessage<Error>(
                  HasSubstr("'partition' must be contiguous or kmeans, got 'random'")));
  EXPECT_THAT([&] { parse("mode: sharded\nprobe_shards: 1"); },
              ::testing::ThrowsMessage<Error>(HasSubstr("'probe_shards' needs partition: kmeans")));
}

}  // namespace
}  // namespace annbench
