// annbench check RESULTS --baseline FILE: the CI regression gate (see regression.h).

#include "args.h"
#include "commands.h"
#include "regression.h"

#include <fmt/format.h>

namespace annbench {

int check_command(const std::vector<std::string>& argv) {
  const Args args(
      argv, {"baseline", "reference", "recall-tolerance", "distcomps-tolerance", "qps-tolerance"},
      {"update-baseline"}, "annbench check");
  args.expect_positionals(
      1, 1,
      "annbench check RESULTS --baseline FILE [--recall-tolerance 0.005] "
      "[--distcomps-tolerance 0.02] [--qps-tolerance 0.15] [--reference bruteforce] "
      "[--update-baseline]");
  const auto baseline_file = args.get("baseline");
  ANNBENCH_CHECK(baseline_file.has_value(), "annbench check: --baseline FILE is required");
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
  std::string baseline_reference = "bruteforce";
  const auto baseline = read_baseline(*baseline_file, &baseline_reference);
  if (reference.empty()) reference = baseline_reference;
  const GateReport report =
      compare_with_baseline(baseline, gate_runs(records, reference), tolerances);
  fmt::print("{}", format_gate_report(report, tolerances));
  return report.passed() ? 0 : 1;
}

}  // namespace annbench
