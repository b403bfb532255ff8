#pragma once
// The annoy module's ModuleInfo, for code linked with the module's sources (its tests), which
// then reach AnnoyIndex directly instead of through the plugin loader.

#include <annbench/module.h>

namespace annbench::annoy {

const ModuleInfo& module_info();

}  // namespace annbench::annoy
