#pragma once
// Row-major n × d matrices: a non-owning view (what modules receive) and an owning,
// 64-byte-aligned buffer (what datasets and modules allocate).

#include <annbench/error.h>

#include <cstddef>
#include <cstdint>
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

// The element type vectors are stored in. Datasets published as uint8 (SIFT, BigANN) or int8
// (SpaceV) stay in it: a quarter of float32's memory.
enum class ElementType : std::uint8_t { kFloat32, kUint8, kInt8 };

inline const char* element_type_name(ElementType type) {
  switch (type) {
    case ElementType::kUint8: return "uint8";
    case ElementType::kInt8: return "int8";
    case ElementType::kFloat32: break;
  }
  return "float32";
}

// rows × dim values of a byte-wide type, row-major, contiguous.
template <typename T>
struct TypedMatrixView {
  const T* data = nullptr;
  std::size_t rows = 0;
  std::size_t dim = 0;
  const T* row(std::size_t i) const { return data + i * dim; }
};
using U8MatrixView = TypedMatrixView<std::uint8_t>;
using I8MatrixView = TypedMatrixView<std::int8_t>;

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
  // A matrix over memory someone else owns (a file mapping): `owner` is released with the
  // matrix instead of freeing `data`. The memory need not be 64-byte aligned.
  static Matrix adopt(T* data, std::size_t rows, std::size_t cols, std::shared_ptr<void> owner) {
    Matrix m;
    m.rows_ = rows;
    m.cols_ = cols;
    m.data_ = std::unique_ptr<T, FreeDeleter>(data, FreeDeleter{std::move(owner)});
    return m;
  }
  // True when the memory is adopted (e.g. mapped from a file) rather than allocated.
  bool adopted() const { return data_.get_deleter().owner != nullptr; }

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
  TypedMatrixView<T> typed_view() const { return {data_.get(), rows_, cols_}; }

 private:
  struct FreeDeleter {
    std::shared_ptr<void> owner;  // set for adopted memory, which is not ours to free
    void operator()(T* p) const {
      if (owner == nullptr) std::free(p);
    }
  };
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  std::unique_ptr<T, FreeDeleter> data_;
};

using FloatMatrix = Matrix<float>;

}  // namespace annbench
