// HNSW construction: level draws, insertion (Algorithm 1) with the neighbour-selection
// heuristic (Algorithm 4, extendCandidates and keepPrunedConnections off; on layer 0 with
// Vamana's alpha), parallel over nodes with per-node locks, then a reachability repair for
// degenerate data, and with passes = 2 the second pass (hnsw_second_pass.cpp).

#include "hnsw_builder.h"
#include "search_scratch.h"

#include <annbench/error.h>

#include <omp.h>

#include <algorithm>

namespace annbench::hnsw {

void HnswBuilder::run(std::size_t n, const std::function<void(std::uint32_t)>& store) {
  // Level l with probability exp(-l / mL) - exp(-(l + 1) / mL). Drawn up front in id order, so
  // the graph does not depend on the thread count's timing more than insertion order does;
  // add() continues the same sequence.
  index_.level_rng_.seed(index_.config_.seed);
  std::vector<std::uint8_t> levels(n);
  for (auto& level : levels) level = index_.draw_level();
  index_.allocate(n, std::move(levels));
  const auto signed_n = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static, 256)
  for (std::int64_t i = 0; i < signed_n; ++i) {
    store(static_cast<std::uint32_t>(i));
  }
  if (n == 0) return;
  index_.entry_ = 0;
  index_.max_level_ = index_.levels_[0];
  // Vamana's two passes: the first with alpha 1, the second with alpha.
  const bool two_passes = index_.config_.passes == 2;
  set_alpha(two_passes ? 1.0 : index_.config_.alpha);
  // Dynamic scheduling in small chunks keeps the insertion order close to the id order, so
  // early nodes (the ones later nodes navigate through) are inserted first.
#pragma omp parallel for schedule(dynamic, 16)
  for (std::int64_t i = 1; i < signed_n; ++i) insert(static_cast<std::uint32_t>(i));
  repair_reachability(false);
  if (two_passes) {
    set_alpha(index_.config_.alpha);
    second_pass();
    // Re-selection can take a node's last in-link, as connect() can.
    repair_reachability(false);
  }
  index_.distances_.add(count_);
  index_.scratch_.clear();
}

// RobustPrune (Subramanya et al., NeurIPS 2019) drops candidate c when a kept s has
// alpha * d(s, c) <= d(p, c), d the Euclidean distance. Internally euclidean compares squared
// L2, so the test is alpha^2 * d2(s, c) < d2(p, c); angular compares -cos of normalised
// vectors, and |x - y|^2 / 2 = 1 - cos = 1 + (-cos) there, so the shift of 1 turns it into the
// same test on the normalised vectors. Strict '<' as Algorithm 4 has always been here (a tie
// keeps the candidate), so that alpha 1 is the unchanged heuristic.
void HnswBuilder::set_alpha(double alpha) {
  ANNBENCH_CHECK(alpha == 1.0 || index_.metric_ != Metric::InnerProduct,
                 "hnsw: alpha = {} is not available for metric dot", alpha);
  scaled_ = alpha != 1.0;
  alpha_squared_ = static_cast<float>(alpha * alpha);
  shift_ = index_.metric_ == Metric::Angular ? 1.0f : 0.0f;
}

// Algorithm 4: walk the candidates nearest first and keep one unless it is closer to an
// already kept neighbour than to the base node (that neighbour then covers its direction);
// with alpha > 1, unless it is alpha times closer to it (occludes()).
std::vector<Candidate> HnswBuilder::select(const std::vector<Candidate>& candidates, std::size_t m,
                                           int level, std::size_t& count) const {
  std::vector<Candidate> kept;
  kept.reserve(m);
  for (const Candidate& c : candidates) {
    if (kept.size() >= m) break;
    bool good = true;
    for (const Candidate& r : kept) {
      ++count;
      if (occludes(distance(c.id, r.id), c.distance, level)) {
        good = false;
        break;
      }
    }
    if (good) kept.push_back(c);
  }
  return kept;
}

void HnswBuilder::set_links(std::uint32_t node, int level, const std::vector<Candidate>& selected) {
  std::uint32_t* links = index_.link_list(node, level);
  const std::size_t cap = index_.max_degree(level);
  index_.lock(node);
  for (std::size_t j = 0; j < cap; ++j) links[j] = j < selected.size() ? selected[j].id : kNoLink;
  index_.unlock(node);
}

// Adds `node` to the list of `neighbor` on `level`; a full list is re-selected with the
// heuristic over its old links plus the new one.
void HnswBuilder::connect(std::uint32_t neighbor, std::uint32_t node, float d, int level,
                          std::size_t& count) {
  std::uint32_t* links = index_.link_list(neighbor, level);
  const std::size_t cap = index_.max_degree(level);
  index_.lock(neighbor);
  std::size_t size = 0;
  while (size < cap && links[size] != kNoLink) ++size;
  if (size < cap) {
    links[size] = node;
    index_.unlock(neighbor);
    return;
  }
  std::vector<Candidate> pool;
  pool.reserve(cap + 1);
  for (std::size_t j = 0; j < cap; ++j) pool.push_back({distance(neighbor, links[j]), links[j]});
  count += cap;
  pool.push_back({d, node});
  std::sort(pool.begin(), pool.end(), ascending);
  const std::vector<Candidate> kept = select(pool, cap, level, count);
  for (std::size_t j = 0; j < cap; ++j) links[j] = j < kept.size() ? kept[j].id : kNoLink;
  index_.unlock(neighbor);
}

void HnswBuilder::insert(std::uint32_t node) {
  std::vector<float> decoded;  // the node's vector when it has no float copy (compact storage)
  const float* v = index_.query_vector(node, decoded);
  const int node_level = index_.levels_[node];
  // A node that becomes the new top holds the global lock for its whole insertion, so no
  // other insertion starts from a half-linked entry point.
  std::unique_lock<std::mutex> top(top_mutex_);
  const int max_level = index_.max_level_;
  const std::uint32_t entry = index_.entry_;
  if (node_level <= max_level) top.unlock();

  std::size_t count = 1;
  Candidate current{index_.distance_to(v, entry), entry};
  for (int level = max_level; level > node_level; --level) {
    current = index_.greedy_step<true>(v, current, level, count);
  }
  auto lease = index_.scratch_.acquire();
  SearchScratch& scratch = *lease;
  // Tombstones are navigated but not linked to: their links would go when they are freed.
  const bool skip_deleted = index_.deleted_ > 0;
  const std::size_t ef = index_.config_.ef_construction;
  for (int level = std::min(node_level, max_level); level >= 0; --level) {
    if (skip_deleted) {
      count += index_.search_layer<true, true>(v, current, ef, level, scratch);
      // No live node reachable: link to what navigation found rather than to nothing.
      if (scratch.results.empty()) {
        count += index_.search_layer<true, false>(v, current, ef, level, scratch);
      }
    } else {
      count += index_.search_layer<true, false>(v, current, ef, level, scratch);
    }
    std::vector<Candidate> found(scratch.results.begin(), scratch.results.end());
    std::sort(found.begin(), found.end(), ascending);
    current = found.front();
    const std::vector<Candidate> selected = select(found, index_.config_.M, level, count);
    set_links(node, level, selected);
    for (const Candidate& s : selected) connect(s.id, node, s.distance, level, count);
  }
  if (node_level > max_level) {
    index_.entry_ = node;
    index_.max_level_ = node_level;
  }
  add_count(count);
}

void HnswBuilder::add_count(std::size_t count) {
#pragma omp atomic
  count_ += count;
}

// The heuristic can leave a node without incoming layer-0 links when many vectors are exact
// duplicates (all at distance 0, a full list keeps the earlier ones). Such a node could never
// be returned. Repair: breadth-first search from the entry point; each node not reached gets
// a link from the nearest reached node that has a free slot or a link that is not on the BFS
// tree (replacing a non-tree link keeps everything reached so far reached). Random data strands
// a few nodes too (the re-selection in connect() can drop a node's last incoming link), and a
// tombstone repair strands nodes that only deleted nodes linked to, so streaming runs it after
// each repair and whenever the live nodes grew by a kReachabilityCheck fraction.
void HnswBuilder::repair_reachability(bool entry_in_link) {
  index_.unchecked_ = 0;
  const std::size_t n = index_.n_;
  std::vector<std::uint32_t> parent(n, kNoLink);
  std::vector<std::uint32_t> queue;
  queue.reserve(n);
  auto reach_from = [&](std::uint32_t root, std::uint32_t from) {
    parent[root] = from;
    queue.assign(1, root);
    for (std::size_t head = 0; head < queue.size(); ++head) {
      const std::uint32_t u = queue[head];
      for (const std::uint32_t w : index_.neighbors(u, 0)) {
        if (parent[w] != kNoLink) continue;
        parent[w] = u;
        queue.push_back(w);
      }
    }
  };
  reach_from(index_.entry_, index_.entry_);
  std::size_t count = 0;
  for (std::uint32_t u = 0; u < n; ++u) {
    if (parent[u] != kNoLink || index_.state(u) != SlotState::Live) continue;
    const std::uint32_t from = attach(u, parent, count);
    reach_from(u, from);
  }
  // The entry point is reached by definition, but a search that leaves it in the upper layers
  // can return it only through an in-link, which deletions may have taken.
  if (entry_in_link && index_.state(index_.entry_) == SlotState::Live && index_.live_size() > 1) {
    bool linked = false;
    for (std::uint32_t u = 0; u < n && !linked; ++u) {
      if (u == index_.entry_ || index_.state(u) == SlotState::Free) continue;
      for (const std::uint32_t w : index_.neighbors(u, 0)) linked = linked || w == index_.entry_;
    }
    if (!linked) attach(index_.entry_, parent, count);
  }
  add_count(count);
}

// Links u from a reached node near it; returns that node.
std::uint32_t HnswBuilder::attach(std::uint32_t u, const std::vector<std::uint32_t>& parent,
                                  std::size_t& count) {
  auto lease = index_.scratch_.acquire();
  SearchScratch& scratch = *lease;
  std::vector<float> decoded;
  const float* v = index_.query_vector(u, decoded);
  Candidate current{index_.distance_to(v, index_.entry_), index_.entry_};
  for (int level = index_.max_level_; level > 0; --level) {
    current = index_.greedy_step<false>(v, current, level, count);
  }
  count +=
      index_.search_layer<false, false>(v, current, index_.config_.ef_construction, 0, scratch);
  std::vector<Candidate> near(scratch.results.begin(), scratch.results.end());
  std::sort(near.begin(), near.end(), ascending);
  // The descent may have entered layer 0 at a node not reached from the entry point (upper
  // layers link it): only reached nodes may take the link, and only live ones (a tombstone's
  // links are dropped when it is freed).
  auto can_link = [&](std::uint32_t r) {
    return r != u && parent[r] != kNoLink && index_.state(r) == SlotState::Live;
  };
  for (const Candidate& c : near) {
    if (can_link(c.id) && try_link(c.id, u, parent, count)) return c.id;
  }
  // None of the near reached nodes has a free slot or a non-tree link: scan them all.
  for (std::uint32_t r = 0; r < index_.n_; ++r) {
    if (can_link(r) && try_link(r, u, parent, count)) return r;
  }
  ANNBENCH_FAIL("hnsw: node {} cannot be linked into the graph", u);
}

bool HnswBuilder::try_link(std::uint32_t from, std::uint32_t u,
                           const std::vector<std::uint32_t>& parent, std::size_t& count) {
  std::uint32_t* links = index_.link_list(from, 0);
  const std::size_t cap = index_.max_degree(0);
  std::size_t victim = cap;
  float victim_distance = -1.0f;
  for (std::size_t j = 0; j < cap; ++j) {
    if (links[j] == kNoLink) {
      links[j] = u;
      return true;
    }
    if (parent[links[j]] == from) continue;  // tree link: keep
    const float d = distance(from, links[j]);
    ++count;
    if (victim == cap || d > victim_distance) {
      victim = j;
      victim_distance = d;
    }
  }
  if (victim == cap) return false;
  links[victim] = u;
  return true;
}

void HnswIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "hnsw: base vectors have dimension {}, expected {}", base.dim,
                 dim_);
  // A float base is stored as created (an earlier integer build may have changed the storage).
  set_storage(requested_storage_);
  prepare_storage(base, true);
  HnswBuilder(*this).run(base.rows, [&](std::uint32_t node) { copy_vector(node, base.row(node)); });
  finish_build();
}

}  // namespace annbench::hnsw
