// Dimension-reduction stages in a sweep (`pca:` / `random_projection:` on an algorithm entry):
// config decoding, the wrapped index, and a sweep scored in the original space.

#include "config.h"
#include "csv.h"
#include "transform_stage.h"

#include <annbench/common/exact_knn.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/module.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

const ModuleRegistry& registry() {
  static const ModuleRegistry modules({ANNBENCH_TEST_MODULE_DIR});
  return modules;
}

std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

std::vector<BuildPoint> expand(const std::string& yaml) {
  return expand_sweep(parse_sweep_config(yaml, "t.yaml"), registry());
}

TEST(TransformConfig, ListsExpandAndJoinTheRecordedBuildParameters) {
  const auto points = expand(
      "datasets: [x]\n"
      "algorithms:\n"
      "  - module: bruteforce\n"
      "  - module: bruteforce\n"
      "    name: bf-pca\n"
      "    pca: {dim: [8, 16]}\n"
      "  - module: bruteforce\n"
      "    name: bf-rp\n"
      "    random_projection: {dim: 4, kind: [gaussian, sparse], sparsity: 3, seed: 7}\n");
  ASSERT_EQ(points.size(), 5u);
  EXPECT_FALSE(points[0].transform.has_value());
  EXPECT_EQ(points[0].recorded_build().to_json(), "{}");
  ASSERT_TRUE(points[1].transform.has_value());
  EXPECT_EQ(points[1].transform->kind, TransformSpec::Kind::Pca);
  EXPECT_EQ(points[1].recorded_build().to_json(), R"({"pca.dim":8})");
  EXPECT_EQ(points[2].transform->dim, 16u);
  EXPECT_EQ(points[3].recorded_build().to_json(),
            R"({"random_projection.dim":4,"random_projection.kind":"gaussian",)"
            R"("random_projection.seed":7})");
  EXPECT_EQ(points[4].transform->projection, "sparse");
  EXPECT_EQ(points[4].transform->sparsity, 3.0);
  // The module itself never sees the stage's keys.
  EXPECT_TRUE(points[4].build.empty());
}

TEST(TransformConfig, MistakesAreErrorsNamingTheKey) {
  const std::string head = "datasets: [x]\nalgorithms:\n  - module: bruteforce\n";
  EXPECT_THAT(error_of([&] { expand(head + "    pca: {dims: 8}\n"); }),
              AllOf(HasSubstr("t.yaml:4"), HasSubstr("unknown stage parameter 'dims'"),
                    HasSubstr("accepted: dim")));
  EXPECT_THAT(error_of([&] { expand(head + "    pca: {}\n"); }),
              HasSubstr("pca: 'dim' (the output dimension, >= 1) is required"));
  EXPECT_THAT(error_of([&] { expand(head + "    pca: 8\n"); }), HasSubstr("must be a map"));
  EXPECT_THAT(error_of([&] { expand(head + "    random_projection: {dim: 4, kind: dense}\n"); }),
              HasSubstr("kind must be gaussian or sparse, got 'dense'"));
  EXPECT_THAT(error_of([&] { expand(head + "    random_projection: {dim: 4, sparsity: 0.5}\n"); }),
              HasSubstr("sparsity must be 0 (sqrt(dim)) or >= 1, got 0.5"));
  EXPECT_THAT(
      error_of([&] { expand(head + "    pca: {dim: 2}\n    random_projection: {dim: 2}\n"); }),
      HasSubstr("takes one of 'pca' and 'random_projection', not both"));
  EXPECT_THAT(error_of([&] { expand(head + "    pca: {dim: -3}\n"); }), HasSubstr("dim"));
}

FloatMatrix random_matrix(std::size_t rows, std::size_t dim, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  FloatMatrix m(rows, dim);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = normal(rng) + 3.0f;
  return m;
}

std::unique_ptr<Index> wrapped_bruteforce(const TransformSpec& spec, Metric metric, std::size_t dim,
                                          std::shared_ptr<TransformReport> report = nullptr) {
  const ModuleInfo& info = *registry().get("bruteforce").info;
  return make_transformed_index(info.create(metric, spec.dim, Params{}), spec, metric, dim,
                                std::move(report));
}

// A full-rank PCA is a rotation (plus a shift for euclidean): neighbours are unchanged.
TEST(TransformedIndex, FullRankPcaKeepsEveryNeighbour) {
  const std::size_t dim = 24, k = 10;
  const FloatMatrix base = random_matrix(2000, dim, 1);
  const FloatMatrix queries = random_matrix(50, dim, 2);
  for (Metric metric : {Metric::L2, Metric::InnerProduct, Metric::Angular}) {
    TransformSpec spec;
    spec.dim = dim;
    auto report = std::make_shared<TransformReport>();
    auto index = wrapped_bruteforce(spec, metric, dim, report);
    index->build(base.view());
    EXPECT_THAT(report->summary, HasSubstr("pca 24 -> 24 dims"));
    EXPECT_THAT(report->summary, HasSubstr("100.0 %"));
    EXPECT_EQ(report->bytes, dim * dim * sizeof(float) + (metric == Metric::L2 ? dim * 4 : 0));
    const ExactKnn exact(base.view(), metric);
    std::vector<Neighbor> expected(k), got(k), batch(queries.rows() * k);
    index->search_batch(queries.view(), k, batch.data());
    std::size_t matched = 0;
    for (std::size_t q = 0; q < queries.rows(); ++q) {
      exact.search(queries.row(q), k, expected.data());
      index->search(queries.row(q), k, got.data());
      for (std::size_t j = 0; j < k; ++j) {
        matched += got[j].id == expected[j].id;
        EXPECT_EQ(batch[q * k + j].id, got[j].id) << "batch differs from single at " << q;
      }
    }
    // Float rounding in the rotated space may swap two near-equal neighbours, nothing more.
    EXPECT_GE(matched, queries.rows() * k * 99 / 100) << metric_name(metric);
  }
}

TEST(TransformedIndex, ReductionLosesNeighboursAndRejectsGrowingDimensions) {
  const std::size_t dim = 32, k = 10;
  const FloatMatrix base = random_matrix(3000, dim, 3);
  const FloatMatrix queries = random_matrix(40, dim, 4);
  TransformSpec spec;
  spec.kind = TransformSpec::Kind::RandomProjection;
  spec.dim = 4;
  auto index = wrapped_bruteforce(spec, Metric::L2, dim);
  index->build(base.view());
  const ExactKnn exact(base.view(), Metric::L2);
  std::vector<Neighbor> expected(k), got(k);
  std::size_t matched = 0;
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    exact.search(queries.row(q), k, expected.data());
    index->search(queries.row(q), k, got.data());
    for (const auto& e : expected) {
      for (const auto& g : got) matched += e.id == g.id;
    }
  }
  // 32 isotropic dimensions squeezed into 4 keep a few neighbours, not most.
  EXPECT_GT(matched, 0u);
  EXPECT_LT(matched, queries.rows() * k / 2);

  spec.dim = 40;
  EXPECT_THAT(error_of([&] { wrapped_bruteforce(spec, Metric::L2, dim); }),
              HasSubstr("dim 40 is larger than the dataset's 32 dimensions"));
  std::vector<Neighbor> range;
  spec.dim = 4;
  auto again = wrapped_bruteforce(spec, Metric::L2, dim);
  again->build(base.view());
  EXPECT_THROW(again->range_search(queries.row(0), 1.0f, range), Error);
}

// The annbench binary on a small sweep: results are scored in the original space.
TEST(TransformSweep, RecallIsMeasuredAgainstTheOriginalGroundTruth) {
  const fs::path dir = fs::temp_directory_path() / fmt::format("annbench-transform-{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto run = [&](const std::string& arguments) {
    const std::string command =
        fmt::format("cd '{}' && '{}' {} 2>&1", dir.string(), ANNBENCH_TEST_BINARY, arguments);
    std::string output;
    FILE* pipe = popen(command.c_str(), "r");
    std::array<char, 4096> buffer{};
    while (pipe && std::fgets(buffer.data(), buffer.size(), pipe) != nullptr)
      output += buffer.data();
    const int status = pipe ? pclose(pipe) : -1;
    return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
  };
  ASSERT_EQ(run("dataset synthetic --n 2000 --queries 50 --dim 16 --metric euclidean --out "
                "s.hdf5 --k 10")
                .first,
            0);
  std::ofstream(dir / "t.yaml") << "datasets: [s.hdf5]\nk: 10\nruns: 1\nalgorithms:\n"
                                   "  - module: bruteforce\n    name: full\n    pca: {dim: 16}\n"
                                   "  - module: bruteforce\n    name: tiny\n    pca: {dim: 1}\n"
                                   "  - module: bruteforce\n    name: wide\n    pca: {dim: 17}\n";
  const auto [code, output] = run("run t.yaml --results r");
  EXPECT_EQ(code, 3) << output;  // `wide` fails, the others run
  EXPECT_THAT(output, HasSubstr("pca: dim 17 is larger than the dataset's 16 dimensions"));
  EXPECT_THAT(output, HasSubstr("pca 16 -> 1 dims (centred)"));
  const CsvTable table = read_csv(dir / "r" / "s" / "summary.csv");
  const auto name = table.column("algorithm"), recall = table.column("recall"),
             build = table.column("build_params");
  ASSERT_TRUE(name && recall && build);
  double full_recall = -1, tiny_recall = -1;
  std::string all;
  for (const auto& row : table.rows) {
    all += row[*name] + " " + row[*build] + " " + row[*recall] + "\n";
    if (row[*name] == "full") full_recall = std::stod(row[*recall]);
    if (row[*name] == "tiny") tiny_recall = std::stod(row[*recall]);
  }
  EXPECT_THAT(all, HasSubstr("pca.dim"));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir / "r" / "s" / "10" / "tiny")) {
    if (entry.path().extension() != ".hdf5") continue;
    ++files;
    const h5::File run_file = h5::File::open_read(entry.path());
    EXPECT_THAT(run_file.string_attribute("transform").value_or(""),
                HasSubstr("pca 16 -> 1 dims (centred)"));
    EXPECT_GE(run_file.number_attribute("transform_time").value_or(-1), 0.0);
    EXPECT_LE(run_file.number_attribute("transform_time").value_or(1e9),
              run_file.number_attribute("build_time").value_or(-1));
  }
  EXPECT_EQ(files, 1u);
  EXPECT_NEAR(full_recall, 1.0, 0.01) << all;
  EXPECT_GE(tiny_recall, 0.0) << all;
  EXPECT_LT(tiny_recall, 0.5) << all;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace annbench
