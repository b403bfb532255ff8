// The concurrent-clients track (config `mode: concurrent`, `clients: [1, 2, 4, 8]`,
// `duration: 5`): for each search point, k and client count, that many threads send single
// queries back to back against one index for the duration (and until each has answered its
// share of the queries once): VectorDBBench's concurrency test without a network in between.
// QPS is queries answered per second of wall time, latencies are over every query answered;
// recall is scored on each query's last answer. It shows whether an index's single-query speed
// survives contention for memory bandwidth.

#include "metrics.h"
#include "result_fields.h"
#include "timing.h"
#include "track.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace annbench {

namespace {

class ConcurrentTrack final : public Track {
 public:
  std::string_view name() const override { return "concurrent"; }

  void configure_load(DatasetLoadOptions& options) const override {
    options.require_ground_truth = true;
  }

  void check_settings(const SweepSettings& settings, bool,
                      const std::filesystem::path& config) const override {
    ANNBENCH_CHECK(!settings.clients.empty(), "{}: mode: concurrent needs 'clients'",
                   config.string());
    ANNBENCH_CHECK(!settings.counts.empty(), "{}: no k to run", config.string());
  }

  void check_dataset(const Dataset& dataset, const std::filesystem::path& path,
                     const SweepSettings& settings) const override {
    check_counts(dataset, path, settings.counts);
  }

  std::string describe(const Dataset&) const override { return ""; }

  std::vector<PlannedRun> plan(const RunRecord& prototype, const BuildPoint& point, const Dataset&,
                               const SweepSettings& settings) const override {
    SweepSettings single = settings;
    single.single = true;
    single.batch = false;
    std::vector<PlannedRun> runs;
    for (auto& base : plan_search_points(prototype, point, settings.counts, single)) {
      for (int clients : settings.clients) {
        PlannedRun run{copy_fields(base.record), base.search};
        run.record.clients = clients;
        run.record.threads = clients;
        // The client count is part of what a run measured: it goes into the run's name.
        run.record.search_params = with_clients(base.record.search_params, clients);
        run.record.slug = run_slug(run.record.build_params, run.record.search_params);
        runs.push_back(std::move(run));
      }
    }
    return runs;
  }

  std::size_t runs_per_search_point(const SweepSettings& settings) const override {
    return settings.counts.size() * settings.clients.size();
  }

  std::string refuse(const ModuleInfo&, const BuildPoint&) const override { return ""; }

  void measure(const Index& index, const Dataset& dataset, RunRecord& record,
               const SweepSettings& settings) const override {
    const std::size_t q_count = dataset.test.rows();
    const std::size_t k = record.count;
    const auto clients = static_cast<std::size_t>(record.clients.value_or(1));
    std::vector<Neighbor> results(q_count * k);
    std::vector<std::vector<double>> latencies(clients);
    std::vector<float> last_time(q_count, 0.0f);
    omp_set_num_threads(1);
    // Warm-up: a tenth of the queries, serially, as the k-NN track does.
    for (std::size_t q = 0; q < std::max<std::size_t>(1, q_count / 10) && q < q_count; ++q)
      index.search(dataset.test.row(q), k, results.data() + q * k);
    const auto before = index.distance_count();
    const auto start = Clock::now();
    std::atomic<bool> failed{false};
    std::string failure;
    {
      std::vector<std::thread> threads;
      for (std::size_t c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
          omp_set_num_threads(1);
          try {
            // Client c owns queries c, c + clients, ...: no two clients write one result row.
            std::size_t q = c;
            bool wrapped = c >= q_count;
            while (!failed.load(std::memory_order_relaxed)) {
              if (wrapped && seconds_since(start) >= settings.duration) break;
              const auto query_start = Clock::now();
              index.search(dataset.test.row(q), k, results.data() + q * k);
              const double elapsed = seconds_since(query_start);
              latencies[c].push_back(elapsed);
              last_time[q] = static_cast<float>(elapsed);
              q += clients;
              if (q >= q_count) {
                q = c;
                wrapped = true;
              }
            }
          } catch (const std::exception& error) {
            if (!failed.exchange(true)) failure = error.what();
          }
        });
      }
      for (auto& thread : threads) thread.join();
    }
    const double wall = seconds_since(start);
    ANNBENCH_CHECK(!failed.load(), "a client's search failed: {}", failure);
    std::vector<double> all;
    for (const auto& client : latencies) all.insert(all.end(), client.begin(), client.end());
    score_neighbors(record, results, dataset, k);
    const LatencyStats latency = latency_stats(all);
    record.qps = static_cast<double>(all.size()) / wall;
    record.best_search_time = wall / static_cast<double>(all.size());
    record.p50_ms = latency.p50_ms;
    record.p95_ms = latency.p95_ms;
    record.p99_ms = latency.p99_ms;
    record.p999_ms = latency.p999_ms;
    record.times = last_time;
    const auto after = index.distance_count();
    if (before && after && !all.empty()) {
      record.distcomps = static_cast<double>(*after - *before) / static_cast<double>(all.size());
    }
  }

  std::string progress(const RunRecord& record) const override {
    return fmt::format("k={} clients={}: recall {:.4f}", record.count, record.clients.value_or(1),
                       record.recall);
  }

 private:
  static std::string with_clients(const std::string& search_json, int clients) {
    // {"ef":10} -> {"ef":10,"clients":4}; {} -> {"clients":4}
    const std::string inner =
        search_json.size() >= 2 ? search_json.substr(1, search_json.size() - 2) : std::string();
    return fmt::format("{{{}{}\"clients\":{}}}", inner, inner.empty() ? "" : ",", clients);
  }
};

}  // namespace

const Track& concurrent_track() {
  static const ConcurrentTrack track;
  return track;
}

}  // namespace annbench
