//===- gradcheck.cpp - main() of an axonn gradient-check binary -----------===//
//
// `axonnc SPEC --gpus 1 --gradient-check -o check` compiles the model in
// fp64 and links this main with the fp64 runtime (libaxonn_rt_f64.a). It
// checks the compiled backward: the program's `gradients` function (the
// training step cut where AdamW would read the gradients) against a
// five-point central difference of its `forward` loss, at the three largest
// and three random coordinates of every parameter, on a random batch and
// parameters drawn like the training binary's plus noise. The error of a
// coordinate is |analytic - numeric| / max(|analytic|, |numeric|, 1% of the
// parameter's largest |gradient|), as in the IR-level check
// (--axonn-test-gradients).
//
//   ./check [--seed N] [--step H] [--tolerance T] [--inject-error E]
//
//===----------------------------------------------------------------------===//

#include "axonn_rt.h"
#include "json.h"
#include "program.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static_assert(sizeof(axonn_real) == 8, "gradient checks use the fp64 runtime");

using namespace axonn::driver;
using axonn::json::Value;

namespace {

struct Buffers {
  std::vector<Tensor> args, results;
  std::vector<void *> argPointers, resultPointers;
};


} // namespace

int main(int argc, char **argv) {
  uint64_t seed = 1234;
  double step = 1e-3, tolerance = 1e-6, injectError = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        die(nullptr, "option %s needs a value", a.c_str());
      return argv[++i];
    };
    if (a == "--seed")
      seed = std::strtoull(value().c_str(), nullptr, 10);
    else if (a == "--step")
      step = std::strtod(value().c_str(), nullptr);
    else if (a == "--tolerance")
      tolerance = std::strtod(value().c_str(), nullptr);
    else if (a == "--inject-error")
      injectError = std::strtod(value().c_str(), nullptr);
    else if (a == "--help" || a == "-h") {
      std::printf("usage: check [--seed N] [--step H] [--tolerance T] "
                  "[--inject-error E]\n"
                  "(--inject-error scales the first parameter's gradient by "
                  "1 + E, to see the check fail)\n"
                  "Checks the compiled gradients against finite differences "
                  "of the compiled loss, in fp64, on one rank.\n");
      return 0;
    } else
      die(nullptr, "unknown option '%s' (see --help)", a.c_str());
  }
  if (!(step > 0) || !(tolerance > 0))
    die(nullptr, "--step and --tolerance must be positive");

  Value manifest;
  std::string error;
  if (!axonn::json::parse(axonn_manifest(), manifest, error))
    die(nullptr, "the program's manifest is not JSON (%s)", error.c_str());
  int64_t grid[4];
  for (int a = 0; a < 4; ++a)
    grid[a] = manifest["grid"][size_t(a)].asInt(1);
  axonn_rt *rt = nullptr;
  if (axonn_rt_create(grid, &rt) != AXONN_OK)
    die(nullptr, "%s", rt ? axonn_rt_last_error(rt) : "cannot start");
  if (axonn_rt_world_size(rt) != 1)
    die(rt, "gradient checks run on one rank (compile with --gpus 1)");
  int64_t vocab = manifest["vocab_size"].asInt();

  // The gradients function: the training step's arguments, one result per
  // parameter.
  const Value &gradFn = manifest["functions"]["gradients"];
  const Value &lossFn = manifest["functions"]["forward"];
  if (gradFn.kind != Value::Kind::Object || lossFn.kind != Value::Kind::Object)
    die(rt, "the program has no gradients or forward function");
  Buffers g;
  std::vector<int> params;
  int tokens = -1, targets = -1;
  for (const Value &v : gradFn["args"].array) {
    Tensor t = readTensor(v);
    if (t.dtype == "f32")
      die(rt, "this program was compiled for the f32 runtime; compile it with "
              "axonnc --gradient-check");
    void *p = allocate(rt, t.count() * t.elementBytes());
    if (t.role == "param") {
      params.push_back(int(g.args.size()));
      auto *data = static_cast<double *>(p);
      Placement where = place(t, rt, grid);
      initialize(t, where, seed, data);
      // Away from the special values init gives norms and biases.
      uint64_t h = hashName(t.name + "/noise");
      where.forEach(t.shape, [&](int64_t local, int64_t global) {
        data[local] += 0.1 * normalAt(seed, h, uint64_t(global));
      });
    }
    if (t.role == "input" && t.input == "tokens")
      tokens = int(g.args.size());
    if (t.role == "input" && t.input == "targets")
      targets = int(g.args.size());
    g.args.push_back(t);
    g.argPointers.push_back(p);
  }
  if (tokens < 0 || targets < 0)
    die(rt, "the gradients function lacks its tokens or targets");
  for (const Value &v : gradFn["results"].array) {
    Tensor t = readTensor(v);
    g.results.push_back(t);
    g.resultPointers.push_back(allocate(rt, t.count() * t.elementBytes()));
  }
  // A random batch.
  for (int which : {tokens, targets}) {
    auto *ids = static_cast<int32_t *>(g.argPointers[size_t(which)]);
    for (int64_t i = 0; i < g.args[size_t(which)].count(); ++i)
      ids[i] = int32_t(splitmix(seed ^ splitmix(uint64_t(2 * i + which))) %
                       uint64_t(vocab));
  }

  // The forward function on the same buffers.
  Buffers f;
  for (const Value &v : lossFn["args"].array) {
    Tensor t = readTensor(v);
    void *p = nullptr;
    for (size_t i = 0; i < g.args.size() && !p; ++i)
      if ((t.role == "param" && g.args[i].role == "param" &&
           g.args[i].name == t.name) ||
          (t.role == "input" && g.args[i].role == "input" &&
           g.args[i].input == t.input))
        p = g.argPointers[i];
    if (!p)
      die(rt, "forward argument %s has no buffer", t.name.c_str());
    f.args.push_back(t);
    f.argPointers.push_back(p);
  }
  double loss = 0;
  f.resultPointers.push_back(&loss);
  void *workspace = allocate(
      rt, std::max(gradFn["workspace"].asInt(), lossFn["workspace"].asInt()));
  auto evaluate = [&]() {
    if (axonn_forward(rt, f.argPointers.data(), f.resultPointers.data(),
                      workspace) != AXONN_OK)
      die(rt, "forward failed: %s", axonn_rt_last_error(rt));
    return loss;
  };
  if (axonn_gradients(rt, g.argPointers.data(), g.resultPointers.data(),
                      workspace) != AXONN_OK)
    die(rt, "gradients failed: %s", axonn_rt_last_error(rt));
  double base = evaluate();

  double worst = 0;
  int64_t checked = 0;
  std::printf("gradient check (fp64, five-point differences, step %g) at "
              "loss %.9f:\n",
              step, base);
  for (size_t r = 0; r < g.results.size(); ++r) {
    const Tensor &rt_ = g.results[r];
    int p = -1;
    for (int q : params)
      if (g.args[size_t(q)].name == rt_.name)
        p = q;
    if (p < 0)
      die(rt, "gradient %zu names no parameter (%s)", r, rt_.name.c_str());
    auto *param = static_cast<double *>(g.argPointers[size_t(p)]);
    const auto *grad = static_cast<const double *>(g.resultPointers[r]);
    int64_t n = rt_.count();
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      order[size_t(i)] = i;
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return std::fabs(grad[a]) > std::fabs(grad[b]);
    });
    double largest = n ? std::fabs(grad[order[0]]) : 0;
    std::vector<int64_t> picks(order.begin(),
                               order.begin() + std::min<int64_t>(3, n));
    for (int k = 0; k < 3 && n > 0; ++k)
      picks.push_back(int64_t(
          splitmix(seed ^ hashName(rt_.name) ^ uint64_t(k)) % uint64_t(n)));
    double paramWorst = 0;
    double wrong = r == 0 ? 1 + injectError : 1;
    for (int64_t i : picks) {
      double saved = param[i];
      auto at = [&](double offset) {
        param[i] = saved + offset;
        return evaluate();
      };
      double numeric =
          (-at(2 * step) + 8 * at(step) - 8 * at(-step) + at(-2 * step)) /
          (12 * step);
      param[i] = saved;
      double analytic = grad[i] * wrong;
      double scale = std::max({std::fabs(analytic), std::fabs(numeric),
                               0.01 * largest, 1e-300});
      paramWorst = std::max(paramWorst, std::fabs(analytic - numeric) / scale);
      ++checked;
    }
    worst = std::max(worst, paramWorst);
    std::printf("  %-50s max relative error %.2e\n", rt_.name.c_str(),
                paramWorst);
  }
  bool ok = worst <= tolerance;
  std::printf("gradient check: %zu parameters, %" PRId64
              " coordinates, max relative error %.2e (tolerance %g): %s\n",
              g.results.size(), checked, worst, tolerance,
              ok ? "ok" : "FAILED");
  std::fflush(stdout);
  axonn_rt_destroy(rt);
  return ok ? 0 : 1;
}
