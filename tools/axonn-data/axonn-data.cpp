//===- axonn-data.cpp - text files to token files -------------------------===//
//
//   axonn-data --output DIR [--val-fraction F] FILE...
//
// Tokenizes text with the byte-level tokenizer (each byte is a token, a
// vocabulary of 256: the tiny example models') and writes DIR/train.bin and
// DIR/val.bin in llm.c's format: a 256 x int32 header (magic 20240520,
// version 1, token count) followed by uint16 tokens. The last F (default
// 0.1) of the concatenated text is the validation split. Files are written
// to a temporary name and renamed, so a failed run leaves no partial file.
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

namespace {

[[noreturn]] void die(const std::string &message) {
  std::fprintf(stderr, "axonn-data: %s\n", message.c_str());
  std::exit(1);
}

void writeTokens(const std::string &path, const std::vector<uint16_t> &tokens) {
  std::string temporary = path + ".tmp";
  FILE *f = std::fopen(temporary.c_str(), "wb");
  if (!f)
    die("cannot write " + temporary + ": " + std::strerror(errno));
  int32_t header[256] = {0};
  header[0] = 20240520;
  header[1] = 1;
  header[2] = int32_t(tokens.size());
  bool ok = std::fwrite(header, sizeof(header), 1, f) == 1 &&
            std::fwrite(tokens.data(), sizeof(uint16_t), tokens.size(), f) ==
                tokens.size();
  ok = std::fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(temporary.c_str());
    die("cannot write " + path + ": " + std::strerror(errno));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0)
    die("cannot rename " + temporary + ": " + std::strerror(errno));
}

} // namespace

int main(int argc, char **argv) {
  std::string output;
  double valFraction = 0.1;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--output" && i + 1 < argc) {
      output = argv[++i];
    } else if (a == "--val-fraction" && i + 1 < argc) {
      char *end = nullptr;
      valFraction = std::strtod(argv[++i], &end);
      if (*end || !(valFraction >= 0 && valFraction < 1))
        die(std::string("--val-fraction must be in [0, 1), got '") + argv[i] +
            "'");
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: axonn-data --output DIR [--val-fraction F] FILE...\n"
                  "Byte-level tokens (vocabulary 256) in llm.c's format: "
                  "DIR/train.bin, DIR/val.bin.\n");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      die("unknown option '" + a + "' (see --help)");
    } else {
      inputs.push_back(a);
    }
  }
  if (output.empty() || inputs.empty())
    die("usage: axonn-data --output DIR [--val-fraction F] FILE...");
  std::vector<uint16_t> tokens;
  for (const std::string &path : inputs) {
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f)
      die("cannot read " + path + ": " + std::strerror(errno));
    int c;
    while ((c = std::fgetc(f)) != EOF)
      tokens.push_back(uint16_t(c));
    std::fclose(f);
  }
  if (tokens.size() < 1024)
    die("only " + std::to_string(tokens.size()) +
        " tokens of text; give at least 1024 bytes");
  mkdir(output.c_str(), 0755);
  size_t split = size_t(double(tokens.size()) * (1 - valFraction));
  writeTokens(
      output + "/train.bin",
      std::vector<uint16_t>(tokens.begin(), tokens.begin() + long(split)));
  writeTokens(
      output + "/val.bin",
      std::vector<uint16_t>(tokens.begin() + long(split), tokens.end()));
  std::printf("axonn-data: %zu tokens: %zu train, %zu validation (byte-level, "
              "vocabulary 256) in %s\n",
              tokens.size(), split, tokens.size() - split, output.c_str());
  return 0;
}
