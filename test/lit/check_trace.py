"""Checks the Chrome traces of a training run (the driver's --trace).

    check_trace.py TRACE_DIR RANKS METRICS_JSONL

Each rank's trace-rank-N.json must parse as Chrome trace JSON (an object
with traceEvents; complete events with ts and dur >= 0; every async begin
matched by an end of the same id), hold kernels, collectives and data
loading, and for rank 0 each "step N" event must have the step time the
log recorded (METRICS_JSONL's seconds, to 1%), with the kernels, collective
starts and waits inside it adding up to that time within 5%. Prints one
line per step; exit 1 on the first violation.
"""
import json
import sys

trace_dir, ranks, metrics = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


logged = {}
for line in open(metrics):
    record = json.loads(line)
    logged[record["step"]] = record["seconds"]

for rank in range(ranks):
    path = "%s/trace-rank-%d.json" % (trace_dir, rank)
    trace = json.load(open(path))
    events = trace.get("traceEvents")
    if not isinstance(events, list) or not events:
        fail("%s has no traceEvents" % path)
    open_spans = {}
    categories = set()
    for e in events:
        for key in ("name", "ph", "pid"):
            if key not in e:
                fail("%s: an event without %s: %s" % (path, key, e))
        if e["ph"] == "X":
            if e["dur"] < 0 or e["ts"] < 0:
                fail("%s: negative time in %s" % (path, e))
            categories.add(e["cat"])
        elif e["ph"] == "b":
            open_spans[e["id"]] = e
        elif e["ph"] == "e":
            if e["id"] not in open_spans:
                fail("%s: end without begin: %s" % (path, e))
            if open_spans.pop(e["id"])["name"] != e["name"]:
                fail("%s: begin and end of %d differ" % (path, e["id"]))
        elif e["ph"] != "M":
            fail("%s: unexpected phase %s" % (path, e["ph"]))
    if open_spans:
        fail("%s: %d collectives never waited for" % (path, len(open_spans)))
    for wanted in ("compute", "optimizer", "exposed", "data", "step"):
        if wanted not in categories:
            fail("%s has no %s events" % (path, wanted))
    if rank != 0:
        continue
    steps = [e for e in events if e.get("cat") == "step"]
    timed = [e for e in events if e["ph"] == "X"
             and e["cat"] in ("compute", "optimizer", "exposed")]
    if len(steps) != len(logged):
        fail("%d step events, %d logged steps" % (len(steps), len(logged)))
    for s in steps:
        n = int(s["name"].split()[1])
        begin, end = s["ts"], s["ts"] + s["dur"]
        inside = sum(e["dur"] for e in timed
                     if e["ts"] >= begin and e["ts"] + e["dur"] <= end)
        log_us = logged[n] * 1e6
        if abs(s["dur"] - log_us) > 0.01 * log_us:
            fail("step %d lasts %.1f us in the trace, %.1f us in the log"
                 % (n, s["dur"], log_us))
        share = inside / log_us
        print("step %d: %.1f ms logged, events inside %.1f%%" % (n, log_us / 1e3, 100 * share))
        if not 0.95 <= share <= 1.0 + 1e-6:
            fail("step %d: its events add up to %.1f%% of the step" % (n, 100 * share))
print("%d traces valid, %d steps within 5%%" % (ranks, len(logged)))
