#!/usr/bin/env python3
"""check_bad_inputs.py [--min N] -- CMD... -- FILE...

Runs `CMD FILE` for every FILE (an .mlir file is first split at `// -----`
and every chunk run on its own) and checks that each run
  - exits with status 1 (not 0, not a crash),
  - prints at least one error located as `<file>:<line>:<col>: error:`
    (the input, or a file the input names),
  - writes nothing to stdout (no partial output).
Fails if fewer than N inputs were checked. Prints one line per input.
"""
import os
import re
import subprocess
import sys
import tempfile


def chunks(path):
    """The text of each case in `path`, or [None] to run the file as is."""
    if not path.endswith(".mlir"):
        return [None]
    with open(path) as f:
        return re.split(r"^// -----\s*$", f.read(), flags=re.M)


def main():
    args = sys.argv[1:]
    minimum = 1
    if args[:1] == ["--min"]:
        minimum, args = int(args[1]), args[2:]
    if args[:1] != ["--"] or "--" not in args[1:]:
        sys.stderr.write(__doc__)
        return 2
    sep = args.index("--", 1)
    cmd, files = args[1:sep], args[sep + 1:]
    checked, failures = 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for path in files:
            for index, chunk in enumerate(chunks(path)):
                target = path
                if chunk is not None:
                    target = os.path.join(tmp, "%s.%d.mlir" % (os.path.basename(path), index))
                    with open(target, "w") as f:
                        f.write(chunk)
                proc = subprocess.run(cmd + [target], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, errors="replace")
                name = os.path.basename(target)
                # Usually the input itself; a file it includes may be at fault.
                located = re.search(r"^\S+:\d+:\d+: error: ", proc.stderr, flags=re.M)
                problems = []
                if proc.returncode != 1:
                    problems.append("exit status %d" % proc.returncode)
                if not located:
                    problems.append("no located error")
                if proc.stdout:
                    problems.append("wrote %d bytes to stdout" % len(proc.stdout))
                checked += 1
                first = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
                print("%-40s %s  %s" % (name, "FAIL " + ", ".join(problems) if problems else "ok", first))
                if problems:
                    failures.append(name)
    print("checked %d inputs, %d failed" % (checked, len(failures)))
    if checked < minimum:
        print("expected at least %d inputs" % minimum)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
