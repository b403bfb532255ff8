#pragma once
// Query-directed multi-probe (Lv et al., "Multi-Probe LSH", VLDB 2007): after the L home
// buckets, the buckets whose perturbation vectors have the smallest score, across all tables.
//
// A perturbation moves one hash coordinate i of one table by delta = ±1 (p-stable: to the
// neighbouring slot on either side; hyperplane: flipping the bit). Its cost is the squared
// distance of the query's value f_i to the boundary it crosses (p-stable, in units of the
// bucket width: frac^2 for -1, (1 - frac)^2 for +1; hyperplane: f_i^2 on unit normals), and a
// perturbation set scores the sum of its costs. Per table the 2K (or K) single perturbations are
// sorted by cost; sets are bit masks over that order, generated in ascending score by one heap
// with Lv et al.'s shift (replace the largest member j by j + 1) and expand (add j + 1)
// operations, which reach every set exactly once. Sets holding both directions of one
// coordinate are generated (their successors are needed) but not probed.

#include "hash_tables.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench::lsh {

class ProbeSequence {
 public:
  // values: L·K hash values of the query (HashTables::hash_values). Reuses its buffers, so a
  // sequence kept per thread allocates nothing per query once warm.
  void start(const HashTables& tables, const float* values);

  // The next bucket to probe: the L home buckets first (table order), then perturbed buckets in
  // ascending score (ties by table, then set). False once every set has been produced.
  bool next(std::size_t& table, std::uint64_t& key);

  // Heap bytes of the reused buffers.
  std::size_t bytes() const {
    return home_keys_.capacity() * sizeof(std::uint64_t) + steps_.capacity() * sizeof(Step) +
           heap_.capacity() * sizeof(Set);
  }

 private:
  struct Step {
    float cost;
    std::uint32_t partner;  // position of the opposite direction of the same coordinate, or m
    std::uint64_t key_change;
  };
  struct Set {
    float score;
    std::uint32_t table;
    std::uint32_t last;  // largest position in mask
    std::uint64_t mask;  // positions in the table's sorted steps
  };
  static bool later(const Set& a, const Set& b);
  bool valid(const Set& set) const;
  void push(const Set& set);

  std::size_t tables_ = 0;
  std::size_t steps_per_table_ = 0;  // m: 2K (p-stable) or K (hyperplane)
  std::size_t next_home_ = 0;
  std::vector<std::uint64_t> home_keys_;
  std::vector<Step> steps_;  // L × m, each table's steps by ascending cost
  std::vector<Set> heap_;
};

}  // namespace annbench::lsh
