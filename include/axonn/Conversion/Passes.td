//===- Passes.td - axonn conversion passes -----------------*- tablegen -*-===//

#ifndef AXONN_CONVERSION_PASSES_TD
#define AXONN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def LowerToRuntimePass : Pass<"axonn-lower-to-runtime", "ModuleOp"> {
  let summary = "Lower per-rank functions to calls into the axonn runtime";
  let description = [{
    Replaces every per-rank function `@f` (the output of
    `--axonn-insert-collectives`, scheduled or not) by

    ```mlir
    func.func @axonn_f(%rt: !llvm.ptr, %args: !llvm.ptr, %results: !llvm.ptr,
                       %workspace: !llvm.ptr) -> i32
    ```

    where `args` and `results` are arrays of pointers to each argument and
    result, and `workspace` holds the temporaries at the offsets of the
    memory plan (lib/Analysis/MemoryPlan.cpp). Each op becomes a call of the
    runtime's C ABI (`runtime/include/axonn_rt.h`) with pointers and
    constant shapes, followed by a check of its status: the first failing
    call's status is returned. Asynchronous collectives keep their requests
    in a stack array. AdamW updates parameters and state in place, so their
    results are the argument buffers; other results (the loss) are copied
    into `results`.

    First, when the module has a per-rank `@forward` with an LM head, a
    copy of it cut at the head's local logits becomes `@logits` (result
    `axonn.output = "logits"`, `[B, S, V / vocabulary group]`, laid out like
    the tokens on the batch and over the vocabulary axes): the training
    driver generates text with it.

    The module gets `@axonn_manifest`, a JSON description of the program
    (grid, training settings, the model's shape from `axonn.model_info`
    when axonnc recorded it, and per function its workspace size and each
    argument's and result's role, name, initializer, local shape and
    layout), which the training driver reads to allocate, initialize, shard
    and checkpoint the tensors.

    Tensors are f32 or bf16 (training.dtype = bfloat16). An op whose model
    tensors are bf16 calls the `_bf16` twin of its runtime kernel, in which
    statistics stay f32 (norm statistics, logits max and sums, the Goldfish
    mask, losses, the gradient norm, AdamW's moments and master weights);
    any other mix, and f16, is an error. `element-type=f64` lowers an f32
    program for the runtime's fp64 build, which gradient checks link, and
    stores its f32 tensors as f64. The result uses the func, arith, cf and llvm dialects; upstream
    `--convert-to-llvm` finishes the lowering for `mlir-translate`.
  }];
  let options = [
    Option<"elementType", "element-type", "std::string", /*default=*/"\"f32\"",
           "Float type of the runtime build: f32, or f64 (libaxonn_rt_f64)">
  ];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::LLVM::LLVMDialect"];
}

#endif // AXONN_CONVERSION_PASSES_TD
