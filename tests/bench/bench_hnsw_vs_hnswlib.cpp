// Side-by-side single-thread query speed of the hnsw module and hnswlib (Debian's
// libhnswlib-dev, compiled here with our flags) on one dataset, for the numbers in
// algorithms/hnsw/README.md. The two are timed in alternation, round after round, so that load
// from other processes on a shared machine hits both alike; the median round is reported.
//
//   bench_hnsw_vs_hnswlib MODULE.so DATASET.hdf5 CACHE_DIR [QUERIES] [ROUNDS]
//
// Indexes are built once on one thread (M 16, ef_construction 200; build times printed) and
// cached in CACHE_DIR (hnsw's Index::save and hnswlib's saveIndex), so that a rebuilt module's
// search can be re-measured without rebuilding the graphs.

#include <annbench/common/distance.h>
#include <annbench/datasets/dataset.h>
#include <annbench/module.h>

#include <dlfcn.h>
#include <hnswlib/hnswlib.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ANN-Benchmarks recall: a result counts when its true distance is within the k-th true
// distance + 1e-3.
double recall(const annbench::Dataset& data, const std::vector<std::int64_t>& ids, std::size_t nq,
              std::size_t k) {
  std::size_t hits = 0;
  for (std::size_t q = 0; q < nq; ++q) {
    const double limit = data.distances(q, k - 1) + 1e-3;
    for (std::size_t j = 0; j < k; ++j) {
      const std::int64_t id = ids[q * k + j];
      if (id < 0) continue;
      const double d = annbench::exact_distance(
          data.metric, data.test.row(q), data.train.row(static_cast<std::size_t>(id)), data.dim());
      hits += d <= limit;
    }
  }
  return static_cast<double>(hits) / static_cast<double>(nq * k);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODULE.so DATASET.hdf5 CACHE_DIR [QUERIES] [ROUNDS]\n",
                 argv[0]);
    return 2;
  }
  const std::string module_path = argv[1];
  const std::filesystem::path cache = argv[3];
  const std::size_t nq = argc > 4 ? std::stoul(argv[4]) : 1000;
  const int rounds = argc > 5 ? std::stoi(argv[5]) : 7;
  constexpr std::size_t k = 10, m = 16, ef_construction = 200;

  void* handle = dlopen(module_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  using EntryPoint = const annbench::ModuleInfo* (*)();
  const auto* info = reinterpret_cast<EntryPoint>(dlsym(handle, ANNBENCH_MODULE_ENTRY_POINT))();

  annbench::DatasetLoadOptions options;
  options.max_queries = nq;
  const annbench::Dataset data = annbench::load_dataset(argv[2], options);
  std::filesystem::create_directories(cache);
  const std::string ours_file = (cache / "hnsw.idx").string();
  const std::string theirs_file = (cache / "hnswlib.idx").string();
  omp_set_num_threads(1);

  hnswlib::L2Space space(data.dim());
  std::unique_ptr<annbench::Index> ours;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> theirs;
  if (std::filesystem::exists(ours_file) && std::filesystem::exists(theirs_file)) {
    ours = info->load(ours_file, data.metric, data.dim());
    theirs = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, theirs_file);
  } else {
    annbench::Params given;
    given.set("M", std::int64_t{m});
    given.set("ef_construction", std::int64_t{ef_construction});
    ours = info->create(data.metric, data.dim(),
                        annbench::resolve_params(given, info->build_params, "hnsw", "build"));
    auto start = Clock::now();
    ours->build(data.train.view());
    const double ours_s = seconds_since(start);
    start = Clock::now();
    theirs = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, data.train.rows(), m,
                                                               ef_construction, 100);
    for (std::size_t i = 0; i < data.train.rows(); ++i) theirs->addPoint(data.train.row(i), i);
    const double theirs_s = seconds_since(start);
    std::printf("build (1 thread): hnsw %.2f s, hnswlib %.2f s, ratio %.3f\n", ours_s, theirs_s,
                ours_s / theirs_s);
    ours->save(ours_file);
    theirs->saveIndex(theirs_file);
  }
  std::printf("memory_bytes: hnsw %zu\n", ours->memory_bytes());

  std::printf("%5s %8s %8s %10s %10s %7s\n", "ef", "rec_ours", "rec_lib", "qps_ours", "qps_lib",
              "ratio");
  for (const std::size_t ef : {10, 12, 16, 20, 24, 32, 48, 64}) {
    annbench::Params p;
    p.set("ef", std::int64_t{static_cast<std::int64_t>(ef)});
    ours->set_search_params(p);
    theirs->setEf(ef);
    std::vector<std::int64_t> ids_ours(nq * k), ids_lib(nq * k);
    std::vector<double> t_ours, t_lib;
    std::vector<annbench::Neighbor> out(k);
    for (int r = 0; r < rounds; ++r) {
      for (int which = 0; which < 2; ++which) {
        const bool run_ours = (which == 0) == (r % 2 == 0);
        const auto start = Clock::now();
        for (std::size_t q = 0; q < nq; ++q) {
          if (run_ours) {
            ours->search(data.test.row(q), k, out.data());
            for (std::size_t j = 0; j < k; ++j) ids_ours[q * k + j] = out[j].id;
          } else {
            auto result = theirs->searchKnn(data.test.row(q), k);
            for (std::size_t j = result.size(); j-- > 0;) {
              ids_lib[q * k + j] = static_cast<std::int64_t>(result.top().second);
              result.pop();
            }
          }
        }
        (run_ours ? t_ours : t_lib).push_back(seconds_since(start));
      }
    }
    // Per round ratio, then the median: both sides of a round saw the same machine load.
    std::vector<double> ratios;
    for (int r = 0; r < rounds; ++r) ratios.push_back(t_lib[r] / t_ours[r]);
    std::sort(ratios.begin(), ratios.end());
    std::sort(t_ours.begin(), t_ours.end());
    std::sort(t_lib.begin(), t_lib.end());
    std::printf("%5zu %8.4f %8.4f %10.0f %10.0f %7.3f\n", ef, recall(data, ids_ours, nq, k),
                recall(data, ids_lib, nq, k), nq / t_ours[rounds / 2], nq / t_lib[rounds / 2],
                ratios[rounds / 2]);
  }
  return 0;
}
