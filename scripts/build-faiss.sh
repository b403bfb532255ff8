#!/usr/bin/env bash
# Builds faiss for this machine's CPU from Debian's own source package (the version of the
# installed libfaiss-dev) and installs it under the cache's prefix, where the faiss-* peer modules
# find it (algorithms/peers/faiss/CMakeLists.txt, ANNBENCH_FAISS_ROOT). Debian's libfaiss is a
# generic x86-64 build without AVX2 kernels, which would make every comparison with faiss unfair.
#
#   scripts/build-faiss.sh          # about 7 minutes on 2 cores; a rerun with the same inputs
#                                   # (source version, flags, compiler, CPU flags) does nothing
#   ANNBENCH_FAISS_CACHE=DIR        # cache folder (default /var/cache/annbench/faiss)
#   ANNBENCH_FAISS_JOBS=N           # parallel compile jobs (default 2)
#
# The library is static (libfaiss.a, position-independent), as Debian's is: each module carries
# the faiss code it uses, so the modules need no run-time path to the cache folder and load the
# same way whether they were built against Debian's faiss or this one.
set -euo pipefail

cache=${ANNBENCH_FAISS_CACHE:-/var/cache/annbench/faiss}
jobs=${ANNBENCH_FAISS_JOBS:-2}
prefix="$cache/prefix"
stamp="$prefix/annbench-faiss.stamp"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

die() {
  echo "build-faiss: error: $*" >&2
  exit 1
}

# The source version of the installed binary package (a binNMU such as 1.7.3-2+b1 is built from
# source 1.7.3-2).
source_version=$(dpkg-query -W -f='${source:Version}' libfaiss-dev 2>/dev/null) ||
  die "libfaiss-dev is not installed (run scripts/install-deps.sh first)"
[ -n "$source_version" ] || die "cannot read the source version of libfaiss-dev"
upstream_version=${source_version#*:}
upstream_version=${upstream_version%-*}

# faiss 1.7.3 knows FAISS_OPT_LEVEL generic and avx2 (no avx512). avx2 would build the library twice (libfaiss and libfaiss_avx2, the second with
# -mavx2 -mfma -mf16c -mpopcnt). With -march=native the generic target already gets every
# instruction set of this CPU and faiss's `#ifdef __AVX2__` kernels, so one library is enough and
# the build takes half the time; faiss::get_compile_options() reports what it got.
cmake_flags=(
  -DCMAKE_BUILD_TYPE=Release
  "-DCMAKE_CXX_FLAGS=-march=native"
  -DFAISS_OPT_LEVEL=generic
  -DFAISS_ENABLE_GPU=OFF
  -DFAISS_ENABLE_PYTHON=OFF
  -DFAISS_ENABLE_C_API=OFF
  -DBUILD_TESTING=OFF
  -DBUILD_SHARED_LIBS=OFF
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBLA_VENDOR=OpenBLAS
)
cpu_flags=$(grep -m 1 '^flags' /proc/cpuinfo | sed 's/^flags[[:space:]]*:[[:space:]]*//')
compiler=$(g++ --version 2>/dev/null | head -n 1 || echo "g++ missing")
wanted=$(printf 'source: faiss %s\nflags: %s\ncompiler: %s\ncpu flags: %s\n' \
  "$source_version" "${cmake_flags[*]}" "$compiler" "$cpu_flags")

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] &&
   [ -f "$prefix/lib/libfaiss.a" ] && [ -f "$prefix/lib/cmake/faiss/faiss-config.cmake" ]; then
  echo "build-faiss: faiss: cache current (faiss $source_version in $prefix)"
  exit 0
fi

start=$(date +%s)

# What the build needs: apt-get source (dpkg-dev), the compiler, CMake, Ninja, and OpenBLAS for
# BLAS and LAPACK. No CUDA, no Python, no test framework.
build_deps=(dpkg-dev g++ cmake ninja-build libopenblas-dev)
missing=()
for package in "${build_deps[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-faiss: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" || die "could not install ${missing[*]}"
fi

# Source lists: when apt knows no faiss source of that version, add deb-src entries mirroring the
# binary ones for this release (same mirror, suite, components and key), then refresh the lists.
has_source() {
  apt-cache showsrc faiss 2>/dev/null | grep -qx "Version: $source_version"
}
# deb-src entries that are there but not yet fetched need only a refresh.
if ! has_source && grep -Eqs '^(Types:.*[[:space:]]deb-src([[:space:]]|$)|deb-src[[:space:]])' \
  /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
  "${sudo_cmd[@]}" apt-get update -qq || die "apt-get update failed"
fi
if ! has_source; then
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release: cannot choose a deb-src suite"
  entry=""
  target=""
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    # Each deb822 stanza (paragraph) with Types deb and this suite, as Types deb-src, Suites
    # the release only; comments dropped.
    entry=$(awk -v suite="$codename" 'BEGIN { RS = ""; ORS = "\n\n" }
      $0 ~ /(^|\n)Types:[^\n]*[[:space:]]deb([[:space:]]|$)/ &&
      $0 ~ ("(^|\\n)Suites:[^\\n]*[[:space:]]" suite "([[:space:]]|\\n|$)") {
        out = ""
        n = split($0, lines, "\n")
        for (i = 1; i <= n; i++) {
          if (lines[i] ~ /^#/) continue
          if (lines[i] ~ /^Types:/) lines[i] = "Types: deb-src"
          else if (lines[i] ~ /^Suites:/) lines[i] = "Suites: " suite
          out = out lines[i] "\n"
        }
        printf "%s\n", out
      }' "$file")
    if [ -n "$entry" ]; then
      target=/etc/apt/sources.list.d/annbench-deb-src.sources
      break
    fi
  done
  if [ -z "$entry" ] && [ -f /etc/apt/sources.list ]; then
    # One-line format: "deb [options] URI SUITE COMPONENTS...".
    entry=$(awk -v suite="$codename" '$1 == "deb" {
        i = 2
        if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == suite) { sub(/^deb/, "deb-src"); print }
      }' /etc/apt/sources.list)
    [ -n "$entry" ] && target=/etc/apt/sources.list.d/annbench-deb-src.list
  fi
  [ -n "$entry" ] ||
    die "no apt source for suite '$codename' to mirror as deb-src: add a deb-src entry for it by hand"
  echo "build-faiss: adding deb-src entries for $codename in $target"
  printf '%s\n' "$entry" | "${sudo_cmd[@]}" tee "$target" >/dev/null
  "${sudo_cmd[@]}" apt-get update -qq || die "apt-get update failed after adding $target"
  has_source ||
    die "apt knows no source package faiss $source_version even with deb-src entries ($target)"
fi

# The source tree, Debian's patches applied (dpkg-source -x through apt-get source). A tree from
# an older version is replaced.
src_root="$cache/src"
src_dir="$src_root/faiss-$upstream_version"
if [ ! -f "$src_root/faiss_$source_version.dsc" ] || [ ! -f "$src_dir/CMakeLists.txt" ]; then
  echo "build-faiss: downloading the source of faiss $source_version into $src_root"
  "${sudo_cmd[@]}" rm -rf "$src_root"
  "${sudo_cmd[@]}" mkdir -p "$src_root"
  (cd "$src_root" && "${sudo_cmd[@]}" apt-get source -qq "faiss=$source_version") ||
    die "apt-get source faiss=$source_version failed (network, or the mirror no longer has it)"
  [ -f "$src_dir/CMakeLists.txt" ] || die "no $src_dir/CMakeLists.txt after apt-get source"
fi

# Only the library itself is built: the default target would also build faiss's demos and
# tutorials. Ninja keeps finished objects, so an interrupted build resumes.
build_dir="$cache/build"
"${sudo_cmd[@]}" mkdir -p "$build_dir"
"${sudo_cmd[@]}" cmake -S "$src_dir" -B "$build_dir" -G Ninja "-DCMAKE_INSTALL_PREFIX=$prefix" \
  "${cmake_flags[@]}" >"$cache/configure.log" 2>&1 ||
  die "configuring faiss failed, see $cache/configure.log"
echo "build-faiss: compiling faiss $source_version with ${cmake_flags[*]} ($jobs jobs)"
"${sudo_cmd[@]}" cmake --build "$build_dir" --target faiss -j "$jobs" >"$cache/build.log" 2>&1 ||
  die "compiling faiss failed, see $cache/build.log"
# A fresh prefix: nothing left from an install of other flags or another version.
"${sudo_cmd[@]}" rm -rf "$prefix"
"${sudo_cmd[@]}" cmake --install "$build_dir" >"$cache/install.log" 2>&1 ||
  die "installing faiss into $prefix failed, see $cache/install.log"
printf '%s\n' "$wanted" | "${sudo_cmd[@]}" tee "$stamp" >/dev/null

elapsed=$(($(date +%s) - start))
printf 'build-faiss: faiss %s installed in %s (build time %dm%02ds)\n' \
  "$source_version" "$prefix" $((elapsed / 60)) $((elapsed % 60))
