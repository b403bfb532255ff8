#include "shard_protocol.h"

#include <annbench/error.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <fstream>
#include <type_traits>

namespace annbench {

namespace {

constexpr std::array<char, 8> kMagic = {'A', 'N', 'N', 'S', 'H', 'R', 'D', '1'};

template <typename T>
T field(const YAML::Node& node, const char* key, const std::filesystem::path& file) {
  ANNBENCH_CHECK(node[key], "shard job '{}': missing '{}'", file.string(), key);
  try {
    return node[key].as<T>();
  } catch (const YAML::Exception&) {
    ANNBENCH_FAIL("shard job '{}': '{}' has the wrong type", file.string(), key);
  }
}

class Writer {
 public:
  explicit Writer(const std::filesystem::path& file) : out_(file, std::ios::binary) {
    ANNBENCH_CHECK(out_.good(), "cannot write '{}'", file.string());
  }
  template <typename T>
  void value(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.write(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <typename T>
  void array(const std::vector<T>& v) {
    value<std::uint64_t>(v.size());
    out_.write(reinterpret_cast<const char*>(v.data()),
               static_cast<std::streamsize>(v.size() * sizeof(T)));
  }
  void finish(const std::filesystem::path& file) {
    out_.flush();
    ANNBENCH_CHECK(out_.good(), "writing '{}' failed", file.string());
  }

 private:
  std::ofstream out_;
};

class Reader {
 public:
  explicit Reader(const std::filesystem::path& file) : file_(file), in_(file, std::ios::binary) {
    ANNBENCH_CHECK(in_.good(), "cannot read '{}'", file.string());
  }
  template <typename T>
  T value() {
    T v{};
    in_.read(reinterpret_cast<char*>(&v), sizeof(T));
    ANNBENCH_CHECK(in_.gcount() == static_cast<std::streamsize>(sizeof(T)),
                   "'{}' ends early (a rank stopped while writing it?)", file_.string());
    return v;
  }
  template <typename T>
  std::vector<T> array(std::size_t expected) {
    const auto size = value<std::uint64_t>();
    ANNBENCH_CHECK(size == expected, "'{}': an array of {} values where {} were expected",
                   file_.string(), size, expected);
    std::vector<T> v(size);
    in_.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size * sizeof(T)));
    ANNBENCH_CHECK(in_.gcount() == static_cast<std::streamsize>(size * sizeof(T)),
                   "'{}' ends early", file_.string());
    return v;
  }
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  std::ifstream in_;
};

}  // namespace

void write_shard_job(const std::filesystem::path& file, const ShardJob& job) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "dataset" << YAML::Value << job.dataset.string();
  out << YAML::Key << "max_queries" << YAML::Value << job.max_queries;
  out << YAML::Key << "module" << YAML::Value << job.module;
  out << YAML::Key << "module_dir" << YAML::Value << job.module_dir.string();
  out << YAML::Key << "build" << YAML::Value << YAML::DoubleQuoted << job.build_json;
  out << YAML::Key << "ranks" << YAML::Value << job.ranks;
  out << YAML::Key << "partition" << YAML::Value << job.partition;
  out << YAML::Key << "threads" << YAML::Value << job.threads;
  out << YAML::Key << "repetitions" << YAML::Value << job.repetitions;
  out << YAML::Key << "seed" << YAML::Value << job.seed;
  out << YAML::Key << "runs" << YAML::Value << YAML::BeginSeq;
  for (const auto& run : job.runs) {
    out << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "search" << YAML::Value << YAML::DoubleQuoted << run.search_json;
    out << YAML::Key << "k" << YAML::Value << run.k;
    out << YAML::Key << "probe" << YAML::Value << run.probe;
    out << YAML::Key << "batch" << YAML::Value << run.batch;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap;
  std::ofstream stream(file);
  stream << out.c_str() << "\n";
  ANNBENCH_CHECK(stream.good(), "cannot write shard job '{}'", file.string());
}

ShardJob read_shard_job(const std::filesystem::path& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& error) {
    ANNBENCH_FAIL("shard job '{}': {}", file.string(), error.what());
  }
  ShardJob job;
  job.dataset = field<std::string>(root, "dataset", file);
  job.max_queries = field<std::size_t>(root, "max_queries", file);
  job.module = field<std::string>(root, "module", file);
  job.module_dir = field<std::string>(root, "module_dir", file);
  job.build_json = field<std::string>(root, "build", file);
  job.ranks = field<int>(root, "ranks", file);
  job.partition = field<std::string>(root, "partition", file);
  job.threads = field<int>(root, "threads", file);
  job.repetitions = field<int>(root, "repetitions", file);
  job.seed = field<std::uint64_t>(root, "seed", file);
  ANNBENCH_CHECK(job.ranks >= 1 && job.threads >= 1 && job.repetitions >= 1,
                 "shard job '{}': ranks, threads and repetitions must be positive", file.string());
  ANNBENCH_CHECK(root["runs"] && root["runs"].IsSequence(), "shard job '{}': no runs",
                 file.string());
  for (const auto& node : root["runs"]) {
    ShardJob::Run run;
    run.search_json = field<std::string>(node, "search", file);
    run.k = field<std::size_t>(node, "k", file);
    run.probe = field<int>(node, "probe", file);
    run.batch = field<bool>(node, "batch", file);
    ANNBENCH_CHECK(run.k >= 1 && run.probe >= 1, "shard job '{}': k and probe must be positive",
                   file.string());
    job.runs.push_back(std::move(run));
  }
  return job;
}

void write_shard_output(const std::filesystem::path& file, const ShardOutput& output) {
  Writer writer(file);
  writer.value(kMagic);
  writer.value(output.build_s);
  writer.value(output.memory_bytes);
  writer.value(output.peak_rss_bytes);
  writer.array(output.shard_rows);
  writer.value<std::uint64_t>(output.runs.size());
  for (const auto& run : output.runs) {
    writer.value<std::uint64_t>(run.queries);
    writer.value<std::uint64_t>(run.k);
    writer.array(run.neighbors);
    writer.array(run.times);
    writer.value(run.total_s);
    writer.value(run.bytes_per_query);
    writer.value(run.distcomps);
  }
  writer.finish(file);
}

ShardOutput read_shard_output(const std::filesystem::path& file, const ShardJob& job) {
  Reader reader(file);
  const auto magic = reader.value<std::array<char, 8>>();
  ANNBENCH_CHECK(magic == kMagic, "'{}' is not a shard output file", file.string());
  ShardOutput output;
  output.build_s = reader.value<double>();
  output.memory_bytes = reader.value<double>();
  output.peak_rss_bytes = reader.value<double>();
  output.shard_rows = reader.array<std::uint64_t>(static_cast<std::size_t>(job.ranks));
  const auto runs = reader.value<std::uint64_t>();
  ANNBENCH_CHECK(runs == job.runs.size(), "'{}' holds {} runs, the job asked for {}", file.string(),
                 runs, job.runs.size());
  for (std::size_t i = 0; i < runs; ++i) {
    ShardRunResult run;
    run.queries = reader.value<std::uint64_t>();
    run.k = reader.value<std::uint64_t>();
    ANNBENCH_CHECK(run.k == job.runs[i].k, "'{}': run {} has k = {}, the job asked for {}",
                   file.string(), i, run.k, job.runs[i].k);
    run.neighbors = reader.array<Neighbor>(run.queries * run.k);
    run.times = reader.array<float>(run.queries);
    run.total_s = reader.value<double>();
    run.bytes_per_query = reader.value<double>();
    run.distcomps = reader.value<double>();
    output.runs.push_back(std::move(run));
  }
  return output;
}

}  // namespace annbench
