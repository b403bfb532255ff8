#pragma once
// Seeded synthetic data that is identical on every platform: std::mt19937_64 is fully specified
// by the standard, and the uniform and normal transforms are our own (std::normal_distribution's
// output is implementation-defined).

#include <annbench/matrix.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

namespace annbench {

// n × dim points drawn like sklearn's make_blobs, which ANN-Benchmarks' random-* datasets use:
// `clusters` centres uniform in [-10, 10]^dim, each point a uniformly chosen centre plus
// N(0, spread²) noise per coordinate. Same arguments → bit-identical output.
FloatMatrix gaussian_mixture(std::size_t n, std::size_t dim, std::size_t clusters,
                             std::uint64_t seed, float spread = 1.0f);

// Told as make_synthetic_dataset goes: `stage` "train" (rows drawn and written) then "ground
// truth" (train rows scanned), with `done` of `total` rows.
using SyntheticProgress =
    std::function<void(std::string_view stage, std::size_t done, std::size_t total)>;

// Writes a complete dataset file (train, test, exact k-NN ground truth, attributes recording the
// recipe): n_train + n_test points from one gaussian_mixture stream, the first n_train as train
// and the rest as test (the points are i.i.d., so this split is already a random one). The file
// is the one write_dataset writes from gaussian_mixture(n_train + n_test, ...) and
// compute_ground_truth, byte for byte, but train is written block by block as it is drawn and
// the ground truth is compute_ground_truth_streamed within memory_bytes (0: the default, a
// quarter of the machine's memory), so n_train × dim floats never have to fit in memory.
void make_synthetic_dataset(const std::filesystem::path& path, std::size_t n_train,
                            std::size_t n_test, std::size_t dim, Metric metric,
                            std::size_t clusters, std::uint64_t seed, std::size_t k = 100,
                            std::size_t memory_bytes = 0, const SyntheticProgress& progress = {});

// The same mixture quantized to bytes, like SIFT's or BigANN's uint8 descriptors: each value x
// becomes round(8x) + 128 clamped to 0 .. 255 (uint8) or round(8x) clamped to -128 .. 127
// (int8), so the centres' [-10, 10] spans 48 .. 208 and the spread is 8 steps. Stored in its type
// (point_type uint8 / int8) with exact ground truth on the quantized values. Built in memory
// (n × dim floats while quantizing).
void make_synthetic_integer_dataset(const std::filesystem::path& path, ElementType type,
                                    std::size_t n_train, std::size_t n_test, std::size_t dim,
                                    Metric metric, std::size_t clusters, std::uint64_t seed,
                                    std::size_t k = 100);

}  // namespace annbench
