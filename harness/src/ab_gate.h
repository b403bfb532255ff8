#pragma once
// The A/B speed check: two builds of annbench (base and candidate) run the same sweep on the
// same machine, interleaved for several rounds (base, candidate, then candidate, base, ...), and
// a module is flagged only when the candidate is slower with statistical confidence (one-sided
// Mann–Whitney U over the per-round QPS) and by more than a minimum effect. Nothing recorded
// elsewhere is involved, so the verdict holds on whatever machine runs it.
//
// With m algorithms of ours compared, each is tested at alpha / m (Bonferroni), so that two
// identical builds fail the check with probability at most alpha in all.
// A module's speed in one round is the geometric mean of its runs' QPS (every run that both
// builds finished in every round), so a module with many search points weighs one vote, as
// does one with few. Peers (ModuleInfo::library) are measured and reported but never flagged:
// their code does not change between the builds, so their verdicts show how noisy the machine
// was.

#include "results.h"

#include <annbench/datasets/dataset.h>

#include <filesystem>
#include <string>
#include <vector>

namespace annbench {

struct AbOptions {
  std::filesystem::path config;  // the sweep both builds run
  std::filesystem::path work;    // round results and logs go under work/rounds
  int rounds = 6;
  double alpha = 0.05;                // one-sided significance level
  double min_effect = 0.10;           // flagged only when the median QPS drops by more than this
  std::vector<std::string> run_args;  // extra `annbench run` arguments for both builds
  bool quiet = false;
};

struct AbVerdict {
  std::string algorithm;  // results folder name, "-batch" appended for batch mode
  bool peer = false;
  std::size_t runs = 0;                 // runs in the geometric mean
  std::vector<double> base, candidate;  // per-round geometric-mean QPS
  double change = 0;                    // median(candidate) / median(base) - 1
  double p_slower = 1;                  // one-sided p of "candidate slower"
  double p_faster = 1;                  // one-sided p of "candidate faster"
  bool flagged = false;  // slower (at alpha_per_algorithm), beyond min_effect, our own code
};

struct AbReport {
  std::vector<AbVerdict> verdicts;
  std::vector<std::string> recall_changes;  // runs whose recall differs between the builds
  std::vector<std::string> unmatched;       // runs not finished by both builds in every round
  std::vector<std::string> renamed;         // "old -> new": runs paired across a rename
  double alpha_per_algorithm = 0.05;        // alpha / number of our own algorithms compared
  bool passed() const;                      // nothing flagged
};

// Judges per-round results (rounds × runs of each build): pure, for tests and for run_ab.
AbReport judge_ab(const std::vector<std::vector<RunRecord>>& base_rounds,
                  const std::vector<std::vector<RunRecord>>& candidate_rounds,
                  const AbOptions& options);

// Runs `base_annbench` and `candidate_annbench` (executables) alternately, options.rounds times
// each, and judges the results. Throws annbench::Error when a build cannot run the sweep.
AbReport run_ab(const std::filesystem::path& base_annbench,
                const std::filesystem::path& candidate_annbench, const AbOptions& options);

// Markdown table plus a verdict line.
std::string format_ab_report(const AbReport& report, const AbOptions& options);

// Builds the harness and modules of git revision `ref` of the repository at `source` in a
// worktree under `work` (reused when it is already at that commit; ccache is used when
// installed), without tests or benchmarks, and returns its annbench executable.
std::filesystem::path build_revision(const std::string& ref, const std::filesystem::path& source,
                                     const std::filesystem::path& work, bool quiet);

}  // namespace annbench
