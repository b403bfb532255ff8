#include "args.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace annbench {

namespace {
std::string option_list(const std::set<std::string>& valued, const std::set<std::string>& flags) {
  std::string out;
  for (const auto& name : valued) out += (out.empty() ? "--" : ", --") + name + " VALUE";
  for (const auto& name : flags) out += (out.empty() ? "--" : ", --") + name;
  return out.empty() ? "(none)" : out;
}
}  // namespace

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
           const std::set<std::string>& flags, const std::string& command, const std::string& usage)
    : command_(command) {
  for (const auto& arg : argv) {
    if (arg == "--help" || arg == "-h") {
      if (usage.empty()) {
        throw HelpRequested{
            fmt::format("usage: {} [options]\noptions: {}\n", command, option_list(valued, flags))};
      }
      throw HelpRequested{usage.rfind("usage", 0) == 0 ? usage : "usage:\n" + usage};
    }
  }
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 3 || arg.rfind("--", 0) != 0) {
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flags.count(name) != 0) {
      ANNBENCH_CHECK(!inline_value, "{}: option --{} takes no value", command, name);
      flags_.insert(name);
    } else if (valued.count(name) != 0) {
      if (inline_value) {
        values_[name] = *inline_value;
      } else {
        ANNBENCH_CHECK(i + 1 < argv.size(), "{}: option --{} needs a value", command, name);
        values_[name] = argv[++i];
      }
    } else {
      ANNBENCH_FAIL("{}: unknown option --{}; accepted: {}", command, name,
                    option_list(valued, flags));
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::get_or(const std::string& name, const std::string& fallback) const {
  return get(name).value_or(fallback);
}

long long Args::get_int_or(const std::string& name, long long fallback) const {
  auto value = get(name);
  if (!value) return fallback;
  errno = 0;
  char* end = nullptr;
  long long parsed = std::strtoll(value->c_str(), &end, 10);
  ANNBENCH_CHECK(!value->empty() && *end == '\0' && errno == 0,
                 "{}: option --{} expects an integer, got '{}'", command_, name, *value);
  return parsed;
}

double Args::get_float_or(const std::string& name, double fallback) const {
  auto value = get(name);
  if (!value) return fallback;
  char* end = nullptr;
  double parsed = std::strtod(value->c_str(), &end);
  ANNBENCH_CHECK(!value->empty() && *end == '\0', "{}: option --{} expects a number, got '{}'",
                 command_, name, *value);
  return parsed;
}

void Args::expect_positionals(std::size_t min, std::size_t max, const std::string& usage) const {
  ANNBENCH_CHECK(positionals_.size() >= min && positionals_.size() <= max,
                 "{}: expected {}{} argument(s), got {}\nusage: {}", command_, min,
                 max == min ? "" : fmt::format(" to {}", max), positionals_.size(), usage);
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

}  // namespace annbench
