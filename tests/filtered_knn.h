#pragma once
// Test helper for filtered search: random labels over a base turned into Filters the way the
// harness builds them (LabelIndex + FilterBuilder), the naive filtered k-NN those must match,
// and the check that a result holds only allowed ids.

#include "naive_knn.h"

#include <annbench/common/label_filter.h>
#include <annbench/filter.h>
#include <annbench/index.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace annbench::testing {

// Row r carries label l with probability rates[l], independently of the other labels.
class RandomLabels {
 public:
  RandomLabels(std::size_t rows, std::vector<double> rates, std::uint32_t seed) : rows_(rows) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    indptr_.push_back(0);
    for (std::size_t r = 0; r < rows; ++r) {
      for (std::size_t l = 0; l < rates.size(); ++l) {
        if (uniform(rng) < rates[l]) labels_.push_back(static_cast<std::uint32_t>(l));
      }
      indptr_.push_back(static_cast<std::int64_t>(labels_.size()));
    }
    index_ = LabelIndex(indptr_, labels_, static_cast<std::uint32_t>(rates.size()));
  }
  RandomLabels(const RandomLabels&) = delete;
  RandomLabels& operator=(const RandomLabels&) = delete;

  const LabelIndex& index() const { return index_; }
  // A builder of its own (one per thread); the filters it makes reference it.
  FilterBuilder builder() const { return FilterBuilder(rows_, &index_, nullptr); }

 private:
  std::size_t rows_;
  std::vector<std::int64_t> indptr_;
  std::vector<std::uint32_t> labels_;
  LabelIndex index_;
};

// The filter of the rows carrying every label in `labels`.
inline Filter filter_of(FilterBuilder& builder, std::span<const std::uint32_t> labels) {
  return builder.make(FilterQuery{labels, std::nullopt});
}

// The exact k nearest allowed rows of every query (nq × k, -1 / +inf padded), ties by id.
inline std::vector<Neighbor> naive_filtered_knn(MatrixView base, MatrixView queries, Metric metric,
                                                std::size_t k, const Filter& filter) {
  const std::span<const std::int64_t> ids = filter.ids();
  FloatMatrix rows(ids.size(), base.dim);
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::copy_n(base.row(static_cast<std::size_t>(ids[i])), base.dim, rows.row(i));
  std::vector<Neighbor> truth = naive_knn(rows.view(), queries, metric, k);
  for (Neighbor& n : truth)
    if (n.id >= 0) n.id = ids[static_cast<std::size_t>(n.id)];
  return truth;
}

// Every id of `got` (nq × k) is allowed or -1, -1 only after the last result, no repeats.
inline void expect_allowed(const std::vector<Neighbor>& got, std::size_t k, const Filter& filter,
                           const char* what) {
  for (std::size_t q = 0; q < got.size() / k; ++q) {
    bool padding = false;
    std::vector<std::int64_t> seen;
    for (std::size_t j = 0; j < k; ++j) {
      const std::int64_t id = got[q * k + j].id;
      if (id < 0) {
        padding = true;
        continue;
      }
      ASSERT_FALSE(padding) << what << ": query " << q << " has a result after -1";
      ASSERT_LT(static_cast<std::size_t>(id), filter.base_rows()) << what << ": query " << q;
      ASSERT_TRUE(filter.allowed(id)) << what << ": query " << q << " returned disallowed " << id;
      ASSERT_EQ(std::count(seen.begin(), seen.end(), id), 0) << what << ": repeated " << id;
      seen.push_back(id);
    }
  }
}

// How many results of `got` (nq × k) are real ids (not -1).
inline std::size_t result_count(const std::vector<Neighbor>& got) {
  return static_cast<std::size_t>(
      std::count_if(got.begin(), got.end(), [](const Neighbor& n) { return n.id >= 0; }));
}

// Gaussian blobs around `clusters` seeded centres spread over [0, spread): the structure graphs
// and inverted files are built for; labels drawn apart from it do not follow the clusters.
inline FloatMatrix gaussian_blobs(std::size_t rows, std::size_t dim, std::size_t clusters,
                                  std::uint32_t seed, std::uint32_t centre_seed, float spread) {
  const FloatMatrix centres = random_matrix(clusters, dim, centre_seed, 0.0f, spread);
  FloatMatrix m = random_matrix(rows, dim, seed);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t j = 0; j < dim; ++j) m(i, j) += centres((i * 7919 + seed) % clusters, j);
  }
  return m;
}

// Filtered search of every query with one filter (nq × k).
inline std::vector<Neighbor> search_filtered_all(const Index& index, MatrixView queries,
                                                 std::size_t k, const Filter& filter) {
  std::vector<Neighbor> out(queries.rows * k);
  for (std::size_t q = 0; q < queries.rows; ++q)
    index.search_filtered(queries.row(q), k, filter, out.data() + q * k);
  return out;
}

// A base and queries with labels 0..3 on about 50 %, 10 %, 1 % and 0 % of the rows, drawn
// independently of the vectors, and filters by one label.
class LabelledBase : public ::testing::Test {
 protected:
  LabelledBase(FloatMatrix base, FloatMatrix queries)
      : base_(std::move(base)),
        queries_(std::move(queries)),
        labels_(base_.rows(), {0.5, 0.1, 0.01, 0.0}, 3),
        builder_(labels_.builder()) {}

  Filter filter(std::uint32_t label) {
    const std::uint32_t condition[] = {label};
    return filter_of(builder_, condition);
  }

  FloatMatrix base_, queries_;
  RandomLabels labels_;
  FilterBuilder builder_;
};

}  // namespace annbench::testing
