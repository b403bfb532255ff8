#pragma once
// Inline definitions for params.h (header-only so modules need no harness library).

#include <annbench/params.h>

#include <fmt/format.h>

#include <cmath>

namespace annbench {

inline std::string format_param_value(const ParamValue& value) {
  switch (param_type_of(value)) {
    case ParamType::Bool: return std::get<bool>(value) ? "true" : "false";
    case ParamType::Int: return fmt::format("{}", std::get<std::int64_t>(value));
    case ParamType::Float: return fmt::format("{}", std::get<double>(value));
    case ParamType::String: return std::get<std::string>(value);
  }
  return {};
}

namespace detail {
inline std::string json_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}
}  // namespace detail

inline std::string Params::to_json() const {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : values_) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("\"{}\":", detail::json_escape(key));
    if (param_type_of(value) == ParamType::String) {
      out += fmt::format("\"{}\"", detail::json_escape(std::get<std::string>(value)));
    } else {
      out += format_param_value(value);
    }
  }
  return out + "}";
}

inline std::string accepted_keys(std::span<const ParamSpec> specs) {
  if (specs.empty()) return "(none)";
  std::string out;
  for (const ParamSpec& spec : specs) {
    if (!out.empty()) out += ", ";
    out += spec.name;
  }
  return out;
}

inline Params resolve_params(const Params& given, std::span<const ParamSpec> specs,
                             std::string_view module, std::string_view kind) {
  for (const auto& [key, value] : given.values()) {
    bool known = false;
    for (const ParamSpec& spec : specs) known = known || spec.name == key;
    ANNBENCH_CHECK(known, "module '{}': unknown {} parameter '{}'; accepted: {}", module, kind, key,
                   accepted_keys(specs));
  }
  Params resolved;
  for (const ParamSpec& spec : specs) {
    ParamValue value = spec.default_value;
    if (auto it = given.values().find(spec.name); it != given.values().end()) value = it->second;
    ParamType type = param_type_of(value);
    if (spec.type == ParamType::Float && type == ParamType::Int) {
      value = static_cast<double>(std::get<std::int64_t>(value));
      type = ParamType::Float;
    }
    ANNBENCH_CHECK(type == spec.type, "module '{}': {} parameter '{}' expects a {}, got {} '{}'",
                   module, kind, spec.name, param_type_name(spec.type), param_type_name(type),
                   format_param_value(value));
    if (type == ParamType::Int || type == ParamType::Float) {
      const double number = type == ParamType::Int
                                ? static_cast<double>(std::get<std::int64_t>(value))
                                : std::get<double>(value);
      ANNBENCH_CHECK(std::isfinite(number) || type == ParamType::Int,
                     "module '{}': {} parameter '{}' must be finite, got {}", module, kind,
                     spec.name, number);
      ANNBENCH_CHECK(number >= spec.min && number <= spec.max,
                     "module '{}': {} parameter '{}' = {} is outside [{}, {}]", module, kind,
                     spec.name, format_param_value(value), spec.min, spec.max);
    }
    resolved.set(spec.name, std::move(value));
  }
  return resolved;
}

}  // namespace annbench
