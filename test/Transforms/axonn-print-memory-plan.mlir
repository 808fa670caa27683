// --axonn-print-memory-plan reports the bytes one rank holds: weights,
// optimizer state and inputs across the step, and the workspace at its
// fullest point by category; next to it, what the planner's cost model
// predicted for the grid it chose.
//
// tiny-gpt on 2x2x2x2 without recompute: the peak comes in the loss's
// backward, when every saved activation and the logits' gradient are live;
// the one communication buffer then is the gathered tied table
// (256/Gy x 64/Gx = 4096 f32 = 16384 B). The cost model is conservative by
// a quarter here (it adds a whole gradient set and two gathered weights to
// the activations, which are never live together).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-schedule-overlap --axonn-print-memory-plan -o /dev/null | FileCheck %s
// CHECK-LABEL: memory plan of @train_step (bytes per rank)
// CHECK-NEXT:   weights                            67072 B        0.064 MiB
// CHECK-NEXT:   optimizer state                   134144 B        0.128 MiB
// CHECK-NEXT:   inputs                               768 B        0.001 MiB
// CHECK-NEXT:   workspace at its peak (after 'axonn.cross_entropy_grad'):
// CHECK-NEXT:     gradients                            0 B        0.000 MiB
// CHECK-NEXT:     activations                     346112 B        0.330 MiB
// CHECK-NEXT:     communication buffers            16384 B        0.016 MiB
// CHECK-NEXT:     fragmentation                    34816 B        0.033 MiB
// CHECK-NEXT:   workspace                         397312 B        0.379 MiB
// CHECK-NEXT:   total                             599296 B        0.572 MiB
// CHECK-NEXT:   planner predicted                 777216 B        0.741 MiB  (plan / predicted = 0.77)
//
// Full recompute keeps one layer's activations at a time: activations
// halve, and the peak moves into a layer's backward, where whole weight
// gradients wait for their reduce-scatters (one bucket for this model).
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-plan="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2 recompute=full" --axonn-build-training-step --axonn-shard --axonn-insert-collectives --axonn-schedule-overlap --axonn-print-memory-plan -o /dev/null | FileCheck %s --check-prefix=FULL
// FULL-LABEL: memory plan of @train_step (bytes per rank)
// FULL: workspace at its peak (after 'axonn.gelu_grad'):
// FULL-NEXT:     gradients                       118016 B
// FULL-NEXT:     activations                     172800 B
// FULL: total                             525568 B
// FULL-NEXT: planner predicted                 662016 B        0.631 MiB  (plan / predicted = 0.79)

// Without a plan on the module, there is no prediction to print.
// RUN: axonn-opt %s --axonn-print-memory-plan -o /dev/null | FileCheck %s --check-prefix=BARE
// BARE-LABEL: memory plan of @f (bytes per rank)
// BARE:        inputs                              1024 B
// BARE:          activations                       1024 B
// BARE:        total                               2048 B
// BARE-NOT: planner predicted
func.func @f(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %y = axonn.gelu %x tanh : tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}
