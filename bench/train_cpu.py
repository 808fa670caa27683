#!/usr/bin/env python3
"""Benchmark: the CPU training binary against PyTorch, same model, batch,
data, BLAS and machine, in one run.

    bench/train_cpu.py [--build DIR] [--models tiny,small] [--steps N]

Models: `tiny` (examples/models/tiny-gpt.json: 2 layers, d 64, batch 8x32)
and `small` (bench/models/gpt2-small-4l.json: GPT-2 small reduced to 4
layers, d 768, vocab 50257, batch 4x256). For each, at 1 rank and at 2
ranks (data parallel, grid 1x1x1x2):
  axonn    axonnc-built binary under mpirun, fp32; 1 rank is run with 1 and
           2 OpenBLAS threads and the better is kept (unbound with 2); 2
           ranks use 1 thread each (Open MPI's core binding);
  PyTorch  bench/torch_gpt.py with Debian's python3-torch (fp32, AdamW,
           clipping); 1 rank with torch.set_num_threads 1 and 2, the
           better kept; 2 ranks as DistributedDataParallel over gloo, 1
           thread each.
Both sides use the system OpenBLAS with the same core type (the one the
axonn binary reports; PyTorch gets it through OPENBLAS_CORETYPE). Figures:
median step time after warm-up as tokens/s, peak resident memory per rank,
and the ratio axonn / PyTorch. Record them with the machine and date in
docs/benchmarks.md.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = {"tiny": ("examples/models/tiny-gpt.json", 100),
          "small": ("bench/models/gpt2-small-4l.json", 6)}


def mpirun(threads=1):
    # Open MPI binds each of up to 2 ranks to one core: right for one BLAS
    # thread per rank, wrong for two (they would share the core).
    cmd = ["mpirun", "--oversubscribe"]
    if threads > 1:
        cmd += ["--bind-to", "none"]
    if os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd


def run_axonn(binary, data, ranks, threads, steps, tmp):
    metrics = os.path.join(tmp, "metrics.jsonl")
    if os.path.exists(metrics):
        os.remove(metrics)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads))
    out = subprocess.run(mpirun(threads) + ["-np", str(ranks), binary, "--data", data,
                                     "--steps", str(steps), "--log-every",
                                     str(steps), "--metrics", metrics],
                         env=env, capture_output=True, text=True, check=True).stdout
    with open(metrics) as f:
        seconds = [json.loads(line)["seconds"] for line in f]
    steady = seconds[min(3, len(seconds) - 1):]
    tokens = float(re.search(r"batch (\d+) x (\d+)", out).group(1)) * \
        float(re.search(r"batch (\d+) x (\d+)", out).group(2))
    core = re.search(r"BLAS core (\S+)", out).group(1)
    peak = float(re.search(r"peak memory ([0-9.]+) MiB", out).group(1))
    return {"tokens_per_second": tokens / statistics.median(steady),
            "peak_rss_mib": peak, "threads": threads, "core": core}


def run_torch(spec, data, ranks, threads, steps, core):
    env = dict(os.environ, OPENBLAS_CORETYPE=core, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS="1")
    script = os.path.join(ROOT, "bench", "torch_gpt.py")
    cmd = ["/usr/bin/python3", script, "--spec", spec, "--data", data, "--steps",
           str(steps), "--threads", str(threads), "--ranks", str(ranks)]
    if ranks > 1:
        cmd = mpirun() + ["-np", str(ranks)] + cmd
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--models", default="tiny,small")
    p.add_argument("--steps", type=int, default=0, help="override the steps per run")
    p.add_argument("--ranks", default="1,2", help="rank counts to run")
    a = p.parse_args()
    if subprocess.run(["/usr/bin/python3", "-c", "import torch"],
                      capture_output=True).returncode != 0:
        sys.exit("bench/train_cpu.py needs Debian's python3-torch: apt-get install python3-torch")
    bin_dir = os.path.join(a.build, "bin")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        texts = sorted(os.path.join("/usr/share/common-licenses", f)
                       for f in os.listdir("/usr/share/common-licenses"))
        subprocess.run([os.path.join(bin_dir, "axonn-data"), "--output", data] + texts,
                       check=True, capture_output=True)
        for name in a.models.split(","):
            spec_rel, steps = MODELS[name]
            steps = a.steps or steps
            spec = os.path.join(ROOT, spec_rel)
            for ranks in [int(r) for r in a.ranks.split(",")]:
                binary = os.path.join(tmp, "train-%s-%d" % (name, ranks))
                grid = "1x1x1x%d" % ranks
                subprocess.run([os.path.join(bin_dir, "axonnc"), spec, "--gpus", str(ranks),
                                "--cluster", "perlmutter", "--grid", grid, "-o", binary],
                               check=True)
                threads = (1, 2) if ranks == 1 else (1,)
                ours = max((run_axonn(binary, data, ranks, t, steps, tmp) for t in threads),
                           key=lambda r: r["tokens_per_second"])
                theirs = max((run_torch(spec, os.path.join(data, "train.bin"), ranks, t,
                                        steps, ours["core"].split()[0]) for t in threads),
                             key=lambda r: r["tokens_per_second"])
                ratio = ours["tokens_per_second"] / theirs["tokens_per_second"]
                rows.append((name, ranks, ours, theirs, ratio))
                print("%-5s %d rank%s  axonn %9.0f tokens/s (%d thread%s, %6.0f MiB/rank)  "
                      "PyTorch %9.0f tokens/s (%d thread%s, %6.0f MiB/rank)  ratio %.2fx"
                      % (name, ranks, " " if ranks == 1 else "s", ours["tokens_per_second"],
                         ours["threads"], "" if ours["threads"] == 1 else "s",
                         ours["peak_rss_mib"], theirs["tokens_per_second"],
                         theirs["threads"], "" if theirs["threads"] == 1 else "s",
                         theirs["peak_rss_mib"], ratio), flush=True)
    print("BLAS: %s for both (OpenBLAS, OPENBLAS_CORETYPE for PyTorch)" % rows[0][2]["core"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
