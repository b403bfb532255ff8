// The list of tracks, and the planning step most of them share.

#include "metrics.h"
#include "result_fields.h"
#include "track.h"

#include <annbench/error.h>

#include <fmt/format.h>

#include <algorithm>

namespace annbench {

// Each track_*.cpp defines one of these.
const Track& knn_track();
const Track& range_track();
const Track& streaming_track();
const Track& concurrent_track();
const Track& filtered_track();
const Track& sharded_track();

namespace {

std::vector<const Track*> all_tracks() {
  return {&knn_track(),        &range_track(),    &streaming_track(),
          &concurrent_track(), &filtered_track(), &sharded_track()};
}

}  // namespace

const Track& find_track(std::string_view name) {
  for (const Track* track : all_tracks()) {
    if (track->name() == name) return *track;
  }
  std::string known;
  for (auto track_name : track_names())
    known += (known.empty() ? "" : ", ") + std::string(track_name);
  ANNBENCH_FAIL("unknown mode '{}'; known: {}", name, known);
}

std::vector<std::string_view> track_names() {
  std::vector<std::string_view> names;
  for (const Track* track : all_tracks()) names.push_back(track->name());
  return names;
}

void check_counts(const Dataset& dataset, const std::filesystem::path& path,
                  const std::vector<std::size_t>& counts) {
  for (std::size_t k : counts) {
    ANNBENCH_CHECK(k <= dataset.rows(), "k = {} is larger than the {} train vectors of '{}'", k,
                   dataset.rows(), path.string());
    ANNBENCH_CHECK(k <= dataset.neighbors.cols(),
                   "k = {} is larger than the {} true neighbours stored in '{}' (recompute with "
                   "`annbench groundtruth {} --k {}`)",
                   k, dataset.neighbors.cols(), path.string(), path.string(), k);
  }
}

std::vector<PlannedRun> plan_search_points(const RunRecord& prototype, const BuildPoint& point,
                                           const std::vector<std::size_t>& counts,
                                           const SweepSettings& settings) {
  std::vector<PlannedRun> runs;
  for (const Params& search : point.searches) {
    for (std::size_t k : counts) {
      for (bool batch_mode : {false, true}) {
        if ((batch_mode && !settings.batch) || (!batch_mode && !settings.single)) continue;
        PlannedRun run;
        RunRecord& r = run.record;
        r = copy_fields(prototype);
        r.search_params = search.to_json();
        r.slug = run_slug(r.build_params, r.search_params);
        r.count = k;
        r.batch_mode = batch_mode;
        r.threads = batch_mode ? settings.threads : 1;
        run.search = &search;
        runs.push_back(std::move(run));
      }
    }
  }
  return runs;
}

}  // namespace annbench
