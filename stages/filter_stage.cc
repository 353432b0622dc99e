#include "stages/filter_stage.h"

#include <re2/re2.h>

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stages/time_format.h"

// Grammar (recursive descent, one function per level; `and`/`or` chains are n-ary so long
// chains do not deepen the tree):
//   expr       := and_expr ('or' and_expr)*
//   and_expr   := not_expr ('and' not_expr)*
//   not_expr   := 'not' not_expr | primary
//   primary    := '(' expr ')' | 'exists' '(' FIELD ')' | comparison
//   comparison := operand CMP operand
//               | FIELD ('=~' | '!~') STRING
//               | FIELD ['not'] 'in' '[' [literal (',' literal)*] ']'
//   operand    := FIELD | literal        literal := NUMBER | STRING
// Tokens: FIELD is [A-Za-z_][A-Za-z0-9_.]* other than the keywords and/or/not/in (`exists` is a
// keyword only before '('); NUMBER is -?digits[.digits][e[+-]digits] (or -?.digits...);
// STRING is "..." or '...' where \" \' \\ \n \t \r are escapes and any other backslash pair is
// kept as written (so "\d+" reaches RE2 unchanged). Bytes >= 0x80 are taken as they are.

namespace logpipe {
namespace {

constexpr int kMaxDepth = 200;  // nesting of parentheses / `not`
constexpr const char* kTimeExample = "\"2015-05-17T10:05:00Z\"";

enum class CmpOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };

CmpOp Flip(CmpOp op) {  // a OP b  <=>  b Flip(OP) a
  switch (op) {
    case CmpOp::kLt:
      return CmpOp::kGt;
    case CmpOp::kLe:
      return CmpOp::kGe;
    case CmpOp::kGt:
      return CmpOp::kLt;
    case CmpOp::kGe:
      return CmpOp::kLe;
    default:
      return op;
  }
}

enum class Tok : uint8_t {
  kEnd,
  kIdent,
  kNumber,
  kString,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kCmp,       // == != < <= > >=  (op in Token::op)
  kMatch,     // =~
  kNotMatch,  // !~
  kAnd,
  kOr,
  kNot,
  kIn,
};

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;        // byte offset in the expression
  std::string_view raw;  // source text
  CmpOp op = CmpOp::kEq;
  std::string str;  // decoded string literal
  double num = 0;   // number literal
  int64_t inum = 0;
  bool is_int = false;  // the number literal is an integer that fits int64 (inum)
};

// One side of a comparison, or one element of an `in` list.
struct Operand {
  bool is_field = false;
  size_t pos = 0;
  std::string raw;      // as written, for messages
  std::string name;     // field name
  Tok lit = Tok::kEnd;  // kNumber or kString
  std::string str;
  double num = 0;
  int64_t inum = 0;
  bool is_int = false;
};

}  // namespace

// The syntax tree: what Parse produces and Create binds.
struct FilterNode {
  enum class Kind { kAnd, kOr, kNot, kExists, kCompare, kRegex, kIn };
  Kind kind = Kind::kAnd;
  size_t pos = 0;                                     // of the operator, for messages
  std::vector<std::unique_ptr<FilterNode>> children;  // kAnd, kOr (2+), kNot (1)
  Operand lhs, rhs;                                   // kCompare; lhs is the field otherwise
  CmpOp op = CmpOp::kEq;
  bool negate = false;        // !~, not in
  Operand pattern;            // kRegex
  std::vector<Operand> list;  // kIn
};

namespace {

// 1-based column of byte `pos`, counting UTF-8 characters (a continuation byte is not a column).
size_t Column(std::string_view text, size_t pos) {
  size_t col = 1;
  for (size_t i = 0; i < pos && i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++col;
  }
  return col;
}

Status ErrorAt(std::string_view text, size_t pos, const std::string& what) {
  return ConfigError("at column " + std::to_string(Column(text, pos)) + ": " + what);
}

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c) || c == '.'; }

std::string ByteName(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7F) return std::string("'") + c + "'";
  static const char kHex[] = "0123456789ABCDEF";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

class Tokenizer {
 public:
  explicit Tokenizer(std::string_view text) : text_(text) {}

  Status Run(std::vector<Token>* out) {
    while (true) {
      while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
      Token t;
      t.pos = pos_;
      if (pos_ == text_.size()) {
        t.kind = Tok::kEnd;
        out->push_back(std::move(t));
        return Status::Ok();
      }
      LOGPIPE_RETURN_IF_ERROR(Next(&t));
      t.raw = text_.substr(t.pos, pos_ - t.pos);
      out->push_back(std::move(t));
    }
  }

 private:
  static bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  char Peek(size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }

  Status Next(Token* t) {
    const char c = text_[pos_];
    const char n = Peek(1);
    auto single = [&](Tok kind) {
      t->kind = kind;
      ++pos_;
      return Status::Ok();
    };
    auto cmp = [&](CmpOp op, size_t len) {
      t->kind = Tok::kCmp;
      t->op = op;
      pos_ += len;
      return Status::Ok();
    };
    switch (c) {
      case '(':
        return single(Tok::kLParen);
      case ')':
        return single(Tok::kRParen);
      case '[':
        return single(Tok::kLBracket);
      case ']':
        return single(Tok::kRBracket);
      case ',':
        return single(Tok::kComma);
      case '<':
        return n == '=' ? cmp(CmpOp::kLe, 2) : cmp(CmpOp::kLt, 1);
      case '>':
        return n == '=' ? cmp(CmpOp::kGe, 2) : cmp(CmpOp::kGt, 1);
      case '=':
        if (n == '=') return cmp(CmpOp::kEq, 2);
        if (n == '~') {
          t->kind = Tok::kMatch;
          pos_ += 2;
          return Status::Ok();
        }
        return ErrorAt(text_, pos_, "unexpected '='; use '==' to compare");
      case '!':
        if (n == '=') return cmp(CmpOp::kNe, 2);
        if (n == '~') {
          t->kind = Tok::kNotMatch;
          pos_ += 2;
          return Status::Ok();
        }
        return ErrorAt(text_, pos_, "unexpected '!'; use 'not' to negate");
      case '&':
        return ErrorAt(text_, pos_, n == '&' ? "unexpected '&&'; use 'and'" : "unexpected '&'");
      case '|':
        return ErrorAt(text_, pos_, n == '|' ? "unexpected '||'; use 'or'" : "unexpected '|'");
      case '"':
      case '\'':
        return String(t);
      default:
        break;
    }
    if (IsDigit(c) || (c == '.' && IsDigit(n)) ||
        (c == '-' && (IsDigit(n) || (n == '.' && IsDigit(Peek(2)))))) {
      return Number(t);
    }
    if (IsIdentStart(c)) {
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      const std::string_view word = text_.substr(t->pos, pos_ - t->pos);
      if (word == "and") {
        t->kind = Tok::kAnd;
      } else if (word == "or") {
        t->kind = Tok::kOr;
      } else if (word == "not") {
        t->kind = Tok::kNot;
      } else if (word == "in") {
        t->kind = Tok::kIn;
      } else {
        t->kind = Tok::kIdent;
        t->str = std::string(word);
      }
      return Status::Ok();
    }
    return ErrorAt(text_, pos_, "unexpected " + ByteName(c));
  }

  Status String(Token* t) {
    const char quote = text_[pos_++];
    t->kind = Tok::kString;
    while (true) {
      if (pos_ >= text_.size()) {
        return ErrorAt(text_, t->pos,
                       std::string("unterminated string: no closing ") + quote + " before the end");
      }
      const char c = text_[pos_++];
      if (c == quote) return Status::Ok();
      if (c != '\\') {
        t->str.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) continue;  // reported as unterminated above
      const char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\'':
        case '\\':
          t->str.push_back(e);
          break;
        case 'n':
          t->str.push_back('\n');
          break;
        case 't':
          t->str.push_back('\t');
          break;
        case 'r':
          t->str.push_back('\r');
          break;
        default:  // kept as written, for regexes: "\d+"
          t->str.push_back('\\');
          t->str.push_back(e);
      }
    }
  }

  Status Number(Token* t) {
    size_t p = pos_;
    if (text_[p] == '-') ++p;
    while (p < text_.size() && IsDigit(text_[p])) ++p;
    if (p < text_.size() && text_[p] == '.') {
      ++p;
      while (p < text_.size() && IsDigit(text_[p])) ++p;
    }
    if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
      size_t q = p + 1;
      if (q < text_.size() && (text_[q] == '+' || text_[q] == '-')) ++q;
      if (q < text_.size() && IsDigit(text_[q])) {
        p = q;
        while (p < text_.size() && IsDigit(text_[p])) ++p;
      }
    }
    const size_t end = p;
    while (p < text_.size() && IsIdentChar(text_[p])) ++p;
    if (p != end) {
      return ErrorAt(text_, pos_,
                     "malformed number '" + std::string(text_.substr(pos_, p - pos_)) + "'");
    }
    const char* first = text_.data() + pos_;
    const char* last = text_.data() + end;
    t->kind = Tok::kNumber;
    pos_ = end;
    auto ir = std::from_chars(first, last, t->inum);
    if (ir.ec == std::errc() && ir.ptr == last) {
      t->is_int = true;
      t->num = static_cast<double>(t->inum);
      return Status::Ok();
    }
    // from_chars(double) wants a digit or '.' after '-' and takes no leading '+'; both hold.
    auto dr = std::from_chars(first, last, t->num);
    if (dr.ec != std::errc() || dr.ptr != last || !std::isfinite(t->num)) {
      return ErrorAt(
          text_, t->pos,
          "number '" + std::string(text_.substr(t->pos, end - t->pos)) + "' is out of range");
    }
    return Status::Ok();
  }

  std::string_view text_;
  size_t pos_ = 0;
};

class Parser {
 public:
  Parser(std::string_view text, std::vector<Token> tokens, std::vector<std::string>* fields)
      : text_(text), toks_(std::move(tokens)), fields_(fields) {}

  Status Run(std::unique_ptr<FilterNode>* root) {
    if (Cur().kind == Tok::kEnd) return ErrorAt(text_, 0, "the expression is empty");
    LOGPIPE_RETURN_IF_ERROR(ParseOr(root, 0));
    const Token& t = Cur();
    if (t.kind == Tok::kEnd) return Status::Ok();
    if (t.kind == Tok::kRParen) return ErrorAt(text_, t.pos, "unexpected ')' with no matching '('");
    return ErrorAt(text_, t.pos,
                   "expected 'and', 'or' or the end of the expression, found " + Describe(t));
  }

 private:
  const Token& Cur() const { return toks_[i_]; }
  const Token& Ahead(size_t k) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  const Token& Prev() const { return toks_[i_ - 1]; }
  void Advance() {
    if (toks_[i_].kind != Tok::kEnd) ++i_;
  }

  static std::string Describe(const Token& t) {
    if (t.kind == Tok::kEnd) return "the end of the expression";
    std::string raw(t.raw.substr(0, 40));
    if (t.raw.size() > 40) raw += "...";
    return t.kind == Tok::kString ? raw : "'" + raw + "'";
  }
  // "expected X after 'prev'" plus ", found Y" unless at the end.
  Status Expected(const std::string& what) const {
    const Token& t = Cur();
    std::string msg = "expected " + what;
    if (i_ > 0) msg += " after '" + std::string(Prev().raw) + "'";
    if (t.kind != Tok::kEnd) msg += ", found " + Describe(t);
    return ErrorAt(text_, t.pos, msg);
  }

  Status ParseOr(std::unique_ptr<FilterNode>* out, int depth) {
    return ParseChain(Tok::kOr, FilterNode::Kind::kOr, out, depth);
  }

  Status ParseChain(Tok sep, FilterNode::Kind kind, std::unique_ptr<FilterNode>* out, int depth) {
    std::unique_ptr<FilterNode> first;
    LOGPIPE_RETURN_IF_ERROR(sep == Tok::kOr
                                ? ParseChain(Tok::kAnd, FilterNode::Kind::kAnd, &first, depth)
                                : ParseNot(&first, depth));
    if (Cur().kind != sep) {
      *out = std::move(first);
      return Status::Ok();
    }
    auto node = std::make_unique<FilterNode>();
    node->kind = kind;
    node->pos = Cur().pos;
    node->children.push_back(std::move(first));
    while (Cur().kind == sep) {
      Advance();
      std::unique_ptr<FilterNode> next;
      LOGPIPE_RETURN_IF_ERROR(sep == Tok::kOr
                                  ? ParseChain(Tok::kAnd, FilterNode::Kind::kAnd, &next, depth)
                                  : ParseNot(&next, depth));
      node->children.push_back(std::move(next));
    }
    *out = std::move(node);
    return Status::Ok();
  }

  Status ParseNot(std::unique_ptr<FilterNode>* out, int depth) {
    if (depth > kMaxDepth) return ErrorAt(text_, Cur().pos, "expression nested too deeply");
    if (Cur().kind != Tok::kNot) return ParsePrimary(out, depth);
    auto node = std::make_unique<FilterNode>();
    node->kind = FilterNode::Kind::kNot;
    node->pos = Cur().pos;
    Advance();
    std::unique_ptr<FilterNode> child;
    LOGPIPE_RETURN_IF_ERROR(ParseNot(&child, depth + 1));
    node->children.push_back(std::move(child));
    *out = std::move(node);
    return Status::Ok();
  }

  Status ParsePrimary(std::unique_ptr<FilterNode>* out, int depth) {
    const Token& t = Cur();
    if (t.kind == Tok::kLParen) {
      const size_t open = t.pos;
      Advance();
      LOGPIPE_RETURN_IF_ERROR(ParseOr(out, depth + 1));
      if (Cur().kind != Tok::kRParen) {
        const Token& c = Cur();
        return ErrorAt(text_, c.pos,
                       "expected ')' to close '(' at column " +
                           std::to_string(Column(text_, open)) + ", found " + Describe(c));
      }
      Advance();
      return Status::Ok();
    }
    if (t.kind == Tok::kIdent && t.str == "exists" && Ahead(1).kind == Tok::kLParen) {
      auto node = std::make_unique<FilterNode>();
      node->kind = FilterNode::Kind::kExists;
      node->pos = t.pos;
      Advance();
      Advance();
      if (Cur().kind != Tok::kIdent) return Expected("a field name");
      node->lhs = FieldOperand(Cur());
      Advance();
      if (Cur().kind != Tok::kRParen) return Expected("')' to close 'exists('");
      Advance();
      *out = std::move(node);
      return Status::Ok();
    }
    return ParseComparison(out);
  }

  Operand FieldOperand(const Token& t) {
    Operand o;
    o.is_field = true;
    o.pos = t.pos;
    o.raw = std::string(t.raw);
    o.name = t.str;
    if (std::find(fields_->begin(), fields_->end(), o.name) == fields_->end()) {
      fields_->push_back(o.name);
    }
    return o;
  }

  static Operand LiteralOperand(const Token& t) {
    Operand o;
    o.pos = t.pos;
    o.raw = std::string(t.raw);
    o.lit = t.kind;
    o.str = t.str;
    o.num = t.num;
    o.inum = t.inum;
    o.is_int = t.is_int;
    return o;
  }

  // Reads a field or literal; false (and no advance) if the current token is neither.
  bool ParseOperand(Operand* o) {
    const Token& t = Cur();
    if (t.kind == Tok::kIdent) {
      *o = FieldOperand(t);
    } else if (t.kind == Tok::kNumber || t.kind == Tok::kString) {
      *o = LiteralOperand(t);
    } else {
      return false;
    }
    Advance();
    return true;
  }

  Status ParseComparison(std::unique_ptr<FilterNode>* out) {
    auto node = std::make_unique<FilterNode>();
    if (!ParseOperand(&node->lhs)) {
      return Expected(i_ == 0 ? "a field, a value, 'not', 'exists(' or '('" : "an expression");
    }
    const Token& t = Cur();
    node->pos = t.pos;
    const std::string op_text(t.raw);
    auto need_field = [&]() {
      return ErrorAt(text_, node->lhs.pos,
                     "the left side of '" + op_text + "' must be a field, not " + node->lhs.raw);
    };
    switch (t.kind) {
      case Tok::kCmp:
        node->kind = FilterNode::Kind::kCompare;
        node->op = t.op;
        Advance();
        if (!ParseOperand(&node->rhs)) return Expected("a value");
        if (!node->lhs.is_field && !node->rhs.is_field) {
          return ErrorAt(text_, node->lhs.pos,
                         "a comparison needs a field on one side; " + node->lhs.raw + " " +
                             op_text + " " + node->rhs.raw + " compares two values");
        }
        break;
      case Tok::kMatch:
      case Tok::kNotMatch:
        if (!node->lhs.is_field) return need_field();
        node->kind = FilterNode::Kind::kRegex;
        node->negate = t.kind == Tok::kNotMatch;
        Advance();
        if (Cur().kind != Tok::kString) return Expected("a quoted regex");
        node->pattern = LiteralOperand(Cur());
        Advance();
        break;
      case Tok::kNot:
      case Tok::kIn:
        if (t.kind == Tok::kNot) {
          if (Ahead(1).kind != Tok::kIn) {
            Advance();
            return Expected("'in'");
          }
          node->negate = true;
          Advance();
        }
        if (!node->lhs.is_field) return need_field();
        node->kind = FilterNode::Kind::kIn;
        Advance();
        LOGPIPE_RETURN_IF_ERROR(ParseList(&node->list));
        break;
      default:
        return Expected("a comparison operator (== != < <= > >= =~ !~ in)");
    }
    *out = std::move(node);
    return Status::Ok();
  }

  Status ParseList(std::vector<Operand>* list) {
    if (Cur().kind != Tok::kLBracket) return Expected("'['");
    const size_t open = Cur().pos;
    Advance();
    if (Cur().kind == Tok::kRBracket) {
      Advance();
      return Status::Ok();
    }
    while (true) {
      const Token& t = Cur();
      if (t.kind != Tok::kNumber && t.kind != Tok::kString) {
        return Expected("a number or a quoted string");
      }
      list->push_back(LiteralOperand(t));
      Advance();
      if (Cur().kind == Tok::kRBracket) {
        Advance();
        return Status::Ok();
      }
      if (Cur().kind != Tok::kComma) {
        return Expected("',' or ']' to close '[' at column " + std::to_string(Column(text_, open)));
      }
      Advance();
    }
  }

  std::string_view text_;
  std::vector<Token> toks_;
  size_t i_ = 0;
  std::vector<std::string>* fields_;
};

}  // namespace

FilterExpr::FilterExpr() = default;
FilterExpr::FilterExpr(FilterExpr&&) noexcept = default;
FilterExpr& FilterExpr::operator=(FilterExpr&&) noexcept = default;
FilterExpr::~FilterExpr() = default;

Result<FilterExpr> FilterExpr::Parse(std::string_view where) {
  std::vector<Token> tokens;
  LOGPIPE_RETURN_IF_ERROR(Tokenizer(where).Run(&tokens));
  FilterExpr expr;
  expr.text_ = std::string(where);
  // Tokens view `where`, which outlives the parse.
  Parser parser(where, std::move(tokens), &expr.fields_);
  LOGPIPE_RETURN_IF_ERROR(parser.Run(&expr.root_));
  return expr;
}

// ---------------------------------------------------------------------------------------------
// Binding and evaluation.

namespace {

enum class Op : uint8_t {
  kAnd,               // kids_[a, b)
  kOr,                // kids_[a, b)
  kNot,               // node a
  kExists,            // field a
  kCmpInt,            // field a (int/time) OP i
  kCmpIntFloat,       // field a (int) OP d, d not an int64: compared exactly
  kCmpFloat,          // field a (float) OP d
  kCmpStr,            // field a (string) OP s
  kCmpFieldInt,       // field a OP field b, both int or both time
  kCmpFieldFloat,     // both float
  kCmpFieldIntFloat,  // a int, b float, exact
  kCmpFieldStr,       // both string
  kRegex,             // text of field a matches regexes[b] (!= negate)
  kInInt,             // field a in int_sets[b] (!= negate)
  kInFloat,           // float_sets[b]
  kInStr,             // str_sets[b]
};

struct Node {
  Op op = Op::kAnd;
  CmpOp cmp = CmpOp::kEq;
  bool negate = false;
  uint32_t a = 0;
  uint32_t b = 0;
  int64_t i = 0;
  double d = 0;
  std::string s;
};

template <typename T>
inline bool Compare(CmpOp op, const T& x, const T& y) {
  switch (op) {
    case CmpOp::kEq:
      return x == y;
    case CmpOp::kNe:
      return x != y;
    case CmpOp::kLt:
      return x < y;
    case CmpOp::kLe:
      return x <= y;
    case CmpOp::kGt:
      return x > y;
    case CmpOp::kGe:
      return x >= y;
  }
  return false;
}

// x <=> d exactly (no rounding of x to double). REQUIRES: d is not NaN.
inline int ThreeWay(int64_t x, double d) {
  if (d >= 9223372036854775808.0) return -1;  // 2^63
  if (d < -9223372036854775808.0) return 1;
  const int64_t t = static_cast<int64_t>(d);  // truncated; exact as |d| < 2^63
  if (x != t) return x < t ? -1 : 1;
  const double frac = d - static_cast<double>(t);  // exact
  return frac > 0 ? -1 : (frac < 0 ? 1 : 0);
}

inline bool CompareIntDouble(CmpOp op, int64_t x, double d) {
  if (std::isnan(d)) return op == CmpOp::kNe;
  return Compare(op, ThreeWay(x, d), 0);
}

template <typename T>
inline bool SortedContains(const std::vector<T>& set, const T& x) {
  auto it = std::lower_bound(set.begin(), set.end(), x);
  return it != set.end() && *it == x;
}

template <typename T>
void SortUnique(std::vector<T>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

class FilterScratch : public Scratch {};

// The bound expression: a flat tree of nodes walked per row.
struct Program {
  std::vector<Node> nodes;
  std::vector<uint32_t> kids;  // children of and/or nodes
  uint32_t root = 0;
  size_t min_fields = 0;  // 1 + the largest field index read
  std::vector<std::unique_ptr<RE2>> regexes;
  std::vector<std::vector<int64_t>> int_sets;
  std::vector<std::vector<double>> float_sets;
  std::vector<std::vector<std::string>> str_sets;

  bool Eval(uint32_t n, const RecordBatch& batch, uint32_t row) const;
};

bool Program::Eval(uint32_t n, const RecordBatch& batch, uint32_t row) const {
  const Node& node = nodes[n];
  switch (node.op) {
    case Op::kAnd:
      for (uint32_t k = node.a; k < node.b; ++k) {
        if (!Eval(kids[k], batch, row)) return false;
      }
      return true;
    case Op::kOr:
      for (uint32_t k = node.a; k < node.b; ++k) {
        if (Eval(kids[k], batch, row)) return true;
      }
      return false;
    case Op::kNot:
      return !Eval(node.a, batch, row);
    case Op::kExists:
      return batch.field(node.a, row).present;
    case Op::kCmpInt: {
      const Value& v = batch.field(node.a, row);
      return v.present && Compare(node.cmp, v.i, node.i);
    }
    case Op::kCmpIntFloat: {
      const Value& v = batch.field(node.a, row);
      return v.present && CompareIntDouble(node.cmp, v.i, node.d);
    }
    case Op::kCmpFloat: {
      const Value& v = batch.field(node.a, row);
      return v.present && Compare(node.cmp, v.f, node.d);
    }
    case Op::kCmpStr: {
      const Value& v = batch.field(node.a, row);
      return v.present && Compare(node.cmp, v.text, std::string_view(node.s));
    }
    case Op::kCmpFieldInt: {
      const Value& x = batch.field(node.a, row);
      const Value& y = batch.field(node.b, row);
      return x.present && y.present && Compare(node.cmp, x.i, y.i);
    }
    case Op::kCmpFieldFloat: {
      const Value& x = batch.field(node.a, row);
      const Value& y = batch.field(node.b, row);
      return x.present && y.present && Compare(node.cmp, x.f, y.f);
    }
    case Op::kCmpFieldIntFloat: {
      const Value& x = batch.field(node.a, row);
      const Value& y = batch.field(node.b, row);
      return x.present && y.present && CompareIntDouble(node.cmp, x.i, y.f);
    }
    case Op::kCmpFieldStr: {
      const Value& x = batch.field(node.a, row);
      const Value& y = batch.field(node.b, row);
      return x.present && y.present && Compare(node.cmp, x.text, y.text);
    }
    case Op::kRegex: {
      const Value& v = batch.field(node.a, row);
      if (!v.present) return false;
      const re2::StringPiece text(v.text.data(), v.text.size());
      return regexes[node.b]->Match(text, 0, text.size(), RE2::UNANCHORED, nullptr, 0) !=
             node.negate;
    }
    case Op::kInInt: {
      const Value& v = batch.field(node.a, row);
      return v.present && SortedContains(int_sets[node.b], v.i) != node.negate;
    }
    case Op::kInFloat: {
      const Value& v = batch.field(node.a, row);
      return v.present && SortedContains(float_sets[node.b], v.f) != node.negate;
    }
    case Op::kInStr: {
      const Value& v = batch.field(node.a, row);
      if (!v.present) return false;
      const auto& set = str_sets[node.b];
      auto it = std::lower_bound(set.begin(), set.end(), v.text,
                                 [](const std::string& s, std::string_view t) { return s < t; });
      return (it != set.end() && *it == v.text) != node.negate;
    }
  }
  return false;
}

// Edit distance, for "did you mean" on unknown fields (Create time only).
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

class Binder {
 public:
  Binder(std::string_view text, const Schema& schema, Program* out)
      : text_(text), schema_(schema), out_(out) {}

  Status Bind(const FilterNode& n, uint32_t* index) {
    switch (n.kind) {
      case FilterNode::Kind::kAnd:
      case FilterNode::Kind::kOr: {
        std::vector<uint32_t> kids;
        for (const auto& child : n.children) {
          uint32_t k;
          LOGPIPE_RETURN_IF_ERROR(Bind(*child, &k));
          kids.push_back(k);
        }
        Node node;
        node.op = n.kind == FilterNode::Kind::kAnd ? Op::kAnd : Op::kOr;
        node.a = static_cast<uint32_t>(out_->kids.size());
        out_->kids.insert(out_->kids.end(), kids.begin(), kids.end());
        node.b = static_cast<uint32_t>(out_->kids.size());
        return Emit(std::move(node), index);
      }
      case FilterNode::Kind::kNot: {
        Node node;
        node.op = Op::kNot;
        LOGPIPE_RETURN_IF_ERROR(Bind(*n.children[0], &node.a));
        return Emit(std::move(node), index);
      }
      case FilterNode::Kind::kExists: {
        Node node;
        node.op = Op::kExists;
        LOGPIPE_RETURN_IF_ERROR(Field(n.lhs, &node.a));
        return Emit(std::move(node), index);
      }
      case FilterNode::Kind::kCompare:
        return BindCompare(n, index);
      case FilterNode::Kind::kRegex:
        return BindRegex(n, index);
      case FilterNode::Kind::kIn:
        return BindIn(n, index);
    }
    return InternalError("filter: unknown node kind");
  }

 private:
  Status Emit(Node node, uint32_t* index) {
    *index = static_cast<uint32_t>(out_->nodes.size());
    out_->nodes.push_back(std::move(node));
    return Status::Ok();
  }

  Status Field(const Operand& o, uint32_t* index) {
    std::optional<size_t> f = schema_.Find(o.name);
    if (!f) {
      std::string msg = "unknown field '" + o.name + "'";
      std::string best;
      size_t best_d = 3;
      for (const FieldSpec& spec : schema_.fields()) {
        const size_t d = EditDistance(o.name, spec.name);
        if (d < best_d) {
          best_d = d;
          best = spec.name;
        }
      }
      if (!best.empty()) {
        msg += " (did you mean '" + best + "'?)";
      } else if (schema_.size() > 0) {
        msg += " (fields:";
        for (size_t i = 0; i < schema_.size() && i < 12; ++i) msg += " " + schema_.field(i).name;
        if (schema_.size() > 12) msg += " ...";
        msg += ")";
      }
      return ErrorAt(text_, o.pos, msg);
    }
    *index = static_cast<uint32_t>(*f);
    out_->min_fields = std::max(out_->min_fields, *f + 1);
    return Status::Ok();
  }

  FieldType TypeOf(uint32_t f) const { return schema_.field(f).type; }

  Status Mismatch(const Operand& field, FieldType type, const Operand& lit,
                  const std::string& what) {
    return ErrorAt(
        text_, lit.pos,
        "field '" + field.name + "' is " + FieldTypeName(type) + " but " + lit.raw + " is " + what);
  }

  // Converts a literal to what a field of `type` holds. For an int field, a number that is not
  // an int64 sets *exact = false and leaves it in *d.
  Status Literal(const Operand& field, FieldType type, const Operand& lit, int64_t* i, double* d,
                 std::string* s, bool* exact) {
    const bool is_number = lit.lit == Tok::kNumber;
    switch (type) {
      case FieldType::kString:
        if (is_number) return Mismatch(field, type, lit, "a number");
        *s = lit.str;
        return Status::Ok();
      case FieldType::kInt:
        if (!is_number) return Mismatch(field, type, lit, "a string");
        *exact = true;
        if (lit.is_int) {
          *i = lit.inum;
        } else if (lit.num == std::trunc(lit.num) && lit.num >= -9223372036854775808.0 &&
                   lit.num < 9223372036854775808.0) {
          *i = static_cast<int64_t>(lit.num);
        } else {
          *exact = false;
          *d = lit.num;
        }
        return Status::Ok();
      case FieldType::kFloat:
        if (!is_number) return Mismatch(field, type, lit, "a string");
        *d = lit.num;
        return Status::Ok();
      case FieldType::kTime:
        if (is_number) {
          return Mismatch(
              field, type, lit,
              std::string("a number; write a time as an ISO 8601 string such as ") + kTimeExample);
        }
        if (!iso_) {
          Result<TimeFormat> iso = TimeFormat::Compile("iso8601");
          if (!iso.ok()) return iso.status();
          iso_ = std::make_unique<TimeFormat>(std::move(iso).value());
        }
        if (!iso_->Parse(lit.str, i)) {
          return Mismatch(field, type, lit,
                          std::string("not an ISO 8601 time such as ") + kTimeExample);
        }
        return Status::Ok();
    }
    return InternalError("filter: unknown field type");
  }

  Status BindCompare(const FilterNode& n, uint32_t* index) {
    Node node;
    node.cmp = n.op;
    if (n.lhs.is_field && n.rhs.is_field) {
      uint32_t fa, fb;
      LOGPIPE_RETURN_IF_ERROR(Field(n.lhs, &fa));
      LOGPIPE_RETURN_IF_ERROR(Field(n.rhs, &fb));
      const FieldType ta = TypeOf(fa), tb = TypeOf(fb);
      auto numeric = [](FieldType t) { return t == FieldType::kInt || t == FieldType::kFloat; };
      node.a = fa;
      node.b = fb;
      if (ta == tb) {
        node.op = ta == FieldType::kString  ? Op::kCmpFieldStr
                  : ta == FieldType::kFloat ? Op::kCmpFieldFloat
                                            : Op::kCmpFieldInt;  // int or time
      } else if (numeric(ta) && numeric(tb)) {
        node.op = Op::kCmpFieldIntFloat;
        if (ta == FieldType::kFloat) {  // keep the int field on the left
          std::swap(node.a, node.b);
          node.cmp = Flip(node.cmp);
        }
      } else {
        return ErrorAt(text_, n.pos,
                       "cannot compare field '" + n.lhs.name + "' (" + FieldTypeName(ta) +
                           ") with field '" + n.rhs.name + "' (" + FieldTypeName(tb) + ")");
      }
      return Emit(std::move(node), index);
    }
    const bool field_left = n.lhs.is_field;
    const Operand& field = field_left ? n.lhs : n.rhs;
    const Operand& lit = field_left ? n.rhs : n.lhs;
    if (!field_left) node.cmp = Flip(node.cmp);
    LOGPIPE_RETURN_IF_ERROR(Field(field, &node.a));
    const FieldType type = TypeOf(node.a);
    bool exact = true;
    LOGPIPE_RETURN_IF_ERROR(Literal(field, type, lit, &node.i, &node.d, &node.s, &exact));
    switch (type) {
      case FieldType::kString:
        node.op = Op::kCmpStr;
        break;
      case FieldType::kInt:
        node.op = exact ? Op::kCmpInt : Op::kCmpIntFloat;
        break;
      case FieldType::kFloat:
        node.op = Op::kCmpFloat;
        break;
      case FieldType::kTime:
        node.op = Op::kCmpInt;
        break;
    }
    return Emit(std::move(node), index);
  }

  Status BindRegex(const FilterNode& n, uint32_t* index) {
    Node node;
    node.op = Op::kRegex;
    node.negate = n.negate;
    LOGPIPE_RETURN_IF_ERROR(Field(n.lhs, &node.a));
    RE2::Options options;
    options.set_encoding(RE2::Options::EncodingLatin1);
    options.set_log_errors(false);
    auto re = std::make_unique<RE2>(n.pattern.str, options);
    if (!re->ok()) {
      return ErrorAt(text_, n.pattern.pos, "bad regex \"" + n.pattern.str + "\": " + re->error());
    }
    node.b = static_cast<uint32_t>(out_->regexes.size());
    out_->regexes.push_back(std::move(re));
    return Emit(std::move(node), index);
  }

  Status BindIn(const FilterNode& n, uint32_t* index) {
    Node node;
    node.negate = n.negate;
    LOGPIPE_RETURN_IF_ERROR(Field(n.lhs, &node.a));
    const FieldType type = TypeOf(node.a);
    std::vector<int64_t> ints;
    std::vector<double> floats;
    std::vector<std::string> strs;
    for (const Operand& lit : n.list) {
      int64_t i = 0;
      double d = 0;
      std::string s;
      bool exact = true;
      LOGPIPE_RETURN_IF_ERROR(Literal(n.lhs, type, lit, &i, &d, &s, &exact));
      switch (type) {
        case FieldType::kString:
          strs.push_back(std::move(s));
          break;
        case FieldType::kInt:
          if (exact) ints.push_back(i);  // 2.5 never equals an int
          break;
        case FieldType::kFloat:
          floats.push_back(d);
          break;
        case FieldType::kTime:
          ints.push_back(i);
          break;
      }
    }
    switch (type) {
      case FieldType::kString:
        SortUnique(&strs);
        node.op = Op::kInStr;
        node.b = static_cast<uint32_t>(out_->str_sets.size());
        out_->str_sets.push_back(std::move(strs));
        break;
      case FieldType::kFloat:
        SortUnique(&floats);
        node.op = Op::kInFloat;
        node.b = static_cast<uint32_t>(out_->float_sets.size());
        out_->float_sets.push_back(std::move(floats));
        break;
      case FieldType::kInt:
      case FieldType::kTime:
        SortUnique(&ints);
        node.op = Op::kInInt;
        node.b = static_cast<uint32_t>(out_->int_sets.size());
        out_->int_sets.push_back(std::move(ints));
        break;
    }
    return Emit(std::move(node), index);
  }

  std::string_view text_;
  const Schema& schema_;
  Program* out_;
  std::unique_ptr<TimeFormat> iso_;  // compiled on the first time literal
};

}  // namespace

struct FilterStage::Compiled {
  Program program;
};

FilterStage::FilterStage() = default;
FilterStage::~FilterStage() = default;

Result<std::unique_ptr<FilterStage>> FilterStage::Create(FilterExpr expr, const Schema& schema) {
  assert(expr.root_ != nullptr);
  auto compiled = std::make_unique<Compiled>();
  Binder binder(expr.text(), schema, &compiled->program);
  LOGPIPE_RETURN_IF_ERROR(binder.Bind(*expr.root_, &compiled->program.root));
  std::unique_ptr<FilterStage> stage(new FilterStage());
  stage->compiled_ = std::move(compiled);
  return stage;
}

std::unique_ptr<Scratch> FilterStage::NewScratch() const {
  return std::make_unique<FilterScratch>();
}

void FilterStage::Process(RecordBatch& batch, Scratch& scratch) const {
  const Program& c = compiled_->program;
  assert(batch.num_fields() >= c.min_fields);
  std::vector<uint32_t>& selected = batch.selected;
  size_t kept = 0;
  for (size_t k = 0; k < selected.size(); ++k) {
    const uint32_t row = selected[k];
    if (c.Eval(c.root, batch, row)) selected[kept++] = row;
  }
  batch.counters.filtered_out += selected.size() - kept;
  selected.resize(kept);
}

}  // namespace logpipe
