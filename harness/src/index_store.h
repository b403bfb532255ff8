#pragma once
// Saved indexes for `annbench run --save-index DIR / --load-index DIR`: a sweep reuses the
// builds of an earlier one. A saved index is the module's own file (Index::save, the common
// index-file container) plus a small JSON sidecar with what identifies the build and how long
// it took, so that a loaded index still reports its build time, while the load itself is
// recorded separately (load_s).
//
// Layout: DIR/<dataset>/<algorithm>/<key>.annidx and <key>.json, where key is a hash of the
// module, its resolved build parameters, the metric, the index dimension and the dataset file's
// SHA-256: another dataset file or another parameter never finds a stale index.

#include "results.h"

#include <filesystem>
#include <optional>
#include <string>

namespace annbench {

struct SavedIndex {
  std::filesystem::path file;     // the module's index file
  std::filesystem::path sidecar;  // its JSON description
};

// Where the index of this run's build lives under `dir` (whether or not it exists yet).
SavedIndex saved_index_path(const std::filesystem::path& dir, const RunRecord& run,
                            std::size_t dim);

// The build time recorded when the index was saved; nullopt when no saved index exists. Error
// naming the sidecar when it exists but is malformed or describes another build.
std::optional<double> saved_build_seconds(const SavedIndex& saved, const RunRecord& run);

// Writes the sidecar (after Index::save wrote the index file).
void write_saved_index_sidecar(const SavedIndex& saved, const RunRecord& run, double build_s);

}  // namespace annbench
