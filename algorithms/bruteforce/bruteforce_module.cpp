// The bruteforce module's entry point: exact search by full scan (bruteforce_index.h).

#include "bruteforce_index.h"

#include <annbench/module.h>

#include <array>

namespace annbench::bruteforce {
namespace {

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& /*build_params*/) {
  return std::make_unique<BruteForceIndex>(metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleInfo kInfo = {
    .name = kName,
    .description = "exact search by full scan (SIMD block kernel, exact re-ranking)",
    .metrics = kMetrics,
    .build_params = {},
    .search_params = {},
    .capabilities = kCapNativeBatch | kCapRangeSearch | kCapInsert | kCapDelete | kCapSaveLoad |
                    kCapFilter | kCapUint8 | kCapInt8,
    .create = &create,
    .load = &BruteForceIndex::load,
};

}  // namespace
}  // namespace annbench::bruteforce

ANNBENCH_MODULE(annbench::bruteforce::kInfo)
