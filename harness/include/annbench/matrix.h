#pragma once
// Row-major n × d matrices: a non-owning view (what modules receive) and an owning,
// 64-byte-aligned buffer (what datasets and modules allocate).

#include <annbench/error.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace annbench {

// rows × dim floats, row-major, contiguous.
struct MatrixView {
  const float* data = nullptr;
  std::size_t rows = 0;
  std::size_t dim = 0;
  const float* row(std::size_t i) const { return data + i * dim; }
};

inline constexpr std::size_t kMatrixAlignment = 64;

template <typename T>
class Matrix {
 public:
  Matrix() = default;
  Matrix(std::size_t rows, std::size_t cols) : rows_(rows), cols_(cols) {
    const std::size_t bytes = rows * cols * sizeof(T);
    if (bytes == 0) return;
    const std::size_t rounded =
        (bytes + kMatrixAlignment - 1) / kMatrixAlignment * kMatrixAlignment;
    void* raw = std::aligned_alloc(kMatrixAlignment, rounded);
    if (raw == nullptr)
      ANNBENCH_FAIL("out of memory allocating a {} x {} matrix ({} bytes)", rows, cols, bytes);
    data_.reset(static_cast<T*>(raw));
  }
  Matrix(std::size_t rows, std::size_t cols, T fill) : Matrix(rows, cols) {
    for (std::size_t i = 0; i < rows * cols; ++i) data_.get()[i] = fill;
  }

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t size() const { return rows_ * cols_; }
  bool empty() const { return size() == 0; }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T* row(std::size_t i) { return data_.get() + i * cols_; }
  const T* row(std::size_t i) const { return data_.get() + i * cols_; }
  T& operator()(std::size_t i, std::size_t j) { return data_.get()[i * cols_ + j]; }
  const T& operator()(std::size_t i, std::size_t j) const { return data_.get()[i * cols_ + j]; }
  std::size_t bytes() const { return size() * sizeof(T); }

  MatrixView view() const requires std::is_same_v<T, float> { return {data_.get(), rows_, cols_}; }

 private:
  struct FreeDeleter {
    void operator()(T* p) const { std::free(p); }
  };
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::unique_ptr<T, FreeDeleter> data_;
};

using FloatMatrix = Matrix<float>;

}  // namespace annbench
