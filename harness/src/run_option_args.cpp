#include "args.h"
#include "isolation.h"
#include "run_option_args.h"

#include <annbench/error.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <set>

namespace annbench {

const char* const kForwardedRunOptionsUsage =
    R"(  --dataset NAME|PATH, --queries N, --k K[,K...], --runs N, --algorithm NAME (repeatable),
  --batch, --threads N, --timeout SECONDS, --memory-limit SIZE: as for `annbench run`
)";

namespace {

const std::set<std::string> kValued = {"dataset",   "queries", "k",       "runs",
                                       "algorithm", "threads", "timeout", "memory-limit"};
const std::set<std::string> kPlanChanging = {"dataset", "queries", "k", "algorithm", "batch"};

long long positive_integer(const std::string& text, const std::string& what) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  ANNBENCH_CHECK(!text.empty() && *end == '\0' && errno == 0 && value >= 1,
                 "{} expects a positive integer, got '{}'", what, text);
  return value;
}

// Checks one option's value and records it in `options`.
void apply(const std::string& name, const std::string& value, RunOptions& options,
           const std::string& command) {
  const std::string what = fmt::format("{}: --{}", command, name);
  if (name == "dataset") {
    ANNBENCH_CHECK(!value.empty(), "{} needs a dataset name or file", what);
    options.dataset = value;
  } else if (name == "queries") {
    options.queries = static_cast<std::size_t>(positive_integer(value, what));
  } else if (name == "k") {
    std::vector<std::size_t> counts;
    for (const auto& part : split_commas(value))
      counts.push_back(static_cast<std::size_t>(positive_integer(part, what)));
    ANNBENCH_CHECK(!counts.empty(), "{} needs at least one value", what);
    options.counts = counts;
  } else if (name == "runs") {
    options.runs = static_cast<int>(positive_integer(value, what));
  } else if (name == "algorithm") {
    for (auto& part : split_commas(value)) options.algorithms.push_back(part);
  } else if (name == "threads") {
    options.threads = static_cast<int>(positive_integer(value, what));
  } else if (name == "timeout") {
    char* end = nullptr;
    const double seconds = std::strtod(value.c_str(), &end);
    ANNBENCH_CHECK(!value.empty() && *end == '\0' && seconds >= 0,
                   "{} expects seconds >= 0, got '{}'", what, value);
    options.limits.timeout_s = seconds;
  } else if (name == "memory-limit") {
    options.limits.memory_limit_bytes = parse_bytes(value);
  }
}

}  // namespace

ForwardedRunOptions take_run_options(std::vector<std::string>& argv, const std::string& command) {
  ForwardedRunOptions forwarded;
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.rfind("--", 0) != 0 || arg.size() < 3) {
      rest.push_back(arg);
      continue;
    }
    const auto eq = arg.find('=');
    const std::string name = arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::vector<std::string> tokens{arg};
    if (name == "batch") {
      ANNBENCH_CHECK(eq == std::string::npos, "{}: --batch takes no value, got '{}'", command, arg);
      forwarded.options.batch = true;
    } else if (kValued.count(name) != 0) {
      std::string value;
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
      } else {
        ANNBENCH_CHECK(i + 1 < argv.size(), "{}: --{} needs a value", command, name);
        value = argv[++i];
        tokens.push_back(value);
      }
      apply(name, value, forwarded.options, command);
    } else {
      rest.push_back(arg);
      continue;
    }
    forwarded.all.insert(forwarded.all.end(), tokens.begin(), tokens.end());
    if (kPlanChanging.count(name) != 0)
      forwarded.plan.insert(forwarded.plan.end(), tokens.begin(), tokens.end());
  }
  argv = std::move(rest);
  return forwarded;
}

}  // namespace annbench
