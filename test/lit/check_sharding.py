"""Cross-checks --axonn-print-sharding against the per-rank program.

    check_sharding.py SHARDING_JSON PER_RANK_IR COLLECTIVES_TABLE

Entry by entry: every argument's local shape in the JSON equals the type of
that argument in the per-rank @train_step (after
--axonn-insert-collectives), and the JSON's collectives equal, row by row,
what --axonn-print-collectives lists for that program (phase, layer, kind,
axes, elements). Prints the counts; exit 1 on the first difference.
"""
import json
import re
import sys

sharding = json.load(open(sys.argv[1]))
ir = open(sys.argv[2]).read()
table = open(sys.argv[3]).read().splitlines()


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


signature = re.search(r"func\.func @train_step\((.*?)\) -> ", ir, re.S).group(1)
types = re.findall(r"%arg\d+: tensor<([^,>]*?)x?(?:[if]\d+)(?:,[^>]*)?>", signature)
local = [t.rstrip("x") for t in types]
arguments = [t for t in sharding["tensors"] if t["op"] == "argument"]
if len(arguments) != len(local):
    fail("%d arguments in the JSON, %d in the per-rank IR" % (len(arguments), len(local)))
for t, want in zip(arguments, local):
    got = "x".join(str(d) for d in t["local_shape"])
    if got != want:
        fail("%s: local shape %s, per-rank IR %s" % (t["name"], got, want))

rows = []
inside = False
for line in table:
    if line.startswith("collectives of @"):
        inside = line.startswith("collectives of @train_step")
    if not inside:
        continue
    m = re.match(r"(forward|backward|optimizer)\s+(.+?)\s+(all_gather|all_reduce|reduce_scatter)\s+(\[[^\]]*\])\s+(\d+)\s", line)
    if m:
        rows.append((m.group(1), m.group(2), m.group(3), m.group(4), int(m.group(5))))
got = [(c["phase"], c["layer"], c["kind"], c["axes"], c["elements"]) for c in sharding["collectives"]]
if len(got) != len(rows):
    fail("%d collectives in the JSON, %d listed" % (len(got), len(rows)))
for i, (g, w) in enumerate(zip(got, rows)):
    if g != w:
        fail("collective %d: %s, listed %s" % (i, g, w))
print("%d argument shapes and %d collectives match" % (len(local), len(rows)))
