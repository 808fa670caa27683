#!/usr/bin/env python3
"""Benchmark: the whole compiler, --axonn-training-pipeline.

    bench/pipeline.py [--runs N] [--build DIR] [--cluster NAME] [--gpus G] [SPEC]

Imports SPEC (default examples/models/gpt-175b.json), then runs
`axonn-opt --axonn-training-pipeline="cluster=NAME gpus=G"` N times (default
10; cluster frontier, 16,384 GPUs by default), writing the per-rank program,
and prints the minimum and median wall time and the peak resident memory of
the axonn-opt process, the time of each stage (--mlir-timing, last run), and
the size of the output. Record results with machine and date in
docs/benchmarks.md.
"""
import argparse
import os
import resource
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
    parser.add_argument("--gpus", type=int, default=16384)
    parser.add_argument("spec", nargs="?",
                        default=os.path.join(ROOT, "examples/models/gpt-175b.json"))
    args = parser.parse_args()
    bin_dir = os.path.join(args.build, "bin")
    with tempfile.TemporaryDirectory() as tmp:
        ir = os.path.join(tmp, "model.mlir")
        out = os.path.join(tmp, "step.mlir")
        subprocess.run([os.path.join(bin_dir, "axonn-translate"),
                        "--import-model-spec", args.spec, "-o", ir], check=True)
        pipeline = "--axonn-training-pipeline=cluster=%s gpus=%d" % (args.cluster,
                                                                   args.gpus)
        cmd = [os.path.join(bin_dir, "axonn-opt"), ir, "-o", out, pipeline]
        wall, peak = [], 0
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall.append(time.perf_counter() - start)
            # ru_maxrss of children: the largest of the runs, in KiB.
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        timing = subprocess.run(cmd + ["--mlir-timing"], check=True,
                                stderr=subprocess.PIPE, text=True).stderr
        size = os.path.getsize(out)
        with open(out) as f:
            lines = sum(1 for _ in f)
        with open(out) as f:
            text = f.read()
    grid = text[text.index("axonn.grid = "):].split(">")[0] + ">"
    print("%s on %d %s GPUs: %s" % (os.path.basename(args.spec), args.gpus,
                                     args.cluster, grid))
    print("pipeline: min %.3f s, median %.3f s, peak RSS %.1f MiB (%d runs)"
          % (min(wall), statistics.median(wall), peak / 1024.0, args.runs))
    print("output: %.1f MiB, %d lines" % (size / 2**20, lines))
    print("stages (last run):")
    for line in timing.splitlines():
        if "(" in line and "%" in line and "Wall" not in line:
            print("  " + line.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
