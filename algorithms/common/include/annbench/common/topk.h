#pragma once
// Bounded collection of the k smallest (distance, id) pairs: a max-heap whose root is the worst
// pair kept, so a scan rejects most candidates with one comparison against worst().
//
// Order: smaller distance first, equal distances by smaller id. With that total order the kept
// set does not depend on the order candidates arrive in, so results are reproducible across
// thread counts and block sizes.

#include <annbench/neighbor.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace annbench {

template <typename Distance = float>
class TopK {
 public:
  struct Entry {
    Distance distance;
    std::int64_t id;
  };

  explicit TopK(std::size_t k = 0) { reset(k); }

  // Empties the collector and sets how many pairs it keeps.
  void reset(std::size_t k) {
    k_ = k;
    heap_.clear();
    heap_.reserve(k);
  }

  std::size_t capacity() const { return k_; }
  std::size_t size() const { return heap_.size(); }
  bool full() const { return heap_.size() >= k_; }

  // A candidate whose distance is not below worst() cannot get in (except by tying with the
  // worst pair and having a smaller id). +inf until k pairs are held; -inf when k is 0.
  Distance worst() const {
    if (heap_.size() < k_) return std::numeric_limits<Distance>::infinity();
    if (k_ == 0) return -std::numeric_limits<Distance>::infinity();
    return heap_.front().distance;
  }

  // Offers a pair; returns whether it was kept (it may be evicted later).
  bool push(Distance distance, std::int64_t id) {
    const Entry entry{distance, id};
    if (heap_.size() < k_) {
      heap_.push_back(entry);
      sift_up(heap_.size() - 1);
      return true;
    }
    if (k_ == 0 || !before(entry, heap_.front())) return false;
    heap_.front() = entry;
    sift_down(0);
    return true;
  }

  // The kept pairs, nearest first. Leaves the collector empty (same capacity), ready for reuse.
  std::vector<Entry> take_sorted() {
    std::vector<Entry> out = std::move(heap_);
    std::sort(out.begin(), out.end(), before);
    heap_ = {};
    heap_.reserve(k_);
    return out;
  }

  // Writes the kept pairs nearest first to out[0, slots); slots beyond them get id -1 and +inf
  // (pairs beyond `slots` are dropped). Leaves the collector empty, like take_sorted().
  void write_sorted(Neighbor* out, std::size_t slots) {
    std::sort(heap_.begin(), heap_.end(), before);
    const std::size_t n = std::min(slots, heap_.size());
    for (std::size_t i = 0; i < n; ++i) {
      out[i].id = heap_[i].id;
      out[i].distance = static_cast<float>(heap_[i].distance);
    }
    for (std::size_t i = n; i < slots; ++i) out[i] = Neighbor{};
    heap_.clear();
  }

  // The strict order the collector keeps the front of.
  static bool before(const Entry& a, const Entry& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
  }

 private:
  // Max-heap in before() order: no child comes after its parent.
  void sift_up(std::size_t i) {
    const Entry entry = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(heap_[parent], entry)) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = entry;
  }

  void sift_down(std::size_t i) {
    const Entry entry = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child], heap_[child + 1])) ++child;
      if (!before(entry, heap_[child])) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = entry;
  }

  std::size_t k_ = 0;
  std::vector<Entry> heap_;
};

}  // namespace annbench
