#pragma once
// The hnsw tests' fixture: the module loaded as the harness loads it (dlopen, its API), seeded
// data, exact neighbours, and graph helpers; shared by hnsw_test.cpp (static graphs) and
// hnsw_streaming_test.cpp (add, remove, repair).

#include "../algorithms/hnsw/hnsw_api.h"
#include "naive_knn.h"
#include "plugin_loader.h"

#include <annbench/error.h>
#include <annbench/module.h>

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace annbench {
namespace {

using hnsw::HnswApi;
using hnsw::HnswIndex;
using testing::naive_knn;
using testing::random_matrix;

class HnswModule : public ::testing::Test {
 protected:
  void SetUp() override {
    static ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
    const LoadedModule& loaded = registry.get("hnsw");
    info_ = loaded.info;
    // Already loaded by the registry: this only takes another reference to find the API.
    handle_ = dlopen(loaded.path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    ASSERT_NE(handle_, nullptr) << dlerror();
    using ApiEntry = const HnswApi* (*)();
    auto entry = reinterpret_cast<ApiEntry>(dlsym(handle_, ANNBENCH_HNSW_API_ENTRY_POINT));
    ASSERT_NE(entry, nullptr) << dlerror();
    api_ = entry();
    ASSERT_EQ(api_->version, hnsw::kHnswApiVersion);
    dir_ = std::filesystem::temp_directory_path() /
           ("hnsw_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (handle_ != nullptr) dlclose(handle_);
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Index> build(Metric metric, MatrixView base, std::int64_t m = 8,
                               std::int64_t ef_construction = 64, int threads = 2,
                               double repair_threshold = 0.1) const {
    Params given;
    given.set("M", m);
    given.set("ef_construction", ef_construction);
    given.set("seed", std::int64_t{7});
    given.set("repair_threshold", repair_threshold);
    auto index = info_->create(metric, base.dim,
                               resolve_params(given, info_->build_params, "hnsw", "build"));
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    index->build(base);
    omp_set_num_threads(saved);
    return index;
  }

  static void set_ef(Index& index, std::int64_t ef) {
    Params p;
    p.set("ef", ef);
    index.set_search_params(p);
  }

  static std::vector<Neighbor> search_all(const Index& index, MatrixView queries, std::size_t k) {
    std::vector<Neighbor> out(queries.rows * k);
    for (std::size_t q = 0; q < queries.rows; ++q) index.search(queries.row(q), k, &out[q * k]);
    return out;
  }

  const HnswIndex& graph(const Index& index) const {
    const HnswIndex* g = api_->graph(index);
    EXPECT_NE(g, nullptr);
    return *g;
  }

  const ModuleInfo* info_ = nullptr;
  void* handle_ = nullptr;
  const HnswApi* api_ = nullptr;
  std::filesystem::path dir_;
};

// Recall@k by id against the naive exact neighbours.
using testing::recall;

std::size_t reachable_on_layer0(const HnswIndex& g) {
  std::vector<bool> seen(g.size(), false);
  std::vector<std::uint32_t> stack = {g.entry_point()};
  seen[g.entry_point()] = true;
  std::size_t count = 1;
  while (!stack.empty()) {
    const std::uint32_t u = stack.back();
    stack.pop_back();
    for (const std::uint32_t w : g.neighbors(u, 0)) {
      if (seen[w]) continue;
      seen[w] = true;
      ++count;
      stack.push_back(w);
    }
  }
  return count;
}

}  // namespace
}  // namespace annbench
