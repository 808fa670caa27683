#!/usr/bin/env python3
"""damage_checkpoint.py KIND SRC DST

Copies checkpoint directory SRC (model.safetensors, optimizer.safetensors,
trainer.json) to DST and damages it as KIND says, for the tests that check
that a training binary refuses it with a message:

  offsets-one    a tensor's data_offsets with one number instead of two
  overlap        a tensor's data over another's (the file's size unchanged)
  trailing       four bytes after the last tensor's data
  shape-half     a tensor's shape with 64.5 for 64
  step-negative  trainer.json's step -1
  step-string    trainer.json's step "2"
  version        trainer.json's version 3
  files-missing  trainer.json without its "files" (sizes and checksums)
  flip-model     the lowest bit of a float in model.safetensors' data
                 flipped (the value changes by one unit in the last place)
  flip-optimizer the same in optimizer.safetensors
  extra-tensor   (not damage) one more tensor, of a dtype no model here
                 reads (C64), which a loader must pass over
  version-1      (not damage) trainer.json as version 1 wrote it, without
                 "files", which a loader must still read

Where a kind changes a safetensors file other than by a flip, trainer.json's
size and CRC-32 of it are brought up to date, so that what is tested is
the file's structure, not its checksum.
"""
import json
import os
import shutil
import struct
import sys
import zlib


def rewrite_header(path, change):
    data = open(path, "rb").read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    change(header)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data[8 + length :])


def last_tensor(header):
    names = [n for n in header if n != "__metadata__"]
    return max(names, key=lambda n: header[n]["data_offsets"][1])


def main():
    kind, src, dst = sys.argv[1:]
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    model = os.path.join(dst, "model.safetensors")
    trainer = os.path.join(dst, "trainer.json")
    if kind == "offsets-one":
        def change(h):
            h[last_tensor(h)]["data_offsets"] = h[last_tensor(h)]["data_offsets"][:1]
        rewrite_header(model, change)
    elif kind == "overlap":
        def change(h):
            name = last_tensor(h)
            begin, end = h[name]["data_offsets"]
            h[name]["data_offsets"] = [0, end - begin]
        rewrite_header(model, change)
    elif kind == "extra-tensor":
        data = open(model, "rb").read()
        (length,) = struct.unpack("<Q", data[:8])
        end = len(data) - 8 - length
        with open(model, "ab") as f:
            f.write(b"\0" * 8)
        def change(h):
            h["extra.unknown"] = {"dtype": "C64", "shape": [1],
                                  "data_offsets": [end, end + 8]}
        rewrite_header(model, change)
    elif kind == "trailing":
        with open(model, "ab") as f:
            f.write(b"\0\0\0\0")
    elif kind == "shape-half":
        def change(h):
            name = last_tensor(h)
            h[name]["shape"] = [d + 0.5 for d in h[name]["shape"]]
        rewrite_header(model, change)
    elif kind in ("flip-model", "flip-optimizer"):
        path = model if kind == "flip-model" else os.path.join(dst, "optimizer.safetensors")
        data = bytearray(open(path, "rb").read())
        (length,) = struct.unpack("<Q", data[:8])
        data[8 + length] ^= 1
        open(path, "wb").write(bytes(data))
        return
    elif kind in ("step-negative", "step-string", "version", "files-missing",
                  "version-1"):
        description = json.load(open(trainer))
        if kind == "step-negative":
            description["step"] = -1
        elif kind == "step-string":
            description["step"] = str(description["step"])
        elif kind == "version":
            description["version"] = 3
        else:
            del description["files"]
            if kind == "version-1":
                description["version"] = 1
        json.dump(description, open(trainer, "w"))
        return
    else:
        sys.exit("damage_checkpoint.py: unknown kind " + kind)
    # (the file's new size and checksum)
    description = json.load(open(trainer))
    data = open(model, "rb").read()
    description["files"]["model.safetensors"] = {"bytes": len(data),
                                                 "crc32": zlib.crc32(data)}
    json.dump(description, open(trainer, "w"))


if __name__ == "__main__":
    main()
