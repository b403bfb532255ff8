"""'What recall 0.9 looks like': query images and the images each algorithm returned.

For image datasets whose rows are Fashion-MNIST's images in their own order (train row i is
train image i, test row i is test image i), report.py shows a few query images and, for each
algorithm, the top 10 images of its run closest to recall 0.9, hits outlined green and misses
(returned ids not in the true top k) red, under a first row of the exact neighbours. k-NN runs
and filtered runs (the query's filter applies; the truth is the dataset's filtered_neighbors)
get separate sections.

The thumbnails are drawn at report time from Fashion-MNIST's IDX files and embedded as PNG
data: URIs, each image once (a CSS class per image), so the page stays one file. Standard
library, numpy and h5py (Debian's python3-h5py); see plots/README.md.
"""

import base64
import gzip
import html
import os
import re
import struct
import zlib

from annbench_results import run_file_path

# Datasets whose train/test rows are Fashion-MNIST's train/test images in order, including the
# copy configs/filtered.yaml gives synthetic tags (-tags: `dataset tags` keeps the rows). Other
# derived files (e.g. the -10k subset) are not assumed to keep the image order.
IMAGE_DATASET = re.compile(
    r"^(fashion-mnist-784-euclidean|fashion-mnist-cnn-[0-9]+-(angular|euclidean))(-tags)?$")
DEFAULT_IMAGES_DIR = "/usr/share/datasets/fashion-mnist"
IMAGE_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
TARGET_RECALL = 0.9
N_QUERIES = 4
MAX_SHOWN = 10  # thumbnails per row
PREFERRED_K = 10


def esc(value):
    return html.escape("" if value is None else str(value), quote=True)


def images_dir(configured=None):
    """The folder of the IDX files: the argument, $ANNBENCH_FASHION_MNIST_DIR (the variable
    `annbench dataset prepare` reads) or Debian's folder."""
    return configured or os.environ.get("ANNBENCH_FASHION_MNIST_DIR") or DEFAULT_IMAGES_DIR


def data_dir(configured=None):
    """The folder of the dataset files, as the harness finds it: $ANNBENCH_DATA_DIR or data/."""
    return configured or os.environ.get("ANNBENCH_DATA_DIR") or "data"


# --------------------------------------------------------------------------- images

def read_idx_images(path):
    """uint8 array (n, rows, cols) of an IDX3 file (gzip or plain). ValueError when malformed."""
    import numpy as np
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 16:
        raise ValueError("%s: too short for an IDX image file (%d bytes)" % (path, len(data)))
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x00000803:
        raise ValueError("%s: magic 0x%08x is not an IDX image file's 0x00000803" % (path, magic))
    if len(data) != 16 + n * rows * cols:
        raise ValueError("%s: %d bytes, but the header says %d images of %dx%d" % (
            path, len(data), n, rows, cols))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def png_bytes(image):
    """A grayscale 8-bit PNG of a 2-D uint8 array (no filtering; zlib at level 9)."""
    height, width = image.shape

    def chunk(kind, body):
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes(row) for row in image.astype("uint8"))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


class ImageFiles:
    """Fashion-MNIST's train and test images, read on first use."""

    def __init__(self, directory):
        self.directory = directory
        self._images = {}

    def path(self, part):
        base = os.path.join(self.directory, IMAGE_FILES[part])
        return base if os.path.isfile(base) and not os.path.isfile(base + ".gz") else base + ".gz"

    def missing(self):
        """A one-line reason the images cannot be shown, or None."""
        for part in ("train", "test"):
            if not os.path.isfile(self.path(part)):
                return "%s is missing" % self.path(part)
        return None

    def get(self, part):
        if part not in self._images:
            self._images[part] = read_idx_images(self.path(part))
        return self._images[part]


# --------------------------------------------------------------------------- runs

def track_of(row):
    """"knn" or "filtered" for the runs shown here, None for every other track."""
    mode = (row.get("mode") or "knn").strip().lower()
    return mode if mode in ("knn", "filtered") else None


def choose_k(rows):
    counts = sorted({r.get("count") for r in rows if isinstance(r.get("count"), int) and r["count"] > 0})
    if not counts:
        return None
    return PREFERRED_K if PREFERRED_K in counts else counts[0]


def closest_run(runs):
    """The run whose recall is nearest TARGET_RECALL; ties: single-query before batch, fewer
    threads, then name (so the choice never depends on file order)."""
    usable = [r for r in runs if r.get("recall") is not None]
    if not usable:
        return None
    return min(usable, key=lambda r: (abs(r["recall"] - TARGET_RECALL), r.get("batch_mode") or 0,
                                      r.get("threads") or 0, r.get("name") or ""))


def evenly_spaced(items, m):
    """m items spread evenly over the sorted list `items` (all of them when fewer)."""
    if len(items) <= m:
        return list(items)
    return [items[(2 * i + 1) * len(items) // (2 * m)] for i in range(m)]


def params_text(value):
    if isinstance(value, dict):
        return ", ".join("%s=%s" % (k, v) for k, v in value.items())
    return "" if value is None else str(value)


class RunAnswers:
    """One run's returned ids per test row, read from its .hdf5."""

    def __init__(self, row, h5py):
        self.row = row
        path = run_file_path(row)
        if not path:
            raise ValueError("run %s has no result file" % row.get("name"))
        with h5py.File(path, "r") as f:
            if "neighbors" not in f:
                raise ValueError("%s has no neighbors dataset" % path)
            neighbors = f["neighbors"][()]
            if neighbors.ndim != 2:
                raise ValueError("%s: neighbors is not a Q x k matrix" % path)
            if "query_rows" in f:
                rows = [int(q) for q in f["query_rows"][()]]
                if len(rows) != neighbors.shape[0]:
                    raise ValueError("%s: %d query_rows for %d neighbors rows" % (
                        path, len(rows), neighbors.shape[0]))
            else:  # k-NN runs: row i answers test row i
                rows = list(range(neighbors.shape[0]))
            self.selectivity = row.get("selectivity")
            if self.selectivity is None and "selectivity" in f.attrs:
                self.selectivity = float(f.attrs["selectivity"])
        self.by_query = {q: [int(i) for i in neighbors[n]] for n, q in enumerate(rows)}


# --------------------------------------------------------------------------- dataset

class DatasetTruth:
    """The dataset file's true (and filtered) neighbours and the queries' filters."""

    def __init__(self, path, h5py, filtered):
        with h5py.File(path, "r") as f:
            self.train_rows = f["train"].shape[0]
            self.test_rows = f["test"].shape[0]
            key = "filtered_neighbors" if filtered else "neighbors"
            if key not in f:
                raise ValueError("%s has no %s dataset" % (path, key))
            self.neighbors = f[key][()]
            self.filters = None
            self.ranges = None
            if filtered and "test_filters_indptr" in f and "test_filters" in f:
                self.filters = (f["test_filters_indptr"][()], f["test_filters"][()])
            if filtered and "test_attr_range" in f:
                self.ranges = f["test_attr_range"][()]

    def truth(self, query, k):
        return [int(i) for i in self.neighbors[query][:k] if i >= 0]

    def filter_text(self, query):
        parts = []
        if self.filters is not None:
            indptr, labels = self.filters
            own = labels[indptr[query]:indptr[query + 1]]
            parts.append("labels " + (", ".join(str(int(x)) for x in own) if len(own) else "any"))
        if self.ranges is not None:
            lo, hi = self.ranges[query]
            parts.append("attribute in [%g, %g]" % (lo, hi))
        return "; ".join(parts)


# --------------------------------------------------------------------------- HTML

class Thumbnails:
    """Each image's PNG once, as a CSS class; thumbnails refer to it by class."""

    def __init__(self, images):
        self.images = images
        self.classes = {}  # (part, id) -> (class name, css rule)

    def css_class(self, part, index):
        key = (part, index)
        if key not in self.classes:
            name = "qi-%s%d" % ("tr" if part == "train" else "te", index)
            data = base64.b64encode(png_bytes(self.images.get(part)[index])).decode("ascii")
            self.classes[key] = (name, ".%s{background-image:url(data:image/png;base64,%s)}" % (name, data))
        return self.classes[key][0]

    def css(self):
        return "\n".join(rule for _, rule in self.classes.values())

    def thumb(self, part, index, state):
        """state: hit, miss, truth, query; index None: an empty slot (fewer ids returned)."""
        if index is None or index < 0:
            return '<span class="qi empty" title="nothing returned"></span>'
        if index >= len(self.images.get(part)):  # the run checks ids; a stale file may not
            return '<span class="qi %s empty" data-id="%d" title="id %d: no such %s image"></span>' % (
                state, index, index, part)
        label = "%s image %d" % (part, index)
        if state in ("hit", "miss"):
            label += ": " + state
        return '<span class="qi %s %s" data-id="%d" title="%s" role="img" aria-label="%s"></span>' % (
            state, self.css_class(part, index), index, esc(label), esc(label))


def result_row(thumbs, label_html, ids, k, state_of):
    shown = list(ids[:min(k, MAX_SHOWN)])
    shown += [None] * (min(k, MAX_SHOWN) - len(shown))
    cells = "".join(thumbs.thumb("train", i, state_of(i)) for i in shown)
    return '<tr><th class="who">%s</th><td class="strip">%s</td></tr>' % (label_html, cells)


def query_block(thumbs, query, band_text, truth_ids, choices, answers, k):
    true_set = set(truth_ids)
    out = ['<figure class="qblock" data-query="%d"><figcaption>%s test row %d%s</figcaption>' % (
        query, thumbs.thumb("test", query, "query"), query, band_text)]
    out.append('<table class="qgrid"><tbody>')
    out.append(result_row(thumbs, '<b>exact</b><br><span class="note">true top %d</span>' % k,
                          truth_ids, k, lambda i: "truth"))
    for algorithm, run in choices:
        ids = answers[id(run)].by_query[query]
        returned = [i for i in ids[:k] if i >= 0]
        hits = sum(1 for i in returned if i in true_set)
        label = ('<b>%s</b> <span class="rc">recall %.3f</span><br><code>%s</code><br>'
                 '<span class="note">this query: %d of %d</span>') % (
            esc(algorithm), run["recall"], esc(run.get("name")), hits, len(true_set))
        params = params_text(run.get("search_params"))
        if params:
            label += '<br><span class="params" title="build: %s">%s</span>' % (
                esc(params_text(run.get("build_params"))), esc(params))
        out.append(result_row(thumbs, label, ids, k,
                              lambda i: "hit" if i in true_set else "miss"))
    out.append("</tbody></table></figure>")
    return "".join(out)


# --------------------------------------------------------------------------- sections

class Section:
    """One report section: id, title, body HTML."""

    def __init__(self, anchor, title, body):
        self.anchor, self.title, self.body = anchor, title, body


def plan_queries(groups, answers):
    """[(band, [(algorithm, run)], [query rows])] from {band: {algorithm: run}}.

    Per band, the queries every chosen run answered; N_QUERIES in all, spread evenly over the
    bands (broadest selectivity first) and evenly over each band's rows.
    """
    bands = sorted(groups, key=lambda b: (b is None, -(b or 0)))
    usable = []
    for band in bands:
        choices = sorted(groups[band].items())
        common = None
        for _, run in choices:
            rows = set(answers[id(run)].by_query)
            common = rows if common is None else common & rows
        if common:
            usable.append((band, choices, sorted(common)))
    if len(usable) > N_QUERIES:
        usable = evenly_spaced(usable, N_QUERIES)
    plan = []
    for j, (band, choices, common) in enumerate(usable):
        share = N_QUERIES // len(usable) + (1 if j < N_QUERIES % len(usable) else 0)
        plan.append((band, choices, evenly_spaced(common, share)))
    return plan


def track_section(dataset, track, runs, truth, thumbs, h5py, notes):
    """The HTML body for one dataset and track, or a one-line note."""
    k = choose_k(runs)
    runs = [r for r in runs if r.get("count") == k]
    answers = {}
    groups = {}
    by_algorithm = {}
    for r in runs:
        try:
            a = RunAnswers(r, h5py)
        except (OSError, ValueError, KeyError) as e:
            notes.append("skipped run %s: %s" % (r.get("name"), e))
            continue
        answers[id(r)] = a
        band = None
        if track == "filtered":
            band = None if a.selectivity is None else float("%.6g" % a.selectivity)
        by_algorithm.setdefault((band, r.get("algorithm") or "?"), []).append(r)
    for (band, algorithm), candidates in by_algorithm.items():
        run = closest_run(candidates)
        if run is not None:
            groups.setdefault(band, {})[algorithm] = run
    plan = plan_queries(groups, answers)
    if not plan:
        return None, k
    blocks = []
    for band, choices, queries in plan:
        for q in queries:
            if q >= len(truth.neighbors):
                continue
            band_text = ""
            if track == "filtered":
                filt = truth.filter_text(q)
                band_text = (", selectivity %s" % ("%.4g" % band if band is not None else "?")) + (
                    ", filter: %s" % esc(filt) if filt else "")
            blocks.append(query_block(thumbs, q, band_text, truth.truth(q, k), choices, answers, k))
    return "".join(blocks), k


def build_sections(rows, images_directory=None, data_directory=None):
    """(Sections, css) for every image dataset among the ok `rows`; ([], "") when none."""
    wanted = {}
    for r in rows:
        dataset = r.get("dataset") or ""
        track = track_of(r)
        if track and IMAGE_DATASET.match(dataset) and r.get("result_file"):
            wanted.setdefault((dataset, track), []).append(r)
    if not wanted:
        return [], ""
    images = ImageFiles(images_dir(images_directory))
    thumbs = Thumbnails(images)
    missing = images.missing()
    try:
        import h5py  # Debian's python3-h5py
    except ImportError:
        h5py = None
    sections = []
    for n, (dataset, track) in enumerate(sorted(wanted, key=lambda t: (t[0], t[1] != "knn"))):
        runs = wanted[(dataset, track)]
        title = "%s, %s: what recall %.1f looks like" % (
            dataset, "filtered k-NN" if track == "filtered" else "k-NN", TARGET_RECALL)
        anchor = "examples-%d" % n
        if missing:
            sections.append(Section(anchor, title, '<p class="note">No query images: %s.</p>' % esc(missing)))
            continue
        if h5py is None:
            sections.append(Section(anchor, title, '<p class="note">No query images: python3-h5py '
                                    "is not installed.</p>"))
            continue
        path = os.path.join(data_dir(data_directory), dataset + ".hdf5")
        notes = []
        try:
            truth = DatasetTruth(path, h5py, track == "filtered")
            train, test = images.get("train"), images.get("test")
            if (truth.train_rows, truth.test_rows) != (len(train), len(test)):
                raise ValueError("%s has %d train and %d test rows, the image files %d and %d" % (
                    path, truth.train_rows, truth.test_rows, len(train), len(test)))
            body, k = track_section(dataset, track, runs, truth, thumbs, h5py, notes)
        except (OSError, ValueError, KeyError) as e:
            sections.append(Section(anchor, title, '<p class="note">No query images: %s.</p>' % esc(e)))
            continue
        if body is None:
            reason = "; ".join(notes) or "no test row is answered by every chosen run"
            sections.append(Section(anchor, title, '<p class="note">No query images: %s.</p>' % esc(reason)))
            continue
        intro = ('<p class="note">k=%d. For each algorithm, its run whose recall is nearest %.1f '
                 "(name, recall and search parameters beside the row; build parameters on hover). "
                 'Returned images in the true top %d are outlined <span class="hit-key">green</span>, '
                 'the others <span class="miss-key">red, dashed</span>; the first row is the exact '
                 "answer.%s</p>" % (k, TARGET_RECALL, k,
                                    " The query's filter applies: the truth is the dataset's "
                                    "filtered_neighbors." if track == "filtered" else ""))
        extra = "".join('<p class="note">%s</p>' % esc(note) for note in notes)
        sections.append(Section(anchor, title, intro + extra + '<div class="qblocks">%s</div>' % body))
    return sections, thumbs.css()
