#!/usr/bin/env python3
"""expect_exit.py STATUS CMD [ARGS...]

Runs CMD, forwards its stdout and stderr, and exits 0 only if CMD exited with
exactly STATUS. A crash (death by signal) never matches.
"""
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: expect_exit.py STATUS CMD [ARGS...]\n")
        return 2
    expected = int(sys.argv[1])
    proc = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    sys.stdout.buffer.write(proc.stdout)
    sys.stderr.buffer.write(proc.stderr)
    if proc.returncode != expected:
        sys.stderr.write("expect_exit: %s exited with %d, expected %d\n"
                         % (sys.argv[2], proc.returncode, expected))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
