#!/usr/bin/env bash
# Builds the libFuzzer targets (the `fuzz` CMake preset, clang + ASan + UBSan) and runs each for
# SECONDS (default 60), one at a time, starting from the committed seeds in tests/fuzz/corpus/.
# New corpus entries go to build/fuzz/corpus/<target>/ (the committed seeds stay untouched);
# crash, leak, timeout and OOM inputs go to build/fuzz/artifacts/. See tests/fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   e.g. scripts/fuzz.sh 600 fuzz_config
#   scripts/fuzz.sh --seeds                 regenerate the committed seeds (fuzz_make_seeds)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build/fuzz"
seeds="$root/tests/fuzz/corpus"

cmake --preset fuzz -S "$root" >/dev/null
cmake --build "$build" -j2 --target annbench_fuzzers

if [[ "${1:-}" == "--seeds" ]]; then
  "$build/bin/fuzz_make_seeds" "$seeds"
  exit 0
fi

seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(fuzz_hdf5_dataset fuzz_idx fuzz_vecs fuzz_npy fuzz_config)

# Inputs larger than the formats need only slow the fuzzer down: an HDF5 seed is ~9 KB.
max_len_for() {
  case "$1" in
    fuzz_hdf5_dataset) echo 16384 ;;
    fuzz_config) echo 4096 ;;
    *) echo 2048 ;;
  esac
}

# libhdf5 (not ours, not instrumented) hangs or crashes on some corrupt files (tests/fuzz/README.md,
# "Findings in libhdf5"). Fork mode keeps fuzzing past them; every such input still lands in
# build/fuzz/artifacts/ and is counted below, so a finding in our own code cannot go unseen.
extra_flags_for() {
  case "$1" in
    fuzz_hdf5_dataset) echo -fork=1 -ignore_timeouts=1 -ignore_crashes=1 ;;
    *) ;;
  esac
}

mkdir -p "$build/artifacts" "$build/logs"
status=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  mkdir -p "$corpus"
  log="$build/logs/$target.log"
  artifacts_before=$(find "$build/artifacts" -name "$target-*" -type f | wc -l)
  echo "== $target: ${seconds}s, log $log"
  # leak detection stays on (ASan's default); -timeout flags a single input taking > 10 s.
  if ! "$build/bin/$target" "$corpus" "$seeds/$target" \
      -max_total_time="$seconds" -max_len="$(max_len_for "$target")" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$build/artifacts/$target-" \
      $(extra_flags_for "$target") >"$log" 2>&1; then
    echo "   FAILED: see $log and $build/artifacts/"
    status=1
  fi
  # Fork mode prints no final stats; its last progress line carries the execution count.
  grep -E '^stat::number_of_executed_units|^stat::new_units_added|^stat::peak_rss_mb' "$log" |
    sed 's/^/   /' || grep -E '^#[0-9]+: cov' "$log" | tail -1 | sed 's/^/   /' || true
  echo "   corpus: $(find "$corpus" -type f | wc -l) files"
  artifacts_after=$(find "$build/artifacts" -name "$target-*" -type f | wc -l)
  echo "   new artifacts: $((artifacts_after - artifacts_before))"
done
exit $status
