#include "ab_gate.h"
#include "isolation.h"
#include "regression.h"
#include "stats.h"
#include "system_info.h"

#include <annbench/error.h>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <optional>

namespace annbench {

namespace fs = std::filesystem;

namespace {

struct Series {
  std::string group;  // algorithm[-batch]
  std::string place;  // dataset/k/algorithm[-batch]/: the key without the run's name
  bool peer = false;
  std::vector<double> base_qps, candidate_qps, base_recall, candidate_recall;
};

// A commit that adds a parameter at its default renames every run of that module, which would
// leave the module out of the comparison exactly when its code changed. Where, in one place
// (dataset, k, algorithm, mode), as many runs were finished only by the base in every round as
// only by the candidate, they are paired in name order (a rename inserts the same words into
// every name, which keeps their order) and each pair is noted.
void pair_renamed_runs(std::map<std::string, Series>& series, std::size_t rounds,
                       std::vector<std::string>& renamed) {
  std::map<std::string, std::vector<std::string>> base_only, candidate_only;
  for (const auto& [key, s] : series) {
    if (s.base_qps.size() == rounds && s.candidate_qps.empty()) base_only[s.place].push_back(key);
    if (s.candidate_qps.size() == rounds && s.base_qps.empty())
      candidate_only[s.place].push_back(key);
  }
  for (const auto& [place, olds] : base_only) {
    const auto news = candidate_only.find(place);
    if (news == candidate_only.end() || news->second.size() != olds.size()) continue;
    for (std::size_t i = 0; i < olds.size(); ++i) {
      Series& old_series = series[olds[i]];
      Series& new_series = series[news->second[i]];
      old_series.candidate_qps = std::move(new_series.candidate_qps);
      old_series.candidate_recall = std::move(new_series.candidate_recall);
      old_series.peer = old_series.peer || new_series.peer;
      renamed.push_back(olds[i] + " -> " + news->second[i].substr(place.size()));
      series.erase(news->second[i]);
    }
  }
}

double geometric_mean(const std::vector<double>& logs) {
  double sum = 0;
  for (double value : logs) sum += value;
  return std::exp(sum / static_cast<double>(logs.size()));
}

// The last `lines` lines of a text file, for error messages about a child's log.
std::string tail(const fs::path& file, std::size_t lines) {
  std::ifstream in(file);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += "    " + all[i] + "\n";
  return out;
}

// Runs a command with its output in `log`; throws with the log's tail when it fails.
void run_logged(const std::vector<std::string>& argv, const fs::path& log,
                const std::string& what) {
  const ChildOutcome outcome = run_child(argv, {}, log);
  ANNBENCH_CHECK(outcome.clean, "{} failed ({}); the end of {}:\n{}", what, outcome.reason,
                 log.string(), tail(log, 15));
}

// A command's standard output (and error), first line, or throws.
std::string first_line_of(const std::vector<std::string>& argv, const fs::path& scratch,
                          const std::string& what) {
  std::error_code ignored;
  fs::remove(scratch, ignored);
  run_logged(argv, scratch, what);
  std::ifstream in(scratch);
  std::string line;
  std::getline(in, line);
  return line;
}

std::optional<std::string> find_program(const std::string& name) {
  for (const char* directory : {"/usr/local/bin/", "/usr/bin/", "/bin/"}) {
    std::string path = directory + name;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return std::nullopt;
}

}  // namespace

bool AbReport::passed() const {
  return std::none_of(verdicts.begin(), verdicts.end(),
                      [](const AbVerdict& verdict) { return verdict.flagged; });
}

AbReport judge_ab(const std::vector<std::vector<RunRecord>>& base_rounds,
                  const std::vector<std::vector<RunRecord>>& candidate_rounds,
                  const AbOptions& options) {
  ANNBENCH_CHECK(!base_rounds.empty() && base_rounds.size() == candidate_rounds.size(),
                 "A/B check: {} base rounds and {} candidate rounds", base_rounds.size(),
                 candidate_rounds.size());
  const std::size_t rounds = base_rounds.size();
  std::map<std::string, Series> series;
  for (int side = 0; side < 2; ++side) {
    for (const auto& round : side == 0 ? base_rounds : candidate_rounds) {
      for (const RunRecord& r : round) {
        if (!r.ok || !(r.qps > 0)) continue;
        Series& s = series[run_key(r.dataset, r.count, r.algorithm, r.batch_mode, r.slug)];
        s.group = r.algorithm + (r.batch_mode ? "-batch" : "");
        s.place = run_key(r.dataset, r.count, r.algorithm, r.batch_mode, "");
        // An older base build may not record the library: the candidate's word counts too.
        s.peer = s.peer || !r.library.empty();
        (side == 0 ? s.base_qps : s.candidate_qps).push_back(r.qps);
        (side == 0 ? s.base_recall : s.candidate_recall).push_back(r.recall);
      }
    }
  }
  AbReport report;
  pair_renamed_runs(series, rounds, report.renamed);
  // group -> per-round sums of log QPS, per side
  struct Group {
    bool peer = false;
    std::size_t runs = 0;
    std::vector<std::vector<double>> base_logs, candidate_logs;  // round -> log QPS of runs
  };
  std::map<std::string, Group> groups;
  for (const auto& [key, s] : series) {
    if (s.base_qps.size() != rounds || s.candidate_qps.size() != rounds) {
      report.unmatched.push_back(
          fmt::format("{} (finished by the base build in {} of {} rounds, by the candidate in {})",
                      key, s.base_qps.size(), rounds, s.candidate_qps.size()));
      continue;
    }
    const double recall_before = median(s.base_recall);
    const double recall_after = median(s.candidate_recall);
    if (std::abs(recall_after - recall_before) > 0.005) {
      report.recall_changes.push_back(
          fmt::format("{}: recall {:.4f} -> {:.4f}", key, recall_before, recall_after));
    }
    Group& group = groups[s.group];
    group.peer = group.peer || s.peer;
    ++group.runs;
    group.base_logs.resize(rounds);
    group.candidate_logs.resize(rounds);
    for (std::size_t round = 0; round < rounds; ++round) {
      group.base_logs[round].push_back(std::log(s.base_qps[round]));
      group.candidate_logs[round].push_back(std::log(s.candidate_qps[round]));
    }
  }
  // Bonferroni over our own algorithms: with a dozen of them, an uncorrected 5 % level would
  // flag one by chance in about every second comparison of identical builds.
  std::size_t own = 0;
  for (const auto& [name, group] : groups) own += group.peer ? 0 : 1;
  report.alpha_per_algorithm = options.alpha / static_cast<double>(std::max<std::size_t>(1, own));
  for (const auto& [name, group] : groups) {
    AbVerdict verdict;
    verdict.algorithm = name;
    verdict.peer = group.peer;
    verdict.runs = group.runs;
    for (std::size_t round = 0; round < rounds; ++round) {
      verdict.base.push_back(geometric_mean(group.base_logs[round]));
      verdict.candidate.push_back(geometric_mean(group.candidate_logs[round]));
    }
    verdict.change = median(verdict.candidate) / median(verdict.base) - 1;
    verdict.p_slower = mann_whitney_less(verdict.candidate, verdict.base);
    verdict.p_faster = mann_whitney_less(verdict.base, verdict.candidate);
    verdict.flagged = !verdict.peer && verdict.p_slower <= report.alpha_per_algorithm &&
                      verdict.change < -options.min_effect;
    report.verdicts.push_back(std::move(verdict));
  }
  return report;
}

AbReport run_ab(const fs::path& base_annbench, const fs::path& candidate_annbench,
                const AbOptions& options) {
  ANNBENCH_CHECK(options.rounds >= 2, "A/B check: --rounds must be at least 2, got {}",
                 options.rounds);
  for (const auto& executable : {base_annbench, candidate_annbench}) {
    ANNBENCH_CHECK(access(executable.c_str(), X_OK) == 0,
                   "A/B check: '{}' is not an executable annbench", executable.string());
  }
  ANNBENCH_CHECK(fs::is_regular_file(options.config), "A/B check: config '{}' does not exist",
                 options.config.string());
  const fs::path rounds_dir = options.work / "rounds";
  std::error_code error;
  fs::remove_all(rounds_dir, error);
  fs::create_directories(rounds_dir, error);
  ANNBENCH_CHECK(!error, "A/B check: cannot create '{}': {}", rounds_dir.string(), error.message());
  std::vector<std::vector<RunRecord>> base_rounds(options.rounds), candidate_rounds(options.rounds);
  for (int round = 0; round < options.rounds; ++round) {
    // Alternate the order so that a drift of the machine's speed within a round (thermal,
    // a neighbour's load) falls on both builds alike.
    const bool base_first = round % 2 == 0;
    std::string progress = fmt::format("A/B round {}/{}:", round + 1, options.rounds);
    for (int turn = 0; turn < 2; ++turn) {
      const bool is_base = (turn == 0) == base_first;
      const char* side = is_base ? "base" : "candidate";
      const fs::path results = rounds_dir / std::to_string(round) / side;
      const fs::path log = rounds_dir / fmt::format("{}-{}.log", round, side);
      std::vector<std::string> argv = {(is_base ? base_annbench : candidate_annbench).string(),
                                       "run",
                                       options.config.string(),
                                       "--results",
                                       results.string(),
                                       "--quiet"};
      argv.insert(argv.end(), options.run_args.begin(), options.run_args.end());
      const auto start = std::chrono::steady_clock::now();
      run_logged(argv, log, fmt::format("the {} build's sweep (round {})", side, round + 1));
      progress += fmt::format(
          " {} {:.1f} s", side,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      (is_base ? base_rounds : candidate_rounds)[round] = read_runs(results);
    }
    if (!options.quiet) fmt::print("{}\n", progress);
  }
  return judge_ab(base_rounds, candidate_rounds, options);
}

std::string format_ab_report(const AbReport& report, const AbOptions& options) {
  std::string text =
      "| algorithm | runs | base QPS | candidate QPS | change | p (slower) | verdict |\n"
      "|---|---:|---:|---:|---:|---:|---|\n";
  std::size_t flagged = 0;
  for (const auto& v : report.verdicts) {
    const bool slower = v.p_slower <= report.alpha_per_algorithm && v.change < -options.min_effect;
    const bool faster = v.p_faster <= report.alpha_per_algorithm && v.change > options.min_effect;
    std::string verdict = "no significant change";
    if (v.flagged) {
      verdict = "SLOWER";
      ++flagged;
    } else if (slower) {
      verdict = "slower (peer: a yardstick, not gated)";
    } else if (faster) {
      verdict = "faster";
    }
    auto qps = [](double value) {
      return value >= 100 ? fmt::format("{:.0f}", value) : fmt::format("{:.3g}", value);
    };
    text += fmt::format("| {}{} | {} | {} | {} | {:+.1f}% | {:.3g} | {} |\n", v.algorithm,
                        v.peer ? " (peer)" : "", v.runs, qps(median(v.base)),
                        qps(median(v.candidate)), 100 * v.change, v.p_slower, verdict);
  }
  for (const auto& line : report.recall_changes) text += "recall moved: " + line + "\n";
  for (const auto& line : report.renamed) text += "renamed, compared as one run: " + line + "\n";
  const std::size_t shown = std::min<std::size_t>(report.unmatched.size(), 10);
  for (std::size_t i = 0; i < shown; ++i) text += "not compared: " + report.unmatched[i] + "\n";
  if (report.unmatched.size() > shown)
    text += fmt::format("not compared: {} more runs\n", report.unmatched.size() - shown);
  const std::size_t rounds = report.verdicts.empty() ? 0 : report.verdicts.front().base.size();
  // The smallest one-sided p an exact test over r + r values can give is 1 / C(2r, r).
  double smallest_p = 1;
  for (std::size_t i = 1; i <= rounds; ++i)
    smallest_p *= static_cast<double>(i) / static_cast<double>(rounds + i);
  if (rounds > 0 && smallest_p > report.alpha_per_algorithm) {
    text += fmt::format(
        "WARNING: with {} rounds the smallest p-value is {:.3g}, above the per-algorithm level "
        "{:.3g}: nothing can be flagged; use more --rounds\n",
        rounds, smallest_p, report.alpha_per_algorithm);
  }
  text += fmt::format(
      "{}: {} algorithms over {} interleaved rounds; flagged when slower with one-sided "
      "Mann-Whitney p <= {:.3g} ({} / {} algorithms of ours) and by more than {:.0f}% (median of "
      "per-round geometric-mean QPS); peers are reported, not gated{}\n",
      report.passed() ? "PASS" : fmt::format("FAIL ({} slower)", flagged), report.verdicts.size(),
      rounds, report.alpha_per_algorithm, options.alpha,
      std::lround(options.alpha / report.alpha_per_algorithm), 100 * options.min_effect,
      report.verdicts.empty() ? "; NOTHING WAS COMPARED" : "");
  return text;
}

fs::path build_revision(const std::string& ref, const fs::path& source, const fs::path& work,
                        bool quiet) {
  const auto git = find_program("git");
  const auto cmake = find_program("cmake");
  ANNBENCH_CHECK(git && cmake,
                 "A/B check: building a revision needs git and cmake on this machine");
  const std::string& git_path = *git;
  const std::string& cmake_path = *cmake;
  std::error_code error;
  fs::create_directories(work, error);
  ANNBENCH_CHECK(!error, "A/B check: cannot create '{}': {}", work.string(), error.message());
  const fs::path log = work / "build.log";
  fs::remove(log, error);
  const std::string commit = first_line_of(
      {git_path, "-C", source.string(), "rev-parse", "--verify", "--quiet", ref + "^{commit}"},
      work / "rev-parse.out",
      fmt::format("resolving '{}' in the repository at {}", ref, source.string()));
  ANNBENCH_CHECK(commit.size() == 40, "A/B check: '{}' is not a commit of {}", ref,
                 source.string());
  const fs::path tree = work / "base-src";
  const fs::path build = work / "base-build";
  if (!fs::exists(tree / ".git")) {
    fs::remove_all(tree, error);
    run_logged({git_path, "-C", source.string(), "worktree", "add", "--detach", "--force",
                tree.string(), commit},
               log, fmt::format("git worktree add {} {}", tree.string(), commit));
  } else {
    run_logged({git_path, "-C", tree.string(), "checkout", "--detach", "--force", commit}, log,
               fmt::format("git checkout {} in {}", commit, tree.string()));
  }
  if (!quiet)
    fmt::print("A/B check: building {} ({}) in {}\n", ref, commit.substr(0, 12), build.string());
  const bool native = system_info().flags.find("-march=native") != std::string::npos;
  std::vector<std::string> configure = {cmake_path,
                                        "-S",
                                        tree.string(),
                                        "-B",
                                        build.string(),
                                        "-DCMAKE_BUILD_TYPE=Release",
                                        native ? "-DANNBENCH_NATIVE=ON" : "-DANNBENCH_NATIVE=OFF",
                                        "-DANNBENCH_BUILD_TESTS=OFF",
                                        "-DANNBENCH_BUILD_BENCHMARKS=OFF",
                                        "-DANNBENCH_WITH_CUDA=OFF"};
  if (find_program("ccache")) {
    configure.emplace_back("-DCMAKE_C_COMPILER_LAUNCHER=ccache");
    configure.emplace_back("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache");
  }
  const auto start = std::chrono::steady_clock::now();
  run_logged(configure, log, fmt::format("configuring {}", ref));
  const long jobs = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  run_logged(
      {cmake_path, "--build", build.string(), "--target", "annbench", "-j", std::to_string(jobs)},
      log, fmt::format("building {}", ref));
  fs::path executable = build / "bin" / "annbench";
  ANNBENCH_CHECK(fs::exists(executable), "A/B check: the build of {} made no {}", ref,
                 executable.string());
  if (!quiet) {
    fmt::print("A/B check: built {} in {:.0f} s\n", ref,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return executable;
}

}  // namespace annbench
