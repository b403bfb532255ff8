#pragma once
// A set of ids 0..n-1 for one query at a time, cleared in O(1): an id is in the set when its tag
// equals the current epoch, so starting a query is one increment and the tag array is wiped
// only when the epoch wraps. Kept in per-thread scratch, it de-duplicates candidates without
// allocating once warm.
//
// Tag width trades memory against wipes: 32-bit tags (VisitedSet) wipe every 2^32 queries;
// 8-bit tags (ByteVisitedSet) are 4x smaller, so a graph search over millions of nodes keeps
// them in cache, and wipe n bytes every 255 queries.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench {

template <typename Tag>
class BasicVisitedSet {
 public:
  // Empties the set for a new query over ids below n (grows the tag array if needed).
  void reset(std::size_t n) {
    if (tags_.size() < n) tags_.resize(n, 0);
    if (++epoch_ == 0) {  // wrapped: old tags would read as visited
      std::fill(tags_.begin(), tags_.end(), Tag{0});
      epoch_ = 1;
    }
  }

  // Adds id; true when it was not in the set yet.
  bool insert(std::size_t id) {
    Tag& tag = tags_[id];
    if (tag == epoch_) return false;
    tag = epoch_;
    return true;
  }

  bool contains(std::size_t id) const { return tags_[id] == epoch_; }

  // Prefetch hint for the tag of id (graph searches test tags of a node's neighbours).
  const Tag* tag_address(std::size_t id) const { return tags_.data() + id; }

  // The set of the current query as two locals, for hot loops. Through the set itself, every
  // 8-bit tag store may alias the set's own members (a char store may alias anything), so the
  // compiler reloads the array pointer and the epoch after each one; a Marker's copies stay in
  // registers. Valid until the next reset().
  class Marker {
   public:
    bool insert(std::size_t id) {
      Tag& tag = tags_[id];
      if (tag == epoch_) return false;
      tag = epoch_;
      return true;
    }
    const Tag* tag_address(std::size_t id) const { return tags_ + id; }

   private:
    friend class BasicVisitedSet;
    Marker(Tag* tags, Tag epoch) : tags_(tags), epoch_(epoch) {}
    Tag* tags_;
    Tag epoch_;
  };
  Marker marker() { return Marker(tags_.data(), epoch_); }

  std::size_t capacity() const { return tags_.size(); }
  std::size_t bytes() const { return tags_.capacity() * sizeof(Tag); }

 private:
  std::vector<Tag> tags_;
  Tag epoch_ = 0;
};

using VisitedSet = BasicVisitedSet<std::uint32_t>;
using ByteVisitedSet = BasicVisitedSet<std::uint8_t>;

}  // namespace annbench
