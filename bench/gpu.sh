#!/usr/bin/env bash
# The GPU check and benchmark of the CUDA backend (issue 7), in two halves:
#
#   bench/gpu.sh prepare [BUNDLE]   on the build machine (MLIR, MPI): compile
#                                   the models to objects, the CPU losses of
#                                   the tiny model, a token file
#   bench/gpu.sh run [BUNDLE]       on a GPU machine (nvcc, CMake, Ninja,
#                                   PyTorch; no MLIR, no MPI): build the
#                                   runtime, check every kernel against the
#                                   CPU kernels, train the tiny model and
#                                   compare its losses with the CPU run,
#                                   benchmark GPT-2 124M and a 1.5B-shaped
#                                   GPT-2 (fp32 and bf16 storage) against
#                                   PyTorch, check that a CUDA failure
#                                   ends the run with a message, time the
#                                   attention kernels, and break bf16
#                                   steps of both down by kernel (from
#                                   --trace; per kernel launch under
#                                   Nsight Compute with
#                                   AXONN_BENCH_PROFILE=1)
#
# BUNDLE defaults to build/gpu-bundle (ignored by git; the device tool
# carries it: carry=["build/gpu-bundle"]). AXONN_GPU_PREBUILT=1 at prepare
# builds the runtime here too (sm_90) and `run` uses it rather than
# building on the GPU machine, saving its build time there (about 75 s). `run` prints a summary table and
# writes BUNDLE/results.md; it must finish in under 8 minutes on one GPU,
# build included. Exit status: non-zero if a check failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MODE=${1:-}
BUNDLE=$(realpath -m "${2:-$ROOT/build/gpu-bundle}")
TINY_STEPS=50
# The tiny models whose GPU losses are checked against the CPU's: the
# tiny GPT (head dimension 16: the SIMT attention) and a GPT with heads of
# 64 and a sequence of 100 (the tensor-core attention, a partial tile).
TINY=(tiny-gpt:$ROOT/examples/models/tiny-gpt.json
      tiny-gpt-d64:$HERE/models/tiny-gpt-d64.json)
# -bf16: the same spec compiled with --dtype=bfloat16 (bf16 storage, fp32
# master weights), against the same PyTorch run.
MODELS=(gpt2-124m-gpu gpt2-124m-gpu-bf16 gpt2-1.5b-gpu gpt2-1.5b-gpu-bf16)
# AXONN_BENCH_PROFILE=1 adds per-kernel GPU times from Nsight Compute (the
# attention's kernels, a 124M step's own kernels) where ncu runs.
# The models PyTorch trains too (its torch.compile takes most of the run):
# all, or a space-separated list of the above (a short rerun on a lent GPU
# whose earlier run timed PyTorch already).
TORCH=${AXONN_BENCH_TORCH:-all}

prepare() {
  set -e
  local build=${AXONN_BUILD_DIR:-$ROOT/build}
  local cluster=$ROOT/examples/clusters/dgx-h100.json
  rm -rf "$BUNDLE" && mkdir -p "$BUNDLE"
  "$build/bin/axonn-data" --output "$BUNDLE/data" /usr/share/common-licenses/* > /dev/null
  # The tiny models: objects for the GPU (fp32 and bf16 storage), and the
  # CPU run's losses.
  for t in "${TINY[@]}"; do
    local name=${t%%:*} spec=${t#*:}
    "$build/bin/axonnc" "$spec" --gpus 1 --cluster "$cluster" --emit=obj \
        -o "$BUNDLE/$name.o"
    "$build/bin/axonnc" "$spec" --gpus 1 --cluster "$cluster" \
        --dtype=bfloat16 --emit=obj -o "$BUNDLE/$name-bf16.o"
    "$build/bin/axonnc" "$spec" --gpus 1 --cluster "$cluster" \
        -o "$BUNDLE/$name-cpu"
    OPENBLAS_NUM_THREADS=1 "$BUNDLE/$name-cpu" --data "$BUNDLE/data" \
        --steps $TINY_STEPS --print-losses | grep '^step' > "$BUNDLE/$name-cpu.txt"
    rm "$BUNDLE/$name-cpu"
  done
  for m in "${MODELS[@]}"; do
    local spec=${m%-bf16} dtype=float32
    [ "$spec" != "$m" ] && dtype=bfloat16
    "$build/bin/axonnc" "$HERE/models/$spec.json" --gpus 1 --cluster "$cluster" \
        --dtype=$dtype --emit=obj -o "$BUNDLE/$m.o"
    cp "$HERE/models/$spec.json" "$BUNDLE/"
  done
  if [ "${AXONN_GPU_PREBUILT:-0}" = 1 ]; then
    # The runtime built here too (sm_90, no MPI): `run` uses it instead of
    # building (about 75 s of a lent GPU's time) when its programs find
    # their libraries there.
    local rtb=$build/gpu-runtime
    cmake -S "$ROOT/runtime" -B "$rtb" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON > /dev/null
    ninja -C "$rtb" > /dev/null
    mkdir -p "$BUNDLE/rt"
    cp "$rtb"/libaxonn_driver.a "$rtb"/libaxonn_rt_cuda_single.a \
        "$rtb"/libaxonn_rt_reference.so "$rtb"/axonn-rt-cuda-check \
        "$rtb"/axonn-rt-attention-bench "$BUNDLE/rt/"
  fi
  du -sh "$BUNDLE"
}

run() {
  local started=$(date +%s) failed=0
  # Each stage's heading with the seconds since the start.
  stage() { echo "== [$(( $(date +%s) - started )) s] $*"; }
  # (a run left from another machine would carry a foreign CMake cache)
  local out=$BUNDLE/run && rm -rf "$out" && mkdir -p "$out"
  local cuda=${CUDA_HOME:-/usr/local/cuda}
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  local gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)

  local rt=$out/build
  if [ -x "$BUNDLE/rt/axonn-rt-cuda-check" ] &&
      ! ldd "$BUNDLE/rt/axonn-rt-cuda-check" | grep -q "not found"; then
    rt=$BUNDLE/rt
    stage "the runtime as built on the build machine (prepare with AXONN_GPU_PREBUILT=1): no build here"
  else
    stage "build the runtime (CUDA, one process, no MPI)"
    cmake -S "$ROOT/runtime" -B "$rt" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_CUDA_ARCHITECTURES=90 -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON \
        > "$out/cmake.log" 2>&1 && ninja -C "$rt" > "$out/ninja.log" 2>&1 \
        || { tail -30 "$out/cmake.log" "$out/ninja.log"; return 1; }
    echo "built in $(( $(date +%s) - started )) s"
  fi
  local libs=("$rt/libaxonn_driver.a" "$rt/libaxonn_rt_cuda_single.a"
              -L"$cuda/lib64" -L"$cuda/lib" -Wl,-rpath,"$cuda/lib64"
              -Wl,-rpath,"$cuda/lib" -lcublasLt -lcudart -lm)

  stage "every kernel against the CPU kernels"
  timeout 180 "$rt/axonn-rt-cuda-check" "$rt/libaxonn_rt_reference.so" \
      | tee "$out/check.txt" || failed=1
  # Attention kernels that fail the check must not spoil the training and
  # benchmark runs: they fall back from the tensor cores to the SIMT tiles,
  # and from those to the row kernels.
  if grep -Eq '^FAIL *attention(_grad)?( lse)? tiled' "$out/check.txt"; then
    echo "tiled attention failed the check: the rest of the run uses AXONN_ATTENTION=rows"
    export AXONN_ATTENTION=rows
  elif grep -Eq '^FAIL *attention(_grad)?(_bf16)?( lse)? (mma|\(d)' "$out/check.txt"; then
    if grep -Eq '^FAIL *attention(_grad)?( lse)? wmma' "$out/check.txt"; then
      echo "tensor-core attention failed the check: the rest of the run uses AXONN_ATTENTION=tiled"
      export AXONN_ATTENTION=tiled
    else
      echo "mma.sync attention failed the check: the rest of the run uses AXONN_ATTENTION=wmma"
      export AXONN_ATTENTION=wmma
    fi
  fi
  # (32 rows a warp: wrong, or not the bits of 16, would spoil the default's
  # choice between them by timing)
  if grep -Eq '^FAIL *attention(_grad)?( lse)? rows32|^FAIL *attention rows 16 vs 32' "$out/check.txt"; then
    echo "the 32-row attention kernels failed the check: the rest of the run uses AXONN_ATTENTION_ROWS=16"
    export AXONN_ATTENTION_ROWS=16
  fi
  if grep -q '^FAIL *linear_gelu.*tanh' "$out/check.txt"; then
    echo "the GELU epilogue failed the check: the rest of the run uses AXONN_GELU_EPILOGUE=0"
    export AXONN_GELU_EPILOGUE=0
  fi
  if grep -q '^FAIL *linear_grad_weight.*bias' "$out/check.txt"; then
    echo "the bias-gradient epilogue failed the check: the rest of the run uses AXONN_BGRAD_EPILOGUE=0"
    export AXONN_BGRAD_EPILOGUE=0
  fi

  stage "the attention kernels' speed (GPT-2 124M's shape; a Llama-like one)"
  : > "$out/attention.txt"
  # (GPT-2 without RoPE, as it trains: its bf16 operands read in place;
  # the Llama-like shape with it)
  for shape in "8 1024 12 12 64 0" "2 2048 32 8 128 10000"; do
    # (the SIMT kernels, 10 to 200 times slower, are a fallback: checked,
    # not timed)
    # (AXONN_CUDA_KERNEL_REPORT: each kernel's registers, spills, shared
    # memory and blocks an SM, on stderr)
    AXONN_ATTENTION_BENCH_SETS=mma,mma32,wmma AXONN_CUDA_KERNEL_REPORT=1 timeout 90 \
        "$rt/axonn-rt-attention-bench" $shape 2>&1 | tee -a "$out/attention.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || failed=1
  done

  for t in "${TINY[@]}"; do
    local name=${t%%:*}
    stage "$name: $TINY_STEPS steps on the GPU against the CPU run"
    c++ -o "$out/$name" "$BUNDLE/$name.o" "${libs[@]}" || failed=1
    AXONN_GEMM_PRECISION=fp32 timeout 120 "$out/$name" --data "$BUNDLE/data" \
        --steps $TINY_STEPS --print-losses | grep '^step' > "$out/$name-fp32.txt" || failed=1
    timeout 120 "$out/$name" --data "$BUNDLE/data" --steps $TINY_STEPS --print-losses \
        | grep '^step' > "$out/$name-gpu.txt" || failed=1
    { echo -n "fp32 GEMMs: "; python3 "$ROOT/test/lit/compare_losses.py" "$out/$name-fp32.txt" \
        "$BUNDLE/$name-cpu.txt" 1e-3 0.02; } | tee "$out/$name-vs-fp32.txt" || failed=1
    { echo -n "bf16 GEMMs: "; python3 "$ROOT/test/lit/compare_losses.py" "$out/$name-gpu.txt" \
        "$BUNDLE/$name-cpu.txt" 0.05 0.02; } | tee "$out/$name-vs-gpu.txt" || failed=1
    c++ -o "$out/$name-bf16" "$BUNDLE/$name-bf16.o" "${libs[@]}" || failed=1
    timeout 120 "$out/$name-bf16" --data "$BUNDLE/data" --steps $TINY_STEPS --print-losses \
        | grep '^step' > "$out/$name-bf16.txt" || failed=1
    { echo -n "bf16 storage: "; python3 "$ROOT/test/lit/compare_losses.py" "$out/$name-bf16.txt" \
        "$BUNDLE/$name-cpu.txt" 0.05 0.02; } | tee "$out/$name-vs-bf16.txt" || failed=1
    # The step recorded as a CUDA graph from the third step on: the same
    # kernels with the same arguments, so the same losses bit for bit.
    timeout 120 "$out/$name-bf16" --data "$BUNDLE/data" --steps $TINY_STEPS --print-losses \
        --cuda-graphs > "$out/$name-graphs.log" 2>&1
    grep '^step' "$out/$name-graphs.log" > "$out/$name-graphs.txt"
    local from
    from=$(grep -o 'a CUDA graph from step [0-9]*' "$out/$name-graphs.log" | head -1)
    if [ -n "$from" ] && cmp -s "$out/$name-graphs.txt" "$out/$name-bf16.txt"; then
      echo "CUDA graphs (bf16 storage): $from on, the same $TINY_STEPS losses bit for bit" \
          | tee "$out/$name-graphs-check.txt"
    else
      echo "FAIL CUDA graphs (bf16 storage): ${from:-no graph}; $(grep -m1 'note:\|failed' "$out/$name-graphs.log"); $(diff "$out/$name-graphs.txt" "$out/$name-bf16.txt" | head -3 | tr '\n' ' ')" \
          | tee "$out/$name-graphs-check.txt"
      failed=1
    fi
  done

  stage "a CUDA failure ends the run: rank, call and error string (AXONN_CUDA_DEVICE=99)"
  local message code
  message=$(AXONN_CUDA_DEVICE=99 timeout 60 "$out/tiny-gpt" --data "$BUNDLE/data" \
      --steps 2 2>&1)
  code=$?
  if [ $code = 1 ] && grep -Eq '^axonn: rank 0 .*cudaSetDevice.* failed at .*backend\.cu:[0-9]+: invalid device ordinal' <<<"$message"; then
    echo "ok (exit 1): $(grep -m1 '^axonn: rank 0' <<<"$message")" | tee "$out/cuda-error.txt"
  else
    echo "FAIL (exit $code): $message" | tee "$out/cuda-error.txt"
    failed=1
  fi

  stage "benchmarks: axonn and PyTorch (bf16, torch.compile, SDPA)"
  local peak=989 # dense bf16 TFLOP/s of an H100 SXM / H200 (MFU denominator)
  : > "$out/bench.txt"
  for m in "${MODELS[@]}"; do
    c++ -o "$out/$m" "$BUNDLE/$m.o" "${libs[@]}" || { failed=1; continue; }
    local steps=8
    [ "${m%-bf16}" = gpt2-1.5b-gpu ] && steps=5
    timeout 150 "$out/$m" --data "$BUNDLE/data" --steps $steps --log-every 1 \
        --peak-tflops $peak > "$out/$m.log" 2>&1 || { tail -5 "$out/$m.log"; failed=1; }
    tail -3 "$out/$m.log"
    if [ "${m%-bf16}" != "$m" ]; then
      cp "$out/${m%-bf16}-torch.json" "$out/$m-torch.json" 2>/dev/null
      if [ "$m" = gpt2-124m-gpu-bf16 ]; then
        # The same with the step a CUDA graph from the third step on (more
        # steps: the median then falls on the replayed ones).
        timeout 150 "$out/$m" --data "$BUNDLE/data" --steps 14 --log-every 1 \
            --peak-tflops $peak --cuda-graphs > "$out/$m-graphs.log" 2>&1 \
            || { tail -5 "$out/$m-graphs.log"; failed=1; }
        tail -3 "$out/$m-graphs.log"
        cp "$out/$m-torch.json" "$out/$m-graphs-torch.json" 2>/dev/null
      fi
      continue
    fi
    if [ "$TORCH" != all ] && [[ " $TORCH " != *" $m "* ]]; then
      echo "PyTorch on $m: skipped (AXONN_BENCH_TORCH=$TORCH)"
      continue
    fi
    timeout 150 python3 "$HERE/torch_gpt_gpu.py" --spec "$BUNDLE/$m.json" \
        --data "$BUNDLE/data/train.bin" --steps 10 --peak-tflops $peak \
        > "$out/$m-torch.json" 2> "$out/$m-torch.err" || { tail -5 "$out/$m-torch.err"; failed=1; }
    cat "$out/$m-torch.json"
  done

  # Where a bf16 step goes, by kernel (--trace, steps 2-4).
  local traced
  for traced in gpt2-124m-gpu-bf16 gpt2-1.5b-gpu-bf16; do
    stage "where a step of $traced goes (--trace, steps 2-4)"
    if timeout 90 "$out/$traced" --data "$BUNDLE/data" --steps 4 \
        --trace "$out/trace-$traced" --trace-steps 4 > "$out/trace-$traced.log" 2>&1; then
      python3 "$HERE/trace_summary.py" "$out/trace-$traced/trace-rank-0.json" 12 \
          | tee "$out/breakdown-$traced.txt"
    else
      tail -5 "$out/trace-$traced.log"
      failed=1
    fi
  done

  # The summary table and checks (BUNDLE/results.md): written before the
  # profiles and again after them, so that a run cut short while
  # profiling keeps it.
  summarize() {
    python3 - "$out" "$gpu" "$(( $(date +%s) - started ))" "$([ "$rt" = "$BUNDLE/rt" ] && echo 1 || echo 0)" \
      "${MODELS[@]}" gpt2-124m-gpu-bf16-graphs <<'PY' | tee "$BUNDLE/results.md"
import json, re, sys
out, gpu, seconds, prebuilt = sys.argv[1:5]
models = sys.argv[5:]
print("| model (%s) | axonn tokens/s | MFU 6N+6LdT | MFU Megatron | runtime memory | PyTorch tokens/s | PyTorch MFU 6N+6LdT | ratio |" % gpu)
print("|---|---|---|---|---|---|---|---|")
for m in models:
    try:
        log = open("%s/%s.log" % (out, m)).read()
    except OSError:
        log = ""
    med = re.search(r"median step ([0-9.]+) ms, ([0-9.]+) tokens/s, MFU ([0-9.]+)% \(6N \+ 6LdT\) / ([0-9.]+)% \(Megatron\)", log)
    mem = re.search(r"runtime allocations ([0-9.]+) MiB", log)
    try:
        t = json.load(open("%s/%s-torch.json" % (out, m)))
    except OSError:
        t = None  # not run (AXONN_BENCH_TORCH)
    except ValueError:
        t = False  # run, and failed
    a = float(med.group(2)) if med else None
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
        m, "%.0f" % a if a else "failed",
        med.group(3) + "%" if med else "-", med.group(4) + "%" if med else "-",
        mem.group(1) + " MiB" if mem else "-",
        "%.0f" % t["tokens_per_second"] if t else
        ("failed" if t is False else "not run"),
        "%.1f%%" % (100 * t["mfu_llmc"]) if t else "-",
        "%.2fx" % (a / t["tokens_per_second"]) if a and t else "-"))
print()
def text(name):
    try:
        return open("%s/%s" % (out, name)).read().strip() or "(empty)"
    except OSError:
        return "(missing)"
print("kernel check: " + text("check.txt").splitlines()[-1])
print("a CUDA failure: " + text("cuda-error.txt"))
for name, what in (("tiny-gpt", "SIMT attention"),
                   ("tiny-gpt-d64", "tensor-core attention")):
    print("%s (%s) vs CPU: %s; %s; %s; %s" % (name, what, text(name + "-vs-fp32.txt"),
          text(name + "-vs-gpu.txt"), text(name + "-vs-bf16.txt"),
          text(name + "-graphs-check.txt")))
print()
print(text("attention.txt"))
print()
print("The default attention's kernels (Nsight Compute, 3 calls of each, bf16 then fp32):")
print(text("attention-kernels.txt"))
print()
print("The 124M bf16 step's own kernels (Nsight Compute, steps 1-2):")
print(text("step-kernels.txt"))
print()
for m in ("gpt2-124m-gpu-bf16", "gpt2-1.5b-gpu-bf16"):
    print("%s, time per kernel:" % m)
    print(text("breakdown-%s.txt" % m))
    print()
print()
print("wall time: %s s, %s" % (seconds, "the runtime prebuilt on the build machine"
      if prebuilt == "1" else "build included"))
PY
  }
  summarize > /dev/null

  # With AXONN_BENCH_PROFILE=1, where Nsight Compute runs (not under
  # gVisor), the profiles below: last, so that a run short of time loses
  # only them. Not a check: a profiler that cannot run is noted and the run
  # goes on. (Off by default: with them the run passes its 8 minutes.)
  local ncu=""
  if [ "${AXONN_BENCH_PROFILE:-0}" = 1 ]; then
    ncu=$(command -v ncu || ls "$cuda"/bin/ncu 2>/dev/null || true)
    [ -n "$ncu" ] || echo "AXONN_BENCH_PROFILE=1: no ncu here; no profiles"
  fi

  # (In the order of what they tell: why the attention is slow, which of
  # its kernels, which of the step's.)
  if [ -n "$ncu" ]; then
    # Why they take that long: the third call of each mma.sync kernel (16
    # and 32 rows a warp, both storage types) with Nsight Compute's
    # throughput, occupancy, warp-stall and pipe sections, as its text
    # report (attention-ncu-details.txt, read by hand).
    stage "the mma.sync attention kernels' throughput, occupancy and stalls (Nsight Compute)"
    if AXONN_ATTENTION_BENCH_SETS=mma,mma32 AXONN_ATTENTION_BENCH_CALLS=1 timeout 150 \
        "$ncu" --clock-control none --kernel-name-base demangled \
        --kernel-id ::regex:fa2:3 \
        --section SpeedOfLight --section Occupancy --section LaunchStats \
        --section WarpStateStats --section SchedulerStats \
        --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
        "$rt/axonn-rt-attention-bench" 8 1024 12 12 64 0 \
        > "$out/attention-ncu-details.txt" 2> "$out/ncu-details.err"; then
      echo "(the mma.sync kernels' Nsight Compute sections: attention-ncu-details.txt)"
    else
      echo "(Nsight Compute's sections did not run: $(tail -1 "$out/ncu-details.err"))"
    fi
    # Each kernel of the default attention alone (pack, forward, statistics,
    # dQ, dK/dV): which piece the attention's time above goes to.
    stage "the default attention's kernels one by one (Nsight Compute, 124M's shape)"
    if AXONN_ATTENTION_BENCH_SETS=mma AXONN_ATTENTION_BENCH_CALLS=1 timeout 120 \
        "$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
        "$rt/axonn-rt-attention-bench" 8 1024 12 12 64 0 \
        > "$out/ncu.csv" 2> "$out/ncu.err"; then
      python3 "$HERE/ncu_summary.py" "$out/ncu.csv" | tee "$out/attention-kernels.txt"
    else
      echo "(Nsight Compute did not run: $(tail -1 "$out/ncu.err"))" \
          | tee "$out/attention-kernels.txt"
    fi
  fi

  # With AXONN_BENCH_PROFILE=1, the 124M step's own kernels one by one
  # (named ...Kernel, which cuBLASLt's are not): which kernel inside an
  # entry point (a norm's gradient and its column sums, say) takes the
  # time.
  if [ -n "$ncu" ]; then
    stage "the 124M bf16 step's own kernels one by one (Nsight Compute, steps 1-2)"
    if timeout 120 "$ncu" --clock-control none --metrics gpu__time_duration.sum \
        --csv --kernel-name-base function --launch-count 400 \
        --kernel-name 'regex:Kernel$' \
        "$out/gpt2-124m-gpu-bf16" --data "$BUNDLE/data" --steps 2 \
        > "$out/ncu-step.csv" 2> "$out/ncu-step.err"; then
      python3 "$HERE/ncu_summary.py" "$out/ncu-step.csv" | tee "$out/step-kernels.txt"
    else
      echo "(Nsight Compute did not run: $(tail -1 "$out/ncu-step.err"))" \
          | tee "$out/step-kernels.txt"
    fi
  fi

  summarize
  return $failed
}

case "$MODE" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bench/gpu.sh prepare|run [BUNDLE]" >&2; exit 2 ;;
esac
