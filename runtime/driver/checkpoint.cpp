//===- checkpoint.cpp - safetensors checkpoints, grid-independent ---------===//

#include "checkpoint.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

namespace fs = std::filesystem;

namespace axonn::driver {

//===----------------------------------------------------------------------===//
// Hugging Face names and layouts
//===----------------------------------------------------------------------===//

namespace {

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string replace(std::string s, const std::string &from,
                    const std::string &to) {
  size_t at = s.find(from);
  if (at != std::string::npos)
    s.replace(at, from.size(), to);
  return s;
}

std::vector<int64_t> range(int64_t begin, int64_t end) {
  std::vector<int64_t> rows;
  for (int64_t i = begin; i < end; ++i)
    rows.push_back(i);
  return rows;
}

/// Rows of a fused QKV tensor (grouped by KV head: the group's query heads,
/// then its key head, then its value head) that hold the queries, keys or
/// values (part 0, 1, 2), in Hugging Face order.
std::vector<int64_t> qkvRows(const ModelInfo &m, int part) {
  int64_t groups = m.kvHeads, perGroup = m.heads / m.kvHeads, hd = m.headDim;
  int64_t block = (perGroup + 2) * hd;
  std::vector<int64_t> rows;
  if (part == 0) {
    for (int64_t head = 0; head < m.heads; ++head)
      for (int64_t i = 0; i < hd; ++i)
        rows.push_back(head / perGroup * block + head % perGroup * hd + i);
    return rows;
  }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t i = 0; i < hd; ++i)
      rows.push_back(g * block + (perGroup + part - 1) * hd + i);
  return rows;
}

} // namespace

std::vector<FilePart> hfParts(const ModelInfo &model, const std::string &name,
                              const std::vector<int64_t> &globalShape,
                              int64_t vocabSize) {
  int64_t inner = 1;
  for (size_t d = 1; d < globalShape.size(); ++d)
    inner *= globalShape[d];
  auto part = [&](std::string partName, std::vector<int64_t> rows,
                  bool transpose) {
    FilePart p;
    p.name = std::move(partName);
    p.rowElements = inner;
    p.transpose = transpose && globalShape.size() == 2;
    if (p.transpose)
      p.shape = {inner, int64_t(rows.size())};
    else {
      p.shape = {int64_t(rows.size())};
      for (size_t d = 1; d < globalShape.size(); ++d)
        p.shape.push_back(globalShape[d]);
    }
    p.rows = std::move(rows);
    return p;
  };
  bool gpt2 = model.type == "gpt2";
  if (endsWith(name, "wte.weight") || endsWith(name, "embed_tokens.weight") ||
      name == "lm_head.weight")
    return {part(name, range(0, vocabSize), false)};
  if (gpt2 && (endsWith(name, "attn.c_attn.weight") ||
               endsWith(name, "attn.c_attn.bias"))) {
    std::vector<int64_t> rows;
    for (int p = 0; p < 3; ++p) {
      std::vector<int64_t> r = qkvRows(model, p);
      rows.insert(rows.end(), r.begin(), r.end());
    }
    return {part(name, rows, /*transpose=*/true)};
  }
  if (!gpt2 && name.find("self_attn.qkv_proj.") != std::string::npos)
    return {part(replace(name, "qkv_proj", "q_proj"), qkvRows(model, 0),
                 false),
            part(replace(name, "qkv_proj", "k_proj"), qkvRows(model, 1),
                 false),
            part(replace(name, "qkv_proj", "v_proj"), qkvRows(model, 2),
                 false)};
  if (!gpt2 && name.find("mlp.gate_up_proj.") != std::string::npos) {
    std::vector<int64_t> gate, up;
    for (int64_t j = 0; j < globalShape[0] / 2; ++j) {
      gate.push_back(2 * j);
      up.push_back(2 * j + 1);
    }
    return {part(replace(name, "gate_up_proj", "gate_proj"), gate, false),
            part(replace(name, "gate_up_proj", "up_proj"), up, false)};
  }
  bool conv1d = gpt2 && (endsWith(name, "attn.c_proj.weight") ||
                         endsWith(name, "mlp.c_fc.weight") ||
                         endsWith(name, "mlp.c_proj.weight"));
  return {part(name, range(0, globalShape[0]), conv1d)};
}

//===----------------------------------------------------------------------===//
// Whole tensors from pieces and back
//===----------------------------------------------------------------------===//

namespace {

/// The whole tensor on every rank: each piece written once (by its primary
/// copy), then summed over the grid, which is exact.
std::vector<float> gather(axonn_rt *rt, const StateTensor &t) {
  std::vector<float> whole(size_t(t.placement.globalCount()), 0.0f);
  if (t.placement.primary)
    t.placement.forEach(t.meta->shape, [&](int64_t local, int64_t global) {
      whole[size_t(global)] = t.at(local);
    });
  int32_t all[4] = {0, 1, 2, 3};
  axonn_request request = nullptr;
  if (axonn_rt_all_reduce_start(rt, whole.data(), whole.data(),
                                int64_t(whole.size()), axonn_axes_make(4, all),
                                AXONN_REDUCE_SUM, &request) != AXONN_OK ||
      axonn_rt_wait(rt, request) != AXONN_OK)
    die(rt, "gathering %s for the checkpoint failed: %s", t.name.c_str(),
        axonn_rt_last_error(rt));
  return whole;
}

void scatter(const StateTensor &t, const std::vector<float> &whole) {
  t.placement.forEach(t.meta->shape, [&](int64_t local, int64_t global) {
    t.put(local, whole[size_t(global)]);
  });
}

std::string fileName(const StateTensor &t, const std::string &partName) {
  if (t.state.empty())
    return partName;
  static const std::map<std::string, std::string> prefix = {
      {"m", "exp_avg/"}, {"v", "exp_avg_sq/"}, {"master", "master/"}};
  auto it = prefix.find(t.state);
  return (it != prefix.end() ? it->second : t.state + "/") + partName;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

void fsyncPath(axonn_rt *rt, const std::string &path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0 || ::fsync(fd) != 0)
    die(rt, "cannot sync %s: %s", path.c_str(), std::strerror(errno));
  ::close(fd);
}

/// CRC-32 as zlib's crc32 (and Python's zlib.crc32) computes it: the
/// reflected IEEE 802.3 polynomial, eight bytes a step (slice-by-8).
class Crc32 {
public:
  void add(const void *data, size_t bytes) {
    static const Tables t = tables();
    const uint8_t *p = static_cast<const uint8_t *>(data);
    uint32_t c = state;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    for (; bytes >= 8; p += 8, bytes -= 8) {
      uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + 4, 4);
      lo ^= c;
      c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^
          t[4][lo >> 24] ^ t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
          t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    }
#endif
    for (; bytes; ++p, --bytes)
      c = t[0][(c ^ *p) & 0xff] ^ (c >> 8);
    state = c;
  }
  uint32_t value() const { return ~state; }

private:
  using Tables = std::array<std::array<uint32_t, 256>, 8>;
  static Tables tables() {
    Tables t;
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[0][i] = c;
    }
    for (int k = 1; k < 8; ++k)
      for (int i = 0; i < 256; ++i)
        t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
    return t;
  }
  uint32_t state = 0xffffffffu;
};

/// A file's size and CRC-32, as trainer.json records them.
struct FileSum {
  uint64_t bytes = 0;
  uint32_t crc = 0;
};

/// Opens `path`, a regular file, to read it (openForReading: a FIFO or a
/// device could block or never end), with its size; else null and `error`
/// says why.
FILE *openRegular(const std::string &path, uint64_t &size, std::string &error) {
  size_t bytes = 0;
  bool regular;
  int fd = openForReading(path, bytes, regular);
  if (fd < 0) {
    error = regular ? std::strerror(errno) : "not a regular file";
    return nullptr;
  }
  size = bytes;
  FILE *f = fdopen(fd, "rb");
  if (!f) {
    error = std::strerror(errno);
    ::close(fd);
  }
  return f;
}

/// Reads file `path` (a JSON description: a regular file of at most 256
/// MiB) whole into `text`; else `error` says why not.
bool readWhole(const std::string &path, std::string &text, std::string &error) {
  uint64_t size;
  FILE *f = openRegular(path, size, error);
  if (!f)
    return false;
  if (size > (uint64_t(256) << 20)) {
    std::fclose(f);
    error = "larger than 256 MiB";
    return false;
  }
  text.clear();
  char chunk[4096];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0)
    text.append(chunk, n);
  bool failed = std::ferror(f);
  if (failed)
    error = std::strerror(errno ? errno : EIO);
  std::fclose(f);
  return !failed;
}

/// A file written whole, then fsynced; errors end the run.
struct OutFile {
  axonn_rt *rt;
  std::string path;
  FILE *file;
  Crc32 crc;
  uint64_t written = 0;

  OutFile(axonn_rt *rt, std::string p) : rt(rt), path(std::move(p)) {
    file = openForWriting(path);
    if (!file)
      die(rt, "cannot create %s: %s", path.c_str(), std::strerror(errno));
  }
  void write(const void *data, size_t bytes) {
    if (bytes && std::fwrite(data, 1, bytes, file) != bytes)
      die(rt, "cannot write %s: %s", path.c_str(), std::strerror(errno));
    crc.add(data, bytes);
    written += bytes;
  }
  FileSum sum() const { return {written, crc.value()}; }
  void close() {
    if (std::fflush(file) != 0 || ::fsync(fileno(file)) != 0 ||
        std::fclose(file) != 0)
      die(rt, "cannot write %s: %s", path.c_str(), std::strerror(errno));
  }
};

/// The tensors of one safetensors file, in file order.
struct FileTensor {
  const StateTensor *source;
  FilePart part;
  std::string name;
};

/// Writes one safetensors file (rank 0) from whole tensors gathered on every
/// rank, one tensor at a time; returns its size and CRC-32 (rank 0's).
FileSum writeSafetensors(axonn_rt *rt, const std::string &path,
                         const std::vector<FileTensor> &entries,
                         const std::string &metadata) {
  bool leader = axonn_rt_rank(rt) == 0;
  std::string header = "{\"__metadata__\":{" + metadata + "}";
  int64_t offset = 0;
  for (const FileTensor &e : entries) {
    int64_t bytes = 4;
    for (int64_t d : e.part.shape)
      bytes *= d;
    header += "," + json::quote(e.name) + ":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t i = 0; i < e.part.shape.size(); ++i)
      header += (i ? "," : "") + std::to_string(e.part.shape[i]);
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  while (header.size() % 8)
    header += ' ';
  std::optional<OutFile> out;
  if (leader)
    out.emplace(rt, path);
  if (out) {
    uint64_t length = header.size();
    out->write(&length, 8);
    out->write(header.data(), header.size());
  }
  const StateTensor *current = nullptr;
  std::vector<float> whole, buffer;
  for (const FileTensor &e : entries) {
    if (e.source != current) {
      current = e.source;
      whole = gather(rt, *current);
    }
    if (!out)
      continue;
    const FilePart &p = e.part;
    int64_t rows = int64_t(p.rows.size());
    buffer.assign(size_t(rows * p.rowElements), 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < p.rowElements; ++c) {
        float value = whole[size_t(p.rows[size_t(r)] * p.rowElements + c)];
        buffer[size_t(p.transpose ? c * rows + r : r * p.rowElements + c)] =
            value;
      }
    out->write(buffer.data(), buffer.size() * 4);
  }
  if (!out)
    return {};
  out->close();
  return out->sum();
}

/// A tensor's entry in a safetensors header, checked.
struct Entry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0; // in the data section
};

/// A safetensors file, memory-mapped, with its header parsed and checked.
struct InFile {
  std::string path;
  const uint8_t *data = nullptr; // the data section
  size_t bytes = 0;
  json::Value header;
  std::map<std::string, Entry> entries;
};

/// The bytes of an element of safetensors dtype `dtype`; 0: not one.
size_t dtypeBytes(const std::string &dtype) {
  static const std::map<std::string, size_t> bytes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = bytes.find(dtype);
  return it == bytes.end() ? 0 : it->second;
}

/// Checks every tensor entry of `f`'s header as the safetensors format
/// defines it: a dtype, a shape of whole numbers, and two data offsets
/// that hold exactly the shape's bytes (for the dtypes dtypeBytes knows;
/// a tensor of another is refused only if the model needs it), the
/// tensors together covering the data section without overlap or gap. A
/// file that breaks any of it is refused, naming the tensor.
void checkEntries(axonn_rt *rt, InFile &f) {
  std::vector<std::pair<uint64_t, uint64_t>> spans;
  std::map<uint64_t, std::string> startsAt;
  for (const auto &[name, value] : f.header.object) {
    if (name == "__metadata__")
      continue;
    auto bad = [&](const char *what) {
      die(rt, "%s: tensor '%s' %s (a damaged or truncated file?)",
          f.path.c_str(), name.c_str(), what);
    };
    if (value.kind != json::Value::Kind::Object)
      bad("is not described by a JSON object");
    Entry entry;
    entry.dtype = value["dtype"].asString();
    size_t width = dtypeBytes(entry.dtype);
    if (value["dtype"].kind != json::Value::Kind::String || entry.dtype.empty())
      bad("has no dtype");
    const json::Value &shape = value["shape"];
    if (shape.kind != json::Value::Kind::Array)
      bad("has no shape");
    uint64_t bytes = width;
    for (const json::Value &d : shape.array) {
      int64_t extent;
      if (!d.integer(extent, 0))
        bad("has a shape that is not a list of sizes (whole numbers from 0 "
            "to 2^53)");
      entry.shape.push_back(extent);
      bytes = extent && bytes > f.bytes / uint64_t(extent)
                  ? f.bytes + 1
                  : bytes * uint64_t(extent);
    }
    const json::Value &offsets = value["data_offsets"];
    int64_t begin, end;
    if (offsets.kind != json::Value::Kind::Array || offsets.size() != 2 ||
        !offsets[0].integer(begin, 0) || !offsets[1].integer(end, 0) ||
        begin > end)
      bad("has no data offsets [begin, end]");
    if (uint64_t(end) > f.bytes)
      bad("ends past the file's end");
    if (width && uint64_t(end - begin) != bytes)
      bad("has data offsets that do not span its shape's bytes");
    entry.begin = uint64_t(begin);
    if (begin != end) {
      spans.push_back({uint64_t(begin), uint64_t(end)});
      startsAt[uint64_t(begin)] = name;
    }
    f.entries[name] = std::move(entry);
  }
  std::sort(spans.begin(), spans.end());
  uint64_t covered = 0;
  for (const auto &[begin, end] : spans) {
    if (begin != covered)
      die(rt,
          "%s: tensor '%s' starts at byte %" PRIu64 " of the data, where "
          "%" PRIu64 " was expected (tensors overlap or leave a gap: a "
          "damaged file?)",
          f.path.c_str(), startsAt[begin].c_str(), begin, covered);
    covered = end;
  }
  if (covered != f.bytes)
    die(rt,
        "%s: its tensors hold %" PRIu64 " bytes of data, the file %zu (a "
        "damaged file?)",
        f.path.c_str(), covered, f.bytes);
}

InFile openSafetensors(axonn_rt *rt, const std::string &path) {
  InFile f;
  f.path = path;
  size_t size = 0;
  bool regular;
  int fd = openForReading(path, size, regular);
  if (fd < 0)
    die(rt, "cannot open checkpoint file %s: %s", path.c_str(),
        regular ? std::strerror(errno) : "not a regular file");
  if (size < 8)
    die(rt, "%s is not a safetensors file (%zu bytes)", path.c_str(), size);
  void *map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    die(rt, "cannot map %s: %s", path.c_str(), std::strerror(errno));
  const uint8_t *base = static_cast<const uint8_t *>(map);
  uint64_t length;
  std::memcpy(&length, base, 8);
  if (length > size - 8)
    die(rt,
        "%s is not a safetensors file or is truncated: its header length is "
        "%" PRIu64 " bytes, the file has %zu",
        path.c_str(), length, size);
  std::string text(reinterpret_cast<const char *>(base + 8), size_t(length));
  std::string error;
  if (!json::parse(text, f.header, error) ||
      f.header.kind != json::Value::Kind::Object)
    die(rt, "%s: the safetensors header is not a JSON object (%s)",
        path.c_str(), error.c_str());
  f.data = base + 8 + length;
  f.bytes = size - 8 - size_t(length);
  checkEntries(rt, f);
  return f;
}

float halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exponent = (h >> 10) & 31,
           mantissa = h & 1023;
  float value;
  if (exponent == 0)
    value = std::ldexp(float(mantissa), -24);
  else if (exponent == 31)
    value = mantissa ? NAN : INFINITY;
  else
    value = std::ldexp(float(mantissa | 1024), int(exponent) - 25);
  return sign ? -value : value;
}

/// Where a model's tensors are read from: one safetensors file, or the
/// shards that a Hugging Face index (model.safetensors.index.json) names.
/// A tensor is found by its name, or by the name without the base model's
/// prefix (`transformer.` for GPT-2, `model.` for Llama), as Hugging Face
/// publishes some models (GPT-2's `h.0.attn.c_attn.weight`).
struct TensorSource {
  std::string what; // the file or the index, for messages
  std::vector<InFile> files;
  std::string prefix;

  /// Reads tensor `name` of shape `shape` as float32 (from F32, F16 or
  /// BF16); a tensor that is missing, of another shape or type ends the run.
  std::vector<float> read(axonn_rt *rt, const std::string &name,
                          const std::vector<int64_t> &shape) const {
    std::string stored = name;
    const InFile *f = find(name);
    if (!f && !prefix.empty() && name.rfind(prefix, 0) == 0) {
      stored = name.substr(prefix.size());
      f = find(stored);
    }
    if (!f)
      die(rt,
          "%s has no tensor '%s' that this model needs (a checkpoint of "
          "another model?)",
          what.c_str(), name.c_str());
    return readTensorData(rt, *f, stored, shape);
  }

private:
  const InFile *find(const std::string &name) const {
    for (const InFile &f : files)
      if (f.entries.count(name))
        return &f;
    return nullptr;
  }
  static std::vector<float> readTensorData(axonn_rt *rt, const InFile &f,
                                           const std::string &name,
                                           const std::vector<int64_t> &shape);
};

std::vector<float>
TensorSource::readTensorData(axonn_rt *rt, const InFile &f,
                             const std::string &name,
                             const std::vector<int64_t> &shape) {
  const Entry &entry = f.entries.at(name);
  if (entry.shape != shape)
    die(rt,
        "%s: tensor '%s' has shape %s, this model's is %s (a checkpoint of "
        "another model?)",
        f.path.c_str(), name.c_str(), shapeText(entry.shape).c_str(),
        shapeText(shape).c_str());
  const std::string &dtype = entry.dtype;
  size_t width = dtype == "F32" ? 4 : (dtype == "F16" || dtype == "BF16") ? 2
                                                                           : 0;
  if (!width)
    die(rt, "%s: tensor '%s' is %s; F32, F16 and BF16 can be loaded",
        f.path.c_str(), name.c_str(), dtype.c_str());
  // (checkEntries: the entry's offsets hold its shape's bytes)
  size_t count = 1;
  for (int64_t d : shape)
    count *= size_t(d);
  std::vector<float> values(count);
  const uint8_t *p = f.data + entry.begin;
  for (size_t i = 0; i < count; ++i) {
    if (width == 4) {
      std::memcpy(&values[i], p + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      if (dtype == "BF16") {
        uint32_t bits = uint32_t(h) << 16;
        std::memcpy(&values[i], &bits, 4);
      } else {
        values[i] = halfToFloat(h);
      }
    }
  }
  return values;
}

/// The prefix of the Hugging Face base model's names ("transformer." for
/// GPT2LMHeadModel, "model." for LlamaForCausalLM).
std::string basePrefix(const ModelInfo &model) {
  return model.type == "gpt2" ? "transformer." : "model.";
}

/// One safetensors file as a tensor source.
TensorSource singleFile(InFile f, const ModelInfo &model) {
  TensorSource source;
  source.what = f.path;
  source.files.push_back(std::move(f));
  source.prefix = basePrefix(model);
  return source;
}

/// The shards a Hugging Face index names (its "weight_map": tensor name to
/// shard file, relative to the index's directory), each opened and checked
/// once; every tensor of the map must be in its shard, and no tensor in
/// two shards.
TensorSource shardedFiles(axonn_rt *rt, const std::string &indexPath,
                          const ModelInfo &model) {
  std::string text, error;
  if (!readWhole(indexPath, text, error))
    die(rt, "cannot read %s: %s", indexPath.c_str(), error.c_str());
  json::Value index;
  if (!json::parse(text, index, error))
    die(rt, "%s: %s", indexPath.c_str(), error.c_str());
  const json::Value &map = index["weight_map"];
  if (map.kind != json::Value::Kind::Object || map.object.empty())
    die(rt,
        "%s has no \"weight_map\" (an object from tensor names to shard "
        "files), as a Hugging Face model.safetensors.index.json has",
        indexPath.c_str());
  TensorSource source;
  source.what = indexPath;
  source.prefix = basePrefix(model);
  std::string dir = fs::path(indexPath).parent_path().string();
  std::map<std::string, size_t> shardIndex;
  for (const auto &[tensor, shard] : map.object) {
    const std::string &file = shard.asString();
    if (shard.kind != json::Value::Kind::String || file.empty() ||
        file.find('/') != std::string::npos || file == "." || file == "..")
      die(rt,
          "%s: the shard of tensor '%s' is not the name of a file in the "
          "index's directory",
          indexPath.c_str(), tensor.c_str());
    auto [it, added] = shardIndex.emplace(file, source.files.size());
    if (added)
      source.files.push_back(
          openSafetensors(rt, dir.empty() ? file : dir + "/" + file));
    if (!source.files[it->second].entries.count(tensor))
      die(rt,
          "%s says tensor '%s' is in %s, which has no such tensor (a damaged "
          "index, or shards of another model?)",
          indexPath.c_str(), tensor.c_str(), file.c_str());
  }
  std::map<std::string, const InFile *> seen;
  for (const InFile &f : source.files)
    for (const auto &entry : f.entries) {
      auto [it, added] = seen.emplace(entry.first, &f);
      if (!added)
        die(rt, "tensor '%s' is in two shards of %s: %s and %s",
            entry.first.c_str(), indexPath.c_str(), it->second->path.c_str(),
            f.path.c_str());
    }
  return source;
}

/// Fills `t`'s piece from the source's parts of it.
void loadTensor(axonn_rt *rt, const TensorSource &source, const StateTensor &t,
                const ModelInfo &model, int64_t vocabSize) {
  std::vector<float> whole(size_t(t.placement.globalCount()), 0.0f);
  for (const FilePart &p :
       hfParts(model, t.name, t.placement.global, vocabSize)) {
    std::vector<float> values = source.read(rt, fileName(t, p.name), p.shape);
    int64_t rows = int64_t(p.rows.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < p.rowElements; ++c)
        whole[size_t(p.rows[size_t(r)] * p.rowElements + c)] =
            values[size_t(p.transpose ? c * rows + r : r * p.rowElements + c)];
  }
  scatter(t, whole);
}

/// The checkpoint's files, in trainer.json's "files" order.
const char *const kFiles[2] = {"model.safetensors", "optimizer.safetensors"};

/// The trainer.json version saveCheckpoint writes: 2 records each file's
/// size and CRC-32 ("files"), which version 1 (still read) did not.
constexpr int64_t kTrainerVersion = 2;

/// A checkpoint's trainer.json, its fields checked.
struct Trainer {
  std::string path;
  json::Value json;
  int64_t version = 0, step = 0, dataOffset = 0;
  std::map<std::string, FileSum> files; // (version 2)

  /// Ends the run unless file `file`'s size and CRC-32 are those recorded
  /// (it was not changed since it was written); version 1 records none.
  /// Checked before the file's structure, so that a changed file is named
  /// as such.
  void verify(axonn_rt *rt, const std::string &file) const {
    if (version < 2)
      return;
    std::string name = fs::path(file).filename().string();
    auto it = files.find(name);
    if (it == files.end())
      die(rt, "%s: 'files' has no entry for %s (a damaged file?)", path.c_str(),
          name.c_str());
    const FileSum &expected = it->second;
    uint64_t size;
    std::string error;
    FILE *f = openRegular(file, size, error);
    if (!f)
      die(rt, "cannot open checkpoint file %s: %s", file.c_str(),
          error.c_str());
    if (size != expected.bytes) {
      std::fclose(f);
      die(rt,
          "%s has %" PRIu64 " bytes, %s says %" PRIu64
          " (the file changed after it was written: a damaged copy?)",
          file.c_str(), size, path.c_str(), expected.bytes);
    }
    // (a file that changes while it is read fails the CRC)
    Crc32 crc;
    std::vector<unsigned char> chunk(1 << 20);
    size_t n;
    while ((n = std::fread(chunk.data(), 1, chunk.size(), f)) > 0)
      crc.add(chunk.data(), n);
    bool failed = std::ferror(f);
    std::fclose(f);
    if (failed)
      die(rt, "cannot read %s: %s", file.c_str(), std::strerror(errno));
    if (crc.value() != expected.crc)
      die(rt,
          "%s: its CRC-32 is %08" PRIx32 ", %s says %08" PRIx32
          " (the file changed after it was written: a damaged copy?)",
          file.c_str(), crc.value(), path.c_str(), expected.crc);
  }
};

/// Reads and checks DIR/trainer.json: its format, version (1 or 2), step,
/// grid and (version 2) the files' sizes and checksums.
Trainer readTrainer(axonn_rt *rt, const std::string &dir) {
  Trainer t;
  t.path = dir + "/trainer.json";
  const char *path = t.path.c_str();
  std::string text, error;
  if (!readWhole(t.path, text, error)) {
    if (holdsCheckpoints(dir))
      die(rt,
          "cannot open %s: %s; %s holds checkpoints: give one of them, or "
          "--checkpoint-dir %s --resume",
          path, error.c_str(), dir.c_str(), dir.c_str());
    die(rt, "cannot open %s: %s", path, error.c_str());
  }
  if (!json::parse(text, t.json, error) ||
      t.json["format"].asString() != "axonn-checkpoint")
    die(rt, "%s is not an axonn checkpoint description (%s)", path,
        error.empty() ? "no format" : error.c_str());
  if (!t.json["version"].integer(t.version))
    die(rt, "%s: 'version' is not a whole number (a damaged file?)", path);
  if (t.version < 1 || t.version > kTrainerVersion)
    die(rt,
        "%s: version %" PRId64 "; this program reads versions 1 to %" PRId64
        " (a checkpoint of a newer axonn?)",
        path, t.version, kTrainerVersion);
  if (!t.json["step"].integer(t.step, 0))
    die(rt, "%s: 'step' is not a whole number >= 0 (a damaged file?)", path);
  const json::Value &grid = t.json["grid"];
  bool gridFits = grid.kind == json::Value::Kind::Array && grid.size() == 4;
  for (size_t a = 0; gridFits && a < 4; ++a) {
    int64_t ranks;
    gridFits = grid[a].integer(ranks, 1);
  }
  if (!gridFits)
    die(rt, "%s: 'grid' is not four whole numbers >= 1 (a damaged file?)",
        path);
  if (t.json.has("data_offset") &&
      !t.json["data_offset"].integer(t.dataOffset, 0, kMaxDataOffset))
    die(rt,
        "%s: 'data_offset' is not a whole number from 0 to 2^40 (a damaged "
        "file?)",
        path);
  if (t.json["model"].kind != json::Value::Kind::Object ||
      t.json["model"]["model_type"].asString().empty())
    die(rt,
        "%s: 'model' (the model's type and shape) is missing (a damaged "
        "file?)",
        path);
  if (t.version >= 2)
    for (const char *name : kFiles) {
      const json::Value &entry = t.json["files"][name];
      int64_t bytes, crc;
      if (!entry["bytes"].integer(bytes, 8) ||
          !entry["crc32"].integer(crc, 0, int64_t(UINT32_MAX)))
        die(rt,
            "%s: 'files' has no size and CRC-32 of %s ({\"bytes\": N, "
            "\"crc32\": C}; a damaged file?)",
            path, name);
      t.files[name] = {uint64_t(bytes), uint32_t(crc)};
    }
  return t;
}

std::string stepName(int64_t step) {
  char name[32];
  std::snprintf(name, sizeof(name), "step-%08" PRId64, step);
  return name;
}

std::string modelJson(const ModelInfo &m, int64_t vocabSize) {
  return "{\"model_type\": " + json::quote(m.type) +
         ", \"layers\": " + std::to_string(m.layers) +
         ", \"hidden\": " + std::to_string(m.hidden) +
         ", \"heads\": " + std::to_string(m.heads) +
         ", \"kv_heads\": " + std::to_string(m.kvHeads) +
         ", \"ffn\": " + std::to_string(m.ffn) +
         ", \"vocab_size\": " + std::to_string(vocabSize) + "}";
}

} // namespace

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

void linkMasters(std::vector<StateTensor> &tensors) {
  for (StateTensor &p : tensors)
    if (p.state.empty())
      for (const StateTensor &t : tensors)
        if (t.state == "master" && t.name == p.name)
          p.master = &t;
}

void saveCheckpoint(axonn_rt *rt, const CheckpointOptions &options,
                    const ModelInfo &model, int64_t vocabSize,
                    const int64_t grid[4], int64_t step, int64_t dataOffset,
                    uint64_t seed, const std::vector<StateTensor> &tensors) {
  bool leader = axonn_rt_rank(rt) == 0;
  std::string name = stepName(step);
  std::string tmp = options.dir + "/." + name + ".tmp";
  std::string final = options.dir + "/" + name;
  if (leader) {
    std::error_code ec;
    fs::create_directories(options.dir, ec);
    // (a save that a failure on another rank ended left its own)
    std::vector<fs::path> stale;
    for (fs::directory_iterator it(options.dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      std::string n = it->path().filename().string();
      if (n.rfind(".step-", 0) == 0 && n.size() > 10 &&
          n.compare(n.size() - 4, 4, ".tmp") == 0)
        stale.push_back(it->path());
    }
    for (const fs::path &p : stale)
      fs::remove_all(p, ec);
    ec.clear();
    if (!fs::create_directory(tmp, ec) || ec)
      die(rt, "cannot create %s: %s", tmp.c_str(), ec.message().c_str());
    removeOnFailure(tmp); // (a failed write leaves no partial checkpoint)
  }
  std::vector<FileTensor> params, states;
  for (const StateTensor &t : tensors)
    for (FilePart &p : hfParts(model, t.name, t.placement.global, vocabSize))
      (t.state.empty() ? params : states)
          .push_back({&t, p, fileName(t, p.name)});
  std::string metadata = "\"format\":\"pt\",\"axonn.step\":\"" +
                         std::to_string(step) + "\"";
  FileSum sums[2];
  for (int i = 0; i < 2; ++i)
    sums[i] = writeSafetensors(rt, tmp + "/" + kFiles[i], i ? states : params,
                               metadata);
  if (!leader)
    return;

  OutFile trainer(rt, tmp + "/trainer.json");
  std::string files;
  for (int i = 0; i < 2; ++i)
    files += std::string(i ? ", " : "") + "\"" + kFiles[i] +
             "\": {\"bytes\": " + std::to_string(sums[i].bytes) +
             ", \"crc32\": " + std::to_string(sums[i].crc) + "}";
  std::string text =
      "{\"format\": \"axonn-checkpoint\", \"version\": " +
      std::to_string(kTrainerVersion) + ", \"step\": " + std::to_string(step) +
      ", \"seed\": " + std::to_string(seed) + ", \"grid\": [" +
      std::to_string(grid[0]) + ", " + std::to_string(grid[1]) + ", " +
      std::to_string(grid[2]) + ", " + std::to_string(grid[3]) +
      "], \"data_offset\": " + std::to_string(dataOffset) +
      ", \"model\": " + modelJson(model, vocabSize) + ", \"files\": {" + files +
      "}}\n";
  trainer.write(text.data(), text.size());
  trainer.close();
  fsyncPath(rt, tmp);

  // Into place: an older copy of the same step moves aside first, so some
  // complete copy exists at every moment.
  std::error_code ec;
  std::string aside = options.dir + "/." + name + ".old";
  fs::remove_all(aside, ec);
  if (fs::exists(final))
    fs::rename(final, aside, ec);
  fs::rename(tmp, final, ec);
  if (ec)
    die(rt, "cannot move %s to %s: %s", tmp.c_str(), final.c_str(),
        ec.message().c_str());
  removeOnFailure("");
  fsyncPath(rt, options.dir);
  OutFile latest(rt, options.dir + "/latest.tmp");
  std::string line = name + "\n";
  latest.write(line.data(), line.size());
  latest.close();
  fs::rename(options.dir + "/latest.tmp", options.dir + "/latest", ec);
  if (ec)
    die(rt, "cannot update %s/latest: %s", options.dir.c_str(),
        ec.message().c_str());
  fsyncPath(rt, options.dir);
  fs::remove_all(aside, ec);

  // Keep the newest `keep` checkpoints (a rollback set later ones aside:
  // setAsideCheckpointsPast).
  std::vector<std::string> found = checkpointsIn(options.dir);
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + size_t(std::max(options.keep, 1)) < found.size(); ++i)
    if (found[i] != name)
      fs::remove_all(options.dir + "/" + found[i], ec);
}

std::string latestCheckpoint(axonn_rt *rt, const std::string &dir) {
  std::string file = dir + "/latest", text, error;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(file, ec)))
    return "";
  if (!readWhole(file, text, error))
    die(rt, "cannot read %s: %s", file.c_str(), error.c_str());
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  // (the name of a directory in DIR, as saveCheckpoint writes it)
  if (text.empty() || text.find_first_of("/\n") != std::string::npos ||
      text == "." || text == ".." || !fs::is_directory(dir + "/" + text, ec))
    die(rt,
        "%s does not name a checkpoint directory in %s (a damaged file? "
        "--resume-from takes a checkpoint's path)",
        file.c_str(), dir.c_str());
  return dir + "/" + text;
}

std::vector<std::string> checkpointsIn(const std::string &dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (n.size() == 13 && n.rfind("step-", 0) == 0 &&
        n.find_first_not_of("0123456789", 5) == std::string::npos &&
        it->is_directory(ec))
      found.push_back(n);
  }
  std::sort(found.begin(), found.end());
  return found;
}

bool checkpointInDirectory(const std::string &path, const std::string &dir) {
  // (its real path: a link to a checkpoint in DIR, "DIR/step-N/", ...)
  std::error_code ec;
  fs::path real = fs::weakly_canonical(path, ec);
  return !ec && fs::equivalent(real.parent_path(), dir, ec) && !ec;
}

bool holdsCheckpoints(const std::string &dir) {
  std::error_code ec;
  return !checkpointsIn(dir).empty() ||
         fs::exists(fs::symlink_status(dir + "/latest", ec));
}

void setAsideCheckpointsPast(axonn_rt *rt, const std::string &dir, int64_t step,
                             const std::string &resumedFrom) {
  std::vector<std::string> later;
  std::error_code ec;
  for (const std::string &n : checkpointsIn(dir))
    // (not the one resumed from, whatever its name: other ranks may not
    // have read it yet)
    if (n > stepName(step) && !fs::equivalent(dir + "/" + n, resumedFrom, ec))
      later.push_back(n);
  ec.clear();
  if (later.empty())
    return;
  std::string aside = dir + "/rolled-back-past-" + stepName(step);
  for (int i = 1; fs::exists(fs::symlink_status(aside, ec)); ++i)
    aside =
        dir + "/rolled-back-past-" + stepName(step) + "." + std::to_string(i);
  fs::create_directory(aside, ec);
  for (const std::string &n : later)
    if (!ec)
      fs::rename(dir + "/" + n, aside + "/" + n, ec);
  if (ec)
    die(rt, "cannot set the checkpoints past step %" PRId64 " aside in %s: %s",
        step, aside.c_str(), ec.message().c_str());
  // DIR/latest named one of them: now the checkpoint resumed from, if it is
  // in DIR, else none until this run saves.
  if (checkpointInDirectory(resumedFrom, dir)) {
    std::string line =
        fs::weakly_canonical(resumedFrom, ec).filename().string() + "\n";
    OutFile latest(rt, dir + "/latest.tmp");
    latest.write(line.data(), line.size());
    latest.close();
    fs::rename(dir + "/latest.tmp", dir + "/latest", ec);
  } else {
    fs::remove(dir + "/latest", ec);
  }
  if (ec)
    die(rt, "cannot update %s/latest: %s", dir.c_str(), ec.message().c_str());
  fsyncPath(rt, dir);
  std::printf("axonn: note: %zu checkpoint%s of %s past step %" PRId64
              " (%s%s), from before this rollback, set aside in %s\n",
              later.size(), later.size() == 1 ? "" : "s", dir.c_str(), step,
              later.front().c_str(),
              later.size() > 1 ? (" ... " + later.back()).c_str() : "",
              aside.c_str());
}

int64_t loadCheckpoint(axonn_rt *rt, const std::string &path,
                       const ModelInfo &model, int64_t vocabSize,
                       const std::vector<StateTensor> &tensors,
                       int64_t &dataOffset) {
  Trainer description = readTrainer(rt, path);
  dataOffset = description.dataOffset;
  if (description.version < 2 && axonn_rt_rank(rt) == 0)
    std::printf("axonn: note: %s is version 1, which records no checksums: "
                "the checkpoint's files are not verified\n",
                description.path.c_str());
  const json::Value &m = description.json["model"];
  struct Field {
    const char *key;
    int64_t ours;
  } fields[] = {{"layers", model.layers}, {"hidden", model.hidden},
                {"heads", model.heads},   {"kv_heads", model.kvHeads},
                {"ffn", model.ffn},       {"vocab_size", vocabSize}};
  if (m["model_type"].asString() != model.type)
    die(rt,
        "checkpoint %s is of a %s model, this program trains a %s model",
        path.c_str(), m["model_type"].asString().c_str(), model.type.c_str());
  for (const Field &field : fields)
    if (m[field.key].asInt(-1) != field.ours)
      die(rt,
          "checkpoint %s is of another model: its %s is %" PRId64
          ", this program's is %" PRId64,
          path.c_str(), field.key, m[field.key].asInt(-1), field.ours);
  for (const char *file : kFiles)
    description.verify(rt, path + "/" + file);
  TensorSource params =
      singleFile(openSafetensors(rt, path + "/" + kFiles[0]), model);
  TensorSource states =
      singleFile(openSafetensors(rt, path + "/" + kFiles[1]), model);
  bool haveMaster = false;
  for (const auto &entry : states.files[0].header.object)
    if (entry.first.rfind("master/", 0) == 0)
      haveMaster = true;
  // Parameters first: loading one sets its master too, which a checkpoint
  // with masters (a bf16 run's) then replaces with the exact ones.
  for (const StateTensor &t : tensors)
    if (t.state.empty())
      loadTensor(rt, params, t, model, vocabSize);
  for (const StateTensor &t : tensors)
    if (!t.state.empty() && (t.state != "master" || haveMaster))
      loadTensor(rt, states, t, model, vocabSize);
  return description.step;
}

void loadModel(axonn_rt *rt, const std::string &path, const ModelInfo &model,
               int64_t vocabSize, const std::vector<StateTensor> &tensors) {
  std::error_code ec;
  auto exists = [&](const std::string &p) { return fs::exists(p, ec); };
  std::optional<TensorSource> params;
  if (fs::is_directory(path, ec)) {
    std::string single = path + "/" + kFiles[0];
    std::string index = path + "/model.safetensors.index.json";
    if (exists(single)) {
      // (a checkpoint directory's trainer.json has the file's checksum)
      if (exists(path + "/trainer.json"))
        readTrainer(rt, path).verify(rt, single);
      params = singleFile(openSafetensors(rt, single), model);
    } else if (exists(index)) {
      params = shardedFiles(rt, index, model);
    } else if (holdsCheckpoints(path)) {
      die(rt,
          "%s holds checkpoints: --init-from takes one of them (or a "
          "model.safetensors)",
          path.c_str());
    } else {
      die(rt,
          "%s has neither model.safetensors nor model.safetensors.index.json "
          "(a Hugging Face model's shards)",
          path.c_str());
    }
  } else if (path.size() > 5 &&
             path.compare(path.size() - 5, 5, ".json") == 0) {
    params = shardedFiles(rt, path, model);
  } else {
    params = singleFile(openSafetensors(rt, path), model);
  }
  for (const StateTensor &t : tensors)
    if (t.state.empty())
      loadTensor(rt, *params, t, model, vocabSize);
}

} // namespace axonn::driver
