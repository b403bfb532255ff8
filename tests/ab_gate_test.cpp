// The A/B speed check: the Mann–Whitney test against exact and scipy reference values, the
// verdicts on synthetic rounds, and the whole check through the CLI with two builds of a fixture
// module, one of them three times slower.

#include "ab_gate.h"
#include "stats.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace annbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

TEST(MannWhitney, ExactPValues) {
  // Complete separation of 3 + 3 values: one arrangement of C(6, 3) = 20.
  const std::vector<double> low3 = {1, 2, 3}, high3 = {4, 5, 6};
  EXPECT_DOUBLE_EQ(mann_whitney_less(low3, high3), 1.0 / 20);
  EXPECT_DOUBLE_EQ(mann_whitney_less(high3, low3), 1.0);
  // 5 + 5, complete separation: 1 / C(10, 5).
  const std::vector<double> low5 = {1, 2, 3, 4, 5}, high5 = {6, 7, 8, 9, 10};
  EXPECT_DOUBLE_EQ(mann_whitney_less(low5, high5), 1.0 / 252);
  // U = 2 of 25 pairs: (1 + 1 + 2) / 252 arrangements have U <= 2 (scipy 1.10, method exact:
  // 0.015873015873015872).
  const std::vector<double> x = {1, 2, 3, 4, 5.5}, y = {3.5, 6, 7, 8, 9};
  EXPECT_NEAR(mann_whitney_less(x, y), 0.015873015873015872, 1e-12);
  // 2 + 2: U in {0, 1, 2, 2, 3, 4}; {1, 3} vs {2, 4} has U = 1.
  const std::vector<double> a = {1, 3}, b = {2, 4};
  EXPECT_DOUBLE_EQ(mann_whitney_less(a, b), 2.0 / 6);
}

TEST(MannWhitney, TiesUseTheNormalApproximation) {
  // scipy 1.10 mannwhitneyu(alternative='less', method='asymptotic'): 0.023266492537255292.
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {3, 6, 7, 8, 9};
  EXPECT_NEAR(mann_whitney_less(x, y), 0.023266492537255292, 1e-12);
  const std::vector<double> same = {2, 2, 2};
  EXPECT_DOUBLE_EQ(mann_whitney_less(same, same), 1.0);
  EXPECT_THROW(mann_whitney_less({}, same), Error);
}

TEST(MannWhitney, Median) {
  const std::vector<double> odd = {3, 1, 2}, even = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(median(odd), 2);
  EXPECT_DOUBLE_EQ(median(even), 2.5);
  EXPECT_TRUE(std::isnan(median({})));
}

RunRecord record(const std::string& algorithm, const std::string& slug, double qps,
                 double recall = 0.9, const std::string& library = "") {
  RunRecord r;
  r.dataset = "d";
  r.count = 10;
  r.algorithm = algorithm;
  r.slug = slug;
  r.ok = true;
  r.qps = qps;
  r.recall = recall;
  r.library = library;
  return r;
}

// Five rounds; `slowdown` scales the candidate's QPS of `algorithm`; a few percent of noise.
std::pair<std::vector<std::vector<RunRecord>>, std::vector<std::vector<RunRecord>>> rounds(
    double own_slowdown, double peer_slowdown) {
  const double noise[5] = {1.00, 0.97, 1.03, 0.99, 1.02};
  std::vector<std::vector<RunRecord>> base(5), candidate(5);
  for (int r = 0; r < 5; ++r) {
    const double n = noise[r], m = noise[4 - r];
    base[r].push_back(record("hnsw", "ef_10", 1000 * n));
    base[r].push_back(record("hnsw", "ef_40", 400 * n));
    base[r].push_back(record("hnswlib", "ef_10", 900 * n, 0.9, "hnswlib 0.6.2"));
    candidate[r].push_back(record("hnsw", "ef_10", 1000 * m * own_slowdown));
    candidate[r].push_back(record("hnsw", "ef_40", 400 * m * own_slowdown));
    candidate[r].push_back(
        record("hnswlib", "ef_10", 900 * m * peer_slowdown, 0.9, "hnswlib 0.6.2"));
  }
  return {std::move(base), std::move(candidate)};
}

TEST(AbJudge, SameSpeedPasses) {
  const auto [base, candidate] = rounds(1.0, 1.0);
  const AbReport report = judge_ab(base, candidate, {});
  EXPECT_TRUE(report.passed());
  ASSERT_EQ(report.verdicts.size(), 2u);
  EXPECT_EQ(report.verdicts[0].algorithm, "hnsw");
  EXPECT_EQ(report.verdicts[0].runs, 2u);
  EXPECT_NEAR(report.verdicts[0].change, 0.0, 1e-9);
  EXPECT_TRUE(report.verdicts[1].peer);
}

TEST(AbJudge, SlowerOwnModuleIsFlaggedPeerIsNot) {
  const auto [base, candidate] = rounds(0.7, 0.5);
  const AbOptions options;
  const AbReport report = judge_ab(base, candidate, options);
  EXPECT_FALSE(report.passed());
  EXPECT_TRUE(report.verdicts[0].flagged);
  EXPECT_NEAR(report.verdicts[0].change, -0.3, 1e-9);
  EXPECT_DOUBLE_EQ(report.verdicts[0].p_slower, 1.0 / 252);
  EXPECT_FALSE(report.verdicts[1].flagged);  // the peer is half as fast: reported only
  const std::string text = format_ab_report(report, options);
  EXPECT_THAT(text, HasSubstr("| hnsw | 2 |"));
  EXPECT_THAT(text, HasSubstr("SLOWER"));
  EXPECT_THAT(text, HasSubstr("hnswlib (peer)"));
  EXPECT_THAT(text, HasSubstr("slower (peer: a yardstick, not gated)"));
  EXPECT_THAT(text, HasSubstr("FAIL (1 slower)"));
}

TEST(AbJudge, SmallSlowdownBelowTheMinimumEffectPasses) {
  const auto [base, candidate] = rounds(0.95, 1.0);
  const AbReport report = judge_ab(base, candidate, {});
  EXPECT_LT(report.verdicts[0].p_slower, 0.05);  // significant, but only 5 %
  EXPECT_TRUE(report.passed());
}

TEST(AbJudge, RenamedRunsArePairedInNameOrderAndStillJudged) {
  auto [base, candidate] = rounds(1.0, 1.0);
  // The candidate's hnsw gained a parameter at its default: every hnsw run has a new name.
  for (auto& round : candidate) {
    for (auto& r : round) {
      if (r.algorithm == "hnsw") {
        r.slug = "alpha_1_" + r.slug;
        r.qps *= 0.7;
      }
    }
  }
  const AbReport report = judge_ab(base, candidate, {});
  EXPECT_TRUE(report.unmatched.empty());
  ASSERT_EQ(report.renamed.size(), 2u);
  EXPECT_EQ(report.renamed[0], "d/10/hnsw/ef_10 -> alpha_1_ef_10");
  EXPECT_EQ(report.renamed[1], "d/10/hnsw/ef_40 -> alpha_1_ef_40");
  ASSERT_EQ(report.verdicts[0].algorithm, "hnsw");
  EXPECT_EQ(report.verdicts[0].runs, 2u);
  EXPECT_TRUE(report.verdicts[0].flagged);  // the renamed module's slowdown is still caught
  EXPECT_THAT(format_ab_report(report, {}), HasSubstr("renamed, compared as one run: "));
}

TEST(AbJudge, RenamesThatDoNotPairUpStayUncompared) {
  auto [base, candidate] = rounds(1.0, 1.0);
  // The candidate dropped hnsw's ef 10 run and renamed ef 40: two old names, one new one.
  for (auto& round : candidate) {
    round.erase(round.begin());
    round.front().slug = "alpha_1_" + round.front().slug;
  }
  const AbReport report = judge_ab(base, candidate, {});
  EXPECT_TRUE(report.renamed.empty());
  EXPECT_EQ(report.unmatched.size(), 3u);
  ASSERT_EQ(report.verdicts.size(), 1u);  // only the peer is left to compare
  EXPECT_EQ(report.verdicts[0].algorithm, "hnswlib");
}

TEST(AbJudge, RunsMissingOrWithChangedRecallAreReported) {
  auto [base, candidate] = rounds(1.0, 1.0);
  candidate[2].erase(candidate[2].begin());  // hnsw ef_10 missing in one round
  candidate[0][1].recall = 0.8;
  candidate[1][1].recall = 0.8;
  candidate[2][0].recall = 0.8;  // ef_40 is at index 0 of round 2 now
  const AbReport report = judge_ab(base, candidate, {});
  ASSERT_EQ(report.unmatched.size(), 1u);
  EXPECT_THAT(report.unmatched[0], HasSubstr("d/10/hnsw/ef_10"));
  EXPECT_THAT(report.unmatched[0], HasSubstr("candidate in 4"));
  ASSERT_EQ(report.recall_changes.size(), 1u);
  EXPECT_THAT(report.recall_changes[0], HasSubstr("d/10/hnsw/ef_40: recall 0.9000 -> 0.8000"));
  EXPECT_EQ(report.verdicts[0].runs, 1u);
}

// The whole check through the CLI: two "installations" of annbench (a copy of the binary each,
// with a modules/ folder beside it holding the build's real modules and one variant of the
// fixture modules).
class AbCheckCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("annbench-abtest-{}-{}", ::getpid(),
                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_EQ(run(fmt::format("'{}' dataset synthetic --n 4000 --queries 200 --dim 32 "
                              "--metric euclidean --clusters 8 --seed 3 --out '{}'",
                              ANNBENCH_TEST_BINARY, (dir_ / "data.hdf5").string()))
                  .first,
              0);
    std::ofstream(dir_ / "ab.yaml") << fmt::format(
        "datasets: [{}]\nk: 10\nruns: 3\nthreads: 1\nalgorithms:\n  - module: bruteforce\n"
        "  - module: fixture-ab-own\n  - module: fixture-ab-peer\n",
        (dir_ / "data.hdf5").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // An annbench copy whose modules/ folder holds the fixture variant `speed` (fast, slow).
  fs::path install(const std::string& name, const std::string& speed) const {
    const fs::path bin = dir_ / name / "bin";
    fs::create_directories(bin);
    fs::copy_file(ANNBENCH_TEST_BINARY, bin / "annbench");
    // A binary uses the modules beside it (bin/../modules): the build's real ones plus the
    // fixture variant, as links.
    const fs::path modules = dir_ / name / "modules";
    fs::create_directories(modules);
    for (const fs::path& folder : {fs::path(ANNBENCH_TEST_MODULE_DIR),
                                   fs::path(ANNBENCH_TEST_FIXTURE_MODULE_DIR) / ("ab_" + speed)}) {
      for (const auto& entry : fs::directory_iterator(folder)) {
        if (entry.path().extension() == ".so") {
          fs::create_symlink(entry.path(), modules / entry.path().filename());
        }
      }
    }
    return bin / "annbench";
  }

  std::pair<int, std::string> run(const std::string& command) const {
    FILE* pipe = popen(("cd '" + dir_.string() + "' && " + command + " 2>&1").c_str(), "r");
    std::string output;
    if (pipe == nullptr) return {-1, output};
    std::array<char, 4096> buffer{};
    while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) output += buffer.data();
    const int status = pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
  }

  std::pair<int, std::string> check(const fs::path& base, const fs::path& candidate) const {
    // The minimum effect is raised above the default because these runs are a few
    // milliseconds each on a shared machine; the injected slowdown is 3x.
    return run(
        fmt::format("'{}' check --base-binary '{}' --candidate-binary '{}' --config "
                    "ab.yaml --rounds 5 --min-effect 0.3 --work work",
                    ANNBENCH_TEST_BINARY, base.string(), candidate.string()));
  }

  fs::path dir_;
};

TEST_F(AbCheckCli, IdenticalBuildsPass) {
  const auto [code, output] = check(install("base", "fast"), install("candidate", "fast"));
  EXPECT_EQ(code, 0) << output;
  EXPECT_THAT(output, HasSubstr("| fixture-ab-own | 1 |"));
  EXPECT_THAT(output, HasSubstr("| bruteforce | 1 |"));
  EXPECT_THAT(output, HasSubstr("PASS: 3 algorithms over 5 interleaved rounds"));
  EXPECT_THAT(output, Not(HasSubstr("SLOWER")));
}

TEST_F(AbCheckCli, InjectedSlowdownIsFlaggedPeerIsOnlyReported) {
  const auto [code, output] = check(install("base", "fast"), install("candidate", "slow"));
  EXPECT_EQ(code, 1) << output;
  EXPECT_THAT(output, HasSubstr("SLOWER"));
  EXPECT_THAT(output, HasSubstr("slower (peer: a yardstick, not gated)"));
  EXPECT_THAT(output, HasSubstr("FAIL (1 slower)"));
  // Brute force is the same code on both sides.
  const std::size_t line = output.find("| bruteforce |");
  ASSERT_NE(line, std::string::npos) << output;
  EXPECT_THAT(output.substr(line, output.find('\n', line) - line), Not(HasSubstr("SLOWER")));
}

TEST_F(AbCheckCli, BadInputIsAClearError) {
  const fs::path base = install("base", "fast");
  auto [code, output] = run(fmt::format("'{}' check --ab no-such-ref-xyz --work work --source '{}'",
                                        ANNBENCH_TEST_BINARY, ANNBENCH_SOURCE_DIR));
  EXPECT_EQ(code, 4);  // could not compare
  EXPECT_THAT(output, HasSubstr("no-such-ref-xyz"));
  EXPECT_THAT(output, HasSubstr("could not be made"));
  std::tie(code, output) =
      run(fmt::format("'{}' check --base-binary '{}' --rounds 2 --config ab.yaml",
                      ANNBENCH_TEST_BINARY, base.string()));
  EXPECT_EQ(code, 1);
  EXPECT_THAT(output, HasSubstr("smallest p-value"));
  std::tie(code, output) = run(fmt::format("'{}' check --base-binary '{}' --config missing.yaml",
                                           ANNBENCH_TEST_BINARY, base.string()));
  EXPECT_EQ(code, 4);  // could not compare
  EXPECT_THAT(output, HasSubstr("missing.yaml"));
  std::tie(code, output) = run(fmt::format(
      "'{}' check --base-binary /nonexistent/annbench --config ab.yaml", ANNBENCH_TEST_BINARY));
  EXPECT_EQ(code, 4);  // could not compare
  EXPECT_THAT(output, HasSubstr("/nonexistent/annbench"));
}

}  // namespace
}  // namespace annbench
