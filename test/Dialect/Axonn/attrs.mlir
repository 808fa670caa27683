// Every axonn attribute and type prints and parses back to the same text.
// RUN: axonn-opt %s -split-input-file -allow-unregistered-dialect | FileCheck %s
// RUN: axonn-opt %s -split-input-file -allow-unregistered-dialect | axonn-opt -split-input-file -allow-unregistered-dialect | FileCheck %s

// CHECK-LABEL: #cluster = #axonn.cluster<name = "perlmutter", gpus = 16, gpus_per_node = 4, nics_per_node = 4, intra_node_bandwidth = 2.25e+11, inter_node_bandwidth = 2.0e+10, intra_node_latency = 5.0e-06, inter_node_latency = 1.0e-05, peak_flops = 3.12e+14, memory = 42949672960, memory_bandwidth = 1.555e+12, gemm_efficiency = [64: 0.2, 512: 0.6, 4096: 0.75]>
// CHECK-NEXT: #training = #axonn.training<global_batch = 16, seq_len = 1024, lr = 0.0006, min_lr = 0.0, warmup_steps = 700, steps = 19073, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 1337>
module attributes {
  axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>,
  axonn.cluster = #axonn.cluster<name = "perlmutter", gpus = 16, gpus_per_node = 4,
      nics_per_node = 4, intra_node_bandwidth = 2.25e11, inter_node_bandwidth = 2.0e10,
      intra_node_latency = 5.0e-6, inter_node_latency = 1.0e-5, peak_flops = 3.12e14,
      memory = 42949672960, memory_bandwidth = 1.555e12,
      gemm_efficiency = [64: 0.2, 512: 0.6, 4096: 0.75]>,
  axonn.training = #axonn.training<global_batch = 16, seq_len = 1024, lr = 6.0e-4,
      min_lr = 0.0, warmup_steps = 700, steps = 19073, schedule = cosine, beta1 = 0.9,
      beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.1, grad_clip = 1.0, seed = 1337>} {
  // Layouts are tensor encodings, printed in place (no aliases: a reader
  // sees each value's layout where it is).
  // CHECK: module attributes {axonn.cluster = #cluster, axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>, axonn.training = #training}
  // CHECK-LABEL: func.func @layouts
  // CHECK-SAME: (%{{.*}}: tensor<3072x768xf32, #axonn.layout<{{\[\[}}y], [x]], storage = [z]>> {axonn.init = #axonn.init<normal, std = 0.02>, axonn.param = "h.0.mlp.c_fc.weight"},
  // CHECK-SAME: %{{.*}}: tensor<16x1024x768xf32, #axonn.layout<{{\[\[}}z, data], [], [x]]>>,
  // CHECK-SAME: %{{.*}}: tensor<3072xf32, #axonn.layout<{{\[\[}}y]], storage = [z]>> {axonn.init = #axonn.init<zeros>, axonn.param = "h.0.mlp.c_fc.bias"},
  // CHECK-SAME: %{{.*}}: tensor<768xf32> {axonn.init = #axonn.init<ones>, axonn.param = "h.0.ln_2.weight"})
  // CHECK-SAME: -> (tensor<16x1024x3072xf32, #axonn.layout<{{\[\[}}z, data], [], [y]], partial = [x]>>, tensor<f32, #axonn.layout<[]>>)
  func.func @layouts(
      %w: tensor<3072x768xf32, #axonn.layout<[[y], [x]], storage = [z]>>
          {axonn.param = "h.0.mlp.c_fc.weight", axonn.init = #axonn.init<normal, std = 0.02>},
      %x: tensor<16x1024x768xf32, #axonn.layout<[[z, data], [], [x]]>>,
      %b: tensor<3072xf32, #axonn.layout<[[y]], storage = [z]>>
          {axonn.param = "h.0.mlp.c_fc.bias", axonn.init = #axonn.init<zeros>},
      %g: tensor<768xf32> {axonn.param = "h.0.ln_2.weight", axonn.init = #axonn.init<ones>})
      -> (tensor<16x1024x3072xf32, #axonn.layout<[[z, data], [], [y]], partial = [x]>>,
          tensor<f32, #axonn.layout<[]>>) {
    %y = "test.partial"(%x, %w) : (tensor<16x1024x768xf32, #axonn.layout<[[z, data], [], [x]]>>, tensor<3072x768xf32, #axonn.layout<[[y], [x]], storage = [z]>>) -> tensor<16x1024x3072xf32, #axonn.layout<[[z, data], [], [y]], partial = [x]>>
    %s = "test.scalar"() : () -> tensor<f32, #axonn.layout<[]>>
    return %y, %s : tensor<16x1024x3072xf32, #axonn.layout<[[z, data], [], [y]], partial = [x]>>, tensor<f32, #axonn.layout<[]>>
  }
}

// -----

// Axes, schedules and init kinds in all their spellings.
// CHECK: #training = #axonn.training<{{.*}}schedule = constant{{.*}}>
// CHECK: #training1 = #axonn.training<{{.*}}schedule = linear{{.*}}beta2 = 0.999{{.*}}>
// CHECK-LABEL: func.func @spellings
func.func @spellings() {
  // CHECK: "test.op"() {axes = #axonn.axes<x, y, z, data>, empty = #axonn.axes<>, grid = #axonn.grid<x = 1, y = 8, z = 1, data = 64>}
  "test.op"() {axes = #axonn.axes<x, y, z, data>, empty = #axonn.axes<>, grid = #axonn.grid<x = 1, y = 8, z = 1, data = 64>} : () -> ()
  // CHECK: "test.op"() {a = #training, b = #training1}
  "test.op"() {a = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 1.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.0, beta2 = 0.0, eps = 1.0, weight_decay = 0.0, grad_clip = 0.0, seed = 0>,
               b = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.5, warmup_steps = 1, steps = 1, schedule = linear, beta1 = 0.5, beta2 = 0.999, eps = 1.0e-6, weight_decay = 0.0, grad_clip = 0.0, seed = 7>} : () -> ()
  // CHECK: "test.op"() {c = #axonn.init<normal, std = 1.0>, d = #axonn.init<normal, std = 1.0e-300>}
  "test.op"() {c = #axonn.init<normal, std = 1.0>, d = #axonn.init<normal, std = 1.0e-300>} : () -> ()
  return
}
