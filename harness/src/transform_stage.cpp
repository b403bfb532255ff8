#include "transform_stage.h"

#include <annbench/common/linear_map.h>
#include <annbench/error.h>

#include <fmt/format.h>

#include <chrono>
#include <vector>

namespace annbench {

namespace {

const std::vector<ParamSpec> kPcaSpecs = {
    {"dim", ParamType::Int, std::int64_t{0}, "dimensions kept (required)", 0, 1e6},
};

const std::vector<ParamSpec> kProjectionSpecs = {
    {"dim", ParamType::Int, std::int64_t{0}, "output dimensions (required)", 0, 1e6},
    {"kind", ParamType::String, std::string("gaussian"), "gaussian or sparse"},
    {"sparsity", ParamType::Float, 0.0,
     "sparse: s, a weight is non-zero with probability 1/s (3 = Achlioptas; 0 = sqrt(dim), "
     "Li et al.'s very sparse)",
     0, 1e9},
    {"seed", ParamType::Int, std::int64_t{1}, "random seed", 0, 9.2e18},
};

class TransformedIndex final : public Index {
 public:
  TransformedIndex(std::unique_ptr<Index> inner, TransformSpec spec, Metric metric,
                   std::size_t input_dim, std::shared_ptr<TransformReport> report)
      : inner_(std::move(inner)),
        spec_(std::move(spec)),
        metric_(metric),
        input_dim_(input_dim),
        report_(std::move(report)) {}

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == input_dim_, "{}: base vectors have {} dimensions, expected {}",
                   spec_.key(), base.dim, input_dim_);
    const auto start = std::chrono::steady_clock::now();
    if (spec_.kind == TransformSpec::Kind::Pca) {
      // Euclidean distances do not depend on the origin, inner products do: only euclidean
      // data is centred (see LinearMap::pca).
      map_ = LinearMap::pca(base, spec_.dim, metric_ == Metric::L2);
    } else if (spec_.projection == "sparse") {
      map_ = LinearMap::sparse_projection(input_dim_, spec_.dim, spec_.sparsity,
                                          static_cast<std::uint64_t>(spec_.seed));
    } else {
      map_ = LinearMap::gaussian_projection(input_dim_, spec_.dim,
                                            static_cast<std::uint64_t>(spec_.seed));
    }
    mapped_base_ = map_.apply_rows(base);
    if (report_) {
      report_->fit_seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      report_->bytes = map_.memory_bytes();
      report_->summary = describe();
    }
    inner_->build(mapped_base_.view());
  }

  void set_search_params(const Params& params) override { inner_->set_search_params(params); }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    // One buffer per thread, reused: searches may run on several threads at once.
    thread_local std::vector<float> mapped;
    mapped.resize(spec_.dim);
    map_.apply(query, mapped.data());
    inner_->search(mapped.data(), k, out);
  }

  void search_filtered(const float* query, std::size_t k, const Filter& filter,
                       Neighbor* out) const override {
    // Row ids are the same on both sides of the stage, so the filter passes through unchanged.
    thread_local std::vector<float> mapped;
    mapped.resize(spec_.dim);
    map_.apply(query, mapped.data());
    inner_->search_filtered(mapped.data(), k, filter, out);
  }

  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override {
    const FloatMatrix mapped = map_.apply_rows(queries);
    inner_->search_batch(mapped.view(), k, out);
  }

  // The mapped base is referenced by the module, which counts it if it keeps no copy; the
  // weights are the stage's own.
  std::size_t memory_bytes() const override { return inner_->memory_bytes() + map_.memory_bytes(); }

  std::optional<std::uint64_t> distance_count() const override { return inner_->distance_count(); }

 private:
  std::string describe() const {
    if (spec_.kind == TransformSpec::Kind::Pca) {
      double kept = 0;
      for (double v : map_.kept_variance()) kept += v;
      const double total = map_.total_variance();
      return fmt::format("pca {} -> {} dims ({}), {:.1f} % of the {}", input_dim_, spec_.dim,
                         metric_ == Metric::L2 ? "centred" : "uncentred",
                         total > 0 ? 100.0 * kept / total : 100.0,
                         metric_ == Metric::L2 ? "variance" : "second moment");
    }
    return fmt::format("random projection ({}) {} -> {} dims, {} non-zero weights",
                       spec_.projection, input_dim_, spec_.dim, map_.nonzeros());
  }

  std::unique_ptr<Index> inner_;
  TransformSpec spec_;
  Metric metric_;
  std::size_t input_dim_;
  std::shared_ptr<TransformReport> report_;
  LinearMap map_;
  FloatMatrix mapped_base_;
};

}  // namespace

std::string TransformSpec::key() const {
  return kind == Kind::Pca ? "pca" : "random_projection";
}

void TransformSpec::add_to(Params& recorded) const {
  const std::string prefix = key() + ".";
  recorded.set(prefix + "dim", static_cast<std::int64_t>(dim));
  if (kind == Kind::RandomProjection) {
    recorded.set(prefix + "kind", projection);
    if (projection == "sparse") recorded.set(prefix + "sparsity", sparsity);
    recorded.set(prefix + "seed", seed);
  }
}

std::span<const ParamSpec> transform_param_specs(TransformSpec::Kind kind) {
  return kind == TransformSpec::Kind::Pca ? std::span<const ParamSpec>(kPcaSpecs)
                                          : std::span<const ParamSpec>(kProjectionSpecs);
}

TransformSpec transform_from_params(TransformSpec::Kind kind, const Params& params) {
  TransformSpec spec;
  spec.kind = kind;
  const std::int64_t dim = params.get_int("dim");
  ANNBENCH_CHECK(dim >= 1, "{}: 'dim' (the output dimension, >= 1) is required", spec.key());
  spec.dim = static_cast<std::size_t>(dim);
  if (kind == TransformSpec::Kind::RandomProjection) {
    spec.projection = params.get_string("kind");
    ANNBENCH_CHECK(spec.projection == "gaussian" || spec.projection == "sparse",
                   "random_projection: kind must be gaussian or sparse, got '{}'", spec.projection);
    spec.sparsity = params.get_float("sparsity");
    ANNBENCH_CHECK(spec.sparsity == 0 || spec.sparsity >= 1,
                   "random_projection: sparsity must be 0 (sqrt(dim)) or >= 1, got {}",
                   spec.sparsity);
    spec.seed = params.get_int("seed");
  }
  return spec;
}

std::unique_ptr<Index> make_transformed_index(std::unique_ptr<Index> inner,
                                              const TransformSpec& spec, Metric metric,
                                              std::size_t input_dim,
                                              std::shared_ptr<TransformReport> report) {
  ANNBENCH_CHECK(spec.dim <= input_dim,
                 "{}: dim {} is larger than the dataset's {} dimensions (a reduction stage "
                 "reduces)",
                 spec.key(), spec.dim, input_dim);
  return std::make_unique<TransformedIndex>(std::move(inner), spec, metric, input_dim,
                                            std::move(report));
}

}  // namespace annbench
