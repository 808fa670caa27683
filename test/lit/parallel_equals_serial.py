#!/usr/bin/env python3
"""Parallel equals serial: every grid trains like one rank.

    parallel_equals_serial.py --axonnc PATH --mpirun CMD --data DIR
        --cluster FILE --ranks 2,4,8 --steps 20 --tolerance 1e-5 SPEC

Compiles SPEC with axonnc for one rank and for every factorization of each
rank count into (Gx, Gy, Gz, Gdata), runs each binary for STEPS steps under
mpirun (one BLAS thread per rank), and compares every step's loss with the
one-rank run: |parallel - serial| / |serial|. Grids the compiler rejects for
this model (an axis that does not divide the heads, say) are listed with
the compiler's reason. Prints one line per grid and a summary; exits 1 if
any grid differs by more than the tolerance or fails to run.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile


def factorizations(n):
    for x in range(1, n + 1):
        if n % x:
            continue
        for y in range(1, n // x + 1):
            if (n // x) % y:
                continue
            for z in range(1, n // (x * y) + 1):
                if (n // (x * y)) % z:
                    continue
                yield (x, y, z, n // (x * y * z))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--axonnc", required=True)
    p.add_argument("--mpirun", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--cluster", required=True)
    p.add_argument("--ranks", default="2,4,8")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--tolerance", type=float, default=1e-5)
    p.add_argument("spec")
    a = p.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    name = os.path.basename(a.spec)

    def build(grid, path):
        g = "x".join(map(str, grid))
        n = grid[0] * grid[1] * grid[2] * grid[3]
        r = subprocess.run([a.axonnc, a.spec, "--gpus", str(n), "--cluster",
                            a.cluster, "--grid", g, "-o", path],
                           capture_output=True, text=True)
        return r.returncode == 0, r.stderr.strip()

    def run(path, n):
        cmd = shlex.split(a.mpirun) + ["-np", str(n), path, "--data", a.data,
                                        "--steps", str(a.steps),
                                        "--print-losses"]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                           timeout=300)
        losses = [float(m.group(1)) for m in
                  re.finditer(r"^step \d+ loss (\S+)$", r.stdout, re.M)]
        return r.returncode, losses, r.stderr

    with tempfile.TemporaryDirectory() as tmp:
        serial_bin = os.path.join(tmp, "serial")
        ok, err = build((1, 1, 1, 1), serial_bin)
        if not ok:
            print("%s: the one-rank program does not compile: %s" % (name, err))
            return 1
        code, serial, err = run(serial_bin, 1)
        if code or len(serial) != a.steps:
            print("%s: the one-rank run failed: %s" % (name, err))
            return 1
        print("%s: one rank, loss %.6f -> %.6f over %d steps"
              % (name, serial[0], serial[-1], a.steps))
        worst, grids, rejected, failed = 0.0, 0, 0, 0
        for n in [int(r) for r in a.ranks.split(",")]:
            for grid in factorizations(n):
                g = "x".join(map(str, grid))
                path = os.path.join(tmp, "train-" + g)
                ok, err = build(grid, path)
                if not ok:
                    rejected += 1
                    reason = err.splitlines()[0] if err else "?"
                    reason = re.sub(r"^\S+:\d+:\d+: error: ", "", reason)
                    print("  %-8s rejected by the compiler: %s" % (g, reason))
                    continue
                code, losses, err = run(path, n)
                if code or len(losses) != a.steps:
                    failed += 1
                    print("  %-8s FAILED to run: %s" % (g, err.strip()[:300]))
                    continue
                diff = max(abs(p - s) / abs(s) for p, s in zip(losses, serial))
                worst = max(worst, diff)
                grids += 1
                print("  %-8s max relative difference %.2e %s"
                      % (g, diff, "ok" if diff <= a.tolerance else "TOO LARGE"))
        good = failed == 0 and worst <= a.tolerance
        print("%s: %d grids ran, %d rejected by the compiler, %d failed; "
              "max relative difference %.2e (tolerance %.0e): %s"
              % (name, grids, rejected, failed, worst, a.tolerance,
                 "ok" if good else "FAILED"))
        return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
