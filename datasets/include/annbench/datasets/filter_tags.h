#pragma once
// Filter metadata for the filtered-search track (dataset.h's FilterMetadata): class labels of
// image datasets ("nearest images of this class") and a YFCC-like synthetic tag generator whose
// queries hit chosen selectivities ("points carrying tags A and B", "attribute in [lo, hi]").

#include <annbench/datasets/dataset.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace annbench {

// An IDX label file (e.g. Fashion-MNIST's train-labels-idx1-ubyte.gz, raw or gzip) as class ids,
// read through read_idx_labels (convert.h, the reader of the images' IDX files). Throws
// annbench::Error naming the file for a malformed file and for a label not below `class_count`.
std::vector<std::int32_t> read_class_labels(const std::filesystem::path& path,
                                            std::uint32_t class_count);

// One class per row: train row i carries label train_classes[i], query q asks for the rows of
// class test_classes[q] (label_count = class_count). Every class must be below class_count.
// No ground truth yet (add_filtered_ground_truth).
FilterMetadata class_filters(std::span<const std::int32_t> train_classes,
                             std::span<const std::int32_t> test_classes, std::uint32_t class_count);

// The synthetic tags. Tag r (1-based, stored as label r - 1) is carried by each train row
// independently with probability p1 / r^alpha; a row left without any tag gets one tag drawn
// with the same weights, so every row has at least one. Query q targets band q % B of
// `selectivities`: its filter is one tag, or (every other query of a band, where one exists)
// two tags whose intersection, chosen so that the query's actual selectivity (matching rows / N)
// lies within a factor `tolerance` of the band's target. With `attribute`, train rows also get
// train_attr uniform in [0, 1) and the queries are ranges [lo, lo + target] on it instead of
// tags (test_filters then absent, kind() "range"), again within the factor.
struct TagOptions {
  std::vector<double> selectivities{0.001, 0.01, 0.1, 0.5};  // each in (0, 1]
  std::uint32_t tags = 2000;
  std::uint64_t seed = 1;
  bool attribute = false;
  double p1 = 0.7;
  double alpha = 1.0;
  double tolerance = 1.5;
};

struct TagBandStats {
  double target = 0;            // the band's selectivity
  std::size_t queries = 0;      // queries in the band
  std::size_t pairs = 0;        // of which two-tag filters
  double mean_selectivity = 0;  // mean actual selectivity of its queries
  double seconds = 0;           // time spent choosing its filters
};

// The tags of `train_rows` rows and the filters of `queries` queries; deterministic for a
// seed (byte-identical metadata on one platform). No ground truth yet. Throws annbench::Error
// for bad options and for a band no filter can reach on this many rows (e.g. 0.001 on 500
// rows: no whole number of rows is within the factor of 0.5 rows), naming the band. `stats`,
// when given, receives one entry per band.
FilterMetadata generate_tag_filters(std::size_t train_rows, std::size_t queries,
                                    const TagOptions& options,
                                    std::vector<TagBandStats>* stats = nullptr);

// "0.001,0.01,0.1,0.5" -> the values; each must be in (0, 1]. Error naming the text otherwise.
std::vector<double> parse_selectivities(std::string_view text);

// Rows passing query q's filter in `meta` (its labels and range), by a plain scan: the
// reference the generator's factor is checked against.
std::size_t count_matching_rows(const FilterMetadata& meta, std::size_t query);

// Computes the exact filtered top-k of `meta`'s queries on `dataset`'s train / test
// (compute_filtered_ground_truth) into meta.filtered_neighbors / filtered_distances, printing
// the time. `dataset.filters` is used as scratch and left empty.
void add_filtered_ground_truth(Dataset& dataset, FilterMetadata& meta, std::size_t k);

}  // namespace annbench
