#!/usr/bin/env bash
# Installs, from Debian's packages, exactly what annbench's build, tests, demo and plots need.
# Peer libraries (faiss, hnswlib, FLANN) are installed too so that peer modules can be built.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git curl ca-certificates
  libhdf5-dev zlib1g-dev libyaml-cpp-dev libfmt-dev libomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-matplotlib python3-numpy python3-h5py
  dataset-fashion-mnist
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
