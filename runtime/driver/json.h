//===- json.h - a small JSON reader for the program manifest ---*- C++ -*-===//
//
// The driver reads the manifest the compiler embeds in the program (and
// checkpoint headers). It never links MLIR or LLVM, so it has its own
// reader: objects, arrays, strings (with \uXXXX escapes), numbers, true,
// false and null.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DRIVER_JSON_H
#define AXONN_DRIVER_JSON_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace axonn::json {

struct Value {
  enum class Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object
  } kind = Kind::Null;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Value> array;
  std::map<std::string, Value> object;

  bool has(const std::string &key) const {
    return kind == Kind::Object && object.count(key);
  }
  /// The member `key`, or a null value.
  const Value &operator[](const std::string &key) const;
  const Value &operator[](size_t i) const { return array.at(i); }
  size_t size() const {
    return kind == Kind::Array ? array.size() : object.size();
  }
  int64_t asInt(int64_t otherwise = 0) const {
    return kind == Kind::Number ? int64_t(number) : otherwise;
  }
  /// Whether this is a whole number from `low` to `high` (none of
  /// 1.5, NaN, 1e300 or a string); if so, sets `out` to it.
  bool integer(int64_t &out, int64_t low = INT64_MIN,
               int64_t high = int64_t(1) << 53) const {
    if (kind != Kind::Number || !(number >= double(low)) ||
        !(number <= double(high)) || number != double(int64_t(number)))
      return false;
    out = int64_t(number);
    return true;
  }
  double asDouble(double otherwise = 0) const {
    return kind == Kind::Number ? number : otherwise;
  }
  const std::string &asString() const { return string; }
};

/// Parses `text`; on a syntax error returns false and says where in
/// `error`.
bool parse(const std::string &text, Value &result, std::string &error);

/// Writes `s` as a JSON string literal.
std::string quote(const std::string &s);

} // namespace axonn::json

#endif // AXONN_DRIVER_JSON_H
