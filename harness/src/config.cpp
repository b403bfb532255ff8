#include "config.h"
#include "track.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace annbench {

namespace {

std::string where(const std::filesystem::path& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return file.string();
  return fmt::format("{}:{}:{}", file.string(), mark.line + 1, mark.column + 1);
}

std::string scalar_text(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar()
                         : std::string("(a ") + (node.IsMap() ? "map" : "list") + ")";
}

// Map keys must be scalars: `{[a, b]: 1}` is valid YAML, but as<std::string>() on it would throw
// yaml-cpp's own exception instead of an annbench::Error.
std::string key_text(const YAML::Node& key, const std::filesystem::path& file) {
  ANNBENCH_CHECK(key.IsScalar(), "{}: a key must be a plain name, got {}", where(file, key),
                 scalar_text(key));
  return key.Scalar();
}

// A product of lists grows fast (and YAML aliases repeat a list for a few bytes); a sweep this
// large is a typo, and expanding it would exhaust memory before anything ran.
constexpr std::size_t kMaxPoints = 100000;

template <typename T>
T decode(const YAML::Node& node, const std::filesystem::path& file, const std::string& key,
         const char* expected) {
  try {
    if (node.IsScalar()) return node.as<T>();
  } catch (const YAML::Exception&) {
  }
  ANNBENCH_FAIL("{}: {} expects {}, got '{}'", where(file, node), key, expected, scalar_text(node));
}

// A scalar or a list of scalars, as a list.
std::vector<YAML::Node> as_list(const YAML::Node& node) {
  std::vector<YAML::Node> items;
  if (node.IsSequence()) {
    for (const auto& item : node) items.push_back(item);
  } else {
    items.push_back(node);
  }
  return items;
}

ParamValue decode_param(const YAML::Node& node, const ParamSpec& spec, const std::string& module,
                        const std::string& kind, const std::filesystem::path& file) {
  const std::string key = fmt::format("{} {} parameter '{}'", module, kind, spec.name);
  switch (spec.type) {
    case ParamType::Bool: return decode<bool>(node, file, key, "true or false");
    case ParamType::Int: return decode<std::int64_t>(node, file, key, "an integer");
    case ParamType::Float: return decode<double>(node, file, key, "a number");
    case ParamType::String: return decode<std::string>(node, file, key, "a string");
  }
  return {};
}

std::vector<Params> expand_map(const YAML::Node& map, std::span<const ParamSpec> specs,
                               const std::string& module, const std::string& kind,
                               const std::filesystem::path& file) {
  ANNBENCH_CHECK(map.IsMap(), "{}: {} {} parameters must be a map of key: value or key: [values]",
                 where(file, map), module, kind);
  std::vector<Params> points{Params{}};
  // Sorted keys make the expansion order (and so run order) independent of YAML formatting.
  std::map<std::string, YAML::Node> keyed;
  for (const auto& item : map) keyed[key_text(item.first, file)] = item.second;
  for (const auto& [key, values] : keyed) {
    const ParamSpec* spec = nullptr;
    for (const ParamSpec& candidate : specs) {
      if (candidate.name == key) spec = &candidate;
    }
    ANNBENCH_CHECK(spec != nullptr, "{}: module '{}': unknown {} parameter '{}'; accepted: {}",
                   where(file, values), module, kind, key, accepted_keys(specs));
    const auto list = as_list(values);
    ANNBENCH_CHECK(!list.empty(), "{}: {} {} parameter '{}' has an empty list", where(file, values),
                   module, kind, key);
    ANNBENCH_CHECK(points.size() * list.size() <= kMaxPoints,
                   "{}: {} {} parameters expand to more than {} points", where(file, values),
                   module, kind, kMaxPoints);
    std::vector<Params> next;
    for (const Params& point : points) {
      for (const auto& value : list) {
        Params extended = point;
        extended.set(key, decode_param(value, *spec, module, kind, file));
        next.push_back(std::move(extended));
      }
    }
    points = std::move(next);
  }
  std::vector<Params> resolved;
  for (const Params& point : points) {
    try {
      resolved.push_back(resolve_params(point, specs, module, kind));
    } catch (const Error& error) {
      throw Error(fmt::format("{}: {}", where(file, map), error.what()));
    }
  }
  return resolved;
}

// A list of positive integers (ranks) for `shards` / `probe_shards`, deduplicated and ascending.
std::vector<int> rank_counts(const YAML::Node& node, const std::filesystem::path& file,
                             const char* key) {
  std::vector<int> counts;
  for (const auto& item : as_list(node)) {
    const auto count =
        decode<std::int64_t>(item, file, fmt::format("'{}'", key), "a positive integer");
    ANNBENCH_CHECK(count >= 1 && count <= 1024, "{}: '{}' must be in 1..1024, got {}",
                   where(file, item), key, count);
    counts.push_back(static_cast<int>(count));
  }
  ANNBENCH_CHECK(!counts.empty(), "{}: '{}' is empty", where(file, node), key);
  std::sort(counts.begin(), counts.end());
  counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
  return counts;
}

void parse_sharding(const YAML::Node& root, const std::filesystem::path& file,
                    SweepConfig& config) {
  for (const char* key : {"shards", "partition", "probe_shards"}) {
    if (root[key]) {
      ANNBENCH_CHECK(config.mode == "sharded", "{}: '{}' applies to mode: sharded only",
                     where(file, root[key]), key);
    }
  }
  ShardingConfig& sharding = config.sharding;
  if (root["shards"]) sharding.shards = rank_counts(root["shards"], file, "shards");
  if (root["partition"]) {
    sharding.partition =
        decode<std::string>(root["partition"], file, "'partition'", "contiguous or kmeans");
    ANNBENCH_CHECK(sharding.partition == "contiguous" || sharding.partition == "kmeans",
                   "{}: 'partition' must be contiguous or kmeans, got '{}'",
                   where(file, root["partition"]), sharding.partition);
  }
  if (root["probe_shards"]) {
    ANNBENCH_CHECK(sharding.partition == "kmeans",
                   "{}: 'probe_shards' needs partition: kmeans (a contiguous partition has no "
                   "shard a query could skip)",
                   where(file, root["probe_shards"]));
    sharding.probe_shards = rank_counts(root["probe_shards"], file, "probe_shards");
  }
}

}  // namespace

std::vector<Params> expand_parameter_node(const YAML::Node& node, std::span<const ParamSpec> specs,
                                          const std::string& module, const std::string& kind,
                                          const std::filesystem::path& file) {
  if (!node || node.IsNull())
    return expand_map(YAML::Node(YAML::NodeType::Map), specs, module, kind, file);
  if (!node.IsSequence()) return expand_map(node, specs, module, kind, file);
  std::vector<Params> all;
  for (const auto& group : node) {
    auto points = expand_map(group, specs, module, kind, file);
    ANNBENCH_CHECK(all.size() + points.size() <= kMaxPoints,
                   "{}: {} {} parameter groups expand to more than {} points", where(file, node),
                   module, kind, kMaxPoints);
    all.insert(all.end(), points.begin(), points.end());
  }
  ANNBENCH_CHECK(!all.empty(), "{}: {} {} parameter groups are an empty list", where(file, node),
                 module, kind);
  return all;
}

SweepConfig parse_sweep_config(const std::string& yaml_text, const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root.reset(YAML::Load(yaml_text));
  } catch (const YAML::ParserException& error) {
    ANNBENCH_FAIL("{}:{}:{}: YAML syntax error: {}", file.string(), error.mark.line + 1,
                  error.mark.column + 1, error.msg);
  }
  ANNBENCH_CHECK(root.IsMap(),
                 "{}: a sweep config must be a YAML map (datasets, k, algorithms, ...)",
                 file.string());
  SweepConfig config;
  config.file = file;
  static const std::set<std::string> kKeys = {
      "datasets",   "k",           "runs",        "queries", "single",  "batch",    "threads",
      "algorithms", "description", "mode",        "runbook", "clients", "duration", "selectivities",
      "shards",     "partition",   "probe_shards"};
  for (const auto& item : root) {
    const auto key = key_text(item.first, file);
    ANNBENCH_CHECK(kKeys.count(key) != 0,
                   "{}: unknown key '{}'; accepted: datasets, mode, runbook, clients, duration, "
                   "selectivities, shards, partition, probe_shards, k, "
                   "runs, queries, single, batch, threads, algorithms, description",
                   where(file, item.first), key);
  }
  ANNBENCH_CHECK(root["datasets"], "{}: missing key 'datasets' (a dataset name, path, or list)",
                 file.string());
  for (const auto& node : as_list(root["datasets"])) {
    config.datasets.push_back(
        decode<std::string>(node, file, "'datasets'", "a dataset name or path"));
  }
  if (root["mode"]) {
    const auto names = track_names();
    std::string known;
    for (std::size_t t = 0; t < names.size(); ++t) {
      known += (t == 0 ? "" : t + 1 == names.size() ? " or " : ", ") + std::string(names[t]);
    }
    config.mode = decode<std::string>(root["mode"], file, "'mode'", known.c_str());
    ANNBENCH_CHECK(std::find(names.begin(), names.end(), config.mode) != names.end(),
                   "{}: 'mode' must be {}, got '{}'", where(file, root["mode"]), known,
                   config.mode);
  }
  if (root["k"]) {
    ANNBENCH_CHECK(config.mode != "range",
                   "{}: 'k' does not apply to mode: range (the radius comes from the dataset's "
                   "range ground truth)",
                   where(file, root["k"]));
    config.counts.clear();
    for (const auto& node : as_list(root["k"])) {
      const auto k = decode<std::int64_t>(node, file, "'k'", "a positive integer");
      ANNBENCH_CHECK(k > 0, "{}: 'k' must be positive, got {}", where(file, node), k);
      config.counts.push_back(static_cast<std::size_t>(k));
    }
  }
  if (root["runs"]) {
    config.runs =
        static_cast<int>(decode<std::int64_t>(root["runs"], file, "'runs'", "an integer"));
    ANNBENCH_CHECK(config.runs >= 1, "{}: 'runs' must be at least 1", where(file, root["runs"]));
  }
  if (root["runbook"]) {
    config.runbook = decode<std::string>(root["runbook"], file, "'runbook'", "a runbook file");
    ANNBENCH_CHECK(config.mode == "streaming", "{}: 'runbook' applies to mode: streaming only",
                   where(file, root["runbook"]));
  }
  ANNBENCH_CHECK(config.mode != "streaming" || !config.runbook.empty(),
                 "{}: mode: streaming needs 'runbook: FILE' (big-ann-benchmarks' runbook layout; "
                 "`annbench runbook make` writes one)",
                 file.string());
  if (root["clients"]) {
    ANNBENCH_CHECK(config.mode == "concurrent", "{}: 'clients' applies to mode: concurrent only",
                   where(file, root["clients"]));
    config.clients.clear();
    for (const auto& node : as_list(root["clients"])) {
      const auto clients = decode<std::int64_t>(node, file, "'clients'", "a positive integer");
      ANNBENCH_CHECK(clients >= 1 && clients <= 1024, "{}: 'clients' must be in 1..1024, got {}",
                     where(file, node), clients);
      config.clients.push_back(static_cast<int>(clients));
    }
  }
  if (root["duration"]) {
    ANNBENCH_CHECK(config.mode == "concurrent", "{}: 'duration' applies to mode: concurrent only",
                   where(file, root["duration"]));
    config.duration = decode<double>(root["duration"], file, "'duration'", "seconds");
    ANNBENCH_CHECK(config.duration > 0 && config.duration <= 3600,
                   "{}: 'duration' must be in (0, 3600] seconds, got {}",
                   where(file, root["duration"]), config.duration);
  }
  if (root["selectivities"]) {
    ANNBENCH_CHECK(config.mode == "filtered", "{}: 'selectivities' applies to mode: filtered only",
                   where(file, root["selectivities"]));
    config.selectivities.clear();
    for (const auto& node : as_list(root["selectivities"])) {
      const auto band = decode<double>(node, file, "'selectivities'", "a fraction in (0, 1]");
      ANNBENCH_CHECK(band > 0 && band <= 1, "{}: 'selectivities' must be in (0, 1], got {}",
                     where(file, node), band);
      config.selectivities.push_back(band);
    }
    ANNBENCH_CHECK(!config.selectivities.empty(), "{}: 'selectivities' is empty",
                   where(file, root["selectivities"]));
    std::sort(config.selectivities.begin(), config.selectivities.end());
    config.selectivities.erase(
        std::unique(config.selectivities.begin(), config.selectivities.end()),
        config.selectivities.end());
  }
  parse_sharding(root, file, config);
  if (root["queries"]) {
    const auto queries = decode<std::int64_t>(root["queries"], file, "'queries'", "an integer");
    ANNBENCH_CHECK(queries >= 0, "{}: 'queries' must be >= 0 (0 = all)",
                   where(file, root["queries"]));
    config.queries = static_cast<std::size_t>(queries);
  }
  if (root["single"])
    config.single = decode<bool>(root["single"], file, "'single'", "true or false");
  if (root["batch"]) config.batch = decode<bool>(root["batch"], file, "'batch'", "true or false");
  if (root["threads"]) {
    config.threads =
        static_cast<int>(decode<std::int64_t>(root["threads"], file, "'threads'", "an integer"));
    ANNBENCH_CHECK(config.threads >= 0, "{}: 'threads' must be >= 0 (0 = all cores)",
                   where(file, root["threads"]));
  }
  const YAML::Node algorithms = root["algorithms"];
  ANNBENCH_CHECK(algorithms && algorithms.IsSequence() && algorithms.size() > 0,
                 "{}: 'algorithms' must be a non-empty list of entries like '- module: bruteforce'",
                 algorithms ? where(file, algorithms) : file.string());
  for (const auto& node : algorithms) {
    ANNBENCH_CHECK(node.IsMap(), "{}: an algorithm entry must be a map with 'module'",
                   where(file, node));
    for (const auto& item : node) {
      const auto key = key_text(item.first, file);
      ANNBENCH_CHECK(key == "module" || key == "name" || key == "build" || key == "search" ||
                         key == "pca" || key == "random_projection",
                     "{}: unknown key '{}' in algorithm entry; accepted: module, name, build, "
                     "search, pca, random_projection",
                     where(file, item.first), key);
    }
    ANNBENCH_CHECK(!(node["pca"] && node["random_projection"]),
                   "{}: an algorithm entry takes one of 'pca' and 'random_projection', not both",
                   where(file, node));
    ANNBENCH_CHECK(node["module"], "{}: algorithm entry without 'module'", where(file, node));
    AlgorithmEntry entry;
    entry.module = decode<std::string>(node["module"], file, "'module'", "a module name");
    entry.name =
        node["name"] ? decode<std::string>(node["name"], file, "'name'", "a name") : entry.module;
    ANNBENCH_CHECK(!entry.name.empty() && entry.name.find('/') == std::string::npos,
                   "{}: algorithm name '{}' must be non-empty and contain no '/'",
                   where(file, node), entry.name);
    // Node's operator= assigns content (and throws on a missing key): rebind with reset().
    if (node["build"]) entry.build.reset(node["build"]);
    if (node["search"]) entry.search.reset(node["search"]);
    entry.has_transform = node["pca"] || node["random_projection"];
    if (node["pca"]) entry.transform.reset(node["pca"]);
    if (node["random_projection"]) {
      entry.transform.reset(node["random_projection"]);
      entry.transform_kind = TransformSpec::Kind::RandomProjection;
    }
    entry.line = node.Mark().line + 1;
    config.algorithms.push_back(std::move(entry));
  }
  return config;
}

SweepConfig load_sweep_config(const std::filesystem::path& file) {
  std::ifstream in(file);
  ANNBENCH_CHECK(in.good(), "cannot read config '{}'", file.string());
  std::stringstream text;
  text << in.rdbuf();
  return parse_sweep_config(text.str(), file);
}

std::vector<BuildPoint> expand_sweep(const SweepConfig& config, const ModuleRegistry& registry) {
  std::vector<BuildPoint> points;
  for (const auto& entry : config.algorithms) {
    const LoadedModule* module = nullptr;
    try {
      module = &registry.get(entry.module);
    } catch (const Error& error) {
      throw Error(fmt::format("{}:{}: {}", config.file.string(), entry.line, error.what()));
    }
    const ModuleInfo& info = *module->info;
    auto builds =
        expand_parameter_node(entry.build, info.build_params, entry.module, "build", config.file);
    // Filtered sweeps also accept the module's filter-only search parameters.
    const std::vector<ParamSpec> search_specs =
        config.mode == "filtered"
            ? filtered_search_specs(info)
            : std::vector<ParamSpec>(info.search_params.begin(), info.search_params.end());
    auto searches =
        expand_parameter_node(entry.search, search_specs, entry.module, "search", config.file);
    std::vector<std::optional<TransformSpec>> transforms{std::nullopt};
    if (entry.has_transform) {
      transforms.clear();
      const auto kind = entry.transform_kind;
      const std::string stage = kind == TransformSpec::Kind::Pca ? "pca" : "random_projection";
      for (const Params& params : expand_parameter_node(
               entry.transform, transform_param_specs(kind), stage, "stage", config.file)) {
        try {
          transforms.emplace_back(transform_from_params(kind, params));
        } catch (const Error& error) {
          throw Error(fmt::format("{}: {}", where(config.file, entry.transform), error.what()));
        }
      }
    }
    ANNBENCH_CHECK(builds.size() * transforms.size() * searches.size() <= kMaxPoints,
                   "{}:{}: {} build x {} search points is more than {} runs per dataset",
                   config.file.string(), entry.line, builds.size() * transforms.size(),
                   searches.size(), kMaxPoints);
    for (const auto& transform : transforms) {
      for (const auto& build : builds) {
        points.push_back({entry.name, module, build, searches, transform});
      }
    }
  }
  return points;
}

Params BuildPoint::recorded_build() const {
  Params recorded = build;
  if (transform) transform->add_to(recorded);
  return recorded;
}

}  // namespace annbench
