#pragma once
// What the command-line tests share: a fresh folder per test, the annbench binary run through
// the shell (exit code and output), and a subcommand called in-process with its stdout captured.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace annbench::test {

// An empty folder under the system's temporary one, named after the test and this process.
inline std::filesystem::path fresh_test_dir(const std::string& prefix) {
  const auto dir = std::filesystem::temp_directory_path() /
                   fmt::format("annbench-{}-{}-{}", prefix, ::getpid(),
                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A fresh folder per test with its own data directory: ANNBENCH_DATA_DIR is dir_/data while
// the test runs.
class DataDirTest : public ::testing::Test {
 protected:
  explicit DataDirTest(std::string prefix) : prefix_(std::move(prefix)) {}
  void SetUp() override {
    dir_ = fresh_test_dir(prefix_);
    std::filesystem::create_directories(dir_ / "data");
    ::setenv("ANNBENCH_DATA_DIR", (dir_ / "data").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("ANNBENCH_DATA_DIR");
    std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;

 private:
  std::string prefix_;
};

struct CliOutcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs `annbench ARGUMENTS` in `dir` with the fixture modules on the plugin path and
// `environment` (e.g. "PATH=/x") before it.
inline CliOutcome run_annbench(const std::filesystem::path& dir, const std::string& arguments,
                               const std::string& environment = "") {
  const std::string command =
      fmt::format("cd '{}' && ANNBENCH_PLUGIN_PATH='{}' {} '{}' {} 2>&1", dir.string(),
                  ANNBENCH_TEST_FIXTURE_MODULE_DIR, environment, ANNBENCH_TEST_BINARY, arguments);
  CliOutcome outcome;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return outcome;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) outcome.output += buffer.data();
  const int status = pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return outcome;
}

// Calls a subcommand (commands.h) in this process: its exit code and what it printed on stdout.
template <typename Command>
std::pair<int, std::string> run_captured(Command command, const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  int code = -1;
  try {
    code = command(args);
  } catch (...) {
    ::testing::internal::GetCapturedStdout();
    throw;
  }
  return {code, ::testing::internal::GetCapturedStdout()};
}

}  // namespace annbench::test
