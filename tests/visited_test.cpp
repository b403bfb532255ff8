// VisitedSet (algorithms/common visited.h): the per-query de-duplication of lsh and annoy.

#include <annbench/common/visited.h>

#include <gtest/gtest.h>

namespace annbench {
namespace {

TEST(VisitedSet, InsertReportsFirstVisitsOnlyAndResetEmptiesIt) {
  VisitedSet visited;
  visited.reset(5);
  EXPECT_TRUE(visited.insert(3));
  EXPECT_FALSE(visited.insert(3));
  EXPECT_TRUE(visited.insert(0));
  EXPECT_TRUE(visited.insert(4));
  visited.reset(5);  // a new query: nothing is visited
  for (std::size_t id = 0; id < 5; ++id) EXPECT_TRUE(visited.insert(id)) << id;
  for (std::size_t id = 0; id < 5; ++id) EXPECT_FALSE(visited.insert(id)) << id;
}

TEST(VisitedSet, GrowsForALargerIndexAndKeepsCapacityForASmallerOne) {
  VisitedSet visited;
  visited.reset(3);
  EXPECT_TRUE(visited.insert(2));
  visited.reset(1000);  // scratch reused by a bigger index
  EXPECT_GE(visited.capacity(), 1000u);
  EXPECT_TRUE(visited.insert(2));
  EXPECT_TRUE(visited.insert(999));
  visited.reset(10);
  EXPECT_GE(visited.capacity(), 1000u);
  EXPECT_TRUE(visited.insert(999));
}

}  // namespace
}  // namespace annbench
