module attributes {axonn.training = #axonn.training<global_batch = 8, seq_len = 16, lr = 0.001, min_lr = 0.0001, warmup_steps = 1, steps = 10, schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, grad_clip = 1.0, seed = 1>} {
  func.func @forward(%tokens: tensor<8x16xi32> {axonn.input = "tokens"},
                     %targets: tensor<8x16xi32> {axonn.input = "targets"},
                     %wte: tensor<64x32xf32> {axonn.param = "wte"},
                     %n1: tensor<32xf32> {axonn.param = "h.0.norm_1"},
                     %wqkv: tensor<96x32xf32> {axonn.param = "h.0.qkv"},
                     %wo: tensor<32x32xf32> {axonn.param = "h.0.proj"},
                     %n2: tensor<32xf32> {axonn.param = "h.0.norm_2"},
                     %wup: tensor<128x32xf32> {axonn.param = "h.0.up"},
                     %wdown: tensor<32x128xf32> {axonn.param = "h.0.down"},
                     %nf: tensor<32xf32> {axonn.param = "norm_f"},
                     %head: tensor<64x32xf32> {axonn.param = "head"}) -> tensor<f32> {
    %x = axonn.embedding %tokens, %wte : (tensor<8x16xi32>, tensor<64x32xf32>) -> tensor<8x16x32xf32>
    %h = axonn.rms_norm %x, %n1 eps 1.0e-05 : tensor<8x16x32xf32>, tensor<32xf32>
    %qkv = axonn.linear %h, %wqkv : (tensor<8x16x32xf32>, tensor<96x32xf32>) -> tensor<8x16x96xf32>
    %a = axonn.attention %qkv heads 4 kv_heads 4 causal : tensor<8x16x96xf32> -> tensor<8x16x32xf32>
    %o = axonn.linear %a, %wo transposed : (tensor<8x16x32xf32>, tensor<32x32xf32>) -> tensor<8x16x32xf32>
    %r = axonn.add %x, %o : tensor<8x16x32xf32>
    %h2 = axonn.rms_norm %r, %n2 eps 1.0e-05 : tensor<8x16x32xf32>, tensor<32xf32>
    %u = axonn.linear %h2, %wup : (tensor<8x16x32xf32>, tensor<128x32xf32>) -> tensor<8x16x128xf32>
    %g = axonn.gelu %u tanh : tensor<8x16x128xf32>
    %d = axonn.linear %g, %wdown transposed : (tensor<8x16x128xf32>, tensor<32x128xf32>) -> tensor<8x16x32xf32>
    %r2 = axonn.add %r, %d : tensor<8x16x32xf32>
    %f = axonn.rms_norm %r2, %nf eps 1.0e-05 : tensor<8x16x32xf32>, tensor<32xf32>
    %loss = axonn.lm_head_loss %f, %head, %targets : (tensor<8x16x32xf32>, tensor<64x32xf32>, tensor<8x16xi32>) -> tensor<f32>
    return %loss : tensor<f32>
  }
}
