#pragma once
// What the peer-module tests share: the built modules through the plugin loader, one OpenMP
// thread, and parameter sets written inline.

#include "plugin_loader.h"

#include <annbench/params.h>

#include <omp.h>

#include <initializer_list>
#include <ostream>
#include <string>
#include <utility>

namespace annbench::testing {

// One OpenMP thread: faiss's training runs many tiny parallel regions, which on a shared,
// oversubscribed machine cost a time slice per barrier (measured: 1 s on one thread, 64 s on two
// for peers_test's faiss-ivfpq case, with a load of 6 on 2 cores). Call before building.
inline int use_one_thread() {
  omp_set_num_threads(1);
  return 1;
}

inline const ModuleRegistry& peer_registry() {
  static const ModuleRegistry instance({ANNBENCH_TEST_MODULE_DIR});
  return instance;
}

// nullptr when the module was not built.
inline const ModuleInfo* find_module(const std::string& name) {
  for (const LoadedModule& module : peer_registry().modules()) {
    if (module.info->name == name) return module.info;
  }
  return nullptr;
}

inline Params make_params(std::initializer_list<std::pair<const char*, ParamValue>> values) {
  Params params;
  for (const auto& [key, value] : values) params.set(key, value);
  return params;
}

// One peer at test settings: its build and search parameters and what its answers must reach.
struct PeerCase {
  std::string module;
  Params build;
  Params search;
  // 1.0: ids must equal the exact answer's; below: minimum recall@k (ids compared as sets).
  double min_recall;
  bool serves_dot;
};

// gtest prints parameters in test listings: the module name, not the struct's bytes.
inline void PrintTo(const PeerCase& c, std::ostream* os) {
  *os << c.module;
}

}  // namespace annbench::testing
