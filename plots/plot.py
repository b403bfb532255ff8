#!/usr/bin/python3
"""Plot annbench results: one Pareto-frontier curve per algorithm, as ANN-Benchmarks draws them.

    /usr/bin/python3 plots/plot.py results/                       # recall vs QPS, every dataset and k
    /usr/bin/python3 plots/plot.py results/ --all-metrics --format png,pdf
    /usr/bin/python3 plots/plot.py results/ -x recall -y p99_ms --dataset fashion-mnist-784-euclidean

See plots/README.md for every option and how to read the plots.
"""

import argparse
import math
import os
import re
import sys
import textwrap
from collections import namedtuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend is chosen)
from matplotlib.ticker import (  # noqa: E402
    FixedLocator, FuncFormatter, MaxNLocator, NullLocator,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from annbench_results import (  # noqa: E402
    METRICS, load_results, metric_label, metric_value, pareto_frontier,
)
from streaming import write_streaming_plots  # noqa: E402

PROG = "plot.py"

# Okabe & Ito colour-blind-safe palette, ordered so that the first few are the
# most distinct from one another (the light yellow, weakest on white paper, last).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7",
          "#E69F00", "#56B4E9", "#000000", "#F0E442")
# Marker edge per colour: white separates overlapping markers; the light yellow gets a dark edge.
MARKER_EDGE = {"#F0E442": "#6B6400"}
# Filled markers; 11 is coprime with 8 colours, so (colour, marker) stays unique for 88 algorithms.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "p", "h")
# Line style changes each time the colours wrap, so greyscale prints stay distinguishable too.
LINESTYLES = ("-", "--", "-.", ":")

# --all-metrics: y metrics plotted against x (recall unless -x says otherwise).
STANDARD_Y = ("qps", "build_s", "index_kb", "p99_ms", "distcomps")
FORMATS = ("png", "svg", "pdf")
RECALL_LIKE = ("recall", "epsilon_recall", "largeepsilon_recall")
PNG_DPI = 200

RC = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "pdf.fonttype": 42,  # TrueType in PDF/PS: text stays text for journals
    "ps.fonttype": 42,
    "svg.hashsalt": "annbench",  # deterministic SVG ids
}


class UsageError(Exception):
    """A problem to report in one line and exit 1."""


# --------------------------------------------------------------------------- styles

def algorithm_styles(names):
    """Stable style per algorithm: i-th name in sorted order -> (colour, marker, linestyle)."""
    styles = {}
    for i, name in enumerate(sorted(set(names))):
        styles[name] = (COLORS[i % len(COLORS)],
                        MARKERS[i % len(MARKERS)],
                        LINESTYLES[(i // len(COLORS)) % len(LINESTYLES)])
    return styles


def mode_name(batch_mode):
    return "batch" if batch_mode else "single-query"


def safe_name(text):
    return re.sub(r"[^\w.+-]", "_", str(text))


def better_hint(xm, ym):
    horiz = "right" if xm.higher_is_better else "left"
    vert = "up" if ym.higher_is_better else "down"
    arrow = {("up", "right"): "\u2197", ("up", "left"): "\u2196",
             ("down", "right"): "\u2198", ("down", "left"): "\u2199"}[(vert, horiz)]
    return "better: %s and to the %s %s" % (vert, horiz, arrow)


# --------------------------------------------------------------------------- one plot

# logit axis ticks: "nines" always; the in-between ones only when the axis spans few of them
LOGIT_TICKS = (0.0001, 0.001, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999)
LOGIT_TICKS_FINE = (0.2, 0.3, 0.7, 0.8, 0.95, 0.995, 0.9995)


def _logit(v):
    return math.log(v / (1 - v))


def _logit_limits(values):
    """Limits for a logit axis: the data below 1 with a margin, inside (1e-4, 1 - 1e-4).

    A value of exactly 1 cannot be placed on a logit axis: the upper limit is then
    1 - 1e-4 (as ANN-Benchmarks does) and lines run off the right edge towards it.
    """
    lo_cap, hi_cap = 1e-4, 1 - 1e-4
    inner = [v for v in values if 0 < v < 1]
    if not inner:
        return lo_cap, hi_cap
    t = [_logit(v) for v in inner]
    span = max(max(t) - min(t), 1.0)
    lo = 1 / (1 + math.exp(-(min(t) - 0.05 * span)))
    hi = 1 / (1 + math.exp(-(max(t) + 0.05 * span)))
    if any(v >= 1 for v in values):
        hi = hi_cap
    return max(lo, lo_cap), min(hi, hi_cap)


def _tick_text(v, plain):
    """A plain number (0.5, 20, 3000, 20000) or, when not plain, 10^n / m x 10^n."""
    if plain:
        return format(float("%.3g" % v), ",.6g")
    exponent = math.floor(math.log10(v) + 1e-9)
    mantissa = float("%.3g" % (v / 10 ** exponent))
    if mantissa == 1:
        return r"$\mathdefault{10^{%d}}$" % exponent
    return r"$\mathdefault{%g\times10^{%d}}$" % (mantissa, exponent)


def _log_tick_formatter(axis, minor):
    """Labels for a log axis: every decade; on a short axis (under two decades) also
    the minor ticks at 2 and 5 (all of them under ~0.7 decades) so there are numbers to read.
    Plain numbers when the whole axis lies within [0.001, 100000), powers of ten otherwise."""
    def fmt(v, _pos):
        if v <= 0:
            return ""
        lo, hi = sorted(axis.get_view_interval())
        plain = lo >= 1e-3 and hi < 1e5
        decades = math.log10(hi / lo) if lo > 0 else 99.0
        mantissa = round(v / 10 ** math.floor(math.log10(v) + 1e-9), 6)
        if minor:
            wanted = (2, 5) if decades < 2 else ()
            if decades < 0.7:
                wanted = (2, 3, 4, 5, 6, 8)
            if not any(abs(mantissa - m) < 1e-6 for m in wanted):
                return ""
        return _tick_text(v, plain)
    return fmt


def _short_log_formatter(axis):
    """Labels for a log axis spanning under a decade (round-number ticks)."""
    def fmt(v, _pos):
        if v <= 0:
            return ""
        lo, hi = sorted(axis.get_view_interval())
        if 1e-3 <= lo and hi < 1e7:
            return format(float("%.4g" % v), ",.6g")  # 275,000 rather than 2.75 x 10^5
        return _tick_text(v, False)
    return fmt


def _apply_scale_and_limits(ax, axis, name, scale, values):
    """Set the scale of one axis; recall-like axes stay inside [0, 1]."""
    set_scale = ax.set_xscale if axis == "x" else ax.set_yscale
    get_lim = ax.get_xlim if axis == "x" else ax.get_ylim
    set_lim = ax.set_xlim if axis == "x" else ax.set_ylim
    target = ax.xaxis if axis == "x" else ax.yaxis
    if scale == "logit":
        set_scale("logit", nonpositive="clip")
        lo, hi = _logit_limits(values)
        set_lim(lo, hi)
        # plain decimal ticks (0.9, 0.99, 0.999) instead of matplotlib's "1 - 10^-1"
        ticks = LOGIT_TICKS
        if _logit(hi) - _logit(lo) < 7:
            ticks = sorted(LOGIT_TICKS + LOGIT_TICKS_FINE)
        target.set_major_locator(FixedLocator([t for t in ticks if lo <= t <= hi]))
        target.set_major_formatter(FuncFormatter(lambda v, _pos: "%g" % v))
        target.set_minor_locator(NullLocator())
        return
    set_scale(scale)
    if scale == "log":
        pos = [v for v in values if v > 0]
        if pos and 0 < math.log10(max(pos) / min(pos)) < 0.85:
            # under a decade of data the log locator leaves one or two ticks: use round numbers
            target.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
            target.set_minor_locator(NullLocator())
            target.set_major_formatter(FuncFormatter(_short_log_formatter(target)))
        else:
            target.set_major_formatter(FuncFormatter(_log_tick_formatter(target, minor=False)))
            target.set_minor_formatter(FuncFormatter(_log_tick_formatter(target, minor=True)))
    if scale == "linear" and name in RECALL_LIKE:
        v0, v1 = get_lim()
        pad = 0.015 * max(v1 - v0, 1e-9)
        set_lim(max(v0, 0.0), min(v1, 1.0 + pad))


def make_plot(rows, x_name, y_name, styles, title, path_base, formats,
              x_scale=None, y_scale=None, all_points=False):
    """Draw one plot of rows (one dataset, k and mode). Returns the files written ([] if nothing to draw)."""
    xm, ym = METRICS[x_name], METRICS[y_name]
    x_scale = x_scale or xm.scale
    y_scale = y_scale or ym.scale
    ks = sorted({r["count"] for r in rows if r.get("count") is not None})
    k = ks[0] if len(ks) == 1 else None

    by_algo = {}
    for r in rows:
        by_algo.setdefault(r["algorithm"] or "?", []).append(r)

    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.0, 4.4))
        drawn = 0
        for algo in sorted(by_algo):
            pts = [(metric_value(r, x_name), metric_value(r, y_name), r) for r in by_algo[algo]]
            front = pareto_frontier(pts, xm.higher_is_better, ym.higher_is_better)
            if not front:
                continue
            color, marker, ls = styles.get(algo, ("0.3", "o", "-"))
            if all_points:
                on_front = {id(p) for p in front}
                rest = [p for p in pts if p[0] and p[1] and id(p) not in on_front]
                if rest:
                    ax.plot([p[0] for p in rest], [p[1] for p in rest], linestyle="none",
                            marker=marker, markersize=4, color=color, alpha=0.3,
                            markeredgewidth=0, zorder=2)
            ax.plot([p[0] for p in front], [p[1] for p in front], label=algo,
                    color=color, marker=marker, linestyle=ls, linewidth=1.5,
                    markersize=5.5, markeredgecolor=MARKER_EDGE.get(color, "white"),
                    markeredgewidth=0.6,
                    zorder=3)
            drawn += 1
        no_data = sorted(a for a in by_algo
                         if not any(metric_value(r, x_name) and metric_value(r, y_name) for r in by_algo[a]))
        if drawn == 0:
            plt.close(fig)
            return []

        xs = [v for v in (metric_value(r, x_name) for r in rows) if v]
        ys = [v for v in (metric_value(r, y_name) for r in rows) if v]
        _apply_scale_and_limits(ax, "x", x_name, x_scale, xs)
        _apply_scale_and_limits(ax, "y", y_name, y_scale, ys)
        ax.set_xlabel(metric_label(x_name, k))
        ax.set_ylabel(metric_label(y_name, k))
        ax.set_title(title)
        ax.set_axisbelow(True)
        ax.grid(True, which="major", color="0.82", linewidth=0.8)
        if x_scale == "log":  # faint decade subdivisions on log axes only
            ax.grid(True, which="minor", axis="x", color="0.93", linewidth=0.5)
        if y_scale == "log":
            ax.grid(True, which="minor", axis="y", color="0.93", linewidth=0.5)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ncol = 1 if drawn <= 16 else 2
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  frameon=False, ncol=ncol, title="Algorithm", alignment="left")
        note = better_hint(xm, ym)
        if no_data:  # say who is missing rather than leave the reader guessing
            note = "%s\n%s" % (textwrap.fill("no data: " + ", ".join(no_data), 30), note)
        ax.text(1.02, 0.0, note, transform=ax.transAxes, linespacing=1.4,
                ha="left", va="bottom", fontsize=8, color="0.35", style="italic")

        written = []
        for fmt in formats:
            path = "%s.%s" % (path_base, fmt)
            kwargs = {"bbox_inches": "tight", "pad_inches": 0.05}
            if fmt == "png":
                kwargs["dpi"] = PNG_DPI
            elif fmt == "svg":
                kwargs["metadata"] = {"Date": None}
            elif fmt == "pdf":
                kwargs["metadata"] = {"CreationDate": None}
            fig.savefig(path, format=fmt, **kwargs)
            written.append(path)
        plt.close(fig)
    return written


# --------------------------------------------------------------------------- CLI

def split_list(text):
    return [t.strip() for t in text.split(",") if t.strip()] if text else []


def parse_args(argv):
    metrics = sorted(METRICS)
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Plot annbench results (results/<dataset>/summary.csv): one Pareto-frontier "
                    "line per algorithm, one plot per dataset, k and mode.")
    p.add_argument("results", metavar="RESULTS",
                   help="results root (searched recursively for summary.csv) or one summary.csv")
    p.add_argument("--dataset", metavar="NAME",
                   help="only these datasets (comma-separated)")
    p.add_argument("--count", "-k", type=int, metavar="K", help="only runs with this k")
    p.add_argument("--algorithms", metavar="A,B",
                   help="only these algorithms (comma-separated module names)")
    p.add_argument("--threads", type=int, metavar="N", help="only runs that used N search threads")
    p.add_argument("-x", "--x-axis", dest="x", default="recall", choices=metrics, metavar="METRIC",
                   help="x metric (default recall); one of: " + ", ".join(metrics))
    p.add_argument("-y", "--y-axis", dest="y", default="qps", choices=metrics, metavar="METRIC",
                   help="y metric (default qps)")
    p.add_argument("--x-scale", choices=("linear", "log", "logit"),
                   help="x axis scale (default: the metric's, linear for recall)")
    p.add_argument("--y-scale", choices=("linear", "log", "logit"),
                   help="y axis scale (default: the metric's, log for qps)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--batch", dest="mode", action="store_const", const=1,
                      help="only batch-mode runs")
    mode.add_argument("--single", dest="mode", action="store_const", const=0,
                      help="only single-query runs")
    p.add_argument("--all-metrics", action="store_true",
                   help="write the standard set: x against " + ", ".join(STANDARD_Y))
    p.add_argument("--all-points", action="store_true",
                   help="also draw the runs off the frontier, faint")
    p.add_argument("--format", default="png", metavar="FMT",
                   help="png, svg or pdf; several comma-separated (default png)")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: plots/ inside RESULTS, or beside the summary.csv)")
    p.add_argument("--title", metavar="TEXT",
                   help="plot title; may use {dataset} {k} {mode} {x} {y} "
                        "(default \"{dataset}, k={k}, {mode}\")")
    args = p.parse_args(argv)
    args.formats = split_list(args.format.lower())
    bad = [f for f in args.formats if f not in FORMATS]
    if bad or not args.formats:
        p.error("--format: expected png, svg or pdf, got %r" % args.format)
    return args


def default_out_dir(results_path):
    base = results_path if os.path.isdir(results_path) else os.path.dirname(os.path.abspath(results_path))
    return os.path.join(base, "plots")


def describe_filters(args):
    parts = []
    if args.dataset:
        parts.append("dataset=" + args.dataset)
    if args.count is not None:
        parts.append("k=%d" % args.count)
    if args.algorithms:
        parts.append("algorithms=" + args.algorithms)
    if args.threads is not None:
        parts.append("threads=%d" % args.threads)
    if args.mode is not None:
        parts.append("mode=" + mode_name(args.mode))
    return ", ".join(parts) if parts else "no filters"


def dataset_of(row):
    if row.get("dataset"):
        return row["dataset"]
    src = row.get("_source")
    return os.path.basename(os.path.dirname(os.path.abspath(src))) if src else "unknown"


PlotEntry = namedtuple("PlotEntry", "dataset k batch x y files")


def group_rows(rows):
    """Rows grouped by (dataset, k, batch 0/1), in sorted order: [((dataset, k, batch), rows)].
    Runs of the streaming and concurrent tracks form groups of their own (their recall and QPS
    are a runbook's mean, or under several clients); filtered runs one group per selectivity
    band (an index at 1 % and at 50 % selectivity answers different questions), sharded runs one
    per shard count and partition (each rank's threads are the machine's over the ranks)."""
    groups = {}
    for r in rows:
        mode = r.get("mode") or "knn"
        dataset = dataset_of(r) + ("" if mode in ("knn", "range") else " " + mode)
        if mode == "filtered" and r.get("selectivity") is not None:
            dataset += " selectivity %g" % float(r.get("selectivity"))
        if mode == "sharded" and r.get("shards") is not None:
            dataset += " %d shards %s" % (int(float(r.get("shards"))), r.get("partition") or "")
        groups.setdefault((dataset, r.get("count"), 1 if r.get("batch_mode") else 0), []).append(r)
    order = sorted(groups, key=lambda g: (g[0], g[1] if g[1] is not None else -1, g[2]))
    return [(g, groups[g]) for g in order]


def write_plots(rows, pairs, styles, out_dir, formats, x_scale=None, y_scale=None,
                all_points=False, title_template=None):
    """One plot per (dataset, k, mode) group and (x, y) pair; warnings go to stderr.

    Returns a PlotEntry per plot drawn (files: the paths written, one per format).
    """
    entries = []
    for (dataset, k, batch), grows in group_rows(rows):
        mixed = {}
        for r in grows:
            mixed.setdefault(r["algorithm"], set()).add(r.get("threads"))
        for algo, th in sorted(mixed.items()):
            if len(th) > 1:
                print("%s: warning: %s, k=%s, %s: %s mixes thread counts %s (use --threads N)" % (
                    PROG, dataset, k, mode_name(batch), algo,
                    ", ".join(str(t) for t in sorted(th, key=lambda t: (t is None, t or 0)))),
                    file=sys.stderr)
        for x_name, y_name in pairs:
            fields = {"dataset": dataset, "k": k, "mode": mode_name(batch), "x": x_name, "y": y_name}
            title = "{dataset}, k={k}, {mode}".format(**fields)
            if title_template:
                try:
                    title = title_template.format(**fields)
                except (KeyError, IndexError, ValueError):
                    title = title_template
            base = os.path.join(out_dir, "%s-k%s-%s-%s%s" % (
                safe_name(dataset), k, x_name, y_name, "-batch" if batch else ""))
            files = make_plot(grows, x_name, y_name, styles, title, base, formats,
                              x_scale, y_scale, all_points)
            if not files:
                print("%s: warning: %s, k=%s, %s: no run has both %s and %s; %s-%s plot skipped" % (
                    PROG, dataset, k, mode_name(batch), x_name, y_name, x_name, y_name),
                    file=sys.stderr)
                continue
            entries.append(PlotEntry(dataset, k, batch, x_name, y_name, files))
    return entries


def run(argv=None):
    args = parse_args(argv)
    try:
        results = load_results(args.results)
    except FileNotFoundError as e:
        raise UsageError(str(e))
    if not results.files:
        raise UsageError("no summary.csv found under %s" % args.results)
    if results.n_failed:
        per = {}
        for r in results.failed:
            per[r.get("algorithm") or "?"] = per.get(r.get("algorithm") or "?", 0) + 1
        print("%s: note: skipped %d failed run(s) (%s)" % (
            PROG, results.n_failed, ", ".join("%s: %d" % kv for kv in sorted(per.items()))),
            file=sys.stderr)

    styles = algorithm_styles(r["algorithm"] or "?" for r in results.rows)
    datasets = set(split_list(args.dataset))
    algorithms = set(split_list(args.algorithms))
    present = {r["algorithm"] for r in results.rows}
    for a in sorted(algorithms - present):
        print("%s: warning: algorithm %r has no ok runs in %s" % (PROG, a, args.results), file=sys.stderr)

    rows = [r for r in results.rows
            if (not datasets or dataset_of(r) in datasets)
            and (args.count is None or r.get("count") == args.count)
            and (not algorithms or r.get("algorithm") in algorithms)
            and (args.threads is None or r.get("threads") == args.threads)
            and (args.mode is None or (1 if r.get("batch_mode") else 0) == args.mode)]
    if not rows:
        have = sorted({"%s k=%s %s" % (dataset_of(r), r.get("count"), mode_name(r.get("batch_mode")))
                       for r in results.rows})
        raise UsageError("no ok runs match (%s) in %d summary.csv file(s) under %s; available: %s" % (
            describe_filters(args), len(results.files), args.results,
            "; ".join(have) if have else "none (%d failed)" % results.n_failed))

    pairs = [(args.x, y) for y in STANDARD_Y] if args.all_metrics else [(args.x, args.y)]
    out_dir = args.out or default_out_dir(args.results)
    os.makedirs(out_dir, exist_ok=True)

    written = []
    for entry in write_plots(rows, pairs, styles, out_dir, args.formats, args.x_scale,
                             args.y_scale, args.all_points, args.title):
        for f in entry.files:
            print(f)
        written.extend(entry.files)
    for _, _, files in write_streaming_plots(rows, out_dir, args.formats, safe_name):
        for f in files:
            print(f)
        written.extend(files)
    if not written:
        raise UsageError("nothing plotted: no matching run has nonzero values for the requested metrics")
    return written


def main(argv=None):
    try:
        run(argv)
    except UsageError as e:
        print("%s: error: %s" % (PROG, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
