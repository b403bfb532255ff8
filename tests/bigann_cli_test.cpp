// `annbench dataset convert / export / list` with big-ann-benchmarks' binary files.

#include "cli_support.h"
#include "commands.h"

#include <annbench/common/distance.h>
#include <annbench/datasets/bigann.h>
#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/datasets/synthetic.h>
#include <annbench/error.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <vector>

namespace annbench {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

class BigAnnCliTest : public test::DataDirTest {
 protected:
  BigAnnCliTest() : DataDirTest("bigann-cli") {}
  std::string p(const std::string& name) { return (dir_ / name).string(); }
  // Runs `annbench dataset ARGS`, returning its exit code and what it printed on stdout.
  std::pair<int, std::string> run(const std::vector<std::string>& args) {
    return test::run_captured(dataset_command, args);
  }
  std::string error_of(const std::vector<std::string>& args) {
    try {
      run(args);
    } catch (const Error& error) {
      return error.what();
    }
    return "(no error)";
  }
};

// A uint8 base (few distinct values, so distance ties happen) and float queries.
struct Inputs {
  FloatMatrix base{300, 5};
  FloatMatrix queries{8, 5};
};
Inputs make_inputs() {
  Inputs in;
  std::uint32_t state = 12345;
  const auto next = [&] { return state = state * 1664525u + 1013904223u; };
  for (std::size_t i = 0; i < in.base.size(); ++i)
    in.base.data()[i] = static_cast<float>((next() >> 24) % 4 * 60);
  for (std::size_t i = 0; i < in.queries.size(); ++i)
    in.queries.data()[i] = static_cast<float>(next() >> 8) / static_cast<float>(1 << 24) * 180.f;
  return in;
}

// Top-k by brute force as big-ann's tools would write it: squared L2 in float, ties broken by
// the larger id (the opposite of annbench's rule, so tied neighbours come out in another order).
void write_their_ground_truth(const fs::path& path, const FloatMatrix& base,
                              const FloatMatrix& queries, std::size_t k) {
  IdMatrix ids(queries.rows(), k);
  FloatMatrix distances(queries.rows(), k);
  std::vector<std::pair<float, std::int32_t>> all(base.rows());
  for (std::size_t q = 0; q < queries.rows(); ++q) {
    for (std::size_t i = 0; i < base.rows(); ++i) {
      const double d = exact_distance(Metric::L2, queries.row(q), base.row(i), base.cols());
      all[i] = {static_cast<float>(d * d), -static_cast<std::int32_t>(i)};
    }
    std::sort(all.begin(), all.end());
    for (std::size_t j = 0; j < k; ++j) {
      ids(q, j) = -all[j].second;
      distances(q, j) = all[j].first;
    }
  }
  write_bin_ground_truth(path, ids, distances);
}

TEST_F(BigAnnCliTest, ConvertWithTheirGroundTruthEqualsComputingIt) {
  const Inputs in = make_inputs();
  write_bin(dir_ / "base.u8bin", BinElement::UInt8, in.base.view());
  write_bin(dir_ / "query.fbin", BinElement::Float32, in.queries.view());
  write_their_ground_truth(dir_ / "gt.ibin", in.base, in.queries, 10);

  const auto [computed_code, computed_out] =
      run({"convert", "--train", p("base.u8bin"), "--test", p("query.fbin"), "--metric",
           "euclidean", "--k", "10", "--out", p("computed.hdf5")});
  ASSERT_EQ(computed_code, 0);
  EXPECT_THAT(computed_out,
              AllOf(HasSubstr("note: train is uint8 ('base.u8bin') but test is float32 "
                              "('query.fbin'); both are stored as float32"),
                    HasSubstr("ground truth: 8 queries x 300 points")));
  const auto [code, out] =
      run({"convert", "--train", p("base.u8bin"), "--test", p("query.fbin"), "--metric",
           "euclidean", "--groundtruth", p("gt.ibin"), "--out", p("given.hdf5")});
  ASSERT_EQ(code, 0);
  EXPECT_THAT(out, AllOf(HasSubstr("ground truth from"), HasSubstr("8 queries, k = 10"),
                         Not(HasSubstr("ground truth: 8 queries x 300 points"))));

  const Dataset computed = load_dataset(dir_ / "computed.hdf5");
  const Dataset given = load_dataset(dir_ / "given.hdf5");
  ASSERT_EQ(given.train.rows(), 300u);
  EXPECT_EQ(std::memcmp(given.train.data(), in.base.data(), in.base.bytes()), 0);
  EXPECT_EQ(std::memcmp(given.test.data(), in.queries.data(), in.queries.bytes()), 0);
  EXPECT_EQ(h5::File::open_read(dir_ / "given.hdf5").string_attribute("source_groundtruth"),
            "gt.ibin");
  ASSERT_EQ(given.neighbors.rows(), 8u);
  ASSERT_EQ(given.neighbors.cols(), 10u);
  // Same neighbours up to ties: the distances agree bit for bit position by position (plain L2,
  // recomputed), and a differing id is a tie at that distance.
  std::size_t differing_ids = 0;
  for (std::size_t q = 0; q < 8; ++q) {
    for (std::size_t j = 0; j < 10; ++j) {
      EXPECT_EQ(given.distances(q, j), computed.distances(q, j)) << q << ", " << j;
      const std::int32_t id = given.neighbors(q, j);
      EXPECT_EQ(given.distances(q, j),
                static_cast<float>(exact_distance(Metric::L2, in.queries.row(q),
                                                  in.base.row(static_cast<std::size_t>(id)), 5)));
      differing_ids += id != computed.neighbors(q, j);
    }
  }
  // The data has ties inside the top 10, so the test covers them.
  EXPECT_GT(differing_ids, 0u);
}

TEST_F(BigAnnCliTest, ExportThenConvertRoundTrips) {
  make_synthetic_dataset(dir_ / "s.hdf5", 200, 10, 7, Metric::L2, 3, 9, 12);
  const auto [code, out] = run({"export", p("s.hdf5"), "--format", "fbin", "--out", p("exp/s")});
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, HasSubstr("k = 12"));
  EXPECT_EQ(fs::file_size(dir_ / "exp" / "s.base.fbin"), 8u + 200 * 7 * 4);
  EXPECT_EQ(fs::file_size(dir_ / "exp" / "s.query.fbin"), 8u + 10 * 7 * 4);
  EXPECT_EQ(fs::file_size(dir_ / "exp" / "s.gt.ibin"), 8u + 10 * 12 * 8);
  ASSERT_EQ(
      run({"convert", "--train", p("exp/s.base.fbin"), "--test", p("exp/s.query.fbin"), "--metric",
           "euclidean", "--groundtruth", p("exp/s.gt.ibin"), "--out", p("back.hdf5")})
          .first,
      0);
  const Dataset original = load_dataset(dir_ / "s.hdf5");
  const Dataset back = load_dataset(dir_ / "back.hdf5");
  EXPECT_EQ(back.metric, Metric::L2);
  ASSERT_EQ(back.train.size(), original.train.size());
  ASSERT_EQ(back.neighbors.size(), original.neighbors.size());
  EXPECT_EQ(std::memcmp(back.train.data(), original.train.data(), original.train.bytes()), 0);
  EXPECT_EQ(std::memcmp(back.test.data(), original.test.data(), original.test.bytes()), 0);
  EXPECT_EQ(
      std::memcmp(back.neighbors.data(), original.neighbors.data(), original.neighbors.bytes()), 0);
  EXPECT_EQ(
      std::memcmp(back.distances.data(), original.distances.data(), original.distances.bytes()), 0);

  // Synthetic data is not uint8: refused before any file is written.
  EXPECT_THAT(error_of({"export", p("s.hdf5"), "--format", "u8bin", "--out", p("u/s")}),
              AllOf(HasSubstr("s.hdf5' train as uint8: row 0 column 0 is"),
                    HasSubstr("not an integer in 0..255")));
  EXPECT_FALSE(fs::exists(dir_ / "u"));
  EXPECT_THAT(error_of({"export", p("s.hdf5"), "--format", "bvecs", "--out", p("u/s")}),
              HasSubstr("--format must be fbin, u8bin or i8bin, got 'bvecs'"));
}

TEST_F(BigAnnCliTest, ExportU8binKeepsIntegerData) {
  const Inputs in = make_inputs();
  const GroundTruth truth =
      compute_ground_truth(in.base.view(), in.base.view(), Metric::Angular, 5);
  write_dataset(dir_ / "ints.hdf5", Metric::Angular, in.base, in.base, truth.neighbors,
                truth.distances);
  ASSERT_EQ(run({"export", p("ints.hdf5"), "--format", "u8bin", "--out", p("i")}).first, 0);
  const TypedMatrix base = read_bin_typed(dir_ / "i.base.u8bin");
  ASSERT_EQ(base.bytes.size(), in.base.size());
  for (std::size_t i = 0; i < in.base.size(); ++i)
    ASSERT_EQ(static_cast<float>(base.data<std::uint8_t>()[i]), in.base.data()[i]);
  const GroundTruth exported = read_bin_ground_truth(dir_ / "i.gt.ibin");
  EXPECT_EQ(std::memcmp(exported.neighbors.data(), truth.neighbors.data(), truth.neighbors.bytes()),
            0);
}

TEST_F(BigAnnCliTest, ConvertErrorsNameBothFiles) {
  const Inputs in = make_inputs();
  write_bin(dir_ / "base.u8bin", BinElement::UInt8, in.base.view());
  write_bin(dir_ / "query.fbin", BinElement::Float32, in.queries.view());
  const FloatMatrix seven(7, 5, 1.f);
  write_their_ground_truth(dir_ / "gt7.ibin", in.base, seven, 10);
  EXPECT_THAT(
      error_of({"convert", "--train", p("base.u8bin"), "--test", p("query.fbin"), "--metric",
                "euclidean", "--groundtruth", p("gt7.ibin"), "--out", p("x.hdf5")}),
      AllOf(HasSubstr("gt7.ibin' has ground truth for 7 queries"),
            HasSubstr("query.fbin' has 8 test vectors")));
  const FloatMatrix fewer(300, 4, 1.f);
  write_their_ground_truth(dir_ / "gt.ibin", in.base, in.queries, 10);
  write_bin(dir_ / "base4.u8bin", BinElement::UInt8, fewer.view());
  EXPECT_THAT(
      error_of({"convert", "--train", p("base4.u8bin"), "--test", p("query.fbin"), "--metric",
                "euclidean", "--out", p("x.hdf5")}),
      AllOf(HasSubstr("base4.u8bin' has 4-d vectors"), HasSubstr("query.fbin' has 5-d ones")));
  // Ids beyond a smaller base.
  write_bin(dir_ / "base100.u8bin", BinElement::UInt8,
            MatrixView{in.base.data(), 100, in.base.cols()});
  EXPECT_THAT(
      error_of({"convert", "--train", p("base100.u8bin"), "--test", p("query.fbin"), "--metric",
                "euclidean", "--groundtruth", p("gt.ibin"), "--out", p("x.hdf5")}),
      AllOf(HasSubstr("gt.ibin': entry"), HasSubstr("outside the 100 train vectors of"),
            HasSubstr("base100.u8bin")));
  EXPECT_THAT(
      error_of({"convert", "--train", p("base.u8bin"), "--test", p("query.fbin"), "--metric",
                "euclidean", "--range-groundtruth", p("r.bin"), "--out", p("x.hdf5")}),
      HasSubstr("--range-groundtruth and --radius go together"));
  EXPECT_FALSE(fs::exists(dir_ / "x.hdf5"));
}

TEST_F(BigAnnCliTest, ConvertAddsTheirRangeGroundTruth) {
  const Inputs in = make_inputs();
  write_bin(dir_ / "base.u8bin", BinElement::UInt8, in.base.view());
  write_bin(dir_ / "query.u8bin", BinElement::UInt8,
            MatrixView{in.base.data() + 50 * 5, 8, 5});  // base rows as queries: distance-0 hits
  const FloatMatrix queries = read_bin(dir_ / "query.u8bin");
  const double radius = 90;
  const RangeGroundTruth exact =
      compute_range_ground_truth(in.base.view(), queries.view(), Metric::L2, radius);
  ASSERT_GT(exact.total(), 8u);
  RangeGroundTruth theirs = exact;  // squared distances, as big-ann's SSNPP files hold
  for (float& d : theirs.distances) d *= d;
  write_bin_range_ground_truth(dir_ / "r.bin", theirs);
  const auto [code, out] = run({"convert", "--train", p("base.u8bin"), "--test", p("query.u8bin"),
                                "--metric", "euclidean", "--k", "5", "--range-groundtruth",
                                p("r.bin"), "--radius", "90", "--out", p("r.hdf5")});
  ASSERT_EQ(code, 0);
  EXPECT_THAT(out, AllOf(HasSubstr(fmt::format("{} results within 90", exact.total())),
                         Not(HasSubstr("note:"))));
  DatasetLoadOptions options;
  options.load_range_ground_truth = true;
  const Dataset dataset = load_dataset(dir_ / "r.hdf5", options);
  ASSERT_TRUE(dataset.range.has_value());
  EXPECT_EQ(dataset.range->radius, exact.radius);
  EXPECT_EQ(dataset.range->lims, exact.lims);
  EXPECT_EQ(dataset.range->ids, exact.ids);
  EXPECT_EQ(dataset.range->distances, exact.distances);
  EXPECT_THAT(error_of({"convert", "--train", p("base.u8bin"), "--test", p("query.u8bin"),
                        "--metric", "euclidean", "--range-groundtruth", p("r.bin"), "--radius", "9",
                        "--out", p("y.hdf5")}),
              AllOf(HasSubstr("r.bin': query"), HasSubstr("beyond the radius 9")));
}

TEST_F(BigAnnCliTest, ListShowsTheBigAnnSets) {
  fs::create_directories(dir_ / "data" / "deep-10M");
  const auto [code, out] = run({"list"});
  EXPECT_EQ(code, 0);
  for (const char* name : {"bigann-10M", "deep-10M", "msturing-10M", "msspacev-10M",
                           "text2image-10M", "yfcc-10M", "ssnpp-10M"}) {
    EXPECT_THAT(out, HasSubstr(name));
  }
  const std::size_t bigann = out.find("bigann-10M");
  const std::string bigann_line = out.substr(bigann, out.find('\n', bigann) - bigann);
  EXPECT_THAT(bigann_line, AllOf(HasSubstr("128"), HasSubstr("10000000"), HasSubstr("uint8"),
                                 HasSubstr("annbench dataset fetch")));
  const std::size_t deep = out.find("deep-10M");
  EXPECT_THAT(out.substr(deep, out.find('\n', deep) - deep), HasSubstr("files fetched"));
}

}  // namespace
}  // namespace annbench
