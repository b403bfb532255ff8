#pragma once
// What the compact-kernel tests share: the dimensions they sweep and a fixture that runs a test
// on one kernel variant (the test parameter names its ISA), skipped where this CPU lacks it.

#include <annbench/common/compact_distance.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

namespace annbench::test {

// Odd sizes, SIMD widths and their neighbours, and sizes past the 16-bit block lengths.
inline const std::vector<std::size_t> kCompactDims = {
    1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 255, 784, 1000, 4099};

class CompactVariantTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    for (const CompactKernels& k : available_compact_kernels()) {
      if (std::string(k.isa) == GetParam()) kernels_ = &k;
    }
    if (kernels_ == nullptr) GTEST_SKIP() << "this CPU cannot run the " << GetParam() << " kernels";
  }
  const CompactKernels& k() const { return *kernels_; }

 private:
  const CompactKernels* kernels_ = nullptr;
};

}  // namespace annbench::test
