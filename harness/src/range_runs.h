#pragma once
// Range-search runs (config `mode: range`): timing and scoring, the counterparts of the k-NN
// ones in runner.cpp. Quality is big-ann-benchmarks' range recall and AP (metrics.h).

#include "results.h"
#include "timing.h"

#include <annbench/datasets/dataset.h>
#include <annbench/index.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace annbench {

// The best run's per-query times and results, per query as the module returned them.
using RangeMeasurement = Timed<std::vector<std::vector<Neighbor>>>;

// Each query timed alone on one thread, after a warm-up pass over a tenth of the queries; the
// best (lowest mean) of `runs` repetitions is kept.
RangeMeasurement measure_single_range(const Index& index, const FloatMatrix& queries, float radius,
                                      int runs);

// All queries at once, OpenMP over single range searches on `threads` threads (the Index API has
// no batch range call); per-query time = total / Q.
RangeMeasurement measure_batch_range(const Index& index, const FloatMatrix& queries, float radius,
                                     int runs, int threads);

// Fills the record's per-query data (CSR, ids ascending, distances recomputed in the dataset
// metric) and metrics against dataset.range. Throws when the module returned ids that are not
// rows of train.
void score_range(RunRecord& record, const RangeMeasurement& m, const Dataset& dataset);

}  // namespace annbench
