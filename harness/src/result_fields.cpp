#include "result_fields.h"

#include <annbench/error.h>

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <type_traits>

namespace annbench {

namespace {

using R = RunRecord;
constexpr unsigned kIdentity = kInCsv | kInHdf5 | kInFailed;
constexpr unsigned kMeasured = kInCsv | kInHdf5 | kOutcome;

// status and result_file are derived (from ok and from the results root): the CSV writer fills
// them; std::monostate marks them.
using Derived = std::monostate;

const std::array kFields = std::to_array<ResultField>({
    {"dataset", FieldType::Text, "dataset", kIdentity, &R::dataset},
    {"count", FieldType::Integer, "count", kIdentity, &R::count},
    {"algorithm", FieldType::Text, "algo", kIdentity, &R::algorithm},
    {"name", FieldType::Text, "slug", kIdentity, &R::slug},
    {"build_params", FieldType::Json, "build_params", kIdentity, &R::build_params},
    {"search_params", FieldType::Json, "search_params", kIdentity, &R::search_params},
    {"batch_mode", FieldType::Boolean, "batch_mode", kIdentity, &R::batch_mode},
    {"threads", FieldType::Integer, "threads", kIdentity, &R::threads},
    {"queries", FieldType::Integer, "queries", kIdentity, &R::queries},
    {"runs", FieldType::Integer, "run_count", kIdentity, &R::runs},
    {"status", FieldType::Text, "", kInCsv, Derived{}},
    {"error", FieldType::Text, "", kInCsv | kInFailed, &R::error},
    {"recall", FieldType::Real, "recall", kMeasured, &R::recall},
    {"epsilon_recall", FieldType::Real, "epsilon_recall", kMeasured, &R::epsilon_recall},
    {"largeepsilon_recall", FieldType::Real, "largeepsilon_recall", kMeasured,
     &R::largeepsilon_recall},
    {"rel", FieldType::Real, "rel", kMeasured, &R::rel},
    {"qps", FieldType::Real, "qps", kMeasured, &R::qps},
    {"p50_ms", FieldType::Real, "p50_ms", kMeasured, &R::p50_ms},
    {"p95_ms", FieldType::Real, "p95_ms", kMeasured, &R::p95_ms},
    {"p99_ms", FieldType::Real, "p99_ms", kMeasured, &R::p99_ms},
    {"p999_ms", FieldType::Real, "p999_ms", kMeasured, &R::p999_ms},
    {"build_s", FieldType::Real, "build_time", kMeasured, &R::build_time},
    {"load_s", FieldType::Real, "load_time", kMeasured, &R::load_time},
    {"index_kb", FieldType::Real, "index_size", kMeasured, &R::index_kb},
    {"rss_growth_kb", FieldType::Real, "rss_growth_kb", kMeasured, &R::rss_growth_kb},
    {"distcomps", FieldType::Real, "distcomps_per_query", kMeasured, &R::distcomps},
    {"result_file", FieldType::Text, "", kInCsv, Derived{}},
    {"git_commit", FieldType::Text, "git_commit", kIdentity, &R::git_commit},
    {"compiler", FieldType::Text, "compiler", kIdentity, &R::compiler},
    {"flags", FieldType::Text, "flags", kIdentity, &R::flags},
    {"cpu", FieldType::Text, "cpu", kIdentity, &R::cpu},
    {"dataset_sha256", FieldType::Text, "dataset_sha256", kIdentity, &R::dataset_sha256},
    {"timestamp", FieldType::Text, "timestamp", kIdentity, &R::timestamp},
    {"mode", FieldType::Text, "mode", kIdentity, &R::mode},
    {"radius", FieldType::Real, "radius", kIdentity, &R::radius},
    {"range_recall", FieldType::Real, "range_recall", kMeasured, &R::range_recall},
    {"range_ap", FieldType::Real, "range_ap", kMeasured, &R::range_ap},
    {"library", FieldType::Text, "library", kIdentity, &R::library},
    {"hostname", FieldType::Text, "hostname", kIdentity, &R::hostname},
    {"runbook", FieldType::Text, "runbook", kIdentity, &R::runbook},
    {"clients", FieldType::Integer, "clients", kIdentity, &R::clients},
    {"min_recall", FieldType::Real, "min_recall", kMeasured, &R::min_recall},
    {"update_s", FieldType::Real, "update_s", kMeasured, &R::update_s},
    {"insert_per_s", FieldType::Real, "insert_per_s", kMeasured, &R::insert_per_s},
    {"delete_per_s", FieldType::Real, "delete_per_s", kMeasured, &R::delete_per_s},
    {"selectivity", FieldType::Real, "selectivity", kIdentity, &R::selectivity},
    {"filter_kind", FieldType::Text, "filter_kind", kIdentity, &R::filter_kind},
    {"mean_selectivity", FieldType::Real, "mean_selectivity", kMeasured, &R::mean_selectivity},
    {"shards", FieldType::Integer, "shards", kIdentity, &R::shards},
    {"partition", FieldType::Text, "partition", kIdentity, &R::partition},
    {"probe_shards", FieldType::Integer, "probe_shards", kIdentity, &R::probe_shards},
    {"bytes_per_query", FieldType::Real, "bytes_per_query", kMeasured, &R::bytes_per_query},
    {"shard_imbalance", FieldType::Real, "shard_imbalance", kMeasured, &R::shard_imbalance},
    {"peak_rss_kb", FieldType::Real, "peak_rss_kb", kMeasured, &R::peak_rss_kb},
    {"build_report", FieldType::Json, "build_report", kMeasured, &R::build_report},
    // Attributes of the run files only.
    {"module", FieldType::Text, "module", kInHdf5 | kInFailed, &R::module},
    {"distance", FieldType::Text, "distance", kInHdf5 | kInFailed, &R::distance},
    {"config", FieldType::Text, "config", kInHdf5 | kInFailed, &R::config},
    {"best_search_time", FieldType::Real, "best_search_time", kInHdf5, &R::best_search_time},
    {"candidates", FieldType::Real, "candidates", kInHdf5, &R::candidates},
    {"duplicate_ids", FieldType::Integer, "duplicate_ids", kInHdf5, &R::duplicate_ids},
    {"transform", FieldType::Text, "transform", kInHdf5, &R::transform},
    {"transform_s", FieldType::Real, "transform_time", kInHdf5, &R::transform_s},
    {"index_file", FieldType::Text, "index_file", kInHdf5, &R::index_file},
});

std::string number_text(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return fmt::format("{:.6g}", value);
}

double parse_number(const ResultField& field, const std::string& text) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  ANNBENCH_FAIL("result field '{}': '{}' is not a number", field.name, text);
}

}  // namespace

std::string_view field_type_name(FieldType type) {
  switch (type) {
    case FieldType::Text: return "text";
    case FieldType::Integer: return "int";
    case FieldType::Real: return "float";
    case FieldType::Boolean: return "bool";
    case FieldType::Json: return "json";
  }
  return "text";
}

std::span<const ResultField> result_fields() {
  return kFields;
}

std::string field_text(const ResultField& field, const RunRecord& record) {
  return std::visit(
      [&](auto member) -> std::string {
        using M = decltype(member);
        if constexpr (std::is_same_v<M, std::monostate>) {
          return {};
        } else {
          const auto& value = record.*member;
          using V = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<V, std::string>) {
            return value;
          } else if constexpr (std::is_same_v<V, bool>) {
            return value ? "1" : "0";
          } else if constexpr (std::is_same_v<V, double>) {
            return number_text(value);
          } else if constexpr (std::is_same_v<V, std::optional<double>>) {
            return value ? number_text(*value) : std::string();
          } else {
            return std::to_string(value);
          }
        }
      },
      field.member);
}

void set_field_text(const ResultField& field, RunRecord& record, const std::string& text) {
  if (text.empty()) return;
  std::visit(
      [&](auto member) {
        using M = decltype(member);
        if constexpr (!std::is_same_v<M, std::monostate>) {
          auto& value = record.*member;
          using V = std::decay_t<decltype(value)>;
          if constexpr (std::is_same_v<V, std::string>) {
            value = text;
          } else if constexpr (std::is_same_v<V, bool>) {
            value = parse_number(field, text) != 0;
          } else if constexpr (std::is_same_v<V, double> ||
                               std::is_same_v<V, std::optional<double>>) {
            value = parse_number(field, text);
          } else {
            value = static_cast<V>(parse_number(field, text));
          }
        }
      },
      field.member);
}

RunRecord copy_fields(const RunRecord& record) {
  RunRecord copy;
  for (const auto& field : kFields) {
    std::visit(
        [&](auto member) {
          if constexpr (!std::is_same_v<decltype(member), std::monostate>)
            copy.*member = record.*member;
        },
        field.member);
  }
  copy.ok = record.ok;
  return copy;
}

std::string summary_schema_json() {
  std::string text = "{\"columns\": [";
  bool first = true;
  for (const auto& field : kFields) {
    if ((field.places & kInCsv) == 0) continue;
    text += fmt::format("{}\n  {{\"name\": \"{}\", \"type\": \"{}\"}}", first ? "" : ",",
                        field.name, field_type_name(field.type));
    first = false;
  }
  return text + "\n]}\n";
}

}  // namespace annbench
