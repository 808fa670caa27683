//===- program.h - the compiled program's tensors, as the driver sees them -===//
//
// The manifest the compiler embeds describes every argument and result of
// the program's functions: its role (parameter, optimizer state, input,
// output), its local shape and its layout on the grid. From the layout and
// the rank's coordinates the driver knows where the local piece sits in the
// global tensor; initialization, data feeding and checkpoints all work in
// global coordinates, which is what makes them grid-independent.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DRIVER_PROGRAM_H
#define AXONN_DRIVER_PROGRAM_H

#include "axonn_rt.h"
#include "json.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

/// The compiled program's entry points (--axonn-lower-to-runtime emits
/// each function as `axonn_<name>`; axonnc links them with this driver).
extern "C" {
const char *axonn_manifest(void);
int32_t axonn_train_step(axonn_rt *rt, void **args, void **results,
                         void *workspace);
int32_t axonn_forward(axonn_rt *rt, void **args, void **results,
                      void *workspace);
int32_t axonn_logits(axonn_rt *rt, void **args, void **results,
                     void *workspace);
int32_t axonn_prefill(axonn_rt *rt, void **args, void **results,
                      void *workspace);
int32_t axonn_decode(axonn_rt *rt, void **args, void **results,
                     void *workspace);
int32_t axonn_gradients(axonn_rt *rt, void **args, void **results,
                        void *workspace);
}

namespace axonn::driver {

/// The signature of a compiled function.
using CompiledFunction = int32_t (*)(axonn_rt *rt, void **args,
                                     void **results, void *workspace);

/// Reports `format` on stderr as "axonn: rank R: ..." and ends every rank
/// with a non-zero exit (rt may be null before the runtime starts).
[[noreturn]] void die(axonn_rt *rt, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/// A file or directory that die() removes before it ends the run (a
/// checkpoint being written: no partial one stays); "" for none.
void removeOnFailure(const std::string &path);

/// `bytes` of zeroed memory aligned to 256 bytes (at least 256); failure
/// ends the run.
void *allocate(axonn_rt *rt, int64_t bytes,
               axonn_memory kind = AXONN_MEMORY_SHARED);
/// Waits for the rank's queued work (axonn_rt_synchronize), or dies.
void synchronize(axonn_rt *rt);

/// One argument or result of a compiled function.
struct Tensor {
  std::string role; // param, state, input, output
  std::string name; // parameter name; "<param>.<state>" for a state
  std::string state, stateOf, input, dtype;
  std::vector<int64_t> shape; // local
  std::vector<std::vector<int>> split;
  std::vector<int> storage;
  std::string init = "zeros";
  double initStd = 0;
  int64_t inPlaceOf = -1;

  int64_t count() const;
  int64_t elementBytes() const {
    return dtype == "i64" || dtype == "f64" ? 8 : dtype == "bf16" ? 2 : 4;
  }
};

Tensor readTensor(const json::Value &v);

/// Where this rank's piece of a tensor sits in the global tensor.
struct Placement {
  std::vector<int64_t> global, offset;
  /// Whether this rank holds the first copy of its piece (coordinate 0 on
  /// every axis the tensor is replicated over).
  bool primary = true;

  int64_t globalCount() const;
  /// Calls fn(local, global) for every local element, with its row-major
  /// index in the global tensor.
  template <typename Fn>
  void forEach(const std::vector<int64_t> &local, Fn fn) const {
    size_t rank = local.size();
    int64_t count = 1;
    for (int64_t d : local)
      count *= d;
    std::vector<int64_t> index(rank, 0);
    for (int64_t i = 0; i < count; ++i) {
      int64_t rest = i, g = 0;
      for (size_t d = rank; d-- > 0;) {
        index[d] = rest % local[d] + offset[d];
        rest /= local[d];
      }
      for (size_t d = 0; d < rank; ++d)
        g = g * global[d] + index[d];
      fn(i, g);
    }
  }
};

Placement place(const Tensor &t, axonn_rt *rt, const int64_t grid[4]);

/// splitmix64: the counter-based generator behind initialization and
/// sampling.
uint64_t splitmix(uint64_t x);
/// FNV-1a of a tensor name.
uint64_t hashName(const std::string &name);
/// A standard normal value for element `index` of the tensor `name`.
double normalAt(uint64_t seed, uint64_t nameHash, uint64_t index);

/// Fills a parameter's local piece from its global element indices (with
/// the global width of every dimension, so the padding rows of a padded
/// vocabulary do not shift the others): the same values on every grid.
template <typename T>
void initialize(const Tensor &t, const Placement &p, uint64_t seed, T *data) {
  uint64_t nameHash = hashName(t.name);
  p.forEach(t.shape, [&](int64_t local, int64_t global) {
    if (t.init == "ones")
      data[local] = T(1);
    else if (t.init == "normal")
      data[local] = T(t.initStd * normalAt(seed, nameHash, uint64_t(global)));
    else
      data[local] = T(0);
  });
}

/// The model's shape as axonnc recorded it (manifest "model").
struct ModelInfo {
  std::string type; // gpt2 or llama
  int64_t layers = 0, hidden = 0, heads = 0, kvHeads = 0, headDim = 0,
          ffn = 0, vocab = 0, params = 0;
  double flopsPerToken = 0; // llm.c: 6N + 6*L*d*T
};

ModelInfo readModelInfo(const json::Value &manifest);

/// A memory-mapped token file in llm.c's format: a 256 x int32 header
/// (magic 20240520, version 1 for uint16 tokens or 2 for uint32, the token
/// count), then the tokens.
struct TokenFile {
  std::string path;
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

/// Opens `path` for writing (`append`: at its end, else emptied) as fopen
/// would, without blocking: a FIFO without a reader gives null with errno
/// ENXIO; with `regularOnly` anything but a regular file (a FIFO, a
/// device) gives null with errno EINVAL.
std::FILE *openForWriting(const std::string &path, bool append = false,
                          bool regularOnly = true);

/// Opens `path` for reading without blocking (a FIFO would block the
/// open), only as a regular file: its descriptor and size, or -1 with
/// errno set (open or fstat failed) or with `regular` false (a directory, a
/// FIFO, a device).
int openForReading(const std::string &path, size_t &bytes, bool &regular);

/// Opens and checks a token file; any problem ends the run with a message.
TokenFile openTokens(axonn_rt *rt, const std::string &path);

/// Training or validation tokens: one token file, or shards read as their
/// concatenation in the order given (llm.c's fineweb_train_000001.bin, ...).
struct TokenShards {
  std::vector<TokenFile> files;
  std::vector<int64_t> starts; // each file's first token in the whole
  int64_t count = 0;

  /// The file holding token i (the last of those starting at or before it:
  /// an empty shard starts where the next one does).
  size_t fileOf(int64_t i) const {
    return size_t(std::upper_bound(starts.begin(), starts.end(), i) -
                  starts.begin()) -
           1;
  }
  int64_t at(int64_t i) const {
    size_t f = fileOf(i);
    return files[f].at(i - starts[f]);
  }
  /// Where token i is: "position K of FILE" (for messages).
  std::string where(int64_t i) const;
  /// The file, or "N shards (FIRST ... LAST)".
  std::string name() const;
};

/// Opens `paths` (at least one) as one stream of tokens.
TokenShards openShards(axonn_rt *rt, const std::vector<std::string> &paths);

/// The files `pattern` (a glob(3) pattern) matches, in byte order of their
/// names; none: empty.
std::vector<std::string> matchingPaths(const std::string &pattern);

/// The shards in directory `dir` (--data DIR without train.bin): the .bin
/// files (not hidden) whose name has a part "train" (between '_', '-' or '.',
/// as in fineweb_train_000001.bin) into `train`, "val" into `val`, each in byte
/// order of their names; a name with both ends the run.
void shardsIn(axonn_rt *rt, const std::string &dir,
              std::vector<std::string> &train, std::vector<std::string> &val);

/// The token files a --data or --val-data PATH names: the file (a path
/// that exists, whatever its characters), or the files a pattern with *, ?
/// or [ matches, in byte order of their names
/// (none: the run ends with a message naming `option`).
std::vector<std::string> tokenPaths(axonn_rt *rt, const char *option,
                                    const std::string &path);
/// Unmaps a token file opened by openTokens (the training data stays
/// mapped for the whole run; audit documents are read and let go).
void closeTokens(TokenFile &file);

} // namespace axonn::driver

#endif // AXONN_DRIVER_PROGRAM_H
