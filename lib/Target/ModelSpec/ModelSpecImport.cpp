//===- ModelSpecImport.cpp - model spec JSON to axonn IR ------------------===//
//
// Reads a Hugging Face style config (GPT-2 or Llama family) plus optional
// `training`, `cluster` and `parallel` sections, checks every value, and
// builds the model-level forward function. Every diagnostic points at the
// key or value at fault (file:line:col); nothing is built from a spec that
// has any error.
//
//===----------------------------------------------------------------------===//

#include "axonn/Target/ModelSpec.h"

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Support/LocatedJSON.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"

#include <cmath>

using namespace mlir;
using namespace mlir::axonn;

namespace {

/// Sanity bounds far above any real model; they keep every tensor's element
/// count inside int64 arithmetic. Documented in docs/model-spec.md.
constexpr int64_t kMaxLayers = 65536;
constexpr int64_t kMaxHidden = int64_t(1) << 20;
constexpr int64_t kMaxFfn = int64_t(1) << 22;
constexpr int64_t kMaxVocab = int64_t(1) << 24;
constexpr int64_t kMaxPositions = int64_t(1) << 24;
constexpr int64_t kMaxTokensPerStep = int64_t(1) << 32;

enum class Family { GPT2, Llama };

struct ModelConfig {
  Family family = Family::GPT2;
  int64_t layers = 0, hidden = 0, heads = 0, kvHeads = 0, headDim = 0;
  int64_t ffn = 0, vocab = 0, maxPositions = 0;
  double normEps = 0, initStd = 0;
  std::optional<double> ropeTheta;
  bool tied = false, attentionBias = false, mlpBias = false;
  GeluApproximation gelu = GeluApproximation::tanh;
};

class Importer;

/// One JSON object of the spec, read key by key. A section may fall back on
/// another (a cluster object over the machine file it names): keys are looked
/// up here first.
class Section {
public:
  Section(Importer &importer, const json::Value &object, unsigned buffer,
          std::string name, const Section *fallback = nullptr)
      : importer(importer), object(object), buffer(buffer),
        name(std::move(name)), fallback(fallback) {}

  /// The member named `key` here or in the fallback, with its buffer.
  std::pair<const json::Member *, const Section *> lookup(StringRef key) const;
  bool has(StringRef key) const {
    auto [member, from] = lookup(key);
    return member && !member->value.isNull();
  }

  FailureOr<int64_t> getInt(StringRef key, std::optional<int64_t> def,
                            int64_t min, int64_t max);
  FailureOr<double> getNumber(StringRef key, std::optional<double> def,
                              bool positive);
  /// A machine's measure: a number from `low` to `high` (bounds that keep
  /// the cost model's arithmetic finite and its figures meaningful).
  FailureOr<double> getMeasure(StringRef key, double low, double high);
  FailureOr<bool> getBool(StringRef key, bool def);
  FailureOr<std::string> getString(StringRef key,
                                   std::optional<std::string> def);

  /// Errors on a key not in `allowed`, suggesting the closest allowed key.
  LogicalResult rejectUnknownKeys(ArrayRef<StringRef> allowed) const;

  InFlightDiagnostic errorAtValue(StringRef key) const;
  InFlightDiagnostic errorAtObject() const;
  std::string path(StringRef key) const {
    return name.empty() ? key.str() : name + "." + key.str();
  }

  Importer &importer;
  const json::Value &object;
  unsigned buffer;
  std::string name;
  const Section *fallback;

private:
  /// `convert(value)` of a present, non-null key, else `def`, else a
  /// diagnosed failure for a required key.
  template <typename T, typename Convert>
  FailureOr<T> get(StringRef key, const std::optional<T> &def, Convert convert);

  /// The value of a present, non-null key; null when the key is absent (or
  /// null) and has a default; failure, diagnosed, when it is required.
  FailureOr<const json::Value *> require(StringRef key, bool hasDefault) const;
};

class Importer {
public:
  Importer(llvm::SourceMgr &sourceMgr, MLIRContext *context)
      : sourceMgr(sourceMgr), context(context) {}

  OwningOpRef<ModuleOp> run(Type dtype);

  Location locAt(unsigned buffer, size_t offset) {
    const llvm::MemoryBuffer *memory = sourceMgr.getMemoryBuffer(buffer);
    size_t clamped = std::min(offset, memory->getBufferSize());
    auto [line, column] = sourceMgr.getLineAndColumn(
        SMLoc::getFromPointer(memory->getBufferStart() + clamped), buffer);
    return FileLineColLoc::get(context, memory->getBufferIdentifier(), line,
                               column);
  }

  /// Parses buffer `buffer` as JSON into `out`, diagnosing syntax errors;
  /// `namedAt` is where the spec names an included file.
  LogicalResult parseBuffer(unsigned buffer, json::Value &out,
                            std::optional<Location> namedAt = std::nullopt) {
    json::ParseError error;
    if (json::parse(sourceMgr.getMemoryBuffer(buffer)->getBuffer(), out, error))
      return success();
    InFlightDiagnostic diag = emitError(locAt(buffer, error.offset))
                              << "invalid JSON: " << error.message;
    if (namedAt)
      diag.attachNote(*namedAt) << "in the machine file named here";
    return diag;
  }

  /// Parses a machine file (the schema of the `cluster` section) held in
  /// `buffer`; `namedAt` is where a spec names it.
  FailureOr<Section> parseMachineFile(unsigned buffer,
                                      std::optional<Location> namedAt);
  /// Reads and checks every key of a cluster section.
  FailureOr<ClusterAttr> readClusterSection(Section &c);

  llvm::SourceMgr &sourceMgr;
  MLIRContext *context;

private:
  FailureOr<ModelConfig> readModel(Section &top);
  FailureOr<TrainingAttr> readTraining(Section &top, const ModelConfig &model,
                                       Type &elementType);
  FailureOr<ClusterAttr> readCluster(Section &top);
  FailureOr<SmallVector<GemmEfficiencyPoint>> readGemmEfficiency(Section &c);
  FailureOr<GridAttr> readGrid(Section &top, ClusterAttr cluster);
  OwningOpRef<ModuleOp> build(const ModelConfig &model, TrainingAttr training,
                              ClusterAttr cluster, GridAttr grid,
                              Type elementType, Location loc);

  /// Machine files stay alive while sections point into them.
  std::vector<std::unique_ptr<json::Value>> extraDocuments;
  /// training.goldfish, when the spec asks for the Goldfish loss.
  GoldfishAttr goldfish;
};

//===----------------------------------------------------------------------===//
// Section
//===----------------------------------------------------------------------===//

std::pair<const json::Member *, const Section *>
Section::lookup(StringRef key) const {
  if (const json::Member *member = object.find(key))
    return {member, this};
  if (fallback)
    return fallback->lookup(key);
  return {nullptr, nullptr};
}

InFlightDiagnostic Section::errorAtValue(StringRef key) const {
  auto [member, from] = lookup(key);
  if (!member)
    return errorAtObject();
  return emitError(importer.locAt(from->buffer, member->value.offset));
}

InFlightDiagnostic Section::errorAtObject() const {
  return emitError(importer.locAt(buffer, object.offset));
}

FailureOr<const json::Value *> Section::require(StringRef key,
                                                bool hasDefault) const {
  auto [member, from] = lookup(key);
  if (member && !member->value.isNull())
    return &member->value;
  if (hasDefault)
    return static_cast<const json::Value *>(nullptr);
  if (member)
    return errorAtValue(key)
           << "'" << path(key) << "' is required and may not be null";
  return errorAtObject() << "missing required key '" << path(key) << "'";
}

template <typename T, typename Convert>
FailureOr<T> Section::get(StringRef key, const std::optional<T> &def,
                          Convert convert) {
  FailureOr<const json::Value *> value = require(key, def.has_value());
  if (failed(value))
    return failure();
  if (!*value)
    return *def;
  return convert(**value);
}

FailureOr<int64_t> Section::getInt(StringRef key, std::optional<int64_t> def,
                                   int64_t min, int64_t max) {
  return get<int64_t>(
      key, def, [&](const json::Value &v) -> FailureOr<int64_t> {
        if (v.kind != json::Value::Kind::Number || !v.integer)
          return errorAtValue(key)
                 << "'" << path(key) << "' must be an integer, got "
                 << (v.kind == json::Value::Kind::Number
                         ? "a non-integer number"
                         : v.kindName());
        if (*v.integer < min)
          return errorAtValue(key) << "'" << path(key) << "' must be at least "
                                   << min << ", got " << *v.integer;
        if (*v.integer > max)
          return errorAtValue(key) << "'" << path(key) << "' must be at most "
                                   << max << ", got " << *v.integer;
        return *v.integer;
      });
}

FailureOr<double> Section::getNumber(StringRef key, std::optional<double> def,
                                     bool positive) {
  return get<double>(key, def, [&](const json::Value &v) -> FailureOr<double> {
    if (v.kind != json::Value::Kind::Number)
      return errorAtValue(key)
             << "'" << path(key) << "' must be a number, got " << v.kindName();
    if (positive ? !(v.number > 0) : !(v.number >= 0))
      return errorAtValue(key) << "'" << path(key) << "' must be "
                               << (positive ? "positive" : "non-negative")
                               << ", got " << formatF64(v.number);
    return v.number;
  });
}

FailureOr<double> Section::getMeasure(StringRef key, double low, double high) {
  FailureOr<double> value = getNumber(key, std::nullopt, /*positive=*/low > 0);
  if (failed(value))
    return failure();
  if (!(*value >= low && *value <= high))
    return errorAtValue(key)
           << "'" << path(key) << "' must be from " << formatF64(low) << " to "
           << formatF64(high) << ", got " << formatF64(*value);
  return value;
}

FailureOr<bool> Section::getBool(StringRef key, bool def) {
  return get<bool>(key, def, [&](const json::Value &v) -> FailureOr<bool> {
    if (v.kind != json::Value::Kind::Bool)
      return errorAtValue(key)
             << "'" << path(key) << "' must be true or false, got "
             << v.kindName();
    return v.boolean;
  });
}

FailureOr<std::string> Section::getString(StringRef key,
                                          std::optional<std::string> def) {
  return get<std::string>(
      key, def, [&](const json::Value &v) -> FailureOr<std::string> {
        if (v.kind != json::Value::Kind::String)
          return errorAtValue(key)
                 << "'" << path(key) << "' must be a string, got "
                 << v.kindName();
        return v.string;
      });
}

LogicalResult Section::rejectUnknownKeys(ArrayRef<StringRef> allowed) const {
  for (const json::Member &member : object.object) {
    if (llvm::is_contained(allowed, member.key))
      continue;
    InFlightDiagnostic diag =
        emitError(importer.locAt(buffer, member.keyOffset))
        << "unknown key '" << path(member.key) << "'";
    StringRef best;
    unsigned bestDistance = 4;
    for (StringRef candidate : allowed) {
      unsigned distance = StringRef(member.key).edit_distance(candidate);
      if (distance < bestDistance) {
        best = candidate;
        bestDistance = distance;
      }
    }
    if (!best.empty())
      diag << "; did you mean '" << best << "'?";
    else
      diag << "; expected one of " << llvm::join(allowed, ", ");
    return failure();
  }
  return fallback ? fallback->rejectUnknownKeys(allowed) : success();
}

//===----------------------------------------------------------------------===//
// Reading the model
//===----------------------------------------------------------------------===//

FailureOr<ModelConfig> Importer::readModel(Section &top) {
  ModelConfig m;
  // The family: `model_type` when present, else the key style.
  if (top.has("model_type")) {
    FailureOr<std::string> type = top.getString("model_type", std::nullopt);
    if (failed(type))
      return failure();
    if (*type == "gpt2")
      m.family = Family::GPT2;
    else if (*type == "llama")
      m.family = Family::Llama;
    else
      return top.errorAtValue("model_type")
             << "unsupported model_type '" << *type
             << "'; axonn imports 'gpt2' and 'llama'";
  } else if (top.object.find("n_embd") && top.object.find("hidden_size")) {
    return top.errorAtValue("hidden_size")
           << "spec mixes GPT-2 ('n_embd') and Llama ('hidden_size') keys; "
              "set 'model_type' to say which";
  } else if (top.object.find("n_embd")) {
    m.family = Family::GPT2;
  } else if (top.object.find("hidden_size")) {
    m.family = Family::Llama;
  } else {
    return top.errorAtObject()
           << "cannot tell the model family: expected 'model_type' (\"gpt2\" "
              "or \"llama\"), GPT-2 keys ('n_embd', 'n_layer', ...) or Llama "
              "keys ('hidden_size', 'num_hidden_layers', ...)";
  }

  auto fail = [](auto result) { return failed(result); };
  if (m.family == Family::GPT2) {
    auto layers = top.getInt("n_layer", std::nullopt, 1, kMaxLayers);
    auto hidden = top.getInt("n_embd", std::nullopt, 1, kMaxHidden);
    auto heads = top.getInt("n_head", std::nullopt, 1, kMaxHidden);
    if (fail(layers) || fail(hidden) || fail(heads))
      return failure();
    auto vocab = top.getInt("vocab_size", std::nullopt, 1, kMaxVocab);
    auto positions = top.getInt("n_positions", 1024, 1, kMaxPositions);
    auto ffn = top.getInt("n_inner", 4 * *hidden, 1, kMaxFfn);
    auto eps = top.getNumber("layer_norm_epsilon", 1e-5, /*positive=*/true);
    auto act = top.getString("activation_function", std::string("gelu_new"));
    auto tied = top.getBool("tie_word_embeddings", true);
    auto init = top.getNumber("initializer_range", 0.02, /*positive=*/true);
    if (fail(vocab) || fail(positions) || fail(ffn) || fail(eps) || fail(act) ||
        fail(tied) || fail(init))
      return failure();
    if (*hidden % *heads != 0)
      return top.errorAtValue("n_head")
             << "'n_head' (" << *heads << ") must divide 'n_embd' (" << *hidden
             << ")";
    if (*act == "gelu_new" || *act == "gelu_pytorch_tanh" ||
        *act == "gelu_fast")
      m.gelu = GeluApproximation::tanh;
    else if (*act == "gelu")
      m.gelu = GeluApproximation::none;
    else
      return top.errorAtValue("activation_function")
             << "unknown activation '" << *act
             << "' for gpt2; supported: gelu_new, gelu_pytorch_tanh, "
                "gelu_fast (tanh approximation), gelu (exact)";
    for (StringRef unsupported :
         {"scale_attn_by_inverse_layer_idx", "add_cross_attention"}) {
      auto value = top.getBool(unsupported, false);
      if (fail(value))
        return failure();
      if (*value)
        return top.errorAtValue(unsupported)
               << "'" << unsupported << "' is not supported";
    }
    m.layers = *layers;
    m.hidden = *hidden;
    m.heads = m.kvHeads = *heads;
    m.headDim = *hidden / *heads;
    m.vocab = *vocab;
    m.maxPositions = *positions;
    m.ffn = *ffn;
    m.normEps = *eps;
    m.tied = *tied;
    m.initStd = *init;
    m.attentionBias = m.mlpBias = true;
    return m;
  }

  // Llama family.
  auto hidden = top.getInt("hidden_size", std::nullopt, 1, kMaxHidden);
  auto ffn = top.getInt("intermediate_size", std::nullopt, 1, kMaxFfn);
  auto layers = top.getInt("num_hidden_layers", std::nullopt, 1, kMaxLayers);
  auto heads = top.getInt("num_attention_heads", std::nullopt, 1, kMaxHidden);
  if (fail(hidden) || fail(ffn) || fail(layers) || fail(heads))
    return failure();
  auto kvHeads = top.getInt("num_key_value_heads", *heads, 1, kMaxHidden);
  auto vocab = top.getInt("vocab_size", std::nullopt, 1, kMaxVocab);
  auto eps = top.getNumber("rms_norm_eps", 1e-6, /*positive=*/true);
  auto theta = top.getNumber("rope_theta", 10000.0, /*positive=*/true);
  auto positions =
      top.getInt("max_position_embeddings", 2048, 1, kMaxPositions);
  auto tied = top.getBool("tie_word_embeddings", false);
  auto act = top.getString("hidden_act", std::string("silu"));
  auto attnBias = top.getBool("attention_bias", false);
  auto mlpBias = top.getBool("mlp_bias", false);
  auto init = top.getNumber("initializer_range", 0.02, /*positive=*/true);
  if (fail(kvHeads) || fail(vocab) || fail(eps) || fail(theta) ||
      fail(positions) || fail(tied) || fail(act) || fail(attnBias) ||
      fail(mlpBias) || fail(init))
    return failure();
  if (*heads % *kvHeads != 0)
    return top.errorAtValue("num_key_value_heads")
           << "'num_key_value_heads' (" << *kvHeads
           << ") must divide 'num_attention_heads' (" << *heads << ")";
  int64_t headDim;
  if (top.has("head_dim")) {
    auto explicitDim = top.getInt("head_dim", std::nullopt, 1, kMaxHidden);
    if (fail(explicitDim))
      return failure();
    headDim = *explicitDim;
    if (*heads * headDim > kMaxHidden)
      return top.errorAtValue("head_dim")
             << "'num_attention_heads' x 'head_dim' = " << *heads * headDim
             << " exceeds the limit " << kMaxHidden;
  } else {
    if (*hidden % *heads != 0)
      return top.errorAtValue("num_attention_heads")
             << "'num_attention_heads' (" << *heads
             << ") must divide 'hidden_size' (" << *hidden
             << ") unless 'head_dim' is given";
    headDim = *hidden / *heads;
  }
  if (headDim % 2 != 0)
    return top.errorAtValue(top.has("head_dim") ? "head_dim"
                                                : "num_attention_heads")
           << "rotary positions need an even head dimension, got " << headDim;
  if (*act != "silu")
    return top.errorAtValue("hidden_act")
           << "unknown activation '" << *act
           << "' for llama; supported: silu (SwiGLU MLP)";
  if (top.has("rope_scaling"))
    return top.errorAtValue("rope_scaling")
           << "'rope_scaling' is not supported; remove it or set it to null";
  m.family = Family::Llama;
  m.layers = *layers;
  m.hidden = *hidden;
  m.heads = *heads;
  m.kvHeads = *kvHeads;
  m.headDim = headDim;
  m.ffn = *ffn;
  m.vocab = *vocab;
  m.maxPositions = *positions;
  m.normEps = *eps;
  m.ropeTheta = *theta;
  m.tied = *tied;
  m.attentionBias = *attnBias;
  m.mlpBias = *mlpBias;
  m.initStd = *init;
  return m;
}

FailureOr<TrainingAttr> Importer::readTraining(Section &top,
                                               const ModelConfig &model,
                                               Type &elementType) {
  static const json::Value empty = [] {
    json::Value v;
    v.kind = json::Value::Kind::Object;
    return v;
  }();
  const json::Member *member = top.object.find("training");
  if (member && !member->value.isObject() && !member->value.isNull())
    return top.errorAtValue("training")
           << "'training' must be an object, got " << member->value.kindName();
  bool present = member && member->value.isObject();
  Section t(*this, present ? member->value : empty, top.buffer, "training");
  if (present && failed(t.rejectUnknownKeys(
                     {"global_batch", "seq_len", "lr", "min_lr", "warmup_steps",
                      "steps", "schedule", "beta1", "beta2", "eps",
                      "weight_decay", "grad_clip", "seed", "dtype",
                      "goldfish"})))
    return failure();

  // training.goldfish: {"k": 4, "h": 13, "strategy": "hash" | "static"}.
  if (const json::Member *g = t.object.find("goldfish");
      g && !g->value.isNull()) {
    if (!g->value.isObject())
      return t.errorAtValue("goldfish")
             << "'training.goldfish' must be an object like {\"k\": 4, "
                "\"h\": 13}, got "
             << g->value.kindName();
    Section gs(*this, g->value, t.buffer, "training.goldfish");
    if (failed(gs.rejectUnknownKeys({"k", "h", "strategy"})))
      return failure();
    auto k = gs.getInt("k", 4, 2, INT64_MAX);
    auto h = gs.getInt("h", 13, 1, 4096);
    auto strategy = gs.getString("strategy", std::string("hash"));
    if (failed(k) || failed(h) || failed(strategy))
      return failure();
    std::optional<GoldfishStrategy> kind =
        symbolizeGoldfishStrategy(*strategy);
    if (!kind)
      return gs.errorAtValue("strategy")
             << "unknown goldfish strategy '" << *strategy
             << "'; expected hash or static";
    goldfish = GoldfishAttr::get(context, *kind, *k, *h);
  }

  auto fail = [](auto result) { return failed(result); };
  auto batch = t.getInt("global_batch", 8, 1, kMaxTokensPerStep);
  auto seq = t.getInt("seq_len", std::min<int64_t>(model.maxPositions, 2048), 1,
                      kMaxPositions);
  auto steps = t.getInt("steps", 1000, 1, INT64_MAX);
  if (fail(batch) || fail(seq) || fail(steps))
    return failure();
  auto warmup = t.getInt("warmup_steps", *steps / 10, 0, *steps);
  auto lr = t.getNumber("lr", 3e-4, /*positive=*/false);
  if (fail(warmup) || fail(lr))
    return failure();
  auto minLr = t.getNumber("min_lr", *lr / 10, /*positive=*/false);
  auto schedule = t.getString("schedule", std::string("cosine"));
  auto beta1 = t.getNumber("beta1", 0.9, false);
  auto beta2 = t.getNumber("beta2", 0.95, false);
  auto eps = t.getNumber("eps", 1e-8, /*positive=*/true);
  auto decay = t.getNumber("weight_decay", 0.1, false);
  auto clip = t.getNumber("grad_clip", 1.0, false);
  auto seed = t.getInt("seed", 1234, 0, INT64_MAX);
  auto dtype = t.getString("dtype", std::string("float32"));
  if (fail(minLr) || fail(schedule) || fail(beta1) || fail(beta2) ||
      fail(eps) || fail(decay) || fail(clip) || fail(seed) || fail(dtype))
    return failure();

  if (*batch * *seq > kMaxTokensPerStep)
    return t.errorAtValue("global_batch")
           << "'training.global_batch' x 'training.seq_len' = " << *batch * *seq
           << " tokens per step exceeds the limit " << kMaxTokensPerStep;
  if (!model.ropeTheta && *seq > model.maxPositions)
    return t.errorAtValue("seq_len")
           << "'training.seq_len' (" << *seq
           << ") exceeds the model's learned positions ('n_positions' = "
           << model.maxPositions << ")";
  if (*minLr > *lr)
    return t.errorAtValue("min_lr")
           << "'training.min_lr' (" << formatF64(*minLr)
           << ") exceeds 'training.lr' (" << formatF64(*lr) << ")";
  for (auto [key, value] : {std::pair{"beta1", *beta1}, {"beta2", *beta2}})
    if (value >= 1)
      return t.errorAtValue(key)
             << "'training." << key << "' must be below 1, got "
             << formatF64(value);
  std::optional<LRSchedule> kind = symbolizeLRSchedule(*schedule);
  if (!kind)
    return t.errorAtValue("schedule")
           << "unknown schedule '" << *schedule
           << "'; expected constant, linear or cosine";
  if (*dtype == "float32")
    elementType = Float32Type::get(context);
  else if (*dtype == "bfloat16")
    elementType = BFloat16Type::get(context);
  else
    return t.errorAtValue("dtype")
           << "unknown dtype '" << *dtype << "'; expected float32 or bfloat16";
  return TrainingAttr::get(context, *batch, *seq, APFloat(*lr), APFloat(*minLr),
                           *warmup, *steps, *kind, APFloat(*beta1),
                           APFloat(*beta2), APFloat(*eps), APFloat(*decay),
                           APFloat(*clip), *seed);
}

FailureOr<ClusterAttr> Importer::readCluster(Section &top) {
  const json::Member *member = top.object.find("cluster");
  if (!member || member->value.isNull())
    return ClusterAttr();

  // A cluster is an object, a path to a machine file, or an object whose
  // 'machine' key names a machine file it overrides.
  const json::Value *overrides = nullptr;
  const json::Value *machinePath = nullptr;
  StringRef machineKeyPath = "cluster";
  if (member->value.kind == json::Value::Kind::String) {
    machinePath = &member->value;
  } else if (member->value.isObject()) {
    overrides = &member->value;
    if (const json::Member *machine = overrides->find("machine")) {
      if (machine->value.kind != json::Value::Kind::String)
        return emitError(locAt(top.buffer, machine->value.offset))
               << "'cluster.machine' must be a path string, got "
               << machine->value.kindName();
      machinePath = &machine->value;
      machineKeyPath = "cluster.machine";
    }
  } else {
    return top.errorAtValue("cluster")
           << "'cluster' must be an object or a machine file path, got "
           << member->value.kindName();
  }

  std::optional<Section> machine;
  if (machinePath) {
    // A built-in machine name, or a path relative to the spec naming it.
    Location namedAt = locAt(top.buffer, machinePath->offset);
    std::unique_ptr<llvm::MemoryBuffer> file;
    if (std::optional<StringRef> builtin =
            getBuiltinMachine(machinePath->string)) {
      file = llvm::MemoryBuffer::getMemBuffer(
          *builtin, "<built-in machine " + machinePath->string + ">");
    } else {
      SmallString<256> path(machinePath->string);
      if (!llvm::sys::path::is_absolute(path)) {
        StringRef specPath =
            sourceMgr.getMemoryBuffer(top.buffer)->getBufferIdentifier();
        path = llvm::sys::path::parent_path(specPath);
        llvm::sys::path::append(path, machinePath->string);
      }
      auto opened = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
      if (!opened)
        return emitError(namedAt)
               << "cannot read machine file '" << path << "' named by '"
               << machineKeyPath << "': " << opened.getError().message()
               << " (built-in machines: "
               << llvm::join(getBuiltinMachineNames(), ", ") << ")";
      file = std::move(*opened);
    }
    unsigned buffer = sourceMgr.AddNewSourceBuffer(std::move(file), SMLoc());
    FailureOr<Section> parsed = parseMachineFile(buffer, namedAt);
    if (failed(parsed))
      return failure();
    machine.emplace(*parsed);
  }
  Section c = overrides ? Section(*this, *overrides, top.buffer, "cluster",
                                  machine ? &*machine : nullptr)
                        : std::move(*machine);
  return readClusterSection(c);
}

FailureOr<Section> Importer::parseMachineFile(unsigned buffer,
                                              std::optional<Location> namedAt) {
  extraDocuments.push_back(std::make_unique<json::Value>());
  if (failed(parseBuffer(buffer, *extraDocuments.back(), namedAt)))
    return failure();
  if (!extraDocuments.back()->isObject()) {
    InFlightDiagnostic diag = emitError(locAt(buffer, 0))
                              << "a machine file must hold a JSON object";
    if (namedAt)
      diag.attachNote(*namedAt) << "in the machine file named here";
    return diag;
  }
  return Section(*this, *extraDocuments.back(), buffer, "cluster");
}

FailureOr<ClusterAttr> Importer::readClusterSection(Section &c) {
  if (failed(c.rejectUnknownKeys(
          {"machine", "name", "gpus", "gpus_per_node", "nics_per_node",
           "intra_node_GBps", "inter_node_GBps", "intra_node_latency_us",
           "inter_node_latency_us", "peak_bf16_TFLOPs", "memory_GiB",
           "memory_GBps", "gemm_efficiency", "sources"})))
    return failure();

  auto fail = [](auto result) { return failed(result); };
  auto name = c.getString("name", std::string("custom"));
  auto perNode = c.getInt("gpus_per_node", std::nullopt, 1, 1024);
  if (fail(name) || fail(perNode))
    return failure();
  auto gpus = c.getInt("gpus", *perNode, 1, kMaxGpus);
  auto nics = c.getInt("nics_per_node", std::nullopt, 1, 1024);
  // (from a slow CPU's to far beyond any GPU's: 1 MB/s to 1 PB/s, at most
  // a second of latency, 1 GFLOP/s to 1 EFLOP/s, 1 KiB to 1 PiB)
  auto intraBw = c.getMeasure("intra_node_GBps", 1e-3, 1e6);
  auto interBw = c.getMeasure("inter_node_GBps", 1e-3, 1e6);
  auto intraLat = c.getMeasure("intra_node_latency_us", 0, 1e6);
  auto interLat = c.getMeasure("inter_node_latency_us", 0, 1e6);
  auto peak = c.getMeasure("peak_bf16_TFLOPs", 1e-3, 1e6);
  auto memory = c.getMeasure("memory_GiB", 1e-6, 1e6);
  auto memoryBw = c.getMeasure("memory_GBps", 1e-3, 1e6);
  if (fail(gpus) || fail(nics) || fail(intraBw) || fail(interBw) ||
      fail(intraLat) || fail(interLat) || fail(peak) || fail(memory) ||
      fail(memoryBw))
    return failure();
  FailureOr<SmallVector<GemmEfficiencyPoint>> gemmTable = readGemmEfficiency(c);
  if (failed(gemmTable))
    return failure();
  if (*gpus > *perNode && *gpus % *perNode != 0)
    return c.errorAtValue("gpus")
           << "'cluster.gpus' (" << *gpus
           << ") must be a multiple of 'cluster.gpus_per_node' (" << *perNode
           << ") when it spans several nodes";
  return ClusterAttr::get(
      context, *name, *gpus, *perNode, *nics, APFloat(*intraBw * 1e9),
      APFloat(*interBw * 1e9), APFloat(*intraLat / 1e6),
      APFloat(*interLat / 1e6), APFloat(*peak * 1e12),
      static_cast<int64_t>(std::llround(*memory * 1024.0 * 1024.0 * 1024.0)),
      APFloat(*memoryBw * 1e9), *gemmTable);
}

FailureOr<SmallVector<GemmEfficiencyPoint>>
Importer::readGemmEfficiency(Section &c) {
  SmallVector<GemmEfficiencyPoint> table;
  auto [member, from] = c.lookup("gemm_efficiency");
  if (!member || member->value.isNull())
    return table;
  const json::Value &value = member->value;
  auto bad = [&](const json::Value &at) {
    return emitError(locAt(from->buffer, at.offset))
           << "'cluster.gemm_efficiency' must be a list of [smallest GEMM "
              "dimension, fraction of peak] pairs with increasing "
              "dimensions and fractions in (0, 1]";
  };
  if (value.kind != json::Value::Kind::Array || value.array.empty())
    return bad(value);
  for (const json::Value &entry : value.array) {
    if (entry.kind != json::Value::Kind::Array || entry.array.size() != 2 ||
        !entry.array[0].integer || *entry.array[0].integer < 1 ||
        entry.array[1].kind != json::Value::Kind::Number ||
        !(entry.array[1].number > 0 && entry.array[1].number <= 1) ||
        (!table.empty() && *entry.array[0].integer <= table.back().size))
      return bad(entry);
    table.push_back({*entry.array[0].integer, entry.array[1].number});
  }
  return table;
}

FailureOr<GridAttr> Importer::readGrid(Section &top, ClusterAttr cluster) {
  const json::Member *member = top.object.find("parallel");
  if (!member || member->value.isNull())
    return GridAttr();
  if (!member->value.isObject())
    return top.errorAtValue("parallel")
           << "'parallel' must be an object, got " << member->value.kindName();
  Section p(*this, member->value, top.buffer, "parallel");
  if (failed(p.rejectUnknownKeys({"grid"})))
    return failure();
  const json::Member *grid = member->value.find("grid");
  if (!grid)
    return p.errorAtObject() << "missing required key 'parallel.grid'";
  const json::Value &value = grid->value;
  auto bad = [&] {
    return emitError(locAt(top.buffer, value.offset))
           << "'parallel.grid' must be [Gx, Gy, Gz, Gdata], four positive "
              "integers";
  };
  if (value.kind != json::Value::Kind::Array || value.array.size() != 4)
    return bad();
  int64_t sizes[4];
  int64_t ranks = 1;
  for (auto [i, element] : llvm::enumerate(value.array)) {
    if (!element.integer || *element.integer < 1 || *element.integer > kMaxGpus)
      return bad();
    sizes[i] = *element.integer;
    ranks *= sizes[i];
    if (ranks > kMaxGpus)
      return emitError(locAt(top.buffer, value.offset))
             << "'parallel.grid' has more than " << kMaxGpus << " ranks";
  }
  if (cluster && cluster.getGpus() != ranks)
    return emitError(locAt(top.buffer, value.offset))
           << "'parallel.grid' " << sizes[0] << "x" << sizes[1] << "x"
           << sizes[2] << "x" << sizes[3] << " has " << ranks
           << " ranks but the cluster has " << cluster.getGpus() << " GPUs";
  return GridAttr::get(context, sizes[0], sizes[1], sizes[2], sizes[3]);
}

//===----------------------------------------------------------------------===//
// Building the IR
//===----------------------------------------------------------------------===//

/// Builds `@forward`: parameters become arguments (in first-use order),
/// created on demand by `param`.
class ForwardBuilder {
public:
  ForwardBuilder(MLIRContext *context, func::FuncOp func, Type elementType)
      : builder(context), func(func), elementType(elementType) {}

  Value param(StringRef name, ArrayRef<int64_t> shape, InitAttr init) {
    Block &entry = func.getBody().front();
    Value arg = entry.addArgument(RankedTensorType::get(shape, elementType),
                                  func.getLoc());
    MLIRContext *ctx = builder.getContext();
    argAttrs.push_back(DictionaryAttr::get(
        ctx, {builder.getNamedAttr(AxonnDialect::kParamAttrName,
                                   builder.getStringAttr(name)),
              builder.getNamedAttr(AxonnDialect::kInitAttrName, init)}));
    return arg;
  }

  OpBuilder builder;
  func::FuncOp func;
  Type elementType;
  SmallVector<Attribute> argAttrs;
};

OwningOpRef<ModuleOp> Importer::build(const ModelConfig &m,
                                      TrainingAttr training,
                                      ClusterAttr cluster, GridAttr grid,
                                      Type elementType, Location loc) {
  MLIRContext *ctx = context;
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr(AxonnDialect::kTrainingAttrName, training);
  if (cluster)
    module->getOperation()->setAttr(AxonnDialect::kClusterAttrName, cluster);
  if (grid)
    module->getOperation()->setAttr(AxonnDialect::kGridAttrName, grid);

  int64_t batch = training.getGlobalBatch(), seq = training.getSeqLen();
  auto f32 = Float32Type::get(ctx);
  auto tokenType =
      RankedTensorType::get({batch, seq}, IntegerType::get(ctx, 32));
  OpBuilder top(ctx);
  top.setInsertionPointToEnd(module->getBody());
  auto func = func::FuncOp::create(
      top, loc, "forward",
      FunctionType::get(ctx, {}, {RankedTensorType::get({}, f32)}));
  Block *entry = func.addEntryBlock();
  ForwardBuilder fb(ctx, func, elementType);
  OpBuilder &b = fb.builder;
  b.setInsertionPointToEnd(entry);

  // Inputs first, then parameters in the order the forward pass uses them.
  Value tokens = entry->addArgument(tokenType, loc);
  Value targets = entry->addArgument(tokenType, loc);
  fb.argAttrs.push_back(b.getDictionaryAttr({b.getNamedAttr(
      AxonnDialect::kInputAttrName, b.getStringAttr("tokens"))}));
  fb.argAttrs.push_back(b.getDictionaryAttr({b.getNamedAttr(
      AxonnDialect::kInputAttrName, b.getStringAttr("targets"))}));

  auto normal = [&](double std) {
    return InitAttr::get(ctx, InitKind::normal, APFloat(std));
  };
  InitAttr zeros = InitAttr::get(ctx, InitKind::zeros, APFloat(0.0));
  InitAttr ones = InitAttr::get(ctx, InitKind::ones, APFloat(0.0));
  bool gpt2 = m.family == Family::GPT2;
  // GPT-2 scales the init of projections into the residual stream by
  // 1/sqrt(2L) (its paper, section 2.3); Llama does not.
  double residualStd = gpt2 ? m.initStd / std::sqrt(2.0 * m.layers) : m.initStd;
  auto actType = [&](int64_t width) {
    return RankedTensorType::get({batch, seq, width}, elementType);
  };
  auto named = [&](const Twine &name) {
    return NameLoc::get(b.getStringAttr(name), loc);
  };

  std::string prefix = gpt2 ? "transformer." : "model.";
  Value wte = fb.param(prefix + (gpt2 ? "wte.weight" : "embed_tokens.weight"),
                       {m.vocab, m.hidden}, normal(m.initStd));
  Value wpe;
  if (gpt2)
    wpe = fb.param("transformer.wpe.weight", {m.maxPositions, m.hidden},
                   normal(m.initStd));
  Value x = EmbeddingOp::create(b, named(prefix + "embed"), actType(m.hidden),
                                tokens, wte, wpe, /*start=*/Value(), AxesAttr(),
                                AxesAttr());

  auto norm = [&](Value input, const std::string &name) -> Value {
    Location l = named(name);
    auto eps = b.getF64FloatAttr(m.normEps);
    Value scale = fb.param(name + ".weight", {m.hidden}, ones);
    if (gpt2) {
      Value bias = fb.param(name + ".bias", {m.hidden}, zeros);
      return LayerNormOp::create(b, l, input.getType(), input, scale, bias,
                                 eps, Value(), IntegerAttr());
    }
    return RMSNormOp::create(b, l, input.getType(), input, scale, eps, Value(),
                             IntegerAttr());
  };
  auto linear = [&](Value input, const std::string &name, int64_t out,
                    int64_t in, bool bias, bool transposed,
                    double std) -> Value {
    Value w = fb.param(name + ".weight", {out, in}, normal(std));
    Value bv = bias ? fb.param(name + ".bias", {out}, zeros) : Value();
    return LinearOp::create(b, named(name), actType(out), input, w, bv,
                            transposed, AxesAttr());
  };

  int64_t qkvWidth = (m.heads + 2 * m.kvHeads) * m.headDim;
  int64_t attnWidth = m.heads * m.headDim;
  for (int64_t i = 0; i < m.layers; ++i) {
    std::string layer =
        (gpt2 ? "transformer.h." : "model.layers.") + std::to_string(i) + ".";
    std::string attn = layer + (gpt2 ? "attn." : "self_attn.");
    Value h = norm(x, layer + (gpt2 ? "ln_1" : "input_layernorm"));
    Value qkv = linear(h, attn + (gpt2 ? "c_attn" : "qkv_proj"), qkvWidth,
                       m.hidden, m.attentionBias, false, m.initStd);
    FloatAttr rope =
        m.ropeTheta ? b.getF64FloatAttr(*m.ropeTheta) : FloatAttr();
    Value a = AttentionOp::create(b, named(attn + "attention"),
                                  actType(attnWidth), /*lse=*/Type(), qkv,
                                  m.heads, m.kvHeads, /*causal=*/true, rope)
                  .getResult();
    Value o = linear(a, attn + (gpt2 ? "c_proj" : "o_proj"), m.hidden,
                     attnWidth, m.attentionBias, true, residualStd);
    x = AddOp::create(b, named(layer + "residual_attn"), x.getType(), x, o);

    std::string mlp = layer + "mlp.";
    h = norm(x, layer + (gpt2 ? "ln_2" : "post_attention_layernorm"));
    Value up;
    if (gpt2) {
      up =
          linear(h, mlp + "c_fc", m.ffn, m.hidden, m.mlpBias, false, m.initStd);
      up = GeluOp::create(b, named(mlp + "gelu"), up.getType(), up,
                          GeluApproximationAttr::get(ctx, m.gelu));
    } else {
      up = linear(h, mlp + "gate_up_proj", 2 * m.ffn, m.hidden, m.mlpBias,
                  false, m.initStd);
      up = SwiGLUOp::create(b, named(mlp + "swiglu"), actType(m.ffn), up);
    }
    Value down = linear(up, mlp + (gpt2 ? "c_proj" : "down_proj"), m.hidden,
                        m.ffn, m.mlpBias, true, residualStd);
    x = AddOp::create(b, named(layer + "residual_mlp"), x.getType(), x, down);
  }
  x = norm(x, gpt2 ? "transformer.ln_f" : "model.norm");
  Value head = m.tied ? wte
                      : fb.param("lm_head.weight", {m.vocab, m.hidden},
                                 normal(m.initStd));
  Value loss =
      LMHeadLossOp::create(b, named("lm_head"), RankedTensorType::get({}, f32),
                           x, head, targets, IntegerAttr(), goldfish);
  func::ReturnOp::create(b, loc, loss);

  func.setFunctionType(
      FunctionType::get(ctx, entry->getArgumentTypes(), {loss.getType()}));
  func.setAllArgAttrs(fb.argAttrs);
  return module;
}

OwningOpRef<ModuleOp> Importer::run(Type dtype) {
  context->loadDialect<AxonnDialect, func::FuncDialect>();
  unsigned buffer = sourceMgr.getMainFileID();
  json::Value document;
  if (failed(parseBuffer(buffer, document)))
    return nullptr;
  if (!document.isObject()) {
    emitError(locAt(buffer, document.offset))
        << "a model spec must be a JSON object, got " << document.kindName();
    return nullptr;
  }
  Section top(*this, document, buffer, "");

  FailureOr<ModelConfig> model = readModel(top);
  if (failed(model))
    return nullptr;
  Type elementType;
  FailureOr<TrainingAttr> training = readTraining(top, *model, elementType);
  if (failed(training))
    return nullptr;
  if (dtype)
    elementType = dtype;
  FailureOr<ClusterAttr> cluster = readCluster(top);
  if (failed(cluster))
    return nullptr;
  FailureOr<GridAttr> grid = readGrid(top, *cluster);
  if (failed(grid))
    return nullptr;

  OwningOpRef<ModuleOp> module =
      build(*model, *training, *cluster, *grid, elementType, locAt(buffer, 0));
  if (failed(verify(*module)))
    return nullptr;
  return module;
}

} // namespace

OwningOpRef<ModuleOp> mlir::axonn::importModelSpec(llvm::SourceMgr &sourceMgr,
                                                   MLIRContext *context,
                                                   Type dtype) {
  return Importer(sourceMgr, context).run(dtype);
}

FailureOr<ClusterAttr>
mlir::axonn::importClusterDescription(llvm::SourceMgr &sourceMgr,
                                      unsigned buffer, MLIRContext *context) {
  context->loadDialect<AxonnDialect>();
  Importer importer(sourceMgr, context);
  FailureOr<Section> machine = importer.parseMachineFile(buffer, std::nullopt);
  if (failed(machine))
    return failure();
  return importer.readClusterSection(*machine);
}

// The machine descriptions of examples/clusters/, compiled in.
static const std::pair<StringRef, StringRef> kBuiltinMachines[] = {
#include "BuiltinMachines.inc"
};

std::optional<StringRef> mlir::axonn::getBuiltinMachine(StringRef name) {
  for (auto [builtinName, text] : kBuiltinMachines)
    if (builtinName == name)
      return text;
  return std::nullopt;
}

SmallVector<StringRef> mlir::axonn::getBuiltinMachineNames() {
  SmallVector<StringRef> names;
  for (auto [name, text] : kBuiltinMachines)
    names.push_back(name);
  return names;
}

void mlir::axonn::registerModelSpecImport() {
  TranslateToMLIRRegistration registration(
      "import-model-spec",
      "import a model spec (HF config.json + training/cluster/parallel "
      "sections) into the axonn dialect",
      [](llvm::SourceMgr &sourceMgr, MLIRContext *context) {
        return OwningOpRef<Operation *>(
            importModelSpec(sourceMgr, context).release());
      },
      [](DialectRegistry &registry) {
        registry.insert<AxonnDialect, func::FuncDialect>();
      });
}
