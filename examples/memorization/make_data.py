#!/usr/bin/env python3
"""Data of the memorization experiment.

    make_data.py OUT [--canaries 16] [--copies 40] [--seed 7]

Writes OUT/canaries/canary-NN.txt (documents of random words that appear
in no other text, about 200 bytes each), OUT/train.txt (the license texts
Debian ships, except the held-out ones, with COPIES copies of every canary
spread through them at random places) and OUT/val.txt (held-out license
texts, no canaries).
"""
import argparse
import os
import random

LICENSES = "/usr/share/common-licenses"
HELD_OUT = {"MPL-2.0", "Artistic"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--canaries", type=int, default=16)
    p.add_argument("--copies", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(os.path.join(a.out, "canaries"), exist_ok=True)
    letters = "abcdefghijklmnopqrstuvwxyz"
    canaries = []
    for i in range(a.canaries):
        words = ["".join(rng.choice(letters) for _ in range(rng.randint(3, 8)))
                 for _ in range(32)]
        text = "Canary %02d: %s.\n" % (i, " ".join(words))
        canaries.append(text)
        with open(os.path.join(a.out, "canaries", "canary-%02d.txt" % i), "w") as f:
            f.write(text)
    ordinary, held = [], []
    for name in sorted(os.listdir(LICENSES)):
        path = os.path.join(LICENSES, name)
        if os.path.islink(path) or not os.path.isfile(path):
            continue
        with open(path, encoding="latin-1") as f:
            (held if name in HELD_OUT else ordinary).append(f.read())
    # Paragraphs of ordinary text with the canary copies shuffled in.
    pieces = [para + "\n\n" for text in ordinary for para in text.split("\n\n")]
    pieces += [c for c in canaries for _ in range(a.copies)]
    rng.shuffle(pieces)
    with open(os.path.join(a.out, "train.txt"), "w", encoding="latin-1") as f:
        f.write("".join(pieces))
    with open(os.path.join(a.out, "val.txt"), "w", encoding="latin-1") as f:
        f.write("".join(held))
    print("make_data: %d canaries x %d copies in %d bytes of training text, "
          "%d bytes held out" % (a.canaries, a.copies,
                                 sum(len(x) for x in pieces),
                                 sum(len(x) for x in held)))


if __name__ == "__main__":
    main()
