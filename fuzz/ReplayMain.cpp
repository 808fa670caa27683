//===- ReplayMain.cpp - run saved inputs through the spec fuzz target ----===//
//
// `axonn-spec-replay FILE...` runs each file through LLVMFuzzerTestOneInput
// without libFuzzer, so the corpus and every bad-input test file are replayed
// by the normal (gcc) build. A crash kills the process; success prints a
// count.
//
//===----------------------------------------------------------------------===//

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  if (argc < 2) {
    llvm::errs() << "usage: axonn-spec-replay FILE...\n";
    return 2;
  }
  for (int i = 1; i < argc; ++i) {
    auto buffer = llvm::MemoryBuffer::getFile(argv[i]);
    if (!buffer) {
      llvm::errs() << "axonn-spec-replay: cannot read " << argv[i] << ": "
                   << buffer.getError().message() << "\n";
      return 1;
    }
    LLVMFuzzerTestOneInput(
        reinterpret_cast<const uint8_t *>((*buffer)->getBufferStart()),
        (*buffer)->getBufferSize());
  }
  llvm::outs() << "replayed " << argc - 1 << " inputs\n";
  return 0;
}
