#pragma once
// A query's metadata filter, as a module sees it in Index::search_filtered.
//
// The harness evaluates the query's conditions (labels the point must all carry, a numeric
// attribute range) against the dataset's metadata before the search, inside the timed region,
// as a database does: a Filter is the result, a bitset over the base rows and the allowed rows
// in ascending order. Both views are valid during the search_filtered call only.

#include <cstddef>
#include <cstdint>
#include <span>

namespace annbench {

class Filter {
 public:
  Filter() = default;
  // bits: one bit per base row (row i is bit i % 64 of word i / 64), at least
  // ceil(base_rows / 64) words; ids: exactly the rows whose bit is set, ascending.
  Filter(std::span<const std::uint64_t> bits, std::span<const std::int64_t> ids,
         std::size_t base_rows)
      : bits_(bits), ids_(ids), base_rows_(base_rows) {}

  // True when base row `id` passes the filter. id must be a row of the base (0 <= id < rows).
  bool allowed(std::int64_t id) const noexcept {
    const auto u = static_cast<std::uint64_t>(id);
    return ((bits_[u >> 6] >> (u & 63)) & 1u) != 0;
  }

  // The allowed rows, ascending: for modules that scan the allowed set instead of searching.
  std::span<const std::int64_t> ids() const noexcept { return ids_; }
  std::size_t count() const noexcept { return ids_.size(); }

  // Fraction of the base that passes (exact, not an estimate): 0 for an empty base.
  double selectivity() const noexcept {
    return base_rows_ == 0 ? 0.0
                           : static_cast<double>(ids_.size()) / static_cast<double>(base_rows_);
  }

  std::size_t base_rows() const noexcept { return base_rows_; }
  // The bitset words (little-endian bit order inside each word; on little-endian machines the
  // bytes are also a plain byte bitmap, row i being bit i % 8 of byte i / 8).
  std::span<const std::uint64_t> bits() const noexcept { return bits_; }

 private:
  std::span<const std::uint64_t> bits_;
  std::span<const std::int64_t> ids_;
  std::size_t base_rows_ = 0;
};

}  // namespace annbench
