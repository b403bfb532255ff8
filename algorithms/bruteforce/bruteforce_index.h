#pragma once
// bruteforce: exact k-NN and range search by scanning every base vector. The reference module:
// exact results (re-ranked in double, ties by smaller id, equal to the ground truth) and the
// baseline that relative QPS is measured against. All the work is in ExactKnn (annbench_common),
// which ground truth uses too. For streaming it keeps its own copy of the live vectors and their
// ids, and rebuilds ExactKnn's norms after each add/remove (O(n·d), as cheap as one query).
//
// Index file (format 1): "meta" (rows, whether ids are stored), "vectors" (rows × dim, in row
// order) and, for an index changed by add/remove, "ids" (the id of each row). A loaded index
// owns its vectors: it does not need the dataset.
//
// Native uint8 / int8 bases (build_uint8 / build_int8, euclidean and dot) are referenced as they
// are and scanned with exact integer kernels (integer_scan.h): a quarter of the float base's
// memory, the same ids and distances. Such an index turns into a float one (its rows converted
// exactly) at its first add/remove, and saves its rows as floats, so the file format is
// unchanged and the loaded (float) index answers identically.

#include "filtered_scan.h"
#include "integer_scan.h"

#include <annbench/common/exact_knn.h>
#include <annbench/index.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace annbench::bruteforce {

inline constexpr const char* kName = "bruteforce";
inline constexpr std::uint32_t kFormatVersion = 1;

class BruteForceIndex final : public Index {
 public:
  BruteForceIndex(Metric metric, std::size_t dim) : metric_(metric), dim_(dim) {}

  void build(MatrixView base) override;
  // Reference the base (no copy); metric euclidean or dot.
  void build_uint8(U8MatrixView base) override;
  void build_int8(I8MatrixView base) override;
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override;
  void remove(std::span<const std::int64_t> ids) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  // Native batch: blocks of queries against blocks of base vectors with the many-to-many
  // kernel, so each base vector is loaded once per query block instead of once per query.
  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override;
  // Exact: every point within the radius, boundary ties included (see ExactKnn).
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override;
  // Exact among the allowed rows (filtered_scan.h): equal to a naive scan of them.
  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override;
  void save(const std::string& path) const override;
  // The referenced base counts: the index cannot answer without it.
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

  // Reads what save() wrote; Error naming the file when it is not a valid bruteforce index.
  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

 private:
  const ExactKnn& exact() const;
  void build_integer(const void* data, std::size_t rows, std::size_t dim, ElementType type);
  // A static index (built on the harness's base) turns into an owned copy at its first update,
  // its ids being the row positions.
  void make_dynamic();
  void refresh();
  // Positions -> ids (identity for a static index).
  void to_ids(Neighbor* results, std::size_t count) const;
  // (Re)creates the exact searcher and the filtered scan's per-row data on `rows`.
  void index_rows(MatrixView rows);

  Metric metric_;
  std::size_t dim_;
  std::optional<ExactKnn> knn_;
  std::optional<IntegerScan> integer_;  // set instead of knn_ for a native uint8 / int8 base
  FilteredScan filtered_;
  bool dynamic_ = false;
  std::vector<float> owned_;                                // live vectors (dynamic or loaded)
  std::vector<std::int64_t> ids_;                           // dynamic: id of each row of owned_
  std::unordered_map<std::int64_t, std::size_t> position_;  // id -> row
  DistanceCounter distances_;
};

}  // namespace annbench::bruteforce
