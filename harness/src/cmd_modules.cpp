// annbench modules: what the plugin directories hold, and what each module accepts.

#include "args.h"
#include "commands.h"
#include "plugin_loader.h"

#include <fmt/format.h>

namespace annbench {

namespace {

void print_specs(const char* kind, std::span<const ParamSpec> specs) {
  if (specs.empty()) {
    fmt::print("    {} parameters: none\n", kind);
    return;
  }
  fmt::print("    {} parameters:\n", kind);
  for (const ParamSpec& spec : specs) {
    std::string bounds;
    if (spec.type == ParamType::Int || spec.type == ParamType::Float) {
      if (std::isfinite(spec.min) || std::isfinite(spec.max)) {
        bounds = fmt::format(" in [{}, {}]", spec.min, spec.max);
      }
    }
    fmt::print("      {:<18} {:<6} default {}{}  {}\n", spec.name, param_type_name(spec.type),
               format_param_value(spec.default_value), bounds, spec.help);
  }
}

}  // namespace

int modules_command(const std::vector<std::string>& argv) {
  const Args args(argv, {}, {}, "annbench modules");
  args.expect_positionals(0, 0, "annbench modules");
  const auto directories = default_module_directories();
  const ModuleRegistry registry(directories);
  fmt::print("module directories:");
  for (const auto& directory : directories) fmt::print(" {}", directory.string());
  fmt::print("\n\n");
  for (const auto& module : registry.modules()) {
    const ModuleInfo& info = *module.info;
    std::string metrics;
    for (Metric metric : info.metrics)
      metrics += (metrics.empty() ? "" : ", ") + std::string(metric_name(metric));
    fmt::print("{}  ({})\n    {}\n    metrics: {}\n", info.name, module.path.filename().string(),
               info.description != nullptr ? info.description : "", metrics);
    print_specs("build", info.build_params);
    print_specs("search", info.search_params);
    if (!info.filter_search_params.empty()) {
      print_specs("filtered search", info.filter_search_params);
    }
    fmt::print("\n");
  }
  for (const auto& failure : registry.failures()) {
    fmt::print("could not load {}: {}\n", failure.path.string(), failure.reason);
  }
  return registry.failures().empty() ? 0 : 1;
}

}  // namespace annbench
