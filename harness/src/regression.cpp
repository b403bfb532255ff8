#include "regression.h"

#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace annbench {

namespace {

std::string json_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

}  // namespace

std::string run_key(const std::string& dataset, std::size_t count, const std::string& algorithm,
                    bool batch_mode, const std::string& name) {
  return fmt::format("{}/{}/{}{}/{}", dataset, count, algorithm, batch_mode ? "-batch" : "", name);
}

std::string GateRun::key() const {
  return run_key(dataset, count, algorithm, batch_mode, name);
}

std::vector<GateRun> gate_runs(const std::vector<RunRecord>& records,
                               const std::string& reference_algorithm) {
  std::map<std::string, double> reference_qps;  // dataset/k/mode -> best reference QPS
  auto group = [](const RunRecord& r) {
    return fmt::format("{}/{}/{}", r.dataset, r.count, r.batch_mode);
  };
  for (const auto& r : records) {
    if (r.ok && r.algorithm == reference_algorithm) {
      reference_qps[group(r)] = std::max(reference_qps[group(r)], r.qps);
    }
  }
  std::vector<GateRun> runs;
  for (const auto& r : records) {
    GateRun run;
    run.dataset = r.dataset;
    run.count = r.count;
    run.algorithm = r.algorithm;
    run.name = r.slug;
    run.batch_mode = r.batch_mode;
    run.ok = r.ok;
    run.peer = !r.library.empty();
    run.cpu = r.cpu;
    run.recall = r.recall;
    run.distcomps = r.distcomps;
    if (auto it = reference_qps.find(group(r));
        r.ok && it != reference_qps.end() && it->second > 0) {
      run.qps_ratio = r.qps / it->second;
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

bool GateReport::passed() const {
  return std::none_of(findings.begin(), findings.end(), [](const GateFinding& f) {
    return f.kind == GateFinding::Kind::Regression || f.kind == GateFinding::Kind::Missing ||
           f.kind == GateFinding::Kind::Failed;
  });
}

GateReport compare_with_baseline(const Baseline& baseline, const std::vector<GateRun>& current,
                                 const GateTolerances& tolerances) {
  GateReport report;
  report.baseline_cpu = baseline.cpu;
  std::map<std::string, const GateRun*> now;
  for (const auto& run : current) now[run.key()] = &run;
  std::map<std::string, bool> in_baseline;
  using Kind = GateFinding::Kind;
  for (const auto& before : baseline.runs) {
    in_baseline[before.key()] = true;
    auto it = now.find(before.key());
    if (it == now.end()) {
      report.findings.push_back({Kind::Missing, before.key(), "", 0, 0});
      continue;
    }
    const GateRun& after = *it->second;
    if (!after.ok) {
      report.findings.push_back({Kind::Failed, before.key(), "", 0, 0});
      continue;
    }
    ++report.compared;
    if (after.recall < before.recall - tolerances.recall_drop) {
      report.findings.push_back(
          {Kind::Regression, before.key(), "recall", before.recall, after.recall});
    } else if (after.recall > before.recall + tolerances.recall_drop) {
      report.findings.push_back(
          {Kind::Improvement, before.key(), "recall", before.recall, after.recall});
    }
    if (before.distcomps && after.distcomps) {
      if (*after.distcomps > *before.distcomps * (1 + tolerances.distcomps_rise)) {
        report.findings.push_back(
            {Kind::Regression, before.key(), "distcomps", *before.distcomps, *after.distcomps});
      } else if (*after.distcomps < *before.distcomps * (1 - tolerances.distcomps_rise)) {
        report.findings.push_back(
            {Kind::Improvement, before.key(), "distcomps", *before.distcomps, *after.distcomps});
      }
    }
    const bool same_cpu = !baseline.cpu.empty() && after.cpu == baseline.cpu;
    if (!same_cpu) ++report.other_cpu_runs;
    if (!same_cpu && std::find(report.other_cpus.begin(), report.other_cpus.end(), after.cpu) ==
                         report.other_cpus.end()) {
      report.other_cpus.push_back(after.cpu);
    }
    const bool enforce_speed = same_cpu && !after.peer;
    if (enforce_speed && after.qps_ratio) ++report.speed_enforced;
    if (before.qps_ratio && after.qps_ratio) {
      if (*after.qps_ratio < *before.qps_ratio * (1 - tolerances.qps_ratio_drop)) {
        report.findings.push_back({enforce_speed ? Kind::Regression : Kind::SpeedNote, before.key(),
                                   "qps_ratio", *before.qps_ratio, *after.qps_ratio});
      } else if (*after.qps_ratio > *before.qps_ratio * (1 + tolerances.qps_ratio_drop)) {
        report.findings.push_back(
            {Kind::Improvement, before.key(), "qps_ratio", *before.qps_ratio, *after.qps_ratio});
      }
    }
  }
  for (const auto& run : current) {
    if (!in_baseline.count(run.key()))
      report.findings.push_back({Kind::Extra, run.key(), "", 0, 0});
  }
  return report;
}

std::string format_gate_report(const GateReport& report, const GateTolerances& tolerances) {
  std::string text;
  if (!report.findings.empty()) {
    text += "| finding | run | metric | baseline | current | change |\n|---|---|---|---|---|---|\n";
    for (const auto& f : report.findings) {
      const char* kind = "";
      switch (f.kind) {
        case GateFinding::Kind::Regression: kind = "REGRESSION"; break;
        case GateFinding::Kind::Improvement: kind = "improvement"; break;
        case GateFinding::Kind::Missing: kind = "MISSING (in baseline, not in results)"; break;
        case GateFinding::Kind::Extra: kind = "extra (not in baseline)"; break;
        case GateFinding::Kind::Failed: kind = "FAILED run"; break;
        case GateFinding::Kind::SpeedNote: kind = "slower (reported, not enforced)"; break;
      }
      std::string change;
      if (!f.metric.empty()) {
        change = f.metric == "recall"
                     ? fmt::format("{:+.4f}", f.current - f.baseline)
                     : fmt::format("{:+.1f}%", 100.0 * (f.current / f.baseline - 1));
      }
      text += fmt::format("| {} | {} | {} | {} | {} | {} |\n", kind, f.key, f.metric,
                          f.metric.empty() ? "" : fmt::format("{:.4g}", f.baseline),
                          f.metric.empty() ? "" : fmt::format("{:.4g}", f.current), change);
    }
  }
  if (report.baseline_cpu.empty()) {
    text +=
        "speed not enforced: the baseline does not say which CPU it was measured on "
        "(rewrite it with --update-baseline)\n";
  } else if (!report.other_cpus.empty()) {
    std::string others;
    for (const auto& cpu : report.other_cpus) others += (others.empty() ? "'" : ", '") + cpu + "'";
    text += fmt::format(
        "speed not enforced for {} of {} runs: the baseline's QPS ratios were measured on '{}', "
        "these runs on {}; ratios to brute force move several-fold between CPUs, so the "
        "committed figures are reported only. Judge speed on this machine with "
        "`annbench check --ab BASE_REF`.\n",
        report.other_cpu_runs, report.compared, report.baseline_cpu, others);
  }
  text += fmt::format(
      "{}: {} runs compared (tolerances: recall -{}, distcomps +{:.0f}%, qps ratio -{:.0f}% "
      "enforced on {} runs of our own modules on the baseline's CPU; peers are not gated)\n",
      report.passed() ? "PASS" : "FAIL", report.compared, tolerances.recall_drop,
      100 * tolerances.distcomps_rise, 100 * tolerances.qps_ratio_drop, report.speed_enforced);
  return text;
}

void write_baseline(const std::filesystem::path& file, const std::vector<GateRun>& runs,
                    const std::string& reference_algorithm) {
  // The CPU most runs were measured on (a results set normally has one).
  std::map<std::string, std::size_t> cpu_votes;
  for (const auto& run : runs) {
    if (run.ok && !run.cpu.empty()) ++cpu_votes[run.cpu];
  }
  std::string cpu;
  std::size_t votes = 0;
  for (const auto& [name, count] : cpu_votes) {
    if (count > votes) {
      cpu = name;
      votes = count;
    }
  }
  std::string text =
      fmt::format("{{\n  \"reference_algorithm\": \"{}\",\n  \"cpu\": \"{}\",\n  \"runs\": [\n",
                  reference_algorithm, json_escape(cpu));
  bool first = true;
  for (const auto& run : runs) {
    if (!run.ok) continue;  // a failed run is no baseline
    auto optional = [](const std::optional<double>& value) {
      return value ? fmt::format("{:.6g}", *value) : std::string("null");
    };
    text += fmt::format(
        "{}    {{\"dataset\": \"{}\", \"count\": {}, \"algorithm\": \"{}\", \"name\": \"{}\", "
        "\"batch_mode\": {}, \"recall\": {:.6g}, \"distcomps\": {}, \"qps_ratio\": {}}}",
        first ? "" : ",\n", run.dataset, run.count, run.algorithm, run.name, run.batch_mode,
        run.recall, optional(run.distcomps), optional(run.qps_ratio));
    first = false;
  }
  text += "\n  ]\n}\n";
  std::error_code error;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), error);
  h5::write_atomically(file, [&](const std::filesystem::path& temporary) {
    std::ofstream out(temporary);
    out << text;
    ANNBENCH_CHECK(out.good(), "cannot write baseline '{}'", temporary.string());
  });
}

Baseline read_baseline(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root.reset(YAML::LoadFile(file.string()));
  } catch (const YAML::BadFile&) {
    ANNBENCH_FAIL("cannot read baseline '{}' (create one with --update-baseline)", file.string());
  } catch (const YAML::Exception& error) {
    ANNBENCH_FAIL("{}:{}: not a valid baseline file: {}", file.string(), error.mark.line + 1,
                  error.msg);
  }
  ANNBENCH_CHECK(root.IsMap() && root["runs"] && root["runs"].IsSequence(),
                 "{}: a baseline is a JSON object with a 'runs' list", file.string());
  Baseline baseline;
  if (root["reference_algorithm"])
    baseline.reference_algorithm = root["reference_algorithm"].as<std::string>();
  if (root["cpu"] && !root["cpu"].IsNull()) baseline.cpu = root["cpu"].as<std::string>();
  std::vector<GateRun>& runs = baseline.runs;
  try {
    for (const auto& node : root["runs"]) {
      GateRun run;
      run.dataset = node["dataset"].as<std::string>();
      run.count = node["count"].as<std::size_t>();
      run.algorithm = node["algorithm"].as<std::string>();
      run.name = node["name"].as<std::string>();
      run.batch_mode = node["batch_mode"].as<bool>();
      run.recall = node["recall"].as<double>();
      if (node["distcomps"] && !node["distcomps"].IsNull())
        run.distcomps = node["distcomps"].as<double>();
      if (node["qps_ratio"] && !node["qps_ratio"].IsNull())
        run.qps_ratio = node["qps_ratio"].as<double>();
      runs.push_back(std::move(run));
    }
  } catch (const YAML::Exception& error) {
    ANNBENCH_FAIL("{}:{}: bad baseline entry: {}", file.string(), error.mark.line + 1, error.msg);
  }
  return baseline;
}

}  // namespace annbench
