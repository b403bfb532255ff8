// gpu-flat (host side): exact k-NN on a CUDA device. The base set stays resident in device memory;
// queries are processed in batches, the base in tiles: one cuBLAS SGEMM per (query batch, base
// tile) gives inner products, a kernel turns them into distances (norms precomputed) and folds each
// query's tile into its running top-k with a block-wide bitonic selection (select.h, shared
// with the host tests).

#include "cuda_check.h"
#include "kernels.h"

#include <annbench/gpu/select.h>
#include <annbench/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

namespace annbench::gpu {
namespace {

constexpr int kMaxK = 1024;
constexpr std::size_t kQueryBatch = 1024;
// Products of one (query batch × base tile) in floats: 256 MB of workspace at most.
constexpr std::size_t kWorkspaceFloats = std::size_t{64} << 20;

template <typename T>
struct DeviceBuffer {
  T* data = nullptr;
  std::size_t count = 0;
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t n) : count(n) {
    if (n > 0) ANNBENCH_CUDA(cudaMalloc(reinterpret_cast<void**>(&data), n * sizeof(T)));
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept : data(other.data), count(other.count) {
    other.data = nullptr;
  }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    std::swap(data, other.data);
    std::swap(count, other.count);
    return *this;
  }
  ~DeviceBuffer() {
    if (data != nullptr) cudaFree(data);  // no throw from a destructor; a failure here is moot
  }
  std::size_t bytes() const { return count * sizeof(T); }
};

class GpuFlatIndex final : public Index {
 public:
  GpuFlatIndex(Metric metric, std::size_t dim) : metric_(metric), dim_(dim) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    ANNBENCH_CHECK(status == cudaSuccess && devices > 0,
                   "no CUDA device: gpu-flat unavailable ({})",
                   status == cudaSuccess ? "0 devices" : cudaGetErrorString(status));
    ANNBENCH_CUBLAS(cublasCreate(&blas_));
  }
  ~GpuFlatIndex() override {
    if (blas_ != nullptr) cublasDestroy(blas_);
  }

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "gpu-flat: base has dimension {}, expected {}", base.dim,
                   dim_);
    ANNBENCH_CHECK(base.rows <= static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
                   "gpu-flat: {} base vectors exceed the 32-bit ids it uses", base.rows);
    std::size_t free_bytes = 0, total_bytes = 0;
    ANNBENCH_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
    const std::size_t needed =
        base.rows * (dim_ + 1) * sizeof(float) + kWorkspaceFloats * sizeof(float);
    ANNBENCH_CHECK(
        needed < free_bytes,
        "gpu-flat: the base set needs {} bytes of device memory with its workspace, {} of "
        "{} are free (tiling from host memory is not implemented)",
        needed, free_bytes, total_bytes);
    rows_ = base.rows;
    base_ = DeviceBuffer<float>(rows_ * dim_);
    norms_ = DeviceBuffer<float>(rows_);
    ANNBENCH_CUDA(cudaMemcpy(base_.data, base.data, base_.bytes(), cudaMemcpyHostToDevice));
    ANNBENCH_CUDA(launch_squared_norms(base_.data, rows_, dim_, norms_.data));
    if (metric_ == Metric::Angular) {
      ANNBENCH_CUDA(launch_normalize_rows(base_.data, rows_, dim_, norms_.data));
    }
    ANNBENCH_CUDA(cudaDeviceSynchronize());
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    search_batch({query, 1, dim_}, k, out);
  }

  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(k >= 1 && k <= kMaxK, "gpu-flat: k = {} is outside [1, {}]", k, kMaxK);
    const int width = selection_width(static_cast<int>(k));
    const std::size_t batch_rows = std::min(kQueryBatch, std::max<std::size_t>(queries.rows, 1));
    const std::size_t tile_rows = std::max<std::size_t>(width, kWorkspaceFloats / batch_rows);
    DeviceBuffer<float> device_queries(batch_rows * dim_);
    DeviceBuffer<float> products(batch_rows * std::min(tile_rows, std::max<std::size_t>(rows_, 1)));
    DeviceBuffer<Candidate> best(batch_rows * width);
    std::vector<Candidate> host_best(batch_rows * width);
    std::vector<float> normalised;
    for (std::size_t first = 0; first < queries.rows; first += batch_rows) {
      const std::size_t count = std::min(batch_rows, queries.rows - first);
      const float* source = queries.row(first);
      if (metric_ == Metric::Angular) {
        normalised.assign(source, source + count * dim_);
        for (std::size_t q = 0; q < count; ++q) normalise(normalised.data() + q * dim_);
        source = normalised.data();
      }
      ANNBENCH_CUDA(cudaMemcpy(device_queries.data, source, count * dim_ * sizeof(float),
                               cudaMemcpyHostToDevice));
      const std::size_t slots = count * static_cast<std::size_t>(width);
      ANNBENCH_CUDA(launch_reset_best(best.data, slots));
      for (std::size_t tile = 0; tile < rows_; tile += tile_rows) {
        const std::size_t rows = std::min(tile_rows, rows_ - tile);
        const float one = 1.0f, zero = 0.0f;
        // Column-major view: base tile is dim × rows, queries dim × count; products = baseᵀ·q
        // is rows × count, i.e. one contiguous column of `rows` products per query.
        ANNBENCH_CUBLAS(cublasSgemm(blas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows),
                                    static_cast<int>(count), static_cast<int>(dim_), &one,
                                    base_.data + tile * dim_, static_cast<int>(dim_),
                                    device_queries.data, static_cast<int>(dim_), &zero,
                                    products.data, static_cast<int>(rows)));
        ANNBENCH_CUDA(launch_fold_tile(products.data, rows, count, tile, norms_.data,
                                       metric_ == Metric::L2, best.data, width));
      }
      ANNBENCH_CUDA(cudaMemcpy(host_best.data(), best.data, slots * sizeof(Candidate),
                               cudaMemcpyDeviceToHost));
      for (std::size_t q = 0; q < count; ++q) {
        for (std::size_t j = 0; j < k; ++j) {
          const Candidate& c = host_best[q * width + j];
          out[(first + q) * k + j] = c.id < 0 ? Neighbor{} : Neighbor{c.id, c.distance};
        }
      }
    }
    distances_.add(rows_ * queries.rows);
  }

  std::size_t memory_bytes() const override { return base_.bytes() + norms_.bytes(); }
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  void normalise(float* v) const {
    double sum = 0;
    for (std::size_t d = 0; d < dim_; ++d) sum += static_cast<double>(v[d]) * v[d];
    if (sum == 0) return;
    const auto scale = static_cast<float>(1.0 / std::sqrt(sum));
    for (std::size_t d = 0; d < dim_; ++d) v[d] *= scale;
  }

  Metric metric_;
  std::size_t dim_;
  std::size_t rows_ = 0;
  cublasHandle_t blas_ = nullptr;
  DeviceBuffer<float> base_;
  DeviceBuffer<float> norms_;
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& /*build*/) {
  return std::make_unique<GpuFlatIndex>(metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleInfo kInfo = [] {
  ModuleInfo info;
  info.name = "gpu-flat";
  info.description =
      "exact search on a CUDA device (cuBLAS SGEMM + block-wide bitonic top-k, k <= 1024)";
  info.metrics = kMetrics;
  info.capabilities = kCapNativeBatch;
  info.create = &create;
  return info;
}();

}  // namespace
}  // namespace annbench::gpu

ANNBENCH_MODULE(annbench::gpu::kInfo)
