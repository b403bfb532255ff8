#!/usr/bin/python3
"""One recall-QPS figure across datasets: each (dataset, algorithm) pair of a results folder is
one Pareto curve, so the same index on different representations of the same images (raw
pixels, PCA-reduced pixels, CNN features) can be read off one plot. Recall is always against
the ground truth of the run's own dataset; PCA runs are scored in the original space.

    /usr/bin/python3 plots/feature_spaces.py results-features --out docs/figures/feature-spaces.png
"""

import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from annbench_results import load_results, pareto_frontier  # noqa: E402
from plot import COLORS, MARKERS  # noqa: E402


def curves(results, k, batch):
    """{(dataset, algorithm): [(recall, qps), ...] on the Pareto frontier}, sorted by recall."""
    points = {}
    for row in results.rows:
        if row["count"] != k or bool(row["batch_mode"]) != batch:
            continue
        key = (row["dataset"], row["algorithm"])
        points.setdefault(key, []).append((row["recall"], row["qps"]))
    frontiers = {}
    for key, pts in points.items():
        kept = pareto_frontier(pts)
        frontiers[key] = sorted((p[0], p[1]) for p in kept)
    return frontiers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results folder (or one summary.csv)")
    parser.add_argument("--out", required=True, help="image file (.png, .svg or .pdf)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--batch", action="store_true", help="batch-mode runs instead of single")
    parser.add_argument("--title", default="Same images, different vectors: HNSW recall vs speed")
    args = parser.parse_args(argv)

    frontiers = curves(load_results(args.results), args.k, args.batch)
    if not frontiers:
        print("feature_spaces.py: no runs with k = %d in %s" % (args.k, args.results),
              file=sys.stderr)
        return 1
    fig, ax = plt.subplots(figsize=(8.5, 5))
    for i, (key, pts) in enumerate(sorted(frontiers.items())):
        dataset, algorithm = key
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=MARKERS[i % len(MARKERS)],
                color=COLORS[i % len(COLORS)], label="%s: %s" % (dataset, algorithm))
    ax.set_yscale("log")
    ax.set_xlabel("Recall@%d (against each dataset's own ground truth)" % args.k)
    ax.set_ylabel("Queries per second (1/s), %s" % ("batch" if args.batch else "one thread"))
    ax.set_title(args.title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print("wrote %s (%d curves)" % (args.out, len(frontiers)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
