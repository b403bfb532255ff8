#!/usr/bin/python3
"""scikit-learn's KDTree and BallTree (exact, leaf_size 40, one thread) as peers on an
ANN-Benchmarks HDF5 dataset, written as rows of annbench's summary.csv so that `annbench plot`
and `annbench compare` show them next to the C++ modules.

    /usr/bin/python3 tests/bench/sklearn_trees.py data/fashion-mnist-784-euclidean.hdf5 \
        --results results --queries 1000 --k 10

Rows go to RESULTS/<dataset>/sklearn/summary.csv (not RESULTS/<dataset>/summary.csv, which the
harness regenerates from its own run files); rows of a tree not measured by this call (see
--algorithms) are kept, so KDTree and BallTree can be measured by separate calls. Each query is timed alone, best mean of --runs,
after a warm-up over a tenth of the queries, as the harness does. Metrics follow annbench's
(ANN-Benchmarks') definitions: a neighbour counts when its distance, recomputed in the dataset's
metric, is at most the k-th true distance + 1e-3. Angular data is searched as euclidean on unit
vectors (same order as 1 - cos). Needs Debian's python3-sklearn and python3-h5py.
"""

import argparse
import csv
import datetime
import hashlib
import json
import os
import platform
import sys
import time

# One thread everywhere (numpy's BLAS, OpenMP) before numpy is imported.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import h5py  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.neighbors import BallTree, KDTree  # noqa: E402

# The columns of harness/src/results.cpp summary_header(), in order.
HEADER = ("dataset,count,algorithm,name,build_params,search_params,batch_mode,threads,queries,"
          "runs,status,error,recall,epsilon_recall,largeepsilon_recall,rel,qps,p50_ms,p95_ms,"
          "p99_ms,p999_ms,build_s,index_kb,rss_growth_kb,distcomps,result_file,git_commit,"
          "compiler,flags,cpu,dataset_sha256,timestamp").split(",")

RECALL_TIE_EPSILON = 1e-3


def dataset_distances(metric, query, points):
    """Distances from one query to rows of points, in the dataset's metric (float64)."""
    q = query.astype(np.float64)
    x = points.astype(np.float64)
    if metric == "euclidean":
        return np.sqrt(((x - q) ** 2).sum(axis=1))
    if metric == "angular":
        norms = np.linalg.norm(x, axis=1) * np.linalg.norm(q)
        cos = np.divide(x @ q, norms, out=np.zeros(len(x)), where=norms > 0)
        return 1.0 - cos
    raise SystemExit("sklearn_trees.py: metric %r is not supported (euclidean, angular)" % metric)


def quality(true_distances, run_distances, k):
    """recall, epsilon_recall, largeepsilon_recall, rel as annbench computes them."""
    kth = true_distances[:, k - 1:k]
    recall = (run_distances <= kth + RECALL_TIE_EPSILON).sum() / run_distances.size
    eps = (run_distances <= kth * 1.01).sum() / run_distances.size
    large = (run_distances <= kth * 1.1).sum() / run_distances.size
    true_sum = true_distances[:, :k].sum()
    rel = float("inf") if true_sum < 0.01 else run_distances.sum() / true_sum
    return recall, eps, large, rel


def percentile_ms(times, p):
    return 1000.0 * float(np.percentile(times, p))  # numpy's linear interpolation, as annbench


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def tree_bytes(tree):
    # The arrays the tree answers from: its copy of the data, the index permutation, node data
    # and node bounds (sklearn's get_arrays()).
    return sum(np.asarray(a).nbytes for a in tree.get_arrays())


def measure(name, tree_class, train, test, true_distances, metric, k, runs, leaf_size):
    start = time.perf_counter()
    tree = tree_class(train, leaf_size=leaf_size)
    build_s = time.perf_counter() - start
    queries = len(test)
    for q in range(max(1, queries // 10)):
        tree.query(test[q:q + 1], k=k)
    best_mean, best_times, best_ids = float("inf"), None, None
    for _ in range(runs):
        times = np.empty(queries)
        ids = np.empty((queries, k), dtype=np.int64)
        for q in range(queries):
            t0 = time.perf_counter()
            _, found = tree.query(test[q:q + 1], k=k)
            times[q] = time.perf_counter() - t0
            ids[q] = found[0]
        if times.mean() < best_mean:
            best_mean, best_times, best_ids = times.mean(), times, ids
    run_distances = np.stack([dataset_distances(metric, test_raw[q], train_raw[best_ids[q]])
                              for q in range(queries)])
    recall, eps, large, rel = quality(true_distances, run_distances, k)
    print("%s: build %.1f s, recall %.4f, qps %.1f" % (name, build_s, recall, 1.0 / best_mean))
    return {
        "algorithm": name, "name": "leaf_size_%d" % leaf_size,
        "build_params": json.dumps({"leaf_size": leaf_size}, separators=(",", ":")),
        "recall": recall, "epsilon_recall": eps, "largeepsilon_recall": large, "rel": rel,
        "qps": 1.0 / best_mean, "p50_ms": percentile_ms(best_times, 50),
        "p95_ms": percentile_ms(best_times, 95), "p99_ms": percentile_ms(best_times, 99),
        "p999_ms": percentile_ms(best_times, 99.9), "build_s": build_s,
        "index_kb": tree_bytes(tree) / 1024.0,
    }


def number(value):
    return "%.6g" % value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="ANN-Benchmarks HDF5 file")
    parser.add_argument("--results", default="results", help="results root (default: results)")
    parser.add_argument("--queries", type=int, default=1000, help="first N test queries")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--runs", type=int, default=2, help="repetitions; the fastest is kept")
    parser.add_argument("--leaf-size", type=int, default=40)
    parser.add_argument("--algorithms", default="kd,ball",
                        help="comma-separated trees to measure: kd, ball (default: both)")
    args = parser.parse_args()
    trees = {"kd": ("sklearn-kdtree", KDTree), "ball": ("sklearn-balltree", BallTree)}
    chosen = [a.strip() for a in args.algorithms.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in trees]
    if unknown or not chosen:
        raise SystemExit("sklearn_trees.py: --algorithms %r: expected a list of kd, ball"
                         % args.algorithms)
    if args.leaf_size < 1:
        raise SystemExit("sklearn_trees.py: --leaf-size must be at least 1, got %d"
                         % args.leaf_size)

    global train_raw, test_raw
    with h5py.File(args.dataset, "r") as f:
        metric = f.attrs["distance"]
        metric = metric.decode() if isinstance(metric, bytes) else str(metric)
        train_raw = np.asarray(f["train"], dtype=np.float32)
        test_raw = np.asarray(f["test"][: args.queries or None], dtype=np.float32)
        true_distances = np.asarray(f["distances"][: len(test_raw)], dtype=np.float64)
    if args.k > true_distances.shape[1]:
        raise SystemExit("sklearn_trees.py: --k %d exceeds the %d stored true neighbours"
                         % (args.k, true_distances.shape[1]))
    train, test = train_raw, test_raw
    if metric == "angular":
        def unit(m):
            norms = np.linalg.norm(m, axis=1, keepdims=True)
            return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)
        train, test = unit(train_raw), unit(test_raw)
    dataset_name = os.path.splitext(os.path.basename(args.dataset))[0]

    common = {
        "dataset": dataset_name, "count": args.k, "search_params": "{}", "batch_mode": "0",
        "threads": "1", "queries": str(len(test)), "runs": str(args.runs), "status": "ok",
        "error": "", "rss_growth_kb": "", "distcomps": "", "result_file": "",
        "git_commit": "", "compiler": "python %s, scikit-learn" % platform.python_version(),
        "flags": "", "cpu": cpu_model(), "dataset_sha256": sha256(args.dataset),
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    import sklearn
    common["compiler"] += " " + sklearn.__version__
    rows = []
    for name, tree_class in (trees[a] for a in chosen):
        row = dict(common)
        row.update(measure(name, tree_class, train, test, true_distances, metric, args.k,
                           args.runs, args.leaf_size))
        rows.append(row)

    out_dir = os.path.join(args.results, dataset_name, "sklearn")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "summary.csv")
    # Rows of a tree not measured this time are kept, so kd and ball can be run separately.
    measured = {row["algorithm"] for row in rows}
    if os.path.exists(path):
        with open(path, newline="") as f:
            kept = [r for r in csv.DictReader(f) if r.get("algorithm") not in measured]
        rows = kept + rows
    temporary = path + ".tmp"
    with open(temporary, "w", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([number(row[c]) if isinstance(row.get(c), float) else row.get(c, "")
                             for c in HEADER])
    os.replace(temporary, path)
    print("wrote %s" % path)


if __name__ == "__main__":
    sys.exit(main())
