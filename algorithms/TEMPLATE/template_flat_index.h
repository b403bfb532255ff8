#pragma once
// template-flat's index: the base vectors in one array, searched by a full scan. The smallest
// module that keeps the whole contract (annbench/index.h): exact search with distances in the
// metric's scale, thread-safe searches with pooled scratch, save/load through annbench's
// index-file container, and a memory count that includes the idle scratch.

#include <annbench/common/mapped_file.h>
#include <annbench/common/scratch_pool.h>
#include <annbench/common/topk.h>
#include <annbench/index.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/params.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annbench::template_flat {

// The name in ModuleInfo and in every file save() writes.
inline constexpr const char* kModuleName = "template-flat";
// The layout of the sections save() writes; raise it when they change, so that load() refuses
// older files with a clear message instead of misreading them.
inline constexpr std::uint32_t kFormatVersion = 1;

class TemplateFlatIndex final : public Index {
 public:
  // copy_base: keep a copy of the base vectors, or search the harness's (which it keeps alive
  // for the index's lifetime). Angular always keeps a normalised copy.
  TemplateFlatIndex(Metric metric, std::size_t dim, bool copy_base);

  // What ModuleInfo::load calls: an Error naming `path` for any file it cannot trust.
  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim);

  void build(MatrixView base) override;
  void set_search_params(const Params& params) override;
  void search(const float* query, std::size_t k, Neighbor* out) const override;
  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override;
  void save(const std::string& path) const override;
  std::size_t memory_bytes() const override;
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  // Exact search over `count` rows: ids[0 .. count) (the allowed rows, for search_filtered()),
  // or rows 0 .. count - 1 when ids is null (search()).
  void scan(const float* query, std::size_t k, Neighbor* out, std::size_t count,
            const std::int64_t* ids) const;

  // One search's buffers: the normalised query (angular) and the k best so far.
  struct Scratch {
    std::vector<float> query;
    TopK<float> best;
    std::size_t bytes() const {
      return query.capacity() * sizeof(float) + best.capacity() * sizeof(TopK<float>::Entry);
    }
  };

  Metric metric_;
  std::size_t dim_;
  bool copy_base_;
  std::size_t max_scan_ = 0;  // search parameter; 0: every row
  // vectors_ views one of: owned_, the harness's base, or a loaded file's mapping.
  std::vector<float> owned_;
  std::shared_ptr<const MappedFile> mapping_;
  MatrixView vectors_;
  ScratchPool<Scratch> scratch_;
  DistanceCounter distances_;
};

}  // namespace annbench::template_flat
