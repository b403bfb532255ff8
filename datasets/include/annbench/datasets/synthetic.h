#pragma once
// Seeded synthetic data that is identical on every platform: std::mt19937_64 is fully specified
// by the standard, and the uniform and normal transforms are our own (std::normal_distribution's
// output is implementation-defined).

#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace annbench {

// n × dim points drawn like sklearn's make_blobs, which ANN-Benchmarks' random-* datasets use:
// `clusters` centres uniform in [-10, 10]^dim, each point a uniformly chosen centre plus
// N(0, spread²) noise per coordinate. Same arguments → bit-identical output.
FloatMatrix gaussian_mixture(std::size_t n, std::size_t dim, std::size_t clusters,
                             std::uint64_t seed, float spread = 1.0f);

// Writes a complete dataset file (train, test, exact k-NN ground truth, attributes recording the
// recipe): n_train + n_test points from one gaussian_mixture call, the first n_train as train and
// the rest as test (the points are i.i.d., so this split is already a random one).
void make_synthetic_dataset(const std::filesystem::path& path, std::size_t n_train,
                            std::size_t n_test, std::size_t dim, Metric metric,
                            std::size_t clusters, std::uint64_t seed, std::size_t k = 100);

}  // namespace annbench
