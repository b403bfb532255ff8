#pragma once
// The `annbench run` options that `annbench slurm submit` forwards to its array tasks, and that
// `annbench merge` reads to know which runs a sweep plans: parsed and checked once, here, so a
// bad value fails at submission rather than in every task.

#include "runner.h"

#include <string>
#include <vector>

namespace annbench {

struct ForwardedRunOptions {
  std::vector<std::string> all;   // every run option, as given, for `annbench run`
  std::vector<std::string> plan;  // those that change which runs are planned, for `annbench merge`
  RunOptions options;  // what they set: dataset, queries, counts, runs, algorithms, batch, threads
};

// The options take_run_options() knows, for usage texts.
extern const char* const kForwardedRunOptionsUsage;

// Moves the run options (--dataset, --queries, --k, --runs, --algorithm (repeatable), --batch,
// --threads, --timeout, --memory-limit; `--name value` or `--name=value`) out of `argv`, leaving
// the command's own, and checks their values; `command` names the command in messages.
ForwardedRunOptions take_run_options(std::vector<std::string>& argv, const std::string& command);

}  // namespace annbench
