//===- ModelStats.cpp - size and cost of a model-level forward -----------===//

#include "axonn/Analysis/ModelStats.h"

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <cmath>

using namespace mlir;
using namespace mlir::axonn;

/// `transformer.h.11.attn.c_attn.weight` ->
/// `transformer.h.*.attn.c_attn.weight`.
static std::string layerPattern(StringRef name) {
  SmallVector<StringRef> parts;
  name.split(parts, '.');
  for (StringRef &part : parts)
    if (!part.empty() && llvm::all_of(part, llvm::isDigit)) {
      part = "*";
      break;
    }
  return llvm::join(parts, ".");
}

static int64_t numElements(Type type) {
  return cast<RankedTensorType>(type).getNumElements();
}

FailureOr<ModelStats> ModelStats::compute(func::FuncOp func) {
  ModelStats stats;
  stats.function = func.getSymName().str();

  EmbeddingOp embedding;
  double forwardFlops = 0;
  func.walk([&](Operation *op) {
    if (auto e = dyn_cast<EmbeddingOp>(op)) {
      if (!embedding)
        embedding = e;
    } else if (auto linear = dyn_cast<LinearOp>(op)) {
      int64_t k = linear.getInFeatures(), n = linear.getOutFeatures();
      double tokens = double(numElements(linear.getInput().getType())) / k;
      forwardFlops += 2.0 * tokens * k * n;
    } else if (auto attention = dyn_cast<AttentionOp>(op)) {
      ++stats.layers;
      ArrayRef<int64_t> shape = attention.getQkv().getType().getShape();
      double width = double(attention.getHeads()) * attention.getHeadDim();
      // q k^T and softmax(.) v, each 2*S*width per query token; the causal
      // mask is not discounted, as in the published formulas.
      forwardFlops += 4.0 * shape[0] * shape[1] * shape[1] * width;
      if (stats.layers == 1) {
        stats.heads = attention.getHeads();
        stats.kvHeads = attention.getKvHeads();
        stats.headDim = attention.getHeadDim();
      }
    } else if (auto gelu = dyn_cast<GeluOp>(op)) {
      if (!stats.ffn)
        stats.ffn = gelu.getInput().getType().getShape().back();
    } else if (auto swiglu = dyn_cast<SwiGLUOp>(op)) {
      if (!stats.ffn)
        stats.ffn = swiglu.getResult().getType().getShape().back();
    } else if (auto loss = dyn_cast<LMHeadLossOp>(op)) {
      auto weight = loss.getWeight().getType();
      double tokens = double(numElements(loss.getTargets().getType()));
      forwardFlops +=
          2.0 * tokens * weight.getDimSize(0) * weight.getDimSize(1);
    }
  });
  if (!embedding)
    return func.emitOpError()
           << "is not a model-level axonn function (no axonn.embedding)";

  auto table = embedding.getTable().getType();
  stats.vocab = table.getDimSize(0);
  stats.hidden = table.getDimSize(1);
  stats.batch = embedding.getTokens().getType().getDimSize(0);
  stats.seqLen = embedding.getTokens().getType().getDimSize(1);

  for (auto [i, arg] : llvm::enumerate(func.getArguments())) {
    auto name =
        func.getArgAttrOfType<StringAttr>(i, AxonnDialect::kParamAttrName);
    if (!name)
      continue;
    auto type = cast<RankedTensorType>(arg.getType());
    int64_t elements = type.getNumElements();
    stats.parameters += elements;
    std::string pattern = layerPattern(name.getValue());
    auto it = llvm::find_if(stats.groups, [&](const ParameterGroup &g) {
      return g.pattern == pattern &&
             ArrayRef<int64_t>(g.shape) == type.getShape();
    });
    if (it == stats.groups.end()) {
      stats.groups.push_back(
          {pattern, SmallVector<int64_t>(type.getShape()), 0, elements});
      it = std::prev(stats.groups.end());
    }
    ++it->instances;
  }

  double n = stats.parameters, l = stats.layers, h = stats.hidden,
         s = stats.seqLen, v = stats.vocab;
  stats.flopsPerTokenLlmc = 6 * n + 6 * l * h * s;
  if (l > 0) {
    stats.flopsPerTokenMegatron =
        96 * l * h * h * (1 + s / (6 * h) + v / (16 * l * h));
    stats.flopsPerTokenMegatronNoRecompute =
        72 * l * h * h * (1 + s / (6 * h) + v / (12 * l * h));
  }
  stats.flopsPerTokenExact = 3 * forwardFlops / (double(stats.batch) * s);
  return stats;
}

LogicalResult ModelStats::verify() const {
  int64_t sum = 0;
  for (const ParameterGroup &group : groups)
    sum += group.instances * group.elementsPerInstance;
  if (sum != parameters)
    return failure();
  for (double flops : {flopsPerTokenLlmc, flopsPerTokenMegatron,
                       flopsPerTokenMegatronNoRecompute, flopsPerTokenExact})
    if (!std::isfinite(flops) || flops < 0)
      return failure();
  return success();
}

/// 124439808 -> "124,439,808".
static std::string withCommas(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0)
      out.push_back(',');
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

/// 124439808 -> "124.44 M"; 6738415616 -> "6.74 B".
static std::string humanCount(double value) {
  const char *units[] = {"", " K", " M", " B", " T"};
  int unit = 0;
  while (value >= 1000 && unit < 4) {
    value /= 1000;
    ++unit;
  }
  return llvm::formatv("{0:F2}{1}", value, units[unit]).str();
}

static std::string formatShape(ArrayRef<int64_t> shape) {
  return shape.empty() ? "scalar"
                       : llvm::join(llvm::map_range(shape,
                                                    [](int64_t d) {
                                                      return std::to_string(d);
                                                    }),
                                    "x");
}

void ModelStats::dump(llvm::raw_ostream &os) const {
  auto flops = [&](StringRef label, double value) {
    os << llvm::format("    %-50s %18s  (%.3f GFLOP)\n", label.str().c_str(),
                       withCommas(std::llround(value)).c_str(), value / 1e9);
  };
  os << "axonn model stats: @" << function << "\n";
  os << "  parameters: " << withCommas(parameters) << " ("
     << humanCount(parameters) << ")\n";
  os << "  layers: " << layers << ", hidden: " << hidden << ", heads: " << heads
     << " (kv " << kvHeads << ", head dim " << headDim << "), ffn: " << ffn
     << ", vocab: " << vocab << "\n";
  os << "  batch: " << batch << " sequences x " << seqLen
     << " tokens = " << withCommas(batch * seqLen) << " tokens per step\n";
  os << "  FLOPs per token, forward + backward:\n";
  flops("6N + 6*L*d*T (llm.c)", flopsPerTokenLlmc);
  flops("Megatron 96*L*h^2*(1+S/6h+V/16Lh), recompute", flopsPerTokenMegatron);
  flops("Megatron 72*L*h^2*(1+S/6h+V/12Lh), no recompute",
        flopsPerTokenMegatronNoRecompute);
  flops("exact matmul FLOPs of this IR, no recompute", flopsPerTokenExact);
  os << "  weights (* = layer index):\n";
  for (const ParameterGroup &group : groups) {
    os << llvm::format("    %-52s %-14s", group.pattern.c_str(),
                       formatShape(group.shape).c_str());
    if (group.instances > 1)
      os << llvm::format(" x%-4d", static_cast<int>(group.instances));
    else
      os << "      ";
    os << llvm::format(
        " %16s\n",
        withCommas(group.instances * group.elementsPerInstance).c_str());
  }
}

void ModelStats::printJSON(llvm::raw_ostream &os) const {
  llvm::json::Array groupArray;
  for (const ParameterGroup &group : groups)
    groupArray.push_back(llvm::json::Object{
        {"pattern", group.pattern},
        {"shape", llvm::json::Array(group.shape)},
        {"instances", group.instances},
        {"elements_per_instance", group.elementsPerInstance}});
  llvm::json::Object object{
      {"function", function},
      {"parameters", parameters},
      {"layers", layers},
      {"hidden", hidden},
      {"heads", heads},
      {"kv_heads", kvHeads},
      {"head_dim", headDim},
      {"ffn", ffn},
      {"vocab", vocab},
      {"batch", batch},
      {"seq_len", seqLen},
      {"flops_per_token",
       llvm::json::Object{
           {"llmc_6N_plus_6LdT", flopsPerTokenLlmc},
           {"megatron_recompute", flopsPerTokenMegatron},
           {"megatron_no_recompute", flopsPerTokenMegatronNoRecompute},
           {"exact_no_recompute", flopsPerTokenExact}}},
      {"weights", std::move(groupArray)}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(object))) << "\n";
}
