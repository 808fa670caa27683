#!/usr/bin/env python3
"""Benchmark: the --axonn-plan grid search.

    bench/plan.py [--runs N] [--build DIR] [--cluster NAME] [--gpus G] [SPEC]

Imports SPEC (default examples/models/gpt-175b.json), then runs
`axonn-opt --axonn-plan="cluster=NAME gpus=G report=true"` N times (default
10; cluster frontier, 32768 GPUs by default) and prints the number of
candidate grids and the minimum and median time of the search itself (as the
planner reports it) and of the whole axonn-opt process. Record results with
machine and date in docs/benchmarks.md.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--cluster", default="frontier")
    parser.add_argument("--gpus", type=int, default=32768)
    parser.add_argument("spec", nargs="?",
                        default=os.path.join(ROOT, "examples/models/gpt-175b.json"))
    args = parser.parse_args()
    bin_dir = os.path.join(args.build, "bin")
    with tempfile.TemporaryDirectory() as tmp:
        ir = os.path.join(tmp, "model.mlir")
        subprocess.run([os.path.join(bin_dir, "axonn-translate"),
                        "--import-model-spec", args.spec, "-o", ir], check=True)
        cmd = [os.path.join(bin_dir, "axonn-opt"), ir, "-o", "/dev/null",
               "--axonn-plan=cluster=%s gpus=%d report=true" % (args.cluster, args.gpus)]
        search, wall, summary = [], [], ""
        for _ in range(args.runs):
            start = time.perf_counter()
            proc = subprocess.run(cmd, check=True, stderr=subprocess.PIPE, text=True)
            wall.append(time.perf_counter() - start)
            line = next(l for l in proc.stderr.splitlines() if "searched in" in l)
            search.append(float(re.search(r"searched in ([0-9.]+) ms", line).group(1)))
            summary = line
    print("%s on %d %s GPUs: %s" % (os.path.basename(args.spec), args.gpus,
                                     args.cluster, summary.split(";")[0]))
    print("search: min %.1f ms, median %.1f ms; axonn-opt process: min %.1f ms, "
          "median %.1f ms (%d runs)"
          % (min(search), statistics.median(search), min(wall) * 1e3,
             statistics.median(wall) * 1e3, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
