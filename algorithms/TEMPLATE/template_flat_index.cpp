#include "template_flat_index.h"

#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/common/normalize.h>
#include <annbench/error.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

namespace annbench::template_flat {

namespace {

// save()'s "meta" section: fixed-width fields, so the file means the same on every build.
struct Meta {
  std::uint64_t rows;
  std::uint32_t normalized;  // 1: the rows are unit vectors (angular)
  std::uint32_t reserved;
};

// Angular ranks by -<q, x> on unit vectors (1 - <q, x> is exactly its distance); euclidean by
// the squared distance. Both convert to the metric's scale at the end of search().
Score internal_score(Metric metric) {
  return metric == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot;
}

}  // namespace

TemplateFlatIndex::TemplateFlatIndex(Metric metric, std::size_t dim, bool copy_base)
    : metric_(metric), dim_(dim), copy_base_(copy_base) {}

void TemplateFlatIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "{}: base vectors have dimension {}, expected {}", kModuleName,
                 base.dim, dim_);
  mapping_.reset();
  owned_.clear();
  owned_.shrink_to_fit();  // a rebuild allocates afresh, exactly what it needs
  scratch_.clear();
  if (metric_ == Metric::Angular) {
    owned_.resize(base.rows * dim_);
    const auto rows = static_cast<std::int64_t>(base.rows);
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < rows; ++i) {
      const auto r = static_cast<std::size_t>(i);
      normalize_into(base.row(r), dim_, owned_.data() + r * dim_);
    }
    vectors_ = MatrixView{owned_.data(), base.rows, dim_};
  } else if (copy_base_) {
    owned_.assign(base.data, base.data + base.rows * dim_);
    vectors_ = MatrixView{owned_.data(), base.rows, dim_};
  } else {
    vectors_ = base;  // the harness keeps it alive and unchanged for the index's lifetime
  }
}

void TemplateFlatIndex::set_search_params(const Params& params) {
  max_scan_ = static_cast<std::size_t>(params.get_int("max_scan"));
}

void TemplateFlatIndex::search(const float* query, std::size_t k, Neighbor* out) const {
  const std::size_t rows = max_scan_ == 0 ? vectors_.rows : std::min(max_scan_, vectors_.rows);
  scan(query, k, out, rows, nullptr);
}

void TemplateFlatIndex::search_filtered(const float* query, std::size_t k, const Filter& filter,
                                        Neighbor* out) const {
  // The allowed rows are exactly the candidates: an exact scan of them is exact filtered search.
  scan(query, k, out, filter.count(), filter.ids().data());
}

void TemplateFlatIndex::scan(const float* query, std::size_t k, Neighbor* out, std::size_t count,
                             const std::int64_t* ids) const {
  auto scratch = scratch_.acquire();
  const float* q = query;
  if (metric_ == Metric::Angular) {
    scratch->query.resize(dim_);
    normalize_into(query, dim_, scratch->query.data());
    q = scratch->query.data();
  }
  const DistanceKernels& kernels = distance_kernels();
  TopK<float>& best = scratch->best;
  best.reset(k);
  for (std::size_t i = 0; i < count; ++i) {
    const auto row = ids == nullptr ? static_cast<std::int64_t>(i) : ids[i];
    const float* x = vectors_.row(static_cast<std::size_t>(row));
    const float score =
        metric_ == Metric::L2 ? kernels.l2_squared(q, x, dim_) : -kernels.inner_product(q, x, dim_);
    best.push(score, row);
  }
  best.write_sorted(out, k);
  to_metric_scale(metric_, internal_score(metric_), out, k);
  distances_.add(count);
}

void TemplateFlatIndex::save(const std::string& path) const {
  IndexFileWriter writer(kModuleName, kFormatVersion, metric_, dim_, vectors_.rows);
  writer.add_value("meta", Meta{vectors_.rows, metric_ == Metric::Angular ? 1u : 0u, 0});
  writer.add("vectors", std::span<const float>(vectors_.data, vectors_.rows * dim_));
  writer.write(path);
}

std::unique_ptr<Index> TemplateFlatIndex::load(const std::string& path, Metric metric,
                                               std::size_t dim) {
  // open() checks the container: module, format version, metric, dim, checksum, section table.
  const IndexFileReader reader =
      IndexFileReader::open(path, kModuleName, kFormatVersion, metric, dim);
  const auto meta = reader.value<Meta>("meta");
  // What the sections hold is the module's to check: a file can be intact yet wrong.
  if (meta.rows != reader.rows()) {
    reader.fail(
        fmt::format("its meta section says {} rows, its header {}", meta.rows, reader.rows()));
  }
  if (meta.normalized != (metric == Metric::Angular ? 1u : 0u) || meta.reserved != 0) {
    reader.fail("its meta section does not match the metric");
  }
  if (dim > 0 && meta.rows > std::numeric_limits<std::size_t>::max() / sizeof(float) / dim) {
    reader.fail(fmt::format("{} rows of {} floats cannot be addressed", meta.rows, dim));
  }
  const auto rows = static_cast<std::size_t>(meta.rows);
  const std::span<const float> vectors = reader.array<float>("vectors", rows * dim);
  const auto finite = [](float v) { return std::isfinite(v); };
  if (!std::all_of(vectors.begin(), vectors.end(), finite)) {
    reader.fail("its vectors section holds a value that is not finite");
  }

  // Served in place from the mapping, which the index keeps alive; copy_base only matters to
  // build().
  auto index = std::make_unique<TemplateFlatIndex>(metric, dim, true);
  index->mapping_ = reader.mapping();
  index->vectors_ = MatrixView{vectors.data(), rows, dim};
  return index;
}

std::size_t TemplateFlatIndex::memory_bytes() const {
  // The vectors searched count wherever they live (our copy, the harness's base, the mapping).
  return vectors_.rows * dim_ * sizeof(float) +
         (owned_.capacity() - owned_.size()) * sizeof(float) + scratch_.bytes();
}

}  // namespace annbench::template_flat
