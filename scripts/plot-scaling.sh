#!/usr/bin/env bash
# Plots a scaling table written by `axonn-opt --axonn-plan-scaling=csv=FILE`:
# predicted TFLOP/s per GPU (left axis) and scaling efficiency (right axis)
# against GPUs, strong and weak. Installs gnuplot-nox from Debian if needed.
#   scripts/plot-scaling.sh TABLE.csv OUT.png [TITLE]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 TABLE.csv OUT.png [TITLE]" >&2
  exit 2
fi
csv=$1 png=$2 title=${3:-"predicted scaling"}
[ -r "$csv" ] || { echo "$0: cannot read $csv" >&2; exit 1; }
if ! command -v gnuplot >/dev/null; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends gnuplot-nox
fi
tmp="$png.tmp.png"
gnuplot <<GNUPLOT
set terminal pngcairo size 1000,600 font "sans,11"
set output "$tmp"
set datafile separator ","
set datafile missing ""
set title "$title"
set logscale x 2
set format x "%.0f"
set xlabel "GPUs"
set ylabel "predicted TFLOP/s per GPU"
set y2label "scaling efficiency"
set ytics nomirror
set y2tics
set y2range [0:1.1]
set yrange [0:*]
set key outside bottom center horizontal
set grid
plot "$csv" using 1:4 skip 1 with linespoints lw 2 pt 7 title "strong: TFLOP/s/GPU", \
     "$csv" using 1:10 skip 1 with linespoints lw 2 pt 5 title "weak: TFLOP/s/GPU", \
     "$csv" using 1:6 skip 1 axes x1y2 with linespoints dt 2 pt 7 title "strong efficiency", \
     "$csv" using 1:12 skip 1 axes x1y2 with linespoints dt 2 pt 5 title "weak efficiency"
GNUPLOT
mv "$tmp" "$png"
echo "wrote $png"
