#!/usr/bin/env bash
# The main job: set everything up, compile the tiny GPT for 4 ranks with
# axonnc (the planner picks the grid on a 4-GPU Perlmutter node description),
# tokenize text that ships with Debian, train it under mpirun (the loss falls
# from ln(256) = 5.55 to about 2.3), write a checkpoint in safetensors and
# print a sample the model generates.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AXONN_BUILD_DIR:-$ROOT/build}
"$ROOT/scripts/setup.sh"

WORK="$BUILD/demo"
mkdir -p "$WORK"
MPIRUN=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
export OPENBLAS_NUM_THREADS=1
set -x
"$BUILD/bin/axonn-data" --output "$WORK/data" /usr/share/common-licenses/*
"$BUILD/bin/axonnc" "$ROOT/examples/models/tiny-gpt.json" --gpus 4 \
    --cluster perlmutter -o "$WORK/train" --keep-ir "$WORK/ir"
rm -rf "$WORK/checkpoints"
"${MPIRUN[@]}" -np 4 "$WORK/train" --data "$WORK/data" --steps 1000 \
    --log-every 100 --val-every 250 --checkpoint-dir "$WORK/checkpoints" \
    --generate 300 --prompt "You may" --temperature 0.7
