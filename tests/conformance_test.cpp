// One conformance suite over every module the build produced (peers included): the promises
// of the Index interface that the harness relies on, checked the same way for all of them.
// A new module under algorithms/ is picked up here without editing this file.
//
// On a small seeded set with duplicate points, at default parameters (or the small-data
// overrides below), for every metric a module claims:
//   - results are rows of the base or -1, without repeats, -1 only after the last result;
//   - a query equal to a base vector finds a vector at distance 0 among its 10 results;
//   - k larger than the base gives at most n results and no failure;
//   - search_batch and concurrent searches from several threads equal serial single searches;
//   - memory_bytes() is positive, distance_count() (when known) never decreases;
//   - range_search (modules declaring it) returns only points inside the radius;
//   - modules declaring kCapInsert / kCapDelete: an index filled by add() from zero rows returns
//     the ids it was given; removed ids never come back; a re-added id is found again;
//   - distances are in the dataset metric's scale (close to exact_distance, nearest first);
//   - at the module's small_data_search settings, recall@10 against exact search reaches its
//     small_data_recall (0.9 unless the module says why not);
//   - an empty base and a single point either build and answer correctly or are refused with
//     an annbench::Error;
//   - modules declaring kCapFilter: filtered search at small_data_search never returns a row
//     the filter does not allow, reaches small_data_recall against an exact filtered scan at
//     selectivities of about 0.3 and 0.05, and answers nothing when nothing passes;
//   - modules declaring kCapSaveLoad: save -> load answers every query identically (ids and
//     distances), and a file of another dimension or module is refused.
// Small-data build and search settings come from each module's ModuleInfo, so the suite names
// no module.

#include "plugin_loader.h"

#include <annbench/common/distance.h>
#include <annbench/common/exact_knn.h>
#include <annbench/common/label_filter.h>
#include <annbench/module.h>

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

namespace annbench {
namespace {

const ModuleRegistry& registry() {
  static const ModuleRegistry modules({ANNBENCH_TEST_MODULE_DIR});
  return modules;
}

// The module's own small-data settings over its defaults: defaults sized for 60,000+ vectors
// (e.g. 1,024 k-means cells) cannot fill 400 points.
Params settings(std::span<const ParamSetting> overrides, std::span<const ParamSpec> specs,
                const char* module, const char* kind) {
  Params given;
  for (const ParamSetting& setting : overrides) given.set(setting.name, setting.value);
  return resolve_params(given, specs, module, kind);
}

Params small_data_build(const ModuleInfo& info) {
  return settings(info.small_data_build, info.build_params, info.name, "build");
}

// Filter-only search parameters included: unfiltered searches ignore them.
Params small_data_search(const ModuleInfo& info) {
  return settings(info.small_data_search, filtered_search_specs(info), info.name, "search");
}

constexpr std::size_t kRows = 400, kDim = 12, kQueries = 24, kK = 10;

FloatMatrix make_base() {
  std::mt19937_64 rng(2024);
  std::normal_distribution<float> normal;
  FloatMatrix base(kRows, kDim);
  for (std::size_t i = 0; i < base.size(); ++i) base.data()[i] = normal(rng);
  // Every tenth row repeats the row before it: duplicates and distance ties.
  for (std::size_t i = 10; i < kRows; i += 10) {
    std::copy(base.row(i - 1), base.row(i - 1) + kDim, base.row(i));
  }
  return base;
}

// Half the queries are base rows (self-queries), half fresh points.
FloatMatrix make_queries(const FloatMatrix& base) {
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal;
  FloatMatrix queries(kQueries, kDim);
  for (std::size_t q = 0; q < kQueries; ++q) {
    if (q % 2 == 0) {
      std::copy(base.row(q * 13), base.row(q * 13) + kDim, queries.row(q));
    } else {
      for (std::size_t j = 0; j < kDim; ++j) queries(q, j) = normal(rng);
    }
  }
  return queries;
}

struct Case {
  std::string module;
  Metric metric;
};

// Test names and failure messages show "hnsw/euclidean" instead of the object's bytes.
void PrintTo(const Case& c, std::ostream* out) {
  *out << c.module << "/" << metric_name(c.metric);
}

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const LoadedModule& module : registry().modules()) {
    for (Metric metric : module.info->metrics) cases.push_back({module.info->name, metric});
  }
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.module + "_" + std::string(metric_name(info.param.metric));
  std::replace_if(
      name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
  return name;
}

const FloatMatrix& base_vectors() {
  static const FloatMatrix base = make_base();
  return base;
}

// One built index per module and metric, shared by that case's tests (some peers take
// seconds to build even on 400 points). Tests only search.
struct Built {
  std::unique_ptr<Index> index;
  std::string skip_reason;
};

class Conformance : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const ModuleInfo& info = *registry().get(GetParam().module).info;
    info_ = &info;
    static std::map<std::pair<std::string, int>, Built> built;
    const auto key = std::pair{info.name, static_cast<int>(GetParam().metric)};
    auto it = built.find(key);
    if (it == built.end()) it = built.emplace(key, build(info)).first;
    if (!it->second.skip_reason.empty()) GTEST_SKIP() << it->second.skip_reason;
    index_ = it->second.index.get();
    index_->set_search_params(resolve_params({}, info.search_params, info.name, "search"));
    omp_set_num_threads(2);
  }

  Built build(const ModuleInfo& info) const {
    Params build;
    build = small_data_build(info);
    Built result;
    try {
      result.index = info.create(GetParam().metric, kDim, build);
    } catch (const Error& error) {
      // A GPU module on a machine without a device says so at create time.
      if (std::string(error.what()).find("no CUDA device") == std::string::npos) throw;
      result.skip_reason = error.what();
      return result;
    }
    omp_set_num_threads(2);
    result.index->build(base_.view());
    return result;
  }

  std::vector<Neighbor> search_all(std::size_t k) const {
    std::vector<Neighbor> out(kQueries * k);
    for (std::size_t q = 0; q < kQueries; ++q) index_->search(queries_.row(q), k, &out[q * k]);
    return out;
  }

  const FloatMatrix& base_ = base_vectors();
  const FloatMatrix queries_ = make_queries(base_);
  const ModuleInfo* info_ = nullptr;
  Index* index_ = nullptr;
};

void expect_well_formed(const std::vector<Neighbor>& results, std::size_t k, std::size_t n) {
  for (std::size_t q = 0; q < results.size() / k; ++q) {
    std::set<std::int64_t> seen;
    bool padding = false;
    for (std::size_t j = 0; j < k; ++j) {
      const std::int64_t id = results[q * k + j].id;
      if (id == -1) {
        padding = true;
        continue;
      }
      EXPECT_FALSE(padding) << "query " << q << ": a result after a -1 slot";
      EXPECT_GE(id, 0) << "query " << q;
      EXPECT_LT(id, static_cast<std::int64_t>(n)) << "query " << q;
      EXPECT_TRUE(seen.insert(id).second) << "query " << q << ": id " << id << " twice";
    }
  }
}

// recall@kK of `results` (kQueries × kK) by ANN-Benchmarks' rule: a result counts when it is no
// farther than the k-th true neighbour + 1e-3 (duplicates in the base make ties).
double recall_at_k(const std::vector<Neighbor>& results, const FloatMatrix& base,
                   const FloatMatrix& queries, Metric metric) {
  omp_set_num_threads(2);
  ExactKnn exact(base.view(), metric);
  std::vector<Neighbor> truth(kQueries * kK);
  exact.search_batch(queries.view(), kK, truth.data());
  std::size_t hits = 0;
  for (std::size_t q = 0; q < kQueries; ++q) {
    const double limit = truth[q * kK + kK - 1].distance + 1e-3;
    for (std::size_t j = 0; j < kK; ++j) {
      const Neighbor& n = results[q * kK + j];
      if (n.id < 0) continue;
      const double d =
          exact_distance(metric, queries.row(q), base.row(static_cast<std::size_t>(n.id)), kDim);
      hits += d <= limit ? 1 : 0;
    }
  }
  return static_cast<double>(hits) / (kQueries * kK);
}

TEST_P(Conformance, ResultsAreWellFormedAndSelfQueriesFindThemselves) {
  const auto results = search_all(kK);
  expect_well_formed(results, kK, kRows);
  std::size_t found = 0, self_queries = 0;
  for (std::size_t q = 0; q < kQueries; q += 2) {
    ++self_queries;
    for (std::size_t j = 0; j < kK; ++j) {
      const std::int64_t id = results[q * kK + j].id;
      if (id >= 0 && std::equal(queries_.row(q), queries_.row(q) + kDim,
                                base_.row(static_cast<std::size_t>(id)))) {
        ++found;
        break;
      }
    }
  }
  // Lossy codes (PQ without re-ranking, LSH sketches) may rank a twin below a close point, but
  // not lose nearly all of them.
  EXPECT_GE(found * 10, self_queries * 8) << found << " of " << self_queries;
  EXPECT_GT(index_->memory_bytes(), 0u);
}

TEST_P(Conformance, KLargerThanTheBaseIsPaddedNotAnError) {
  const std::size_t k = kRows + 7;
  std::vector<Neighbor> out(k);
  index_->search(queries_.row(1), k, out.data());
  expect_well_formed(out, k, kRows);
  EXPECT_EQ(out[kRows].id, -1);
  EXPECT_EQ(out[k - 1].id, -1);
}

TEST_P(Conformance, BatchAndConcurrentSearchesEqualSerialOnes) {
  const auto serial = search_all(kK);
  std::vector<Neighbor> batch(kQueries * kK);
  omp_set_num_threads(2);
  index_->search_batch(queries_.view(), kK, batch.data());
  std::vector<Neighbor> threaded(kQueries * kK);
  {
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        for (std::size_t q = t; q < kQueries; q += 3) {
          index_->search(queries_.row(q), kK, &threaded[q * kK]);
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  for (std::size_t q = 0; q < kQueries; ++q) {
    std::set<std::int64_t> expected, in_batch, in_threads;
    for (std::size_t j = 0; j < kK; ++j) {
      expected.insert(serial[q * kK + j].id);
      in_batch.insert(batch[q * kK + j].id);
      in_threads.insert(threaded[q * kK + j].id);
    }
    EXPECT_EQ(in_batch, expected) << "query " << q << ": search_batch differs";
    EXPECT_EQ(in_threads, expected) << "query " << q << ": concurrent search differs";
  }
}

TEST_P(Conformance, DistanceCountNeverDecreases) {
  const auto before = index_->distance_count();
  if (!before) GTEST_SKIP() << info_->name << " does not count distances";
  search_all(kK);
  const auto after = index_->distance_count();
  ASSERT_TRUE(after.has_value());
  EXPECT_GE(*after, *before);
  EXPECT_GT(*after, 0u) << "searches ran, yet no distance was counted";
}

TEST_P(Conformance, RangeSearchStaysInsideTheRadius) {
  if ((info_->capabilities & kCapRangeSearch) == 0) {
    GTEST_SKIP() << info_->name << " does not declare kCapRangeSearch";
  }
  const Metric metric = GetParam().metric;
  for (std::size_t q = 0; q < kQueries; ++q) {
    // The 5th-nearest distance as radius: a handful of results each.
    std::vector<double> distances;
    for (std::size_t i = 0; i < kRows; ++i) {
      distances.push_back(exact_distance(metric, queries_.row(q), base_.row(i), kDim));
    }
    std::nth_element(distances.begin(), distances.begin() + 4, distances.end());
    const auto radius = static_cast<float>(distances[4]);
    std::vector<Neighbor> found;
    index_->range_search(queries_.row(q), radius, found);
    std::set<std::int64_t> ids;
    for (const Neighbor& hit : found) {
      ASSERT_GE(hit.id, 0);
      ASSERT_LT(hit.id, static_cast<std::int64_t>(kRows));
      EXPECT_TRUE(ids.insert(hit.id).second) << "id " << hit.id << " twice";
      const double true_distance = exact_distance(
          metric, queries_.row(q), base_.row(static_cast<std::size_t>(hit.id)), kDim);
      EXPECT_LE(true_distance, radius + 1e-4 * (1 + std::abs(radius)))
          << "query " << q << " id " << hit.id;
    }
  }
}

TEST_P(Conformance, AddedIdsAreReturnedRemovedNeverAndReAddedFoundAgain) {
  if ((info_->capabilities & kCapInsert) == 0) {
    GTEST_SKIP() << info_->name << " does not declare kCapInsert";
  }
  std::unique_ptr<Index> index = info_->create(GetParam().metric, kDim, small_data_build(*info_));
  index->build(MatrixView{nullptr, 0, kDim});
  index->set_search_params(resolve_params({}, info_->search_params, info_->name, "search"));
  constexpr std::int64_t kOffset = 1000;  // ids are the caller's, not positions
  auto add_rows = [&](std::size_t first, std::size_t count) {
    std::vector<std::int64_t> ids(count);
    for (std::size_t i = 0; i < count; ++i) ids[i] = kOffset + static_cast<std::int64_t>(first + i);
    index->add(ids, MatrixView{base_.row(first), count, kDim});
  };
  add_rows(0, kRows / 2);
  add_rows(kRows / 2, kRows / 2);
  // Self-queries of every 13th row: how many find their own id among their 10 results.
  auto self_found = [&](const std::set<std::int64_t>& removed) {
    std::size_t found = 0, asked = 0;
    for (std::size_t row = 0; row < kRows; row += 13) {
      std::vector<Neighbor> out(kK);
      index->search(base_.row(row), kK, out.data());
      for (const Neighbor& hit : out) {
        if (hit.id == -1) continue;
        EXPECT_GE(hit.id, kOffset);
        EXPECT_LT(hit.id, kOffset + static_cast<std::int64_t>(kRows));
        EXPECT_EQ(removed.count(hit.id), 0u) << "removed id " << hit.id << " returned";
      }
      if (removed.count(kOffset + static_cast<std::int64_t>(row)) != 0) continue;
      ++asked;
      // A duplicate row's twin counts too: both are at distance 0.
      found += std::any_of(out.begin(), out.end(), [&](const Neighbor& hit) {
        return hit.id >= kOffset && hit.id < kOffset + static_cast<std::int64_t>(kRows) &&
               std::equal(base_.row(row), base_.row(row) + kDim,
                          base_.row(static_cast<std::size_t>(hit.id - kOffset)));
      });
    }
    return std::pair{found, asked};
  };
  auto [found, asked] = self_found({});
  EXPECT_GE(found * 10, asked * 8) << found << " of " << asked << " self-queries after add()";
  if ((info_->capabilities & kCapDelete) == 0) return;
  // Remove the first half, then add it back.
  std::vector<std::int64_t> gone(kRows / 2);
  for (std::size_t i = 0; i < gone.size(); ++i) gone[i] = kOffset + static_cast<std::int64_t>(i);
  index->remove(gone);
  const std::set<std::int64_t> removed(gone.begin(), gone.end());
  std::tie(found, asked) = self_found(removed);
  EXPECT_GE(found * 10, asked * 8) << found << " of " << asked << " after remove()";
  add_rows(0, kRows / 2);
  std::tie(found, asked) = self_found({});
  EXPECT_GE(found * 10, asked * 8) << found << " of " << asked << " after re-adding";
}

TEST_P(Conformance, DistancesAreInTheMetricScaleNearestFirst) {
  const auto results = search_all(kK);
  double error = 0, exact_sum = 0;
  for (std::size_t q = 0; q < kQueries; ++q) {
    for (std::size_t j = 0; j < kK; ++j) {
      const Neighbor& n = results[q * kK + j];
      if (n.id < 0) continue;
      if (j > 0 && results[q * kK + j - 1].id >= 0) {
        EXPECT_LE(results[q * kK + j - 1].distance, n.distance) << "query " << q << " rank " << j;
      }
      const double exact = exact_distance(GetParam().metric, queries_.row(q),
                                          base_.row(static_cast<std::size_t>(n.id)), kDim);
      error += std::abs(n.distance - exact);
      exact_sum += std::abs(exact);
    }
  }
  // Lossy codes (PQ, sketches) write approximate distances, but in the right scale: a squared
  // L2 or a bare -cos would be off by far more than this.
  EXPECT_LE(error, 0.5 * exact_sum + 0.01 * kQueries * kK)
      << "mean |returned - exact| " << error / (kQueries * kK) << " vs mean exact "
      << exact_sum / (kQueries * kK);
}

TEST_P(Conformance, SmallDataSearchSettingsFindNearlyEveryTrueNeighbour) {
  index_->set_search_params(small_data_search(*info_));
  const auto results = search_all(kK);
  EXPECT_GE(recall_at_k(results, base_, queries_, GetParam().metric), info_->small_data_recall)
      << info_->name << " at its small_data_search settings "
      << small_data_search(*info_).to_json();
}

// Label 0 on about 30 % of the rows, label 1 on about 5 %, label 2 on none.
LabelIndex small_data_labels() {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> uniform;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::uint32_t> labels;
  for (std::size_t r = 0; r < kRows; ++r) {
    if (uniform(rng) < 0.3) labels.push_back(0);
    if (uniform(rng) < 0.05) labels.push_back(1);
    indptr.push_back(static_cast<std::int64_t>(labels.size()));
  }
  return LabelIndex(indptr, labels, 3);
}

TEST_P(Conformance, FilteredSearchReturnsOnlyAllowedRowsAndFindsTheNearest) {
  if ((info_->capabilities & kCapFilter) == 0) GTEST_SKIP() << "no kCapFilter";
  index_->set_search_params(small_data_search(*info_));
  const LabelIndex labels = small_data_labels();
  FilterBuilder builder(kRows, &labels, nullptr);
  for (std::uint32_t label : {0u, 1u, 2u}) {
    const std::uint32_t query_labels[] = {label};
    const Filter filter = builder.make({.labels = query_labels});
    std::size_t hits = 0, wanted = 0;
    for (std::size_t q = 0; q < kQueries; ++q) {
      std::vector<Neighbor> out(kK);
      index_->search_filtered(queries_.row(q), kK, filter, out.data());
      expect_well_formed(out, kK, kRows);
      std::vector<double> exact;
      for (std::int64_t row : filter.ids()) {
        exact.push_back(exact_distance(GetParam().metric, queries_.row(q),
                                       base_.row(static_cast<std::size_t>(row)), kDim));
      }
      std::sort(exact.begin(), exact.end());
      const std::size_t m = std::min(kK, exact.size());
      wanted += m;
      const double limit = m > 0 ? exact[m - 1] + 1e-3 : 0.0;
      for (const Neighbor& n : out) {
        if (n.id < 0) continue;
        ASSERT_TRUE(filter.allowed(n.id))
            << "label " << label << " query " << q << ": row " << n.id << " is not allowed";
        const double d = exact_distance(GetParam().metric, queries_.row(q),
                                        base_.row(static_cast<std::size_t>(n.id)), kDim);
        hits += d <= limit ? 1 : 0;
      }
    }
    if (wanted == 0) {
      EXPECT_EQ(hits, 0u) << "label " << label << " allows no row";
      continue;
    }
    EXPECT_GE(static_cast<double>(std::min(hits, wanted)) / static_cast<double>(wanted),
              info_->small_data_recall)
        << info_->name << " label " << label << " (selectivity " << filter.selectivity() << ") at "
        << small_data_search(*info_).to_json();
  }
}

// Builds `rows` rows of the shared base; nullptr when the module refuses with an Error.
std::unique_ptr<Index> build_small(const ModuleInfo& info, Metric metric, std::size_t rows,
                                   std::string& refusal) {
  auto index = info.create(metric, kDim, small_data_build(info));
  try {
    index->build(MatrixView{rows == 0 ? nullptr : base_vectors().data(), rows, kDim});
  } catch (const Error& error) {
    refusal = error.what();
    return nullptr;
  }
  index->set_search_params(small_data_search(info));
  return index;
}

// The base and queries rounded to integers of a byte-wide type (normal values times 20: about
// -60 .. 60, shifted by 128 for uint8), as floats holding those integers.
FloatMatrix to_integers(const FloatMatrix& values, float shift) {
  FloatMatrix out(values.rows(), values.cols());
  for (std::size_t i = 0; i < values.size(); ++i)
    out.data()[i] = std::clamp(std::nearbyint(values.data()[i] * 20.0f) + shift, shift - 128.0f,
                               shift + 127.0f);
  return out;
}

TEST_P(Conformance, IntegerBaseInItsOwnTypeFindsNearlyEveryTrueNeighbour) {
  const bool u8 = (info_->capabilities & kCapUint8) != 0;
  const bool i8 = (info_->capabilities & kCapInt8) != 0;
  if (!u8 && !i8) GTEST_SKIP() << info_->name << " takes float vectors only";
  if (GetParam().metric == Metric::Angular)
    GTEST_SKIP() << "angular datasets reach every module as normalised floats";
  for (const bool unsigned_type : {true, false}) {
    if (unsigned_type ? !u8 : !i8) continue;
    SCOPED_TRACE(unsigned_type ? "uint8" : "int8");
    const float shift = unsigned_type ? 128.0f : 0.0f;
    const FloatMatrix base = to_integers(base_, shift);
    const FloatMatrix queries = to_integers(queries_, shift);
    Matrix<std::uint8_t> base_u8(kRows, kDim);
    Matrix<std::int8_t> base_i8(kRows, kDim);
    for (std::size_t i = 0; i < base.size(); ++i) {
      base_u8.data()[i] = static_cast<std::uint8_t>(base.data()[i]);
      base_i8.data()[i] = static_cast<std::int8_t>(base.data()[i]);
    }
    std::unique_ptr<Index> typed = info_->create(GetParam().metric, kDim, small_data_build(*info_));
    std::unique_ptr<Index> floats =
        info_->create(GetParam().metric, kDim, small_data_build(*info_));
    omp_set_num_threads(2);
    if (unsigned_type) {
      typed->build_uint8(base_u8.typed_view());
    } else {
      typed->build_int8(base_i8.typed_view());
    }
    floats->build(base.view());
    EXPECT_LE(typed->memory_bytes(), floats->memory_bytes());  // rows padded: may be equal
    typed->set_search_params(small_data_search(*info_));
    std::vector<Neighbor> results(kQueries * kK);
    for (std::size_t q = 0; q < kQueries; ++q) typed->search(queries.row(q), kK, &results[q * kK]);
    expect_well_formed(results, kK, kRows);
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (results[i].id < 0) continue;
      // Distances are reported in the metric's scale, as for float data.
      const double d = exact_distance(GetParam().metric, queries.row(i / kK),
                                      base.row(static_cast<std::size_t>(results[i].id)), kDim);
      EXPECT_NEAR(results[i].distance, d, 1e-3 * std::max(1.0, std::abs(d)));
    }
    EXPECT_GE(recall_at_k(results, base, queries, GetParam().metric), info_->small_data_recall);
  }
}

TEST_P(Conformance, EmptyBaseAnswersNothingOrIsRefused) {
  std::string refusal;
  auto index = build_small(*info_, GetParam().metric, 0, refusal);
  if (index == nullptr) {
    EXPECT_FALSE(refusal.empty());
    EXPECT_EQ(info_->capabilities & kCapInsert, 0u)
        << "a streaming module must accept an empty build: " << refusal;
    return;
  }
  std::vector<Neighbor> out(kK);
  index->search(queries_.row(0), kK, out.data());
  for (const Neighbor& n : out) EXPECT_EQ(n.id, -1);
}

TEST_P(Conformance, SinglePointIsFoundOrRefused) {
  std::string refusal;
  auto index = build_small(*info_, GetParam().metric, 1, refusal);
  if (index == nullptr) {
    EXPECT_FALSE(refusal.empty());
    return;
  }
  std::vector<Neighbor> out(kK);
  index->search(base_.row(0), kK, out.data());
  EXPECT_EQ(out[0].id, 0);
  for (std::size_t j = 1; j < kK; ++j) EXPECT_EQ(out[j].id, -1) << "slot " << j;
}

TEST_P(Conformance, SavedAndLoadedIndexAnswersIdentically) {
  if ((info_->capabilities & kCapSaveLoad) == 0) {
    GTEST_SKIP() << info_->name << " does not declare kCapSaveLoad";
  }
  ASSERT_NE(info_->load, nullptr);
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("conformance-{}-{}-{}.annidx", info_->name,
                                metric_name(GetParam().metric), ::getpid());
  index_->save(path.string());
  std::unique_ptr<Index> loaded = info_->load(path.string(), GetParam().metric, kDim);
  const Params search = resolve_params({}, info_->search_params, info_->name, "search");
  loaded->set_search_params(search);
  const auto before = search_all(kK);
  std::vector<Neighbor> after(kQueries * kK);
  for (std::size_t q = 0; q < kQueries; ++q) loaded->search(queries_.row(q), kK, &after[q * kK]);
  for (std::size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(after[i].id, before[i].id) << "query " << i / kK << " rank " << i % kK;
    EXPECT_EQ(after[i].distance, before[i].distance) << "query " << i / kK << " rank " << i % kK;
  }
  EXPECT_GT(loaded->memory_bytes(), 0u);
  EXPECT_THROW(info_->load(path.string(), GetParam().metric, kDim + 1), Error);
  const Metric other = GetParam().metric == Metric::L2 ? Metric::Angular : Metric::L2;
  EXPECT_THROW(info_->load(path.string(), other, kDim), Error);
  EXPECT_THROW(info_->load((path.string() + ".missing"), GetParam().metric, kDim), Error);
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(EveryModule, Conformance, ::testing::ValuesIn(all_cases()), case_name);

TEST(Conformance, EveryModuleOfTheBuildLoaded) {
  for (const auto& failure : registry().failures()) {
    ADD_FAILURE() << failure.path.string() << ": " << failure.reason;
  }
  EXPECT_FALSE(registry().modules().empty());
}

}  // namespace
}  // namespace annbench
