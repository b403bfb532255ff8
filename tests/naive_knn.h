#pragma once
// Test helper: the naive O(nq x n x d) exact k-NN that the fast paths must equal: every
// distance by exact_distance (the dataset definition), sorted by (distance, id).

#include <annbench/common/distance.h>
#include <annbench/index.h>
#include <annbench/matrix.h>
#include <annbench/neighbor.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace annbench::testing {

// nq × k, padded with id -1 / +inf when k > n.
inline std::vector<Neighbor> naive_knn(MatrixView base, MatrixView queries, Metric metric,
                                       std::size_t k) {
  std::vector<Neighbor> out(queries.rows * k);
  std::vector<std::pair<double, std::int64_t>> all(base.rows);
  for (std::size_t q = 0; q < queries.rows; ++q) {
    for (std::size_t i = 0; i < base.rows; ++i) {
      all[i] = {exact_distance(metric, queries.row(q), base.row(i), base.dim),
                static_cast<std::int64_t>(i)};
    }
    std::sort(all.begin(), all.end());
    for (std::size_t j = 0; j < std::min(k, all.size()); ++j) {
      out[q * k + j] = Neighbor{all[j].second, static_cast<float>(all[j].first)};
    }
  }
  return out;
}

// Fraction of the true neighbours' ids (truth: q × k, as naive_knn gives) found among `got`'s
// (q × k); ties at the k-th distance count as misses, so use it where ties are rare or judged
// separately.
inline double recall(const std::vector<Neighbor>& got, const std::vector<Neighbor>& truth,
                     std::size_t k) {
  std::size_t hits = 0;
  for (std::size_t q = 0; q < truth.size() / k; ++q) {
    std::set<std::int64_t> expected;
    for (std::size_t j = 0; j < k; ++j) expected.insert(truth[q * k + j].id);
    for (std::size_t j = 0; j < k; ++j) hits += expected.count(got[q * k + j].id);
  }
  return truth.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(truth.size());
}

inline FloatMatrix random_matrix(std::size_t rows, std::size_t dim, std::uint32_t seed,
                                 float mean = 0.0f, float stddev = 1.0f) {
  FloatMatrix m(rows, dim);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(mean, stddev);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = normal(rng);
  return m;
}

// Small integers with many repeated rows: exact ties everywhere, for the tie-breaking rules and
// for more near-equal candidates than any fixed margin.
inline FloatMatrix tied_matrix(std::size_t rows, std::size_t dim, std::size_t distinct,
                               std::uint32_t seed) {
  FloatMatrix prototypes(distinct, dim);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> value(-2, 2);
  for (std::size_t i = 0; i < prototypes.size(); ++i)
    prototypes.data()[i] = static_cast<float>(value(rng));
  FloatMatrix m(rows, dim);
  std::uniform_int_distribution<std::size_t> pick(0, distinct - 1);
  for (std::size_t r = 0; r < rows; ++r) std::copy_n(prototypes.row(pick(rng)), dim, m.row(r));
  return m;
}

// Rows [first, first + count) of base added to a streaming index under ids offset + row.
inline void add_rows(Index& index, const FloatMatrix& base, std::size_t first, std::size_t count,
                     std::int64_t offset) {
  std::vector<std::int64_t> ids(count);
  std::iota(ids.begin(), ids.end(), offset + static_cast<std::int64_t>(first));
  index.add(ids, MatrixView{base.row(first), count, base.cols()});
}

// The exact k nearest among the live rows (row r has id offset + r), with the caller's ids.
inline std::vector<Neighbor> live_truth(const FloatMatrix& base, const std::vector<bool>& live,
                                        MatrixView queries, Metric metric, std::size_t k,
                                        std::int64_t offset, FloatMatrix* live_rows = nullptr,
                                        std::vector<std::int64_t>* live_ids = nullptr) {
  std::vector<std::int64_t> ids;
  for (std::size_t r = 0; r < base.rows(); ++r)
    if (live[r]) ids.push_back(offset + static_cast<std::int64_t>(r));
  FloatMatrix rows(ids.size(), base.cols());
  for (std::size_t i = 0; i < ids.size(); ++i)
    std::copy_n(base.row(static_cast<std::size_t>(ids[i] - offset)), base.cols(), rows.row(i));
  std::vector<Neighbor> truth = naive_knn(rows.view(), queries, metric, k);
  for (Neighbor& n : truth)
    if (n.id >= 0) n.id = ids[static_cast<std::size_t>(n.id)];
  if (live_rows != nullptr) *live_rows = std::move(rows);
  if (live_ids != nullptr) *live_ids = ids;
  return truth;
}

}  // namespace annbench::testing
