// Product quantizer: per-sub-space k-means, encoding and distance tables. See
// product_quantizer.h.

#include "product_quantizer.h"

#include <annbench/common/distance.h>
#include <annbench/common/kmeans.h>
#include <annbench/error.h>

#include <algorithm>

namespace annbench::ivf {
namespace {

// Sub-space j of every row of data, as a contiguous rows × dsub matrix.
FloatMatrix sub_columns(MatrixView data, std::size_t j, std::size_t dsub) {
  FloatMatrix out(data.rows, dsub);
  const auto n = static_cast<std::int64_t>(data.rows);
#pragma omp parallel for schedule(static) if (data.rows * dsub >= (1 << 20))
  for (std::int64_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::size_t>(i);
    std::copy_n(data.row(row) + j * dsub, dsub, out.row(row));
  }
  return out;
}

}  // namespace

ProductQuantizer::ProductQuantizer(std::size_t dim, std::size_t m, std::size_t nbits,
                                   const char* module)
    : m_(m) {
  ANNBENCH_CHECK(m >= 1 && dim % m == 0,
                 "{}: m ({}) must divide the dimension ({}) into equal sub-vectors", module, m,
                 dim);
  ANNBENCH_CHECK(nbits >= 1 && nbits <= 8, "{}: nbits ({}) must be in [1, 8] (one byte per code)",
                 module, nbits);
  dsub_ = dim / m;
  ksub_ = std::size_t{1} << nbits;
}

void ProductQuantizer::train(MatrixView data, std::size_t iterations, std::uint64_t seed) {
  ANNBENCH_CHECK(data.rows >= ksub_,
                 "product quantizer: {} codewords per sub-space (2^nbits) need at least as many "
                 "training vectors, got {}",
                 ksub_, data.rows);
  codebooks_ = FloatMatrix(m_ * ksub_, dsub_);
  for (std::size_t j = 0; j < m_; ++j) {
    const FloatMatrix sub = sub_columns(data, j, dsub_);
    KMeansParams params;
    params.k = ksub_;
    params.iterations = iterations;
    params.seed = seed + j;
    // As faiss: k-means++ would make 2^nbits passes over the sample for every sub-space.
    params.init = KMeansInit::Random;
    const KMeansResult result = kmeans(sub.view(), params);
    std::copy_n(result.centroids.data(), ksub_ * dsub_, codebooks_.row(j * ksub_));
  }
  transpose_codebooks();
}

void ProductQuantizer::set_codebooks(FloatMatrix codebooks) {
  codebooks_ = std::move(codebooks);
  transpose_codebooks();
}

void ProductQuantizer::transpose_codebooks() {
  if (!trained()) {  // an index loaded before its first add()
    by_dimension_ = FloatMatrix();
    return;
  }
  by_dimension_ = FloatMatrix(m_ * dsub_, ksub_);
  for (std::size_t j = 0; j < m_; ++j) {
    for (std::size_t c = 0; c < ksub_; ++c) {
      const float* word = codeword(j, c);
      for (std::size_t t = 0; t < dsub_; ++t) by_dimension_.row(j * dsub_ + t)[c] = word[t];
    }
  }
}

void ProductQuantizer::encode(MatrixView data, std::uint8_t* codes) const {
  std::vector<std::uint32_t> labels(data.rows);
  for (std::size_t j = 0; j < m_; ++j) {
    const FloatMatrix sub = sub_columns(data, j, dsub_);
    const MatrixView book{codebooks_.row(j * ksub_), ksub_, dsub_};
    nearest_centroids(sub.view(), book, false, labels.data());
    for (std::size_t i = 0; i < data.rows; ++i)
      codes[i * m_ + j] = static_cast<std::uint8_t>(labels[i]);
  }
}

void ProductQuantizer::decode(const std::uint8_t* code, float* out) const {
  for (std::size_t j = 0; j < m_; ++j) std::copy_n(codeword(j, code[j]), dsub_, out + j * dsub_);
}

// Both tables walk the codewords by dimension: for each coordinate t of sub-space j, one pass
// over the ksub codewords' t-th values (contiguous), accumulated in coordinate order, so each
// entry sums the same terms in the same order as a plain loop over the sub-vector would.
template <typename Term>
void ProductQuantizer::table_by_dimension(const float* x, float* table, Term term) const {
  for (std::size_t j = 0; j < m_; ++j) {
    float* out = table + j * ksub_;
    std::fill_n(out, ksub_, 0.0f);
    for (std::size_t t = 0; t < dsub_; ++t) {
      const float xt = x[j * dsub_ + t];
      const float* column = by_dimension_.row(j * dsub_ + t);
      for (std::size_t c = 0; c < ksub_; ++c) out[c] += term(xt, column[c]);
    }
  }
}

void ProductQuantizer::inner_product_table(const float* x, float* table) const {
  table_by_dimension(x, table, [](float a, float b) { return a * b; });
}

void ProductQuantizer::l2_table(const float* x, float* table) const {
  table_by_dimension(x, table, [](float a, float b) {
    const float diff = a - b;
    return diff * diff;
  });
}

void ProductQuantizer::norm_table(float* table) const {
  const auto ip = distance_kernels().inner_product;
  for (std::size_t j = 0; j < m_; ++j) {
    for (std::size_t c = 0; c < ksub_; ++c)
      table[j * ksub_ + c] = ip(codeword(j, c), codeword(j, c), dsub_);
  }
}

}  // namespace annbench::ivf
