#pragma once
// Module-level functions of the annoy module beyond the Index interface: save and load index
// files (the capability kCapSaveLoad), and where an index keeps its arrays (for tests and
// tools that check a loaded index maps its file instead of copying it).
//
// The module exports them as one C entry point; a caller that loaded the module (e.g. through
// the harness's plugin loader) finds it with dlsym(handle, ANNBENCH_ANNOY_API_ENTRY_POINT).
// Like the module API, the types are C++: caller and module must share compiler and library.

#include <annbench/index.h>
#include <annbench/metric.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace annbench::annoy {

inline constexpr std::uint32_t kAnnoyApiVersion = 1;

// Where an index's arrays live.
struct AnnoyStorage {
  const void* mapping = nullptr;  // start of the mapped index file; nullptr for a built index
  std::size_t mapping_bytes = 0;
  const float* planes = nullptr;      // the split planes as search reads them (64-byte aligned)
  const std::int32_t* ids = nullptr;  // the leaf id array as search reads it
  const float* vectors = nullptr;     // the vectors re-ranked (n × dim)
  std::size_t heap_bytes = 0;         // bytes of forest arrays and vectors held on the heap
};

struct AnnoyApi {
  std::uint32_t version = kAnnoyApiVersion;
  // Writes `index` (created by this module and built) to `path`. Error if it is not an annoy
  // index, is not built, or the file cannot be written.
  void (*save)(const Index& index, const std::string& path) = nullptr;
  // Maps an index written by save() and serves it from the mapping (nothing is copied; the file
  // must stay unchanged while the index lives). Error naming the file when it is missing,
  // truncated, foreign, of another format version, corrupted, or not a `metric` index of
  // dimension `dim`. Search parameters start at their defaults.
  std::unique_ptr<Index> (*load)(const std::string& path, Metric metric, std::size_t dim) = nullptr;
  // Error if `index` was not created by this module.
  AnnoyStorage (*storage)(const Index& index) = nullptr;
};

}  // namespace annbench::annoy

#define ANNBENCH_ANNOY_API_ENTRY_POINT "annbench_annoy_api_v1"
