#pragma once
// Streaming runbooks in big-ann-benchmarks' YAML layout (NeurIPS'23 streaming track): a
// top-level key per dataset name, holding `max_pts` and steps numbered 1..n:
//
//   fashion-mnist-784-euclidean:
//     max_pts: 30000
//     1: {operation: insert, start: 0, end: 30000}     # train rows [start, end), end exclusive
//     2: {operation: search}
//     3: {operation: delete, start: 0, end: 3000}
//     4: {operation: replace, tags_start: 3000, tags_end: 4000, ids_start: 40000, ids_end: 41000}
//
// Ids ("tags") are train-row ids: insert gives row r the tag r; replace gives the tags
// [tags_start, tags_end) the vectors of rows [ids_start, ids_end) (one to one), so a tag may
// then hold another row's vector. Every step is checked against the live set before anything
// runs: rows beyond the dataset, deleting or replacing a tag that is not live, inserting one
// that is, more than max_pts live points, steps not numbered 1..n, unknown operations and
// keys: each an error naming the file, step and key.

#include <annbench/datasets/dataset.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace annbench {

struct RunbookStep {
  enum class Op { Insert, Delete, Replace, Search };
  Op op = Op::Search;
  std::size_t start = 0, end = 0;  // insert / delete: tags (= rows) [start, end)
  std::size_t tags_start = 0, tags_end = 0, ids_start = 0, ids_end = 0;  // replace
  int line = 0;  // 1-based line in the file, for messages
};

std::string_view op_name(RunbookStep::Op op);

struct Runbook {
  std::filesystem::path file;
  std::string dataset;  // the key used
  std::size_t max_pts = 0;
  std::vector<RunbookStep> steps;  // steps[i] is step i + 1
  std::string sha256;              // of the file's bytes
  std::size_t search_steps() const;
};

// Reads `file`'s entry for `dataset` and checks every step against a dataset of `train_rows`
// rows. Throws annbench::Error naming the file, step and key.
Runbook load_runbook(const std::filesystem::path& file, const std::string& dataset,
                     std::size_t train_rows);
Runbook parse_runbook(const std::string& yaml_text, const std::filesystem::path& file,
                      const std::string& dataset, std::size_t train_rows);

// The live set as a runbook leaves it after each step: live[tag] = the row whose vector the tag
// holds, or -1. Calls visit(step index, live) after every step.
template <typename Visit>
void replay(const Runbook& runbook, std::size_t train_rows, Visit visit) {
  std::vector<std::int64_t> live(train_rows, -1);
  for (std::size_t s = 0; s < runbook.steps.size(); ++s) {
    const RunbookStep& step = runbook.steps[s];
    switch (step.op) {
      case RunbookStep::Op::Insert:
        for (std::size_t t = step.start; t < step.end; ++t) live[t] = static_cast<std::int64_t>(t);
        break;
      case RunbookStep::Op::Delete:
        for (std::size_t t = step.start; t < step.end; ++t) live[t] = -1;
        break;
      case RunbookStep::Op::Replace:
        for (std::size_t t = step.tags_start; t < step.tags_end; ++t)
          live[t] = static_cast<std::int64_t>(step.ids_start + (t - step.tags_start));
        break;
      case RunbookStep::Op::Search: break;
    }
    visit(s, live);
  }
}

// Ground truth of every search step: the exact top-k (by the dataset metric, ties by smaller
// tag) among the points live at that step. neighbors are tags, -1 padded when fewer are live.
struct StepGroundTruth {
  std::size_t step = 0;   // index into Runbook::steps
  IdMatrix neighbors;     // Q × k
  FloatMatrix distances;  // Q × k, dataset metric, +inf padded
};

// Computes it with the blocked exact kernel over each step's live set (OpenMP threads in
// effect). Prints progress unless quiet.
std::vector<StepGroundTruth> compute_step_ground_truth(const Runbook& runbook,
                                                       const Dataset& dataset, std::size_t k,
                                                       bool quiet);

// The sidecar file beside the dataset holding a runbook's per-step ground truth:
// <dataset file without .hdf5>.<runbook file stem>.gt.hdf5.
std::filesystem::path step_ground_truth_file(const std::filesystem::path& dataset_file,
                                             const Runbook& runbook);

// Reads the sidecar if it was made for this runbook (same SHA-256) and these queries, else
// computes and writes it (atomically). `dataset` must hold every test query of the file.
std::vector<StepGroundTruth> step_ground_truth(const std::filesystem::path& dataset_file,
                                               const Dataset& dataset, const Runbook& runbook,
                                               bool quiet);

// Runbook generators (seeded, deterministic), written in the layout above.
//   sliding-window: insert a window, then each round deletes the oldest batch and inserts the
//                   next one; a search after the first insert and after each round.
//   expiring:       the same, but each round deletes a batch drawn at random from the live ones.
//   clustered:      inserts the rows cluster by cluster (cluster_ends: the end row of each
//                   cluster in a dataset ordered by cluster), a search after each: the order
//                   msturing-30M-clustered has, hard for graphs and inverted lists.
struct RunbookRecipe {
  std::string kind;
  std::size_t window = 0;  // live points after the first insert
  std::size_t batch = 0;   // points replaced per round
  std::size_t rounds = 0;
  std::uint64_t seed = 1;                 // expiring: which slices are deleted; clustered: k-means
  std::vector<std::size_t> cluster_ends;  // clustered
};
std::string make_runbook(const RunbookRecipe& recipe, const std::string& dataset,
                         std::size_t train_rows);

// For the clustered runbook: a copy of a dataset file with its train rows ordered by k-means
// cluster (seeded; ground-truth ids renumbered to match, test unchanged), written to `out`.
// Returns each cluster's end row.
std::vector<std::size_t> write_clustered_dataset(const std::filesystem::path& dataset_file,
                                                 std::size_t clusters, std::uint64_t seed,
                                                 const std::filesystem::path& out);

// For the clustered runbook: a copy of a dataset file with its train rows ordered by k-means
// cluster (seeded; ground-truth ids renumbered to match, test unchanged), written to `out`.
// Returns each cluster's end row.
std::vector<std::size_t> write_clustered_dataset(const std::filesystem::path& dataset_file,
                                                 std::size_t clusters, std::uint64_t seed,
                                                 const std::filesystem::path& out);

}  // namespace annbench
