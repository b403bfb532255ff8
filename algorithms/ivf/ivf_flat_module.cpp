// The ivf-flat module's entry point (ivf_flat_index.h).

#include "ivf_flat_index.h"

#include <annbench/module.h>

#include <array>

namespace annbench::ivf {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<IvfFlatIndex>(metric, dim, CoarseParams::from(build));
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};
const std::vector<ParamSpec> kBuild = coarse_param_specs();
const std::vector<ParamSpec> kSearch = {
    {"nprobe", ParamType::Int, std::int64_t{1}, "lists scanned per query (above nlist: all)", 1,
     1 << 24},
};
const std::vector<ParamSpec> kFilterSearch = {filter_max_probe_spec()};
// A few hundred points fill 8 lists; probing all of them is an exact scan.
const std::array kSmallBuild = {ParamSetting{"nlist", std::int64_t{8}}};
const std::array kSmallSearch = {ParamSetting{"nprobe", std::int64_t{8}}};

const ModuleInfo kInfo = {
    .name = kFlatName,
    .description = "inverted file, k-means coarse quantizer, exact scan of nprobe lists",
    .metrics = kMetrics,
    .build_params = kBuild,
    .search_params = kSearch,
    .filter_search_params = kFilterSearch,
    .capabilities = kCapRangeSearch | kCapInsert | kCapDelete | kCapSaveLoad | kCapFilter,
    .create = &create,
    .load = &IvfFlatIndex::load,
    .small_data_build = kSmallBuild,
    .small_data_search = kSmallSearch,
};

}  // namespace
}  // namespace annbench::ivf

ANNBENCH_MODULE(annbench::ivf::kInfo)
