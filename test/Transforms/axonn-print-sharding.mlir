// --axonn-print-sharding shows what each rank holds and sends: every tensor
// of the sharded step with its global shape, layout, local piece and bytes
// per rank; then the collectives of the per-rank program per layer.
//
// 1. The one-layer model of axonn-insert-collectives.mlir on 2x2x2x2: the
//    local shapes that test checks in the per-rank IR (tokens 2x16, the
//    stored table 16x16 gathered to 32x16, activations 2x16x16, the QKV
//    output 2x16x32 with 2 of 4 heads).
// RUN: axonn-opt %S/axonn-insert-collectives.mlir --axonn-build-training-step --axonn-shard --axonn-print-sharding=overlap=false -o /dev/null | FileCheck %s
// CHECK-LABEL: sharding of @train_step on grid 2x2x2x2
// CHECK-NEXT: tensor  op  global  layout  per rank  bytes/rank
// CHECK-NEXT: tokens  argument  8x16  {{\[\[}}z, data], []]  2x16  128
// CHECK-NEXT: targets argument  8x16  {{\[\[}}z, data], []]  2x16  128
// CHECK-NEXT: wte  argument  64x32  {{\[\[}}y], [x]] storage [z]  16x16  1024
// CHECK-NEXT: h.0.norm_1  argument  32  {{\[\[}}x]]  16  64
// CHECK:      wte  axonn.reshard  64x32  {{\[\[}}y], [x]]  32x16  2048
// CHECK-NEXT: wte  axonn.embedding  8x16x32  {{\[\[}}z, data], [], [x]] partial [y]  2x16x16  2048
// CHECK-NEXT: embedding result  axonn.reshard  8x16x32  {{\[\[}}z, data], [], [x]]  2x16x16  2048
// CHECK-NEXT: h.0.norm_1  axonn.rms_norm  8x16x32  {{\[\[}}z, data], [], [x]]  2x16x16  2048
// CHECK-NEXT: h.0.qkv  axonn.reshard  64x32  {{\[\[}}y], [x]]  32x16  2048
// CHECK-NEXT: h.0.qkv  axonn.linear  8x16x64  {{\[\[}}z, data], [], [y]] partial [x]  2x16x32  4096
// CHECK-NEXT: linear result  axonn.reshard  8x16x64  {{\[\[}}z, data], [], [y]]  2x16x32  4096
// CHECK-NEXT: -  axonn.attention  8x16x32  {{\[\[}}z, data], [], [y]]  2x16x16  2048
// CHECK:      collectives of @train_step (per rank)
// CHECK-NEXT: phase  layer  collective  over  elements  bytes  overlap
// CHECK-NEXT: forward  wte  all_gather  [z]  512  2048  blocking
// CHECK-NEXT: forward  wte  all_reduce  [y]  512  2048  blocking
// CHECK:      per layer
//
// 2. The 2-layer GPT on 2x2x2x2: the collectives of layer 1's forward with
//    the volumes axonn-insert-collectives.mlir's table checks (elements and
//    4 bytes each).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard -o %t.sharded.mlir
// RUN: axonn-opt %t.sharded.mlir --axonn-print-sharding=overlap=false -o /dev/null | FileCheck %s --check-prefix=GPT
// GPT:      forward   transformer.h.1.ln_1.weight          all_reduce     [x]   128   512  blocking
// GPT-NEXT: forward   transformer.h.1.attn.c_attn.weight   all_gather     [z]  3072 12288  blocking
// GPT-NEXT: forward   transformer.h.1.attn.c_attn.weight   all_reduce     [x]  6144 24576  blocking
// GPT-NEXT: forward   transformer.h.1.attn.c_proj.weight   all_gather     [z]  1024  4096  blocking
// GPT-NEXT: forward   transformer.h.1.attn.c_proj.weight   all_reduce     [y]  2048  8192  blocking
// GPT-NEXT: forward   transformer.h.1.ln_2.weight          all_reduce     [x]   128   512  blocking
// GPT-NEXT: forward   transformer.h.1.mlp.c_fc.weight      all_gather     [z]  4096 16384  blocking
// GPT-NEXT: forward   transformer.h.1.mlp.c_fc.weight      all_reduce     [x]  8192 32768  blocking
// GPT-NEXT: forward   transformer.h.1.mlp.c_proj.weight    all_gather     [z]  4096 16384  blocking
// GPT-NEXT: forward   transformer.h.1.mlp.c_proj.weight    all_reduce     [y]  2048  8192  blocking
// GPT-LABEL: per layer
// GPT:       transformer.h.1.attn.c_attn.weight  6  75776  0
//
// 3. Entry by entry: every argument's local shape in the JSON against the
//    per-rank IR, every collective against --axonn-print-collectives of
//    that program.
// RUN: axonn-opt %t.sharded.mlir --axonn-print-sharding="json=true overlap=false" -o /dev/null > %t.json
// RUN: axonn-opt %t.sharded.mlir --axonn-insert-collectives -o %t.rank.mlir
// RUN: axonn-opt %t.rank.mlir --axonn-print-collectives -o /dev/null > %t.table
// RUN: %python %S/../lit/check_sharding.py %t.json %t.rank.mlir %t.table | FileCheck %s --check-prefix=MATCH
// MATCH: 87 argument shapes and 91 collectives match
//
// 4. With the overlap schedule (the default), asynchronous collectives are
//    marked overlapped; the JSON says so too.
// RUN: axonn-opt %t.sharded.mlir --axonn-print-sharding -o /dev/null | FileCheck %s --check-prefix=OVERLAP
// OVERLAP: forward   transformer.h.1.attn.c_attn.weight   all_gather     [z]  3072 12288  overlapped ({{[0-9]+}} ops)
// RUN: axonn-opt %t.sharded.mlir --axonn-print-sharding=json=true -o /dev/null | FileCheck %s --check-prefix=JSON
// JSON: "collectives": [
// JSON: "overlapped": true
// JSON: "function": "train_step",
// JSON-NEXT: "grid": [
// JSON: "tensors": [
// JSON: "bytes_per_rank": 256,
// JSON-NEXT: "global_shape": [
// JSON-NEXT: 8,
// JSON-NEXT: 32
// JSON: "local_shape": [
// JSON-NEXT: 2,
// JSON-NEXT: 32
// JSON: "name": "tokens",
// JSON-NEXT: "op": "argument",
//
// 5. Refusals.
// RUN: not axonn-opt %t.sharded.mlir --axonn-print-sharding=function=nope -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOFUNC
// NOFUNC: error: --axonn-print-sharding: no function @nope (set function=NAME)
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | not axonn-opt --axonn-print-sharding=function=forward -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOGRID
// NOGRID: error: --axonn-print-sharding needs the sharded step (an axonn.grid; run --axonn-plan and --axonn-shard first)
