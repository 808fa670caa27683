#!/usr/bin/env bash
# The main job: set everything up, import the GPT-2 124M spec into axonn IR,
# print the IR and the model's statistics.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AXONN_BUILD_DIR:-$ROOT/build}
"$ROOT/scripts/setup.sh"

SPEC="$ROOT/examples/models/gpt2-124m.json"
IR="$BUILD/gpt2-124m.mlir"
set -x
"$BUILD/bin/axonn-translate" --import-model-spec "$SPEC" -o "$IR"
cat "$IR"
"$BUILD/bin/axonn-opt" "$IR" --axonn-print-model-stats -o /dev/null
