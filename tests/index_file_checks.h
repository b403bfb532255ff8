#pragma once
// Test helpers for save() / load(): temporary file names, raw file bytes, files that are
// corrupt yet pass the container's checks (an element poked with the checksum recomputed, or a
// section rewritten through IndexFileWriter), the container-level failures every module's
// load() must report, and result comparisons for a saved index against its loaded copy.
// Header-only, shared by the module tests; the k-NN references and data generators are in
// naive_knn.h.

#include <annbench/common/checksum.h>
#include <annbench/common/distance.h>
#include <annbench/common/index_file.h>
#include <annbench/error.h>
#include <annbench/index.h>
#include <annbench/matrix.h>
#include <annbench/metric.h>
#include <annbench/module.h>
#include <annbench/neighbor.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace annbench::testing {

// ---- Files ----

// A path in the temporary directory named `name` and the process id, so that test binaries
// (and test processes, when ctest runs each test in its own) never share a file; within one
// process each test passes its own `name`. The path deliberately holds nothing but the
// directory, `name` and the pid: tests check that load() errors name the file, and a path with
// more words in it could let a needle match the path instead of the message.
inline std::string temp_file(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("annbench-test-" + name + "-" + std::to_string(::getpid())))
      .string();
}

// The whole file (empty when it cannot be read).
inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Replaces the file with `bytes`.
inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// ---- Corrupt files that pass the container's checks ----

// Header layout of the index-file container (struct Header in common/src/index_file.cpp): the
// module name at byte 16, the payload checksum (FNV-1a of everything after the header) at byte
// 120, the payload after byte 256.
inline constexpr std::size_t kModuleAt = 16;
inline constexpr std::size_t kChecksumAt = 120;
inline constexpr std::size_t kHeaderBytes = 256;

// A copy of `path` at `path`.poked with element `index` of section `tag` (an array of T) set
// to `value` and the checksum recomputed: corrupt, yet it passes the container's checks, so
// only the module's own validation can catch it. The caller removes `path`.poked.
template <typename T>
std::string poke(const std::string& path, const std::string& tag, std::size_t index, T value) {
  std::vector<char> bytes = read_bytes(path);
  const IndexFileInfo info = read_index_file_info(path);
  const auto section = std::find_if(info.sections.begin(), info.sections.end(),
                                    [&](const auto& s) { return s.tag == tag; });
  EXPECT_NE(section, info.sections.end()) << tag;
  EXPECT_LE((index + 1) * sizeof(T), section->bytes) << tag;
  std::memcpy(bytes.data() + section->offset + index * sizeof(T), &value, sizeof(T));
  Fnv1a64 hash;
  hash.update(bytes.data() + kHeaderBytes, bytes.size() - kHeaderBytes);
  const std::uint64_t checksum = hash.finish();
  std::memcpy(bytes.data() + kChecksumAt, &checksum, sizeof checksum);
  const std::string out = path + ".poked";
  write_bytes(out, bytes);
  return out;
}

using SectionEdit = std::function<void(std::vector<std::byte>&)>;

// Copies index file `from` (of `metric` and `dim`) to `to` section by section through
// IndexFileReader / IndexFileWriter, letting `edit` change the bytes of section `tag`: a file
// whose checksum and section table are intact but whose content is not what save() writes.
// Module name, format version and row count are copied from `from`'s header.
inline void rewrite(const std::string& from, const std::string& to, Metric metric, std::size_t dim,
                    const std::string& tag, const SectionEdit& edit) {
  const IndexFileInfo info = read_index_file_info(from);
  const auto reader = IndexFileReader::open(from, info.module, info.format_version, metric, dim);
  IndexFileWriter writer(info.module, info.format_version, metric, dim, info.rows);
  std::vector<std::vector<std::byte>> sections;
  sections.reserve(info.sections.size());  // the writer references the bytes until write()
  for (const auto& section : info.sections) {
    sections.push_back(reader.copy<std::byte>(section.tag));
    if (section.tag == tag) edit(sections.back());
    writer.add(section.tag, sections.back());
  }
  writer.write(to);
}

// Sets every byte of a section to `value`.
inline SectionEdit fill_section(std::byte value) {
  return [value](std::vector<std::byte>& b) { std::fill(b.begin(), b.end(), value); };
}

// Each section of `tags` filled with 0xff (every count, reference and offset out of range),
// rewritten from `good` into `bad`: load() must refuse it with an Error naming `bad`.
inline void expect_filled_sections_refused(const ModuleInfo& info, const std::string& good,
                                           const std::string& bad, Metric metric, std::size_t dim,
                                           const std::vector<std::string>& tags) {
  for (const std::string& tag : tags) {
    rewrite(good, bad, metric, dim, tag, fill_section(std::byte{0xff}));
    try {
      info.load(bad, metric, dim);
      ADD_FAILURE() << tag << " full of 0xff accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

// Every section of `good` in turn zeroed, filled with 0x7f, cut to half (a multiple of 8
// bytes) or with bytes 4..12 overwritten, rewritten into `bad`: load() may refuse it with an
// Error, and when it accepts it, `use` runs searches on the loaded index, which must not crash
// (a sanitizer build catches what a plain one does not).
inline void exercise_damaged_sections(const ModuleInfo& info, const std::string& good,
                                      const std::string& bad, Metric metric, std::size_t dim,
                                      const std::function<void(Index&)>& use) {
  const IndexFileInfo layout = read_index_file_info(good);
  const SectionEdit edits[] = {fill_section(std::byte{0}), fill_section(std::byte{0x7f}),
                               [](std::vector<std::byte>& b) { b.resize(b.size() / 2 / 8 * 8); },
                               [](std::vector<std::byte>& b) {
                                 if (b.size() >= 12)
                                   std::fill(b.begin() + 4, b.begin() + 12, std::byte{0x03});
                               }};
  for (const auto& section : layout.sections) {
    for (const SectionEdit& edit : edits) {
      rewrite(good, bad, metric, dim, section.tag, edit);
      std::unique_ptr<Index> loaded;
      try {
        loaded = info.load(bad, metric, dim);
      } catch (const Error&) {
        continue;
      }
      use(*loaded);
    }
  }
}

// ---- Load errors ----

// Loading must fail with an Error whose message names the file and contains `what` (any
// message, when `what` is empty).
inline void expect_load_error(const ModuleInfo& info, const std::string& path, Metric metric,
                              std::size_t dim, const std::string& what = "") {
  try {
    info.load(path, metric, dim);
    ADD_FAILURE() << "loaded " << path << " (expected: " << what << ")";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

// The container-level failures every module's load() must report, each an Error naming the
// file: missing, truncated, another module's file, another metric (`other_metric`) or
// dimension, a flipped payload byte. `path` is a good file of `metric` and `dim`; the damaged
// copies go to `path`.bad, removed at the end.
inline void expect_container_errors(const ModuleInfo& info, const std::string& path, Metric metric,
                                    Metric other_metric, std::size_t dim) {
  expect_load_error(info, path + ".missing", metric, dim);
  const std::vector<char> good = read_bytes(path);
  const std::string bad = path + ".bad";
  write_bytes(bad, std::vector<char>(good.begin(), good.end() - 100));
  expect_load_error(info, bad, metric, dim, "truncated");
  std::vector<char> renamed = good;
  renamed[kModuleAt] = 'x';
  write_bytes(bad, renamed);
  expect_load_error(info, bad, metric, dim, "index, not a");
  expect_load_error(info, path, other_metric, dim, "index, not");
  expect_load_error(info, path, metric, dim + 1, "dimension");
  std::vector<char> flipped = good;
  flipped[good.size() - 1 - (good.size() - kHeaderBytes) / 3] ^= 0x10;
  write_bytes(bad, flipped);
  expect_load_error(info, bad, metric, dim, "checksum");
  std::remove(bad.c_str());
}

// ---- Results ----

// Same length, same ids and bit-identical distances, slot for slot (padding slots included).
inline void expect_identical(const std::vector<Neighbor>& a, const std::vector<Neighbor>& b,
                             const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].id, b[i].id) << what << " at " << i;
    ASSERT_EQ(a[i].distance, b[i].distance) << what << " at " << i;
  }
}

// `got` (queries.rows() x k) holds the metric's own scale (plain L2, 1 - cos), not squared or
// internal scores: each distance equals the dataset definition (exact_distance) rounded to
// float, bit for bit. Padding slots (id < 0) are skipped.
inline void expect_metric_scale(const std::vector<Neighbor>& got, const FloatMatrix& base,
                                const FloatMatrix& queries, std::size_t k, Metric metric) {
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (got[i].id < 0) continue;
    const double want = exact_distance(metric, queries.row(i / k),
                                       base.row(static_cast<std::size_t>(got[i].id)), base.cols());
    ASSERT_EQ(got[i].distance, static_cast<float>(want)) << metric_name(metric) << " slot " << i;
  }
}

}  // namespace annbench::testing
