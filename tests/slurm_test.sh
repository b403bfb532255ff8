#!/usr/bin/env bash
# `annbench slurm submit` on a real one-node Slurm (scripts/slurm-local.sh) against a local run
# of the same sweep:
#  1. a 2-task array over 4 build points merges to exactly the local run set, with equal
#     recall per run;
#  2. a node lost mid-sweep (task 1 of a held array cancelled before it starts): the merge
#     names exactly that shard's runs as missing and exits 3; submitting again measures only
#     those, and the merged set is then the local one.
# Exits 77 (skipped) without Slurm's daemons and client, munged, or root.
#   usage: tests/slurm_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
start_time=$(date +%s)
build=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
annbench=$build/bin/annbench

skip() {
  echo "slurm_test: SKIPPED: $*"
  exit 77
}
for tool in slurmctld slurmd munged sbatch squeue scancel scontrol; do
  command -v "$tool" > /dev/null ||
    skip "$tool is not installed (Debian: slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root to start slurmd"
[ -x "$annbench" ] || { echo "slurm_test: no $annbench" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/annbench-slurm-test.XXXXXX")
cluster=$work/cluster
cleanup() {
  "$source_dir/scripts/slurm-local.sh" stop "$cluster" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "slurm_test: FAILED: $*" >&2
  echo "--- squeue" >&2
  squeue >&2 || true
  for log in "$sweep"/r*/slurm/logs/* "$cluster"/log/*.log; do
    [ -e "$log" ] || continue
    echo "--- $log (last 20 lines)" >&2
    tail -n 20 "$log" >&2
  done
  exit 1
}

# The sweep lives in a folder with a space in its name: every path in the scripts is quoted.
sweep="$work/sweep dir"
mkdir -p "$sweep/data"
cd "$sweep"
"$annbench" dataset synthetic --n 2000 --queries 50 --dim 16 --metric euclidean --seed 7 --k 10 \
  --out data/blobs.hdf5 > /dev/null
# Deterministic builds (one thread, fixed seeds): every run's recall is the same anywhere.
cat > sweep.yaml << 'EOF'
datasets: [data/blobs.hdf5]
k: 10
threads: 1
algorithms:
  - module: bruteforce
  - module: kdtree
  - module: hnsw
    build: {M: [8, 16], ef_construction: 64, seed: 3}
    search: {ef: [10, 40]}
EOF

# The references: the whole sweep, and shard 1 of 2 alone, run here.
"$annbench" run sweep.yaml --results local --quiet
"$annbench" run sweep.yaml --results shard1 --shard 1/2 --quiet

run_files() { (cd "$1" && find . -name '*.hdf5' -printf '%P\n' | sort); }
# Identity columns and recall of every run, sorted.
recalls() {
  /usr/bin/python3 -c '
import csv, sys
keys = ("dataset", "count", "algorithm", "name", "build_params", "search_params", "batch_mode",
        "threads", "queries", "runs", "mode", "status", "recall")
rows = [tuple(row[key] for key in keys) for row in csv.DictReader(open(sys.argv[1]))]
for row in sorted(rows):
    print(" | ".join(row))
' "$1/blobs/summary.csv"
}
[ "$(run_files local | wc -l)" -eq 6 ] || fail "the local run has $(run_files local | wc -l) runs, not 6"

started=$("$source_dir/scripts/slurm-local.sh" start "$cluster") || fail "the local cluster did not start"
export SLURM_CONF=${started#export SLURM_CONF=}

# Submits with `annbench slurm submit`; sets array_id and merge_id.
submit() {
  local out
  out=$("$annbench" slurm submit sweep.yaml "$@") || fail "slurm submit $* failed: $out"
  array_id=$(sed -n 's/^submitted array job \([0-9]*\) .* merge job \([0-9]*\) .*/\1/p' <<< "$out")
  merge_id=$(sed -n 's/^submitted array job \([0-9]*\) .* merge job \([0-9]*\) .*/\2/p' <<< "$out")
  if [ -z "$array_id" ] || [ -z "$merge_id" ]; then fail "no job ids in: $out"; fi
}
# Waits (at most 60 s) until the jobs have left the queue and DIR/merge.txt is written.
wait_for_merge() {
  local dir=$1
  for _ in $(seq 240); do
    if [ -z "$(squeue -h -j "$array_id,$merge_id" 2> /dev/null)" ] && [ -s "$dir/merge.txt" ]; then
      return 0
    fi
    sleep 0.25
  done
  fail "no $dir/merge.txt after 60 s"
}

# 1. The whole sweep as a 2-task array.
submit --array 2 --results r1
wait_for_merge r1
diff <(run_files local) <(run_files r1) || fail "the array's run set differs from the local one"
diff <(recalls local) <(recalls r1) || fail "the array's recalls differ from the local ones"
grep -q '^missing runs: 0 ' r1/merge.txt || fail "r1/merge.txt: $(cat r1/merge.txt)"
[ -s r1/report.html ] || fail "the merge job drew no report.html"
echo "slurm_test: array of 2 tasks: $(run_files r1 | wc -l) runs, as the local run"

# 2. Task 1 never runs (its node died): held array, task 1 cancelled, the rest released.
submit --array 2 --results r2 -- --hold
scancel "${array_id}_1"
scontrol release "$array_id"
wait_for_merge r2
set +e
"$annbench" merge r2 --config sweep.yaml --no-plots > r2-merge.out 2>&1
status=$?
set -e
[ "$status" -eq 3 ] || fail "merge with runs missing exited $status, not 3: $(cat r2-merge.out)"
diff <(run_files shard1) <(sed -n '/^missing:$/,$p' r2/merge.txt | sed -n 's/^  //p' | sort) ||
  fail "merge.txt's missing runs are not shard 1's: $(cat r2/merge.txt)"
missing=$(run_files shard1 | wc -l)
finished=$(run_files r2 | wc -l)

# Submitting again measures only the missing runs.
submit --array 2 --results r2
wait_for_merge r2
grep -qx "done: 0 runs measured, $finished already finished, 0 failed" \
  "r2/slurm/logs/${array_id}_0.out" || fail "task 0 measured runs again"
grep -qx "done: $missing runs measured, 0 already finished, 0 failed" \
  "r2/slurm/logs/${array_id}_1.out" || fail "task 1 did not measure exactly the missing runs"
diff <(run_files local) <(run_files r2) || fail "after the re-submission the run set differs"
diff <(recalls local) <(recalls r2) || fail "after the re-submission the recalls differ"
grep -q '^missing runs: 0 ' r2/merge.txt || fail "r2/merge.txt: $(cat r2/merge.txt)"
echo "slurm_test: lost task: $missing runs missing, re-submitted, $(run_files r2 | wc -l) runs"
echo "slurm_test: passed in $(($(date +%s) - start_time)) s"
