//===- LocatedJSON.cpp - JSON values that remember where they came from --===//
//
// A recursive-descent parser over the grammar of RFC 8259. Every rejection
// carries the byte offset of the offending character, and nesting is bounded
// so hostile input cannot exhaust the stack.
//
//===----------------------------------------------------------------------===//

#include "axonn/Support/LocatedJSON.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/ConvertUTF.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace mlir::axonn::json;

const Member *Value::find(llvm::StringRef key) const {
  for (const Member &member : object)
    if (member.key == key)
      return &member;
  return nullptr;
}

llvm::StringRef Value::kindName() const {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "a boolean";
  case Kind::Number:
    return "a number";
  case Kind::String:
    return "a string";
  case Kind::Array:
    return "an array";
  case Kind::Object:
    return "an object";
  }
  return "a value";
}

namespace {
class Parser {
public:
  Parser(llvm::StringRef text, ParseError &error) : text(text), error(error) {}

  bool parseDocument(Value &result) {
    skipSpace();
    if (!parseValue(result, 0))
      return false;
    skipSpace();
    if (pos != text.size())
      return fail(pos, "unexpected text after the JSON value");
    return true;
  }

private:
  llvm::StringRef text;
  ParseError &error;
  size_t pos = 0;

  bool fail(size_t at, std::string message) {
    error.offset = at;
    error.message = std::move(message);
    return false;
  }

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  void skipSpace() {
    while (!atEnd() && (text[pos] == ' ' || text[pos] == '\t' ||
                        text[pos] == '\n' || text[pos] == '\r'))
      ++pos;
  }

  std::string describeHere() const {
    if (atEnd())
      return "end of input";
    unsigned char c = text[pos];
    if (c >= 0x20 && c < 0x7f)
      return std::string("'") + static_cast<char>(c) + "'";
    return "byte 0x" + llvm::utohexstr(c, /*LowerCase=*/true);
  }

  bool parseValue(Value &value, unsigned depth) {
    value.offset = pos;
    switch (peek()) {
    case '{':
      return parseObject(value, depth);
    case '[':
      return parseArray(value, depth);
    case '"':
      value.kind = Value::Kind::String;
      return parseString(value.string);
    case 't':
      return parseLiteral("true", value, Value::Kind::Bool, true);
    case 'f':
      return parseLiteral("false", value, Value::Kind::Bool, false);
    case 'n':
      return parseLiteral("null", value, Value::Kind::Null, false);
    default:
      if (peek() == '-' || llvm::isDigit(peek()))
        return parseNumber(value);
      return fail(pos, "expected a JSON value, found " + describeHere());
    }
  }

  bool parseLiteral(llvm::StringRef word, Value &value, Value::Kind kind,
                    bool boolean) {
    if (!text.substr(pos).starts_with(word))
      return fail(pos, "expected a JSON value, found " + describeHere());
    pos += word.size();
    value.kind = kind;
    value.boolean = boolean;
    return true;
  }

  bool parseNumber(Value &value) {
    size_t start = pos;
    bool integral = true;
    if (peek() == '-')
      ++pos;
    if (peek() == '0') {
      ++pos;
    } else if (llvm::isDigit(peek())) {
      while (llvm::isDigit(peek()))
        ++pos;
    } else {
      return fail(pos, "expected a digit in number, found " + describeHere());
    }
    if (peek() == '.') {
      integral = false;
      ++pos;
      if (!llvm::isDigit(peek()))
        return fail(pos, "expected a digit after '.', found " + describeHere());
      while (llvm::isDigit(peek()))
        ++pos;
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos;
      if (peek() == '+' || peek() == '-')
        ++pos;
      if (!llvm::isDigit(peek()))
        return fail(pos,
                    "expected a digit in exponent, found " + describeHere());
      while (llvm::isDigit(peek()))
        ++pos;
    }
    std::string literal = text.slice(start, pos).str();
    value.kind = Value::Kind::Number;
    errno = 0;
    value.number = std::strtod(literal.c_str(), nullptr);
    if (!std::isfinite(value.number))
      return fail(start, "number " + literal + " is out of range");
    if (integral) {
      errno = 0;
      long long parsed = std::strtoll(literal.c_str(), nullptr, 10);
      if (errno == 0)
        value.integer = parsed;
    }
    return true;
  }

  bool parseHex4(unsigned &code) {
    code = 0;
    for (int i = 0; i < 4; ++i) {
      if (!llvm::isHexDigit(peek()))
        return fail(pos, "expected four hex digits after \\u");
      code = code * 16 + llvm::hexDigitValue(peek());
      ++pos;
    }
    return true;
  }

  bool parseString(std::string &out) {
    ++pos; // opening quote
    out.clear();
    while (true) {
      if (atEnd())
        return fail(pos, "unterminated string");
      char c = text[pos];
      if (c == '"') {
        ++pos;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20)
        return fail(pos, "control character in string (escape it)");
      if (c != '\\') {
        out.push_back(c);
        ++pos;
        continue;
      }
      size_t escape = pos++;
      switch (peek()) {
      case '"':
      case '\\':
      case '/':
        out.push_back(peek());
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        ++pos;
        unsigned code;
        if (!parseHex4(code))
          return false;
        if (code >= 0xD800 && code <= 0xDBFF) {
          // A high surrogate must be followed by an escaped low surrogate.
          unsigned low;
          if (!text.substr(pos).starts_with("\\u"))
            return fail(escape, "unpaired UTF-16 surrogate in \\u escape");
          pos += 2;
          if (!parseHex4(low))
            return false;
          if (low < 0xDC00 || low > 0xDFFF)
            return fail(escape, "unpaired UTF-16 surrogate in \\u escape");
          code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        } else if (code >= 0xDC00 && code <= 0xDFFF) {
          return fail(escape, "unpaired UTF-16 surrogate in \\u escape");
        }
        char buffer[UNI_MAX_UTF8_BYTES_PER_CODE_POINT];
        char *end = buffer;
        llvm::ConvertCodePointToUTF8(code, end);
        out.append(buffer, end);
        continue; // pos already past the escape
      }
      default:
        return fail(escape, "invalid escape sequence in string");
      }
      ++pos;
    }
  }

  bool parseArray(Value &value, unsigned depth) {
    if (depth >= kMaxDepth)
      return fail(pos, "arrays and objects nested deeper than " +
                           std::to_string(kMaxDepth));
    value.kind = Value::Kind::Array;
    ++pos;
    skipSpace();
    if (peek() == ']') {
      ++pos;
      return true;
    }
    while (true) {
      value.array.emplace_back();
      if (!parseValue(value.array.back(), depth + 1))
        return false;
      skipSpace();
      if (peek() == ',') {
        ++pos;
        skipSpace();
        continue;
      }
      if (peek() == ']') {
        ++pos;
        return true;
      }
      return fail(pos, "expected ',' or ']' in array, found " + describeHere());
    }
  }

  bool parseObject(Value &value, unsigned depth) {
    if (depth >= kMaxDepth)
      return fail(pos, "arrays and objects nested deeper than " +
                           std::to_string(kMaxDepth));
    value.kind = Value::Kind::Object;
    ++pos;
    skipSpace();
    if (peek() == '}') {
      ++pos;
      return true;
    }
    llvm::StringSet<> seen;
    while (true) {
      if (peek() != '"')
        return fail(pos,
                    "expected a string key in object, found " + describeHere());
      Member member;
      member.keyOffset = pos;
      if (!parseString(member.key))
        return false;
      if (!seen.insert(member.key).second)
        return fail(member.keyOffset,
                    "duplicate key \"" + member.key + "\" in object");
      skipSpace();
      if (peek() != ':')
        return fail(pos,
                    "expected ':' after object key, found " + describeHere());
      ++pos;
      skipSpace();
      if (!parseValue(member.value, depth + 1))
        return false;
      value.object.push_back(std::move(member));
      skipSpace();
      if (peek() == ',') {
        ++pos;
        skipSpace();
        continue;
      }
      if (peek() == '}') {
        ++pos;
        return true;
      }
      return fail(pos,
                  "expected ',' or '}' in object, found " + describeHere());
    }
  }
};
} // namespace

bool mlir::axonn::json::parse(llvm::StringRef text, Value &result,
                              ParseError &error) {
  result = Value();
  return Parser(text, error).parseDocument(result);
}
