#!/usr/bin/env bash
# Fuzzes the model-spec importer with libFuzzer for SECONDS (default 300).
# Builds axonn with clang-22 + AddressSanitizer into build-fuzz/ (installing
# clang-22 and its runtime from Debian if missing), seeds the corpus with the
# example specs and every malformed spec of the test suite, and runs
# axonn-spec-fuzzer. A crash leaves its input in build-fuzz/ (crash-*).
set -euo pipefail

SECONDS_TO_RUN=${1:-300}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AXONN_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
LLVM=/usr/lib/llvm-22

missing=()
for package in clang-22 libclang-rt-22-dev; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
"$ROOT/scripts/setup.sh" >/dev/null  # the normal build provides split-file checks and the rest

cmake -G Ninja -S "$ROOT" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$LLVM/bin/clang" -DCMAKE_CXX_COMPILER="$LLVM/bin/clang++" \
  -DMLIR_DIR="$LLVM/lib/cmake/mlir" -DLLVM_EXTERNAL_LIT="$LLVM/bin/lit" \
  -DAXONN_ENABLE_FUZZER=ON -DAXONN_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" --target axonn-spec-fuzzer

corpus="$BUILD/corpus"
rm -rf "$BUILD/seeds" && mkdir -p "$corpus" "$BUILD/seeds"
cp "$ROOT"/examples/models/*.json "$ROOT"/examples/clusters/*.json "$BUILD/seeds/"
"$LLVM/bin/split-file" "$ROOT/test/Target/ModelSpec/errors.test" "$BUILD/seeds/errors"
find "$BUILD/seeds/errors" -name '*.json' -exec cp {} "$corpus/" \;

cd "$BUILD"
./bin/axonn-spec-fuzzer "$corpus" "$BUILD/seeds" \
  -dict="$ROOT/fuzz/spec.dict" -max_total_time="$SECONDS_TO_RUN" \
  -max_len=8192 -rss_limit_mb=4096 -timeout=30 -print_final_stats=1
