#!/usr/bin/env bash
# Fresh Debian machine -> dependencies, Release build, whole test suite.
#   PRESET=asan scripts/test.sh    runs the same suite under AddressSanitizer + UBSan
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${PRESET:-release}
scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" -j2
