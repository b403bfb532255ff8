#pragma once

#include <cstdint>
#include <limits>

namespace annbench {

// One search result. Unused slots (fewer than k results) keep id -1 and distance +inf.
struct Neighbor {
  std::int64_t id = -1;
  float distance = std::numeric_limits<float>::infinity();  // module's own scale
};

}  // namespace annbench
