#pragma once
// Graph construction and maintenance over an HnswIndex's storage: the static build and the
// paper's insertion (hnsw_build.cpp), streaming insertion, tombstones and their repair
// (hnsw_update.cpp). One builder per build / add / remove call; it sums the distances it
// computes and adds them to the index's counter once.

#include "hnsw_index.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

namespace annbench::hnsw {

inline bool ascending(const Candidate& a, const Candidate& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

class HnswBuilder {
 public:
  explicit HnswBuilder(HnswIndex& index) : index_(index) { set_alpha(index.config_.alpha); }

  // The static build over n nodes: allocates the blocks, calls store(node) for every node (in
  // parallel) to write its vector into its block, then links them.
  void run(std::size_t n, const std::function<void(std::uint32_t)>& store);
  void add(std::span<const std::int64_t> ids, MatrixView vectors);
  void remove(std::span<const std::int64_t> ids);
  // passes = 2 (hnsw_second_pass.cpp): re-selects every layer-0 list with the index's alpha from
  // its links and their links, then adds the reverse links; the result does not depend on the
  // thread count. For a fresh build (no tombstones): run() calls it; public so tests can run it
  // alone on a given graph.
  void second_pass();

 private:
  float distance(std::uint32_t a, std::uint32_t b) const { return index_.node_distance(a, b); }

  // The selection rule in force on layer 0: alpha 1 is Algorithm 4's comparison as it always
  // was (no arithmetic added, so alpha 1 builds the same graph bit for bit); above 1
  // RobustPrune's, on the squared distance between the (for angular, normalised) vectors.
  void set_alpha(double alpha);
  // True when a kept neighbour at `kept_to_candidate` from a candidate makes it redundant for a
  // base node at `base_to_candidate` (both in the module's internal scale). Layers >= 1 keep
  // Algorithm 4: the hierarchy already gives the long links alpha is for, and with only M slots
  // there alpha's extra near links crowd out the ones between clusters (README, "alpha").
  bool occludes(float kept_to_candidate, float base_to_candidate, int level) const {
    if (!scaled_ || level > 0) return kept_to_candidate < base_to_candidate;
    return alpha_squared_ * (shift_ + kept_to_candidate) < shift_ + base_to_candidate;
  }
  // Algorithm 4 (with occludes()) over candidates sorted ascending by distance to the base node.
  std::vector<Candidate> select(const std::vector<Candidate>& candidates, std::size_t m, int level,
                                std::size_t& count) const;
  void set_links(std::uint32_t node, int level, const std::vector<Candidate>& selected);
  void connect(std::uint32_t neighbor, std::uint32_t node, float d, int level, std::size_t& count);
  // Algorithm 1 for a node whose slot holds its vector and level.
  void insert(std::uint32_t node);
  void add_count(std::size_t count);

  // Links every live node that breadth-first search from the entry point does not reach, and
  // with entry_in_link the entry point itself when no node links to it.
  void repair_reachability(bool entry_in_link);
  std::uint32_t attach(std::uint32_t u, const std::vector<std::uint32_t>& parent,
                       std::size_t& count);
  bool try_link(std::uint32_t from, std::uint32_t u, const std::vector<std::uint32_t>& parent,
                std::size_t& count);

  // Tombstone repair: relinks live nodes away from deleted ones, frees the deleted slots.
  void repair();
  void relink(std::uint32_t node, int level, std::size_t& count);
  // Appends `node` to the lists of its links on `level` that have room (a reverse link).
  void announce(std::uint32_t node, int level);
  // Every node deleted: all slots become free, the index is empty.
  void free_all();
  // Rewrites the upper-layer pool without the lists of free slots.
  void compact_upper();

  HnswIndex& index_;
  bool scaled_ = false;         // alpha != 1
  float alpha_squared_ = 1.0f;  // alpha^2: the distances compared are squared
  float shift_ = 0.0f;          // added to internal distances to make them squared distances / 2
  std::mutex top_mutex_;
  std::size_t count_ = 0;
};

}  // namespace annbench::hnsw
