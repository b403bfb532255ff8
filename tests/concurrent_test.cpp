// The concurrent-clients track: client threads querying one index give the same answers as
// serial single queries, every client count is its own run, and bad settings are clear errors.

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
#include <random>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class ConcurrentSweep : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            fmt::format("annbench-concurrent-{}-{}", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    FloatMatrix train(2000, 16), test(60, 16);
    for (std::size_t i = 0; i < train.size(); ++i) train.data()[i] = normal(rng);
    for (std::size_t i = 0; i < test.size(); ++i) test.data()[i] = normal(rng);
    const GroundTruth truth = compute_ground_truth(train.view(), test.view(), Metric::L2, 20);
    dataset_ = root_ / "small.hdf5";
    write_dataset(dataset_, Metric::L2, train, test, truth.neighbors, truth.distances);
  }
  void TearDown() override { fs::remove_all(root_); }

  SweepOutcome sweep(const std::string& head, const std::string& algorithms) {
    const SweepConfig config = parse_sweep_config(
        fmt::format("datasets: [{}]\n{}\nk: 10\nruns: 1\nthreads: 1\nalgorithms:\n{}",
                    dataset_.string(), head, algorithms),
        root_ / "sweep.yaml");
    RunOptions options;
    options.results_root = root_ / "results";
    options.quiet = true;
    return run_sweep(config, registry_, options);
  }

  fs::path root_, dataset_;
  ModuleRegistry registry_{{ANNBENCH_TEST_MODULE_DIR}};
};

TEST_F(ConcurrentSweep, TwoClientsGiveTheSerialAnswers) {
  const std::string algorithms =
      "  - module: bruteforce\n  - module: hnsw\n    build: {M: 8, ef_construction: 40}\n"
      "    search: {ef: 20}\n";
  ASSERT_EQ(sweep("", algorithms).runs_failed, 0u);
  const SweepOutcome outcome =
      sweep("mode: concurrent\nclients: [1, 2]\nduration: 0.2", algorithms);
  EXPECT_EQ(outcome.runs_done, 4u);  // two modules x two client counts
  EXPECT_EQ(outcome.runs_failed, 0u);
  // The one run file of `folder` whose name contains `part`.
  auto file_in = [](const fs::path& folder, const std::string& part) {
    fs::path found;
    for (const auto& entry : fs::directory_iterator(folder)) {
      if (entry.path().filename().string().find(part) != std::string::npos) found = entry.path();
    }
    return found;
  };
  for (const char* algorithm : {"bruteforce", "hnsw"}) {
    const fs::path serial = file_in(root_ / "results/small/10" / algorithm, ".hdf5");
    const fs::path two = file_in(root_ / "results/small/concurrent-10" / algorithm, "clients_2");
    ASSERT_FALSE(serial.empty()) << algorithm;
    ASSERT_FALSE(two.empty()) << algorithm;
    const auto serial_ids = h5::File::open_read(serial).read_ints("neighbors");
    const auto two_ids = h5::File::open_read(two).read_ints("neighbors");
    ASSERT_EQ(serial_ids.rows(), two_ids.rows());
    for (std::size_t i = 0; i < serial_ids.size(); ++i)
      EXPECT_EQ(serial_ids.data()[i], two_ids.data()[i]) << algorithm << " slot " << i;
    const RunRecord record = read_run_summary(two);
    EXPECT_EQ(record.mode, "concurrent");
    EXPECT_EQ(record.clients.value_or(0), 2.0);
    EXPECT_EQ(record.threads, 2);
    EXPECT_GT(record.qps, 0);
    EXPECT_GT(record.p99_ms, 0);
    EXPECT_THAT(record.search_params, HasSubstr("\"clients\":2"));
  }
}

TEST_F(ConcurrentSweep, SettingsAreChecked) {
  auto error_of = [&](const std::string& head) {
    try {
      parse_sweep_config(
          fmt::format("datasets: [{}]\n{}\nalgorithms: []\n", dataset_.string(), head), "s.yaml");
    } catch (const Error& error) {
      return std::string(error.what());
    }
    return std::string();
  };
  EXPECT_THAT(error_of("mode: concurrent\nclients: [0]"),
              HasSubstr("'clients' must be in 1..1024"));
  EXPECT_THAT(error_of("mode: concurrent\nduration: -1"), HasSubstr("'duration' must be in"));
  EXPECT_THAT(error_of("clients: [2]"), HasSubstr("'clients' applies to mode: concurrent only"));
}

}  // namespace
}  // namespace annbench
