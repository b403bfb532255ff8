"""Read annbench results (results/<dataset>/summary.csv) and compute Pareto frontiers.

Standard library only (csv, json); the plotting script imports this.

    from annbench_results import load_results, pareto_frontier, METRICS, metric_value

The columns of summary.csv are written by the C++ runner, one row per run
(module x build point x search point x mode), with their types in summary.schema.json
beside it; see plots/README.md.
"""

import csv
import json
import math
import os
import tempfile
from collections import namedtuple

# --------------------------------------------------------------------------- columns

# The runner writes, beside each summary.csv, summary.schema.json: every column's name and type
# ("text", "int", "float", "bool", "json"), from the one table of result fields in the C++ code
# (harness/src/result_fields.cpp). This reader takes the types from there, so a column added to
# that table needs no change here.
SUMMARY_NAME = "summary.csv"
SCHEMA_NAME = "summary.schema.json"

# --------------------------------------------------------------------------- metrics

# column: the summary.csv column (None for a derived metric, see metric_value);
# label: axis label, "{k}" is replaced by the row's count;
# scale: default matplotlib axis scale; higher_is_better: direction of "better".
Metric = namedtuple("Metric", "column label scale higher_is_better")

METRICS = {
    "recall": Metric("recall", "Recall@{k}", "linear", True),
    "epsilon_recall": Metric("epsilon_recall", "Recall@{k}, distance within 1.01 \u00d7 true", "linear", True),
    "largeepsilon_recall": Metric("largeepsilon_recall", "Recall@{k}, distance within 1.1 \u00d7 true", "linear", True),
    "rel": Metric("rel", "Relative distance error (sum returned / sum true)", "linear", False),
    "qps": Metric("qps", "Queries per second (1/s)", "log", True),
    "build_s": Metric("build_s", "Build time (s)", "log", False),
    "index_kb": Metric("index_kb", "Index size (kB)", "log", False),
    "p50_ms": Metric("p50_ms", "Latency, 50th percentile (ms)", "log", False),
    "p95_ms": Metric("p95_ms", "Latency, 95th percentile (ms)", "log", False),
    "p99_ms": Metric("p99_ms", "Latency, 99th percentile (ms)", "log", False),
    "p999_ms": Metric("p999_ms", "Latency, 99.9th percentile (ms)", "log", False),
    "distcomps": Metric("distcomps", "Distance computations per query", "log", False),
    "queriessize": Metric(None, "Index size / QPS (kB \u00b7 s)", "log", False),
}


def metric_label(name, k=None):
    """Axis label of metric `name`, with "@k" filled in (dropped when k is unknown)."""
    label = METRICS[name].label
    if k is None:
        return label.replace("@{k}", "")
    return label.format(k=k)


def metric_value(row, name):
    """Value of metric `name` for one loaded row, or None when not available."""
    m = METRICS[name]
    if m.column is not None:
        return row.get(m.column)
    if name == "queriessize":  # ANN-Benchmarks: indexsize / qps
        size, qps = row.get("index_kb"), row.get("qps")
        if size is None or not qps:
            return None
        return size / qps
    raise KeyError(name)


# --------------------------------------------------------------------------- Pareto

def pareto_frontier(points, x_higher_is_better=True, y_higher_is_better=True):
    """Pareto frontier exactly as ANN-Benchmarks' plotting/utils.py create_pointset.

    points: iterable of sequences whose first two items are x and y; anything
    after them (a row, a label) is carried along untouched.
    Points with x or y equal to 0 or None are dropped; the rest are sorted by
    best y first (ties: best x first); a point is kept only when its x is
    strictly better than the x of every point kept before it.
    Returns the kept points (the original objects) in that order.
    """
    sy = -1.0 if y_higher_is_better else 1.0
    sx = -1.0 if x_higher_is_better else 1.0
    usable = [p for p in points if p[0] and p[1]]  # drops 0, 0.0 and None
    usable.sort(key=lambda p: (sy * p[1], sx * p[0]))  # stable: payloads never compared
    kept = []
    last_x = None
    for p in usable:
        x = p[0]
        if last_x is None or (x > last_x if x_higher_is_better else x < last_x):
            last_x = x
            kept.append(p)
    return kept


# --------------------------------------------------------------------------- loading

class Results:
    """Rows of one or more summary.csv files.

    rows:   ok runs, dicts with numeric fields converted (empty -> None)
    failed: runs whose status is not "ok" (same conversion), kept for reporting
    files:  the summary.csv files read
    """

    def __init__(self, rows=None, failed=None, files=None):
        self.rows = rows if rows is not None else []
        self.failed = failed if failed is not None else []
        self.files = files if files is not None else []

    @property
    def n_failed(self):
        return len(self.failed)

    def __repr__(self):
        return "Results(%d ok rows, %d failed, %d files)" % (
            len(self.rows), len(self.failed), len(self.files))


def _to_int(text):
    try:
        return int(text)
    except ValueError:
        v = float(text)  # "1.0" from a writer that prints floats
        return int(v) if v.is_integer() else v


def _to_float(text):
    v = float(text)
    return None if math.isnan(v) else v


def read_schema(summary_path):
    """{column: type} from the summary.schema.json beside a summary.csv, or None without one."""
    path = os.path.join(os.path.dirname(os.path.abspath(summary_path)), SCHEMA_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            columns = json.load(f)["columns"]
        return {c["name"]: c["type"] for c in columns}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _infer_type(key, text):
    """Column type for a file without a schema (hand-made or older results)."""
    if key.endswith("_params"):
        return "json"
    for kind, parse in (("int", int), ("float", float)):
        try:
            parse(text)
            return kind
        except ValueError:
            pass
    return "text"


def convert_row(raw, source=None, types=None):
    """Convert one csv.DictReader row by column type: ints/floats parsed, empty -> None (or {}
    for JSON), JSON parsed. `types` is {column: type} from the schema; without it types are
    inferred from the values. Unparseable numbers become None; a JSON field that does not parse
    is left as its text; bools read as 0/1."""
    row = {}
    for key, text in raw.items():
        if key is None:  # more fields than header columns
            continue
        text = text.strip() if text is not None else ""
        kind = (types or {}).get(key) or _infer_type(key, text)
        if text == "":
            row[key] = {} if kind == "json" else None
        elif kind in ("int", "bool"):
            try:
                row[key] = _to_int(text)
            except ValueError:
                row[key] = None
        elif kind == "float":
            try:
                row[key] = _to_float(text)
            except ValueError:
                row[key] = None
        elif kind == "json":
            try:
                row[key] = json.loads(text)
            except ValueError:
                row[key] = text
        else:
            row[key] = text
    for key, kind in (types or {}).items():
        row.setdefault(key, {} if kind == "json" else None)
    if source is not None:
        row["_source"] = source
    return row


def find_summary_files(path):
    """summary.csv files under a results root (sorted), or [path] when path is a file."""
    if os.path.isfile(path):
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        if SUMMARY_NAME in filenames:
            found.append(os.path.join(dirpath, SUMMARY_NAME))
    return found


def read_summary(path, results=None):
    """Append the runs of one summary.csv to `results` (a new Results if None)."""
    if results is None:
        results = Results()
    types = read_schema(path)
    with open(path, newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            if not any((v or "").strip() for k, v in raw.items() if k is not None):
                continue  # blank line
            row = convert_row(raw, source=path, types=types)
            if (row.get("status") or "").strip().lower() == "ok":
                results.rows.append(row)
            else:
                results.failed.append(row)
    results.files.append(path)
    return results


def load_results(path):
    """Load every summary.csv under `path` (a results root or one summary.csv file).

    Returns Results; failed runs (status != ok) are not in .rows but counted
    in .n_failed. Raises FileNotFoundError when path does not exist.
    """
    if not os.path.exists(path):
        raise FileNotFoundError("no such file or directory: %s" % path)
    results = Results()
    for f in find_summary_files(path):
        read_summary(f, results)
    return results


def write_atomically(out, write, prefix=".annbench-", suffix=""):
    """Calls write(file) on a temporary file beside `out`, then renames it over `out`, so a
    reader never sees half a file. Creates the folder; returns `out`."""
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            write(f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    return out


def results_root_of(summary_path):
    """summary.csv lives at <root>/<dataset>/summary.csv; result_file is relative to <root>."""
    return os.path.dirname(os.path.dirname(os.path.abspath(summary_path)))


def run_file_path(row):
    """The path of a loaded row's own run file (.hdf5 or .failed), or None when not recorded."""
    src, rel = row.get("_source"), row.get("result_file")
    if not src or not rel:
        return None
    return os.path.join(results_root_of(src), rel)
