// Index files: annbench's container (common/index_file.h), module "annoy", format version 1:
//
//   meta          Meta below: leaf_size and seed (the build options a loaded index reports)
//   vectors       rows × dim floats (the build space: unit-normalised for angular)
//   planes        internal nodes × plane_stride_for(dim) floats (normal, offset, zero padding)
//   children      2 int32 refs per internal node
//   leaf_offsets  leaves + 1 uint32
//   ids           int32, leaf after leaf
//   roots         one int32 ref per tree
//
// The sections are the Forest's arrays byte for byte, and the container places every section
// 64-byte aligned in its page-aligned mapping, so load() serves them in place, as aligned as a
// built index's: nothing is copied, and the index keeps the mapping alive. The container checks
// module, version, metric, dimension, sizes and checksum; Forest::adopt then checks the refs
// (children numbered above their parents, ids below the vector count), so a corrupt file that
// passes the checksum still gives an Error before any search.

#include "annoy_index.h"

#include <annbench/common/index_file.h>
#include <annbench/error.h>

#include <limits>

namespace annbench::annoy {
namespace {

constexpr const char* kModule = "annoy";
constexpr std::uint32_t kFormatVersion = 1;

struct Meta {
  std::uint64_t leaf_size;
  std::uint64_t seed;
};

}  // namespace

void AnnoyIndex::save(const std::string& path) const {
  ANNBENCH_CHECK(built_, "annoy: save('{}') before build", path);
  const ForestArrays& a = forest_.arrays();
  IndexFileWriter w(kModule, kFormatVersion, metric_, dim_, data_.rows);
  w.add_value("meta", Meta{options_.leaf_size, options_.seed});
  w.add("vectors", data_.data, data_.rows * dim_ * sizeof(float));
  w.add("planes", a.planes);
  w.add("children", a.children);
  w.add("leaf_offsets", a.leaf_offsets);
  w.add("ids", a.ids);
  w.add("roots", a.roots);
  w.write(path);
}

std::unique_ptr<AnnoyIndex> AnnoyIndex::load(const std::string& path, Metric metric,
                                             std::size_t dim) {
  const IndexFileReader r = IndexFileReader::open(path, kModule, kFormatVersion, metric, dim);
  const auto meta = r.value<Meta>("meta");
  if (meta.leaf_size < 1) r.fail("leaf_size is 0");
  const std::size_t rows = r.rows();
  // Every id of a leaf is below rows, which are int32 in the id array.
  if (rows > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
    r.fail(fmt::format("{} vectors", rows));
  }
  ForestArrays arrays;
  arrays.dim = dim;
  arrays.planes = r.array<float>("planes");
  arrays.children = r.array<std::int32_t>("children");
  arrays.leaf_offsets = r.array<std::uint32_t>("leaf_offsets");
  arrays.ids = r.array<std::int32_t>("ids");
  arrays.roots = r.array<std::int32_t>("roots");
  const auto vectors = r.array<float>("vectors", rows * dim);

  ForestOptions options;
  options.n_trees = arrays.roots.size();
  options.leaf_size = meta.leaf_size;
  options.seed = meta.seed;
  options.through_origin = metric == Metric::Angular;
  auto index = std::make_unique<AnnoyIndex>(metric, dim, options);
  index->forest_.adopt(arrays, rows, r.mapping(), fmt::format("'{}' is corrupt", path));
  index->file_ = r.mapping();
  index->adopt(MatrixView{vectors.data(), rows, dim});
  return index;
}

}  // namespace annbench::annoy
