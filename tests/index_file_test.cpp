// The common index-file container: round trip, alignment in the mapping, and a clear Error for
// every way a file can be wrong.

#include <annbench/common/checksum.h>
#include <annbench/common/index_file.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

namespace annbench {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

struct Meta {
  std::uint64_t nodes;
  float scale;
  std::uint32_t flags;
};

class IndexFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fs::temp_directory_path() /
            fmt::format("annbench-index-file-{}-{}.annidx", ::getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    floats_.resize(1000);
    std::iota(floats_.begin(), floats_.end(), 0.5f);
    ids_ = {3, 1, 4, 1, 5};
    IndexFileWriter writer("mine", 2, Metric::Angular, 10, 100);
    writer.add("vectors", floats_);
    writer.add("ids", ids_);
    writer.add("empty", std::vector<std::uint8_t>{});
    writer.add_value("meta", Meta{7, 0.25f, 3});
    writer.write(path_.string());
  }
  void TearDown() override { fs::remove(path_); }

  std::vector<char> bytes() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }
  void write_bytes(const std::vector<char>& data) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  // Rewrites the header checksum so that a deliberate change reaches the later checks.
  static void reseal(std::vector<char>& data) {
    Fnv1a64 hash;
    hash.update(data.data() + 256, data.size() - 256);
    const std::uint64_t sum = hash.finish();
    std::memcpy(data.data() + 120, &sum, 8);  // checksum: after magic..payload_bytes
  }
  std::string error_of(std::string_view module = "mine", std::uint32_t version = 2,
                       Metric metric = Metric::Angular, std::size_t dim = 10) const {
    try {
      IndexFileReader::open(path_.string(), module, version, metric, dim);
    } catch (const Error& error) {
      return error.what();
    }
    return "";
  }

  fs::path path_;
  std::vector<float> floats_;
  std::vector<std::int32_t> ids_;
};

TEST_F(IndexFileTest, RoundTripsSectionsAlignedInTheMapping) {
  const auto reader = IndexFileReader::open(path_.string(), "mine", 2, Metric::Angular, 10);
  EXPECT_EQ(reader.rows(), 100u);
  EXPECT_EQ(reader.info().module, "mine");
  const auto vectors = reader.array<float>("vectors", 1000);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(vectors.data()) % kIndexFileAlignment, 0u);
  EXPECT_TRUE(std::equal(vectors.begin(), vectors.end(), floats_.begin()));
  EXPECT_EQ(reader.copy<std::int32_t>("ids"), ids_);
  EXPECT_TRUE(reader.array<std::uint8_t>("empty").empty());
  const Meta meta = reader.value<Meta>("meta");
  EXPECT_EQ(meta.nodes, 7u);
  EXPECT_EQ(meta.scale, 0.25f);
  EXPECT_EQ(meta.flags, 3u);
  EXPECT_FALSE(reader.has("missing"));
  EXPECT_THAT([&] { reader.array<float>("missing"); }, ::testing::Throws<Error>());
  EXPECT_THROW(reader.array<float>("vectors", 999), Error);  // wrong count
  EXPECT_THROW(reader.array<double>("ids"), Error);          // 20 bytes: not whole doubles
  EXPECT_FALSE(fs::exists(path_.string() + ".tmp"));

  const IndexFileInfo info = read_index_file_info(path_.string());
  ASSERT_EQ(info.sections.size(), 4u);
  EXPECT_EQ(info.sections[0].tag, "vectors");
  EXPECT_EQ(info.sections[1].offset % kIndexFileAlignment, 0u);
  EXPECT_EQ(info.file_bytes, fs::file_size(path_));
}

TEST_F(IndexFileTest, WrongModuleVersionMetricOrDimensionIsRefusedByName) {
  EXPECT_THAT(error_of("other"), HasSubstr("holds a 'mine' index, not a 'other' index"));
  EXPECT_THAT(error_of("mine", 3), HasSubstr("format version 2"));
  EXPECT_THAT(error_of("mine", 2, Metric::L2), HasSubstr("angular"));
  EXPECT_THAT(error_of("mine", 2, Metric::Angular, 11), HasSubstr("dimension 10, not 11"));
  EXPECT_THAT(error_of(), ::testing::IsEmpty());
}

TEST_F(IndexFileTest, DamagedFilesAreRefusedNamingThem) {
  const auto good = bytes();
  auto flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  write_bytes(flipped);
  EXPECT_THAT(error_of(), HasSubstr("checksum"));
  EXPECT_THAT(error_of(), HasSubstr(path_.string()));

  write_bytes({good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() - 64)});
  EXPECT_THAT(error_of(), HasSubstr("truncated"));
  write_bytes({good.begin(), good.begin() + 100});
  EXPECT_THAT(error_of(), HasSubstr("shorter than the header"));

  auto magic = good;
  magic[0] = 'X';
  write_bytes(magic);
  EXPECT_THAT(error_of(), HasSubstr("not an annbench index file"));

  // A section pointing past the end, with a valid checksum: the table check catches it.
  auto table = good;
  const std::uint64_t far = 1u << 30;
  std::memcpy(table.data() + 256 + 32, &far, 8);  // first entry's offset
  reseal(table);
  write_bytes(table);
  EXPECT_THAT(error_of(), HasSubstr("lies outside the file"));

  fs::remove(path_);
  EXPECT_THAT(error_of(), HasSubstr("cannot open"));
  write_bytes({});
  EXPECT_THAT(error_of(), HasSubstr("empty"));
}

TEST(IndexFileWriter, RejectsBadTagsAndDuplicates) {
  IndexFileWriter writer("mine", 1, Metric::L2, 4, 0);
  const float x = 1;
  EXPECT_THROW(writer.add("", &x, 4), Error);
  EXPECT_THROW(writer.add(std::string(40, 'a'), &x, 4), Error);
  writer.add("x", &x, 4);
  EXPECT_THROW(writer.add("x", &x, 4), Error);
  EXPECT_THROW(IndexFileWriter(std::string(80, 'm'), 1, Metric::L2, 4, 0), Error);
  EXPECT_THROW(writer.write("/nonexistent-folder/x.annidx"), Error);
}

}  // namespace
}  // namespace annbench
