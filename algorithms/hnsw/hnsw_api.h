#pragma once
// Module-level functions of the hnsw module beyond the Index interface: save and load index
// files (the capability kCapSaveLoad), and read access to the graph for tests and tools.
//
// The module exports them as one C entry point; a caller that loaded the module (e.g. through
// the harness's plugin loader) finds it with dlsym(handle, ANNBENCH_HNSW_API_ENTRY_POINT).
// Like the module API, the types are C++: caller and module must share compiler and library.

#include "hnsw_index.h"

#include <annbench/index.h>

#include <cstdint>
#include <memory>
#include <string>

namespace annbench::hnsw {

inline constexpr std::uint32_t kHnswApiVersion = 1;

struct HnswApi {
  std::uint32_t version = kHnswApiVersion;
  // Writes `index` (created by this module and built) to `path`. Error if it is not an
  // hnsw index or the file cannot be written.
  void (*save)(const Index& index, const std::string& path) = nullptr;
  // Reads an index written by save(); Error naming the file when it is missing, truncated,
  // foreign, of another format version or corrupted. Search parameters start at defaults.
  std::unique_ptr<Index> (*load)(const std::string& path) = nullptr;
  // The graph behind an index created by this module; nullptr for any other index.
  const HnswIndex* (*graph)(const Index& index) = nullptr;
};

}  // namespace annbench::hnsw

#define ANNBENCH_HNSW_API_ENTRY_POINT "annbench_hnsw_api_v1"
