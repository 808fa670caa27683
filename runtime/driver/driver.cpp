//===- driver.cpp - main() of an axonn training binary --------------------===//
//
// Linked with the object axonnc compiles from a model: reads the program's
// manifest, starts the runtime on the grid the program was compiled for,
// gives every parameter the same initial values on any grid (a counter-based
// generator over the parameter's name and global element index), feeds each
// step its rank's rows of the batch from a memory-mapped token file, calls
// the compiled step and logs the loss.
//
//   mpirun -np N ./train --data DIR [--steps S] [--seed K] [--metrics F]
//
//===----------------------------------------------------------------------===//

#include "axonn_rt.h"
#include "json.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
const char *axonn_manifest(void);
int32_t axonn_train_step(axonn_rt *rt, void **args, void **results,
                         void *workspace);
}

namespace {

using axonn::json::Value;

[[noreturn]] void die(axonn_rt *rt, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

void die(axonn_rt *rt, const char *format, ...) {
  char message[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  if (rt)
    std::fprintf(stderr, "axonn: rank %" PRId64 ": %s\n", axonn_rt_rank(rt),
                 message);
  else
    std::fprintf(stderr, "axonn: %s\n", message);
  std::fflush(stderr);
  axonn_rt_abort(rt, 1);
  std::abort(); // not reached
}

//===----------------------------------------------------------------------===//
// The program's tensors
//===----------------------------------------------------------------------===//

int axisIndex(const std::string &name) {
  if (name == "x")
    return 0;
  if (name == "y")
    return 1;
  if (name == "z")
    return 2;
  return 3;
}

struct Tensor {
  std::string role; // param, state, input, output
  std::string name, state, stateOf, input, dtype;
  std::vector<int64_t> shape; // local
  std::vector<std::vector<int>> split;
  std::vector<int> storage;
  std::string init = "zeros";
  double initStd = 0;
  int64_t inPlaceOf = -1;

  int64_t count() const {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    return n;
  }
  int64_t elementBytes() const { return dtype == "i64" ? 8 : 4; }
};

Tensor readTensor(const Value &v) {
  Tensor t;
  for (const Value &d : v["shape"].array)
    t.shape.push_back(d.asInt());
  t.dtype = v["dtype"].asString();
  if (v.has("param")) {
    t.role = "param";
    t.name = v["param"].asString();
  } else if (v.has("state")) {
    t.role = "state";
    t.state = v["state"].asString();
    t.stateOf = v["state_of"].asString();
    t.name = t.stateOf + "." + t.state;
  } else if (v.has("input")) {
    t.role = "input";
    t.input = v["input"].asString();
  } else if (v.has("output")) {
    t.role = "output";
    t.name = v["output"].asString();
  }
  if (v.has("layout")) {
    for (const Value &dim : v["layout"]["split"].array) {
      std::vector<int> axes;
      for (const Value &a : dim.array)
        axes.push_back(axisIndex(a.asString()));
      t.split.push_back(axes);
    }
    for (const Value &a : v["layout"]["storage"].array)
      t.storage.push_back(axisIndex(a.asString()));
  }
  if (v.has("init")) {
    t.init = v["init"]["kind"].asString();
    t.initStd = v["init"]["std"].asDouble();
  }
  t.inPlaceOf = v["in_place_of"].asInt(-1);
  return t;
}

/// Where this rank's piece sits in the global tensor: the global shape and,
/// per dimension, the offset of the piece.
struct Placement {
  std::vector<int64_t> global, offset;
};

Placement place(const Tensor &t, axonn_rt *rt, const int64_t grid[4]) {
  auto groupIndex = [&](const std::vector<int> &axes) {
    int64_t index = 0;
    for (int a : axes)
      index = index * grid[a] + axonn_rt_coordinate(rt, axonn_axis(a));
    return index;
  };
  auto groupSize = [&](const std::vector<int> &axes) {
    int64_t size = 1;
    for (int a : axes)
      size *= grid[a];
    return size;
  };
  Placement p;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    int64_t block = t.shape[d], offset = 0;
    if (d == 0 && !t.storage.empty()) {
      offset = groupIndex(t.storage) * t.shape[0];
      block *= groupSize(t.storage);
    }
    std::vector<int> axes =
        d < t.split.size() ? t.split[d] : std::vector<int>();
    offset += groupIndex(axes) * block;
    p.global.push_back(block * groupSize(axes));
    p.offset.push_back(offset);
  }
  return p;
}

//===----------------------------------------------------------------------===//
// Initialization: the same on every grid
//===----------------------------------------------------------------------===//

uint64_t splitmix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hashName(const std::string &name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : name)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

/// A standard normal value for element `index` of the tensor `name`.
double normalAt(uint64_t seed, uint64_t nameHash, uint64_t index) {
  uint64_t a = splitmix(seed ^ splitmix(nameHash ^ splitmix(2 * index)));
  uint64_t b = splitmix(seed ^ splitmix(nameHash ^ splitmix(2 * index + 1)));
  double u1 = (double(a >> 11) + 0.5) / 9007199254740992.0;
  double u2 = double(b >> 11) / 9007199254740992.0;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

/// Fills a parameter's local piece from its global element indices. Rows
/// beyond `realRows` of a padded table (the global rows that do not exist
/// on one rank) get zeros; the others get the same values on every grid.
void initialize(const Tensor &t, const Placement &p, uint64_t seed,
                float *data) {
  int64_t rank = int64_t(t.shape.size());
  uint64_t nameHash = hashName(t.name);
  std::vector<int64_t> index(size_t(rank), 0);
  for (int64_t i = 0; i < t.count(); ++i) {
    // Global row-major index of local element i (with the global width of
    // every dimension but the first, so padding rows do not shift others).
    int64_t rest = i, global = 0;
    for (int64_t d = rank - 1; d >= 0; --d) {
      index[size_t(d)] = rest % t.shape[size_t(d)] + p.offset[size_t(d)];
      rest /= t.shape[size_t(d)];
    }
    for (int64_t d = 0; d < rank; ++d)
      global = global * p.global[size_t(d)] + index[size_t(d)];
    if (t.init == "ones")
      data[i] = 1.0f;
    else if (t.init == "normal")
      data[i] = float(t.initStd * normalAt(seed, nameHash, uint64_t(global)));
    else
      data[i] = 0.0f;
  }
}

//===----------------------------------------------------------------------===//
// Data: token files in llm.c's format
//===----------------------------------------------------------------------===//

/// A memory-mapped token file: a 256 x int32 header (magic 20240520,
/// version 1 for uint16 tokens or 2 for uint32, the token count), then the
/// tokens.
struct TokenFile {
  const uint8_t *base = nullptr;
  size_t bytes = 0;
  int64_t count = 0;
  int width = 2;

  int64_t at(int64_t i) const {
    const uint8_t *p = base + 1024 + size_t(i) * size_t(width);
    return width == 2 ? int64_t(*reinterpret_cast<const uint16_t *>(p))
                      : int64_t(*reinterpret_cast<const uint32_t *>(p));
  }
};

TokenFile openTokens(axonn_rt *rt, const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    die(rt, "cannot open token file %s: %s", path.c_str(),
        std::strerror(errno));
  struct stat st;
  fstat(fd, &st);
  TokenFile f;
  f.bytes = size_t(st.st_size);
  if (f.bytes < 1024)
    die(rt, "token file %s is %zu bytes, shorter than its 1024-byte header",
        path.c_str(), f.bytes);
  void *map = mmap(nullptr, f.bytes, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    die(rt, "cannot map %s: %s", path.c_str(), std::strerror(errno));
  f.base = static_cast<const uint8_t *>(map);
  const int32_t *header = reinterpret_cast<const int32_t *>(f.base);
  if (header[0] != 20240520)
    die(rt, "%s is not a token file (magic %d, expected 20240520)",
        path.c_str(), header[0]);
  if (header[1] != 1 && header[1] != 2)
    die(rt, "%s: token file version %d (1: uint16, 2: uint32)", path.c_str(),
        header[1]);
  f.width = header[1] == 1 ? 2 : 4;
  f.count = header[2];
  size_t need = 1024 + size_t(f.count) * size_t(f.width);
  if (f.bytes < need)
    die(rt,
        "token file %s is truncated: its header promises %" PRId64
        " tokens (%zu bytes) but it has %zu bytes",
        path.c_str(), f.count, need, f.bytes);
  return f;
}

//===----------------------------------------------------------------------===//
// Options
//===----------------------------------------------------------------------===//

struct Options {
  std::string data, metrics;
  int64_t steps = -1, seed = -1, logEvery = 1;
  bool printLosses = false;
};

void usage() {
  std::printf(
      "usage: train --data DIR|FILE [options]\n"
      "  --data PATH        token files (DIR/train.bin, or one .bin file)\n"
      "  --steps N          optimizer steps (default: the spec's)\n"
      "  --seed N           initialization seed (default: the spec's)\n"
      "  --log-every N      print a step line every N steps (default 1)\n"
      "  --metrics FILE     append one JSON line per step\n"
      "  --print-losses     print every step's loss with 9 digits (tests)\n"
      "Run under mpirun -np <ranks of the compiled grid>; alone it is one "
      "rank.\n");
}

Options parseOptions(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(nullptr, "option %s needs a value", a.c_str());
      return argv[++i];
    };
    auto number = [&]() -> int64_t {
      std::string v = value();
      char *end = nullptr;
      long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 0)
        die(nullptr, "option %s needs a non-negative integer, got '%s'",
            a.c_str(), v.c_str());
      return n;
    };
    if (a == "--data")
      o.data = value();
    else if (a == "--steps")
      o.steps = number();
    else if (a == "--seed")
      o.seed = number();
    else if (a == "--log-every")
      o.logEvery = std::max<int64_t>(1, number());
    else if (a == "--metrics")
      o.metrics = value();
    else if (a == "--print-losses")
      o.printLosses = true;
    else if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else
      die(nullptr, "unknown option '%s' (see --help)", a.c_str());
  }
  if (o.data.empty())
    die(nullptr, "--data is required (see --help)");
  return o;
}

void *allocate(axonn_rt *rt, int64_t bytes) {
  void *p = nullptr;
  if (posix_memalign(&p, 256, size_t(std::max<int64_t>(bytes, 256))) != 0)
    die(rt, "cannot allocate %" PRId64 " bytes", bytes);
  std::memset(p, 0, size_t(std::max<int64_t>(bytes, 256)));
  return p;
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
  bool leader = axonn_rt_rank(rt) == 0;

  const Value &step = manifest["functions"]["train_step"];
  if (step.kind != Value::Kind::Object)
    die(rt, "the program has no training step");
  const Value &training = manifest["training"];
  int64_t steps =
      options.steps >= 0 ? options.steps : training["steps"].asInt();
  uint64_t seed =
      uint64_t(options.seed >= 0 ? options.seed : training["seed"].asInt());
  int64_t globalBatch = training["global_batch"].asInt();
  int64_t seqLen = training["seq_len"].asInt();
  int64_t vocab = manifest["vocab_size"].asInt();

  // Arguments: parameters initialized, state zero, inputs per step.
  std::vector<Tensor> args;
  std::vector<void *> argPointers;
  int tokensArg = -1, targetsArg = -1, stepArg = -1;
  for (const Value &v : step["args"].array) {
    Tensor t = readTensor(v);
    void *p = allocate(rt, t.count() * t.elementBytes());
    if (t.role == "param")
      initialize(t, place(t, rt, grid), seed, static_cast<float *>(p));
    if (t.role == "input" && t.input == "tokens")
      tokensArg = int(args.size());
    if (t.role == "input" && t.input == "targets")
      targetsArg = int(args.size());
    if (t.role == "input" && t.input == "step")
      stepArg = int(args.size());
    args.push_back(t);
    argPointers.push_back(p);
  }
  // Master copies start as their parameter.
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].role == "state" && args[i].state == "master")
      for (size_t j = 0; j < args.size(); ++j)
        if (args[j].role == "param" && args[j].name == args[i].stateOf)
          std::memcpy(argPointers[i], argPointers[j],
                      size_t(args[i].count() * 4));
  if (tokensArg < 0 || targetsArg < 0 || stepArg < 0)
    die(rt, "the training step lacks its tokens, targets or step input");
  std::vector<void *> resultPointers;
  float *loss = nullptr;
  for (const Value &v : step["results"].array) {
    Tensor t = readTensor(v);
    if (t.inPlaceOf >= 0) {
      resultPointers.push_back(argPointers[size_t(t.inPlaceOf)]);
      continue;
    }
    void *p = allocate(rt, t.count() * t.elementBytes());
    if (t.role == "output" && t.name == "loss")
      loss = static_cast<float *>(p);
    resultPointers.push_back(p);
  }
  if (!loss)
    die(rt, "the training step returns no loss");
  void *workspace = allocate(rt, step["workspace"].asInt());

  // Data: this rank's rows of each global batch.
  std::string path = options.data;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    path += "/train.bin";
  TokenFile data = openTokens(rt, path);
  if (data.count < seqLen + 2)
    die(rt, "%s has %" PRId64 " tokens, fewer than one sequence of %" PRId64,
        path.c_str(), data.count, seqLen + 1);
  const Tensor &tokensT = args[size_t(tokensArg)];
  Placement rows = place(tokensT, rt, grid);
  int64_t localBatch = tokensT.shape[0];
  int32_t *tokens = static_cast<int32_t *>(argPointers[size_t(tokensArg)]);
  int32_t *targets = static_cast<int32_t *>(argPointers[size_t(targetsArg)]);
  int64_t *stepInput = static_cast<int64_t *>(argPointers[size_t(stepArg)]);
  int64_t windows = data.count - seqLen - 1;

  FILE *metrics = nullptr;
  if (leader && !options.metrics.empty()) {
    metrics = std::fopen(options.metrics.c_str(), "a");
    if (!metrics)
      die(rt, "cannot open %s: %s", options.metrics.c_str(),
          std::strerror(errno));
  }
  if (leader)
    std::printf("axonn: %" PRId64 " ranks, grid %" PRId64 "x%" PRId64
                "x%" PRId64 "x%" PRId64 ", batch %" PRId64 " x %" PRId64
                " tokens, %" PRId64 " steps, BLAS core %s\n",
                axonn_rt_world_size(rt), grid[0], grid[1], grid[2], grid[3],
                globalBatch, seqLen, steps, axonn_rt_blas_core());

  double tokensSeen = 0;
  auto started = std::chrono::steady_clock::now();
  for (int64_t s = 0; s < steps; ++s) {
    // Global sequence j of step s starts at a fixed stride through the file.
    for (int64_t r = 0; r < localBatch; ++r) {
      int64_t j = s * globalBatch + rows.offset[0] + r;
      int64_t start = (j * seqLen) % windows;
      for (int64_t t = 0; t < seqLen; ++t) {
        int64_t a = data.at(start + t), b = data.at(start + t + 1);
        if (a >= vocab || b >= vocab)
          die(rt,
              "token id %" PRId64 " at position %" PRId64
              " of %s is not below the model's vocabulary of %" PRId64,
              std::max(a, b), start + t, path.c_str(), vocab);
        tokens[r * seqLen + t] = int32_t(a);
        targets[r * seqLen + t] = int32_t(b);
      }
    }
    *stepInput = s;
    auto before = std::chrono::steady_clock::now();
    int32_t status = axonn_train_step(rt, argPointers.data(),
                                      resultPointers.data(), workspace);
    if (status != AXONN_OK)
      die(rt, "step %" PRId64 " failed: %s", s, axonn_rt_last_error(rt));
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - before)
            .count();
    if (!std::isfinite(*loss))
      die(rt, "the loss of step %" PRId64 " is %g; stopping", s, *loss);
    tokensSeen += double(globalBatch * seqLen);
    if (leader) {
      double tps = double(globalBatch * seqLen) / seconds;
      if (options.printLosses)
        std::printf("step %" PRId64 " loss %.9g\n", s, *loss);
      else if (s % options.logEvery == 0 || s + 1 == steps)
        std::printf("step %5" PRId64 "/%" PRId64 "  loss %.4f  %.3f s  %.0f "
                    "tokens/s\n",
                    s + 1, steps, *loss, seconds, tps);
      if (metrics)
        std::fprintf(metrics,
                     "{\"step\": %" PRId64 ", \"loss\": %.9g, \"seconds\": "
                     "%.6f, \"tokens_per_second\": %.1f}\n",
                     s, *loss, seconds, tps);
      std::fflush(stdout);
    }
  }
  double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  if (leader && steps > 0 && !options.printLosses)
    std::printf("axonn: %" PRId64 " steps in %.2f s, %.0f tokens/s\n", steps,
                total, tokensSeen / total);
  if (metrics)
    std::fclose(metrics);
  axonn_rt_destroy(rt);
  return 0;
}
