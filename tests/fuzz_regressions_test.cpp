// Inputs the libFuzzer targets in tests/fuzz/ found (or that guard the same bug class), each fed
// to the same function as the fuzzer. Every one must end in a clean annbench::Error naming the
// problem, not a crash, a foreign exception or an exhausted machine.

#include "config.h"

#include <annbench/datasets/convert.h>
#include <annbench/datasets/dataset.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <fstream>
#include <functional>
#include <string>

namespace annbench {
namespace {

using ::testing::HasSubstr;

// The fuzz_config target's specs: one parameter of every type.
const std::array<ParamSpec, 5> kSpecs = {{
    {"flag", ParamType::Bool, false, ""},
    {"M", ParamType::Int, std::int64_t{16}, "", 2, 1024},
    {"seed", ParamType::Int, std::int64_t{0}, ""},
    {"ratio", ParamType::Float, 0.5, "", 0.0, 1.0},
    {"metric", ParamType::String, std::string("l2"), ""},
}};

// What fuzz_config does with one input; returns the Error message ("(no error)" if none).
std::string config_error(const std::string& yaml) {
  try {
    const SweepConfig config = parse_sweep_config(yaml, "fuzz.yaml");
    for (const AlgorithmEntry& entry : config.algorithms) {
      expand_parameter_node(entry.build, kSpecs, entry.module, "build", config.file);
      expand_parameter_node(entry.search, kSpecs, entry.module, "search", config.file);
    }
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// Crash (fuzz_config, first minute): a flow-map entry without a key, `{M: 4, [a, b]}`, makes the
// list `[a, b]` a key; reading it as a string threw YAML::TypedBadConversion past our handlers.
TEST(FuzzRegressions, ConfigListAsParameterKeyIsAnError) {
  const std::string crash =
      "datasets: data/x.hdf5\nk: 10\nalgorithms:\n  - module: m\n    build:\n"
      "      - {M: 4,  [a, b]}\n    search:\n      - seed:  \n";
  EXPECT_THAT(config_error(crash),
              HasSubstr("fuzz.yaml:6:17: a key must be a plain name, got (a list)"));
}

// The same conversion at the other two places keys are read.
TEST(FuzzRegressions, ConfigNonScalarKeysAreErrors) {
  EXPECT_THAT(config_error("{a: 1}: x\ndatasets: [d]\n"),
              HasSubstr("a key must be a plain name, got (a map)"));
  EXPECT_THAT(config_error("datasets: [d]\nalgorithms:\n  - module: m\n    [x]: 1\n"),
              HasSubstr("fuzz.yaml:4:5: a key must be a plain name, got (a list)"));
}

// Resource exhaustion: four 40-value lists and a bool pair are 2 x 40^4 = 5e6 points in under
// 1 KB of YAML, and an alias repeats a whole group for a few bytes. Both are rejected before
// anything is allocated.
TEST(FuzzRegressions, ConfigHugeProductsAreErrors) {
  std::string list = "[";
  for (int i = 0; i < 40; ++i) list += std::to_string(i % 2) + ",";
  list.back() = ']';
  const std::string product = "{flag: [true, false], M: " + list + ", seed: " + list +
                              ", ratio: " + list + ", metric: " + list + "}";
  EXPECT_THAT(config_error("datasets: [d]\nalgorithms:\n  - module: m\n    build: " + product),
              HasSubstr("build parameters expand to more than 100000 points"));

  // 1600 valid points per group, 101 groups.
  std::string groups =
      "datasets: [d]\nalgorithms:\n  - module: m\n    search:\n      - &g {seed: " + list +
      ", metric: " + list + "}\n";
  for (int i = 0; i < 100; ++i) groups += "      - *g\n";
  EXPECT_THAT(config_error(groups),
              HasSubstr("search parameter groups expand to more than 100000 points"));
}

// Deep nesting: yaml-cpp's parser recurses per level; it stops at depth 2000 with a
// ParserException, which must surface as our syntax error rather than a stack overflow.
TEST(FuzzRegressions, ConfigDeepNestingIsASyntaxError) {
  EXPECT_THAT(config_error("datasets: " + std::string(100000, '[')),
              HasSubstr("YAML syntax error"));
  EXPECT_THAT(config_error("datasets: " + std::string(50000, '{')), HasSubstr("YAML syntax error"));
}

// An ANN-Benchmarks file whose `train` dataset claims `rows` x `cols` float32 values but stores
// none (chunked, no chunk ever written): a few KB that HDF5 happily "reads" as fill values.
std::filesystem::path write_unstored_train(const std::string& name, hsize_t rows, hsize_t cols) {
  const auto path = std::filesystem::temp_directory_path() /
                    fmt::format("annbench-fuzz-regression-{}-{}.hdf5", ::getpid(), name);
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t string_type = H5Tcopy(H5T_C_S1);
  H5Tset_size(string_type, 9);
  const hid_t scalar = H5Screate(H5S_SCALAR);
  const hid_t attribute =
      H5Acreate2(file, "distance", string_type, scalar, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attribute, string_type, "euclidean");
  const hid_t chunked = H5Pcreate(H5P_DATASET_CREATE);
  const hsize_t chunk[2] = {1, 1};
  H5Pset_chunk(chunked, 2, chunk);
  for (const auto& [dataset_name, dataset_rows] :
       {std::pair{"train", rows}, std::pair{"test", hsize_t{1}}}) {
    const hsize_t dims[2] = {dataset_rows, cols};
    const hid_t space = H5Screate_simple(2, dims, nullptr);
    H5Dclose(
        H5Dcreate2(file, dataset_name, H5T_IEEE_F32LE, space, H5P_DEFAULT, chunked, H5P_DEFAULT));
    H5Sclose(space);
  }
  H5Pclose(chunked);
  H5Aclose(attribute);
  H5Sclose(scalar);
  H5Tclose(string_type);
  H5Fclose(file);
  return path;
}

std::string dataset_error(const std::filesystem::path& path) {
  try {
    load_dataset(path, {.max_queries = 0, .require_ground_truth = false});
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// Heap overflow: rows x cols x 4 bytes wrapped around 2^64 to a 64-byte buffer, which H5Dread
// and the finiteness scan then overran (AddressSanitizer: heap-buffer-overflow).
TEST(FuzzRegressions, HdfShapeOverflowIsAnError) {
  const auto path = write_unstored_train("wrap", (hsize_t{1} << 62) + 16, 1);
  EXPECT_THAT(dataset_error(path),
              HasSubstr("dataset 'train' in '" + path.string() +
                        "' claims shape 4611686018427387920 x 1 but the file stores only 0 bytes"));
  std::filesystem::remove(path);
}

// Memory exhaustion: a 6 KB file made load_dataset allocate 4 GiB for a 2^20 x 2^10 train
// (libFuzzer: out-of-memory (malloc(4294967296))) before HDF5 produced fill values.
TEST(FuzzRegressions, HdfShapeLargerThanTheFileIsAnError) {
  const auto path = write_unstored_train("huge", hsize_t{1} << 20, hsize_t{1} << 10);
  EXPECT_THAT(dataset_error(path),
              HasSubstr("claims shape 1048576 x 1024 but the file stores only"));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace annbench
