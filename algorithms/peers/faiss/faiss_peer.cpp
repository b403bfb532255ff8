// FaissPeer: metric handling, training, result conversion, accounting and save/load around a
// faiss index.

#include "faiss_peer.h"
#include "peer_util.h"

#include <annbench/common/index_file.h>
#include <annbench/common/rerank.h>
#include <annbench/error.h>

#include <dlfcn.h>
#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/utils/utils.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace annbench::peers {
namespace {

using idx_t = faiss::Index::idx_t;

// Version of the sections FaissPeer writes (faiss's own bytes carry faiss's format).
constexpr std::uint32_t kFormatVersion = 1;

// faiss calls BLAS for k-means and for batches of >= 20 queries. Where the BLAS in use is
// OpenBLAS (its own thread pool, deaf to omp_set_num_threads), pin it to the harness's thread
// count too; Debian's default reference BLAS is single-threaded and has no such symbol.
void pin_blas_threads() {
  using SetThreads = void (*)(int);
  static const auto set_threads =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  if (set_threads != nullptr) set_threads(omp_get_max_threads());
}

std::uint64_t global_count(FaissCounting counting) {
  switch (counting) {
    case FaissCounting::kIvfStats: return faiss::indexIVF_stats.ndis;
    default: return 0;
  }
}

}  // namespace

const char* faiss_library() {
  // Read at run time from the library linked, not from the headers: the headers of Debian's
  // faiss and of a native build are the same.
  static const std::string library = std::string("faiss ") + std::to_string(FAISS_VERSION_MAJOR) +
                                     "." + std::to_string(FAISS_VERSION_MINOR) + "." +
                                     std::to_string(FAISS_VERSION_PATCH) + " (" +
                                     faiss::get_compile_options() + "; " ANNBENCH_FAISS_ORIGIN ")";
  return library.c_str();
}

[[noreturn]] void rethrow_faiss(const char* module, const char* what, const std::exception& e) {
  ANNBENCH_FAIL("{}: faiss failed to {}: {}", module, what, e.what());
}

FaissPeer::FaissPeer(FaissRecipe recipe, Metric metric, std::size_t dim)
    : recipe_(std::move(recipe)), metric_(metric), dim_(dim) {
  ANNBENCH_CHECK(dim > 0, "{}: dimension must be positive", recipe_.module);
}

faiss::MetricType FaissPeer::faiss_metric() const {
  // Angular: the inner product of unit vectors is cos, and 1 - cos is exact for zero vectors
  // too (|q - x|^2 / 2 is not).
  return metric_ == Metric::L2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

void FaissPeer::measure_memory() const {
  faiss::VectorIOWriter writer;
  faiss::write_index(holder_.index.get(), &writer);
  memory_bytes_ = writer.data.size() + (recipe_.rerank ? vectors_.rows * dim_ * sizeof(float) : 0);
  memory_stale_ = false;
}

void FaissPeer::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "{}: base vectors have dimension {}, expected {}",
                 recipe_.module, base.dim, dim_);
  pin_blas_threads();
  FloatMatrix normalized;
  const float* data = base.data;
  if (metric_ == Metric::Angular) {
    normalized = normalized_copy(base);
    data = normalized.data();
  }
  holder_ = {};
  mapping_.reset();
  vectors_ = {data, base.rows, dim_};
  owned_vectors_ = recipe_.rerank ? std::move(normalized) : FloatMatrix();
  if (!recipe_.rerank) vectors_ = {};
  try {
    holder_ = recipe_.make(dim_, faiss_metric());
    const auto n = static_cast<idx_t>(base.rows);
    // Zero rows: a streaming index, trained by its first add().
    if (n > 0) {
      if (!holder_.index->is_trained) holder_.index->train(n, data);
      holder_.index->add(n, data);
    } else if (recipe_.id_map) {
      wrap_in_id_map();
    }
    measure_memory();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_faiss(recipe_.module, "build", e);
  }
  global_at_build_ = global_count(recipe_.counting);
}

// IndexIDMap requires an empty index: the vectors already indexed (ids = rows) are copied out
// and added again under their ids.
void FaissPeer::wrap_in_id_map() {
  const idx_t n = holder_.index->ntotal;
  std::vector<float> stored(static_cast<std::size_t>(n) * dim_);
  if (n > 0) holder_.index->reconstruct_n(0, n, stored.data());
  FaissHolder fresh = recipe_.make(dim_, faiss_metric());
  auto map = std::make_unique<faiss::IndexIDMap>(fresh.index.release());
  map->own_fields = true;
  std::vector<idx_t> ids(static_cast<std::size_t>(n));
  for (idx_t i = 0; i < n; ++i) ids[static_cast<std::size_t>(i)] = i;
  if (n > 0) map->add_with_ids(n, stored.data(), ids.data());
  holder_.index = std::move(map);
}

void FaissPeer::add(std::span<const std::int64_t> ids, MatrixView vectors) {
  ANNBENCH_CHECK(holder_.index != nullptr, "{}: add() before build()", recipe_.module);
  ANNBENCH_CHECK(vectors.dim == dim_, "{}: added vectors have dimension {}, expected {}",
                 recipe_.module, vectors.dim, dim_);
  ANNBENCH_CHECK(ids.size() == vectors.rows, "{}: add() of {} vectors with {} ids", recipe_.module,
                 vectors.rows, ids.size());
  if (vectors.rows == 0) return;
  pin_blas_threads();
  FloatMatrix normalized;
  const float* data = vectors.data;
  if (metric_ == Metric::Angular) {
    normalized = normalized_copy(vectors);
    data = normalized.data();
  }
  static_assert(sizeof(idx_t) == sizeof(std::int64_t));
  try {
    if (recipe_.id_map && dynamic_cast<faiss::IndexIDMap*>(holder_.index.get()) == nullptr)
      wrap_in_id_map();
    const auto n = static_cast<idx_t>(vectors.rows);
    if (!holder_.index->is_trained) holder_.index->train(n, data);
    holder_.index->add_with_ids(n, data, reinterpret_cast<const idx_t*>(ids.data()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_faiss(recipe_.module, "add vectors", e);
  }
  memory_stale_ = true;
}

void FaissPeer::remove(std::span<const std::int64_t> ids) {
  ANNBENCH_CHECK(holder_.index != nullptr, "{}: remove() before build()", recipe_.module);
  if (ids.empty()) return;
  try {
    if (recipe_.id_map && dynamic_cast<faiss::IndexIDMap*>(holder_.index.get()) == nullptr)
      wrap_in_id_map();
    const faiss::IDSelectorBatch selector(static_cast<std::size_t>(ids.size()),
                                          reinterpret_cast<const idx_t*>(ids.data()));
    holder_.index->remove_ids(selector);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    rethrow_faiss(recipe_.module, "remove ids", e);
  }
  memory_stale_ = true;
}

std::size_t FaissPeer::memory_bytes() const {
  if (memory_stale_ && holder_.index) measure_memory();
  return memory_bytes_;
}

void FaissPeer::set_search_params(const Params& params) {
  if (recipe_.apply_search && holder_.index) recipe_.apply_search(*holder_.index, params);
}

const faiss::Index& FaissPeer::ready() const {
  ANNBENCH_CHECK(holder_.index != nullptr, "{}: search before build", recipe_.module);
  return *holder_.index;
}

void FaissPeer::convert(std::size_t n, std::size_t k, const float* queries, const float* distances,
                        const idx_t* labels, Neighbor* out) const {
  if (recipe_.rerank) {
    // The k results' own distances, from the vectors: cheap next to the scan that found them.
    thread_local std::vector<std::uint32_t> rows;
    for (std::size_t i = 0; i < n; ++i) {
      rows.clear();
      for (std::size_t j = 0; j < k; ++j) {
        const idx_t label = labels[i * k + j];
        if (label >= 0 && static_cast<std::size_t>(label) < vectors_.rows)
          rows.push_back(static_cast<std::uint32_t>(label));
      }
      rerank_exact(metric_, queries + i * dim_, vectors_, rows, k, out + i * k);
    }
    return;
  }
  // faiss gives squared L2, or the inner product (a similarity) for angular and dot.
  const bool l2 = faiss_metric() == faiss::METRIC_L2;
  const Score score = l2 ? Score::kSquaredL2 : Score::kNegativeDot;
  for (std::size_t i = 0; i < n * k; ++i) {
    out[i] = labels[i] < 0
                 ? Neighbor{}
                 : Neighbor{labels[i],
                            to_metric_scale(metric_, score, l2 ? distances[i] : -distances[i])};
  }
}

std::size_t FaissPeer::asked_k(const faiss::Index& index, std::size_t k) const {
  if (!recipe_.k_at_most_ntotal) return k;
  return std::min(k, static_cast<std::size_t>(index.ntotal));
}

FaissPeer::QueryBuffers& FaissPeer::query_buffers(const float* query, std::size_t k) const {
  // One set per thread: searches may run on several threads at once.
  thread_local QueryBuffers buffers;
  buffers.distances.resize(k);
  buffers.labels.resize(k);
  buffers.query = query;
  if (metric_ == Metric::Angular) {
    buffers.unit.resize(dim_);
    normalize_into(query, dim_, buffers.unit.data());
    buffers.query = buffers.unit.data();
  }
  return buffers;
}

void FaissPeer::search(const float* query, std::size_t k, Neighbor* out) const {
  const faiss::Index& index = ready();
  // Streaming, nothing live (an untrained IVF index would refuse to search).
  if (index.ntotal == 0) {
    pad_results(out, 0, k);
    return;
  }
  const std::size_t asked = asked_k(index, k);
  QueryBuffers& buffers = query_buffers(query, asked);
  query = buffers.query;
  auto& distances = buffers.distances;
  auto& labels = buffers.labels;
  index.search(1, query, static_cast<idx_t>(asked), distances.data(), labels.data());
  convert(1, asked, query, distances.data(), labels.data(), out);
  pad_results(out, asked, k);
  if (recipe_.counting == FaissCounting::kFullScan) own_count_.add(index.ntotal);
  if (recipe_.counting == FaissCounting::kIvfStats) own_count_.add(recipe_.coarse_per_query);
}

// One faiss call for all queries: faiss parallelises over them with OpenMP (and BLAS for flat
// indexes), on the threads the harness set.
void FaissPeer::search_batch(MatrixView queries, std::size_t k, Neighbor* out) const {
  const faiss::Index& index = ready();
  if (index.ntotal == 0) {
    pad_results(out, 0, queries.rows * k);
    return;
  }
  pin_blas_threads();
  FloatMatrix normalized;
  const float* data = queries.data;
  if (metric_ == Metric::Angular) {
    normalized = normalized_copy(queries);
    data = normalized.data();
  }
  const std::size_t asked = asked_k(index, k);
  std::vector<float> distances(queries.rows * asked);
  std::vector<idx_t> labels(queries.rows * asked);
  index.search(static_cast<idx_t>(queries.rows), data, static_cast<idx_t>(asked), distances.data(),
               labels.data());
  if (asked == k) {
    convert(queries.rows, k, data, distances.data(), labels.data(), out);
  } else {
    for (std::size_t q = 0; q < queries.rows; ++q) {
      convert(1, asked, data + q * dim_, distances.data() + q * asked, labels.data() + q * asked,
              out + q * k);
      pad_results(out + q * k, asked, k);
    }
  }
  if (recipe_.counting == FaissCounting::kFullScan) own_count_.add(index.ntotal * queries.rows);
  if (recipe_.counting == FaissCounting::kIvfStats)
    own_count_.add(recipe_.coarse_per_query * queries.rows);
}

// faiss keeps its counters in process-wide globals (faiss::indexIVF_stats),
// so the count is "the global's growth since this index finished building" plus what we count
// ourselves. Exact while one faiss index searches at a time, as the harness does; two faiss
// indexes searched concurrently in one process would see each other's distances.
std::optional<std::uint64_t> FaissPeer::distance_count() const {
  switch (recipe_.counting) {
    case FaissCounting::kNone: return std::nullopt;
    case FaissCounting::kFullScan: return own_count_.get();
    case FaissCounting::kIvfStats:
      return global_count(recipe_.counting) - global_at_build_ + own_count_.get();
  }
  return std::nullopt;
}

void FaissPeer::save(const std::string& path) const {
  const faiss::Index& index = ready();
  faiss::VectorIOWriter writer;
  try {
    faiss::write_index(&index, &writer);
  } catch (const std::exception& e) {
    rethrow_faiss(recipe_.module, "serialise its index", e);
  }
  IndexFileWriter file(recipe_.module, kFormatVersion, metric_, dim_,
                       static_cast<std::size_t>(index.ntotal));
  file.add("faiss", writer.data);
  if (recipe_.rerank) {
    file.add("vectors", std::span<const float>(vectors_.data, vectors_.rows * dim_));
  }
  file.write(path);
}

std::unique_ptr<Index> FaissPeer::load(const char* module, const std::string& path, Metric metric,
                                       std::size_t dim, const FaissRecipeOf& recipe_of) {
  auto file = IndexFileReader::open(path, module, kFormatVersion, metric, dim);
  const auto bytes = file.array<std::uint8_t>("faiss");
  std::unique_ptr<faiss::Index> index;
  try {
    faiss::VectorIOReader reader;
    reader.data.assign(bytes.begin(), bytes.end());
    index.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {
    file.fail(fmt::format("faiss cannot read the index it holds: {}", e.what()));
  }
  auto peer = std::make_unique<FaissPeer>(FaissRecipe{.module = module}, metric, dim);
  if (index->d != static_cast<faiss::Index::idx_t>(dim)) {
    file.fail(fmt::format("faiss index of dimension {}, expected {}", index->d, dim));
  }
  if (static_cast<std::size_t>(index->ntotal) != file.rows()) {
    file.fail(
        fmt::format("faiss index of {} vectors, the header says {}", index->ntotal, file.rows()));
  }
  std::optional<FaissRecipe> recipe;
  try {
    recipe = recipe_of(*index);
  } catch (const std::exception& e) {
    file.fail(fmt::format("faiss index not usable by {}: {}", module, e.what()));
  }
  if (!recipe) file.fail(fmt::format("the faiss index it holds is not a {} index", module));
  // An index ranking by codes (rerank) has no metric of its own.
  if (!recipe->rerank && index->metric_type != peer->faiss_metric()) {
    file.fail(fmt::format("faiss index of faiss metric {}, expected {}",
                          static_cast<int>(index->metric_type),
                          static_cast<int>(peer->faiss_metric())));
  }
  peer->recipe_ = std::move(*recipe);
  if (peer->recipe_.rerank) {
    const auto rows = static_cast<std::size_t>(index->ntotal);
    peer->vectors_ = {file.array<float>("vectors", rows * dim).data(), rows, dim};
    peer->mapping_ = file.mapping();
  }
  peer->holder_.index = std::move(index);
  peer->measure_memory();
  return peer;
}

const faiss::Index& unwrap_id_map(const faiss::Index& index) {
  const auto* map = dynamic_cast<const faiss::IndexIDMap*>(&index);
  return map != nullptr && map->index != nullptr ? *map->index : index;
}

std::int64_t default_int(std::span<const ParamSpec> specs, std::string_view name) {
  for (const ParamSpec& spec : specs) {
    if (spec.name == name) return std::get<std::int64_t>(spec.default_value);
  }
  ANNBENCH_FAIL("no integer parameter {}", name);
}

bool usable_ivf(const faiss::IndexIVF& ivf) {
  if (ivf.nlist == 0 || ivf.quantizer == nullptr || ivf.invlists == nullptr) return false;
  if (dynamic_cast<const faiss::IndexFlat*>(ivf.quantizer) == nullptr) return false;
  if (ivf.quantizer->d != ivf.d || ivf.invlists->nlist != ivf.nlist) return false;
  return !ivf.is_trained || static_cast<std::size_t>(ivf.quantizer->ntotal) == ivf.nlist;
}

void apply_ivf_nprobe(const char* module, faiss::Index& index, const Params& params) {
  auto& ivf = dynamic_cast<faiss::IndexIVF&>(index);
  const auto nprobe = static_cast<std::size_t>(params.get_int("nprobe"));
  ANNBENCH_CHECK(nprobe <= ivf.nlist, "{}: nprobe={} exceeds nlist={}", module, nprobe, ivf.nlist);
  ivf.nprobe = nprobe;
}

}  // namespace annbench::peers
