// Range search: bruteforce and ivf-flat against a naive scan on every metric
// (boundary ties, empty results, bad radii), the exact range ground truth, big-ann-benchmarks'
// range recall and AP on cases computed by hand, and a range sweep through the annbench binary.

#include "metrics.h"
#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace annbench {
namespace {

using ::testing::HasSubstr;
using testing::random_matrix;
using testing::tied_matrix;
namespace fs = std::filesystem;

constexpr Metric kAllMetrics[] = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleRegistry& registry() {
  static const ModuleRegistry instance({ANNBENCH_TEST_MODULE_DIR});
  return instance;
}

std::unique_ptr<Index> make(const std::string& module, Metric metric, std::size_t dim,
                            const Params& build) {
  const ModuleInfo& info = *registry().get(module).info;
  return info.create(metric, dim, resolve_params(build, info.build_params, module, "build"));
}

void set_search(Index& index, const std::string& module, const Params& search) {
  const ModuleInfo& info = *registry().get(module).info;
  index.set_search_params(resolve_params(search, info.search_params, module, "search"));
}

Params ivf_build(std::int64_t nlist) {
  Params p;
  p.set("nlist", nlist);
  return p;
}

Params ivf_search(std::int64_t nprobe) {
  Params p;
  p.set("nprobe", nprobe);
  return p;
}

// The definition: every point with exact_distance <= radius (in double), by id.
std::vector<Neighbor> naive_range(MatrixView base, const float* query, Metric metric,
                                  float radius) {
  std::vector<Neighbor> out;
  for (std::size_t i = 0; i < base.rows; ++i) {
    const double d = exact_distance(metric, query, base.row(i), base.dim);
    if (d <= static_cast<double>(radius))
      out.push_back({static_cast<std::int64_t>(i), static_cast<float>(d)});
  }
  return out;
}

std::vector<Neighbor> sorted_by_id(std::vector<Neighbor> found) {
  std::sort(found.begin(), found.end(),
            [](const Neighbor& a, const Neighbor& b) { return a.id < b.id; });
  return found;
}

void expect_same(const std::vector<Neighbor>& got, const std::vector<Neighbor>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].id, want[i].id) << what << " entry " << i;
    EXPECT_EQ(got[i].distance, want[i].distance) << what << " entry " << i;
  }
}

// A radius that lands exactly on distances that many points share: small-integer data has exact
// distances 3 (euclidean: squared distance 9), 1 (angular: orthogonal vectors) and -3 (dot).
float tie_radius(Metric metric) {
  switch (metric) {
    case Metric::L2: return 3.0f;
    case Metric::Angular: return 1.0f;
    case Metric::InnerProduct: return -3.0f;
  }
  return 0.0f;
}

// Radius giving a few tens of results per query on standard normal data.
float typical_radius(Metric metric, std::size_t dim) {
  switch (metric) {
    case Metric::L2: return static_cast<float>(std::sqrt(2.0 * static_cast<double>(dim)) * 0.8);
    case Metric::Angular: return 0.7f;
    case Metric::InnerProduct: return -6.0f;
  }
  return 0.0f;
}

struct Case {
  std::string name;
  FloatMatrix base, queries;
  float radius;
};

std::vector<Case> cases(Metric metric) {
  std::vector<Case> all;
  all.push_back(
      {"random", random_matrix(600, 12, 7), random_matrix(25, 12, 8), typical_radius(metric, 12)});
  // Repeated rows and boundary ties; the queries are rows of the same kind.
  all.push_back(
      {"ties", tied_matrix(500, 6, 40, 9), tied_matrix(25, 6, 40, 10), tie_radius(metric)});
  return all;
}

TEST(RangeSearch, ModulesDeclareTheCapability) {
  for (const char* name : {"bruteforce", "ivf-flat"}) {
    EXPECT_NE(registry().get(name).info->capabilities & kCapRangeSearch, 0u) << name;
  }
}

TEST(RangeSearch, BruteForceEqualsNaiveScanOnEveryMetricWithBoundaryTies) {
  for (Metric metric : kAllMetrics) {
    for (const Case& c : cases(metric)) {
      const std::string what = fmt::format("{} {}", metric_name(metric), c.name);
      auto index = make("bruteforce", metric, c.base.cols(), {});
      index->build(c.base.view());
      std::size_t found = 0, on_boundary = 0;
      for (std::size_t q = 0; q < c.queries.rows(); ++q) {
        std::vector<Neighbor> got{{-7, 0.0f}};  // appended to, not cleared
        index->range_search(c.queries.row(q), c.radius, got);
        ASSERT_EQ(got.front().id, -7) << what;
        got.erase(got.begin());
        const auto want = naive_range(c.base.view(), c.queries.row(q), metric, c.radius);
        expect_same(sorted_by_id(got), want, what);
        found += want.size();
        for (const auto& n : want) on_boundary += n.distance == c.radius;
      }
      EXPECT_GT(found, c.queries.rows()) << what;  // not vacuous
      if (c.name == "ties") {
        EXPECT_GT(on_boundary, 0u) << what << ": no tie on the radius";
      }
    }
  }
}

TEST(RangeSearch, GroundTruthEqualsNaiveScanSortedByDistance) {
  for (Metric metric : kAllMetrics) {
    for (const Case& c : cases(metric)) {
      const std::string what = fmt::format("{} {}", metric_name(metric), c.name);
      const RangeGroundTruth truth =
          compute_range_ground_truth(c.base.view(), c.queries.view(), metric, c.radius);
      ASSERT_EQ(truth.queries(), c.queries.rows());
      EXPECT_EQ(truth.radius, static_cast<double>(c.radius));
      for (std::size_t q = 0; q < c.queries.rows(); ++q) {
        auto want = naive_range(c.base.view(), c.queries.row(q), metric, c.radius);
        std::sort(want.begin(), want.end(), [](const Neighbor& a, const Neighbor& b) {
          return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
        });
        std::vector<Neighbor> got;
        for (std::size_t i = truth.lims[q]; i < truth.lims[q + 1]; ++i)
          got.push_back({truth.ids[i], truth.distances[i]});
        expect_same(got, want, what);
      }
    }
  }
}

TEST(RangeSearch, IvfFlatIsExactWithEveryListAndNeverReturnsOutsiders) {
  for (Metric metric : kAllMetrics) {
    for (const Case& c : cases(metric)) {
      const std::string what = fmt::format("{} {}", metric_name(metric), c.name);
      auto index = make("ivf-flat", metric, c.base.cols(), ivf_build(16));
      index->build(c.base.view());
      std::size_t partial = 0, total = 0;
      for (std::int64_t nprobe : {16, 2}) {
        set_search(*index, "ivf-flat", ivf_search(nprobe));
        for (std::size_t q = 0; q < c.queries.rows(); ++q) {
          std::vector<Neighbor> got;
          index->range_search(c.queries.row(q), c.radius, got);
          got = sorted_by_id(got);
          const auto want = naive_range(c.base.view(), c.queries.row(q), metric, c.radius);
          if (nprobe == 16) {
            expect_same(got, want, what);
            total += want.size();
            continue;
          }
          // Fewer lists: a subset of the truth, with exact distances.
          partial += got.size();
          for (const Neighbor& n : got) {
            const auto at = std::find_if(want.begin(), want.end(),
                                         [&](const Neighbor& w) { return w.id == n.id; });
            ASSERT_NE(at, want.end()) << what << ": id " << n.id << " is outside the radius";
            EXPECT_EQ(at->distance, n.distance) << what;
          }
        }
      }
      EXPECT_LE(partial, total) << what;
    }
  }
}

TEST(RangeSearch, EmptyResultsAndBadRadii) {
  const FloatMatrix base = random_matrix(300, 8, 21);
  const FloatMatrix queries = random_matrix(5, 8, 22);
  for (Metric metric : kAllMetrics) {
    for (const char* module : {"bruteforce", "ivf-flat"}) {
      const std::string what = fmt::format("{} {}", module, metric_name(metric));
      auto index =
          make(module, metric, 8, std::string(module) == "ivf-flat" ? ivf_build(8) : Params{});
      index->build(base.view());
      if (std::string(module) == "ivf-flat") set_search(*index, module, ivf_search(8));
      // Far below any distance in this metric: nothing found.
      const float nothing = metric == Metric::InnerProduct ? -1e6f : -0.5f;
      const float everything = 1e6f;
      std::vector<Neighbor> out;
      index->range_search(queries.row(0), nothing, out);
      EXPECT_TRUE(out.empty()) << what;
      index->range_search(queries.row(0), everything, out);
      EXPECT_EQ(out.size(), base.rows()) << what;
      out.clear();
      index->range_search(queries.row(1), std::numeric_limits<float>::infinity(), out);
      EXPECT_EQ(out.size(), base.rows()) << what;
      EXPECT_THAT([&] { index->range_search(queries.row(0), std::nanf(""), out); },
                  ::testing::ThrowsMessage<Error>(HasSubstr("NaN")))
          << what;
    }
  }
  // Every query at radius 0 finds its duplicates in the base, and only them.
  const FloatMatrix tied = tied_matrix(200, 5, 10, 23);
  auto index = make("bruteforce", Metric::L2, 5, {});
  index->build(tied.view());
  std::vector<Neighbor> out;
  index->range_search(tied.row(0), 0.0f, out);
  const auto want = naive_range(tied.view(), tied.row(0), Metric::L2, 0.0f);
  EXPECT_GT(want.size(), 1u);
  expect_same(sorted_by_id(out), want, "radius 0");
}

TEST(RangeSearch, ModulesWithoutTheCapabilityThrowANamedError) {
  auto index = make("hnsw", Metric::L2, 4, {});
  const FloatMatrix base = random_matrix(50, 4, 3);
  index->build(base.view());
  EXPECT_EQ(registry().get("hnsw").info->capabilities & kCapRangeSearch, 0u);
  std::vector<Neighbor> out;
  EXPECT_THROW(index->range_search(base.row(0), 1.0f, out), Error);
}

// ---------------------------------------------------------------- range recall and AP

struct Csr {
  std::vector<std::size_t> lims{0};
  std::vector<std::int32_t> ids;
  std::vector<float> distances;
  void add(std::vector<std::pair<std::int32_t, float>> query) {
    for (const auto& [id, d] : query) {
      ids.push_back(id);
      distances.push_back(d);
    }
    lims.push_back(ids.size());
  }
};

RangeQuality quality(const Csr& truth, const Csr& run) {
  return compute_range_quality(truth.lims, truth.ids, run.lims, run.ids, run.distances);
}

TEST(RangeMetrics, MixedHitsAndFalsePositivesByHand) {
  // Query 0: truth {1, 2, 3}; returned 1 (0.1), 9 (0.2, wrong), 2 (0.3), 4 (0.9, wrong), in
  // scrambled order. Query 1: nothing true, nothing returned.
  Csr truth, run;
  truth.add({{3, 0.f}, {1, 0.f}, {2, 0.f}});
  truth.add({});
  run.add({{4, 0.9f}, {2, 0.3f}, {1, 0.1f}, {9, 0.2f}});
  run.add({});
  const RangeQuality q = quality(truth, run);
  // Recall: 2 of the 3 true ids were returned.
  EXPECT_DOUBLE_EQ(q.recall, 2.0 / 3.0);
  // Thresholds t_i = -0.001 + i * 0.901 / 99 count results with distance < t_i:
  //   i <= 11: none (P 1, R 0);  12..22: {1} (P 1, R 1/3);  23..33: {1, 9} (P 1/2, R 1/3);
  //   34..99: {1, 9, 2} (P 2/3, R 2/3); 0.9 is never below a threshold (t_99 = 0.9 itself).
  // Trapezoids: 1/3 * (1 + 1) / 2 + 1/3 * (1/2 + 2/3) / 2 = 1/3 + 7/36 = 19/36.
  EXPECT_NEAR(q.average_precision, 19.0 / 36.0, 1e-12);
  EXPECT_EQ(q.results, 4u);
  EXPECT_EQ(q.duplicate_ids, 0u);
}

TEST(RangeMetrics, PerfectResultsScoreRecallOneButTheFarthestAreLeftOutOfAp) {
  // big-ann-benchmarks' last threshold is the largest returned distance and counts d < t, so
  // results at that distance never enter the curve: here only id 1 (0.5) does.
  Csr truth, run;
  truth.add({{1, 0.5f}, {2, 1.0f}});
  truth.add({{3, 1.0f}});
  run.add({{1, 0.5f}, {2, 1.0f}});
  run.add({{3, 1.0f}});
  const RangeQuality q = quality(truth, run);
  EXPECT_DOUBLE_EQ(q.recall, 1.0);
  // R steps 0 -> 1/3 at precision 1: AP = 1/3.
  EXPECT_NEAR(q.average_precision, 1.0 / 3.0, 1e-12);
}

TEST(RangeMetrics, EmptyCases) {
  Csr none, run;
  none.add({});
  none.add({});
  run.add({});
  run.add({});
  // Nothing true, nothing returned: recall 1 (counts_to_PR), AP 0 (compute_AP: no results).
  RangeQuality q = quality(none, run);
  EXPECT_DOUBLE_EQ(q.recall, 1.0);
  EXPECT_DOUBLE_EQ(q.average_precision, 0.0);
  // Something true, nothing returned: recall 0, AP 0.
  Csr truth;
  truth.add({{5, 0.2f}});
  truth.add({});
  q = quality(truth, run);
  EXPECT_DOUBLE_EQ(q.recall, 0.0);
  EXPECT_DOUBLE_EQ(q.average_precision, 0.0);
  // Nothing true, something returned: recall 0; the curve falls from (R 1, P 1) to (R 0, P 0)
  // once d = 0.25 is below the threshold, a trapezoid of -1 * (0 + 1) / 2.
  Csr wrong;
  wrong.add({{7, 0.25f}, {8, 0.5f}});
  wrong.add({});
  q = quality(none, wrong);
  EXPECT_DOUBLE_EQ(q.recall, 0.0);
  EXPECT_NEAR(q.average_precision, -0.5, 1e-12);
}

TEST(RangeMetrics, RepeatedIdsCountOnce) {
  Csr truth, run;
  truth.add({{1, 0.2f}, {2, 0.4f}});
  run.add({{1, 0.2f}, {1, 0.2f}, {2, 0.4f}, {6, 0.8f}});
  const RangeQuality q = quality(truth, run);
  EXPECT_DOUBLE_EQ(q.recall, 1.0);
  EXPECT_EQ(q.duplicate_ids, 1u);
  // Results below t_i = -0.001 + i * 0.801 / 99: i <= 24 none; 25..49: both copies of 1 (1 hit
  // of 2 results: P 1/2, R 1/2); 50..99: plus 2 (2 of 3: P 2/3, R 1). AP = 1/2 * (1 + 1/2) / 2 +
  // 1/2 * (1/2 + 2/3) / 2.
  EXPECT_NEAR(q.average_precision, 0.375 + 7.0 / 24.0, 1e-12);
}

TEST(RangeMetrics, MismatchedShapesAreErrors) {
  Csr truth, run;
  truth.add({{1, 0.f}});
  run.add({{1, 0.f}});
  run.add({});
  EXPECT_THROW(quality(truth, run), Error);
  Csr broken = truth;
  broken.ids.push_back(4);  // lims says one entry
  EXPECT_THROW(quality(broken, truth), Error);
}

// ---------------------------------------------------------------- the CLI

class RangeCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-rangetest-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::pair<int, std::string> annbench(const std::string& arguments) const {
    const std::string command =
        fmt::format("cd '{}' && '{}' {} 2>&1", dir_.string(), ANNBENCH_TEST_BINARY, arguments);
    std::string output;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {-1, ""};
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
  }

  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name) << text;
  }

  std::string read(const fs::path& relative) const {
    std::ifstream in(dir_ / relative);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  fs::path dir_;
};

// The summary.csv row of `algorithm` in `mode`, as column -> value (no quoted commas in these).
std::map<std::string, std::string> summary_row(const std::string& csv, const std::string& algorithm,
                                               const std::string& mode) {
  std::istringstream lines(csv);
  std::string header, line;
  std::getline(lines, header);
  auto split = [](const std::string& text) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char c : text) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) {
        fields.push_back(field);
        field.clear();
      } else {
        field += c;
      }
    }
    fields.push_back(field);
    return fields;
  };
  const auto names = split(header);
  while (std::getline(lines, line)) {
    const auto fields = split(line);
    std::map<std::string, std::string> row;
    for (std::size_t i = 0; i < names.size() && i < fields.size(); ++i) row[names[i]] = fields[i];
    if (row["algorithm"] == algorithm && row["mode"] == mode) return row;
  }
  return {};
}

TEST_F(RangeCliTest, RangeSweepEndToEnd) {
  ASSERT_EQ(annbench("dataset synthetic --n 400 --queries 30 --dim 4 --metric euclidean "
                     "--out s.hdf5")
                .first,
            0);
  // No range ground truth yet: a clear error naming the file and the command.
  write("range.yaml",
        "datasets: [s.hdf5]\nmode: range\nruns: 1\nbatch: true\nalgorithms:\n"
        "  - module: bruteforce\n"
        "  - module: ivf-flat\n    build: {nlist: 8}\n    search: {nprobe: [1, 8]}\n"
        "  - module: hnsw\n    build: {M: 8}\n");
  auto [code, output] = annbench("run range.yaml --results res");
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr("s.hdf5' has no range ground truth"));
  EXPECT_THAT(output, HasSubstr("annbench groundtruth"));

  // Bad radii are refused before anything is written.
  EXPECT_EQ(annbench("groundtruth s.hdf5 --range -1").first, 1);
  EXPECT_EQ(annbench("groundtruth s.hdf5 --range nan").first, 1);
  EXPECT_EQ(annbench("groundtruth s.hdf5 --range 1 --k 5").first, 1);
  std::tie(code, output) = annbench("groundtruth s.hdf5 --range 0.75");
  ASSERT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("radius 0.75"));

  // hnsw has no range search: its run fails naming it, the others finish (exit code 3).
  std::tie(code, output) = annbench("run range.yaml --results res");
  EXPECT_EQ(code, 3) << output;
  EXPECT_THAT(output, HasSubstr("module 'hnsw' does not support range search"));
  const std::string csv = read("res/s/summary.csv");
  const auto brute = summary_row(csv, "bruteforce", "range");
  ASSERT_FALSE(brute.empty()) << csv;
  EXPECT_EQ(brute.at("status"), "ok");
  EXPECT_EQ(brute.at("radius"), "0.75");
  EXPECT_EQ(brute.at("count"), "0");
  EXPECT_EQ(brute.at("range_recall"), "1");
  EXPECT_EQ(brute.at("recall"), "1");
  EXPECT_FALSE(brute.at("range_ap").empty());
  EXPECT_TRUE(fs::exists(dir_ / "res/s/range-0.75/bruteforce/default.hdf5"));
  EXPECT_TRUE(fs::exists(dir_ / "res/s/range-0.75/bruteforce-batch/default.hdf5"));
  EXPECT_EQ(summary_row(csv, "hnsw", "range").at("status"), "failed");
  EXPECT_THAT(csv, HasSubstr("nprobe_8"));

  // A knn sweep into the same folder keeps its own runs; re-running the range sweep skips all.
  write("knn.yaml", "datasets: [s.hdf5]\nk: 5\nruns: 1\nalgorithms:\n  - module: bruteforce\n");
  std::tie(code, output) = annbench("run knn.yaml --results res");
  ASSERT_EQ(code, 0) << output;
  std::tie(code, output) = annbench("run range.yaml --results res");
  EXPECT_THAT(output, HasSubstr("module 'hnsw'"));  // only the failed run is retried
  const std::string both = read("res/s/summary.csv");
  const auto knn = summary_row(both, "bruteforce", "knn");
  ASSERT_FALSE(knn.empty()) << both;
  EXPECT_EQ(knn.at("count"), "5");
  EXPECT_EQ(knn.at("range_recall"), "");
  EXPECT_EQ(knn.at("range_ap"), "");
  EXPECT_EQ(summary_row(both, "bruteforce", "range").at("range_recall"), "1");

  // `k` does not apply to range sweeps.
  write("bad.yaml",
        "datasets: [s.hdf5]\nmode: range\nk: 10\nalgorithms:\n  - module: bruteforce\n");
  std::tie(code, output) = annbench("run bad.yaml --results res");
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, HasSubstr("'k' does not apply to mode: range"));
  write("bad2.yaml", "datasets: [s.hdf5]\nmode: ranges\nalgorithms:\n  - module: bruteforce\n");
  std::tie(code, output) = annbench("run bad2.yaml --results res");
  EXPECT_EQ(code, 1);
  EXPECT_THAT(
      output,
      HasSubstr(
          "'mode' must be knn, range, streaming, concurrent, filtered or sharded, got 'ranges'"));
}

}  // namespace
}  // namespace annbench
