// RUN: axonn-opt %s -split-input-file --axonn-print-model-stats -o /dev/null 2>&1 | FileCheck %s
// RUN: axonn-opt %s -split-input-file --axonn-print-model-stats=json=true -o /dev/null 2>&1 | FileCheck %s --check-prefix=JSON
// The pass only reads: the IR comes out unchanged.
// RUN: axonn-opt %s -split-input-file | FileCheck %s --check-prefix=IR
// RUN: axonn-opt %s -split-input-file --axonn-print-model-stats 2>/dev/null | FileCheck %s --check-prefix=IR

// Published parameter counts, from the specs (tied GPT-2 embeddings with
// 1024 learned positions; Llama-2-7B untied, no biases).
// RUN: axonn-translate --import-model-spec %examples/models/gpt2-124m.json | axonn-opt --axonn-print-model-stats -o /dev/null 2>&1 | FileCheck %s --check-prefix=GPT2
// GPT2: parameters: 124,439,808 (124.44 M)
// GPT2: layers: 12, hidden: 768, heads: 12 (kv 12, head dim 64), ffn: 3072, vocab: 50257
// 6 * 124,439,808 + 6 * 12 * 768 * 1024:
// GPT2: 6N + 6*L*d*T (llm.c) 803,261,952
// RUN: axonn-translate --import-model-spec %S/Inputs/llama2-7b.json | axonn-opt --axonn-print-model-stats -o /dev/null 2>&1 | FileCheck %s --check-prefix=LLAMA2
// LLAMA2: parameters: 6,738,415,616 (6.74 B)
// LLAMA2: layers: 32, hidden: 4096, heads: 32 (kv 32, head dim 128), ffn: 11008, vocab: 32000
// LLAMA2: model.layers.*.self_attn.qkv_proj.weight 12288x4096 x32 1,610,612,736
// LLAMA2: model.layers.*.mlp.gate_up_proj.weight 22016x4096 x32 2,885,681,152
// LLAMA2: lm_head.weight 32000x4096 131,072,000

// A one-layer GPT by hand: B = 2, S = 16, d = 32, V = 100, 4 heads, ffn 128.
// N = 3200 (wte) + 512 (wpe) + 64 + 64 + 64 (norms) + 3072 + 96 (qkv)
//   + 1024 + 32 (proj) + 4096 + 128 (up) + 4096 + 32 (down) = 16,480.
// CHECK-LABEL: axonn model stats: @one_layer
// CHECK-NEXT: parameters: 16,480 (16.48 K)
// CHECK-NEXT: layers: 1, hidden: 32, heads: 4 (kv 4, head dim 8), ffn: 128, vocab: 100
// CHECK-NEXT: batch: 2 sequences x 16 tokens = 32 tokens per step
// CHECK-NEXT: FLOPs per token, forward + backward:
// 6 * 16480 + 6 * 1 * 32 * 16 = 98,880 + 3,072:
// CHECK-NEXT: 6N + 6*L*d*T (llm.c) 101,952
// 96 * 1024 * (1 + 16/192 + 100/512) = 98,304 + 8,192 + 19,200:
// CHECK-NEXT: Megatron 96*L*h^2*(1+S/6h+V/16Lh), recompute 125,696
// 72 * 1024 * (1 + 16/192 + 100/384) = 73,728 + 6,144 + 19,200:
// CHECK-NEXT: Megatron 72*L*h^2*(1+S/6h+V/12Lh), no recompute 99,072
// 3 * (6144 qkv + 2048 proj + 8192 up + 8192 down + 4*16*32 attention
//      + 6400 head) = 3 * 33,024:
// CHECK-NEXT: exact matmul FLOPs of this IR, no recompute 99,072
// CHECK-NEXT: weights (* = layer index):
// CHECK-NEXT: h.*.ln_1.weight 32 32
// CHECK-NEXT: h.*.ln_1.bias 32 32
// CHECK-NEXT: h.*.qkv.weight 96x32 3,072
// CHECK-NEXT: h.*.qkv.bias 96 96
// CHECK-NEXT: h.*.proj.weight 32x32 1,024
// CHECK-NEXT: h.*.proj.bias 32 32
// CHECK-NEXT: h.*.ln_2.weight 32 32
// CHECK-NEXT: h.*.ln_2.bias 32 32
// CHECK-NEXT: h.*.up.weight 128x32 4,096
// CHECK-NEXT: h.*.up.bias 128 128
// CHECK-NEXT: h.*.down.weight 32x128 4,096
// CHECK-NEXT: h.*.down.bias 32 32
// CHECK-NEXT: wte 100x32 3,200
// CHECK-NEXT: wpe 16x32 512
// CHECK-NEXT: ln_f.weight 32 32
// CHECK-NEXT: ln_f.bias 32 32
// llvm::json prints keys in sorted order.
// JSON: "batch": 2,
// JSON: "exact_no_recompute": 99072,
// JSON-NEXT: "llmc_6N_plus_6LdT": 101952,
// JSON-NEXT: "megatron_no_recompute": 99072,
// JSON-NEXT: "megatron_recompute": 125696
// JSON: "function": "one_layer",
// JSON: "parameters": 16480,
// JSON: "pattern": "h.*.qkv.weight",
// JSON-NEXT: "shape": [
// JSON-NEXT: 96,
// JSON-NEXT: 32
// JSON-NEXT: ]
// IR-LABEL: func.func @one_layer
// IR: axonn.lm_head_loss
func.func @one_layer(%ln1g: tensor<32xf32> {axonn.param = "h.0.ln_1.weight"},
                     %ln1b: tensor<32xf32> {axonn.param = "h.0.ln_1.bias"},
                     %wqkv: tensor<96x32xf32> {axonn.param = "h.0.qkv.weight"},
                     %bqkv: tensor<96xf32> {axonn.param = "h.0.qkv.bias"},
                     %wo: tensor<32x32xf32> {axonn.param = "h.0.proj.weight"},
                     %bo: tensor<32xf32> {axonn.param = "h.0.proj.bias"},
                     %ln2g: tensor<32xf32> {axonn.param = "h.0.ln_2.weight"},
                     %ln2b: tensor<32xf32> {axonn.param = "h.0.ln_2.bias"},
                     %wup: tensor<128x32xf32> {axonn.param = "h.0.up.weight"},
                     %bup: tensor<128xf32> {axonn.param = "h.0.up.bias"},
                     %wdown: tensor<32x128xf32> {axonn.param = "h.0.down.weight"},
                     %bdown: tensor<32xf32> {axonn.param = "h.0.down.bias"},
                     %tokens: tensor<2x16xi32> {axonn.input = "tokens"},
                     %targets: tensor<2x16xi32> {axonn.input = "targets"},
                     %wte: tensor<100x32xf32> {axonn.param = "wte"},
                     %wpe: tensor<16x32xf32> {axonn.param = "wpe"},
                     %lnfg: tensor<32xf32> {axonn.param = "ln_f.weight"},
                     %lnfb: tensor<32xf32> {axonn.param = "ln_f.bias"}) -> tensor<f32> {
  %x = axonn.embedding %tokens, %wte positions %wpe : (tensor<2x16xi32>, tensor<100x32xf32>, tensor<16x32xf32>) -> tensor<2x16x32xf32>
  %h = axonn.layer_norm %x, %ln1g, %ln1b eps 1.0e-5 : tensor<2x16x32xf32>, tensor<32xf32>
  %qkv = axonn.linear %h, %wqkv bias %bqkv : (tensor<2x16x32xf32>, tensor<96x32xf32>, tensor<96xf32>) -> tensor<2x16x96xf32>
  %a = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<2x16x96xf32> -> tensor<2x16x32xf32>
  %o = axonn.linear %a, %wo bias %bo transposed : (tensor<2x16x32xf32>, tensor<32x32xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
  %r = axonn.add %x, %o : tensor<2x16x32xf32>
  %h2 = axonn.layer_norm %r, %ln2g, %ln2b eps 1.0e-5 : tensor<2x16x32xf32>, tensor<32xf32>
  %u = axonn.linear %h2, %wup bias %bup : (tensor<2x16x32xf32>, tensor<128x32xf32>, tensor<128xf32>) -> tensor<2x16x128xf32>
  %g = axonn.gelu %u tanh : tensor<2x16x128xf32>
  %d = axonn.linear %g, %wdown bias %bdown transposed : (tensor<2x16x128xf32>, tensor<32x128xf32>, tensor<32xf32>) -> tensor<2x16x32xf32>
  %r2 = axonn.add %r, %d : tensor<2x16x32xf32>
  %f = axonn.layer_norm %r2, %lnfg, %lnfb eps 1.0e-5 : tensor<2x16x32xf32>, tensor<32xf32>
  %loss = axonn.lm_head_loss %f, %wte, %targets : (tensor<2x16x32xf32>, tensor<100x32xf32>, tensor<2x16xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}

// -----

// Functions without an embedding are not model-level and are skipped; a
// tied embedding counts once.
// CHECK-LABEL: axonn model stats: @tied
// CHECK-NEXT: parameters: 3,200 (3.20 K)
// CHECK-NOT: @helper
func.func @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
func.func @tied(%tokens: tensor<2x16xi32>, %targets: tensor<2x16xi32>,
                %wte: tensor<100x32xf32> {axonn.param = "wte"}) -> tensor<f32> {
  %x = axonn.embedding %tokens, %wte : (tensor<2x16xi32>, tensor<100x32xf32>) -> tensor<2x16x32xf32>
  %loss = axonn.lm_head_loss %x, %wte, %targets : (tensor<2x16x32xf32>, tensor<100x32xf32>, tensor<2x16xi32>) -> tensor<f32>
  return %loss : tensor<f32>
}
