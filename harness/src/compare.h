#pragma once
// `annbench compare`: QPS of each algorithm at recall thresholds, relative to a baseline.
//
// Rule (no interpolation): an algorithm's figure at threshold t is the highest QPS among its runs
// whose recall is >= t; it has none when no run reaches t. The ratio is that figure over the
// baseline algorithm's figure at the same t, and is missing when either is missing.

#include "csv.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace annbench {

// One successful run, as far as the comparison needs it.
struct CompareRun {
  std::string dataset;
  long long count = 0;  // k
  bool batch = false;
  std::string algorithm;
  double recall = 0;
  double qps = 0;
};

// What a table compares: one (dataset, k, mode) group, its baseline, thresholds and rows.
struct CompareHeading {
  std::string dataset;
  long long count = 0;
  bool batch = false;
  std::string baseline;
  std::vector<double> thresholds;
  std::vector<std::string> algorithms;  // baseline first, then by name
};

struct CompareTable : CompareHeading {
  // best_qps[a][t]: algorithm a's best QPS at recall >= thresholds[t].
  std::vector<std::vector<std::optional<double>>> best_qps;

  std::optional<double> ratio(std::size_t algorithm, std::size_t threshold) const;
};

// The ok rows of summary.csv tables (rows with status other than ok are skipped).
std::vector<CompareRun> compare_runs_from_csv(const CsvTable& table, std::string_view what);

// Every summary.csv under root (or root itself when it is a file).
std::vector<CompareRun> read_compare_runs(const std::filesystem::path& root);

// One table per (dataset, k, mode) present in runs. Throws when the baseline has no run in a
// group that has runs, listing the algorithms there.
std::vector<CompareTable> compare_tables(const std::vector<CompareRun>& runs,
                                         const std::string& baseline,
                                         const std::vector<double>& thresholds);

// A Markdown table; missing values are "—".
std::string format_compare_markdown(const CompareTable& table);

// Several rounds of one sweep (a results folder each, e.g. the same saved indexes searched again
// with --load-index). A shared machine's speed drifts by tens of per cent over minutes, moving
// whole stretches of a sweep; the ratio between algorithms measured in one round is what
// repeats. Per cell: the median over rounds of the best QPS, and the median, lowest and highest
// of the ratio to the baseline taken within each round.
struct RoundsCell {
  std::optional<double> qps;    // median over the rounds that reach the threshold
  std::optional<double> ratio;  // median of the per-round ratios
  double ratio_min = 0, ratio_max = 0;
  std::size_t ratio_rounds = 0;  // rounds in which both reach the threshold
};

struct RoundsTable : CompareHeading {
  std::size_t rounds = 0;                      // rounds holding this (dataset, k, mode)
  std::vector<std::vector<RoundsCell>> cells;  // [algorithm][threshold]
};

// rounds[r]: compare_tables() of round r, all with the same baseline and thresholds.
std::vector<RoundsTable> combine_rounds(const std::vector<std::vector<CompareTable>>& rounds);

// A Markdown table: "QPS | ratio (lowest–highest)"; a ratio seen in fewer rounds than the
// table has says in how many.
std::string format_rounds_markdown(const RoundsTable& table);

}  // namespace annbench
