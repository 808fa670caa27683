#!/usr/bin/env python3
"""split_tokens.py SRC PREFIX N

Splits token file SRC (llm.c's format: a header of 256 int32, magic
20240520, version 1 for uint16 tokens or 2 for uint32, the token count;
then the tokens) into N shards PREFIX000000.bin, PREFIX000001.bin, ... of
about equal size and the same version, as llm.c's scripts write a large
corpus (fineweb_train_000001.bin, ...). Their concatenation is SRC's tokens.
"""
import struct
import sys


def main():
    src, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = open(src, "rb").read()
    header = list(struct.unpack("<256i", data[:1024]))
    width = 2 if header[1] == 1 else 4
    count = header[2]
    body = data[1024 : 1024 + count * width]
    cuts = [count * i // n for i in range(n + 1)]
    for i in range(n):
        part = body[cuts[i] * width : cuts[i + 1] * width]
        header[2] = cuts[i + 1] - cuts[i]
        with open("%s%06d.bin" % (prefix, i), "wb") as f:
            f.write(struct.pack("<256i", *header) + part)


if __name__ == "__main__":
    main()
