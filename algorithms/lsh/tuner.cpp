// The lsh tuner; see tuner.h for the model.

#include "probe_sequence.h"
#include "tuner.h"

#include <annbench/common/block_distance.h>
#include <annbench/error.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <unordered_set>
#include <utility>
#include <vector>

namespace annbench::lsh {
namespace {

// Multiply-adds allowed for the exact neighbours of the stand-in queries: fashion-mnist
// (60,000 × 784) with 128 queries fits (6.0e9), so its reference is the whole base.
constexpr double kNeighborBudget = 8e9;
// Monte Carlo trials per K for the per-table probe table g(rho, m).
constexpr std::size_t kTrials = 2048;
// Most perturbed buckets per table the model follows (probes / L beyond it count as this many,
// which underestimates recall, never overestimates it).
constexpr std::size_t kMaxModelProbes = 256;
// Memory the tables may take at most (ids plus worst-case directory, ~36 bytes per point and
// table): caps L on large bases.
constexpr double kTableMemoryBudget = 4.0 * (1ull << 30);

// Normalised-distance grid of g. p-stable: rho = r / W = 2^(-7 + j / 8), j = 0..96 (beyond the
// top, g is taken as at the top, ~0; below the bottom as at the bottom, ~1). Hyperplane: the
// angle pi · j / 96.
constexpr std::size_t kGrid = 97;
constexpr double kGridOctaves = 8.0, kGridLow = -7.0;
// Histogram of all query-reference distances: p-stable log2(r / scale) in [-16, 4) at 40 bins per
// octave (bin 0 holds r = 0 exactly, and anything smaller); hyperplane angles in 720 bins.
constexpr std::size_t kPStableBins = 801, kAngleBins = 720;
constexpr double kBinsPerOctave = 40.0, kBinLow = -16.0;

constexpr std::array<std::size_t, 18> kHashGrid = {2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                   11, 12, 13, 14, 16, 18, 20, 22, 24};
constexpr std::array<std::size_t, 27> kTableGrid = {1,  2,  3,  4,   5,   6,   8,   10,  12,
                                                    14, 16, 20, 24,  28,  32,  40,  48,  56,
                                                    64, 80, 96, 112, 128, 160, 192, 224, 256};
// The model's recall came out optimistic on the test data (lsh_tune_test: by up to ~0.03 without
// probes, from sampling 128 stand-in queries, and by up to ~0.1 with probes, where the even
// share of the budget per table is only an approximation of the global probe order), so the
// tuner aims this much above the target.
constexpr double kMargin = 0.02, kProbeMargin = 0.06;

// Round values, so a chosen width can be given back with tune: off.
constexpr std::array<double, 20> kWidthGrid = {0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.2,
                                               1.4,  1.6, 2.0,  2.4, 2.8, 3.2, 4.0, 5.0, 6.0, 8.0};

// `count` distinct rows of n, ascending (Floyd's sampling), from rng.
std::vector<std::size_t> sample_rows(std::size_t n, std::size_t count, std::mt19937_64& rng) {
  std::unordered_set<std::size_t> chosen;
  chosen.reserve(count * 2);
  for (std::size_t j = n - count; j < n; ++j) {
    const std::size_t t = std::uniform_int_distribution<std::size_t>(0, j)(rng);
    if (!chosen.insert(t).second) chosen.insert(j);
  }
  std::vector<std::size_t> rows(chosen.begin(), chosen.end());
  std::sort(rows.begin(), rows.end());
  return rows;
}

// What the tuner measures on the data: the queries' true-neighbour distances (normalised
// distance units: r / scale for p-stable, the angle for hyperplane) and a histogram of all
// their distances to the reference rows.
struct Distances {
  std::vector<double> neighbors;  // queries × per_query
  std::size_t per_query = 0;
  std::vector<std::uint64_t> histogram;
  std::vector<double> bin_value;      // representative distance of each bin (same units)
  double candidates_per_count = 0.0;  // base points one histogram count stands for, per query
};

double bin_of_pstable(double ratio) {
  if (!(ratio > 0.0)) return 0.0;
  const double x = (std::log2(ratio) - kBinLow) * kBinsPerOctave + 1.0;
  return std::clamp(x, 1.0, static_cast<double>(kPStableBins - 1));
}

Distances measure(MatrixView base, bool angular, double scale, std::size_t query_count,
                  std::mt19937_64& rng, TuneResult& result) {
  const std::size_t n = base.rows, dim = base.dim;
  const std::vector<std::size_t> query_rows = sample_rows(n, query_count, rng);
  const double full = static_cast<double>(query_count) * static_cast<double>(n) * dim;
  const bool whole = full <= kNeighborBudget;
  std::vector<std::size_t> reference;
  if (!whole) {
    const auto rows = static_cast<std::size_t>(kNeighborBudget / (query_count * dim));
    reference = sample_rows(n, std::max<std::size_t>(rows, kTuneNeighbors + 2), rng);
  }
  const std::size_t ref_rows = whole ? n : reference.size();
  // Rows a query is compared with (its own row is skipped when it is among them).
  const std::size_t per_query_rows = ref_rows - 1;
  std::size_t k = kTuneNeighbors;
  if (!whole) {
    k = static_cast<std::size_t>(
        std::lround(static_cast<double>(kTuneNeighbors) * static_cast<double>(ref_rows) / n));
    k = std::max<std::size_t>(k, 1);
  }
  k = std::min(k, per_query_rows);

  // Queries (unit for angular) and their squared norms.
  std::vector<float> queries(query_count * dim);
  std::vector<double> query_norm(query_count);
  for (std::size_t q = 0; q < query_count; ++q) {
    const float* x = base.row(query_rows[q]);
    double sum = 0.0;
    for (std::size_t j = 0; j < dim; ++j) sum += static_cast<double>(x[j]) * x[j];
    const double inverse = angular && sum > 0.0 ? 1.0 / std::sqrt(sum) : 1.0;
    for (std::size_t j = 0; j < dim; ++j) queries[q * dim + j] = static_cast<float>(x[j] * inverse);
    query_norm[q] = angular ? (sum > 0.0 ? 1.0 : 0.0) : sum;
  }

  const std::size_t bins = angular ? kAngleBins : kPStableBins;
  // Per query: its histogram and its k nearest (distance, row), merged chunk by chunk.
  std::vector<std::uint64_t> histograms(query_count * bins, 0);
  std::vector<std::vector<std::pair<double, std::size_t>>> nearest(query_count);
  constexpr std::size_t kChunk = 4096, kGroup = 8;
  std::vector<float> gathered;
  std::vector<double> row_norm(kChunk);
  std::vector<float> products(query_count * kChunk);
  const BlockKernels& block = block_kernels();
  const auto groups = static_cast<std::int64_t>((query_count + kGroup - 1) / kGroup);
  for (std::size_t first = 0; first < ref_rows; first += kChunk) {
    const std::size_t count = std::min(kChunk, ref_rows - first);
    const float* rows = base.row(first);
    if (!whole) {
      gathered.resize(count * dim);
      for (std::size_t i = 0; i < count; ++i)
        std::copy_n(base.row(reference[first + i]), dim, gathered.data() + i * dim);
      rows = gathered.data();
    }
    for (std::size_t i = 0; i < count; ++i) {
      const float* x = rows + i * dim;
      double sum = 0.0;
      for (std::size_t j = 0; j < dim; ++j) sum += static_cast<double>(x[j]) * x[j];
      row_norm[i] = sum;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (std::int64_t g = 0; g < groups; ++g) {
      const std::size_t q0 = static_cast<std::size_t>(g) * kGroup;
      const std::size_t nq = std::min(kGroup, query_count - q0);
      float* out = products.data() + q0 * kChunk;
      block.inner_products(queries.data() + q0 * dim, nq, rows, count, dim, out, kChunk);
      for (std::size_t q = q0; q < q0 + nq; ++q) {
        std::uint64_t* histogram = histograms.data() + q * bins;
        auto& best = nearest[q];
        for (std::size_t i = 0; i < count; ++i) {
          const std::size_t id = whole ? first + i : reference[first + i];
          if (id == query_rows[q]) continue;
          const double ip = out[(q - q0) * kChunk + i];
          double value = 0.0;  // r / scale, or the angle
          if (angular) {
            const double norms = query_norm[q] * row_norm[i];
            const double cosine = norms > 0.0 ? ip / std::sqrt(row_norm[i]) : 0.0;
            value = std::acos(std::clamp(cosine, -1.0, 1.0));
            histogram[std::min(bins - 1, static_cast<std::size_t>(value / std::numbers::pi *
                                                                  static_cast<double>(bins)))]++;
          } else {
            value = std::sqrt(std::max(0.0, query_norm[q] + row_norm[i] - 2.0 * ip)) / scale;
            histogram[static_cast<std::size_t>(bin_of_pstable(value))]++;
          }
          const std::pair<double, std::size_t> entry{value, id};
          if (best.size() < k) {
            best.push_back(entry);
            std::push_heap(best.begin(), best.end());
          } else if (entry < best.front()) {
            std::pop_heap(best.begin(), best.end());
            best.back() = entry;
            std::push_heap(best.begin(), best.end());
          }
        }
      }
    }
  }

  Distances d;
  d.per_query = k;
  d.neighbors.reserve(query_count * k);
  for (const auto& best : nearest)
    for (const auto& [value, id] : best) d.neighbors.push_back(value);
  d.histogram.assign(bins, 0);
  for (std::size_t q = 0; q < query_count; ++q)
    for (std::size_t b = 0; b < bins; ++b) d.histogram[b] += histograms[q * bins + b];
  d.bin_value.resize(bins);
  for (std::size_t b = 0; b < bins; ++b) {
    d.bin_value[b] = angular ? (static_cast<double>(b) + 0.5) / bins * std::numbers::pi
                     : b == 0
                         ? 0.0
                         : std::exp2(kBinLow + (static_cast<double>(b) - 0.5) / kBinsPerOctave);
  }
  d.candidates_per_count = static_cast<double>(n - 1) / static_cast<double>(per_query_rows) /
                           static_cast<double>(query_count);
  result.queries = query_count;
  result.reference_rows = ref_rows;
  result.neighbors = k;
  return d;
}

// g for one K: cumulative[j * (m_max + 1) + m] = P(a point at grid distance j lands in the home
// bucket or one of the m cheapest perturbed buckets of one table).
std::vector<double> probe_table(HashKind kind, std::size_t hashes, std::size_t max_probes,
                                std::uint64_t seed) {
  HashOptions options;
  options.kind = kind;
  options.tables = 1;
  options.hashes = hashes;
  options.seed = seed;
  // Only the key weights and the hash rule are used: the values are drawn below.
  HashTables table;
  const float zero = 0.0f;
  table.init(MatrixView{&zero, 1, 1}, options);
  const bool pstable = kind == HashKind::PStable;

  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::normal_distribution<double> gaussian(0.0, 1.0);
  const std::size_t columns = max_probes + 2;  // ranks 0..max_probes, then "missed"
  std::vector<std::uint64_t> counts(kGrid * columns, 0);
  std::vector<float> query(hashes), point(hashes);
  std::vector<double> noise(hashes);
  std::vector<std::pair<std::uint64_t, std::uint32_t>> probed;
  ProbeSequence sequence;
  std::array<double, kGrid> along{}, across{};
  for (std::size_t j = 0; j < kGrid; ++j) {
    if (pstable) {
      along[j] = std::exp2(kGridLow + static_cast<double>(j) / kGridOctaves);
    } else {
      const double angle = std::numbers::pi * static_cast<double>(j) / (kGrid - 1);
      along[j] = std::cos(angle);
      across[j] = std::sin(angle);
    }
  }
  for (std::size_t trial = 0; trial < kTrials; ++trial) {
    // p-stable: the query's offset inside its slot is uniform, and <a, x - q> / W ~ N(0, rho^2).
    // Hyperplane: <a, q> and <a, x> are standard normals with correlation cos(angle).
    for (std::size_t i = 0; i < hashes; ++i) {
      query[i] = static_cast<float>(pstable ? uniform(rng) : gaussian(rng));
      noise[i] = gaussian(rng);
    }
    sequence.start(table, query.data());
    probed.clear();
    std::size_t t = 0;
    std::uint64_t key = 0;
    for (std::uint32_t rank = 0; rank <= max_probes && sequence.next(t, key); ++rank)
      probed.emplace_back(key, rank);
    std::sort(probed.begin(), probed.end());
    for (std::size_t j = 0; j < kGrid; ++j) {
      for (std::size_t i = 0; i < hashes; ++i) {
        point[i] = static_cast<float>(pstable ? query[i] + along[j] * noise[i]
                                              : along[j] * query[i] + across[j] * noise[i]);
      }
      const std::uint64_t wanted = table.bucket_key(0, point.data());
      const auto found = std::lower_bound(probed.begin(), probed.end(),
                                          std::pair<std::uint64_t, std::uint32_t>{wanted, 0});
      const std::size_t rank =
          found != probed.end() && found->first == wanted ? found->second : max_probes + 1;
      counts[j * columns + rank]++;
    }
  }
  std::vector<double> cumulative(kGrid * (max_probes + 1));
  for (std::size_t j = 0; j < kGrid; ++j) {
    std::uint64_t sum = 0;
    for (std::size_t m = 0; m <= max_probes; ++m) {
      sum += counts[j * columns + m];
      cumulative[j * (max_probes + 1) + m] = static_cast<double>(sum) / kTrials;
    }
  }
  return cumulative;
}

// Grid position of a normalised distance (p-stable: rho = r / W; hyperplane: the angle).
double grid_position(bool pstable, double value) {
  if (pstable) {
    if (!(value > 0.0)) return -1.0;  // identical points always share every bucket
    return std::clamp((std::log2(value) - kGridLow) * kGridOctaves, 0.0,
                      static_cast<double>(kGrid - 1));
  }
  return std::clamp(value / std::numbers::pi * (kGrid - 1), 0.0, static_cast<double>(kGrid - 1));
}

// g at a grid position and a (fractional) per-table probe budget, bilinear.
double lookup(const std::vector<double>& g, std::size_t max_probes, double position,
              double probes) {
  if (position < 0.0) return 1.0;
  const auto j = std::min(static_cast<std::size_t>(position), kGrid - 2);
  const double tj = position - static_cast<double>(j);
  const auto m = std::min(static_cast<std::size_t>(probes), max_probes);
  const std::size_t m1 = std::min(m + 1, max_probes);
  const double tm = m < max_probes ? probes - static_cast<double>(m) : 0.0;
  const std::size_t stride = max_probes + 1;
  const auto at = [&](std::size_t jj) {
    return (1.0 - tm) * g[jj * stride + m] + tm * g[jj * stride + m1];
  };
  return (1.0 - tj) * at(j) + tj * at(j + 1);
}

// P(collected in at least one of L tables) from the per-table probability.
double any_table(double per_table, std::size_t tables) {
  if (per_table >= 1.0) return 1.0;
  return -std::expm1(static_cast<double>(tables) * std::log1p(-per_table));
}

struct Choice {
  std::size_t hashes = 0, tables = 0;
  double width = 1.0, recall = -1.0, candidates = 0.0, cost = 0.0;
};

// Feasible before infeasible; then cheaper; among infeasible, higher recall first.
bool better(const Choice& a, const Choice& b, double target) {
  const bool fa = a.recall >= target, fb = b.recall >= target;
  if (fa != fb) return fa;
  if (fa) return a.cost < b.cost;
  if (a.recall != b.recall) return a.recall > b.recall;
  return a.cost < b.cost;
}

}  // namespace

std::string TuneResult::json(const TuneRequest& request) const {
  std::string out = fmt::format("{{\"K\":{},\"L\":{}", hashes, tables);
  if (request.kind == HashKind::PStable) out += fmt::format(",\"w\":{}", relative_width);
  out += fmt::format(
      ",\"est_recall\":{:.4f},\"est_candidates\":{:.1f},\"est_cost\":{:.1f},\"target_recall\":{},"
      "\"tune_probes\":{},\"met\":{},\"sample_queries\":{},\"reference_rows\":{},"
      "\"neighbors\":{},\"tune_s\":{:.3f}}}",
      est_recall, est_candidates, est_cost, request.target_recall, request.probes,
      met ? "true" : "false", queries, reference_rows, neighbors, seconds);
  return out;
}

TuneResult tune(MatrixView base, const TuneRequest& request) {
  ANNBENCH_CHECK(base.rows >= kTuneMinRows, "lsh: tune: auto needs at least {} base rows, got {}",
                 kTuneMinRows, base.rows);
  ANNBENCH_CHECK(request.target_recall > 0.0 && request.target_recall < 1.0,
                 "lsh: target_recall must be in (0, 1), got {}", request.target_recall);
  const auto started = std::chrono::steady_clock::now();
  const bool pstable = request.kind == HashKind::PStable;
  const std::size_t n = base.rows, dim = base.dim;
  TuneResult result;
  std::mt19937_64 rng(request.seed ^ 0x6c73682d74756e65ull);
  double scale = pstable ? rms_spread(base) : 1.0;
  if (!(scale > 0.0)) scale = 1.0;
  const std::size_t query_count = std::min(kTuneQueries, n / 4);
  const Distances d = measure(base, !pstable, scale, query_count, rng, result);

  // g per K, in parallel (each K has its own seed, so the tables do not depend on threads).
  const std::size_t max_probes = std::min(request.probes, kMaxModelProbes);
  std::vector<std::vector<double>> g(kHashGrid.size());
  const std::uint64_t table_seed = rng();
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t h = 0; h < static_cast<std::int64_t>(kHashGrid.size()); ++h) {
    const auto i = static_cast<std::size_t>(h);
    g[i] = probe_table(request.kind, kHashGrid[i], max_probes, table_seed + 0x9e3779b9ull * i);
  }

  const double table_cap = std::max(1.0, kTableMemoryBudget / (36.0 * static_cast<double>(n)));
  const std::size_t widths = pstable ? kWidthGrid.size() : 1;
  std::vector<Choice> best(kHashGrid.size() * widths);
  const auto probes = static_cast<double>(request.probes);
  const double aim =
      std::min(0.999, request.target_recall + kMargin + (request.probes > 0 ? kProbeMargin : 0.0));
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t c = 0; c < static_cast<std::int64_t>(best.size()); ++c) {
    const auto h = static_cast<std::size_t>(c) / widths;
    const auto wi = static_cast<std::size_t>(c) % widths;
    const double width = pstable ? kWidthGrid[wi] : 1.0;
    std::vector<double> pair_position(d.neighbors.size()), bin_position(d.histogram.size());
    for (std::size_t p = 0; p < d.neighbors.size(); ++p)
      pair_position[p] = grid_position(pstable, pstable ? d.neighbors[p] / width : d.neighbors[p]);
    for (std::size_t b = 0; b < d.histogram.size(); ++b)
      bin_position[b] = grid_position(pstable, pstable ? d.bin_value[b] / width : d.bin_value[b]);
    Choice& chosen = best[static_cast<std::size_t>(c)];
    for (const std::size_t tables : kTableGrid) {
      if (static_cast<double>(tables) > table_cap) break;
      const double per_table =
          std::min(probes / static_cast<double>(tables), static_cast<double>(max_probes));
      double recall = 0.0;
      for (const double position : pair_position)
        recall += any_table(lookup(g[h], max_probes, position, per_table), tables);
      recall /= static_cast<double>(std::max<std::size_t>(pair_position.size(), 1));
      double candidates = 0.0;
      for (std::size_t b = 0; b < bin_position.size(); ++b) {
        if (d.histogram[b] == 0) continue;
        candidates += static_cast<double>(d.histogram[b]) *
                      any_table(lookup(g[h], max_probes, bin_position[b], per_table), tables);
      }
      candidates = std::min(candidates * d.candidates_per_count, static_cast<double>(n));
      const std::size_t hashes = kHashGrid[h];
      // Per query, in dot products of `dim`: L·K projections, the re-rank, and per probe a
      // directory lookup plus heap work (~2K + 32 operations).
      const double cost = static_cast<double>(tables * hashes) + candidates +
                          (static_cast<double>(tables) + probes) *
                              (2.0 * static_cast<double>(hashes) + 32.0) / static_cast<double>(dim);
      const Choice candidate{hashes, tables, width, recall, candidates, cost};
      if (chosen.recall < 0.0 || better(candidate, chosen, aim)) chosen = candidate;
    }
  }
  Choice chosen = best.front();
  for (const Choice& c : best)
    if (better(c, chosen, aim)) chosen = c;

  result.tables = chosen.tables;
  result.hashes = chosen.hashes;
  result.relative_width = chosen.width;
  result.est_recall = chosen.recall;
  result.est_candidates = chosen.candidates;
  result.est_cost = chosen.cost;
  result.met = chosen.recall >= aim;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace annbench::lsh
