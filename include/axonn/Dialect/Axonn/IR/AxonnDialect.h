//===- AxonnDialect.h - axonn dialect, enums, attributes, types -*- C++ -*-===//
//
// Everything of the axonn dialect except its operations.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DIALECT_AXONN_IR_AXONNDIALECT_H
#define AXONN_DIALECT_AXONN_IR_AXONNDIALECT_H

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/OpDefinition.h"

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h.inc"
#include "axonn/Dialect/Axonn/IR/AxonnEnums.h.inc"

namespace mlir::axonn {
/// One entry of a cluster's GEMM efficiency table: GEMMs whose smallest
/// dimension is `size` reach `efficiency` of peak.
struct GemmEfficiencyPoint {
  int64_t size = 0;
  double efficiency = 0;
  bool operator==(const GemmEfficiencyPoint &other) const {
    return size == other.size && efficiency == other.efficiency;
  }
};
llvm::hash_code hash_value(const GemmEfficiencyPoint &point);
FailureOr<SmallVector<GemmEfficiencyPoint>>
parseGemmEfficiency(AsmParser &parser);
void printGemmEfficiency(AsmPrinter &printer,
                         ArrayRef<GemmEfficiencyPoint> table);

/// Parses a floating-point attribute parameter.
FailureOr<llvm::APFloat> parseF64(AsmParser &parser);
/// Prints the shortest decimal form that parses back to the same double,
/// always with a '.' so that it lexes as a float: 0.95, 1.0e-08, 1024.0.
void printF64(AsmPrinter &printer, const llvm::APFloat &value);
/// The shortest decimal text that reads back as `value` (0.95, 1e-08): for
/// diagnostics.
std::string formatF64(double value);
} // namespace mlir::axonn

#define GET_ATTRDEF_CLASSES
#include "axonn/Dialect/Axonn/IR/AxonnAttrs.h.inc"

#define GET_TYPEDEF_CLASSES
#include "axonn/Dialect/Axonn/IR/AxonnTypes.h.inc"

namespace mlir::axonn {

/// The grid attribute of the module enclosing `op`, or null.
GridAttr getEnclosingGrid(Operation *op);

/// `[x, z]`: axes as written in IR and diagnostics.
std::string formatAxes(ArrayRef<Axis> axes);

/// The layout encoding of a tensor type, or null.
LayoutAttr getLayout(Type type);

/// Checks that a value of type `type` fits `grid`: its layout has one entry
/// per dimension and every split (and the storage split) is divisible.
/// Types without a layout fit.
LogicalResult verifyTypeFitsGrid(function_ref<InFlightDiagnostic()> emit,
                                 Type type, GridAttr grid);

/// The ranked tensor type with the same shape and element type and no
/// encoding.
RankedTensorType stripLayout(RankedTensorType type);

} // namespace mlir::axonn

#endif // AXONN_DIALECT_AXONN_IR_AXONNDIALECT_H
