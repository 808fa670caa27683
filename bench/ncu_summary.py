#!/usr/bin/env python3
"""Per-kernel GPU time from Nsight Compute's CSV (bench/gpu.sh):

    ncu --metrics gpu__time_duration.sum --csv PROGRAM > ncu.csv
    ncu_summary.py ncu.csv

Groups the launches by kernel (its name without template arguments and
parameters, the namespace's last part kept) and prints a Markdown table:
launches, mean and total microseconds, in the order of first launch.
Lines that are not CSV rows (the program's own output, ncu's ==PROF==
notes) are skipped.
"""
import csv
import re
import sys

UNITS = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}


def short(name):
    """'void axonn::cuda::fa2::fa2ForwardKernel<64, unsigned short>(...)'
    -> 'fa2ForwardKernel<64, unsigned short>'."""
    name = re.sub(r"^void ", "", name)
    depth, cut = 0, len(name)
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0:
            cut = i
            break
    name = name[:cut]
    head, _, args = name.partition("<")
    head = head.split("::")[-1]
    return head + ("<" + args if args else "")


def main():
    if len(sys.argv) != 2:
        print("usage: ncu_summary.py NCU_CSV", file=sys.stderr)
        return 2
    rows = [line for line in open(sys.argv[1], errors="replace")
            if line.startswith('"')]
    reader = csv.DictReader(rows)
    kernels = {}
    for row in reader:
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        try:
            us = float(row["Metric Value"].replace(",", "")) * \
                UNITS[row["Metric Unit"]]
        except (KeyError, ValueError):
            continue
        entry = kernels.setdefault(short(row["Kernel Name"]), [0, 0.0])
        entry[0] += 1
        entry[1] += us
    if not kernels:
        print("(no kernel times in %s)" % sys.argv[1])
        return 1
    print("| kernel | launches | mean us | total us |")
    print("|---|---|---|---|")
    for name, (n, total) in kernels.items():
        print("| %s | %d | %.1f | %.1f |" % (name, n, total / n, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
