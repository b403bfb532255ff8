// Single-vector distance kernels, per ISA variant, from L1-resident and from RAM-resident data.
//
//   build/release/bin/bench_distance [--benchmark_filter=784]
//
// Reports bytes/s (base vectors read; the query stays in L1) and FLOP/s (2 per dimension for the
// inner product: multiply, add; 3 for squared L2: subtract, multiply, add).
//
// Peak of the development machine (lscpu: "Intel(R) Xeon(R) Processor", family 6 model 207,
// i.e. 5th-generation Xeon Scalable, 2 vCPUs under KVM, 2.1 GHz TSC, AVX-512 with avx512_fp16):
// Xeon Gold/Platinum parts of that generation have two 512-bit FMA units per core, so
//   2 cores x 2 FMA x 16 floats x 2 FLOP x 2.1 GHz = 269 GFLOP/s at the nominal clock
// (134 per core). The VM hides turbo and AVX-512 licence clocks, so that is only a guess;
// fma_peak below measures it (independent FMA chains, no memory): 146-172 GFLOP/s per core on
// AVX-512 and 72-92 on AVX2, i.e. two FMA units at about 2.3-2.7 GHz (the machine is shared,
// so runs vary). Loads: a single-vector distance needs two loads per FMA, so even from L1 it
// reaches only a fraction of FMA peak; from RAM it is bound by bandwidth (~10-13 GB/s per core).

#include <annbench/common/distance.h>

#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kDims[] = {96, 128, 784, 960};
constexpr std::size_t kL1Bytes = 32 * 1024;              // well inside a 48 KiB L1d
constexpr std::size_t kRamBytes = std::size_t{1} << 30;  // > 3x the 300 MiB L3

std::vector<float> random_floats(std::size_t count, std::uint64_t seed) {
  std::vector<float> out(count);
  std::uint64_t state = seed;
  for (float& value : out) {
    state += 0x9E3779B97F4A7C15ull;  // splitmix64: fast enough to fill a GiB
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    value = static_cast<float>((z ^ (z >> 31)) >> 40) * (255.0f / 16777216.0f);
  }
  return out;
}

const std::vector<float>& ram_pool() {
  static const std::vector<float> pool = random_floats(kRamBytes / sizeof(float), 7);
  return pool;
}

using Kernel = float (*)(const float*, const float*, std::size_t);

// One iteration: the query against `rows` vectors of the pool, walking it cyclically.
void run_kernel(benchmark::State& state, Kernel kernel, std::size_t dim, bool in_ram,
                double flops_per_dim) {
  static const std::vector<float> small = random_floats(kL1Bytes / sizeof(float), 3);
  const std::vector<float>& pool = in_ram ? ram_pool() : small;
  const std::vector<float> query = random_floats(dim, 11);
  const std::size_t pool_rows = pool.size() / dim;
  const std::size_t rows = std::min<std::size_t>(pool_rows, 1024);
  std::size_t next = 0;
  float sink = 0.0f;
  for (auto _ : state) {
    for (std::size_t r = 0; r < rows; ++r) {
      sink += kernel(query.data(), pool.data() + next * dim, dim);
      next = next + 1 == pool_rows ? 0 : next + 1;
    }
    benchmark::DoNotOptimize(sink);
  }
  const auto distances = static_cast<double>(state.iterations()) * static_cast<double>(rows);
  state.SetBytesProcessed(static_cast<std::int64_t>(distances * static_cast<double>(dim) * 4.0));
  state.counters["FLOP/s"] = benchmark::Counter(
      distances * static_cast<double>(dim) * flops_per_dim, benchmark::Counter::kIsRate);
  state.counters["distances/s"] = benchmark::Counter(distances, benchmark::Counter::kIsRate);
}

void run_exact(benchmark::State& state, const annbench::DistanceKernels& kernels, std::size_t dim) {
  const std::vector<float> a = random_floats(dim, 5);
  const std::vector<float> b = random_floats(dim, 6);
  double sink = 0.0;
  for (auto _ : state) {
    sink += kernels.exact(annbench::Metric::L2, a.data(), b.data(), dim);
    benchmark::DoNotOptimize(sink);
  }
  state.counters["distances/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Independent FMA chains in registers: enough of them (16 > 2 units x 4 cycles latency) to
// keep both FMA units busy every cycle.
__attribute__((target("avx512f"), noipa)) float fma_chains_avx512(std::int64_t steps) {
  __m512 acc[16];
  for (int j = 0; j < 16; ++j) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 scale = _mm512_set1_ps(0.999999f);
  const __m512 offset = _mm512_set1_ps(1e-6f);
  for (std::int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(acc[j], scale, offset);
  }
  __m512 sum = acc[0];
  for (int j = 1; j < 16; ++j) sum = _mm512_add_ps(sum, acc[j]);
  float lanes[16];
  _mm512_storeu_ps(lanes, sum);
  return lanes[0];
}

__attribute__((target("avx2,fma"), noipa)) float fma_chains_avx2(std::int64_t steps) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(static_cast<float>(j));
  const __m256 scale = _mm256_set1_ps(0.999999f);
  const __m256 offset = _mm256_set1_ps(1e-6f);
  for (std::int64_t s = 0; s < steps; ++s) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], scale, offset);
  }
  __m256 sum = acc[0];
  for (int j = 1; j < 12; ++j) sum = _mm256_add_ps(sum, acc[j]);
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  return lanes[0];
}

void run_fma_peak(benchmark::State& state, bool avx512) {
  std::int64_t kSteps = 1 << 20;
  float sink = 0.0f;
  for (auto _ : state) {
    benchmark::DoNotOptimize(kSteps);
    sink += avx512 ? fma_chains_avx512(kSteps) : fma_chains_avx2(kSteps);
    benchmark::DoNotOptimize(sink);
  }
  const double flops_per_step = avx512 ? 16.0 * 16.0 * 2.0 : 12.0 * 8.0 * 2.0;
  state.counters["FLOP/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kSteps * flops_per_step,
                         benchmark::Counter::kIsRate);
}

void register_all() {
  for (const annbench::DistanceKernels& kernels : annbench::available_distance_kernels()) {
    const std::string isa = kernels.isa;
    if (isa != "scalar") {
      benchmark::RegisterBenchmark(("fma_peak/" + isa).c_str(), run_fma_peak, isa == "avx512")
          ->Unit(benchmark::kMillisecond);
    }
    for (const bool in_ram : {false, true}) {
      for (const std::size_t dim : kDims) {
        const std::string suffix =
            "/" + isa + "/" + std::to_string(dim) + (in_ram ? "/ram" : "/l1");
        benchmark::RegisterBenchmark(("inner_product" + suffix).c_str(), run_kernel,
                                     kernels.inner_product, dim, in_ram, 2.0);
        benchmark::RegisterBenchmark(("l2_squared" + suffix).c_str(), run_kernel,
                                     kernels.l2_squared, dim, in_ram, 3.0);
      }
    }
    benchmark::RegisterBenchmark(("exact_l2_double/" + isa + "/784").c_str(), run_exact, kernels,
                                 std::size_t{784});
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
