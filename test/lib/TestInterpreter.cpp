//===- TestInterpreter.cpp - test passes over the reference interpreter --===//
//
// --axonn-test-interpret runs every function whose arguments all carry a
// `test.value` dense attribute and prints its results, so op semantics can
// be checked against hand-computed numbers.
//
// --axonn-test-gradients checks the backward of @train_step against finite
// differences of @forward's loss, parameter by parameter, in fp64.
//
// --axonn-test-spmd checks the per-rank program against the sharded one:
// it runs sharded @train_step on random arguments, lowers a copy with a
// pass pipeline (default --axonn-insert-collectives), runs every rank of
// the copy in lockstep on its pieces of the same arguments, and compares
// each rank's results with the pieces of the sharded results.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdio>
#include <numeric>
#include <random>

using namespace mlir;
using namespace mlir::axonn;

namespace {

/// The real vocabulary of the module's LM head.
int64_t vocabulary(func::FuncOp func) {
  int64_t vocab = 0;
  func.walk([&](LMHeadLossOp loss) {
    vocab = loss.getVocabSize().value_or(
        cast<RankedTensorType>(loss.getWeight().getType()).getDimSize(0));
  });
  return vocab;
}

/// Arguments of a training step: tokens and targets uniform over the
/// vocabulary, step 0, parameters drawn around their init (biases and
/// scales perturbed so that every term of every gradient is exercised),
/// states zero. Each argument draws from its own stream, row-major, so that
/// the real rows of a vocabulary padded by --axonn-shard get the values the
/// unpadded table gets: sharded and unsharded modules compute the same loss.
SmallVector<HostTensor> drawArguments(func::FuncOp step, int64_t vocab,
                                      unsigned seed) {
  SmallVector<HostTensor> args;
  for (unsigned i = 0; i < step.getNumArguments(); ++i) {
    auto type = cast<RankedTensorType>(step.getArgumentTypes()[i]);
    HostTensor tensor(type.getShape());
    std::mt19937_64 stream(seed * 1000003ull + i);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto role = step.getArgAttrOfType<StringAttr>(i, "axonn.input");
    if (role && role.getValue() != "step") {
      std::uniform_int_distribution<int64_t> token(0, vocab - 1);
      for (double &x : tensor.data)
        x = double(token(stream));
    } else if (step.getArgAttr(i, "axonn.param")) {
      auto init = step.getArgAttrOfType<InitAttr>(i, "axonn.init");
      double center = init && init.getKind() == InitKind::ones ? 1.0 : 0.0;
      double spread = init && init.getKind() == InitKind::normal
                          ? init.getStd().convertToDouble()
                          : 0.1;
      for (double &x : tensor.data)
        x = center + spread * normal(stream);
    }
    args.push_back(std::move(tensor));
  }
  return args;
}

struct TestInterpretPass
    : public PassWrapper<TestInterpretPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestInterpretPass)
  StringRef getArgument() const final { return "axonn-test-interpret"; }
  StringRef getDescription() const final {
    return "Run functions whose arguments carry test.value and print the "
           "results (test only)";
  }

  void runOnOperation() override {
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      SmallVector<HostTensor> args;
      bool complete = !func.isExternal();
      for (unsigned i = 0; complete && i < func.getNumArguments(); ++i) {
        auto value = func.getArgAttrOfType<DenseElementsAttr>(i, "test.value");
        if (!value) {
          complete = false;
          break;
        }
        HostTensor tensor(value.getType().getShape());
        int64_t k = 0;
        if (isa<FloatType>(value.getElementType()))
          for (APFloat x : value.getValues<APFloat>())
            tensor.data[k++] = x.convertToDouble();
        else
          for (APInt x : value.getValues<APInt>())
            tensor.data[k++] = double(x.getSExtValue());
        args.push_back(std::move(tensor));
      }
      if (!complete)
        continue;
      FailureOr<SmallVector<HostTensor>> results = interpret(func, args);
      if (failed(results))
        return signalPassFailure();
      llvm::outs() << "@" << func.getSymName() << ":\n";
      for (auto [i, result] : llvm::enumerate(*results)) {
        llvm::outs() << "  result #" << i << ":";
        for (double x : result.data) {
          char text[32];
          std::snprintf(text, sizeof(text), " %.6g", x);
          llvm::outs() << text;
        }
        llvm::outs() << "\n";
      }
    }
  }
};

struct TestGradientsPass
    : public PassWrapper<TestGradientsPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestGradientsPass)
  TestGradientsPass() = default;
  TestGradientsPass(const TestGradientsPass &) {}
  StringRef getArgument() const final { return "axonn-test-gradients"; }
  StringRef getDescription() const final {
    return "Check @train_step's gradients against finite differences of "
           "@forward in fp64 (test only)";
  }

  Option<unsigned> seed{*this, "seed", llvm::cl::desc("Random seed"),
                        llvm::cl::init(1)};
  Option<unsigned> samples{
      *this, "samples",
      llvm::cl::desc("Coordinates per parameter: this many with the largest "
                     "gradients and this many at random"),
      llvm::cl::init(3)};
  Option<double> epsilon{*this, "epsilon",
                         llvm::cl::desc("Step of the five-point difference"),
                         llvm::cl::init(1e-3)};
  Option<bool> verbose{*this, "verbose",
                       llvm::cl::desc("Print every coordinate checked"),
                       llvm::cl::init(false)};
  Option<double> tolerance{
      *this, "tolerance",
      llvm::cl::desc("Largest accepted |analytic - numeric| / max(|analytic|, "
                     "|numeric|, 1% of the parameter's largest gradient)"),
      llvm::cl::init(1e-6)};

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    auto forward = module.lookupSymbol<func::FuncOp>("forward");
    if (!step || !forward) {
      emitError(module.getLoc()) << "needs @forward and @train_step";
      return signalPassFailure();
    }
    std::mt19937_64 rng(seed);
    SmallVector<HostTensor> args =
        drawArguments(step, vocabulary(forward), seed);

    ValueTrace trace;
    FailureOr<SmallVector<HostTensor>> results = interpret(step, args, &trace);
    if (failed(results))
      return signalPassFailure();
    ArrayRef<HostTensor> forwardArgs =
        ArrayRef(args).take_front(forward.getNumArguments());
    auto loss = [&](ArrayRef<HostTensor> arguments) -> double {
      FailureOr<SmallVector<HostTensor>> out = interpret(forward, arguments);
      return succeeded(out) ? (*out)[0].data[0] : NAN;
    };
    double stepLoss = (*results)[0].data[0];
    double forwardLoss = loss(forwardArgs);
    llvm::outs() << llvm::formatv(
        "loss {0:F6} (@train_step), {1:F6} (@forward)\n", stepLoss,
        forwardLoss);
    if (std::abs(stepLoss - forwardLoss) > 1e-12 * std::abs(forwardLoss)) {
      emitError(module.getLoc()) << "@train_step and @forward disagree on "
                                    "the loss";
      return signalPassFailure();
    }

    double worst = 0;
    SmallVector<HostTensor> perturbed(forwardArgs.begin(), forwardArgs.end());
    for (auto adamw : step.getOps<AdamWOp>()) {
      auto param = cast<BlockArgument>(adamw.getParam());
      unsigned index = param.getArgNumber();
      auto name = step.getArgAttrOfType<StringAttr>(index, "axonn.param");
      const HostTensor &grad = trace.find(adamw.getGrad())->second;
      // The largest gradients, then random coordinates.
      std::vector<int64_t> order(grad.size());
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(),
                        order.begin() + std::min<int64_t>(samples, grad.size()),
                        order.end(), [&](int64_t a, int64_t b) {
                          return std::abs(grad.data[a]) >
                                 std::abs(grad.data[b]);
                        });
      std::vector<int64_t> coordinates(
          order.begin(),
          order.begin() + std::min<int64_t>(samples, grad.size()));
      std::uniform_int_distribution<int64_t> any(0, grad.size() - 1);
      for (unsigned k = 0; k < samples; ++k)
        coordinates.push_back(any(rng));

      // Errors are relative to the coordinate's gradient, but never to less
      // than 1% of the parameter's largest gradient: far below that the
      // difference quotient measures rounding noise (about 1e-12 here), not
      // the gradient.
      double scale = std::abs(grad.data[order.front()]);
      double maxError = 0, maxAbs = 0;
      for (int64_t c : coordinates) {
        // Five-point central difference: error O(epsilon^4).
        double saved = perturbed[index].data[c];
        auto at = [&](double offset) {
          perturbed[index].data[c] = saved + offset;
          return loss(perturbed);
        };
        double h = epsilon;
        double numeric =
            (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        perturbed[index].data[c] = saved;
        double analytic = grad.data[c];
        double error = std::abs(analytic - numeric) /
                       std::max({std::abs(analytic), std::abs(numeric),
                                 1e-2 * scale, 1e-300});
        maxError = std::max(maxError, error);
        if (verbose)
          llvm::outs() << llvm::formatv("    [{0}] analytic {1:E9} numeric "
                                        "{2:E9} error {3:E2}\n",
                                        c, analytic, numeric, error);
        maxAbs = std::max(maxAbs, std::abs(analytic));
      }
      worst = std::max(worst, maxError);
      llvm::outs() << llvm::formatv("  {0,-36} {1,3} coordinates, largest "
                                    "|gradient| {2:E2}, max relative error "
                                    "{3:E2}\n",
                                    name.getValue(), coordinates.size(), maxAbs,
                                    maxError);
    }
    llvm::outs() << llvm::formatv("max relative error {0:E2} (tolerance "
                                  "{1:E1}): {2}\n",
                                  worst, double(tolerance),
                                  worst <= tolerance ? "ok" : "FAILED");
    if (!(worst <= tolerance)) {
      emitError(module.getLoc())
          << "gradients differ from finite differences by " << worst;
      signalPassFailure();
    }
  }
};

/// The piece of `global` that `rank` holds under `layout`: each split
/// dimension cut into its group's blocks, then the first dimension of the
/// block cut again over the storage axes.
HostTensor pieceOf(const HostTensor &global, LayoutAttr layout, GridAttr grid,
                   int64_t rank) {
  auto index = [&](ArrayRef<Axis> axes) {
    return grid.getGroupIndex(rank, axes);
  };
  int64_t rankCount = global.shape.size();
  SmallVector<int64_t> start(rankCount, 0), shape(global.shape);
  for (auto [d, axes] : llvm::enumerate(layout.getSplit())) {
    shape[d] /= grid.getGroupSize(axes.getAxes());
    start[d] = index(axes.getAxes()) * shape[d];
  }
  if (!layout.getStorage().empty()) {
    shape[0] /= grid.getGroupSize(layout.getStorage().getAxes());
    start[0] += index(layout.getStorage().getAxes()) * shape[0];
  }
  HostTensor piece(shape);
  for (int64_t i = 0; i < piece.size(); ++i) {
    // Row-major position of element i of the piece in the global tensor.
    int64_t rest = i, offset = 0, stride = 1;
    SmallVector<int64_t> position(rankCount);
    for (int64_t d = rankCount - 1; d >= 0; --d) {
      position[d] = rest % shape[d] + start[d];
      rest /= shape[d];
    }
    for (int64_t d = rankCount - 1; d >= 0; --d) {
      offset += position[d] * stride;
      stride *= global.shape[d];
    }
    piece.data[i] = global.data[offset];
  }
  return piece;
}

struct TestSPMDPass
    : public PassWrapper<TestSPMDPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(TestSPMDPass)
  TestSPMDPass() = default;
  TestSPMDPass(const TestSPMDPass &) {}
  StringRef getArgument() const final { return "axonn-test-spmd"; }
  StringRef getDescription() const final {
    return "Check that every rank of the per-rank @train_step computes its "
           "piece of the sharded @train_step's results (test only)";
  }

  Option<unsigned> seed{*this, "seed", llvm::cl::desc("Random seed"),
                        llvm::cl::init(1)};
  Option<std::string> pipeline{
      *this, "pipeline",
      llvm::cl::desc("Passes that lower sharded IR to per-rank IR"),
      llvm::cl::init("axonn-insert-collectives")};
  Option<double> tolerance{
      *this, "tolerance",
      llvm::cl::desc("Largest accepted |per-rank - sharded| / max(|sharded|, "
                     "1e-6 * largest |sharded| of the result)"),
      llvm::cl::init(1e-9)};

  void runOnOperation() override {
    ModuleOp module = getOperation();
    auto grid = module->getAttrOfType<GridAttr>(AxonnDialect::kGridAttrName);
    auto step = module.lookupSymbol<func::FuncOp>("train_step");
    if (!grid || !step) {
      emitError(module.getLoc()) << "needs a grid and a sharded @train_step";
      return signalPassFailure();
    }
    SmallVector<HostTensor> args = drawArguments(step, vocabulary(step), seed);
    FailureOr<SmallVector<HostTensor>> expected = interpret(step, args);
    if (failed(expected))
      return signalPassFailure();

    OwningOpRef<ModuleOp> lowered = module.clone();
    PassManager pm(module.getContext());
    if (failed(parsePassPipeline(pipeline, pm)) || failed(pm.run(*lowered))) {
      emitError(module.getLoc()) << "pipeline '" << pipeline << "' failed";
      return signalPassFailure();
    }
    auto perRank = lowered->lookupSymbol<func::FuncOp>("train_step");
    int64_t ranks = grid.getNumRanks();
    std::vector<SmallVector<HostTensor>> rankArgs(ranks);
    for (auto [i, arg] : llvm::enumerate(args)) {
      auto layout = perRank.getArgAttrOfType<LayoutAttr>(
          i, AxonnDialect::kLayoutAttrName);
      for (int64_t r = 0; r < ranks; ++r)
        rankArgs[r].push_back(layout ? pieceOf(arg, layout, grid, r) : arg);
    }
    FailureOr<std::vector<SmallVector<HostTensor>>> results =
        interpretSPMD(perRank, grid, rankArgs);
    if (failed(results))
      return signalPassFailure();

    double worst = 0;
    llvm::outs() << llvm::formatv("loss {0:F6} (sharded), {1:F6} (rank 0 of "
                                  "{2})\n",
                                  (*expected)[0].data[0],
                                  (*results)[0][0].data[0], ranks);
    for (auto [i, global] : llvm::enumerate(*expected)) {
      auto layout = perRank.getResultAttrOfType<LayoutAttr>(
          i, AxonnDialect::kLayoutAttrName);
      double largest = 0;
      for (double x : global.data)
        largest = std::max(largest, std::abs(x));
      double error = 0;
      for (int64_t r = 0; r < ranks; ++r) {
        HostTensor want = layout ? pieceOf(global, layout, grid, r) : global;
        const HostTensor &got = (*results)[r][i];
        for (int64_t k = 0; k < want.size(); ++k)
          error = std::max(error, std::abs(got.data[k] - want.data[k]) /
                                      std::max({std::abs(want.data[k]),
                                                1e-6 * largest, 1e-300}));
      }
      worst = std::max(worst, error);
    }
    llvm::outs() << llvm::formatv("{0} results on {1} ranks, max relative "
                                  "error {2:E2} (tolerance {3:E1}): {4}\n",
                                  expected->size(), ranks, worst,
                                  double(tolerance),
                                  worst <= tolerance ? "ok" : "FAILED");
    if (!(worst <= tolerance)) {
      emitError(module.getLoc())
          << "per-rank results differ from the sharded ones by " << worst;
      signalPassFailure();
    }
  }
};
} // namespace

namespace mlir::axonn {
void registerTestPasses() {
  PassRegistration<TestInterpretPass>();
  PassRegistration<TestGradientsPass>();
  PassRegistration<TestSPMDPass>();
}
} // namespace mlir::axonn
