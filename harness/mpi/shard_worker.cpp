// annbench-shard JOB OUT: one MPI rank of a sharded-search run (track_sharded.cpp starts R of
// them with mpirun). Every rank reads the job and the dataset, keeps its shard of the base and
// builds the module on it; rank 0 then drives every run: it broadcasts queries, each rank a query
// is routed to answers with its local top k in global ids, rank 0 gathers and merges them, times
// each query or batch end to end, and finally writes OUT. Any error on any rank is printed with
// the rank's number and aborts the whole job, so no rank waits forever for a dead one.

#include "config.h"
#include "plugin_loader.h"
#include "shard_protocol.h"
#include "system_info.h"
#include "timing.h"

#include <annbench/common/distance.h>
#include <annbench/common/kmeans.h>
#include <annbench/common/normalize.h>
#include <annbench/datasets/dataset.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <mpi.h>
#include <omp.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>

namespace annbench {

namespace {

// A result as it travels: 12 bytes (global id, distance), not Neighbor's padded 16.
constexpr std::size_t kWireBytes = sizeof(std::int64_t) + sizeof(float);

Params decode(const std::string& json, std::span<const ParamSpec> specs, const std::string& module,
              const std::string& kind, const std::filesystem::path& job_file) {
  auto points = expand_parameter_node(YAML::Load(json), specs, module, kind, job_file);
  ANNBENCH_CHECK(points.size() == 1, "{} parameters {} expand to {} points", kind, json,
                 points.size());
  return std::move(points.front());
}

void check_mpi(int code, const char* what) {
  ANNBENCH_CHECK(code == MPI_SUCCESS, "{} failed (MPI error {})", what, code);
}

class ShardRank {
 public:
  ShardRank(int rank, int ranks, const std::filesystem::path& job_file)
      : rank_(rank), ranks_(ranks), job_(read_shard_job(job_file)), job_file_(job_file) {
    ANNBENCH_CHECK(job_.ranks == ranks_, "started with {} ranks, the job is for {}", ranks_,
                   job_.ranks);
  }

  void run(const std::filesystem::path& out_file) {
    const ModuleRegistry registry({job_.module_dir});
    const ModuleInfo& info = *registry.get(job_.module).info;
    const Params build =
        decode(job_.build_json, info.build_params, job_.module, "build", job_file_);
    DatasetLoadOptions load;
    load.max_queries = job_.max_queries;
    load.require_ground_truth = false;
    dataset_ = load_dataset(job_.dataset, load);
    ANNBENCH_CHECK(dataset_.train.rows() >= static_cast<std::size_t>(ranks_),
                   "'{}' has {} train rows, fewer than {} shards", job_.dataset.string(),
                   dataset_.train.rows(), ranks_);
    partition();

    omp_set_num_threads(job_.threads);
    double build_s = 0;
    if (!rows_.empty()) {
      index_ = info.create(dataset_.metric, dataset_.dim(), build);
      ANNBENCH_CHECK(index_ != nullptr, "module '{}' returned no index", job_.module);
      const auto start = Clock::now();
      index_->build(shard_.view());
      build_s = seconds_since(start);
    }
    ShardOutput output;
    const double memory = index_ ? static_cast<double>(index_->memory_bytes()) : 0.0;
    check_mpi(MPI_Reduce(&build_s, &output.build_s, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD),
              "MPI_Reduce");
    check_mpi(MPI_Reduce(&memory, &output.memory_bytes, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD),
              "MPI_Reduce");
    output.shard_rows = shard_rows_;

    for (const auto& run : job_.runs) {
      const Params search =
          decode(run.search_json, info.search_params, job_.module, "search", job_file_);
      if (index_) index_->set_search_params(search);
      output.runs.push_back(measure(run));
    }
    const auto peak = static_cast<double>(peak_resident_bytes());
    check_mpi(MPI_Reduce(&peak, &output.peak_rss_bytes, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD),
              "MPI_Reduce");
    if (rank_ == 0) write_shard_output(out_file, output);
  }

 private:
  // Splits the base: rows [r n / R, (r + 1) n / R), or the rows whose nearest of R k-means
  // centroids is r (trained on rank 0 and broadcast, so every rank routes queries alike).
  void partition() {
    const std::size_t n = dataset_.train.rows();
    const std::size_t dim = dataset_.dim();
    std::vector<std::uint32_t> owner(n);
    if (job_.partition == "contiguous") {
      for (int r = 0; r < ranks_; ++r) {
        const std::size_t begin =
            n * static_cast<std::size_t>(r) / static_cast<std::size_t>(ranks_);
        const std::size_t end =
            n * static_cast<std::size_t>(r + 1) / static_cast<std::size_t>(ranks_);
        std::fill(owner.begin() + static_cast<std::ptrdiff_t>(begin),
                  owner.begin() + static_cast<std::ptrdiff_t>(end), static_cast<std::uint32_t>(r));
      }
    } else {
      ANNBENCH_CHECK(job_.partition == "kmeans", "unknown partition '{}'", job_.partition);
      centroids_ = FloatMatrix(static_cast<std::size_t>(ranks_), dim);
      if (rank_ == 0) train_centroids();
      check_mpi(MPI_Bcast(centroids_.data(), static_cast<int>(centroids_.size()), MPI_FLOAT, 0,
                          MPI_COMM_WORLD),
                "MPI_Bcast");
      if (dataset_.metric == Metric::Angular) {
        for (std::size_t c = 0; c < centroids_.rows(); ++c)
          normalize_into(centroids_.row(c), dim, centroids_.row(c));
      }
      // Angular: the largest inner product with a unit centroid is the smallest angle.
      nearest_centroids(dataset_.train.view(), centroids_.view(), dataset_.metric != Metric::L2,
                        owner.data());
    }
    shard_rows_.assign(static_cast<std::size_t>(ranks_), 0);
    for (std::uint32_t o : owner) ++shard_rows_[o];
    for (std::size_t i = 0; i < n; ++i) {
      if (owner[i] == static_cast<std::uint32_t>(rank_))
        rows_.push_back(static_cast<std::int64_t>(i));
    }
    shard_ = FloatMatrix(rows_.size(), dim);
    for (std::size_t i = 0; i < rows_.size(); ++i) {
      std::memcpy(shard_.row(i), dataset_.train.row(static_cast<std::size_t>(rows_[i])),
                  dim * sizeof(float));
    }
  }

  void train_centroids() {
    const std::size_t n = dataset_.train.rows();
    const std::size_t dim = dataset_.dim();
    const auto ranks = static_cast<std::size_t>(ranks_);
    // A seeded sample (256 rows per centroid, faiss's convention), unit length for angular.
    const std::size_t sample_rows = std::min(n, 256 * ranks);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::mt19937_64 random(job_.seed);
    std::shuffle(order.begin(), order.end(), random);
    FloatMatrix sample(sample_rows, dim);
    for (std::size_t i = 0; i < sample_rows; ++i) {
      if (dataset_.metric == Metric::Angular) {
        normalize_into(dataset_.train.row(order[i]), dim, sample.row(i));
      } else {
        std::memcpy(sample.row(i), dataset_.train.row(order[i]), dim * sizeof(float));
      }
    }
    KMeansParams params;
    params.k = ranks;
    params.iterations = 20;
    params.seed = job_.seed;
    const KMeansResult result = kmeans(sample.view(), params);
    std::memcpy(centroids_.data(), result.centroids.data(), centroids_.bytes());
  }

  // The shards query `q` visits: all of them, or its `probe` nearest centroids' (non-empty).
  void route(const float* q, int probe, std::vector<int>& shards) const {
    shards.clear();
    if (job_.partition == "contiguous" || probe >= ranks_) {
      for (int r = 0; r < ranks_; ++r) {
        if (shard_rows_[static_cast<std::size_t>(r)] > 0) shards.push_back(r);
      }
      return;
    }
    const auto& kernels = distance_kernels();
    std::vector<std::pair<float, int>> scored;
    for (int r = 0; r < ranks_; ++r) {
      if (shard_rows_[static_cast<std::size_t>(r)] == 0) continue;
      const float* c = centroids_.row(static_cast<std::size_t>(r));
      const float score = dataset_.metric == Metric::L2
                              ? kernels.l2_squared(q, c, dataset_.dim())
                              : -kernels.inner_product(q, c, dataset_.dim());
      scored.emplace_back(score, r);
    }
    const auto keep = std::min(scored.size(), static_cast<std::size_t>(probe));
    std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(keep),
                      scored.end());
    for (std::size_t i = 0; i < keep; ++i) shards.push_back(scored[i].second);
  }

  ShardRunResult measure(const ShardJob::Run& run) {
    const std::size_t queries = dataset_.test.rows();
    ShardRunResult result;
    result.queries = queries;
    result.k = run.k;
    if (rank_ == 0) {
      result.neighbors.assign(queries * run.k, Neighbor{});
      result.times.assign(queries, 0.0f);
    }
    const std::size_t batch = run.batch ? kShardBatch : 1;
    // Warm-up: a tenth of the queries, untimed, as the k-NN track does.
    pass(run, batch, std::max<std::size_t>(1, queries / 10), nullptr, nullptr);
    const auto before = index_ ? index_->distance_count() : std::optional<std::uint64_t>{0};
    std::vector<float> times(rank_ == 0 ? queries : 0);
    result.total_s = -1;
    double bytes = 0;
    for (int repetition = 0; repetition < job_.repetitions; ++repetition) {
      check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
      const auto start = Clock::now();
      bytes = pass(run, batch, queries, &result.neighbors, &times);
      const double total = seconds_since(start);
      if (rank_ == 0 && (result.total_s < 0 || total < result.total_s)) {
        result.total_s = total;
        result.times = times;
      }
    }
    result.bytes_per_query = bytes / static_cast<double>(queries);
    // Distances over all repetitions and shards; -1 when any shard cannot count.
    const auto after = index_ ? index_->distance_count() : std::optional<std::uint64_t>{0};
    double mine = before && after ? static_cast<double>(*after - *before) : -1.0;
    double total = 0, unknown = 0;
    const double unknown_here = mine < 0 ? 1.0 : 0.0;
    mine = std::max(mine, 0.0);
    check_mpi(MPI_Reduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
    check_mpi(MPI_Reduce(&unknown_here, &unknown, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD),
              "MPI_Reduce");
    result.distcomps =
        unknown > 0
            ? -1.0
            : total / (static_cast<double>(queries) * static_cast<double>(job_.repetitions));
    return result;
  }

  // Sends queries [0, count) through the shards in batches; rank 0 merges into `merged` and
  // stores each query's share of its batch's wall time in `times` (both null for a warm-up).
  // Returns the payload bytes that crossed between ranks.
  double pass(const ShardJob::Run& run, std::size_t batch, std::size_t count,
              std::vector<Neighbor>* merged, std::vector<float>* times) {
    const std::size_t dim = dataset_.dim();
    const std::size_t k = run.k;
    double bytes = 0;
    std::vector<float> block(batch * dim);
    std::vector<std::vector<int>> routes(batch);
    std::vector<std::size_t> served;  // positions in the batch this rank answers
    std::vector<Neighbor> local;
    std::vector<char> send, receive;
    std::vector<int> counts(static_cast<std::size_t>(ranks_)), offsets(counts.size());
    std::vector<std::size_t> per_rank(counts.size());
    for (std::size_t first = 0; first < count; first += batch) {
      const std::size_t size = std::min(batch, count - first);
      const auto start = Clock::now();
      if (rank_ == 0)
        std::memcpy(block.data(), dataset_.test.row(first), size * dim * sizeof(float));
      check_mpi(MPI_Bcast(block.data(), static_cast<int>(size * dim), MPI_FLOAT, 0, MPI_COMM_WORLD),
                "MPI_Bcast");
      bytes += static_cast<double>(size * dim * sizeof(float)) * (ranks_ - 1);
      served.clear();
      std::fill(per_rank.begin(), per_rank.end(), 0);
      for (std::size_t j = 0; j < size; ++j) {
        route(block.data() + j * dim, run.probe, routes[j]);
        for (int r : routes[j]) {
          ++per_rank[static_cast<std::size_t>(r)];
          if (r == rank_) served.push_back(j);
        }
      }
      local.assign(served.size() * k, Neighbor{});
      answer(block, served, k, run.batch, local);
      send.resize(served.size() * k * kWireBytes);
      for (std::size_t i = 0; i < local.size(); ++i) {
        std::memcpy(send.data() + i * kWireBytes, &local[i].id, sizeof(std::int64_t));
        std::memcpy(send.data() + i * kWireBytes + sizeof(std::int64_t), &local[i].distance,
                    sizeof(float));
      }
      int total = 0;
      for (std::size_t r = 0; r < counts.size(); ++r) {
        counts[r] = static_cast<int>(per_rank[r] * k * kWireBytes);
        offsets[r] = total;
        total += counts[r];
        if (r != 0) bytes += counts[r];
      }
      if (rank_ == 0) receive.resize(static_cast<std::size_t>(total));
      check_mpi(MPI_Gatherv(send.data(), static_cast<int>(send.size()), MPI_BYTE, receive.data(),
                            counts.data(), offsets.data(), MPI_BYTE, 0, MPI_COMM_WORLD),
                "MPI_Gatherv");
      if (rank_ == 0 && merged != nullptr) {
        merge(receive, routes, size, k, offsets, merged->data() + first * k);
        const double share = seconds_since(start) / static_cast<double>(size);
        for (std::size_t j = 0; j < size; ++j) (*times)[first + j] = static_cast<float>(share);
      }
    }
    return bytes;
  }

  // This shard's top k of the served queries, in global ids.
  void answer(const std::vector<float>& block, const std::vector<std::size_t>& served,
              std::size_t k, bool batch, std::vector<Neighbor>& local) const {
    if (served.empty()) return;
    const std::size_t dim = dataset_.dim();
    if (batch) {
      FloatMatrix packed(served.size(), dim);
      for (std::size_t i = 0; i < served.size(); ++i)
        std::memcpy(packed.row(i), block.data() + served[i] * dim, dim * sizeof(float));
      index_->search_batch(packed.view(), k, local.data());
    } else {
      for (std::size_t i = 0; i < served.size(); ++i)
        index_->search(block.data() + served[i] * dim, k, local.data() + i * k);
    }
    for (auto& neighbor : local) {
      if (neighbor.id >= 0) {
        ANNBENCH_CHECK(static_cast<std::size_t>(neighbor.id) < rows_.size(),
                       "module '{}' returned id {} on a shard of {} rows", job_.module, neighbor.id,
                       rows_.size());
        neighbor.id = rows_[static_cast<std::size_t>(neighbor.id)];
      }
    }
  }

  // Rank 0: each query's k best over the answers of the shards it visited. Rank r's block holds
  // its served queries in batch order, so a query's answer is found by counting.
  void merge(const std::vector<char>& receive, const std::vector<std::vector<int>>& routes,
             std::size_t size, std::size_t k, const std::vector<int>& offsets,
             Neighbor* out) const {
    std::vector<std::size_t> cursor(static_cast<std::size_t>(ranks_), 0);
    std::vector<Neighbor> candidates;
    for (std::size_t j = 0; j < size; ++j) {
      candidates.clear();
      for (int r : routes[j]) {
        const auto ru = static_cast<std::size_t>(r);
        const char* answer =
            receive.data() + static_cast<std::size_t>(offsets[ru]) + cursor[ru] * k * kWireBytes;
        ++cursor[ru];
        for (std::size_t i = 0; i < k; ++i) {
          Neighbor neighbor;
          std::memcpy(&neighbor.id, answer + i * kWireBytes, sizeof(std::int64_t));
          std::memcpy(&neighbor.distance, answer + i * kWireBytes + sizeof(std::int64_t),
                      sizeof(float));
          if (neighbor.id >= 0) candidates.push_back(neighbor);
        }
      }
      const std::size_t keep = std::min(k, candidates.size());
      std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep),
                        candidates.end(), [](const Neighbor& a, const Neighbor& b) {
                          return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
                        });
      for (std::size_t i = 0; i < k; ++i) out[j * k + i] = i < keep ? candidates[i] : Neighbor{};
    }
  }

  int rank_, ranks_;
  ShardJob job_;
  std::filesystem::path job_file_;
  Dataset dataset_;
  FloatMatrix centroids_;
  std::vector<std::uint64_t> shard_rows_;
  std::vector<std::int64_t> rows_;  // this shard's global row ids, ascending
  FloatMatrix shard_;
  std::unique_ptr<Index> index_;
};

}  // namespace

}  // namespace annbench

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  try {
    ANNBENCH_CHECK(argc == 3, "usage: annbench-shard JOB.yaml OUT (started by mode: sharded)");
    annbench::ShardRank worker(rank, ranks, argv[1]);
    worker.run(argv[2]);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "annbench-shard: rank %d of %d: %s\n", rank, ranks, error.what());
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 2);
    return 2;
  }
  MPI_Finalize();
  return 0;
}
