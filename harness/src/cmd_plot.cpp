// annbench plot RESULTS [...]: runs plots/plot.py with Debian's Python (which has matplotlib).

#include "commands.h"

#include <annbench/error.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

namespace annbench {

int plot_command(const std::vector<std::string>& args) {
  const std::filesystem::path script =
      std::filesystem::path(ANNBENCH_SOURCE_DIR) / "plots" / "plot.py";
  ANNBENCH_CHECK(std::filesystem::exists(script), "plot script '{}' is missing", script.string());
  const char* python = std::getenv("ANNBENCH_PYTHON");
  const std::string interpreter = python != nullptr ? python : "/usr/bin/python3";
  std::vector<std::string> command{interpreter, script.string()};
  command.insert(command.end(), args.begin(), args.end());
  std::vector<char*> pointers;
  for (auto& part : command) pointers.push_back(part.data());
  pointers.push_back(nullptr);
  const pid_t child = fork();
  ANNBENCH_CHECK(child >= 0, "cannot start {}", interpreter);
  if (child == 0) {
    execv(interpreter.c_str(), pointers.data());
    std::perror(("annbench plot: cannot run " + interpreter).c_str());
    _exit(127);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace annbench
