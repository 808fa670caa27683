//===- axonn-calibrate.cpp - measure a machine for the planner -----------===//
//
// Run under MPI on the machine to plan for (`mpirun -np N axonn-calibrate -o
// machine.json`). Measures what the cost model needs and writes a machine
// file that `--axonn-plan="cluster=machine.json"` and specs read:
//
//  - collectives: all-reduce, all-gather and reduce-scatter over groups of
//    2, 4, ... ranks (every group of a size at once, as a 4D step does),
//    fitted to alpha + f * bytes / bandwidth with the ring factor f; groups
//    inside a node give the intra-node numbers, groups across nodes the
//    inter-node ones;
//  - GEMM throughput of square shapes (and any --gemm MxNxK) on every rank
//    at once: the best rate is the peak, the rest the efficiency table;
//  - memory bandwidth (a STREAM triad on every rank at once) and memory per
//    rank.
//
// This is the CPU/MPI version (fp32 BLAS GEMMs); the CUDA backend will
// measure NCCL and cuBLASLt the same way.
//
//===----------------------------------------------------------------------===//

#include <cblas.h>
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string output = "-";
  std::string name = "calibrated";
  bool quick = false;
  std::vector<std::array<long, 3>> gemms;
};

struct Fit {
  double alpha = 0, bandwidth = 0; // seconds, bytes per second
};

int worldRank = 0, worldSize = 1;

/// A mistake every rank makes alike (bad options): every rank stops.
[[noreturn]] void usageError(const std::string &message) {
  if (worldRank == 0)
    std::fprintf(stderr, "axonn-calibrate: %s\n", message.c_str());
  MPI_Finalize();
  std::exit(1);
}

/// A failure on some ranks: the others may wait forever, so abort all.
[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "axonn-calibrate: %s\n", message.c_str());
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::exit(1);
}

void check(int status, const char *call) {
  if (status != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(status, text, &length);
    fail(std::string("rank ") + std::to_string(worldRank) + ": " + call +
         " failed: " + std::string(text, length));
  }
}

double now() { return MPI_Wtime(); }

/// The slowest rank's time: a collective step is as slow as its slowest
/// group.
double slowest(double seconds) {
  double result = 0;
  check(MPI_Allreduce(&seconds, &result, 1, MPI_DOUBLE, MPI_MAX,
                      MPI_COMM_WORLD),
        "MPI_Allreduce");
  return result;
}

/// Least squares T = alpha + x / bandwidth over (x, T) points, x being the
/// bytes each link carries, in relative terms (each point weighted by
/// 1/T^2): sizes span 4 KiB to 16 MiB, and an absolute fit would let the
/// largest messages decide alpha, which the small collectives of small
/// models then miss.
Fit fitLine(const std::vector<std::pair<double, double>> &points) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (auto [x, y] : points) {
    double w = y > 0 ? 1.0 / (y * y) : 0;
    sw += w;
    sx += w * x;
    sy += w * y;
    sxx += w * x * x;
    sxy += w * x * y;
  }
  double slope = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
  double intercept = (sy - slope * sx) / sw;
  Fit fit;
  fit.alpha = std::max(0.0, intercept);
  fit.bandwidth = slope > 0 ? 1.0 / slope : 0;
  return fit;
}

enum class Op { AllReduce, AllGather, ReduceScatter };
const char *opName(Op op) {
  switch (op) {
  case Op::AllReduce:
    return "all-reduce";
  case Op::AllGather:
    return "all-gather";
  case Op::ReduceScatter:
    return "reduce-scatter";
  }
  return "?";
}

/// Times `op` of `bytes` (the full buffer) over `comm`, every group at
/// once; returns the slowest rank's mean.
double timeCollective(Op op, MPI_Comm comm, long bytes, int repeats) {
  int p = 1;
  if (comm != MPI_COMM_NULL)
    MPI_Comm_size(comm, &p);
  long elements = std::max<long>(p, bytes / 4 / p * p);
  std::vector<float> send(elements, 1.0f), receive(elements, 0.0f);
  std::vector<int> counts(p, static_cast<int>(elements / p));
  auto once = [&] {
    if (comm == MPI_COMM_NULL)
      return;
    switch (op) {
    case Op::AllReduce:
      check(MPI_Allreduce(send.data(), receive.data(), elements, MPI_FLOAT,
                          MPI_SUM, comm),
            "MPI_Allreduce");
      break;
    case Op::AllGather:
      check(MPI_Allgather(send.data(), elements / p, MPI_FLOAT,
                          receive.data(), elements / p, MPI_FLOAT, comm),
            "MPI_Allgather");
      break;
    case Op::ReduceScatter:
      check(MPI_Reduce_scatter_block(send.data(), receive.data(), elements / p,
                                     MPI_FLOAT, MPI_SUM, comm),
            "MPI_Reduce_scatter_block");
      break;
    }
  };
  once();
  check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  double start = now();
  for (int i = 0; i < repeats; ++i)
    once();
  return slowest((now() - start) / repeats);
}

/// One rank's GEMM rate in FLOP/s for an m x n x k product.
double timeGemm(long m, long n, long k, double budget) {
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n, 0.0f);
  auto once = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f,
                a.data(), k, b.data(), k, 0.0f, c.data(), n);
  };
  once();
  int iterations = 0;
  double start = now(), elapsed = 0;
  do {
    once();
    ++iterations;
    elapsed = now() - start;
  } while (elapsed < budget);
  return 2.0 * m * n * k * iterations / elapsed;
}

/// One rank's triad bandwidth in bytes per second.
double timeTriad(long elements, double budget) {
  std::vector<double> a(elements, 0), b(elements, 1), c(elements, 2);
  int iterations = 0;
  double start = now(), elapsed = 0;
  do {
    for (long i = 0; i < elements; ++i)
      a[i] = b[i] + 3.0 * c[i];
    ++iterations;
    elapsed = now() - start;
  } while (elapsed < budget);
  volatile double sink = a[elements / 2];
  (void)sink;
  return 3.0 * 8 * elements * iterations / elapsed;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/// The same value from every rank, gathered to rank 0 and reduced there.
std::vector<double> gatherValues(double value) {
  std::vector<double> all(worldSize);
  check(MPI_Gather(&value, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, 0,
                   MPI_COMM_WORLD),
        "MPI_Gather");
  return all;
}

Options parseOptions(int argc, char **argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        usageError("option " + arg + " needs a value");
      return argv[++i];
    };
    if (arg == "-o" || arg == "--output") {
      options.output = value();
    } else if (arg == "--name") {
      options.name = value();
    } else if (arg == "--quick") {
      options.quick = true;
    } else if (arg == "--gemm") {
      std::string shape = value();
      long m, n, k;
      char x1, x2;
      std::istringstream in(shape);
      if (!(in >> m >> x1 >> n >> x2 >> k) || x1 != 'x' || x2 != 'x' ||
          m < 1 || n < 1 || k < 1 || !in.eof())
        usageError("--gemm " + shape + ": expected MxNxK with positive sizes");
      // (the three fp32 operands are allocated on every rank)
      if (double(m) * k + double(k) * n + double(m) * n > double(1 << 28))
        usageError("--gemm " + shape +
                   ": its operands have more than 2^28 elements (1 GiB of "
                   "fp32) together");
      options.gemms.push_back({m, n, k});
    } else if (arg == "-h" || arg == "--help") {
      if (worldRank == 0)
        std::printf(
            "usage: mpirun -np N axonn-calibrate [-o machine.json] "
            "[--name NAME] [--quick] [--gemm MxNxK]...\n"
            "Measures collectives, GEMM throughput and memory bandwidth on "
            "this machine and writes an axonn machine file.\n");
      MPI_Finalize();
      std::exit(0);
    } else {
      usageError("unknown option " + arg + " (see --help)");
    }
  }
  // The machine file replaces the output by a rename: a device or a
  // directory there would be replaced (as root, /dev/full was).
  struct stat st;
  if (options.output != "-" && stat(options.output.c_str(), &st) == 0 &&
      !S_ISREG(st.st_mode))
    usageError("-o " + options.output + " is not a regular file");
  return options;
}

std::string jsonString(const std::string &text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  return out + "\"";
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &worldRank);
  MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
  Options options = parseOptions(argc, argv);
  if (worldSize < 2)
    usageError(
        "run under mpirun with at least 2 ranks: collectives need a group");

  // Ranks per node, and whether ranks are numbered node by node.
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, worldRank,
                            MPI_INFO_NULL, &node),
        "MPI_Comm_split_type");
  int perNode = 0;
  MPI_Comm_size(node, &perNode);
  int minPerNode = 0;
  check(MPI_Allreduce(&perNode, &minPerNode, 1, MPI_INT, MPI_MIN,
                      MPI_COMM_WORLD),
        "MPI_Allreduce");
  perNode = minPerNode;

  const int repeats = options.quick ? 5 : 20;
  const long maxBytes = options.quick ? (1L << 20) : (16L << 20);
  const double budget = options.quick ? 0.02 : 0.2;

  // Collectives over groups of consecutive ranks (x-like placement).
  std::vector<Fit> intra, inter;
  std::ostringstream collectiveLog;
  for (int p = 2; p <= worldSize; p *= 2) {
    int groups = worldSize / p;
    int color = worldRank < groups * p ? worldRank / p : MPI_UNDEFINED;
    MPI_Comm comm;
    check(MPI_Comm_split(MPI_COMM_WORLD, color, worldRank, &comm),
          "MPI_Comm_split");
    bool insideNode = p <= perNode && perNode % p == 0;
    for (Op op : {Op::AllReduce, Op::AllGather, Op::ReduceScatter}) {
      std::vector<std::pair<double, double>> points;
      double factor =
          (op == Op::AllReduce ? 2.0 : 1.0) * (p - 1) / static_cast<double>(p);
      for (long bytes = 4096; bytes <= maxBytes; bytes *= 4) {
        double seconds = timeCollective(op, comm, bytes, repeats);
        points.push_back({factor * bytes, seconds});
      }
      Fit fit = fitLine(points);
      (insideNode ? intra : inter).push_back(fit);
      collectiveLog << opName(op) << " over " << p << " ranks ("
                    << (insideNode ? "inside a node" : "across nodes")
                    << "): alpha " << fit.alpha * 1e6 << " us, "
                    << fit.bandwidth / 1e9 << " GB/s; ";
    }
    if (comm != MPI_COMM_NULL)
      MPI_Comm_free(&comm);
  }

  // GEMMs on every rank at once.
  std::vector<long> squares = {16, 32, 64, 128, 256, 512};
  if (!options.quick)
    squares.push_back(1024);
  std::vector<std::pair<long, double>> squareRates;
  double peak = 0;
  std::ostringstream gemmLog;
  for (long d : squares) {
    double rate = median(gatherValues(timeGemm(d, d, d, budget)));
    check(MPI_Bcast(&rate, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    squareRates.push_back({d, rate});
    peak = std::max(peak, rate);
    gemmLog << d << "^3: " << rate / 1e9 << " GFLOP/s; ";
  }
  for (auto [m, n, k] : options.gemms) {
    double rate = median(gatherValues(timeGemm(m, n, k, budget)));
    check(MPI_Bcast(&rate, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    peak = std::max(peak, rate);
    gemmLog << m << "x" << n << "x" << k << ": " << rate / 1e9
            << " GFLOP/s; ";
  }

  // Memory.
  long triadElements = options.quick ? (1L << 20) : (4L << 20);
  double memoryBandwidth =
      median(gatherValues(timeTriad(triadElements, budget)));
  double physical = double(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);

  if (worldRank == 0) {
    auto medianFit = [](const std::vector<Fit> &fits, bool alpha) {
      std::vector<double> values;
      for (const Fit &fit : fits)
        values.push_back(alpha ? fit.alpha : fit.bandwidth);
      return median(values);
    };
    bool multiNode = !inter.empty();
    const std::vector<Fit> &interFits = multiNode ? inter : intra;
    char date[32];
    std::time_t t = std::time(nullptr);
    std::strftime(date, sizeof(date), "%Y-%m-%d", std::gmtime(&t));

    std::ostringstream json;
    json.precision(6);
    json << "{\n  \"name\": " << jsonString(options.name) << ",\n"
         << "  \"gpus\": " << worldSize << ",\n"
         << "  \"gpus_per_node\": " << perNode << ",\n"
         << "  \"nics_per_node\": 1,\n"
         << "  \"intra_node_GBps\": " << medianFit(intra, false) / 1e9 << ",\n"
         << "  \"inter_node_GBps\": " << medianFit(interFits, false) / 1e9
         << ",\n"
         << "  \"intra_node_latency_us\": " << medianFit(intra, true) * 1e6
         << ",\n"
         << "  \"inter_node_latency_us\": " << medianFit(interFits, true) * 1e6
         << ",\n"
         << "  \"peak_bf16_TFLOPs\": " << peak / 1e12 << ",\n"
         << "  \"memory_GiB\": " << physical / perNode / (1024.0 * 1024 * 1024)
         << ",\n"
         << "  \"memory_GBps\": " << memoryBandwidth / 1e9 << ",\n"
         << "  \"gemm_efficiency\": [";
    for (size_t i = 0; i < squareRates.size(); ++i)
      json << (i ? ", " : "") << "[" << squareRates[i].first << ", "
           << std::min(1.0, std::max(1e-6, squareRates[i].second / peak))
           << "]";
    json << "],\n  \"sources\": [\n"
         << "    " << jsonString("axonn-calibrate on " + std::string(date) +
                                 " with " + std::to_string(worldSize) +
                                 " MPI ranks, " + std::to_string(perNode) +
                                 " per node" +
                                 (options.quick ? " (--quick)" : ""))
         << ",\n    "
         << jsonString("CPU backend: fp32 BLAS GEMMs stand in for bf16; "
                       "peak is the best measured rate")
         << ",\n    "
         << jsonString(multiNode ? "inter-node numbers from groups that "
                                   "cross nodes"
                                 : "single node: the inter-node numbers "
                                   "repeat the intra-node ones")
         << ",\n    " << jsonString("collectives: " + collectiveLog.str())
         << ",\n    " << jsonString("GEMMs per rank: " + gemmLog.str())
         << "\n  ]\n}\n";
    if (options.output == "-") {
      std::fputs(json.str().c_str(), stdout);
    } else {
      // Write to a temporary file and rename, so a failure leaves no
      // partial machine file.
      std::string temporary = options.output + ".tmp";
      std::ofstream out(temporary);
      out << json.str();
      out.close();
      if (!out || std::rename(temporary.c_str(), options.output.c_str()) != 0) {
        std::remove(temporary.c_str());
        fail("cannot write " + options.output + ": " + std::strerror(errno));
      }
    }
  }
  MPI_Comm_free(&node);
  MPI_Finalize();
  return 0;
}
