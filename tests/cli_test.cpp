// The annbench binary as a researcher calls it: exit codes and messages for bad input, and the
// no-lost-results promise when a sweep is re-run.

#include <annbench/datasets/dataset.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct Outcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-clitest-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Outcome annbench(const std::string& arguments) const {
    const std::string command =
        fmt::format("cd '{}' && ANNBENCH_PLUGIN_PATH='{}' '{}' {} 2>&1", dir_.string(),
                    ANNBENCH_TEST_FIXTURE_MODULE_DIR, ANNBENCH_TEST_BINARY, arguments);
    Outcome outcome;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return outcome;
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr)
      outcome.output += buffer.data();
    const int status = pclose(pipe);
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return outcome;
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
  }

  fs::path dir_;
};

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

TEST_F(CliTest, BadOptionsAreErrors) {
  EXPECT_THAT(annbench("run x.yaml --shard 3/2").output, HasSubstr("--shard expects i/N"));
  EXPECT_THAT(annbench("run x.yaml --queries 0").output, HasSubstr("--queries must be at least 1"));
  EXPECT_THAT(annbench("run x.yaml --bogus").output, HasSubstr("unknown option --bogus"));
  EXPECT_EQ(annbench("frobnicate").exit_code, 2);
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
