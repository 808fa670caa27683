#!/usr/bin/env bash
# The memorization experiment (issue 6): a 4-layer byte-level GPT trained
# on Debian's license texts with 16 "canary" documents of random words
# mixed in (40 copies each), once with the standard loss and once with the
# Goldfish loss (k = 4, h = 13); then the memorization audit of the canaries
# (prompt with all but the last 50 bytes, greedy-decode 50) and the
# validation loss on held-out license text. Results: a table on stdout and
# $OUT/results.md; figures in docs/memorization.md.
#
#   examples/memorization/run.sh [OUT]      (default build/memorization)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${AXONN_BUILD_DIR:-$ROOT/build}
OUT=${1:-$BUILD/memorization}
"$ROOT/scripts/setup.sh" > /dev/null

MPIRUN=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
export OPENBLAS_NUM_THREADS=1
started=$(date +%s)

rm -rf "$OUT" && mkdir -p "$OUT/data"
python3 "$HERE/make_data.py" "$OUT"
"$BUILD/bin/axonn-data" --output "$OUT/train" --val-fraction 0 "$OUT/train.txt" > /dev/null
"$BUILD/bin/axonn-data" --output "$OUT/val" --val-fraction 0 "$OUT/val.txt" > /dev/null
cp "$OUT/train/train.bin" "$OUT/data/train.bin"
cp "$OUT/val/train.bin" "$OUT/data/val.bin"

for loss in standard goldfish; do
  "$BUILD/bin/axonnc" "$HERE/$loss.json" --gpus 2 --cluster perlmutter \
      --grid 1x1x1x2 -o "$OUT/$loss"
  echo "== training with the $loss loss (2 ranks, data parallel)"
  "${MPIRUN[@]}" -np 2 "$OUT/$loss" --data "$OUT/data" --log-every 250 \
      --val-every 500 --val-batches 8 --metrics "$OUT/$loss.jsonl" \
      --checkpoint-dir "$OUT/$loss-checkpoints" \
      --audit "$OUT/canaries" --audit-json "$OUT/$loss-audit.json" \
      | tee "$OUT/$loss.log"
done

python3 - "$OUT" "$(( $(date +%s) - started ))" <<'PY'
import json, sys
out, seconds = sys.argv[1], int(sys.argv[2])
rows = []
for loss in ("standard", "goldfish"):
    audit = json.load(open("%s/%s-audit.json" % (out, loss)))
    val = [json.loads(l)["val_loss"] for l in open("%s/%s.jsonl" % (out, loss))
           if "val_loss" in l][-1]
    rows.append((loss, audit["exact_match_rate"], audit["mean_match"],
                 audit["mean_rouge_l"], val))
s, g = rows
lines = ["| loss | canaries reproduced exactly | mean matching fraction | mean ROUGE-L | validation loss |",
         "|---|---|---|---|---|"]
for r in rows:
    lines.append("| %s | %.3f | %.3f | %.3f | %.4f |" % r)
checks = [
    ("standard loss memorizes (exact-match rate >= 0.5)", s[1] >= 0.5),
    ("Goldfish exact-match rate <= a tenth of the standard's", g[1] <= s[1] / 10),
    ("validation losses within 5%", abs(g[4] - s[4]) / s[4] < 0.05),
]
text = "\n".join(lines) + "\n\n" + "\n".join(
    "- %s: %s" % (what, "yes" if ok else "NO") for what, ok in checks) + \
    "\n- validation loss difference: %.2f%%\n- wall time: %d s\n" % (
        100 * (g[4] - s[4]) / s[4], seconds)
open("%s/results.md" % out, "w").write(text)
print(text)
PY
