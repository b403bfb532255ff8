#pragma once
// Runs one build point in a child process (fork + exec of this same binary), so that a module
// that crashes, hangs or eats memory costs only its own runs. The child re-reads the config and
// dataset and writes its results itself; the parent records whatever the child could not.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace annbench {

struct IsolationLimits {
  double timeout_s = 0;                // wall-clock seconds per build point; 0 = none
  std::size_t memory_limit_bytes = 0;  // address-space limit (setrlimit RLIMIT_AS); 0 = none
};

struct ChildOutcome {
  bool clean = false;  // exited by itself with status 0 or 3 (3: some runs failed, recorded)
  std::string reason;  // why not, e.g. "crashed with signal 11 (Segmentation fault)"
};

// Starts `argv` (argv[0] = executable path) with the limits applied in the child and waits.
// A child still running at the timeout is killed with SIGKILL. With `output` set, the child's
// stdout and stderr are appended to that file instead of ours.
ChildOutcome run_child(const std::vector<std::string>& argv, const IsolationLimits& limits,
                       const std::filesystem::path& output = {});

// "4G", "512M", "100000" -> bytes; Error on anything else.
std::size_t parse_bytes(const std::string& text);

}  // namespace annbench
