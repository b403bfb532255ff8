#pragma once
// Distance kernels. Scalar reference versions plus SIMD variants (AVX2+FMA, AVX-512) chosen once
// at run time for this CPU; all variants are tested against the scalar reference.
//
// The SIMD variants are compiled with target attributes, so they exist whatever -march the build
// uses and are only called after a CPU check. ANNBENCH_SIMD=scalar|avx2|avx512 in the environment
// caps the choice (read once, at the first call), to compare variants on one machine.

#include <annbench/metric.h>

#include <cstddef>
#include <span>

namespace annbench {

// The dataset metric's distance (see metric.h), accumulated in double: the definition that
// ground truth and the harness's recomputed result distances share, so a true neighbour always
// scores as a hit. Not for hot loops.
//
// Every variant sums in the same order (element i into lane i % 32, fused multiply-add, lanes
// combined by halving), so all CPUs and builds return the same bits. Angular clamps cos to
// [-1, 1]; a zero vector has distance 1 to everything.
double exact_distance(Metric metric, const float* a, const float* b, std::size_t dim);

struct DistanceKernels {
  const char* isa;  // "avx512", "avx2", "scalar"
  // Floats summed side by side: a float sum over dim terms goes through at most
  // dim / lanes + 2 log2(lanes) + 2 roundings (for error bounds; 1 = sequential).
  std::size_t lanes;
  // Single precision, for hot loops. dim may be anything (0 gives 0); no alignment needed.
  float (*l2_squared)(const float* a, const float* b, std::size_t dim);  // sum (a_i - b_i)^2
  float (*inner_product)(const float* a, const float* b, std::size_t dim);
  // exact_distance as computed by this variant (identical bits in every variant).
  double (*exact)(Metric metric, const float* a, const float* b, std::size_t dim);
};

// Best kernels for this CPU, picked on first call.
const DistanceKernels& distance_kernels();
// The portable reference (for tests and as fallback).
const DistanceKernels& scalar_distance_kernels();
// Every variant this CPU can run (ignoring ANNBENCH_SIMD), best first, scalar last.
std::span<const DistanceKernels> available_distance_kernels();

// Upper bound on the rounding error of a float dot product of length dim computed with `lanes`
// partial sums, relative to sum |a_i b_i| (the usual gamma_n = n u / (1 - n u), with slack).
double dot_error_factor(std::size_t dim, std::size_t lanes);

}  // namespace annbench
