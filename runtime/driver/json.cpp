//===- json.cpp - a small JSON reader -------------------------------------===//

#include "json.h"

#include <cstdlib>
#include <cstring>

namespace axonn::json {

const Value &Value::operator[](const std::string &key) const {
  static const Value null;
  if (kind != Kind::Object)
    return null;
  auto it = object.find(key);
  return it == object.end() ? null : it->second;
}

namespace {

class Parser {
public:
  Parser(const std::string &text) : text(text) {}

  bool parse(Value &value, std::string &error) {
    if (!parseValue(value, 0)) {
      error = message + " at offset " + std::to_string(at);
      return false;
    }
    skipSpace();
    if (at != text.size()) {
      error = "trailing characters at offset " + std::to_string(at);
      return false;
    }
    return true;
  }

private:
  void skipSpace() {
    while (at < text.size() && std::strchr(" \t\r\n", text[at]))
      ++at;
  }
  bool fail(const std::string &what) {
    message = what;
    return false;
  }
  bool literal(const char *word) {
    size_t n = std::strlen(word);
    if (text.compare(at, n, word) != 0)
      return fail("unknown literal");
    at += n;
    return true;
  }

  bool parseString(std::string &out) {
    if (text[at] != '"')
      return fail("expected a string");
    ++at;
    while (at < text.size() && text[at] != '"') {
      char c = text[at++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (at >= text.size())
        return fail("unterminated escape");
      char e = text[at++];
      switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        if (at + 4 > text.size())
          return fail("short \\u escape");
        unsigned code =
            unsigned(std::strtoul(text.substr(at, 4).c_str(), nullptr, 16));
        at += 4;
        if (code < 0x80) {
          out.push_back(char(code));
        } else if (code < 0x800) {
          out.push_back(char(0xC0 | (code >> 6)));
          out.push_back(char(0x80 | (code & 0x3F)));
        } else {
          out.push_back(char(0xE0 | (code >> 12)));
          out.push_back(char(0x80 | ((code >> 6) & 0x3F)));
          out.push_back(char(0x80 | (code & 0x3F)));
        }
        break;
      }
      default:
        out.push_back(e);
      }
    }
    if (at >= text.size())
      return fail("unterminated string");
    ++at;
    return true;
  }

  bool parseValue(Value &value, int depth) {
    if (depth > 64)
      return fail("nested too deeply");
    skipSpace();
    if (at >= text.size())
      return fail("unexpected end");
    char c = text[at];
    if (c == '{') {
      value.kind = Value::Kind::Object;
      ++at;
      skipSpace();
      if (at < text.size() && text[at] == '}') {
        ++at;
        return true;
      }
      while (true) {
        skipSpace();
        std::string key;
        size_t keyAt = at;
        if (!parseString(key))
          return false;
        if (value.object.count(key)) {
          at = keyAt;
          return fail("duplicate key \"" + key + "\"");
        }
        skipSpace();
        if (at >= text.size() || text[at] != ':')
          return fail("expected ':'");
        ++at;
        if (!parseValue(value.object[key], depth + 1))
          return false;
        skipSpace();
        if (at < text.size() && text[at] == ',') {
          ++at;
          continue;
        }
        if (at < text.size() && text[at] == '}') {
          ++at;
          return true;
        }
        return fail("expected ',' or '}'");
      }
    }
    if (c == '[') {
      value.kind = Value::Kind::Array;
      ++at;
      skipSpace();
      if (at < text.size() && text[at] == ']') {
        ++at;
        return true;
      }
      while (true) {
        value.array.emplace_back();
        if (!parseValue(value.array.back(), depth + 1))
          return false;
        skipSpace();
        if (at < text.size() && text[at] == ',') {
          ++at;
          continue;
        }
        if (at < text.size() && text[at] == ']') {
          ++at;
          return true;
        }
        return fail("expected ',' or ']'");
      }
    }
    if (c == '"') {
      value.kind = Value::Kind::String;
      return parseString(value.string);
    }
    if (c == 't') {
      value.kind = Value::Kind::Bool;
      value.boolean = true;
      return literal("true");
    }
    if (c == 'f') {
      value.kind = Value::Kind::Bool;
      return literal("false");
    }
    if (c == 'n')
      return literal("null");
    char *end = nullptr;
    value.number = std::strtod(text.c_str() + at, &end);
    if (end == text.c_str() + at)
      return fail("expected a value");
    value.kind = Value::Kind::Number;
    at = size_t(end - text.c_str());
    return true;
  }

  const std::string &text;
  size_t at = 0;
  std::string message;
};

} // namespace

bool parse(const std::string &text, Value &result, std::string &error) {
  return Parser(text).parse(result, error);
}

std::string quote(const std::string &s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

} // namespace axonn::json
