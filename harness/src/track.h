#pragma once
// A track is one way of exercising an index: k-NN queries, range queries, and (to come)
// streaming updates, concurrent clients, filtered queries. The runner builds the index of a
// build point once; the track says which runs that build point has, which modules it can take,
// and measures and scores each run into its result record. A new track is a new track_*.cpp
// file plus one line in track.cpp's list; the runner does not change.

#include "config.h"
#include "results.h"

#include <annbench/datasets/dataset.h>
#include <annbench/index.h>
#include <annbench/module.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace annbench {

// The sweep's settings after the command line has overridden the config.
struct SweepSettings {
  std::vector<std::string> datasets;
  std::vector<std::size_t> counts;  // k values (tracks without k ignore them)
  int runs = 3;
  std::size_t queries = 0;            // 0 = all
  bool single = true;                 // single-query mode
  bool batch = false;                 // batch mode
  int threads = 1;                    // build and batch threads (resolved: never 0)
  std::filesystem::path runbook;      // mode: streaming
  std::vector<int> clients;           // mode: concurrent
  double duration = 5;                // mode: concurrent, seconds
  std::vector<double> selectivities;  // mode: filtered: selectivity bands, ascending
  ShardingConfig sharding;            // mode: sharded
};

// One run of a build point, before it is measured: its record carries the identity (dataset,
// algorithm, parameters, k, mode, ...) and the search point it uses.
struct PlannedRun {
  RunRecord record;
  const Params* search = nullptr;
};

class Track {
 public:
  virtual ~Track() = default;

  // The config's `mode` and every run's `mode` field.
  virtual std::string_view name() const = 0;

  // What a dataset must hold for this track (ground truth of which kind).
  virtual void configure_load(DatasetLoadOptions& options) const = 0;

  // Checks the sweep's settings against the track (throws with a message naming `config`).
  virtual void check_settings(const SweepSettings& settings, bool counts_overridden,
                              const std::filesystem::path& config) const = 0;

  // Checks a loaded dataset against the settings (e.g. k at most the stored neighbours).
  virtual void check_dataset(const Dataset& dataset, const std::filesystem::path& path,
                             const SweepSettings& settings) const = 0;

  // Extra words for the "dataset ..." progress line.
  virtual std::string describe(const Dataset& dataset) const = 0;

  // The runs of one build point: `prototype` has the identity shared by all of them (dataset,
  // algorithm, module, build parameters, reproducibility); the track adds search parameters,
  // k, mode and single/batch mode.
  virtual std::vector<PlannedRun> plan(const RunRecord& prototype, const BuildPoint& point,
                                       const Dataset& dataset,
                                       const SweepSettings& settings) const = 0;

  // How many runs plan() makes per search point (for the progress line's count).
  virtual std::size_t runs_per_search_point(const SweepSettings& settings) const = 0;

  // Why this build point cannot run on this track (a missing capability, a stage that cannot
  // serve it), or empty when it can. Checked before building.
  virtual std::string refuse(const ModuleInfo& info, const BuildPoint& point) const = 0;

  // Measures one planned run on the built index (search parameters already applied) and
  // scores it into the record. Throws annbench::Error on bad module output.
  virtual void measure(const Index& index, const Dataset& dataset, RunRecord& record,
                       const SweepSettings& settings) const = 0;

  // Tracks whose runs share one index that changes while they are measured (streaming) make
  // the index themselves and measure every run of the build point in one pass: they fill each
  // record (ok, or ok = false with its error). Throwing fails every run. The runner calls
  // measure() instead when shares_index() is false.
  virtual bool shares_index() const { return false; }
  virtual void measure_together(const ModuleInfo& info, const BuildPoint& point,
                                const Dataset& dataset, std::vector<PlannedRun>& runs,
                                const SweepSettings& settings) const {
    (void)info;
    (void)point;
    (void)dataset;
    (void)runs;
    (void)settings;
  }

  // The quality part of a progress line, e.g. "k=10: recall 0.9523".
  virtual std::string progress(const RunRecord& record) const = 0;
};

// The track of a config's `mode`; throws listing the known tracks.
const Track& find_track(std::string_view name);
// Names of every track, for messages.
std::vector<std::string_view> track_names();

// For tracks scoring k-NN answers (Q × k results, -1 padded) against the dataset's ground
// truth: fills the record's neighbours, recomputed distances and quality figures (not speed).
// Throws when an id is not a row of train.
void score_neighbors(RunRecord& record, const std::vector<Neighbor>& results,
                     const Dataset& dataset, std::size_t k);

// For tracks scored against the dataset's k-NN ground truth: every k is at most the train rows
// and the stored true neighbours (errors name the file and say how to recompute).
void check_counts(const Dataset& dataset, const std::filesystem::path& path,
                  const std::vector<std::size_t>& counts);

// For tracks: one run per search point × count × (single, batch) mode as the settings ask.
std::vector<PlannedRun> plan_search_points(const RunRecord& prototype, const BuildPoint& point,
                                           const std::vector<std::size_t>& counts,
                                           const SweepSettings& settings);

}  // namespace annbench
