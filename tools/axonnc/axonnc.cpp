//===- axonnc.cpp - from a model spec to a training binary ----------------===//
//
//   axonnc SPEC --gpus N [--cluster C] [--grid AxBxCxD] [--recompute R]
//          -o train [--keep-ir DIR] [--gradient-check]
//          [--goldfish k=4,h=13[,strategy=hash|static]]
//          [--emit=exe|obj] [--backend=cpu|cuda] [--single-process]
//          [--dtype=float32|bfloat16]
//
// Imports the spec, runs --axonn-training-pipeline (plan, training step,
// shard, collectives, overlap, memory plan), lowers to runtime calls and
// the LLVM dialect, emits an object for this machine and links it with the
// training driver and the CPU runtime (through mpicxx). The program trains
// in the spec's training.dtype unless --dtype says otherwise: float32, or
// bfloat16 (bf16 tensors, fp32 statistics and master weights).
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/ModelStats.h"
#include "axonn/Conversion/Passes.h"
#include "axonn/Dialect/Axonn/IR/AxonnOps.h"
#include "axonn/Dialect/Axonn/Transforms/Passes.h"
#include "axonn/Support/ToolErrors.h"
#include "axonn/Target/ModelSpec.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVM.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Host.h"

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("axonnc options");

static cl::opt<std::string> specPath(cl::Positional, cl::desc("<model spec>"),
                                     cl::Required, cl::cat(category));
static cl::opt<std::string> output("o",
                                   cl::desc("Output executable (or object, with --emit=obj)"),
                                   cl::value_desc("file"), cl::Required, cl::cat(category));
static cl::opt<int64_t> gpus("gpus", cl::desc("Ranks to compile for"),
                             cl::init(0), cl::cat(category));
static cl::opt<std::string>
    cluster("cluster",
            cl::desc("Machine to plan for: a built-in name or a machine file "
                     "(default: the spec's)"),
            cl::init(""), cl::cat(category));
static cl::opt<std::string> grid("grid", cl::desc("Force the grid AxBxCxD"),
                                 cl::init(""), cl::cat(category));
static cl::opt<std::string> recompute("recompute",
                                      cl::desc("auto, none, selective or full"),
                                      cl::init("auto"), cl::cat(category));
static cl::opt<std::string>
    keepIr("keep-ir",
           cl::desc("Write the IR of every stage into this directory"),
           cl::init(""), cl::cat(category));
static cl::opt<std::string> goldfish(
    "goldfish",
    cl::desc("Train with the Goldfish loss: k=K,h=H[,strategy=hash|static] "
             "(overrides the spec's training.goldfish)"),
    cl::init(""), cl::cat(category));
static cl::opt<bool> gradientCheck(
    "gradient-check",
    cl::desc("Compile in fp64 and link the gradient checker instead of the "
             "training driver (run the result on one rank)"),
    cl::init(false), cl::cat(category));
static cl::opt<std::string>
    mpicxx("mpicxx", cl::desc("The MPI C++ compiler driver that links"),
           cl::init(AXONN_MPICXX), cl::cat(category));

static cl::opt<std::string>
    emit("emit",
         cl::desc("exe (default): link a training binary; obj: write the "
                  "compiled program as an object, to link elsewhere with "
                  "the driver and a runtime (runtime/README.md)"),
         cl::init("exe"), cl::cat(category));
static cl::opt<std::string> backend(
    "backend",
    cl::desc("Runtime backend to link: cpu (default; OpenBLAS) or cuda "
             "(cuBLASLt, NCCL and axonn's kernels; one GPU per rank)"),
    cl::init("cpu"), cl::cat(category));
static cl::opt<std::string> dtype(
    "dtype",
    cl::desc("Element type of the model's tensors: float32 or bfloat16 "
             "(default: the spec's training.dtype)"),
    cl::init(""), cl::cat(category));
static cl::opt<bool> singleProcess(
    "single-process",
    cl::desc("Link the runtime built without MPI: one rank (grid 1x1x1x1), "
             "for machines where no MPI is installed"),
    cl::init(false), cl::cat(category));

namespace {

int fail(const llvm::Twine &message) {
  llvm::errs() << "axonnc: " << message << "\n";
  return 1;
}

/// Writes `print`'s text to `path` (a --keep-ir file), saying why not.
template <typename Print>
LogicalResult writeFile(const std::string &path, Print &&print) {
  std::error_code error;
  llvm::raw_fd_ostream os(path, error);
  if (error)
    return fail("--keep-ir: cannot write " + path + ": " + error.message()),
           failure();
  print(os);
  os.close();
  if (os.has_error()) {
    std::string why = os.error().message();
    os.clear_error();
    return fail("--keep-ir: cannot write " + path + ": " + why), failure();
  }
  return success();
}

/// `value` as a pass option's value: in double quotes, which MLIR's option
/// parser strips, so that spaces and commas in it (a path) stay the
/// value's and cannot start another option; or an error for what the
/// quotes cannot carry: a double quote or a brace (the pipeline's parser
/// matches braces before it looks at quotes), or spaces at either end
/// (trimmed).
std::optional<std::string> optionValue(StringRef flag, StringRef value) {
  if (value.find_first_of("\"{}") != StringRef::npos || value.trim() != value) {
    fail("--" + flag +
         ": a value with a double quote, a brace or spaces at either end "
         "is not supported: '" +
         value + "'");
    return std::nullopt;
  }
  return ("\"" + value + "\"").str();
}

LogicalResult emitObject(llvm::Module &module, const std::string &path) {
  std::string triple = llvm::sys::getDefaultTargetTriple();
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(llvm::Triple(triple), error);
  if (!target)
    return fail("no target for " + triple + ": " + error), failure();
  llvm::TargetOptions options;
  // The step is one long function of runtime calls, whose time is the
  // kernels': code generation without optimization (fast instruction
  // selection and register allocation), where the optimizing one's
  // scheduling and allocation grew with the square of its length (a 256-layer
  // model: 73 s and 6 GB; now 2.3 s and 0.7 GB: docs/benchmarks.md).
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      llvm::Triple(triple), "generic", "", options, llvm::Reloc::PIC_,
      std::nullopt, llvm::CodeGenOptLevel::None));
  module.setDataLayout(machine->createDataLayout());
  module.setTargetTriple(llvm::Triple(triple));
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return fail("cannot write " + path + ": " + ec.message()), failure();
  llvm::legacy::PassManager pm;
  if (machine->addPassesToEmitFile(pm, os, nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    return fail("the target cannot emit objects"), failure();
  pm.run(module);
  os.close();
  if (os.has_error()) {
    std::string why = os.error().message();
    os.clear_error();
    llvm::sys::fs::remove(path);
    return fail("cannot write " + path + ": " + why), failure();
  }
  return success();
}

/// --goldfish k=4,h=13[,strategy=static]: the Goldfish loss on the model's
/// loss, as the spec's training.goldfish would put it.
LogicalResult applyGoldfish(ModuleOp module, StringRef option) {
  int64_t k = 4, h = 13;
  axonn::GoldfishStrategy strategy = axonn::GoldfishStrategy::hash;
  SmallVector<StringRef> items;
  option.split(items, ',', -1, false);
  llvm::StringSet<> given;
  for (StringRef item : items) {
    auto [key, value] = item.split('=');
    key = key.trim();
    value = value.trim();
    if (!given.insert(key).second)
      return fail("--goldfish: '" + key + "' is given twice in '" + option +
                  "'"),
             failure();
    if (key == "k" || key == "h") {
      int64_t n;
      if (value.getAsInteger(10, n) || n < (key == "k" ? 2 : 1))
        return fail("--goldfish: " + key + " must be an integer of at least " +
                    (key == "k" ? "2" : "1") + ", got '" + value + "'"),
               failure();
      (key == "k" ? k : h) = n;
    } else if (key == "strategy") {
      std::optional<axonn::GoldfishStrategy> s =
          axonn::symbolizeGoldfishStrategy(value);
      if (!s)
        return fail("--goldfish: strategy must be hash or static, got '" +
                    value + "'"),
               failure();
      strategy = *s;
    } else {
      return fail("--goldfish: unknown key '" + key +
                  "' (expected k=K,h=H[,strategy=hash|static])"),
             failure();
    }
  }
  auto attr = axonn::GoldfishAttr::get(module.getContext(), strategy, k, h);
  module.walk([&](axonn::LMHeadLossOp op) { op.setGoldfishAttr(attr); });
  return success();
}

/// The model's shape, from the model-level IR, for the driver: it names
/// checkpoint tensors the Hugging Face way (un-fusing QKV needs the heads)
/// and computes MFU from the FLOPs per token.
LogicalResult recordModelInfo(ModuleOp module) {
  func::FuncOp forward;
  for (auto func : module.getOps<func::FuncOp>())
    if (!func.isExternal()) {
      forward = func;
      break;
    }
  if (!forward)
    return fail("the spec produced no model function"), failure();
  FailureOr<axonn::ModelStats> stats = axonn::ModelStats::compute(forward);
  if (failed(stats))
    return failure();
  std::string type = "llama";
  for (unsigned i = 0; i < forward.getNumArguments(); ++i)
    if (auto name = forward.getArgAttrOfType<StringAttr>(
            i, axonn::AxonnDialect::kParamAttrName))
      if (name.getValue().starts_with("transformer."))
        type = "gpt2";
  Builder b(module.getContext());
  auto integer = [&](StringRef key, int64_t value) {
    return b.getNamedAttr(key, b.getI64IntegerAttr(value));
  };
  SmallVector<NamedAttribute> info = {
      b.getNamedAttr("model_type", b.getStringAttr(type)),
      integer("layers", stats->layers),
      integer("hidden", stats->hidden),
      integer("heads", stats->heads),
      integer("kv_heads", stats->kvHeads),
      integer("head_dim", stats->headDim),
      integer("ffn", stats->ffn),
      integer("vocab", stats->vocab),
      integer("params", stats->parameters),
      b.getNamedAttr("flops_per_token",
                     b.getF64FloatAttr(stats->flopsPerTokenLlmc))};
  module->setAttr(axonn::AxonnDialect::kModelInfoAttrName,
                  b.getDictionaryAttr(info));
  return success();
}

} // namespace

static const char *argv0 = "axonnc";

int main(int argc, char **argv) {
  argv0 = argv[0];
  llvm::InitLLVM init(argc, argv);
  mlir::axonn::installToolErrorHandler("axonnc");
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv, "axonnc: compile a model spec into a training binary\n");
  if (emit != "exe" && emit != "obj")
    return fail("--emit must be exe or obj, not '" + emit + "'");
  if (backend != "cpu" && backend != "cuda")
    return fail("--backend must be cpu or cuda, not '" + backend + "'");
#ifndef AXONN_CUDA_LIB_DIR
  if (backend == "cuda")
    return fail("--backend=cuda: this axonnc was built without the CUDA "
                "runtime (no nvcc when it was configured)");
#endif
  if (backend == "cuda" && gradientCheck)
    return fail("--gradient-check runs on the CPU backend (fp64); drop "
                "--backend=cuda");
  if (singleProcess && gradientCheck)
    return fail("--single-process and --gradient-check exclude each other "
                "(the gradient checker runs on the MPI runtime's fp64 build)");
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  axonn::registerAxonnPasses();
  axonn::registerTrainingPipeline();
  registerConversionPasses();

  DialectRegistry registry;
  registry.insert<axonn::AxonnDialect, func::FuncDialect, arith::ArithDialect,
                  cf::ControlFlowDialect, LLVM::LLVMDialect>();
  registerConvertFuncToLLVMInterface(registry);
  arith::registerConvertArithToLLVMInterface(registry);
  cf::registerConvertControlFlowToLLVMInterface(registry);
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  MLIRContext context(registry);
  context.loadAllAvailableDialects();

  if (gpus.getNumOccurrences() && gpus < 1)
    return fail("--gpus must be at least 1, not " + std::to_string(gpus));
  for (cl::opt<std::string> *flag :
       {&cluster, &grid, &recompute, &keepIr, &goldfish, &dtype, &mpicxx})
    if (flag->getNumOccurrences() && flag->empty())
      return fail("--" + flag->ArgStr + " needs a value, not ''");
  if (!keepIr.empty())
    if (std::error_code ec = llvm::sys::fs::create_directories(keepIr))
      return fail("--keep-ir: cannot create the directory " + keepIr + ": " +
                  ec.message());
  auto keep = [&](ModuleOp module, StringRef name) {
    return keepIr.empty()
               ? success()
               : writeFile((keepIr + "/" + name).str(),
                           [&](llvm::raw_ostream &os) { module.print(os); });
  };

  // Import (diagnostics name the spec's file, line and column).
  auto buffer = llvm::MemoryBuffer::getFile(specPath);
  if (!buffer)
    return fail("cannot read " + specPath + ": " + buffer.getError().message());
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*buffer), llvm::SMLoc());
  SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  Type elementType;
  if (dtype == "float32")
    elementType = Float32Type::get(&context);
  else if (dtype == "bfloat16")
    elementType = BFloat16Type::get(&context);
  else if (!dtype.empty())
    return fail("--dtype must be float32 or bfloat16, not '" + dtype + "'");
  // Gradient checks compare the math in fp64: a bfloat16 spec is checked
  // as float32 (its program is the same but for storage).
  if (gradientCheck) {
    if (dtype == "bfloat16")
      return fail("--gradient-check checks the fp32 program in fp64; drop "
                  "--dtype=bfloat16");
    elementType = Float32Type::get(&context);
  }
  OwningOpRef<ModuleOp> module =
      axonn::importModelSpec(sourceMgr, &context, elementType);
  if (!module)
    return 1;
  if (!goldfish.empty() && failed(applyGoldfish(*module, goldfish)))
    return 1;
  if (failed(recordModelInfo(*module)) || failed(keep(*module, "model.mlir")))
    return 1;

  if (cluster.empty() &&
      !(*module)->hasAttr(axonn::AxonnDialect::kClusterAttrName))
    return fail("no machine to plan for: pass --cluster (a built-in name: " +
                llvm::join(axonn::getBuiltinMachineNames(), ", ") +
                "; or a machine file from axonn-calibrate) or give " +
                specPath + " a \"cluster\" section");

  // The training step, per rank.
  std::string pipeline = "axonn-training-pipeline{";
  if (gpus > 0)
    pipeline += " gpus=" + std::to_string(gpus);
  for (auto [flag, value] :
       {std::pair<StringRef, std::string>{"cluster", cluster},
        {"grid", grid},
        {"recompute", recompute}}) {
    if (value.empty())
      continue;
    std::optional<std::string> quoted = optionValue(flag, value);
    if (!quoted)
      return 1;
    pipeline += " " + flag.str() + "=" + *quoted;
  }
  pipeline += "}";
  PassManager pm(&context);
  if (failed(parsePassPipeline(pipeline, pm)))
    return fail("bad options: " + pipeline);
  if (failed(pm.run(*module)) || failed(keep(*module, "step.mlir")))
    return 1;
  if (singleProcess)
    if (auto g = (*module)->getAttrOfType<axonn::GridAttr>(
            axonn::AxonnDialect::kGridAttrName))
      if (g.getX() * g.getY() * g.getZ() * g.getData() != 1)
        return fail("--single-process runs one rank, but the program is for "
                    "a grid of " +
                    std::to_string(g.getX()) + "x" + std::to_string(g.getY()) +
                    "x" + std::to_string(g.getZ()) + "x" +
                    std::to_string(g.getData()) + " (compile with --gpus 1)");

  PassManager lower(&context);
  axonn::LowerToRuntimePassOptions lowering;
  lowering.elementType = gradientCheck ? "f64" : "f32";
  lower.addPass(axonn::createLowerToRuntimePass(lowering));
  if (failed(lower.run(*module)) || failed(keep(*module, "runtime.mlir")))
    return 1;
  PassManager toLLVM(&context);
  if (failed(parsePassPipeline("convert-to-llvm,reconcile-unrealized-casts",
                               toLLVM)) ||
      failed(toLLVM.run(*module)))
    return 1;

  llvm::LLVMContext llvmContext;
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(*module, llvmContext, "axonn");
  if (!llvmModule)
    return fail("translation to LLVM IR failed");
  if (!keepIr.empty() &&
      failed(writeFile(keepIr + "/step.ll", [&](llvm::raw_ostream &os) {
        llvmModule->print(os, nullptr);
      })))
    return 1;

  // Object, then the executable.
  llvm::SmallString<128> object;
  if (llvm::sys::fs::createTemporaryFile("axonn-step", "o", object))
    return fail("cannot create a temporary file");
  if (failed(emitObject(*llvmModule, std::string(object))))
    return 1;
  if (emit == "obj") {
    if (std::error_code ec = llvm::sys::fs::copy_file(object, output))
      return fail("cannot write " + output + ": " + ec.message());
    llvm::sys::fs::remove(object);
    return 0;
  }
  // The runtime libraries: ../lib from this axonnc (an installed one), else
  // the build tree's.
  std::string libDir = AXONN_RUNTIME_LIB_DIR;
  {
    std::string self = llvm::sys::fs::getMainExecutable(
        argv0, reinterpret_cast<void *>(&fail));
    llvm::SmallString<256> installed(llvm::sys::path::parent_path(
        llvm::sys::path::parent_path(self)));
    llvm::sys::path::append(installed, "lib");
    llvm::SmallString<256> probe(installed);
    llvm::sys::path::append(probe, "libaxonn_driver.a");
    if (llvm::sys::fs::exists(probe))
      libDir = std::string(installed);
  }
  std::string linker = singleProcess ? std::string(AXONN_CXX) : mpicxx;
  SmallVector<StringRef> linkArgs = {linker};
  std::string driverLib =
      libDir + (gradientCheck ? "/libaxonn_gradcheck.a" : "/libaxonn_driver.a");
  bool cuda = backend == "cuda";
  std::string runtimeLib =
      libDir + (gradientCheck ? "/libaxonn_rt_f64.a"
                : cuda        ? (singleProcess ? "/libaxonn_rt_cuda_single.a"
                                               : "/libaxonn_rt_cuda.a")
                : singleProcess ? "/libaxonn_rt_single.a"
                                : "/libaxonn_rt.a");
  std::string outputPath = output;
  linkArgs.append({object.str(), driverLib, runtimeLib});
  std::string cudaLibDir, cudaRpath;
#ifdef AXONN_CUDA_LIB_DIR
  cudaLibDir = std::string("-L") + AXONN_CUDA_LIB_DIR;
  cudaRpath = std::string("-Wl,-rpath,") + AXONN_CUDA_LIB_DIR;
#endif
  if (cuda) {
    linkArgs.append({cudaLibDir, cudaRpath, "-lcublasLt", "-lcudart"});
    if (!singleProcess)
      linkArgs.push_back("-lnccl");
  } else {
    linkArgs.push_back("-lopenblas");
  }
  linkArgs.append({"-lm", "-o", outputPath});
  auto program = llvm::sys::findProgramByName(linker);
  if (!program)
    return fail("cannot find the linker driver '" + linker + "'" +
                (singleProcess ? "" : " (install libopenmpi-dev)"));
  std::string message;
  int status = llvm::sys::ExecuteAndWait(*program, linkArgs, std::nullopt, {},
                                         0, 0, &message);
  llvm::sys::fs::remove(object);
  if (status != 0)
    return fail("linking " + output + " failed" +
                (message.empty() ? "" : ": " + message));
  if (!llvm::sys::fs::exists(outputPath))
    return fail("linking " + output + " made no file (" + linker +
                " exited 0 without writing it)");
  return 0;
}
