//===- driver.cpp - main() of an axonn training binary --------------------===//
//
// Linked with the object axonnc compiles from a model: reads the program's
// manifest, starts the runtime on the grid the program was compiled for,
// gives every parameter the same initial values on any grid (a counter-based
// generator over the parameter's name and global element index), or loads
// them from a checkpoint, feeds each step its rank's rows of the batch from
// a memory-mapped token file, calls the compiled step, logs, validates and
// writes checkpoints.
//
//   mpirun -np N ./train --data DIR [--steps S] [--checkpoint-dir C] ...
//
//===----------------------------------------------------------------------===//

#include "axonn_rt.h"
#include "checkpoint.h"
#include "generate.h"
#include "json.h"
#include "program.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace axonn::driver;
using axonn::json::Value;

namespace {

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

struct Options {
  std::string data, valData, metrics, checkpointDir, initFrom, resumeFrom;
  int64_t steps = -1, seed = -1, logEvery = 1, valEvery = 0, valBatches = 4,
          saveEvery = 0, keep = 3, injectNan = -1, injectStall = -1,
          signalCheckEvery = 10, injectSignal = -1, skipBatches = 0;
  int64_t generate = 0, sampleSeed = -1, auditLength = 50;
  std::vector<std::string> audit;
  std::string auditJson;
  bool valBatchesGiven = false;
  std::string prompt = "The ";
  double peakTflops = 0, temperature = 0.8, collectiveTimeout = -1;
  bool printLosses = false, resume = false, kvCache = true, cudaGraphs = false;
  std::string trace;
  int64_t traceSteps = 50;
};

void usage() {
  // (one source line an output line)
  // clang-format off
  std::printf(
      "usage: train --data DIR|FILE|PATTERN [options]\n"
      "  --data PATH             token files: DIR/train.bin (and DIR/val.bin),\n"
      "                          or shards DIR/*_train_*.bin (and *_val_*),\n"
      "                          or one .bin file, or the shards a quoted\n"
      "                          pattern matches ('fineweb_train_*.bin'),\n"
      "                          read in name order as one stream\n"
      "  --val-data PATH         validation tokens (a file or pattern)\n"
      "  --steps N               optimizer steps (default: the spec's)\n"
      "  --seed N                initialization seed (default: the spec's)\n"
      "  --log-every N           print a step line every N steps (default 1)\n"
      "  --metrics FILE          append one JSON line per step\n"
      "  --val-every N           validation loss every N steps\n"
      "  --val-batches N         batches per validation (default 4)\n"
      "  --checkpoint-dir DIR    write checkpoints to DIR/step-NNNNNNNN\n"
      "  --save-every N          every N steps (default: at the end only)\n"
      "  --keep-checkpoints N    keep the newest N (default 3)\n"
      "  --signal-check-every N  with --checkpoint-dir, SIGUSR1, SIGTERM and\n"
      "                          SIGINT save a checkpoint and stop the run\n"
      "                          (exit status 128 + the signal): every N\n"
      "                          steps the ranks agree whether any caught\n"
      "                          one (default 10)\n"
      "  --resume                continue from DIR/latest of --checkpoint-dir\n"
      "  --resume-from PATH      continue from checkpoint PATH (an earlier\n"
      "                          one, to roll back); saves go to\n"
      "                          --checkpoint-dir as ever\n"
      "  --skip-batches N        pass over N batches of data from here on\n"
      "                          (step s reads batch s + N, and later ones\n"
      "                          after it; checkpoints keep the offset)\n"
      "  --init-from PATH        start from a safetensors model (a file, a\n"
      "                          checkpoint directory, or a Hugging Face model\n"
      "                          directory or shard index), optimizer state\n"
      "                          fresh\n"
      "  --peak-tflops X         peak FLOP/s of one rank for MFU (default:\n"
      "                          threads x clock x FLOP/cycle of this CPU)\n"
      "  --generate N            after training, generate N tokens from\n"
      "                          --prompt (text for a byte-level vocabulary of\n"
      "                          256, else token ids; default \"The \")\n"
      "  --temperature T         sampling temperature; 0 is greedy (default 0.8)\n"
      "  --sample-seed N         seed of the sampler (default: --seed)\n"
      "  --audit PATH            after training, the memorization audit of a\n"
      "                          document (token file, or text for a byte-level\n"
      "                          model) or a directory of them; repeatable\n"
      "  --audit-length L        tokens each document must reproduce (default 50)\n"
      "  --audit-json FILE       also write the audit as JSON\n"
      "  --no-kv-cache           generate and audit by running the whole window\n"
      "                          for every token, not with the key/value cache\n"
      "                          (slower; the same tokens, for checking)\n"
      "  --trace DIR             write a Chrome trace per rank (DIR/trace-rank-N.json:\n"
      "                          kernels, collectives in flight and waited for,\n"
      "                          data loading) and log where each step's time went\n"
      "  --trace-steps N         steps the trace covers, from the first (default 50)\n"
      "  --cuda-graphs           record the training step once as a CUDA graph\n"
      "                          and replay it (one launch a step; from the\n"
      "                          third step of the run, after any --trace\n"
      "                          steps; the same results)\n"
      "  --collective-timeout S  give up with an error when a collective (on a\n"
      "                          GPU: the rank's queued work, while NCCL\n"
      "                          communicators exist) has not finished after S\n"
      "                          seconds; 0: wait forever (default 600, or\n"
      "                          AXONN_COLLECTIVE_TIMEOUT)\n"
      "  --print-losses          print every step's loss with 9 digits (tests)\n"
      "  --inject-nan STEP       (testing) poison a weight before STEP\n"
      "  --inject-stall STEP     (testing) the last rank stops before STEP, as\n"
      "                          a rank that hangs\n"
      "  --inject-signal STEP    (testing) the last rank raises SIGUSR1 before\n"
      "                          STEP\n"
      "Run under mpirun -np <ranks of the compiled grid> (or srun); alone it\n"
      "is one rank.\n");
  // clang-format on
}

Options parseOptions(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    // (an empty path or number is refused; a prompt may be empty)
    auto value = [&](bool mayBeEmpty = false) -> std::string {
      if (i + 1 >= argc)
        die(nullptr, "option %s needs a value", a.c_str());
      if (!*argv[i + 1] && !mayBeEmpty)
        die(nullptr, "option %s needs a value, not ''", a.c_str());
      return argv[++i];
    };
    auto number = [&]() -> int64_t {
      std::string v = value();
      char *end = nullptr;
      errno = 0;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 0 || errno == ERANGE)
        die(nullptr, "option %s needs a non-negative integer, got '%s'",
            a.c_str(), v.c_str());
      return n;
    };
    // A whole number of at least 1.
    auto positive = [&]() -> int64_t {
      int64_t n = number();
      if (n < 1)
        die(nullptr, "option %s needs an integer of at least 1, got 0",
            a.c_str());
      return n;
    };
    // A decimal value for which fits(x) holds; else the run stops, saying
    // the option `needs` it.
    auto decimal = [&](const char *needs, auto fits) -> double {
      std::string v = value();
      char *end = nullptr;
      double x = std::strtod(v.c_str(), &end);
      if (v.empty() || *end || !fits(x))
        die(nullptr, "option %s needs %s, got '%s'", a.c_str(), needs,
            v.c_str());
      return x;
    };
    if (a == "--data")
      o.data = value();
    else if (a == "--val-data")
      o.valData = value();
    else if (a == "--steps")
      o.steps = number();
    else if (a == "--seed")
      o.seed = number();
    else if (a == "--log-every")
      o.logEvery = positive();
    else if (a == "--metrics")
      o.metrics = value();
    else if (a == "--val-every")
      o.valEvery = number();
    else if (a == "--val-batches")
      o.valBatches = positive(), o.valBatchesGiven = true;
    else if (a == "--checkpoint-dir")
      o.checkpointDir = value();
    else if (a == "--save-every")
      o.saveEvery = number();
    else if (a == "--keep-checkpoints")
      o.keep = positive();
    else if (a == "--signal-check-every")
      o.signalCheckEvery = positive();
    else if (a == "--resume")
      o.resume = true;
    else if (a == "--resume-from")
      o.resumeFrom = value();
    else if (a == "--skip-batches") {
      o.skipBatches = number();
      if (o.skipBatches > kMaxDataOffset)
        die(nullptr,
            "option --skip-batches needs at most 2^40 batches, got "
            "%" PRId64,
            o.skipBatches);
    } else if (a == "--init-from")
      o.initFrom = value();
    else if (a == "--generate")
      o.generate = number();
    else if (a == "--prompt")
      o.prompt = value(/*mayBeEmpty=*/true);
    else if (a == "--audit")
      o.audit.push_back(value());
    else if (a == "--audit-length")
      o.auditLength = positive();
    else if (a == "--audit-json")
      o.auditJson = value();
    else if (a == "--trace")
      o.trace = value();
    else if (a == "--trace-steps")
      o.traceSteps = positive();
    else if (a == "--no-kv-cache")
      o.kvCache = false;
    else if (a == "--sample-seed")
      o.sampleSeed = number();
    else if (a == "--temperature")
      o.temperature = decimal("a number from 0 to 1e6",
                              [](double x) { return x >= 0 && x <= 1e6; });
    else if (a == "--inject-nan")
      o.injectNan = number();
    else if (a == "--inject-stall")
      o.injectStall = number();
    else if (a == "--inject-signal")
      o.injectSignal = number();
    else if (a == "--collective-timeout")
      o.collectiveTimeout =
          decimal("a number of seconds >= 0 (0: no limit)",
                  [](double x) { return x >= 0 && !std::isinf(x); });
    else if (a == "--peak-tflops")
      o.peakTflops = decimal("a number from 1e-6 to 1e9",
                             [](double x) { return x >= 1e-6 && x <= 1e9; });
    else if (a == "--print-losses")
      o.printLosses = true;
    else if (a == "--cuda-graphs")
      o.cudaGraphs = true;
    else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else
      die(nullptr, "unknown option '%s' (see --help)", a.c_str());
  }
  if (o.data.empty())
    die(nullptr, "--data is required (see --help)");
  if (o.resume && o.checkpointDir.empty())
    die(nullptr, "--resume needs --checkpoint-dir");
  if (int(o.resume) + int(!o.resumeFrom.empty()) + int(!o.initFrom.empty()) > 1)
    die(nullptr, "--resume, --resume-from and --init-from exclude each other");
  if (o.injectSignal >= 0 && o.checkpointDir.empty())
    die(nullptr, "--inject-signal needs --checkpoint-dir (without one, a "
                 "signal ends the run as it would any program)");
  return o;
}


/// The batch feeder: global sequence j of batch b starts at a fixed stride
/// through the file; this rank takes its rows.
struct Feeder {
  axonn_rt *rt;
  const TokenShards &file;
  int64_t globalBatch, seqLen, vocab, firstRow, localBatch;

  void fill(int64_t batch, int32_t *tokens, int32_t *targets) const {
    int64_t windows = file.count - seqLen - 1;
    for (int64_t r = 0; r < localBatch; ++r) {
      // (in 128 bits: a step count past --skip-batches times the batch's
      // tokens may pass 2^63)
      __int128 j = __int128(batch) * globalBatch + firstRow + r;
      int64_t start = int64_t((j * seqLen) % windows);
      for (int64_t t = 0; t < seqLen; ++t) {
        int64_t a = file.at(start + t), b = file.at(start + t + 1);
        if (a >= vocab || b >= vocab)
          die(rt,
              "token id %" PRId64 " at %s is not below the model's "
              "vocabulary of %" PRId64,
              std::max(a, b),
              file.where(start + t + (a >= vocab ? 0 : 1)).c_str(), vocab);
        tokens[r * seqLen + t] = int32_t(a);
        targets[r * seqLen + t] = int32_t(b);
      }
    }
  }
};

/// One compiled function with its buffers.
struct Function {
  std::vector<Tensor> args, results;
  std::vector<void *> argPointers, resultPointers;
  int tokens = -1, targets = -1, step = -1;
  float *loss = nullptr, *gradNorm = nullptr;

  /// Hands the buffers the host writes or reads around every call (its
  /// inputs and its own results) to the backend before the call
  /// (axonn_rt_prefetch).
  void prefetch(axonn_rt *rt) const {
    for (size_t i = 0; i < args.size(); ++i)
      if (args[i].role == "input")
        hint(rt, argPointers[i], args[i]);
    for (size_t i = 0; i < results.size(); ++i)
      if (results[i].inPlaceOf < 0)
        hint(rt, resultPointers[i], results[i]);
  }

private:
  static void hint(axonn_rt *rt, const void *p, const Tensor &t) {
    if (axonn_rt_prefetch(rt, p, t.count() * t.elementBytes()) != AXONN_OK)
      die(rt, "%s", axonn_rt_last_error(rt));
  }
};

/// The signal (SIGUSR1, SIGTERM or SIGINT) that asked this rank to save a
/// checkpoint and stop, once catchStopSignals set the handler; 0: none.
volatile sig_atomic_t stopSignal = 0;

extern "C" void onStopSignal(int signo) { stopSignal = signo; }

/// With a checkpoint directory, SIGUSR1 (what mpirun forwards, and Slurm's
/// --signal=USR1@T sends before the time limit), SIGTERM and SIGINT ask the
/// run to save and stop at the next agreement (--signal-check-every); a
/// second signal of a kind acts as it would have without (SA_RESETHAND).
void catchStopSignals() {
  struct sigaction action = {};
  action.sa_handler = onStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  for (int signo : {SIGUSR1, SIGTERM, SIGINT})
    sigaction(signo, &action, nullptr);
}

/// "FIRST ... LAST", or the one name (checkpoint lists in messages).
std::string nameRange(const std::vector<std::string> &names) {
  return names.size() == 1 ? names.front()
                           : names.front() + " ... " + names.back();
}

const char *stopSignalName(int signo) {
  return signo == SIGUSR1   ? "SIGUSR1"
         : signo == SIGTERM ? "SIGTERM"
         : signo == SIGINT  ? "SIGINT"
                            : "a signal";
}

/// The largest of `value` over every rank.
float maxOverRanks(axonn_rt *rt, float value) {
  int32_t all[4] = {0, 1, 2, 3};
  axonn_request request = nullptr;
  if (axonn_rt_all_reduce_start(rt, &value, &value, 1, axonn_axes_make(4, all),
                                AXONN_REDUCE_MAX, &request) != AXONN_OK ||
      axonn_rt_wait(rt, request) != AXONN_OK)
    die(rt, "%s", axonn_rt_last_error(rt));
  return value;
}

/// --cuda-graphs: the training step recorded once as a CUDA graph and
/// replayed, one launch a step instead of one per kernel. Recorded at the
/// run's third step (the first calls tune GEMMs, time the attention and
/// grow scratch: host work a graph cannot hold), and again whenever memory
/// it uses has moved since. Every rank replays or none does (their graphs
/// hold the same collectives). A recording that fails (on any rank) leaves
/// nothing run: the step runs call by call and the next one is recorded
/// again (a call first met while recording, untuned, is tuned meanwhile);
/// after kAttempts failures every step runs call by call, with a note why.
class StepGraph {
public:
  static constexpr int kAttempts = 3;

  StepGraph(axonn_rt *rt, bool wanted) : rt(rt), on(wanted) {
    if (on && !axonn_rt_graph_supported(rt)) {
      on = false;
      if (axonn_rt_rank(rt) == 0)
        std::printf("axonn: note: --cuda-graphs: the %s backend records no "
                    "graphs; steps run call by call\n",
                    axonn_rt_backend());
    }
  }
  StepGraph(const StepGraph &) = delete;
  StepGraph &operator=(const StepGraph &) = delete;
  ~StepGraph() { release(); }
  void release() {
    axonn_rt_graph_destroy(rt, graph);
    graph = nullptr;
  }

  /// The run's first `callByCall` steps (2, or the traced ones if more) are
  /// not recorded: says so when that is all of its `steps`.
  void noteIfNone(int64_t steps, int64_t callByCall) {
    if (on && steps <= callByCall && axonn_rt_rank(rt) == 0)
      std::printf("axonn: note: --cuda-graphs: this run records no step "
                  "(its first %" PRId64
                  " run call by call%s, and it has %" PRId64 ")\n",
                  callByCall, callByCall > 2 ? ", traced" : "", steps);
  }

  /// Queues step `s` (from 0) of a run that started at `first`; no graph
  /// while `tracing` (the trace times each call).
  int32_t run(int64_t s, int64_t first, bool tracing, Function &step,
              void *workspace) {
    auto call = [&] {
      return axonn_train_step(rt, step.argPointers.data(),
                              step.resultPointers.data(), workspace);
    };
    if (!on || tracing || s - first < 2)
      return call();
    if (graph && !axonn_rt_graph_current(rt, graph))
      release();
    if (!graph) {
      std::string why;
      axonn_graph made = nullptr;
      if (axonn_rt_graph_begin(rt) != AXONN_OK) {
        why = axonn_rt_last_error(rt);
      } else {
        if (call() != AXONN_OK)
          why = axonn_rt_last_error(rt);
        if (axonn_rt_graph_end(rt, &made) != AXONN_OK && why.empty())
          why = axonn_rt_last_error(rt);
      }
      if (maxOverRanks(rt, why.empty() ? 0.0f : 1.0f) > 0) {
        axonn_rt_graph_destroy(rt, made);
        if (++failures == kAttempts)
          giveUp(why);
        // Nothing recorded ran: the step again, call by call.
        return call();
      }
      graph = made;
      if (!announced && axonn_rt_rank(rt) == 0) {
        std::printf("axonn: the step is a CUDA graph from step %" PRId64
                    " on\n",
                    s + 1);
        std::fflush(stdout);
      }
      announced = true;
    }
    return axonn_rt_graph_launch(rt, graph);
  }

private:
  void giveUp(const std::string &why) {
    on = false;
    if (!why.empty())
      std::fprintf(stderr,
                   "axonn: note: --cuda-graphs: the step could not be "
                   "recorded in %d tries (the last: %s); steps run call by "
                   "call\n",
                   kAttempts, why.c_str());
    else if (axonn_rt_rank(rt) == 0)
      std::fprintf(stderr,
                   "axonn: note: --cuda-graphs: another rank could not "
                   "record the step in %d tries; steps run call by call\n",
                   kAttempts);
  }

  axonn_rt *rt;
  bool on;
  axonn_graph graph = nullptr;
  int failures = 0;
  bool announced = false;
};

/// One decoding function's buffers, for decode() and audit().
DecodingCall decodingCall(axonn_rt *rt, Function &f, CompiledFunction entry,
                          const int64_t grid[4]) {
  DecodingCall call;
  call.entry = entry;
  call.args = f.argPointers;
  call.results = f.resultPointers;
  call.tokens = static_cast<int32_t *>(f.argPointers[size_t(f.tokens)]);
  for (size_t i = 0; i < f.args.size(); ++i)
    if (f.args[i].role == "input" && f.args[i].input == "position")
      call.position = static_cast<int32_t *>(f.argPointers[i]);
  call.logits = f.resultPointers[0];
  call.logitsBf16 = f.results[0].dtype == "bf16";
  call.rows = f.args[size_t(f.tokens)].shape[0];
  call.length = f.args[size_t(f.tokens)].shape[1];
  call.localRows = f.results[0].shape[2];
  call.where = place(f.results[0], rt, grid);
  return call;
}

/// --generate: continues the prompt and prints the sample.
void generate(axonn_rt *rt, const Options &options, uint64_t seed,
              Decoder &decoder, int64_t vocab) {
  // A vocabulary of 256 is the byte-level tokenizer's: prompt and sample
  // are text. Other vocabularies (SentencePiece, GPT-2's) take the prompt
  // as token ids separated by spaces and print ids.
  bool bytes = vocab <= 256;
  std::vector<int64_t> context;
  if (bytes) {
    for (unsigned char c : options.prompt) {
      if (int64_t(c) >= vocab)
        die(rt, "--prompt: byte %d is not below the vocabulary of %" PRId64,
            c, vocab);
      context.push_back(c);
    }
  } else {
    const char *p = options.prompt.c_str();
    char *end = nullptr;
    for (long long id = std::strtoll(p, &end, 10); end != p;
         id = std::strtoll(p, &end, 10)) {
      if (id < 0 || id >= vocab)
        die(rt, "--prompt: token id %lld is not below the vocabulary of %" PRId64,
            id, vocab);
      context.push_back(id);
      p = end;
    }
    if (*p && std::strspn(p, " \t\n") != std::strlen(p))
      die(rt,
          "--prompt: this model's vocabulary is not byte-level (%" PRId64
          " tokens); give token ids separated by spaces, not '%s'",
          vocab, options.prompt.c_str());
  }
  if (context.empty())
    context.push_back(bytes && '\n' < vocab ? '\n' : 0);
  uint64_t state = splitmix(uint64_t(
      options.sampleSeed >= 0 ? options.sampleSeed : int64_t(seed)));
  std::vector<int64_t> generated =
      decode(rt, decoder, vocab, context, options.generate,
             options.temperature, state);
  if (axonn_rt_rank(rt) != 0)
    return;
  std::string how = options.temperature > 0
                        ? "temperature " + std::to_string(options.temperature)
                        : "greedy";
  std::string shown;
  if (!bytes) {
    context.insert(context.end(), generated.begin(), generated.end());
    for (size_t i = 0; i < context.size(); ++i)
      shown += (i ? " " : "") + std::to_string(context[i]);
    std::printf("axonn: sample (%" PRId64 " tokens, %s), token ids:\n%s\n",
                options.generate, how.c_str(), shown.c_str());
    std::fflush(stdout);
    return;
  }
  std::string text = options.prompt;
  for (int64_t t : generated)
    text.push_back(char(t));
  for (unsigned char c : text)
    if (c == '\n' || c == '\t' || (c >= 32 && c < 127))
      shown.push_back(char(c));
    else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", c);
      shown += escaped;
    }
  std::printf("axonn: sample (%" PRId64 " tokens, %s):\n%s\n",
              options.generate, how.c_str(), shown.c_str());
  std::fflush(stdout);
}

} // namespace

int main(int argc, char **argv) {
  Options options = parseOptions(argc, argv);

  Value manifest;
  std::string error;
  if (!axonn::json::parse(axonn_manifest(), manifest, error))
    die(nullptr, "the program's manifest is not JSON (%s)", error.c_str());
  int64_t grid[4];
  for (int a = 0; a < 4; ++a)
    grid[a] = manifest["grid"][size_t(a)].asInt(1);

  axonn_rt *rt = nullptr;
  if (axonn_rt_create(grid, &rt) != AXONN_OK)
    die(nullptr, "%s", rt ? axonn_rt_last_error(rt) : "cannot start");
  // (over AXONN_COLLECTIVE_TIMEOUT, which the runtime read at its start)
  if (options.collectiveTimeout >= 0 &&
      axonn_rt_set_collective_timeout(rt, options.collectiveTimeout) !=
          AXONN_OK)
    die(rt, "%s", axonn_rt_last_error(rt));
  bool leader = axonn_rt_rank(rt) == 0;
  int64_t ranks = axonn_rt_world_size(rt);
  if (options.injectStall >= 0 && ranks < 2)
    die(rt, "--inject-stall needs 2 or more ranks (one stopped rank alone "
            "waits for nothing)");
  if (!options.checkpointDir.empty())
    catchStopSignals();
  // Where rank 0 writes at the end, checked now rather than after the
  // training: a file it can create there (and removes).
  if (leader) {
    auto writable = [&](const char *option, const std::string &probe) {
      FILE *f = openForWriting(probe);
      if (!f)
        die(rt, "%s: cannot write %s: %s", option, probe.c_str(),
            std::strerror(errno));
      std::fclose(f);
      std::remove(probe.c_str());
    };
    if (!options.checkpointDir.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(options.checkpointDir, ec);
      if (ec)
        die(rt, "--checkpoint-dir: cannot create %s: %s",
            options.checkpointDir.c_str(), ec.message().c_str());
      writable("--checkpoint-dir", options.checkpointDir + "/.axonn-probe");
      std::string latest = options.checkpointDir + "/latest";
      struct stat lst;
      if (lstat(latest.c_str(), &lst) == 0 && !S_ISREG(lst.st_mode) &&
          !S_ISLNK(lst.st_mode))
        die(rt, "--checkpoint-dir: %s is not a regular file", latest.c_str());
      // A new run's saves would mix with (and prune) another run's: a run
      // that neither resumes nor rolls back to a checkpoint in the directory
      // is refused one that holds checkpoints.
      std::vector<std::string> held = checkpointsIn(options.checkpointDir);
      bool rollsBackHere =
          !options.resumeFrom.empty() &&
          checkpointInDirectory(options.resumeFrom, options.checkpointDir);
      if (!options.resume && !rollsBackHere && !held.empty())
        die(rt,
            "--checkpoint-dir %s holds another run's checkpoints (%s): "
            "--resume to continue it, --resume-from one of them to roll "
            "back, or give another directory",
            options.checkpointDir.c_str(), nameRange(held).c_str());
    }
    if (!options.auditJson.empty()) {
      struct stat st;
      if (stat(options.auditJson.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        die(rt, "--audit-json: %s is a directory", options.auditJson.c_str());
      writable("--audit-json", options.auditJson + ".tmp");
    }
  }
  if (!options.trace.empty()) {
    if (mkdir(options.trace.c_str(), 0755) != 0 && errno != EEXIST)
      die(rt, "--trace: cannot create %s: %s", options.trace.c_str(),
          std::strerror(errno));
    axonn_rt_trace_enable(rt, 1);
  }

  const Value &stepFn = manifest["functions"]["train_step"];
  if (stepFn.kind != Value::Kind::Object)
    die(rt, "the program has no training step");
  const Value &training = manifest["training"];
  int64_t steps =
      options.steps >= 0 ? options.steps : training["steps"].asInt();
  uint64_t seed =
      uint64_t(options.seed >= 0 ? options.seed : training["seed"].asInt());
  int64_t globalBatch = training["global_batch"].asInt();
  int64_t seqLen = training["seq_len"].asInt();
  int64_t vocab = manifest["vocab_size"].asInt();
  ModelInfo model = readModelInfo(manifest);
  axonn_adamw_config schedule = {};
  schedule.lr = training["lr"].asDouble();
  schedule.min_lr = training["min_lr"].asDouble();
  schedule.warmup_steps = training["warmup_steps"].asInt();
  schedule.steps = training["steps"].asInt();
  std::string kind = training["schedule"].asString();
  schedule.schedule = kind == "constant" ? 0 : kind == "linear" ? 1 : 2;

  // The training step's buffers: parameters initialized, state zero,
  // inputs per step.
  Function step;
  for (const Value &v : stepFn["args"].array) {
    Tensor t = readTensor(v);
    void *p = allocate(rt, t.count() * t.elementBytes());
    if (t.role == "input" && t.input == "tokens")
      step.tokens = int(step.args.size());
    if (t.role == "input" && t.input == "targets")
      step.targets = int(step.args.size());
    if (t.role == "input" && t.input == "step")
      step.step = int(step.args.size());
    step.args.push_back(t);
    step.argPointers.push_back(p);
  }
  if (step.tokens < 0 || step.targets < 0 || step.step < 0)
    die(rt, "the training step lacks its tokens, targets or step input");
  for (const Value &v : stepFn["results"].array) {
    Tensor t = readTensor(v);
    step.results.push_back(t);
    if (t.inPlaceOf >= 0) {
      step.resultPointers.push_back(step.argPointers[size_t(t.inPlaceOf)]);
      continue;
    }
    void *p = allocate(rt, t.count() * t.elementBytes());
    if (t.role == "output" && t.name == "loss")
      step.loss = static_cast<float *>(p);
    if (t.role == "output" && t.name == "grad_norm")
      step.gradNorm = static_cast<float *>(p);
    step.resultPointers.push_back(p);
  }
  if (!step.loss)
    die(rt, "the training step returns no loss");

  // Parameters and optimizer state, with their places in the whole tensors.
  std::vector<StateTensor> state;
  for (size_t i = 0; i < step.args.size(); ++i) {
    const Tensor &t = step.args[i];
    if (t.role != "param" && t.role != "state")
      continue;
    state.push_back({t.role == "param" ? t.name : t.stateOf,
                     t.role == "param" ? "" : t.state, &t, place(t, rt, grid),
                     step.argPointers[i]});
  }
  linkMasters(state);

  if (model.heads <= 0 &&
      (options.resume || !options.resumeFrom.empty() ||
       !options.initFrom.empty() || !options.checkpointDir.empty()))
    die(rt, "checkpoints need the model's shape in the program's manifest, "
            "which axonnc records; this program has none");

  int64_t firstStep = 0;
  // Batches passed over so far: step s reads batch s + dataOffset.
  int64_t dataOffset = 0;
  std::string resumedFrom;
  if (options.resume || !options.resumeFrom.empty()) {
    resumedFrom = options.resumeFrom;
    if (options.resume) {
      resumedFrom = latestCheckpoint(rt, options.checkpointDir);
      if (resumedFrom.empty()) {
        std::vector<std::string> held = checkpointsIn(options.checkpointDir);
        if (!held.empty())
          die(rt,
              "--resume: %s has no latest, but checkpoints (%s): "
              "--resume-from one of them",
              options.checkpointDir.c_str(), nameRange(held).c_str());
        die(rt, "--resume: %s has no checkpoint (no %s/latest)",
            options.checkpointDir.c_str(), options.checkpointDir.c_str());
      }
    }
    firstStep =
        loadCheckpoint(rt, resumedFrom, model, vocab, state, dataOffset);
    if (leader && firstStep >= steps)
      std::printf("axonn: %s is at step %" PRId64 ", the run has %" PRId64
                  ": no step left to train\n",
                  resumedFrom.c_str(), firstStep, steps);
  } else {
    std::vector<float> values;
    for (const StateTensor &t : state)
      if (t.state.empty()) {
        values.assign(size_t(t.meta->count()), 0.0f);
        initialize(*t.meta, t.placement, seed, values.data());
        for (size_t i = 0; i < values.size(); ++i)
          t.put(int64_t(i), values[i]);
      }
    if (!options.initFrom.empty())
      loadModel(rt, options.initFrom, model, vocab, state);
  }

  dataOffset += options.skipBatches;
  if (dataOffset > kMaxDataOffset)
    die(rt,
        "--skip-batches %" PRId64 ": the data offset would be %" PRId64
        " batches, past 2^40",
        options.skipBatches, dataOffset);

  int64_t workspaceBytes = stepFn["workspace"].asInt();
  // Validation runs the compiled forward, generation the decoding
  // functions, on the training step's parameters. The decoding functions
  // share their key/value caches (the n-th cache argument of each).
  std::vector<void *> caches;
  auto setup = [&](const char *name, const char *what, Function &f) {
    size_t cacheIndex = 0;
    const Value &fn = manifest["functions"][name];
    if (fn.kind != Value::Kind::Object)
      die(rt, "%s: the program has no %s function", what, name);
    for (const Value &v : fn["args"].array) {
      Tensor t = readTensor(v);
      void *p = nullptr;
      if (t.role == "param") {
        for (const StateTensor &st : state)
          if (st.state.empty() && st.name == t.name)
            p = st.data;
        if (!p)
          die(rt, "the parameter %s is not trained", t.name.c_str());
      } else if (t.role == "input" &&
                 (t.input == "k_cache" || t.input == "v_cache")) {
        if (cacheIndex == caches.size())
          caches.push_back(allocate(rt, t.count() * t.elementBytes()));
        p = caches[cacheIndex++];
      } else {
        p = allocate(rt, t.count() * t.elementBytes());
      }
      if (t.role == "input" && t.input == "tokens")
        f.tokens = int(f.args.size());
      if (t.role == "input" && t.input == "targets")
        f.targets = int(f.args.size());
      f.args.push_back(t);
      f.argPointers.push_back(p);
    }
    for (const Value &v : fn["results"].array) {
      Tensor t = readTensor(v);
      void *p = allocate(rt, t.count() * t.elementBytes());
      if (!f.loss)
        f.loss = static_cast<float *>(p);
      f.results.push_back(t);
      f.resultPointers.push_back(p);
    }
    if (f.tokens < 0 || f.targets < 0 || !f.loss)
      die(rt, "the %s function lacks its tokens, targets or result", what);
    workspaceBytes = std::max(workspaceBytes, fn["workspace"].asInt());
  };
  Function forward, logitsFn, prefillFn, decodeFn;
  if (options.valEvery > 0)
    setup("forward", "--val-every", forward);
  if (options.generate > 0 || !options.audit.empty()) {
    const char *what = options.generate > 0 ? "--generate" : "--audit";
    if (options.kvCache) {
      setup("prefill", what, prefillFn);
      setup("decode", what, decodeFn);
    } else {
      setup("logits", what, logitsFn);
    }
  }
  void *workspace = allocate(rt, workspaceBytes, AXONN_MEMORY_DEVICE);

  // Data: this rank's rows of each global batch. A directory holds
  // train.bin and val.bin, or shards (shardsIn: names with a part "train" or
  // "val", as fineweb_train_000001.bin); a file or a
  // pattern names the training tokens alone (--val-data, the validation's).
  std::vector<std::string> trainPaths, valPaths;
  struct stat st;
  if (stat(options.data.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    std::string train = options.data + "/train.bin",
                val = options.data + "/val.bin";
    shardsIn(rt, options.data, trainPaths, valPaths);
    // The single file, or the shards; both at once is ambiguous.
    auto single = [&](const std::string &file, std::vector<std::string> &paths,
                      const char *what) {
      if (stat(file.c_str(), &st) != 0)
        return;
      if (!paths.empty())
        die(rt,
            "--data %s: the directory has %s and %s shards (%s ...): keep "
            "one, or give --data and --val-data",
            options.data.c_str(), file.c_str(), what, paths.front().c_str());
      paths = {file};
    };
    single(train, trainPaths, "training");
    single(val, valPaths, "validation");
    if (trainPaths.empty())
      die(rt,
          "--data %s: the directory has no train.bin and no shards (names "
          "with a part 'train', as fineweb_train_000001.bin)",
          options.data.c_str());
  } else {
    trainPaths = tokenPaths(rt, "--data", options.data);
  }
  if (!options.valData.empty())
    valPaths = tokenPaths(rt, "--val-data", options.valData);
  // Tokens with room for one sequence and its targets (and one more).
  auto openData = [&](const std::vector<std::string> &paths) {
    TokenShards tokens = openShards(rt, paths);
    if (tokens.count < seqLen + 2)
      die(rt,
          "%s %s %" PRId64 " tokens; sequences of %" PRId64
          " need at least %" PRId64,
          tokens.name().c_str(), paths.size() > 1 ? "have" : "has",
          tokens.count, seqLen, seqLen + 2);
    return tokens;
  };
  TokenShards data = openData(trainPaths);
  const Tensor &tokensT = step.args[size_t(step.tokens)];
  int64_t firstRow = place(tokensT, rt, grid).offset[0];
  Feeder feeder{rt, data, globalBatch, seqLen, vocab, firstRow,
                tokensT.shape[0]};
  TokenShards valData;
  if (options.valEvery > 0) {
    if (valPaths.empty())
      die(rt, "--val-every needs validation tokens: --val-data, or --data "
              "a directory with val.bin or shards (names with a part 'val', "
              "as fineweb_val_000000.bin)");
    valData = openData(valPaths);
    // (batches past the file's end repeat its data: a given count beyond
    // them would only repeat it, for as long as it is)
    int64_t held = std::max<int64_t>(
        1, (valData.count - 1) / std::max<int64_t>(1, globalBatch * seqLen));
    if (options.valBatchesGiven && options.valBatches > held)
      die(rt, "--val-batches %" PRId64 ": %s holds %" PRId64 " batch%s",
          options.valBatches, valData.name().c_str(), held,
          held == 1 ? "" : "es");
  }
  Feeder valFeeder{rt, valData, globalBatch, seqLen, vocab, firstRow,
                   tokensT.shape[0]};
  auto validate = [&]() {
    double sum = 0;
    for (int64_t b = 0; b < options.valBatches; ++b) {
      valFeeder.fill(b,
                     static_cast<int32_t *>(forward.argPointers[size_t(
                         forward.tokens)]),
                     static_cast<int32_t *>(forward.argPointers[size_t(
                         forward.targets)]));
      forward.prefetch(rt);
      if (axonn_forward(rt, forward.argPointers.data(),
                        forward.resultPointers.data(),
                        workspace) != AXONN_OK)
        die(rt, "validation failed: %s", axonn_rt_last_error(rt));
      synchronize(rt);
      sum += *forward.loss;
    }
    return sum / double(options.valBatches);
  };

  FILE *metrics = nullptr;
  if (leader && !options.metrics.empty()) {
    // (a device or a FIFO with a reader too: /dev/stdout)
    metrics = openForWriting(options.metrics, /*append=*/true,
                             /*regularOnly=*/false);
    if (!metrics)
      die(rt, "cannot open %s: %s", options.metrics.c_str(),
          std::strerror(errno));
  }

  // MFU: tokens/s x FLOPs per token (llm.c's 6N + 6*L*d*T) over the peak.
  char peakText[256];
  double peak = axonn_rt_peak_flops(peakText, sizeof(peakText));
  if (options.peakTflops > 0) {
    peak = options.peakTflops * 1e12;
    std::snprintf(peakText, sizeof(peakText), "--peak-tflops");
  }
  double flopsPerToken = model.flopsPerToken;
  // Megatron's count (Narayanan et al. 2021, no recompute) per token:
  // 72 L d^2 (1 + T / (6 d) + V / (12 L d)).
  double megatronPerToken =
      model.layers > 0 && model.hidden > 0
          ? 72.0 * double(model.layers) * double(model.hidden) *
                double(model.hidden) *
                (1 + double(seqLen) / (6.0 * double(model.hidden)) +
                 double(model.vocab) /
                     (12.0 * double(model.layers) * double(model.hidden)))
          : 0;
  std::vector<double> stepSeconds;
  if (leader) {
    std::string range = firstStep < steps
                            ? "steps " + std::to_string(firstStep + 1) + "-" +
                                  std::to_string(steps)
                            : "no step to train";
    std::printf("axonn: %" PRId64 " ranks, grid %" PRId64 "x%" PRId64
                "x%" PRId64 "x%" PRId64 ", batch %" PRId64 " x %" PRId64
                " tokens, %s, BLAS core %s\n",
                ranks, grid[0], grid[1], grid[2], grid[3], globalBatch, seqLen,
                range.c_str(), axonn_rt_blas_core());
    if (!resumedFrom.empty())
      std::printf("axonn: resumed from %s\n", resumedFrom.c_str());
    if (dataOffset > 0)
      std::printf("axonn: data: step s reads batch s + %" PRId64 " (%" PRId64
                  " batches passed over%s)\n",
                  dataOffset, dataOffset,
                  options.skipBatches == dataOffset
                      ? ""
                      : (", " +
                         std::to_string(dataOffset - options.skipBatches) +
                         " before this run")
                            .c_str());
    if (!options.initFrom.empty())
      std::printf("axonn: weights from %s\n", options.initFrom.c_str());
    if (steps > schedule.steps)
      std::printf("axonn: note: the learning-rate schedule was compiled for "
                  "%" PRId64 " steps (the spec's training.steps); later steps "
                  "run at min_lr %g\n",
                  schedule.steps, schedule.min_lr);
    if (!options.printLosses && flopsPerToken > 0 && firstStep < steps)
      std::printf("axonn: MFU = tokens/s x %.0f FLOP/token (6N + 6LdT, "
                  "llm.c) / (%" PRId64 " ranks x %.1f GFLOP/s: %s)\n",
                  flopsPerToken, ranks, peak / 1e9, peakText);
    std::fflush(stdout);
  }

  CheckpointOptions checkpoints{options.checkpointDir, int(options.keep)};
  int32_t *tokens = static_cast<int32_t *>(step.argPointers[size_t(step.tokens)]);
  int32_t *targets =
      static_cast<int32_t *>(step.argPointers[size_t(step.targets)]);
  int64_t *stepInput = static_cast<int64_t *>(step.argPointers[size_t(step.step)]);
  double tokensSeen = 0;
  int64_t lastSaved = firstStep;
  int stoppedBy = 0; // the stop signal the ranks agreed on
  auto started = std::chrono::steady_clock::now();
  bool tracing = !options.trace.empty();
  // A rollback with steps to train: the checkpoints past it, of the run
  // rolled back from, go aside (once every check above has passed).
  if (leader && !options.resumeFrom.empty() && !options.checkpointDir.empty() &&
      firstStep < steps)
    setAsideCheckpointsPast(rt, options.checkpointDir, firstStep, resumedFrom);
  StepGraph stepGraph(rt, options.cudaGraphs);
  stepGraph.noteIfNone(steps - firstStep,
                       std::max<int64_t>(2, tracing ? options.traceSteps : 0));
  for (int64_t s = firstStep; s < steps; ++s) {
    if (tracing && s - firstStep == options.traceSteps) {
      // The trace holds the first --trace-steps steps; later ones run untraced.
      tracing = false;
      axonn_rt_trace_enable(rt, 0);
    }
    double loading = axonn_rt_now(rt);
    feeder.fill(s + dataOffset, tokens, targets);
    *stepInput = s;
    if (options.injectNan >= 0 && s == options.injectNan)
      state.front().put(0, NAN);
    if (options.injectStall >= 0 && s == options.injectStall &&
        axonn_rt_rank(rt) == ranks - 1)
      for (;;) // until the job ends it
        pause();
    if (s == options.injectSignal && axonn_rt_rank(rt) == ranks - 1)
      raise(SIGUSR1);
    double before = axonn_rt_now(rt);
    axonn_rt_trace_record(rt, "data", "data", loading, before);
    // (inside the step's time: the migration is the step's work)
    step.prefetch(rt);
    int32_t status = stepGraph.run(s, firstStep, tracing, step, workspace);
    if (status != AXONN_OK)
      die(rt, "step %" PRId64 " failed: %s", s + 1, axonn_rt_last_error(rt));
    synchronize(rt);
    double after = axonn_rt_now(rt), seconds = after - before;
    axonn_trace_totals spent{0, 0, 0, 0};
    if (tracing) {
      std::string name = "step " + std::to_string(s + 1);
      axonn_rt_trace_record(rt, name.c_str(), "step", before, after);
      axonn_rt_trace_totals(rt, before, after, &spent);
    }
    float norm = step.gradNorm ? *step.gradNorm : 0.0f;
    if (!std::isfinite(*step.loss) || !std::isfinite(norm))
      die(rt,
          "step %" PRId64 ": the loss is %g and the gradient norm %g; "
          "stopping without writing a checkpoint%s%s",
          s + 1, double(*step.loss), double(norm),
          lastSaved > 0 && !options.checkpointDir.empty()
              ? " (the last one is in "
              : "",
          lastSaved > 0 && !options.checkpointDir.empty()
              ? (options.checkpointDir + ")").c_str()
              : "");
    tokensSeen += double(globalBatch * seqLen);
    stepSeconds.push_back(seconds);
    double lr = axonn_rt_learning_rate(&schedule, s);
    double tps = double(globalBatch * seqLen) / seconds;
    double mfu = peak > 0 ? tps * flopsPerToken / (double(ranks) * peak) : 0;
    bool last = s + 1 == steps;
    double valLoss = NAN;
    if (options.valEvery > 0 && ((s + 1) % options.valEvery == 0 || last))
      valLoss = validate();
    if (leader) {
      if (options.printLosses)
        std::printf("step %" PRId64 " loss %.9g\n", s, *step.loss);
      else if (s % options.logEvery == 0 || last || !std::isnan(valLoss)) {
        std::printf("step %5" PRId64 "/%" PRId64 "  loss %.4f  lr %.2e  "
                    "norm %.3f  %.1f ms  %.0f tokens/s  MFU %.2f%%%s\n",
                    s + 1, steps, *step.loss, lr, norm, seconds * 1e3, tps,
                    mfu * 100,
                    std::isnan(valLoss)
                        ? ""
                        : ("  val " + std::to_string(valLoss)).c_str());
        if (tracing)
          std::printf("      trace (rank 0): compute %.2f ms, optimizer %.2f "
                      "ms, exposed communication %.2f ms, other %.2f ms; "
                      "overlapped communication %.2f ms\n",
                      spent.compute * 1e3, spent.optimizer * 1e3,
                      spent.exposed * 1e3,
                      (seconds - spent.compute - spent.optimizer -
                       spent.exposed) *
                          1e3,
                      spent.overlapped * 1e3);
      }
      if (metrics) {
        std::fprintf(metrics,
                     "{\"step\": %" PRId64 ", \"loss\": %.9g, \"lr\": %.6g, "
                     "\"grad_norm\": %.6g, \"seconds\": %.6f, "
                     "\"tokens_per_second\": %.1f, \"mfu\": %.6f",
                     s + 1, *step.loss, lr, norm, seconds, tps, mfu);
        if (!std::isnan(valLoss))
          std::fprintf(metrics, ", \"val_loss\": %.9g", valLoss);
        if (tracing)
          std::fprintf(metrics,
                       ", \"compute_seconds\": %.6f, \"optimizer_seconds\": "
                       "%.6f, \"exposed_seconds\": %.6f, "
                       "\"overlapped_seconds\": %.6f",
                       spent.compute, spent.optimizer, spent.exposed,
                       spent.overlapped);
        std::fprintf(metrics, "}\n");
        std::fflush(metrics);
      }
      std::fflush(stdout);
    }
    // Whether a rank caught a stop signal: every rank asks at the same
    // steps (and at the last), so that all stop after the same one.
    if (!options.checkpointDir.empty() &&
        (last || (s + 1 - firstStep) % options.signalCheckEvery == 0))
      stoppedBy = int(maxOverRanks(rt, float(stopSignal)));
    if (!options.checkpointDir.empty() &&
        ((options.saveEvery > 0 && (s + 1) % options.saveEvery == 0) || last ||
         stoppedBy)) {
      // Rank 0 writes the files while the others wait, in its gathers and
      // then at the closing all-reduce, however long the storage takes:
      // no collective timeout meanwhile, and every rank leaves together.
      double limit = axonn_rt_collective_timeout(rt);
      axonn_rt_set_collective_timeout(rt, 0);
      saveCheckpoint(rt, checkpoints, model, vocab, grid, s + 1, dataOffset,
                     seed, state);
      maxOverRanks(rt, 0.0f);
      axonn_rt_set_collective_timeout(rt, limit);
      lastSaved = s + 1;
      if (leader && !options.printLosses) {
        std::printf("axonn: checkpoint %s/step-%08" PRId64 "\n",
                    options.checkpointDir.c_str(), s + 1);
        std::fflush(stdout);
      }
    }
    if (stoppedBy) {
      if (leader) {
        std::printf("axonn: stopping after step %" PRId64 " of %" PRId64
                    " on %s (caught by a rank); --resume continues from "
                    "%s/step-%08" PRId64 "\n",
                    s + 1, steps, stopSignalName(stoppedBy),
                    options.checkpointDir.c_str(), s + 1);
        std::fflush(stdout);
      }
      steps = s + 1; // (the summary's count)
      break;
    }
  }
  stepGraph.release();
  // Training is over: signals act as they would without the handler again
  // (one caught after the last agreement acts now, the last checkpoint
  // written).
  if (!options.checkpointDir.empty()) {
    for (int signo : {SIGUSR1, SIGTERM, SIGINT})
      signal(signo, SIG_DFL);
    if (stopSignal && !stoppedBy)
      raise(stopSignal);
  }
  // No step trained (--steps 0, or a resume at the last step): the
  // validation loss of the weights as they are, once.
  if (firstStep >= steps && options.valEvery > 0) {
    double valLoss = validate();
    if (leader) {
      std::printf("axonn: validation loss %.6f (%" PRId64 " batch%s of %" PRId64
                  " x %" PRId64 " tokens, step %" PRId64 ")\n",
                  valLoss, options.valBatches,
                  options.valBatches == 1 ? "" : "es", globalBatch, seqLen,
                  firstStep);
      if (metrics)
        std::fprintf(metrics, "{\"step\": %" PRId64 ", \"val_loss\": %.9g}\n",
                     firstStep, valLoss);
    }
  }
  double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  if (!stoppedBy && (options.generate > 0 || !options.audit.empty())) {
    Decoder decoder;
    decoder.cached = options.kvCache;
    decoder.seqLen = seqLen;
    decoder.workspace = workspace;
    if (options.kvCache) {
      decoder.prefill = decodingCall(rt, prefillFn, axonn_prefill, grid);
      decoder.step = decodingCall(rt, decodeFn, axonn_decode, grid);
      if (!decoder.prefill.position || !decoder.step.position ||
          decoder.prefill.length != seqLen || decoder.step.length != 1)
        die(rt, "the program's prefill and decode functions do not take "
                "a window of %" PRId64 " tokens and one token at a position",
            seqLen);
    } else {
      decoder.window = decodingCall(rt, logitsFn, axonn_logits, grid);
    }
    if (options.generate > 0)
      generate(rt, options, seed, decoder, vocab);
    if (!options.audit.empty())
      audit(rt, decoder, vocab, options.audit, options.auditLength,
            options.auditJson);
  }

  // Peak resident memory, the largest over the ranks.
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  float peakMiB = maxOverRanks(rt, float(double(usage.ru_maxrss) / 1024.0));
  if (leader && steps > firstStep && !options.printLosses) {
    std::printf("axonn: %" PRId64 " steps in %.2f s, %.0f tokens/s, peak "
                "memory %.1f MiB per rank (runtime allocations %.1f MiB)\n",
                steps - firstStep, total, tokensSeen / total, double(peakMiB),
                double(axonn_rt_peak_allocated(rt)) / 1048576.0);
    // The median step after the first few (warm-up, first-touch paging).
    std::vector<double> steady(
        stepSeconds.begin() +
            std::min<ptrdiff_t>(ptrdiff_t(stepSeconds.size()) / 2, 3),
        stepSeconds.end());
    std::sort(steady.begin(), steady.end());
    double median = steady[steady.size() / 2];
    double tps = double(globalBatch * seqLen) / median;
    double denominator = double(ranks) * peak;
    if (peak > 0 && flopsPerToken > 0)
      std::printf("axonn: median step %.1f ms, %.0f tokens/s, MFU %.2f%% "
                  "(6N + 6LdT) / %.2f%% (Megatron)\n",
                  median * 1e3, tps, tps * flopsPerToken / denominator * 100,
                  tps * megatronPerToken / denominator * 100);
  }
  // (a full disk shows in the stream's error flag or at the close)
  if (metrics && (std::ferror(metrics) | std::fclose(metrics)))
    die(rt, "--metrics: cannot write %s: %s", options.metrics.c_str(),
        std::strerror(errno));
  if (!options.trace.empty()) {
    std::string file = options.trace + "/trace-rank-" +
                       std::to_string(axonn_rt_rank(rt)) + ".json";
    if (axonn_rt_trace_write(rt, file.c_str()) != AXONN_OK)
      die(rt, "%s", axonn_rt_last_error(rt));
    if (leader)
      std::printf("axonn: traces in %s/trace-rank-*.json (open in Perfetto "
                  "or chrome://tracing)\n",
                  options.trace.c_str());
  }
  axonn_rt_destroy(rt);
  return stoppedBy ? 128 + stoppedBy : 0;
}
