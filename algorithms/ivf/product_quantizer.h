#pragma once
// Product quantizer (Jégou, Douze and Schmid, "Product quantization for nearest neighbor
// search", TPAMI 2011): the dimension is cut into m sub-vectors of dim / m floats, each coded
// by the index of its nearest of 2^nbits sub-centroids (k-means per sub-space), one byte per
// sub-vector.

#include <annbench/matrix.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace annbench::ivf {

class ProductQuantizer {
 public:
  ProductQuantizer() = default;
  // Checks that m divides dim and nbits is in [1, 8]; errors name the module.
  ProductQuantizer(std::size_t dim, std::size_t m, std::size_t nbits, const char* module);

  // Trains the m codebooks on (a sample of) data; needs at least 2^nbits rows.
  void train(MatrixView data, std::size_t iterations, std::uint64_t seed);

  // codes: data.rows × m bytes, row-major. Parallel over rows (block kernel per sub-space).
  void encode(MatrixView data, std::uint8_t* codes) const;
  // out: dim floats, the reconstruction of one code.
  void decode(const std::uint8_t* code, float* out) const;

  // table[j * ksub + c] = <x_j, p_jc>: the inner product of sub-vector j of x with codeword c.
  void inner_product_table(const float* x, float* table) const;
  // table[j * ksub + c] = |x_j - p_jc|^2.
  void l2_table(const float* x, float* table) const;
  // table[j * ksub + c] = |p_jc|^2.
  void norm_table(float* table) const;

  std::size_t m() const { return m_; }
  std::size_t dsub() const { return dsub_; }
  std::size_t ksub() const { return ksub_; }
  std::size_t dim() const { return m_ * dsub_; }
  // Codeword c of sub-space j: dsub floats.
  const float* codeword(std::size_t j, std::size_t c) const {
    return codebooks_.row(j * ksub_ + c);
  }
  std::size_t memory_bytes() const { return codebooks_.bytes() + by_dimension_.bytes(); }
  // (m · ksub) × dsub; empty until trained.
  const FloatMatrix& codebooks() const { return codebooks_; }
  bool trained() const { return codebooks_.rows() != 0; }
  // Codebooks read from an index file: (m · ksub) × dsub, checked by the caller.
  void set_codebooks(FloatMatrix codebooks);

 private:
  void transpose_codebooks();
  // table[j * ksub + c] = sum over t of term(x_jt, p_jct), summed in coordinate order.
  template <typename Term>
  void table_by_dimension(const float* x, float* table, Term term) const;
  std::size_t m_ = 0, dsub_ = 0, ksub_ = 0;
  FloatMatrix codebooks_;  // (m * ksub) × dsub: sub-space j owns rows [j * ksub, (j + 1) * ksub)
  // The same values by dimension, (m * dsub) × ksub: row j * dsub + t holds coordinate t of
  // every codeword of sub-space j, so a query's table is built with contiguous vector loads
  // (one multiply-add per codeword and coordinate) instead of one short dot product each.
  FloatMatrix by_dimension_;
};

}  // namespace annbench::ivf
