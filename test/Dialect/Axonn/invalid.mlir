// Every verifier error of the axonn dialect, at the location it points to.
// RUN: axonn-opt %s -split-input-file -verify-diagnostics -allow-unregistered-dialect
// And each case on its own exits with status 1 and a located error.
// RUN: %check-bad-inputs --min 80 -- axonn-opt -allow-unregistered-dialect -- %s | FileCheck %s --check-prefix=EXIT
// EXIT: checked {{[0-9]+}} inputs, 0 failed

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

// expected-error @+1 {{grid axis 'z' must have at least one rank, got 0}}
"test.op"() {g = #axonn.grid<x = 2, y = 2, z = 0, data = 1>} : () -> ()

// -----

// expected-error @+1 {{grid axis 'y' appears more than once}}
"test.op"() {a = #axonn.axes<y, x, y>} : () -> ()

// -----

// expected-error @+1 {{unknown grid axis 'w', expected one of x, y, z, data}}
"test.op"() {a = #axonn.axes<x, w>} : () -> ()

// -----

// expected-error @+1 {{grid axis 'x' is used more than once in the layout (again in split)}}
"test.op"() : () -> tensor<4x4xf32, #axonn.layout<[[x], [x]]>>

// -----

// expected-error @+1 {{grid axis 'z' is used more than once in the layout (again in storage)}}
"test.op"() : () -> tensor<4x4xf32, #axonn.layout<[[z], []], storage = [z]>>

// -----

// expected-error @+1 {{grid axis 'x' is used more than once in the layout (again in partial)}}
"test.op"() : () -> tensor<4x4xf32, #axonn.layout<[[], [x]], partial = [x]>>

// -----

// expected-error @+1 {{unknown layout key 'replicated', expected 'partial' or 'storage'}}
"test.op"() : () -> tensor<4xf32, #axonn.layout<[[]], replicated = [x]>>

// -----

// expected-error @+1 {{cluster 'gpus' must be at least 1, got 0}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 0, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'gpus_per_node' must be at least 1, got 0}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 0, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'nics_per_node' must be at least 1, got 0}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 0, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'gpus' (12) must be a multiple of 'gpus_per_node' (8) when it spans several nodes}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 12, gpus_per_node = 8, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'inter_node_bandwidth' must be positive and finite, got 0}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 0.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'intra_node_latency' must be non-negative and finite, got -1}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = -1.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'peak_flops' must be positive and finite}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 0x7FF0000000000000, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'memory' must be positive, got 0}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 0, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'memory_bandwidth' must be positive and finite, got 0}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 0.0>} : () -> ()

// -----

// expected-error @+1 {{cluster 'gemm_efficiency' sizes must be positive and increasing, got 64 at entry 1}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0, gemm_efficiency = [128: 0.5, 64: 0.6]>} : () -> ()

// -----

// expected-error @+1 {{cluster 'gemm_efficiency' fractions must be in (0, 1], got 1.5 for size 128}}
"test.op"() {c = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0, gemm_efficiency = [128: 1.5]>} : () -> ()

// -----

// expected-error @+1 {{training 'global_batch' must be at least 1, got 0}}
"test.op"() {t = #axonn.training<global_batch = 0, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'seq_len' must be at least 1, got -4}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = -4, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'lr' must be non-negative, got -1}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = -1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'min_lr' must be in [0, lr = 0.5], got 1}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.5, min_lr = 1.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'steps' must be at least 1, got 0}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 0, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'warmup_steps' must be in [0, steps = 10], got 11}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 11, steps = 10, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'beta2' must be in [0, 1), got 1}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 1.0, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'eps' must be positive, got 0}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 0.0, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'weight_decay' must be non-negative, got -0.1}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = -0.1, grad_clip = 0.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'grad_clip' must be non-negative (0 disables), got -1}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = -1.0, seed = 0>} : () -> ()

// -----

// expected-error @+1 {{training 'seed' must be non-negative, got -5}}
"test.op"() {t = #axonn.training<global_batch = 1, seq_len = 1, lr = 1.0, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8, weight_decay = 0.0, grad_clip = 0.0, seed = -5>} : () -> ()

// -----

// expected-error @+1 {{normal init needs a positive 'std', got 0}}
"test.op"() {i = #axonn.init<normal>} : () -> ()

// -----

// expected-error @+1 {{goldfish k must be at least 2 (drop 1 in k targets), got 1}}
"test.op"() {g = #axonn.goldfish<strategy = hash, k = 1, h = 13>} : () -> ()

// -----

// expected-error @+1 {{goldfish h must be at least 1 (the hashed context), got 0}}
"test.op"() {g = #axonn.goldfish<strategy = static, k = 4, h = 0>} : () -> ()

// -----

// expected-error @+1 {{zeros init takes no 'std'}}
"test.op"() {i = #axonn.init<zeros, std = 0.5>} : () -> ()

//===----------------------------------------------------------------------===//
// Module attributes
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'axonn.training' must be a #axonn.training attribute}}
module attributes {axonn.training = 3 : i64} {}

// -----

// expected-error @+1 {{'axonn.cluster' may only be attached to a builtin.module}}
"test.op"() {axonn.cluster = #axonn.cluster<name = "m", gpus = 4, gpus_per_node = 4, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} : () -> ()

// -----

// expected-error @+1 {{'axonn.grid' must be a #axonn.grid attribute}}
module attributes {axonn.grid = "2x2x2x2"} {}

// -----

// expected-error @+1 {{unknown axonn attribute 'axonn.gird'}}
module attributes {axonn.gird = #axonn.grid<x = 1, y = 1, z = 1, data = 1>} {}

// -----

// expected-error @+1 {{grid 2x2x2x2 has 16 ranks but the cluster has 8 GPUs}}
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>,
                   axonn.cluster = #axonn.cluster<name = "m", gpus = 8, gpus_per_node = 8, nics_per_node = 1, intra_node_bandwidth = 1.0, inter_node_bandwidth = 1.0, intra_node_latency = 0.0, inter_node_latency = 0.0, peak_flops = 1.0, memory = 1, memory_bandwidth = 1.0>} {}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 3, z = 1, data = 1>} {
  // expected-error @+1 {{'test.op' op result #0: dimension 0 of size 50257 is not divisible by the 3 ranks of [y]}}
  %0 = "test.op"() : () -> tensor<50257x768xf32, #axonn.layout<[[y], [x]]>>
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  // expected-error @+1 {{'test.op' op result #0: layout names 1 dimensions but the tensor has rank 2}}
  %0 = "test.op"() : () -> tensor<4x4xf32, #axonn.layout<[[x]]>>
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 4, data = 1>} {
  // expected-error @+1 {{'test.op' op result #0: local dimension 0 of size 6 is not divisible by the 4 ranks of storage axes [z]}}
  %0 = "test.op"() : () -> tensor<12x8xf32, #axonn.layout<[[x], []], storage = [z]>>
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  // expected-error @+1 {{'test.op' op result #0: dimension 0 is dynamic; sharded tensors need static shapes}}
  %0 = "test.op"() : () -> tensor<?x8xf32, #axonn.layout<[[x], []]>>
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 1, y = 1, z = 2, data = 1>} {
  // expected-error @+1 {{'test.op' op result #0: a rank-0 tensor cannot have a storage split}}
  %0 = "test.op"() : () -> tensor<f32, #axonn.layout<[], storage = [z]>>
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 4, y = 1, z = 1, data = 1>} {
  func.func @f(
    // expected-error @+1 {{block argument #0: dimension 1 of size 6 is not divisible by the 4 ranks of [x]}}
    %a: tensor<8x6xf32, #axonn.layout<[[], [x]]>>) {
    return
  }
}

//===----------------------------------------------------------------------===//
// Argument attributes
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.param' must be a non-empty string}}
func.func @f(%w: tensor<4xf32> {axonn.param = ""}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.param' must be on a ranked floating-point tensor, not 'tensor<4xi32>'}}
func.func @f(%w: tensor<4xi32> {axonn.param = "w"}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #1: 'axonn.param' repeats the name "h.0.w" of argument #0}}
func.func @f(%a: tensor<4xf32> {axonn.param = "h.0.w"}, %b: tensor<4xf32> {axonn.param = "h.0.w"}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.init' must be an #axonn.init attribute}}
func.func @f(%w: tensor<4xf32> {axonn.init = 0.02 : f64}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.input' must be "tokens", "targets", "step", "position", "k_cache" or "v_cache"}}
func.func @f(%t: tensor<4x8xi32> {axonn.input = "labels"}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.input' must be on a ranked integer tensor, not 'tensor<4x8xf32>'}}
func.func @f(%t: tensor<4x8xf32> {axonn.input = "tokens"}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #0: unknown axonn argument attribute 'axonn.parameter'}}
func.func @f(%w: tensor<4xf32> {axonn.parameter = "w"}) { return }

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<4x8xf32, #axonn.layout<[[], []]>>) {
  // expected-error @+1 {{'axonn.add' op uses tensors with a #axonn.layout encoding but the enclosing module has no 'axonn.grid' attribute}}
  %0 = axonn.add %x, %x : tensor<4x8xf32, #axonn.layout<[[], []]>>
  return
}

// -----

func.func @f(%t: tensor<8xi32>, %w: tensor<100x16xf32>) {
  // expected-error @+1 {{'axonn.embedding' op tokens must be [batch, seq] (rank 2), got rank 1}}
  %0 = axonn.embedding %t, %w : (tensor<8xi32>, tensor<100x16xf32>) -> tensor<8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<2x8xi32>, %w: tensor<100x16x2xf32>) {
  // expected-error @+1 {{'axonn.embedding' op table must be [vocab, hidden] (rank 2), got rank 3}}
  %0 = axonn.embedding %t, %w : (tensor<2x8xi32>, tensor<100x16x2xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p: tensor<16xf32>) {
  // expected-error @+1 {{'axonn.embedding' op positions must be [max_positions, hidden] (rank 2), got rank 1}}
  %0 = axonn.embedding %t, %w positions %p : (tensor<2x8xi32>, tensor<100x16xf32>, tensor<16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p: tensor<8x32xf32>) {
  // expected-error @+1 {{'axonn.embedding' op positions width 32 differs from the table width 16}}
  %0 = axonn.embedding %t, %w positions %p : (tensor<2x8xi32>, tensor<100x16xf32>, tensor<8x32xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<2x8xi32>, %w: tensor<100x16xf32>, %p: tensor<4x16xf32>) {
  // expected-error @+1 {{'axonn.embedding' op sequence length 8 exceeds the 4 learned positions}}
  %0 = axonn.embedding %t, %w positions %p : (tensor<2x8xi32>, tensor<100x16xf32>, tensor<4x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%t: tensor<2x8xi32>, %w: tensor<100x16xf32>) {
  // expected-error @+1 {{'axonn.embedding' op result shape must be 2x8x16, got 2x8x17}}
  %0 = axonn.embedding %t, %w : (tensor<2x8xi32>, tensor<100x16xf32>) -> tensor<2x8x17xf32>
  return
}

// -----

func.func @f(%t: tensor<2x8xi32>, %w: tensor<100x16xf32>) {
  // expected-error @+1 {{'axonn.embedding' op element types differ: 'f32' and 'bf16'}}
  %0 = axonn.embedding %t, %w : (tensor<2x8xi32>, tensor<100x16xf32>) -> tensor<2x8x16xbf16>
  return
}

// -----

func.func @f(%t: tensor<2x8xf32>, %w: tensor<100x16xf32>) {
  // expected-error @+1 {{'axonn.embedding' op operand #0 must be ranked tensor of 32-bit signless integer or 64-bit signless integer values}}
  %0 = axonn.embedding %t, %w : (tensor<2x8xf32>, tensor<100x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<f32>, %g: tensor<1xf32>) {
  // expected-error @+1 {{'axonn.rms_norm' op input must have at least one dimension}}
  %0 = axonn.rms_norm %x, %g eps 1.0e-5 : tensor<f32>, tensor<1xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %g: tensor<32xf32>, %b: tensor<32xf32>) {
  // expected-error @+1 {{'axonn.layer_norm' op scale shape must be 16, got 32}}
  %0 = axonn.layer_norm %x, %g, %b eps 1.0e-5 : tensor<2x8x16xf32>, tensor<32xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'axonn.layer_norm' op epsilon must be positive, got 0}}
  %0 = axonn.layer_norm %x, %g, %b eps 0.0 : tensor<2x8x16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %g: tensor<16xbf16>) {
  // expected-error @+1 {{'axonn.rms_norm' op element types differ: 'f32' and 'bf16'}}
  %0 = axonn.rms_norm %x, %g eps 1.0e-6 : tensor<2x8x16xf32>, tensor<16xbf16>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %w: tensor<48xf32>) {
  // expected-error @+1 {{'axonn.linear' op weight must be [out_features, in_features] (rank 2), got rank 1}}
  %0 = axonn.linear %x, %w : (tensor<2x8x16xf32>, tensor<48xf32>) -> tensor<2x8x48xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %w: tensor<48x32xf32>) {
  // expected-error @+1 {{'axonn.linear' op input has 16 features but the weight expects 32 (weight is [out, in] = 48x32)}}
  %0 = axonn.linear %x, %w : (tensor<2x8x16xf32>, tensor<48x32xf32>) -> tensor<2x8x48xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %w: tensor<48x16xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'axonn.linear' op bias shape must be 48, got 16}}
  %0 = axonn.linear %x, %w bias %b : (tensor<2x8x16xf32>, tensor<48x16xf32>, tensor<16xf32>) -> tensor<2x8x48xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %w: tensor<48x16xf32>) {
  // expected-error @+1 {{'axonn.linear' op result shape must be 2x8x48, got 2x8x16}}
  %0 = axonn.linear %x, %w transposed : (tensor<2x8x16xf32>, tensor<48x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%x: tensor<f32>, %w: tensor<4x1xf32>) {
  // expected-error @+1 {{'axonn.linear' op input must have at least one dimension}}
  %0 = axonn.linear %x, %w : (tensor<f32>, tensor<4x1xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf16>, %w: tensor<48x16xf32>) {
  // expected-error @+1 {{'axonn.linear' op element types differ: 'f16' and 'f32'}}
  %0 = axonn.linear %x, %w : (tensor<2x8x16xf16>, tensor<48x16xf32>) -> tensor<2x8x48xf16>
  return
}

// -----

func.func @f(%qkv: tensor<16x96xf32>) {
  // expected-error @+1 {{'axonn.attention' op qkv must be [batch, seq, features] (rank 3), got rank 2}}
  %0 = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<16x96xf32> -> tensor<16x32xf32>
  return
}

// -----

func.func @f(%qkv: tensor<2x16x96xf32>) {
  // expected-error @+1 {{'axonn.attention' op kv_heads (3) must divide heads (4)}}
  %0 = axonn.attention %qkv heads 4 kv_heads 3 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>
  return
}

// -----

func.func @f(%qkv: tensor<2x16x100xf32>) {
  // expected-error @+1 {{'axonn.attention' op qkv has 100 features, not a multiple of heads + 2*kv_heads = 12}}
  %0 = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<2x16x100xf32> -> tensor<2x16x32xf32>
  return
}

// -----

func.func @f(%qkv: tensor<2x16x96xf32>) {
  // expected-error @+1 {{'axonn.attention' op result shape must be 2x16x32, got 2x16x64}}
  %0 = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x64xf32>
  return
}

// -----

func.func @f(%qkv: tensor<2x16x96xf32>) {
  // expected-error @+1 {{'axonn.attention' op rope base must be positive, got -1}}
  %0 = axonn.attention %qkv heads 4 kv_heads 4 causal rope -1.0 : tensor<2x16x96xf32> -> tensor<2x16x32xf32>
  return
}

// -----

func.func @f(%qkv: tensor<2x16x96xf32>) {
  // expected-error @+1 {{'axonn.attention' op attribute 'heads' failed to satisfy constraint: 64-bit signless integer attribute whose value is positive}}
  %0 = axonn.attention %qkv heads 0 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>
  return
}

// -----

func.func @f(%qkv: tensor<2x16x36xf32>) {
  // expected-error @+1 {{'axonn.attention' op rotary positions need an even head dimension, got 3}}
  %0 = axonn.attention %qkv heads 4 kv_heads 4 causal rope 10000.0 : tensor<2x16x36xf32> -> tensor<2x16x12xf32>
  return
}

// -----

func.func @f(%x: tensor<2x16x33xf32>) {
  // expected-error @+1 {{'axonn.swiglu' op input feature dimension must be even (gate and up interleaved), got shape 2x16x33}}
  %0 = axonn.swiglu %x : tensor<2x16x33xf32> -> tensor<2x16x16xf32>
  return
}

// -----

func.func @f(%x: tensor<2x16x32xf32>) {
  // expected-error @+1 {{'axonn.swiglu' op result shape must be 2x16x16, got 2x16x32}}
  %0 = axonn.swiglu %x : tensor<2x16x32xf32> -> tensor<2x16x32xf32>
  return
}

// -----

func.func @f(%x: tensor<2x16x32xf32>, %y: tensor<2x16x32xbf16>) {
  // expected-error @+1 {{'axonn.add' op failed to verify that all of {lhs, rhs, result} have same type}}
  %0 = "axonn.add"(%x, %y) : (tensor<2x16x32xf32>, tensor<2x16x32xbf16>) -> tensor<2x16x32xf32>
  return
}

// -----

func.func @f(%h: tensor<16x32xf32>, %w: tensor<100x32xf32>, %t: tensor<2x8xi32>) {
  // expected-error @+1 {{'axonn.lm_head_loss' op hidden must be [batch, seq, hidden] (rank 3), got rank 2}}
  %0 = axonn.lm_head_loss %h, %w, %t : (tensor<16x32xf32>, tensor<100x32xf32>, tensor<2x8xi32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<2x8x32xf32>, %w: tensor<100x64xf32>, %t: tensor<2x8xi32>) {
  // expected-error @+1 {{'axonn.lm_head_loss' op hidden width 32 differs from the weight width 64}}
  %0 = axonn.lm_head_loss %h, %w, %t : (tensor<2x8x32xf32>, tensor<100x64xf32>, tensor<2x8xi32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<2x8x32xf32>, %w: tensor<100x32xf32>, %t: tensor<8x2xi32>) {
  // expected-error @+1 {{'axonn.lm_head_loss' op targets shape must be 2x8, got 8x2}}
  %0 = axonn.lm_head_loss %h, %w, %t : (tensor<2x8x32xf32>, tensor<100x32xf32>, tensor<8x2xi32>) -> tensor<f32>
  return
}

// -----

func.func @f(%h: tensor<2x8x32xf32>, %w: tensor<100x32xf32>, %t: tensor<2x8xi32>) {
  // expected-error @+1 {{'axonn.lm_head_loss' op result #0 must be 0D tensor of 32-bit float values}}
  %0 = axonn.lm_head_loss %h, %w, %t : (tensor<2x8x32xf32>, tensor<100x32xf32>, tensor<2x8xi32>) -> tensor<2x8xf32>
  return
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

// -----

func.func @f(%x: tensor<4x8xf32>) {
  // expected-error @+1 {{'axonn.all_reduce' op needs an 'axonn.grid' attribute on the enclosing module}}
  %0 = axonn.all_reduce sum %x over [x] : tensor<4x8xf32>
  return
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.all_reduce' op must communicate over at least one grid axis}}
    %0 = axonn.all_reduce sum %x over [] : tensor<4x8xf32>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32, #axonn.layout<[[], []]>>) {
    // expected-error @+1 {{'axonn.all_reduce' op input must be a per-rank tensor without a #axonn.layout encoding}}
    %0 = axonn.all_reduce sum %x over [x] : tensor<4x8xf32, #axonn.layout<[[], []]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 4, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.all_gather' op result shape must be 16x8 for a group of 4, got 8x8}}
    %0 = axonn.all_gather %x over [z] dim 0 : tensor<4x8xf32> -> tensor<8x8xf32>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.all_gather' op dim 2 is out of range for rank 2}}
    %0 = axonn.all_gather %x over [z] dim 2 : tensor<4x8xf32> -> tensor<4x8xf32>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.all_gather' op input and result ranks differ (2 vs 1)}}
    %0 = axonn.all_gather %x over [z] dim 0 : tensor<4x8xf32> -> tensor<64xf32>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.all_gather' op element types differ: 'f32' and 'bf16'}}
    %0 = axonn.all_gather %x over [z] dim 0 : tensor<4x8xf32> -> tensor<8x8xbf16>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 3, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.reduce_scatter' op dimension 0 of size 4 is not divisible by the group size 3}}
    %0 = axonn.reduce_scatter sum %x over [z] dim 0 : tensor<4x8xf32> -> tensor<1x8xf32>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.reduce_scatter' op result shape must be 4x2 for a group of 4, got 4x4}}
    %0 = axonn.reduce_scatter sum %x over [z, data] dim 1 : tensor<4x8xf32> -> tensor<4x4xf32>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.all_gather_start' op handle must be consumed by exactly one 'axonn.wait'}}
    %h = axonn.all_gather_start %x over [z] dim 0 : tensor<4x8xf32> -> !axonn.handle<tensor<8x8xf32>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.reduce_scatter_start' op handle must be consumed by exactly one 'axonn.wait'}}
    %h = axonn.reduce_scatter_start sum %x over [z] dim 0 : tensor<4x8xf32> -> !axonn.handle<tensor<2x8xf32>>
    %a = axonn.wait %h : !axonn.handle<tensor<2x8xf32>>
    %b = axonn.wait %h : !axonn.handle<tensor<2x8xf32>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%x: tensor<4x8xf32>) {
    // expected-error @+1 {{'axonn.all_reduce_start' op handle must carry the input type 'tensor<4x8xf32>', got 'tensor<8x4xf32>'}}
    %h = axonn.all_reduce_start sum %x over [x] : tensor<4x8xf32> -> !axonn.handle<tensor<8x4xf32>>
    %a = axonn.wait %h : !axonn.handle<tensor<8x4xf32>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%h: !axonn.handle<tensor<4x8xf32>>) {
    // expected-error @+1 {{'axonn.wait' op handle must come directly from an axonn '*_start' collective}}
    %a = axonn.wait %h : !axonn.handle<tensor<4x8xf32>>
    return
  }
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

// -----

func.func @f(%dy: tensor<2x8x16xf32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{'axonn.embedding_grad' op tokens shape must be 2x8, got 2x4}}
  %0 = axonn.embedding_grad %dy, %t : (tensor<2x8x16xf32>, tensor<2x4xi32>) -> tensor<100x16xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x16xf32>, %t: tensor<2x8xi32>) {
  // expected-error @+1 {{'axonn.embedding_grad' op table width 32 differs from the gradient width 16}}
  %0 = axonn.embedding_grad %dy, %t : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<100x32xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x16xf32>) {
  // expected-error @+1 {{'axonn.position_grad' op sequence length 8 exceeds the 4 learned positions}}
  %0 = axonn.position_grad %dy : tensor<2x8x16xf32> -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'axonn.layer_norm_grad' op scale shape must be 16, got 8}}
  %0:3 = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-05 : tensor<2x8x16xf32>, tensor<8xf32> -> tensor<8xf32>, tensor<8xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+1 {{'axonn.rms_norm_grad' op epsilon must be positive, got -1}}
  %0:2 = axonn.rms_norm_grad %dy, %x, %g eps -1.0 : tensor<2x8x16xf32>, tensor<16xf32> -> tensor<16xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x16xf32>, %t: tensor<2x8xi32>, %o: tensor<32x8xf32>) {
  // expected-error @+1 {{'axonn.embedding_grad' op failed to verify that accumulate has the result's type}}
  %0 = axonn.embedding_grad %dy, %t accumulate %o : (tensor<2x8x16xf32>, tensor<2x8xi32>, tensor<32x8xf32>) -> tensor<32x16xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x16xf32>, %x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %o: tensor<2x8x16xbf16>) {
  // expected-error @+1 {{'axonn.rms_norm_grad' op failed to verify that accumulate has the input's type}}
  %0:2 = "axonn.rms_norm_grad"(%dy, %x, %g, %o) <{epsilon = 1.0e-05 : f64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1>}> : (tensor<2x8x16xf32>, tensor<2x8x16xf32>, tensor<16xf32>, tensor<2x8x16xbf16>) -> (tensor<2x8x16xf32>, tensor<16xf32>)
  return
}

// -----

func.func @f(%dy: tensor<2x8x48xf32>, %w: tensor<32x16xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_input' op grad must end in the weight's 32 out-features, got shape 2x8x48}}
  %0 = axonn.linear_grad_input %dy, %w : (tensor<2x8x48xf32>, tensor<32x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x48xf32>, %w: tensor<48x16xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_input' op result shape must be 2x8x16, got 2x8x48}}
  %0 = axonn.linear_grad_input %dy, %w : (tensor<2x8x48xf32>, tensor<48x16xf32>) -> tensor<2x8x48xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x48xf32>, %x: tensor<2x4x16xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_weight' op grad 2x8x48 and input 2x4x16 must share their leading dimensions}}
  %0 = axonn.linear_grad_weight %dy, %x : (tensor<2x8x48xf32>, tensor<2x4x16xf32>) -> tensor<48x16xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x48xf32>, %x: tensor<2x8x16xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_weight' op result shape must be 48x16, got 16x48}}
  %0 = axonn.linear_grad_weight %dy, %x : (tensor<2x8x48xf32>, tensor<2x8x16xf32>) -> tensor<16x48xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x48xf32>, %x: tensor<2x8x16xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_weight' op bias_grad shape must be 48, got 16}}
  %0:2 = axonn.linear_grad_weight %dy, %x : (tensor<2x8x48xf32>, tensor<2x8x16xf32>) -> (tensor<48x16xf32>, tensor<16xf32>)
  return
}

// -----

func.func @f(%dy: tensor<2x8x48xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_bias' op result shape must be 48, got 8}}
  %0 = axonn.linear_grad_bias %dy : tensor<2x8x48xf32> -> tensor<8xf32>
  return
}

// -----

func.func @f(%dy: tensor<f32>) {
  // expected-error @+1 {{'axonn.linear_grad_bias' op grad must have at least one dimension}}
  %0 = axonn.linear_grad_bias %dy : tensor<f32> -> tensor<1xf32>
  return
}

// -----

func.func @f(%dout: tensor<2x16x64xf32>, %qkv: tensor<2x16x96xf32>, %lse: tensor<2x16x4xf32>) {
  // expected-error @+1 {{'axonn.attention_grad' op grad shape must be 2x16x32, got 2x16x64}}
  %0 = axonn.attention_grad %dout, %qkv, %dout, %lse heads 4 kv_heads 4 causal : tensor<2x16x64xf32>, tensor<2x16x96xf32>, tensor<2x16x4xf32>
  return
}

// -----

func.func @f(%dout: tensor<2x16x32xf32>, %qkv: tensor<2x16x96xf32>, %lse: tensor<2x16x2xf32>) {
  // expected-error @+1 {{'axonn.attention_grad' op lse shape must be 2x16x4, got 2x16x2}}
  %0 = axonn.attention_grad %dout, %qkv, %dout, %lse heads 4 kv_heads 4 causal : tensor<2x16x32xf32>, tensor<2x16x96xf32>, tensor<2x16x2xf32>
  return
}

// -----

func.func @f(%qkv: tensor<2x16x96xf32>) {
  // expected-error @+1 {{'axonn.attention' op lse shape must be 2x16x4, got 16x2x4}}
  %0, %1 = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>, tensor<16x2x4xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x16x8xf32>, %x: tensor<2x16x32xf32>) {
  // expected-error @+1 {{'axonn.swiglu_grad' op grad shape must be 2x16x16, got 2x16x8}}
  %0 = axonn.swiglu_grad %dy, %x : tensor<2x16x8xf32>, tensor<2x16x32xf32>
  return
}

// -----

func.func @f(%h: tensor<2x8x32xf32>, %w: tensor<100x64xf32>, %t: tensor<2x8xi32>) {
  // expected-error @+1 {{'axonn.lm_head_loss_grad' op hidden width 32 differs from the weight width 64}}
  %0:2 = axonn.lm_head_loss_grad %h, %w, %t : (tensor<2x8x32xf32>, tensor<100x64xf32>, tensor<2x8xi32>) -> (tensor<2x8x32xf32>, tensor<100x64xf32>)
  return
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

// -----

func.func @f() {
  // expected-error @+1 {{'axonn.global_norm' op needs at least one gradient}}
  %0 = "axonn.global_norm"() : () -> tensor<f32>
  return
}

// -----

#training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>
func.func @f(%p: tensor<4xf32>, %g: tensor<8xf32>, %m: tensor<4xf32>, %s: tensor<i64>, %n: tensor<f32>) {
  // expected-error @+1 {{'axonn.adamw' op grad shape must be 4, got 8}}
  %0:3 = axonn.adamw %p, %g, %m, %m step %s norm %n {training = #training} : (tensor<4xf32>, tensor<8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<i64>, tensor<f32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

#training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>
func.func @f(%p: tensor<4xbf16>, %m: tensor<4xf32>, %s: tensor<i64>, %n: tensor<f32>) {
  // expected-error @+1 {{'axonn.adamw' op a parameter of element type 'bf16' needs f32 master weights (a master operand and a new_master result)}}
  %0:3 = axonn.adamw %p, %p, %m, %m step %s norm %n {training = #training} : (tensor<4xbf16>, tensor<4xbf16>, tensor<4xf32>, tensor<4xf32>, tensor<i64>, tensor<f32>) -> (tensor<4xbf16>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

#training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>
func.func @f(%p: tensor<4xf32>, %m: tensor<4xf32>, %s: tensor<i64>, %n: tensor<f32>) {
  // expected-error @+1 {{'axonn.adamw' op a parameter of element type 'f32' is its own master copy: no master operand or result}}
  %0:4 = axonn.adamw %p, %p, %m, %m master %m step %s norm %n {training = #training} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<i64>, tensor<f32>) -> (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>)
  return
}

// -----

#training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>
func.func @f(%p: tensor<4xf32>, %m: tensor<4xbf16>, %s: tensor<i64>, %n: tensor<f32>) {
  // expected-error @+1 {{'axonn.adamw' op m must be an f32 tensor of shape 4, got 'tensor<4xbf16>'}}
  %0:3 = axonn.adamw %p, %p, %m, %m step %s norm %n {training = #training} : (tensor<4xf32>, tensor<4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<i64>, tensor<f32>) -> (tensor<4xf32>, tensor<4xbf16>, tensor<4xbf16>)
  return
}

// -----

#training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>
func.func @f(%p: tensor<4xf32>, %m: tensor<4xf32>, %s: tensor<i64>, %n: tensor<f32>) {
  // expected-error @+1 {{'axonn.adamw' op new_param must have the parameter's type 'tensor<4xf32>', got 'tensor<4xbf16>'}}
  %0:3 = axonn.adamw %p, %p, %m, %m step %s norm %n {training = #training} : (tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<i64>, tensor<f32>) -> (tensor<4xbf16>, tensor<4xf32>, tensor<4xf32>)
  return
}

//===----------------------------------------------------------------------===//
// Training-step signatures
//===----------------------------------------------------------------------===//

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.state' must be "m", "v" or "master"}}
func.func @f(%m: tensor<4xf32> {axonn.state = "momentum"}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.state' must be on an f32 tensor, not 'tensor<4xbf16>'}}
func.func @f(%m: tensor<4xbf16> {axonn.state = "m"}) { return }

// -----

// expected-error @+1 {{'func.func' op argument #0: 'axonn.state_of' must be a non-empty string}}
func.func @f(%m: tensor<4xf32> {axonn.state = "m", axonn.state_of = ""}) { return }

// -----

// expected-error @+1 {{'func.func' op result #0: 'axonn.output' must be "loss", "grad_norm" or "logits"}}
func.func @f(%x: tensor<f32>) -> (tensor<f32> {axonn.output = "accuracy"}) { return %x : tensor<f32> }

// -----

// expected-error @+1 {{'func.func' op result #0: unknown axonn result attribute 'axonn.input'}}
func.func @f(%x: tensor<f32>) -> (tensor<f32> {axonn.input = "tokens"}) { return %x : tensor<f32> }

// -----

func.func @f(%h: tensor<2x4x32xf32>, %w: tensor<52x32xf32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{'axonn.lm_head_loss' op vocab_size 60 must be in [1, 52], the weight's rows}}
  %0 = axonn.lm_head_loss %h, %w, %t {vocab_size = 60} : (tensor<2x4x32xf32>, tensor<52x32xf32>, tensor<2x4xi32>) -> tensor<f32>
  return
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%w: tensor<64x32xf32, #axonn.layout<[[y], [x]]>>) {
    // expected-error @+1 {{'axonn.reshard' op cannot change how dimensions are split}}
    %0 = axonn.reshard %w : tensor<64x32xf32, #axonn.layout<[[y], [x]]>> -> tensor<64x32xf32, #axonn.layout<[[x], [y]]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%w: tensor<64x32xf32, #axonn.layout<[[y], [x]]>>) {
    // expected-error @+1 {{'axonn.reshard' op cannot make a value partial over 'z'}}
    %0 = axonn.reshard %w : tensor<64x32xf32, #axonn.layout<[[y], [x]]>> -> tensor<64x32xf32, #axonn.layout<[[y], [x]], partial = [z]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%w: tensor<64x32xf32, #axonn.layout<[[y], [x]], partial = [data], storage = [z]>>) {
    // expected-error @+1 {{'axonn.reshard' op a gather (storage [z] dropped) cannot also reduce}}
    %0 = axonn.reshard %w : tensor<64x32xf32, #axonn.layout<[[y], [x]], partial = [data], storage = [z]>> -> tensor<64x32xf32, #axonn.layout<[[y], [x]]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%w: tensor<64x32xf32, #axonn.layout<[[y], [x]], partial = [data]>>) {
    // expected-error @+1 {{'axonn.reshard' op can only scatter storage over axes the input is partial over; 'z' is not}}
    %0 = axonn.reshard %w : tensor<64x32xf32, #axonn.layout<[[y], [x]], partial = [data]>> -> tensor<64x32xf32, #axonn.layout<[[y], [x]], storage = [z]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>} {
  func.func @f(%w: tensor<64x32xf32, #axonn.layout<[[y], [x]]>>) {
    // expected-error @+1 {{'axonn.reshard' op must keep the global shape and element type}}
    %0 = axonn.reshard %w : tensor<64x32xf32, #axonn.layout<[[y], [x]]>> -> tensor<32x32xf32, #axonn.layout<[[y], [x]]>>
    return
  }
}

// -----

// Layouts must let every rank compute its share: a linear contracts the
// input's features with the weight's in-features, so both split alike.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 1, data = 1>} {
  func.func @f(%h: tensor<2x4x32xf32, #axonn.layout<[[], [], [x]]>>, %w: tensor<48x32xf32, #axonn.layout<[[x], [y]]>>) {
    // expected-error @+1 {{'axonn.linear' op layouts are inconsistent: weight in-features is split over [y] but input features over [x]}}
    %0 = axonn.linear %h, %w : (tensor<2x4x32xf32, #axonn.layout<[[], [], [x]]>>, tensor<48x32xf32, #axonn.layout<[[x], [y]]>>) -> tensor<2x4x48xf32, #axonn.layout<[[], [], [x]], partial = [y]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 1, data = 1>} {
  func.func @f(%h: tensor<2x4x32xf32, #axonn.layout<[[], [], [x]]>>, %w: tensor<48x32xf32, #axonn.layout<[[y], [x]]>>) {
    // expected-error @+1 {{'axonn.linear' op layouts are inconsistent: result must hold partial sums over exactly [x], has []}}
    %0 = axonn.linear %h, %w : (tensor<2x4x32xf32, #axonn.layout<[[], [], [x]]>>, tensor<48x32xf32, #axonn.layout<[[y], [x]]>>) -> tensor<2x4x48xf32, #axonn.layout<[[], [], [y]]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 1>} {
  func.func @f(%h: tensor<2x4x32xf32, #axonn.layout<[[], [], [x]]>>, %w: tensor<48x32xf32, #axonn.layout<[[y], [x]], storage = [z]>>) {
    // expected-error @+1 {{'axonn.linear' op layouts are inconsistent: weight is stored split over [z]; gather it first}}
    %0 = axonn.linear %h, %w : (tensor<2x4x32xf32, #axonn.layout<[[], [], [x]]>>, tensor<48x32xf32, #axonn.layout<[[y], [x]], storage = [z]>>) -> tensor<2x4x48xf32, #axonn.layout<[[], [], [y]], partial = [x]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 1>} {
  func.func @f(%h: tensor<2x4x32xf32, #axonn.layout<[[], [], [x]], partial = [y]>>) {
    // expected-error @+1 {{'axonn.gelu' op layouts are inconsistent: input holds partial sums over [y]; reduce them first}}
    %0 = axonn.gelu %h tanh : tensor<2x4x32xf32, #axonn.layout<[[], [], [x]], partial = [y]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 1>} {
  func.func @f(%dy: tensor<4x4x48xf32, #axonn.layout<[[z], [], [y]]>>, %x: tensor<4x4x32xf32, #axonn.layout<[[z], [], [x]]>>) {
    // expected-error @+1 {{'axonn.linear_grad_weight' op layouts are inconsistent: result must hold partial sums over exactly [z], has [data]}}
    %0 = axonn.linear_grad_weight %dy, %x : (tensor<4x4x48xf32, #axonn.layout<[[z], [], [y]]>>, tensor<4x4x32xf32, #axonn.layout<[[z], [], [x]]>>) -> tensor<48x32xf32, #axonn.layout<[[y], [x]], partial = [data]>>
    return
  }
}

// -----

module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 1>} {
  func.func @f(%dy: tensor<4x4x48xf32, #axonn.layout<[[z], [], [y]]>>, %x: tensor<4x4x32xf32, #axonn.layout<[[z], [], [x]]>>) {
    // expected-error @+1 {{'axonn.linear_grad_weight' op layouts are inconsistent: bias_grad must hold partial sums over exactly [z], has [data]}}
    %0:2 = axonn.linear_grad_weight %dy, %x : (tensor<4x4x48xf32, #axonn.layout<[[z], [], [y]]>>, tensor<4x4x32xf32, #axonn.layout<[[z], [], [x]]>>) -> (tensor<48x32xf32, #axonn.layout<[[y], [x]], partial = [z]>>, tensor<48xf32, #axonn.layout<[[y]], partial = [data]>>)
    return
  }
}

// -----

// A schedule that waits before it starts.
module attributes {axonn.grid = #axonn.grid<x = 2, y = 1, z = 1, data = 1>} {
  func.func @f(%x: tensor<4x8xf32>) {
    "test.region"() ({
      // expected-error @+1 {{'axonn.all_reduce_start' op must be followed by its 'axonn.wait' in the same block}}
      %h = axonn.all_reduce_start sum %x over [x] : tensor<4x8xf32> -> !axonn.handle<tensor<4x8xf32>>
      "test.region"() ({
        %y = axonn.wait %h : !axonn.handle<tensor<4x8xf32>>
        "test.terminator"() : () -> ()
      }) : () -> ()
      "test.terminator"() : () -> ()
    }) : () -> ()
    return
  }
}

// -----

// No collective may be in flight while AdamW overwrites its input.
module attributes {axonn.grid = #axonn.grid<x = 1, y = 1, z = 2, data = 1>} {
  func.func @f(%w: tensor<4x8xf32>, %g: tensor<4x8xf32>, %m: tensor<4x8xf32>, %v: tensor<4x8xf32>, %step: tensor<i64>, %n: tensor<f32>) -> tensor<8x8xf32> {
    // expected-error @+1 {{'axonn.all_gather_start' op is in flight while 'axonn.adamw' updates its input in place; wait for it first}}
    %h = axonn.all_gather_start %w over [z] dim 0 : tensor<4x8xf32> -> !axonn.handle<tensor<8x8xf32>>
    %p:3 = axonn.adamw %w, %g, %m, %v step %step norm %n {training = #axonn.training<global_batch = 1, seq_len = 1, lr = 0.1, min_lr = 0.0, warmup_steps = 0, steps = 1, schedule = constant, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.0, grad_clip = 0.0, seed = 0>} : (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>, tensor<i64>, tensor<f32>) -> (tensor<4x8xf32>, tensor<4x8xf32>, tensor<4x8xf32>)
    %y = axonn.wait %h : !axonn.handle<tensor<8x8xf32>>
    return %y : tensor<8x8xf32>
  }
}

// -----

func.func @f(%qkv: tensor<1x1x96xf32>, %k: tensor<1x4x16x16xf32>, %p: tensor<i32>) {
  // expected-error @+1 {{'axonn.cached_attention' op caches of shape 1x4x16x16 do not fit batch 1, 4 KV heads of dimension 8}}
  %0 = axonn.cached_attention %qkv, %k, %k at %p heads 4 kv_heads 4 : tensor<1x1x96xf32>, tensor<1x4x16x16xf32>, tensor<i32> -> tensor<1x1x32xf32>
  return
}

// -----

func.func @f(%qkv: tensor<1x8x96xf32>, %k: tensor<1x4x4x8xf32>, %p: tensor<i32>) {
  // expected-error @+1 {{'axonn.cached_attention' op caches hold 4 positions, fewer than the 8 new tokens}}
  %0 = axonn.cached_attention %qkv, %k, %k at %p heads 4 kv_heads 4 : tensor<1x8x96xf32>, tensor<1x4x4x8xf32>, tensor<i32> -> tensor<1x8x32xf32>
  return
}

// -----

func.func @f(%qkv: tensor<1x1x96xf32>, %p: tensor<i32>) {
  %k = "test.make"() : () -> tensor<1x4x16x8xf32>
  // expected-error @+1 {{'axonn.cached_attention' op caches must be arguments of the enclosing function (it updates them in place)}}
  %0 = axonn.cached_attention %qkv, %k, %k at %p heads 4 kv_heads 4 : tensor<1x1x96xf32>, tensor<1x4x16x8xf32>, tensor<i32> -> tensor<1x1x32xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>, %b: tensor<16xf32>) {
  // expected-error @+1 {{'axonn.residual_norm' op 'rms' takes no bias}}
  %s, %y = axonn.residual_norm %x, %x, %g, %b eps 1.0e-5 rms : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %g: tensor<16xf32>) {
  // expected-error @+1 {{'axonn.residual_norm' op a layer norm needs a bias ('rms' for an RMS norm)}}
  %s, %y = axonn.residual_norm %x, %x, %g eps 1.0e-5 : tensor<2x8x16xf32>, tensor<16xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %g: tensor<8xf32>) {
  // expected-error @+1 {{'axonn.residual_norm' op scale shape must be 16, got 8}}
  %s, %y = axonn.residual_norm %x, %x, %g eps 1.0e-5 rms : tensor<2x8x16xf32>, tensor<8xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8x16xf32>, %w: tensor<64x32xf32>) {
  // expected-error @+1 {{'axonn.linear_gelu' op input has 16 features but the weight expects 32 (weight is [out, in] = 64x32)}}
  %pre, %h = axonn.linear_gelu %x, %w tanh : (tensor<2x8x16xf32>, tensor<64x32xf32>) -> (tensor<2x8x64xf32>, tensor<2x8x64xf32>)
  return
}

// -----

func.func @f(%dy: tensor<2x8x32xf32>, %w: tensor<64x16xf32>, %pre: tensor<2x8x16xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_input_gelu' op grad must end in the weight's 64 out-features, got shape 2x8x32}}
  %d = axonn.linear_grad_input_gelu %dy, %w, %pre tanh : (tensor<2x8x32xf32>, tensor<64x16xf32>, tensor<2x8x16xf32>) -> tensor<2x8x16xf32>
  return
}

// -----

func.func @f(%dy: tensor<2x8x64xf32>, %w: tensor<64x16xf32>, %pre: tensor<2x8x32xf32>) {
  // expected-error @+1 {{'axonn.linear_grad_input_gelu' op failed to verify that all of {pre, result} have same type}}
  %d = axonn.linear_grad_input_gelu %dy, %w, %pre tanh : (tensor<2x8x64xf32>, tensor<64x16xf32>, tensor<2x8x32xf32>) -> tensor<2x8x16xf32>
  return
}
