// Best QPS at recall thresholds and ratios to a baseline (see compare.h for the rule).

#include "compare.h"

#include <annbench/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <tuple>

namespace annbench {

namespace fs = std::filesystem;

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::string format_qps(double qps) {
  // Whole numbers where they are large; three significant digits for slow exact methods.
  return qps >= 100 ? fmt::format("{:.0f}", qps) : fmt::format("{:.3g}", qps);
}

// The column header rows: the algorithm, then QPS and ratio per threshold.
std::string header_rows(const std::vector<double>& thresholds) {
  std::string out = "| algorithm |";
  for (const double t : thresholds) out += fmt::format(" QPS @ {:.2f} | × base |", t);
  out += "\n|---|";
  for (std::size_t t = 0; t < thresholds.size(); ++t) out += "---:|---:|";
  return out + '\n';
}

double parse_number(const std::string& text, std::string_view what, std::string_view column) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  ANNBENCH_CHECK(error == std::errc() && end == text.data() + text.size(),
                 "{}: column '{}' holds '{}', not a number", what, column, text);
  return value;
}

}  // namespace

std::optional<double> CompareTable::ratio(std::size_t algorithm, std::size_t threshold) const {
  const auto& mine = best_qps.at(algorithm).at(threshold);
  const auto& base = best_qps.at(0).at(threshold);
  if (!mine || !base || *base <= 0) return std::nullopt;
  return *mine / *base;
}

std::vector<CompareRun> compare_runs_from_csv(const CsvTable& table, std::string_view what) {
  std::vector<std::size_t> at;
  for (const char* name :
       {"dataset", "count", "algorithm", "batch_mode", "status", "recall", "qps"}) {
    const auto index = table.column(name);
    ANNBENCH_CHECK(index.has_value(), "{}: no column '{}' (not an annbench summary.csv?)", what,
                   name);
    at.push_back(*index);
  }
  std::vector<CompareRun> runs;
  for (const auto& row : table.rows) {
    if (row[at[4]] != "ok") continue;
    CompareRun run;
    run.dataset = row[at[0]];
    run.count = static_cast<long long>(parse_number(row[at[1]], what, "count"));
    run.algorithm = row[at[2]];
    run.batch = row[at[3]] == "1";
    run.recall = parse_number(row[at[5]], what, "recall");
    run.qps = parse_number(row[at[6]], what, "qps");
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<CompareRun> read_compare_runs(const fs::path& root) {
  std::vector<fs::path> files;
  if (fs::is_regular_file(root)) {
    files.push_back(root);
  } else {
    ANNBENCH_CHECK(fs::is_directory(root), "annbench compare: '{}' is not a results folder",
                   root.string());
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_regular_file() && entry.path().filename() == "summary.csv")
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  }
  ANNBENCH_CHECK(!files.empty(), "annbench compare: no summary.csv under '{}'", root.string());
  std::vector<CompareRun> runs;
  for (const auto& file : files) {
    auto more = compare_runs_from_csv(read_csv(file), file.string());
    runs.insert(runs.end(), more.begin(), more.end());
  }
  return runs;
}

std::vector<CompareTable> compare_tables(const std::vector<CompareRun>& runs,
                                         const std::string& baseline,
                                         const std::vector<double>& thresholds) {
  using Key = std::tuple<std::string, long long, bool>;
  std::map<Key, std::map<std::string, std::vector<const CompareRun*>>> groups;
  for (const auto& run : runs) {
    groups[{run.dataset, run.count, run.batch}][run.algorithm].push_back(&run);
  }
  std::vector<CompareTable> tables;
  for (const auto& [key, by_algorithm] : groups) {
    CompareTable table;
    std::tie(table.dataset, table.count, table.batch) = key;
    table.baseline = baseline;
    table.thresholds = thresholds;
    if (by_algorithm.count(baseline) == 0) {
      std::string names;
      for (const auto& [name, unused] : by_algorithm) names += (names.empty() ? "" : ", ") + name;
      ANNBENCH_FAIL("annbench compare: baseline '{}' has no ok run on {} (k={}, {}); found: {}",
                    baseline, table.dataset, table.count, table.batch ? "batch" : "single", names);
    }
    table.algorithms.push_back(baseline);
    for (const auto& [name, unused] : by_algorithm) {
      if (name != baseline) table.algorithms.push_back(name);
    }
    for (const auto& name : table.algorithms) {
      std::vector<std::optional<double>> row(thresholds.size());
      for (std::size_t t = 0; t < thresholds.size(); ++t) {
        for (const CompareRun* run : by_algorithm.at(name)) {
          if (run->recall >= thresholds[t] && (!row[t] || run->qps > *row[t])) row[t] = run->qps;
        }
      }
      table.best_qps.push_back(std::move(row));
    }
    tables.push_back(std::move(table));
  }
  return tables;
}

std::string format_compare_markdown(const CompareTable& table) {
  std::string out = fmt::format(
      "{} (k={}, {} mode): best QPS at recall >= threshold, and ratio "
      "to {}\n\n",
      table.dataset, table.count, table.batch ? "batch" : "single-query", table.baseline);
  out += header_rows(table.thresholds);
  for (std::size_t a = 0; a < table.algorithms.size(); ++a) {
    out += fmt::format("| {} |", table.algorithms[a]);
    for (std::size_t t = 0; t < table.thresholds.size(); ++t) {
      const auto& qps = table.best_qps[a][t];
      const auto ratio = table.ratio(a, t);
      out += qps ? fmt::format(" {} |", format_qps(*qps)) : std::string(" — |");
      out += ratio ? fmt::format(" {:.2f} |", *ratio) : std::string(" — |");
    }
    out += '\n';
  }
  return out;
}

std::vector<RoundsTable> combine_rounds(const std::vector<std::vector<CompareTable>>& rounds) {
  using Key = std::tuple<std::string, long long, bool>;
  std::map<Key, std::vector<const CompareTable*>> groups;
  for (const auto& tables : rounds) {
    for (const auto& table : tables)
      groups[{table.dataset, table.count, table.batch}].push_back(&table);
  }
  std::vector<RoundsTable> out;
  for (const auto& [key, tables] : groups) {
    RoundsTable combined;
    std::tie(combined.dataset, combined.count, combined.batch) = key;
    combined.baseline = tables.front()->baseline;
    combined.thresholds = tables.front()->thresholds;
    combined.rounds = tables.size();
    std::set<std::string> others;
    for (const CompareTable* table : tables) {
      ANNBENCH_CHECK(
          table->baseline == combined.baseline && table->thresholds == combined.thresholds,
          "annbench compare: rounds of {} differ in baseline or thresholds", combined.dataset);
      for (const auto& name : table->algorithms) {
        if (name != combined.baseline) others.insert(name);
      }
    }
    combined.algorithms.push_back(combined.baseline);
    combined.algorithms.insert(combined.algorithms.end(), others.begin(), others.end());
    for (const auto& name : combined.algorithms) {
      std::vector<RoundsCell> row(combined.thresholds.size());
      for (std::size_t t = 0; t < combined.thresholds.size(); ++t) {
        std::vector<double> qps, ratios;
        for (const CompareTable* table : tables) {
          const auto at = std::find(table->algorithms.begin(), table->algorithms.end(), name);
          if (at == table->algorithms.end()) continue;
          const auto a = static_cast<std::size_t>(at - table->algorithms.begin());
          if (const auto& best = table->best_qps[a][t]) qps.push_back(*best);
          if (const auto ratio = table->ratio(a, t)) ratios.push_back(*ratio);
        }
        RoundsCell& cell = row[t];
        if (!qps.empty()) cell.qps = median(qps);
        if (!ratios.empty()) {
          cell.ratio = median(ratios);
          cell.ratio_min = *std::min_element(ratios.begin(), ratios.end());
          cell.ratio_max = *std::max_element(ratios.begin(), ratios.end());
          cell.ratio_rounds = ratios.size();
        }
      }
      combined.cells.push_back(std::move(row));
    }
    out.push_back(std::move(combined));
  }
  return out;
}

std::string format_rounds_markdown(const RoundsTable& table) {
  std::string out = fmt::format(
      "{} (k={}, {} mode), {} rounds: median best QPS at recall >= threshold, and median "
      "(lowest–highest) of the ratio to {} within each round\n\n",
      table.dataset, table.count, table.batch ? "batch" : "single-query", table.rounds,
      table.baseline);
  out += header_rows(table.thresholds);
  for (std::size_t a = 0; a < table.algorithms.size(); ++a) {
    out += fmt::format("| {} |", table.algorithms[a]);
    for (const RoundsCell& cell : table.cells[a]) {
      out += cell.qps ? fmt::format(" {} |", format_qps(*cell.qps)) : std::string(" — |");
      if (!cell.ratio) {
        out += " — |";
        continue;
      }
      out += fmt::format(" {:.2f} ({:.2f}–{:.2f})", *cell.ratio, cell.ratio_min, cell.ratio_max);
      if (cell.ratio_rounds < table.rounds)
        out += fmt::format(" [{} of {}]", cell.ratio_rounds, table.rounds);
      out += " |";
    }
    out += '\n';
  }
  return out;
}

}  // namespace annbench
