//===- Passes.td - axonn passes ----------------------------*- tablegen -*-===//

#ifndef AXONN_DIALECT_AXONN_TRANSFORMS_PASSES_TD
#define AXONN_DIALECT_AXONN_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def PrintModelStatsPass : Pass<"axonn-print-model-stats", "ModuleOp"> {
  let summary = "Print parameter count, FLOPs per token and weight shapes";
  let description = [{
    For every model-level function (one holding an `axonn.embedding`), prints
    to stderr:

    - the number of distinct parameter elements (a tied embedding once);
    - layers, hidden size, heads, KV heads, FFN width, vocabulary, tokens per
      step;
    - FLOPs per token of one training step, labelled by formula: llm.c's
      `6N + 6*L*d*T`, Megatron-LM's `96*L*h^2*(1 + S/(6h) + V/(16*L*h))`
      (which counts full activation recompute) and its no-recompute form, and
      the exact matrix-multiply FLOPs of the IR;
    - the weight shapes, grouped across layers (`*` stands for the layer
      index).

    The IR is not changed. With `json=true` the same data is printed as one
    JSON object per function.

    ```
    $ axonn-translate --import-model-spec examples/models/gpt2-124m.json \
        | axonn-opt --axonn-print-model-stats -o /dev/null
    axonn model stats: @forward
      parameters: 124,439,808 (124.44 M)
      ...
    ```
  }];
  let options = [
    Option<"json", "json", "bool", /*default=*/"false",
           "Print JSON instead of a table">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def BuildTrainingStepPass : Pass<"axonn-build-training-step", "ModuleOp"> {
  let summary = "Build @train_step: forward, backward and AdamW update";
  let description = [{
    From the model-level `@forward`, builds `@train_step`, one optimizer step
    of training, at the same (model) level:

    - arguments: tokens, targets, the step number (`axonn.input = "step"`,
      counting from 0), every parameter, then every parameter's AdamW state:
      first moments, second moments, and f32 master weights when the
      parameters are narrower than f32 (`axonn.state = "m" | "v" | "master"`,
      `axonn.state_of = <parameter name>`);
    - body: the forward pass; the backward pass, op by op in reverse
      (gradients of uses add up, so a tied LM head and embedding share one
      gradient); the global gradient norm; one `axonn.adamw` per parameter
      (weight decay on matrices, not on vectors), with the hyper-parameters
      of the module's `#axonn.training`;
    - results: the loss (`axonn.output = "loss"`), the gradient norm before
      clipping (`axonn.output = "grad_norm"`), then every updated
      parameter and state, tagged like the arguments they replace.

    The activation-recompute policy (option `recompute`, else the module's
    `axonn.recompute`, else `none`) decides what backward reads: `none`
    keeps every forward value; `selective` recomputes the outputs of
    attention, norms, GELU and SwiGLU from their saved inputs right where
    backward needs them; `full` keeps only each transformer layer's input
    and recomputes the whole layer before its backward. `@forward` stays
    (evaluation and generation use it).
  }];
  let options = [
    Option<"recompute", "recompute", "std::string", /*default=*/"\"\"",
           "none, selective or full (default: the module's axonn.recompute, "
           "else none)">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect",
                           "::mlir::func::FuncDialect"];
}

def PlanPass : Pass<"axonn-plan", "ModuleOp"> {
  let summary = "Choose the 4D grid (Gx, Gy, Gz, Gdata) from the cost model";
  let description = [{
    Costs every factorization of the GPU count into (Gx, Gy, Gz, Gdata) with
    the cost model of `Analysis/CostModel.h` (compute from local GEMM shapes,
    every collective as a ring on its placement, the overlap schedule, memory
    per GPU), drops grids that break a divisibility rule or do not fit, and
    annotates the module with the fastest: `axonn.grid`, the `axonn.cluster`
    it was planned for, and `axonn.recompute`. It changes nothing else.

    The cluster is the module's `axonn.cluster` or `cluster=`, a built-in
    machine name (perlmutter, frontier, alps, dgx-h100) or a machine file;
    `gpus=` overrides its GPU count. `grid=AxBxCxD` (or an `axonn.grid`
    already on the module) forces a grid: it is still costed and checked,
    and rejected with the reason and the three best feasible grids if it
    cannot run. `report=true` prints the top `top` grids to stderr with the
    predicted step time split into compute, exposed communication per axis
    and overlap saved, memory per GPU, TFLOP/s per GPU and MFU, and why the
    chosen grid won; `collectives=true` lists every collective of the chosen
    grid.

    Before:
    ```mlir
    module attributes {axonn.training = #training} { func.func @forward ... }
    ```
    After `--axonn-plan="cluster=perlmutter gpus=16"`:
    ```mlir
    module attributes {axonn.cluster = #cluster,
                       axonn.grid = #axonn.grid<x = 4, y = 1, z = 1, data = 4>,
                       axonn.recompute = #axonn.recompute<none>,
                       axonn.training = #training} { ... }
    ```
  }];
  let options = [
    Option<"clusterOption", "cluster", "std::string", /*default=*/"\"\"",
           "Built-in machine name or machine file (default: the module's "
           "axonn.cluster)">,
    Option<"gpus", "gpus", "int64_t", /*default=*/"0",
           "GPU count (default: the cluster's)">,
    Option<"gridOption", "grid", "std::string", /*default=*/"\"\"",
           "Force the grid Gx x Gy x Gz x Gdata, e.g. 2x2x2x2">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"auto\"",
           "Activation recompute: auto (none if it fits, else full), none, "
           "full">,
    Option<"cacheWeights", "cache-weights", "bool", /*default=*/"false",
           "Keep gathered weights from forward to backward">,
    Option<"report", "report", "bool", /*default=*/"false",
           "Print the ranked grids and the choice to stderr">,
    Option<"top", "top", "unsigned", /*default=*/"5",
           "Rows of the report">,
    Option<"collectives", "collectives", "bool", /*default=*/"false",
           "Print every collective of the chosen grid to stderr">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def PlanScalingPass : Pass<"axonn-plan-scaling", "ModuleOp"> {
  let summary = "Predict strong and weak scaling of the model on a cluster";
  let description = [{
    Runs the planner of `--axonn-plan` for every power of two from `from` to
    `to` GPUs and prints, per GPU count, the best grid, predicted step time,
    TFLOP/s per GPU, MFU and scaling efficiency, twice: at the spec's global
    batch (strong scaling; efficiency T(G0) G0 / (T(G) G)) and with the batch
    grown in proportion to the GPU count (weak scaling; efficiency
    T(G0) / T(G)), G0 being the first count with a plan. `csv=` also writes
    the table as CSV, which `scripts/plot-scaling.sh` turns into a PNG. The IR
    is not changed.

    ```
    $ axonn-translate --import-model-spec examples/models/gpt-175b.json \
        | axonn-opt --axonn-plan-scaling="cluster=frontier from=512" -o /dev/null
    ```
  }];
  let options = [
    Option<"clusterOption", "cluster", "std::string", /*default=*/"\"\"",
           "Built-in machine name or machine file (default: the module's "
           "axonn.cluster)">,
    Option<"from", "from", "int64_t", /*default=*/"8", "Fewest GPUs">,
    Option<"to", "to", "int64_t", /*default=*/"32768", "Most GPUs">,
    Option<"csv", "csv", "std::string", /*default=*/"\"\"",
           "Also write the table to this CSV file">,
    Option<"recompute", "recompute", "std::string", /*default=*/"\"auto\"",
           "Activation recompute: auto, none, full">,
    Option<"cacheWeights", "cache-weights", "bool", /*default=*/"false",
           "Keep gathered weights from forward to backward">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def ShardPass : Pass<"axonn-shard", "ModuleOp"> {
  let summary = "Lay out every tensor on the grid following the 4D algorithm";
  let description = [{
    Gives every value of every function a `#axonn.layout` (on the global
    shape) from the module's `axonn.grid`:

    - tokens, targets and activations `[B, S, F]`: batch over `(z, data)`;
      features over `x` on the residual stream, over `y` after a normal
      linear or inside attention (heads over `y`);
    - a normal linear's weight `[n, k]` over `[[y], [x]]`, a transposed one
      over `[[x], [y]]`; the token embedding and the LM head `[V, D]` over
      `[[y], [x]]` (a vocabulary-parallel loss); learned positions over
      `[[], [x]]`; every matrix parameter stored split once more over `z`;
      biases over their linear's out-feature axis, norm scales over `x`;
    - results of linears, lookups and gradients that still hold partial
      sums say so (`partial = [...]`); optimizer state is laid out like
      its parameter.

    Where a value's layout differs from the one its user needs, an
    `axonn.reshard` makes the change explicit: partial sums are reduced
    once right after they are produced (weight gradients reduce-scattered
    into the storage split), stored weights are gathered right before each
    use. A vocabulary that does not divide over `y` and `z` is padded with
    rows that `axonn.lm_head_loss` ignores (`vocab_size`). Grid axes of size
    1 are left out of layouts.

    With `vocab-multiple=N`, the vocabulary is also padded so that every
    rank's slice has a multiple of `N` rows: the LM head's logits then have
    a leading dimension that keeps rows aligned for the GPU's GEMMs (an odd
    one, 50257 for GPT-2, leaves cuBLASLt only its unaligned kernels). The
    training pipeline asks for 8.

    Errors, at the offending op: a module without a grid, a dimension the
    grid does not divide, heads that do not divide over `y`, and a layout
    already on a type (forced by the user) that contradicts the algorithm,
    and a `vocab-multiple` outside 1 to 65536.
  }];
  let options = [
    Option<"vocabMultiple", "vocab-multiple", "int64_t", /*default=*/"1",
           "Pad the vocabulary so each rank's slice has a multiple of this "
           "many rows">,
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect",
                           "::mlir::func::FuncDialect"];
}

def InsertCollectivesPass : Pass<"axonn-insert-collectives", "ModuleOp"> {
  let summary = "Make every communication explicit: the per-rank program";
  let description = [{
    From sharded IR (`--axonn-shard`), builds the program each rank runs:

    - every type becomes the rank's local piece (split dimensions divided by
      their axes, the storage split divided once more); the function's
      arguments and results record the layout of the global tensor they are
      a piece of (`axonn.layout`);
    - each `axonn.reshard` becomes its collectives: an all-gather over `z`
      of a stored weight, an all-reduce of partial sums (forward over `x`
      after a normal linear, over `y` after a transposed one; backward the
      other way round), a reduce-scatter over `z` followed by an all-reduce
      over `data` for weight gradients;
    - a norm over split features computes local sums (`axonn.norm_stats`,
      `axonn.norm_grad_stats`), all-reduces them over the feature axes and
      finishes locally with them;
    - the LM head loss becomes the vocabulary-parallel cross-entropy: local
      logits (all-reduced over `x`), the per-token maximum (all-reduced with
      `max` over `y`), the softmax sums and target logit (over `y`), and each
      rank's share of the mean (over `z` and `data`); its gradient reuses
      the logits and statistics of the forward;
    - the gradient norm sums squares locally, weighting replicated
      gradients down, and all-reduces once over the whole grid;
    - ops whose meaning depends on the rank say so: `vocab_axes` on lookups
      into a vocabulary slice, `once_over` on a bias or positions added to a
      partial sum.
  }];
  let dependentDialects = ["::mlir::axonn::AxonnDialect",
                           "::mlir::func::FuncDialect"];
}

def PrintCollectivesPass : Pass<"axonn-print-collectives", "ModuleOp"> {
  let summary = "List the collectives of a per-rank program";
  let description = [{
    For each function with collectives (after
    `--axonn-insert-collectives`), prints one line per collective in
    program order: the phase (forward, backward, optimizer), the layer it
    belongs to (the name of its location), its kind, its axes, the elements
    per rank it moves (gathered size for an all-gather, input size for a
    reduce-scatter, buffer size for an all-reduce: the counts of the table
    in algorithm.md), and whether compute runs between an asynchronous
    collective's start and its wait (overlapped) or not (exposed; blocking
    collectives are exposed). Then per-phase totals and the number
    overlapped and exposed. The IR is not changed.
  }];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def PrintShardingPass : Pass<"axonn-print-sharding", "ModuleOp"> {
  let summary = "Show what each rank holds and sends: tensors and collectives";
  let description = [{
    On the sharded step (after `--axonn-shard`), prints for every tensor of
    a function (each argument, then each op's result in program order) its
    global shape, its layout on the grid, the shape of one rank's piece and
    its bytes per rank (a stored split over `storage` axes divides the
    first dimension once more, as `--axonn-insert-collectives` does). Then,
    from a copy of the module taken through `--axonn-insert-collectives`
    and (with `overlap=true`, the default) `--axonn-schedule-overlap`, the
    collectives per layer as `--axonn-print-collectives` lists them, with
    bytes, and per layer their count, volume and how many are overlapped.
    With `json=true`, one JSON object instead (grid, tensors, collectives,
    layers). The IR is not changed.

    ```
    $ axonn-opt step.mlir --axonn-shard --axonn-print-sharding -o /dev/null
    sharding of @train_step on grid 2x2x2x2
    value                          global          layout ...
    ```
  }];
  let options = [
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The function to show">,
    Option<"json", "json", "bool", /*default=*/"false",
           "Print JSON instead of tables">,
    Option<"overlap", "overlap", "bool", /*default=*/"true",
           "Schedule the overlap (as the training pipeline does) before "
           "listing collectives">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def PrintGraphPass : Pass<"axonn-print-graph", "ModuleOp"> {
  let summary = "Draw one transformer block of the step, or the grid, as Graphviz";
  let description = [{
    Prints a Graphviz (DOT) graph to stdout; render it with Debian's
    graphviz (`dot -Tsvg`).

    - `what=block` (default), on a per-rank program (after
      `--axonn-insert-collectives`, best after `--axonn-schedule-overlap`):
      the forward and backward ops of one transformer layer (`layer=N`,
      the ops that read that layer's parameters and the ops between them),
      each a box labelled with the op and its local result shape;
      collectives are coloured by axis (x red, y blue, z green, data
      orange; a set of axes takes its first axis' colour), and an
      asynchronous collective's flight from its start to its wait is a
      dashed span edge; arrows follow the values.
    - `what=grid`: the ranks of the module's grid, grouped into the nodes
      of its cluster (`gpus_per_node`, when the module has an
      `axonn.cluster`), each labelled with its (x, y, z, data)
      coordinates, and for each axis the groups of ranks that communicate
      along it as rings in the axis' colour.
  }];
  let options = [
    Option<"what", "what", "std::string", /*default=*/"\"block\"",
           "block or grid">,
    Option<"layer", "layer", "int64_t", /*default=*/"0",
           "The transformer layer to draw (what=block)">,
    Option<"function", "function", "std::string", /*default=*/"\"train_step\"",
           "The function to draw (what=block)">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def ScheduleOverlapPass : Pass<"axonn-schedule-overlap", "ModuleOp"> {
  let summary = "Make collectives asynchronous and overlap them with compute";
  let description = [{
    On a per-rank program (`--axonn-insert-collectives`), replaces every
    collective by its `_start` form and an `axonn.wait`, then moves them:

    - OAR: every wait sinks to just before the first op that reads its
      result, so a backward dX all-reduce runs under the dW GEMM that
      follows it;
    - OAG: each weight all-gather starts `prefetch` weight-using ops (linears,
      their dX GEMMs, lookups) before the op that needs it: the next layer's
      weights arrive while this layer computes, in forward, backward and
      recompute; with `keep-gathered-weights`, backward reuses the forward's
      gathered weight instead of gathering it again;
    - ORS and data parallelism: a weight gradient's reduce-scatter over z
      starts as soon as its dW GEMM is done; the all-reduces over data (and
      those of norm and bias gradients) go in buckets of about
      `bucket-bytes`, started together once the bucket is complete and one
      more dW GEMM has run, and are waited only where the optimizer reads
      them. Without data parallelism, the reduce-scatters themselves are
      bucketed: each bucket's are waited at its issue point, so that at
      most a bucket of whole dW buffers is in flight.

    The verifier of the `_start` ops checks the schedule: every wait
    follows its start in the same block (and, by SSA dominance, precedes
    every use of its result), and no collective is in flight while
    `axonn.adamw` overwrites its input in place. `--axonn-print-collectives`
    reports what is overlapped and what is exposed.
  }];
  let options = [
    Option<"prefetch", "prefetch", "unsigned", /*default=*/"1",
           "How many weight-using ops ahead weight all-gathers start (0: at "
           "their use)">,
    Option<"keepGatheredWeights", "keep-gathered-weights", "bool",
           /*default=*/"false",
           "Reuse the forward's gathered weights in backward (OAG cache)">,
    Option<"bucketBytes", "bucket-bytes", "int64_t", /*default=*/"26214400",
           "Bytes of gradients per data-parallel all-reduce bucket">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect",
                           "::mlir::func::FuncDialect"];
}

def FuseResidualNormPass : Pass<"axonn-fuse-residual-norm", "ModuleOp"> {
  let summary = "Fuse each residual addition with the norm of its sum";
  let description = [{
    In per-rank IR, an `axonn.add` whose sum an `axonn.layer_norm` or
    `axonn.rms_norm` normalizes over whole features (no `stats`) becomes one
    `axonn.residual_norm` that returns both the sum and the normalized
    value, so that the kernel reads the sum once. The fused op takes the
    norm's place when nothing between the two uses the sum, else the
    addition's when the norm's scale and bias are already defined there;
    otherwise the pair is left as it is. Runs after
    `--axonn-schedule-overlap` and before `--axonn-plan-memory` in the
    training pipeline; `fuse=false` on the pipeline leaves it out.
  }];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def FuseLinearGeluPass : Pass<"axonn-fuse-linear-gelu", "ModuleOp"> {
  let summary = "Fuse each GELU with the linear layer it follows, and its gradient with the next layer's";
  let description = [{
    In per-rank IR, an `axonn.gelu` of the whole result of an
    `axonn.linear` (no partial sums, so no `once_over`) becomes, with the
    linear layer, one `axonn.linear_gelu` at the layer's place; its `pre`
    result keeps the layer's other uses (the GELU's gradient). In the
    backward, an `axonn.gelu_grad` whose gradient operand is an
    `axonn.linear_grad_input` read by nothing else becomes, with it, one
    `axonn.linear_grad_input_gelu` at the GELU gradient's place. Runs with
    `--axonn-fuse-residual-norm` in the training pipeline (`fuse=false`
    leaves both out).
  }];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def FuseLinearGradBiasPass : Pass<"axonn-fuse-linear-grad-bias", "ModuleOp"> {
  let summary = "Compute each bias gradient with its layer's weight gradient";
  let description = [{
    An `axonn.linear_grad_bias` and an `axonn.linear_grad_weight` of the
    same gradient become one `axonn.linear_grad_weight` with the bias
    gradient as its second result: at the weight gradient's place when it
    comes first; else at the bias gradient's when the weight gradient's
    input is defined there, or at the weight gradient's when nothing before
    it reads the bias gradient; otherwise the pair is left as it is. On
    GPUs the weight gradient's GEMM sums the gradient's columns in its
    epilogue as it reads them, instead of a kernel reading the whole
    gradient again. Runs with the other fusions in the training pipeline
    (`fuse=false` leaves it out).
  }];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def FuseGradAddPass : Pass<"axonn-fuse-grad-add", "ModuleOp"> {
  let summary = "Fold gradient additions into the ops that compute one of their operands";
  let description = [{
    In the backward, the residual stream's gradient is the sum of the next
    block's and a norm's input gradient, and a tied embedding's gradient
    the sum of the LM head's and the embedding's. An `axonn.add` of an
    `axonn.layer_norm_grad` or `axonn.rms_norm_grad` input gradient, or of
    an `axonn.embedding_grad`, read by nothing else becomes that op with
    `accumulate` (the add's other operand), so that its kernel adds it as
    it writes the gradient: a write and a read fewer. The fused op takes
    the producer's place when the other operand is defined there, else the
    addition's when nothing in between reads the producer's other results;
    otherwise the pair is left as it is. Runs with the other fusions in the
    training pipeline (`fuse=false` leaves it out).
  }];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def PlanMemoryPass : Pass<"axonn-plan-memory", "ModuleOp"> {
  let summary = "Assign every temporary of the step a workspace offset";
  let description = [{
    Liveness-based static buffer assignment of each (per-rank) function: in
    program order, every new tensor gets the first free range of a single
    workspace that fits it, and its range is freed after its last use. A
    collective's input stays live until its wait (no buffer is reused while
    a collective reads it), an all-reduce reduces in place when nothing
    else reads its input, and AdamW
    updates parameters and optimizer state in place, in their persistent
    buffers. Records each op's result offsets (`axonn.buffers`, -1 for a
    value without a buffer of its own such as a handle or a persistent
    argument) and the function's totals (`axonn.memory_plan`: workspace,
    weights, optimizer, inputs, total, in bytes).
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"256",
           "Alignment of every buffer in bytes">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

def PrintMemoryPlanPass : Pass<"axonn-print-memory-plan", "ModuleOp"> {
  let summary = "Print the peak memory per rank by category";
  let description = [{
    Plans memory as `--axonn-plan-memory` does and prints, per function, the
    bytes each rank holds: weights, optimizer state and inputs (held across
    the step), and the workspace at its fullest point broken into
    gradients, activations, communication buffers (gathered weights) and
    fragmentation. When `--axonn-plan` chose the grid, its cost model's
    prediction is printed next to the plan's total. The IR is not changed.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"256",
           "Alignment of every buffer in bytes">
  ];
  let dependentDialects = ["::mlir::axonn::AxonnDialect"];
}

#endif // AXONN_DIALECT_AXONN_TRANSFORMS_PASSES_TD
