#pragma once
// Caller id -> node slot for a streaming index: open addressing with linear probing over uint32
// slots, the key of a slot read from the index's slot -> id array. 4 bytes per table entry at a
// load factor of at most 1/2 (8 - 16 bytes per id), against ~40 for a std::unordered_map node,
// and every byte is in one vector that memory_bytes() can count exactly.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench::hnsw {

class IdMap {
 public:
  static constexpr std::uint32_t kEmpty = 0xFFFFFFFFu;

  // keys[slot] is the id stored under slot; the same array must be passed to every call.
  std::uint32_t find(std::int64_t id, const std::vector<std::int64_t>& keys) const {
    if (table_.empty()) return kEmpty;
    for (std::size_t i = home(id);; i = (i + 1) & mask()) {
      const std::uint32_t slot = table_[i];
      if (slot == kEmpty || keys[slot] == id) return slot;
    }
  }

  // id (== keys[slot]) must not be present.
  void insert(std::uint32_t slot, const std::vector<std::int64_t>& keys) {
    if (2 * (size_ + 1) > table_.size()) rehash(table_.empty() ? 16 : 2 * table_.size(), keys);
    place(slot, keys);
    ++size_;
  }

  // Removes id if present. Backward-shift deletion: later entries of the probe run move up, so
  // no tombstones accumulate and lookups stay short.
  void erase(std::int64_t id, const std::vector<std::int64_t>& keys) {
    if (table_.empty()) return;
    std::size_t i = home(id);
    while (table_[i] != kEmpty && keys[table_[i]] != id) i = (i + 1) & mask();
    if (table_[i] == kEmpty) return;
    --size_;
    for (std::size_t j = (i + 1) & mask(); table_[j] != kEmpty; j = (j + 1) & mask()) {
      const std::size_t want = home(keys[table_[j]]);
      // table_[j] may fill the hole at i unless its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < want && want <= j) : (i < want || want <= j);
      if (stays) continue;
      table_[i] = table_[j];
      i = j;
    }
    table_[i] = kEmpty;
  }

  void clear() {
    table_.clear();
    table_.shrink_to_fit();
    size_ = 0;
  }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return table_.capacity() * sizeof(std::uint32_t); }

 private:
  std::size_t mask() const { return table_.size() - 1; }
  std::size_t home(std::int64_t id) const {
    // splitmix64's finaliser: consecutive ids spread over the whole table.
    auto x = static_cast<std::uint64_t>(id);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return static_cast<std::size_t>(x ^ (x >> 31)) & mask();
  }
  void place(std::uint32_t slot, const std::vector<std::int64_t>& keys) {
    std::size_t i = home(keys[slot]);
    while (table_[i] != kEmpty) i = (i + 1) & mask();
    table_[i] = slot;
  }
  void rehash(std::size_t size, const std::vector<std::int64_t>& keys) {
    std::vector<std::uint32_t> old(size, kEmpty);
    old.swap(table_);
    for (const std::uint32_t slot : old) {
      if (slot != kEmpty) place(slot, keys);
    }
  }

  std::vector<std::uint32_t> table_;  // power-of-two size, kEmpty where unused
  std::size_t size_ = 0;
};

}  // namespace annbench::hnsw
