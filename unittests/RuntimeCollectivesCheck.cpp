//===- RuntimeCollectivesCheck.cpp - the runtime's collectives, real ranks ===//
//
//   mpirun -np N axonn-rt-collectives-check GX GY GZ GDATA
//
// On a grid of N = GX*GY*GZ*GDATA MPI ranks, runs every collective of the
// runtime over every ordered set of one or two grid axes (and all four):
// all-reduce (sum and max, in place and not), all-gather and reduce-scatter
// along the first and the second dimension. Each rank fills its input from
// its rank number, so every rank can compute what every collective must
// return; a mismatch prints the rank, the collective and the first wrong
// element and exits 1. Rank 0 prints the number of checks on success.
//
//===----------------------------------------------------------------------===//

#include "axonn_rt.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int64_t grid[4];

int64_t coordinate(int64_t rank, int axis) {
  int64_t stride = 1;
  for (int a = 0; a < 4; ++a) {
    if (a == axis)
      return (rank / stride) % grid[a];
    stride *= grid[a];
  }
  return 0;
}

int64_t groupIndex(int64_t rank, axonn_axes axes) {
  int64_t index = 0;
  for (int i = 0; i < axonn_axes_count(axes); ++i)
    index = index * grid[axonn_axes_axis(axes, i)] +
            coordinate(rank, axonn_axes_axis(axes, i));
  return index;
}

/// The ranks of `rank`'s group of `axes`, in group order.
std::vector<int64_t> group(int64_t rank, axonn_axes axes, int64_t world) {
  int64_t size = 1;
  for (int i = 0; i < axonn_axes_count(axes); ++i)
    size *= grid[axonn_axes_axis(axes, i)];
  std::vector<int64_t> members(size_t(size), -1);
  for (int64_t other = 0; other < world; ++other) {
    bool same = true;
    for (int a = 0; a < 4; ++a) {
      bool in = false;
      for (int i = 0; i < axonn_axes_count(axes); ++i)
        in |= axonn_axes_axis(axes, i) == a;
      if (!in && coordinate(other, a) != coordinate(rank, a))
        same = false;
    }
    if (same)
      members[size_t(groupIndex(other, axes))] = other;
  }
  return members;
}

/// The input of `rank`: element e of a [rows, cols] tensor.
float input(int64_t rank, int64_t e) {
  return float((rank + 1) * 100 + e % 97) * (e % 2 ? -1.0f : 1.0f);
}

int failures = 0, checks = 0;

void compare(axonn_rt *rt, const std::string &what,
             const std::vector<float> &got, const std::vector<float> &want) {
  ++checks;
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i]) {
      std::fprintf(stderr, "rank %lld: %s: element %zu is %g, expected %g\n",
                   (long long)axonn_rt_rank(rt), what.c_str(), i, got[i],
                   want[i]);
      ++failures;
      return;
    }
}

void require(axonn_rt *rt, axonn_status status) {
  if (status != AXONN_OK)
    axonn_rt_abort(rt, 2);
}

std::string name(axonn_axes axes) {
  static const char *names[] = {"x", "y", "z", "data"};
  std::string text = "[";
  for (int i = 0; i < axonn_axes_count(axes); ++i)
    text += std::string(i ? ", " : "") + names[axonn_axes_axis(axes, i)];
  return text + "]";
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s GX GY GZ GDATA\n", argv[0]);
    return 2;
  }
  for (int a = 0; a < 4; ++a)
    grid[a] = std::atoll(argv[a + 1]);
  axonn_rt *rt = nullptr;
  if (axonn_rt_create(grid, &rt) != AXONN_OK)
    axonn_rt_abort(rt, 2);
  int64_t rank = axonn_rt_rank(rt), world = axonn_rt_world_size(rt);

  std::vector<axonn_axes> sets;
  for (int32_t a = 0; a < 4; ++a)
    sets.push_back(axonn_axes_make(1, &a));
  for (int32_t a = 0; a < 4; ++a)
    for (int32_t b = 0; b < 4; ++b)
      if (a != b) {
        int32_t pair[2] = {a, b};
        sets.push_back(axonn_axes_make(2, pair));
      }
  int32_t all[4] = {0, 1, 2, 3};
  sets.push_back(axonn_axes_make(4, all));

  const int64_t rows = 12, cols = 6, count = rows * cols;
  std::vector<float> in(count);
  for (int64_t e = 0; e < count; ++e)
    in[size_t(e)] = input(rank, e);

  for (axonn_axes axes : sets) {
    std::vector<int64_t> members = group(rank, axes, world);
    int64_t size = int64_t(members.size());
    axonn_request request;
    // All-reduce, sum and max, out of place and in place.
    for (int max = 0; max < 2; ++max) {
      std::vector<float> want(count), out(count), inPlace = in;
      for (int64_t e = 0; e < count; ++e) {
        float r = max ? -INFINITY : 0.0f;
        for (int64_t m : members)
          r = max ? std::max(r, input(m, e)) : r + input(m, e);
        want[size_t(e)] = r;
      }
      axonn_reduction op = max ? AXONN_REDUCE_MAX : AXONN_REDUCE_SUM;
      require(rt, axonn_rt_all_reduce_start(rt, in.data(), out.data(), count,
                                            axes, op, &request));
      require(rt, axonn_rt_wait(rt, request));
      compare(rt, "all_reduce " + name(axes), out, want);
      require(rt, axonn_rt_all_reduce_start(rt, inPlace.data(), inPlace.data(),
                                            count, axes, op, &request));
      require(rt, axonn_rt_wait(rt, request));
      compare(rt, "in-place all_reduce " + name(axes), inPlace, want);
    }
    int64_t shape[2] = {rows, cols};
    for (int dim = 0; dim < 2; ++dim) {
      // [outer, rows, inner] views of the [rows, cols] input.
      int64_t outer = dim == 0 ? 1 : rows, middle = shape[dim],
              inner = dim == 0 ? cols : 1;
      // All-gather: members' inputs concatenated along dim.
      std::vector<float> want(count * size), out(count * size);
      for (int64_t g = 0; g < size; ++g)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            int64_t at = dim == 0 ? (g * rows + r) * cols + c
                                  : r * (cols * size) + g * cols + c;
            want[size_t(at)] = input(members[size_t(g)], r * cols + c);
          }
      require(rt, axonn_rt_all_gather_start(rt, in.data(), out.data(), outer,
                                            middle, inner, axes, &request));
      require(rt, axonn_rt_wait(rt, request));
      compare(rt, "all_gather dim " + std::to_string(dim) + " " + name(axes),
              out, want);
      // Reduce-scatter: the sum, this rank's slice along dim.
      if (shape[dim] % size != 0)
        continue;
      int64_t piece = shape[dim] / size, index = groupIndex(rank, axes);
      std::vector<float> slice(count / size), expect(count / size);
      for (int64_t r = 0; r < (dim == 0 ? piece : rows); ++r)
        for (int64_t c = 0; c < (dim == 1 ? piece : cols); ++c) {
          int64_t gr = dim == 0 ? index * piece + r : r;
          int64_t gc = dim == 1 ? index * piece + c : c;
          float sum = 0;
          for (int64_t m : members)
            sum += input(m, gr * cols + gc);
          expect[size_t(r * (dim == 1 ? piece : cols) + c)] = sum;
        }
      require(rt, axonn_rt_reduce_scatter_start(rt, in.data(), slice.data(),
                                                outer, middle, inner, axes,
                                                AXONN_REDUCE_SUM, &request));
      require(rt, axonn_rt_wait(rt, request));
      compare(rt,
              "reduce_scatter dim " + std::to_string(dim) + " " + name(axes),
              slice, expect);
    }
  }
  if (rank == 0 && failures == 0)
    std::printf("collectives on grid %lldx%lldx%lldx%lld: %d checks per rank "
                "ok\n",
                (long long)grid[0], (long long)grid[1], (long long)grid[2],
                (long long)grid[3], checks);
  axonn_rt_destroy(rt);
  return failures ? 1 : 0;
}
