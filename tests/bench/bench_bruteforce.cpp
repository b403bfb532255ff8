// Exact search on fashion-mnist-shaped data (60,000 × 784 base, 10,000 queries): the block
// kernel alone, ground truth (k = 100) and batch / single-query brute force.
//
//   build/release/bin/bench_bruteforce                       # everything (about a minute)
//   build/release/bin/bench_bruteforce --benchmark_filter=ground_truth
//
// Uses the real images from /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist;
// ANNBENCH_FASHION_MNIST=DIR overrides) when present, else uniform random floats in [0, 255).
// FLOP/s counts 2 x queries x base x dim (the inner products; re-ranking is not counted).
// Threads: the OpenMP default (OMP_NUM_THREADS). Machine peak: see bench_distance.cpp.

#include <annbench/common/block_distance.h>
#include <annbench/common/exact_knn.h>
#include <annbench/datasets/groundtruth.h>

#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kBase = 60000;
constexpr std::size_t kQueries = 10000;
constexpr std::size_t kDim = 784;

// IDX image file (big-endian header: magic 0x803, count, rows, cols; then bytes), gzipped.
annbench::FloatMatrix read_idx_images(const std::string& path, std::size_t expected_rows) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) return {};
  unsigned char header[16];
  annbench::FloatMatrix images;
  if (gzread(file, header, sizeof header) == sizeof header) {
    auto field = [&](int i) {
      return std::uint32_t{header[4 * i]} << 24 | std::uint32_t{header[4 * i + 1]} << 16 |
             std::uint32_t{header[4 * i + 2]} << 8 | std::uint32_t{header[4 * i + 3]};
    };
    if (field(0) == 0x803 && field(1) == expected_rows && field(2) * field(3) == kDim) {
      std::vector<unsigned char> pixels(expected_rows * kDim);
      if (gzread(file, pixels.data(), static_cast<unsigned>(pixels.size())) ==
          static_cast<int>(pixels.size())) {
        images = annbench::FloatMatrix(expected_rows, kDim);
        for (std::size_t i = 0; i < pixels.size(); ++i) images.data()[i] = pixels[i];
      }
    }
  }
  gzclose(file);
  return images;
}

annbench::FloatMatrix random_matrix(std::size_t rows, std::uint32_t seed) {
  annbench::FloatMatrix out(rows, kDim);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(0.0f, 255.0f);
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = uniform(rng);
  return out;
}

struct Data {
  std::string source;
  annbench::FloatMatrix train;
  annbench::FloatMatrix test;
};

const Data& data() {
  static const Data loaded = [] {
    const char* dir_env = std::getenv("ANNBENCH_FASHION_MNIST");
    const std::string dir = dir_env != nullptr ? dir_env : "/usr/share/datasets/fashion-mnist";
    Data d{"fashion-mnist", read_idx_images(dir + "/train-images-idx3-ubyte.gz", kBase),
           read_idx_images(dir + "/t10k-images-idx3-ubyte.gz", kQueries)};
    if (d.train.empty() || d.test.empty()) {
      d = Data{"random", random_matrix(kBase, 1), random_matrix(kQueries, 2)};
    }
    return d;
  }();
  return loaded;
}

annbench::MatrixView first_rows(const annbench::FloatMatrix& m, std::size_t rows) {
  return {m.data(), std::min(rows, m.rows()), m.cols()};
}

void set_rates(benchmark::State& state, std::size_t queries, std::size_t base) {
  const double per_iteration = static_cast<double>(queries);
  const double iterations = static_cast<double>(state.iterations());
  state.counters["FLOP/s"] =
      benchmark::Counter(iterations * per_iteration * static_cast<double>(base) * kDim * 2.0,
                         benchmark::Counter::kIsRate);
  state.counters["queries/s"] =
      benchmark::Counter(iterations * per_iteration, benchmark::Counter::kIsRate);
  state.SetLabel(data().source);
}

// The many-to-many kernel alone, one thread, blocked as ExactKnn calls it (128 queries against
// 160-row base blocks, results written to a small buffer).
void run_block_kernel(benchmark::State& state, const annbench::BlockKernels& kernels) {
  constexpr std::size_t kQueryBlock = 128;
  constexpr std::size_t kBaseBlock = 160;
  const auto base = first_rows(data().train, kBase);
  const auto queries = first_rows(data().test, kQueryBlock);
  std::vector<float> out(kQueryBlock * kBaseBlock);
  for (auto _ : state) {
    for (std::size_t x0 = 0; x0 < base.rows; x0 += kBaseBlock) {
      const std::size_t xn = std::min(kBaseBlock, base.rows - x0);
      kernels.inner_products(queries.data, queries.rows, base.row(x0), xn, kDim, out.data(),
                             kBaseBlock);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_rates(state, kQueryBlock, base.rows);
}

void run_ground_truth(benchmark::State& state, annbench::Metric metric, std::size_t queries) {
  const auto view = first_rows(data().test, queries);
  for (auto _ : state) {
    annbench::GroundTruth truth =
        annbench::compute_ground_truth(data().train.view(), view, metric, 100);
    benchmark::DoNotOptimize(truth.neighbors.data());
  }
  set_rates(state, view.rows, kBase);
}

void run_batch(benchmark::State& state, annbench::Metric metric, std::size_t k) {
  const annbench::ExactKnn knn(data().train.view(), metric);
  const auto queries = data().test.view();
  std::vector<annbench::Neighbor> out(queries.rows * k);
  for (auto _ : state) {
    knn.search_batch(queries, k, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(state, queries.rows, kBase);
  state.counters["rescans"] = static_cast<double>(knn.rescans());
}

void run_single(benchmark::State& state, annbench::Metric metric, std::size_t k) {
  constexpr std::size_t kSingleQueries = 50;
  const annbench::ExactKnn knn(data().train.view(), metric);
  std::vector<annbench::Neighbor> out(k);
  for (auto _ : state) {
    for (std::size_t i = 0; i < kSingleQueries; ++i) knn.search(data().test.row(i), k, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  set_rates(state, kSingleQueries, kBase);
}

void register_all() {
  for (const annbench::BlockKernels& kernels : annbench::available_block_kernels()) {
    benchmark::RegisterBenchmark(("block_kernel/" + std::string(kernels.isa) + "/784").c_str(),
                                 run_block_kernel, kernels)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  using annbench::Metric;
  benchmark::RegisterBenchmark("ground_truth/euclidean/10000x60000x784/k100", run_ground_truth,
                               Metric::L2, kQueries)
      ->Unit(benchmark::kSecond)
      ->UseRealTime()
      ->Iterations(1);
  benchmark::RegisterBenchmark("ground_truth/angular/2000x60000x784/k100", run_ground_truth,
                               Metric::Angular, std::size_t{2000})
      ->Unit(benchmark::kSecond)
      ->UseRealTime()
      ->Iterations(1);
  for (const std::size_t k : {10, 100}) {
    benchmark::RegisterBenchmark(("batch/euclidean/k" + std::to_string(k)).c_str(), run_batch,
                                 Metric::L2, k)
        ->Unit(benchmark::kSecond)
        ->UseRealTime()
        ->Iterations(1);
  }
  benchmark::RegisterBenchmark("single/euclidean/k10", run_single, Metric::L2, std::size_t{10})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
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
