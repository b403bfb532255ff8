// gpu-flat (host side): exact k-NN on a CUDA device. The base set stays resident in device memory;
// queries are processed in batches, the base in tiles: one cuBLAS SGEMM per (query batch, base
// tile) gives inner products, a kernel turns them into scores (norms precomputed) and folds each
// query's tile into its running top-k with a block-wide bitonic selection (select.h, shared
// with the host tests). The host converts the k scores to the metric's scale.
//
// Device buffers of a search (queries, products, running top-k lists), its stream and cuBLAS
// handle live in a workspace leased from a pool: concurrent searches each hold their own, and a
// search allocates only when it needs more than any search on that workspace did before.

#include "cuda_check.h"
#include "kernels.h"

#include <annbench/common/index_file.h>
#include <annbench/common/normalize.h>
#include <annbench/common/scratch_pool.h>
#include <annbench/gpu/select.h>
#include <annbench/module.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace annbench::gpu {
namespace {

constexpr const char* kModule = "gpu-flat";
constexpr std::uint32_t kFormatVersion = 1;
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
    other.count = 0;
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
  // Grows (contents lost) to at least n elements.
  void reserve(std::size_t n) {
    if (n > count) *this = DeviceBuffer(n);
  }
};

// One search's device buffers, stream and cuBLAS handle (a handle is not to be shared between
// threads that set different streams on it).
struct Workspace {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  DeviceBuffer<float> queries;   // batch × dim
  DeviceBuffer<float> products;  // tile rows × batch
  DeviceBuffer<Candidate> best;  // batch × width
  std::vector<Candidate> host_best;
  std::vector<float> host_queries;  // normalised copies (angular)

  Workspace() {
    ANNBENCH_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    const cublasStatus_t status = cublasCreate(&blas);
    if (status != CUBLAS_STATUS_SUCCESS) {
      cudaStreamDestroy(stream);
      ANNBENCH_FAIL("gpu-flat: cublasCreate failed: {}", cublasGetStatusString(status));
    }
    ANNBENCH_CUBLAS(cublasSetStream(blas, stream));
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    if (blas != nullptr) cublasDestroy(blas);
    if (stream != nullptr) cudaStreamDestroy(stream);
  }
  std::size_t bytes() const {
    return queries.bytes() + products.bytes() + best.bytes() +
           host_best.capacity() * sizeof(Candidate) + host_queries.capacity() * sizeof(float);
  }
};

class GpuFlatIndex final : public Index {
 public:
  GpuFlatIndex(Metric metric, std::size_t dim) : metric_(metric), dim_(dim) {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    ANNBENCH_CHECK(status == cudaSuccess && devices > 0,
                   "no CUDA device: gpu-flat unavailable ({})",
                   status == cudaSuccess ? "0 devices" : cudaGetErrorString(status));
  }

  void build(MatrixView base) override {
    ANNBENCH_CHECK(base.dim == dim_, "gpu-flat: base has dimension {}, expected {}", base.dim,
                   dim_);
    upload(base, /*normalize=*/metric_ == Metric::Angular);
  }

  void search(const float* query, std::size_t k, Neighbor* out) const override {
    search_batch({query, 1, dim_}, k, out);
  }

  void search_batch(MatrixView queries, std::size_t k, Neighbor* out) const override {
    ANNBENCH_CHECK(k >= 1 && k <= kMaxK, "gpu-flat: k = {} is outside [1, {}]", k, kMaxK);
    const int width = selection_width(static_cast<int>(k));
    const std::size_t batch_rows = std::min(kQueryBatch, std::max<std::size_t>(queries.rows, 1));
    const std::size_t tile_rows = std::max<std::size_t>(width, kWorkspaceFloats / batch_rows);
    const auto lease = pool_.acquire();
    Workspace& ws = *lease;
    ws.queries.reserve(batch_rows * dim_);
    ws.products.reserve(batch_rows * std::min(tile_rows, std::max<std::size_t>(rows_, 1)));
    ws.best.reserve(batch_rows * width);
    ws.host_best.resize(std::max(ws.host_best.size(), batch_rows * width));
    for (std::size_t first = 0; first < queries.rows; first += batch_rows) {
      const std::size_t count = std::min(batch_rows, queries.rows - first);
      const float* source = queries.row(first);
      if (metric_ == Metric::Angular) {
        ws.host_queries.resize(std::max(ws.host_queries.size(), count * dim_));
        for (std::size_t q = 0; q < count; ++q)
          normalize_into(source + q * dim_, dim_, ws.host_queries.data() + q * dim_);
        source = ws.host_queries.data();
      }
      ANNBENCH_CUDA(cudaMemcpyAsync(ws.queries.data, source, count * dim_ * sizeof(float),
                                    cudaMemcpyHostToDevice, ws.stream));
      const std::size_t slots = count * static_cast<std::size_t>(width);
      ANNBENCH_CUDA(launch_reset_best(ws.best.data, slots, ws.stream));
      for (std::size_t tile = 0; tile < rows_; tile += tile_rows) {
        const std::size_t rows = std::min(tile_rows, rows_ - tile);
        const float one = 1.0f, zero = 0.0f;
        // Column-major view: base tile is dim × rows, queries dim × count; products = baseᵀ·q
        // is rows × count, i.e. one contiguous column of `rows` products per query.
        ANNBENCH_CUBLAS(cublasSgemm(ws.blas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows),
                                    static_cast<int>(count), static_cast<int>(dim_), &one,
                                    base_.data + tile * dim_, static_cast<int>(dim_),
                                    ws.queries.data, static_cast<int>(dim_), &zero,
                                    ws.products.data, static_cast<int>(rows)));
        ANNBENCH_CUDA(launch_fold_tile(ws.products.data, rows, count, tile, norms_.data,
                                       metric_ == Metric::L2, ws.best.data, width, ws.stream));
      }
      ANNBENCH_CUDA(cudaMemcpyAsync(ws.host_best.data(), ws.best.data, slots * sizeof(Candidate),
                                    cudaMemcpyDeviceToHost, ws.stream));
      ANNBENCH_CUDA(cudaStreamSynchronize(ws.stream));
      for (std::size_t q = 0; q < count; ++q) {
        // L2 scores leave out the query's own squared norm (the same for every x).
        double query_norm = 0;
        if (metric_ == Metric::L2) {
          const float* v = queries.row(first + q);
          for (std::size_t d = 0; d < dim_; ++d) query_norm += static_cast<double>(v[d]) * v[d];
        }
        Neighbor* row = out + (first + q) * k;
        for (std::size_t j = 0; j < k; ++j) {
          const Candidate& c = ws.host_best[q * width + j];
          row[j] = c.id < 0 ? Neighbor{} : Neighbor{c.id, metric_scale(c.distance, query_norm)};
        }
      }
    }
    distances_.add(rows_ * queries.rows);
  }

  // The device base (normalised for angular): what load() uploads again as it is.
  void save(const std::string& path) const override {
    std::vector<float> vectors(rows_ * dim_);
    if (!vectors.empty()) {
      ANNBENCH_CUDA(cudaMemcpy(vectors.data(), base_.data, base_.bytes(), cudaMemcpyDeviceToHost));
    }
    IndexFileWriter file(kModule, kFormatVersion, metric_, dim_, rows_);
    file.add("vectors", vectors);
    file.write(path);
  }

  static std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
    const auto file = IndexFileReader::open(path, kModule, kFormatVersion, metric, dim);
    const auto vectors = file.array<float>("vectors", file.rows() * dim);
    auto index = std::make_unique<GpuFlatIndex>(metric, dim);
    index->upload({vectors.data(), file.rows(), dim}, /*normalize=*/false);
    return index;
  }

  // Device base and norms, plus idle workspaces (device and host).
  std::size_t memory_bytes() const override {
    return base_.bytes() + norms_.bytes() + pool_.bytes();
  }
  std::optional<std::uint64_t> distance_count() const override { return distances_.get(); }

 private:
  void upload(MatrixView base, bool normalize) {
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
    pool_.clear();
    rows_ = base.rows;
    base_ = DeviceBuffer<float>(rows_ * dim_);
    norms_ = DeviceBuffer<float>(rows_);
    if (rows_ == 0) return;
    ANNBENCH_CUDA(cudaMemcpy(base_.data, base.data, base_.bytes(), cudaMemcpyHostToDevice));
    ANNBENCH_CUDA(launch_squared_norms(base_.data, rows_, dim_, norms_.data));
    if (normalize) ANNBENCH_CUDA(launch_normalize_rows(base_.data, rows_, dim_, norms_.data));
    ANNBENCH_CUDA(cudaDeviceSynchronize());
  }

  // Device scores: |x|^2 - 2<x,q> (L2, without |q|^2), -<x,q> on unit vectors (angular), -<x,q>
  // (dot).
  float metric_scale(float score, double query_norm) const {
    switch (metric_) {
      case Metric::L2: return std::sqrt(static_cast<float>(std::max(score + query_norm, 0.0)));
      case Metric::Angular: return to_metric_scale(metric_, Score::kNegativeDot, score);
      case Metric::InnerProduct: return score;
    }
    return score;
  }

  Metric metric_;
  std::size_t dim_;
  std::size_t rows_ = 0;
  DeviceBuffer<float> base_;
  DeviceBuffer<float> norms_;
  ScratchPool<Workspace> pool_;
  DistanceCounter distances_;
};

std::unique_ptr<Index> create(Metric metric, std::size_t dim, const Params& /*build*/) {
  return std::make_unique<GpuFlatIndex>(metric, dim);
}

std::unique_ptr<Index> load(const std::string& path, Metric metric, std::size_t dim) {
  return GpuFlatIndex::load(path, metric, dim);
}

constexpr std::array kMetrics = {Metric::L2, Metric::Angular, Metric::InnerProduct};

const ModuleInfo kInfo = {
    .name = kModule,
    .description =
        "exact search on a CUDA device (cuBLAS SGEMM + block-wide bitonic top-k, k <= 1024)",
    .metrics = kMetrics,
    .capabilities = kCapNativeBatch | kCapSaveLoad,
    .create = &create,
    .load = &load,
};

}  // namespace
}  // namespace annbench::gpu

ANNBENCH_MODULE(annbench::gpu::kInfo)
