#pragma once
// Graph construction and maintenance over an HnswIndex's storage: the static build and the
// paper's insertion (hnsw_build.cpp), streaming insertion, tombstones and their repair
// (hnsw_update.cpp). One builder per build / add / remove call; it sums the distances it
// computes and adds them to the index's counter once.

#include "hnsw_index.h"

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace annbench::hnsw {

inline bool ascending(const Candidate& a, const Candidate& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

class HnswBuilder {
 public:
  explicit HnswBuilder(HnswIndex& index) : index_(index) {}

  void run(MatrixView base);
  void add(std::span<const std::int64_t> ids, MatrixView vectors);
  void remove(std::span<const std::int64_t> ids);

 private:
  float distance(std::uint32_t a, std::uint32_t b) const {
    return index_.distance(index_.vector(a), index_.vector(b));
  }

  // Algorithm 4 over candidates sorted ascending by distance to the base node.
  std::vector<Candidate> select(const std::vector<Candidate>& candidates, std::size_t m,
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
  std::mutex top_mutex_;
  std::size_t count_ = 0;
};

}  // namespace annbench::hnsw
