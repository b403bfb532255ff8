#include <annbench/params.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace annbench {
namespace {

using ::testing::HasSubstr;

const std::vector<ParamSpec> kSpecs = {
    {"M", ParamType::Int, std::int64_t{16}, "links per node", 2, 1024},
    {"ef_construction", ParamType::Int, std::int64_t{200}, "build beam width", 1},
    {"alpha", ParamType::Float, 1.0, "pruning factor"},
    {"exact", ParamType::Bool, false, "exact mode"},
    {"kind", ParamType::String, std::string("gaussian"), "projection kind"},
};

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(Params, ResolveFillsDefaultsAndKeepsGivenValues) {
  Params given;
  given.set("M", std::int64_t{32});
  const Params resolved = resolve_params(given, kSpecs, "hnsw", "build");
  EXPECT_EQ(resolved.get_int("M"), 32);
  EXPECT_EQ(resolved.get_int("ef_construction"), 200);
  EXPECT_DOUBLE_EQ(resolved.get_float("alpha"), 1.0);
  EXPECT_FALSE(resolved.get_bool("exact"));
  EXPECT_EQ(resolved.get_string("kind"), "gaussian");
}

TEST(Params, IntIsWidenedForFloatParameter) {
  Params given;
  given.set("alpha", std::int64_t{2});
  EXPECT_DOUBLE_EQ(resolve_params(given, kSpecs, "m", "search").get_float("alpha"), 2.0);
}

TEST(Params, UnknownKeyNamesModuleKeyAndAcceptedKeys) {
  Params given;
  given.set("efc", std::int64_t{1});
  const std::string message = message_of([&] { resolve_params(given, kSpecs, "hnsw", "build"); });
  EXPECT_THAT(message, HasSubstr("hnsw"));
  EXPECT_THAT(message, HasSubstr("'efc'"));
  EXPECT_THAT(message, HasSubstr("M, ef_construction, alpha, exact, kind"));
}

TEST(Params, WrongTypeIsAnError) {
  Params given;
  given.set("M", std::string("sixteen"));
  const std::string message = message_of([&] { resolve_params(given, kSpecs, "hnsw", "build"); });
  EXPECT_THAT(message, HasSubstr("'M' expects a int, got string 'sixteen'"));
  Params float_for_int;
  float_for_int.set("M", 1.5);
  EXPECT_THAT(message_of([&] { resolve_params(float_for_int, kSpecs, "hnsw", "build"); }),
              HasSubstr("expects a int"));
}

TEST(Params, BoundsAreChecked) {
  Params given;
  given.set("M", std::int64_t{1});
  EXPECT_THAT(message_of([&] { resolve_params(given, kSpecs, "hnsw", "build"); }),
              HasSubstr("'M' = 1 is outside [2, 1024]"));
  given.set("M", std::int64_t{2});
  EXPECT_NO_THROW(resolve_params(given, kSpecs, "hnsw", "build"));
}

TEST(Params, GettersRejectWrongTypes) {
  Params params;
  params.set("name", std::string("x"));
  EXPECT_THROW(params.get_int("name"), Error);
  EXPECT_THROW(params.get_int("missing"), Error);
}

TEST(Params, JsonIsSortedAndEscaped) {
  Params params;
  params.set("b", std::int64_t{2});
  params.set("a", std::string("say \"hi\""));
  params.set("c", 0.5);
  params.set("d", true);
  EXPECT_EQ(params.to_json(), R"({"a":"say \"hi\"","b":2,"c":0.5,"d":true})");
  EXPECT_EQ(Params{}.to_json(), "{}");
}

}  // namespace
}  // namespace annbench
