#pragma once
// What the sharded track (track_sharded.cpp) hands its MPI ranks and what rank 0 hands back.
// The parent writes a job file (YAML), starts `mpirun -np R annbench-shard JOB OUT`, and reads
// OUT, a binary file rank 0 writes once every run is measured. Both ends are this build, so the
// binary layout is the machine's own; it is checked for size, not for portability.

#include <annbench/neighbor.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace annbench {

struct ShardJob {
  std::filesystem::path dataset;
  std::size_t max_queries = 0;  // 0 = all test vectors
  std::string module;
  std::filesystem::path module_dir;  // where the parent found it, so every rank loads the same
  std::string build_json;            // the module's resolved build parameters
  int ranks = 1;
  std::string partition = "contiguous";  // contiguous | kmeans
  int threads = 1;                       // OpenMP threads per rank (build, batch search)
  int repetitions = 1;                   // each run is measured this often; the fastest is kept
  std::uint64_t seed = 1234;             // k-means
  struct Run {
    std::string search_json;
    std::size_t k = 10;
    int probe = 1;  // shards each query visits (kmeans); all of them when contiguous
    bool batch = false;
  };
  std::vector<Run> runs;
};

// Queries travel in batches of this many in batch mode (one at a time in single mode).
inline constexpr std::size_t kShardBatch = 1000;

struct ShardRunResult {
  std::size_t queries = 0, k = 0;
  std::vector<Neighbor> neighbors;  // queries × k, merged over shards, -1 / +inf padded
  std::vector<float> times;         // seconds per query (a batch's time shared by its queries)
  double total_s = 0;               // the fastest repetition's wall time at rank 0
  double bytes_per_query = 0;       // payload: queries broadcast plus answers gathered
  double distcomps = -1;            // per query over every shard; < 0 when a shard cannot count
};

struct ShardOutput {
  double build_s = 0;         // the slowest rank's build
  double memory_bytes = 0;    // memory_bytes() summed over ranks
  double peak_rss_bytes = 0;  // the largest rank's peak resident set, after every run
  std::vector<std::uint64_t> shard_rows;
  std::vector<ShardRunResult> runs;  // in ShardJob::runs order
};

void write_shard_job(const std::filesystem::path& file, const ShardJob& job);
ShardJob read_shard_job(const std::filesystem::path& file);

void write_shard_output(const std::filesystem::path& file, const ShardOutput& output);
// Checks the layout against `job` (run count, queries, k); errors name the file.
ShardOutput read_shard_output(const std::filesystem::path& file, const ShardJob& job);

}  // namespace annbench
