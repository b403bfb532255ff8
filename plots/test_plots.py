"""Tests for plots/: Pareto frontier, summary.csv loading, plot.py end to end.

    cd plots && /usr/bin/python3 -m unittest -v test_plots
"""

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from annbench_results import (  # noqa: E402
    METRICS, load_results, metric_label, metric_value, pareto_frontier,
)
import plot  # noqa: E402

PLOT = os.path.join(HERE, "plot.py")


def xy(points):
    return [(p[0], p[1]) for p in points]


class ParetoTest(unittest.TestCase):
    def test_both_higher_is_better(self):
        # (recall, qps)
        pts = [(0.5, 1000), (0.7, 800), (0.6, 700),   # (0.6, 700) is dominated by (0.7, 800)
               (0.9, 300), (0.9, 300),                # duplicate: only the first is kept (strictly better x)
               (0.0, 5000), (None, 10), (0.95, 0),    # zero / None: dropped
               (1.0, 100),
               (0.4, 1000)]                           # same y as (0.5, 1000): the better x comes first
        front = pareto_frontier(pts)
        self.assertEqual(xy(front), [(0.5, 1000), (0.7, 800), (0.9, 300), (1.0, 100)])
        self.assertIs(front[2], pts[3])  # of the two equal points, the first in input order

    def test_y_lower_is_better(self):
        # (recall, p99 latency in ms)
        pts = [(0.5, 1.0), (0.8, 2.0), (0.7, 3.0), (0.95, 5.0), (0.9, 1.5), (0.99, 5.0)]
        front = pareto_frontier(pts, x_higher_is_better=True, y_higher_is_better=False)
        self.assertEqual(xy(front), [(0.5, 1.0), (0.9, 1.5), (0.99, 5.0)])

    def test_x_lower_is_better(self):
        # (build time s, recall)
        pts = [(1, 0.5), (2, 0.9), (3, 0.8), (0.5, 0.2), (4, 0.95)]
        front = pareto_frontier(pts, x_higher_is_better=False, y_higher_is_better=True)
        self.assertEqual(xy(front), [(4, 0.95), (2, 0.9), (1, 0.5), (0.5, 0.2)])

    def test_both_lower_is_better(self):
        # (rel, build time): ties on x keep the one with the better y
        pts = [(1.05, 2), (1.01, 5), (1.02, 3), (1.0, 10), (1.01, 4)]
        front = pareto_frontier(pts, x_higher_is_better=False, y_higher_is_better=False)
        self.assertEqual(xy(front), [(1.05, 2), (1.02, 3), (1.01, 4), (1.0, 10)])

    def test_tie_on_y_best_x_first(self):
        pts = [(0.2, 50), (0.8, 50), (0.5, 50)]
        self.assertEqual(xy(pareto_frontier(pts)), [(0.8, 50)])
        self.assertEqual(xy(pareto_frontier(pts, x_higher_is_better=False)), [(0.2, 50)])

    def test_payload_carried_and_input_untouched(self):
        rows = [{"n": i} for i in range(3)]
        pts = [(0.9, 10, rows[0]), (0.5, 20, rows[1]), (0.4, 5, rows[2])]
        before = list(pts)
        front = pareto_frontier(pts)
        self.assertEqual([p[2]["n"] for p in front], [1, 0])
        self.assertEqual(pts, before)

    def test_empty_and_all_dropped(self):
        self.assertEqual(pareto_frontier([]), [])
        self.assertEqual(pareto_frontier([(0, 1), (1, 0), (None, None)]), [])

    def test_matches_reference_on_random_points(self):
        # Literal transcription of ANN-Benchmarks' create_pointset loop (worst = -inf/+inf).
        def reference(data, x_hib, y_hib):
            data = list(data)
            rev_y = -1 if y_hib else 1
            rev_x = -1 if x_hib else 1
            data.sort(key=lambda t: (rev_y * t[1], rev_x * t[0]))
            last_x = float("-inf") if x_hib else float("inf")
            out = []
            for xv, yv in data:
                if not xv or not yv:
                    continue
                if (xv > last_x) if x_hib else (xv < last_x):
                    last_x = xv
                    out.append((xv, yv))
            return out

        rnd = random.Random(7)
        for _ in range(300):
            pts = [(rnd.choice([0, rnd.randint(1, 6)]), rnd.choice([0, rnd.randint(1, 6)]))
                   for _ in range(rnd.randint(0, 15))]
            for x_hib in (True, False):
                for y_hib in (True, False):
                    self.assertEqual(xy(pareto_frontier(pts, x_hib, y_hib)),
                                     reference(pts, x_hib, y_hib), (pts, x_hib, y_hib))


# --------------------------------------------------------------------------- fixtures

# summary.csv's columns and types as the runner writes them (its summary.schema.json).
SCHEMA = (
    ("dataset", "text"), ("count", "int"), ("algorithm", "text"), ("name", "text"),
    ("build_params", "json"), ("search_params", "json"), ("batch_mode", "bool"),
    ("threads", "int"), ("queries", "int"), ("runs", "int"), ("status", "text"),
    ("error", "text"), ("recall", "float"), ("epsilon_recall", "float"),
    ("largeepsilon_recall", "float"), ("rel", "float"), ("qps", "float"), ("p50_ms", "float"),
    ("p95_ms", "float"), ("p99_ms", "float"), ("p999_ms", "float"), ("build_s", "float"),
    ("index_kb", "float"), ("rss_growth_kb", "float"), ("distcomps", "float"),
    ("result_file", "text"), ("git_commit", "text"), ("compiler", "text"), ("flags", "text"),
    ("cpu", "text"), ("dataset_sha256", "text"), ("timestamp", "text"), ("mode", "text"),
    ("radius", "float"), ("range_recall", "float"), ("range_ap", "float"), ("library", "text"),
    ("hostname", "text"),
)
COLUMNS = tuple(name for name, _ in SCHEMA)

def base_row(dataset, algorithm, i, **kw):
    row = {c: "" for c in COLUMNS}
    row.update(dataset=dataset, count=10, algorithm=algorithm, name="%s-%d" % (algorithm, i),
               build_params=json.dumps({"M": 16, "ef_construction": 200}),
               search_params=json.dumps({"ef": 10 * (i + 1)}),
               batch_mode=0, threads=1, queries=100, runs=3, status="ok", error="",
               recall=0.5 + 0.1 * i, epsilon_recall=0.55 + 0.1 * i, largeepsilon_recall=0.6 + 0.1 * i,
               rel=1.01, qps=1000.0 / (i + 1), p50_ms=0.5 * (i + 1), p95_ms=0.8 * (i + 1),
               p99_ms=1.0 * (i + 1), p999_ms=2.0 * (i + 1), build_s=1.5, index_kb=2048,
               rss_growth_kb=3000, distcomps=100 * (i + 1),
               result_file="%s/10/%s/run%d.hdf5" % (dataset, algorithm, i),
               git_commit="0123abc", compiler="g++ 12.2", flags="-O3 -march=native, -fopenmp",
               cpu="Test CPU @ 3.0GHz", dataset_sha256="ab" * 32, timestamp="2025-01-01T00:00:00Z")
    row.update(kw)
    return row


def write_summary(root, dataset, rows, schema=True):
    d = os.path.join(root, dataset)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "summary.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)
    if schema:
        with open(os.path.join(d, "summary.schema.json"), "w", encoding="utf-8") as f:
            json.dump({"columns": [{"name": n, "type": t} for n, t in SCHEMA]}, f)
    return path


FAILED_NUMERIC = {c: "" for c in ("recall", "epsilon_recall", "largeepsilon_recall", "rel", "qps",
                                  "p50_ms", "p95_ms", "p99_ms", "p999_ms", "build_s", "index_kb",
                                  "rss_growth_kb", "distcomps")}


def sample_results(root, dataset="test-ds-8-euclidean"):
    rows = []
    for mode in (0, 1):
        for i in range(4):
            rows.append(base_row(dataset, "hnsw", i, batch_mode=mode,
                                 qps=(2000.0 / (i + 1)) * (5 if mode else 1)))
            rows.append(base_row(dataset, "ivf", i, batch_mode=mode, recall=0.45 + 0.12 * i,
                                 qps=(1500.0 / (i + 1)) * (5 if mode else 1),
                                 build_params=json.dumps({"nlist": 64}),
                                 search_params=json.dumps({"nprobe": 2 ** i})))
    rows.append(base_row(dataset, "hnsw", 9, status="failed",
                         error='build failed: "out of memory", code 12', **FAILED_NUMERIC))
    return write_summary(root, dataset, rows)


class LoadTest(unittest.TestCase):
    def test_quoted_json_and_failed_row(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = sample_results(tmp)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            self.assertIn('"{""M"": 16, ""ef_construction"": 200}"', text)  # RFC 4180 quoting
            res = load_results(path)
            self.assertEqual(len(res.rows), 16)
            self.assertEqual(res.n_failed, 1)
            self.assertEqual(res.files, [path])
            r = res.rows[0]
            self.assertEqual(r["build_params"], {"M": 16, "ef_construction": 200})
            self.assertEqual(r["search_params"], {"ef": 10})
            self.assertIsInstance(r["count"], int)
            self.assertEqual(r["count"], 10)
            self.assertEqual(r["batch_mode"], 0)
            self.assertIsInstance(r["recall"], float)
            self.assertAlmostEqual(r["recall"], 0.5)
            self.assertEqual(r["flags"], "-O3 -march=native, -fopenmp")
            self.assertEqual(r["error"], None)  # empty -> None
            bad = res.failed[0]
            self.assertEqual(bad["status"], "failed")
            self.assertEqual(bad["error"], 'build failed: "out of memory", code 12')
            self.assertIsNone(bad["recall"])
            self.assertIsNone(bad["qps"])
            self.assertIsNone(bad["distcomps"])

    def test_root_with_several_datasets_and_empty_fields(self):
        with tempfile.TemporaryDirectory() as tmp:
            sample_results(tmp, "a-ds")
            write_summary(tmp, "b-ds", [base_row("b-ds", "lsh", 0, distcomps="", p999_ms="nan")])
            os.makedirs(os.path.join(tmp, "plots"))  # unrelated folder
            res = load_results(tmp)
            self.assertEqual(len(res.files), 2)
            self.assertEqual(sorted({r["dataset"] for r in res.rows}), ["a-ds", "b-ds"])
            lsh = [r for r in res.rows if r["algorithm"] == "lsh"][0]
            self.assertIsNone(lsh["distcomps"])
            self.assertIsNone(lsh["p999_ms"])  # NaN is treated as missing

    def test_schema_types_win_over_the_look_of_a_value(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_summary(tmp, "ds", [base_row("ds", "hnsw", 0, git_commit="1234567",
                                               index_kb="2048", mode="range", radius="0.5",
                                               range_recall="0.75", library="hnswlib 0.6.2")])
            r = load_results(tmp).rows[0]
            self.assertEqual(r["git_commit"], "1234567")  # text, though it looks like a number
            self.assertIsInstance(r["index_kb"], float)
            self.assertEqual((r["mode"], r["radius"], r["range_recall"]), ("range", 0.5, 0.75))
            self.assertEqual(r["library"], "hnswlib 0.6.2")
            self.assertIsNone(r["range_ap"])

    def test_without_schema_types_are_inferred(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_summary(tmp, "ds", [base_row("ds", "hnsw", 0)], schema=False)
            r = load_results(tmp).rows[0]
            self.assertEqual(r["count"], 10)
            self.assertAlmostEqual(r["recall"], 0.5)
            self.assertEqual(r["build_params"], {"M": 16, "ef_construction": 200})
            self.assertEqual(r["cpu"], "Test CPU @ 3.0GHz")

    def test_missing_path(self):
        with self.assertRaises(FileNotFoundError):
            load_results("/nonexistent/annbench/results")

    def test_metrics(self):
        row = {"index_kb": 2000.0, "qps": 500.0, "recall": 0.9, "count": 10}
        self.assertAlmostEqual(metric_value(row, "queriessize"), 4.0)
        self.assertEqual(metric_value(row, "recall"), 0.9)
        self.assertIsNone(metric_value({"index_kb": 1.0, "qps": None}, "queriessize"))
        self.assertEqual(metric_label("recall", 10), "Recall@10")
        self.assertEqual(metric_label("qps", 10), "Queries per second (1/s)")
        for name in ("qps", "build_s", "index_kb", "p99_ms", "distcomps"):
            self.assertIn(name, METRICS)
            self.assertEqual(METRICS[name].scale, "log")
        self.assertTrue(METRICS["qps"].higher_is_better)
        self.assertFalse(METRICS["p99_ms"].higher_is_better)

    def test_styles_stable_by_name(self):
        a = plot.algorithm_styles(["ivf", "hnsw", "annoy"])
        b = plot.algorithm_styles(["annoy", "hnsw", "ivf", "hnsw"])
        self.assertEqual(a, b)
        self.assertEqual(a["annoy"][0], plot.COLORS[0])
        many = plot.algorithm_styles("algo%02d" % i for i in range(30))
        self.assertEqual(len({s for s in many.values()}), 30)
        self.assertEqual(len({s[:2] for s in many.values()}), 30)  # colour+marker alone unique


# --------------------------------------------------------------------------- end to end

def run_plot(*args):
    return subprocess.run([sys.executable, PLOT] + list(args), capture_output=True, text=True)


class PlotCliTest(unittest.TestCase):
    def assert_image(self, path, fmt):
        self.assertTrue(os.path.isfile(path), path)
        self.assertGreater(os.path.getsize(path), 1000, path)
        with open(path, "rb") as f:
            head = f.read(64)
        if fmt == "png":
            self.assertTrue(head.startswith(b"\x89PNG\r\n\x1a\n"))
        elif fmt == "svg":
            self.assertIn(b"<?xml", head)
        elif fmt == "pdf":
            self.assertTrue(head.startswith(b"%PDF"))

    def test_png_and_svg(self):
        with tempfile.TemporaryDirectory() as tmp:
            res, out = os.path.join(tmp, "results"), os.path.join(tmp, "out")
            sample_results(res)
            p = run_plot(res, "--format", "png,svg", "--out", out, "--all-points")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("skipped 1 failed run", p.stderr)
            expected = []
            for suffix in ("", "-batch"):
                for fmt in ("png", "svg"):
                    path = os.path.join(out, "test-ds-8-euclidean-k10-recall-qps%s.%s" % (suffix, fmt))
                    self.assert_image(path, fmt)
                    expected.append(path)
            self.assertEqual(sorted(p.stdout.split()), sorted(expected))
            with open(os.path.join(out, "test-ds-8-euclidean-k10-recall-qps.svg"), encoding="utf-8") as f:
                svg = f.read()
            self.assertIn("<!-- hnsw -->", svg)  # legend entry (matplotlib labels each text path with a comment)

    def test_all_metrics_filters_and_pdf(self):
        with tempfile.TemporaryDirectory() as tmp:
            res, out = os.path.join(tmp, "results"), os.path.join(tmp, "out")
            sample_results(res)
            p = run_plot(res, "--all-metrics", "--single", "--algorithms", "hnsw,ivf",
                         "--dataset", "test-ds-8-euclidean", "--count", "10",
                         "--format", "pdf", "--out", out, "--title", "{dataset} / {x} vs {y}")
            self.assertEqual(p.returncode, 0, p.stderr)
            names = sorted(os.listdir(out))
            self.assertEqual(names, sorted("test-ds-8-euclidean-k10-recall-%s.pdf" % y
                                           for y in ("qps", "build_s", "index_kb", "p99_ms", "distcomps")))
            for n in names:
                self.assert_image(os.path.join(out, n), "pdf")

    def test_other_axes_and_scales(self):
        with tempfile.TemporaryDirectory() as tmp:
            res, out = os.path.join(tmp, "results"), os.path.join(tmp, "out")
            sample_results(res)
            p = run_plot(res, "-x", "recall", "-y", "queriessize", "--x-scale", "logit",
                         "--batch", "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assert_image(os.path.join(out, "test-ds-8-euclidean-k10-recall-queriessize-batch.png"), "png")
            p = run_plot(res, "-x", "build_s", "-y", "rel", "--y-scale", "log", "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)

    def test_default_out_dir(self):
        with tempfile.TemporaryDirectory() as tmp:
            sample_results(tmp)
            p = run_plot(tmp, "--single")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assert_image(os.path.join(tmp, "plots", "test-ds-8-euclidean-k10-recall-qps.png"), "png")

    def test_empty_folder_fails_with_message(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = run_plot(tmp, "--out", os.path.join(tmp, "out"))
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("no summary.csv found", p.stderr)
            self.assertEqual(p.stdout, "")
            self.assertFalse(os.path.exists(os.path.join(tmp, "out")))

    def test_missing_path_fails(self):
        p = run_plot("/nonexistent/annbench/results")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no such file or directory", p.stderr)

    def test_no_matching_rows_fails_with_message(self):
        with tempfile.TemporaryDirectory() as tmp:
            sample_results(tmp)
            p = run_plot(tmp, "--algorithms", "nosuchalgo", "--out", os.path.join(tmp, "out"))
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("no ok runs match", p.stderr)
            self.assertIn("algorithms=nosuchalgo", p.stderr)

    def test_only_failed_rows_fails(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_summary(tmp, "ds", [base_row("ds", "hnsw", 0, status="failed", error="crash",
                                               **FAILED_NUMERIC)])
            p = run_plot(tmp)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("no ok runs match", p.stderr)
            self.assertIn("1 failed", p.stderr)

    def test_bad_format_is_usage_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            sample_results(tmp)
            p = run_plot(tmp, "--format", "jpg")
            self.assertEqual(p.returncode, 2)
            self.assertIn("--format", p.stderr)


class StreamingPlotTest(unittest.TestCase):
    def test_steps_plot_beside_the_pareto_plots(self):
        import h5py
        with tempfile.TemporaryDirectory() as tmp:
            res, out = os.path.join(tmp, "results"), os.path.join(tmp, "out")
            rows = []
            for i, algo in enumerate(("hnsw", "bruteforce")):
                rel = "ds/streaming-10/%s/run.hdf5" % algo
                os.makedirs(os.path.join(res, os.path.dirname(rel)))
                with h5py.File(os.path.join(res, rel), "w") as f:
                    f["step"] = [2.0, 5.0, 8.0]
                    f["step_recall"] = [0.95 - 0.02 * i, 0.93, 0.94]
                    f["step_qps"] = [5000.0 / (i + 1), 4500.0, 4800.0]
                rows.append(base_row("ds", algo, i, mode="streaming", result_file=rel))
            rows.append(base_row("ds", "hnsw", 5))  # a k-NN run of the same dataset and k
            write_summary(res, "ds", rows)
            p = run_plot(res, "--format", "svg", "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            steps = os.path.join(out, "ds-k10-streaming-steps.svg")
            self.assertIn(steps, p.stdout.split())
            with open(steps, encoding="utf-8") as f:
                svg = f.read()
            self.assertIn("<!-- hnsw ef=10 -->", svg)  # one line per run, labelled
            # Streaming and k-NN runs are not drawn on one recall-QPS plot.
            self.assertIn(os.path.join(out, "ds_streaming-k10-recall-qps.svg"), p.stdout.split())
            self.assertIn(os.path.join(out, "ds-k10-recall-qps.svg"), p.stdout.split())


class FilteredGroupTest(unittest.TestCase):
    def test_one_group_per_selectivity_band(self):
        rows = [base_row("ds", "hnsw", i, mode="filtered", selectivity=band, filter_kind="labels")
                for band in (0.01, 0.5) for i in range(2)]
        rows.append(base_row("ds", "hnsw", 0))
        groups = plot.group_rows(rows)
        names = [g[0] for g, _ in groups]
        self.assertEqual(names, ["ds", "ds filtered selectivity 0.01", "ds filtered selectivity 0.5"])
        self.assertEqual([len(r) for _, r in groups], [1, 2, 2])


class ShardedGroupTest(unittest.TestCase):
    def test_one_group_per_shard_count_and_partition(self):
        rows = [base_row("ds", "hnsw", i, mode="sharded", shards=shards, partition=partition)
                for shards, partition in ((1, "contiguous"), (4, "contiguous"), (4, "kmeans"))
                for i in range(2)]
        names = [g[0] for g, _ in plot.group_rows(rows)]
        self.assertEqual(names, ["ds sharded 1 shards contiguous", "ds sharded 4 shards contiguous",
                                 "ds sharded 4 shards kmeans"])


class FeatureSpacesTest(unittest.TestCase):
    """plots/feature_spaces.py: one Pareto curve per (dataset, algorithm) on one figure."""

    def test_curves_per_dataset_and_algorithm_on_the_frontier(self):
        import feature_spaces
        from annbench_results import load_results
        with tempfile.TemporaryDirectory() as tmp:
            sample_results(tmp, "pixels-784-euclidean")
            sample_results(tmp, "cnn-64-angular")
            frontiers = feature_spaces.curves(load_results(tmp), 10, False)
            self.assertEqual(sorted(frontiers), [("cnn-64-angular", "hnsw"), ("cnn-64-angular", "ivf"),
                                                 ("pixels-784-euclidean", "hnsw"),
                                                 ("pixels-784-euclidean", "ivf")])
            # hnsw's sample points trade recall for QPS monotonically: all four are on the frontier,
            # sorted by recall; the failed run is not a point.
            hnsw = frontiers[("cnn-64-angular", "hnsw")]
            self.assertEqual([round(r, 2) for r, _ in hnsw], [0.5, 0.6, 0.7, 0.8])
            self.assertEqual(feature_spaces.curves(load_results(tmp), 100, False), {})

    def test_writes_an_image_and_fails_clearly_without_runs(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "feature_spaces.py")
        with tempfile.TemporaryDirectory() as tmp:
            sample_results(tmp)
            out = os.path.join(tmp, "fig", "f.png")
            p = subprocess.run([sys.executable, script, tmp, "--out", out], capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("(2 curves)", p.stdout)
            with open(out, "rb") as f:
                self.assertTrue(f.read(8).startswith(b"\x89PNG"))
            p = subprocess.run([sys.executable, script, tmp, "--out", out, "--k", "5"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 1)
            self.assertIn("no runs with k = 5", p.stderr)


if __name__ == "__main__":
    unittest.main()
