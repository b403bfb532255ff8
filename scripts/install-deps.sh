#!/usr/bin/env bash
# Installs, from Debian's packages, exactly what annbench's build, tests, clang-tidy check, demo and
# plots need.
# Peer libraries (faiss, hnswlib, FLANN, scikit-learn) are installed too so that peer modules
# can be built; Annoy's headers are extracted from r-cran-rcppannoy without installing R.
# libopenblas0-pthread: the BLAS faiss calls (k-means, batches of queries). Debian then points
# libblas.so.3 and liblapack.so.3 at OpenBLAS instead of the reference BLAS, and
# scripts/build-faiss.sh's native faiss links OpenBLAS itself.
# Slurm, munge and OpenMPI are the scale-out engines: the tests start a one-node Slurm and run
# mpirun themselves, no service is configured here.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git curl ca-certificates
  libhdf5-dev zlib1g-dev libyaml-cpp-dev libfmt-dev libomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-matplotlib python3-numpy python3-h5py python3-torch
  dataset-fashion-mnist
  libfaiss-dev libhnswlib-dev libflann-dev liblz4-dev python3-sklearn
  libopenblas0-pthread
  clang-tidy
  slurm-wlm munge openmpi-bin libopenmpi-dev
)

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
else
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Annoy (header-only) ships in Debian only inside R's RcppAnnoy package. Download that .deb and
# unpack it into a cache instead of installing R; CMake's ANNBENCH_ANNOY_INCLUDE_DIR defaults to
# the folder below. Skipped once the headers are there; a failure only skips the annoy-ref module.
annoy_cache=${ANNBENCH_ANNOY_CACHE:-/var/cache/annbench}
annoy_include="$annoy_cache/rcppannoy/usr/lib/R/site-library/RcppAnnoy/include"
if [ ! -f "$annoy_include/annoylib.h" ]; then
  echo "install-deps: extracting Annoy's headers from r-cran-rcppannoy into $annoy_cache"
  "${sudo_cmd[@]}" mkdir -p "$annoy_cache"
  # apt-get download needs current package lists: refresh them once if the first try fails.
  if { (cd "$annoy_cache" && "${sudo_cmd[@]}" apt-get download -qq r-cran-rcppannoy 2>/dev/null) ||
       { "${sudo_cmd[@]}" apt-get update -qq &&
         (cd "$annoy_cache" && "${sudo_cmd[@]}" apt-get download -qq r-cran-rcppannoy); }; } &&
     "${sudo_cmd[@]}" dpkg-deb -x "$(ls -t "$annoy_cache"/r-cran-rcppannoy_*.deb | head -n 1)" \
       "$annoy_cache/rcppannoy"; then
    echo "install-deps: Annoy headers in $annoy_include"
  else
    echo "install-deps: could not fetch r-cran-rcppannoy; the annoy-ref module will be skipped" >&2
  fi
fi
