#pragma once
// The inverted lists of ivf-flat and ivf-pq, and the bookkeeping that lets them change.
//
// Each list is its own growable array of fixed-size entries (dim floats, or m code bytes) with a
// 32-bit label per entry. Labels are internal: after a static build, label = base row = the
// caller's id, and nothing more is stored, so the static index is as small and as fast as a
// contiguous layout. The first add() or remove() materialises the maps a changing index needs:
// label -> caller id (ids are 64-bit and arbitrary), caller id -> label, and label -> (list,
// position), so that removal is a swap with the list's last entry instead of a scan. Labels of
// removed entries are reused, so the label space stays as large as the most entries ever live
// at once.

#include <annbench/common/index_file.h>
#include <annbench/error.h>
#include <annbench/matrix.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace annbench::ivf {

// 64-byte aligned storage, as FloatMatrix rows are: the SIMD kernels then never straddle a
// cache line at the start of a list.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U>&) {}  // NOLINT: allocators convert implicitly
  T* allocate(std::size_t n) {
    const std::size_t bytes =
        (n * sizeof(T) + kMatrixAlignment - 1) / kMatrixAlignment * kMatrixAlignment;
    void* raw = std::aligned_alloc(kMatrixAlignment, bytes);
    if (raw == nullptr) throw std::bad_alloc();
    return static_cast<T*>(raw);
  }
  void deallocate(T* p, std::size_t) { std::free(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U>&) const {
    return true;
  }
};

template <typename T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Heap bytes of an unordered_map / unordered_set: the bucket array and one node per element
// (value and next pointer; libstdc++ caches no hash for integer keys).
template <typename Hashed>
std::size_t hashed_bytes(const Hashed& table) {
  return table.bucket_count() * sizeof(void*) +
         table.size() * (sizeof(typename Hashed::value_type) + sizeof(void*));
}

// Rows by label: either the caller's matrix, referenced (static build: label = row), or an
// owned copy that grows with the labels (once the index changes, the caller's vectors are only
// valid during add()).
class RowStore {
 public:
  void reference(MatrixView rows) {
    owned_.clear();
    owned_.shrink_to_fit();
    data_ = rows.data;
    rows_ = rows.rows;
    dim_ = rows.dim;
  }
  void reset(std::size_t dim) { reference(MatrixView{nullptr, 0, dim}); }
  bool empty() const { return data_ == nullptr; }
  const float* row(std::size_t label) const { return data_ + label * dim_; }
  std::size_t rows() const { return rows_; }
  // rows() × dim floats (for an index file).
  std::span<const float> all() const { return {data_, data_ == nullptr ? 0 : rows_ * dim_}; }

  // An owned copy of `rows` rows (a loaded index).
  void assign(std::span<const float> values, std::size_t rows) {
    owned_.assign(values.begin(), values.end());
    data_ = owned_.data();
    rows_ = rows;
  }

  // Stores x as the row of `label`, copying a referenced matrix first.
  void set(std::size_t label, const float* x) {
    own();
    if (label >= rows_) {
      rows_ = label + 1;
      // resize() grows the capacity geometrically, so one row at a time stays amortised O(dim).
      owned_.resize(rows_ * dim_);
      data_ = owned_.data();
    }
    std::copy_n(x, dim_, owned_.data() + label * dim_);
  }

  std::size_t bytes() const {
    return owned_.capacity() != 0 ? owned_.capacity() * sizeof(float)
                                  : rows_ * dim_ * sizeof(float);
  }

 private:
  void own() {
    if (data_ == nullptr || data_ == owned_.data()) return;
    owned_.assign(data_, data_ + rows_ * dim_);
    data_ = owned_.data();
  }

  const float* data_ = nullptr;
  std::size_t rows_ = 0, dim_ = 0;
  AlignedVector<float> owned_;
};

template <typename T>
class InvertedLists {
 public:
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

  // nlist empty lists of entries of `stride` elements; forgets every id.
  void reset(std::size_t nlist, std::size_t stride) {
    lists_.assign(nlist, List{});
    stride_ = stride;
    labels_ = 0;
    materialised_ = false;
    ids_.clear();
    ids_.shrink_to_fit();
    where_.clear();
    where_.shrink_to_fit();
    label_of_ = {};
    free_.clear();
    free_.shrink_to_fit();
  }

  // Static layout: list l holds the labels order[offsets[l] .. offsets[l + 1]), in that order;
  // fill(label, entry) writes an entry's stride elements. Label = caller id, no maps.
  template <typename Fill>
  void assign_static(const std::vector<std::size_t>& offsets,
                     const std::vector<std::uint32_t>& order, Fill&& fill) {
    const std::size_t nlist = lists_.size();
    for (std::size_t l = 0; l < nlist; ++l) {
      List& list = lists_[l];
      list.labels.assign(order.begin() + static_cast<std::ptrdiff_t>(offsets[l]),
                         order.begin() + static_cast<std::ptrdiff_t>(offsets[l + 1]));
      list.entries.resize(list.labels.size() * stride_);
    }
    const auto lists = static_cast<std::int64_t>(nlist);
#pragma omp parallel for schedule(dynamic, 4)
    for (std::int64_t i = 0; i < lists; ++i) {
      List& list = lists_[static_cast<std::size_t>(i)];
      for (std::size_t p = 0; p < list.labels.size(); ++p)
        fill(list.labels[p], list.entries.data() + p * stride_);
    }
    labels_ = order.size();
  }

  std::size_t nlist() const {
    return lists_.size();
  }
  std::size_t size(std::size_t l) const {
    return lists_[l].labels.size();
  }
  const T* entries(std::size_t l) const {
    return lists_[l].entries.data();
  }
  const std::uint32_t* labels(std::size_t l) const {
    return lists_[l].labels.data();
  }

  // The caller's id of a label.
  std::int64_t id(std::int64_t label) const {
    return materialised_ ? ids_[static_cast<std::size_t>(label)] : label;
  }
  // Whether labels are the caller's ids (a static build not changed since).
  bool identity() const {
    return !materialised_;
  }
  // Labels in use or freed: the size a per-label array needs.
  std::size_t label_count() const {
    return labels_;
  }

  // Throws unless the batch is well formed (one id per dim-wide vector) and every id is new
  // (not live, not repeated); `module` names the error.
  void check_new(std::span<const std::int64_t> ids, MatrixView vectors, std::size_t dim,
                 const char* module) {
    ANNBENCH_CHECK(vectors.dim == dim, "{}: added vectors have dimension {}, expected {}", module,
                   vectors.dim, dim);
    ANNBENCH_CHECK(ids.size() == vectors.rows, "{}: add() of {} vectors with {} ids", module,
                   vectors.rows, ids.size());
    if (ids.empty()) return;
    materialise();
    std::unordered_set<std::int64_t> batch;
    batch.reserve(ids.size());
    for (const std::int64_t id : ids) {
      ANNBENCH_CHECK(!label_of_.contains(id) && batch.insert(id).second,
                     "{}: add() of id {}, which is already in the index", module, id);
    }
    ANNBENCH_CHECK(label_of_.size() + ids.size() < kNone, "{}: more than {} vectors", module,
                   kNone - 1);
  }
  // Throws unless every id is live and none repeats.
  void check_live(std::span<const std::int64_t> ids, const char* module) {
    materialise();
    std::unordered_set<std::int64_t> batch;
    batch.reserve(ids.size());
    for (const std::int64_t id : ids) {
      ANNBENCH_CHECK(label_of_.contains(id) && batch.insert(id).second,
                     "{}: remove() of id {}, which is not in the index", module, id);
    }
  }

  // Appends an entry for `id` (checked new) to list l; returns its label and the place of its
  // stride elements.
  std::uint32_t insert(std::size_t l, std::int64_t id, T** entry) {
    materialise();
    std::uint32_t label = 0;
    if (!free_.empty()) {
      label = free_.back();
      free_.pop_back();
    } else {
      label = static_cast<std::uint32_t>(labels_++);
      ids_.resize(labels_);
      where_.resize(labels_);
    }
    List& list = lists_[l];
    const auto position = static_cast<std::uint32_t>(list.labels.size());
    list.labels.push_back(label);
    list.entries.resize(list.entries.size() + stride_);
    *entry = list.entries.data() + static_cast<std::size_t>(position) * stride_;
    ids_[label] = id;
    where_[label] = Where{static_cast<std::uint32_t>(l), position};
    label_of_.emplace(id, label);
    return label;
  }

  // Removes `id` (checked live): the list's last entry takes its place. Returns the freed label.
  std::uint32_t erase(std::int64_t id) {
    materialise();
    const auto found = label_of_.find(id);
    const std::uint32_t label = found->second;
    label_of_.erase(found);
    const Where at = where_[label];
    List& list = lists_[at.list];
    const std::size_t last = list.labels.size() - 1;
    if (at.position != last) {
      const std::uint32_t moved = list.labels[last];
      list.labels[at.position] = moved;
      std::copy_n(list.entries.data() + last * stride_, stride_,
                  list.entries.data() + static_cast<std::size_t>(at.position) * stride_);
      where_[moved].position = at.position;
    }
    list.labels.pop_back();
    list.entries.resize(last * stride_);
    free_.push_back(label);
    return label;
  }

  // The lists flattened for an index file (IndexFileWriter references, not copies, so this
  // must outlive write()).
  struct Flat {
    std::vector<std::uint64_t> offsets;  // nlist + 1: list l is [offsets[l], offsets[l + 1])
    std::vector<std::uint32_t> labels;
    std::vector<T> entries;            // stride elements per label
    std::vector<std::uint64_t> shape;  // label count, materialised (0 / 1)
  };

  // Sections "list_offsets", "list_labels", "list_entries", "list_shape" (label count, whether
  // the maps exist) and, once they do, "ids" (caller id by label) and "free_labels" (reusable
  // labels, in the order they will be reused), so that a loaded index changes exactly as this
  // one would.
  void save(IndexFileWriter& writer, Flat& flat) const {
    flat.offsets.assign(1, 0);
    flat.labels.clear();
    flat.entries.clear();
    for (const List& list : lists_) {
      flat.labels.insert(flat.labels.end(), list.labels.begin(), list.labels.end());
      flat.entries.insert(flat.entries.end(), list.entries.begin(), list.entries.end());
      flat.offsets.push_back(flat.labels.size());
    }
    flat.shape = {labels_, materialised_ ? 1u : 0u};
    writer.add("list_offsets", flat.offsets);
    writer.add("list_labels", flat.labels);
    writer.add("list_entries", flat.entries);
    writer.add("list_shape", flat.shape);
    if (materialised_) {
      writer.add("ids", ids_);
      writer.add("free_labels", free_);
    }
  }

  // Reads what save() wrote, entries of `stride` elements, checking every reference: offsets
  // inside the arrays, each label below the label count and in one list at most, free labels
  // exactly the rest, live ids distinct. Errors name the file.
  void load(const IndexFileReader& reader, std::size_t stride) {
    const auto offsets = reader.array<std::uint64_t>("list_offsets");
    const auto labels = reader.array<std::uint32_t>("list_labels");
    const auto shape = reader.array<std::uint64_t>("list_shape", 2);
    if (offsets.empty() || offsets.front() != 0 || offsets.back() != labels.size())
      reader.fail("'list_offsets' does not cover 'list_labels'");
    for (std::size_t l = 1; l < offsets.size(); ++l) {
      if (offsets[l] < offsets[l - 1]) reader.fail(fmt::format("list {} has a negative size", l));
    }
    if (stride != 0 && labels.size() > std::numeric_limits<std::size_t>::max() / stride)
      reader.fail("'list_labels' is too large");
    const auto entries = reader.array<T>("list_entries", labels.size() * stride);
    const std::uint64_t label_count = shape[0];
    if (shape[1] > 1) reader.fail("'list_shape' has an invalid flag");
    const bool materialised = shape[1] == 1;
    if (label_count < labels.size() || label_count >= kNone ||
        (!materialised && label_count != labels.size()))
      reader.fail(
          fmt::format("label count {} is out of range for {} entries", label_count, labels.size()));
    // Sized by the file before anything is allocated by label count.
    std::span<const std::int64_t> ids;
    if (materialised) ids = reader.array<std::int64_t>("ids", label_count);
    std::vector<std::uint8_t> used(label_count, 0);
    for (const std::uint32_t label : labels) {
      if (label >= label_count || used[label] != 0)
        reader.fail(fmt::format("'list_labels' holds label {}: out of range or repeated", label));
      used[label] = 1;
    }
    reset(offsets.size() - 1, stride);
    labels_ = label_count;
    for (std::size_t l = 0; l + 1 < offsets.size(); ++l) {
      List& list = lists_[l];
      list.labels.assign(labels.begin() + static_cast<std::ptrdiff_t>(offsets[l]),
                         labels.begin() + static_cast<std::ptrdiff_t>(offsets[l + 1]));
      list.entries.assign(entries.begin() + static_cast<std::ptrdiff_t>(offsets[l] * stride),
                          entries.begin() + static_cast<std::ptrdiff_t>(offsets[l + 1] * stride));
    }
    if (!materialised) {
      if (reader.has("ids") || reader.has("free_labels"))
        reader.fail("a static index has no id map, yet 'ids' or 'free_labels' is present");
      return;
    }
    const auto free = reader.array<std::uint32_t>("free_labels", label_count - labels.size());
    for (const std::uint32_t label : free) {
      if (label >= label_count || used[label] != 0)
        reader.fail(fmt::format("'free_labels' holds label {}: out of range or live", label));
      used[label] = 1;
    }
    materialised_ = true;
    ids_.assign(ids.begin(), ids.end());
    free_.assign(free.begin(), free.end());
    where_.resize(label_count);
    label_of_.reserve(labels.size());
    for (std::size_t l = 0; l < lists_.size(); ++l) {
      const List& list = lists_[l];
      for (std::size_t p = 0; p < list.labels.size(); ++p) {
        const std::uint32_t label = list.labels[p];
        where_[label] = Where{static_cast<std::uint32_t>(l), static_cast<std::uint32_t>(p)};
        if (!label_of_.emplace(ids_[label], label).second)
          reader.fail(fmt::format("'ids' holds id {} twice", ids_[label]));
      }
    }
  }

  // Entries, labels and list headers; once materialised, the maps too.
  std::size_t bytes() const {
    std::size_t total = lists_.size() * sizeof(List);
    for (const List& list : lists_) {
      total += list.entries.capacity() * sizeof(T) + list.labels.capacity() * sizeof(std::uint32_t);
    }
    return total + ids_.capacity() * sizeof(std::int64_t) + where_.capacity() * sizeof(Where) +
           free_.capacity() * sizeof(std::uint32_t) + (materialised_ ? hashed_bytes(label_of_) : 0);
  }

 private:
  struct List {
    AlignedVector<T> entries;  // size() * stride elements
    std::vector<std::uint32_t> labels;
  };
  struct Where {
    std::uint32_t list = 0;
    std::uint32_t position = 0;
  };

  // A static build stores no maps (label = id); the first update derives them from the lists.
  void materialise() {
    if (materialised_) return;
    materialised_ = true;
    ids_.resize(labels_);
    where_.resize(labels_);
    label_of_.reserve(labels_);
    for (std::size_t l = 0; l < lists_.size(); ++l) {
      const List& list = lists_[l];
      for (std::size_t p = 0; p < list.labels.size(); ++p) {
        const std::uint32_t label = list.labels[p];
        ids_[label] = label;
        where_[label] = Where{static_cast<std::uint32_t>(l), static_cast<std::uint32_t>(p)};
        label_of_.emplace(label, label);
      }
    }
  }

  std::vector<List> lists_;
  std::size_t stride_ = 0;
  std::size_t labels_ = 0;  // labels handed out (live or free)
  bool materialised_ = false;
  std::vector<std::int64_t> ids_;                             // label -> caller id
  std::vector<Where> where_;                                  // label -> place in the lists
  std::unordered_map<std::int64_t, std::uint32_t> label_of_;  // caller id -> label
  std::vector<std::uint32_t> free_;                           // labels of removed entries
};

}  // namespace annbench::ivf
