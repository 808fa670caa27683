#!/usr/bin/env bash
# Redraws the pictures of docs/pictures/ from the IR (needs graphviz):
#   docs/pictures/make.sh
# tiny-gpt-layer1.svg: layer 1 of the tiny GPT's per-rank training step on
# grid 2x2x2x2 (perlmutter), after the whole training pipeline;
# grid-2x2x2x2.svg: its 16 ranks on 4 nodes, the x/y/z/data groups as rings.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${AXONN_BUILD_DIR:-$ROOT/build}/bin
OUT=$ROOT/docs/pictures
step=$(mktemp)
trap 'rm -f "$step"' EXIT
"$BIN/axonn-translate" --import-model-spec "$ROOT/examples/models/tiny-gpt.json" \
  | "$BIN/axonn-opt" --axonn-training-pipeline="cluster=perlmutter gpus=16 grid=2x2x2x2" -o "$step"
"$BIN/axonn-opt" "$step" --axonn-print-graph=layer=1 -o /dev/null | dot -Tsvg -o "$OUT/tiny-gpt-layer1.svg"
"$BIN/axonn-opt" "$step" --axonn-print-graph=what=grid -o /dev/null | dot -Tsvg -o "$OUT/grid-2x2x2x2.svg"
ls -la "$OUT"/*.svg
