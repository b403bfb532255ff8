#pragma once
// A small RFC 4180 reader for the CSV files annbench writes (summary.csv): comma-separated,
// fields optionally in double quotes, "" for a quote inside quotes, newlines allowed inside
// quotes, \n or \r\n line ends.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace annbench {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each as long as the header (short rows padded)

  // Index of a header column, or nullopt.
  std::optional<std::size_t> column(std::string_view name) const;
};

// Parses text whose first record is the header. Throws annbench::Error (naming `what` and the
// line) on an unterminated quote or a row longer than the header.
CsvTable parse_csv(std::string_view text, std::string_view what = "csv");

CsvTable read_csv(const std::filesystem::path& file);

}  // namespace annbench
