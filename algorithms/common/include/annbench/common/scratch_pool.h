#pragma once
// Per-search scratch buffers, pooled so that concurrent searches each get their own and no
// search allocates in steady state. Every module counts its pool in memory_bytes() the same way:
// bytes() sums Scratch::bytes() over the buffers not in use (all of them between searches).

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace annbench {

// Scratch: default-constructible, with `std::size_t bytes() const` (heap bytes it holds).
template <typename Scratch>
class ScratchPool {
 public:
  class Lease {
   public:
    Lease(const ScratchPool& pool, std::unique_ptr<Scratch> s) : pool_(pool), s_(std::move(s)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(s_)); }
    Scratch& operator*() const { return *s_; }
    Scratch* operator->() const { return s_.get(); }

   private:
    const ScratchPool& pool_;
    std::unique_ptr<Scratch> s_;
  };

  ScratchPool() = default;
  ScratchPool(const ScratchPool&) = delete;
  ScratchPool& operator=(const ScratchPool&) = delete;

  // Thread-safe; a const search() may lease.
  Lease acquire() const {
    std::lock_guard<std::mutex> guard(mutex_);
    if (free_.empty()) return Lease(*this, std::make_unique<Scratch>());
    auto s = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(s));
  }

  std::size_t bytes() const {
    std::lock_guard<std::mutex> guard(mutex_);
    std::size_t total = 0;
    for (const auto& s : free_) total += sizeof(Scratch) + s->bytes();
    return total;
  }

  // Drops every idle buffer (after the index changed shape, say).
  void clear() {
    std::lock_guard<std::mutex> guard(mutex_);
    free_.clear();
  }

 private:
  void give_back(std::unique_ptr<Scratch> s) const {
    std::lock_guard<std::mutex> guard(mutex_);
    free_.push_back(std::move(s));
  }

  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Scratch>> free_;
};

}  // namespace annbench
