#!/usr/bin/env python3
"""Checkpoints survive kill -9 and move between grids.

    checkpoint_resume.py --axonnc PATH --mpirun CMD --data DIR --cluster FILE
        --work DIR SPEC GRID [GRID ...]

1. kill -9: trains SPEC on the first GRID with a checkpoint every 2 steps
   and a step count it never reaches, kills the whole job (mpirun and every
   rank) with SIGKILL once a few checkpoints exist, resumes from the
   newest one for 10 more steps and requires every loss after the resume to
   equal, bit for bit, the loss of an uninterrupted run.
2. Any grid to any grid: the checkpoint of step S written by each GRID is
   loaded on every other GRID, which trains one step; its loss must match
   the uninterrupted run's loss of step S+1 to 1e-5 relative.
Prints one line per check; exits 1 on any failure.
"""
import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--axonnc", required=True)
    p.add_argument("--mpirun", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--cluster", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--tolerance", type=float, default=1e-5)
    p.add_argument("spec")
    p.add_argument("grids", nargs="+")
    a = p.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    os.makedirs(a.work, exist_ok=True)
    failed = False

    def ranks(grid):
        n = 1
        for g in grid.split("x"):
            n *= int(g)
        return n

    binaries = {}
    for grid in a.grids:
        path = os.path.join(a.work, "train-" + grid)
        subprocess.run([a.axonnc, a.spec, "--gpus", str(ranks(grid)),
                        "--cluster", a.cluster, "--grid", grid, "-o", path],
                       check=True)
        binaries[grid] = path

    def command(grid, *args):
        return (shlex.split(a.mpirun) + ["-np", str(ranks(grid)),
                                         binaries[grid], "--data", a.data] +
                list(args))

    def losses(text):
        out = {}
        for line in text.splitlines():
            f = line.split()
            if len(f) == 4 and f[0] == "step" and f[2] == "loss":
                out[int(f[1])] = f[3]
        return out

    def train(grid, *args):
        r = subprocess.run(command(grid, "--print-losses", *args), env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            raise SystemExit("training on %s failed" % grid)
        return losses(r.stdout)

    # 1. kill -9 in the middle of training, then resume.
    first = a.grids[0]
    ckpt = os.path.join(a.work, "killed")
    shutil.rmtree(ckpt, ignore_errors=True)
    job = subprocess.Popen(command(first, "--steps", "100000", "--save-every",
                                   "2", "--checkpoint-dir", ckpt,
                                   "--print-losses"),
                           env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    latest = os.path.join(ckpt, "latest")
    while time.time() < deadline:
        if os.path.exists(latest):
            with open(latest) as f:
                name = f.read().strip()
            if name >= "step-00000010":
                break
        time.sleep(0.01)
    # SIGKILL every rank (launchers may put them in their own process
    # groups), then the launcher.
    target = os.path.realpath(binaries[first])
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and os.readlink("/proc/%s/exe" % pid) == target:
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    time.sleep(0.5)
    with open(latest) as f:
        name = f.read().strip()
    resumed_at = int(name.split("-")[1])
    end = resumed_at + 10
    resumed = train(first, "--steps", str(end), "--checkpoint-dir", ckpt,
                    "--resume")
    reference = train(first, "--steps", str(end))
    same = all(resumed.get(s) == reference[s] for s in range(resumed_at, end))
    print("kill -9 at or after step %d on %s, resumed from %s: steps %d-%d %s"
          % (resumed_at, first, name, resumed_at + 1, end,
             "identical" if same else "DIFFER"))
    if not same:
        failed = True
        for s in range(resumed_at, end):
            print("  step %d: resumed %s, uninterrupted %s"
                  % (s + 1, resumed.get(s), reference[s]))

    # 2. A checkpoint of any grid loads on any other.
    stop = 6
    refs = {}
    for grid in a.grids:
        d = os.path.join(a.work, "from-" + grid)
        shutil.rmtree(d, ignore_errors=True)
        refs[grid] = train(grid, "--steps", str(stop), "--checkpoint-dir", d)
        refs[grid].update(train(grid, "--steps", str(stop + 1)))
    worst = 0.0
    for src in a.grids:
        for dst in a.grids:
            if src == dst:
                continue
            # A copy: the resumed run writes its own final checkpoint.
            d = os.path.join(a.work, "%s-on-%s" % (src, dst))
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(os.path.join(a.work, "from-" + src), d)
            got = train(dst, "--steps", str(stop + 1), "--checkpoint-dir", d,
                        "--resume")
            want = float(refs[src][stop])
            diff = abs(float(got[stop]) - want) / abs(want)
            worst = max(worst, diff)
            ok = diff <= a.tolerance
            failed |= not ok
            print("checkpoint of %s loaded on %s: step %d loss %s vs %s, "
                  "relative difference %.2e %s"
                  % (src, dst, stop + 1, got[stop], refs[src][stop], diff,
                     "ok" if ok else "FAIL"))
    print("any grid to any grid: %d pairs, max relative difference %.2e "
          "(tolerance %g): %s" % (len(a.grids) * (len(a.grids) - 1), worst,
                                  a.tolerance, "FAIL" if failed else "ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
