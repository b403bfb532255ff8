#pragma once
// The CI regression gate: compares a results set with a committed baseline, run by run (same
// dataset, k, algorithm, parameters and mode).
//   recall@k                  may not drop by more than an absolute tolerance;
//   distance computations/q   may not rise by more than a relative tolerance;
//   QPS                       as a ratio to the reference module (brute force) in the same
//                             results set: enforced only for runs made on the CPU the baseline
//                             was recorded on, and never for peers (modules wrapping another
//                             project's library). Elsewhere a speed change is reported, not
//                             enforced: the ratio moves by 3x between CPUs (brute force is
//                             bandwidth-bound, graphs and trees latency-bound), so a committed
//                             figure from another CPU says nothing. Speed across commits on one
//                             machine is judged by the A/B check (ab_gate.h).
// Recall and distance counts are machine-independent and gated everywhere.

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
  bool peer = false;  // the module wraps another project's library (ModuleInfo::library)
  std::string cpu;    // where it was measured (results only; a baseline has one for all)
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
  // SpeedNote: a QPS-ratio change beyond the tolerance that is reported but not enforced (a
  // peer, or a run on another CPU than the baseline's).
  enum class Kind { Regression, Improvement, Missing, Extra, Failed, SpeedNote };
  Kind kind;
  std::string key;
  std::string metric;  // recall, distcomps, qps_ratio, or empty
  double baseline = 0;
  double current = 0;
};

struct GateReport {
  std::vector<GateFinding> findings;
  std::size_t compared = 0;
  std::size_t speed_enforced = 0;  // compared runs whose QPS ratio was enforced
  std::size_t other_cpu_runs = 0;  // compared runs measured on another CPU than the baseline's
  std::string baseline_cpu;
  std::vector<std::string> other_cpus;  // CPUs of compared runs that are not the baseline's
  bool passed() const;                  // no regression, missing or failed run
};

struct Baseline {
  std::string reference_algorithm = "bruteforce";
  std::string cpu;  // CPU the QPS ratios were measured on; empty in older files
  std::vector<GateRun> runs;
};

GateReport compare_with_baseline(const Baseline& baseline, const std::vector<GateRun>& current,
                                 const GateTolerances& tolerances);

// Markdown table of the findings plus a one-line verdict.
std::string format_gate_report(const GateReport& report, const GateTolerances& tolerances);

// dataset/k/algorithm[-batch]/name: how a run is matched between two results sets.
std::string run_key(const std::string& dataset, std::size_t count, const std::string& algorithm,
                    bool batch_mode, const std::string& name);

// Baseline file (JSON): {"reference_algorithm": "...", "cpu": "...", "runs": [{...}, ...]}.
// write_baseline takes the CPU from the runs (the one most of them were measured on).
void write_baseline(const std::filesystem::path& file, const std::vector<GateRun>& runs,
                    const std::string& reference_algorithm);
Baseline read_baseline(const std::filesystem::path& file);

}  // namespace annbench
