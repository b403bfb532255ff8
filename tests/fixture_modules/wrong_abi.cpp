// Pretends to be built against a future module ABI: the loader must refuse it by version.

#include <annbench/module.h>

namespace {
const annbench::ModuleInfo kInfo = [] {
  annbench::ModuleInfo info;
  info.abi_version = 999;
  info.name = "fixture-wrong-abi";
  return info;
}();
}  // namespace

ANNBENCH_MODULE(kInfo)
