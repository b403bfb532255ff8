#pragma once
// Typed parameters. A module declares the keys it accepts (ParamSpec); the harness decodes the
// YAML config against those specs once, so a module only ever sees a complete, well-typed Params
// (every declared key present, defaults filled in, numeric bounds checked).

#include <annbench/error.h>

#include <cstdint>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace annbench {

enum class ParamType { Bool, Int, Float, String };

using ParamValue = std::variant<bool, std::int64_t, double, std::string>;

constexpr std::string_view param_type_name(ParamType type) {
  switch (type) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
  }
  return "unknown";
}

inline ParamType param_type_of(const ParamValue& value) {
  return static_cast<ParamType>(value.index());
}

std::string format_param_value(const ParamValue& value);

struct ParamSpec {
  std::string name;
  ParamType type;
  ParamValue default_value;
  std::string help;
  // Inclusive bounds for Int and Float parameters.
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
};

class Params {
 public:
  void set(std::string key, ParamValue value) { values_[std::move(key)] = std::move(value); }
  bool contains(std::string_view key) const { return values_.find(key) != values_.end(); }
  bool empty() const { return values_.empty(); }
  const std::map<std::string, ParamValue, std::less<>>& values() const { return values_; }

  bool get_bool(std::string_view key) const { return get<bool>(key, ParamType::Bool); }
  std::int64_t get_int(std::string_view key) const {
    return get<std::int64_t>(key, ParamType::Int);
  }
  double get_float(std::string_view key) const {
    const ParamValue& value = at(key);
    if (const auto* i = std::get_if<std::int64_t>(&value)) return static_cast<double>(*i);
    return get<double>(key, ParamType::Float);
  }
  const std::string& get_string(std::string_view key) const {
    return get<std::string>(key, ParamType::String);
  }

  // Compact JSON object with keys in sorted order, e.g. {"M":16,"ef_construction":200}.
  std::string to_json() const;

 private:
  const ParamValue& at(std::string_view key) const {
    auto it = values_.find(key);
    ANNBENCH_CHECK(it != values_.end(), "parameter '{}' is not set", key);
    return it->second;
  }
  template <typename T>
  const T& get(std::string_view key, ParamType expected) const {
    const ParamValue& value = at(key);
    const T* typed = std::get_if<T>(&value);
    ANNBENCH_CHECK(typed != nullptr, "parameter '{}' is a {}, not a {}", key,
                   param_type_name(param_type_of(value)), param_type_name(expected));
    return *typed;
  }

  std::map<std::string, ParamValue, std::less<>> values_;
};

// Checks `given` against `specs`: an unknown key, a wrong type or an out-of-bounds value is an
// Error naming the module, the kind ("build"/"search"), the key and the accepted keys. Returns
// the complete set with defaults filled in. An Int given for a Float parameter is widened.
Params resolve_params(const Params& given, std::span<const ParamSpec> specs,
                      std::string_view module, std::string_view kind);

// "M, ef_construction, seed" — for error messages and `annbench modules`.
std::string accepted_keys(std::span<const ParamSpec> specs);

}  // namespace annbench

#include <annbench/params_impl.h>
