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
// the tokens is the validation split. Files are written to a temporary name
// and renamed, so a failed run leaves no partial file.
//
//===----------------------------------------------------------------------===//

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#ifdef AXONN_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "axonn-data: %s\n", message.c_str());
  std::exit(1);
}

void writeTokens(const std::string &path, const std::vector<uint32_t> &tokens,
                 bool wide) {
  std::string temporary = path + ".tmp";
  FILE *f = std::fopen(temporary.c_str(), "wb");
  if (!f)
    die("cannot write " + temporary + ": " + std::strerror(errno));
  int32_t header[256] = {0};
  header[0] = 20240520;
  header[1] = wide ? 2 : 1;
  header[2] = int32_t(tokens.size());
  bool ok = std::fwrite(header, sizeof(header), 1, f) == 1;
  if (wide) {
    ok = ok && std::fwrite(tokens.data(), 4, tokens.size(), f) == tokens.size();
  } else {
    std::vector<uint16_t> narrow(tokens.begin(), tokens.end());
    ok = ok && std::fwrite(narrow.data(), 2, narrow.size(), f) == narrow.size();
  }
  ok = std::fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(temporary.c_str());
    die("cannot write " + path + ": " + std::strerror(errno));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    die("cannot rename " + temporary + ": " + std::strerror(errno));
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
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "--output" || a == "--sentencepiece" || a == "--val-fraction") &&
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
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: axonn-data --output DIR [--val-fraction F] "
          "[--sentencepiece MODEL] FILE...\n"
          "Tokens in llm.c's format: DIR/train.bin, DIR/val.bin.\n"
          "  --val-fraction F        the last F of the tokens is val.bin "
          "(default 0.1)\n"
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
  mkdir(output.c_str(), 0755);
  bool wide = vocabulary > 65536;
  size_t split = size_t(double(tokens.size()) * (1 - valFraction));
  writeTokens(
      output + "/train.bin",
      std::vector<uint32_t>(tokens.begin(), tokens.begin() + long(split)),
      wide);
  writeTokens(output + "/val.bin",
              std::vector<uint32_t>(tokens.begin() + long(split), tokens.end()),
              wide);
  std::printf("axonn-data: %zu tokens: %zu train, %zu validation (%s, "
              "vocabulary %lld) in %s\n",
              tokens.size(), split, tokens.size() - split, tokenizer.c_str(),
              (long long)vocabulary, output.c_str());
  return 0;
}
