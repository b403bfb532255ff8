#!/usr/bin/env bash
# clang-tidy (the checks in .clang-tidy) over annbench's own C++: every source file of the
# given folders that the build compiles (its compile_commands.json), and the headers of those
# folders they include. Tests, the fuzz targets and CUDA sources are left out. Exit status 1 on
# any finding (or any file that does not parse), with the findings printed.
#   scripts/clang-tidy.sh [--build DIR] [--paths "harness algorithms"] [--jobs N]
#     --build  a configured build folder (default build/release; cmake --preset release)
#     --paths  folders, relative to the repository, to check (default: harness algorithms)
#     --jobs   files checked at once (default 2)
#     --changed-since REF  only the sources changed since git revision REF; all of them when a
#              header under the folders, .clang-tidy or this script changed (a header's
#              findings show through every file including it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/release
paths="harness algorithms"
jobs=2
changed_since=
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --paths) paths=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --changed-since) changed_since=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "clang-tidy.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [ -z "$tidy" ]; then
  echo "clang-tidy.sh: clang-tidy is not installed (scripts/install-deps.sh installs it)" >&2
  exit 2
fi
if [ ! -f "$build/compile_commands.json" ]; then
  echo "clang-tidy.sh: no $build/compile_commands.json; configure first (cmake --preset release)" >&2
  exit 2
fi

# The folders as one alternation, for the file list and for the header filter.
alternation=$(tr -s ' ' '\n' <<< "$paths" | sed 's|/*$||' | grep -v '^$' | paste -sd '|')
[ -n "$alternation" ] || { echo "clang-tidy.sh: --paths is empty" >&2; exit 2; }
files=$(python3 - "$build/compile_commands.json" "$root" "$alternation" << 'PY'
import json, os, re, sys
commands, root, alternation = sys.argv[1], sys.argv[2], sys.argv[3]
wanted = re.compile(rf"^{re.escape(root)}/({alternation})/")
files = set()
for entry in json.load(open(commands)):
    path = os.path.normpath(os.path.join(entry["directory"], entry["file"]))
    if wanted.match(path) and path.endswith(".cpp") and os.path.exists(path):
        files.add(path)
print("\n".join(sorted(files)))
PY
)
[ -n "$files" ] || { echo "clang-tidy.sh: no compiled sources under: $paths" >&2; exit 2; }
if [ -n "$changed_since" ]; then
  # shellcheck disable=SC2086  # $paths is a list of folders
  changed=$(git -C "$root" diff --name-only "$changed_since" -- $paths .clang-tidy scripts/clang-tidy.sh) ||
    { echo "clang-tidy.sh: cannot diff against '$changed_since'" >&2; exit 2; }
  if grep -qE '\.(h|hpp)$|^\.clang-tidy$|^scripts/clang-tidy\.sh$' <<< "$changed"; then
    echo "clang-tidy.sh: a header or the checks changed since $changed_since: every file"
  else
    files=$(grep -Fxf <(sed "s|^|$root/|" <<< "$changed") <<< "$files" || true)
    if [ -z "$files" ]; then
      echo "clang-tidy.sh: no source under $paths changed since $changed_since"
      exit 0
    fi
  fi
fi
count=$(wc -l <<< "$files")

out=$(mktemp -d "${TMPDIR:-/tmp}/annbench-tidy.XXXXXX")
trap 'rm -rf "$out"' EXIT
echo "clang-tidy.sh: $count files under $paths with $(basename "$tidy"), $jobs at a time"
start=$SECONDS
# One log per file, so that parallel runs do not interleave their findings; a failing file
# leaves a .failed marker.
export tidy build root alternation out
xargs -P "$jobs" -I{} bash -c '
  log="$out/$(tr / _ <<< "$1").log"
  # g++-only warning flags in the compile commands (-Wno-maybe-uninitialized) are unknown to clang.
  "$tidy" -p "$build" --quiet --header-filter="^$root/($alternation)/" \
    --extra-arg=-Wno-unknown-warning-option "$1" > "$log" 2>&1 ||
    touch "$log.failed"' _ {} <<< "$files" || true

failed=$(find "$out" -name '*.failed' | wc -l)
if [ "$failed" -gt 0 ]; then
  # The findings only, each once (a header's finding shows up in every file including it).
  cat "$out"/*.log | grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' |
    grep -v -E '^Suppressed [0-9]+ warnings|^Use -header-filter|^Error while processing' |
    awk '/^\// { seen_block = ($0 in seen); seen[$0] = 1 } !seen_block' || true
  echo "clang-tidy.sh: findings in $failed of $count files ($((SECONDS - start)) s)" >&2
  exit 1
fi
echo "clang-tidy.sh: no findings in $count files ($((SECONDS - start)) s)"
