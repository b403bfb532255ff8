// Fuzzes sweep configs: bytes as YAML text → parse_sweep_config, then every algorithm entry's
// build and search nodes expanded against specs of every parameter type. A clean annbench::Error
// is the expected outcome for malformed input; any other exception escapes and is a finding.

#include "config.h"

#include <annbench/error.h>
#include <annbench/params.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace {

const std::array<annbench::ParamSpec, 5> kSpecs = {{
    {"flag", annbench::ParamType::Bool, false, "a bool"},
    {"M", annbench::ParamType::Int, std::int64_t{16}, "an int with bounds", 2, 1024},
    {"seed", annbench::ParamType::Int, std::int64_t{0}, "an unbounded int"},
    {"ratio", annbench::ParamType::Float, 0.5, "a float with bounds", 0.0, 1.0},
    {"metric", annbench::ParamType::String, std::string("l2"), "a string"},
}};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const annbench::SweepConfig config = annbench::parse_sweep_config(text, "fuzz.yaml");
    for (const annbench::AlgorithmEntry& entry : config.algorithms) {
      for (const auto* node : {&entry.build, &entry.search}) {
        try {
          const auto points =
              annbench::expand_parameter_node(*node, kSpecs, entry.module, "build", config.file);
          for (const annbench::Params& point : points) {
            if (point.values().size() != kSpecs.size()) __builtin_trap();
            const std::int64_t m = point.get_int("M");
            const double ratio = point.get_float("ratio");
            if (m < 2 || m > 1024 || !(ratio >= 0.0 && ratio <= 1.0)) __builtin_trap();
          }
        } catch (const annbench::Error&) {
        }
      }
    }
  } catch (const annbench::Error&) {
  }
  return 0;
}
