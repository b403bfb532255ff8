#pragma once
// Distance metrics, with the definitions ANN-Benchmarks uses for its dataset files:
//   euclidean: plain L2 distance (not squared);
//   angular:   1 - cos(q, x); a zero vector has cos = 0 with everything (distance 1);
//   dot:       -<q, x> (inner-product search as a distance: smaller is better).
// Modules may rank by any monotone equivalent (squared L2, negative cosine); the harness
// recomputes every returned neighbour's distance in the dataset metric.

#include <annbench/error.h>

#include <string>
#include <string_view>

namespace annbench {

enum class Metric { L2, Angular, InnerProduct };

constexpr std::string_view metric_name(Metric metric) {
  switch (metric) {
    case Metric::L2: return "euclidean";
    case Metric::Angular: return "angular";
    case Metric::InnerProduct: return "dot";
  }
  return "unknown";
}

// Accepts ANN-Benchmarks' names and the usual aliases.
inline Metric parse_metric(std::string_view name) {
  if (name == "euclidean" || name == "l2") return Metric::L2;
  if (name == "angular" || name == "cosine") return Metric::Angular;
  if (name == "dot" || name == "ip" || name == "inner_product") return Metric::InnerProduct;
  ANNBENCH_FAIL("unknown metric '{}' (expected euclidean, angular or dot)", name);
}

}  // namespace annbench
