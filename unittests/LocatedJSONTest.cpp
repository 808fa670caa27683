//===- LocatedJSONTest.cpp - the located JSON parser ---------------------===//

#include "axonn/Support/LocatedJSON.h"

#include "gtest/gtest.h"

using namespace mlir::axonn::json;

namespace {

Value parseOk(llvm::StringRef text) {
  Value value;
  ParseError error;
  EXPECT_TRUE(parse(text, value, error))
      << error.message << " at " << error.offset;
  return value;
}

ParseError parseBad(llvm::StringRef text) {
  Value value;
  ParseError error;
  EXPECT_FALSE(parse(text, value, error)) << "accepted: " << text.str();
  return error;
}

TEST(LocatedJSON, OffsetsPointAtValuesAndKeys) {
  Value doc = parseOk("{\n  \"a\": 12,\n  \"bb\": [true, null]\n}");
  ASSERT_TRUE(doc.isObject());
  ASSERT_EQ(doc.object.size(), 2u);
  EXPECT_EQ(doc.object[0].keyOffset, 4u);
  EXPECT_EQ(doc.object[0].value.offset, 9u);
  EXPECT_EQ(doc.object[1].key, "bb");
  EXPECT_EQ(doc.object[1].keyOffset, 15u);
  const Value &array = doc.object[1].value;
  ASSERT_EQ(array.kind, Value::Kind::Array);
  EXPECT_EQ(array.offset, 21u);
  EXPECT_EQ(array.array[1].offset, 28u);
  EXPECT_TRUE(array.array[1].isNull());
  EXPECT_EQ(doc.find("bb"), &doc.object[1]);
  EXPECT_EQ(doc.find("c"), nullptr);
}

TEST(LocatedJSON, Numbers) {
  Value ints = parseOk("[0, -7, 9007199254740993, 9223372036854775807]");
  EXPECT_EQ(*ints.array[0].integer, 0);
  EXPECT_EQ(*ints.array[1].integer, -7);
  EXPECT_EQ(*ints.array[2].integer, 9007199254740993LL);
  EXPECT_EQ(*ints.array[3].integer, INT64_MAX);
  Value floats = parseOk("[1.5, 2e3, -0.25E-2, 9223372036854775808]");
  EXPECT_FALSE(floats.array[0].integer.has_value());
  EXPECT_DOUBLE_EQ(floats.array[0].number, 1.5);
  EXPECT_FALSE(floats.array[1].integer.has_value());
  EXPECT_DOUBLE_EQ(floats.array[1].number, 2000);
  EXPECT_DOUBLE_EQ(floats.array[2].number, -0.0025);
  // Integers beyond int64 keep their double value only.
  EXPECT_FALSE(floats.array[3].integer.has_value());
}

TEST(LocatedJSON, StringEscapes) {
  Value v = parseOk(R"(["a\"b\\c\/\n\t", "\u00e9\ud83d\ude00"])");
  EXPECT_EQ(v.array[0].string, "a\"b\\c/\n\t");
  EXPECT_EQ(v.array[1].string, "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(LocatedJSON, ErrorsCarryTheirOffset) {
  struct Case {
    const char *text;
    size_t offset;
    const char *message;
  } cases[] = {
      {"", 0, "expected a JSON value"},
      {"{\"a\": 1,}", 8, "expected a string key"},
      {"{\"a\" 1}", 5, "expected ':'"},
      {"[1 2]", 3, "expected ',' or ']'"},
      {"{\"a\": 1, \"a\": 2}", 9, "duplicate key"},
      {"01", 1, "unexpected text after"},
      {"1.", 2, "expected a digit after '.'"},
      {"-", 1, "expected a digit"},
      {"1e+", 3, "expected a digit in exponent"},
      {"\"abc", 4, "unterminated string"},
      {"\"a\tb\"", 2, "control character"},
      {"\"\\x\"", 1, "invalid escape"},
      {"\"\\ud800\"", 1, "unpaired UTF-16 surrogate"},
      {"\"\\u12G4\"", 5, "four hex digits"},
      {"tru", 0, "expected a JSON value"},
      {"NaN", 0, "expected a JSON value"},
      {"1e400", 0, "out of range"},
      {"{} {}", 3, "unexpected text after"},
  };
  for (const Case &c : cases) {
    ParseError error = parseBad(c.text);
    EXPECT_EQ(error.offset, c.offset) << c.text;
    EXPECT_NE(error.message.find(c.message), std::string::npos)
        << c.text << ": " << error.message;
  }
}

TEST(LocatedJSON, NestingIsBounded) {
  std::string ok(kMaxDepth, '[');
  ok += std::string(kMaxDepth, ']');
  parseOk(ok);
  std::string deep(100000, '[');
  ParseError error = parseBad(deep);
  EXPECT_EQ(error.offset, kMaxDepth);
  EXPECT_NE(error.message.find("nested deeper"), std::string::npos);
}

} // namespace
