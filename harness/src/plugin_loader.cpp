#include "plugin_loader.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace annbench {

namespace {

// Module directories relative to the folder above the binary's bin/.
constexpr const char* kInstalledModuleDir = "lib/annbench/modules";
constexpr const char* kBuildModuleDir = "modules";

bool valid_module_name(const char* name) {
  if (name == nullptr || *name == '\0') return false;
  for (const char* c = name; *c != '\0'; ++c) {
    const bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

ModuleRegistry::ModuleRegistry(const std::vector<std::filesystem::path>& directories) {
  for (const auto& directory : directories) {
    std::error_code error;
    if (!std::filesystem::is_directory(directory, error)) continue;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
      const std::string file_name = entry.path().filename().string();
      if (entry.is_regular_file() && file_name.rfind("lib", 0) == 0 &&
          entry.path().extension() == ".so") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) load_file(file);
  }
}

void ModuleRegistry::load_file(const std::filesystem::path& path) {
  // RTLD_LOCAL: two modules may carry their own copies of the same helper symbols.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* reason = dlerror();
    failures_.push_back({path, reason != nullptr ? reason : "dlopen failed"});
    return;
  }
  using EntryPoint = const ModuleInfo* (*)();
  auto entry = reinterpret_cast<EntryPoint>(dlsym(handle, ANNBENCH_MODULE_ENTRY_POINT));
  if (entry == nullptr) {
    failures_.push_back({path, "no " ANNBENCH_MODULE_ENTRY_POINT "() entry point (not an annbench "
                               "module, or built against another API version)"});
    dlclose(handle);
    return;
  }
  const ModuleInfo* info = entry();
  if (info == nullptr) {
    failures_.push_back({path, ANNBENCH_MODULE_ENTRY_POINT "() returned null"});
    return;
  }
  if (info->abi_version != kAbiVersion || info->info_size != sizeof(ModuleInfo)) {
    failures_.push_back(
        {path, fmt::format("built against annbench module ABI {} (info size {}); this harness "
                           "speaks ABI {} (info size {}): rebuild the module",
                           info->abi_version, info->info_size, kAbiVersion, sizeof(ModuleInfo))});
    return;
  }
  if (!valid_module_name(info->name) || info->create == nullptr) {
    failures_.push_back({path,
                         "module info has an invalid name (allowed: a-z 0-9 - _) or no "
                         "factory"});
    return;
  }
  if ((info->capabilities & kCapSaveLoad) != 0 && info->load == nullptr) {
    failures_.push_back({path, fmt::format("module '{}' declares kCapSaveLoad but has no load "
                                           "function in its ModuleInfo",
                                           info->name)});
    return;
  }
  for (const auto& existing : modules_) {
    if (std::string_view(existing.info->name) == info->name) {
      failures_.push_back({path, fmt::format("module name '{}' already loaded from {}", info->name,
                                             existing.path.string())});
      return;
    }
  }
  modules_.push_back({info, path});
}

const LoadedModule& ModuleRegistry::get(const std::string& name) const {
  for (const auto& module : modules_) {
    if (name == module.info->name) return module;
  }
  std::ostringstream message;
  message << "unknown module '" << name << "'; available: ";
  for (std::size_t i = 0; i < modules_.size(); ++i) {
    message << (i ? ", " : "") << modules_[i].info->name;
  }
  if (modules_.empty()) message << "(none found: is ANNBENCH_PLUGIN_PATH right?)";
  for (const auto& failure : failures_) {
    message << "\n  could not load " << failure.path.string() << ": " << failure.reason;
  }
  throw Error(message.str());
}

std::vector<std::filesystem::path> default_module_directories() {
  // Found from the binary's own location, so that an installed or copied tree uses its own
  // modules: <prefix>/bin/annbench with <prefix>/lib/annbench/modules (installed), or
  // <build>/bin/annbench with <build>/modules (a build tree). Only the first layout found is
  // used: scanning two copies of the same modules would load every name twice. The directory
  // this build wrote its modules to serves a binary moved away from both layouts.
  std::vector<std::filesystem::path> directories;
  std::error_code error;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const auto root = exe.parent_path().parent_path();
    for (const auto& relative : {kInstalledModuleDir, kBuildModuleDir}) {
      const auto candidate = root / relative;
      if (std::filesystem::is_directory(candidate, error)) {
        directories.push_back(candidate);
        break;
      }
    }
  }
  if (directories.empty()) directories.emplace_back(ANNBENCH_DEFAULT_MODULE_DIR);
  if (const char* extra = std::getenv("ANNBENCH_PLUGIN_PATH")) {
    std::stringstream list(extra);
    std::string entry;
    while (std::getline(list, entry, ':')) {
      if (!entry.empty()) directories.emplace_back(entry);
    }
  }
  return directories;
}

}  // namespace annbench
