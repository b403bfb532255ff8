#pragma once
// k-means (Lloyd) for coarse quantizers and product-quantizer codebooks.
//
// Trains on a seeded random sample of the rows (faiss's convention: at most 256 points per
// centroid; more adds time, hardly quality). Assignment uses the blocked inner-product kernel
// (block_distance.h): squared L2 = |c|^2 - 2 <x, c> + |x|^2, with the OpenMP threads in effect.
//
// Empty clusters are repaired after each update by moving the empty centroid onto the point
// farthest from its centroid in the largest cluster that has distinct points (a split of that
// cluster). An empty centroid serves nobody, so moving it can only lower the objective: the
// objective recorded per iteration never increases (up to float rounding of the assignment).

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace annbench {

enum class KMeansInit {
  Random,    // k distinct sample rows, uniformly
  PlusPlus,  // k-means++ (Arthur and Vassilvitskii 2007): D^2 sampling
};

struct KMeansParams {
  std::size_t k = 0;
  std::size_t iterations = 10;
  // Rows sampled for training; 0: min(rows, 256 * k).
  std::size_t max_sample = 0;
  std::uint64_t seed = 1234;
  KMeansInit init = KMeansInit::PlusPlus;
};

struct KMeansResult {
  FloatMatrix centroids;  // k × dim
  // Mean squared L2 distance of the sample to its nearest centroid: [0] after initialisation,
  // [i] after iteration i (so iterations + 1 values).
  std::vector<double> objective;
  std::size_t repaired = 0;  // empty clusters repaired, over all iterations
};

// data: rows × dim, row-major. Throws annbench::Error when k is 0, k exceeds the rows, or a
// value is not finite. Deterministic for a given seed and input, whatever the thread count.
KMeansResult kmeans(MatrixView data, const KMeansParams& params);

// For each row of data, the nearest centroid by squared L2 (inner_product = false) or the one
// with the largest inner product (true); ties go to the smaller index. labels: rows entries;
// scores (optional): squared L2, or the inner product. Uses the OpenMP threads in effect.
void nearest_centroids(MatrixView data, MatrixView centroids, bool inner_product,
                       std::uint32_t* labels, float* scores = nullptr);

// Throws annbench::Error naming `what`, the row and the column of the first NaN or infinity.
void check_finite(MatrixView data, const char* what);

}  // namespace annbench
