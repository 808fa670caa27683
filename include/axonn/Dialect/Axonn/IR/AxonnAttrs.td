//===- AxonnAttrs.td - axonn attributes --------------------*- tablegen -*-===//
//
// The grid, tensor layouts on it, the machine, the training hyper-parameters
// and parameter initializers.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DIALECT_AXONN_IR_AXONNATTRS_TD
#define AXONN_DIALECT_AXONN_IR_AXONNATTRS_TD

include "axonn/Dialect/Axonn/IR/AxonnBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class Axonn_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<Axonn_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// GridAttr
//===----------------------------------------------------------------------===//

def Axonn_GridAttr : Axonn_Attr<"Grid", "grid"> {
  let summary = "The 4D process grid (Gx, Gy, Gz, Gdata)";
  let description = [{
    The sizes of the four grid axes. Three are tensor-parallel (`x`, `y`,
    `z`), the last is data-parallel. Ranks are ordered with `x` fastest and
    `data` slowest, so the ranks of an `x` group are contiguous and sit in one
    node first.

    ```mlir
    module attributes {axonn.grid = #axonn.grid<x = 2, y = 2, z = 2, data = 2>}
    ```
  }];
  let parameters = (ins "int64_t":$x, "int64_t":$y, "int64_t":$z,
                        "int64_t":$data);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Size of one axis.
    int64_t getSize(Axis axis) const;
    /// Product of the sizes of the given axes (1 for none).
    int64_t getGroupSize(::llvm::ArrayRef<Axis> axes) const;
    /// Gx * Gy * Gz * Gdata.
    int64_t getNumRanks() const;
    /// The coordinate of `rank` along `axis` (x fastest, data slowest).
    int64_t getCoordinate(int64_t rank, Axis axis) const;
    /// The index of `rank` within its group of `axes`, the first axis
    /// major: the block of a dimension split over `axes` that it holds.
    int64_t getGroupIndex(int64_t rank, ::llvm::ArrayRef<Axis> axes) const;
  }];
}

//===----------------------------------------------------------------------===//
// AxesAttr
//===----------------------------------------------------------------------===//

def Axonn_AxesAttr : Axonn_Attr<"Axes", "axes"> {
  let summary = "An ordered set of grid axes";
  let description = [{
    The axes a collective communicates over, or that split one tensor
    dimension, major first. Each axis appears at most once.

    ```mlir
    #axonn.axes<z, data>
    ```
  }];
  let parameters = (ins OptionalArrayRefParameter<"Axis">:$axes);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    bool empty() const { return getAxes().empty(); }
    bool contains(Axis axis) const;
    /// Prints `[x, z]`, the form used inside layouts and collectives.
    void printList(::mlir::AsmPrinter &printer) const;
    /// Parses `[x, z]` (possibly `[]`), diagnosing repeated axes.
    static AxesAttr parseList(::mlir::AsmParser &parser);
  }];
}

//===----------------------------------------------------------------------===//
// LayoutAttr
//===----------------------------------------------------------------------===//

def Axonn_LayoutAttr : Axonn_Attr<"Layout", "layout"> {
  let summary = "How a tensor is laid out on the process grid";
  let description = [{
    Used as the encoding of a ranked tensor type whose shape is the global
    (unsharded) shape. For each tensor dimension, `split` lists the grid axes
    the dimension is divided over, major axis first; a dimension of size `n`
    split over axes of sizes `a` and `b` has local extent `n / (a*b)`. Axes
    not named anywhere replicate the tensor.

    - `partial = [...]`: the local values are partial sums still to be reduced
      over these axes (e.g. the output of a linear layer before its forward
      all-reduce).
    - `storage = [...]`: the local block is stored divided once more, along
      its first dimension, over these axes, and gathered before use (the
      z-axis weight split of the 4D algorithm, FSDP-style). For a row-major
      block this is a split into contiguous chunks.

    One axis appears at most once in a layout. Every split dimension must be
    divisible by the product of its axes, and the local first dimension by
    the product of the `storage` axes; both are checked against the module's
    grid.

    ```mlir
    // A linear weight [n, k] = [3072, 768]: n over y, k over x, stored over z.
    tensor<3072x768xf32, #axonn.layout<[[y], [x]], storage = [z]>>
    // Activations [B, S, D]: batch over z then data, features over x.
    tensor<16x1024x768xf32, #axonn.layout<[[z, data], [], [x]]>>
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"AxesAttr", "split axes per dimension">:$split,
    "AxesAttr":$partial,
    "AxesAttr":$storage);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// The local (per-rank) shape of a tensor of the given global shape, or
    /// failure if some dimension is not divisible by its axes.
    ::mlir::FailureOr<::llvm::SmallVector<int64_t>>
    getLocalShape(::llvm::ArrayRef<int64_t> globalShape, GridAttr grid) const;
    /// Every axis the layout names (split, partial and storage).
    ::llvm::SmallVector<Axis> getAllAxes() const;
  }];
}

//===----------------------------------------------------------------------===//
// ClusterAttr
//===----------------------------------------------------------------------===//

def Axonn_ClusterAttr : Axonn_Attr<"Cluster", "cluster"> {
  let summary = "The machine a training program is compiled for";
  let description = [{
    Numbers in SI units: bandwidths in bytes per second (intra-node per GPU
    link direction, inter-node per NIC), latencies in seconds, `peak_flops` is
    the dense bf16 FLOP/s of one GPU, `memory` the bytes of one GPU and
    `memory_bandwidth` its bytes per second.

    `gemm_efficiency` is an optional table `[size: fraction, ...]`: the
    fraction of `peak_flops` a GEMM reaches when its smallest dimension is
    `size` (sizes increasing; the cost model interpolates in log(size) and
    holds the ends flat). Calibration writes it; without it the cost model
    uses its documented default curve.

    ```mlir
    #axonn.cluster<name = "perlmutter", gpus = 1024, gpus_per_node = 4,
                   nics_per_node = 4, intra_node_bandwidth = 2.25e11,
                   inter_node_bandwidth = 2.5e10, intra_node_latency = 3.0e-6,
                   inter_node_latency = 1.0e-5, peak_flops = 3.12e14,
                   memory = 42949672960, memory_bandwidth = 1.555e12,
                   gemm_efficiency = [64: 0.2, 512: 0.6, 4096: 0.75]>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"machine name">:$name,
    "int64_t":$gpus,
    "int64_t":$gpus_per_node,
    "int64_t":$nics_per_node,
    Axonn_F64Parameter:$intra_node_bandwidth,
    Axonn_F64Parameter:$inter_node_bandwidth,
    Axonn_F64Parameter:$intra_node_latency,
    Axonn_F64Parameter:$inter_node_latency,
    Axonn_F64Parameter:$peak_flops,
    "int64_t":$memory,
    Axonn_F64Parameter:$memory_bandwidth,
    Axonn_GemmEfficiencyParameter:$gemm_efficiency);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// TrainingAttr
//===----------------------------------------------------------------------===//

def Axonn_TrainingAttr : Axonn_Attr<"Training", "training"> {
  let summary = "Training hyper-parameters";
  let description = [{
    The global batch (sequences per optimizer step, over all data-parallel
    and z ranks) and sequence length; the learning-rate schedule (linear
    warmup over `warmup_steps` from 0 to `lr`, then `schedule` down to `min_lr`
    at step `steps`); AdamW (`beta1`, `beta2`, `eps`, decoupled
    `weight_decay`); global-norm gradient clipping at `grad_clip` (0 = off);
    and the seed of every random choice (initialization, data order).

    ```mlir
    #axonn.training<global_batch = 512, seq_len = 1024, lr = 6.0e-4,
                    min_lr = 6.0e-5, warmup_steps = 700, steps = 19073,
                    schedule = cosine, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-8,
                    weight_decay = 0.1, grad_clip = 1.0, seed = 1337>
    ```
  }];
  let parameters = (ins
    "int64_t":$global_batch,
    "int64_t":$seq_len,
    Axonn_F64Parameter:$lr,
    Axonn_F64Parameter:$min_lr,
    "int64_t":$warmup_steps,
    "int64_t":$steps,
    "LRSchedule":$schedule,
    Axonn_F64Parameter:$beta1,
    Axonn_F64Parameter:$beta2,
    Axonn_F64Parameter:$eps,
    Axonn_F64Parameter:$weight_decay,
    Axonn_F64Parameter:$grad_clip,
    "int64_t":$seed);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// RecomputeAttr
//===----------------------------------------------------------------------===//

def Axonn_RecomputeAttr
    : EnumAttr<Axonn_Dialect, Axonn_RecomputePolicy, "recompute"> {
  let summary = "Activation recompute policy of the training step";
  let description = [{
    `none` keeps every activation backward needs; `full` keeps only each
    transformer layer's input and recomputes the layer's forward before its
    backward; `selective` recomputes the cheap, memory-hungry parts
    (attention internals). The planner sets it on the module as
    `axonn.recompute` when the chosen grid needs it to fit.

    ```mlir
    module attributes {axonn.recompute = #axonn.recompute<full>}
    ```
  }];
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// InitAttr
//===----------------------------------------------------------------------===//

def Axonn_InitAttr : Axonn_Attr<"Init", "init"> {
  let summary = "How a parameter is initialized";
  let description = [{
    `zeros`, `ones`, or `normal` with mean 0 and standard deviation `std`.
    The values themselves are drawn by the runtime from the training seed and
    the parameter's name, so every grid starts from the same weights.

    ```mlir
    %w: tensor<768x768xf32> {axonn.init = #axonn.init<normal, std = 0.02>}
    ```
  }];
  let parameters = (ins "InitKind":$kind,
                        Axonn_F64ParameterBase<"standard deviation", "::llvm::APFloat(0.0)">:$std);
  let assemblyFormat = "`<` $kind (`,` `std` `=` $std^)? `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// GoldfishAttr
//===----------------------------------------------------------------------===//

def Axonn_GoldfishAttr : Axonn_Attr<"Goldfish", "goldfish"> {
  let summary = "The Goldfish loss: which targets the loss leaves out";
  let description = [{
    On `axonn.lm_head_loss` (and its gradient), the loss becomes the sum of
    the cross-entropy over the kept targets divided by the number kept, over
    the whole batch (algorithm.md §7, Hans et al. 2024). `hash` drops target
    t of a sequence, for t >= h-1, iff table[key] < 1/k with key = (product
    of the targets t-h+1..t as wrapping int64) mod 1,000,003 (taken
    non-negative) and table[i] = (splitmix64(0x601DF15B xor i) >> 11) / 2^53,
    so a repeated passage is always masked alike; `static` drops every k-th
    position (t + 1 divisible by k; `h` is unused).

    ```mlir
    %loss = axonn.lm_head_loss %h, %wte, %targets
        {goldfish = #axonn.goldfish<strategy = hash, k = 4, h = 13>} : ...
    ```
  }];
  let parameters = (ins "GoldfishStrategy":$strategy, "int64_t":$k,
                        "int64_t":$h);
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // AXONN_DIALECT_AXONN_IR_AXONNATTRS_TD
