//===- generate.h - text generation and the memorization audit -*- C++ -*-===//
//
// Both decode with the program's key/value-cache functions: `prefill` runs
// a window of up to S tokens and fills the caches, `decode` adds one token
// at the next position. While the context fits the S positions the model
// was trained on, each new token costs one `decode`; past that the window
// slides and each new token is a `prefill` of the last S tokens (what the
// model saw in training: positions 0 to S - 1). `--no-kv-cache` runs the
// `logits` function on the whole window instead, for checking. Every rank
// takes part: the ranks that hold the sequence's first copy put their
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

/// A compiled function that decoding calls, with its buffers.
struct DecodingCall {
  CompiledFunction entry = nullptr;
  std::vector<void *> args, results;
  int32_t *tokens = nullptr;          // [rows, length]
  int32_t *position = nullptr;        // first token's position (cached calls)
  const void *logits = nullptr; // [rows, length, local vocabulary]
  bool logitsBf16 = false;      // else axonn_real
  int64_t rows = 0, length = 0, localRows = 0;
  Placement where; // of the logits

  axonn_real logit(int64_t i) const {
    return logitsBf16 ? axonn_real(axonn_bf16_to_float(
                            static_cast<const axonn_bf16 *>(logits)[i]))
                      : static_cast<const axonn_real *>(logits)[i];
  }
};

/// What decode() runs: prefill and decode over caches, or (without the
/// cache) the logits function on the window.
struct Decoder {
  bool cached = true;
  DecodingCall prefill, step, window;
  int64_t seqLen = 0;
  void *workspace = nullptr;
};

/// Continues `context` by `count` tokens: greedy when temperature is 0,
/// else sampled with the splitmix64 stream `state`. Collective.
std::vector<int64_t> decode(axonn_rt *rt, Decoder &decoder,
                            int64_t vocab, std::vector<int64_t> context,
                            int64_t count, double temperature,
                            uint64_t &state);

/// The memorization audit of the documents at `paths` (token files in
/// llm.c's format, or text for a byte-level vocabulary of 256): prompt with
/// all but the last `length` tokens, greedy-decode `length` tokens, compare.
/// Rank 0 prints a table and, if `json` is not empty, writes it there.
void audit(axonn_rt *rt, Decoder &decoder, int64_t vocab,
           const std::vector<std::string> &paths, int64_t length,
           const std::string &json);

} // namespace axonn::driver

#endif // AXONN_DRIVER_GENERATE_H
