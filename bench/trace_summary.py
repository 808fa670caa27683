"""Where a training step's time goes, from a rank's Chrome trace.

    trace_summary.py TRACE_JSON [TOP]

Reads the driver's --trace output (trace-rank-N.json), leaves out the first
step (GEMM tuning, allocation), and prints a markdown table of the kernels
(compute and optimizer events) and exposed waits by name: calls and
milliseconds per step and their share of the mean step time, the TOP
(default 12) largest and the rest summed.
"""
import collections
import json
import sys

path = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
events = json.load(open(path))["traceEvents"]
steps = sorted((e for e in events if e.get("cat") == "step" and e["ph"] == "X"),
               key=lambda e: e["ts"])
if len(steps) < 2:
    sys.exit("trace_summary.py: %s has %d steps; need 2 or more" % (path, len(steps)))
steps = steps[1:]
spans = [(s["ts"], s["ts"] + s["dur"]) for s in steps]
total = sum(s["dur"] for s in steps)
time = collections.Counter()
calls = collections.Counter()
for e in events:
    if e["ph"] != "X" or e.get("cat") not in ("compute", "optimizer", "exposed"):
        continue
    if any(a <= e["ts"] < b for a, b in spans):
        name = e["name"] if e["cat"] != "exposed" else "wait: " + e["name"]
        time[name] += e["dur"]
        calls[name] += 1
n = len(steps)
print("mean step %.3f ms over %d steps (the first left out)" % (total / n / 1e3, n))
print("| kernel | calls/step | ms/step | share |")
print("|---|---|---|---|")
ranked = time.most_common()
for name, t in ranked[:top]:
    print("| %s | %g | %.3f | %.1f%% |" % (name, calls[name] / n, t / n / 1e3, 100 * t / total))
rest = sum(t for _, t in ranked[top:])
if rest:
    print("| (%d others) | | %.3f | %.1f%% |" % (len(ranked) - top, rest / n / 1e3, 100 * rest / total))
covered = sum(time.values())
print("| (not in a kernel or wait) | | %.3f | %.1f%% |" % ((total - covered) / n / 1e3, 100 * (total - covered) / total))
