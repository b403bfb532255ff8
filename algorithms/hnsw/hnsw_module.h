#pragma once
// The hnsw module's ModuleInfo, for code linked with the module's sources (its tests), which
// then reach HnswIndex directly instead of through the plugin loader.

#include <annbench/module.h>

namespace annbench::hnsw {

const ModuleInfo& module_info();

}  // namespace annbench::hnsw
