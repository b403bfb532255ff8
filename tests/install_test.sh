#!/usr/bin/env bash
# The installed package as a module author uses it: installs BUILD into a temporary prefix (then
# moves the prefix, as a relocated install), builds algorithms/TEMPLATE out of tree against it
# with find_package(annbench), and runs the installed annbench with ANNBENCH_PLUGIN_PATH on that
# module: `annbench modules` lists it beside the installed modules, a tiny sweep finds every true
# neighbour, and the Python scripts run from the installed share/annbench.
#   usage: [CMAKE=cmake] tests/install_test.sh BUILD_DIR SOURCE_DIR [CXX_COMPILER]
set -euo pipefail
build=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
compiler=${3:-c++}
cmake=${CMAKE:-cmake}

work=$(mktemp -d "${TMPDIR:-/tmp}/annbench-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() {
  echo "install_test: $*" >&2
  exit 1
}

"$cmake" --install "$build" --prefix "$work/staged" > "$work/install.log" ||
  { cat "$work/install.log"; fail "cmake --install failed"; }
mv "$work/staged" "$work/prefix"
prefix=$work/prefix
for file in bin/annbench lib/libannbench_common.a include/annbench/module.h \
            include/annbench/common/index_file.h lib/cmake/annbench/annbenchConfig.cmake \
            lib/cmake/annbench/annbenchConfigVersion.cmake share/annbench/plots/plot.py \
            lib/annbench/modules/libannbench_bruteforce.so; do
  [ -e "$prefix/$file" ] || fail "the install lacks $file"
done
[ -z "$(find "$prefix" -name 'libannbench_fixture_*')" ] || fail "test fixture modules were installed"

# The module, built the way its CMakeLists.txt tells module authors to (ccache when available,
# since the test runs with every ctest).
launcher=()
if command -v ccache > /dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
"$cmake" -S "$source_dir/algorithms/TEMPLATE" -B "$work/template" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CXX_COMPILER="$compiler" "${launcher[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
      > "$work/configure.log" 2>&1 || { cat "$work/configure.log"; fail "configuring TEMPLATE failed"; }
"$cmake" --build "$work/template" > "$work/build.log" 2>&1 ||
  { cat "$work/build.log"; fail "building TEMPLATE failed"; }
[ -f "$work/template/modules/libannbench_template-flat.so" ] || fail "no libannbench_template-flat.so"

annbench() { (cd "$work" && ANNBENCH_PLUGIN_PATH="$work/template/modules" "$prefix/bin/annbench" "$@"); }

modules=$(annbench modules) || { echo "$modules"; fail "annbench modules failed"; }
grep -q "^module directories: $prefix/lib/annbench/modules $work/template/modules\$" <<< "$modules" ||
  { echo "$modules"; fail "the installed binary does not search its own and the plugin path's modules"; }
grep -q "^template-flat " <<< "$modules" || { echo "$modules"; fail "template-flat is not listed"; }
grep -q "^bruteforce " <<< "$modules" || { echo "$modules"; fail "bruteforce is not listed"; }

for metric in euclidean angular; do
  annbench dataset synthetic --n 300 --queries 20 --dim 8 --metric "$metric" --out "$metric.hdf5" \
    > /dev/null
done
cat > "$work/sweep.yaml" <<'YAML'
datasets: [euclidean.hdf5, angular.hdf5]
k: 10
runs: 1
algorithms:
  - module: template-flat
    build: {copy_base: [true, false]}
YAML
output=$(annbench run sweep.yaml --results results 2>&1) || { echo "$output"; fail "the sweep failed"; }
# Every summary row (2 datasets x 2 builds) has recall 1.
python3 - "$work/results" << 'PY' || fail "template-flat missed true neighbours"
import csv, pathlib, sys
rows = [row for path in pathlib.Path(sys.argv[1]).rglob("summary.csv")
        for row in csv.DictReader(open(path))]
print(f"install_test: {len(rows)} runs, recall", sorted({row["recall"] for row in rows}))
sys.exit(0 if len(rows) == 4 and all(float(row["recall"]) == 1.0 for row in rows) else 1)
PY

# Filtered search out of tree: the template scans the allowed rows, so recall is 1 in every band.
annbench dataset tags euclidean.hdf5 --selectivities 0.05,0.5 --tags 50 > /dev/null ||
  fail "dataset tags failed"
cat > "$work/filtered.yaml" <<'YAML'
datasets: [euclidean.hdf5]
mode: filtered
selectivities: [0.05, 0.5]
k: 10
runs: 1
algorithms:
  - module: template-flat
YAML
output=$(annbench run filtered.yaml --results filtered 2>&1) ||
  { echo "$output"; fail "the filtered sweep failed"; }
python3 - "$work/filtered" << 'PY' || fail "template-flat missed allowed neighbours"
import csv, pathlib, sys
rows = [row for path in pathlib.Path(sys.argv[1]).rglob("summary.csv")
        for row in csv.DictReader(open(path))]
print(f"install_test: {len(rows)} filtered runs, recall", sorted({row["recall"] for row in rows}))
sys.exit(0 if len(rows) == 2 and all(row["status"] == "ok" and float(row["recall"]) == 1.0
                                      for row in rows) else 1)
PY

# The Python scripts come from the installed share/annbench: a stand-in interpreter reports
# which script it was given.
printf '#!/bin/sh\necho "script: $1"\n' > "$work/python"
chmod +x "$work/python"
script=$(ANNBENCH_PYTHON="$work/python" annbench export results) || fail "annbench export failed"
[ "$script" = "script: $prefix/share/annbench/plots/export.py" ] ||
  fail "annbench export ran '$script', not the installed plots/export.py"
echo "install_test: ok"
