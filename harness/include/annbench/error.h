#pragma once
// One error type for the whole project. The message is for the researcher (it names the file,
// key or value that is wrong); where() keeps the source location for whoever debugs annbench.

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace annbench {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string where = {})
      : std::runtime_error(message), where_(std::move(where)) {}
  const std::string& where() const noexcept { return where_; }

 private:
  std::string where_;
};

namespace detail {
[[noreturn]] inline void fail(const char* file, int line, const char* function,
                              const std::string& message) {
  throw Error(message, fmt::format("{}:{} ({})", file, line, function));
}
}  // namespace detail

}  // namespace annbench

// Throws annbench::Error with a fmt-formatted message when `condition` is false.
#define ANNBENCH_CHECK(condition, ...)                                                    \
  do {                                                                                    \
    if (!(condition))                                                                     \
      ::annbench::detail::fail(__FILE__, __LINE__, __func__, ::fmt::format(__VA_ARGS__)); \
  } while (false)

#define ANNBENCH_FAIL(...) \
  ::annbench::detail::fail(__FILE__, __LINE__, __func__, ::fmt::format(__VA_ARGS__))
