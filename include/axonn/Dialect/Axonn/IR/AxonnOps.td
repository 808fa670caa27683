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
def Axonn_TokenTensor : RankedTensorOf<[I32, I64]>;
def Axonn_CommTensor : RankedTensorOf<[F32, BF16, F16, I32, I64]>;

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

def Axonn_EmbeddingOp : Axonn_Op<"embedding", [Pure]> {
  let summary = "Token embedding, optionally plus learned positions";
  let description = [{
    `result[b, s, :] = table[tokens[b, s], :] (+ positions[s, :])`.

    `tokens` is `[B, S]`, `table` is `[V, D]`, the optional learned position
    table is `[P, D]` with `P >= S`; the result is `[B, S, D]`. Models with
    rotary positions omit `positions` and set `rope` on `axonn.attention`.

    ```mlir
    %x = axonn.embedding %tokens, %wte positions %wpe
        : (tensor<8x1024xi32>, tensor<50257x768xf32>, tensor<1024x768xf32>)
        -> tensor<8x1024x768xf32>
    ```
  }];
  let arguments = (ins Axonn_TokenTensor:$tokens, Axonn_FloatTensor:$table,
                       Optional<Axonn_FloatTensor>:$positions);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $tokens `,` $table (`positions` $positions^)? attr-dict `:`
    functional-type(operands, results)
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

    ```mlir
    %y = axonn.layer_norm %x, %g, %b eps 1.0e-05
        : tensor<8x1024x768xf32>, tensor<768xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$scale,
                       Axonn_FloatTensor:$bias, F64Attr:$epsilon);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `,` $bias `eps` custom<ShortF64>($epsilon) attr-dict `:`
    type($input) `,` type($scale)
  }];
  let hasVerifier = 1;
}

def Axonn_RMSNormOp : Axonn_Op<"rms_norm",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMS normalization over the last dimension";
  let description = [{
    `x / sqrt(mean(x^2) + epsilon) * scale` over the last dimension `D`;
    `scale` is `[D]`.

    ```mlir
    %y = axonn.rms_norm %x, %g eps 1.0e-05 : tensor<8x4096x4096xbf16>, tensor<4096xbf16>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$scale,
                       F64Attr:$epsilon);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $scale `eps` custom<ShortF64>($epsilon) attr-dict `:`
    type($input) `,` type($scale)
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

    ```mlir
    %y = axonn.linear %x, %w bias %b transposed
        : (tensor<8x1024x3072xf32>, tensor<768x3072xf32>, tensor<768xf32>)
        -> tensor<8x1024x768xf32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$input, Axonn_FloatTensor:$weight,
                       Optional<Axonn_FloatTensor>:$bias,
                       UnitAttr:$transposed);
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
    position embeddings with the given base (theta) to q and k.

    ```mlir
    %o = axonn.attention %qkv heads 32 kv_heads 8 causal rope 5.0e+05
        : tensor<1x8192x6144xbf16> -> tensor<1x8192x4096xbf16>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$qkv,
                       ConfinedAttr<I64Attr, [IntPositive]>:$heads,
                       ConfinedAttr<I64Attr, [IntPositive]>:$kv_heads,
                       UnitAttr:$causal,
                       OptionalAttr<F64Attr>:$rope);
  let results = (outs Axonn_FloatTensor:$result);
  let assemblyFormat = [{
    $qkv `heads` $heads `kv_heads` $kv_heads (`causal` $causal^)?
    (`rope` custom<ShortF64>($rope)^)? attr-dict `:` type($qkv) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    int64_t getHeadDim();
  }];
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

    ```mlir
    %loss = axonn.lm_head_loss %h, %wte, %targets
        : (tensor<8x1024x768xf32>, tensor<50257x768xf32>, tensor<8x1024xi32>)
        -> tensor<f32>
    ```
  }];
  let arguments = (ins Axonn_FloatTensor:$hidden, Axonn_FloatTensor:$weight,
                       Axonn_TokenTensor:$targets);
  let results = (outs 0DTensorOf<[F32]>:$loss);
  let assemblyFormat = [{
    $hidden `,` $weight `,` $targets attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Collectives
//===----------------------------------------------------------------------===//

def Axonn_CommunicationResource
    : Resource<"::mlir::axonn::CommunicationResource">;

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
