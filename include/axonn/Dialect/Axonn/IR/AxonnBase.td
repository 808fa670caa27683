//===- AxonnBase.td - axonn dialect definition and enums ---*- tablegen -*-===//
//
// The dialect itself, the enums its attributes and ops share, and the
// parameter kinds used by more than one attribute.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DIALECT_AXONN_IR_AXONNBASE_TD
#define AXONN_DIALECT_AXONN_IR_AXONNBASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Axonn_Dialect : Dialect {
  let name = "axonn";
  let cppNamespace = "::mlir::axonn";
  let summary = "Transformers, 4D hybrid-parallel grids and collectives";
  let description = [{
    The `axonn` dialect describes the training of a transformer model at two
    levels of abstraction.

    *Model level.* Transformer ops (`axonn.embedding`, `axonn.layer_norm`,
    `axonn.linear`, `axonn.attention`, ...) act on whole, unsharded tensors.
    Model parameters are arguments of the function, marked with `axonn.param`.
    The module carries the training hyper-parameters (`#axonn.training`), the
    machine (`#axonn.cluster`) and, once chosen, the 4D process grid
    (`#axonn.grid`).

    *Sharded level.* A tensor type may carry a `#axonn.layout` encoding that
    says how its dimensions are split over the axes of the grid. Collectives
    (`axonn.all_gather`, `axonn.reduce_scatter`, `axonn.all_reduce` and their
    `_start`/`axonn.wait` async forms) act on per-rank local tensors over one
    or more grid axes.

    The grid has four axes named `x`, `y`, `z` and `data`. Ranks are numbered
    with `x` varying fastest and `data` slowest:
    `x = r % Gx`, `y = (r / Gx) % Gy`, `z = (r / (Gx*Gy)) % Gz`,
    `data = r / (Gx*Gy*Gz)`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Discardable attribute names the dialect understands.
    static constexpr ::llvm::StringLiteral kGridAttrName = "axonn.grid";
    static constexpr ::llvm::StringLiteral kClusterAttrName = "axonn.cluster";
    static constexpr ::llvm::StringLiteral kTrainingAttrName = "axonn.training";
    static constexpr ::llvm::StringLiteral kRecomputeAttrName = "axonn.recompute";
    static constexpr ::llvm::StringLiteral kParamAttrName = "axonn.param";
    static constexpr ::llvm::StringLiteral kInitAttrName = "axonn.init";
    static constexpr ::llvm::StringLiteral kInputAttrName = "axonn.input";
    static constexpr ::llvm::StringLiteral kOutputAttrName = "axonn.output";
    static constexpr ::llvm::StringLiteral kStateAttrName = "axonn.state";
    static constexpr ::llvm::StringLiteral kStateOfAttrName = "axonn.state_of";
    static constexpr ::llvm::StringLiteral kLayoutAttrName = "axonn.layout";
    static constexpr ::llvm::StringLiteral kBuffersAttrName = "axonn.buffers";
    static constexpr ::llvm::StringLiteral kMemoryPlanAttrName = "axonn.memory_plan";
    static constexpr ::llvm::StringLiteral kPredictedMemoryAttrName = "axonn.predicted_memory";
    static constexpr ::llvm::StringLiteral kModelInfoAttrName = "axonn.model_info";

  private:
    void registerAttributes();
    void registerTypes();
  public:
  }];
}

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def Axonn_Axis : I32EnumAttr<"Axis", "an axis of the 4D process grid", [
    I32EnumAttrCase<"x", 0>, I32EnumAttrCase<"y", 1>,
    I32EnumAttrCase<"z", 2>, I32EnumAttrCase<"data", 3>]> {
  let cppNamespace = "::mlir::axonn";
  let genSpecializedAttr = 0;
}

def Axonn_ReductionKind : I32EnumAttr<"ReductionKind",
    "the reduction a collective applies", [
    I32EnumAttrCase<"sum", 0>, I32EnumAttrCase<"max", 1>]> {
  let cppNamespace = "::mlir::axonn";
}

def Axonn_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "how GELU is computed", [
    I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"tanh", 1>]> {
  let cppNamespace = "::mlir::axonn";
}

def Axonn_LRSchedule : I32EnumAttr<"LRSchedule",
    "learning-rate schedule after linear warmup", [
    I32EnumAttrCase<"constant", 0>, I32EnumAttrCase<"linear", 1>,
    I32EnumAttrCase<"cosine", 2>]> {
  let cppNamespace = "::mlir::axonn";
  let genSpecializedAttr = 0;
}

def Axonn_RecomputePolicy : I32EnumAttr<"RecomputePolicy",
    "which activations backward recomputes instead of keeping", [
    I32EnumAttrCase<"none", 0>, I32EnumAttrCase<"selective", 1>,
    I32EnumAttrCase<"full", 2>]> {
  let cppNamespace = "::mlir::axonn";
  let genSpecializedAttr = 0;
}

def Axonn_InitKind : I32EnumAttr<"InitKind",
    "how a parameter is initialized", [
    I32EnumAttrCase<"zeros", 0>, I32EnumAttrCase<"ones", 1>,
    I32EnumAttrCase<"normal", 2>]> {
  let cppNamespace = "::mlir::axonn";
  let genSpecializedAttr = 0;
}

def Axonn_GoldfishStrategy : I32EnumAttr<"GoldfishStrategy",
    "which targets the Goldfish loss drops", [
    I32EnumAttrCase<"hash", 0>, I32EnumAttrCase<"every_kth", 1, "static">]> {
  let cppNamespace = "::mlir::axonn";
  let genSpecializedAttr = 0;
}

//===----------------------------------------------------------------------===//
// Parameter kinds
//===----------------------------------------------------------------------===//

// A double, printed in the shortest form that parses back to the same bits
// (0.95, not 9.499999e-01). Stored as an
// APFloat because attribute storage must hash its parameters.
class Axonn_F64ParameterBase<string desc, string value>
    : APFloatParameter<desc> {
  let parser = "::mlir::axonn::parseF64($_parser)";
  let printer = "::mlir::axonn::printF64($_printer, $_self)";
  let defaultValue = value;
}
def Axonn_F64Parameter : Axonn_F64ParameterBase<"", "">;

// `[64: 0.2, 512: 0.6]`: GEMM efficiency by smallest dimension; may be
// absent (empty).
def Axonn_GemmEfficiencyParameter
    : OptionalArrayRefParameter<"GemmEfficiencyPoint",
                                "GEMM efficiency by smallest dimension"> {
  let parser = "::mlir::axonn::parseGemmEfficiency($_parser)";
  let printer = "::mlir::axonn::printGemmEfficiency($_printer, $_self)";
}

#endif // AXONN_DIALECT_AXONN_IR_AXONNBASE_TD
