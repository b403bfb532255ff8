#pragma once
// Small-sample statistics for speed comparisons between two builds.

#include <span>

namespace annbench {

// One-sided Mann–Whitney U test of H1 "values in `x` tend to be smaller than values in `y`".
// Returns the p-value: the probability, if both samples came from one distribution, of a U
// statistic at most the observed one (U counts pairs with x_i > y_j, ties as 1/2). Exact
// (enumerated rank-sum distribution) when there are no ties and both samples have at most 50
// values; otherwise the normal approximation with tie correction and continuity correction.
// Samples need at least one value each. With m = n = 5 the smallest p possible is 1/252.
double mann_whitney_less(std::span<const double> x, std::span<const double> y);

// Median of the values (mean of the middle two for an even count); NaN for none.
double median(std::span<const double> values);

}  // namespace annbench
