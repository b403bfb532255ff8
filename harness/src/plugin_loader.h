#pragma once
// Finds and loads algorithm modules: every lib*.so in the plugin directories, each exporting
// annbench_module_v1() (see annbench/module.h).

#include <annbench/module.h>

#include <filesystem>
#include <string>
#include <vector>

namespace annbench {

struct LoadedModule {
  const ModuleInfo* info = nullptr;
  std::filesystem::path path;
};

// A file that looked like a module but could not be loaded, with the reason.
struct ModuleLoadFailure {
  std::filesystem::path path;
  std::string reason;
};

class ModuleRegistry {
 public:
  // Scans `directories` in order; a name found twice keeps the first (later ones are reported
  // as failures naming both paths). Handles stay open for the process lifetime, since indexes
  // and their vtables live in the modules.
  explicit ModuleRegistry(const std::vector<std::filesystem::path>& directories);

  // Error naming the module and listing what was found (and what failed to load, with reasons).
  const LoadedModule& get(const std::string& name) const;
  const std::vector<LoadedModule>& modules() const { return modules_; }
  const std::vector<ModuleLoadFailure>& failures() const { return failures_; }

 private:
  void load_file(const std::filesystem::path& path);

  std::vector<LoadedModule> modules_;
  std::vector<ModuleLoadFailure> failures_;
};

// The modules beside the binary (../lib/annbench/modules when installed, ../modules in a build
// tree; the build's own module directory when neither exists), then each entry of
// ANNBENCH_PLUGIN_PATH (colon-separated).
std::vector<std::filesystem::path> default_module_directories();

}  // namespace annbench
