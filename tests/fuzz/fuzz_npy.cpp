// Fuzzes the NumPy .npy reader. A clean annbench::Error is the expected outcome for malformed
// input.

#include "fuzz_input_file.h"

#include <annbench/datasets/convert.h>
#include <annbench/error.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path path = annbench::fuzz::input_path(".npy");
  annbench::fuzz::write_input(path, data, size);
  try {
    (void)annbench::read_vectors(path);
  } catch (const annbench::Error&) {
  }
  return 0;
}
