#pragma once
// The CI regression gate: compares a results set with a committed baseline, run by run (same
// dataset, k, algorithm, parameters and mode). Machine-independent where it can be:
//   recall@k                  may not drop by more than an absolute tolerance;
//   distance computations/q   may not rise by more than a relative tolerance;
//   QPS                       compared as a ratio to the reference module (brute force) measured
//                             in the same results set, so a faster or slower machine alone
//                             neither fails nor passes the gate.

#include "results.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace annbench {

struct GateTolerances {
  double recall_drop = 0.005;    // absolute
  double distcomps_rise = 0.02;  // relative
  double qps_ratio_drop = 0.15;  // relative
};

// One run as the gate sees it.
struct GateRun {
  std::string dataset;
  std::size_t count = 0;
  std::string algorithm;
  std::string name;  // slug
  bool batch_mode = false;
  bool ok = true;
  double recall = 0;
  std::optional<double> distcomps;
  std::optional<double> qps_ratio;  // qps / reference qps (same dataset, k, mode)
  std::string key() const;          // dataset/k/algorithm[-batch]/name
};

// Turns run records into gate runs, dividing QPS by the best QPS of `reference_algorithm` at
// the same dataset, k and mode (no ratio where the reference is missing).
std::vector<GateRun> gate_runs(const std::vector<RunRecord>& records,
                               const std::string& reference_algorithm);

struct GateFinding {
  enum class Kind { Regression, Improvement, Missing, Extra, Failed };
  Kind kind;
  std::string key;
  std::string metric;  // recall, distcomps, qps_ratio, or empty
  double baseline = 0;
  double current = 0;
};

struct GateReport {
  std::vector<GateFinding> findings;
  std::size_t compared = 0;
  bool passed() const;  // no regression, missing or failed run
};

GateReport compare_with_baseline(const std::vector<GateRun>& baseline,
                                 const std::vector<GateRun>& current,
                                 const GateTolerances& tolerances);

// Markdown table of the findings plus a one-line verdict.
std::string format_gate_report(const GateReport& report, const GateTolerances& tolerances);

// Baseline file (JSON): {"reference_algorithm": "...", "runs": [{...}, ...]}.
void write_baseline(const std::filesystem::path& file, const std::vector<GateRun>& runs,
                    const std::string& reference_algorithm);
std::vector<GateRun> read_baseline(const std::filesystem::path& file,
                                   std::string* reference_algorithm = nullptr);

}  // namespace annbench
