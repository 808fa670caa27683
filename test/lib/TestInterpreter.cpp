//===- TestInterpreter.cpp - test passes over the reference interpreter --===//
//
// --axonn-test-interpret runs every function whose arguments all carry a
// `test.value` dense attribute and prints its results, so op semantics can
// be checked against hand-computed numbers.
//
// --axonn-test-gradients checks the backward of @train_step against finite
// differences of @forward's loss, parameter by parameter, in fp64.
//
//===----------------------------------------------------------------------===//

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Interpreter/Interpreter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Pass/Pass.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstdio>
#include <numeric>
#include <random>

using namespace mlir;
using namespace mlir::axonn;

namespace {

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
    std::normal_distribution<double> normal(0.0, 1.0);

    // Arguments: tokens and targets uniform over the vocabulary, step 0,
    // parameters drawn around their init (biases and scales perturbed so
    // that every term of every gradient is exercised), states zero. Each
    // argument draws from its own stream, row-major, so that the real rows
    // of a vocabulary padded by --axonn-shard get the values the unpadded
    // table gets: sharded and unsharded modules compute the same loss.
    int64_t vocab = 0;
    for (auto loss : forward.getOps<LMHeadLossOp>())
      vocab = loss.getVocabSize().value_or(
          loss.getWeight().getType().getDimSize(0));
    SmallVector<HostTensor> args;
    for (unsigned i = 0; i < step.getNumArguments(); ++i) {
      auto type = cast<RankedTensorType>(step.getArgumentTypes()[i]);
      HostTensor tensor(type.getShape());
      std::mt19937_64 stream(seed * 1000003ull + i);
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

} // namespace

namespace mlir::axonn {
void registerTestPasses() {
  PassRegistration<TestInterpretPass>();
  PassRegistration<TestGradientsPass>();
}
} // namespace mlir::axonn
