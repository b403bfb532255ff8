#pragma once
// Per-search scratch, leased from the index's ScratchPool (common/scratch_pool.h): visited tags,
// the two beam heaps, a query buffer and the filtered exact scan's top-k, so that no search
// allocates in steady state.
//
// Visited tags are one byte per node (ByteVisitedSet): starting a search costs one increment and
// the array is cleared only every 255 searches, which keeps it 4x smaller than 32-bit stamps and
// in L2 for graphs of millions of nodes.

#include "hnsw_index.h"

#include <annbench/common/topk.h>
#include <annbench/common/visited.h>

#include <cstddef>
#include <vector>

namespace annbench::hnsw {

struct SearchScratch {
  ByteVisitedSet visited;
  std::vector<Candidate> frontier;  // min-heap by distance: nodes still to expand
  std::vector<Candidate> results;   // max-heap by distance: the best ef found
  std::vector<float> query;         // normalised query (angular)
  TopK<float> exact;                // search_filtered's exact scan of the allowed nodes

  // Starts a new search over node ids below n: after this, no node counts as visited.
  void begin(std::size_t n) {
    visited.reset(n);
    frontier.clear();
    results.clear();
  }

  std::size_t bytes() const {
    return visited.bytes() + (frontier.capacity() + results.capacity()) * sizeof(Candidate) +
           query.capacity() * sizeof(float) + exact.capacity() * sizeof(TopK<float>::Entry);
  }
};

}  // namespace annbench::hnsw
