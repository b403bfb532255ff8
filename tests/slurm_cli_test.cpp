// `annbench slurm submit` and `annbench merge` where no cluster is needed: the scripts written
// (--dry-run, and a stand-in sbatch on PATH), the default array size, merge on a results folder
// with a failed and a missing run, and the errors. The real cluster test is tests/slurm_test.sh.

#include "cli_support.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace annbench {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

using Outcome = test::CliOutcome;

// Four build points (bruteforce, kdtree, hnsw at M 8 and 16), on a dataset in a folder whose
// name has a space.
constexpr const char* kSweep =
    "datasets: [data/blobs.hdf5]\n"
    "k: 10\n"
    "threads: 1\n"
    "algorithms:\n"
    "  - module: bruteforce\n"
    "  - module: kdtree\n"
    "  - module: hnsw\n"
    "    build: {M: [8, 16], ef_construction: 32}\n"
    "    search: {ef: [10, 40]}\n";

class SlurmCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::fresh_test_dir("slurmtest");
    fs::create_directories(dir_ / "sweep dir" / "data");
    std::ofstream(dir_ / "sweep dir" / "sweep.yaml") << kSweep;
    const Outcome made = annbench(
        "dataset synthetic --n 500 --queries 20 --dim 8 --metric euclidean --seed 5 --k 10 "
        "--out data/blobs.hdf5");
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs annbench in dir_/sweep dir (so that the config's relative dataset path resolves),
  // with `environment` before it (e.g. "PATH=/x").
  Outcome annbench(const std::string& arguments, const std::string& environment = "") const {
    return test::run_annbench(dir_ / "sweep dir", arguments, environment);
  }

  static std::string read(const fs::path& file) {
    std::stringstream text;
    text << std::ifstream(file).rdbuf();
    return text.str();
  }

  fs::path sweep_dir() const { return dir_ / "sweep dir"; }

  fs::path dir_;
};

TEST_F(SlurmCliTest, DryRunPrintsBothScriptsAndWritesNothing) {
  const Outcome outcome = annbench(
      "slurm submit sweep.yaml --dry-run --results 'out dir' --algorithm hnsw --k 10 --runs 2 "
      "--batch --threads 1 --timeout 30 --memory-limit 2G --partition short --time 1:00:00 "
      "--mem 4G -- --hold -A 'my acct'");
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  const std::string& text = outcome.output;
  const std::string results = (sweep_dir() / "out dir").string();
  const std::string config = (sweep_dir() / "sweep.yaml").string();
  // --algorithm hnsw leaves the two hnsw build points: two tasks.
  EXPECT_THAT(text, HasSubstr("#SBATCH --array=0-1\n"));
  EXPECT_THAT(text, HasSubstr("#SBATCH --job-name=annbench-sweep\n"));
  EXPECT_THAT(text,
              HasSubstr(fmt::format("#SBATCH --output=\"{}/slurm/logs/%A_%a.out\"\n", results)));
  EXPECT_THAT(text, HasSubstr(fmt::format("#SBATCH --chdir=\"{}\"\n", sweep_dir().string())));
  EXPECT_THAT(text, HasSubstr("#SBATCH --partition=short\n"));
  EXPECT_THAT(text, HasSubstr("#SBATCH --time=1:00:00\n"));
  EXPECT_THAT(text, HasSubstr("#SBATCH --mem=4G\n"));
  EXPECT_THAT(text, HasSubstr("#SBATCH --hold\n#SBATCH -A \"my acct\"\n"));
  EXPECT_THAT(text, HasSubstr(fmt::format("export ANNBENCH_DATA_DIR='{}'\n",
                                          (sweep_dir() / "data").string())));
  EXPECT_THAT(text, HasSubstr(fmt::format("export ANNBENCH_PLUGIN_PATH={}\n",
                                          ANNBENCH_TEST_FIXTURE_MODULE_DIR)));
  // The task's command: this binary, the config and results as absolute quoted paths, its
  // shard, and every run option.
  EXPECT_THAT(text, HasSubstr(fmt::format(
                        "exec {} run '{}' --shard \"${{SLURM_ARRAY_TASK_ID}}/2\" --isolate "
                        "--results '{}' --algorithm hnsw --k 10 --runs 2 --batch --threads 1 "
                        "--timeout 30 --memory-limit 2G\n",
                        fs::canonical(ANNBENCH_TEST_BINARY).string(), config, results)));
  // The merge: only the options that change the plan, and no --hold, time or memory.
  EXPECT_THAT(text, HasSubstr(fmt::format("merge '{}' --config '{}' --algorithm hnsw --k 10 "
                                          "--batch\n",
                                          results, config)));
  const std::string merge_script = text.substr(text.find(".merge.sbatch"));
  EXPECT_THAT(merge_script, HasSubstr("#SBATCH --partition=short\n"));
  EXPECT_THAT(merge_script, Not(HasSubstr("--hold")));
  EXPECT_THAT(merge_script, Not(HasSubstr("--mem")));
  EXPECT_FALSE(fs::exists(sweep_dir() / "out dir"));
}

TEST_F(SlurmCliTest, ArrayDefaultsToOneTaskPerRunItem) {
  EXPECT_THAT(annbench("slurm submit sweep.yaml --dry-run").output,
              HasSubstr("#SBATCH --array=0-3\n"));
  EXPECT_THAT(annbench("slurm submit sweep.yaml --dry-run --array 3").output,
              HasSubstr("#SBATCH --array=0-2\n"));
  const Outcome lowered = annbench("slurm submit sweep.yaml --dry-run --array 9");
  EXPECT_EQ(lowered.exit_code, 0);
  EXPECT_THAT(lowered.output, HasSubstr("--array 9 is more than the plan's 4 run items"));
  EXPECT_THAT(lowered.output, HasSubstr("#SBATCH --array=0-3\n"));
  EXPECT_THAT(lowered.output, HasSubstr("--shard \"${SLURM_ARRAY_TASK_ID}/4\""));
}

TEST_F(SlurmCliTest, SubmitsTheArrayThenTheMergeAfterIt) {
  // A stand-in sbatch: records its arguments, answers "<id>;cluster" as a federation does.
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  std::ofstream(bin / "sbatch") << "#!/bin/sh\n"
                                   "echo \"$@\" >> \"$(dirname \"$0\")/calls\"\n"
                                   "n=$(wc -l < \"$(dirname \"$0\")/calls\")\n"
                                   "echo \"$((n + 40));cluster\"\n";
  fs::permissions(bin / "sbatch", fs::perms::owner_all);
  const Outcome outcome = annbench("slurm submit sweep.yaml --array 2 --results 'out dir'",
                                   fmt::format("PATH='{}':/usr/bin:/bin", bin.string()));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_THAT(outcome.output, HasSubstr("submitted array job 41 (2 tasks) and merge job 42"));
  EXPECT_THAT(outcome.output, HasSubstr("squeue -j 41,42"));
  const fs::path slurm = sweep_dir() / "out dir" / "slurm";
  EXPECT_EQ(read(bin / "calls"), fmt::format("--parsable {0}/sweep.array.sbatch\n"
                                             "--parsable --dependency=afterany:41 "
                                             "{0}/sweep.merge.sbatch\n",
                                             slurm.string()));
  EXPECT_THAT(read(slurm / "sweep.array.sbatch"), HasSubstr("#SBATCH --array=0-1\n"));
  EXPECT_THAT(read(slurm / "sweep.merge.sbatch"), HasSubstr(" merge '"));
  EXPECT_TRUE(fs::is_directory(slurm / "logs"));
}

TEST_F(SlurmCliTest, SubmitErrors) {
  const Outcome unknown = annbench("slurm submit sweep.yaml --dry-run --bogus 1");
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.output, HasSubstr("--bogus"));

  const Outcome zero = annbench("slurm submit sweep.yaml --dry-run --array 0");
  EXPECT_EQ(zero.exit_code, 1);
  EXPECT_THAT(zero.output, HasSubstr("--array expects a positive number of tasks, got '0'"));

  const Outcome missing = annbench("slurm submit nosuch.yaml --dry-run");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.output, HasSubstr("nosuch.yaml"));

  const Outcome subcommand = annbench("slurm launch sweep.yaml");
  EXPECT_EQ(subcommand.exit_code, 1);
  EXPECT_THAT(subcommand.output, HasSubstr("unknown subcommand 'launch'"));

  const Outcome bad_k = annbench("slurm submit sweep.yaml --dry-run --k ten");
  EXPECT_EQ(bad_k.exit_code, 1);
  EXPECT_THAT(bad_k.output, HasSubstr("--k expects a positive integer, got 'ten'"));

  // No sbatch on PATH: says which package has it, and writes no scripts.
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  const Outcome no_sbatch =
      annbench("slurm submit sweep.yaml", fmt::format("PATH='{}'", empty.string()));
  EXPECT_EQ(no_sbatch.exit_code, 1);
  EXPECT_THAT(no_sbatch.output, HasSubstr("sbatch is not on PATH"));
  EXPECT_THAT(no_sbatch.output, HasSubstr("slurm-client"));
  EXPECT_FALSE(fs::exists(sweep_dir() / "results" / "slurm" / "sweep.array.sbatch"));

  // sbatch refusing the job: its message is the error.
  std::ofstream(empty / "sbatch") << "#!/bin/sh\necho 'sbatch: error: invalid partition' >&2\n"
                                     "exit 1\n";
  fs::permissions(empty / "sbatch", fs::perms::owner_all);
  const Outcome refused =
      annbench("slurm submit sweep.yaml", fmt::format("PATH='{}':/usr/bin:/bin", empty.string()));
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.output, HasSubstr("failed: sbatch: error: invalid partition"));
}

TEST_F(SlurmCliTest, MergeListsFailedAndMissingRuns) {
  // The sweep plus a build point that fails, run here; then one run file lost.
  std::ofstream(sweep_dir() / "sweep.yaml", std::ios::app)
      << "  - {module: fixture-faulty, name: broken, build: {fail_build: true}}\n";
  const Outcome ran = annbench("run sweep.yaml --results res --quiet");
  ASSERT_EQ(ran.exit_code, 3) << ran.output;
  const fs::path lost = sweep_dir() / "res" / "blobs" / "10" / "kdtree" /
                        "leaf_size_16_n_trees_1_seed_1_split_median_checks_-1_eps_0.hdf5";
  ASSERT_TRUE(fs::remove(lost)) << lost;

  const Outcome merged = annbench("merge res --config sweep.yaml --no-plots");
  EXPECT_EQ(merged.exit_code, 3) << merged.output;
  const std::string text = read(sweep_dir() / "res" / "merge.txt");
  EXPECT_THAT(merged.output, HasSubstr(text));
  EXPECT_THAT(text, HasSubstr("datasets: 1\nfinished runs: 5\nfailed runs: 1\n"
                              "missing runs: 1 (of 7 planned by sweep.yaml)\n"));
  EXPECT_THAT(
      text,
      HasSubstr("\nfailed:\n  blobs/10/broken/"
                "allocate_false_crash_false_fail_above_rows_0_fail_build_true_hang_"
                "false_resident_mb_0_bad_ids_false_fail_search_false_honour_filter_false_repeat_"
                "ids_false.failed: build failed: fault injected at build\n"));
  EXPECT_THAT(text, HasSubstr("\nmissing:\n  blobs/10/kdtree/"
                              "leaf_size_16_n_trees_1_seed_1_split_median_checks_-1_eps_0.hdf5\n"));
  // summary.csv regenerated from the files: the lost run's row is gone.
  const std::string summary = read(sweep_dir() / "res" / "blobs" / "summary.csv");
  EXPECT_THAT(summary, Not(HasSubstr("kdtree")));
  EXPECT_FALSE(fs::exists(sweep_dir() / "res" / "report.html"));

  // Without the config, missing runs cannot be known; the failed run still fails the merge.
  const Outcome unchecked = annbench("merge res --no-plots");
  EXPECT_EQ(unchecked.exit_code, 3);
  EXPECT_THAT(unchecked.output, HasSubstr("missing runs: not checked (no --config)"));

  // Only the failing entry left out with --algorithm, and the lost run measured again: clean.
  ASSERT_EQ(annbench("run sweep.yaml --results res --quiet --algorithm kdtree").exit_code, 0);
  fs::remove_all(sweep_dir() / "res" / "blobs" / "10" / "broken");
  const Outcome clean =
      annbench("merge res --config sweep.yaml --no-plots --algorithm bruteforce,kdtree,hnsw");
  EXPECT_EQ(clean.exit_code, 0) << clean.output;
  EXPECT_THAT(clean.output, HasSubstr("failed runs: 0\nmissing runs: 0 (of 6 planned"));
}

TEST_F(SlurmCliTest, MergeErrors) {
  const Outcome not_folder = annbench("merge nosuch");
  EXPECT_EQ(not_folder.exit_code, 1);
  EXPECT_THAT(not_folder.output, HasSubstr("'nosuch' is not a folder"));
  fs::create_directories(sweep_dir() / "res");
  const Outcome no_config = annbench("merge res --k 10");
  EXPECT_EQ(no_config.exit_code, 1);
  EXPECT_THAT(no_config.output, HasSubstr("run options (--k) need --config"));
}

}  // namespace
}  // namespace annbench
