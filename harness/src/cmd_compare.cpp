// annbench compare RESULTS... --baseline-algorithm NAME: QPS at recall thresholds, as Markdown
// (one results folder, or several rounds of one sweep).

#include "args.h"
#include "commands.h"
#include "compare.h"

#include <annbench/error.h>

#include <fmt/format.h>

#include <charconv>

namespace annbench {

namespace {

// More folders than this is a shell glob gone wrong, not a measurement plan.
constexpr std::size_t kMaxRounds = 1000;

std::vector<double> parse_thresholds(const std::string& text) {
  std::vector<double> thresholds;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    double value = 0;
    const auto [stop, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    ANNBENCH_CHECK(
        error == std::errc() && stop == part.data() + part.size() && value >= 0 && value <= 1,
        "annbench compare: --thresholds takes recalls in [0, 1] separated by commas; "
        "got '{}'",
        part);
    thresholds.push_back(value);
    start = end + 1;
  }
  return thresholds;
}

}  // namespace

int compare_command(const std::vector<std::string>& argv) {
  constexpr const char* kUsage =
      "annbench compare RESULTS [RESULTS...] --baseline-algorithm NAME [--dataset NAME]\n"
      "                 [--count K] [--thresholds 0.90,0.95,0.99] [--single|--batch]\n"
      "For each algorithm and recall threshold: the best QPS among its ok runs with recall >=\n"
      "the threshold (no interpolation), and its ratio to the baseline's best QPS there.\n"
      "Several RESULTS folders are rounds of one sweep (e.g. saved indexes searched again with\n"
      "`run --load-index DIR --results RESULTS-2`): each cell is then the median over rounds,\n"
      "and the ratio is taken within each round, with its lowest and highest value.";
  const Args args(argv, {"baseline-algorithm", "dataset", "count", "thresholds"},
                  {"single", "batch", "help"}, "annbench compare");
  if (args.flag("help")) {
    fmt::print("{}\n", kUsage);
    return 0;
  }
  args.expect_positionals(1, kMaxRounds, kUsage);
  const auto baseline = args.get("baseline-algorithm");
  ANNBENCH_CHECK(baseline.has_value(), "annbench compare: --baseline-algorithm is required\n{}",
                 kUsage);
  ANNBENCH_CHECK(!(args.flag("single") && args.flag("batch")),
                 "annbench compare: --single and --batch exclude each other");
  const auto thresholds = parse_thresholds(args.get_or("thresholds", "0.90,0.95,0.99"));
  const auto dataset = args.get("dataset");
  const long long count = args.get_int_or("count", 0);

  // One list of tables per results folder (round).
  std::vector<std::vector<CompareTable>> rounds;
  for (const auto& root : args.positionals()) {
    std::vector<CompareRun> runs;
    for (auto& run : read_compare_runs(root)) {
      if (dataset && run.dataset != *dataset) continue;
      if (count != 0 && run.count != count) continue;
      // Single-query mode unless --batch: the two modes are not comparable with each other.
      if (run.batch != args.flag("batch")) continue;
      runs.push_back(std::move(run));
    }
    ANNBENCH_CHECK(!runs.empty(), "annbench compare: no ok runs match under '{}'", root);
    rounds.push_back(compare_tables(runs, *baseline, thresholds));
  }
  if (rounds.size() == 1) {
    for (const auto& table : rounds.front()) fmt::print("{}\n", format_compare_markdown(table));
  } else {
    for (const auto& table : combine_rounds(rounds)) {
      fmt::print("{}\n", format_rounds_markdown(table));
    }
  }
  return 0;
}

}  // namespace annbench
