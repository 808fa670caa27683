#!/usr/bin/env python3
"""hf_export.py SRC DST [--strip-prefix] [--shards N]

Writes the parameters of checkpoint directory SRC (its model.safetensors)
into DST as Hugging Face publishes models, for the tests of --init-from:

  --strip-prefix  names without the base model's prefix ("transformer." of
                  GPT-2, "model." of Llama), as the GPT-2 models on the
                  Hugging Face hub name them (h.0.attn.c_attn.weight), and
                  for GPT-2 each layer's causal-mask buffer h.N.attn.bias
                  (shape [1, 1, 8, 8] here), which a loader passes over;
  --shards N      N files model-0000i-of-0000N.safetensors and the index
                  model.safetensors.index.json ({"metadata": {"total_size"},
                  "weight_map": {tensor: shard}}) instead of one
                  model.safetensors.

The tensors' bytes are copied unchanged.
"""
import json
import os
import re
import shutil
import struct
import sys


def read(path):
    data = open(path, "rb").read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        tensors[name] = (entry["dtype"], entry["shape"], body[begin:end])
    return tensors


def write(path, tensors):
    header, body = {"__metadata__": {"format": "pt"}}, b""
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(body), len(body) + len(data)]}
        body += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + body)


def main():
    args = sys.argv[1:]
    strip = "--strip-prefix" in args
    shards = int(args[args.index("--shards") + 1]) if "--shards" in args else 0
    src, dst = [a for i, a in enumerate(args)
                if not a.startswith("--") and (i == 0 or args[i - 1] != "--shards")]
    tensors = read(os.path.join(src, "model.safetensors"))
    if strip:
        renamed = {}
        for name, value in tensors.items():
            for prefix in ("transformer.", "model."):
                if name.startswith(prefix):
                    name = name[len(prefix):]
            renamed[name] = value
            match = re.fullmatch(r"h\.(\d+)\.ln_1\.weight", name)
            if match:
                mask = struct.pack("<64f", *[1.0 if j <= i else 0.0
                                             for i in range(8) for j in range(8)])
                renamed["h.%s.attn.bias" % match.group(1)] = ("F32", [1, 1, 8, 8], mask)
        tensors = renamed
    shutil.rmtree(dst, ignore_errors=True)
    os.makedirs(dst)
    if not shards:
        write(os.path.join(dst, "model.safetensors"), tensors)
        return
    names = list(tensors)
    weight_map, total = {}, 0
    for s in range(shards):
        file = "model-%05d-of-%05d.safetensors" % (s + 1, shards)
        part = {n: tensors[n] for n in names[s::shards]}
        write(os.path.join(dst, file), part)
        for n, (_, _, data) in part.items():
            weight_map[n] = file
            total += len(data)
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(dst, "model.safetensors.index.json"), "w"), indent=2)


if __name__ == "__main__":
    main()
