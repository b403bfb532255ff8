// Writes the seed corpus (tests/fuzz/corpus/<target>/) from annbench's own writers and the
// formats' documented layouts, so the seeds stay valid as the writers change. Run by
// scripts/fuzz.sh --seeds; the output is committed. Usage: fuzz_make_seeds CORPUS_DIR

#include <annbench/datasets/dataset.h>
#include <annbench/datasets/groundtruth.h>

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

void write_file(const fs::path& path, const Bytes& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

Bytes read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

annbench::FloatMatrix random_matrix(std::size_t rows, std::size_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  annbench::FloatMatrix out(rows, cols);
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = normal(rng);
  return out;
}

void hdf5_seeds(const fs::path& dir) {
  std::mt19937 rng(7);
  struct Seed {
    const char* name;
    annbench::Metric metric;
    std::size_t train, test, dim, k;
  };
  for (const Seed& seed : {Seed{"euclidean-20x4-k3", annbench::Metric::L2, 20, 5, 4, 3},
                           Seed{"angular-8x2-k1", annbench::Metric::Angular, 8, 2, 2, 1},
                           Seed{"dot-3x1-no-gt", annbench::Metric::InnerProduct, 3, 1, 1, 0}}) {
    const annbench::FloatMatrix train = random_matrix(seed.train, seed.dim, rng);
    const annbench::FloatMatrix test = random_matrix(seed.test, seed.dim, rng);
    annbench::GroundTruth truth;
    if (seed.k > 0)
      truth = annbench::compute_ground_truth(train.view(), test.view(), seed.metric, seed.k);
    const fs::path path = dir / (std::string(seed.name) + ".hdf5");
    fs::create_directories(dir);
    annbench::write_dataset(path, seed.metric, train, test, truth.neighbors, truth.distances);
    if (seed.k != 3) continue;
    // Truncated variants of the first file: cut inside the data, the metadata, the superblock.
    const Bytes whole = read_file(path);
    for (const std::size_t keep : {whole.size() - 64, whole.size() / 2, std::size_t{96}})
      write_file(dir / fmt::format("{}-truncated-{}.hdf5", seed.name, keep),
                 Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(keep)));
  }
}

void push_u32_be(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::uint8_t(value >> shift));
}

void push_i32_le(Bytes& out, std::int32_t value) {
  std::uint8_t bytes[4];
  std::memcpy(bytes, &value, 4);
  out.insert(out.end(), bytes, bytes + 4);
}

Bytes gzip(const Bytes& raw) {
  const fs::path temporary = fs::temp_directory_path() / "annbench-fuzz-seed.gz";
  gzFile file = gzopen(temporary.c_str(), "wb9");
  gzwrite(file, raw.data(), static_cast<unsigned>(raw.size()));
  gzclose(file);
  Bytes out = read_file(temporary);
  fs::remove(temporary);
  return out;
}

// The fuzz_idx input is one selector byte (0 images, 1 labels) followed by the file.
void idx_seeds(const fs::path& dir) {
  Bytes images{0};
  push_u32_be(images, 0x00000803);
  for (std::uint32_t d : {3u, 2u, 2u}) push_u32_be(images, d);
  for (std::uint8_t v = 0; v < 12; ++v) images.push_back(static_cast<std::uint8_t>(v * 21));
  write_file(dir / "images-3x2x2", images);
  Bytes compressed{0};
  const Bytes packed = gzip(Bytes(images.begin() + 1, images.end()));
  compressed.insert(compressed.end(), packed.begin(), packed.end());
  write_file(dir / "images-3x2x2-gz", compressed);
  Bytes labels{1};
  push_u32_be(labels, 0x00000801);
  push_u32_be(labels, 4);
  for (std::uint8_t v : {0, 9, 3, 7}) labels.push_back(v);
  write_file(dir / "labels-4", labels);
}

// The fuzz_vecs input is one selector byte (0 fvecs, 1 bvecs, 2 ivecs; /3 % 4 = row limit).
void vecs_seeds(const fs::path& dir) {
  for (std::uint8_t type = 0; type < 3; ++type) {
    Bytes file{type};
    for (int row = 0; row < 3; ++row) {
      push_i32_le(file, 4);
      for (int col = 0; col < 4; ++col) {
        const int value = row * 4 + col;
        if (type == 1) {
          file.push_back(static_cast<std::uint8_t>(value));
        } else if (type == 2) {
          push_i32_le(file, value - 5);
        } else {
          float f = static_cast<float>(value) * 0.5f;
          std::int32_t bits;
          std::memcpy(&bits, &f, 4);
          push_i32_le(file, bits);
        }
      }
    }
    write_file(dir / fmt::format("{}-3x4", "fbi"[type]), file);
    file[0] = static_cast<std::uint8_t>(type + 3 * 2);  // read only the first 2 rows
    write_file(dir / fmt::format("{}-3x4-max2", "fbi"[type]), file);
  }
}

Bytes npy(int version, const std::string& descr, std::size_t rows, std::size_t cols,
          std::size_t value_bytes) {
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}, {}), }}",
                                   descr, rows, cols);
  const std::size_t prefix = version == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(version), 0};
  for (std::size_t i = 0; i < prefix - 8; ++i)
    out.push_back(static_cast<std::uint8_t>(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  for (std::size_t i = 0; i < rows * cols * value_bytes; ++i)
    out.push_back(static_cast<std::uint8_t>(i % value_bytes == 0 ? i : 0));
  return out;
}

void npy_seeds(const fs::path& dir) {
  write_file(dir / "f4-v1-2x3.npy", npy(1, "<f4", 2, 3, 4));
  write_file(dir / "f8-v2-3x2.npy", npy(2, "<f8", 3, 2, 8));
  write_file(dir / "u1-v1-4x4.npy", npy(1, "|u1", 4, 4, 1));
  write_file(dir / "i4-v3-1x5.npy", npy(3, "<i4", 1, 5, 4));
  write_file(dir / "i8-v1-2x2.npy", npy(1, "<i8", 2, 2, 8));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path corpus = argv[1];
  hdf5_seeds(corpus / "fuzz_hdf5_dataset");
  idx_seeds(corpus / "fuzz_idx");
  vecs_seeds(corpus / "fuzz_vecs");
  npy_seeds(corpus / "fuzz_npy");
  return 0;
}
