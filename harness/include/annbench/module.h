#pragma once
// What a module shared library exports: one C-linkage entry point, annbench_module_v1(),
// returning a ModuleInfo. The harness dlopen()s every lib*.so in its plugin directories and
// ANNBENCH_PLUGIN_PATH and checks abi_version and info_size before touching anything else.
//
// The types crossing the boundary are C++ (std::span, std::unique_ptr, annbench::Error), so a
// module must be built with the same compiler and standard library as the harness; the version
// check turns a mismatch of annbench's own API into a clear error instead of a crash.
//
// Minimal module:
//   const annbench::ModuleInfo kInfo = {.name = "mine", ..., .create = &create_mine};
//   ANNBENCH_MODULE(kInfo)

#include <annbench/index.h>
#include <annbench/metric.h>
#include <annbench/params.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace annbench {

// 2: Index::range_search and kCapRangeSearch.
// 3: ModuleInfo::library.
// 4: Index::add / Index::remove, kCapInsert and kCapDelete.
// 5: Index::save, ModuleInfo::load, ModuleInfo::small_data_build / small_data_search; search()
//    distances in the metric's scale.
// 6: Index::search_filtered, kCapFilter and ModuleInfo::filter_search_params.
// 7: Index::build_report.
// 8: Index::build_uint8 / build_int8, kCapUint8 and kCapInt8.
inline constexpr std::uint32_t kAbiVersion = 8;

// Capability bits: what the harness may rely on beyond the Index basics.
enum Capability : std::uint32_t {
  kCapNativeBatch = 1u << 0,  // search_batch is faster than a loop over search
  kCapSaveLoad = 1u << 1,     // Index::save and ModuleInfo::load are implemented
  kCapRangeSearch = 1u << 2,  // range_search is implemented
  kCapInsert = 1u << 3,       // add() is implemented (streaming track)
  kCapDelete = 1u << 4,       // remove() is implemented (streaming track)
  kCapFilter = 1u << 5,       // search_filtered is implemented (filtered track)
  kCapUint8 = 1u << 6,        // build_uint8 is implemented (euclidean and dot uint8 datasets)
  kCapInt8 = 1u << 7,         // build_int8 is implemented (euclidean and dot int8 datasets)
};

using IndexFactory = std::unique_ptr<Index> (*)(Metric metric, std::size_t dim,
                                                const Params& build_params);
// Reads a file written by the module's Index::save. Error naming the file when it is missing,
// corrupt, written by another module or format version, or not a `metric` index of `dim`.
// Search parameters start at their defaults.
using IndexLoader = std::unique_ptr<Index> (*)(const std::string& path, Metric metric,
                                               std::size_t dim);

// One parameter value a module suggests for a purpose (see ModuleInfo::small_data_build).
struct ParamSetting {
  const char* name;
  ParamValue value;
};

struct ModuleInfo {
  std::uint32_t abi_version = kAbiVersion;
  std::uint32_t info_size = sizeof(ModuleInfo);
  const char* name = nullptr;         // unique, used in configs: [a-z0-9_-]+
  const char* description = nullptr;  // one line for `annbench modules`
  std::span<const Metric> metrics;    // metrics the module serves
  std::span<const ParamSpec> build_params;
  std::span<const ParamSpec> search_params;
  // kCapFilter: search parameters only search_filtered reads (e.g. the selectivity below which
  // to scan exactly). They are accepted and resolved only in `mode: filtered` sweeps, so they
  // never rename the runs of other tracks; set_search_params then receives both lists' values.
  std::span<const ParamSpec> filter_search_params;
  std::uint32_t capabilities = 0;
  // For a module that wraps another project's library (a peer): that library and its version,
  // e.g. "hnswlib 0.6.2". Null for annbench's own code. Recorded with every run; the speed gate
  // reports peers but never fails on them, since their code is not ours to regress.
  const char* library = nullptr;
  // Builds nothing yet: returns an index ready for build(). build_params is resolved against
  // build_params specs. Throws annbench::Error on a bad combination of parameters.
  IndexFactory create = nullptr;
  // kCapSaveLoad: reads what Index::save wrote.
  IndexLoader load = nullptr;
  // Settings (beyond the defaults) for a few hundred points of a dozen dimensions: what the
  // conformance suite builds with (e.g. fewer IVF lists than points), and search settings at
  // which such an index should find nearly every true neighbour (recall >= small_data_recall). A
  // new module passes the suite without the suite naming it.
  std::span<const ParamSetting> small_data_build;
  std::span<const ParamSetting> small_data_search;
  // The recall@10 the suite requires at small_data_search: lower it only for a method that
  // cannot do better by design (e.g. sign-bit sketches ranking euclidean data by angle), and
  // say why beside it.
  double small_data_recall = 0.9;
};

// The search parameters a filtered sweep accepts: search_params, then filter_search_params.
inline std::vector<ParamSpec> filtered_search_specs(const ModuleInfo& info) {
  std::vector<ParamSpec> specs(info.search_params.begin(), info.search_params.end());
  specs.insert(specs.end(), info.filter_search_params.begin(), info.filter_search_params.end());
  return specs;
}

}  // namespace annbench

#define ANNBENCH_MODULE_ENTRY_POINT "annbench_module_v1"

#define ANNBENCH_MODULE(info)                                                     \
  extern "C" __attribute__((visibility("default"))) const ::annbench::ModuleInfo* \
  annbench_module_v1() noexcept {                                                 \
    return &(info);                                                               \
  }
