// A PostgreSQL lexer for deciding what a statement does, not for parsing it.
//
// veild classifies every Query and Parse it forwards (classifier.h); the one thing that must
// never go wrong is the split between code and data: a `;` or a `DELETE` inside a string, a
// comment or a quoted identifier is data, and a `;` outside them ends a statement. This lexer
// follows the server's scanner (src/backend/parser/scan.l) on exactly those points:
//
//   -- line comments, nested /* block /* comments */ */
//   'strings' with '' escapes; E'\'' escapes; B'..' X'..' N'..'; U&'..' [UESCAPE 'c']
//   $tag$ dollar quoting $tag$ (any tag; an inner $other$ does not end it)
//   "quoted identifiers" with "" escapes; U&"..."
//   $1 parameters, numbers, operators (an operator ends where -- or /* begins), ( ) [ ] , ; : .
//
// With standard_conforming_strings off the server lets a backslash escape a quote in a plain
// '...' string too; LexOptions selects that reading, and saw_backslash_in_string() says when
// the two readings can differ, so that a caller can check both (guardrails.h does).
//
// Tokens are views into the input: lexing allocates nothing. Not thread-safe; cheap to create.
//
//   Lexer lex("SELECT 'a;b' FROM t; DELETE FROM t");
//   for (Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next()) ...
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace veil::sql {

enum class TokenKind : uint8_t {
  kEnd,          // end of input
  kWord,         // identifier or keyword, unquoted
  kQuotedIdent,  // "..." or U&"..."
  kString,       // any string literal, dollar-quoted ones included (see StringForm)
  kNumber,
  kParam,     // $1
  kOperator,  // + - * / < > = ~ ! @ # % ^ & | ` ? and runs of them, also ::
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kSemicolon,
  kColon,
  kDot,
  kOther,  // a byte that starts no token (a stray $ or \, a control character)
};

enum class StringForm : uint8_t {
  kNone,      // not a string
  kPlain,     // '...'
  kEscape,    // E'...'
  kBit,       // B'...'
  kHex,       // X'...'
  kNational,  // N'...'
  kUnicode,   // U&'...' or U&"..." (UESCAPE clause included in the token)
  kDollar,    // $tag$...$tag$
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  StringForm form = StringForm::kNone;
  bool terminated = true;  // false: an unterminated string, identifier or comment ran to the end
  size_t pos = 0;          // byte offset of the first byte in the input
  std::string_view text;   // the raw token, quotes and prefixes included
  // For kWord: the lowercase spelling if the word is a PostgreSQL keyword (a view of static
  // storage), else empty.
  std::string_view keyword;

  // Whether this is the unquoted word `lower` (ASCII case-insensitive; `lower` is lowercase).
  bool Is(std::string_view lower) const;
  // The characters between the quotes (or dollar tags), escapes left as written.
  std::string_view Body() const;
  size_t end() const { return pos + text.size(); }
};

struct LexOptions {
  bool standard_conforming_strings = true;  // the server default since 9.1
};

class Lexer {
 public:
  // Lexes `sql` from byte offset `start`, which must be the start of a token or of space.
  explicit Lexer(std::string_view sql, LexOptions options = {}, size_t start = 0);

  // The next token; kEnd (repeatedly) at the end. Space and comments are skipped.
  Token Next();

  // Whether a '...' or N'...' string held a backslash, i.e. whether lexing with the other
  // standard_conforming_strings setting could split the input differently.
  bool saw_backslash_in_string() const { return saw_backslash_; }

 private:
  void SkipSpaceAndComments();
  size_t QuotedEnd(size_t open, char quote, bool backslash_escapes);
  size_t SkipUescape(size_t after);

  std::string_view sql_;
  LexOptions options_;
  size_t pos_;
  bool saw_backslash_ = false;
  bool comment_unterminated_ = false;
};

// The lowercase keyword if `word` is a PostgreSQL keyword, else empty.
std::string_view LookupKeyword(std::string_view word);

// ASCII case-insensitive equality; `lower` must be lowercase.
bool EqualsLower(std::string_view s, std::string_view lower);

}  // namespace veil::sql
