// RFC 4180 CSV reading, for summary.csv files (see csv.h).

#include "csv.h"

#include <annbench/error.h>

#include <fstream>
#include <sstream>

namespace annbench {

std::optional<std::size_t> CsvTable::column(std::string_view name) const {
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return i;
  }
  return std::nullopt;
}

CsvTable parse_csv(std::string_view text, std::string_view what) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  bool in_quotes = false;
  bool any = false;  // the current record has content (so a trailing newline ends no record)
  std::size_t line = 1;
  std::size_t quote_line = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_quotes = true;
        quote_line = line;
        any = true;
        break;
      case ',':
        record.push_back(std::move(field));
        field.clear();
        any = true;
        break;
      case '\r': break;  // \r\n line ends
      case '\n':
        ++line;
        if (any) {
          record.push_back(std::move(field));
          records.push_back(std::move(record));
        }
        field.clear();
        record.clear();
        any = false;
        break;
      default: field += c; any = true;
    }
  }
  ANNBENCH_CHECK(!in_quotes, "{}: quote opened on line {} is never closed", what, quote_line);
  if (any) {
    record.push_back(std::move(field));
    records.push_back(std::move(record));
  }
  CsvTable table;
  if (records.empty()) return table;
  table.header = std::move(records.front());
  for (std::size_t r = 1; r < records.size(); ++r) {
    auto& row = records[r];
    ANNBENCH_CHECK(row.size() <= table.header.size(),
                   "{}: record {} has {} fields, the header only {}", what, r + 1, row.size(),
                   table.header.size());
    row.resize(table.header.size());
    table.rows.push_back(std::move(row));
  }
  return table;
}

CsvTable read_csv(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  ANNBENCH_CHECK(in.good(), "cannot read '{}'", file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_csv(text.str(), file.string());
}

}  // namespace annbench
