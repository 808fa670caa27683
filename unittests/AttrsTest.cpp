//===- AttrsTest.cpp - grid and layout arithmetic, float printing --------===//

#include "axonn/Dialect/Axonn/IR/AxonnDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

using namespace mlir;
using namespace mlir::axonn;

namespace {

class AttrsTest : public ::testing::Test {
protected:
  AttrsTest() { context.loadDialect<AxonnDialect>(); }

  Attribute parse(llvm::StringRef text) {
    return parseAttribute(text, &context);
  }
  std::string print(Attribute attr) {
    std::string text;
    llvm::raw_string_ostream os(text);
    attr.print(os);
    return text;
  }

  MLIRContext context;
};

TEST_F(AttrsTest, GridGroupSizes) {
  auto grid = GridAttr::get(&context, 2, 3, 4, 5);
  EXPECT_EQ(grid.getNumRanks(), 120);
  EXPECT_EQ(grid.getSize(Axis::y), 3);
  EXPECT_EQ(grid.getGroupSize({}), 1);
  EXPECT_EQ(grid.getGroupSize({Axis::z, Axis::data}), 20);
  EXPECT_EQ(grid.getGroupSize({Axis::x, Axis::y, Axis::z, Axis::data}), 120);
}

TEST_F(AttrsTest, GridCoordinates) {
  // algorithm.md §1: x = r % Gx, y = (r / Gx) % Gy, z = (r / (Gx Gy)) % Gz,
  // data = r / (Gx Gy Gz). Rank 101 of 2x3x4x5: x 1, y 2, z 0, data 4.
  auto grid = GridAttr::get(&context, 2, 3, 4, 5);
  EXPECT_EQ(grid.getCoordinate(101, Axis::x), 1);
  EXPECT_EQ(grid.getCoordinate(101, Axis::y), 2);
  EXPECT_EQ(grid.getCoordinate(101, Axis::z), 0);
  EXPECT_EQ(grid.getCoordinate(101, Axis::data), 4);
  // In a group over [z, data], z is major: 0 * 5 + 4.
  EXPECT_EQ(grid.getGroupIndex(101, {Axis::z, Axis::data}), 4);
  EXPECT_EQ(grid.getGroupIndex(101, {Axis::data, Axis::z}), 16);
  EXPECT_EQ(grid.getGroupIndex(101, {}), 0);
}

TEST_F(AttrsTest, LayoutLocalShape) {
  auto grid = GridAttr::get(&context, 2, 4, 2, 3);
  auto layout = cast<LayoutAttr>(
      parse("#axonn.layout<[[z, data], [], [x]], storage = [y]>"));
  auto local = layout.getLocalShape({12, 1024, 768}, grid);
  ASSERT_TRUE(succeeded(local));
  EXPECT_EQ(*local, (SmallVector<int64_t>{2, 1024, 384}));
  // 10 sequences cannot be split over z*data = 6 ranks; rank mismatch fails.
  EXPECT_TRUE(failed(layout.getLocalShape({10, 1024, 768}, grid)));
  EXPECT_TRUE(failed(layout.getLocalShape({12, 768}, grid)));
  EXPECT_EQ(layout.getAllAxes(),
            (SmallVector<Axis>{Axis::z, Axis::data, Axis::x, Axis::y}));
}

TEST_F(AttrsTest, FloatsPrintShortAndRoundTrip) {
  for (double value : {0.95, 1e-8, 6e-4, 1024.0, 0.1, 1.0 / 3.0, 5e5,
                       2.2250738585072014e-308, 123456789.125}) {
    auto training =
        TrainingAttr::get(&context, 8, 32, APFloat(value), APFloat(0.0), 0, 1,
                          LRSchedule::cosine, APFloat(0.9), APFloat(0.95),
                          APFloat(1e-8), APFloat(0.0), APFloat(1.0), 0);
    std::string text = print(training);
    Attribute reparsed = parse(text);
    ASSERT_TRUE(reparsed) << text;
    EXPECT_EQ(reparsed, training) << text;
  }
  auto training =
      TrainingAttr::get(&context, 8, 32, APFloat(6e-4), APFloat(0.0), 0, 1,
                        LRSchedule::cosine, APFloat(0.9), APFloat(0.95),
                        APFloat(1e-8), APFloat(0.0), APFloat(1.0), 0);
  std::string text = print(training);
  EXPECT_NE(text.find("lr = 0.0006"), std::string::npos) << text;
  EXPECT_NE(text.find("beta2 = 0.95"), std::string::npos) << text;
  EXPECT_NE(text.find("eps = 1.0e-08"), std::string::npos) << text;
}

} // namespace
