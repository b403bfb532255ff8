// HNSW construction: level draws, insertion (Algorithm 1) with the neighbour-selection
// heuristic (Algorithm 4, extendCandidates and keepPrunedConnections off), parallel over
// nodes with per-node locks, then a reachability repair for degenerate data.

#include "hnsw_index.h"
#include "scratch_pool.h"

#include <annbench/error.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <random>

namespace annbench::hnsw {
namespace {

inline bool ascending(const Candidate& a, const Candidate& b) {
  return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

}  // namespace

class HnswBuilder {
 public:
  explicit HnswBuilder(HnswIndex& index) : index_(index) {}

  void run(MatrixView base) {
    const std::size_t n = base.rows;
    index_.allocate(n, draw_levels(n));
    const auto signed_n = static_cast<std::int64_t>(n);
#pragma omp parallel for schedule(static, 256)
    for (std::int64_t i = 0; i < signed_n; ++i) {
      const auto node = static_cast<std::uint32_t>(i);
      index_.copy_vector(node, base.row(node));
    }
    if (n == 0) return;
    index_.entry_ = 0;
    index_.max_level_ = index_.levels_[0];
    // Dynamic scheduling in small chunks keeps the insertion order close to the id order, so
    // early nodes (the ones later nodes navigate through) are inserted first.
#pragma omp parallel for schedule(dynamic, 16)
    for (std::int64_t i = 1; i < signed_n; ++i) insert(static_cast<std::uint32_t>(i));
    repair_reachability();
    index_.distances_.add(count_);
    index_.scratch_->clear();
  }

 private:
  // Level l with probability exp(-l / mL) - exp(-(l + 1) / mL), mL = 1 / ln M: floor(-ln U mL).
  // Drawn up front in id order, so the graph does not depend on the thread count's timing
  // more than insertion order does.
  std::vector<std::uint8_t> draw_levels(std::size_t n) const {
    std::mt19937_64 rng(index_.config_.seed);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const double ml = 1.0 / std::log(static_cast<double>(index_.config_.M));
    std::vector<std::uint8_t> levels(n);
    for (auto& level : levels) {
      const double u = 1.0 - uniform(rng);  // (0, 1]: log stays finite
      level = static_cast<std::uint8_t>(std::min<double>(std::floor(-std::log(u) * ml), kMaxLevel));
    }
    return levels;
  }

  float distance(std::uint32_t a, std::uint32_t b) const {
    return index_.distance(index_.vector(a), index_.vector(b));
  }

  // Algorithm 4: walk the candidates nearest first and keep one unless it is closer to an
  // already kept neighbour than to the base node (that neighbour then covers its direction).
  // candidates: sorted ascending by distance to the base node.
  std::vector<Candidate> select(const std::vector<Candidate>& candidates, std::size_t m,
                                std::size_t& count) const {
    std::vector<Candidate> kept;
    kept.reserve(m);
    for (const Candidate& c : candidates) {
      if (kept.size() >= m) break;
      bool good = true;
      for (const Candidate& r : kept) {
        ++count;
        if (distance(c.id, r.id) < c.distance) {
          good = false;
          break;
        }
      }
      if (good) kept.push_back(c);
    }
    return kept;
  }

  void set_links(std::uint32_t node, int level, const std::vector<Candidate>& selected) {
    std::uint32_t* links = index_.link_list(node, level);
    const std::size_t cap = index_.max_degree(level);
    index_.lock(node);
    for (std::size_t j = 0; j < cap; ++j) links[j] = j < selected.size() ? selected[j].id : kNoLink;
    index_.unlock(node);
  }

  // Adds `node` to the list of `neighbor` on `level`; a full list is re-selected with the
  // heuristic over its old links plus the new one.
  void connect(std::uint32_t neighbor, std::uint32_t node, float d, int level, std::size_t& count) {
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
    const std::vector<Candidate> kept = select(pool, cap, count);
    for (std::size_t j = 0; j < cap; ++j) links[j] = j < kept.size() ? kept[j].id : kNoLink;
    index_.unlock(neighbor);
  }

  void insert(std::uint32_t node) {
    const float* v = index_.vector(node);
    const int node_level = index_.levels_[node];
    // A node that becomes the new top holds the global lock for its whole insertion, so no
    // other insertion starts from a half-linked entry point.
    std::unique_lock<std::mutex> top(top_mutex_);
    const int max_level = index_.max_level_;
    const std::uint32_t entry = index_.entry_;
    if (node_level <= max_level) top.unlock();

    std::size_t count = 1;
    Candidate current{index_.distance(v, index_.vector(entry)), entry};
    for (int level = max_level; level > node_level; --level) {
      current = index_.greedy_step<true>(v, current, level, count);
    }
    auto lease = index_.scratch_->acquire();
    SearchScratch& scratch = *lease;
    for (int level = std::min(node_level, max_level); level >= 0; --level) {
      count +=
          index_.search_layer<true>(v, current, index_.config_.ef_construction, level, scratch);
      std::vector<Candidate> found(scratch.results.begin(), scratch.results.end());
      std::sort(found.begin(), found.end(), ascending);
      current = found.front();
      const std::vector<Candidate> selected = select(found, index_.config_.M, count);
      set_links(node, level, selected);
      for (const Candidate& s : selected) connect(s.id, node, s.distance, level, count);
    }
    if (node_level > max_level) {
      index_.entry_ = node;
      index_.max_level_ = node_level;
    }
    add_count(count);
  }

  void add_count(std::size_t count) {
#pragma omp atomic
    count_ += count;
  }

  // The heuristic can leave a node without incoming layer-0 links when many vectors are exact
  // duplicates (all at distance 0, a full list keeps the earlier ones). Such a node could never
  // be returned. Repair: breadth-first search from the entry point; each node not reached gets
  // a link from the nearest reached node that has a free slot or a link that is not on the BFS
  // tree (replacing a non-tree link keeps everything reached so far reached).
  void repair_reachability() {
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
      if (parent[u] != kNoLink) continue;
      const std::uint32_t from = attach(u, parent, count);
      reach_from(u, from);
    }
    add_count(count);
  }

  // Links u from a reached node near it; returns that node.
  std::uint32_t attach(std::uint32_t u, const std::vector<std::uint32_t>& parent,
                       std::size_t& count) {
    auto lease = index_.scratch_->acquire();
    SearchScratch& scratch = *lease;
    const float* v = index_.vector(u);
    Candidate current{index_.distance(v, index_.vector(index_.entry_)), index_.entry_};
    for (int level = index_.max_level_; level > 0; --level) {
      current = index_.greedy_step<false>(v, current, level, count);
    }
    count += index_.search_layer<false>(v, current, index_.config_.ef_construction, 0, scratch);
    std::vector<Candidate> near(scratch.results.begin(), scratch.results.end());
    std::sort(near.begin(), near.end(), ascending);
    // The descent may have entered layer 0 at a node not reached from the entry point (upper
    // layers link it): only reached nodes may take the link.
    for (const Candidate& c : near) {
      if (parent[c.id] != kNoLink && try_link(c.id, u, parent, count)) return c.id;
    }
    // None of the near reached nodes has a free slot or a non-tree link: scan them all.
    for (std::uint32_t r = 0; r < index_.n_; ++r) {
      if (parent[r] != kNoLink && try_link(r, u, parent, count)) return r;
    }
    ANNBENCH_FAIL("hnsw: node {} cannot be linked into the graph", u);
  }

  bool try_link(std::uint32_t from, std::uint32_t u, const std::vector<std::uint32_t>& parent,
                std::size_t& count) {
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

  HnswIndex& index_;
  std::mutex top_mutex_;
  std::size_t count_ = 0;
};

void HnswIndex::build(MatrixView base) {
  ANNBENCH_CHECK(base.dim == dim_, "hnsw: base vectors have dimension {}, expected {}", base.dim,
                 dim_);
  HnswBuilder(*this).run(base);
}

}  // namespace annbench::hnsw
