// gpu-flat without a GPU: the selection code it runs on the device, exercised on the host, and
// the module's behaviour where no device is present (a clear error, no crash). Where a device
// is present, the module is compared with the exact brute force, its distances with the
// metric's, and a saved and loaded index with the original.

#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/gpu/select.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace annbench {
namespace {

using gpu::Candidate;

// What the kernel does for one query: fold the scores in chunks of `width` into a running best.
std::vector<Candidate> select_like_the_kernel(const std::vector<float>& scores, int k) {
  const int width = gpu::selection_width(k);
  std::vector<Candidate> best(width, Candidate{std::numeric_limits<float>::infinity(), -1});
  std::vector<Candidate> chunk(width);
  for (std::size_t start = 0; start < scores.size(); start += width) {
    for (int i = 0; i < width; ++i) {
      const std::size_t j = start + i;
      chunk[i] = j < scores.size() ? Candidate{scores[j], static_cast<std::int32_t>(j)}
                                   : Candidate{std::numeric_limits<float>::infinity(), -1};
    }
    gpu::merge_chunk<gpu::HostSync>(best.data(), chunk.data(), width, 0, 1);
  }
  best.resize(k);
  return best;
}

std::vector<Candidate> reference(const std::vector<float>& scores, int k) {
  std::vector<Candidate> all;
  for (std::size_t j = 0; j < scores.size(); ++j)
    all.push_back({scores[j], static_cast<std::int32_t>(j)});
  std::sort(all.begin(), all.end(), gpu::before);
  all.resize(std::min<std::size_t>(all.size(), k));
  while (all.size() < static_cast<std::size_t>(k))
    all.push_back({std::numeric_limits<float>::infinity(), -1});
  return all;
}

TEST(GpuSelect, BitonicSortSortsEveryPowerOfTwo) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(0, 1);
  for (int width : {1, 2, 4, 8, 64, 1024}) {
    std::vector<Candidate> values(width);
    for (int i = 0; i < width; ++i) values[i] = {uniform(rng), i};
    gpu::bitonic_sort<gpu::HostSync>(values.data(), width, 0, 1);
    EXPECT_TRUE(std::is_sorted(values.begin(), values.end(), gpu::before)) << width;
  }
}

TEST(GpuSelect, ThreadedStridesCoverEveryComparison) {
  // The device runs each stage split over threads; emulate 3 "threads" taking turns per stage
  // by running the stage body for thread 0, 1, 2 in sequence.
  struct Turns {
    static void sync() {}
  };
  std::mt19937 rng(5);
  std::vector<Candidate> values(256);
  for (int i = 0; i < 256; ++i) values[i] = {static_cast<float>(rng() % 1000), i};
  std::vector<Candidate> expected = values;
  std::sort(expected.begin(), expected.end(), gpu::before);
  for (int size = 2; size <= 256; size <<= 1) {
    for (int stride = size >> 1; stride > 0; stride >>= 1) {
      for (int thread = 0; thread < 3; ++thread) {
        for (int i = thread; i < 128; i += 3) {
          const int low = 2 * i - (i & (stride - 1));
          gpu::order_pair(values.data(), low, low + stride, (low & size) == 0);
        }
      }
    }
  }
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(values[i].id, expected[i].id);
}

TEST(GpuSelect, ChunkedSelectionEqualsFullSortForManyK) {
  std::mt19937 rng(11);
  for (int k : {1, 3, 10, 100, 128, 1000, 1024}) {
    for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{1000}, std::size_t{5000}}) {
      std::vector<float> scores(n);
      // Few distinct values: many ties, which must go to the smaller id.
      for (auto& s : scores) s = static_cast<float>(rng() % 50);
      const auto got = select_like_the_kernel(scores, k);
      const auto want = reference(scores, k);
      ASSERT_EQ(got.size(), want.size());
      for (int i = 0; i < k; ++i) {
        EXPECT_EQ(got[i].id, want[i].id) << "k=" << k << " n=" << n << " i=" << i;
        if (want[i].id >= 0) {
          EXPECT_EQ(got[i].distance, want[i].distance);
        }
      }
    }
  }
}

TEST(GpuSelect, WidthIsNextPowerOfTwo) {
  EXPECT_EQ(gpu::selection_width(1), 1);
  EXPECT_EQ(gpu::selection_width(10), 16);
  EXPECT_EQ(gpu::selection_width(1024), 1024);
}

TEST(GpuFlatModule, NoDeviceIsAClearErrorOrResultsAreExact) {
  const std::filesystem::path module =
      std::filesystem::path(ANNBENCH_TEST_MODULE_DIR) / "libannbench_gpu-flat.so";
  if (!std::filesystem::exists(module)) GTEST_SKIP() << "gpu-flat not built (no CUDA compiler)";
  const ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  const ModuleInfo& info = *registry.get("gpu-flat").info;
  std::unique_ptr<Index> index;
  try {
    index = info.create(Metric::L2, 16, resolve_params({}, info.build_params, "gpu-flat", "build"));
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("no CUDA device: gpu-flat unavailable"));
    GTEST_SKIP() << error.what();
  }
  std::mt19937 rng(1);
  std::normal_distribution<float> normal;
  FloatMatrix base(3000, 16), queries(50, 16);
  for (std::size_t i = 0; i < base.size(); ++i) base.data()[i] = normal(rng);
  for (std::size_t i = 0; i < queries.size(); ++i) queries.data()[i] = normal(rng);
  index->build(base.view());
  const std::size_t k = 10;
  std::vector<Neighbor> out(queries.rows() * k);
  index->search_batch(queries.view(), k, out.data());
  const GroundTruth truth = compute_ground_truth(base.view(), queries.view(), Metric::L2, k);
  std::size_t hits = 0;
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    for (std::size_t j = 0; j < k; ++j) hits += out[q * k + j].id == truth.neighbors(q, j);
  }
  // float32 GEMM scores may swap near-ties; nearly every id must match.
  EXPECT_GE(hits, queries.rows() * k * 99 / 100);
}

// Where a device is present: every metric's distances in the metric's scale, single searches
// (on workspaces leased per thread) equal to batch ones, and save -> load answering identically.
TEST(GpuFlatModule, MetricScaleConcurrentSearchesAndSaveLoad) {
  const std::filesystem::path module =
      std::filesystem::path(ANNBENCH_TEST_MODULE_DIR) / "libannbench_gpu-flat.so";
  if (!std::filesystem::exists(module)) GTEST_SKIP() << "gpu-flat not built (no CUDA compiler)";
  const ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR});
  const ModuleInfo& info = *registry.get("gpu-flat").info;
  ASSERT_NE(info.load, nullptr);
  constexpr std::size_t kDim = 16, k = 10;
  std::mt19937 rng(2);
  std::normal_distribution<float> normal;
  FloatMatrix base(2000, kDim), queries(40, kDim);
  for (std::size_t i = 0; i < base.size(); ++i) base.data()[i] = normal(rng);
  for (std::size_t i = 0; i < queries.size(); ++i) queries.data()[i] = normal(rng);
  for (const Metric metric : info.metrics) {
    std::unique_ptr<Index> index;
    try {
      index = info.create(metric, kDim, resolve_params({}, info.build_params, "gpu-flat", "build"));
    } catch (const Error& error) {
      GTEST_SKIP() << error.what();
    }
    index->build(base.view());
    std::vector<Neighbor> batch(queries.rows() * k), single(queries.rows() * k);
    index->search_batch(queries.view(), k, batch.data());
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t q = t; q < queries.rows(); q += 4)
          index->search(queries.row(q), k, &single[q * k]);
      });
    }
    for (auto& thread : threads) thread.join();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      ASSERT_EQ(single[i].id, batch[i].id) << metric_name(metric);
      const double exact = exact_distance(metric, queries.row(i / k),
                                          base.row(static_cast<std::size_t>(batch[i].id)), kDim);
      EXPECT_NEAR(batch[i].distance, exact, 1e-3 * std::max(1.0, std::abs(exact)))
          << metric_name(metric);
    }
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("annbench-gpu-flat-" + std::string(metric_name(metric))))
                                 .string();
    index->save(path);
    auto loaded = info.load(path, metric, kDim);
    std::filesystem::remove(path);
    std::vector<Neighbor> after(queries.rows() * k);
    loaded->search_batch(queries.view(), k, after.data());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ(after[i].id, batch[i].id) << metric_name(metric);
      EXPECT_EQ(after[i].distance, batch[i].distance) << metric_name(metric);
    }
    EXPECT_THROW(info.load(path, metric, kDim), Error);  // removed
  }
}

}  // namespace
}  // namespace annbench
