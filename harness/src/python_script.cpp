#include "python_script.h"

#include <annbench/error.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace annbench {

namespace {

// An installed binary (<prefix>/bin/annbench) finds the scripts in <prefix>/share/annbench/;
// a build-tree binary finds none there and takes them from the source tree it was built from.
std::filesystem::path script_path(const std::string& script) {
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    auto installed = exe.parent_path().parent_path() / "share" / "annbench" / script;
    if (std::filesystem::exists(installed, error)) return installed;
  }
  return std::filesystem::path(ANNBENCH_SOURCE_DIR) / script;
}

}  // namespace

int run_python_script(const std::string& command, const std::string& script,
                      const std::vector<std::string>& args) {
  const std::filesystem::path path = script_path(script);
  ANNBENCH_CHECK(std::filesystem::exists(path), "annbench {}: script '{}' is missing", command,
                 path.string());
  const char* python = std::getenv("ANNBENCH_PYTHON");
  const std::string interpreter = python != nullptr ? python : "/usr/bin/python3";
  std::vector<std::string> argv{interpreter, path.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  pointers.reserve(argv.size() + 1);
  for (auto& part : argv) pointers.push_back(part.data());
  pointers.push_back(nullptr);
  // Build the message before fork(): the child only calls async-signal-safe functions.
  const std::string failure = "annbench " + command + ": cannot run " + interpreter;
  const pid_t child = fork();
  ANNBENCH_CHECK(child >= 0, "annbench {}: cannot start {}", command, interpreter);
  if (child == 0) {
    execv(interpreter.c_str(), pointers.data());
    std::perror(failure.c_str());
    _exit(127);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    ANNBENCH_CHECK(errno == EINTR, "annbench {}: waiting for {} failed", command, interpreter);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace annbench
