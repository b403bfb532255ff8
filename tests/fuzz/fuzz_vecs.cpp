// Fuzzes the TEXMEX readers: the first byte picks .fvecs / .bvecs / .ivecs (and a row limit), the
// rest is the file. A clean annbench::Error is the expected outcome for malformed input.

#include "fuzz_input_file.h"

#include <annbench/datasets/convert.h>
#include <annbench/error.h>

#include <array>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::array<std::filesystem::path, 3> paths = {annbench::fuzz::input_path(".fvecs"),
                                                             annbench::fuzz::input_path(".bvecs"),
                                                             annbench::fuzz::input_path(".ivecs")};
  const std::filesystem::path& path = paths[data[0] % 3];
  const std::size_t max_rows = (data[0] / 3) % 4;  // 0 = all rows
  annbench::fuzz::write_input(path, data + 1, size - 1);
  try {
    const annbench::FloatMatrix rows = annbench::read_vecs(path, max_rows);
    if (rows.cols() == 0 || (max_rows > 0 && rows.rows() > max_rows)) __builtin_trap();
  } catch (const annbench::Error&) {
  }
  return 0;
}
