#!/usr/bin/env bash
# Sets everything up, then runs the whole test suite: the lit tests (with
# their summary) and the unit tests (with ctest's summary).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AXONN_BUILD_DIR:-$ROOT/build}
"$ROOT/scripts/setup.sh"

# The dialect and pass reference generated from ODS must build too.
cmake --build "$BUILD" --target mlir-doc

status=0
/usr/lib/llvm-22/bin/lit -sv "$BUILD/test" || status=1
# ctest also holds the lit suite (label "lit"); it just ran above.
ctest --test-dir "$BUILD" --label-exclude lit --output-on-failure || status=1
exit $status
