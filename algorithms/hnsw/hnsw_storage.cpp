// Compact storage (storage fp16 / sq8): what the layer-0 blocks hold instead of float vectors,
// the SQ8 codec's training, the float copy that re-ranks, and the distances construction takes
// between two nodes. For storage float these functions return at once or hand back the block:
// its blocks are written by copy_vector() as before.
//
// Integer storage (uint8 / int8, from build_uint8 / build_int8): the blocks hold the base's own
// values, and the walk's query is a vector of the same type (walk_query()), so construction
// (a node's block is its own query) and search take exact integer distances alike.

#include "hnsw_builder.h"
#include "search_scratch.h"

#include <annbench/common/compact_distance.h>
#include <annbench/common/normalize.h>
#include <annbench/error.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace annbench::hnsw {
namespace {

// The largest finite fp16 magnitude; encode_fp16 turns values from 65520 up into infinities.
constexpr float kFp16Max = 65504.0f;

// The range of integer storage's type.
template <typename T>
constexpr float kLowest = static_cast<float>(std::numeric_limits<T>::min());
template <typename T>
constexpr float kHighest = static_cast<float>(std::numeric_limits<T>::max());

// True when v is an integer T holds (false for NaN).
template <typename T>
bool holds(float v) {
  return v >= kLowest<T> && v <= kHighest<T> && v == std::trunc(v);
}

template <typename T>
void convert_row(const float* in, std::size_t dim, std::byte* out) {
  for (std::size_t j = 0; j < dim; ++j) {
    const T value = static_cast<T>(in[j]);
    std::memcpy(out + j, &value, 1);
  }
}

}  // namespace

const char* storage_name(Storage storage) {
  switch (storage) {
    case Storage::Float: return "float";
    case Storage::Sq8: return "sq8";
    case Storage::Fp16: return "fp16";
    case Storage::Uint8: return "uint8";
    case Storage::Int8: return "int8";
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
  if (is_integer(config_.storage)) {
    // Checked before anything changes, as for fp16 below.
    for (std::size_t i = 0; i < vectors.rows; ++i) {
      check_integer_query(vectors.row(i), building ? "build()" : "add()");
    }
    return;
  }
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
  std::byte* block = level0_.get() + node * stride_;
  // Integer storage: prepare_storage() checked that the values are the type's integers.
  if (config_.storage == Storage::Uint8) return convert_row<std::uint8_t>(source, dim_, block);
  if (config_.storage == Storage::Int8) return convert_row<std::int8_t>(source, dim_, block);
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
  if (config_.storage == Storage::Sq8) {
    // Values outside the trained range clamp to the range's ends (Sq8Codec::encode).
    sq8_->encode(row, reinterpret_cast<std::uint8_t*>(block));
  } else {
    encode_fp16(row, reinterpret_cast<std::uint16_t*>(block), dim_);
  }
}

const float* HnswIndex::query_vector(std::uint32_t node, std::vector<float>& buffer) const {
  if (config_.storage == Storage::Float) return vector(node);
  if (is_integer(config_.storage)) return reinterpret_cast<const float*>(stored(node));
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

namespace annbench::hnsw {

void HnswIndex::build_uint8(U8MatrixView base) {
  build_integer(Storage::Uint8, base.data, base.rows, base.dim);
}

void HnswIndex::build_int8(I8MatrixView base) {
  build_integer(Storage::Int8, base.data, base.rows, base.dim);
}

void HnswIndex::build_integer(Storage storage, const void* data, std::size_t rows,
                              std::size_t dim) {
  ANNBENCH_CHECK(dim == dim_, "hnsw: base vectors have dimension {}, expected {}", dim, dim_);
  ANNBENCH_CHECK(metric_ != Metric::Angular,
                 "hnsw: {} vectors take metric euclidean or dot, not angular (angular data is "
                 "normalised, so it arrives as floats)",
                 storage_name(storage));
  // The values are stored exactly in one byte already: a lossy code could only lose accuracy,
  // and a run labelled sq8 / fp16 that stored something else would mislead.
  ANNBENCH_CHECK(requested_storage_ == Storage::Float || is_integer(requested_storage_),
                 "hnsw: storage = {} does not apply to {} vectors, which are stored as they are "
                 "(exact, one byte per dimension); use storage float (the default) for them",
                 storage_name(requested_storage_), storage_name(storage));
  ANNBENCH_CHECK(rows == 0 || data != nullptr, "hnsw: {} rows without data", rows);
  set_storage(storage);
  sq8_.reset();
  sq8_min_ = sq8_scale_ = nullptr;
  const auto* bytes = static_cast<const std::byte*>(data);
  HnswBuilder(*this).run(rows, [&](std::uint32_t node) {
    std::memcpy(level0_.get() + node * stride_, bytes + node * dim_, dim_);
  });
}

void HnswIndex::check_integer_query(const float* query, const char* what) const {
  const bool u8 = config_.storage == Storage::Uint8;
  for (std::size_t j = 0; j < dim_; ++j) {
    const float v = query[j];
    if (u8 ? holds<std::uint8_t>(v) : holds<std::int8_t>(v)) continue;
    ANNBENCH_FAIL(
        "hnsw: {} value {} (dimension {}) is not a {}: this index holds {} vectors, so it takes "
        "integers in [{}, {}]",
        what, v, j, storage_name(config_.storage), storage_name(config_.storage),
        u8 ? kLowest<std::uint8_t> : kLowest<std::int8_t>,
        u8 ? kHighest<std::uint8_t> : kHighest<std::int8_t>);
  }
}

const float* HnswIndex::walk_query(const float* query, SearchScratch& scratch) const {
  check_integer_query(query, "query");
  // Whole floats: the buffer is 4-byte aligned, as the `const float*` it travels as must be.
  scratch.query.resize((dim_ + sizeof(float) - 1) / sizeof(float));
  auto* bytes = reinterpret_cast<std::byte*>(scratch.query.data());
  if (config_.storage == Storage::Uint8) {
    convert_row<std::uint8_t>(query, dim_, bytes);
  } else {
    convert_row<std::int8_t>(query, dim_, bytes);
  }
  return scratch.query.data();
}

}  // namespace annbench::hnsw
