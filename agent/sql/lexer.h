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
// LexOptions::dialect = kMySql reads MySQL/MariaDB instead (sql_lex.cc; the reference manual's
// comments.html, string-literals.html, identifiers.html):
//
//   # line comments; -- line comments only when a space or control byte (or the end) follows,
//   so 1--1 is arithmetic; /* block comments */ that do not nest
//   /*! code */ /*!50700 code */ /*M! code */: conditional comments, whose content the server
//   runs; the lexer skips only the opener and the `*/` and lexes the content as tokens
//   'strings' and "strings" with '' and \' escapes (no backslash escapes under the sql_mode
//   NO_BACKSLASH_ESCAPES; "..." is an identifier under ANSI_QUOTES); X'..' 0x.. B'..' 0b.. N'..'
//   `backtick identifiers` with `` escapes; identifiers may start with a digit (1a) or $
//   @user_var @'quoted var' @@system.var (kVariable), ? placeholders (kParam)
//
// What the server makes of the same bytes depends on state veild cannot see for certain: the
// session's sql_mode (it can change at any time), the server's version (a /*!NNNNN comment
// runs only on a server at least that new; /*M! only on MariaDB) and, with a multi-byte client
// character set such as GBK, whether a backslash is the second byte of a character. Readings()
// lists the other readings that can split a text differently once a lexer has reported why
// (saw_backslash_in_string(), saw_conditional_comment()); callers check every one.
//
// Tokens are views into the input: lexing allocates nothing. Not thread-safe; cheap to create.
//
//   Lexer lex("SELECT 'a;b' FROM t; DELETE FROM t");
//   for (Token t = lex.Next(); t.kind != TokenKind::kEnd; t = lex.Next()) ...
#pragma once

#include <array>
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
  kOther,     // a byte that starts no token (a stray $ or \, a control character)
  kVariable,  // MySQL: @name, @'name', @`name`, @@name, @@session.name
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
  // MySQL: whether the token sits inside a conditional comment /*! ... */.
  bool in_conditional_comment = false;
};

enum class Dialect : uint8_t { kPostgres, kMySql };

struct LexOptions {
  bool standard_conforming_strings = true;  // PostgreSQL; the server default since 9.1
  Dialect dialect = Dialect::kPostgres;
  // MySQL sql_mode NO_BACKSLASH_ESCAPES: a backslash in a string is an ordinary character.
  bool no_backslash_escapes = false;
  // MySQL sql_mode ANSI_QUOTES: "..." is an identifier, not a string.
  bool ansi_quotes = false;
  // MySQL: the client character set is a multi-byte one (GBK, Big5, SJIS, CP932, GB18030) whose
  // characters may end in 0x5C or 0x60, so a byte 0x81-0xFE takes the next byte (0x40-0xFE)
  // along, in strings, quoted identifiers and words alike.
  bool multibyte_backslash = false;
  // MySQL: /*!NNNNN ... */ runs (the server is at least version NNNNN); else it is a comment.
  bool versioned_comments_run = true;
  // MySQL: /*M! ... */ runs (the server is MariaDB); else it is a comment.
  bool mariadb_comments_run = true;

  bool operator==(const LexOptions&) const = default;
};

// The other readings of a text that the server may use, besides `options`.
struct Readings {
  std::array<LexOptions, 19> options{};
  size_t size = 0;
  const LexOptions* begin() const { return options.data(); }
  const LexOptions* end() const { return options.data() + size; }
};
// The readings other than `options` that can split a text differently, given what a lexer that
// read the text with `options` reported: PostgreSQL, the other standard_conforming_strings when
// `saw_backslash`; MySQL, every other combination of the string settings when `saw_backslash`
// and of the conditional-comment settings when `saw_conditional`. Empty when neither.
Readings OtherReadings(LexOptions options, bool saw_backslash, bool saw_conditional);

class Lexer {
 public:
  // Lexes `sql` from byte offset `start`, which must be the start of a token or of space;
  // `in_conditional_comment`: (MySQL) that offset is inside a /*! ... */ (Token says so).
  explicit Lexer(std::string_view sql, LexOptions options = {}, size_t start = 0,
                 bool in_conditional_comment = false);

  // The next token; kEnd (repeatedly) at the end. Space and comments are skipped.
  Token Next();

  // Whether a '...' or N'...' string held a backslash, i.e. whether lexing with the other
  // standard_conforming_strings setting could split the input differently. MySQL: whether any
  // '...' or "..." (a user variable's name included) held a backslash, escape or not, or a
  // byte pair that a multi-byte client character set would read as one character ending in a
  // backslash, a quote or another byte that no identifier holds.
  bool saw_backslash_in_string() const { return saw_backslash_; }
  // MySQL: whether a /*!NNNNN or /*M! comment began, whose reading depends on the server.
  bool saw_conditional_comment() const { return saw_conditional_; }

 private:
  void SkipSpaceAndComments();
  void SkipSpaceAndCommentsMySql();
  Token NextMySql();
  size_t QuotedEnd(size_t open, char quote, bool backslash_escapes);
  size_t MySqlQuotedEnd(size_t open, char quote);
  size_t MySqlIdentEnd(size_t i, bool dots);
  bool MultibyteAt(size_t i) const;
  size_t BlockCommentEnd(size_t body, int nesting);
  size_t SkipUescape(size_t after);

  std::string_view sql_;
  LexOptions options_;
  size_t pos_;
  bool saw_backslash_ = false;
  bool saw_conditional_ = false;
  bool comment_unterminated_ = false;
  bool in_conditional_ = false;  // MySQL: inside /*! ... */
  // MySQL: the previous token, to tell user@'host' from @'variable'.
  TokenKind last_kind_ = TokenKind::kEnd;
  size_t last_end_ = 0;
};

// The lowercase keyword if `word` is a PostgreSQL keyword, else empty.
std::string_view LookupKeyword(std::string_view word);

// ASCII case-insensitive equality; `lower` must be lowercase.
bool EqualsLower(std::string_view s, std::string_view lower);

}  // namespace veil::sql
