#!/usr/bin/env bash
# The regression gate: runs configs/ci.yaml and compares it with results/baselines/ci.json.
#   scripts/ci-gate.sh                      check (exit 1 on a regression)
#   scripts/ci-gate.sh --update-baseline    rewrite the baseline from this machine's run
# Extra arguments go to `annbench check` (e.g. --qps-tolerance 0.15).
set -euo pipefail
cd "$(dirname "$0")/.."
annbench=${ANNBENCH:-build/release/bin/annbench}
results=${CI_RESULTS:-build/ci-results}

"$annbench" dataset prepare random-xs-20-euclidean >/dev/null
[ -f data/fashion-mnist-784-euclidean.hdf5 ] || "$annbench" dataset prepare fashion-mnist-784-euclidean
[ -f data/fashion-mnist-784-euclidean-10k.hdf5 ] ||
  "$annbench" dataset slice fashion-mnist-784-euclidean --train 10000 --queries 200 \
    --out data/fashion-mnist-784-euclidean-10k.hdf5
rm -rf "$results"
"$annbench" run configs/ci.yaml --results "$results" --quiet
if [ "${1:-}" = "--update-baseline" ]; then
  exec "$annbench" check "$results" --baseline results/baselines/ci.json --update-baseline
fi
# Recall and distance counts are deterministic (single-threaded, seeded builds) and gated at the
# defaults on any machine. QPS relative to brute force is enforced only on the CPU the baseline
# was recorded on (elsewhere it is reported): it moved by up to ±60 % between identical runs on
# this project's shared 2-core machines, so here it only catches collapses; a quiet dedicated
# runner can use the default 15 %. Speed across commits: `annbench check --ab BASE_REF`
# (docs/ci-gate.md).
exec "$annbench" check "$results" --baseline results/baselines/ci.json --qps-tolerance 0.6 "$@"
