#pragma once
// ivf-flat: inverted file with uncompressed vectors (Sivic and Zisserman 2003; the IVF layer of
// Jégou, Douze and Schmid 2011). k-means splits the base into nlist cells; a query scans the
// vectors of its nprobe nearest cells exactly. With nprobe = nlist it is an exact scan. Range
// search is exact within the probed lists.
//
// Scores: squared L2 (euclidean), minus the inner product (dot, and angular on unit vectors,
// where 1 + score is 1 - cos exactly, zero vectors included); search() converts them to the
// metric's scale.
//
// Index file (format 1): "meta" (build parameters, largest norm), "centroids" (nlist × dim),
// the inverted lists as inverted_lists.h writes them (vectors as stored, labels, and for a
// changed index the id map and free labels) and, for angular, "raw" (the vectors as given, by
// label, for exact range checks).

#include "coarse_quantizer.h"
#include "inverted_lists.h"

#include <annbench/common/scratch_pool.h>
#include <annbench/index.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace annbench::ivf {

inline constexpr const char* kFlatName = "ivf-flat";
inline constexpr std::uint32_t kFlatFormatVersion = 1;

class IvfFlatIndex final : public Index {
 public:
  IvfFlatIndex(Metric metric, std::size_t dim, const CoarseParams& params)
      : metric_(metric), dim_(dim), params_(params) {}

  void build(MatrixView base) override;
  // Each vector goes to the list of its nearest centroid, as in build(); the first add() of an
  // index built on zero rows trains the quantizer on its batch first.
  void add(std::span<const std::int64_t> ids, MatrixView vectors) override;
  void remove(std::span<const std::int64_t> ids) override;
  // nprobe above nlist means "every list": clamped, so one sweep fits indexes of any nlist.
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  // The nprobe lists with disallowed entries skipped (bit test before the distance); while
  // fewer than k allowed entries were found, the next-nearest lists too, up to filter_max_probe.
  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override;
  // Exact within the probed lists: a float score filters with a margin wider than its rounding
  // error, and survivors are checked with exact_distance against the vector as given (for
  // angular the raw base, referenced; the normalised copy would move boundary ties), so with
  // nprobe = nlist the result equals an exact scan.
  void range_search(const float* query, float radius, std::vector<Neighbor>& out) const override;
  void save(const std::string& path) const override;
  // Vectors (normalised for angular) and 32-bit labels, list by list, and the list headers;
  // centroids; for angular the raw vectors (referenced, or copied once the index changes or
  // when loaded); once it changes, the id maps; idle search scratch.
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

 private:
  // Per-search buffers, pooled so a search allocates nothing once warm.
  struct Scratch {
    ProbeScratch probe;
    TopK<float> top;
    std::size_t bytes() const {
      return probe.bytes() + top.capacity() * sizeof(TopK<float>::Entry);
    }
  };

  // Calls visit(x, label, score) for every stored vector x of the probed lists, where score is
  // the squared L2 distance to q or minus the inner product; returns how many were scanned.
  template <typename Visit>
  std::size_t scan_lists(const float* q, const std::vector<TopK<float>::Entry>& lists,
                         Visit&& visit) const;
  // Offers the entries of list l that `filter` allows to top; returns how many were scored.
  std::size_t scan_allowed(const float* q, std::size_t l, const Filter& filter,
                           TopK<float>& top) const;
  // The float score above which no point can be within `radius`.
  float range_score_limit(const float* query, float radius) const;

  Metric metric_;
  std::size_t dim_;
  CoarseParams params_;
  CoarseQuantizer quantizer_;
  InvertedLists<float> lists_;  // dim floats per entry
  RowStore raw_;                // angular: the vectors as given, by label, for exact range checks
  double max_norm_ = 0.0;       // largest |x| ever stored (range-search error margin)
  bool built_ = false;
  std::size_t nprobe_ = 1;
  std::size_t filter_max_probe_ = 0;  // 0: every list
  ScratchPool<Scratch> scratch_;
  DistanceCounter distances_;
};

}  // namespace annbench::ivf
