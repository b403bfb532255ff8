// The table of result fields: every field survives the .hdf5 and .failed round trips, the CSV
// header and the schema file list the same columns, and copies carry every field.

#include "result_fields.h"
#include "results.h"

#include <annbench/datasets/hdf5.h>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

namespace annbench {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A record whose every table field holds a distinct, non-default value.
RunRecord full_record(bool ok) {
  RunRecord r;
  int i = 0;
  for (const ResultField& field : result_fields()) {
    ++i;
    std::visit(
        [&](auto member) {
          if constexpr (!std::is_same_v<decltype(member), std::monostate>) {
            auto& value = r.*member;
            using V = std::decay_t<decltype(value)>;
            if constexpr (std::is_same_v<V, std::string>) {
              value = fmt::format("text-{}", i);
            } else if constexpr (std::is_same_v<V, bool>) {
              value = true;
            } else if constexpr (std::is_same_v<V, double> ||
                                 std::is_same_v<V, std::optional<double>>) {
              value = 0.25 + i;
            } else {
              value = static_cast<V>(i);
            }
          }
        },
        field.member);
  }
  r.ok = ok;
  r.mode = "knn";
  r.build_params = R"({"M":16})";
  r.search_params = R"({"ef":10})";
  r.slug = "M_16_ef_10";
  r.count = 2;
  r.queries = 1;
  r.times = {0.001f};
  r.neighbors = IdMatrix(1, 2, 0);
  r.distances = FloatMatrix(1, 2, 0.0f);
  return r;
}

class ResultFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fmt::format("annbench-fields-{}", ::getpid());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

TEST_F(ResultFieldsTest, FinishedRunKeepsEveryHdf5Field) {
  const RunRecord written = full_record(true);
  write_run(root_, written);
  const RunRecord read = read_run_summary(run_file(root_, written));
  EXPECT_TRUE(read.ok);
  for (const ResultField& field : result_fields()) {
    if ((field.places & kInHdf5) == 0) continue;
    EXPECT_EQ(field_text(field, read), field_text(field, written)) << field.name;
  }
}

TEST_F(ResultFieldsTest, FailedRunKeepsItsIdentityAndError) {
  RunRecord written = full_record(false);
  written.error = "build failed: out of memory\nsecond line";
  write_run(root_, written);
  const RunRecord read = read_run_summary(failed_file(root_, written));
  EXPECT_FALSE(read.ok);
  EXPECT_EQ(read.error, "build failed: out of memory second line");
  for (const ResultField& field : result_fields()) {
    if ((field.places & kInFailed) == 0 || field.name == "error") continue;
    EXPECT_EQ(field_text(field, read), field_text(field, written)) << field.name;
  }
  // hostname and library were missing from .failed files once.
  EXPECT_FALSE(read.hostname.empty());
  EXPECT_FALSE(read.library.empty());
}

TEST_F(ResultFieldsTest, CsvHeaderSchemaAndRowsAgree) {
  const std::string header = summary_header();
  const YAML::Node schema = YAML::Load(summary_schema_json());
  std::string from_schema;
  std::set<std::string> types;
  for (const auto& column : schema["columns"]) {
    from_schema += (from_schema.empty() ? "" : ",") + column["name"].as<std::string>();
    types.insert(column["type"].as<std::string>());
  }
  EXPECT_EQ(from_schema, header);
  EXPECT_EQ(types, (std::set<std::string>{"text", "int", "float", "bool", "json"}));
  for (const char* column : {"mode", "radius", "range_recall", "range_ap", "hostname", "library"})
    EXPECT_THAT(header, HasSubstr(column));
  // Older readers index the first columns by position.
  EXPECT_EQ(header.rfind("dataset,count,algorithm,name,build_params,search_params,batch_mode,", 0),
            0u);

  const RunRecord ok = full_record(true);
  const RunRecord failed = full_record(false);
  const auto commas = [](const std::string& row) {
    return std::count(row.begin(), row.end(), ',');
  };
  EXPECT_EQ(commas(summary_row(ok, root_)), commas(header));
  const std::string failed_row = summary_row(failed, root_);
  EXPECT_EQ(commas(failed_row), commas(header));
  EXPECT_THAT(failed_row, HasSubstr(",failed,"));
  EXPECT_THAT(summary_row(ok, root_), HasSubstr(",ok,"));
}

TEST_F(ResultFieldsTest, WriteSummaryWritesTheSchemaBesideIt) {
  const RunRecord written = full_record(true);
  write_run(root_, written);
  EXPECT_EQ(write_summary(root_, written.dataset), 1u);
  std::ifstream schema(root_ / written.dataset / "summary.schema.json");
  std::string text((std::istreambuf_iterator<char>(schema)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, summary_schema_json());
}

TEST_F(ResultFieldsTest, CopyCarriesEveryFieldButNoPerQueryData) {
  const RunRecord original = full_record(true);
  const RunRecord copy = copy_fields(original);
  for (const ResultField& field : result_fields())
    EXPECT_EQ(field_text(field, copy), field_text(field, original)) << field.name;
  EXPECT_TRUE(copy.ok);
  EXPECT_TRUE(copy.times.empty());
  EXPECT_EQ(copy.neighbors.rows(), 0u);
}

TEST(ResultFields, BadNumberIsAClearError) {
  RunRecord r;
  for (const ResultField& field : result_fields()) {
    if (field.name == "recall") {
      EXPECT_THROW(set_field_text(field, r, "0.9x"), Error);
      set_field_text(field, r, "0.9");
      EXPECT_DOUBLE_EQ(r.recall, 0.9);
    }
  }
}

}  // namespace
}  // namespace annbench
