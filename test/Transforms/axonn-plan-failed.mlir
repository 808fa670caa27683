// Every way --axonn-plan refuses, each a diagnostic and exit status 1.
// (The model is Inputs/one-layer.mlir, as in axonn-plan.mlir.)

// A forced grid that breaks a divisibility rule names the rule and the
// three best feasible grids.
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=1x1x1x16" 2>&1 | FileCheck %s --check-prefix=DIVISIBILITY
// DIVISIBILITY: one-layer.mlir:1:1: error: grid 1x1x1x16 cannot run: global batch (8 sequences) is not divisible by Gz * Gdata = 16; the best feasible grids are 4x2x1x2 ({{.*}} per step, 120.9 KiB per GPU), 4x2x2x1 ({{.*}}), 2x4x1x2 ({{.*}})

// A forced grid that does not fit says how much it needs.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | %expect-exit 1 axonn-opt --axonn-plan="cluster=%S/Inputs/no-memory-machine.json gpus=4 grid=2x2x1x1" 2>&1 | FileCheck %s --check-prefix=MEMORY
// MEMORY: error: grid 2x2x1x1 cannot run: needs 1.5 MiB per GPU (weights 123.5 KiB, optimizer 247.0 KiB, gradients 123.5 KiB, gathered weights 168.0 KiB, activations 898.0 KiB) but 967 B are usable even with full activation recompute; no grid of 4 GPUs can

// No feasible grid at all: counts and an example of each reason.
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/no-memory-machine.json gpus=16" 2>&1 | FileCheck %s --check-prefix=NONE-FITS
// NONE-FITS: error: no grid of 16 GPUs can run this model: 9 grids break a divisibility rule (e.g. 1x1x1x16: global batch (8 sequences) is not divisible by Gz * Gdata = 16) and 26 do not fit in memory (e.g. 1x2x1x8: needs {{.*}} but 967 B are usable even with full activation recompute)
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=3" 2>&1 | FileCheck %s --check-prefix=NONE-DIVIDES
// NONE-DIVIDES: error: no grid of 3 GPUs can run this model: 4 grids break a divisibility rule (e.g. 1x1x1x3: global batch (8 sequences) is not divisible by Gz * Gdata = 3) and 0 do not fit in memory

// Options.
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="gpus=16" 2>&1 | FileCheck %s --check-prefix=NO-CLUSTER
// NO-CLUSTER: error: --axonn-plan needs a cluster: give the spec a cluster section or pass cluster=<alps|dgx-h100|frontier|perlmutter|machine.json>
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=summit gpus=16" 2>&1 | FileCheck %s --check-prefix=BAD-CLUSTER
// BAD-CLUSTER: error: --axonn-plan: cluster='summit' is neither a built-in machine (alps, dgx-h100, frontier, perlmutter) nor a readable file: No such file or directory
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=6" 2>&1 | FileCheck %s --check-prefix=BAD-GPUS
// BAD-GPUS: error: --axonn-plan: gpus=6: cluster 'gpus' (6) must be a multiple of 'gpus_per_node' (4) when it spans several nodes
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2" 2>&1 | FileCheck %s --check-prefix=BAD-GRID
// BAD-GRID: error: --axonn-plan: grid='2x2x2' is not Gx x Gy x Gz x Gdata, e.g. 2x2x2x2, of at most 2^24 ranks
// (2^64 ranks overflowed to "0 ranks")
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=65536x65536x65536x65536" 2>&1 | FileCheck %s --check-prefix=HUGE-GRID
// HUGE-GRID: error: --axonn-plan: grid='65536x65536x65536x65536' is not Gx x Gy x Gz x Gdata, e.g. 2x2x2x2, of at most 2^24 ranks
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x4" 2>&1 | FileCheck %s --check-prefix=GRID-WORLD
// GRID-WORLD: error: grid 2x2x2x4 has 32 ranks but the cluster has 16 GPUs
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 recompute=selective" 2>&1 | FileCheck %s --check-prefix=BAD-RECOMPUTE
// BAD-RECOMPUTE: error: --axonn-plan: recompute='selective' is not one of auto, none, full

// A broken machine file is reported inside the file.
// RUN: rm -rf %t && mkdir -p %t
// RUN: echo '{"name": "m", "gpus_per_node": 4}' > %t/machine.json
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan="cluster=%t/machine.json" 2>&1 | FileCheck %s --check-prefix=BROKEN-MACHINE
// BROKEN-MACHINE: machine.json:1:1: error: missing required key 'cluster.nics_per_node'

// Modules without exactly one model-level function.
// RUN: echo 'module {}' > %t/empty.mlir
// RUN: %expect-exit 1 axonn-opt %t/empty.mlir --axonn-plan="cluster=perlmutter" 2>&1 | FileCheck %s --check-prefix=NO-MODEL
// NO-MODEL: empty.mlir:1:1: error: no model-level forward function (one holding axonn.embedding and no optimizer) for --axonn-plan
