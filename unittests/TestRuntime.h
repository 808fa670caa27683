//===- TestRuntime.h - one runtime per test program -------------*- C++ -*-===//
//
// MPI starts once per process: every runtime test of a program shares one
// runtime of a single rank, made on first use and destroyed at exit.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_UNITTESTS_TESTRUNTIME_H
#define AXONN_UNITTESTS_TESTRUNTIME_H

#include "axonn_rt.h"

#include <cstdlib>

inline axonn_rt *testRuntime() {
  static axonn_rt *rt = [] {
    int64_t grid[4] = {1, 1, 1, 1};
    axonn_rt *made = nullptr;
    if (axonn_rt_create(grid, &made) != AXONN_OK)
      return static_cast<axonn_rt *>(nullptr);
    std::atexit([] { axonn_rt_destroy(testRuntime()); });
    return made;
  }();
  return rt;
}

#endif // AXONN_UNITTESTS_TESTRUNTIME_H
