// The big-ann-benchmarks 10M sets. Sizes, element types, metrics and URLs as their
// benchmark/datasets.py lists them (harsha-simhadri/big-ann-benchmarks); nothing here is guessed:
// a URL that file does not give would be left empty, which `dataset fetch` reports.

#include <annbench/datasets/registry.h>

#include <algorithm>
#include <array>

namespace annbench {

namespace {

// Their download hosts.
#define ANNBENCH_FB "https://dl.fbaipublicfiles.com/billion-scale-ann-benchmarks/"
#define ANNBENCH_AZ "https://comp21storage.z5.web.core.windows.net/comp21/"
#define ANNBENCH_YX "https://storage.yandexcloud.net/yandex-research/ann-datasets/"

constexpr std::size_t k10M = 10'000'000;
constexpr std::size_t k1B = 1'000'000'000;

constexpr std::array kBigAnn = {
    BigAnnEntry{"bigann-10M", 128, k10M, 10'000, "euclidean", "uint8", "knn", k1B,
                ANNBENCH_FB "bigann/base.1B.u8bin", ANNBENCH_FB "bigann/query.public.10K.u8bin",
                ANNBENCH_FB "GT_10M/bigann-10M", "", "", 0},
    BigAnnEntry{"deep-10M", 96, k10M, 10'000, "euclidean", "float32", "knn", k1B,
                ANNBENCH_YX "DEEP/base.1B.fbin", ANNBENCH_YX "DEEP/query.public.10K.fbin",
                ANNBENCH_FB "GT_10M/deep-10M", "", "", 0},
    BigAnnEntry{"msspacev-10M", 100, k10M, 29'316, "euclidean", "int8", "knn", k1B,
                ANNBENCH_AZ "spacev1b/spacev1b_base.i8bin", ANNBENCH_AZ "spacev1b/query.i8bin",
                ANNBENCH_AZ "spacev1b/msspacev-gt-10M", "", "", 0},
    BigAnnEntry{"msturing-10M", 100, k10M, 100'000, "euclidean", "float32", "knn", k1B,
                ANNBENCH_AZ "MSFT-TURING-ANNS/base1b.fbin",
                ANNBENCH_AZ "MSFT-TURING-ANNS/query100K.fbin",
                ANNBENCH_AZ "MSFT-TURING-ANNS/msturing-gt-10M", "", "", 0},
    // Range search: their radius 96237 is a squared L2 distance.
    BigAnnEntry{"ssnpp-10M", 256, k10M, 100'000, "euclidean", "uint8", "range", k1B,
                ANNBENCH_FB "FB_ssnpp_database.u8bin", ANNBENCH_FB "FB_ssnpp_public_queries.u8bin",
                ANNBENCH_FB "GT_10M/ssnpp-10M", "", "", 96237},
    // Their "ip" distance.
    BigAnnEntry{"text2image-10M", 200, k10M, 100'000, "dot", "float32", "knn", k1B,
                ANNBENCH_YX "T2I/base.1B.fbin", ANNBENCH_YX "T2I/query.public.100K.fbin",
                ANNBENCH_FB "GT_10M/text2image-10M", "", "", 0},
    // NeurIPS'23 filter track: the base file has exactly 10M rows; GT.public.ibin is the
    // filtered ground truth.
    BigAnnEntry{
        "yfcc-10M", 192, k10M, 100'000, "euclidean", "uint8", "knn_filtered", k10M,
        ANNBENCH_FB "yfcc100M/base.10M.u8bin", ANNBENCH_FB "yfcc100M/query.public.100K.u8bin",
        ANNBENCH_FB "yfcc100M/GT.public.ibin", ANNBENCH_FB "yfcc100M/base.metadata.10M.spmat",
        ANNBENCH_FB "yfcc100M/query.metadata.public.100K.spmat", 0},
};

#undef ANNBENCH_FB
#undef ANNBENCH_AZ
#undef ANNBENCH_YX

}  // namespace

std::span<const BigAnnEntry> bigann_registry() {
  return kBigAnn;
}

const BigAnnEntry* find_bigann_entry(std::string_view name) {
  const auto it = std::find_if(kBigAnn.begin(), kBigAnn.end(),
                               [&](const BigAnnEntry& entry) { return entry.name == name; });
  return it == kBigAnn.end() ? nullptr : &*it;
}

}  // namespace annbench
