#!/usr/bin/env bash
# Fresh Debian machine -> dependencies, build, fashion-mnist-784-euclidean dataset, demo sweep,
# results under results/ and recall-QPS plots under results/plots/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
annbench=build/release/bin/annbench
"$annbench" dataset prepare fashion-mnist-784-euclidean
"$annbench" run configs/demo.yaml "$@"
"$annbench" plot results --out results/plots --all-metrics
