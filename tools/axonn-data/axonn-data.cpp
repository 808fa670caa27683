//===- axonn-data.cpp - text files to token files -------------------------===//
//
//   axonn-data --output DIR [--val-fraction F] [--sentencepiece MODEL] FILE...
//
// Tokenizes text with the byte-level tokenizer (each byte is a token, a
// vocabulary of 256: the tiny example models') or, given a SentencePiece
// model, with libsentencepiece (each file encoded whole, followed by the
// model's end-of-sequence id when it has one), and writes DIR/train.bin and
// DIR/val.bin in llm.c's format: a 256 x int32 header (magic 20240520,
// version 1 for uint16 tokens or 2 for uint32 when the vocabulary exceeds
// 65,536, token count) followed by the tokens. The last F (default 0.1) of
// the tokens is the validation split. A split of more tokens than one file
// may count (2^31 - 1, the header's int32), or than --shard-tokens N, goes
// into shards DIR/train_000000.bin, ... (val_000000.bin, ...), which
// training binaries read as one stream. Files are written to temporary
// names and all renamed into place only once all are written, so a failed
// run leaves DIR as it was; then token files of an earlier run in DIR that
// this one did not write (and a killed run's temporaries) are removed.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#ifdef AXONN_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace {

/// The temporary files written so far, renamed into place only once every
/// file is written (commitFiles): a failed run removes them and leaves the
/// directory as it was.
std::vector<std::string> pending;
/// The output directory, if this run made it (a failed run removes it).
std::string madeDirectory;

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "axonn-data: %s\n", message.c_str());
  for (const std::string &file : pending)
    unlink(file.c_str());
  if (!madeDirectory.empty())
    rmdir(madeDirectory.c_str());
  std::exit(1);
}

void writeTokens(const std::string &path, const uint32_t *tokens, size_t count,
                 bool wide) {
  std::string temporary = path + ".tmp";
  FILE *f = std::fopen(temporary.c_str(), "wb");
  if (!f)
    die("cannot write " + temporary + ": " + std::strerror(errno));
  pending.push_back(temporary);
  int32_t header[256] = {0};
  header[0] = 20240520;
  header[1] = wide ? 2 : 1;
  header[2] = int32_t(count); // (count <= kMaxFileTokens)
  bool ok = std::fwrite(header, sizeof(header), 1, f) == 1;
  if (wide) {
    ok = ok && std::fwrite(tokens, 4, count, f) == count;
  } else {
    std::vector<uint16_t> narrow(tokens, tokens + count);
    ok = ok && std::fwrite(narrow.data(), 2, count, f) == count;
  }
  ok = std::fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
  if (std::fclose(f) != 0 || !ok)
    die("cannot write " + path + ": " + std::strerror(errno));
}

/// Renames every pending temporary file into place.
void commitFiles() {
  // (every name checked first: a rename that fails part way would leave
  // the directory with some files new and some old)
  for (const std::string &temporary : pending) {
    std::string path = temporary.substr(0, temporary.size() - 4);
    struct stat st;
    if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
      die("cannot write " + path + ": a directory has its name");
  }
  for (const std::string &temporary : pending) {
    std::string path = temporary.substr(0, temporary.size() - 4);
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
      die("cannot rename " + temporary + ": " + std::strerror(errno));
  }
  pending.clear();
}

/// The most tokens one file may hold: its header counts them in an int32.
constexpr int64_t kMaxFileTokens = 2147483647;

/// Writes `count` tokens as DIR/NAME.bin, or, above `shardTokens`, as
/// shards DIR/NAME_000000.bin, ... of `shardTokens` each (the last fewer);
/// returns the files' names.
std::vector<std::string> writeSplit(const std::string &dir,
                                    const std::string &name,
                                    const uint32_t *tokens, size_t count,
                                    int64_t shardTokens, bool wide) {
  if (int64_t(count) <= shardTokens) {
    writeTokens(dir + "/" + name + ".bin", tokens, count, wide);
    return {name + ".bin"};
  }
  std::vector<std::string> names;
  for (size_t first = 0; first < count; first += size_t(shardTokens)) {
    char file[64];
    std::snprintf(file, sizeof(file), "%s_%06zu.bin", name.c_str(),
                  names.size());
    size_t n = std::min(size_t(shardTokens), count - first);
    writeTokens(dir + "/" + file, tokens + first, n, wide);
    names.push_back(file);
  }
  return names;
}

/// Whether `file` is a name this tool writes: train.bin, val.bin, or a
/// shard train_NNNNNN.bin, val_NNNNNN.bin.
bool ourTokenFile(const std::string &file) {
  for (const char *name : {"train", "val"}) {
    std::string n = name;
    if (file == n + ".bin")
      return true;
    if (file.size() == n.size() + 11 &&
        file.compare(0, n.size() + 1, n + "_") == 0 &&
        file.compare(file.size() - 4, 4, ".bin") == 0 &&
        file.find_first_not_of("0123456789", n.size() + 1) == file.size() - 4)
      return true;
  }
  return false;
}

std::string readFile(const std::string &path) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    die("cannot read " + path + ": " + std::strerror(errno));
  std::string text;
  char chunk[65536];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof(chunk), f)) > 0)
    text.append(chunk, n);
  // (a directory opens, then fails its first read: EISDIR)
  if (std::ferror(f))
    die("cannot read " + path + ": " + std::strerror(errno));
  std::fclose(f);
  return text;
}

} // namespace

int main(int argc, char **argv) {
  std::string output, model;
  double valFraction = 0.1;
  int64_t shardTokens = kMaxFileTokens;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--output" || a == "--sentencepiece" || a == "--val-fraction" ||
         a == "--shard-tokens") &&
        i + 1 == argc) {
      die("option " + a + " needs a value (see --help)");
    } else if (a == "--output") {
      output = argv[++i];
    } else if (a == "--sentencepiece") {
      model = argv[++i];
    } else if (a == "--val-fraction") {
      char *end = nullptr;
      valFraction = std::strtod(argv[++i], &end);
      if (*end || !(valFraction >= 0 && valFraction < 1))
        die(std::string("--val-fraction must be in [0, 1), got '") + argv[i] +
            "'");
    } else if (a == "--shard-tokens") {
      char *end = nullptr;
      errno = 0;
      long long n = std::strtoll(argv[++i], &end, 10);
      if (*end || !*argv[i] || errno == ERANGE || n < 1024 ||
          n > kMaxFileTokens)
        die(std::string("--shard-tokens must be a whole number from 1024 to "
                        "2147483647, got '") +
            argv[i] + "'");
      shardTokens = n;
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: axonn-data --output DIR [--val-fraction F] "
          "[--shard-tokens N] [--sentencepiece MODEL] FILE...\n"
          "Tokens in llm.c's format: DIR/train.bin, DIR/val.bin.\n"
          "  --val-fraction F        the last F of the tokens is val.bin "
          "(default 0.1)\n"
          "  --shard-tokens N        a split of more than N tokens goes into\n"
          "                          shards of N, DIR/train_000000.bin, ...\n"
          "                          (default and most: 2147483647, what one\n"
          "                          file's header can count)\n"
#ifdef AXONN_HAVE_SENTENCEPIECE
          "  --sentencepiece MODEL   tokenize with a SentencePiece model "
          "(default: bytes, vocabulary 256)\n"
#else
          "  (built without libsentencepiece: byte-level tokens only)\n"
#endif
      );
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      die("unknown option '" + a + "' (see --help)");
    } else {
      inputs.push_back(a);
    }
  }
  if (output.empty() || inputs.empty())
    die("usage: axonn-data --output DIR [--val-fraction F] [--sentencepiece "
        "MODEL] FILE...");
  std::vector<uint32_t> tokens;
  int64_t vocabulary = 256;
  std::string tokenizer = "byte-level";
  if (model.empty()) {
    for (const std::string &path : inputs)
      for (unsigned char c : readFile(path))
        tokens.push_back(c);
  } else {
#ifdef AXONN_HAVE_SENTENCEPIECE
    sentencepiece::SentencePieceProcessor processor;
    auto status = processor.Load(model);
    if (!status.ok())
      die("cannot load the SentencePiece model " + model + ": " +
          status.ToString());
    vocabulary = processor.GetPieceSize();
    tokenizer = "SentencePiece " + model;
    for (const std::string &path : inputs) {
      std::vector<int> ids;
      status = processor.Encode(readFile(path), &ids);
      if (!status.ok())
        die("cannot tokenize " + path + ": " + status.ToString());
      tokens.insert(tokens.end(), ids.begin(), ids.end());
      if (processor.eos_id() >= 0)
        tokens.push_back(uint32_t(processor.eos_id()));
    }
#else
    die("--sentencepiece: axonn-data was built without libsentencepiece "
        "(install libsentencepiece-dev and rebuild)");
#endif
  }
  if (tokens.size() < 1024)
    die("only " + std::to_string(tokens.size()) +
        " tokens of text; give at least 1024");
  if (mkdir(output.c_str(), 0755) == 0)
    madeDirectory = output;
  else if (errno != EEXIST)
    die("cannot create " + output + ": " + std::strerror(errno));
  bool wide = vocabulary > 65536;
  size_t split = size_t(double(tokens.size()) * (1 - valFraction));
  std::vector<std::string> train =
      writeSplit(output, "train", tokens.data(), split, shardTokens, wide);
  if (split < 1024)
    die("the training split would hold " + std::to_string(split) +
        " tokens; give more text or a smaller --val-fraction");
  std::vector<std::string> val;
  if (tokens.size() > split) // (--val-fraction 0: no val.bin)
    val = writeSplit(output, "val", tokens.data() + split,
                     tokens.size() - split, shardTokens, wide);
  commitFiles();
  // Token files of an earlier run that this one did not write: a stale
  // train.bin beside new shards would be read instead of them.
  if (DIR *dir = opendir(output.c_str())) {
    std::vector<std::string> stale;
    while (const dirent *entry = readdir(dir)) {
      std::string file = entry->d_name;
      struct stat st;
      // (and the temporary files of a run that was killed)
      bool temporary = file.size() > 4 &&
                       file.compare(file.size() - 4, 4, ".tmp") == 0 &&
                       ourTokenFile(file.substr(0, file.size() - 4));
      if ((ourTokenFile(file) || temporary) &&
          lstat((output + "/" + file).c_str(), &st) == 0 &&
          !S_ISDIR(st.st_mode) &&
          std::find(train.begin(), train.end(), file) == train.end() &&
          std::find(val.begin(), val.end(), file) == val.end())
        stale.push_back(file);
    }
    closedir(dir);
    for (const std::string &file : stale)
      if (unlink((output + "/" + file).c_str()) != 0)
        die("cannot remove the earlier run's " + output + "/" + file + ": " +
            std::strerror(errno));
  }
  auto where = [](const std::vector<std::string> &files) {
    return files.empty()       ? std::string("none")
           : files.size() == 1 ? files[0]
                               : std::to_string(files.size()) + " shards " +
                                     files.front() + " ... " + files.back();
  };
  std::printf("axonn-data: %zu tokens (%s, vocabulary %lld) in %s: %zu "
              "train (%s), %zu validation (%s)\n",
              tokens.size(), tokenizer.c_str(), (long long)vocabulary,
              output.c_str(), split, where(train).c_str(),
              tokens.size() - split, where(val).c_str());
  return 0;
}
