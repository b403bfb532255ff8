#!/usr/bin/python3
"""Streaming runs (mode: streaming): recall and QPS at each search step of the runbook, one line
per run (algorithm and search point), read from the per-step datasets of each run's .hdf5
(step, step_recall, step_qps). plot.py calls write_streaming_plots for the streaming rows of a
results folder; report.py puts the same figures in report.html.
"""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7",
          "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":")


def results_root(row):
    """The results root a summary row's result_file is relative to."""
    source = row.get("_source")
    if not source:
        return None
    return os.path.dirname(os.path.dirname(os.path.abspath(source)))


def read_curve(row):
    """(steps, recall, qps) of a streaming run, or None when its file or datasets are missing."""
    import h5py  # only streaming plots need it
    root = results_root(row)
    if root is None or not row.get("result_file"):
        return None
    path = os.path.join(root, row["result_file"])
    try:
        with h5py.File(path, "r") as f:
            return (list(f["step"][()]), list(f["step_recall"][()]), list(f["step_qps"][()]))
    except (OSError, KeyError):
        return None


def label_of(row):
    params = row.get("search_params") or {}
    if isinstance(params, dict) and params:
        return "%s %s" % (row["algorithm"], " ".join("%s=%s" % kv for kv in sorted(params.items())))
    return row["algorithm"]


def write_streaming_plots(rows, out_dir, formats, safe_name=lambda s: s):
    """One figure (recall and QPS against step) per dataset and k of the streaming rows.

    Returns [(dataset, k, [files])].
    """
    groups = {}
    for r in rows:
        if r.get("mode") == "streaming":
            groups.setdefault((r.get("dataset") or "?", r.get("count")), []).append(r)
    written = []
    for (dataset, k), group in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or 0)):
        curves = [(label_of(r), read_curve(r)) for r in sorted(group, key=label_of)]
        curves = [(label, c) for label, c in curves if c and c[0]]
        if not curves:
            continue
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 6.5), sharex=True)
        for i, (label, (steps, recall, qps)) in enumerate(curves):
            style = dict(color=COLORS[i % len(COLORS)],
                         linestyle=LINESTYLES[(i // len(COLORS)) % len(LINESTYLES)],
                         marker="o", markersize=3, linewidth=1.4)
            top.plot(steps, recall, label=label, **style)
            bottom.plot(steps, qps, label=label, **style)
        top.set_ylabel("Recall@%s at the step" % k)
        top.set_title("%s, k=%s, streaming" % (dataset, k))
        top.grid(True, alpha=0.3)
        bottom.set_ylabel("Queries per second (1/s)")
        bottom.set_yscale("log")
        bottom.set_xlabel("Runbook step")
        bottom.grid(True, which="both", alpha=0.3)
        top.legend(loc="best", fontsize=7, ncol=2, framealpha=0.8)
        fig.tight_layout()
        base = os.path.join(out_dir, "%s-k%s-streaming-steps" % (safe_name(dataset), k))
        files = []
        for fmt in formats:
            path = "%s.%s" % (base, fmt)
            fig.savefig(path, dpi=200 if fmt == "png" else None)
            files.append(path)
        plt.close(fig)
        written.append((dataset, k, files))
    return written
