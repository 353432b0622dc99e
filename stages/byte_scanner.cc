#include "stages/byte_scanner.h"

#include <bitset>
#include <cstring>
#include <utility>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

namespace logpipe {
namespace {

using ByteSet = std::bitset<256>;
constexpr uint32_t kInf = 0xffffffffu;
// Bounds that keep the program small: unrolled copies of a repeated group, and instructions.
constexpr uint32_t kMaxCount = 1000;  // RE2's own repeat limit
constexpr uint32_t kMaxUnrolled = 16;
constexpr size_t kMaxInsts = 4096;

// The pattern as a tree. Single-byte atoms are runs of count 1; literals appear only after
// Normalize (merged runs of one byte with a fixed count).
struct Node {
  enum class Kind { kSeq, kAlt, kLit, kRun, kGroup, kRepeat };
  Kind kind = Kind::kSeq;
  std::string lit;            // kLit
  ByteSet set;                // kRun
  uint32_t min = 1, max = 1;  // kRun, kRepeat (max kInf = unbounded)
  int cap = -1;               // kGroup: capture index, -1 for (?:...)
  size_t pos = 0;             // offset in the pattern, for messages
  std::vector<Node> kids;     // kSeq: elements; kAlt: branches; kGroup, kRepeat: one
};

// The count of x{a}x{b} as x{a+b}: unbounded if either is; kTooMany (refused by the
// checker) past RE2's limit.
constexpr uint32_t kTooMany = kMaxCount + 1;
uint32_t AddCounts(uint32_t a, uint32_t b) {
  if (a == kInf || b == kInf) return kInf;
  return a + b > kMaxCount ? kTooMany : a + b;
}

std::string ByteText(int c) {
  static const char kHex[] = "0123456789abcdef";
  if (c == '\\' || c == ']' || c == '[' || c == '^' || c == '-') return std::string("\\") + char(c);
  if (c >= 0x20 && c < 0x7f) return std::string(1, char(c));
  return std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
}

// "[^ ]", "[0-9]", "'x'" for messages.
std::string SetText(const ByteSet& set) {
  if (set.count() == 1) {
    for (int c = 0; c < 256; ++c) {
      if (set[c]) return c == ' ' ? "' '" : "'" + ByteText(c) + "'";
    }
  }
  const bool negate = set.count() > 128;
  const ByteSet s = negate ? ~set : set;
  std::string out = negate ? "[^" : "[";
  for (int c = 0; c < 256; ++c) {
    if (!s[c]) continue;
    int e = c;
    while (e + 1 < 256 && s[e + 1]) ++e;
    out += ByteText(c);
    if (e > c + 1) out += "-";
    if (e > c) out += ByteText(e);
    c = e;
  }
  return out + "]";
}

ByteSet Range(int lo, int hi) {
  ByteSet s;
  for (int c = lo; c <= hi; ++c) s.set(c);
  return s;
}

ByteSet PerlClass(char c) {
  ByteSet s;
  switch (c | 0x20) {
    case 'd':
      s = Range('0', '9');
      break;
    case 's':
      for (int b : {'\t', '\n', '\f', '\r', ' '}) s.set(b);
      break;
    case 'w':
      s = Range('0', '9') | Range('A', 'Z') | Range('a', 'z');
      s.set('_');
      break;
  }
  return (c >= 'A' && c <= 'Z') ? ~s : s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// ---- Parser: pattern text -> Node tree --------------------------------------------------

class Parser {
 public:
  explicit Parser(const std::string& re) : re_(re) {}

  bool Parse(Node* root) {
    if (!ParseAlt(root, 0)) return false;
    if (pos_ != re_.size()) return Refuse("unexpected ')'");
    return true;
  }
  const std::string& error() const { return error_; }
  std::vector<std::string>& names() { return names_; }

 private:
  bool Refuse(const std::string& why) {
    if (error_.empty()) error_ = why + " at offset " + std::to_string(pos_);
    return false;
  }
  bool AtEnd() const { return pos_ >= re_.size(); }
  char Peek(size_t ahead = 0) const { return pos_ + ahead < re_.size() ? re_[pos_ + ahead] : '\0'; }

  bool ParseAlt(Node* out, int depth) {
    const size_t start = pos_;
    std::vector<Node> branches(1);
    if (!ParseSeq(&branches.back(), depth)) return false;
    while (!AtEnd() && Peek() == '|') {
      ++pos_;
      branches.emplace_back();
      if (!ParseSeq(&branches.back(), depth)) return false;
    }
    if (branches.size() == 1) {
      *out = std::move(branches[0]);
    } else {
      out->kind = Node::Kind::kAlt;
      out->kids = std::move(branches);
    }
    out->pos = start;
    return true;
  }

  bool ParseSeq(Node* out, int depth) {
    out->kind = Node::Kind::kSeq;
    out->pos = pos_;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      Node atom;
      bool has_atom = false;
      if (!ParseAtom(&atom, depth, &has_atom)) return false;
      uint32_t min = 1, max = 1;
      bool quantified = false;
      if (!ParseQuantifier(&min, &max, &quantified)) return false;
      if (!has_atom) {
        if (quantified) return Refuse("repetition of an anchor");
        continue;
      }
      if (quantified) {
        if (atom.kind == Node::Kind::kRun && atom.min == 1 && atom.max == 1) {
          atom.min = min;
          atom.max = max;
        } else {
          Node rep;
          rep.kind = Node::Kind::kRepeat;
          rep.min = min;
          rep.max = max;
          rep.pos = atom.pos;
          rep.kids.push_back(std::move(atom));
          atom = std::move(rep);
        }
      }
      out->kids.push_back(std::move(atom));
    }
    return true;
  }

  bool ParseAtom(Node* out, int depth, bool* has_atom) {
    out->pos = pos_;
    const char c = Peek();
    switch (c) {
      case '(':
        *has_atom = true;
        return ParseGroup(out, depth);
      case '[': {
        *has_atom = true;
        out->kind = Node::Kind::kRun;
        return ParseClass(&out->set);
      }
      case '.':
        ++pos_;
        *has_atom = true;
        out->kind = Node::Kind::kRun;
        out->set = ~ByteSet().set('\n');
        return true;
      case '\\': {
        *has_atom = true;
        out->kind = Node::Kind::kRun;
        return ParseEscape(&out->set);
      }
      case '^':
        // With ANCHOR_BOTH a '^' that starts the pattern is a no-op; elsewhere it is not.
        if (pos_ != 0) return Refuse("'^' not at the start");
        ++pos_;
        return true;
      case '$':
        if (pos_ + 1 != re_.size() || depth != 0) return Refuse("'$' not at the end");
        ++pos_;
        return true;
      case '*':
      case '+':
      case '?':
      case '{':
        return Refuse(std::string("'") + c + "' without an operand");
      case ']':
      case '}':
        return Refuse(std::string("unescaped '") + c + "'");
      default:
        ++pos_;
        *has_atom = true;
        out->kind = Node::Kind::kRun;
        out->set.set(static_cast<unsigned char>(c));
        return true;
    }
  }

  bool ParseGroup(Node* out, int depth) {
    out->kind = Node::Kind::kGroup;
    if (Peek(1) == '?') {
      if (Peek(2) == ':') {
        pos_ += 3;
      } else if (Peek(2) == 'P' && Peek(3) == '<') {
        pos_ += 4;
        if (!ParseName(out)) return false;
      } else if (Peek(2) == '<' && IsNameChar(Peek(3))) {
        pos_ += 3;
        if (!ParseName(out)) return false;
      } else {
        return Refuse("flags or a group kind other than (?:...) and (?P<name>...)");
      }
    } else {
      ++pos_;
      out->cap = static_cast<int>(names_.size());
      names_.emplace_back();
    }
    Node kid;
    if (!ParseAlt(&kid, depth + 1)) return false;
    if (Peek() != ')' || AtEnd()) return Refuse("missing ')'");
    ++pos_;
    out->kids.push_back(std::move(kid));
    return true;
  }

  bool ParseName(Node* out) {
    const size_t start = pos_;
    while (!AtEnd() && IsNameChar(Peek())) ++pos_;
    if (pos_ == start || Peek() != '>') return Refuse("bad group name");
    out->cap = static_cast<int>(names_.size());
    names_.push_back(re_.substr(start, pos_ - start));
    ++pos_;
    return true;
  }

  // At '\\': one escape, as a set of bytes (one byte for a literal).
  bool ParseEscape(ByteSet* set) {
    if (pos_ + 1 >= re_.size()) return Refuse("trailing backslash");
    const char c = re_[pos_ + 1];
    pos_ += 2;
    switch (c) {
      case 'd':
      case 'D':
      case 's':
      case 'S':
      case 'w':
      case 'W':
        *set = PerlClass(c);
        return true;
      case 't':
        set->set('\t');
        return true;
      case 'n':
        set->set('\n');
        return true;
      case 'r':
        set->set('\r');
        return true;
      case 'f':
        set->set('\f');
        return true;
      case 'v':
        set->set('\v');
        return true;
      case 'a':
        set->set(7);
        return true;
      case 'x': {
        int value = 0;
        if (Peek() == '{') {
          ++pos_;
          int digits = 0;
          while (!AtEnd() && HexValue(Peek()) >= 0) {
            value = value * 16 + HexValue(Peek());
            if (value > 0xff) return Refuse("\\x{...} above \\xff");
            ++pos_;
            ++digits;
          }
          if (digits == 0 || Peek() != '}') return Refuse("bad \\x{...}");
          ++pos_;
        } else {
          if (HexValue(Peek()) < 0 || HexValue(Peek(1)) < 0) return Refuse("bad \\x escape");
          value = HexValue(Peek()) * 16 + HexValue(Peek(1));
          pos_ += 2;
        }
        set->set(value);
        return true;
      }
      default:
        break;
    }
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || (IsNameChar(c) && c != '_')) {
      pos_ -= 2;
      return Refuse(std::string("escape \\") + (u >= 0x20 && u < 0x7f ? std::string(1, c) : "?"));
    }
    set->set(u);  // escaped punctuation is itself
    return true;
  }

  // At '[': a class, negated over all 256 bytes (RE2's default lets [^x] match '\n').
  bool ParseClass(ByteSet* set) {
    ++pos_;
    bool negate = false;
    if (Peek() == '^' && !AtEnd()) {
      negate = true;
      ++pos_;
    }
    bool first = true;
    for (;;) {
      if (AtEnd()) return Refuse("missing ']'");
      const char c = Peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      if (c == '[' && Peek(1) == ':') return Refuse("POSIX class");
      if (c == '-' && !first && Peek(1) != ']') return Refuse("'-' inside a class");
      first = false;
      int lo = 0;
      if (!ParseClassChar(set, &lo)) return false;
      if (lo < 0) {  // \d and friends
        if (Peek() == '-' && Peek(1) != ']') return Refuse("range from a class");
        continue;
      }
      if (Peek() == '-' && Peek(1) != ']' && pos_ + 1 < re_.size()) {
        ++pos_;
        int hi = 0;
        ByteSet unused;
        if (Peek() == '[' && Peek(1) == ':') return Refuse("POSIX class");
        if (!ParseClassChar(&unused, &hi)) return false;
        if (hi < 0 || hi < lo) return Refuse("bad range in a class");
        *set |= Range(lo, hi);
      } else {
        set->set(lo);
      }
    }
    if (negate) *set = ~*set;
    return true;
  }

  // One class item: a byte (*byte >= 0, not yet added) or a Perl class (*byte = -1, added).
  bool ParseClassChar(ByteSet* set, int* byte) {
    if (Peek() != '\\') {
      *byte = static_cast<unsigned char>(Peek());
      ++pos_;
      return true;
    }
    ByteSet item;
    if (!ParseEscape(&item)) return false;
    if (item.count() == 1) {
      for (int b = 0; b < 256; ++b) {
        if (item[b]) *byte = b;
      }
    } else {
      *set |= item;
      *byte = -1;
    }
    return true;
  }

  bool ParseQuantifier(uint32_t* min, uint32_t* max, bool* present) {
    const char c = Peek();
    if (AtEnd()) return true;
    if (c == '*') {
      *min = 0;
      *max = kInf;
      ++pos_;
    } else if (c == '+') {
      *min = 1;
      *max = kInf;
      ++pos_;
    } else if (c == '?') {
      *min = 0;
      *max = 1;
      ++pos_;
    } else if (c == '{') {
      size_t p = pos_ + 1;
      auto number = [&](uint32_t* value) {
        const size_t start = p;
        uint64_t v = 0;
        while (p < re_.size() && re_[p] >= '0' && re_[p] <= '9' && v <= kMaxCount) {
          v = v * 10 + (re_[p] - '0');
          ++p;
        }
        *value = static_cast<uint32_t>(v);
        return p > start && v <= kMaxCount;
      };
      if (!number(min)) return Refuse("'{' that is not a counted repetition");
      if (p < re_.size() && re_[p] == ',') {
        ++p;
        if (p < re_.size() && re_[p] == '}') {
          *max = kInf;
        } else if (!number(max) || *max < *min) {
          return Refuse("bad counted repetition");
        }
      } else {
        *max = *min;
      }
      if (p >= re_.size() || re_[p] != '}') return Refuse("'{' that is not a counted repetition");
      pos_ = p + 1;
    } else {
      return true;
    }
    *present = true;
    if (Peek() == '?' && !AtEnd()) return Refuse("non-greedy repetition");
    const char next = Peek();
    if (!AtEnd() && (next == '*' || next == '+' || next == '{'))
      return Refuse("repeated repetition");
    return true;
  }

  const std::string& re_;
  size_t pos_ = 0;
  std::string error_;
  std::vector<std::string> names_{""};
};

// ---- Normalize: drop (?:...), flatten sequences, merge adjacent runs of one class ----------

void Normalize(Node* n) {
  for (Node& kid : n->kids) Normalize(&kid);
  switch (n->kind) {
    case Node::Kind::kGroup:
      if (n->cap < 0) {
        Node kid = std::move(n->kids[0]);
        *n = std::move(kid);
      }
      return;
    case Node::Kind::kRepeat: {
      // (?:x)+ of one byte class is a run.
      Node& kid = n->kids[0];
      const Node* atom = &kid;
      if (kid.kind == Node::Kind::kSeq && kid.kids.size() == 1) atom = &kid.kids[0];
      ByteSet set;
      bool single = false;
      if (atom->kind == Node::Kind::kRun && atom->min == 1 && atom->max == 1) {
        set = atom->set;
        single = true;
      } else if (atom->kind == Node::Kind::kLit && atom->lit.size() == 1) {
        set.set(static_cast<unsigned char>(atom->lit[0]));
        single = true;
      }
      if (single) {
        n->kind = Node::Kind::kRun;
        n->set = set;
        n->kids.clear();
      }
      return;
    }
    case Node::Kind::kSeq: {
      std::vector<Node> flat;
      for (Node& kid : n->kids) {
        if (kid.kind == Node::Kind::kSeq) {
          for (Node& k : kid.kids) flat.push_back(std::move(k));
        } else {
          flat.push_back(std::move(kid));
        }
      }
      // Adjacent runs of the same class: x{a,b}x{c,d} == x{a+c,b+d} (no capture between).
      std::vector<Node> merged;
      for (Node& kid : flat) {
        if (!merged.empty() && kid.kind == Node::Kind::kRun &&
            merged.back().kind == Node::Kind::kRun && merged.back().set == kid.set) {
          merged.back().min = AddCounts(merged.back().min, kid.min);
          merged.back().max = AddCounts(merged.back().max, kid.max);
          if (merged.back().max == kTooMany) merged.back().min = kTooMany;  // refused later
          continue;
        }
        merged.push_back(std::move(kid));
      }
      // Fixed runs of one byte become literals, and adjacent literals one literal.
      std::vector<Node> out;
      for (Node& kid : merged) {
        if (kid.kind == Node::Kind::kRun && kid.set.count() == 1 && kid.min == kid.max &&
            kid.min <= kMaxCount) {
          int b = 0;
          while (!kid.set[b]) ++b;
          Node lit;
          lit.kind = Node::Kind::kLit;
          lit.pos = kid.pos;
          lit.lit.assign(kid.min, static_cast<char>(b));
          if (lit.lit.empty()) continue;
          kid = std::move(lit);
        }
        if (kid.kind == Node::Kind::kLit && !out.empty() && out.back().kind == Node::Kind::kLit) {
          out.back().lit += kid.lit;
          continue;
        }
        out.push_back(std::move(kid));
      }
      n->kids = std::move(out);
      return;
    }
    default:
      return;
  }
}

// ---- Analysis: FIRST sets and the LL(1) conditions -----------------------------------------

struct First {
  ByteSet bytes;
  bool nullable = false;
};
// What may come right after a node: bytes, and whether the line may end there.
struct Follow {
  ByteSet bytes;
  bool end = false;
};

First FirstOf(const Node& n) {
  First f;
  switch (n.kind) {
    case Node::Kind::kLit:
      if (n.lit.empty()) {
        f.nullable = true;
      } else {
        f.bytes.set(static_cast<unsigned char>(n.lit[0]));
      }
      return f;
    case Node::Kind::kRun:
      f.bytes = n.set;
      f.nullable = n.min == 0;
      return f;
    case Node::Kind::kGroup:
      return FirstOf(n.kids[0]);
    case Node::Kind::kRepeat:
      f = FirstOf(n.kids[0]);
      f.nullable = f.nullable || n.min == 0;
      return f;
    case Node::Kind::kSeq:
      f.nullable = true;
      for (const Node& kid : n.kids) {
        const First k = FirstOf(kid);
        f.bytes |= k.bytes;
        if (!k.nullable) {
          f.nullable = false;
          break;
        }
      }
      return f;
    case Node::Kind::kAlt:
      for (const Node& kid : n.kids) {
        const First k = FirstOf(kid);
        f.bytes |= k.bytes;
        f.nullable = f.nullable || k.nullable;
      }
      return f;
  }
  return f;
}

bool HasCapture(const Node& n) {
  if (n.kind == Node::Kind::kGroup && n.cap >= 0) return true;
  for (const Node& kid : n.kids) {
    if (HasCapture(kid)) return true;
  }
  return false;
}

class Checker {
 public:
  bool Check(const Node& n, const Follow& follow) {
    switch (n.kind) {
      case Node::Kind::kLit:
        return true;
      case Node::Kind::kRun:
        if (n.min > kMaxCount) return Refuse(n, "a run of over 1000");
        if (n.max != n.min && (n.set & follow.bytes).any()) {
          return Refuse(n, "a run of " + SetText(n.set) + " may be followed by " +
                               SetText(n.set & follow.bytes) + " (needs backtracking)");
        }
        return true;
      case Node::Kind::kGroup:
        return Check(n.kids[0], follow);
      case Node::Kind::kSeq: {
        std::vector<Follow> follows(n.kids.size());
        Follow cur = follow;
        for (size_t i = n.kids.size(); i-- > 0;) {
          follows[i] = cur;
          const First f = FirstOf(n.kids[i]);
          if (f.nullable) {
            cur.bytes |= f.bytes;
          } else {
            cur.bytes = f.bytes;
            cur.end = false;
          }
        }
        for (size_t i = 0; i < n.kids.size(); ++i) {
          if (!Check(n.kids[i], follows[i])) return false;
        }
        return true;
      }
      case Node::Kind::kAlt: {
        std::vector<First> firsts;
        int nullable = -1;
        for (const Node& kid : n.kids) {
          firsts.push_back(FirstOf(kid));
          if (firsts.back().nullable) {
            if (nullable >= 0) return Refuse(n, "two branches that can match empty");
            nullable = static_cast<int>(firsts.size()) - 1;
          }
        }
        for (size_t i = 0; i < firsts.size(); ++i) {
          for (size_t j = i + 1; j < firsts.size(); ++j) {
            const ByteSet both = firsts[i].bytes & firsts[j].bytes;
            if (both.any()) {
              return Refuse(n, "branches that both start with " + SetText(both));
            }
          }
          if (nullable >= 0 && static_cast<int>(i) != nullable &&
              (firsts[i].bytes & follow.bytes).any()) {
            return Refuse(n, "a branch that can match empty, where another branch starts with " +
                                 SetText(firsts[i].bytes & follow.bytes) + " that may follow");
          }
        }
        for (const Node& kid : n.kids) {
          if (!Check(kid, follow)) return false;
        }
        return true;
      }
      case Node::Kind::kRepeat: {
        const Node& body = n.kids[0];
        const First f = FirstOf(body);
        if (f.nullable) return Refuse(n, "repetition of something that can match empty");
        // An optional group has one iteration or none, so its captures are simply set or
        // unset; in a loop they would hold the last iteration's span.
        if (n.max > 1 && HasCapture(body)) return Refuse(n, "a capture inside a repetition");
        if (n.min > kMaxUnrolled || (n.max != kInf && n.max - n.min > kMaxUnrolled)) {
          return Refuse(n, "a counted repetition of a group over 16");
        }
        if (n.max != n.min && (f.bytes & follow.bytes).any()) {
          return Refuse(n, "a repetition that may be followed by " +
                               SetText(f.bytes & follow.bytes) + ", its own first byte");
        }
        // After one pass over the body comes another pass (if more may follow) or `follow`.
        Follow inner = follow;
        if (n.max > 1) inner.bytes |= f.bytes;
        return Check(body, inner);
      }
    }
    return true;
  }
  const std::string& error() const { return error_; }

 private:
  bool Refuse(const Node& n, const std::string& why) {
    error_ = "not decidable by the next byte: " + why + " at offset " + std::to_string(n.pos);
    return false;
  }
  std::string error_;
};

}  // namespace

// ---- Code generation ---------------------------------------------------------------------

class ByteScannerCompiler {
 public:
  explicit ByteScannerCompiler(ByteScanner* out) : out_(out) {}

  bool Emit(const Node& n) {
    if (out_->prog_.size() > kMaxInsts) return false;
    switch (n.kind) {
      case Node::Kind::kLit:
        for (size_t at = 0; at < n.lit.size(); at += 8) {
          const std::string piece = n.lit.substr(at, 8);
          Inst* last = out_->prog_.empty() ? nullptr : &out_->prog_.back();
          if (last == nullptr || last->lit_len != 0 || labels_[Pc()] ||
              (last->op != Op::kLiteral && last->op != Op::kRunExcept && last->op != Op::kRun &&
               last->op != Op::kSaveOpen && last->op != Op::kSaveClose)) {
            Inst in;
            in.op = Op::kLiteral;
            last = Push(in);
          }
          SetLiteral(last, piece);
        }
        return true;
      case Node::Kind::kRun: {
        Inst in;
        in.min = n.min;
        in.max = n.max == kInf ? ByteScanner::kUnbounded : n.max;
        const ByteSet excluded = ~n.set;
        if (excluded.count() >= 1 && excluded.count() <= 3) {
          in.op = Op::kRunExcept;
          int k = 0;
          for (int c = 0; c < 256; ++c) {
            if (excluded[c]) in.except[k++] = static_cast<uint8_t>(c);
          }
          for (; k < 3; ++k) in.except[k] = in.except[0];
        } else {
          in.op = Op::kRun;
          in.arg = Table(n.set);
        }
        Push(in);
        return true;
      }
      case Node::Kind::kGroup: {
        Inst open;
        open.op = Op::kSaveOpen;
        open.arg = static_cast<uint32_t>(n.cap);
        Push(open);
        if (!Emit(n.kids[0])) return false;
        Inst close;
        close.op = Op::kSaveClose;
        close.arg = open.arg;
        Push(close);
        return true;
      }
      case Node::Kind::kSeq:
        for (const Node& kid : n.kids) {
          if (!Emit(kid)) return false;
        }
        return true;
      case Node::Kind::kAlt: {
        const uint32_t sw = NewSwitch();
        std::vector<size_t> jumps;
        int nullable_target = -1;
        for (size_t i = 0; i < n.kids.size(); ++i) {
          const int32_t target = Label();
          const First f = FirstOf(n.kids[i]);
          for (int c = 0; c < 256; ++c) {
            if (f.bytes[c]) out_->switches_[sw][c] = target;
          }
          if (f.nullable) nullable_target = target;
          if (!Emit(n.kids[i])) return false;
          if (i + 1 < n.kids.size()) jumps.push_back(EmitJump());
        }
        const int32_t done = Label();
        for (size_t j : jumps) out_->prog_[j].arg = static_cast<uint32_t>(done);
        if (nullable_target >= 0) {
          for (int c = 0; c <= 256; ++c) {
            if (out_->switches_[sw][c] < 0) out_->switches_[sw][c] = nullable_target;
          }
        }
        return true;
      }
      case Node::Kind::kRepeat: {
        const Node& body = n.kids[0];
        const First f = FirstOf(body);
        for (uint32_t i = 0; i < n.min; ++i) {
          Label();  // keeps a literal in the body from fusing across copies
          if (!Emit(body)) return false;
        }
        if (n.max == kInf) {
          const int32_t loop = Label();
          const uint32_t sw = NewSwitch();
          const int32_t start = Label();
          if (!Emit(body)) return false;
          out_->prog_[EmitJump()].arg = static_cast<uint32_t>(loop);
          FillLoopSwitch(sw, f.bytes, start, Label());
          return true;
        }
        std::vector<std::pair<uint32_t, int32_t>> optional;  // switch, body start
        for (uint32_t i = n.min; i < n.max; ++i) {
          const uint32_t sw = NewSwitch();
          optional.emplace_back(sw, Label());
          if (!Emit(body)) return false;
        }
        const int32_t exit = Label();
        for (const auto& [sw, start] : optional) FillLoopSwitch(sw, f.bytes, start, exit);
        return true;
      }
    }
    return true;
  }

  void EmitEnd() {
    Inst in;
    in.op = Op::kEnd;
    Push(in);
  }

 private:
  using Inst = ByteScanner::Inst;
  using Op = ByteScanner::Op;

  int32_t Pc() const { return static_cast<int32_t>(out_->prog_.size()); }

  // The current pc as a jump target: a literal emitted next must not fuse into the
  // instruction before it.
  int32_t Label() {
    labels_[Pc()] = true;
    return Pc();
  }

  Inst* Push(const Inst& in) {
    out_->prog_.push_back(in);
    labels_.push_back(false);
    return &out_->prog_.back();
  }

  static void SetLiteral(Inst* in, const std::string& piece) {
    in->lit_len = static_cast<uint8_t>(piece.size());
    in->lit_word = 0;
    in->lit_mask = 0;
    std::memcpy(&in->lit_word, piece.data(), piece.size());
    std::memset(&in->lit_mask, 0xff, piece.size());
  }

  size_t EmitJump() {
    Inst in;
    in.op = Op::kJump;
    Push(in);
    return out_->prog_.size() - 1;
  }

  uint32_t NewSwitch() {
    std::array<int32_t, 257> table;
    table.fill(-1);
    out_->switches_.push_back(table);
    Inst in;
    in.op = Op::kSwitch;
    in.arg = static_cast<uint32_t>(out_->switches_.size() - 1);
    Push(in);
    return in.arg;
  }

  void FillLoopSwitch(uint32_t sw, const ByteSet& first, int32_t body, int32_t exit) {
    for (int c = 0; c <= 256; ++c) out_->switches_[sw][c] = c < 256 && first[c] ? body : exit;
  }

  uint32_t Table(const ByteSet& set) {
    std::array<uint8_t, 256> table;
    for (int c = 0; c < 256; ++c) table[c] = set[c] ? 1 : 0;
    for (size_t i = 0; i < out_->tables_.size(); ++i) {
      if (out_->tables_[i] == table) return static_cast<uint32_t>(i);
    }
    out_->tables_.push_back(table);
    return static_cast<uint32_t>(out_->tables_.size() - 1);
  }

  ByteScanner* out_;
  std::vector<bool> labels_ = std::vector<bool>(1, false);  // one per pc, and one past the end
};

std::unique_ptr<ByteScanner> ByteScanner::Compile(const std::string& regex, std::string* why_not) {
  auto refuse = [why_not](const std::string& why) {
    if (why_not != nullptr) *why_not = why;
    return nullptr;
  };
  Parser parser(regex);
  Node root;
  if (!parser.Parse(&root)) return refuse(parser.error());
  Normalize(&root);
  Checker checker;
  Follow at_end;
  at_end.end = true;
  if (!checker.Check(root, at_end)) return refuse(checker.error());

  std::unique_ptr<ByteScanner> scanner(new ByteScanner());
  scanner->group_names_ = std::move(parser.names());
  ByteScannerCompiler compiler(scanner.get());
  if (!compiler.Emit(root)) return refuse("program over 4096 instructions");
  compiler.EmitEnd();
  if (why_not != nullptr) why_not->clear();
  return scanner;
}

namespace {

// The trailing literal of `in` at *p: advances *p past it, or returns false.
inline bool TrailingLiteral(const uint8_t len, const uint64_t word, const uint64_t mask,
                            const unsigned char** p, const unsigned char* end) {
  const size_t avail = static_cast<size_t>(end - *p);
  uint64_t x = 0;
  if (avail >= 8) {
    std::memcpy(&x, *p, 8);
  } else {
    if (avail < len) return false;
    std::memcpy(&x, *p, avail);
  }
  if ((x & mask) != word) return false;
  *p += len;
  return true;
}

// The first byte in [p, lim) equal to one of a, b, c, or lim.
inline const unsigned char* FindAny3(const unsigned char* p, const unsigned char* lim,
                                     unsigned char a, unsigned char b, unsigned char c) {
#ifdef __SSE2__
  const __m128i va = _mm_set1_epi8(static_cast<char>(a));
  const __m128i vb = _mm_set1_epi8(static_cast<char>(b));
  const __m128i vc = _mm_set1_epi8(static_cast<char>(c));
  while (lim - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, va), _mm_cmpeq_epi8(v, vb)),
                                     _mm_cmpeq_epi8(v, vc));
    const int bits = _mm_movemask_epi8(hit);
    if (bits != 0) return p + __builtin_ctz(static_cast<unsigned>(bits));
    p += 16;
  }
#endif
  while (p < lim && *p != a && *p != b && *p != c) ++p;
  return p;
}

}  // namespace

// The interpreter loop. With GCC or Clang each handler jumps straight to the next one
// (labels as values), so the branch predictor sees one indirect jump per handler instead of
// one shared jump; elsewhere it is a plain switch in a loop.
#if defined(__GNUC__)
#define LOGPIPE_DISPATCH() goto* kHandlers[static_cast<int>(ip->op)]
#else
#define LOGPIPE_DISPATCH() continue
#endif
// After a handler that consumed input: the trailing literal, then the next instruction.
#define LOGPIPE_NEXT()                                                                          \
  do {                                                                                          \
    if (ip->lit_len != 0 && !TrailingLiteral(ip->lit_len, ip->lit_word, ip->lit_mask, &p, end)) \
      return false;                                                                             \
    ++ip;                                                                                       \
    LOGPIPE_DISPATCH();                                                                         \
  } while (0)

bool ByteScanner::Match(std::string_view line, std::string_view* groups, int ngroups) const {
  const unsigned char* const end =
      reinterpret_cast<const unsigned char*>(line.data()) + line.size();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(line.data());
  for (int g = 1; g < ngroups; ++g) groups[g] = std::string_view();
  const Inst* const prog = prog_.data();
  const Inst* ip = prog;
#if defined(__GNUC__)
  // In the order of Op.
  static const void* const kHandlers[] = {&&literal,    &&run_except, &&run,  &&save_open,
                                          &&save_close, &&switch_op,  &&jump, &&end_op};
  static_assert(sizeof(kHandlers) / sizeof(kHandlers[0]) == static_cast<int>(Op::kEnd) + 1);
  LOGPIPE_DISPATCH();
#endif
  for (;;) {
    switch (ip->op) {
      case Op::kLiteral:
      literal:
        LOGPIPE_NEXT();
      case Op::kRunExcept:
      run_except : {
        size_t avail = static_cast<size_t>(end - p);
        if (ip->max < avail) avail = ip->max;
        const unsigned char* q =
            FindAny3(p, p + avail, ip->except[0], ip->except[1], ip->except[2]);
        if (static_cast<size_t>(q - p) < ip->min) return false;
        p = q;
        LOGPIPE_NEXT();
      }
      case Op::kRun:
      run : {
        const uint8_t* const t = tables_[ip->arg].data();
        size_t avail = static_cast<size_t>(end - p);
        if (ip->max < avail) avail = ip->max;
        const unsigned char* const lim = p + avail;
        const unsigned char* q = p;
        while (lim - q >= 4 && (t[q[0]] & t[q[1]] & t[q[2]] & t[q[3]]) != 0) q += 4;
        while (q < lim && t[*q] != 0) ++q;
        if (static_cast<size_t>(q - p) < ip->min) return false;
        p = q;
        LOGPIPE_NEXT();
      }
      case Op::kSaveOpen:
      save_open:
        if (static_cast<int>(ip->arg) < ngroups) {
          groups[ip->arg] = std::string_view(reinterpret_cast<const char*>(p), 0);
        }
        LOGPIPE_NEXT();
      case Op::kSaveClose:
      save_close:
        if (static_cast<int>(ip->arg) < ngroups) {
          const char* start = groups[ip->arg].data();
          groups[ip->arg] = std::string_view(
              start, static_cast<size_t>(reinterpret_cast<const char*>(p) - start));
        }
        LOGPIPE_NEXT();
      case Op::kSwitch:
      switch_op : {
        const int32_t target = switches_[ip->arg][p == end ? 256 : *p];
        if (target < 0) return false;
        ip = prog + target;
        LOGPIPE_DISPATCH();
      }
      case Op::kJump:
      jump:
        ip = prog + ip->arg;
        LOGPIPE_DISPATCH();
      case Op::kEnd:
      end_op:
        if (p != end) return false;
        if (ngroups > 0) groups[0] = line;
        return true;
    }
  }
}

#undef LOGPIPE_NEXT
#undef LOGPIPE_DISPATCH

std::string ByteScanner::Disassemble() const {
  std::string out;
  for (size_t i = 0; i < prog_.size(); ++i) {
    const Inst& in = prog_[i];
    out += std::to_string(i) + ": ";
    const std::string count = "{" + std::to_string(in.min) + "," +
                              (in.max == kUnbounded ? std::string() : std::to_string(in.max)) + "}";
    switch (in.op) {
      case Op::kLiteral:
        out += "literal";
        break;
      case Op::kRunExcept: {
        ByteSet set;
        for (uint8_t b : in.except) set.set(b);
        out += "run " + SetText(~set) + count + " (simd)";
        break;
      }
      case Op::kRun: {
        ByteSet set;
        for (int c = 0; c < 256; ++c) set[c] = tables_[in.arg][c] != 0;
        out += "run " + SetText(set) + count;
        break;
      }
      case Op::kSaveOpen:
        out += "open " + std::to_string(in.arg);
        break;
      case Op::kSaveClose:
        out += "close " + std::to_string(in.arg);
        break;
      case Op::kSwitch: {
        out += "switch";
        const auto& table = switches_[in.arg];
        for (int c = 0; c <= 256; ++c) {
          if (table[c] < 0) continue;
          int e = c;
          while (c < 256 && e + 1 < 256 && table[e + 1] == table[c]) ++e;
          out += " " + (c == 256 ? std::string("end") : ByteText(c)) +
                 (e > c ? "-" + ByteText(e) : "") + "->" + std::to_string(table[c]);
          c = e;
        }
        break;
      }
      case Op::kJump:
        out += "jump " + std::to_string(in.arg);
        break;
      case Op::kEnd:
        out += "end";
        break;
    }
    if (in.lit_len != 0) {
      char bytes[8];
      std::memcpy(bytes, &in.lit_word, 8);
      out += " then \"";
      for (int k = 0; k < in.lit_len; ++k) out += ByteText(static_cast<unsigned char>(bytes[k]));
      out += "\"";
    }
    out += "\n";
  }
  return out;
}

}  // namespace logpipe
