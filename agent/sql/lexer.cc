#include "agent/sql/lexer.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace veil::sql {
namespace {

// PostgreSQL keywords (reserved and unreserved) that statements are classified by, plus the
// reserved words; kept sorted (checked below) for binary search.
constexpr std::array<std::string_view, 231> kKeywords = {"abort",
                                                         "access",
                                                         "action",
                                                         "add",
                                                         "after",
                                                         "all",
                                                         "alter",
                                                         "always",
                                                         "analyse",
                                                         "analyze",
                                                         "and",
                                                         "any",
                                                         "array",
                                                         "as",
                                                         "asc",
                                                         "asymmetric",
                                                         "atomic",
                                                         "attach",
                                                         "authorization",
                                                         "before",
                                                         "begin",
                                                         "between",
                                                         "binary",
                                                         "both",
                                                         "by",
                                                         "call",
                                                         "cascade",
                                                         "case",
                                                         "cast",
                                                         "chain",
                                                         "characteristics",
                                                         "check",
                                                         "checkpoint",
                                                         "close",
                                                         "cluster",
                                                         "collate",
                                                         "column",
                                                         "comment",
                                                         "commit",
                                                         "committed",
                                                         "concurrently",
                                                         "conflict",
                                                         "constraint",
                                                         "copy",
                                                         "create",
                                                         "cross",
                                                         "csv",
                                                         "current",
                                                         "current_catalog",
                                                         "current_date",
                                                         "current_role",
                                                         "current_time",
                                                         "current_timestamp",
                                                         "current_user",
                                                         "cursor",
                                                         "cycle",
                                                         "data",
                                                         "database",
                                                         "deallocate",
                                                         "declare",
                                                         "default",
                                                         "deferrable",
                                                         "deferred",
                                                         "delete",
                                                         "desc",
                                                         "detach",
                                                         "discard",
                                                         "distinct",
                                                         "do",
                                                         "domain",
                                                         "drop",
                                                         "each",
                                                         "else",
                                                         "end",
                                                         "except",
                                                         "exclusive",
                                                         "execute",
                                                         "exists",
                                                         "explain",
                                                         "extension",
                                                         "false",
                                                         "fetch",
                                                         "first",
                                                         "for",
                                                         "foreign",
                                                         "freeze",
                                                         "from",
                                                         "full",
                                                         "function",
                                                         "grant",
                                                         "group",
                                                         "having",
                                                         "ilike",
                                                         "immediate",
                                                         "import",
                                                         "in",
                                                         "index",
                                                         "initially",
                                                         "inner",
                                                         "insert",
                                                         "instead",
                                                         "intersect",
                                                         "into",
                                                         "is",
                                                         "isolation",
                                                         "join",
                                                         "key",
                                                         "last",
                                                         "lateral",
                                                         "leading",
                                                         "left",
                                                         "level",
                                                         "like",
                                                         "limit",
                                                         "listen",
                                                         "load",
                                                         "local",
                                                         "localtime",
                                                         "localtimestamp",
                                                         "lock",
                                                         "locked",
                                                         "matched",
                                                         "materialized",
                                                         "merge",
                                                         "mode",
                                                         "move",
                                                         "natural",
                                                         "no",
                                                         "not",
                                                         "nothing",
                                                         "notify",
                                                         "nowait",
                                                         "null",
                                                         "nulls",
                                                         "of",
                                                         "off",
                                                         "offset",
                                                         "on",
                                                         "only",
                                                         "option",
                                                         "or",
                                                         "order",
                                                         "outer",
                                                         "over",
                                                         "overlaps",
                                                         "owned",
                                                         "owner",
                                                         "placing",
                                                         "policy",
                                                         "prepare",
                                                         "prepared",
                                                         "primary",
                                                         "privileges",
                                                         "procedure",
                                                         "program",
                                                         "publication",
                                                         "read",
                                                         "reassign",
                                                         "recursive",
                                                         "references",
                                                         "refresh",
                                                         "reindex",
                                                         "release",
                                                         "rename",
                                                         "repeatable",
                                                         "replace",
                                                         "reset",
                                                         "restrict",
                                                         "returning",
                                                         "revoke",
                                                         "right",
                                                         "role",
                                                         "rollback",
                                                         "row",
                                                         "rows",
                                                         "rule",
                                                         "savepoint",
                                                         "schema",
                                                         "search",
                                                         "security",
                                                         "select",
                                                         "sequence",
                                                         "serializable",
                                                         "session",
                                                         "session_user",
                                                         "set",
                                                         "share",
                                                         "show",
                                                         "similar",
                                                         "skip",
                                                         "some",
                                                         "start",
                                                         "stdin",
                                                         "stdout",
                                                         "subscription",
                                                         "symmetric",
                                                         "system",
                                                         "system_user",
                                                         "table",
                                                         "tablesample",
                                                         "tablespace",
                                                         "temp",
                                                         "temporary",
                                                         "then",
                                                         "to",
                                                         "trailing",
                                                         "transaction",
                                                         "trigger",
                                                         "true",
                                                         "truncate",
                                                         "type",
                                                         "uescape",
                                                         "uncommitted",
                                                         "union",
                                                         "unique",
                                                         "unlisten",
                                                         "unlogged",
                                                         "update",
                                                         "user",
                                                         "using",
                                                         "vacuum",
                                                         "values",
                                                         "variadic",
                                                         "verbose",
                                                         "view",
                                                         "when",
                                                         "where",
                                                         "window",
                                                         "with",
                                                         "work",
                                                         "write"};
static_assert(std::is_sorted(kKeywords.begin(), kKeywords.end()));

constexpr size_t kMaxKeywordLength = 24;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool IsIdentCont(char c) { return IsIdentStart(c) || IsDigit(c) || c == '$'; }
bool IsDollarTagCont(char c) { return IsIdentStart(c) || IsDigit(c); }  // no '$' in a tag
bool IsOpChar(char c) {
  switch (c) {
    case '~':
    case '!':
    case '@':
    case '#':
    case '^':
    case '&':
    case '|':
    case '`':
    case '?':
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
    case '<':
    case '>':
    case '=':
      return true;
    default:
      return false;
  }
}
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (Lower(s[i]) != lower[i]) return false;
  return true;
}

namespace {

// Keywords by hash, open addressing: every word of every statement is looked up (a binary search
// was 8 string compares a word, ~1% of veild's CPU under pgbench).
constexpr size_t kKeywordSlots = 1024;
static_assert(kKeywordSlots >= 4 * kKeywords.size());

constexpr uint32_t KeywordHash(std::string_view lower) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (char c : lower) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
  return h;
}

constexpr std::array<int16_t, kKeywordSlots> kKeywordTable = [] {
  std::array<int16_t, kKeywordSlots> t{};
  for (auto& slot : t) slot = -1;
  for (size_t k = 0; k < kKeywords.size(); ++k) {
    size_t i = KeywordHash(kKeywords[k]) & (kKeywordSlots - 1);
    while (t[i] >= 0) i = (i + 1) & (kKeywordSlots - 1);
    t[i] = static_cast<int16_t>(k);
  }
  return t;
}();

// The keyword's index in kKeywords, or -1.
constexpr int KeywordIndex(std::string_view lower) {
  for (size_t i = KeywordHash(lower) & (kKeywordSlots - 1); kKeywordTable[i] >= 0;
       i = (i + 1) & (kKeywordSlots - 1))
    if (kKeywords[kKeywordTable[i]] == lower) return kKeywordTable[i];
  return -1;
}

static_assert(
    [] {
      for (size_t k = 0; k < kKeywords.size(); ++k)
        if (KeywordIndex(kKeywords[k]) != static_cast<int>(k)) return false;
      return KeywordIndex("customers") < 0;
    }(),
    "every keyword is found in the table, and only keywords");

}  // namespace

std::string_view LookupKeyword(std::string_view word) {
  if (word.empty() || word.size() > kMaxKeywordLength) return {};
  char buf[kMaxKeywordLength];
  for (size_t i = 0; i < word.size(); ++i) buf[i] = Lower(word[i]);
  const int k = KeywordIndex(std::string_view(buf, word.size()));
  return k < 0 ? std::string_view() : kKeywords[k];
}

bool Token::Is(std::string_view lower) const {
  return kind == TokenKind::kWord && EqualsLower(text, lower);
}

std::string_view Token::Body() const {
  std::string_view t = text;
  switch (form) {
    case StringForm::kNone:
      if (kind != TokenKind::kQuotedIdent) return t;
      break;
    case StringForm::kDollar: {
      size_t tag = t.find('$', 1) + 1;  // the opening $tag$
      if (!terminated) return t.substr(tag);
      if (t.size() < 2 * tag) return {};
      return t.substr(tag, t.size() - 2 * tag);
    }
    case StringForm::kPlain:
      break;
    case StringForm::kUnicode: {
      // The body ends at the first undoubled quote; a UESCAPE clause may follow it.
      t.remove_prefix(2);
      const char q = t.front();
      size_t i = 1;
      while (i < t.size()) {
        if (t[i] != q) {
          ++i;
        } else if (i + 1 < t.size() && t[i + 1] == q) {
          i += 2;
        } else {
          return t.substr(1, i - 1);
        }
      }
      return t.substr(1);
    }
    default:
      t.remove_prefix(1);  // E B X N
  }
  if (t.empty()) return t;
  t.remove_prefix(1);
  if (terminated && !t.empty()) t.remove_suffix(1);
  return t;
}

Lexer::Lexer(std::string_view sql, LexOptions options, size_t start, bool in_conditional_comment)
    : sql_(sql),
      options_(options),
      pos_(std::min(start, sql.size())),
      in_conditional_(in_conditional_comment && options.dialect == Dialect::kMySql) {}

Readings OtherReadings(LexOptions options, bool saw_backslash, bool saw_conditional) {
  Readings r;
  if (options.dialect == Dialect::kPostgres) {
    if (saw_backslash) {
      options.standard_conforming_strings = !options.standard_conforming_strings;
      r.options[r.size++] = options;
    }
    return r;
  }
  // The string settings that split text differently: backslash escapes off (ANSI_QUOTES then
  // changes only what "..." is, not where it ends); escapes on with "..." a string or an
  // identifier, each with and without a multi-byte client character set.
  struct Strings {
    bool nbe, ansi, mb;
  };
  constexpr Strings kStrings[] = {{false, false, false},
                                  {true, false, false},
                                  {false, true, false},
                                  {false, false, true},
                                  {false, true, true}};
  auto same_strings = [](const LexOptions& a, const Strings& b) {
    if (a.no_backslash_escapes || b.nbe) return a.no_backslash_escapes == b.nbe;
    return a.ansi_quotes == b.ansi && a.multibyte_backslash == b.mb;
  };
  for (const Strings& st : kStrings) {
    if (!saw_backslash && !same_strings(options, st)) continue;
    for (bool versioned : {true, false}) {
      for (bool mariadb : {true, false}) {
        if (!saw_conditional && (versioned != options.versioned_comments_run ||
                                 mariadb != options.mariadb_comments_run))
          continue;
        LexOptions o = options;
        if (!same_strings(options, st)) {
          o.no_backslash_escapes = st.nbe;
          o.ansi_quotes = st.ansi;
          o.multibyte_backslash = st.mb;
        }
        o.versioned_comments_run = versioned;
        o.mariadb_comments_run = mariadb;
        if (o == options) continue;
        r.options[r.size++] = o;
      }
    }
  }
  return r;
}

void Lexer::SkipSpaceAndComments() {
  const size_t n = sql_.size();
  while (pos_ < n) {
    char c = sql_[pos_];
    if (IsSpace(c)) {
      ++pos_;
    } else if (c == '-' && pos_ + 1 < n && sql_[pos_ + 1] == '-') {
      pos_ += 2;
      while (pos_ < n && sql_[pos_] != '\n' && sql_[pos_] != '\r') ++pos_;
    } else if (c == '/' && pos_ + 1 < n && sql_[pos_ + 1] == '*') {
      // Block comments nest in PostgreSQL, unlike in C.
      pos_ += 2;
      int depth = 1;
      while (pos_ < n && depth > 0) {
        if (sql_[pos_] == '/' && pos_ + 1 < n && sql_[pos_ + 1] == '*') {
          ++depth;
          pos_ += 2;
        } else if (sql_[pos_] == '*' && pos_ + 1 < n && sql_[pos_ + 1] == '/') {
          --depth;
          pos_ += 2;
        } else {
          ++pos_;
        }
      }
      if (depth > 0) comment_unterminated_ = true;
    } else {
      return;
    }
  }
}

// Returns the offset just past the closing quote of a literal whose opening quote is at
// `open`, or npos if it is unterminated. A doubled quote is an escaped quote.
size_t Lexer::QuotedEnd(size_t open, char quote, bool backslash_escapes) {
  const size_t n = sql_.size();
  size_t i = open + 1;
  while (i < n) {
    char c = sql_[i];
    if (c == '\\' && quote == '\'') {
      if (backslash_escapes) {
        i += 2;
        continue;
      }
      saw_backslash_ = true;
    }
    if (c == quote) {
      if (i + 1 < n && sql_[i + 1] == quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    ++i;
  }
  return std::string_view::npos;
}

// After a U&'...' or U&"..." ending at `after`: the end of an optional `UESCAPE 'c'` clause,
// which the server lexes as part of the same token; else `after`.
size_t Lexer::SkipUescape(size_t after) {
  size_t saved = pos_;
  pos_ = after;
  SkipSpaceAndComments();
  size_t end = after;
  if (pos_ + 7 <= sql_.size() && EqualsLower(sql_.substr(pos_, 7), "uescape") &&
      (pos_ + 7 == sql_.size() || !IsIdentCont(sql_[pos_ + 7]))) {
    pos_ += 7;
    SkipSpaceAndComments();
    if (pos_ < sql_.size() && sql_[pos_] == '\'') {
      size_t q = QuotedEnd(pos_, '\'', false);
      end = q == std::string_view::npos ? sql_.size() : q;
    }
  }
  pos_ = saved;
  return end;
}

Token Lexer::Next() {
  if (options_.dialect == Dialect::kMySql) return NextMySql();
  SkipSpaceAndComments();
  Token t;
  const size_t n = sql_.size();
  t.pos = pos_;
  if (pos_ >= n) {
    t.kind = TokenKind::kEnd;
    t.terminated = !comment_unterminated_;
    return t;
  }
  const size_t start = pos_;
  const char c = sql_[pos_];
  auto finish = [&](TokenKind kind, size_t end) {
    t.kind = kind;
    pos_ = std::min(end, n);
    t.text = sql_.substr(start, pos_ - start);
    return t;
  };
  auto quoted = [&](TokenKind kind, StringForm form, size_t open, char quote, bool backslash) {
    t.form = form;
    size_t end = QuotedEnd(open, quote, backslash);
    if (end == std::string_view::npos) {
      t.terminated = false;
      end = n;
    } else if (form == StringForm::kUnicode) {
      end = SkipUescape(end);
    }
    return finish(kind, end);
  };
  const bool scs = options_.standard_conforming_strings;

  if (IsIdentStart(c)) {
    size_t i = pos_ + 1;
    while (i < n && IsIdentCont(sql_[i])) ++i;
    if (i - pos_ == 1 && i < n && sql_[i] == '\'') {
      switch (Lower(c)) {
        case 'e':
          return quoted(TokenKind::kString, StringForm::kEscape, i, '\'', true);
        case 'b':
          return quoted(TokenKind::kString, StringForm::kBit, i, '\'', false);
        case 'x':
          return quoted(TokenKind::kString, StringForm::kHex, i, '\'', false);
        case 'n':
          return quoted(TokenKind::kString, StringForm::kNational, i, '\'', !scs);
        default:
          break;
      }
    }
    if (i - pos_ == 1 && Lower(c) == 'u' && i + 1 < n && sql_[i] == '&' &&
        (sql_[i + 1] == '\'' || sql_[i + 1] == '"')) {
      char q = sql_[i + 1];
      return quoted(q == '"' ? TokenKind::kQuotedIdent : TokenKind::kString, StringForm::kUnicode,
                    i + 1, q, false);
    }
    finish(TokenKind::kWord, i);
    t.keyword = LookupKeyword(t.text);
    return t;
  }
  if (IsDigit(c) || (c == '.' && pos_ + 1 < n && IsDigit(sql_[pos_ + 1]))) {
    size_t i = pos_;
    if (c == '0' && i + 1 < n &&
        (Lower(sql_[i + 1]) == 'x' || Lower(sql_[i + 1]) == 'o' || Lower(sql_[i + 1]) == 'b')) {
      i += 2;
      while (i < n && (IsDigit(sql_[i]) || IsIdentStart(sql_[i]))) ++i;
      return finish(TokenKind::kNumber, i);
    }
    while (i < n && (IsDigit(sql_[i]) || sql_[i] == '_')) ++i;
    if (i < n && sql_[i] == '.' && !(i + 1 < n && sql_[i + 1] == '.')) {
      ++i;
      while (i < n && (IsDigit(sql_[i]) || sql_[i] == '_')) ++i;
    }
    if (i < n && Lower(sql_[i]) == 'e') {
      size_t j = i + 1;
      if (j < n && (sql_[j] == '+' || sql_[j] == '-')) ++j;
      if (j < n && IsDigit(sql_[j])) {
        i = j;
        while (i < n && IsDigit(sql_[i])) ++i;
      }
    }
    return finish(TokenKind::kNumber, i);
  }
  switch (c) {
    case '\'':
      return quoted(TokenKind::kString, StringForm::kPlain, pos_, '\'', !scs);
    case '"':
      return quoted(TokenKind::kQuotedIdent, StringForm::kNone, pos_, '"', false);
    case '$': {
      size_t i = pos_ + 1;
      if (i < n && IsDigit(sql_[i])) {
        while (i < n && IsDigit(sql_[i])) ++i;
        return finish(TokenKind::kParam, i);
      }
      if (i < n && IsIdentStart(sql_[i])) {
        while (i < n && IsDollarTagCont(sql_[i])) ++i;
      }
      if (i >= n || sql_[i] != '$') return finish(TokenKind::kOther, pos_ + 1);
      // $tag$ ... $tag$: the body ends at the first copy of the opening delimiter.
      std::string_view delim = sql_.substr(pos_, i + 1 - pos_);
      t.form = StringForm::kDollar;
      size_t close = sql_.find(delim, i + 1);
      if (close == std::string_view::npos) {
        t.terminated = false;
        return finish(TokenKind::kString, n);
      }
      return finish(TokenKind::kString, close + delim.size());
    }
    case '(':
      return finish(TokenKind::kLParen, pos_ + 1);
    case ')':
      return finish(TokenKind::kRParen, pos_ + 1);
    case '[':
      return finish(TokenKind::kLBracket, pos_ + 1);
    case ']':
      return finish(TokenKind::kRBracket, pos_ + 1);
    case ',':
      return finish(TokenKind::kComma, pos_ + 1);
    case ';':
      return finish(TokenKind::kSemicolon, pos_ + 1);
    case '.':
      return finish(TokenKind::kDot, pos_ + 1);
    case ':':
      if (pos_ + 1 < n && sql_[pos_ + 1] == ':') return finish(TokenKind::kOperator, pos_ + 2);
      if (pos_ + 1 < n && sql_[pos_ + 1] == '=') return finish(TokenKind::kOperator, pos_ + 2);
      return finish(TokenKind::kColon, pos_ + 1);
    default:
      break;
  }
  if (IsOpChar(c)) {
    // An operator runs over operator characters but stops where a comment starts.
    size_t i = pos_ + 1;
    while (i < n && IsOpChar(sql_[i])) {
      if ((sql_[i] == '-' && i + 1 < n && sql_[i + 1] == '-') ||
          (sql_[i] == '/' && i + 1 < n && sql_[i + 1] == '*'))
        break;
      ++i;
    }
    return finish(TokenKind::kOperator, i);
  }
  return finish(TokenKind::kOther, pos_ + 1);
}

// The end of a block comment whose body starts at `body`, allowing `nesting` levels of /* */
// inside it (the server allows one in a skipped /*!NNNNN comment, none elsewhere).
size_t Lexer::BlockCommentEnd(size_t body, int nesting) {
  const size_t n = sql_.size();
  size_t i = body;
  while (i < n) {
    if (nesting > 0 && sql_[i] == '/' && i + 1 < n && sql_[i + 1] == '*') {
      i = BlockCommentEnd(i + 2, nesting - 1);
      continue;
    }
    if (sql_[i] == '*' && i + 1 < n && sql_[i + 1] == '/') return i + 2;
    ++i;
  }
  comment_unterminated_ = true;
  return n;
}

void Lexer::SkipSpaceAndCommentsMySql() {
  const size_t n = sql_.size();
  auto to_line_end = [&](size_t i) {
    // The server ends a line comment at a newline (or a NUL byte), not at a lone \r.
    while (i < n && sql_[i] != '\n' && sql_[i] != '\0') ++i;
    return i;
  };
  while (pos_ < n) {
    const char c = sql_[pos_];
    if (IsSpace(c)) {
      ++pos_;
    } else if (c == '#') {
      pos_ = to_line_end(pos_ + 1);
    } else if (c == '-' && pos_ + 1 < n && sql_[pos_ + 1] == '-' &&
               (pos_ + 2 == n || static_cast<unsigned char>(sql_[pos_ + 2]) <= 0x20 ||
                sql_[pos_ + 2] == 0x7f)) {
      pos_ = to_line_end(pos_ + 2);
    } else if (c == '/' && pos_ + 1 < n && sql_[pos_ + 1] == '*') {
      size_t i = pos_ + 2;
      if (i < n && sql_[i] == '!') {
        ++i;
        size_t digits = 0;
        while (digits < 5 && i + digits < n && IsDigit(sql_[i + digits])) ++digits;
        if (digits < 5) {
          pos_ = i;  // /*! without a version always runs
          in_conditional_ = true;
        } else {
          saw_conditional_ = true;
          if (options_.versioned_comments_run) {
            pos_ = i + 5;
            in_conditional_ = true;
          } else {
            pos_ = BlockCommentEnd(i, 1);
          }
        }
      } else if (i + 1 < n && (sql_[i] == 'M' || sql_[i] == 'm') && sql_[i + 1] == '!') {
        saw_conditional_ = true;
        if (options_.mariadb_comments_run) {
          i += 2;
          for (int d = 0; d < 6 && i < n && IsDigit(sql_[i]); ++d) ++i;
          pos_ = i;
          in_conditional_ = true;
        } else {
          pos_ = BlockCommentEnd(i, 0);  // MySQL: an ordinary comment
        }
      } else {
        pos_ = BlockCommentEnd(i, 0);
      }
    } else if (in_conditional_ && c == '*' && pos_ + 1 < n && sql_[pos_ + 1] == '/') {
      pos_ += 2;
      in_conditional_ = false;
    } else {
      return;
    }
  }
}

// MySQL: the offset just past the closing quote of a '...', "..." or `...` opened at `open`, or
// npos. Doubled quotes escape; a backslash escapes in strings unless NO_BACKSLASH_ESCAPES
// (never in identifiers: `...` always, "..." under ANSI_QUOTES).
size_t Lexer::MySqlQuotedEnd(size_t open, char quote) {
  const size_t n = sql_.size();
  const bool ident = quote == '`' || (quote == '"' && options_.ansi_quotes);
  const bool backslash = !ident && !options_.no_backslash_escapes;
  size_t i = open + 1;
  while (i < n) {
    const char c = sql_[i];
    if (quote != '`' && c == '\\') saw_backslash_ = true;
    if (MultibyteAt(i)) {
      // A GBK-like character whose second byte is a backslash or the quote (0x60 is a valid
      // second byte: a backtick can be swallowed) ends the quote elsewhere in that reading.
      if (sql_[i + 1] == '\\' || sql_[i + 1] == quote) saw_backslash_ = true;
      if (options_.multibyte_backslash) {
        i += 2;
        continue;
      }
    }
    if (c == '\\' && backslash) {
      i += 2;
      continue;
    }
    if (c == quote) {
      if (i + 1 < n && sql_[i + 1] == quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    ++i;
  }
  return std::string_view::npos;
}

// Whether the bytes at `i` could be one character of a multi-byte client character set (GBK,
// Big5, SJIS, CP932, GB18030 all take a second byte from 0x40 up): a lead byte 0x81-0xFE and a
// second byte 0x40-0xFE other than 0x7F.
bool Lexer::MultibyteAt(size_t i) const {
  if (i + 1 >= sql_.size()) return false;
  const auto lead = static_cast<unsigned char>(sql_[i]);
  const auto second = static_cast<unsigned char>(sql_[i + 1]);
  return lead >= 0x81 && lead <= 0xfe && second >= 0x40 && second <= 0xfe && second != 0x7f;
}

// MySQL: the end of the identifier characters from `i` (and dots, if `dots`). A multi-byte
// character may end in a byte that is no identifier character (` \ @ [ ^ ...): the readings
// with and without such a character set then differ, which saw_backslash_ reports.
size_t Lexer::MySqlIdentEnd(size_t i, bool dots) {
  const size_t n = sql_.size();
  auto ident = [&](char ch) {
    return IsIdentStart(ch) || IsDigit(ch) || ch == '$' || (dots && ch == '.');
  };
  while (i < n) {
    if (MultibyteAt(i)) {
      if (!ident(sql_[i + 1])) saw_backslash_ = true;
      if (options_.multibyte_backslash) {
        i += 2;
        continue;
      }
    }
    if (!ident(sql_[i])) break;
    ++i;
  }
  return i;
}

Token Lexer::NextMySql() {
  SkipSpaceAndCommentsMySql();
  Token t;
  const size_t n = sql_.size();
  t.pos = pos_;
  t.in_conditional_comment = in_conditional_;
  if (pos_ >= n) {
    t.kind = TokenKind::kEnd;
    t.terminated = !comment_unterminated_;
    return t;
  }
  const size_t start = pos_;
  const char c = sql_[pos_];
  auto finish = [&](TokenKind kind, size_t end) {
    t.kind = kind;
    pos_ = std::min(end, n);
    t.text = sql_.substr(start, pos_ - start);
    last_kind_ = kind;
    last_end_ = pos_;
    return t;
  };
  // A quoted token whose quote is at `open`.
  auto quoted = [&](TokenKind kind, StringForm form, size_t open) {
    t.form = form;
    size_t end = MySqlQuotedEnd(open, sql_[open]);
    if (end == std::string_view::npos) {
      t.terminated = false;
      end = n;
    }
    return finish(kind, end);
  };
  // X'..' and B'..' end at the next quote: the server takes no escapes there.
  auto plain_quoted = [&](StringForm form, size_t open) {
    t.form = form;
    size_t close = sql_.find('\'', open + 1);
    if (close == std::string_view::npos) {
      t.terminated = false;
      return finish(TokenKind::kString, n);
    }
    return finish(TokenKind::kString, close + 1);
  };
  auto is_ident = [](char ch) { return IsIdentStart(ch) || IsDigit(ch) || ch == '$'; };

  if (IsIdentStart(c) || c == '$') {
    size_t i = pos_ + 1;
    if (i < n && sql_[i] == '\'') {
      switch (Lower(c)) {
        case 'x':
          return plain_quoted(StringForm::kHex, i);
        case 'b':
          return plain_quoted(StringForm::kBit, i);
        case 'n':
          return quoted(TokenKind::kString, StringForm::kNational, i);
        default:
          break;
      }
    }
    i = MySqlIdentEnd(pos_, false);
    finish(TokenKind::kWord, i);
    t.keyword = LookupKeyword(t.text);
    return t;
  }
  if (IsDigit(c) || (c == '.' && pos_ + 1 < n && IsDigit(sql_[pos_ + 1]))) {
    // A run of identifier characters that starts with a digit is a number only in the forms
    // below; otherwise it is an identifier (1a, 0x1g, 2e).
    const size_t run = MySqlIdentEnd(pos_, false);
    std::string_view word = sql_.substr(pos_, run - pos_);
    auto all = [&](std::string_view s, auto pred) {
      return !s.empty() && std::all_of(s.begin(), s.end(), pred);
    };
    auto hex = [](char ch) { return IsDigit(ch) || (Lower(ch) >= 'a' && Lower(ch) <= 'f'); };
    if (c == '0' && word.size() > 2 && word[1] == 'x' && all(word.substr(2), hex))
      return finish(TokenKind::kNumber, run);
    if (c == '0' && word.size() > 2 && word[1] == 'b' &&
        all(word.substr(2), [](char ch) { return ch == '0' || ch == '1'; }))
      return finish(TokenKind::kNumber, run);
    size_t i = pos_;
    while (i < n && IsDigit(sql_[i])) ++i;
    if (c != '.' && i < run) {
      // 1e5 and 1e+5 are numbers (1e5a is 1e5 then a, as the server reads it); 1e, 1ea and
      // 1abc are identifiers.
      if (Lower(sql_[i]) == 'e') {
        size_t j = i + 1;
        if (j < n && (sql_[j] == '+' || sql_[j] == '-')) ++j;
        if (j < n && IsDigit(sql_[j])) {
          while (j < n && IsDigit(sql_[j])) ++j;
          return finish(TokenKind::kNumber, j);
        }
      }
      finish(TokenKind::kWord, run);
      t.keyword = LookupKeyword(t.text);
      return t;
    }
    if (i < n && sql_[i] == '.') {
      ++i;
      while (i < n && IsDigit(sql_[i])) ++i;
    }
    if (i < n && Lower(sql_[i]) == 'e') {
      size_t j = i + 1;
      if (j < n && (sql_[j] == '+' || sql_[j] == '-')) ++j;
      if (j < n && IsDigit(sql_[j])) {
        i = j;
        while (i < n && IsDigit(sql_[i])) ++i;
      }
    }
    return finish(TokenKind::kNumber, i);
  }
  switch (c) {
    case '\'':
      return quoted(TokenKind::kString, StringForm::kPlain, pos_);
    case '"':
      return options_.ansi_quotes ? quoted(TokenKind::kQuotedIdent, StringForm::kNone, pos_)
                                  : quoted(TokenKind::kString, StringForm::kPlain, pos_);
    case '`':
      return quoted(TokenKind::kQuotedIdent, StringForm::kNone, pos_);
    case '@': {
      size_t i = pos_ + 1;
      if (i < n && sql_[i] == '@') {
        // @@name, @@session.name, @@`name`
        ++i;
        for (;;) {
          if (i < n && sql_[i] == '`') {
            size_t e = MySqlQuotedEnd(i, '`');
            i = e == std::string_view::npos ? n : e;
          } else {
            i = MySqlIdentEnd(i, false);
          }
          if (i + 1 < n && sql_[i] == '.' && (is_ident(sql_[i + 1]) || sql_[i + 1] == '`')) {
            ++i;
            continue;
          }
          break;
        }
        return finish(TokenKind::kVariable, i);
      }
      if (i < n && (sql_[i] == '\'' || sql_[i] == '"' || sql_[i] == '`')) {
        // 'user'@'host' in account names; else @'variable'.
        const bool account = last_end_ == pos_ && (last_kind_ == TokenKind::kString ||
                                                   last_kind_ == TokenKind::kQuotedIdent);
        if (account) return finish(TokenKind::kOperator, i);
        size_t e = MySqlQuotedEnd(i, sql_[i]);
        if (e == std::string_view::npos) {
          t.terminated = false;
          e = n;
        }
        return finish(TokenKind::kVariable, e);
      }
      if (i < n && (is_ident(sql_[i]) || sql_[i] == '.')) {
        const bool account = last_end_ == pos_ && (last_kind_ == TokenKind::kString ||
                                                   last_kind_ == TokenKind::kQuotedIdent);
        if (account) return finish(TokenKind::kOperator, i);  // 'user'@host
        i = MySqlIdentEnd(i, true);
        return finish(TokenKind::kVariable, i);
      }
      return finish(TokenKind::kOperator, i);
    }
    case '?':
      return finish(TokenKind::kParam, pos_ + 1);
    case '(':
      return finish(TokenKind::kLParen, pos_ + 1);
    case ')':
      return finish(TokenKind::kRParen, pos_ + 1);
    case ',':
      return finish(TokenKind::kComma, pos_ + 1);
    case ';':
      return finish(TokenKind::kSemicolon, pos_ + 1);
    case '.':
      return finish(TokenKind::kDot, pos_ + 1);
    case ':':
      if (pos_ + 1 < n && sql_[pos_ + 1] == '=') return finish(TokenKind::kOperator, pos_ + 2);
      return finish(TokenKind::kColon, pos_ + 1);
    default:
      break;
  }
  if (IsOpChar(c) && c != '#' && c != '`' && c != '@' && c != '?') {
    // The server's operators are at most three characters; none runs into a comment opener.
    std::string_view rest = sql_.substr(pos_);
    for (std::string_view op : {"<=>", "->>", "<=", ">=", "<>", "!=", "<<", ">>", "&&", "||", "->"})
      if (rest.substr(0, op.size()) == op) return finish(TokenKind::kOperator, pos_ + op.size());
    return finish(TokenKind::kOperator, pos_ + 1);
  }
  return finish(TokenKind::kOther, pos_ + 1);
}

}  // namespace veil::sql
