#include <annbench/common/distance.h>
#include <annbench/common/normalize.h>
#include <annbench/common/rerank.h>
#include <annbench/common/topk.h>

namespace annbench {

void rerank_exact(Metric metric, const float* query, MatrixView base,
                  std::span<const std::uint32_t> candidates, std::size_t k, Neighbor* out,
                  std::span<const std::int64_t> ids) {
  const DistanceKernels& kernels = distance_kernels();
  // One collector per thread: no allocation per query once warm.
  thread_local TopK<float> best;
  best.reset(k);
  const Score score = metric == Metric::L2 ? Score::kSquaredL2 : Score::kNegativeDot;
  for (const std::uint32_t row : candidates) {
    const float* x = base.row(row);
    const float d = metric == Metric::L2 ? kernels.l2_squared(query, x, base.dim)
                                         : -kernels.inner_product(query, x, base.dim);
    best.push(d, row);
  }
  best.write_sorted(out, k);
  for (std::size_t j = 0; j < k && out[j].id >= 0; ++j) {
    if (!ids.empty()) out[j].id = ids[static_cast<std::size_t>(out[j].id)];
    out[j].distance = to_metric_scale(metric, score, out[j].distance);
  }
}

}  // namespace annbench
