//===- AxonnOps.td - axonn operations ----------------------*- tablegen -*-===//
//
// Transformer ops on whole tensors (the model level) and collectives on grid
// axes (the per-rank level).
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DIALECT_AXONN_IR_AXONNOPS_TD
#define AXONN_DIALECT_AXONN_IR_AXONNOPS_TD

include "axonn/Dialect/Axonn/IR/AxonnBase.td"
include "axonn/Dialect/Axonn/IR/AxonnAttrs.td"
include "axonn/Dialect/Axonn/IR/AxonnTypes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/CommonTypeConstraints.td"

// Layout encodings on operand or result types are only meaningful with a
// grid on the enclosing module.
def Axonn_LayoutsNeedGrid : NativeOpTrait<"LayoutsNeedGrid"> {
  let cppNamespace = "::mlir::axonn";
}

class Axonn_Op<string mnemonic, list<Trait> traits = []>
    : Op<Axonn_Dialect, mnemonic, !listconcat(traits, [Axonn_LayoutsNeedGrid])>;

def Axonn_FloatTensor : RankedTensorOf<[F32, BF16, F16]>;
def Axonn_F32Tensor : RankedTensorOf<[F32]>;
def Axonn_TokenTensor : RankedTensorOf<[I32, I64]>;
def Axonn_CommTensor : RankedTensorOf<[F32, BF16, F16, I32, I64]>;

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

def Axonn_EmbeddingOp : Axonn_Op<"embedding", [Pure, AttrSizedOperandSegments]> {
  let summary = "Token embedding, optionally plus learned positions";
  let description = [{
    `result[b, s, :] = table[tokens[b, s], :] (+ positions[s, :])`.

    `tokens` is `[B, S]`, `table` is `[V, D]`, the optional learned position
    table is `[P, D]` with `P >= S`; the result is `[B, S, D]`. Models with
    rotary positions omit `positions` and set `rope` on `axonn.attention`.

    Per rank (after `--axonn-insert-collectives`), `vocab_axes = [y]` says
    that `table` holds one slice of the vocabulary: the slice whose index is
    the rank's coordinate along those axes. Tokens outside the slice look up
    zeros, so the results of the ranks add up to the lookup. `once_over`
    adds `positions` only on the ranks whose coordinate along those axes is
    0, so that they count once in that sum.

    `from %start` (a scalar `tensor<i32>`, read at run time) shifts the
    positions for decoding: token `s` takes `positions[start + s]`, which
    must lie within the table. Without it the tokens sit at 0, 1, ...

    ```mlir
    %x = axonn.embedding %tokens, %wte positions %wpe
        : (tensor<8x1024xi32>, tensor<50257x768xf32>, tensor<1024x768xf32>)
        -> tensor<8x1024x768xf32>
    ```
  }];
  let arguments = (ins Axonn_TokenTensor:$tokens, Axonn_FloatTensor:$table,
                       Optional<Axonn_FloatTensor>:$positions,
                       Optional<0DTensorOf<[I32]>>:$start,
                       OptionalAttr<Axonn_AxesAttr>:$vocab_axes,
                       OptionalAttr<Axonn_AxesAttr>:$once_over);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $tokens `,` $table (`positions` $positions^)? (`from` $start^)? attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Axonn_LayerNormOp : Axonn_Op<"layer_norm",
    [Pure, AllTypesMatch<["input", "result"]>,
     AllTypesMatch<["scale", "bias"]>]> {
  let summary = "Layer normalization over the last dimension";
  let description = [{
    `(x - mean(x)) / sqrt(var(x) + epsilon) * scale + bias` over the last
    dimension `D`; `scale` and `bias` are `[D]`.

    Per rank, when the features are split, `stats` holds the sums over all
    `width` features, reduced over the ranks that hold them (from
    `axonn.norm_stats`: sum and sum of squares per token), and the op
    normalizes its local features with them.

    ```mlir
    %y = axonn.layer_norm %x, %g, %b eps 1.0e-05
        : tensor<8x1024x768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$scale,
                       Axonn_FloatTensor:$bias, F64Attr:$epsilon,
                       Optional<Axonn_F32Tensor>:$stats,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$width);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `,` $bias `eps` custom<ShortF64>($epsilon)
    (`stats` $stats^ `width` $width)? attr-dict `:`
    type($input) `,` type($scale) (`,` type($stats)^)?
  }];
  let hasVerifier = 1;
}

def Axonn_RMSNormOp : Axonn_Op<"rms_norm",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization over the last dimension";
  let description = [{
    `x / sqrt(mean(x^2) + epsilon) * scale` over the last dimension `D`;
    `scale` is `[D]`.

    Per rank, `stats` and `width` are as for `axonn.layer_norm` (the sum of
    squares per token).

    ```mlir
    %y = axonn.rms_norm %x, %g eps 1.0e-05 : tensor<8x4096x4096xbf16>, tensor<4096xbf16>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$scale,
                       F64Attr:$epsilon,
                       Optional<Axonn_F32Tensor>:$stats,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$width);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `eps` custom<ShortF64>($epsilon)
    (`stats` $stats^ `width` $width)? attr-dict `:`
    type($input) `,` type($scale) (`,` type($stats)^)?
  }];
  let hasVerifier = 1;
}

def Axonn_ResidualNormOp : Axonn_Op<"residual_norm",
    [Pure, AllTypesMatch<["input", "residual", "sum", "result"]>]> {
  let summary = "A residual addition and the norm of its sum, in one pass";
  let description = [{
    `sum = input + residual`, and `result` the layer norm of `sum` with
    `scale` and `bias` or, with `rms`, its RMS norm with `scale` (no bias):
    what `axonn.add` followed by `axonn.layer_norm` / `axonn.rms_norm`
    computes, with the sum read once. `--axonn-fuse-residual-norm` makes it
    from that pair in per-rank IR when the norm's features are whole (no
    `stats`).

    ```mlir
    %h, %y = axonn.residual_norm %x, %attn, %g, %b eps 1.0e-05
        : tensor<8x1024x768xf32>, tensor<768xf32>, tensor<768xf32>
    %h2, %y2 = axonn.residual_norm %x2, %mlp, %g2 eps 1.0e-05 rms
        : tensor<8x1024x4096xbf16>, tensor<4096xbf16>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$residual,
                       Axonn_FloatTensor:$scale,
                       Optional<Axonn_FloatTensor>:$bias, F64Attr:$epsilon,
                       UnitAttr:$rms);
  let results = (outs Axonn_FloatTensor:$sum, Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $residual `,` $scale (`,` $bias^)? `eps`
    custom<ShortF64>($epsilon) (`rms` $rms^)? attr-dict `:` type($input) `,`
    type($scale) (`,` type($bias)^)?
  }];
  let hasVerifier = 1;
}

def Axonn_LinearOp : Axonn_Op<"linear", [Pure]> {
  let summary = "Y = X W^T (+ b)";
  let description = [{
    `input` is `[..., k]`, `weight` is `[n, k]` (n outputs, k inputs), the
    optional `bias` is `[n]`; the result is `[..., n]`.

    `transposed` does not change the math. It marks a layer that the 4D
    algorithm lays out with the roles of the `x` and `y` axes swapped
    (in-features over `y`, out-features over `x`), so that it consumes the
    output layout of the normal layer before it without redistribution:
    attention-out after QKV, MLP-down after MLP-up.

    Per rank, when the result holds partial sums over some axes, `once_over`
    names them: only the ranks whose coordinate along them is 0 add `bias`.

    ```mlir
    %y = axonn.linear %x, %w bias %b transposed
        : (tensor<8x1024x3072xf32>, tensor<768x3072xf32>, tensor<768xf32>)
        -> tensor<8x1024x768xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$weight,
                       Optional<Axonn_FloatTensor>:$bias,
                       UnitAttr:$transposed,
                       OptionalAttr<Axonn_AxesAttr>:$once_over);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? (`transposed` $transposed^)? attr-dict
    `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getInFeatures() { return getWeight().getType().getDimSize(1); }
    int64_t getOutFeatures() { return getWeight().getType().getDimSize(0); }
  }];
}

def Axonn_LinearGeluOp : Axonn_Op<"linear_gelu", [Pure,
    AllTypesMatch<["pre", "result"]>]> {
  let summary = "GELU(X W^T + b), with the pre-activation";
  let description = [{
    What `axonn.linear` followed by `axonn.gelu` computes: `pre` is the
    linear layer's result (the GELU's gradient reads it) and `result` its
    GELU with `approximation`. `--axonn-fuse-linear-gelu` makes it in
    per-rank IR from a linear layer whose whole result (no partial sums:
    no `once_over`) goes to a GELU; the CUDA backend computes both in the
    GEMM's epilogue (tanh form).

    ```mlir
    %pre, %h = axonn.linear_gelu %x, %w bias %b tanh
        : (tensor<8x1024x768xf32>, tensor<3072x768xf32>, tensor<3072xf32>)
        -> (tensor<8x1024x3072xf32>, tensor<8x1024x3072xf32>)
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$weight,
                       Optional<Axonn_FloatTensor>:$bias,
                       UnitAttr:$transposed,
                       Axonn_GeluApproximation:$approximation);
  let results = (outs Axonn_FloatTensor:$pre, Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` $bias^)? (`transposed` $transposed^)?
    $approximation attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Axonn_AttentionOp : Axonn_Op<"attention", [Pure]> {
  let summary = "Multi-head self-attention with grouped KV heads";
  let description = [{
    `qkv` is `[B, S, (H + 2*KV) * d]` for `H = heads`, `KV = kv_heads` and
    head dimension `d`; the result is `[B, S, H * d]`, softmax(q k^T / sqrt(d))
    v per head, query head `h` reading KV head `h / (H / KV)`.

    The feature dimension of `qkv` is grouped by KV head so that a contiguous
    split over the `y` axis keeps every group whole: for each KV head `g` in
    order, the `H / KV` query heads of the group, then `k_g`, then `v_g`, each
    `d` wide. For plain multi-head attention (`KV = H`) that is
    `[q_0 k_0 v_0 | q_1 k_1 v_1 | ...]`.

    `causal` masks keys after the query position. `rope` applies rotary
    position embeddings with the given base (theta) to q and k, in the
    rotate-half form of Hugging Face Llama: at position `s`, elements `i` and
    `i + d/2` of each head rotate by the angle `s * theta^(-2i/d)` (`d`
    must be even).

    With a second result, `lse` (`[B, S, H]` f32), the op also gives each
    query row's softmax statistic: the log of the sum over its visible keys
    of exp(q k^T / sqrt(d)). The training step asks for it, and
    `axonn.attention_grad` reads it (with the output) instead of
    recomputing the softmax.

    ```mlir
    %o = axonn.attention %qkv heads 32 kv_heads 8 causal rope 5.0e+05
        : tensor<1x8192x6144xbf16> -> tensor<1x8192x4096xbf16>
    %o2, %lse = axonn.attention %qkv heads 12 kv_heads 12 causal
        : tensor<8x1024x2304xbf16> -> tensor<8x1024x768xbf16>,
          tensor<8x1024x12xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$qkv,
                       ConfinedAttr<I64Attr, [IntPositive]>:$heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$kv_heads,
                       UnitAttr:$causal,
                       OptionalAttr<F64Attr>:$rope);
  let results = (outs Axonn_FloatTensor:$result,
                      Optional<Axonn_F32Tensor>:$lse);
  let assemblyFormat = [{
    $qkv `heads` $heads `kv_heads` $kv_heads (`causal` $causal^)?
    (`rope` custom<ShortF64>($rope)^)? attr-dict `:` type($qkv) `->`
    type($result) (`,` type($lse)^)?
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeadDim();
  }];
}

def Axonn_KVCacheResource : Resource<"::mlir::axonn::KVCacheResource">;

def Axonn_CachedAttentionOp : Axonn_Op<"cached_attention", [
    AllTypesMatch<["k_cache", "v_cache"]>,
    MemoryEffects<[MemRead<Axonn_KVCacheResource>,
                   MemWrite<Axonn_KVCacheResource>]>]> {
  let summary = "Attention of new tokens over a key/value cache (decoding)";
  let description = [{
    The attention of `axonn.attention` for `T` new tokens at positions
    `start, ..., start + T - 1` of a sequence whose earlier keys and values
    are cached. `qkv` is `[B, T, (H + 2*KV) * d]` in the grouped layout of
    `axonn.attention`; `k_cache` and `v_cache` are `[B, KV, P, d]`, room
    for `P` positions. The op writes the new tokens' keys (rotated, with
    `rope`) and values into rows `start ...` of the caches, then each new
    token attends causally to rows `0 ...` up to its own position. The
    result is `[B, T, H * d]`. `start` is a scalar read at run time;
    `start + T <= P` is checked there.

    The caches are updated in place, so they must be arguments of the
    enclosing function (buffers its caller owns and keeps between calls);
    the op is therefore not `Pure`. `--axonn-lower-to-runtime` builds the
    `prefill` and `decode` functions around it from the forward.

    ```mlir
    %o = axonn.cached_attention %qkv, %k, %v at %pos heads 4 kv_heads 4
        : tensor<1x1x192xf32>, tensor<1x4x32x16xf32>, tensor<i32>
        -> tensor<1x1x64xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$qkv, Axonn_FloatTensor:$k_cache,
                       Axonn_FloatTensor:$v_cache, 0DTensorOf<[I32]>:$start,
                       ConfinedAttr<I64Attr, [IntPositive]>:$heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$kv_heads,
                       OptionalAttr<F64Attr>:$rope);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $qkv `,` $k_cache `,` $v_cache `at` $start `heads` $heads `kv_heads`
    $kv_heads (`rope` custom<ShortF64>($rope)^)? attr-dict `:` type($qkv) `,`
    type($k_cache) `,` type($start) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Axonn_GeluOp : Axonn_Op<"gelu", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "GELU activation";
  let description = [{
    `approximation` is `none` (the exact erf form) or `tanh`
    (`0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`, GPT-2's `gelu_new`).

    ```mlir
    %y = axonn.gelu %x tanh : tensor<8x1024x3072xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input,
                       Axonn_GeluApproximation:$approximation);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = "$input $approximation attr-dict `:` type($input)";
}

def Axonn_SwiGLUOp : Axonn_Op<"swiglu", [Pure]> {
  let summary = "SwiGLU gating: silu(gate) * up";
  let description = [{
    `input` is `[..., 2F]` holding gate and up projections interleaved
    (`gate_j` at `2j`, `up_j` at `2j+1`), so that a contiguous split of the
    feature dimension keeps every pair together; the result is `[..., F]`
    with `result_j = silu(gate_j) * up_j`.

    ```mlir
    %y = axonn.swiglu %gu : tensor<8x4096x22016xbf16> -> tensor<8x4096x11008xbf16>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

def Axonn_AddOp : Axonn_Op<"add",
    [Pure, Commutative, AllTypesMatch<["lhs", "rhs", "result"]>]> {
  let summary = "Elementwise addition (residual connections)";
  let description = [{
    ```mlir
    %y = axonn.add %x, %attn : tensor<8x1024x768xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$lhs, Axonn_FloatTensor:$rhs);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
}

def Axonn_LMHeadLossOp : Axonn_Op<"lm_head_loss", [Pure]> {
  let summary = "LM head projection and mean cross-entropy loss";
  let description = [{
    `hidden` is `[B, S, D]`, `weight` is `[V, D]` (the token embedding when
    tied), `targets` is `[B, S]`. Computes logits `hidden W^T` and returns the
    mean over all `B*S` positions of `-log softmax(logits)[target]` as an f32
    scalar. The op exists as one unit so that sharded lowerings never need to
    hold the full `[B, S, V]` logits.

    `vocab_size`, when present, is the number of real tokens: `weight` rows
    from `vocab_size` on are padding (added by `--axonn-shard` so that the
    vocabulary divides over the grid) and take no part in the softmax.

    `goldfish`, when present, makes it the Goldfish loss: the mean over the
    targets the `#axonn.goldfish` mask keeps (see that attribute).

    ```mlir
    %loss = axonn.lm_head_loss %h, %wte, %targets
        : (tensor<8x1024x768xf32>, tensor<50257x768xf32>, tensor<8x1024xi32>)
        -> tensor<f32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$hidden, Axonn_FloatTensor:$weight,
                       Axonn_TokenTensor:$targets,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$vocab_size,
                       OptionalAttr<Axonn_GoldfishAttr>:$goldfish);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $hidden `,` $weight `,` $targets attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Backward ops
//===----------------------------------------------------------------------===//

def Axonn_EmbeddingGradOp : Axonn_Op<"embedding_grad", [Pure,
    OptionalTypesMatchWith<"accumulate has the result's type", "result",
                           "accumulate", "$_self">]> {
  let summary = "Gradient of a token embedding table (scatter-add)";
  let description = [{
    `result[v, :] = sum of grad[b, s, :] over the positions with
    tokens[b, s] == v`; `grad` is `[B, S, D]`, `tokens` `[B, S]`, the result
    the `[V, D]` gradient of the table.

    Per rank, `vocab_axes` is as for `axonn.embedding`: the result holds the
    rank's slice of the vocabulary.

    ```mlir
    %dwte = axonn.embedding_grad %dx, %tokens
        : (tensor<8x1024x768xf32>, tensor<8x1024xi32>) -> tensor<50257x768xf32>
    ```

    With `accumulate` (another gradient of the table, of the result's type:
    a tied LM head's), the result is `accumulate` plus the scatter-add
    (`--axonn-fuse-grad-add` makes it from an `axonn.add`).
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_TokenTensor:$tokens,
                       OptionalAttr<Axonn_AxesAttr>:$vocab_axes,
                       Optional<Axonn_FloatTensor>:$accumulate);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $tokens (`accumulate` $accumulate^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Axonn_PositionGradOp : Axonn_Op<"position_grad", [Pure]> {
  let summary = "Gradient of a learned position table";
  let description = [{
    `result[s, :] = sum over b of grad[b, s, :]` for `s < S`, zero for the
    positions beyond the sequence; `grad` is `[B, S, D]`, the result `[P, D]`.

    ```mlir
    %dwpe = axonn.position_grad %dx : tensor<8x1024x768xf32> -> tensor<1024x768xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = "$grad attr-dict `:` type($grad) `->` type($result)";
  let hasVerifier = 1;
}

def Axonn_LayerNormGradOp : Axonn_Op<"layer_norm_grad", [Pure,
    AttrSizedOperandSegments, AllTypesMatch<["grad", "input", "input_grad"]>,
    OptionalTypesMatchWith<"accumulate has the input's type", "input",
                           "accumulate", "$_self">]> {
  let summary = "Gradients of layer normalization";
  let description = [{
    Given the gradient of `axonn.layer_norm`'s result, its input and scale,
    returns the gradients of the input, the scale and the bias.

    ```mlir
    %dx, %dg, %db = axonn.layer_norm_grad %dy, %x, %g eps 1.0e-05
        : tensor<8x1024x768xf32>, tensor<768xf32> -> tensor<768xf32>, tensor<768xf32>
    ```

    The scale and bias gradients have the shape of the scale; their layouts
    may differ from it (sums over tokens that are still partial).

    Per rank, with split features, `stats` holds the four sums of
    `axonn.norm_grad_stats` over all `width` features.

    With `accumulate` (another gradient of the input, of its type), the
    input's gradient is `accumulate` plus the norm's, added before rounding
    (`--axonn-fuse-grad-add` makes it from an `axonn.add`).
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$input,
                       Axonn_FloatTensor:$scale, F64Attr:$epsilon,
                       Optional<Axonn_F32Tensor>:$stats,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$width,
                       Optional<Axonn_FloatTensor>:$accumulate);
  let results = (outs Axonn_FloatTensor:$input_grad,
                      Axonn_FloatTensor:$scale_grad,
                      Axonn_FloatTensor:$bias_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $scale `eps` custom<ShortF64>($epsilon)
    (`stats` $stats^ `width` $width)? (`accumulate` $accumulate^)?
    attr-dict `:`
    type($input) `,` type($scale) (`,` type($stats)^)? `->` type($scale_grad)
    `,` type($bias_grad)
  }];
  let hasVerifier = 1;
}

def Axonn_RMSNormGradOp : Axonn_Op<"rms_norm_grad", [Pure,
    AttrSizedOperandSegments, AllTypesMatch<["grad", "input", "input_grad"]>,
    OptionalTypesMatchWith<"accumulate has the input's type", "input",
                           "accumulate", "$_self">]> {
  let summary = "Gradients of RMS normalization";
  let description = [{
    ```mlir
    %dx, %dg = axonn.rms_norm_grad %dy, %x, %g eps 1.0e-05
        : tensor<8x4096x4096xf32>, tensor<4096xf32> -> tensor<4096xf32>
    ```

    `stats` and `accumulate` as in `axonn.layer_norm_grad`.
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$input,
                       Axonn_FloatTensor:$scale, F64Attr:$epsilon,
                       Optional<Axonn_F32Tensor>:$stats,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$width,
                       Optional<Axonn_FloatTensor>:$accumulate);
  let results = (outs Axonn_FloatTensor:$input_grad,
                      Axonn_FloatTensor:$scale_grad);
  let assemblyFormat = [{
    $grad `,` $input `,` $scale `eps` custom<ShortF64>($epsilon)
    (`stats` $stats^ `width` $width)? (`accumulate` $accumulate^)?
    attr-dict `:`
    type($input) `,` type($scale) (`,` type($stats)^)? `->` type($scale_grad)
  }];
  let hasVerifier = 1;
}

def Axonn_LinearGradInputOp : Axonn_Op<"linear_grad_input", [Pure]> {
  let summary = "dX = dY W for Y = X W^T";
  let description = [{
    `grad` is `[..., n]`, `weight` `[n, k]`, the result `[..., k]`.
    `transposed` carries the layout marker of the forward linear.

    ```mlir
    %dx = axonn.linear_grad_input %dy, %w
        : (tensor<8x1024x2304xf32>, tensor<2304x768xf32>) -> tensor<8x1024x768xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$weight,
                       UnitAttr:$transposed);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight (`transposed` $transposed^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Axonn_LinearGradInputGeluOp : Axonn_Op<"linear_grad_input_gelu", [Pure,
    AllTypesMatch<["pre", "result"]>]> {
  let summary = "dX = (dY W) * GELU'(pre) for Y = GELU(pre) W^T";
  let description = [{
    What `axonn.linear_grad_input` followed by `axonn.gelu_grad` computes:
    the input gradient of a linear layer whose input was `GELU(pre)`,
    times the GELU's derivative at `pre` (`approximation` as for
    `axonn.gelu`), that is the gradient of `pre`. `grad` is `[..., n]`,
    `weight` `[n, k]`, `pre` and the result `[..., k]`.
    `--axonn-fuse-linear-gelu` makes it in per-rank IR from a
    `linear_grad_input` whose only use is the `grad` of a `gelu_grad`; the
    CUDA backend computes it in the GEMM's epilogue (DGELU, tanh form).

    ```mlir
    %dpre = axonn.linear_grad_input_gelu %dy, %w, %pre tanh
        : (tensor<8x1024x768xf32>, tensor<768x3072xf32>, tensor<8x1024x3072xf32>)
        -> tensor<8x1024x3072xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$weight,
                       Axonn_FloatTensor:$pre, UnitAttr:$transposed,
                       Axonn_GeluApproximation:$approximation);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $weight `,` $pre (`transposed` $transposed^)? $approximation
    attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Axonn_LinearGradWeightOp : Axonn_Op<"linear_grad_weight", [Pure]> {
  let summary = "dW = dY^T X for Y = X W^T";
  let description = [{
    `grad` is `[..., n]`, `input` `[..., k]` with the same leading shape, the
    result `[n, k]`, summed over all leading positions.

    ```mlir
    %dw = axonn.linear_grad_weight %dy, %x
        : (tensor<8x1024x2304xf32>, tensor<8x1024x768xf32>) -> tensor<2304x768xf32>
    ```

    With a second result `[n]`, also the bias gradient (what
    `axonn.linear_grad_bias` of `grad` gives; `--axonn-fuse-linear-grad-bias`
    makes it, and GPUs compute it in the GEMM's epilogue):

    ```mlir
    %dw, %db = axonn.linear_grad_weight %dy, %x
        : (tensor<8x1024x2304xf32>, tensor<8x1024x768xf32>)
        -> (tensor<2304x768xf32>, tensor<2304xf32>)
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$input,
                       UnitAttr:$transposed);
  let results = (outs Axonn_FloatTensor:$result,
                      Optional<Axonn_FloatTensor>:$bias_grad);
  let assemblyFormat = [{
    $grad `,` $input (`transposed` $transposed^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def Axonn_LinearGradBiasOp : Axonn_Op<"linear_grad_bias", [Pure]> {
  let summary = "db = sum of dY over all leading positions";
  let description = [{
    ```mlir
    %db = axonn.linear_grad_bias %dy : tensor<8x1024x2304xf32> -> tensor<2304xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, UnitAttr:$transposed);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $grad (`transposed` $transposed^)? attr-dict `:` type($grad) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def Axonn_AttentionGradOp : Axonn_Op<"attention_grad", [Pure,
    AllTypesMatch<["qkv", "result"]>, AllTypesMatch<["grad", "out"]>]> {
  let summary = "Gradient of axonn.attention with respect to its qkv input";
  let description = [{
    `grad` is the gradient of the attention output `[B, S, H * d]`; `qkv`
    the attention input; `out` and `lse` the forward's output and
    statistics (the results of `axonn.attention` with `lse`); the
    attributes are those of the forward op.

    ```mlir
    %dqkv = axonn.attention_grad %dout, %qkv, %o, %lse heads 12 kv_heads 12
        causal : tensor<8x1024x768xf32>, tensor<8x1024x2304xf32>,
        tensor<8x1024x12xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$qkv,
                       Axonn_FloatTensor:$out, Axonn_F32Tensor:$lse,
                       ConfinedAttr<I64Attr, [IntPositive]>:$heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$kv_heads,
                       UnitAttr:$causal,
                       OptionalAttr<F64Attr>:$rope);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $qkv `,` $out `,` $lse `heads` $heads `kv_heads` $kv_heads
    (`causal` $causal^)? (`rope` custom<ShortF64>($rope)^)? attr-dict `:`
    type($grad) `,` type($qkv) `,` type($lse)
  }];
  let hasVerifier = 1;
}

def Axonn_GeluGradOp : Axonn_Op<"gelu_grad", [Pure,
    AllTypesMatch<["grad", "input", "result"]>]> {
  let summary = "Gradient of GELU";
  let description = [{
    ```mlir
    %dx = axonn.gelu_grad %dy, %x tanh : tensor<8x1024x3072xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$input,
                       Axonn_GeluApproximation:$approximation);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $input $approximation attr-dict `:` type($input)
  }];
}

def Axonn_SwiGLUGradOp : Axonn_Op<"swiglu_grad", [Pure,
    AllTypesMatch<["input", "result"]>]> {
  let summary = "Gradient of SwiGLU with respect to its interleaved input";
  let description = [{
    ```mlir
    %dgu = axonn.swiglu_grad %dy, %gu : tensor<8x4096x11008xf32>, tensor<8x4096x22016xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$input);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $grad `,` $input attr-dict `:` type($grad) `,` type($input)
  }];
  let hasVerifier = 1;
}

def Axonn_LMHeadLossGradOp : Axonn_Op<"lm_head_loss_grad", [Pure]> {
  let summary = "Gradients of axonn.lm_head_loss";
  let description = [{
    The gradients of the mean cross-entropy loss with respect to the hidden
    states and the LM head weight.

    ```mlir
    %dh, %dw = axonn.lm_head_loss_grad %h, %wte, %targets
        : (tensor<8x1024x768xf32>, tensor<50257x768xf32>, tensor<8x1024xi32>)
        -> (tensor<8x1024x768xf32>, tensor<50257x768xf32>)
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$hidden, Axonn_FloatTensor:$weight,
                       Axonn_TokenTensor:$targets,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$vocab_size,
                       OptionalAttr<Axonn_GoldfishAttr>:$goldfish);
  let results = (outs Axonn_FloatTensor:$hidden_grad,
                      Axonn_FloatTensor:$weight_grad);
  let assemblyFormat = [{
    $hidden `,` $weight `,` $targets attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Optimizer
//===----------------------------------------------------------------------===//

def Axonn_GlobalNormOp : Axonn_Op<"global_norm", [Pure]> {
  let summary = "Euclidean norm of all gradients together";
  let description = [{
    `sqrt(sum over every operand of the sum of its squared elements)`,
    computed in f32.

    ```mlir
    %norm = axonn.global_norm %g0, %g1 : tensor<768x768xf32>, tensor<768xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Variadic<Axonn_FloatTensor>:$grads);
  let results = (outs 0DTensorOf<[F32]>:$norm);
  let assemblyFormat = "$grads attr-dict `:` type($grads) `->` type($norm)";
  let hasVerifier = 1;
}

def Axonn_AdamWOp : Axonn_Op<"adamw", [Pure]> {
  let summary = "One AdamW step of one parameter";
  let description = [{
    With `t = step + 1`, learning rate `lr(step)` from the schedule of
    `training` (linear warmup, then constant, linear or cosine decay to
    `min_lr`), clipping factor `c = min(1, grad_clip / (norm + 1e-6))` (1
    when `grad_clip` is 0) and `g = c * grad`:

    ```
    m' = beta1 m + (1 - beta1) g
    v' = beta2 v + (1 - beta2) g^2
    p' = p - lr (m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + eps)
           - lr * weight_decay * p        (only with `decay`)
    ```

    `m`, `v` and `master` are f32. With `master` (training in a narrower
    type), the update is computed on the f32 master weights and `param'` is
    their rounding; without it `param` is the master copy.

    ```mlir
    %w1, %m1, %v1 = axonn.adamw %w, %dw, %m, %v step %step norm %norm decay
        {training = #training}
        : (tensor<768x768xf32>, tensor<768x768xf32>, tensor<768x768xf32>,
           tensor<768x768xf32>, tensor<i64>, tensor<f32>)
        -> (tensor<768x768xf32>, tensor<768x768xf32>, tensor<768x768xf32>)
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$param, Axonn_FloatTensor:$grad,
                       Axonn_FloatTensor:$m, Axonn_FloatTensor:$v,
                       Optional<Axonn_FloatTensor>:$master,
                       0DTensorOf<[I64]>:$step, 0DTensorOf<[F32]>:$norm,
                       Axonn_TrainingAttr:$training, UnitAttr:$decay);
  let results = (outs Axonn_FloatTensor:$new_param, Axonn_FloatTensor:$new_m,
                      Axonn_FloatTensor:$new_v,
                      Optional<Axonn_FloatTensor>:$new_master);
  let assemblyFormat = [{
    $param `,` $grad `,` $m `,` $v (`master` $master^)? `step` $step `norm`
    $norm (`decay` $decay^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Per-rank pieces of ops whose features are split
//===----------------------------------------------------------------------===//
//
// `--axonn-insert-collectives` splits a norm, the LM head loss and the
// gradient norm whose inputs are split over ranks into local partial sums,
// an explicit all-reduce of them, and a local op that finishes the job.

def Axonn_NormStatsOp : Axonn_Op<"norm_stats", [Pure]> {
  let summary = "Per-token sums of a norm's local features";
  let description = [{
    Over the last dimension of `input`, in f32: `[sum x, sum x^2]` for a
    layer norm, `[sum x^2]` with `rms`. Reduced over the ranks that hold
    the other features, they are the `stats` of `axonn.layer_norm` and
    `axonn.rms_norm`.

    ```mlir
    %s = axonn.norm_stats %x : tensor<4x1024x384xbf16> -> tensor<4x1024x2xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, UnitAttr:$rms);
  let results = (outs Axonn_F32Tensor:$stats);
  let assemblyFormat = [{
    $input (`rms` $rms^)? attr-dict `:` type($input) `->` type($stats)
  }];
  let hasVerifier = 1;
}

def Axonn_NormGradStatsOp : Axonn_Op<"norm_grad_stats",
    [Pure, AllTypesMatch<["grad", "input"]>]> {
  let summary = "Per-token sums a norm's gradient needs";
  let description = [{
    With `g = grad * scale` over the last dimension, in f32:
    `[sum x, sum x^2, sum g, sum g x]` for a layer norm, `[sum x^2, sum g x]`
    with `rms`. Reduced over the ranks that hold the other features, they
    are the `stats` of `axonn.layer_norm_grad` and `axonn.rms_norm_grad`.

    ```mlir
    %s = axonn.norm_grad_stats %dy, %x, %g
        : tensor<4x1024x384xf32>, tensor<384xf32> -> tensor<4x1024x4xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$grad, Axonn_FloatTensor:$input,
                       Axonn_FloatTensor:$scale, UnitAttr:$rms);
  let results = (outs Axonn_F32Tensor:$stats);
  let assemblyFormat = [{
    $grad `,` $input `,` $scale (`rms` $rms^)? attr-dict `:` type($input) `,`
    type($scale) `->` type($stats)
  }];
  let hasVerifier = 1;
}

def Axonn_LogitsMaxOp : Axonn_Op<"logits_max", [Pure]> {
  let summary = "Per-token maximum and local softmax sums of the logits";
  let description = [{
    `logits` is `[B, S, V]` (the rank's vocabulary slice) and `targets`
    `[B, S]`. In one pass over the logits, per token: `max`, the maximum
    over the real rows (the local rows are the slice of the vocabulary at
    the rank's coordinate along `vocab_axes`, all of it without; rows at or
    beyond `vocab_size` are padding and skipped), and `partial`, `[sum over
    the local real rows of exp(logit - max), the target's logit if the
    target is in this rank's slice else 0]`, in f32. `max` reduced with
    `max` over the vocabulary axes is the global maximum, to which
    `axonn.softmax_sums` rescales `partial`.

    ```mlir
    %m, %p = axonn.logits_max %l, %t {vocab_axes = #axonn.axes<y>, vocab_size = 50257}
        : tensor<4x1024x25136xf32>, tensor<4x1024xi32>
        -> tensor<4x1024xf32>, tensor<4x1024x2xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$logits, Axonn_TokenTensor:$targets,
                       OptionalAttr<Axonn_AxesAttr>:$vocab_axes,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$vocab_size);
  let results = (outs Axonn_F32Tensor:$max, Axonn_F32Tensor:$partial);
  let assemblyFormat = [{
    $logits `,` $targets attr-dict `:` type($logits) `,` type($targets) `->`
    type($max) `,` type($partial)
  }];
  let hasVerifier = 1;
}

def Axonn_SoftmaxSumsOp : Axonn_Op<"softmax_sums", [Pure,
    AllTypesMatch<["local_max", "max"]>, AllTypesMatch<["partial", "sums"]>]> {
  let summary = "Per-token sums of a vocabulary-parallel softmax";
  let description = [{
    For each token, `axonn.logits_max`'s `partial` relative to the global
    maximum `max` instead of the local one, `local_max`: `[partial[0] *
    exp(local_max - max), partial[1]]`, in f32 (no pass over the logits).
    Reduced with `sum` over the vocabulary axes they give the softmax
    denominator and the target logit.

    ```mlir
    %s = axonn.softmax_sums %p, %m, %mr : tensor<4x1024x2xf32>, tensor<4x1024xf32>
    ```
  }];
  let arguments = (ins Axonn_F32Tensor:$partial, Axonn_F32Tensor:$local_max,
                       Axonn_F32Tensor:$max);
  let results = (outs Axonn_F32Tensor:$sums);
  let assemblyFormat = [{
    $partial `,` $local_max `,` $max attr-dict `:` type($partial) `,`
    type($max)
  }];
  let hasVerifier = 1;
}

def Axonn_GoldfishMaskOp : Axonn_Op<"goldfish_mask", [Pure]> {
  let summary = "Which local targets the Goldfish loss keeps, and how many";
  let description = [{
    Per rank: `keep[b, t]` is 1 if target `t` of local sequence `b` counts in
    the loss and 0 if the `#axonn.goldfish` mask drops it (the mask depends
    only on a sequence's own targets, so every rank computes its rows
    alone); `count` is the number kept on this rank.

    ```mlir
    %keep, %n = axonn.goldfish_mask %targets
        {goldfish = #axonn.goldfish<strategy = hash, k = 4, h = 13>}
        : tensor<4x1024xi32> -> tensor<4x1024xf32>, tensor<f32>
    ```
  }];
  let arguments = (ins Axonn_TokenTensor:$targets,
                       Axonn_GoldfishAttr:$goldfish);
  let results = (outs Axonn_F32Tensor:$keep, 0DTensorOf<[F32]>:$count);
  let assemblyFormat = [{
    $targets attr-dict `:` type($targets) `->` type($keep) `,` type($count)
  }];
  let hasVerifier = 1;
}

def Axonn_CrossEntropyOp : Axonn_Op<"cross_entropy", [Pure,
    AttrSizedOperandSegments]> {
  let summary = "This rank's share of the mean cross-entropy";
  let description = [{
    `sum over local tokens of (max + log(sums[0]) - sums[1]) / tokens`, with
    `tokens` the number of tokens of the global batch; summed over the ranks
    that split the tokens it is the mean loss.

    With `masked %keep, %count` (the Goldfish loss), the sum runs over the
    kept tokens (`keep` 1) and is divided by `count`, the number kept in the
    whole batch, instead of `tokens`.

    ```mlir
    %l = axonn.cross_entropy %m, %s tokens 524288
        : tensor<4x1024xf32>, tensor<4x1024x2xf32> -> tensor<f32>
    %g = axonn.cross_entropy %m, %s masked(%keep, %n : tensor<4x1024xf32>,
        tensor<f32>) tokens 524288
        : tensor<4x1024xf32>, tensor<4x1024x2xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Axonn_F32Tensor:$max, Axonn_F32Tensor:$sums,
                       Optional<Axonn_F32Tensor>:$keep,
                       Optional<0DTensorOf<[F32]>>:$count,
                       ConfinedAttr<I64Attr, [IntPositive]>:$tokens);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $max `,` $sums (`masked` `(` $keep^ `,` $count `:` type($keep) `,`
    type($count) `)`)? `tokens` $tokens attr-dict `:` type($max) `,`
    type($sums) `->` type($loss)
  }];
  let hasVerifier = 1;
}

def Axonn_CrossEntropyGradOp : Axonn_Op<"cross_entropy_grad", [Pure,
    AttrSizedOperandSegments, AllTypesMatch<["logits", "result"]>]> {
  let summary = "Gradient of the mean cross-entropy with respect to logits";
  let description = [{
    `(exp(logit - max) / sums[0] - [row is the target]) / tokens` for the real
    rows of the local slice, 0 for padding (`vocab_axes`, `vocab_size` and
    `tokens` as for `axonn.softmax_sums` and `axonn.cross_entropy`); with
    `masked`, times `keep` and divided by `count` instead.

    ```mlir
    %dl = axonn.cross_entropy_grad %l, %m, %s, %t tokens 524288
        : tensor<4x1024x25136xf32>, tensor<4x1024xf32>, tensor<4x1024x2xf32>,
          tensor<4x1024xi32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$logits, Axonn_F32Tensor:$max,
                       Axonn_F32Tensor:$sums, Axonn_TokenTensor:$targets,
                       Optional<Axonn_F32Tensor>:$keep,
                       Optional<0DTensorOf<[F32]>>:$count,
                       ConfinedAttr<I64Attr, [IntPositive]>:$tokens,
                       OptionalAttr<Axonn_AxesAttr>:$vocab_axes,
                       OptionalAttr<ConfinedAttr<I64Attr, [IntPositive]>>:$vocab_size);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $logits `,` $max `,` $sums `,` $targets (`masked` `(` $keep^ `,` $count
    `:` type($keep) `,` type($count) `)`)? `tokens` $tokens attr-dict `:`
    type($logits) `,` type($max) `,` type($sums) `,` type($targets)
  }];
  let hasVerifier = 1;
}

def Axonn_SumSquaresOp : Axonn_Op<"sum_squares", [Pure]> {
  let summary = "Weighted sum of squares of local gradients";
  let description = [{
    `sum over i of scales[i] * sum(grads[i]^2)` in f32. A gradient held
    identically by `r` ranks gets scale `1/r`, so that the sum over all ranks
    is the square of the global gradient norm.

    ```mlir
    %s = axonn.sum_squares %g0, %g1 scales [0.5, 0.125]
        : tensor<384x384xf32>, tensor<384xf32> -> tensor<f32>
    ```
  }];
  let arguments = (ins Variadic<Axonn_FloatTensor>:$grads,
                       F64ArrayAttr:$scales);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $grads `scales` $scales attr-dict `:` type($grads) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Axonn_SqrtOp : Axonn_Op<"sqrt", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "Square root of an f32 scalar";
  let description = [{
    ```mlir
    %n = axonn.sqrt %s : tensor<f32>
    ```
  }];
  let arguments = (ins 0DTensorOf<[F32]>:$input);
  let results = (outs 0DTensorOf<[F32]>:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

//===----------------------------------------------------------------------===//
// Layout changes
//===----------------------------------------------------------------------===//

def Axonn_CommunicationResource
    : Resource<"::mlir::axonn::CommunicationResource">;

def Axonn_ReshardOp : Axonn_Op<"reshard", [
    MemoryEffects<[MemRead<Axonn_CommunicationResource>,
                   MemWrite<Axonn_CommunicationResource>]>]> {
  let summary = "The same global tensor in another layout";
  let description = [{
    Changes the layout of a value without changing what it means: `result`
    and `input` have the same global shape and element type, and the same
    split of every dimension. `--axonn-shard` inserts one wherever a value's
    layout differs from the layout its user needs, and
    `--axonn-insert-collectives` lowers each to collectives. Three changes
    exist:

    - reduce: `partial` axes dropped (an all-reduce over them);
    - scatter: axes moved from `partial` to `storage` (a reduce-scatter);
    - gather: `storage` dropped (an all-gather), with `partial` unchanged.

    A reshard does one of reduce or gather, or reduce and scatter together.
    It is not `Pure`: two gathers of the same weight are two communications
    (one in forward, one in backward) unless a pass decides to keep one.

    ```mlir
    %w = axonn.reshard %ws
        : tensor<96x32xf32, #axonn.layout<[[y], [x]], storage = [z]>>
        -> tensor<96x32xf32, #axonn.layout<[[y], [x]]>>
    ```
  }];
  let arguments = (ins Axonn_CommTensor:$input);
  let results = (outs Axonn_CommTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//


// Collectives are ordered against each other: every rank must issue them in
// the same order, so no transformation may drop, merge or reorder them.
class Axonn_CollectiveOp<string mnemonic, list<Trait> traits = []>
    : Axonn_Op<mnemonic, !listconcat(traits, [
        MemoryEffects<[MemRead<Axonn_CommunicationResource>,
                       MemWrite<Axonn_CommunicationResource>]>])> {
  let hasVerifier = 1;
  code collectiveExtraDecls = [{
    /// Number of ranks in one group of this collective.
    int64_t getGroupSize();
  }];
  let extraClassDeclaration = collectiveExtraDecls;
}

def Axonn_AllGatherOp : Axonn_CollectiveOp<"all_gather"> {
  let summary = "Gather shards along a dimension over grid axes";
  let description = [{
    Concatenates, along `dim`, the `input` of every rank of the group formed
    by `axes` (ordered by rank within the group). `result` has `dim` `G` times
    larger, `G` the product of the axes' sizes.

    ```mlir
    %w = axonn.all_gather %ws over [z] dim 0 : tensor<96x768xf32> -> tensor<192x768xf32>
    ```
  }];
  let arguments = (ins Axonn_CommTensor:$input, Axonn_AxesAttr:$axes,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$dim);
  let results = (outs Axonn_CommTensor:$result);
  let assemblyFormat = [{
    $input `over` custom<AxesList>($axes) `dim` $dim attr-dict `:`
    type($input) `->` type($result)
  }];
}

def Axonn_ReduceScatterOp : Axonn_CollectiveOp<"reduce_scatter"> {
  let summary = "Reduce over grid axes and keep one shard along a dimension";
  let description = [{
    Reduces `input` elementwise over the group formed by `axes` and gives
    rank `i` of the group the `i`-th of `G` equal slices along `dim`.

    ```mlir
    %g = axonn.reduce_scatter sum %dw over [z] dim 0 : tensor<192x768xf32> -> tensor<96x768xf32>
    ```
  }];
  let arguments = (ins Axonn_ReductionKind:$reduction, Axonn_CommTensor:$input,
                       Axonn_AxesAttr:$axes,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$dim);
  let results = (outs Axonn_CommTensor:$result);
  let assemblyFormat = [{
    $reduction $input `over` custom<AxesList>($axes) `dim` $dim attr-dict `:`
    type($input) `->` type($result)
  }];
}

def Axonn_AllReduceOp : Axonn_CollectiveOp<"all_reduce",
    [AllTypesMatch<["input", "result"]>]> {
  let summary = "Reduce over grid axes, result on every rank";
  let description = [{
    ```mlir
    %y = axonn.all_reduce sum %partial over [x] : tensor<8x1024x384xf32>
    ```
  }];
  let arguments = (ins Axonn_ReductionKind:$reduction, Axonn_CommTensor:$input,
                       Axonn_AxesAttr:$axes);
  let results = (outs Axonn_CommTensor:$result);
  let assemblyFormat = [{
    $reduction $input `over` custom<AxesList>($axes) attr-dict `:` type($input)
  }];
}

def Axonn_AllGatherStartOp : Axonn_CollectiveOp<"all_gather_start"> {
  let summary = "Start an all-gather; `axonn.wait` yields its result";
  let description = [{
    The asynchronous form of `axonn.all_gather`. The handle must be consumed
    by exactly one `axonn.wait`.

    ```mlir
    %h = axonn.all_gather_start %ws over [z] dim 0
        : tensor<96x768xf32> -> !axonn.handle<tensor<192x768xf32>>
    ```
  }];
  let arguments = (ins Axonn_CommTensor:$input, Axonn_AxesAttr:$axes,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$dim);
  let results = (outs Axonn_HandleType:$handle);
  let assemblyFormat = [{
    $input `over` custom<AxesList>($axes) `dim` $dim attr-dict `:`
    type($input) `->` qualified(type($handle))
  }];
}

def Axonn_ReduceScatterStartOp : Axonn_CollectiveOp<"reduce_scatter_start"> {
  let summary = "Start a reduce-scatter; `axonn.wait` yields its result";
  let description = [{
    ```mlir
    %h = axonn.reduce_scatter_start sum %dw over [z] dim 0
        : tensor<192x768xf32> -> !axonn.handle<tensor<96x768xf32>>
    ```
  }];
  let arguments = (ins Axonn_ReductionKind:$reduction, Axonn_CommTensor:$input,
                       Axonn_AxesAttr:$axes,
                       ConfinedAttr<I64Attr, [IntNonNegative]>:$dim);
  let results = (outs Axonn_HandleType:$handle);
  let assemblyFormat = [{
    $reduction $input `over` custom<AxesList>($axes) `dim` $dim attr-dict `:`
    type($input) `->` qualified(type($handle))
  }];
}

def Axonn_AllReduceStartOp : Axonn_CollectiveOp<"all_reduce_start"> {
  let summary = "Start an all-reduce; `axonn.wait` yields its result";
  let description = [{
    ```mlir
    %h = axonn.all_reduce_start sum %dx over [y]
        : tensor<8x1024x384xf32> -> !axonn.handle<tensor<8x1024x384xf32>>
    ```
  }];
  let arguments = (ins Axonn_ReductionKind:$reduction, Axonn_CommTensor:$input,
                       Axonn_AxesAttr:$axes);
  let results = (outs Axonn_HandleType:$handle);
  let assemblyFormat = [{
    $reduction $input `over` custom<AxesList>($axes) attr-dict `:`
    type($input) `->` qualified(type($handle))
  }];
}

def Axonn_WaitOp : Axonn_Op<"wait", [
    MemoryEffects<[MemRead<Axonn_CommunicationResource>,
                   MemWrite<Axonn_CommunicationResource>]>,
    TypesMatchWith<"result is the handle's value type", "handle", "result",
                   "::llvm::cast<HandleType>($_self).getValue()">]> {
  let summary = "Wait for an asynchronous collective and take its result";
  let description = [{
    ```mlir
    %g = axonn.wait %h : !axonn.handle<tensor<192x768xf32>>
    ```
  }];
  let arguments = (ins Axonn_HandleType:$handle);
  let results = (outs Axonn_CommTensor:$result);
  let assemblyFormat = "$handle attr-dict `:` qualified(type($handle))";
  let hasVerifier = 1;
}

#endif // AXONN_DIALECT_AXONN_IR_AXONNOPS_TD
