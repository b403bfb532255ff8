#include "runbook.h"

#include <annbench/common/kmeans.h>
#include <annbench/datasets/groundtruth.h>
#include <annbench/datasets/hdf5.h>
#include <annbench/error.h>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

namespace annbench {

namespace fs = std::filesystem;

namespace {

std::string where(const fs::path& file, const YAML::Node& node) {
  return fmt::format("{}:{}", file.string(), node.Mark().line + 1);
}

std::size_t read_count(const YAML::Node& step, const char* key, const fs::path& file,
                       const std::string& label) {
  const YAML::Node value = step[key];
  ANNBENCH_CHECK(value.IsDefined() && value.IsScalar(), "{}: {} needs '{}'", where(file, step),
                 label, key);
  long long number = -1;
  try {
    number = value.as<long long>();
  } catch (const YAML::Exception&) {
    number = -1;
  }
  ANNBENCH_CHECK(number >= 0, "{}: {} '{}' must be a non-negative integer, got '{}'",
                 where(file, value), label, key, value.Scalar());
  return static_cast<std::size_t>(number);
}

}  // namespace

std::string_view op_name(RunbookStep::Op op) {
  switch (op) {
    case RunbookStep::Op::Insert: return "insert";
    case RunbookStep::Op::Delete: return "delete";
    case RunbookStep::Op::Replace: return "replace";
    case RunbookStep::Op::Search: return "search";
  }
  return "?";
}

std::size_t Runbook::search_steps() const {
  return static_cast<std::size_t>(std::count_if(
      steps.begin(), steps.end(), [](const auto& s) { return s.op == RunbookStep::Op::Search; }));
}

Runbook parse_runbook(const std::string& yaml_text, const fs::path& file,
                      const std::string& dataset, std::size_t train_rows) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    ANNBENCH_FAIL("{}:{}: not valid YAML: {}", file.string(), error.mark.line + 1, error.msg);
  }
  ANNBENCH_CHECK(root.IsMap(), "{}: a runbook is a map from dataset names to steps", file.string());
  const YAML::Node entry = root[dataset];
  if (!entry.IsDefined()) {
    std::string names;
    for (const auto& item : root) names += (names.empty() ? "" : ", ") + item.first.Scalar();
    ANNBENCH_FAIL("{}: no runbook for dataset '{}' (it has: {})", file.string(), dataset, names);
  }
  ANNBENCH_CHECK(entry.IsMap(), "{}: the runbook of '{}' must be a map of numbered steps",
                 where(file, entry), dataset);
  Runbook runbook;
  runbook.file = file;
  runbook.dataset = dataset;
  std::map<long long, YAML::Node> numbered;
  for (const auto& item : entry) {
    const std::string key = item.first.Scalar();
    if (key == "max_pts") {
      runbook.max_pts = read_count(entry, "max_pts", file, "the runbook");
      continue;
    }
    if (key == "gt_url" || key == "description") continue;  // big-ann's metadata
    long long number = 0;
    std::size_t used = 0;
    try {
      number = std::stoll(key, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    ANNBENCH_CHECK(used == key.size() && number >= 1,
                   "{}: unknown key '{}' (a runbook has max_pts and steps numbered 1..n)",
                   where(file, item.first), key);
    numbered[number] = item.second;
  }
  ANNBENCH_CHECK(runbook.max_pts > 0, "{}: the runbook of '{}' needs a positive max_pts",
                 where(file, entry), dataset);
  ANNBENCH_CHECK(!numbered.empty(), "{}: the runbook of '{}' has no steps", where(file, entry),
                 dataset);
  long long expected = 1;
  for (const auto& [number, node] : numbered) {
    ANNBENCH_CHECK(number == expected, "{}: steps must be numbered 1..n; step {} is missing",
                   where(file, node), expected);
    ++expected;
    const std::string label = fmt::format("step {}", number);
    ANNBENCH_CHECK(node.IsMap() && node["operation"].IsDefined(), "{}: {} needs an 'operation'",
                   where(file, node), label);
    RunbookStep step;
    step.line = node.Mark().line + 1;
    const std::string op = node["operation"].Scalar();
    std::set<std::string> allowed = {"operation"};
    if (op == "insert" || op == "delete") {
      step.op = op == "insert" ? RunbookStep::Op::Insert : RunbookStep::Op::Delete;
      step.start = read_count(node, "start", file, label);
      step.end = read_count(node, "end", file, label);
      allowed.insert({"start", "end"});
      ANNBENCH_CHECK(step.start < step.end, "{}: {} has start {} >= end {}", where(file, node),
                     label, step.start, step.end);
    } else if (op == "replace") {
      step.op = RunbookStep::Op::Replace;
      step.tags_start = read_count(node, "tags_start", file, label);
      step.tags_end = read_count(node, "tags_end", file, label);
      step.ids_start = read_count(node, "ids_start", file, label);
      step.ids_end = read_count(node, "ids_end", file, label);
      allowed.insert({"tags_start", "tags_end", "ids_start", "ids_end"});
      ANNBENCH_CHECK(step.tags_start < step.tags_end &&
                         step.tags_end - step.tags_start == step.ids_end - step.ids_start &&
                         step.ids_start < step.ids_end,
                     "{}: {} must replace a non-empty range of tags by as many rows (tags "
                     "[{}, {}), ids [{}, {}))",
                     where(file, node), label, step.tags_start, step.tags_end, step.ids_start,
                     step.ids_end);
    } else if (op == "search") {
      step.op = RunbookStep::Op::Search;
    } else {
      ANNBENCH_FAIL("{}: {} has unknown operation '{}' (insert, delete, replace or search)",
                    where(file, node["operation"]), label, op);
    }
    for (const auto& item : node) {
      ANNBENCH_CHECK(allowed.count(item.first.Scalar()) != 0, "{}: {} ({}) has unknown key '{}'",
                     where(file, item.first), label, op, item.first.Scalar());
    }
    runbook.steps.push_back(step);
  }
  // Walk the live set once: every step must make sense where it stands.
  std::vector<bool> live(train_rows, false);
  std::size_t live_count = 0;
  for (std::size_t s = 0; s < runbook.steps.size(); ++s) {
    const RunbookStep& step = runbook.steps[s];
    const std::string at =
        fmt::format("{}:{}: step {} ({})", file.string(), step.line, s + 1, op_name(step.op));
    auto check_rows = [&](std::size_t end, const char* key) {
      ANNBENCH_CHECK(end <= train_rows, "{}: '{}' {} is beyond the {} train rows of '{}'", at, key,
                     end, train_rows, dataset);
    };
    switch (step.op) {
      case RunbookStep::Op::Insert:
        check_rows(step.end, "end");
        for (std::size_t t = step.start; t < step.end; ++t) {
          ANNBENCH_CHECK(!live[t], "{}: id {} is already live", at, t);
          live[t] = true;
        }
        live_count += step.end - step.start;
        ANNBENCH_CHECK(live_count <= runbook.max_pts,
                       "{}: {} points would be live, more than max_pts {}", at, live_count,
                       runbook.max_pts);
        break;
      case RunbookStep::Op::Delete:
        check_rows(step.end, "end");
        for (std::size_t t = step.start; t < step.end; ++t) {
          ANNBENCH_CHECK(live[t], "{}: id {} is not live", at, t);
          live[t] = false;
        }
        live_count -= step.end - step.start;
        break;
      case RunbookStep::Op::Replace:
        check_rows(step.tags_end, "tags_end");
        check_rows(step.ids_end, "ids_end");
        for (std::size_t t = step.tags_start; t < step.tags_end; ++t)
          ANNBENCH_CHECK(live[t], "{}: tag {} is not live", at, t);
        break;
      case RunbookStep::Op::Search: break;
    }
  }
  ANNBENCH_CHECK(runbook.search_steps() > 0, "{}: the runbook of '{}' has no search step",
                 file.string(), dataset);
  return runbook;
}

Runbook load_runbook(const fs::path& file, const std::string& dataset, std::size_t train_rows) {
  std::ifstream in(file, std::ios::binary);
  ANNBENCH_CHECK(in.good(), "cannot read runbook '{}'", file.string());
  std::stringstream text;
  text << in.rdbuf();
  Runbook runbook = parse_runbook(text.str(), file, dataset, train_rows);
  runbook.sha256 = file_sha256(file);
  return runbook;
}

std::vector<StepGroundTruth> compute_step_ground_truth(const Runbook& runbook,
                                                       const Dataset& dataset, std::size_t k,
                                                       bool quiet) {
  const std::size_t q_count = dataset.test.rows();
  const std::size_t dim = dataset.dim();
  std::vector<StepGroundTruth> result;
  const auto start = std::chrono::steady_clock::now();
  replay(runbook, dataset.train.rows(), [&](std::size_t s, const std::vector<std::int64_t>& live) {
    if (runbook.steps[s].op != RunbookStep::Op::Search) return;
    // Gathered in tag order, so the kernel's ties by smaller position are ties by smaller tag.
    std::vector<std::int32_t> tags;
    for (std::size_t t = 0; t < live.size(); ++t) {
      if (live[t] >= 0) tags.push_back(static_cast<std::int32_t>(t));
    }
    FloatMatrix gathered(tags.size(), dim);
    for (std::size_t i = 0; i < tags.size(); ++i) {
      const float* row = dataset.train.row(static_cast<std::size_t>(live[tags[i]]));
      std::copy(row, row + dim, gathered.data() + i * dim);
    }
    StepGroundTruth truth;
    truth.step = s;
    truth.neighbors = IdMatrix(q_count, k, -1);
    truth.distances = FloatMatrix(q_count, k, std::numeric_limits<float>::infinity());
    if (!tags.empty()) {
      const GroundTruth exact =
          compute_ground_truth(gathered.view(), dataset.test.view(), dataset.metric, k);
      for (std::size_t q = 0; q < q_count; ++q) {
        for (std::size_t j = 0; j < exact.neighbors.cols(); ++j) {
          truth.neighbors(q, j) = tags[static_cast<std::size_t>(exact.neighbors(q, j))];
          truth.distances(q, j) = exact.distances(q, j);
        }
      }
    }
    if (!quiet) {
      fmt::print("  step {}: {} live points, ground truth for {} queries ({:.1f} s so far)\n",
                 s + 1, tags.size(), q_count,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    result.push_back(std::move(truth));
  });
  return result;
}

fs::path step_ground_truth_file(const fs::path& dataset_file, const Runbook& runbook) {
  fs::path base = dataset_file;
  if (base.extension() == ".hdf5") base.replace_extension();
  return base.string() + "." + runbook.file.stem().string() + ".gt.hdf5";
}

std::vector<StepGroundTruth> step_ground_truth(const fs::path& dataset_file, const Dataset& dataset,
                                               const Runbook& runbook, bool quiet) {
  constexpr std::size_t kDepth = 100;
  const fs::path sidecar = step_ground_truth_file(dataset_file, runbook);
  const std::size_t k = std::min(kDepth, dataset.train.rows());
  if (fs::exists(sidecar)) {
    try {
      const h5::File file = h5::File::open_read(sidecar);
      const bool current =
          file.string_attribute("runbook_sha256").value_or("") == runbook.sha256 &&
          file.string_attribute("dataset").value_or("") == runbook.dataset &&
          file.number_attribute("queries").value_or(-1) == static_cast<double>(dataset.test.rows());
      if (current) {
        std::vector<StepGroundTruth> steps;
        for (std::size_t s = 0; s < runbook.steps.size(); ++s) {
          if (runbook.steps[s].op != RunbookStep::Op::Search) continue;
          StepGroundTruth truth;
          truth.step = s;
          truth.neighbors = file.read_ints(fmt::format("step_{}_neighbors", s + 1));
          truth.distances = file.read_floats(fmt::format("step_{}_distances", s + 1));
          steps.push_back(std::move(truth));
        }
        return steps;
      }
    } catch (const Error& error) {
      if (!quiet)
        fmt::print("runbook ground truth {} is unreadable ({}): recomputing\n", sidecar.string(),
                   error.what());
    }
  }
  if (!quiet) {
    fmt::print("runbook {}: exact top-{} at {} search steps of {} ({} queries) -> {}\n",
               runbook.file.string(), k, runbook.search_steps(), runbook.dataset,
               dataset.test.rows(), sidecar.string());
  }
  std::vector<StepGroundTruth> steps = compute_step_ground_truth(runbook, dataset, k, quiet);
  h5::write_atomically(sidecar, [&](const fs::path& temporary) {
    h5::File file = h5::File::create(temporary);
    file.set_attribute("runbook", runbook.file.string());
    file.set_attribute("runbook_sha256", runbook.sha256);
    file.set_attribute("dataset", runbook.dataset);
    file.set_attribute("queries", static_cast<std::int64_t>(dataset.test.rows()));
    file.set_attribute("distance", dataset.distance);
    for (const auto& truth : steps) {
      file.write_ints(fmt::format("step_{}_neighbors", truth.step + 1), truth.neighbors.data(),
                      truth.neighbors.rows(), truth.neighbors.cols());
      file.write_floats(fmt::format("step_{}_distances", truth.step + 1), truth.distances.data(),
                        truth.distances.rows(), truth.distances.cols());
    }
    file.flush();
  });
  return steps;
}

std::string make_runbook(const RunbookRecipe& recipe, const std::string& dataset,
                         std::size_t train_rows) {
  if (recipe.kind == "clustered") {
    ANNBENCH_CHECK(!recipe.cluster_ends.empty() && recipe.cluster_ends.back() == train_rows,
                   "runbook: clustered needs cluster ends covering the {} train rows", train_rows);
    std::string text = fmt::format(
        "# annbench runbook make --kind clustered --clusters {} --seed {}\n{}:\n  max_pts: {}\n",
        recipe.cluster_ends.size(), recipe.seed, dataset, train_rows);
    std::size_t start = 0, step = 0;
    for (const std::size_t end : recipe.cluster_ends) {
      if (end == start) continue;  // an empty cluster
      text += fmt::format("  {}: {{operation: insert, start: {}, end: {}}}\n", ++step, start, end);
      text += fmt::format("  {}: {{operation: search}}\n", ++step);
      start = end;
    }
    return text;
  }
  ANNBENCH_CHECK(recipe.kind == "sliding-window" || recipe.kind == "expiring",
                 "runbook kind must be sliding-window, expiring or clustered, got '{}'",
                 recipe.kind);
  ANNBENCH_CHECK(recipe.window > 0 && recipe.batch > 0 && recipe.batch <= recipe.window,
                 "runbook: need 0 < batch ({}) <= window ({})", recipe.batch, recipe.window);
  const std::size_t needed = recipe.window + recipe.rounds * recipe.batch;
  ANNBENCH_CHECK(needed <= train_rows,
                 "runbook: window {} + {} rounds x {} = {} rows, but '{}' has {} train rows",
                 recipe.window, recipe.rounds, recipe.batch, needed, dataset, train_rows);
  std::string text = fmt::format(
      "# annbench runbook make --kind {} --window {} --batch {} --rounds {} --seed {}\n"
      "{}:\n  max_pts: {}\n",
      recipe.kind, recipe.window, recipe.batch, recipe.rounds, recipe.seed, dataset, recipe.window);
  int step = 0;
  auto emit = [&](const std::string& body) { text += fmt::format("  {}: {{{}}}\n", ++step, body); };
  emit(fmt::format("operation: insert, start: 0, end: {}", recipe.window));
  emit("operation: search");
  // expiring: the window is cut into slices of `batch` rows; each round deletes one live slice
  // drawn at random (not the oldest) and inserts the next unused rows.
  std::vector<std::size_t> slices;
  for (std::size_t s = 0; s + recipe.batch <= recipe.window; s += recipe.batch) slices.push_back(s);
  std::mt19937_64 random(recipe.seed);
  for (std::size_t round = 0; round < recipe.rounds; ++round) {
    std::size_t start = round * recipe.batch;
    if (recipe.kind == "expiring") {
      std::uniform_int_distribution<std::size_t> pick(0, slices.size() - 1);
      const std::size_t i = pick(random);
      start = slices[i];
      slices[i] = recipe.window + round * recipe.batch;  // the slice inserted this round
    }
    emit(fmt::format("operation: delete, start: {}, end: {}", start, start + recipe.batch));
    const std::size_t fresh = recipe.window + round * recipe.batch;
    emit(fmt::format("operation: insert, start: {}, end: {}", fresh, fresh + recipe.batch));
    emit("operation: search");
  }
  return text;
}

}  // namespace annbench

namespace annbench {

std::vector<std::size_t> write_clustered_dataset(const fs::path& dataset_file, std::size_t clusters,
                                                 std::uint64_t seed, const fs::path& out) {
  const Dataset dataset = load_dataset(dataset_file);
  const std::size_t n = dataset.train.rows();
  const std::size_t dim = dataset.dim();
  ANNBENCH_CHECK(clusters >= 1 && clusters <= n, "runbook: --clusters must be in 1..{}, got {}", n,
                 clusters);
  KMeansParams params;
  params.k = clusters;
  params.seed = seed;
  const KMeansResult trained = kmeans(dataset.train.view(), params);
  std::vector<std::uint32_t> labels(n);
  nearest_centroids(dataset.train.view(), trained.centroids.view(), false, labels.data());
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return labels[a] < labels[b]; });
  std::vector<std::int32_t> new_id(n);
  FloatMatrix train(n, dim);
  for (std::size_t i = 0; i < n; ++i) {
    new_id[order[i]] = static_cast<std::int32_t>(i);
    std::copy(dataset.train.row(order[i]), dataset.train.row(order[i]) + dim, train.row(i));
  }
  IdMatrix neighbors(dataset.neighbors.rows(), dataset.neighbors.cols());
  for (std::size_t i = 0; i < dataset.neighbors.size(); ++i) {
    const std::int32_t id = dataset.neighbors.data()[i];
    neighbors.data()[i] = id < 0 ? id : new_id[static_cast<std::size_t>(id)];
  }
  FloatMatrix test(dataset.test.rows(), dim);
  std::copy(dataset.test.data(), dataset.test.data() + dataset.test.size(), test.data());
  FloatMatrix distances(dataset.distances.rows(), dataset.distances.cols());
  std::copy(dataset.distances.data(), dataset.distances.data() + dataset.distances.size(),
            distances.data());
  write_dataset(out, dataset.metric, train, test, neighbors, distances,
                {{"clustered_from", dataset.name},
                 {"clustered_by", fmt::format("k-means, {} clusters, seed {}", clusters, seed)}});
  std::vector<std::size_t> ends(clusters, 0);
  for (std::size_t i = 0; i < n; ++i) ends[labels[order[i]]] = i + 1;
  // An empty cluster ends where the previous one did.
  for (std::size_t c = 1; c < clusters; ++c) ends[c] = std::max(ends[c], ends[c - 1]);
  return ends;
}

}  // namespace annbench
