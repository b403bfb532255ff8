#include <annbench/common/label_filter.h>
#include <annbench/error.h>

#include <algorithm>
#include <numeric>

namespace annbench {

LabelIndex::LabelIndex(std::span<const std::int64_t> indptr, std::span<const std::uint32_t> labels,
                       std::uint32_t label_count)
    : rows_(indptr.empty() ? 0 : indptr.size() - 1), label_count_(label_count) {
  if (indptr.empty() || indptr.front() != 0 ||
      indptr.back() != static_cast<std::int64_t>(labels.size())) {
    ANNBENCH_FAIL("label CSR: indptr must start at 0 and end at the label count ({})",
                  labels.size());
  }
  // The whole indptr is checked before any label is read: an offset past the end in the middle
  // of a non-decreasing prefix would otherwise index past the labels.
  for (std::size_t r = 0; r < rows_; ++r) {
    if (indptr[r + 1] < indptr[r]) {
      ANNBENCH_FAIL("label CSR: indptr decreases at row {}", r);
    }
  }
  std::vector<std::size_t> counts(std::size_t{label_count} + 1, 0);
  for (std::size_t r = 0; r < rows_; ++r) {
    for (auto i = indptr[r]; i < indptr[r + 1]; ++i) {
      const std::uint32_t label = labels[static_cast<std::size_t>(i)];
      if (label >= label_count) {
        ANNBENCH_FAIL("label CSR: row {} has label {}, not below label_count {}", r, label,
                      label_count);
      }
      ++counts[label + 1];
    }
  }
  offsets_.assign(counts.size(), 0);
  std::partial_sum(counts.begin(), counts.end(), offsets_.begin());
  ids_.resize(offsets_.back());
  std::vector<std::size_t> next(offsets_.begin(), offsets_.end() - 1);
  // Rows are visited in ascending order, so every posting list comes out sorted; a label a row
  // repeats would be written twice, so the last written row is remembered per label.
  std::vector<std::int64_t> last(label_count, -1);
  for (std::size_t r = 0; r < rows_; ++r) {
    const auto row = static_cast<std::int64_t>(r);
    for (auto i = indptr[r]; i < indptr[r + 1]; ++i) {
      const std::uint32_t label = labels[static_cast<std::size_t>(i)];
      if (last[label] != row) {
        last[label] = row;
        ids_[next[label]++] = row;
      }
    }
  }
  // Close the gaps repeated labels left, keeping each list contiguous.
  std::size_t write = 0;
  for (std::uint32_t label = 0; label < label_count; ++label) {
    const std::size_t begin = offsets_[label];
    const std::size_t end = next[label];
    offsets_[label] = write;
    std::copy(ids_.begin() + static_cast<std::ptrdiff_t>(begin),
              ids_.begin() + static_cast<std::ptrdiff_t>(end),
              ids_.begin() + static_cast<std::ptrdiff_t>(write));
    write += end - begin;
  }
  offsets_[label_count] = write;
  ids_.resize(write);
  ids_.shrink_to_fit();
}

std::span<const std::int64_t> LabelIndex::postings(std::uint32_t label) const noexcept {
  if (label >= label_count_) {
    return {};
  }
  return {ids_.data() + offsets_[label], offsets_[label + 1] - offsets_[label]};
}

AttributeIndex::AttributeIndex(std::span<const float> values)
    : values_(values.begin(), values.end()), order_(values.size()) {
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  std::stable_sort(order_.begin(), order_.end(), [&](std::int64_t a, std::int64_t b) {
    return values_[static_cast<std::size_t>(a)] < values_[static_cast<std::size_t>(b)];
  });
  sorted_.reserve(order_.size());
  for (const std::int64_t row : order_) {
    sorted_.push_back(values_[static_cast<std::size_t>(row)]);
  }
}

std::span<const std::int64_t> AttributeIndex::rows_between(float lo, float hi) const noexcept {
  if (!(lo <= hi)) {
    return {};
  }
  const auto begin = std::lower_bound(sorted_.begin(), sorted_.end(), lo) - sorted_.begin();
  const auto end = std::upper_bound(sorted_.begin(), sorted_.end(), hi) - sorted_.begin();
  return {order_.data() + begin, static_cast<std::size_t>(end - begin)};
}

void intersect_postings(const LabelIndex& index, std::span<const std::uint32_t> labels,
                        std::vector<std::int64_t>& out, std::vector<std::int64_t>& scratch) {
  out.clear();
  if (labels.empty()) {
    return;
  }
  std::uint32_t shortest = labels[0];
  for (const std::uint32_t label : labels) {
    if (index.postings(label).size() < index.postings(shortest).size()) {
      shortest = label;
    }
  }
  const auto first = index.postings(shortest);
  out.assign(first.begin(), first.end());
  for (const std::uint32_t label : labels) {
    if (label == shortest || out.empty()) {
      continue;
    }
    const auto list = index.postings(label);
    scratch.clear();
    // Galloping search: each candidate is looked up from where the previous one was found,
    // doubling the step, so a short list against a long one costs |short| * log(|long|).
    std::size_t lo = 0;
    for (const std::int64_t row : out) {
      std::size_t step = 1;
      std::size_t hi = lo;
      while (hi < list.size() && list[hi] < row) {
        lo = hi + 1;
        hi += step;
        step *= 2;
      }
      hi = std::min(hi, list.size());
      const auto* it = std::lower_bound(list.data() + lo, list.data() + hi, row);
      lo = static_cast<std::size_t>(it - list.data());
      if (lo < list.size() && list[lo] == row) {
        scratch.push_back(row);
      }
    }
    out.swap(scratch);
  }
}

FilterBuilder::FilterBuilder(std::size_t rows, const LabelIndex* labels,
                             const AttributeIndex* attributes)
    : rows_(rows), labels_(labels), attributes_(attributes), bits_((rows + 63) / 64, 0) {
  if (labels_ != nullptr && labels_->rows() != rows) {
    ANNBENCH_FAIL("filter: the label index has {} rows, the base {}", labels_->rows(), rows);
  }
  if (attributes_ != nullptr && attributes_->rows() != rows) {
    ANNBENCH_FAIL("filter: the attribute index has {} rows, the base {}", attributes_->rows(),
                  rows);
  }
}

void FilterBuilder::clear_bits() {
  // Clearing only the words the previous filter touched keeps a selective query's cost
  // independent of the base size. Runs before make() reuses the buffers set_ may point into.
  if (set_.size() * 8 > bits_.size()) {
    std::fill(bits_.begin(), bits_.end(), 0);
  } else {
    for (const std::int64_t row : set_) {
      bits_[static_cast<std::size_t>(row) >> 6] = 0;
    }
  }
  set_ = {};
}

void FilterBuilder::set_bits(std::span<const std::int64_t> ids) {
  for (const std::int64_t row : ids) {
    const auto u = static_cast<std::uint64_t>(row);
    bits_[u >> 6] |= std::uint64_t{1} << (u & 63);
  }
  set_ = ids;
}

Filter FilterBuilder::make(const FilterQuery& query) {
  clear_bits();
  std::span<const std::int64_t> ids;
  if (!query.labels.empty()) {
    if (labels_ == nullptr) {
      ANNBENCH_FAIL("filter: the query names labels but the dataset has no train labels");
    }
    if (query.labels.size() == 1) {
      ids = labels_->postings(query.labels[0]);
    } else {
      intersect_postings(*labels_, query.labels, ids_, scratch_);
      ids = ids_;
    }
    if (query.range) {
      if (attributes_ == nullptr) {
        ANNBENCH_FAIL("filter: the query has a range but the dataset has no train attribute");
      }
      const auto [lo, hi] = *query.range;
      scratch_.clear();
      for (const std::int64_t row : ids) {
        const float v = attributes_->value(row);
        if (lo <= v && v <= hi) {
          scratch_.push_back(row);
        }
      }
      ids_.swap(scratch_);
      ids = ids_;
    }
    set_bits(ids);
    return {bits_, ids, rows_};
  }
  if (query.range) {
    if (attributes_ == nullptr) {
      ANNBENCH_FAIL("filter: the query has a range but the dataset has no train attribute");
    }
    const auto matching = attributes_->rows_between(query.range->first, query.range->second);
    set_bits(matching);
    // The bitset gives the rows back in ascending order, which the sorted-by-value slice is not.
    ids_.clear();
    ids_.reserve(matching.size());
    for (std::size_t w = 0; w < bits_.size(); ++w) {
      std::uint64_t word = bits_[w];
      while (word != 0) {
        ids_.push_back(
            static_cast<std::int64_t>(w * 64 + static_cast<std::size_t>(__builtin_ctzll(word))));
        word &= word - 1;
      }
    }
    set_ = ids_;
    return {bits_, ids_, rows_};
  }
  if (all_.size() != rows_) {
    all_.resize(rows_);
    std::iota(all_.begin(), all_.end(), std::int64_t{0});
  }
  set_bits(all_);
  return {bits_, all_, rows_};
}

std::size_t FilterBuilder::memory_bytes() const noexcept {
  return bits_.capacity() * sizeof(std::uint64_t) +
         (ids_.capacity() + scratch_.capacity() + all_.capacity()) * sizeof(std::int64_t);
}

}  // namespace annbench
