// Fuzzes the IDX readers (raw and gzip): the first byte picks images or labels, the rest is the
// file. A clean annbench::Error is the expected outcome for malformed input.

#include "fuzz_input_file.h"

#include <annbench/datasets/convert.h>
#include <annbench/error.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::filesystem::path path = annbench::fuzz::input_path("-idx-ubyte");
  annbench::fuzz::write_input(path, data + 1, size - 1);
  try {
    if (data[0] & 1) {
      (void)annbench::read_idx_labels(path);
    } else {
      const annbench::FloatMatrix images = annbench::read_vectors(path);
      for (std::size_t i = 0; i < images.size(); ++i) {
        if (!(images.data()[i] >= 0 && images.data()[i] <= 255)) __builtin_trap();
      }
    }
  } catch (const annbench::Error&) {
  }
  return 0;
}
