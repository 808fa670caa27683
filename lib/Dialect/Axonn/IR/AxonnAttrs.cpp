//===- AxonnAttrs.cpp - axonn attributes ---------------------------------===//
//
// Parsing, printing and verification of the grid, axes, layout, cluster,
// training and init attributes, and the layout arithmetic the verifiers and
// later passes share.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace mlir::axonn;

#define GET_ATTRDEF_CLASSES
#include "axonn/Dialect/Axonn/IR/AxonnAttrs.cpp.inc"

void AxonnDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "axonn/Dialect/Axonn/IR/AxonnAttrs.cpp.inc"
      >();
}

FailureOr<APFloat> mlir::axonn::parseF64(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return APFloat(value);
}

std::string mlir::axonn::formatF64(double value) {
  char buffer[64];
  // Whole numbers of a readable size print in full: 10000, not 1e+04.
  if (std::isfinite(value) && value == std::trunc(value) &&
      std::fabs(value) < 1e7) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", value);
    return buffer;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value)
      break;
  }
  return buffer;
}

void mlir::axonn::printF64(AsmPrinter &printer, const APFloat &value) {
  if (&value.getSemantics() != &APFloat::IEEEdouble() ||
      !std::isfinite(value.convertToDouble())) {
    printer.printFloat(value);
    return;
  }
  std::string text = formatF64(value.convertToDouble());
  // MLIR float literals need a '.' before any exponent: 1e-08 -> 1.0e-08.
  if (text.find('.') == std::string::npos) {
    size_t exponent = text.find('e');
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  printer << text;
}

llvm::hash_code mlir::axonn::hash_value(const GemmEfficiencyPoint &point) {
  return llvm::hash_combine(point.size,
                            llvm::bit_cast<uint64_t>(point.efficiency));
}

FailureOr<SmallVector<GemmEfficiencyPoint>>
mlir::axonn::parseGemmEfficiency(AsmParser &parser) {
  SmallVector<GemmEfficiencyPoint> table;
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        GemmEfficiencyPoint point;
        double efficiency;
        if (parser.parseInteger(point.size) || parser.parseColon() ||
            parser.parseFloat(efficiency))
          return failure();
        point.efficiency = efficiency;
        table.push_back(point);
        return success();
      }))
    return failure();
  return table;
}

void mlir::axonn::printGemmEfficiency(AsmPrinter &printer,
                                      ArrayRef<GemmEfficiencyPoint> table) {
  printer << '[';
  llvm::interleaveComma(table, printer, [&](const GemmEfficiencyPoint &p) {
    printer << p.size << ": ";
    printF64(printer, APFloat(p.efficiency));
  });
  printer << ']';
}

GridAttr mlir::axonn::getEnclosingGrid(Operation *op) {
  for (Operation *cur = op; cur; cur = cur->getParentOp())
    if (auto grid = cur->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName))
      return grid;
  return {};
}

LayoutAttr mlir::axonn::getLayout(Type type) {
  if (auto tensor = dyn_cast<RankedTensorType>(type))
    return dyn_cast_or_null<LayoutAttr>(tensor.getEncoding());
  return {};
}

std::string mlir::axonn::formatAxes(ArrayRef<Axis> axes) {
  std::string text = "[";
  llvm::raw_string_ostream os(text);
  llvm::interleaveComma(axes, os,
                        [&](Axis axis) { os << stringifyAxis(axis); });
  os << ']';
  return text;
}

RankedTensorType mlir::axonn::stripLayout(RankedTensorType type) {
  return RankedTensorType::get(type.getShape(), type.getElementType());
}

//===----------------------------------------------------------------------===//
// GridAttr
//===----------------------------------------------------------------------===//

LogicalResult GridAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t x, int64_t y, int64_t z, int64_t data) {
  int64_t sizes[] = {x, y, z, data};
  for (auto [axis, size] : llvm::enumerate(sizes))
    if (size < 1)
      return emitError() << "grid axis '"
                         << stringifyAxis(static_cast<Axis>(axis))
                         << "' must have at least one rank, got " << size;
  return success();
}

int64_t GridAttr::getSize(Axis axis) const {
  switch (axis) {
  case Axis::x:
    return getX();
  case Axis::y:
    return getY();
  case Axis::z:
    return getZ();
  case Axis::data:
    return getData();
  }
  llvm_unreachable("unknown axis");
}

int64_t GridAttr::getGroupSize(ArrayRef<Axis> axes) const {
  int64_t size = 1;
  for (Axis axis : axes)
    size *= getSize(axis);
  return size;
}

int64_t GridAttr::getNumRanks() const {
  return getX() * getY() * getZ() * getData();
}

int64_t GridAttr::getCoordinate(int64_t rank, Axis axis) const {
  int64_t stride = 1;
  for (Axis a : {Axis::x, Axis::y, Axis::z, Axis::data}) {
    if (a == axis)
      return (rank / stride) % getSize(a);
    stride *= getSize(a);
  }
  llvm_unreachable("unknown axis");
}

int64_t GridAttr::getGroupIndex(int64_t rank, ArrayRef<Axis> axes) const {
  int64_t index = 0;
  for (Axis axis : axes)
    index = index * getSize(axis) + getCoordinate(rank, axis);
  return index;
}

//===----------------------------------------------------------------------===//
// AxesAttr
//===----------------------------------------------------------------------===//

LogicalResult AxesAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               ArrayRef<Axis> axes) {
  for (auto [i, axis] : llvm::enumerate(axes))
    if (llvm::is_contained(axes.take_front(i), axis))
      return emitError() << "grid axis '" << stringifyAxis(axis)
                         << "' appears more than once";
  return success();
}

bool AxesAttr::contains(Axis axis) const {
  return llvm::is_contained(getAxes(), axis);
}

void AxesAttr::printList(AsmPrinter &printer) const {
  printer << '[';
  llvm::interleaveComma(getAxes(), printer,
                        [&](Axis axis) { printer << stringifyAxis(axis); });
  printer << ']';
}

static ParseResult parseAxisKeyword(AsmParser &parser,
                                    SmallVectorImpl<Axis> &axes) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef keyword;
  if (parser.parseKeyword(&keyword))
    return failure();
  std::optional<Axis> axis = symbolizeAxis(keyword);
  if (!axis)
    return parser.emitError(loc) << "unknown grid axis '" << keyword
                                 << "', expected one of x, y, z, data";
  axes.push_back(*axis);
  return success();
}

/// `x, z` between the given delimiters; repeated axes are diagnosed.
static AxesAttr parseAxes(AsmParser &parser, AsmParser::Delimiter delimiter) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<Axis> axes;
  if (parser.parseCommaSeparatedList(
          delimiter, [&] { return parseAxisKeyword(parser, axes); }))
    return {};
  return AxesAttr::getChecked([&] { return parser.emitError(loc); },
                              parser.getContext(), axes);
}

AxesAttr AxesAttr::parseList(AsmParser &parser) {
  return parseAxes(parser, AsmParser::Delimiter::Square);
}

Attribute AxesAttr::parse(AsmParser &parser, Type) {
  return parseAxes(parser, AsmParser::Delimiter::LessGreater);
}

void AxesAttr::print(AsmPrinter &printer) const {
  printer << '<';
  llvm::interleaveComma(getAxes(), printer,
                        [&](Axis axis) { printer << stringifyAxis(axis); });
  printer << '>';
}

//===----------------------------------------------------------------------===//
// LayoutAttr
//===----------------------------------------------------------------------===//

LogicalResult LayoutAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<AxesAttr> split, AxesAttr partial,
                                 AxesAttr storage) {
  if (!partial || !storage ||
      llvm::any_of(split, [](AxesAttr a) { return !a; }))
    return emitError() << "layout components must not be null";
  SmallVector<Axis> seen;
  auto add = [&](AxesAttr axes, StringRef where) -> LogicalResult {
    for (Axis axis : axes.getAxes()) {
      if (llvm::is_contained(seen, axis))
        return emitError()
               << "grid axis '" << stringifyAxis(axis)
               << "' is used more than once in the layout (again in " << where
               << ")";
      seen.push_back(axis);
    }
    return success();
  };
  for (AxesAttr axes : split)
    if (failed(add(axes, "split")))
      return failure();
  if (failed(add(partial, "partial")) || failed(add(storage, "storage")))
    return failure();
  return success();
}

SmallVector<Axis> LayoutAttr::getAllAxes() const {
  SmallVector<Axis> axes;
  for (AxesAttr split : getSplit())
    llvm::append_range(axes, split.getAxes());
  llvm::append_range(axes, getPartial().getAxes());
  llvm::append_range(axes, getStorage().getAxes());
  return axes;
}

FailureOr<SmallVector<int64_t>>
LayoutAttr::getLocalShape(ArrayRef<int64_t> globalShape, GridAttr grid) const {
  if (globalShape.size() != getSplit().size())
    return failure();
  SmallVector<int64_t> local;
  for (auto [size, axes] : llvm::zip_equal(globalShape, getSplit())) {
    int64_t group = grid.getGroupSize(axes.getAxes());
    if (ShapedType::isDynamic(size) || size % group != 0)
      return failure();
    local.push_back(size / group);
  }
  return local;
}

Attribute LayoutAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<AxesAttr> split;
  if (parser.parseLess() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, [&] {
        AxesAttr axes = AxesAttr::parseList(parser);
        if (!axes)
          return failure();
        split.push_back(axes);
        return success();
      }))
    return {};
  MLIRContext *ctx = parser.getContext();
  AxesAttr partial = AxesAttr::get(ctx, {}), storage = AxesAttr::get(ctx, {});
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc keyLoc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return {};
    AxesAttr *slot = key == "partial"   ? &partial
                     : key == "storage" ? &storage
                                        : nullptr;
    if (!slot) {
      parser.emitError(keyLoc) << "unknown layout key '" << key
                               << "', expected 'partial' or 'storage'";
      return {};
    }
    *slot = AxesAttr::parseList(parser);
    if (!*slot)
      return {};
  }
  if (parser.parseGreater())
    return {};
  return LayoutAttr::getChecked([&] { return parser.emitError(loc); }, ctx,
                                split, partial, storage);
}

void LayoutAttr::print(AsmPrinter &printer) const {
  printer << "<[";
  llvm::interleaveComma(getSplit(), printer,
                        [&](AxesAttr axes) { axes.printList(printer); });
  printer << ']';
  if (!getPartial().empty()) {
    printer << ", partial = ";
    getPartial().printList(printer);
  }
  if (!getStorage().empty()) {
    printer << ", storage = ";
    getStorage().printList(printer);
  }
  printer << '>';
}

//===----------------------------------------------------------------------===//
// ClusterAttr
//===----------------------------------------------------------------------===//

LogicalResult ClusterAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, StringRef name, int64_t gpus,
    int64_t gpusPerNode, int64_t nicsPerNode, APFloat intraBandwidthF,
    APFloat interBandwidthF, APFloat intraLatencyF, APFloat interLatencyF,
    APFloat peakFlopsF, int64_t memory, APFloat memoryBandwidthF,
    ArrayRef<GemmEfficiencyPoint> gemmTable) {
  double intraBandwidth = intraBandwidthF.convertToDouble();
  double interBandwidth = interBandwidthF.convertToDouble();
  double intraLatency = intraLatencyF.convertToDouble();
  double interLatency = interLatencyF.convertToDouble();
  double peakFlops = peakFlopsF.convertToDouble();
  if (gpus < 1)
    return emitError() << "cluster 'gpus' must be at least 1, got " << gpus;
  if (gpusPerNode < 1)
    return emitError() << "cluster 'gpus_per_node' must be at least 1, got "
                       << gpusPerNode;
  if (nicsPerNode < 1)
    return emitError() << "cluster 'nics_per_node' must be at least 1, got "
                       << nicsPerNode;
  if (gpus > gpusPerNode && gpus % gpusPerNode != 0)
    return emitError() << "cluster 'gpus' (" << gpus
                       << ") must be a multiple of 'gpus_per_node' ("
                       << gpusPerNode << ") when it spans several nodes";
  auto positive = [&](double value, StringRef key) -> LogicalResult {
    if (!std::isfinite(value) || value <= 0)
      return emitError() << "cluster '" << key
                         << "' must be positive and finite, got "
                         << formatF64(value);
    return success();
  };
  auto nonNegative = [&](double value, StringRef key) -> LogicalResult {
    if (!std::isfinite(value) || value < 0)
      return emitError() << "cluster '" << key
                         << "' must be non-negative and finite, got "
                         << formatF64(value);
    return success();
  };
  if (failed(positive(intraBandwidth, "intra_node_bandwidth")) ||
      failed(positive(interBandwidth, "inter_node_bandwidth")) ||
      failed(nonNegative(intraLatency, "intra_node_latency")) ||
      failed(nonNegative(interLatency, "inter_node_latency")) ||
      failed(positive(peakFlops, "peak_flops")))
    return failure();
  if (memory < 1)
    return emitError() << "cluster 'memory' must be positive, got " << memory;
  if (failed(positive(memoryBandwidthF.convertToDouble(), "memory_bandwidth")))
    return failure();
  for (auto [i, point] : llvm::enumerate(gemmTable)) {
    if (point.size < 1 || (i > 0 && point.size <= gemmTable[i - 1].size))
      return emitError() << "cluster 'gemm_efficiency' sizes must be positive "
                            "and increasing, got "
                         << point.size << " at entry " << i;
    if (!(point.efficiency > 0 && point.efficiency <= 1))
      return emitError() << "cluster 'gemm_efficiency' fractions must be in "
                            "(0, 1], got "
                         << formatF64(point.efficiency) << " for size "
                         << point.size;
  }
  return success();
}

//===----------------------------------------------------------------------===//
// TrainingAttr
//===----------------------------------------------------------------------===//

LogicalResult TrainingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t globalBatch, int64_t seqLen,
                                   APFloat lrF, APFloat minLrF,
                                   int64_t warmupSteps, int64_t steps,
                                   LRSchedule, APFloat beta1F, APFloat beta2F,
                                   APFloat epsF, APFloat weightDecayF,
                                   APFloat gradClipF, int64_t seed) {
  double lr = lrF.convertToDouble(), minLr = minLrF.convertToDouble();
  double beta1 = beta1F.convertToDouble(), beta2 = beta2F.convertToDouble();
  double eps = epsF.convertToDouble();
  double weightDecay = weightDecayF.convertToDouble();
  double gradClip = gradClipF.convertToDouble();
  if (globalBatch < 1)
    return emitError() << "training 'global_batch' must be at least 1, got "
                       << globalBatch;
  if (seqLen < 1)
    return emitError() << "training 'seq_len' must be at least 1, got "
                       << seqLen;
  if (!std::isfinite(lr) || lr < 0)
    return emitError() << "training 'lr' must be non-negative, got "
                       << formatF64(lr);
  if (!std::isfinite(minLr) || minLr < 0 || minLr > lr)
    return emitError() << "training 'min_lr' must be in [0, lr = "
                       << formatF64(lr) << "], got " << formatF64(minLr);
  if (steps < 1)
    return emitError() << "training 'steps' must be at least 1, got " << steps;
  if (warmupSteps < 0 || warmupSteps > steps)
    return emitError() << "training 'warmup_steps' must be in [0, steps = "
                       << steps << "], got " << warmupSteps;
  for (auto [value, key] : {std::pair{beta1, "beta1"}, {beta2, "beta2"}})
    if (!(value >= 0 && value < 1))
      return emitError() << "training '" << key << "' must be in [0, 1), got "
                         << formatF64(value);
  if (!std::isfinite(eps) || eps <= 0)
    return emitError() << "training 'eps' must be positive, got "
                       << formatF64(eps);
  if (!std::isfinite(weightDecay) || weightDecay < 0)
    return emitError() << "training 'weight_decay' must be non-negative, got "
                       << formatF64(weightDecay);
  if (!std::isfinite(gradClip) || gradClip < 0)
    return emitError()
           << "training 'grad_clip' must be non-negative (0 disables), got "
           << formatF64(gradClip);
  if (seed < 0)
    return emitError() << "training 'seed' must be non-negative, got " << seed;
  return success();
}

//===----------------------------------------------------------------------===//
// InitAttr
//===----------------------------------------------------------------------===//

LogicalResult GoldfishAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   GoldfishStrategy strategy, int64_t k,
                                   int64_t h) {
  if (k < 2)
    return emitError() << "goldfish k must be at least 2 (drop 1 in k "
                          "targets), got "
                       << k;
  if (h < 1)
    return emitError() << "goldfish h must be at least 1 (the hashed "
                          "context), got "
                       << h;
  (void)strategy;
  return success();
}

LogicalResult InitAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               InitKind kind, APFloat stdF) {
  double std = stdF.convertToDouble();
  if (kind == InitKind::normal) {
    if (!std::isfinite(std) || std <= 0)
      return emitError() << "normal init needs a positive 'std', got "
                         << formatF64(std);
  } else if (std != 0) {
    return emitError() << stringifyInitKind(kind) << " init takes no 'std'";
  }
  return success();
}
