// A plain exact L2 scan that fails on request: lets tests check that failures are recorded and
// the sweep goes on, and that bad results (ids out of range, repeats, rows a filter does not
// allow) are caught by the harness.

#include <annbench/module.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace annbench;

class FaultyIndex final : public Index {
 public:
  FaultyIndex(std::size_t dim, const Params& build) : dim_(dim), build_(build) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(!build_.get_bool("fail_build"), "fault injected at build");
    const auto rows_limit = build_.get_int("fail_above_rows");
    ANNBENCH_CHECK(rows_limit == 0 || base.rows <= static_cast<std::size_t>(rows_limit),
                   "fault injected at build: {} rows, more than {}", base.rows, rows_limit);
    if (build_.get_bool("crash")) std::raise(SIGSEGV);
    if (build_.get_bool("hang")) {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (build_.get_bool("allocate")) {
      // Touch every page so the memory is really used, as a leaking module's would be.
      std::vector<std::unique_ptr<char[]>> blocks;
      for (;;) {
        blocks.emplace_back(new char[64 << 20]);
        std::memset(blocks.back().get(), 1, 64 << 20);
      }
    }
    base_ = base;
    // Memory the index holds (every page touched) until it is destroyed.
    held_.assign(static_cast<std::size_t>(build_.get_int("resident_mb")) << 20, 1);
  }
  // uint8 input is widened into the index's own float copy, so tests can see which call the
  // harness made (build_report) and that the results are the same.
  void build_uint8(U8MatrixView base) override {
    widened_.assign(base.data, base.data + base.rows * base.dim);
    build({widened_.data(), base.rows, base.dim});
  }
  void set_search_params(const Params& params) override {
    ANNBENCH_CHECK(!params.get_bool("fail_search"), "fault injected at search");
    bad_ids_ = params.get_bool("bad_ids");
    repeat_ids_ = params.get_bool("repeat_ids");
    honour_filter_ = params.get_bool("honour_filter");
  }
  void search(const float* query, std::size_t k, Neighbor* out) const override {
    std::vector<std::pair<float, std::int64_t>> all(base_.rows);
    for (std::size_t i = 0; i < base_.rows; ++i) {
      float sum = 0;
      for (std::size_t d = 0; d < dim_; ++d) {
        const float diff = query[d] - base_.row(i)[d];
        sum += diff * diff;
      }
      all[i] = {sum, static_cast<std::int64_t>(i)};
    }
    const std::size_t found = std::min(k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(found), all.end());
    for (std::size_t j = 0; j < found; ++j) out[j] = {all[j].second, all[j].first};
    if (bad_ids_) out[0].id = static_cast<std::int64_t>(base_.rows) + 5;
    if (repeat_ids_) {
      for (std::size_t j = 1; j < found; ++j) out[j] = out[0];
    }
  }
  // Filtered search that ignores the filter unless `honour_filter` is set: the harness must
  // catch the rows it returns that the filter does not allow.
  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override {
    if (!honour_filter_) {
      search(query, k, out);
      return;
    }
    std::vector<Neighbor> all(base_.rows);
    search(query, base_.rows, all.data());
    std::size_t j = 0;
    for (const Neighbor& n : all) {
      if (j < k && n.id >= 0 && filter.allowed(n.id)) out[j++] = n;
    }
  }
  std::size_t memory_bytes() const override { return base_.rows * dim_ * sizeof(float); }
  std::string build_report() const override {
    return "{\"rows\":" + std::to_string(base_.rows) +
           (widened_.empty() ? std::string() : std::string(",\"input\":\"uint8\"")) + "}";
  }

 private:
  std::size_t dim_;
  Params build_;
  MatrixView base_;
  bool bad_ids_ = false;
  bool repeat_ids_ = false;
  bool honour_filter_ = false;
  std::vector<char> held_;
  std::vector<float> widened_;
};

const Metric kMetrics[] = {Metric::L2};
const std::vector<ParamSpec> kBuildParams = {
    {"fail_build", ParamType::Bool, false, "throw from build()"},
    {"crash", ParamType::Bool, false, "raise SIGSEGV in build()"},
    // One shard of a sharded run failing while the others build.
    {"fail_above_rows", ParamType::Int, 0, "throw from build() on more rows than this (0: never)"},
    {"resident_mb", ParamType::Int, 0, "hold this many MiB, touched, from build() on"},
    {"hang", ParamType::Bool, false, "sleep forever in build()"},
    {"allocate", ParamType::Bool, false, "allocate memory without bound in build()"},
};
const std::vector<ParamSpec> kSearchParams = {
    {"fail_search", ParamType::Bool, false, "throw from set_search_params()"},
    {"bad_ids", ParamType::Bool, false, "return an id outside the data"},
    {"repeat_ids", ParamType::Bool, false, "return the nearest id k times"},
    {"honour_filter", ParamType::Bool, false, "filtered search keeps only allowed rows"},
};

std::unique_ptr<Index> create(Metric, std::size_t dim, const Params& build) {
  return std::make_unique<FaultyIndex>(dim, build);
}

const ModuleInfo kInfo = [] {
  ModuleInfo info;
  info.name = "fixture-faulty";
  info.description = "test fixture: exact L2 scan with injectable faults";
  info.metrics = kMetrics;
  info.build_params = kBuildParams;
  info.search_params = kSearchParams;
  info.create = &create;
  info.capabilities = kCapFilter | kCapUint8;
  return info;
}();

}  // namespace

ANNBENCH_MODULE(kInfo)
