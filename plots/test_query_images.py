"""Tests of the query-image sections of report.html (query_images.py).

    cd plots && /usr/bin/python3 -m unittest -v test_query_images

test_report imports these, so ctest's plots.report runs them too. Needs python3-h5py and
python3-numpy (skipped without them): a tiny fake Fashion-MNIST (IDX image files, a dataset
file with known true and filtered neighbours) and run files with known answers.
"""

import base64
import gzip
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import query_images  # noqa: E402
from annbench_results import load_results  # noqa: E402
from test_plots import base_row, write_summary  # noqa: E402

try:
    import h5py
    import numpy as np
except ImportError:
    h5py = None

REPORT = os.path.join(HERE, "report.py")
DS = "fashion-mnist-784-euclidean"
N_TRAIN, N_TEST, K_FILE = 40, 12, 20


def image_of(part, index):
    """A 28x28 image that differs for every (part, index): a gradient plus the index."""
    base = 7 if part == "test" else 0
    pixels = [(base + 3 * index + r * 5 + c) % 256 for r in range(28) for c in range(28)]
    return bytes(pixels)


def write_idx(path, part, n):
    data = struct.pack(">IIII", 0x00000803, n, 28, 28) + b"".join(image_of(part, i) for i in range(n))
    with gzip.open(path, "wb") as f:
        f.write(data)


def true_ids(q):
    return [(q + j) % N_TRAIN for j in range(K_FILE)]


def filtered_ids(q):
    """Different from true_ids, so a section judged against the wrong truth would show misses.
    Query 8 has only 6 rows passing its filter: -1 padded."""
    ids = [(3 * q + 2 * j + 1) % N_TRAIN for j in range(K_FILE)]
    return ids[:6] + [-1] * (K_FILE - 6) if q == 8 else ids


def miss_id(q, j):
    """A train id in neither truth of query q."""
    taken = set(true_ids(q)[:10]) | set(filtered_ids(q)[:10])
    return [i for i in range(N_TRAIN) if i not in taken][j]


def make_fixture(root):
    """images/, data/<DS>.hdf5 and results/ with three k-NN and two filtered algorithms."""
    images = os.path.join(root, "images")
    os.makedirs(images)
    write_idx(os.path.join(images, "train-images-idx3-ubyte.gz"), "train", N_TRAIN)
    write_idx(os.path.join(images, "t10k-images-idx3-ubyte.gz"), "test", N_TEST)
    data = os.path.join(root, "data")
    os.makedirs(data)
    with h5py.File(os.path.join(data, DS + ".hdf5"), "w") as f:
        f["train"] = np.zeros((N_TRAIN, 784), np.float32)
        f["test"] = np.zeros((N_TEST, 784), np.float32)
        f["neighbors"] = np.array([true_ids(q) for q in range(N_TEST)], np.int32)
        f["filtered_neighbors"] = np.array([filtered_ids(q) for q in range(N_TEST)], np.int32)
        f["test_filters_indptr"] = np.arange(N_TEST + 1, dtype=np.int64)
        f["test_filters"] = np.array([q % 3 for q in range(N_TEST)], np.uint32)
    results = os.path.join(root, "results")
    rows = []

    def run(algorithm, i, answers, query_rows=None, **kw):
        folder = "filtered-10" if query_rows is not None else "10"
        rel = "%s/%s/%s/run%d.hdf5" % (DS, folder, algorithm, i)
        path = os.path.join(results, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with h5py.File(path, "w") as f:
            f["neighbors"] = np.array(answers, np.int32)
            if query_rows is not None:
                f["query_rows"] = np.array(query_rows, np.int32)
                f.attrs["selectivity"] = kw.pop("selectivity")
                f.attrs["filter_kind"] = "labels"
        rows.append(base_row(DS, algorithm, i, result_file=rel, **kw))

    # k-NN. alpha: run 1 (recall 0.88) is nearest 0.9 and misses position 3 of every query;
    # run 0 (0.5) and run 2 (0.99, from another k) are not shown.
    def one_miss(q):
        ids = true_ids(q)[:10]
        ids[3] = miss_id(q, 0)
        return ids
    run("alpha", 0, [true_ids(q)[:10] for q in range(N_TEST)], recall=0.5)
    run("alpha", 1, [one_miss(q) for q in range(N_TEST)], recall=0.88)
    run("alpha", 2, [true_ids(q)[:100] for q in range(N_TEST)], recall=0.99, count=100)
    # beta answers only the first 10 test rows (a --queries 10 run): two misses, one empty slot.
    def two_misses(q):
        ids = true_ids(q)[:9] + [-1]
        ids[0], ids[5] = miss_id(q, 0), miss_id(q, 1)
        return ids
    run("beta", 0, [two_misses(q) for q in range(10)], recall=0.7)
    # a range run of an image dataset is not a k-NN run: never shown.
    run("gamma", 0, [true_ids(q)[:10] for q in range(N_TEST)], recall=0.9, mode="range")
    # Filtered: band 0.5 answers the even test rows, band 0.1 the odd ones.
    even, odd = list(range(0, N_TEST, 2)), list(range(1, N_TEST, 2))
    run("alpha", 10, [filtered_ids(q)[:10] for q in even], even, selectivity=0.5,
        recall=0.9, mode="filtered")
    run("alpha", 11, [filtered_ids(q)[:10] for q in odd], odd, selectivity=0.1,
        recall=0.95, mode="filtered")

    def filtered_miss(q):
        ids = filtered_ids(q)[:10]
        ids[9 if q != 8 else 0] = miss_id(q, 2)
        return ids
    run("beta", 10, [filtered_miss(q) for q in even], even, selectivity=0.5, recall=0.8,
        mode="filtered")
    write_summary(results, DS, rows)
    return images, data, results


class Thumbs(html.parser.HTMLParser):
    """Per examples section: its query blocks, each [(row label text, [(state, id)])]."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections = {}  # id -> {query: [(label, [(state, id)])]}
        self.notes = {}  # id -> [note text]
        self._section = self._query = None
        self._label = None
        self._note = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "section":
            self._section = a.get("id") if "examples" in classes else None
            if self._section:
                self.sections[self._section] = {}
                self.notes[self._section] = []
        if not self._section:
            return
        if self._label is not None:
            self._label += " "  # <br> and inline tags separate words
        if tag == "figure" and "qblock" in classes:
            self._query = int(a["data-query"])
            self.sections[self._section][self._query] = []
        elif tag == "th" and "who" in classes:
            self._label = ""
            self.sections[self._section][self._query].append(["", []])
        elif tag == "p" and "note" in classes:
            self._note = ""
        elif tag == "span" and "qi" in classes and "query" not in classes:
            state = [c for c in classes if c in ("hit", "miss", "truth", "empty")]
            ident = int(a["data-id"]) if "data-id" in a else None
            self.sections[self._section][self._query][-1][1].append((state[0] if state else "?", ident))

    def handle_endtag(self, tag):
        if tag == "th" and self._label is not None:
            self.sections[self._section][self._query][-1][0] = " ".join(self._label.split())
            self._label = None
        elif tag == "p" and self._note is not None:
            self.notes[self._section].append(self._note.strip())
            self._note = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._label is not None:
            self._label += data
        if self._note is not None:
            self._note += data


def parse(text):
    page = Thumbs()
    page.feed(text)
    return text, page


def report(results, *args):
    """The whole report.html, by report.py."""
    out = os.path.join(results, "report.html")
    p = subprocess.run([sys.executable, REPORT, results, "--out", out] + list(args),
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise AssertionError(p.stderr)
    with open(out, encoding="utf-8") as f:
        return parse(f.read())


def sections(results, images=None, data=None):
    """Only the query-image sections, marked up as report.py does (no plots: much faster)."""
    found, css = query_images.build_sections(load_results(results).rows, images, data)
    return parse("<style>%s</style>" % css + "".join(
        '<section id="%s" class="examples"><h2>%s</h2>%s</section>' % (s.anchor, s.title, s.body)
        for s in found))


def png_pixels(data):
    """The pixels of one of query_images' PNGs (8-bit grayscale, filter 0 rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
            assert body[8:10] == b"\x08\x00", "not 8-bit grayscale"
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height = size
    raw = zlib.decompress(idat)
    rows = [raw[r * (width + 1):(r + 1) * (width + 1)] for r in range(height)]
    assert all(row[0] == 0 for row in rows)
    return b"".join(row[1:] for row in rows)


@unittest.skipIf(h5py is None, "needs python3-h5py and python3-numpy")
class QueryImagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="annbench-query-images-test-")
        cls.images, cls.data, cls.results = make_fixture(cls.tmp)
        cls.text, cls.page = report(cls.results, "--images-dir", cls.images, "--data-dir", cls.data)
        titles = dict(re.findall(r'<section id="(examples-\d+)" class="examples"><h2>([^<]*)</h2>', cls.text))
        cls.knn = next(s for s, t in titles.items() if "filtered" not in t)
        cls.filtered = next(s for s, t in titles.items() if "filtered" in t)
        cls.titles = titles

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp)

    def test_one_section_per_track(self):
        self.assertEqual(sorted(self.titles.values()), [
            DS + ", filtered k-NN: what recall 0.9 looks like", DS + ", k-NN: what recall 0.9 looks like"])
        for anchor in self.titles:
            self.assertIn('href="#%s"' % anchor, self.text)  # linked from the header

    def test_knn_queries_answered_by_every_run_evenly_spaced(self):
        # beta answered test rows 0-9 only: 4 of them, evenly spaced
        self.assertEqual(sorted(self.page.sections[self.knn]), [1, 3, 6, 8])

    def test_knn_rows_marks_and_runs(self):
        for q, grid in self.page.sections[self.knn].items():
            labels = [label.split()[0] for label, _ in grid]
            self.assertEqual(labels, ["exact", "alpha", "beta"])  # gamma is a range run
            exact, alpha, beta = (cells for _, cells in grid)
            self.assertEqual(exact, [("truth", i) for i in true_ids(q)[:10]])
            want = [("hit", i) for i in true_ids(q)[:10]]
            want[3] = ("miss", miss_id(q, 0))
            self.assertEqual(alpha, want)
            want = [("hit", i) for i in true_ids(q)[:9]] + [("empty", None)]
            want[0], want[5] = ("miss", miss_id(q, 0)), ("miss", miss_id(q, 1))
            self.assertEqual(beta, want)
            # the run nearest recall 0.9, named with its recall and search parameters
            self.assertIn("alpha recall 0.880 alpha-1", grid[1][0])
            self.assertIn("this query: 9 of 10", grid[1][0])
            self.assertIn("ef=20", grid[1][0])
            self.assertIn("beta recall 0.700 beta-0", grid[2][0])
            self.assertIn("this query: 7 of 10", grid[2][0])

    def test_filtered_truth_and_bands(self):
        grids = self.page.sections[self.filtered]
        # two bands (0.5: even rows, 0.1: odd rows), two queries each, evenly spaced
        self.assertEqual(sorted(grids), [2, 3, 8, 9])
        for q, grid in grids.items():
            labels = [label.split()[0] for label, _ in grid]
            self.assertEqual(labels, ["exact", "alpha", "beta"] if q % 2 == 0 else ["exact", "alpha"])
            truth = [i for i in filtered_ids(q)[:10] if i >= 0]
            padding = [("empty", None)] * (10 - len(truth))
            self.assertEqual(grid[0][1], [("truth", i) for i in truth] + padding)
            alpha = [("hit", i) for i in truth] + padding
            self.assertEqual(grid[1][1], alpha)  # judged against filtered_neighbors
            self.assertIn("alpha-1%d" % (q % 2), grid[1][0])
            if q % 2 == 0:
                self.assertEqual(sum(1 for s, _ in grid[2][1] if s == "miss"), 1)
                self.assertIn(("miss", miss_id(q, 2)), grid[2][1])
        self.assertRegex(self.text, r"test row 3, selectivity 0\.1, filter: labels 0")
        self.assertRegex(self.text, r"test row 8, selectivity 0\.5, filter: labels 2")

    def test_thumbnail_count_and_each_image_embedded_once(self):
        thumbs = re.findall(r'<span class="qi ([a-z]+) (qi-(?:tr|te)\d+)"', self.text)
        # k-NN: 4 queries x 3 rows x 10 + 4 query images; filtered: 2 x 3 x 10 + 2 x 2 x 10 + 4
        empties = self.text.count('<span class="qi empty"')
        self.assertEqual(len(thumbs) + empties, (120 + 4) + (100 + 4))
        rules = re.findall(
            r"\.(qi-(?:tr|te)\d+)\{background-image:url\(data:image/png;base64,([A-Za-z0-9+/=]+)\)\}",
            self.text)
        self.assertEqual(len(rules), len({name for name, _ in rules}))
        self.assertEqual({name for name, _ in rules}, {name for _, name in thumbs})
        for name, data in rules:
            part, index = ("test" if name.startswith("qi-te") else "train"), int(name[5:])
            self.assertEqual(png_pixels(base64.b64decode(data)), image_of(part, index), name)

    def test_self_contained(self):
        self.assertIsNone(re.search(r"https?://", self.text, re.I))
        self.assertNotIn("<img", self.text)

    def test_environment_variables_locate_files(self):
        env = {"ANNBENCH_FASHION_MNIST_DIR": self.images, "ANNBENCH_DATA_DIR": self.data}
        with mock.patch.dict(os.environ, env):
            text, page = sections(self.results)
        self.assertEqual(sorted(page.sections[self.knn]), [1, 3, 6, 8])

    def test_missing_image_files_one_line(self):
        empty = os.path.join(self.tmp, "no-images")
        os.makedirs(empty, exist_ok=True)
        text, page = sections(self.results, empty, self.data)
        self.assertEqual(len(page.sections), 2)
        for anchor, grids in page.sections.items():
            self.assertEqual(grids, {})
            self.assertEqual(page.notes[anchor], ["No query images: %s is missing." % os.path.join(
                empty, "train-images-idx3-ubyte.gz")])
        self.assertNotIn("data:image/png", text)

    def test_missing_dataset_file_one_line(self):
        text, page = sections(self.results, self.images, self.tmp)
        for anchor in page.sections:
            self.assertEqual(len(page.notes[anchor]), 1)
            self.assertRegex(page.notes[anchor][0], r"^No query images: .*%s\.hdf5" % DS)

    def test_bad_image_file_one_line(self):
        bad = os.path.join(self.tmp, "bad-images")
        os.makedirs(bad, exist_ok=True)
        for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
            with gzip.open(os.path.join(bad, name), "wb") as f:
                f.write(struct.pack(">IIII", 0x00000801, 1, 28, 28) + bytes(784))  # a label file's magic
        text, page = sections(self.results, bad, self.data)
        for anchor in page.sections:
            self.assertEqual(len(page.notes[anchor]), 1)
            self.assertIn("magic 0x00000801 is not an IDX image file's 0x00000803", page.notes[anchor][0])

    def test_out_of_range_id_is_an_empty_miss(self):
        thumbs = query_images.Thumbnails(query_images.ImageFiles(self.images))
        self.assertIn('class="qi miss empty" data-id="%d"' % N_TRAIN, thumbs.thumb("train", N_TRAIN, "miss"))
        self.assertIn('class="qi hit qi-tr5" data-id="5"', thumbs.thumb("train", 5, "hit"))
        self.assertEqual(thumbs.css().count("data:image/png"), 1)

    def test_other_datasets_get_no_section(self):
        with tempfile.TemporaryDirectory() as tmp:
            subset = DS + "-10k"  # sampled rows: row ids are not image ids
            write_summary(tmp, subset, [base_row(subset, "hnsw", 0)])
            self.assertEqual(query_images.build_sections(load_results(tmp).rows, self.images, self.data),
                             ([], ""))


if __name__ == "__main__":
    unittest.main()
