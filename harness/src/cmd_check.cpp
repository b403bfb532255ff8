// annbench check: the CI regression gate against a committed baseline (regression.h), or the
// A/B speed check of two builds on this machine (ab_gate.h).

#include "ab_gate.h"
#include "args.h"
#include "commands.h"
#include "regression.h"

#include <fmt/format.h>

#include <algorithm>

namespace annbench {

namespace {

constexpr const char* kUsage =
    "annbench check RESULTS --baseline FILE [--recall-tolerance 0.005] "
    "[--distcomps-tolerance 0.02] [--qps-tolerance 0.15] [--reference bruteforce] "
    "[--update-baseline]\n"
    "annbench check --ab BASE_REF | --base-binary ANNBENCH [--candidate-binary ANNBENCH] "
    "[--config configs/ci-ab.yaml] [--rounds 6] [--alpha 0.05] [--min-effect 0.10] "
    "[--work build/ab] [--source DIR] [--quiet] [-- extra `annbench run` arguments]";

constexpr const char* kHelp = R"(
Baseline gate: every run of RESULTS against a committed baseline (same dataset, k, algorithm,
parameters). Recall may not drop by more than --recall-tolerance (absolute), distance counts may
not rise by more than --distcomps-tolerance (relative). QPS relative to brute force in the same
results may not fall by more than --qps-tolerance, enforced only on the CPU the baseline was
recorded on and never for peers; elsewhere it is reported. Exit 1 on a regression.

A/B speed check: builds git revision BASE_REF (--ab; or takes a built --base-binary), then runs
it and this annbench (or --candidate-binary) alternately on --config for --rounds rounds each,
and flags an algorithm of our own that is slower in the candidate with one-sided Mann-Whitney
p <= --alpha / (our algorithms compared) and by more than --min-effect. Exit 1 when one is
flagged, 4 when the comparison could not be made (the base does not build or run).
)";

int baseline_check(const Args& args) {
  args.expect_positionals(1, 1, kUsage);
  const auto baseline_file = args.get("baseline");
  ANNBENCH_CHECK(baseline_file.has_value(), "annbench check: --baseline FILE is required\n{}",
                 kUsage);
  GateTolerances tolerances;
  tolerances.recall_drop = args.get_float_or("recall-tolerance", tolerances.recall_drop);
  tolerances.distcomps_rise = args.get_float_or("distcomps-tolerance", tolerances.distcomps_rise);
  tolerances.qps_ratio_drop = args.get_float_or("qps-tolerance", tolerances.qps_ratio_drop);
  ANNBENCH_CHECK(tolerances.recall_drop >= 0 && tolerances.distcomps_rise >= 0 &&
                     tolerances.qps_ratio_drop >= 0 && tolerances.qps_ratio_drop < 1,
                 "annbench check: tolerances must be >= 0 (and the QPS one < 1)");

  const std::filesystem::path results = args.positionals()[0];
  ANNBENCH_CHECK(std::filesystem::is_directory(results),
                 "annbench check: results folder '{}' does not exist", results.string());
  const std::vector<RunRecord> records = read_runs(results);
  ANNBENCH_CHECK(!records.empty(), "annbench check: no runs under '{}'", results.string());

  std::string reference = args.get_or("reference", "");
  if (args.flag("update-baseline")) {
    if (reference.empty()) reference = "bruteforce";
    const auto runs = gate_runs(records, reference);
    write_baseline(*baseline_file, runs, reference);
    fmt::print("wrote {} with {} runs (QPS relative to {})\n", *baseline_file, runs.size(),
               reference);
    return 0;
  }
  const Baseline baseline = read_baseline(*baseline_file);
  if (reference.empty()) reference = baseline.reference_algorithm;
  const GateReport report =
      compare_with_baseline(baseline, gate_runs(records, reference), tolerances);
  fmt::print("{}", format_gate_report(report, tolerances));
  return report.passed() ? 0 : 1;
}

int ab_check(const Args& args, const std::vector<std::string>& run_args) {
  args.expect_positionals(0, 0, kUsage);
  ANNBENCH_CHECK(!args.get("baseline") && !args.flag("update-baseline"),
                 "annbench check: --baseline and the A/B check (--ab, --base-binary) are two "
                 "different checks: run them separately\n{}",
                 kUsage);
  AbOptions options;
  options.config = args.get_or("config", "configs/ci-ab.yaml");
  options.rounds = static_cast<int>(args.get_int_or("rounds", options.rounds));
  options.alpha = args.get_float_or("alpha", options.alpha);
  options.min_effect = args.get_float_or("min-effect", options.min_effect);
  options.quiet = args.flag("quiet");
  options.run_args = run_args;
  ANNBENCH_CHECK(options.rounds >= 2 && options.rounds <= 50,
                 "annbench check: --rounds must be between 2 and 50, got {}", options.rounds);
  ANNBENCH_CHECK(options.alpha > 0 && options.alpha < 1,
                 "annbench check: --alpha must be in (0, 1), got {}", options.alpha);
  ANNBENCH_CHECK(options.min_effect >= 0 && options.min_effect < 1,
                 "annbench check: --min-effect must be in [0, 1), got {}", options.min_effect);
  // The smallest one-sided p an exact test over r + r values can give is 1 / C(2r, r).
  double smallest_p = 1;
  for (int i = 1; i <= options.rounds; ++i)
    smallest_p *= static_cast<double>(i) / (options.rounds + i);
  ANNBENCH_CHECK(smallest_p <= options.alpha,
                 "annbench check: with {} rounds the test's smallest p-value is {:.3g}, above "
                 "--alpha {}: nothing could ever be flagged; use more rounds",
                 options.rounds, smallest_p, options.alpha);

  const std::filesystem::path source = args.get_or("source", ".");
  options.work = args.get_or("work", (source / "build" / "ab").string());
  ANNBENCH_CHECK(!(args.get("ab") && args.get("base-binary")),
                 "annbench check: give --ab BASE_REF or --base-binary, not both");
  AbReport report;
  try {
    const std::filesystem::path base =
        args.get("ab") ? build_revision(*args.get("ab"), source, options.work, options.quiet)
                       : std::filesystem::path(*args.get("base-binary"));
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    const std::filesystem::path candidate = args.get_or("candidate-binary", self.string());
    if (!options.quiet) {
      fmt::print("A/B check: base {}\n           candidate {}\n           {} rounds of {}\n",
                 base.string(), candidate.string(), options.rounds, options.config.string());
    }
    report = run_ab(base, candidate, options);
  } catch (const Error& error) {
    // Told apart from a slowdown (exit 1), so that CI can decide what a comparison that could
    // not be made means.
    fmt::print(stderr, "annbench check: the A/B comparison could not be made: {}\n", error.what());
    return 4;
  }
  fmt::print("{}", format_ab_report(report, options));
  return report.passed() ? 0 : 1;
}

}  // namespace

int check_command(const std::vector<std::string>& argv) {
  // Everything after "--" goes to `annbench run` in the A/B check.
  std::vector<std::string> own = argv;
  std::vector<std::string> run_args;
  if (const auto dashes = std::find(own.begin(), own.end(), "--"); dashes != own.end()) {
    run_args.assign(dashes + 1, own.end());
    own.erase(dashes, own.end());
  }
  if (std::find(own.begin(), own.end(), "--help") != own.end()) {
    fmt::print("usage:\n{}\n{}", kUsage, kHelp);
    return 0;
  }
  const Args args(own,
                  {"baseline", "reference", "recall-tolerance", "distcomps-tolerance",
                   "qps-tolerance", "ab", "base-binary", "candidate-binary", "config", "rounds",
                   "alpha", "min-effect", "work", "source"},
                  {"update-baseline", "quiet"}, "annbench check");
  if (args.get("ab") || args.get("base-binary")) return ab_check(args, run_args);
  ANNBENCH_CHECK(run_args.empty(), "annbench check: arguments after -- belong to the A/B check");
  return baseline_check(args);
}

}  // namespace annbench
