// --axonn-plan-scaling plans the model for every power of two from `from`
// to `to` GPUs, at the spec's batch (strong) and at a batch grown with the
// GPU count (weak), and reports; the IR is not changed. The one-layer model
// has a batch of 8 sequences: 16 GPUs can no longer split it over z * data
// alone, and the weak batch grows from 8 (1 GPU) to 128 (16 GPUs).
// RUN: rm -rf %t && mkdir -p %t
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan-scaling="cluster=%S/Inputs/test-machine.json from=1 to=16 csv=%t/scaling.csv" 2>&1 | FileCheck %s
// CHECK: scaling of @forward on test-machine: strong at the spec's batch (8 x 16 tokens); weak with the tokens per GPU of the first strong plan
// CHECK-NEXT: GPUs | strong grid step TFLOP/s MFU eff | batch weak grid step TFLOP/s MFU eff
// The first count is the reference of both efficiencies.
// CHECK-NEXT: 1 | 1x1x1x1 1.953 us {{.*}} 100.0% | 8 1x1x1x1 1.953 us {{.*}} 100.0%
// Strong efficiency is T(1) * 1 / (T(2) * 2) = 1.953 / (1.347 * 2).
// CHECK-NEXT: 2 | 1x1x2x1 1.347 us {{.*}} 72.5% | 16 1x1x2x1
// CHECK-NEXT: 4 | {{.*}} | 32
// CHECK-NEXT: 8 | {{.*}} | 64
// CHECK-NEXT: 16 | {{.*}} | 128
// The IR comes out unchanged: no grid is chosen.
// CHECK-NOT: axonn.grid
// CHECK: axonn.lm_head_loss

// RUN: FileCheck %s --check-prefix=CSV --input-file=%t/scaling.csv
// CSV: gpus,strong_grid,strong_step_s,strong_tflops_per_gpu,strong_mfu,strong_efficiency,weak_batch,weak_grid,weak_step_s,weak_tflops_per_gpu,weak_mfu,weak_efficiency
// CSV-NEXT: 1,1x1x1x1,1.953152E-06,{{[0-9.]+}},{{[0-9.]+}},1.0000,8,1x1x1x1,1.953152E-06,{{[0-9.]+}},{{[0-9.]+}},1.0000
// CSV-NEXT: 2,1x1x2x1,1.346616E-06,{{[0-9.]+}},{{[0-9.]+}},0.7252,16,
// CSV-COUNT-3: {{^[0-9]+,.*$}}
// CSV-NOT: {{.}}

// A count with no plan says why: a machine too small for the model.
// RUN: axonn-opt %S/Inputs/one-layer.mlir --axonn-plan-scaling="cluster=%S/Inputs/no-memory-machine.json from=4 to=8" -o /dev/null 2>&1 | FileCheck %s --check-prefix=NONE
// NONE: 4 | no grid fits in memory {{ *}}| 0 no count has a plan at the spec's batch
// NONE-NEXT: 8 | no grid fits in memory {{ *}}| 0 no count has a plan at the spec's batch

// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan-scaling="cluster=%S/Inputs/test-machine.json from=16 to=8" 2>&1 | FileCheck %s --check-prefix=BAD-RANGE
// BAD-RANGE: error: --axonn-plan-scaling: need 1 <= from <= to <= 2^24, got from=16 to=8
// (to=2^63 grew to 24 GB before the kernel killed it)
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan-scaling="cluster=%S/Inputs/test-machine.json from=1 to=9223372036854775807" 2>&1 | FileCheck %s --check-prefix=HUGE-RANGE
// HUGE-RANGE: error: --axonn-plan-scaling: need 1 <= from <= to <= 2^24, got from=1 to=9223372036854775807
// RUN: %expect-exit 1 axonn-opt %S/Inputs/one-layer.mlir --axonn-plan-scaling="cluster=%S/Inputs/test-machine.json csv=%t/no/such/dir/x.csv from=1 to=2" 2>&1 | FileCheck %s --check-prefix=BAD-CSV
// BAD-CSV: error: --axonn-plan-scaling: cannot write '{{.*}}x.csv': {{.*}}
