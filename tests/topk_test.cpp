// TopK: the k smallest (distance, id) pairs with ties by smaller id, whatever the arrival order.

#include <annbench/common/topk.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

namespace annbench {
namespace {

using Pair = std::pair<float, std::int64_t>;

std::vector<Pair> smallest(std::vector<Pair> all, std::size_t k) {
  std::sort(all.begin(), all.end());
  all.resize(std::min(k, all.size()));
  return all;
}

TEST(TopK, KeepsTheSmallestWithTiesBySmallerIdInAnyOrder) {
  std::mt19937 rng(5);
  for (const std::size_t n : {1, 5, 100, 1000}) {
    for (const std::size_t k : {1, 2, 10, 64, 1200}) {
      // Few distinct distances: lots of ties at the k-th place.
      std::uniform_int_distribution<int> level(0, 20);
      std::vector<Pair> all(n);
      for (std::size_t i = 0; i < n; ++i)
        all[i] = {static_cast<float>(level(rng)), static_cast<std::int64_t>(i)};
      const std::vector<Pair> expected = smallest(all, k);
      for (int shuffle = 0; shuffle < 3; ++shuffle) {
        std::shuffle(all.begin(), all.end(), rng);
        TopK<float> top(k);
        for (const auto& [d, id] : all) top.push(d, id);
        ASSERT_EQ(top.size(), std::min(k, n));
        const auto got = top.take_sorted();
        ASSERT_EQ(got.size(), expected.size());
        for (std::size_t i = 0; i < got.size(); ++i) {
          ASSERT_EQ(got[i].distance, expected[i].first) << "n " << n << " k " << k << " at " << i;
          ASSERT_EQ(got[i].id, expected[i].second) << "n " << n << " k " << k << " at " << i;
        }
      }
    }
  }
}

TEST(TopK, WorstIsTheThresholdForEarlyRejection) {
  TopK<float> top(3);
  EXPECT_EQ(top.worst(), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(top.push(5.0f, 1));
  EXPECT_TRUE(top.push(1.0f, 2));
  EXPECT_EQ(top.worst(), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(top.push(3.0f, 3));
  EXPECT_TRUE(top.full());
  EXPECT_EQ(top.worst(), 5.0f);
  EXPECT_FALSE(top.push(6.0f, 0));
  EXPECT_FALSE(top.push(5.0f, 4));  // tie with the worst, larger id: rejected
  EXPECT_TRUE(top.push(5.0f, 0));   // tie, smaller id: replaces it
  EXPECT_EQ(top.worst(), 5.0f);
  EXPECT_TRUE(top.push(2.0f, 9));
  EXPECT_EQ(top.worst(), 3.0f);
}

TEST(TopK, ZeroCapacityKeepsNothing) {
  TopK<float> top(0);
  EXPECT_EQ(top.worst(), -std::numeric_limits<float>::infinity());
  EXPECT_FALSE(top.push(-1e30f, 0));
  EXPECT_TRUE(top.take_sorted().empty());
}

TEST(TopK, WriteSortedPadsAndConverts) {
  TopK<double> top(4);
  top.push(2.5, 7);
  top.push(0.5, 9);
  Neighbor out[4];
  out[3].id = 42;
  top.write_sorted(out, 4);
  EXPECT_EQ(out[0].id, 9);
  EXPECT_EQ(out[0].distance, 0.5f);
  EXPECT_EQ(out[1].id, 7);
  EXPECT_EQ(out[1].distance, 2.5f);
  for (int i = 2; i < 4; ++i) {
    EXPECT_EQ(out[i].id, -1);
    EXPECT_EQ(out[i].distance, std::numeric_limits<float>::infinity());
  }
  EXPECT_EQ(top.size(), 0u);  // emptied, reusable
  top.push(1.0, 1);
  Neighbor one[1];
  top.write_sorted(one, 1);
  EXPECT_EQ(one[0].id, 1);
}

TEST(TopK, ReusableAfterTakeAndReset) {
  TopK<float> top(2);
  top.push(1.0f, 1);
  top.push(2.0f, 2);
  EXPECT_EQ(top.take_sorted().size(), 2u);
  EXPECT_EQ(top.capacity(), 2u);
  EXPECT_EQ(top.size(), 0u);
  top.push(4.0f, 4);
  top.push(3.0f, 3);
  top.push(5.0f, 5);
  const auto got = top.take_sorted();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, 3);
  EXPECT_EQ(got[1].id, 4);
  top.reset(1);
  top.push(9.0f, 9);
  top.push(8.0f, 8);
  EXPECT_EQ(top.take_sorted()[0].id, 8);
}

TEST(TopK, DescendingStreamStressesTheHeap) {
  // Every new pair evicts the current worst.
  TopK<float> top(50);
  for (int i = 10000; i >= 0; --i) top.push(static_cast<float>(i), i);
  const auto got = top.take_sorted();
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)].id, i);
}

}  // namespace
}  // namespace annbench
