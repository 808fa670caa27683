#!/usr/bin/env python3
"""Benchmark: import a model spec and print its IR.

    bench/import.py [--runs N] [--build DIR] [SPEC...]

For each spec (default: examples/models/gpt-175b.json) runs
`axonn-translate --import-model-spec SPEC -o /dev/null` N times (default 20)
and prints the minimum and median wall time, the peak resident memory, the
size of the printed IR, and MLIR's own timing breakdown of one run.
Record results with machine and date in docs/benchmarks.md.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("specs", nargs="*",
                        default=[os.path.join(ROOT, "examples/models/gpt-175b.json")])
    args = parser.parse_args()
    tool = os.path.join(args.build, "bin", "axonn-translate")

    for spec in args.specs:
        cmd = [tool, "--import-model-spec", spec, "-o", "/dev/null"]
        subprocess.run(cmd, check=True)  # warm the page cache
        times, peak_kib = [], 0
        for _ in range(args.runs):
            start = time.perf_counter()
            child = subprocess.Popen(cmd)
            _, status, usage = os.wait4(child.pid, 0)
            times.append(time.perf_counter() - start)
            if status != 0:
                sys.exit("%s failed" % " ".join(cmd))
            peak_kib = max(peak_kib, usage.ru_maxrss)
        printed = subprocess.run([tool, "--import-model-spec", spec],
                                 check=True, stdout=subprocess.PIPE).stdout
        timing = subprocess.run(cmd + ["--mlir-timing"], check=True,
                                stderr=subprocess.PIPE, text=True).stderr
        print("%s: import + print, %d runs: min %.1f ms, median %.1f ms; "
              "peak RSS %.1f MiB; IR %.1f KiB, %d lines"
              % (os.path.basename(spec), args.runs, min(times) * 1e3,
                 statistics.median(times) * 1e3, peak_kib / 1024.0,
                 len(printed) / 1024.0, printed.count(b"\n") + 1))
        print(timing.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
