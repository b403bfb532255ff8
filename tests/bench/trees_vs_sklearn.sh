#!/bin/bash
# Exact search of one of our tree modules against scikit-learn's KDTree / BallTree (leaf_size
# 40, one thread) on the same queries, back to back: the trees' speed check.
#
#   tests/bench/trees_vs_sklearn.sh MODULE [options]
#     MODULE               kdtree, balltree, vptree, ... (any module; its defaults must be exact,
#                          or pass --search with its exact-mode parameters)
#     --build YAML         build parameters as a YAML flow map, e.g. '{leaf_size: [16, 40]}'
#     --search YAML        search parameters, e.g. '{checks: -1}' (default: {})
#     --sklearn kd|ball|kd,ball  sklearn trees to measure (default: kd for kdtree, ball for
#                          balltree, both otherwise)
#     --datasets "A B"     dataset names in $ANNBENCH_DATA_DIR (default: synthetic-1m-16-euclidean
#                          fashion-mnist-784-euclidean)
#     --results DIR        results root (default: /tmp/trees-vs-sklearn-MODULE)
#     --annbench BIN       CLI to use (default: build/release/bin/annbench)
#     --queries N --k K --runs R  (default: 1000, 10, 2)
#
# Both sides time each query alone on one thread (annbench: batch: false; sklearn: one query
# per call), best mean of --runs after a warm-up. The synthetic set is created if missing, with
# the command the tree READMEs quote (same seed, same file). Prints `annbench compare` per dataset,
# sklearn's tree as the baseline: ratio = our QPS / sklearn's.
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 && $1 != -* ]] || usage
module=$1
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
build='{}'
search='{}'
case $module in
  kdtree) sklearn=kd ;;
  balltree) sklearn=ball ;;
  *) sklearn=kd,ball ;;
esac
datasets="synthetic-1m-16-euclidean fashion-mnist-784-euclidean"
results=/tmp/trees-vs-sklearn-$module
annbench=$root/build/release/bin/annbench
queries=1000
k=10
runs=2
while [[ $# -gt 0 ]]; do
  [[ $# -ge 2 ]] || usage
  case $1 in
    --build) build=$2 ;;
    --search) search=$2 ;;
    --sklearn) sklearn=$2 ;;
    --datasets) datasets=$2 ;;
    --results) results=$2 ;;
    --annbench) annbench=$2 ;;
    --queries) queries=$2 ;;
    --k) k=$2 ;;
    --runs) runs=$2 ;;
    *) usage ;;
  esac
  shift 2
done
[[ -x $annbench ]] || { echo "trees_vs_sklearn.sh: no annbench CLI at $annbench (--annbench)" >&2; exit 1; }
export ANNBENCH_DATA_DIR=${ANNBENCH_DATA_DIR:-$root/data}
mkdir -p "$results"

synthetic=$ANNBENCH_DATA_DIR/synthetic-1m-16-euclidean.hdf5
if [[ " $datasets " == *" synthetic-1m-16-euclidean "* && ! -f $synthetic ]]; then
  "$annbench" dataset synthetic --n 1000000 --queries 1000 --dim 16 --metric euclidean \
    --out "$synthetic" --seed 1
fi

echo "load before: $(uptime)"
for dataset in $datasets; do
  config=$results/$module-$dataset.yaml
  cat > "$config" <<EOF
# Written by tests/bench/trees_vs_sklearn.sh: exact single-query runs of $module.
description: $module exact search vs scikit-learn
datasets: [$dataset]
k: $k
runs: $runs
queries: $queries
batch: false
threads: 2
algorithms:
  - module: $module
    build: $build
    search: $search
EOF
  "$annbench" run "$config" --results "$results"
  /usr/bin/python3 "$root/tests/bench/sklearn_trees.py" "$ANNBENCH_DATA_DIR/$dataset.hdf5" \
    --results "$results" --queries "$queries" --k "$k" --runs "$runs" --algorithms "$sklearn" \
    --leaf-size 40
done
echo "load after: $(uptime)"
baseline="sklearn-kdtree"
[[ $sklearn == ball ]] && baseline="sklearn-balltree"
for dataset in $datasets; do
  echo
  echo "## $dataset (ratio = QPS / $baseline's)"
  "$annbench" compare "$results" --baseline-algorithm "$baseline" --dataset "$dataset" --single \
    --count "$k" --thresholds 0.99
done
