// Compact storage (storage fp16 / sq8): what the layer-0 blocks hold instead of float vectors,
// the SQ8 codec's training, the float copy that re-ranks, and the distances construction takes
// between two nodes. For storage float these functions return at once or hand back the block:
// its blocks are written by copy_vector() as before.

#include "hnsw_index.h"

#include <annbench/common/compact_distance.h>
#include <annbench/common/normalize.h>
#include <annbench/error.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace annbench::hnsw {
namespace {

// The largest finite fp16 magnitude; encode_fp16 turns values from 65520 up into infinities.
constexpr float kFp16Max = 65504.0f;

}  // namespace

const char* storage_name(Storage storage) {
  switch (storage) {
    case Storage::Float: return "float";
    case Storage::Sq8: return "sq8";
    case Storage::Fp16: return "fp16";
  }
  return "unknown";
}

Storage parse_storage(const std::string& name) {
  for (const Storage s : {Storage::Float, Storage::Sq8, Storage::Fp16}) {
    if (name == storage_name(s)) return s;
  }
  ANNBENCH_FAIL("hnsw: storage = '{}' is not one of float, sq8, fp16", name);
}

void HnswIndex::set_codec(Sq8Codec codec) {
  ANNBENCH_CHECK(codec.dim() == dim_, "hnsw: SQ8 codec of dimension {} for vectors of {}",
                 codec.dim(), dim_);
  sq8_.emplace(std::move(codec));
  sq8_min_ = sq8_->min().data();
  sq8_scale_ = sq8_->scale().data();
}

void HnswIndex::prepare_storage(MatrixView vectors, bool building) {
  if (config_.storage == Storage::Float) return;
  ANNBENCH_CHECK(vectors.dim == dim_, "hnsw: {} given vectors of dimension {}, expected {}",
                 building ? "build()" : "add()", vectors.dim, dim_);
  // Angular vectors are normalised before they are stored, so only the raw metrics can exceed
  // fp16's range; an infinity would make every distance to the node infinite or NaN.
  if (config_.storage == Storage::Fp16 && metric_ != Metric::Angular) {
    for (std::size_t i = 0; i < vectors.rows; ++i) {
      const float* row = vectors.row(i);
      for (std::size_t j = 0; j < dim_; ++j) {
        ANNBENCH_CHECK(std::fabs(row[j]) <= kFp16Max,
                       "hnsw: storage fp16 cannot hold the value {} (row {}, column {} of the "
                       "vectors given to {}): fp16 holds magnitudes up to {}; use storage float or "
                       "sq8",
                       row[j], i, j, building ? "build()" : "add()", kFp16Max);
      }
    }
  }
  // Trained on what is stored: the normalised vectors for angular. An index built empty
  // trains on its first add() batch (README, "Compact storage"). Trained before anything
  // changes, so a refused base (a value that is not finite) leaves the index as it was.
  std::optional<Sq8Codec> trained;
  if (config_.storage == Storage::Sq8 && (building || !sq8_) && vectors.rows > 0) {
    if (metric_ == Metric::Angular) {
      const FloatMatrix unit = normalized_copy(vectors);
      trained = Sq8Codec::train(unit.data(), vectors.rows, dim_);
    } else {
      trained = Sq8Codec::train(vectors.data, vectors.rows, dim_);
    }
  }
  if (building) {
    sq8_.reset();
    sq8_min_ = sq8_scale_ = nullptr;
    // Construction's queries are the nodes' own float vectors, whatever keep_float says:
    // finish_build() drops the copy afterwards.
    float_copy_ = true;
  }
  if (trained) set_codec(std::move(*trained));
}

void HnswIndex::finish_build() {
  if (config_.storage == Storage::Float || config_.keep_float) return;
  float_copy_ = false;
  float_ = std::vector<float>();
}

void HnswIndex::store_compact(std::uint32_t node, const float* source) {
  std::vector<float> local;
  float* row = nullptr;
  if (float_copy_) {
    row = float_.data() + node * dim_;
  } else {
    local.resize(dim_);
    row = local.data();
  }
  if (metric_ == Metric::Angular) {
    normalize_into(source, dim_, row);
  } else {
    std::memcpy(row, source, dim_ * sizeof(float));
  }
  std::byte* block = level0_.get() + node * stride_;
  if (config_.storage == Storage::Sq8) {
    // Values outside the trained range clamp to the range's ends (Sq8Codec::encode).
    sq8_->encode(row, reinterpret_cast<std::uint8_t*>(block));
  } else {
    encode_fp16(row, reinterpret_cast<std::uint16_t*>(block), dim_);
  }
}

const float* HnswIndex::query_vector(std::uint32_t node, std::vector<float>& buffer) const {
  if (config_.storage == Storage::Float) return vector(node);
  if (float_copy_) return float_row(node);
  buffer.resize(dim_);
  if (config_.storage == Storage::Sq8) {
    sq8_->decode(reinterpret_cast<const std::uint8_t*>(stored(node)), buffer.data());
  } else {
    decode_fp16(reinterpret_cast<const std::uint16_t*>(stored(node)), buffer.data(), dim_);
  }
  return buffer.data();
}

float HnswIndex::compact_node_distance(std::uint32_t a, std::uint32_t b) const {
  // Decoding needs dim floats per thread; construction runs on the OpenMP threads.
  thread_local std::vector<float> buffer;
  return distance_to(query_vector(a, buffer), b);
}

}  // namespace annbench::hnsw
