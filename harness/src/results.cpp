#include "result_fields.h"
#include "results.h"

#include <annbench/datasets/hdf5.h>

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <type_traits>
#include <variant>

namespace annbench {

namespace fs = std::filesystem;

namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

// Key: value lines, for .failed files (a failed run has no per-query data worth HDF5).
std::map<std::string, std::string> read_key_values(const fs::path& file) {
  std::ifstream in(file);
  ANNBENCH_CHECK(in.good(), "cannot read '{}'", file.string());
  std::map<std::string, std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(": ");
    if (colon != std::string::npos) values[line.substr(0, colon)] = line.substr(colon + 2);
  }
  return values;
}

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

void write_text_atomically(const fs::path& path, const std::string& text) {
  h5::write_atomically(path, [&](const fs::path& temporary) {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    ANNBENCH_CHECK(out.good(), "cannot write '{}'", temporary.string());
  });
}

}  // namespace

std::string mode_folder(const RunRecord& r) {
  // {} prints the shortest text that reads back as the same double.
  if (r.range_mode()) return fmt::format("range-{}", r.radius.value_or(0.0));
  // Other tracks' runs never share a folder with k-NN runs of the same parameters.
  if (r.mode != "knn" && !r.mode.empty()) return fmt::format("{}-{}", r.mode, r.count);
  return std::to_string(r.count);
}

fs::path run_directory(const fs::path& root, const RunRecord& r) {
  return root / r.dataset / mode_folder(r) / (r.batch_mode ? r.algorithm + "-batch" : r.algorithm);
}

fs::path run_file(const fs::path& root, const RunRecord& r) {
  return run_directory(root, r) / (r.slug + ".hdf5");
}

fs::path failed_file(const fs::path& root, const RunRecord& r) {
  return run_directory(root, r) / (r.slug + ".failed");
}

void write_run(const fs::path& root, const RunRecord& r) {
  const fs::path directory = run_directory(root, r);
  std::error_code error;
  fs::create_directories(directory, error);
  ANNBENCH_CHECK(!error, "cannot create results folder '{}': {}", directory.string(),
                 error.message());
  if (!r.ok) {
    std::string text;
    for (const ResultField& field : result_fields()) {
      if (field.places & kInFailed)
        text += fmt::format("{}: {}\n", field.name, one_line(field_text(field, r)));
    }
    write_text_atomically(failed_file(root, r), text);
    fs::remove(run_file(root, r), error);
    return;
  }
  h5::write_atomically(run_file(root, r), [&](const fs::path& temporary) {
    h5::File file = h5::File::create(temporary);
    // ANN-Benchmarks' attributes that are not fields of their own: its plotting reads them.
    file.set_attribute("expect_extra", false);
    file.set_attribute("name",
                       fmt::format("{}({}, {})", r.algorithm, r.build_params, r.search_params));
    if (r.distcomps) {
      // ANN-Benchmarks divides dist_comps by run_count × queries.
      file.set_attribute("dist_comps", *r.distcomps * r.runs * static_cast<double>(r.queries));
    }
    // big-ann-benchmarks marks range runs with search_type "range".
    file.set_attribute("search_type", r.mode);
    for (const ResultField& field : result_fields()) {
      if ((field.places & kInHdf5) == 0) continue;
      std::visit(
          [&](auto member) {
            if constexpr (!std::is_same_v<decltype(member), std::monostate>) {
              const auto& value = r.*member;
              using V = std::decay_t<decltype(value)>;
              if constexpr (std::is_same_v<V, std::optional<double>>) {
                if (value) file.set_attribute(field.attribute, *value);
              } else if constexpr (std::is_same_v<V, std::string> || std::is_same_v<V, bool> ||
                                   std::is_same_v<V, double>) {
                file.set_attribute(field.attribute, value);
              } else {
                file.set_attribute(field.attribute, static_cast<std::int64_t>(value));
              }
            }
          },
          field.member);
    }
    file.write_floats("times", r.times.data(), r.times.size(), 0);
    for (const auto& [name, values] : r.series)
      file.write_floats(name, values.data(), values.size(), 0);
    if (r.range_mode()) {
      ANNBENCH_CHECK(r.range_lims.size() == r.queries + 1 &&
                         r.range_lims.back() <=
                             static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                     "range run '{}': {} lims for {} queries, or too many results for int32",
                     r.slug, r.range_lims.size(), r.queries);
      const std::vector<std::int32_t> lims(r.range_lims.begin(), r.range_lims.end());
      file.write_ints("lims", lims.data(), lims.size(), 0);
      file.write_ints("neighbors", r.range_ids.data(), r.range_ids.size(), 0);
      file.write_floats("distances", r.range_distances.data(), r.range_distances.size(), 0);
    } else {
      file.write_ints("neighbors", r.neighbors.data(), r.neighbors.rows(), r.neighbors.cols());
      file.write_floats("distances", r.distances.data(), r.distances.rows(), r.distances.cols());
    }
    if (!r.query_rows.empty())
      file.write_ints("query_rows", r.query_rows.data(), r.query_rows.size(), 0);
    file.flush();
  });
  fs::remove(failed_file(root, r), error);
}

RunRecord read_run_summary(const fs::path& path) {
  RunRecord r;
  if (path.extension() == ".failed") {
    const auto values = read_key_values(path);
    for (const ResultField& field : result_fields()) {
      if ((field.places & kInFailed) == 0) continue;
      // Older files name a few fields by their HDF5 attribute (slug).
      auto it = values.find(std::string(field.name));
      if (it == values.end() && !field.attribute.empty())
        it = values.find(std::string(field.attribute));
      if (it != values.end()) set_field_text(field, r, it->second);
    }
    r.ok = false;
    return r;
  }
  h5::File file = h5::File::open_read(path);
  for (const ResultField& field : result_fields()) {
    if ((field.places & kInHdf5) == 0) continue;
    if (field.type == FieldType::Text || field.type == FieldType::Json) {
      set_field_text(field, r, file.string_attribute(field.attribute).value_or(""));
    } else if (const auto value = file.number_attribute(field.attribute)) {
      std::visit(
          [&](auto member) {
            if constexpr (!std::is_same_v<decltype(member), std::monostate>) {
              auto& target = r.*member;
              using V = std::decay_t<decltype(target)>;
              if constexpr (std::is_same_v<V, std::string>) {
                target = fmt::format("{}", *value);
              } else if constexpr (std::is_same_v<V, bool>) {
                target = *value != 0;
              } else if constexpr (std::is_same_v<V, double> ||
                                   std::is_same_v<V, std::optional<double>>) {
                target = *value;
              } else {
                target = static_cast<V>(*value);
              }
            }
          },
          field.member);
    }
  }
  r.ok = true;
  return r;
}

std::string summary_header() {
  std::string header;
  for (const ResultField& field : result_fields()) {
    if ((field.places & kInCsv) == 0) continue;
    if (!header.empty()) header += ',';
    header += field.name;
  }
  return header;
}

std::string summary_row(const RunRecord& r, const fs::path& root) {
  std::string row;
  bool first = true;
  for (const ResultField& field : result_fields()) {
    if ((field.places & kInCsv) == 0) continue;
    std::string text;
    if (field.name == "status") {
      text = r.ok ? "ok" : "failed";
    } else if (field.name == "result_file") {
      text = fs::relative(r.ok ? run_file(root, r) : failed_file(root, r), root).string();
    } else if (r.ok || (field.places & kOutcome) == 0) {
      text = field_text(field, r);
    }
    if (!first) row += ',';
    row += csv_field(text);
    first = false;
  }
  return row;
}

std::vector<RunRecord> read_runs(const fs::path& directory) {
  std::vector<fs::path> files;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(directory, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const auto& path = it->path();
    const std::string name = path.filename().string();
    if (!it->is_regular_file() || name.empty() || name[0] == '.') continue;
    if (path.extension() == ".hdf5" || path.extension() == ".failed") files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  std::vector<RunRecord> records;
  for (const auto& file : files) {
    try {
      records.push_back(read_run_summary(file));
    } catch (const std::exception& failure) {
      fmt::print(stderr, "annbench: skipping unreadable result '{}': {}\n", file.string(),
                 failure.what());
    }
  }
  return records;
}

std::size_t write_summary(const fs::path& root, const std::string& dataset) {
  const std::vector<RunRecord> records = read_runs(root / dataset);
  std::string text = summary_header() + "\n";
  for (const auto& record : records) text += summary_row(record, root) + "\n";
  write_text_atomically(root / dataset / "summary.csv", text);
  write_text_atomically(root / dataset / "summary.schema.json", summary_schema_json());
  return records.size();
}

std::size_t clean_temporary_files(const fs::path& directory) {
  std::size_t removed = 0;
  std::error_code error;
  for (auto it = fs::recursive_directory_iterator(directory, error);
       !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
    const std::string name = it->path().filename().string();
    const auto marker = name.rfind(".tmp-");
    if (!it->is_regular_file() || name.size() < 2 || name[0] != '.' ||
        marker == std::string::npos) {
      continue;
    }
    // A shard running beside us on this machine may be writing it right now: keep files of
    // live processes.
    const pid_t writer = static_cast<pid_t>(std::strtol(name.c_str() + marker + 5, nullptr, 10));
    if (writer > 0 && ::kill(writer, 0) == 0) continue;
    std::error_code ignored;
    if (fs::remove(it->path(), ignored)) ++removed;
  }
  return removed;
}

}  // namespace annbench
