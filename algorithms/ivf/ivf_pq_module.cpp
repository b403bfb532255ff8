// The ivf-pq module's entry point (ivf_pq_index.h).

#include "ivf_pq_index.h"

#include <annbench/module.h>

#include <array>

namespace annbench::ivf {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  PqParams params;
  params.coarse = CoarseParams::from(build);
  params.m = static_cast<std::size_t>(build.get_int("m"));
  params.nbits = static_cast<std::size_t>(build.get_int("nbits"));
  params.pq_iterations = static_cast<std::size_t>(build.get_int("pq_iters"));
  params.precompute = build.get_bool("precompute");
  params.refine = build.get_bool("refine");
  return std::make_unique<IvfPqIndex>(metric, dim, params);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = [] {
  std::vector<ParamSpec> specs = coarse_param_specs();
  specs.push_back(
      {"m", ParamType::Int, std::int64_t{16}, "PQ sub-quantizers (must divide dim)", 1, 1 << 16});
  specs.push_back({"nbits", ParamType::Int, std::int64_t{8}, "bits per sub-quantizer code", 1, 8});
  specs.push_back({"pq_iters", ParamType::Int, std::int64_t{25},
                   "Lloyd iterations per PQ codebook (faiss's default)", 0, 1000});
  specs.push_back({"precompute", ParamType::Bool, true,
                   "precompute nlist x m x 2^nbits L2 table terms (faster, more memory)"});
  specs.push_back({"refine", ParamType::Bool, false,
                   "keep (reference) the original vectors so that searches may rerank"});
  return specs;
}();
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "lists scanned per query (above nlist: all)", 1,
     1 << 24},
    {"rerank", ParamType::Int, std::int64_t{0},
     "candidates re-ranked with exact distances (0: off; needs refine=true)", 0, 1 << 24},
};
const std::vector<ParamSpec> kFilterSearch = {filter_max_probe_spec()};
// A few hundred points of a dozen dimensions: 8 lists, 3-float sub-vectors, and 4-bit codes,
// since a streaming index's first add() (200 rows) must train 2^nbits codewords. The original
// vectors are kept so that searching every list and re-ranking finds nearly every neighbour.
const std::array kSmallBuild = {
    ParamSetting{"nlist", std::int64_t{8}}, ParamSetting{"m", std::int64_t{4}},
    ParamSetting{"nbits", std::int64_t{4}}, ParamSetting{"refine", true}};
const std::array kSmallSearch = {ParamSetting{"nprobe", std::int64_t{8}},
                                 ParamSetting{"rerank", std::int64_t{100}}};

const ModuleInfo kInfo = {
    .name = kPqName,
    .description = "inverted file + product-quantized residuals (IVFADC), optional re-ranking",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .filter_search_params = kFilterSearch,
    .capabilities = kCapInsert | kCapDelete | kCapSaveLoad | kCapFilter,
    .create = &create,
    .load = &IvfPqIndex::load,
    .small_data_build = kSmallBuild,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::ivf

ANNBENCH_MODULE(annbench::ivf::kInfo)
