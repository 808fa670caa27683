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

#endif // AXONN_DIALECT_AXONN_TRANSFORMS_PASSES_TD
