//===- LocatedJSON.h - JSON values that remember where they came from -*- C++
//-*-===//
//
// A small strict JSON (RFC 8259) parser whose values keep their byte offset
// in the source text, so that a spec importer can point diagnostics at the
// exact key or value that is wrong. llvm::json forgets positions once parsed.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_SUPPORT_LOCATEDJSON_H
#define AXONN_SUPPORT_LOCATEDJSON_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::axonn::json {

struct Member;

/// One JSON value and the byte offset where it starts.
class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind = Kind::Null;
  size_t offset = 0;
  bool boolean = false;
  /// Numbers: the value as a double, and as an int64 when the literal is an
  /// integer (no fraction or exponent) that fits.
  double number = 0;
  std::optional<int64_t> integer;
  /// Strings: the unescaped UTF-8 text.
  std::string string;
  std::vector<Value> array;
  std::vector<Member> object;

  bool isNull() const { return kind == Kind::Null; }
  bool isObject() const { return kind == Kind::Object; }
  /// The member named `key` of an object, or null.
  const Member *find(llvm::StringRef key) const;
  /// "object", "string", ...: for diagnostics.
  llvm::StringRef kindName() const;
};

/// An object member; the key's own offset points at its opening quote.
struct Member {
  std::string key;
  size_t keyOffset = 0;
  Value value;
};

/// Where and why parsing failed.
struct ParseError {
  size_t offset = 0;
  std::string message;
};

/// Maximum nesting of arrays and objects; deeper input is rejected rather
/// than recursed into.
constexpr unsigned kMaxDepth = 128;

/// Parses `text` as one JSON document (surrounding whitespace allowed).
/// Duplicate keys in an object are an error.
bool parse(llvm::StringRef text, Value &result, ParseError &error);

} // namespace mlir::axonn::json

#endif // AXONN_SUPPORT_LOCATEDJSON_H
