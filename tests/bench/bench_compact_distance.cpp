// Compact-vector kernels against the float kernel: one query against 1024 base rows stored as
// float (l2_squared), uint8 (l2sq_u8, exact), SQ8 codes (float query: sq8_l2sq; both encoded
// with one uniform scale: l2sq_codes) and fp16 (l2sq_f32_fp16), per ISA variant.
//
//   build/release/bin/bench_compact_distance [--benchmark_filter=784]
//
// The rows are the same vectors in each format, so a compact format also has a smaller cache
// footprint (1024 x 784 floats = 3.1 MiB, as uint8 0.8 MiB): part of what it buys. Reports
// distances/s and bytes/s (base rows read).

#include <annbench/common/compact_distance.h>
#include <annbench/common/distance.h>
#include <annbench/common/sq8_codec.h>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kDims[] = {96, 128, 784};
constexpr std::size_t kRows = 1024;

// Values on 0..255 like SIFT / MNIST features, so the uint8 rows hold the same vectors.
std::vector<float> random_floats(std::size_t count, std::uint64_t seed) {
  std::vector<float> out(count);
  std::uint64_t state = seed;
  for (float& value : out) {
    state += 0x9E3779B97F4A7C15ull;  // splitmix64
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    value = static_cast<float>((z ^ (z >> 31)) >> 56);
  }
  return out;
}

struct Data {
  std::size_t dim;
  std::vector<float> rows;  // kRows x dim
  std::vector<float> query;
  std::vector<std::uint8_t> rows_u8, query_u8;
  std::vector<std::uint8_t> codes, query_code;  // uniform-scale SQ8
  std::vector<std::uint16_t> rows_fp16;
  annbench::Sq8Codec codec;

  explicit Data(std::size_t d)
      : dim(d),
        rows(random_floats(kRows * d, 7)),
        query(random_floats(d, 11)),
        codec(annbench::Sq8Codec::train(rows.data(), kRows, d, annbench::Sq8Scale::Uniform)) {
    rows_u8.assign(rows.begin(), rows.end());
    query_u8.assign(query.begin(), query.end());
    codes.resize(rows.size());
    for (std::size_t r = 0; r < kRows; ++r) codec.encode(&rows[r * d], &codes[r * d]);
    query_code.resize(d);
    codec.encode_query(query.data(), query_code.data());
    rows_fp16.resize(rows.size());
    annbench::scalar_compact_kernels().encode_fp16(rows.data(), rows_fp16.data(), rows.size());
  }
};

const Data& data_for(std::size_t dim) {
  static const Data d96(96), d128(128), d784(784);
  return dim == 96 ? d96 : dim == 128 ? d128 : d784;
}

// Runs `distance(row)` over every row per iteration; `row_bytes` for the throughput counter.
template <typename Distance>
void run(benchmark::State& state, std::size_t dim, std::size_t row_bytes, Distance distance) {
  float sink = 0.0f;
  for (auto _ : state) {
    for (std::size_t r = 0; r < kRows; ++r) sink += distance(r);
    benchmark::DoNotOptimize(sink);
  }
  const auto distances = static_cast<double>(state.iterations()) * static_cast<double>(kRows);
  state.SetBytesProcessed(static_cast<std::int64_t>(distances * static_cast<double>(row_bytes)));
  state.counters["distances/s"] = benchmark::Counter(distances, benchmark::Counter::kIsRate);
  state.counters["dim"] = static_cast<double>(dim);
}

// Built with append: "literal" + std::string&& trips GCC 12's -Wrestrict (a false positive).
std::string bench_name(const char* kind, const char* isa, std::size_t dim) {
  std::string name = kind;
  name.append("/").append(isa).append("/").append(std::to_string(dim));
  return name;
}

void register_all() {
  for (const std::size_t dim : kDims) {
    for (const annbench::DistanceKernels& kernels : annbench::available_distance_kernels()) {
      benchmark::RegisterBenchmark(
          bench_name("f32_l2", kernels.isa, dim).c_str(), [&kernels, dim](benchmark::State& state) {
            const Data& x = data_for(dim);
            run(state, dim, dim * 4, [&](std::size_t r) {
              return kernels.l2_squared(x.query.data(), &x.rows[r * dim], dim);
            });
          });
    }
    for (const annbench::CompactKernels& k : annbench::available_compact_kernels()) {
      benchmark::RegisterBenchmark(
          bench_name("u8_l2", k.isa, dim).c_str(), [&k, dim](benchmark::State& state) {
            const Data& x = data_for(dim);
            run(state, dim, dim, [&](std::size_t r) {
              return static_cast<float>(k.l2sq_u8(x.query_u8.data(), &x.rows_u8[r * dim], dim));
            });
          });
      benchmark::RegisterBenchmark(
          bench_name("sq8_asym_l2", k.isa, dim).c_str(), [&k, dim](benchmark::State& state) {
            const Data& x = data_for(dim);
            const float* min = x.codec.min().data();
            const float* scale = x.codec.scale().data();
            run(state, dim, dim, [&](std::size_t r) {
              return k.sq8_l2sq(x.query.data(), &x.codes[r * dim], min, scale, dim);
            });
          });
      // l2sq_codes as Sq8Codec computes it, with this variant's integer kernel.
      benchmark::RegisterBenchmark(
          bench_name("sq8_codes_l2", k.isa, dim).c_str(), [&k, dim](benchmark::State& state) {
            const Data& x = data_for(dim);
            const double scale_squared =
                static_cast<double>(x.codec.scale()[0]) * x.codec.scale()[0];
            run(state, dim, dim, [&](std::size_t r) {
              return static_cast<float>(
                  scale_squared *
                  static_cast<double>(k.l2sq_u8(x.query_code.data(), &x.codes[r * dim], dim)));
            });
          });
      benchmark::RegisterBenchmark(
          bench_name("fp16_l2", k.isa, dim).c_str(), [&k, dim](benchmark::State& state) {
            const Data& x = data_for(dim);
            run(state, dim, dim * 2, [&](std::size_t r) {
              return k.l2sq_f32_fp16(x.query.data(), &x.rows_fp16[r * dim], dim);
            });
          });
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
