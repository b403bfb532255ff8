#pragma once
// Metadata indexes for filtered search, built once per dataset and shared by every query: the
// posting list of each label (rows carrying it, ascending) and the rows ordered by a numeric
// attribute. A FilterBuilder (one per searching thread) turns a query's conditions into an
// annbench::Filter: the rows carrying all of the query's labels and, optionally, whose
// attribute lies in [lo, hi].

#include <annbench/filter.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace annbench {

class LabelIndex {
 public:
  LabelIndex() = default;
  // indptr: rows + 1 offsets into labels (indptr[0] = 0, non-decreasing, last = labels.size());
  // every label < label_count. A row listing a label twice counts once. Throws annbench::Error
  // on a malformed CSR (the dataset loader checks first and names the file).
  LabelIndex(std::span<const std::int64_t> indptr, std::span<const std::uint32_t> labels,
             std::uint32_t label_count);

  std::size_t rows() const noexcept { return rows_; }
  std::uint32_t label_count() const noexcept { return label_count_; }
  // Rows carrying `label`, ascending; empty for a label no row has or one >= label_count.
  std::span<const std::int64_t> postings(std::uint32_t label) const noexcept;

 private:
  std::size_t rows_ = 0;
  std::uint32_t label_count_ = 0;
  std::vector<std::size_t> offsets_;  // label_count + 1
  std::vector<std::int64_t> ids_;
};

class AttributeIndex {
 public:
  AttributeIndex() = default;
  // One finite value per row.
  explicit AttributeIndex(std::span<const float> values);
  std::size_t rows() const noexcept { return order_.size(); }
  // Rows whose value v has lo <= v <= hi, in attribute order (not row order).
  std::span<const std::int64_t> rows_between(float lo, float hi) const noexcept;
  float value(std::int64_t row) const noexcept { return values_[static_cast<std::size_t>(row)]; }

 private:
  std::vector<float> values_;        // by row
  std::vector<float> sorted_;        // ascending
  std::vector<std::int64_t> order_;  // rows by ascending value
};

// One query's conditions. Empty labels and no range allow every row.
struct FilterQuery {
  std::span<const std::uint32_t> labels;         // the row must carry all of them
  std::optional<std::pair<float, float>> range;  // attribute lo <= v <= hi
};

// Per-thread buffers; make() reuses them, so a Filter is valid until the next make().
class FilterBuilder {
 public:
  // labels / attributes may be null when the dataset has none (a query naming labels or a
  // range then throws annbench::Error). Both, when given, must have `rows` rows.
  FilterBuilder(std::size_t rows, const LabelIndex* labels, const AttributeIndex* attributes);

  Filter make(const FilterQuery& query);

  // Bytes held by the buffers (a bitset of rows bits and up to rows ids).
  std::size_t memory_bytes() const noexcept;

 private:
  void clear_bits();
  void set_bits(std::span<const std::int64_t> ids);

  std::size_t rows_;
  const LabelIndex* labels_;
  const AttributeIndex* attributes_;
  std::vector<std::uint64_t> bits_;
  std::span<const std::int64_t> set_;  // rows whose bits are set now (cleared by the next make)
  std::vector<std::int64_t> ids_;
  std::vector<std::int64_t> scratch_;
  std::vector<std::int64_t> all_;  // 0 .. rows-1, for a query without conditions
};

// Rows carrying all of `labels` (sorted intersection of the posting lists), written to `out`
// (cleared first); the shortest list is walked and the others searched by galloping.
void intersect_postings(const LabelIndex& index, std::span<const std::uint32_t> labels,
                        std::vector<std::int64_t>& out, std::vector<std::int64_t>& scratch);

}  // namespace annbench
