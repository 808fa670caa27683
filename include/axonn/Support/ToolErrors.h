//===- ToolErrors.h - how the command-line tools report fatal errors -*- C++ -*-===//
//
// LLVM ends a process on a fatal error with "LLVM ERROR: <reason>": most
// often, for these tools, an output stream that could not be written (a
// full disk, /dev/full), which raw_fd_ostream reports when it closes. The
// tools install this handler so that the message names the tool and, for
// a write, the -o file, in the tools' own words; LLVM still removes the
// unfinished output file and exits with status 1.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_SUPPORT_TOOLERRORS_H
#define AXONN_SUPPORT_TOOLERRORS_H

namespace mlir::axonn {

/// Reports fatal errors as "<tool>: error: ..." on stderr.
void installToolErrorHandler(const char *tool);

} // namespace mlir::axonn

#endif // AXONN_SUPPORT_TOOLERRORS_H
