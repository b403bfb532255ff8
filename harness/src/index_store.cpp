#include "index_store.h"

#include <annbench/common/checksum.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <fstream>

namespace annbench {
namespace {

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

SavedIndex saved_index_path(const std::filesystem::path& dir, const RunRecord& run,
                            std::size_t dim) {
  const std::string identity = fmt::format("{}\n{}\n{}\n{}\n{}", run.module, run.build_params,
                                           run.distance, dim, run.dataset_sha256);
  Fnv1a64 hash;
  hash.update(identity.data(), identity.size());
  const std::string key = fmt::format("{:016x}", hash.finish());
  const auto folder = dir / run.dataset / run.algorithm;
  return {folder / (key + ".annidx"), folder / (key + ".json")};
}

std::optional<double> saved_build_seconds(const SavedIndex& saved, const RunRecord& run) {
  if (!std::filesystem::exists(saved.file) || !std::filesystem::exists(saved.sidecar)) {
    return std::nullopt;
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(saved.sidecar.string());
  } catch (const YAML::Exception& error) {
    ANNBENCH_FAIL("saved index description '{}' is not valid JSON: {}", saved.sidecar.string(),
                  error.what());
  }
  const auto text = [&](const char* key) {
    ANNBENCH_CHECK(root.IsMap() && root[key] && root[key].IsScalar(),
                   "saved index description '{}' has no '{}'", saved.sidecar.string(), key);
    return root[key].as<std::string>();
  };
  ANNBENCH_CHECK(text("module") == run.module && text("build_params") == run.build_params &&
                     text("dataset_sha256") == run.dataset_sha256,
                 "saved index '{}' was built by {} {} on dataset {} (sha256 {}), not by this "
                 "run's {} {}: remove it or use another --load-index folder",
                 saved.file.string(), text("module"), text("build_params"), text("dataset"),
                 text("dataset_sha256"), run.module, run.build_params);
  double build_s = 0;
  try {
    build_s = root["build_s"].as<double>();
  } catch (const YAML::Exception&) {
    ANNBENCH_FAIL("saved index description '{}': build_s is not a number", saved.sidecar.string());
  }
  ANNBENCH_CHECK(std::isfinite(build_s) && build_s >= 0,
                 "saved index description '{}': build_s {} is not a duration",
                 saved.sidecar.string(), build_s);
  return build_s;
}

void write_saved_index_sidecar(const SavedIndex& saved, const RunRecord& run, double build_s) {
  const auto temporary = saved.sidecar.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    ANNBENCH_CHECK(out.good(), "cannot write '{}'", temporary);
    out << fmt::format(
        "{{\n  \"module\": {},\n  \"algorithm\": {},\n  \"build_params\": {},\n"
        "  \"dataset\": {},\n  \"dataset_sha256\": {},\n  \"distance\": {},\n"
        "  \"build_s\": {},\n  \"git_commit\": {},\n  \"cpu\": {}\n}}\n",
        json_string(run.module), json_string(run.algorithm), json_string(run.build_params),
        json_string(run.dataset), json_string(run.dataset_sha256), json_string(run.distance),
        build_s, json_string(run.git_commit), json_string(run.cpu));
    ANNBENCH_CHECK(out.good(), "cannot write '{}' (disk full?)", temporary);
  }
  std::filesystem::rename(temporary, saved.sidecar);
}

}  // namespace annbench
