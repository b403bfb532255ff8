// An exact L2 scan built in several variants for the A/B speed check's tests: the same module
// name with the scan done once (the base) or several times over (an injected slowdown), as
// our own code or as a peer (ModuleInfo::library set). The variants land in separate folders
// so that each side of an A/B comparison loads one of them.

#include <annbench/module.h>

#include <algorithm>
#include <vector>

#ifndef ANNBENCH_FIXTURE_SCANS
#define ANNBENCH_FIXTURE_SCANS 1
#endif

namespace {

using namespace annbench;

class ScanIndex final : public Index {
 public:
  explicit ScanIndex(std::size_t dim) : dim_(dim) {}

  void build(MatrixView base) override { base_ = base; }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    std::vector<std::pair<float, std::int64_t>> all(base_.rows);
    // Repeated scans stand for a slower implementation; the result does not change.
    for (int scan = 0; scan < ANNBENCH_FIXTURE_SCANS; ++scan) {
      for (std::size_t i = 0; i < base_.rows; ++i) {
        float sum = 0;
        for (std::size_t d = 0; d < dim_; ++d) {
          const float diff = query[d] - base_.row(i)[d];
          sum += diff * diff;
        }
        // Keeps the compiler from dropping all but the last scan.
        all[i] = {scan == 0 ? sum : std::min(sum, all[i].first), static_cast<std::int64_t>(i)};
      }
    }
    const std::size_t found = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(found), all.end());
    for (std::size_t j = 0; j < found; ++j) out[j] = {all[j].second, all[j].first};
    for (std::size_t j = found; j < k; ++j) out[j] = {-1, 0};
  }
  std::size_t memory_bytes() const override { return 0; }

 private:
  std::size_t dim_;
  MatrixView base_;
};

const Metric kMetrics[] = {Metric::L2};

std::unique_ptr<Index> create(Metric, std::size_t dim, const Params&) {
  return std::make_unique<ScanIndex>(dim);
}

const ModuleInfo kInfo = [] {
  ModuleInfo info;
  info.name = ANNBENCH_FIXTURE_NAME;
  info.description = "test fixture: exact L2 scan, repeated to inject a slowdown";
  info.metrics = kMetrics;
#ifdef ANNBENCH_FIXTURE_LIBRARY
  info.library = ANNBENCH_FIXTURE_LIBRARY;
#endif
  info.create = &create;
  return info;
}();

}  // namespace

ANNBENCH_MODULE(kInfo)
