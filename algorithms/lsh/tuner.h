#pragma once
// Parameter tuning for lsh (`tune: auto`): picks K, L and w (p-stable) or K and L (hyperplane)
// for a target recall@k at the least expected cost per query, from the base alone, in the spirit
// of E2LSH's and FALCONN's tuners. See README.md, "Auto-tuning".
//
// Model. For a pair (query q, point x) the L tables hash independently, so x is collected with
// probability 1 - (1 - g)^L, where g is the probability that one table puts x in a bucket the
// query probes: its home bucket or one of the m = probes / L cheapest perturbed buckets of that
// table (the real sequence shares the budget by score across tables; an even share is the
// model). g depends only on K, m and the pair's normalised distance rho (p-stable: r / W, since
// <a, x - q> ~ N(0, r^2); hyperplane: the angle). It is tabulated once per K by Monte Carlo with
// the index's own ProbeSequence and bucket keys, so the model probes exactly as a search does.
// Recall = mean of that probability over the queries' true neighbours; expected candidates =
// its sum over the base; cost = L·K·d (hashing) + candidates·d (re-rank) + probe overhead.
//
// Data. Up to kTuneQueries held-out base rows stand in for queries (build() sees only the base).
// Their exact neighbours come from the whole base when Q·n·d fits a fixed budget, else from a
// seeded sample of R rows, taking the round(k·R/n) nearest (the same density rank).

#include "hash_tables.h"

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace annbench::lsh {

struct TuneRequest {
  HashKind kind = HashKind::PStable;
  double target_recall = 0.9;  // in (0, 1), for recall@kTuneNeighbors
  std::size_t probes = 0;      // the `probes` the searches will use
  std::uint64_t seed = 1;
};

struct TuneResult {
  std::size_t tables = 0;       // L
  std::size_t hashes = 0;       // K
  double relative_width = 1.0;  // w (p-stable; 1 and unused for hyperplane)
  double est_recall = 0.0;
  double est_candidates = 0.0;  // unique candidates re-ranked per query
  double est_cost = 0.0;        // per query, in d-dimensional dot products
  bool met = false;         // est_recall >= target + safety margin (else: the best recall found)
  std::size_t queries = 0;  // held-out rows used as queries
  std::size_t reference_rows = 0;
  std::size_t neighbors = 0;  // true neighbours per query in the reference rows
  double seconds = 0.0;
  // {"K":..,"L":..,"w":..,"est_recall":..,...}; w is omitted for hyperplane.
  std::string json(const TuneRequest& request) const;
};

// True neighbours the recall target refers to (recall@10).
inline constexpr std::size_t kTuneNeighbors = 10;
inline constexpr std::size_t kTuneQueries = 128;
// Smallest base the tuner accepts (fewer rows: the given K, L, w are kept).
inline constexpr std::size_t kTuneMinRows = 32;

// base: n × dim, finite, n >= kTuneMinRows (raw vectors; angular normalises them itself).
// Deterministic for a seed and independent of the thread count.
TuneResult tune(MatrixView base, const TuneRequest& request);

}  // namespace annbench::lsh
