// The annbench binary as a researcher calls it: exit codes and messages for bad input, and the
// no-lost-results promise when a sweep is re-run.

#include "cli_support.h"
#include "results.h"

#include <annbench/datasets/dataset.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

using Outcome = test::CliOutcome;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::fresh_test_dir("clitest"); }
  void TearDown() override { fs::remove_all(dir_); }

  Outcome annbench(const std::string& arguments) const {
    return test::run_annbench(dir_, arguments);
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
  }

  fs::path dir_;
};

TEST_F(CliTest, EverySubcommandHasHelp) {
  for (const char* command :
       {"dataset convert", "dataset synthetic", "dataset slice", "dataset prepare", "groundtruth",
        "modules", "compare", "check", "runbook make", "runbook groundtruth"}) {
    const Outcome outcome = annbench(std::string(command) + " --help");
    EXPECT_EQ(outcome.exit_code, 0) << command << ": " << outcome.output;
    EXPECT_THAT(outcome.output, HasSubstr("usage")) << command;
  }
  // The dataset usage describes each subcommand under its own line.
  const Outcome dataset = annbench("dataset --help");
  EXPECT_EQ(dataset.exit_code, 0);
  const auto synthetic = dataset.output.find("synthetic --n");
  const auto blobs = dataset.output.find("Gaussian-blob");
  const auto slice = dataset.output.find("slice NAME|FILE");
  EXPECT_LT(synthetic, blobs);
  EXPECT_LT(blobs, slice);
}

TEST_F(CliTest, MissingConfigIsAnErrorNamingTheFile) {
  const Outcome outcome = annbench("run nosuch.yaml");
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.output, HasSubstr("cannot read config 'nosuch.yaml'"));
}

TEST_F(CliTest, YamlSyntaxErrorNamesFileAndLine) {
  write("bad.yaml", "datasets: [x\nalgorithms:\n  - module: bruteforce\n");
  const Outcome outcome = annbench("run bad.yaml");
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.output, HasSubstr("bad.yaml:"));
  EXPECT_THAT(outcome.output, HasSubstr("YAML syntax error"));
}

TEST_F(CliTest, UnknownModuleAndParameterAreErrors) {
  ASSERT_EQ(
      annbench("dataset synthetic --n 300 --queries 10 --dim 4 --metric euclidean --out s.hdf5")
          .exit_code,
      0);
  write("m.yaml", "datasets: [s.hdf5]\nalgorithms:\n  - module: nosuch\n");
  Outcome outcome = annbench("run m.yaml");
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.output, HasSubstr("m.yaml:3: unknown module 'nosuch'; available:"));
  write("p.yaml",
        "datasets: [s.hdf5]\nalgorithms:\n  - module: bruteforce\n    build: {blok: 3}\n");
  outcome = annbench("run p.yaml");
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.output, HasSubstr("p.yaml:4:"));
  EXPECT_THAT(outcome.output, HasSubstr("unknown build parameter 'blok'"));
  EXPECT_FALSE(fs::exists(dir_ / "results"));  // nothing ran
}

TEST_F(CliTest, MissingAndCorruptDatasetsAreErrors) {
  write("c.yaml", "datasets: [nowhere.hdf5]\nalgorithms:\n  - module: bruteforce\n");
  Outcome outcome = annbench("run c.yaml");
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.output, HasSubstr("nowhere"));
  write("corrupt.hdf5", "definitely not HDF5");
  outcome = annbench("run c.yaml --dataset corrupt.hdf5");
  EXPECT_EQ(outcome.exit_code, 1);
  EXPECT_THAT(outcome.output, HasSubstr("corrupt.hdf5"));
}

TEST_F(CliTest, FailedRunsGiveExitCodeThreeAndKeepFinishedResults) {
  ASSERT_EQ(
      annbench("dataset synthetic --n 300 --queries 10 --dim 4 --metric euclidean --out s.hdf5")
          .exit_code,
      0);
  write("f.yaml",
        "datasets: [s.hdf5]\nruns: 1\nalgorithms:\n  - module: bruteforce\n  - module: "
        "fixture-faulty\n"
        "    build: {fail_build: true}\n");
  const Outcome first = annbench("run f.yaml");
  EXPECT_EQ(first.exit_code, 3);
  EXPECT_THAT(first.output, HasSubstr("1 runs measured, 0 already finished, 1 failed"));
  const Outcome second = annbench("run f.yaml --quiet");
  EXPECT_EQ(second.exit_code, 3);
  EXPECT_THAT(second.output, HasSubstr("0 runs measured, 1 already finished, 1 failed"));
  std::ifstream summary(dir_ / "results/s/summary.csv");
  std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr(",ok,"));
  EXPECT_THAT(text, HasSubstr("build failed: fault injected at build"));
}

TEST_F(CliTest, IsolatedCrashHangAndMemoryHogAreRecordedAndTheSweepGoesOn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "an address-space limit cannot be combined with AddressSanitizer's shadow memory";
#endif
  ASSERT_EQ(
      annbench("dataset synthetic --n 300 --queries 10 --dim 4 --metric euclidean --out s.hdf5")
          .exit_code,
      0);
  write("i.yaml",
        "datasets: [s.hdf5]\nruns: 1\nalgorithms:\n"
        "  - {module: fixture-faulty, name: crash, build: {crash: true}}\n"
        "  - {module: fixture-faulty, name: hang, build: {hang: true}}\n"
        "  - {module: fixture-faulty, name: hog, build: {allocate: true}}\n"
        "  - module: bruteforce\n");
  const Outcome outcome = annbench("run i.yaml --isolate --timeout 3 --memory-limit 1G");
  EXPECT_EQ(outcome.exit_code, 3) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("1 runs measured, 0 already finished, 3 failed"));
  std::ifstream summary(dir_ / "results/s/summary.csv");
  std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("crashed with signal 11"));
  EXPECT_THAT(text, HasSubstr("timed out after 3 s"));
  // The hog either gets std::bad_alloc (recorded by the child) or dies (recorded by the parent).
  EXPECT_THAT(text, ::testing::AnyOf(HasSubstr("bad_alloc"), HasSubstr("memory limit was")));
  EXPECT_THAT(text, HasSubstr("s/10/bruteforce/default.hdf5"));
}

TEST_F(CliTest, PeakResidentSetIsTheBuildPointsOwnWithIsolate) {
  ASSERT_EQ(
      annbench("dataset synthetic --n 300 --queries 10 --dim 4 --metric euclidean --out s.hdf5")
          .exit_code,
      0);
  // A module holding 200 MiB, then one holding almost nothing.
  write("p.yaml",
        "datasets: [s.hdf5]\nruns: 1\nalgorithms:\n"
        "  - {module: fixture-faulty, name: big, build: {resident_mb: 200}}\n"
        "  - module: bruteforce\n");
  auto peak_kb = [&](const std::string& root, const std::string& algorithm) {
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / root / "s/10" / algorithm)) {
      if (entry.path().extension() == ".hdf5") {
        const RunRecord record = read_run_summary(entry.path());
        EXPECT_TRUE(record.peak_rss_kb.has_value()) << entry.path();
        return record.peak_rss_kb.value_or(0);
      }
    }
    ADD_FAILURE() << "no run of " << algorithm << " under " << root;
    return 0.0;
  };
  ASSERT_EQ(annbench("run p.yaml --quiet --results together").exit_code, 0);
  ASSERT_EQ(annbench("run p.yaml --quiet --isolate --results isolated").exit_code, 0);
  // One process: the peak only grows, so bruteforce's run reports the big build's peak too.
  EXPECT_GE(peak_kb("together", "big"), 200.0 * 1024);
  EXPECT_GE(peak_kb("together", "bruteforce"), peak_kb("together", "big"));
  // Isolated: each build point's child has its own peak.
  EXPECT_GE(peak_kb("isolated", "big"), 200.0 * 1024);
  EXPECT_LT(peak_kb("isolated", "bruteforce"), peak_kb("isolated", "big") - 150.0 * 1024);
}

TEST_F(CliTest, SweepKilledMidRunResumesToTheSameResultSet) {
  ASSERT_EQ(
      annbench("dataset synthetic --n 2000 --queries 200 --dim 32 --metric euclidean --out s.hdf5")
          .exit_code,
      0);
  write("r.yaml",
        "datasets: [s.hdf5]\nk: [1, 5, 10]\nruns: 3\nalgorithms:\n"
        "  - {module: fixture-faulty, search: {repeat_ids: [false, true]}}\n"
        "  - module: bruteforce\n  - {module: fixture-faulty, name: again}\n");
  auto result_set = [&](const std::string& root) {
    std::set<std::string> files;
    for (const auto& entry : fs::recursive_directory_iterator(dir_ / root)) {
      if (entry.path().extension() == ".hdf5")
        files.insert(fs::relative(entry.path(), dir_ / root).string());
    }
    return files;
  };
  ASSERT_EQ(annbench("run r.yaml --quiet --results whole").exit_code, 0);
  // Kill an identical sweep part-way (SIGKILL: no chance to clean up), then run it again.
  annbench("run r.yaml --quiet --results killed & pid=$!; sleep 0.3; kill -9 $pid; wait $pid");
  const auto partial = fs::exists(dir_ / "killed") ? result_set("killed") : std::set<std::string>{};
  ASSERT_EQ(annbench("run r.yaml --quiet --results killed").exit_code, 0);
  EXPECT_EQ(result_set("killed"), result_set("whole"));
  EXPECT_LE(partial.size(), result_set("whole").size());
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "killed")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp-"), std::string::npos) << entry.path();
  }
}

TEST_F(CliTest, BadOptionsAreErrors) {
  EXPECT_THAT(annbench("run x.yaml --shard 3/2").output, HasSubstr("--shard expects i/N"));
  EXPECT_THAT(annbench("run x.yaml --queries 0").output, HasSubstr("--queries must be at least 1"));
  EXPECT_THAT(annbench("run x.yaml --bogus").output, HasSubstr("unknown option --bogus"));
  EXPECT_EQ(annbench("frobnicate").exit_code, 2);
  EXPECT_THAT(annbench("run x.yaml --timeout 5").output, HasSubstr("need --isolate"));
  EXPECT_THAT(annbench("run x.yaml --isolate --memory-limit lots").output, HasSubstr("got 'lots'"));
}

TEST_F(CliTest, ModulesListsBruteForceAndTheBrokenFixtures) {
  const Outcome outcome = annbench("modules");
  EXPECT_THAT(outcome.output, HasSubstr("bruteforce"));
  EXPECT_THAT(outcome.output, HasSubstr("fixture-faulty"));
  EXPECT_THAT(outcome.output, HasSubstr("could not load"));
  EXPECT_EQ(outcome.exit_code, 1);  // some module failed to load
}

}  // namespace
}  // namespace annbench
