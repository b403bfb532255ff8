// LabelIndex, AttributeIndex, intersect_postings and FilterBuilder (algorithms/common
// label_filter.h) against naive evaluations of the same conditions on random metadata.

#include <annbench/common/label_filter.h>
#include <annbench/error.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

namespace annbench {
namespace {

// Labels per row as the dataset stores them (CSR), plus the same as plain lists for the naive
// reference.
struct Metadata {
  std::uint32_t label_count = 0;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::uint32_t> labels;
  std::vector<std::vector<std::uint32_t>> rows;
  std::vector<float> attr;

  void add_row(std::vector<std::uint32_t> row_labels, float value) {
    labels.insert(labels.end(), row_labels.begin(), row_labels.end());
    indptr.push_back(static_cast<std::int64_t>(labels.size()));
    rows.push_back(std::move(row_labels));
    attr.push_back(value);
  }
  LabelIndex label_index() const { return {indptr, labels, label_count}; }
};

// Label r is carried with probability 0.9 / (r + 1)^1.5: label 0 by most rows, the last ones by
// a handful, so intersections meet very unequal list lengths. The last label is never used, and
// rows sometimes list a label twice. Attributes take few distinct values so that range bounds
// hit ties.
Metadata random_metadata(std::size_t rows, std::uint32_t label_count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::uniform_int_distribution<int> level(0, 40);
  Metadata meta;
  meta.label_count = label_count;
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<std::uint32_t> row_labels;
    for (std::uint32_t label = 0; label + 1 < label_count; ++label) {
      if (uniform(rng) < 0.9 / std::pow(label + 1.0, 1.5)) {
        row_labels.push_back(label);
        if (uniform(rng) < 0.05) row_labels.push_back(label);  // a repeat, counted once
      }
    }
    std::shuffle(row_labels.begin(), row_labels.end(), rng);
    meta.add_row(std::move(row_labels), static_cast<float>(level(rng)) * 0.025f);
  }
  return meta;
}

bool carries(const std::vector<std::uint32_t>& row, std::uint32_t label) {
  return std::find(row.begin(), row.end(), label) != row.end();
}

// Rows passing every condition, ascending: the reference for everything below.
std::vector<std::int64_t> naive(const Metadata& meta, const std::vector<std::uint32_t>& labels,
                                std::optional<std::pair<float, float>> range) {
  std::vector<std::int64_t> out;
  for (std::size_t r = 0; r < meta.rows.size(); ++r) {
    const bool has_all = std::all_of(labels.begin(), labels.end(), [&](std::uint32_t label) {
      return carries(meta.rows[r], label);
    });
    const bool in_range = !range || (range->first <= meta.attr[r] && meta.attr[r] <= range->second);
    if (has_all && in_range) out.push_back(static_cast<std::int64_t>(r));
  }
  return out;
}

std::vector<std::int64_t> as_vector(std::span<const std::int64_t> ids) {
  return {ids.begin(), ids.end()};
}

TEST(LabelIndex, PostingsAreTheRowsCarryingEachLabelOnceAscending) {
  Metadata meta;
  meta.label_count = 6;
  meta.add_row({2, 2, 2}, 0);  // one label repeated in a row
  meta.add_row({0, 2}, 0);
  meta.add_row({2}, 0);  // label 2 again in consecutive rows
  meta.add_row({}, 0);   // a row without labels
  meta.add_row({4, 0, 4}, 0);
  const LabelIndex index = meta.label_index();
  EXPECT_EQ(index.rows(), 5u);
  EXPECT_EQ(index.label_count(), 6u);
  EXPECT_EQ(as_vector(index.postings(0)), (std::vector<std::int64_t>{1, 4}));
  EXPECT_TRUE(index.postings(1).empty());  // a label nobody has
  EXPECT_EQ(as_vector(index.postings(2)), (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_TRUE(index.postings(3).empty());
  EXPECT_EQ(as_vector(index.postings(4)), (std::vector<std::int64_t>{4}));
  EXPECT_TRUE(index.postings(5).empty());  // the last label, unused
  EXPECT_TRUE(index.postings(6).empty());  // not a label at all
  EXPECT_TRUE(index.postings(0xffffffffu).empty());
}

TEST(LabelIndex, MatchesNaivePostingsOnRandomData) {
  const Metadata meta = random_metadata(1'000, 24, 3);
  const LabelIndex index = meta.label_index();
  for (std::uint32_t label = 0; label < meta.label_count; ++label) {
    const std::vector<std::uint32_t> one{label};
    EXPECT_EQ(as_vector(index.postings(label)), naive(meta, one, std::nullopt)) << label;
  }
  EXPECT_TRUE(index.postings(meta.label_count - 1).empty());
}

TEST(LabelIndex, RejectsMalformedCsr) {
  const std::vector<std::uint32_t> labels{0, 1, 2};
  // Ends short of the labels, starts past 0, decreases, and a middle offset past the end (which
  // must fail before any label beyond the array is read).
  for (const std::vector<std::int64_t>& indptr :
       {std::vector<std::int64_t>{0, 1, 2}, std::vector<std::int64_t>{1, 3},
        std::vector<std::int64_t>{0, 2, 1, 3}, std::vector<std::int64_t>{0, 5, 3},
        std::vector<std::int64_t>{}}) {
    EXPECT_THROW(LabelIndex(indptr, labels, 3), Error) << indptr.size();
  }
  const std::vector<std::int64_t> indptr{0, 3};
  EXPECT_THROW(LabelIndex(indptr, labels, 2), Error);  // label 2 is not below label_count 2
  EXPECT_NO_THROW(LabelIndex(indptr, labels, 3));
}

TEST(IntersectPostings, MatchesNaiveIntersectionForOneToFourLabels) {
  const Metadata meta = random_metadata(3'000, 40, 11);
  const LabelIndex index = meta.label_index();
  std::mt19937 rng(12);
  // Mostly frequent labels (long lists), sometimes rare ones and the unused last label.
  std::uniform_int_distribution<std::uint32_t> frequent(0, 5);
  std::uniform_int_distribution<std::uint32_t> any(0, meta.label_count - 1);
  std::uniform_int_distribution<int> count(1, 4);
  std::vector<std::int64_t> out{99, 98};  // must be cleared
  std::vector<std::int64_t> scratch;
  std::size_t non_empty = 0;
  std::size_t unequal = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::vector<std::uint32_t> labels(static_cast<std::size_t>(count(rng)));
    // A frequent first label; on every other trial the others drawn from all labels, which puts
    // lists of very different lengths together.
    for (std::size_t i = 0; i < labels.size(); ++i)
      labels[i] = i > 0 && trial % 2 == 0 ? any(rng) : frequent(rng);
    intersect_postings(index, labels, out, scratch);
    const std::vector<std::int64_t> expected = naive(meta, labels, std::nullopt);
    ASSERT_EQ(out, expected) << "trial " << trial;
    non_empty += !expected.empty();
    std::size_t shortest = meta.rows.size();
    std::size_t longest = 0;
    for (const std::uint32_t label : labels) {
      shortest = std::min(shortest, index.postings(label).size());
      longest = std::max(longest, index.postings(label).size());
    }
    unequal += shortest > 0 && longest > 20 * shortest;
  }
  // The random draw really covered both kinds of case.
  EXPECT_GT(non_empty, 100u);
  EXPECT_GT(unequal, 20u);

  intersect_postings(index, {}, out, scratch);
  EXPECT_TRUE(out.empty());
  const std::vector<std::uint32_t> with_missing{0, 1, meta.label_count + 7};
  intersect_postings(index, with_missing, out, scratch);
  EXPECT_TRUE(out.empty());
  const std::vector<std::uint32_t> repeated{1, 0, 1, 0};
  intersect_postings(index, repeated, out, scratch);
  EXPECT_EQ(out, naive(meta, {0, 1}, std::nullopt));
}

TEST(IntersectPostings, ShortListAgainstVeryLongOne) {
  // Label 0 on every row but a few, label 1 on a sparse spread including the first and last
  // rows: the galloping search must find matches at both ends and skip the holes.
  Metadata meta;
  meta.label_count = 2;
  const std::size_t rows = 10'000;
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<std::uint32_t> row;
    if (r % 997 != 5) row.push_back(0);
    if (r == 0 || r == rows - 1 || r % 1'001 == 0 || r % 997 == 5) row.push_back(1);
    meta.add_row(row, 0);
  }
  const LabelIndex index = meta.label_index();
  std::vector<std::int64_t> out;
  std::vector<std::int64_t> scratch;
  for (const std::vector<std::uint32_t>& labels :
       {std::vector<std::uint32_t>{0, 1}, std::vector<std::uint32_t>{1, 0}}) {
    intersect_postings(index, labels, out, scratch);
    const std::vector<std::int64_t> expected = naive(meta, labels, std::nullopt);
    EXPECT_EQ(out, expected);
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(expected.front(), 0);
    EXPECT_EQ(expected.back(), static_cast<std::int64_t>(rows - 1));
  }
}

TEST(AttributeIndex, RowsBetweenHasInclusiveBounds) {
  const std::vector<float> values{0.5f, 0.25f, 0.5f, 1.0f, -2.0f, 0.25f, 0.75f};
  const AttributeIndex index(values);
  EXPECT_EQ(index.rows(), values.size());
  const auto sorted_rows = [&](float lo, float hi) {
    std::vector<std::int64_t> rows = as_vector(index.rows_between(lo, hi));
    std::sort(rows.begin(), rows.end());
    return rows;
  };
  EXPECT_EQ(sorted_rows(0.25f, 0.5f), (std::vector<std::int64_t>{0, 1, 2, 5}));
  EXPECT_EQ(sorted_rows(0.5f, 0.5f), (std::vector<std::int64_t>{0, 2}));  // lo == hi
  EXPECT_EQ(sorted_rows(0.3f, 0.4f), std::vector<std::int64_t>{});
  EXPECT_EQ(sorted_rows(-10.f, 10.f), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(sorted_rows(1.0f, 5.0f), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(sorted_rows(-2.0f, -2.0f), (std::vector<std::int64_t>{4}));
  EXPECT_TRUE(index.rows_between(0.75f, 0.25f).empty());  // lo > hi
  EXPECT_TRUE(index.rows_between(std::nanf(""), 1.0f).empty());
  EXPECT_EQ(index.value(3), 1.0f);
  // In attribute order: non-decreasing values.
  const auto all = index.rows_between(-10.f, 10.f);
  for (std::size_t i = 1; i < all.size(); ++i)
    EXPECT_LE(index.value(all[i - 1]), index.value(all[i]));
}

TEST(AttributeIndex, MatchesNaiveRangeOnRandomData) {
  const Metadata meta = random_metadata(2'000, 4, 21);
  const AttributeIndex index(meta.attr);
  std::mt19937 rng(22);
  std::uniform_int_distribution<int> level(-2, 42);
  for (int trial = 0; trial < 200; ++trial) {
    const float a = static_cast<float>(level(rng)) * 0.025f;
    const float b = static_cast<float>(level(rng)) * 0.025f;
    std::vector<std::int64_t> got = as_vector(index.rows_between(a, b));
    std::sort(got.begin(), got.end());
    const std::vector<std::int64_t> expected =
        a <= b ? naive(meta, {}, std::make_pair(a, b)) : std::vector<std::int64_t>{};
    ASSERT_EQ(got, expected) << a << " " << b;
  }
}

// Every view of the Filter against the naive row set, including the padding bits of the last
// word (a search that scans whole words must not see rows past the base).
void expect_filter_equals(const Filter& filter, const std::vector<std::int64_t>& expected,
                          std::size_t rows, int query) {
  ASSERT_EQ(filter.base_rows(), rows) << "query " << query;
  ASSERT_EQ(as_vector(filter.ids()), expected) << "query " << query;
  EXPECT_EQ(filter.count(), expected.size());
  EXPECT_DOUBLE_EQ(filter.selectivity(),
                   static_cast<double>(expected.size()) / static_cast<double>(rows));
  ASSERT_GE(filter.bits().size(), (rows + 63) / 64);
  std::vector<bool> wanted(rows, false);
  for (const std::int64_t id : expected) wanted[static_cast<std::size_t>(id)] = true;
  for (std::size_t r = 0; r < rows; ++r)
    ASSERT_EQ(filter.allowed(static_cast<std::int64_t>(r)), wanted[r])
        << "query " << query << ", row " << r;
  const std::span<const std::uint64_t> bits = filter.bits();
  for (std::size_t bit = rows; bit < bits.size() * 64; ++bit)
    ASSERT_EQ((bits[bit / 64] >> (bit % 64)) & 1u, 0u) << "query " << query << ", pad bit " << bit;
}

TEST(FilterBuilder, MatchesNaiveAcrossManyConsecutiveQueries) {
  const std::size_t rows = 2'000 + 37;  // not a multiple of 64
  const Metadata meta = random_metadata(rows, 30, 31);
  const LabelIndex labels = meta.label_index();
  const AttributeIndex attributes(meta.attr);
  FilterBuilder builder(rows, &labels, &attributes);
  std::mt19937 rng(32);
  std::uniform_int_distribution<std::uint32_t> frequent(0, 3);
  std::uniform_int_distribution<std::uint32_t> rare(10, 29);
  std::uniform_int_distribution<int> level(0, 40);
  std::size_t tiny = 0;
  std::size_t large = 0;
  for (int query = 0; query < 300; ++query) {
    // Even cases are very selective, odd ones unselective, so that a builder clearing only the
    // words it set must clear a large set after a small one and the other way round.
    std::vector<std::uint32_t> query_labels;
    std::optional<std::pair<float, float>> range;
    switch (query % 8) {
      case 0:  // a rare label, or two
        query_labels = {rare(rng)};
        if (query % 16 == 0) query_labels.push_back(rare(rng));
        break;
      case 1:  // frequent labels
        query_labels = {frequent(rng)};
        break;
      case 2: {  // a narrow range
        const float lo = static_cast<float>(level(rng)) * 0.025f;
        range = std::make_pair(lo, lo);
        break;
      }
      case 3:  // a wide range
        range = std::make_pair(0.1f, 0.9f);
        break;
      case 4: {  // labels and a narrow range
        query_labels = {frequent(rng), rare(rng)};
        const float lo = static_cast<float>(level(rng)) * 0.025f;
        range = std::make_pair(lo, lo + 0.1f);
        break;
      }
      case 5:  // no conditions at all
        break;
      case 6:  // labels nobody carries, or past label_count
        query_labels = {query % 16 == 6 ? meta.label_count - 1 : meta.label_count + 3};
        break;
      case 7:  // labels and a wide range, two frequent labels
        query_labels = {frequent(rng), frequent(rng)};
        range = std::make_pair(0.0f, 0.8f);
        break;
    }
    const Filter filter = builder.make({query_labels, range});
    const std::vector<std::int64_t> expected = naive(meta, query_labels, range);
    expect_filter_equals(filter, expected, rows, query);
    tiny += expected.size() * 100 < rows;
    large += expected.size() * 2 > rows;
  }
  EXPECT_GT(tiny, 60u);
  EXPECT_GT(large, 60u);
  EXPECT_GT(builder.memory_bytes(), rows / 8);
}

TEST(FilterBuilder, SmallBasesAndEdgeSizes) {
  for (const std::size_t rows :
       {std::size_t{1}, std::size_t{63}, std::size_t{64}, std::size_t{65}, std::size_t{129}}) {
    const Metadata meta = random_metadata(rows, 5, static_cast<std::uint32_t>(rows));
    const LabelIndex labels = meta.label_index();
    const AttributeIndex attributes(meta.attr);
    FilterBuilder builder(rows, &labels, &attributes);
    for (int query = 0; query < 12; ++query) {
      const std::vector<std::uint32_t> query_labels =
          query % 3 == 0 ? std::vector<std::uint32_t>{} : std::vector<std::uint32_t>{0};
      const std::optional<std::pair<float, float>> range =
          query % 2 == 0 ? std::optional(std::make_pair(0.0f, 0.5f)) : std::nullopt;
      expect_filter_equals(builder.make({query_labels, range}), naive(meta, query_labels, range),
                           rows, query);
    }
  }
}

TEST(FilterBuilder, MissingMetadataIsAnErrorAndRowCountsMustMatch) {
  const Metadata meta = random_metadata(100, 5, 41);
  const LabelIndex labels = meta.label_index();
  const AttributeIndex attributes(meta.attr);
  const std::vector<std::uint32_t> one{0};
  FilterBuilder labels_only(100, &labels, nullptr);
  EXPECT_THROW(labels_only.make({{}, std::make_pair(0.0f, 1.0f)}), Error);
  EXPECT_THROW(labels_only.make({one, std::make_pair(0.0f, 1.0f)}), Error);
  expect_filter_equals(labels_only.make({one, std::nullopt}), naive(meta, {0}, std::nullopt), 100,
                       0);
  FilterBuilder range_only(100, nullptr, &attributes);
  EXPECT_THROW(range_only.make({one, std::nullopt}), Error);
  FilterBuilder neither(100, nullptr, nullptr);
  expect_filter_equals(neither.make({}), naive(meta, {}, std::nullopt), 100, 0);
  EXPECT_THROW(FilterBuilder(99, &labels, nullptr), Error);
  EXPECT_THROW(FilterBuilder(101, nullptr, &attributes), Error);
}

}  // namespace
}  // namespace annbench
