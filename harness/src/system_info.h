#pragma once
// What a run records so that someone else can reproduce it.

#include <cstddef>
#include <string>

namespace annbench {

struct SystemInfo {
  std::string git_commit;  // "unknown" outside a git checkout; "+dirty" when modified
  std::string compiler;
  std::string flags;
  std::string cpu;
  std::string hostname;
};

// Gathered once per process (runs `git` in the source tree).
const SystemInfo& system_info();

// Resident set size of this process, bytes (from /proc/self/statm); 0 if unavailable.
std::size_t resident_bytes();

// The largest resident set size this process has had (getrusage), bytes: with --isolate, a build
// point's own child.
std::size_t peak_resident_bytes();

// Seconds since the epoch, ISO 8601 UTC, for timestamps in results.
std::string utc_timestamp();

}  // namespace annbench
