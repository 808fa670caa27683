"""Compares two runs' `step N loss X` lines (the driver's --print-losses).

    compare_losses.py GOT WANT STEP_TOLERANCE FINAL_TOLERANCE

Every step's loss must be within STEP_TOLERANCE relative of WANT's, and the
last within FINAL_TOLERANCE; prints the largest difference. Exit 1 if not.
"""
import sys


def losses(path):
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 4 and parts[0] == "step" and parts[2] == "loss":
            out[int(parts[1])] = float(parts[3])
    return out


got, want = losses(sys.argv[1]), losses(sys.argv[2])
step_tol, final_tol = float(sys.argv[3]), float(sys.argv[4])
if not want or sorted(got) != sorted(want):
    print("steps differ: %s vs %s" % (sorted(got), sorted(want)))
    sys.exit(1)
worst = max(abs(got[s] - want[s]) / abs(want[s]) for s in want)
last = max(want)
final = abs(got[last] - want[last]) / abs(want[last])
print("%d steps: largest relative difference %.2e, last step %.2e"
      % (len(want), worst, final))
sys.exit(0 if worst <= step_tol and final <= final_tol else 1)
