#include "plugin_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace annbench {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

TEST(PluginLoader, LoadsFixturesAndExplainsFailures) {
  const ModuleRegistry registry({ANNBENCH_TEST_FIXTURE_MODULE_DIR});
  ASSERT_EQ(registry.modules().size(), 1u);
  EXPECT_STREQ(registry.modules()[0].info->name, "fixture-faulty");
  ASSERT_EQ(registry.failures().size(), 2u);
  std::string reasons;
  for (const auto& failure : registry.failures())
    reasons += failure.path.filename().string() + ": " + failure.reason + "\n";
  EXPECT_THAT(reasons,
              HasSubstr("libannbench_fixture_no_entry.so: no annbench_module_v1() entry point"));
  EXPECT_THAT(reasons,
              HasSubstr("libannbench_fixture_wrong_abi.so: built against annbench module ABI 999"));
}

TEST(PluginLoader, UnknownModuleListsAvailableAndBroken) {
  const ModuleRegistry registry({ANNBENCH_TEST_FIXTURE_MODULE_DIR});
  try {
    registry.get("hnsw");
    FAIL() << "expected an error";
  } catch (const Error& error) {
    EXPECT_THAT(error.what(), HasSubstr("unknown module 'hnsw'; available: fixture-faulty"));
    EXPECT_THAT(error.what(), HasSubstr("could not load"));
  }
}

TEST(PluginLoader, GarbageSharedObjectIsReportedNotFatal) {
  const fs::path directory =
      fs::temp_directory_path() / fmt::format("annbench-plugins-{}", ::getpid());
  fs::create_directories(directory);
  std::ofstream(directory / "libgarbage.so") << "this is not an ELF file";
  const ModuleRegistry registry({directory, ANNBENCH_TEST_MODULE_DIR});
  ASSERT_FALSE(registry.failures().empty());
  EXPECT_EQ(registry.failures()[0].path.filename(), "libgarbage.so");
  EXPECT_FALSE(registry.failures()[0].reason.empty());
  EXPECT_STREQ(registry.get("bruteforce").info->name, "bruteforce");
  fs::remove_all(directory);
}

TEST(PluginLoader, FirstDirectoryWinsOnDuplicateNames) {
  const ModuleRegistry registry({ANNBENCH_TEST_MODULE_DIR, ANNBENCH_TEST_MODULE_DIR});
  std::size_t duplicates = 0;
  for (const auto& failure : registry.failures())
    duplicates += failure.reason.find("already loaded") != std::string::npos;
  EXPECT_EQ(duplicates, registry.modules().size());
}

TEST(PluginLoader, MissingDirectoryIsSkipped) {
  const ModuleRegistry registry({"/nonexistent/annbench/modules"});
  EXPECT_TRUE(registry.modules().empty());
  EXPECT_TRUE(registry.failures().empty());
}

}  // namespace
}  // namespace annbench
