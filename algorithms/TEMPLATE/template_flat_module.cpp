// template-flat: exact search by a full scan, as a complete module to copy (algorithms/README.md
// says how). This file is the module's entry point: its parameters, factory, loader and the
// ModuleInfo that ANNBENCH_MODULE exports; the index itself is in template_flat_index.{h,cpp}.

#include "template_flat_index.h"

#include <annbench/module.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace annbench::template_flat {
namespace {

// The harness checks a config's values against these (type, bounds) and fills in defaults, so
// create() and set_search_params() only ever see complete, valid Params.
const std::vector<ParamSpec> kBuildParams = {
    {"copy_base", ParamType::Bool, true,
     "keep a copy of the base vectors (false: search the harness's; angular always copies)"},
};
const std::vector<ParamSpec> kSearchParams = {
    {"max_scan", ParamType::Int, std::int64_t{0},
     "scan only the first max_scan base rows (0: all of them, exact)", 0, 9.0e15},
};

// For a few hundred points of a dozen dimensions (the conformance suite): build settings beyond
// the defaults (here the referencing path, which the defaults leave out), and search settings
// that find nearly every true neighbour.
const std::array kSmallDataBuild = {ParamSetting{"copy_base", false}};
const std::array kSmallDataSearch = {ParamSetting{"max_scan", std::int64_t{0}}};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& build) {
  return std::make_unique<TemplateFlatIndex>(metric, dim, build.get_bool("copy_base"));
}

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return TemplateFlatIndex::load(path, metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleInfo kInfo = {
    .name = kModuleName,
    .description = "exact search by a full scan (the module template, algorithms/TEMPLATE)",
    .metrics = kMetrics,
    .build_params = kBuildParams,
    .search_params = kSearchParams,
    .capabilities = kCapSaveLoad | kCapFilter,
    .create = &create,
    .load = &load,
    .small_data_build = kSmallDataBuild,
    .small_data_search = kSmallDataSearch,
};

}  // namespace
}  // namespace annbench::template_flat

ANNBENCH_MODULE(annbench::template_flat::kInfo)
