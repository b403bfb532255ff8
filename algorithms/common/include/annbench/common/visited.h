#pragma once
// A set of ids 0..n-1 for one query at a time, cleared in O(1): an id is in the set when its tag
// equals the current epoch, so starting a query is one increment and the tag array is wiped
// only when the 32-bit epoch wraps. Kept in per-thread scratch, it de-duplicates candidates
// without allocating once warm.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench {

class VisitedSet {
 public:
  // Empties the set for a new query over ids below n (grows the tag array if needed).
  void reset(std::size_t n) {
    if (tags_.size() < n) tags_.resize(n, 0);
    if (++epoch_ == 0) {  // wrapped: tags left from 2^32 queries ago would read as visited
      std::fill(tags_.begin(), tags_.end(), 0u);
      epoch_ = 1;
    }
  }

  // Adds id; true when it was not in the set yet.
  bool insert(std::size_t id) {
    std::uint32_t& tag = tags_[id];
    if (tag == epoch_) return false;
    tag = epoch_;
    return true;
  }

  std::size_t capacity() const { return tags_.size(); }

 private:
  std::vector<std::uint32_t> tags_;
  std::uint32_t epoch_ = 0;
};

}  // namespace annbench
