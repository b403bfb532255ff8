// Fuzzes annbench::load_dataset: arbitrary bytes as an ANN-Benchmarks HDF5 file. A clean
// annbench::Error is the expected outcome for malformed input; anything else is a finding.

#include "fuzz_input_file.h"

#include <annbench/datasets/dataset.h>
#include <annbench/error.h>

namespace {

// A dataset that loads must be as consistent as load_dataset promises; trap (a finding) if not.
void check_loaded(const annbench::Dataset& dataset) {
  if (dataset.test.cols() != dataset.train.cols() || dataset.train.empty()) __builtin_trap();
  if (dataset.neighbors.rows() != dataset.distances.rows()) __builtin_trap();
  for (std::size_t i = 0; i < dataset.neighbors.size(); ++i) {
    const std::int32_t id = dataset.neighbors.data()[i];
    if (id < 0 || static_cast<std::size_t>(id) >= dataset.train.rows()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path = annbench::fuzz::input_path(".hdf5");
  annbench::fuzz::write_input(path, data, size);
  try {
    check_loaded(annbench::load_dataset(path));
  } catch (const annbench::Error&) {
  }
  // Optional ground truth and a query limit take different branches (partial reads).
  try {
    check_loaded(annbench::load_dataset(path, {.max_queries = 2, .require_ground_truth = false}));
  } catch (const annbench::Error&) {
  }
  return 0;
}
