//===- ToolErrors.cpp - how the command-line tools report fatal errors ---===//

#include "axonn/Support/ToolErrors.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir::axonn;

static void reportFatal(void *tool, const char *reason, bool) {
  llvm::StringRef text(reason);
  // (raw_fd_ostream's words for a write that failed)
  if (text.consume_front("IO failure on output stream: "))
    llvm::errs() << static_cast<const char *>(tool)
                 << ": error: cannot write the output file (-o): " << text
                 << "\n";
  else
    llvm::errs() << static_cast<const char *>(tool) << ": error: " << text
                 << "\n";
}

void mlir::axonn::installToolErrorHandler(const char *tool) {
  llvm::install_fatal_error_handler(reportFatal, const_cast<char *>(tool));
}
