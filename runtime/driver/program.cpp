//===- program.cpp - the compiled program's tensors -----------------------===//

#include "program.h"

#include <fcntl.h>
#include <glob.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace axonn::driver {

namespace {
std::string &failureLeftover() {
  static std::string path;
  return path;
}
} // namespace

void removeOnFailure(const std::string &path) { failureLeftover() = path; }

void die(axonn_rt *rt, const char *format, ...) {
  char message[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof(message), format, args);
  va_end(args);
  std::fflush(stdout);
  if (rt)
    std::fprintf(stderr, "axonn: rank %" PRId64 ": %s\n", axonn_rt_rank(rt),
                 message);
  else
    std::fprintf(stderr, "axonn: %s\n", message);
  std::fflush(stderr);
  if (!failureLeftover().empty()) {
    std::error_code ec;
    std::filesystem::remove_all(failureLeftover(), ec);
  }
  axonn_rt_abort(rt, 1);
  std::abort(); // not reached
}

void *allocate(axonn_rt *rt, int64_t bytes, axonn_memory kind) {
  void *p = nullptr;
  if (axonn_rt_alloc(rt, bytes, kind, &p) != AXONN_OK)
    die(rt, "%s", axonn_rt_last_error(rt));
  return p;
}

void synchronize(axonn_rt *rt) {
  if (axonn_rt_synchronize(rt) != AXONN_OK)
    die(rt, "%s", axonn_rt_last_error(rt));
}

namespace {
int axisIndex(const std::string &name) {
  if (name == "x")
    return 0;
  if (name == "y")
    return 1;
  if (name == "z")
    return 2;
  return 3;
}
} // namespace

int64_t Tensor::count() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor readTensor(const json::Value &v) {
  Tensor t;
  for (const json::Value &d : v["shape"].array)
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
    for (const json::Value &dim : v["layout"]["split"].array) {
      std::vector<int> axes;
      for (const json::Value &a : dim.array)
        axes.push_back(axisIndex(a.asString()));
      t.split.push_back(axes);
    }
    for (const json::Value &a : v["layout"]["storage"].array)
      t.storage.push_back(axisIndex(a.asString()));
  }
  if (v.has("init")) {
    t.init = v["init"]["kind"].asString();
    t.initStd = v["init"]["std"].asDouble();
  }
  t.inPlaceOf = v["in_place_of"].asInt(-1);
  return t;
}

int64_t Placement::globalCount() const {
  int64_t n = 1;
  for (int64_t d : global)
    n *= d;
  return n;
}

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
  bool used[4] = {false, false, false, false};
  for (int a : t.storage)
    used[a] = true;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    int64_t block = t.shape[d], offset = 0;
    if (d == 0 && !t.storage.empty()) {
      offset = groupIndex(t.storage) * t.shape[0];
      block *= groupSize(t.storage);
    }
    std::vector<int> axes =
        d < t.split.size() ? t.split[d] : std::vector<int>();
    for (int a : axes)
      used[a] = true;
    offset += groupIndex(axes) * block;
    p.global.push_back(block * groupSize(axes));
    p.offset.push_back(offset);
  }
  for (int a = 0; a < 4; ++a)
    if (!used[a] && axonn_rt_coordinate(rt, axonn_axis(a)) != 0)
      p.primary = false;
  return p;
}

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

double normalAt(uint64_t seed, uint64_t nameHash, uint64_t index) {
  uint64_t a = splitmix(seed ^ splitmix(nameHash ^ splitmix(2 * index)));
  uint64_t b = splitmix(seed ^ splitmix(nameHash ^ splitmix(2 * index + 1)));
  double u1 = (double(a >> 11) + 0.5) / 9007199254740992.0;
  double u2 = double(b >> 11) / 9007199254740992.0;
  return std::sqrt(-2 * std::log(u1)) * std::cos(2 * M_PI * u2);
}

ModelInfo readModelInfo(const json::Value &manifest) {
  const json::Value &m = manifest["model"];
  ModelInfo info;
  info.type = m["model_type"].asString();
  info.layers = m["layers"].asInt();
  info.hidden = m["hidden"].asInt();
  info.heads = m["heads"].asInt();
  info.kvHeads = m["kv_heads"].asInt();
  info.headDim = m["head_dim"].asInt();
  info.ffn = m["ffn"].asInt();
  info.vocab = m["vocab"].asInt();
  info.params = m["params"].asInt();
  info.flopsPerToken = m["flops_per_token"].asDouble();
  return info;
}

std::FILE *openForWriting(const std::string &path, bool append,
                          bool regularOnly) {
  // (O_NONBLOCK: opening a FIFO without a reader fails at once, ENXIO)
  int fd = ::open(
      path.c_str(),
      O_WRONLY | O_CREAT | O_NONBLOCK | (append ? O_APPEND : O_TRUNC), 0644);
  if (fd < 0)
    return nullptr;
  struct stat st;
  if (fstat(fd, &st) != 0 || (regularOnly && !S_ISREG(st.st_mode))) {
    ::close(fd);
    errno = EINVAL;
    return nullptr;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  std::FILE *f = fdopen(fd, append ? "a" : "w");
  if (!f)
    ::close(fd);
  return f;
}

int openForReading(const std::string &path, size_t &bytes, bool &regular) {
  regular = true;
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0)
    return -1;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int error = errno;
    ::close(fd);
    errno = error;
    return -1;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    regular = false;
    return -1;
  }
  bytes = size_t(st.st_size);
  return fd;
}

TokenFile openTokens(axonn_rt *rt, const std::string &path) {
  TokenFile f;
  bool regular;
  int fd = openForReading(path, f.bytes, regular);
  if (fd < 0 && !regular)
    die(rt, "token file %s is not a regular file", path.c_str());
  if (fd < 0)
    die(rt, "cannot open token file %s: %s", path.c_str(),
        std::strerror(errno));
  f.path = path;
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
  if (f.count < 0)
    die(rt,
        "token file %s: its header's token count is %" PRId64
        " (a damaged file?)",
        path.c_str(), f.count);
  size_t need = 1024 + size_t(f.count) * size_t(f.width);
  if (f.bytes != need)
    die(rt,
        "token file %s is %s: its header promises %" PRId64
        " tokens (%zu bytes) but it has %zu bytes",
        path.c_str(),
        f.bytes < need ? "truncated" : "longer than its header says", f.count,
        need, f.bytes);
  return f;
}

std::string TokenShards::where(int64_t i) const {
  size_t f = fileOf(i);
  return "position " + std::to_string(i - starts[f]) + " of " + files[f].path;
}

std::string TokenShards::name() const {
  if (files.size() == 1)
    return files[0].path;
  return std::to_string(files.size()) + " shards (" + files.front().path +
         " ... " + files.back().path + ")";
}

TokenShards openShards(axonn_rt *rt, const std::vector<std::string> &paths) {
  TokenShards shards;
  for (const std::string &path : paths) {
    shards.starts.push_back(shards.count);
    shards.files.push_back(openTokens(rt, path));
    shards.count += shards.files.back().count;
  }
  return shards;
}

std::vector<std::string> matchingPaths(const std::string &pattern) {
  glob_t found = {};
  std::vector<std::string> paths;
  if (glob(pattern.c_str(), 0, nullptr, &found) == 0)
    paths.assign(found.gl_pathv, found.gl_pathv + found.gl_pathc);
  globfree(&found);
  std::sort(paths.begin(), paths.end());
  return paths;
}

void shardsIn(axonn_rt *rt, const std::string &dir,
              std::vector<std::string> &train, std::vector<std::string> &val) {
  // (listed, not globbed: DIR's own name may hold *, ? or [)
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    // (train.bin and val.bin are the single files, not shards)
    if (name.size() > 4 && name[0] != '.' && name != "train.bin" &&
        name != "val.bin" && name.compare(name.size() - 4, 4, ".bin") == 0)
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  for (const std::string &name : names) {
    std::string path = dir + "/" + name;
    // The name's parts between '_', '-' and '.': fineweb_train_000001.bin
    // has "train"; retrieval_x.bin has no "val".
    bool isTrain = false, isVal = false;
    size_t begin = 0;
    while (begin < name.size()) {
      size_t end = name.find_first_of("_-.", begin);
      if (end == std::string::npos)
        end = name.size();
      std::string part = name.substr(begin, end - begin);
      isTrain |= part == "train";
      isVal |= part == "val";
      begin = end + 1;
    }
    if (isTrain && isVal)
      die(rt,
          "--data %s: %s names both a training and a validation shard; "
          "rename it, or give --data and --val-data patterns",
          dir.c_str(), name.c_str());
    if (isTrain)
      train.push_back(path);
    if (isVal)
      val.push_back(path);
  }
}

std::vector<std::string> tokenPaths(axonn_rt *rt, const char *option,
                                    const std::string &path) {
  // (a path that exists is itself, whatever characters it has)
  struct stat st;
  if (path.find_first_of("*?[") == std::string::npos ||
      stat(path.c_str(), &st) == 0)
    return {path};
  std::vector<std::string> paths = matchingPaths(path);
  if (paths.empty())
    die(rt, "%s %s: no file matches the pattern", option, path.c_str());
  return paths;
}

void closeTokens(TokenFile &file) {
  if (file.base)
    munmap(const_cast<uint8_t *>(file.base), file.bytes);
  file.base = nullptr;
  file.bytes = 0;
  file.count = 0;
}

} // namespace axonn::driver
