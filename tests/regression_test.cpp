#include "regression.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace annbench {
namespace {

using ::testing::HasSubstr;
using Kind = GateFinding::Kind;

GateRun run(const std::string& algorithm, const std::string& name, double recall,
            std::optional<double> distcomps, std::optional<double> qps_ratio) {
  GateRun r;
  r.dataset = "d";
  r.count = 10;
  r.algorithm = algorithm;
  r.name = name;
  r.recall = recall;
  r.distcomps = distcomps;
  r.qps_ratio = qps_ratio;
  r.cpu = "Test CPU (family 6 model 85 stepping 7)";
  return r;
}

// Runs as measured on the baseline's CPU; annoy-ref wraps another library (a peer).
std::vector<GateRun> runs() {
  std::vector<GateRun> all = {run("hnsw", "ef_10", 0.90, 500.0, 20.0),
                              run("hnsw", "ef_40", 0.99, 1500.0, 8.0),
                              run("annoy-ref", "n_trees_10", 0.80, std::nullopt, 5.0)};
  all[2].peer = true;
  return all;
}

Baseline baseline() {
  Baseline b;
  b.cpu = "Test CPU (family 6 model 85 stepping 7)";
  b.runs = runs();
  return b;
}

TEST(RegressionGate, IdenticalResultsPass) {
  const auto report = compare_with_baseline(baseline(), runs(), {});
  EXPECT_TRUE(report.passed());
  EXPECT_TRUE(report.findings.empty());
  EXPECT_EQ(report.compared, 3u);
}

TEST(RegressionGate, FlagsRecallDropBeyondAbsoluteTolerance) {
  auto current = runs();
  current[0].recall = 0.894;  // -0.006 > 0.005
  current[1].recall = 0.986;  // -0.004: within tolerance
  const auto report = compare_with_baseline(baseline(), current, {});
  EXPECT_FALSE(report.passed());
  ASSERT_EQ(report.findings.size(), 1u);
  EXPECT_EQ(report.findings[0].kind, Kind::Regression);
  EXPECT_EQ(report.findings[0].metric, "recall");
  EXPECT_EQ(report.findings[0].key, "d/10/hnsw/ef_10");
}

TEST(RegressionGate, FlagsDistanceCountRise) {
  auto current = runs();
  current[1].distcomps = 1500.0 * 1.03;
  const auto report = compare_with_baseline(baseline(), current, {});
  ASSERT_EQ(report.findings.size(), 1u);
  EXPECT_EQ(report.findings[0].metric, "distcomps");
  EXPECT_FALSE(report.passed());
  current[1].distcomps = 1500.0 * 1.015;  // within 2 %
  EXPECT_TRUE(compare_with_baseline(baseline(), current, {}).passed());
}

TEST(RegressionGate, FlagsRelativeQpsDropButNotSmallNoise) {
  auto current = runs();
  current[0].qps_ratio = 20.0 * 0.80;
  auto report = compare_with_baseline(baseline(), current, {});
  ASSERT_EQ(report.findings.size(), 1u);
  EXPECT_EQ(report.findings[0].metric, "qps_ratio");
  EXPECT_EQ(report.findings[0].kind, Kind::Regression);
  EXPECT_FALSE(report.passed());
  current[0].qps_ratio = 20.0 * 0.9;
  EXPECT_TRUE(compare_with_baseline(baseline(), current, {}).passed());
  GateTolerances loose;
  loose.qps_ratio_drop = 0.5;
  current[0].qps_ratio = 20.0 * 0.6;
  EXPECT_TRUE(compare_with_baseline(baseline(), current, loose).passed());
}

TEST(RegressionGate, PeersSpeedIsReportedNeverEnforced) {
  auto current = runs();
  current[2].qps_ratio = 5.0 * 0.2;  // annoy-ref, a peer, 80 % slower
  const auto report = compare_with_baseline(baseline(), current, {});
  EXPECT_TRUE(report.passed());
  ASSERT_EQ(report.findings.size(), 1u);
  EXPECT_EQ(report.findings[0].kind, Kind::SpeedNote);
  EXPECT_EQ(report.speed_enforced, 2u);
  EXPECT_THAT(format_gate_report(report, {}), HasSubstr("slower (reported, not enforced)"));
}

TEST(RegressionGate, BaselineFromAnotherCpuNeverFailsOnSpeed) {
  auto current = runs();
  for (auto& r : current) {
    r.cpu = "AMD EPYC (family 26 model 2 stepping 1)";
    r.qps_ratio = *r.qps_ratio * 0.05;  // 95 % "slower": a different CPU, not a regression
  }
  auto report = compare_with_baseline(baseline(), current, {});
  EXPECT_TRUE(report.passed());
  EXPECT_EQ(report.speed_enforced, 0u);
  EXPECT_EQ(report.other_cpu_runs, 3u);
  for (const auto& finding : report.findings) EXPECT_EQ(finding.kind, Kind::SpeedNote);
  const std::string text = format_gate_report(report, {});
  EXPECT_THAT(text, HasSubstr("speed not enforced for 3 of 3 runs"));
  EXPECT_THAT(text, HasSubstr("measured on 'Test CPU (family 6 model 85 stepping 7)'"));
  EXPECT_THAT(text, HasSubstr("annbench check --ab"));
  // Recall and distance counts still fail there.
  current[0].recall = 0.85;
  current[1].distcomps = 1500.0 * 1.1;
  report = compare_with_baseline(baseline(), current, {});
  EXPECT_FALSE(report.passed());
  int regressions = 0;
  for (const auto& finding : report.findings) regressions += finding.kind == Kind::Regression;
  EXPECT_EQ(regressions, 2);
}

TEST(RegressionGate, BaselineWithoutCpuEnforcesNoSpeed) {
  Baseline old = baseline();
  old.cpu.clear();
  auto current = runs();
  current[0].qps_ratio = 1.0;
  const auto report = compare_with_baseline(old, current, {});
  EXPECT_TRUE(report.passed());
  EXPECT_THAT(format_gate_report(report, {}), HasSubstr("does not say which CPU"));
}

TEST(RegressionGate, ImprovementsAreReportedAndPass) {
  auto current = runs();
  current[0].recall = 0.95;
  current[0].qps_ratio = 30.0;
  const auto report = compare_with_baseline(baseline(), current, {});
  EXPECT_TRUE(report.passed());
  ASSERT_EQ(report.findings.size(), 2u);
  EXPECT_EQ(report.findings[0].kind, Kind::Improvement);
}

TEST(RegressionGate, MissingFailedAndExtraRunsAreReported) {
  auto current = runs();
  current.erase(current.begin());                             // ef_10 missing
  current[0].ok = false;                                      // ef_40 failed
  current.push_back(run("ivf", "nprobe_1", 0.5, 10.0, 3.0));  // new
  const auto report = compare_with_baseline(baseline(), current, {});
  EXPECT_FALSE(report.passed());
  const std::string text = format_gate_report(report, {});
  EXPECT_THAT(text, HasSubstr("MISSING (in baseline, not in results) | d/10/hnsw/ef_10"));
  EXPECT_THAT(text, HasSubstr("FAILED run | d/10/hnsw/ef_40"));
  EXPECT_THAT(text, HasSubstr("extra (not in baseline) | d/10/ivf/nprobe_1"));
  EXPECT_THAT(text, HasSubstr("FAIL: 1 runs compared"));
}

TEST(RegressionGate, QpsIsDividedByTheReferenceInTheSameGroup) {
  auto record = [](std::string algorithm, double qps, bool batch) {
    RunRecord r;
    r.dataset = std::string(1, 'd');
    r.count = 10;
    r.ok = true;
    r.algorithm = std::move(algorithm);
    r.qps = qps;
    r.batch_mode = batch;
    return r;
  };
  // No batch reference (no ratio for the batch run); the best reference QPS is the divisor.
  std::vector<RunRecord> records;
  records.push_back(record("bruteforce", 100, false));
  records.push_back(record("hnsw", 2500, false));
  records.push_back(record("hnsw", 9000, true));
  records.push_back(record("bruteforce", 50, false));
  const auto runs = gate_runs(records, "bruteforce");
  EXPECT_DOUBLE_EQ(runs[1].qps_ratio.value(), 25.0);
  EXPECT_FALSE(runs[2].qps_ratio.has_value());
}

TEST(RegressionGate, BaselineRoundTrip) {
  const auto file =
      std::filesystem::temp_directory_path() / fmt::format("annbench-baseline-{}.json", ::getpid());
  write_baseline(file, runs(), "bruteforce");
  const Baseline read = read_baseline(file);
  EXPECT_EQ(read.reference_algorithm, "bruteforce");
  EXPECT_EQ(read.cpu, "Test CPU (family 6 model 85 stepping 7)");
  ASSERT_EQ(read.runs.size(), 3u);
  EXPECT_EQ(read.runs[2].key(), "d/10/annoy-ref/n_trees_10");
  EXPECT_FALSE(read.runs[2].distcomps.has_value());
  EXPECT_DOUBLE_EQ(read.runs[1].distcomps.value(), 1500.0);
  const auto report = compare_with_baseline(read, runs(), {});
  EXPECT_TRUE(report.findings.empty());
  EXPECT_EQ(report.speed_enforced, 2u);
  std::filesystem::remove(file);
  EXPECT_THROW(read_baseline(file), Error);
}

}  // namespace
}  // namespace annbench
