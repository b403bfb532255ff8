#!/usr/bin/python3
"""Write one self-contained HTML report of an annbench results folder.

    /usr/bin/python3 plots/report.py results/                 # -> results/report.html
    /usr/bin/python3 plots/report.py results/ --out /tmp/report.html

The page holds every plot of `plot.py --all-metrics` (each dataset, k and mode) as inline SVG,
a sortable table of every run (failed ones with their error) and each run's reproducibility
block, and for image datasets (Fashion-MNIST and its CNN features) a few queries with the images
each algorithm returned at recall near 0.9. It loads nothing from anywhere: no scripts, fonts or
images from the network or disk (thumbnails are embedded). See plots/README.md.
"""

import argparse
import datetime
import html
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import plot  # noqa: E402
import query_images  # noqa: E402
import streaming  # noqa: E402
from annbench_results import load_results, run_file_path, write_atomically  # noqa: E402
from report_assets import CSS, SCRIPT  # noqa: E402

PROG = "report.py"

# Table columns: (row key or metric, header, kind). kind "num" sorts numerically.
TABLE_COLUMNS = (
    ("dataset", "dataset", "text"), ("count", "k", "num"), ("mode", "mode", "text"),
    ("algorithm", "algorithm", "text"), ("name", "run", "text"), ("status", "status", "text"),
    ("build_params", "build params", "text"), ("search_params", "search params", "text"),
    ("threads", "threads", "num"), ("recall", "recall", "num"), ("qps", "QPS", "num"),
    ("p50_ms", "p50 ms", "num"), ("p99_ms", "p99 ms", "num"), ("build_s", "build s", "num"),
    ("index_kb", "index kB", "num"), ("distcomps", "dist. comps", "num"),
)
# The reproducibility block, in display order: (key, label).
REPRO_FIELDS = (
    ("git_commit", "commit"), ("compiler", "compiler"), ("flags", "flags"), ("cpu", "CPU"),
    ("hostname", "host"), ("dataset_sha256", "dataset SHA-256"), ("timestamp", "timestamp"),
    ("config", "config"), ("result_file", "result file"),
)


class UsageError(Exception):
    """A problem to report in one line and exit 1."""


def esc(value):
    return html.escape("" if value is None else str(value), quote=True)


# --------------------------------------------------------------------------- run files

def read_run_extras(row):
    """hostname and config, which summary.csv lacks, from the run's own .hdf5 / .failed file.

    Missing file, unreadable file or no h5py: the fields are left out (shown as "not recorded").
    """
    path = run_file_path(row)
    if not path:
        return {}
    wanted = ("hostname", "config")
    try:
        if path.endswith(".failed"):
            extras = {}
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    key, sep, value = line.rstrip("\n").partition(": ")
                    if sep and key in wanted:
                        extras[key] = value
            return extras
        import h5py  # Debian's python3-h5py; optional
        with h5py.File(path, "r") as f:
            extras = {}
            for key in wanted:
                if key in f.attrs:
                    value = f.attrs[key]
                    extras[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            return extras
    except (OSError, ImportError, ValueError):
        return {}


# --------------------------------------------------------------------------- plots

_SVG_DROP = (
    re.compile(r"<\?xml[^>]*\?>\s*"),
    re.compile(r"<!DOCTYPE[^>]*>\s*"),
    re.compile(r"<metadata>.*?</metadata>\s*", re.S),
    re.compile(r'\s+xmlns(?::\w+)?="[^"]*"'),  # namespace URIs: HTML's parser supplies them
)


def inline_svg(text, prefix):
    """Matplotlib's SVG file, made fit to sit inline in HTML beside other plots.

    The XML prolog, doctype, metadata and namespace declarations go (the HTML parser knows SVG
    and xlink:href), and every id gets `prefix` so that two plots' ids can never clash.
    """
    for pattern in _SVG_DROP:
        text = pattern.sub("", text)
    text = re.sub(r'\bid="([^"]+)"', lambda m: 'id="%s%s"' % (prefix, m.group(1)), text)
    text = re.sub(r'url\(#([^)]+)\)', lambda m: "url(#%s%s)" % (prefix, m.group(1)), text)
    text = re.sub(r'href="#([^"]+)"', lambda m: 'href="#%s%s"' % (prefix, m.group(1)), text)
    return text.strip()


def render_plots(rows, styles):
    """[(dataset, k, batch, [(x, y, svg text)])] for every plot of --all-metrics."""
    pairs = [("recall", y) for y in plot.STANDARD_Y]
    sections = {}
    with tempfile.TemporaryDirectory(prefix="annbench-report-") as tmp:
        for n, e in enumerate(plot.write_plots(rows, pairs, styles, tmp, ["svg"])):
            with open(e.files[0], encoding="utf-8") as f:
                svg = inline_svg(f.read(), "p%d-" % n)
            sections.setdefault((e.dataset, e.k, e.batch), []).append((e.x, e.y, svg))
        # Streaming runs: recall and QPS at every search step, in their own section.
        for n, (dataset, k, files) in enumerate(
                streaming.write_streaming_plots(rows, tmp, ["svg"], plot.safe_name)):
            with open(files[0], encoding="utf-8") as f:
                svg = inline_svg(f.read(), "s%d-" % n)
            sections.setdefault((dataset + " streaming", k, 0), []).append(("step", "recall-qps", svg))
    return [(d, k, b, plots) for (d, k, b), plots in sections.items()]


# --------------------------------------------------------------------------- HTML pieces

def format_number(value):
    if value is None:
        return ""
    if isinstance(value, int):
        return "{:,}".format(value)
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return "%.3g" % value
    if abs(value) >= 100:
        return "{:,.0f}".format(value)
    return "%.4g" % value


def params_text(value):
    if isinstance(value, dict):
        return ", ".join("%s=%s" % (k, v) for k, v in value.items())
    return "" if value is None else str(value)


def cell(row, key, kind):
    if key == "mode":
        return '<td>%s</td>' % esc(plot.mode_name(row.get("batch_mode")))
    if key == "status":
        status = row.get("status") or "?"
        if status == "ok":
            return '<td class="ok">ok</td>'
        return '<td><span class="bad">%s</span><div class="error">%s</div></td>' % (
            esc(status), esc(row.get("error") or "(no error recorded)"))
    value = row.get(key)
    if key == "name":  # the run's reproducibility block opens from its name
        return '<td data-v="%s">%s</td>' % (esc(value), repro_details(row))
    if key in ("build_params", "search_params"):
        return '<td class="params">%s</td>' % esc(params_text(value))
    if kind == "num":
        if value is None:
            return '<td class="num" data-v=""></td>'
        return '<td class="num" data-v="%s">%s</td>' % (esc(repr(value)), esc(format_number(value)))
    return "<td>%s</td>" % esc(value)


def repro_details(row):
    items = []
    for key, label in REPRO_FIELDS:
        value = row.get(key)
        shown = esc(value) if value else '<span class="none">not recorded</span>'
        items.append("<dt>%s</dt><dd>%s</dd>" % (esc(label), shown))
    return '<details><summary>%s</summary><dl>%s</dl></details>' % (
        esc(row.get("name") or "?"), "".join(items))


def runs_table(all_rows):
    head = "".join('<th data-key="%s" data-kind="%s" tabindex="0">%s</th>' % (key, kind, esc(label))
                   for key, label, kind in TABLE_COLUMNS)
    body = []
    for row in all_rows:
        ok = row.get("status") == "ok"
        cells = "".join(cell(row, key, kind) for key, _, kind in TABLE_COLUMNS)
        body.append('<tr class="%s">%s</tr>' % ("run-ok" if ok else "run-failed", cells))
    return ('<table id="runs" class="sortable"><thead><tr>%s</tr></thead>\n<tbody>\n%s\n</tbody></table>'
            % (head, "\n".join(body)))


def common_environment(all_rows):
    """Reproducibility fields that every run shares, for the header: [(label, value)]."""
    shared = []
    for key, label in REPRO_FIELDS:
        if key in ("result_file", "timestamp", "config"):
            continue
        values = {row.get(key) or "" for row in all_rows}
        if len(values) == 1 and "" not in values:
            shared.append((label, values.pop()))
    return shared


def page(results_path, ok_rows, failed_rows, sections, generated, examples=(), examples_css=""):
    all_rows = sorted(ok_rows + failed_rows, key=lambda r: (
        plot.dataset_of(r), r.get("count") or 0, 1 if r.get("batch_mode") else 0,
        r.get("algorithm") or "", r.get("name") or ""))
    datasets = sorted({plot.dataset_of(r) for r in all_rows})
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>annbench report: %s</title>" % esc(", ".join(datasets) or results_path),
           "<style>%s</style>" % CSS,
           "<style>%s</style></head><body>" % examples_css if examples_css else "</head><body>",
           "<header><h1>annbench report</h1><dl class=\"summary\">",
           "<dt>results</dt><dd><code>%s</code></dd>" % esc(os.path.abspath(results_path)),
           "<dt>generated</dt><dd>%s</dd>" % esc(generated),
           '<dt>runs</dt><dd>%d: <span class="ok">%d ok</span>, <span class="%s">%d failed</span></dd>' % (
               len(all_rows), len(ok_rows), "bad" if failed_rows else "ok", len(failed_rows)),
           "<dt>datasets</dt><dd>%s</dd>" % (esc(", ".join(datasets)) or "none"),
           "<dt>algorithms</dt><dd>%s</dd>" % (
               esc(", ".join(sorted({r.get("algorithm") or "?" for r in all_rows}))) or "none")]
    for label, value in common_environment(all_rows):
        out.append("<dt>%s</dt><dd>%s</dd>" % (esc(label), esc(value)))
    out.append("</dl>")
    nav = ['<a href="#runs-section">all runs</a>']
    for n, (dataset, k, batch, _) in enumerate(sections):
        nav.append('<a href="#plots-%d">%s, k=%s, %s</a>' % (
            n, esc(dataset), esc(k), esc(plot.mode_name(batch))))
    for e in examples:
        nav.append('<a href="#%s">%s</a>' % (esc(e.anchor), esc(e.title)))
    out.append('<nav>%s</nav></header><main>' % " \u00b7 ".join(nav))

    if not sections:
        out.append('<p class="note">No plots: no ok run has values to plot.</p>')
    for n, (dataset, k, batch, plots) in enumerate(sections):
        out.append('<section id="plots-%d"><h2>%s, k=%s, %s</h2><div class="plots">' % (
            n, esc(dataset), esc(k), esc(plot.mode_name(batch))))
        for x, y, svg in plots:
            out.append('<figure data-plot="%s-%s">%s</figure>' % (esc(x), esc(y), svg))
        out.append("</div></section>")
    for e in examples:  # query images: already escaped by query_images
        out.append('<section id="%s" class="examples"><h2>%s</h2>%s</section>' % (
            esc(e.anchor), esc(e.title), e.body))
    out.append('<section id="runs-section"><h2>All runs</h2><p class="note">Click a column header '
               "to sort (again to reverse); a link ending in <code>#sort=qps</code> (or "
               "<code>#sort=-qps</code>, descending) opens it sorted. Failed runs are red, with "
               "their error. A run's name opens its commit, compiler, flags, CPU, host, dataset "
               "checksum, timestamp and config.</p>")
    out.append(runs_table(all_rows))
    out.append("</section></main><script>%s</script></body></html>\n" % SCRIPT)
    return "\n".join(out)


# --------------------------------------------------------------------------- CLI

def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=(
        "Write one self-contained HTML report (plots, sortable run table, reproducibility) of "
        "an annbench results folder."))
    p.add_argument("results", metavar="RESULTS",
                   help="results root (searched recursively for summary.csv) or one summary.csv")
    p.add_argument("--out", metavar="FILE",
                   help="output file (default RESULTS/report.html, or beside a single summary.csv)")
    p.add_argument("--images-dir", metavar="DIR", help=(
        "Fashion-MNIST's IDX image files, for the query images of image datasets (default "
        "$ANNBENCH_FASHION_MNIST_DIR or %s)" % query_images.DEFAULT_IMAGES_DIR))
    p.add_argument("--data-dir", metavar="DIR", help=(
        "the dataset files, for their true neighbours (default $ANNBENCH_DATA_DIR or data/)"))
    return p.parse_args(argv)


def run(argv=None):
    args = parse_args(argv)
    try:
        results = load_results(args.results)
    except FileNotFoundError as e:
        raise UsageError(str(e))
    if not results.files:
        raise UsageError("no summary.csv found under %s" % args.results)
    for row in results.rows + results.failed:
        row.update(read_run_extras(row))
    styles = plot.algorithm_styles(r["algorithm"] or "?" for r in results.rows)
    sections = render_plots(results.rows, styles) if results.rows else []
    generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    examples, examples_css = query_images.build_sections(results.rows, args.images_dir, args.data_dir)
    text = page(args.results, results.rows, results.failed, sections, generated, examples, examples_css)
    out = args.out or os.path.join(os.path.dirname(plot.default_out_dir(args.results)), "report.html")
    # Written beside the target and renamed, so a reader never sees half a page.
    write_atomically(out, lambda f: f.write(text), prefix=".report-", suffix=".html")
    print(out)
    return out


def main(argv=None):
    try:
        run(argv)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
