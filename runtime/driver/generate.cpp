//===- generate.cpp - text generation and the memorization audit ----------===//

#include "generate.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>

namespace axonn::driver {

namespace {

/// Runs `call` and puts the logits of its row `row` (a position of the
/// sequence) into `out`, the same on every rank.
void nextLogits(axonn_rt *rt, Decoder &decoder, DecodingCall &call,
                int64_t row, std::vector<axonn_real> &out) {
  if (call.entry(rt, call.args.data(), call.results.data(),
                 decoder.workspace) != AXONN_OK)
    die(rt, "generation failed: %s", axonn_rt_last_error(rt));
  synchronize(rt);
  const Placement &where = call.where;
  std::fill(out.begin(), out.end(), axonn_real(0));
  if (where.primary && where.offset[0] == 0)
    for (int64_t v = 0; v < call.localRows; ++v)
      out[size_t(where.offset[2] + v)] = call.logit(row * call.localRows + v);
  int32_t all[4] = {0, 1, 2, 3};
  axonn_request request = nullptr;
  if (axonn_rt_all_reduce_start(rt, out.data(), out.data(),
                                int64_t(out.size()), axonn_axes_make(4, all),
                                AXONN_REDUCE_SUM, &request) != AXONN_OK ||
      axonn_rt_wait(rt, request) != AXONN_OK)
    die(rt, "generation failed: %s", axonn_rt_last_error(rt));
}

/// Writes `count` tokens of `context` from `start` into every row of
/// `call`'s tokens, padded with zeros to its length.
void fillTokens(DecodingCall &call, const std::vector<int64_t> &context,
                int64_t start, int64_t count) {
  for (int64_t r = 0; r < call.rows; ++r)
    for (int64_t t = 0; t < call.length; ++t)
      call.tokens[r * call.length + t] =
          t < count ? int32_t(context[size_t(start + t)]) : 0;
}

} // namespace

std::vector<int64_t> decode(axonn_rt *rt, Decoder &decoder, int64_t vocab,
                            std::vector<int64_t> context, int64_t count,
                            double temperature, uint64_t &state) {
  int64_t seqLen = decoder.seqLen;
  std::vector<axonn_real> row(
      size_t(decoder.cached ? decoder.prefill.where.global[2]
                            : decoder.window.where.global[2]));
  std::vector<double> p(static_cast<size_t>(vocab));
  std::vector<int64_t> generated;
  // The caches hold the keys and values of context[base, base + cached).
  int64_t base = 0, cached = 0;
  for (int64_t n = 0; n < count; ++n) {
    int64_t length = int64_t(context.size());
    int64_t start = std::max<int64_t>(0, length - seqLen);
    if (!decoder.cached) {
      fillTokens(decoder.window, context, start, length - start);
      nextLogits(rt, decoder, decoder.window, length - start - 1, row);
    } else if (cached == 0 || start != base) {
      // A new window: fill the caches from position 0.
      fillTokens(decoder.prefill, context, start, length - start);
      *decoder.prefill.position = 0;
      nextLogits(rt, decoder, decoder.prefill, length - start - 1, row);
      base = start;
      cached = length - start;
    } else {
      // The caches hold all but the newest token.
      fillTokens(decoder.step, context, length - 1, 1);
      *decoder.step.position = int32_t(cached);
      nextLogits(rt, decoder, decoder.step, 0, row);
      ++cached;
    }
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (row[size_t(v)] > row[size_t(best)])
        best = v;
    int64_t next = best;
    if (temperature > 0) {
      double sum = 0;
      for (int64_t v = 0; v < vocab; ++v)
        sum += p[size_t(v)] =
            std::exp(double(row[size_t(v)] - row[size_t(best)]) / temperature);
      state = splitmix(state);
      double u = double(state >> 11) / 9007199254740992.0 * sum;
      next = vocab - 1;
      for (int64_t v = 0; v < vocab; ++v)
        if ((u -= p[size_t(v)]) < 0) {
          next = v;
          break;
        }
    }
    context.push_back(next);
    generated.push_back(next);
  }
  return generated;
}

namespace {

/// A document's tokens: a token file, or a text file's bytes.
std::vector<int64_t> readDocument(axonn_rt *rt, const std::string &path,
                                  int64_t vocab) {
  std::vector<int64_t> tokens;
  // (a regular file: a device such as /dev/zero never ends, a directory
  // reads as nothing)
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    die(rt, "--audit: %s is not a regular file", path.c_str());
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f)
    die(rt, "--audit: cannot open %s: %s", path.c_str(), std::strerror(errno));
  int32_t magic = 0;
  bool tokenFile = std::fread(&magic, 4, 1, f) == 1 && magic == 20240520;
  std::fclose(f);
  if (tokenFile) {
    TokenFile file = openTokens(rt, path);
    for (int64_t i = 0; i < file.count; ++i)
      tokens.push_back(file.at(i));
    closeTokens(file);
  } else {
    if (vocab != 256)
      die(rt,
          "--audit: %s is text, which only a byte-level model (vocabulary "
          "256) reads; this model's vocabulary is %" PRId64
          " (give token files)",
          path.c_str(), vocab);
    f = std::fopen(path.c_str(), "rb");
    int c;
    while ((c = std::fgetc(f)) != EOF)
      tokens.push_back(c);
    std::fclose(f);
  }
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] >= vocab)
      die(rt,
          "--audit: token %" PRId64 " at position %zu of %s is not below the "
          "model's vocabulary of %" PRId64
          " (documents tokenized for another model?)",
          tokens[i], i, path.c_str(), vocab);
  return tokens;
}

/// Length of the longest common subsequence.
int64_t lcs(const std::vector<int64_t> &a, const std::vector<int64_t> &b) {
  std::vector<int64_t> previous(b.size() + 1, 0), current(b.size() + 1, 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j)
      current[j] = a[i - 1] == b[j - 1]
                       ? previous[j - 1] + 1
                       : std::max(previous[j], current[j - 1]);
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string baseName(const std::string &path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

} // namespace

void audit(axonn_rt *rt, Decoder &decoder, int64_t vocab,
           const std::vector<std::string> &inputs, int64_t length,
           const std::string &json) {
  // A directory stands for its files, in name order.
  std::vector<std::string> paths;
  for (const std::string &input : inputs) {
    struct stat st;
    if (stat(input.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      std::vector<std::string> names;
      if (DIR *dir = opendir(input.c_str())) {
        while (dirent *entry = readdir(dir))
          if (entry->d_name[0] != '.')
            names.push_back(input + "/" + entry->d_name);
        closedir(dir);
      }
      std::sort(names.begin(), names.end());
      paths.insert(paths.end(), names.begin(), names.end());
    } else {
      paths.push_back(input);
    }
  }
  if (paths.empty())
    die(rt, "--audit: no documents");
  struct Row {
    std::string name;
    int64_t tokens;
    bool exact;
    double match, rouge;
  };
  std::vector<Row> rows;
  uint64_t unused = 0;
  for (const std::string &path : paths) {
    std::vector<int64_t> doc = readDocument(rt, path, vocab);
    if (int64_t(doc.size()) <= length)
      die(rt,
          "--audit: %s has %zu tokens; the audit needs more than %" PRId64
          " (a prompt of one or more tokens, then the %" PRId64
          " it must reproduce)",
          path.c_str(), doc.size(), length, length);
    std::vector<int64_t> prompt(doc.begin(), doc.end() - length);
    std::vector<int64_t> truth(doc.end() - length, doc.end());
    std::vector<int64_t> got =
        decode(rt, decoder, vocab, prompt, length, 0.0, unused);
    int64_t same = 0;
    for (int64_t i = 0; i < length; ++i)
      same += got[size_t(i)] == truth[size_t(i)];
    double common = double(lcs(got, truth));
    // ROUGE-L F1; with equal lengths precision = recall = LCS / L.
    double rouge = common / double(length);
    rows.push_back({baseName(path), int64_t(doc.size()), same == length,
                    double(same) / double(length), rouge});
  }
  if (axonn_rt_rank(rt) != 0)
    return;
  double exact = 0, match = 0, rouge = 0;
  for (const Row &r : rows) {
    exact += r.exact;
    match += r.match;
    rouge += r.rouge;
  }
  double n = double(rows.size());
  std::printf("axonn: memorization audit, last %" PRId64
              " tokens of each document, greedy\n",
              length);
  std::printf("%-32s %8s %6s %8s %8s\n", "document", "tokens", "exact",
              "match", "ROUGE-L");
  for (const Row &r : rows)
    std::printf("%-32s %8" PRId64 " %6s %8.3f %8.3f\n", r.name.c_str(),
                r.tokens, r.exact ? "yes" : "no", r.match, r.rouge);
  std::printf("overall (%zu documents): exact-match rate %.3f, mean match "
              "%.3f, mean ROUGE-L %.3f\n",
              rows.size(), exact / n, match / n, rouge / n);
  std::fflush(stdout);
  if (json.empty())
    return;
  std::string tmp = json + ".tmp";
  FILE *f = openForWriting(tmp);
  if (!f)
    die(rt, "cannot write %s: %s", tmp.c_str(), std::strerror(errno));
  std::fprintf(f, "{\"length\": %" PRId64 ", \"documents\": [", length);
  for (size_t i = 0; i < rows.size(); ++i)
    std::fprintf(f,
                 "%s\n  {\"name\": %s, \"tokens\": %" PRId64
                 ", \"exact\": %s, \"match\": %.6f, \"rouge_l\": %.6f}",
                 i ? "," : "", json::quote(rows[i].name).c_str(),
                 rows[i].tokens, rows[i].exact ? "true" : "false",
                 rows[i].match, rows[i].rouge);
  std::fprintf(f,
               "],\n \"exact_match_rate\": %.6f, \"mean_match\": %.6f, "
               "\"mean_rouge_l\": %.6f}\n",
               exact / n, match / n, rouge / n);
  if (std::fclose(f) != 0 || std::rename(tmp.c_str(), json.c_str()) != 0) {
    int error = errno;
    std::remove(tmp.c_str());
    die(rt, "--audit-json: cannot write %s: %s", json.c_str(),
        std::strerror(error));
  }
}

} // namespace axonn::driver
