#pragma once
// A dimension-reduction stage in front of a module, from a sweep entry's `pca:` or
// `random_projection:` key:
//
//   - module: hnsw
//     name: hnsw-pca
//     pca: {dim: [32, 64, 128]}                       # fitted on train at build time
//   - module: hnsw
//     name: hnsw-rp
//     random_projection: {dim: 128, kind: sparse, seed: 1}
//
// The module indexes and searches the reduced vectors; the harness still scores every returned
// id in the dataset's original space, against the original ground truth, so the curve shows
// what the reduction costs. The stage's parameters join the run's build parameters (and so its
// name), its fit time is part of the build time, and its weights count in the index memory.

#include <annbench/index.h>
#include <annbench/metric.h>
#include <annbench/params.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

namespace annbench {

struct TransformSpec {
  enum class Kind { Pca, RandomProjection };
  Kind kind = Kind::Pca;
  std::size_t dim = 0;
  std::string projection = "gaussian";  // random projection: gaussian | sparse
  double sparsity = 0;                  // sparse: s (0 = sqrt(input dim))
  std::int64_t seed = 1;

  // The entry key, "pca" or "random_projection".
  std::string key() const;
  // Added to the recorded build parameters as "<key>.<name>", e.g. {"pca.dim": 64}.
  void add_to(Params& recorded) const;
};

// The accepted parameters of each stage, for decoding YAML with the usual checks.
std::span<const ParamSpec> transform_param_specs(TransformSpec::Kind kind);
TransformSpec transform_from_params(TransformSpec::Kind kind, const Params& params);

// What the stage did at build time, for the log and the result file.
struct TransformReport {
  double fit_seconds = 0;  // fitting (PCA) plus mapping the train vectors
  std::size_t bytes = 0;   // weights kept for mapping queries
  std::string summary;     // e.g. "pca 784 -> 64 dims, 86.3 % of the variance"
};

// Wraps `inner` (created for spec.dim dimensions). build() fits the map on the base, maps it and
// builds `inner` on the result; searches map each query first (its cost is part of the search
// time). Range search is not offered: a radius in the original space has no meaning there.
std::unique_ptr<Index> make_transformed_index(std::unique_ptr<Index> inner,
                                              const TransformSpec& spec, Metric metric,
                                              std::size_t input_dim,
                                              std::shared_ptr<TransformReport> report);

}  // namespace annbench
