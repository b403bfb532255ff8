// passes = 2: Vamana's second pass (Subramanya et al., NeurIPS 2019) over HNSW's layer 0. After
// the build (selecting with alpha 1), every node re-selects its list with alpha from its links
// and its links' links, then every node takes the nodes that chose it as reverse links: appended
// while its list has room, otherwise one re-selection over its list and all of them (what
// connect() does one link at a time during construction, done for the whole batch at once).
//
// Each step reads only what the step before wrote and each node writes only its own list, so
// the nodes run in parallel without locks and the graph does not depend on the thread count or
// the order the nodes are taken in.

#include "hnsw_builder.h"

#include <omp.h>

#include <algorithm>

namespace annbench::hnsw {

void HnswBuilder::second_pass() {
  HnswIndex& x = index_;
  const std::size_t n = x.n_;
  const std::size_t cap = x.max_degree(0);
  const auto signed_n = static_cast<std::int64_t>(n);
  std::size_t count = 0;

  // Step 1: each node's new list from the graph as the build left it (read only), kept apart
  // until every node has chosen.
  std::vector<std::uint32_t> chosen(n * cap, kNoLink);
#pragma omp parallel reduction(+ : count)
  {
    std::vector<std::uint32_t> pool;
    std::vector<Candidate> candidates;
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t i = 0; i < signed_n; ++i) {
      const auto u = static_cast<std::uint32_t>(i);
      pool.clear();
      for (const std::uint32_t w : x.neighbors(u, 0)) {
        pool.push_back(w);
        for (const std::uint32_t v : x.neighbors(w, 0)) {
          if (v != u) pool.push_back(v);
        }
      }
      std::sort(pool.begin(), pool.end());
      pool.erase(std::unique(pool.begin(), pool.end()), pool.end());
      candidates.clear();
      for (const std::uint32_t w : pool) candidates.push_back({distance(u, w), w});
      count += candidates.size();
      std::sort(candidates.begin(), candidates.end(), ascending);
      const std::vector<Candidate> kept = select(candidates, cap, 0, count);
      for (std::size_t j = 0; j < kept.size(); ++j) chosen[u * cap + j] = kept[j].id;
    }
  }

  // Step 2: who chose whom, grouped by the chosen node, choosers in id order.
  std::vector<std::size_t> start(n + 1, 0);
  for (const std::uint32_t v : chosen) {
    if (v != kNoLink) ++start[v + 1];
  }
  for (std::size_t v = 0; v < n; ++v) start[v + 1] += start[v];
  std::vector<std::uint32_t> choosers(start[n]);
  {
    std::vector<std::size_t> cursor(start.begin(), start.end() - 1);
    for (std::size_t u = 0; u < n; ++u) {
      for (std::size_t j = 0; j < cap && chosen[u * cap + j] != kNoLink; ++j) {
        choosers[cursor[chosen[u * cap + j]]++] = static_cast<std::uint32_t>(u);
      }
    }
  }

  // Step 3: each node's final list from its choice and its choosers; only its own list is
  // written, only `chosen` and the vectors are read.
#pragma omp parallel reduction(+ : count)
  {
    std::vector<std::uint32_t> list;
    std::vector<Candidate> candidates;
#pragma omp for schedule(dynamic, 64)
    for (std::int64_t i = 0; i < signed_n; ++i) {
      const auto v = static_cast<std::uint32_t>(i);
      list.clear();
      for (std::size_t j = 0; j < cap && chosen[v * cap + j] != kNoLink; ++j) {
        list.push_back(chosen[v * cap + j]);
      }
      const std::size_t own = list.size();
      for (std::size_t c = start[v]; c < start[v + 1]; ++c) {
        const std::uint32_t u = choosers[c];
        if (std::find(list.begin(), list.begin() + static_cast<std::ptrdiff_t>(own), u) ==
            list.begin() + static_cast<std::ptrdiff_t>(own)) {
          list.push_back(u);
        }
      }
      if (list.size() > cap) {
        candidates.clear();
        for (const std::uint32_t w : list) candidates.push_back({distance(v, w), w});
        count += candidates.size();
        std::sort(candidates.begin(), candidates.end(), ascending);
        const std::vector<Candidate> kept = select(candidates, cap, 0, count);
        list.clear();
        for (const Candidate& c : kept) list.push_back(c.id);
      }
      std::uint32_t* links = x.link_list(v, 0);
      for (std::size_t j = 0; j < cap; ++j) links[j] = j < list.size() ? list[j] : kNoLink;
    }
  }
  add_count(count);
}

}  // namespace annbench::hnsw
