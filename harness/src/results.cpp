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

std::string number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return fmt::format("{:.6g}", value);
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

fs::path run_directory(const fs::path& root, const std::string& dataset, std::size_t count,
                       const std::string& algorithm, bool batch) {
  return root / dataset / std::to_string(count) / (batch ? algorithm + "-batch" : algorithm);
}

std::string mode_folder(const RunRecord& r) {
  // {} prints the shortest text that reads back as the same double.
  return r.range_mode ? fmt::format("range-{}", r.radius) : std::to_string(r.count);
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
    auto line = [&](const char* key, const std::string& value) {
      text += fmt::format("{}: {}\n", key, one_line(value));
    };
    line("dataset", r.dataset);
    line("count", std::to_string(r.count));
    line("algorithm", r.algorithm);
    line("module", r.module);
    line("library", r.library);
    line("slug", r.slug);
    line("build_params", r.build_params);
    line("search_params", r.search_params);
    line("batch_mode", r.batch_mode ? "1" : "0");
    line("threads", std::to_string(r.threads));
    line("queries", std::to_string(r.queries));
    line("runs", std::to_string(r.runs));
    line("distance", r.distance);
    line("mode", r.range_mode ? "range" : "knn");
    if (r.range_mode) line("radius", fmt::format("{}", r.radius));
    line("error", r.error);
    line("config", r.config);
    line("git_commit", r.git_commit);
    line("compiler", r.compiler);
    line("flags", r.flags);
    line("cpu", r.cpu);
    line("hostname", r.hostname);
    line("dataset_sha256", r.dataset_sha256);
    line("timestamp", r.timestamp);
    write_text_atomically(failed_file(root, r), text);
    fs::remove(run_file(root, r), error);
    return;
  }
  h5::write_atomically(run_file(root, r), [&](const fs::path& temporary) {
    h5::File file = h5::File::create(temporary);
    // ANN-Benchmarks' attribute names (results.py / runner.py) first.
    file.set_attribute("batch_mode", r.batch_mode);
    file.set_attribute("best_search_time", r.best_search_time);
    file.set_attribute("candidates", r.candidates);
    file.set_attribute("expect_extra", false);
    file.set_attribute("name",
                       fmt::format("{}({}, {})", r.algorithm, r.build_params, r.search_params));
    file.set_attribute("run_count", static_cast<std::int64_t>(r.runs));
    file.set_attribute("distance", r.distance);
    file.set_attribute("count", static_cast<std::int64_t>(r.count));
    file.set_attribute("build_time", r.build_time);
    file.set_attribute("index_size", r.index_kb);
    file.set_attribute("algo", r.algorithm);
    file.set_attribute("dataset", r.dataset);
    if (r.distcomps) {
      // ANN-Benchmarks divides dist_comps by run_count × queries.
      file.set_attribute("dist_comps", *r.distcomps * r.runs * static_cast<double>(r.queries));
    }
    // annbench's own.
    file.set_attribute("module", r.module);
    file.set_attribute("library", r.library);
    file.set_attribute("slug", r.slug);
    file.set_attribute("build_params", r.build_params);
    file.set_attribute("search_params", r.search_params);
    file.set_attribute("threads", static_cast<std::int64_t>(r.threads));
    file.set_attribute("queries", static_cast<std::int64_t>(r.queries));
    file.set_attribute("recall", r.recall);
    file.set_attribute("epsilon_recall", r.epsilon_recall);
    file.set_attribute("largeepsilon_recall", r.largeepsilon_recall);
    file.set_attribute("rel", r.rel);
    file.set_attribute("qps", r.qps);
    file.set_attribute("p50_ms", r.p50_ms);
    file.set_attribute("p95_ms", r.p95_ms);
    file.set_attribute("p99_ms", r.p99_ms);
    file.set_attribute("p999_ms", r.p999_ms);
    file.set_attribute("rss_growth_kb", r.rss_growth_kb);
    if (r.distcomps) file.set_attribute("distcomps_per_query", *r.distcomps);
    file.set_attribute("duplicate_ids", static_cast<std::int64_t>(r.duplicate_ids));
    // big-ann-benchmarks marks range runs with search_type "range".
    file.set_attribute("mode", r.range_mode ? "range" : "knn");
    file.set_attribute("search_type", r.range_mode ? "range" : "knn");
    if (r.range_mode) file.set_attribute("radius", r.radius);
    if (r.range_recall) file.set_attribute("range_recall", *r.range_recall);
    if (r.range_ap) file.set_attribute("range_ap", *r.range_ap);
    if (!r.transform.empty()) {
      file.set_attribute("transform", r.transform);
      file.set_attribute("transform_time", r.transform_s);
    }
    file.set_attribute("config", r.config);
    file.set_attribute("git_commit", r.git_commit);
    file.set_attribute("compiler", r.compiler);
    file.set_attribute("flags", r.flags);
    file.set_attribute("cpu", r.cpu);
    file.set_attribute("hostname", r.hostname);
    file.set_attribute("dataset_sha256", r.dataset_sha256);
    file.set_attribute("timestamp", r.timestamp);
    file.write_floats("times", r.times.data(), r.times.size(), 0);
    if (r.range_mode) {
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
    file.flush();
  });
  fs::remove(failed_file(root, r), error);
}

RunRecord read_run_summary(const fs::path& path) {
  RunRecord r;
  if (path.extension() == ".failed") {
    auto values = read_key_values(path);
    auto get = [&](const char* key) { return values.count(key) ? values[key] : std::string(); };
    auto get_int = [&](const char* key) { return get(key).empty() ? 0LL : std::stoll(get(key)); };
    r.dataset = get("dataset");
    r.count = static_cast<std::size_t>(get_int("count"));
    r.algorithm = get("algorithm");
    r.module = get("module");
    r.library = get("library");
    r.slug = get("slug");
    r.build_params = get("build_params");
    r.search_params = get("search_params");
    r.batch_mode = get("batch_mode") == "1";
    r.threads = static_cast<int>(get_int("threads"));
    r.queries = static_cast<std::size_t>(get_int("queries"));
    r.runs = static_cast<int>(get_int("runs"));
    r.distance = get("distance");
    r.range_mode = get("mode") == "range";
    r.radius = get("radius").empty() ? 0.0 : std::stod(get("radius"));
    r.error = get("error");
    r.config = get("config");
    r.git_commit = get("git_commit");
    r.compiler = get("compiler");
    r.flags = get("flags");
    r.cpu = get("cpu");
    r.hostname = get("hostname");
    r.dataset_sha256 = get("dataset_sha256");
    r.timestamp = get("timestamp");
    r.ok = false;
    return r;
  }
  h5::File file = h5::File::open_read(path);
  auto text = [&](const char* key) { return file.string_attribute(key).value_or(""); };
  auto num = [&](const char* key) { return file.number_attribute(key).value_or(0.0); };
  r.ok = true;
  r.dataset = text("dataset");
  r.count = static_cast<std::size_t>(num("count"));
  r.algorithm = text("algo");
  r.module = text("module");
  r.library = text("library");
  r.slug = text("slug");
  r.build_params = text("build_params");
  r.search_params = text("search_params");
  r.batch_mode = num("batch_mode") != 0;
  r.threads = static_cast<int>(num("threads"));
  r.queries = static_cast<std::size_t>(num("queries"));
  r.runs = static_cast<int>(num("run_count"));
  r.distance = text("distance");
  r.recall = num("recall");
  r.epsilon_recall = num("epsilon_recall");
  r.largeepsilon_recall = num("largeepsilon_recall");
  r.rel = num("rel");
  r.best_search_time = num("best_search_time");
  r.qps = num("qps");
  r.p50_ms = num("p50_ms");
  r.p95_ms = num("p95_ms");
  r.p99_ms = num("p99_ms");
  r.p999_ms = num("p999_ms");
  r.build_time = num("build_time");
  r.index_kb = num("index_size");
  r.rss_growth_kb = num("rss_growth_kb");
  r.distcomps = file.number_attribute("distcomps_per_query");
  r.candidates = num("candidates");
  r.duplicate_ids = static_cast<std::size_t>(num("duplicate_ids"));
  r.range_mode = text("mode") == "range";
  r.radius = num("radius");
  r.range_recall = file.number_attribute("range_recall");
  r.range_ap = file.number_attribute("range_ap");
  r.config = text("config");
  r.git_commit = text("git_commit");
  r.compiler = text("compiler");
  r.flags = text("flags");
  r.cpu = text("cpu");
  r.hostname = text("hostname");
  r.dataset_sha256 = text("dataset_sha256");
  r.timestamp = text("timestamp");
  return r;
}

std::string summary_header() {
  return "dataset,count,algorithm,name,build_params,search_params,batch_mode,threads,queries,runs,"
         "status,error,recall,epsilon_recall,largeepsilon_recall,rel,qps,p50_ms,p95_ms,p99_ms,"
         "p999_ms,build_s,index_kb,rss_growth_kb,distcomps,result_file,git_commit,compiler,flags,"
         "cpu,dataset_sha256,timestamp,mode,radius,range_recall,range_ap,library,hostname";
}

std::string summary_row(const RunRecord& r, const fs::path& root) {
  std::vector<std::string> fields = {r.dataset,
                                     std::to_string(r.count),
                                     r.algorithm,
                                     r.slug,
                                     r.build_params,
                                     r.search_params,
                                     r.batch_mode ? "1" : "0",
                                     std::to_string(r.threads),
                                     std::to_string(r.queries),
                                     std::to_string(r.runs),
                                     r.ok ? "ok" : "failed",
                                     r.error};
  if (r.ok) {
    for (double value :
         {r.recall, r.epsilon_recall, r.largeepsilon_recall, r.rel, r.qps, r.p50_ms, r.p95_ms,
          r.p99_ms, r.p999_ms, r.build_time, r.index_kb, r.rss_growth_kb}) {
      fields.push_back(number(value));
    }
    fields.push_back(r.distcomps ? number(*r.distcomps) : "");
    fields.push_back(fs::relative(run_file(root, r), root).string());
  } else {
    fields.insert(fields.end(), 13, "");
    fields.push_back(fs::relative(failed_file(root, r), root).string());
  }
  for (const auto* value :
       {&r.git_commit, &r.compiler, &r.flags, &r.cpu, &r.dataset_sha256, &r.timestamp}) {
    fields.push_back(*value);
  }
  // Appended last, so readers that index the older columns by position keep working.
  fields.push_back(r.range_mode ? "range" : "knn");
  fields.push_back(r.range_mode ? fmt::format("{}", r.radius) : "");
  fields.push_back(r.ok && r.range_recall ? number(*r.range_recall) : "");
  fields.push_back(r.ok && r.range_ap ? number(*r.range_ap) : "");
  fields.push_back(r.library);
  fields.push_back(r.hostname);
  std::string row;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) row += ',';
    row += csv_field(fields[i]);
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
