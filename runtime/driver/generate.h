//===- generate.h - text generation and the memorization audit -*- C++ -*-===//
//
// Both run the program's `logits` function (the per-rank forward up to the
// LM head) once per new token on the window of the last S tokens, with
// every rank taking part: the ranks that hold batch row 0 put their
// vocabulary slice of the next-token logits into a vector summed over the
// grid, and every rank then picks the same token.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DRIVER_GENERATE_H
#define AXONN_DRIVER_GENERATE_H

#include "program.h"

#include <string>
#include <vector>

namespace axonn::driver {

/// The compiled logits function with its buffers.
struct LogitsProgram {
  std::vector<void *> args, results;
  int32_t *tokens = nullptr;  // [local batch, S]
  const axonn_real *logits = nullptr; // [local batch, S, local vocabulary]
  int64_t localBatch = 0, seqLen = 0, localRows = 0;
  Placement where; // of the logits
  void *workspace = nullptr;
};

/// Continues `context` by `count` tokens: greedy when temperature is 0,
/// else sampled with the splitmix64 stream `state`. Collective.
std::vector<int64_t> decode(axonn_rt *rt, LogitsProgram &program,
                            int64_t vocab, std::vector<int64_t> context,
                            int64_t count, double temperature,
                            uint64_t &state);

/// The memorization audit of the documents at `paths` (token files in
/// llm.c's format, or text for a byte-level vocabulary of 256): prompt with
/// all but the last `length` tokens, greedy-decode `length` tokens, compare.
/// Rank 0 prints a table and, if `json` is not empty, writes it there.
void audit(axonn_rt *rt, LogitsProgram &program, int64_t vocab,
           const std::vector<std::string> &paths, int64_t length,
           const std::string &json);

} // namespace axonn::driver

#endif // AXONN_DRIVER_GENERATE_H
