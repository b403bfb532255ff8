#include "config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace annbench {
namespace {

using ::testing::HasSubstr;

const std::vector<ParamSpec> kBuild = {
    {"M", ParamType::Int, std::int64_t{16}, "", 2},
    {"ef_construction", ParamType::Int, std::int64_t{200}, ""},
};
const std::vector<ParamSpec> kSearch = {{"ef", ParamType::Int, std::int64_t{10}, ""},
                                        {"exact", ParamType::Bool, false, ""}};

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Config, ParsesTopLevelKeys) {
  const auto config = parse_sweep_config(R"(
datasets: [a, b.hdf5]
k: [1, 10]
runs: 2
queries: 100
batch: true
threads: 2
algorithms:
  - module: bruteforce
  - module: hnsw
    name: hnsw-wide
    build: {M: [8, 16]}
    search: {ef: [10, 20]}
)",
                                         "sweep.yaml");
  EXPECT_EQ(config.datasets, (std::vector<std::string>{"a", "b.hdf5"}));
  EXPECT_EQ(config.counts, (std::vector<std::size_t>{1, 10}));
  EXPECT_EQ(config.runs, 2);
  EXPECT_EQ(config.queries, 100u);
  EXPECT_TRUE(config.batch);
  EXPECT_EQ(config.threads, 2);
  ASSERT_EQ(config.algorithms.size(), 2u);
  EXPECT_EQ(config.algorithms[0].name, "bruteforce");
  EXPECT_EQ(config.algorithms[1].name, "hnsw-wide");
  EXPECT_EQ(config.algorithms[1].module, "hnsw");
  EXPECT_EQ(config.algorithms[1].line, 10);
}

TEST(Config, CartesianProductInSortedKeyOrder) {
  const YAML::Node node = YAML::Load("{M: [8, 16], ef_construction: [100, 200, 400]}");
  const auto points = expand_parameter_node(node, kBuild, "hnsw", "build", "x.yaml");
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].to_json(), R"({"M":8,"ef_construction":100})");
  EXPECT_EQ(points[1].to_json(), R"({"M":8,"ef_construction":200})");
  EXPECT_EQ(points[5].to_json(), R"({"M":16,"ef_construction":400})");
}

TEST(Config, GroupsAreConcatenatedAndDefaultsFilled) {
  const YAML::Node node = YAML::Load("[{ef: [10, 20]}, {exact: true}]");
  const auto points = expand_parameter_node(node, kSearch, "hnsw", "search", "x.yaml");
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[2].to_json(), R"({"ef":10,"exact":true})");
  EXPECT_EQ(expand_parameter_node(YAML::Node(), kSearch, "m", "search", "x.yaml").size(), 1u);
}

TEST(Config, UnknownParameterNamesFileLineAndAcceptedKeys) {
  const auto message = error_of([] {
    expand_parameter_node(YAML::Load("{M: 8,\n efc: 3}"), kBuild, "hnsw", "build", "x.yaml");
  });
  EXPECT_THAT(message, HasSubstr("x.yaml:2:"));
  EXPECT_THAT(message, HasSubstr("unknown build parameter 'efc'; accepted: M, ef_construction"));
}

TEST(Config, IllTypedParameterIsAnError) {
  const auto message = error_of(
      [] { expand_parameter_node(YAML::Load("{M: sixteen}"), kBuild, "hnsw", "build", "x.yaml"); });
  EXPECT_THAT(message, HasSubstr("hnsw build parameter 'M' expects an integer, got 'sixteen'"));
  EXPECT_THAT(error_of([] {
                expand_parameter_node(YAML::Load("{M: 1}"), kBuild, "hnsw", "build", "x.yaml");
              }),
              HasSubstr("outside [2"));
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  const auto message = error_of([] { parse_sweep_config("datasets: [a\nk: 10\n", "bad.yaml"); });
  EXPECT_THAT(message, HasSubstr("bad.yaml:"));
  EXPECT_THAT(message, HasSubstr("YAML syntax error"));
}

TEST(Config, UnknownTopLevelKeyIsAnError) {
  const auto message =
      error_of([] { parse_sweep_config("datasets: a\nalgoritms:\n  - module: x\n", "typo.yaml"); });
  EXPECT_THAT(message, HasSubstr("typo.yaml:2:1: unknown key 'algoritms'"));
}

TEST(Config, BadValuesAreErrors) {
  EXPECT_THAT(error_of([] {
                parse_sweep_config("datasets: a\nk: 0\nalgorithms: [{module: x}]", "c.yaml");
              }),
              HasSubstr("'k' must be positive"));
  EXPECT_THAT(error_of([] { parse_sweep_config("k: 1\nalgorithms: [{module: x}]", "c.yaml"); }),
              HasSubstr("missing key 'datasets'"));
  EXPECT_THAT(error_of([] { parse_sweep_config("datasets: a\nalgorithms: []", "c.yaml"); }),
              HasSubstr("non-empty list"));
  EXPECT_THAT(
      error_of([] { parse_sweep_config("datasets: a\nalgorithms: [{modul: x}]", "c.yaml"); }),
      HasSubstr("unknown key 'modul' in algorithm entry"));
  EXPECT_THAT(error_of([] {
                parse_sweep_config("datasets: a\nruns: many\nalgorithms: [{module: x}]", "c.yaml");
              }),
              HasSubstr("'runs' expects an integer, got 'many'"));
}

TEST(Config, UnknownModuleNamesConfigLine) {
  const auto config =
      parse_sweep_config("datasets: a\nalgorithms:\n  - module: nosuch\n", "m.yaml");
  const ModuleRegistry empty({});
  const auto message = error_of([&] { expand_sweep(config, empty); });
  EXPECT_THAT(message, HasSubstr("m.yaml:3: unknown module 'nosuch'"));
}

}  // namespace
}  // namespace annbench
