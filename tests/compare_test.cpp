// annbench compare on a hand-made results set: the CSV reader (quotes, escaped quotes, commas
// and newlines inside fields), the best-QPS-at-threshold rule, ratios, missing values, modes,
// and several rounds of one sweep combined by medians of within-round ratios.

#include "compare.h"
#include "csv.h"

#include <annbench/error.h>

#include <gtest/gtest.h>

#include <string>

namespace annbench {
namespace {

TEST(Csv, QuotedFieldsAndLineEnds) {
  const CsvTable table = parse_csv(
      "a,b,c\r\n"
      "1,\"x, \"\"quoted\"\"\",\"two\nlines\"\n"
      "2,,\n"
      "3\n");
  ASSERT_EQ(table.header, (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[0], (std::vector<std::string>{"1", "x, \"quoted\"", "two\nlines"}));
  EXPECT_EQ(table.rows[1], (std::vector<std::string>{"2", "", ""}));
  EXPECT_EQ(table.rows[2], (std::vector<std::string>{"3", "", ""}));  // short row padded
  EXPECT_EQ(table.column("c"), 2u);
  EXPECT_FALSE(table.column("d").has_value());
  EXPECT_THROW(parse_csv("a\n\"open\n"), Error);
  EXPECT_THROW(parse_csv("a,b\n1,2,3\n"), Error);
}

// Columns in summary.csv order (a subset suffices: the reader goes by name).
constexpr const char* kSummary =
    "dataset,count,algorithm,name,build_params,search_params,batch_mode,status,error,recall,qps\n"
    "d,10,base,r1,\"{\"\"M\"\":16}\",\"{\"\"ef\"\":10}\",0,ok,,0.91,1000\n"
    "d,10,base,r2,{},{},0,ok,,0.96,600\n"
    "d,10,base,r3,{},{},0,ok,,0.995,200\n"
    "d,10,fast,r1,{},{},0,ok,,0.93,3000\n"
    "d,10,fast,r2,{},{},0,ok,,0.95,2500\n"  // exactly at 0.95: counts (>=)
    "d,10,fast,r3,{},{},0,ok,,0.97,2600\n"  // faster at higher recall: best at 0.90 too
    "d,10,fast,r4,{},{},0,failed,\"boom, bad\",,\n"
    "d,10,slow,r1,{},{},0,ok,,0.85,9000\n"  // never reaches 0.90
    "d,10,base,b1,{},{},1,ok,,0.99,5000\n"  // batch mode: a table of its own
    "e,10,fast,r1,{},{},0,ok,,0.99,10\n";   // another dataset, no baseline there

TEST(Compare, BestQpsAtThresholdAndRatios) {
  const auto runs = compare_runs_from_csv(parse_csv(kSummary), "summary");
  ASSERT_EQ(runs.size(), 9u);  // the failed row is skipped
  std::vector<CompareRun> single_d;
  for (const auto& run : runs) {
    if (run.dataset == "d" && !run.batch) single_d.push_back(run);
  }
  const auto tables = compare_tables(single_d, "base", {0.90, 0.95, 0.99});
  ASSERT_EQ(tables.size(), 1u);
  const CompareTable& t = tables[0];
  ASSERT_EQ(t.algorithms, (std::vector<std::string>{"base", "fast", "slow"}));
  EXPECT_EQ(t.best_qps[0][0], 1000.0);
  EXPECT_EQ(t.best_qps[0][1], 600.0);
  EXPECT_EQ(t.best_qps[0][2], 200.0);
  EXPECT_EQ(t.best_qps[1][0], 3000.0);
  EXPECT_EQ(t.best_qps[1][1], 2600.0);
  EXPECT_FALSE(t.best_qps[1][2].has_value());
  EXPECT_FALSE(t.best_qps[2][0].has_value());
  EXPECT_DOUBLE_EQ(*t.ratio(1, 0), 3.0);
  EXPECT_DOUBLE_EQ(*t.ratio(1, 1), 2600.0 / 600.0);
  EXPECT_FALSE(t.ratio(1, 2).has_value());
  EXPECT_DOUBLE_EQ(*t.ratio(0, 2), 1.0);

  const std::string markdown = format_compare_markdown(t);
  EXPECT_NE(markdown.find("| fast | 3000 | 3.00 | 2600 | 4.33 | — | — |"), std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| slow | — | — | — | — | — | — |"), std::string::npos) << markdown;
}

TEST(Compare, GroupsByDatasetAndModeAndNeedsTheBaseline) {
  const auto runs = compare_runs_from_csv(parse_csv(kSummary), "summary");
  // Dataset e has no run of the baseline: a clear error rather than an empty table.
  EXPECT_THROW(compare_tables(runs, "base", {0.9}), Error);
  std::vector<CompareRun> batch;
  for (const auto& run : runs) {
    if (run.batch) batch.push_back(run);
  }
  const auto tables = compare_tables(batch, "base", {0.9});
  ASSERT_EQ(tables.size(), 1u);
  EXPECT_TRUE(tables[0].batch);
  EXPECT_EQ(tables[0].best_qps[0][0], 5000.0);
  EXPECT_THROW(compare_runs_from_csv(parse_csv("dataset,qps\nd,1\n"), "x"), Error);
}

// One round: the baseline at `base` QPS and "fast" at `fast` QPS, both at recall 0.95; "late"
// (when given) reaches 0.95 only in some rounds.
std::vector<CompareTable> round_of(double base, double fast, double late) {
  std::vector<CompareRun> runs = {{"d", 10, false, "base", 0.95, base},
                                  {"d", 10, false, "fast", 0.95, fast}};
  if (late > 0) runs.push_back({"d", 10, false, "late", 0.95, late});
  return compare_tables(runs, "base", {0.90, 0.99});
}

TEST(Compare, RoundsTakeTheMedianOfWithinRoundRatios) {
  // The machine runs at full speed, half speed and 0.8 speed: QPS moves, the ratio barely.
  const std::vector<std::vector<CompareTable>> rounds = {
      round_of(1000, 3000, 500), round_of(500, 1600, 0), round_of(800, 2000, 400)};
  const auto tables = combine_rounds(rounds);
  ASSERT_EQ(tables.size(), 1u);
  const RoundsTable& t = tables[0];
  EXPECT_EQ(t.rounds, 3u);
  ASSERT_EQ(t.algorithms, (std::vector<std::string>{"base", "fast", "late"}));
  const RoundsCell& fast = t.cells[1][0];
  EXPECT_DOUBLE_EQ(*fast.qps, 2000.0);  // median of 3000, 1600, 2000
  EXPECT_DOUBLE_EQ(*fast.ratio, 3.0);   // median of 3.0, 3.2, 2.5
  EXPECT_DOUBLE_EQ(fast.ratio_min, 2.5);
  EXPECT_DOUBLE_EQ(fast.ratio_max, 3.2);
  EXPECT_EQ(fast.ratio_rounds, 3u);
  // Two rounds only: the median of an even count is the mean of the middle two.
  const RoundsCell& late = t.cells[2][0];
  EXPECT_DOUBLE_EQ(*late.qps, 450.0);
  EXPECT_DOUBLE_EQ(*late.ratio, 0.5);
  EXPECT_EQ(late.ratio_rounds, 2u);
  // Nobody reaches 0.99.
  EXPECT_FALSE(t.cells[1][1].qps.has_value());
  EXPECT_FALSE(t.cells[1][1].ratio.has_value());

  const std::string markdown = format_rounds_markdown(t);
  EXPECT_NE(markdown.find("3 rounds"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("| fast | 2000 | 3.00 (2.50–3.20) | — | — |"), std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("| late | 450 | 0.50 (0.50–0.50) [2 of 3] | — | — |"), std::string::npos)
      << markdown;
}

TEST(Compare, RoundsMustShareBaselineAndThresholds) {
  std::vector<std::vector<CompareTable>> rounds = {round_of(1000, 3000, 0),
                                                   round_of(1000, 3000, 0)};
  rounds[1][0].thresholds = {0.5, 0.99};
  EXPECT_THROW(combine_rounds(rounds), Error);
}

}  // namespace
}  // namespace annbench
