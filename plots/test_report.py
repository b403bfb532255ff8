"""Tests for report.py (self-contained HTML report) and export.py (one CSV of every run).

    cd plots && /usr/bin/python3 -m unittest -v test_report

The browser test opens the report in headless Chromium when /usr/bin/chromium exists
(Debian's `chromium` package) and is skipped otherwise.
"""

import csv
import html.parser
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from test_plots import COLUMNS, FAILED_NUMERIC, base_row, sample_results, write_summary  # noqa: E402
# The query-image sections' tests run with these (ctest's plots.report runs this module only).
from test_query_images import QueryImagesTest  # noqa: E402,F401

REPORT = os.path.join(HERE, "report.py")
EXPORT = os.path.join(HERE, "export.py")
CHROMIUM = "/usr/bin/chromium"
STANDARD_Y = ("qps", "build_s", "index_kb", "p99_ms", "distcomps")
EVIL = '<script>alert("pwned")</script> & <b>bold</b>'

try:
    import h5py
except ImportError:  # the report then shows host/config of ok runs as "not recorded"
    h5py = None


def run_script(script, *args):
    return subprocess.run([sys.executable, script] + list(args), capture_output=True, text=True)


def make_results(root):
    """Two datasets: test-ds (2 modes x hnsw, ivf, 1 failed), angular-ds (1 mode, 1 failed).

    Returns the number of runs. The failed run of angular-ds has markup in its error and a
    .failed file carrying its config; one ok run has an .hdf5 carrying host and config.
    """
    sample_results(root)  # 16 ok + 1 failed
    ds = "angular-ds-4-angular"
    rows = [base_row(ds, "annoy", i, count=100, qps=300.0 / (i + 1),
                     result_file="%s/100/annoy/run%d.hdf5" % (ds, i)) for i in range(3)]
    rows.append(base_row(ds, "hnsw", 10, count=100, recall=0.95))  # sorts after hnsw-9 by name
    rows.append(base_row(ds, "annoy", 7, count=100, status="failed", error=EVIL,
                         result_file="%s/100/annoy/run7.failed" % ds, **FAILED_NUMERIC))
    write_summary(root, ds, rows)
    failed = os.path.join(root, ds, "100", "annoy", "run7.failed")
    os.makedirs(os.path.dirname(failed))
    with open(failed, "w", encoding="utf-8") as f:
        f.write("dataset: %s\nerror: crashed\nconfig: configs/annoy.yaml\ngit_commit: 0123abc\n" % ds)
    if h5py is not None:
        with h5py.File(os.path.join(root, ds, "100", "annoy", "run0.hdf5"), "w") as f:
            f.attrs["hostname"] = "bench-host-1"
            f.attrs["config"] = "configs/annoy-ok.yaml"
    return 17 + 5


class Page(html.parser.HTMLParser):
    """Collects what the tests look at: sections' figures, table rows and their cells' text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.section = None
        self.figures = {}  # section id -> [data-plot]
        self.svgs = 0
        self.rows = []  # (class, [cell text])
        self.headers = []
        self._cell = None
        self._key = None
        self._in_th = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "section":
            self.section = a.get("id")
        elif tag == "figure":
            self.figures.setdefault(self.section, []).append(a.get("data-plot"))
        elif tag == "svg":
            self.svgs += 1
        elif tag == "tr" and a.get("class"):
            self.rows.append((a["class"], []))
        elif tag == "td" and self.rows:
            self._cell = ""
            self._key = a.get("data-v")
        elif tag == "th":
            self._in_th = True
            self.headers.append(a)

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            # a cell's sort key (data-v) when it has one, else its text
            self.rows[-1][1].append(self._key if self._key is not None else self._cell.strip())
            self._cell = None
        elif tag == "th":
            self._in_th = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def column(page, key):
    """Index of the table column whose header has data-key `key`."""
    return [h.get("data-key") for h in page.headers].index(key)


def parse(text):
    page = Page()
    page.feed(text)
    return page


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="annbench-report-test-")
        cls.results = os.path.join(cls.tmp, "results")
        cls.n_runs = make_results(cls.results)
        cls.proc = run_script(REPORT, cls.results)
        cls.path = os.path.join(cls.results, "report.html")
        with open(cls.path, encoding="utf-8") as f:
            cls.text = f.read()
        cls.page = parse(cls.text)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_written_to_default_path(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)
        self.assertEqual(self.proc.stdout.strip(), self.path)

    def test_one_svg_per_plot(self):
        expected = {"test-ds-8-euclidean, k=10, single-query", "test-ds-8-euclidean, k=10, batch",
                    "angular-ds-4-angular, k=100, single-query"}
        titles = set(re.findall(r'<section id="plots-\d+"><h2>([^<]*)</h2>', self.text))
        self.assertEqual(titles, expected)
        plots = {k: v for k, v in self.page.figures.items() if k.startswith("plots-")}
        self.assertEqual(len(plots), 3)
        for figures in plots.values():
            self.assertEqual(figures, ["recall-%s" % y for y in STANDARD_Y])
        self.assertEqual(self.page.svgs, 15)
        self.assertIn("<!-- hnsw -->", self.text)  # the legend text of an inlined plot
        self.assertNotIn('class="examples"', self.text)  # no image dataset, no query images

    def test_svg_ids_unique(self):
        ids = re.findall(r'\bid="([^"]+)"', self.text)
        self.assertEqual(len(ids), len(set(ids)))
        refs = set(re.findall(r'(?:url\(#|href="#)(p\d+-[^)"]+)', self.text))
        self.assertTrue(refs)
        self.assertLessEqual(refs, set(ids))  # every in-plot reference resolves in the page

    def test_table_has_every_run(self):
        runs = [r for r in self.page.rows if r[0] in ("run-ok", "run-failed")]
        self.assertEqual(len(runs), self.n_runs)
        self.assertEqual(sum(1 for r in runs if r[0] == "run-failed"), 2)
        sortable = [h for h in self.page.headers if "data-key" in h]
        self.assertEqual(len(runs[0][1]), len(sortable))
        names = sorted(r[1][column(self.page, "name")] for r in runs)
        self.assertEqual(names[:2], ["annoy-0", "annoy-1"])
        self.assertIn("22: 20 ok, 2 failed", re.sub(r"<[^>]+>", "", self.text))

    def test_failed_runs_show_error_escaped(self):
        failed = [cells for cls, cells in self.page.rows if cls == "run-failed"]
        statuses = sorted(cells[column(self.page, "status")] for cells in failed)
        self.assertEqual(statuses, sorted(["failed" + EVIL,
                                           'failed' + 'build failed: "out of memory", code 12']))
        self.assertEqual(self.text.count("<script"), 1)  # only the page's own script
        self.assertNotIn("<b>bold</b>", self.text)
        self.assertIn("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; &lt;b&gt;", self.text)

    def test_self_contained(self):
        self.assertIsNone(re.search(r"https?://", self.text, re.I))
        for tag, attrs in self.page.tags:
            self.assertNotIn(tag, ("link", "img", "iframe", "object", "embed"))
            if tag == "script":
                self.assertNotIn("src", attrs)
        self.assertNotRegex(self.text, r"@import|@font-face")

    def test_reproducibility_block(self):
        blocks = re.findall(r"<details><summary>[^<]*</summary><dl>(.*?)</dl></details>", self.text, re.S)
        self.assertEqual(len(blocks), self.n_runs)
        for block in blocks:
            for label in ("commit", "compiler", "flags", "CPU", "host", "dataset SHA-256",
                          "timestamp", "config"):
                self.assertIn("<dt>%s</dt>" % label, block)
            self.assertIn("-O3 -march=native, -fopenmp", block)
            self.assertIn("ab" * 32, block)
        self.assertTrue(any("configs/annoy.yaml" in b for b in blocks))  # from the .failed file
        if h5py is not None:
            self.assertTrue(any("bench-host-1" in b and "configs/annoy-ok.yaml" in b for b in blocks))

    def test_out_option_and_only_failed_runs(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_summary(tmp, "ds", [base_row("ds", "hnsw", 0, status="failed", error="crash",
                                               **FAILED_NUMERIC)])
            out = os.path.join(tmp, "sub", "r.html")
            p = run_script(REPORT, tmp, "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out, encoding="utf-8") as f:
                page = parse(f.read())
            self.assertEqual(page.svgs, 0)
            self.assertEqual([r[0] for r in page.rows], ["run-failed"])

    def test_missing_or_empty_results_fail(self):
        p = run_script(REPORT, "/nonexistent/annbench/results")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no such file or directory", p.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            p = run_script(REPORT, tmp)
            self.assertEqual(p.returncode, 1)
            self.assertIn("no summary.csv found", p.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "report.html")))


@unittest.skipUnless(os.access(CHROMIUM, os.X_OK),
                     "no %s: install Debian's chromium to open the report in a headless browser" % CHROMIUM)
class BrowserTest(unittest.TestCase):
    def dump_dom(self, url):
        with tempfile.TemporaryDirectory() as profile:
            p = subprocess.run(
                [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--user-data-dir=" + profile, "--enable-logging=stderr",
                 "--v=0", "--dump-dom", url],
                capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        errors = [line for line in p.stderr.splitlines() if "Uncaught" in line or "CONSOLE" in line]
        self.assertEqual(errors, [])
        return p.stdout

    def test_opens_without_errors_and_sorts(self):
        with tempfile.TemporaryDirectory() as tmp:
            n_runs = make_results(tmp)
            p = run_script(REPORT, tmp)
            self.assertEqual(p.returncode, 0, p.stderr)
            url = "file://" + os.path.join(tmp, "report.html")
            dom = self.dump_dom(url)
            self.assertIn('<div class="table-wrap"><table id="runs"', dom)  # the script ran
            self.assertEqual(len(parse(dom).rows), n_runs)
            # #sort=-qps: descending QPS, the failed runs (no QPS) last
            page = parse(self.dump_dom(url + "#sort=-qps"))
            values = [cells[column(page, "qps")] for _, cells in page.rows]
            numbers = [float(v) for v in values if v]
            self.assertEqual(numbers, sorted(numbers, reverse=True))
            self.assertEqual(values[-2:], ["", ""])
            self.assertEqual([r[0] for r in page.rows[-2:]], ["run-failed", "run-failed"])
            # text columns compare numerically-aware: "hnsw-9" before "hnsw-10"
            page = parse(self.dump_dom(url + "#sort=name"))
            names = [cells[column(page, "name")] for _, cells in page.rows]
            self.assertEqual(names[0], "annoy-0")
            self.assertEqual(names[-1], "ivf-3")
            self.assertLess(names.index("hnsw-9"), names.index("hnsw-10"))


class ExportTest(unittest.TestCase):
    def test_every_run_one_header(self):
        with tempfile.TemporaryDirectory() as tmp:
            n_runs = make_results(tmp)
            out = os.path.join(tmp, "all_runs.csv")
            p = run_script(EXPORT, tmp, "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout.strip(), out)
            with open(out, newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                header = next(reader)
                rows = list(reader)
            self.assertEqual(header, list(COLUMNS))
            self.assertEqual(len(rows), n_runs)
            self.assertEqual(sorted({r[0] for r in rows}), ["angular-ds-4-angular", "test-ds-8-euclidean"])
            errors = [r[COLUMNS.index("error")] for r in rows if r[COLUMNS.index("status")] == "failed"]
            self.assertEqual(sorted(errors), sorted([EVIL, 'build failed: "out of memory", code 12']))
            again = run_script(EXPORT, tmp, "--out", "-")  # stdout; its own output is not re-read
            self.assertEqual(again.returncode, 0, again.stderr)
            self.assertEqual(len(list(csv.reader(io.StringIO(again.stdout)))), n_runs + 1)

    def test_extra_columns_kept_and_missing_fail(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_summary(tmp, "a", [base_row("a", "hnsw", 0)])
            path = os.path.join(tmp, "b", "summary.csv")
            os.makedirs(os.path.dirname(path))
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["dataset", "algorithm", "status", "note"])
                w.writerow(["b", "ivf", "ok", "newer writer"])
            p = run_script(EXPORT, tmp, "--out", "-")
            self.assertEqual(p.returncode, 0, p.stderr)
            rows = list(csv.DictReader(io.StringIO(p.stdout)))
            self.assertEqual(len(rows), 2)
            self.assertEqual(rows[1]["note"], "newer writer")
            self.assertEqual(rows[1]["recall"], "")
            self.assertEqual(rows[0]["note"], "")
        p = run_script(EXPORT, "/nonexistent/annbench/results")
        self.assertEqual(p.returncode, 1)
        self.assertIn("no such file or directory", p.stderr)


if __name__ == "__main__":
    unittest.main()
