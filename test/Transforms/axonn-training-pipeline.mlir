// --axonn-training-pipeline runs model-level IR through every stage; with
// --mlir-print-ir-after-all each stage's IR is printed.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-training-pipeline="gpus=16 cluster=%S/Inputs/test-machine.json grid=2x2x2x2" --mlir-print-ir-after-all -o /dev/null 2>&1 | FileCheck %s --check-prefix=STAGES
// STAGES:      IR Dump After PlanPass (axonn-plan)
// STAGES:      axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>
// STAGES:      IR Dump After BuildTrainingStepPass (axonn-build-training-step)
// STAGES:      func.func @train_step(
// STAGES:      IR Dump After ShardPass (axonn-shard)
// STAGES:      #axonn.layout<{{\[\[}}y], [x]], storage = [z]>
// STAGES:      axonn.reshard
// STAGES:      IR Dump After InsertCollectivesPass (axonn-insert-collectives)
// STAGES:      axonn.all_gather {{.*}} over [z]
// STAGES:      IR Dump After ScheduleOverlapPass (axonn-schedule-overlap)
// STAGES:      axonn.all_gather_start
// STAGES:      IR Dump After FuseResidualNormPass (axonn-fuse-residual-norm)
// STAGES:      IR Dump After FuseLinearGeluPass (axonn-fuse-linear-gelu)
// STAGES:      IR Dump After FuseGradAddPass (axonn-fuse-grad-add)
// STAGES:      axonn.layer_norm_grad {{.*}} accumulate
// STAGES:      IR Dump After PlanMemoryPass (axonn-plan-memory)
// STAGES:      axonn.buffers

// The output is the per-rank program: local types, the layout of each
// argument's global tensor, asynchronous collectives and a memory plan.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-training-pipeline="gpus=16 cluster=%S/Inputs/test-machine.json grid=2x2x2x2" | FileCheck %s
// CHECK-LABEL: func.func @train_step(
// CHECK-SAME: tensor<64x32xf32> {axonn.init = #axonn.init<normal, std = 0.02>, axonn.layout = #axonn.layout<{{\[\[}}y], [x]], storage = [z]>, axonn.param = "transformer.wte.weight"}
// CHECK-SAME: axonn.memory_plan = {inputs = 768 : i64, optimizer = 134144 : i64, total = 599296 : i64, weights = 67072 : i64, workspace = 397312 : i64}
// CHECK-NOT: axonn.reshard
// CHECK-NOT: #axonn.layout<{{.*}}>>
// CHECK: axonn.all_gather_start
// CHECK: return

// Its options reach the stages: keep-gathered-weights gathers each stored
// matrix once; recompute=full rebuilds layers in backward.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-training-pipeline="gpus=16 cluster=%S/Inputs/test-machine.json grid=2x2x2x2 keep-gathered-weights=true recompute=full" | FileCheck %s --check-prefix=OPTIONS
// OPTIONS: axonn.recompute = #axonn.recompute<full>
// OPTIONS-LABEL: func.func @train_step(
// OPTIONS-COUNT-10: axonn.all_gather_start
// OPTIONS-NOT: axonn.all_gather_start
// OPTIONS: return

// Every stage's errors surface with their location; no output is written.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | %expect-exit 1 axonn-opt --axonn-training-pipeline="gpus=16 cluster=nowhere" -o %t.out 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not test -e %t.out
// BAD: error: --axonn-plan: cluster='nowhere' is neither a built-in machine (alps, dgx-h100, frontier, perlmutter) nor a readable file
