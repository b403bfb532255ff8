#pragma once
// The hnsw tests' fixture: the module's ModuleInfo (the tests link the module's sources, so
// they reach HnswIndex and its graph directly), seeded data, exact neighbours, and graph
// helpers; shared by hnsw_test.cpp (static graphs) and hnsw_streaming_test.cpp (add, remove,
// repair). The plugin path (dlopen) is the conformance suite's.

#include "hnsw_index.h"
#include "hnsw_module.h"
#include "index_file_checks.h"
#include "naive_knn.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/error.h>
#include <annbench/module.h>

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
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

using hnsw::HnswIndex;
using testing::naive_knn;
using testing::random_matrix;

class HnswModule : public ::testing::Test {
 protected:
  void SetUp() override {
    info_ = &hnsw::module_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("hnsw_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Index> build(Metric metric, MatrixView base, std::int64_t m = 8,
                               std::int64_t ef_construction = 64, int threads = 2,
                               double repair_threshold = 0.1) const {
    Params given;
    given.set("M", m);
    given.set("ef_construction", ef_construction);
    given.set("repair_threshold", repair_threshold);
    return build_given(metric, base, given, threads);
  }

  // A seeded build (seed 7) of `given`, resolved against the module's specs, on `threads`.
  std::unique_ptr<Index> build_given(Metric metric, MatrixView base, Params given,
                                     int threads) const {
    given.set("seed", std::int64_t{7});
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

  static const HnswIndex& graph(const Index& index) {
    return dynamic_cast<const HnswIndex&>(index);
  }

  // Saves `index` and loads it back through ModuleInfo::load.
  std::unique_ptr<Index> round_trip(const Index& index, Metric metric, std::size_t dim,
                                    const std::string& name = "index.hnsw") const {
    const std::string path = (dir_ / name).string();
    index.save(path);
    return info_->load(path, metric, dim);
  }

  const ModuleInfo* info_ = nullptr;
  std::filesystem::path dir_;
};

// Recall@k by id against the naive exact neighbours.
using testing::recall;

// load() must refuse `path` with an Error naming it and holding `needle`.
inline void expect_refused(const ModuleInfo& info, const std::string& path,
                           const std::string& needle, Metric metric = Metric::L2,
                           std::size_t dim = 10) {
  testing::expect_load_error(info, path, metric, dim, needle);
}

// Copies the hnsw index file `from` to `name` beside it with section `tag` changed by
// edit(std::vector<std::byte>&), checksum intact: what only load()'s own checks can refuse.
inline std::string rewrite(const std::string& from, const std::string& name, Metric metric,
                           std::size_t dim, const std::string& tag,
                           const testing::SectionEdit& edit) {
  const std::string to = (std::filesystem::path(from).parent_path() / name).string();
  testing::rewrite(from, to, metric, dim, tag, edit);
  return to;
}

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
