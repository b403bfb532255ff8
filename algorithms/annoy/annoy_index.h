#pragma once
// The annoy module's Index: a Forest over the base vectors (or their unit-normalised copy for
// angular), searched with one priority queue across all trees (Annoy's rule: a child's priority
// is min(parent priority, signed margin)), candidates de-duplicated with an epoch-tagged array
// and re-ranked exactly (euclidean: with early abandoning of far candidates). search() writes
// distances in the metric's scale (plain L2, 1 - cos). See README.md.

#include "forest.h"

#include <annbench/common/mapped_file.h>
#include <annbench/common/scratch_pool.h>
#include <annbench/index.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annbench::annoy {

struct Scratch;

class AnnoyIndex final : public Index {
 public:
  AnnoyIndex(Metric metric, std::size_t dim, const ForestOptions& options);

  void build(MatrixView base) override;
  ~AnnoyIndex() override;

  void set_search_params(const Params& params) override;
  // query: finite (the harness checks queries once, before timing; build checks the base).
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

  // Index files (annoy_file.cpp): the common container. load() maps the file and serves the
  // forest and vectors in place; Error naming the file when it is not a valid (metric, dim) index.
  void save(const std::string& path) const override;
  static std::unique_ptr<AnnoyIndex> load(const std::string& path, Metric metric, std::size_t dim);

  Metric metric() const { return metric_; }
  std::size_t dim() const { return dim_; }
  const ForestOptions& options() const { return options_; }
  const Forest& forest() const { return forest_; }
  // The vectors searched (the build space: normalised for angular), n × dim.
  MatrixView vectors() const { return data_; }
  // Bytes this object holds on the heap for the forest and vectors (0 of them when mapped).
  std::size_t heap_bytes() const;
  // The index file whose mapping holds the arrays; nullptr for a built index.
  const MappedFile* mapping() const { return file_.get(); }

 private:
  // Serves a forest and vectors that live elsewhere (kept alive by the forest's owner).
  void adopt(MatrixView vectors);
  void collect(const float* q, std::size_t budget, Scratch& s) const;
  void rerank(const float* q, std::size_t k, Scratch& s, Neighbor* out) const;

  Metric metric_;
  std::size_t dim_;
  ForestOptions options_;
  MatrixView data_{};
  std::vector<float> normalized_;
  Forest forest_;
  std::shared_ptr<const MappedFile> file_;
  bool built_ = false;
  std::int64_t search_k_ = -1;
  ScratchPool<Scratch> scratch_;
  DistanceCounter distances_;
};

}  // namespace annbench::annoy
