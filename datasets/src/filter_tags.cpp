// Class labels and synthetic YFCC-like tags as filter metadata (filter_tags.h).

#include <annbench/common/label_filter.h>
#include <annbench/datasets/convert.h>
#include <annbench/datasets/filter_tags.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <utility>

namespace annbench {

namespace fs = std::filesystem;

namespace {

// Draws from mt19937_64 with fixed arithmetic (the standard distributions differ between
// library implementations), so one seed gives the same metadata wherever it is built.
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}
  // [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // [0, 1) as a float with 24 random bits: every value is exact, so 1.0f cannot come out of
  // rounding a double just below 1.
  float uniform_float() { return static_cast<float>(engine_() >> 40) * 0x1.0p-24f; }
  // 0 .. n - 1, n > 0.
  std::size_t below(std::size_t n) {
    return std::min(n - 1, static_cast<std::size_t>(uniform() * static_cast<double>(n)));
  }

 private:
  std::mt19937_64 engine_;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The factor test every query of a band must pass (the tests check the same expression).
struct Band {
  double target;
  double tolerance;
  std::size_t rows;
  bool accepts(std::size_t count) const {
    const double selectivity = static_cast<double>(count) / static_cast<double>(rows);
    return count > 0 && selectivity >= target / tolerance && selectivity <= target * tolerance;
  }
  // Whether any whole number of rows passes: the window around target * rows can fall between
  // two integers on a small base.
  bool reachable() const {
    const double lowest = std::ceil(target * static_cast<double>(rows) / tolerance);
    const auto first = static_cast<std::size_t>(std::max(1.0, lowest));
    for (std::size_t count = first > 1 ? first - 1 : 1; count <= first + 1; ++count) {
      if (count <= rows && accepts(count)) return true;
    }
    return false;
  }
};

void check_options(std::size_t train_rows, const TagOptions& options) {
  ANNBENCH_CHECK(train_rows > 0, "tags: the dataset has no train rows");
  ANNBENCH_CHECK(!options.selectivities.empty(), "tags: no selectivities given");
  for (const double target : options.selectivities) {
    ANNBENCH_CHECK(target > 0 && target <= 1, "tags: selectivity {} is not in (0, 1]", target);
  }
  ANNBENCH_CHECK(options.tags > 0 && options.tags <= (1u << 24),
                 "tags: --tags must be between 1 and {}, got {}", 1u << 24, options.tags);
  ANNBENCH_CHECK(options.p1 > 0 && options.p1 <= 1, "tags: p1 must be in (0, 1], got {}",
                 options.p1);
  ANNBENCH_CHECK(options.alpha >= 0 && std::isfinite(options.alpha),
                 "tags: alpha must be finite and >= 0, got {}", options.alpha);
  ANNBENCH_CHECK(options.tolerance > 1 && std::isfinite(options.tolerance),
                 "tags: the tolerance factor must be finite and > 1, got {}", options.tolerance);
}

// Tag r carried by each row with probability p1 / r^alpha, drawn tag by tag with geometric gaps
// between carrying rows (cost proportional to the tags drawn, not rows × tags); then every row
// without a tag draws one by the same weights. Rows list their tags ascending.
LabelCsr draw_train_tags(std::size_t rows, const TagOptions& options, Random& random) {
  const std::uint32_t tags = options.tags;
  std::vector<double> probability(tags);
  for (std::uint32_t t = 0; t < tags; ++t) {
    probability[t] =
        std::min(1.0, options.p1 / std::pow(static_cast<double>(t) + 1.0, options.alpha));
  }
  std::vector<std::size_t> tag_offsets{0};
  std::vector<std::size_t> carriers;  // rows carrying each tag, tag by tag, ascending
  for (std::uint32_t t = 0; t < tags; ++t) {
    const double p = probability[t];
    if (p >= 1.0) {
      for (std::size_t row = 0; row < rows; ++row) carriers.push_back(row);
    } else if (p > 0.0) {  // p1 / r^alpha can underflow to 0 for a steep alpha: no carrier
      const double log_miss = std::log1p(-p);
      double row = -1;
      while (true) {
        row += std::floor(std::log1p(-random.uniform()) / log_miss) + 1;
        if (row >= static_cast<double>(rows)) break;
        carriers.push_back(static_cast<std::size_t>(row));
      }
    }
    tag_offsets.push_back(carriers.size());
  }

  std::vector<std::int64_t> counts(rows, 0);
  for (const std::size_t row : carriers) ++counts[row];
  constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
  std::vector<std::uint32_t> fallback(rows, kNone);
  std::vector<double> cumulative(tags);
  double total = 0;
  for (std::uint32_t t = 0; t < tags; ++t) cumulative[t] = total += probability[t];
  for (std::size_t row = 0; row < rows; ++row) {
    if (counts[row] != 0) continue;
    const double u = random.uniform() * total;
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
    fallback[row] = static_cast<std::uint32_t>(
        std::min<std::ptrdiff_t>(it - cumulative.begin(), static_cast<std::ptrdiff_t>(tags) - 1));
    counts[row] = 1;
  }

  LabelCsr csr;
  csr.indptr.assign(rows + 1, 0);
  for (std::size_t row = 0; row < rows; ++row) csr.indptr[row + 1] = csr.indptr[row] + counts[row];
  csr.labels.resize(static_cast<std::size_t>(csr.indptr[rows]));
  std::vector<std::int64_t> next(csr.indptr.begin(), csr.indptr.end() - 1);
  for (std::uint32_t t = 0; t < tags; ++t) {
    for (std::size_t i = tag_offsets[t]; i < tag_offsets[t + 1]; ++i) {
      csr.labels[static_cast<std::size_t>(next[carriers[i]]++)] = t;
    }
  }
  for (std::size_t row = 0; row < rows; ++row) {
    if (fallback[row] != kNone) csr.labels[static_cast<std::size_t>(next[row])] = fallback[row];
  }
  return csr;
}

// Chooses the tag filters, query by query. Tags are looked up by their row count (sorted), so
// that "a tag with about c rows" is a binary search.
class TagChooser {
 public:
  TagChooser(const LabelCsr& train, std::uint32_t tags) : index_(train.indptr, train.labels, tags) {
    for (std::uint32_t t = 0; t < tags; ++t) by_count_.emplace_back(index_.postings(t).size(), t);
    std::sort(by_count_.begin(), by_count_.end());
  }

  // Tags whose row count c has lo <= c <= hi.
  std::span<const std::pair<std::size_t, std::uint32_t>> with_count(double lo, double hi) const {
    const auto begin = std::lower_bound(
        by_count_.begin(), by_count_.end(), lo,
        [](const auto& entry, double value) { return static_cast<double>(entry.first) < value; });
    const auto end = std::upper_bound(
        begin, by_count_.end(), hi,
        [](double value, const auto& entry) { return value < static_cast<double>(entry.first); });
    return {by_count_.data() + (begin - by_count_.begin()), static_cast<std::size_t>(end - begin)};
  }

  // One tag inside the band's window into `out`, returning its row count; 0 when there is none.
  std::size_t single(const Band& band, Random& random, std::vector<std::uint32_t>& out) const {
    const double wanted = band.target * static_cast<double>(band.rows);
    const auto candidates = with_count(wanted / band.tolerance, wanted * band.tolerance);
    std::vector<std::pair<std::size_t, std::uint32_t>> accepted;
    for (const auto& candidate : candidates) {
      if (band.accepts(candidate.first)) accepted.push_back(candidate);
    }
    if (accepted.empty()) return 0;
    const auto [count, tag] = accepted[random.below(accepted.size())];
    out = {tag};
    return count;
  }

  // Two tags a, b whose rows in common fall inside the window: a is any tag at least as
  // frequent as the target, b one whose frequency would give the target if tags were
  // independent (they are), and the actual intersection decides. Returns the rows in common;
  // 0 when `attempts` draws found no pair.
  std::size_t pair(const Band& band, Random& random, int attempts,
                   std::vector<std::uint32_t>& out) {
    const double rows = static_cast<double>(band.rows);
    const auto firsts = with_count(band.target * rows, rows);
    if (firsts.empty()) return 0;
    for (int attempt = 0; attempt < attempts; ++attempt) {
      const auto [count_a, a] = firsts[random.below(firsts.size())];
      const double wanted_b = band.target * rows * rows / static_cast<double>(count_a);
      const auto seconds = with_count(wanted_b / band.tolerance, wanted_b * band.tolerance);
      if (seconds.empty()) continue;
      const std::uint32_t b = seconds[random.below(seconds.size())].second;
      if (b == a) continue;
      const std::uint32_t both[] = {std::min(a, b), std::max(a, b)};
      intersect_postings(index_, both, common_, scratch_);
      if (band.accepts(common_.size())) {
        out.assign(std::begin(both), std::end(both));
        return common_.size();
      }
    }
    return 0;
  }

 private:
  LabelIndex index_;
  std::vector<std::pair<std::size_t, std::uint32_t>> by_count_;
  std::vector<std::int64_t> common_;
  std::vector<std::int64_t> scratch_;
};

LabelCsr choose_tag_filters(const LabelCsr& train, std::size_t queries, const TagOptions& options,
                            std::span<const Band> bands, Random& random,
                            std::vector<TagBandStats>& stats) {
  constexpr int kPairAttempts = 64;
  constexpr int kLastResortAttempts = 4096;
  TagChooser chooser(train, options.tags);
  LabelCsr filters;
  filters.indptr.push_back(0);
  std::vector<std::uint32_t> chosen;
  for (std::size_t q = 0; q < queries; ++q) {
    const std::size_t b = q % bands.size();
    const Band& band = bands[b];
    const auto start = std::chrono::steady_clock::now();
    // Every other query of a band asks for two tags, where two can reach the band.
    const bool wants_pair = (q / bands.size()) % 2 == 1;
    std::size_t count = wants_pair ? chooser.pair(band, random, kPairAttempts, chosen) : 0;
    if (count == 0) count = chooser.single(band, random, chosen);
    if (count == 0) count = chooser.pair(band, random, kLastResortAttempts, chosen);
    if (count == 0) {
      ANNBENCH_FAIL(
          "tags: no tag, nor any pair of tags, has a selectivity within a factor {} of band {} "
          "on {} rows with {} tags (p1 = {}, alpha = {}); try other --selectivities or --tags",
          options.tolerance, band.target, band.rows, options.tags, options.p1, options.alpha);
    }
    filters.labels.insert(filters.labels.end(), chosen.begin(), chosen.end());
    filters.indptr.push_back(static_cast<std::int64_t>(filters.labels.size()));
    stats[b].pairs += chosen.size() == 2;
    stats[b].mean_selectivity += static_cast<double>(count) / static_cast<double>(band.rows);
    stats[b].seconds += seconds_since(start);
  }
  return filters;
}

// Ranges [lo, lo + target] on the attribute, lo drawn until the actual count is inside the
// window (uniform values put it there almost always on the first draw).
FloatMatrix choose_ranges(const std::vector<float>& values, std::size_t queries,
                          std::span<const Band> bands, Random& random,
                          std::vector<TagBandStats>& stats) {
  constexpr int kAttempts = 4096;
  std::vector<float> sorted(values);
  std::sort(sorted.begin(), sorted.end());
  FloatMatrix ranges(queries, 2);
  for (std::size_t q = 0; q < queries; ++q) {
    const std::size_t b = q % bands.size();
    const Band& band = bands[b];
    const auto start = std::chrono::steady_clock::now();
    const auto width = static_cast<float>(band.target);
    bool found = false;
    for (int attempt = 0; attempt < kAttempts && !found; ++attempt) {
      const float lo = std::max(0.0f, 1.0f - width) * random.uniform_float();
      const float hi = lo + width;
      const auto count =
          static_cast<std::size_t>(std::upper_bound(sorted.begin(), sorted.end(), hi) -
                                   std::lower_bound(sorted.begin(), sorted.end(), lo));
      if (band.accepts(count)) {
        ranges(q, 0) = lo;
        ranges(q, 1) = hi;
        stats[b].mean_selectivity += static_cast<double>(count) / static_cast<double>(band.rows);
        found = true;
      }
    }
    ANNBENCH_CHECK(found,
                   "tags --attribute: no range of width {} holds a number of the {} rows within "
                   "a factor {} of it",
                   band.target, band.rows, band.tolerance);
    stats[b].seconds += seconds_since(start);
  }
  return ranges;
}

}  // namespace

std::vector<std::int32_t> read_class_labels(const fs::path& path, std::uint32_t class_count) {
  std::vector<std::int32_t> labels = read_idx_labels(path);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    ANNBENCH_CHECK(labels[i] >= 0 && static_cast<std::uint32_t>(labels[i]) < class_count,
                   "'{}': label {} of image {} is not a class id below {}", path.string(),
                   labels[i], i, class_count);
  }
  return labels;
}

FilterMetadata class_filters(std::span<const std::int32_t> train_classes,
                             std::span<const std::int32_t> test_classes,
                             std::uint32_t class_count) {
  const auto one_per_row = [&](std::span<const std::int32_t> classes, const char* what) {
    LabelCsr csr;
    csr.indptr.reserve(classes.size() + 1);
    csr.labels.reserve(classes.size());
    csr.indptr.push_back(0);
    for (std::size_t i = 0; i < classes.size(); ++i) {
      ANNBENCH_CHECK(classes[i] >= 0 && static_cast<std::uint32_t>(classes[i]) < class_count,
                     "{} class {} of row {} is not below {}", what, classes[i], i, class_count);
      csr.labels.push_back(static_cast<std::uint32_t>(classes[i]));
      csr.indptr.push_back(static_cast<std::int64_t>(i + 1));
    }
    return csr;
  };
  FilterMetadata meta;
  meta.label_count = class_count;
  meta.train_labels = one_per_row(train_classes, "train");
  meta.test_filters = one_per_row(test_classes, "test");
  return meta;
}

FilterMetadata generate_tag_filters(std::size_t train_rows, std::size_t queries,
                                    const TagOptions& options, std::vector<TagBandStats>* stats) {
  check_options(train_rows, options);
  std::vector<Band> bands;
  std::vector<TagBandStats> band_stats;
  for (const double target : options.selectivities) {
    bands.push_back({target, options.tolerance, train_rows});
    ANNBENCH_CHECK(bands.back().reachable(),
                   "tags: band {} cannot be reached on {} rows: no whole number of rows is "
                   "within a factor {} of {} rows",
                   target, train_rows, options.tolerance, target * static_cast<double>(train_rows));
    band_stats.push_back({.target = target});
  }

  Random random(options.seed);
  FilterMetadata meta;
  meta.label_count = options.tags;
  meta.train_labels = draw_train_tags(train_rows, options, random);
  if (options.attribute) {
    meta.train_attr.resize(train_rows);
    for (float& value : meta.train_attr) value = random.uniform_float();
    meta.test_attr_range = choose_ranges(meta.train_attr, queries, bands, random, band_stats);
  } else {
    meta.test_filters =
        choose_tag_filters(*meta.train_labels, queries, options, bands, random, band_stats);
  }

  // The choosers summed the counts they accepted (exact: an intersection or a range count);
  // a plain scan per query would cost queries x rows.
  for (std::size_t q = 0; q < queries; ++q) ++band_stats[q % bands.size()].queries;
  for (TagBandStats& band : band_stats) {
    if (band.queries > 0) band.mean_selectivity /= static_cast<double>(band.queries);
  }
  if (stats != nullptr) *stats = std::move(band_stats);
  return meta;
}

std::vector<double> parse_selectivities(std::string_view text) {
  std::vector<double> values;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t comma = std::min(text.find(',', begin), text.size());
    const std::string_view item = text.substr(begin, comma - begin);
    double value = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    ANNBENCH_CHECK(!item.empty() && error == std::errc() && end == item.data() + item.size() &&
                       value > 0 && value <= 1,
                   "selectivities '{}': '{}' is not a number in (0, 1]", text, item);
    values.push_back(value);
    begin = comma + 1;
  }
  return values;
}

std::size_t count_matching_rows(const FilterMetadata& meta, std::size_t query) {
  const std::size_t rows = meta.train_labels ? meta.train_labels->rows() : meta.train_attr.size();
  std::span<const std::uint32_t> wanted;
  if (meta.test_filters) wanted = meta.test_filters->row(query);
  const bool has_range = !meta.test_attr_range.empty();
  std::size_t count = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    bool pass = true;
    if (!wanted.empty()) {
      const auto row = meta.train_labels->row(r);
      pass = std::all_of(wanted.begin(), wanted.end(), [&](std::uint32_t label) {
        return std::find(row.begin(), row.end(), label) != row.end();
      });
    }
    if (pass && has_range) {
      const float value = meta.train_attr[r];
      pass = meta.test_attr_range(query, 0) <= value && value <= meta.test_attr_range(query, 1);
    }
    count += pass;
  }
  return count;
}

void add_filtered_ground_truth(Dataset& dataset, FilterMetadata& meta, std::size_t k) {
  const auto start = std::chrono::steady_clock::now();
  dataset.filters = std::move(meta);
  GroundTruth truth;
  try {
    truth = compute_filtered_ground_truth(dataset, k);
  } catch (...) {
    meta = std::move(*dataset.filters);
    dataset.filters.reset();
    throw;
  }
  meta = std::move(*dataset.filters);
  dataset.filters.reset();
  meta.filtered_neighbors = std::move(truth.neighbors);
  meta.filtered_distances = std::move(truth.distances);
  fmt::print("filtered ground truth ({}): {} queries x {} points, k = {}: {:.2f} s on {} threads\n",
             meta.kind(), dataset.test.rows(), dataset.train.rows(), k, seconds_since(start),
             omp_get_max_threads());
  std::fflush(stdout);
}

}  // namespace annbench
