#!/usr/bin/env python3
"""Benchmark: the planner's predicted step times against measured ones.

    bench/planner_vs_measured.py [--build DIR] [--ranks 4] [--steps 60] [SPEC]

Calibrates this machine with `axonn-calibrate` under mpirun (collectives,
GEMMs, memory bandwidth of RANKS ranks), asks `--axonn-plan` for the
predicted step time of every grid of RANKS ranks for SPEC (default the tiny
GPT) on that machine file, compiles each grid with axonnc, runs it for
STEPS steps (one BLAS thread per rank) ROUNDS times, interleaving the
grids, and keeps the fastest median step time after warm-up. Prints the table, the Spearman rank correlation of predicted and
measured times, and whether the planner's choice is within 10% of the
fastest measured grid. Record results with machine and date in
docs/benchmarks.md.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ranks_of(values):
    """Ranks (1 = smallest), ties averaged."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(a, b):
    ra, rb = ranks_of(a), ranks_of(b)
    ma, mb = statistics.mean(ra), statistics.mean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = sum((x - ma) ** 2 for x in ra) ** 0.5
    vb = sum((y - mb) ** 2 for y in rb) ** 0.5
    return cov / (va * vb)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--ranks", type=int, default=4)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3,
                   help="runs of every grid, interleaved; the fastest median counts")
    p.add_argument("spec", nargs="?",
                   default=os.path.join(ROOT, "examples/models/tiny-gpt.json"))
    a = p.parse_args()
    bindir = os.path.join(a.build, "bin")
    mpirun = ["mpirun", "--oversubscribe"]
    if os.geteuid() == 0:
        mpirun.append("--allow-run-as-root")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as tmp:
        machine = os.path.join(tmp, "machine.json")
        subprocess.run(mpirun + ["-np", str(a.ranks), os.path.join(bindir, "axonn-calibrate"),
                                 "-o", machine, "--name", "this-machine"],
                       env=env, check=True, capture_output=True)
        ir = subprocess.run([os.path.join(bindir, "axonn-translate"),
                             "--import-model-spec", a.spec],
                            check=True, capture_output=True, text=True).stdout
        report = subprocess.run([os.path.join(bindir, "axonn-opt"),
                                 "--axonn-plan=cluster=%s gpus=%d report=true top=100"
                                 % (machine, a.ranks), "-o", os.devnull],
                                input=ir, check=True, capture_output=True, text=True).stderr
        predicted = {}
        for line in report.splitlines():
            m = re.match(r"\s*\d+\s+(\d+x\d+x\d+x\d+)\s+\S+\s+([0-9.]+)", line)
            if m:
                predicted[m.group(1)] = float(m.group(2))
        chosen = re.search(r"chosen: grid (\S+)", report).group(1)
        data = os.path.join(tmp, "data")
        subprocess.run([os.path.join(bindir, "axonn-data"), "--output", data,
                        "/usr/share/common-licenses/GPL-3", "/usr/share/common-licenses/Apache-2.0"],
                       check=True, capture_output=True)
        measured = {}
        for grid in predicted:
            subprocess.run([os.path.join(bindir, "axonnc"), a.spec, "--gpus", str(a.ranks),
                            "--cluster", machine, "--grid", grid, "-o",
                            os.path.join(tmp, "train-" + grid)], check=True)
        # Rounds over all grids in turn, so that a slow spell of the machine
        # does not land on one grid only.
        for _ in range(a.rounds):
            for grid in predicted:
                metrics = os.path.join(tmp, grid + ".jsonl")
                if os.path.exists(metrics):
                    os.remove(metrics)
                subprocess.run(mpirun + ["-np", str(a.ranks), os.path.join(tmp, "train-" + grid),
                                         "--data", data, "--steps", str(a.steps), "--log-every",
                                         str(a.steps), "--metrics", metrics],
                               env=env, check=True, capture_output=True)
                with open(metrics) as f:
                    seconds = [json.loads(line)["seconds"] for line in f]
                median = statistics.median(seconds[5:]) * 1e3
                measured[grid] = min(measured.get(grid, median), median)
    grids = sorted(predicted, key=lambda g: measured[g])
    best = grids[0]
    print("%s on %d ranks of this machine (calibrated): %d grids" %
          (os.path.basename(a.spec), a.ranks, len(grids)))
    print("%-10s %14s %14s" % ("grid", "predicted ms", "measured ms"))
    for g in grids:
        print("%-10s %14.3f %14.3f%s" % (g, predicted[g], measured[g],
                                         "  <- chosen" if g == chosen else ""))
    rho = spearman([predicted[g] for g in grids], [measured[g] for g in grids])
    gap = measured[chosen] / measured[best] - 1
    print("Spearman rank correlation of predicted and measured step time: %.2f" % rho)
    print("chosen %s measures %.3f ms, %.1f%% slower than the fastest, %s (%.3f ms): %s"
          % (chosen, measured[chosen], 100 * gap, best, measured[best],
             "within 10%" if gap <= 0.10 else "NOT within 10%"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
