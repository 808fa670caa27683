#!/usr/bin/env python3
"""signal_after.py SIGNAL TEXT CMD [ARGS...]

Runs CMD, passing its stdout through line by line; when a line first
contains TEXT, sends SIGNAL (USR1, TERM or INT) to CMD's process (for
`mpirun`, mpirun itself, which forwards it or ends the job). Then waits for
CMD, at most 120 s (killing it after that), and prints "exit status N" (a
death by signal S prints "killed by signal S"). Exits 0 unless TEXT never
came or CMD had to be killed, so that FileCheck checks what happened.
"""
import signal
import subprocess
import sys


def main():
    name, text, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
    signo = getattr(signal, "SIG" + name)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    sent = False
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if not sent and text in line:
            proc.send_signal(signo)
            sent = True
    try:
        status = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        print("signal_after: the command did not end within 120 s of the signal")
        return 1
    if not sent:
        print("signal_after: the output never had '%s'" % text)
        return 1
    print("exit status %d" % status if status >= 0 else "killed by signal %d" % -status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
