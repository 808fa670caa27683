//===- AxonnTypes.td - axonn types -------------------------*- tablegen -*-===//
//
// The handle of an in-flight collective.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DIALECT_AXONN_IR_AXONNTYPES_TD
#define AXONN_DIALECT_AXONN_IR_AXONNTYPES_TD

include "axonn/Dialect/Axonn/IR/AxonnBase.td"

def Axonn_HandleType : TypeDef<Axonn_Dialect, "Handle"> {
  let mnemonic = "handle";
  let summary = "An in-flight asynchronous collective";
  let description = [{
    Returned by a `*_start` collective and consumed by exactly one
    `axonn.wait`, which yields the collective's result of type `value`.
    Between the two, the collective's buffers must not be touched.

    ```mlir
    %h = axonn.all_gather_start %w over [z] dim 0
        : tensor<192x768xf32> -> !axonn.handle<tensor<384x768xf32>>
    %g = axonn.wait %h : !axonn.handle<tensor<384x768xf32>>
    ```
  }];
  let parameters = (ins "::mlir::RankedTensorType":$value);
  let assemblyFormat = "`<` $value `>`";
}

#endif // AXONN_DIALECT_AXONN_IR_AXONNTYPES_TD
