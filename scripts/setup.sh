#!/usr/bin/env bash
# Sets up an axonn build on Debian bookworm: installs the Debian packages that
# are missing (MLIR/LLVM 22, CMake, Ninja, GoogleTest, ccache, Open MPI,
# OpenBLAS), then configures and builds into build/ (or $AXONN_BUILD_DIR).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AXONN_BUILD_DIR:-$ROOT/build}
LLVM=/usr/lib/llvm-22

PACKAGES=(cmake ninja-build g++ python3 ccache libgtest-dev
          libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
          libopenmpi-dev openmpi-bin libopenblas-dev python3-numpy
          libsentencepiece-dev sentencepiece graphviz)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  echo "axonn: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -G Ninja -S "$ROOT" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=Release \
  -DMLIR_DIR="$LLVM/lib/cmake/mlir" \
  -DLLVM_EXTERNAL_LIT="$LLVM/bin/lit" \
  "${launcher[@]}"
cmake --build "$BUILD"
