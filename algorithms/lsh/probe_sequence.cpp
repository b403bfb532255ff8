// Probe generation; see probe_sequence.h for the scoring and the order.

#include "probe_sequence.h"

#include <algorithm>
#include <bit>

namespace annbench::lsh {

void ProbeSequence::start(const HashTables& tables, const float* values) {
  const std::size_t hashes = tables.hashes();
  const bool pstable = tables.kind() == HashKind::PStable;
  tables_ = tables.tables();
  steps_per_table_ = pstable ? 2 * hashes : hashes;
  const std::size_t m = steps_per_table_;
  next_home_ = 0;
  home_keys_.resize(tables_);
  steps_.resize(tables_ * m);
  heap_.clear();

  // Single perturbations in coordinate order (p-stable: 2i is -1 and 2i + 1 is +1 on
  // coordinate i), before sorting by cost.
  struct Unsorted {
    float cost;
    std::uint64_t key_change;
  };
  // Costs stay finite (huge projections could give inf), so scores never become inf - inf.
  const auto capped = [](double cost) { return static_cast<float>(std::min(cost, 1e30)); };
  Unsorted unsorted[2 * kMaxHashes];
  std::uint32_t position_of[2 * kMaxHashes];
  std::uint32_t order[2 * kMaxHashes];
  for (std::size_t t = 0; t < tables_; ++t) {
    const float* f = values + t * hashes;
    home_keys_[t] = tables.bucket_key(t, f);
    for (std::size_t i = 0; i < hashes; ++i) {
      const std::uint64_t weight = tables.key_weight(t, i);
      if (pstable) {
        const double frac = static_cast<double>(f[i]) - static_cast<double>(tables.hash_of(f[i]));
        unsorted[2 * i] = {capped(frac * frac), 0 - weight};
        unsorted[2 * i + 1] = {capped((1.0 - frac) * (1.0 - frac)), weight};
      } else {
        const bool bit = tables.hash_of(f[i]) != 0;
        unsorted[i] = {capped(static_cast<double>(f[i]) * f[i]), bit ? 0 - weight : weight};
      }
    }
    for (std::size_t j = 0; j < m; ++j) order[j] = static_cast<std::uint32_t>(j);
    std::sort(order, order + m, [&](std::uint32_t a, std::uint32_t b) {
      return unsorted[a].cost < unsorted[b].cost || (unsorted[a].cost == unsorted[b].cost && a < b);
    });
    for (std::size_t j = 0; j < m; ++j) position_of[order[j]] = static_cast<std::uint32_t>(j);
    Step* steps = steps_.data() + t * m;
    for (std::size_t j = 0; j < m; ++j) {
      const std::uint32_t source = order[j];
      // p-stable steps 2i and 2i + 1 move the same coordinate in opposite directions.
      const auto partner = pstable ? position_of[source ^ 1u] : static_cast<std::uint32_t>(m);
      steps[j] = {unsorted[source].cost, partner, unsorted[source].key_change};
    }
    push({steps[0].cost, static_cast<std::uint32_t>(t), 0, 1});
  }
}

bool ProbeSequence::later(const Set& a, const Set& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.table != b.table) return a.table > b.table;
  return a.mask > b.mask;
}

void ProbeSequence::push(const Set& set) {
  heap_.push_back(set);
  std::push_heap(heap_.begin(), heap_.end(), later);
}

bool ProbeSequence::valid(const Set& set) const {
  const Step* steps = steps_.data() + set.table * steps_per_table_;
  for (std::uint64_t rest = set.mask; rest != 0; rest &= rest - 1) {
    const auto j = static_cast<std::size_t>(std::countr_zero(rest));
    const std::uint32_t partner = steps[j].partner;
    if (partner < steps_per_table_ && (set.mask >> partner & 1u) != 0) return false;
  }
  return true;
}

bool ProbeSequence::next(std::size_t& table, std::uint64_t& key) {
  if (next_home_ < tables_) {
    table = next_home_;
    key = home_keys_[next_home_++];
    return true;
  }
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const Set set = heap_.back();
    heap_.pop_back();
    const Step* steps = steps_.data() + set.table * steps_per_table_;
    const std::uint32_t following = set.last + 1;
    if (following < steps_per_table_) {
      const std::uint64_t bit = std::uint64_t{1} << following;
      const float gain = steps[following].cost;
      push({set.score - steps[set.last].cost + gain, set.table, following,
            (set.mask & ~(std::uint64_t{1} << set.last)) | bit});
      push({set.score + gain, set.table, following, set.mask | bit});
    }
    if (!valid(set)) continue;
    table = set.table;
    key = home_keys_[set.table];
    for (std::uint64_t rest = set.mask; rest != 0; rest &= rest - 1) {
      key += steps[std::countr_zero(rest)].key_change;
    }
    return true;
  }
  return false;
}

}  // namespace annbench::lsh
