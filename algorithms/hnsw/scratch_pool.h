#pragma once
// Per-search scratch: visited tags with epochs, the two beam heaps and a query buffer. Pooled
// so that concurrent searches each get their own and no search allocates in steady state.
//
// Visited tags are one byte per node: a node is visited when its tag equals the current epoch,
// so starting a search costs one increment; the array is cleared only when the epoch wraps
// (every 255 searches, n bytes), which keeps the tags 4x smaller than 32-bit stamps and in L2.

#include "hnsw_index.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace annbench::hnsw {

struct SearchScratch {
  std::vector<std::uint8_t> tags;
  std::uint8_t epoch = 0;
  std::vector<Candidate> frontier;  // min-heap by distance: nodes still to expand
  std::vector<Candidate> results;   // max-heap by distance: the best ef found
  std::vector<float> query;         // normalised query (angular)

  // Starts a new search over n nodes: after this, no node counts as visited.
  void begin(std::size_t n) {
    if (tags.size() != n) {
      tags.assign(n, 0);
      epoch = 0;
    }
    if (++epoch == 0) {
      std::fill(tags.begin(), tags.end(), std::uint8_t{0});
      epoch = 1;
    }
    frontier.clear();
    results.clear();
  }
};

class ScratchPool {
 public:
  class Lease {
   public:
    Lease(ScratchPool& pool, std::unique_ptr<SearchScratch> s) : pool_(pool), s_(std::move(s)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(s_)); }
    SearchScratch& operator*() const { return *s_; }

   private:
    ScratchPool& pool_;
    std::unique_ptr<SearchScratch> s_;
  };

  Lease acquire() {
    std::lock_guard<std::mutex> guard(mutex_);
    if (free_.empty()) {
      return Lease(*this, std::make_unique<SearchScratch>());
    }
    auto s = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(s));
  }

  // Bytes held by the scratch buffers not in use (all of them between searches).
  std::size_t bytes() const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::size_t total = 0;
    for (const auto& s : free_) {
      total += s->tags.capacity() +
               (s->frontier.capacity() + s->results.capacity()) * sizeof(Candidate) +
               s->query.capacity() * sizeof(float);
    }
    return total;
  }

  void clear() {
    std::lock_guard<std::mutex> guard(mutex_);
    free_.clear();
  }

 private:
  void give_back(std::unique_ptr<SearchScratch> s) {
    std::lock_guard<std::mutex> guard(mutex_);
    free_.push_back(std::move(s));
  }

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<SearchScratch>> free_;
};

}  // namespace annbench::hnsw
