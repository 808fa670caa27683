//===- CostModelTest.cpp - collective placement, GEMM efficiency, grids --===//
//
// Hand-computed values for the alpha-beta ring model on each placement, the
// efficiency interpolation, and the candidate counts of the grid search.
//
//===----------------------------------------------------------------------===//

#include "axonn/Analysis/CostModel.h"
#include "axonn/Analysis/Planner.h"

#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::axonn;

namespace {

class CostModelTest : public ::testing::Test {
protected:
  CostModelTest() {
    context.loadDialect<AxonnDialect>();
    // 4 GPUs and 2 NICs per node; 100 GB/s inside a node, 10 GB/s per NIC;
    // latency 1 us inside, 5 us across.
    cluster =
        ClusterAttr::get(&context, "unit", 64, 4, 2, APFloat(100e9),
                         APFloat(10e9), APFloat(1e-6), APFloat(5e-6),
                         APFloat(100e12), int64_t(1) << 34, APFloat(1e12), {});
    model.batch = 8;
    model.seqLen = 16;
  }

  MLIRContext context;
  ClusterAttr cluster;
  ModelShape model;
};

TEST_F(CostModelTest, RingInsideANode) {
  CostModel cost(model, cluster);
  // All-reduce over x = 4 in one node: alpha + 2 (p-1)/p * bytes / bw.
  EXPECT_DOUBLE_EQ(cost.collectiveSeconds(CollectiveKind::AllReduce, {Axis::x},
                                          {4, 1, 1, 1}, 1e6),
                   1e-6 + 2 * 0.75 * 1e6 / 100e9);
  // All-gather and reduce-scatter move (p-1)/p.
  EXPECT_DOUBLE_EQ(cost.collectiveSeconds(CollectiveKind::AllGather, {Axis::y},
                                          {2, 2, 1, 1}, 1e6),
                   1e-6 + 0.5 * 1e6 / 100e9);
  // A group of one rank costs nothing.
  EXPECT_EQ(cost.collectiveSeconds(CollectiveKind::AllReduce, {Axis::z},
                                   {4, 1, 1, 1}, 1e6),
            0.0);
}

TEST_F(CostModelTest, RingAcrossNodesSharesNics) {
  CostModel cost(model, cluster);
  // y = 4 with stride x = 2 spans 8 ranks, two nodes: 2 rings leave each
  // node through its 2 NICs, each ring at 10 GB/s.
  EXPECT_DOUBLE_EQ(cost.collectiveSeconds(CollectiveKind::AllGather, {Axis::y},
                                          {2, 4, 1, 1}, 1e6),
                   5e-6 + 0.75 * 1e6 / 10e9);
  // data = 2 with stride 4: every GPU's ring leaves the node; 4 rings share
  // 2 NICs, 5 GB/s each.
  EXPECT_DOUBLE_EQ(cost.collectiveSeconds(CollectiveKind::AllReduce,
                                          {Axis::data}, {4, 1, 1, 2}, 1e6),
                   5e-6 + 2 * 0.5 * 1e6 / 5e9);
  // x = 3 fits in a 4-GPU node's size but groups straddle nodes.
  EXPECT_DOUBLE_EQ(cost.collectiveSeconds(CollectiveKind::AllReduce, {Axis::x},
                                          {3, 1, 1, 4}, 3e6),
                   5e-6 + 2 * (2.0 / 3) * 3e6 / 10e9);
}

TEST_F(CostModelTest, GemmEfficiencyInterpolatesInLogSize) {
  CostModel cost(model, cluster); // no table: the default one
  EXPECT_DOUBLE_EQ(cost.gemmEfficiency(1), 0.05);
  EXPECT_DOUBLE_EQ(cost.gemmEfficiency(64), 0.25);
  // Halfway between 64 and 256 in log size.
  EXPECT_NEAR(cost.gemmEfficiency(128), 0.40, 1e-12);
  EXPECT_DOUBLE_EQ(cost.gemmEfficiency(1 << 20), 0.8);
  // 2 * 4096^3 FLOPs at 80% of 100 TFLOP/s.
  EXPECT_DOUBLE_EQ(cost.gemmSeconds(4096, 4096, 4096),
                   2.0 * 4096 * 4096 * 4096 / (100e12 * 0.8));
}

TEST(Planner, CandidateCounts) {
  // Powers of two: C(k + 3, 3) ordered factorizations of 2^k into 4 factors,
  // the counts the AxoNN paper reports.
  EXPECT_EQ(enumerateGrids(1024).size(), 286u);
  EXPECT_EQ(enumerateGrids(4096).size(), 455u);
  EXPECT_EQ(enumerateGrids(32768).size(), 816u);
  // 12 = 2^2 * 3: C(5, 3) * C(4, 3) = 40; every grid multiplies out.
  std::vector<Grid> grids = enumerateGrids(12);
  EXPECT_EQ(grids.size(), 40u);
  for (const Grid &grid : grids)
    EXPECT_EQ(grid.ranks(), 12);
  EXPECT_EQ(enumerateGrids(1).size(), 1u);
  EXPECT_EQ(enumerateGrids(7).size(), 4u);
}

TEST(Planner, GridStrides) {
  Grid grid{2, 3, 4, 5};
  EXPECT_EQ(grid.stride(Axis::x), 1);
  EXPECT_EQ(grid.stride(Axis::y), 2);
  EXPECT_EQ(grid.stride(Axis::z), 6);
  EXPECT_EQ(grid.stride(Axis::data), 24);
  EXPECT_EQ(grid.str(), "2x3x4x5");
}

} // namespace
