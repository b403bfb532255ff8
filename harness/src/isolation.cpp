#include "isolation.h"

#include <annbench/error.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <thread>

namespace annbench {

ChildOutcome run_child(const std::vector<std::string>& argv, const IsolationLimits& limits,
                       const std::filesystem::path& output) {
  std::vector<std::string> arguments = argv;
  std::vector<char*> pointers;
  pointers.reserve(arguments.size() + 1);
  for (auto& argument : arguments) pointers.push_back(argument.data());
  pointers.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t child = fork();
  ANNBENCH_CHECK(child >= 0, "cannot start a child process: {}", std::strerror(errno));
  if (child == 0) {
    if (limits.memory_limit_bytes > 0) {
      const rlimit limit{limits.memory_limit_bytes, limits.memory_limit_bytes};
      setrlimit(RLIMIT_AS, &limit);
    }
    if (!output.empty()) {
      const int fd = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) _exit(127);
    }
    execv(pointers[0], pointers.data());
    std::fprintf(stderr, "annbench: cannot run %s: %s\n", pointers[0], std::strerror(errno));
    _exit(127);
  }
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  bool timed_out = false;
  for (;;) {
    const pid_t done = waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0 && errno != EINTR)
      ANNBENCH_FAIL("waiting for child {}: {}", child, std::strerror(errno));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (limits.timeout_s > 0 && elapsed > limits.timeout_s && !timed_out) {
      kill(child, SIGKILL);
      timed_out = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ChildOutcome outcome;
  if (timed_out) {
    outcome.reason = fmt::format("timed out after {:g} s (killed)", limits.timeout_s);
  } else if (WIFSIGNALED(status)) {
    const int signal = WTERMSIG(status);
    outcome.reason = fmt::format("crashed with signal {} ({})", signal, strsignal(signal));
    if (limits.memory_limit_bytes > 0) {
      outcome.reason += fmt::format("; memory limit was {} bytes", limits.memory_limit_bytes);
    }
  } else if (WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 3)) {
    outcome.clean = true;
  } else {
    outcome.reason = fmt::format("child exited with status {}", WEXITSTATUS(status));
  }
  return outcome;
}

std::size_t parse_bytes(const std::string& text) {
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  double scale = 1;
  const std::string suffix = end != nullptr ? std::string(end) : std::string();
  if (suffix == "K" || suffix == "k")
    scale = 1024.0;
  else if (suffix == "M")
    scale = 1024.0 * 1024;
  else if (suffix == "G")
    scale = 1024.0 * 1024 * 1024;
  ANNBENCH_CHECK(
      end != text.c_str() && (suffix.empty() || scale > 1) && std::isfinite(number) && number > 0,
      "expected a size in bytes such as 4G, 512M or 1000000, got '{}'", text);
  return static_cast<std::size_t>(number * scale);
}

}  // namespace annbench
