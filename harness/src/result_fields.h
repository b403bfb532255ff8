#pragma once
// The one table of a run's result fields: name, type, summary.csv column, HDF5 attribute, and
// where each appears. The HDF5 writer and reader, the .failed files, summary.csv (and its
// schema file, from which plots/annbench_results.py takes the column types) all walk this table,
// so a field added here appears everywhere at once.

#include "results.h"

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace annbench {

enum class FieldType { Text, Integer, Real, Boolean, Json };

std::string_view field_type_name(FieldType type);  // "text", "int", "float", "bool", "json"

// Where a field appears.
enum FieldPlace : unsigned {
  kInCsv = 1u << 0,     // a summary.csv column
  kInHdf5 = 1u << 1,    // an attribute of a finished run's .hdf5
  kInFailed = 1u << 2,  // a line of a failed run's .failed file
  kOutcome = 1u << 3,   // measured: blank in the CSV row of a failed run
};

// How a field is read from and written to a RunRecord.
// std::monostate: derived, filled by the writer (status, result_file).
using FieldMember = std::variant<std::monostate, std::string RunRecord::*, double RunRecord::*,
                                 std::optional<double> RunRecord::*, std::size_t RunRecord::*,
                                 int RunRecord::*, bool RunRecord::*>;

struct ResultField {
  std::string_view name;  // summary.csv column (and .failed key)
  FieldType type;
  std::string_view attribute;  // HDF5 attribute name (ANN-Benchmarks' name where it has one)
  unsigned places;
  FieldMember member;
};

// Every field, in summary.csv column order (new fields go last, so that readers that index
// the older columns by position keep working).
std::span<const ResultField> result_fields();

// The field's value as text (empty for an absent optional): CSV cells and .failed lines.
std::string field_text(const ResultField& field, const RunRecord& record);
// Sets the field from text as written by field_text; empty text leaves it unset.
void set_field_text(const ResultField& field, RunRecord& record, const std::string& text);

// A record with every field of the table copied from `record` (and `ok`), but none of its
// per-query data: RunRecord itself is move-only.
RunRecord copy_fields(const RunRecord& record);

// JSON describing the columns of summary.csv: {"columns": [{"name": ..., "type": ...}, ...]}.
std::string summary_schema_json();

}  // namespace annbench
