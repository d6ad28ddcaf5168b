// Statement text that is safe to put in a usage event (SPEC §8): every literal replaced by a
// placeholder, so that `WHERE email = 'alice@example.com'` is recorded as `WHERE email = ?`.
//
// The SQL is read with the lexer that veild's classifier and guardrails use (agent/sql/lexer.h),
// which follows the server's scanner on exactly what matters here: where a string, a comment or
// a dollar-quoted body begins and ends. The output keeps the statement's shape:
//
//   kept                                      replaced by `?`             dropped
//   keywords (TRUE FALSE NULL are keywords)   '...' E'..' B'..' X'..'     -- line comments
//   identifiers, "quoted identifiers"         N'..' U&'..' $tag$..$tag$   /* block comments */
//   $1 parameters, operators, punctuation     numbers (1, 4.5e3, 0x1F)    runs of space
//
// A minus sign is an operator and stays (`-42` becomes `-?`); `IN (1, 2, 3)` becomes
// `IN (?, ?, ?)`. Comments are dropped, not kept, since they can hold anything a client typed.
// Tokens keep their original adjacency and any run of space or comments becomes one space.
//
// Why it cannot leak when the client turned standard_conforming_strings off: a plain '...'
// string holding a backslash splits differently under the two settings ('it\'s' is one string
// with the setting off, a string and then code with it on). When the input has such a
// backslash, it is lexed both ways and any token that is code in one reading but literal or
// comment in the other is replaced by `?` as well.
//
// MySQL and MariaDB (NormalizeOptions::dialect = kMySql): "double-quoted" text is replaced
// like a string even under ANSI_QUOTES (the session may change sql_mode at any time), as are
// X'..' 0x.. B'..' 0b.. N'..' literals; # and -- comments are dropped; `backtick` identifiers,
// @variables and ? placeholders are kept; the content of a /*! conditional comment */ is code
// and kept (its literals replaced) without the comment's delimiters. The other readings the
// server may use (agent/sql/lexer.h Readings: sql_mode NO_BACKSLASH_ESCAPES, a multi-byte
// client character set, a /*!NNNNN comment that is code on one server and a comment on
// another) are checked as for standard_conforming_strings: what is code in one and literal or
// comment in another becomes `?`.
//
// What it keeps that could be sensitive: identifiers. A client that writes data where an
// identifier belongs (`WHERE email = alice`) sends an invalid statement whose words are
// recorded as written.
//
// The output is at most max_bytes long; a longer one is cut at a token boundary and ends with
// kTruncationMarker. The output is always valid UTF-8 (invalid bytes in identifiers become
// U+FFFD), so that a JSON encoder cannot fail on it.
//
// Pure functions; safe from any thread. Cost: one lexer pass (two with a backslash in a plain
// string), bounded by the output limit, not the input size.
//
//   std::string q = NormalizeStatement("SELECT * FROM users WHERE ssn = '078-05-1120'");
//   // "SELECT * FROM users WHERE ssn = ?"
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "agent/sql/lexer.h"

namespace veil::events {

inline constexpr size_t kMaxNormalizedStatementBytes = 16 * 1024;
inline constexpr std::string_view kTruncationMarker = " /* truncated */";

struct NormalizeOptions {
  // The session's setting, when known; either way the other reading is checked too.
  bool standard_conforming_strings = true;
  // Upper bound of the output in bytes, marker included; at least kTruncationMarker.size() + 1.
  size_t max_bytes = kMaxNormalizedStatementBytes;
  // The SQL dialect; for kMySql the session's sql_mode as far as known (either way the other
  // readings are checked too). standard_conforming_strings is PostgreSQL's only.
  sql::Dialect dialect = sql::Dialect::kPostgres;
  bool no_backslash_escapes = false;
  bool ansi_quotes = false;
};

// `sql` with every literal replaced by `?`, comments dropped and space collapsed (see above).
std::string NormalizeStatement(std::string_view sql, NormalizeOptions options = {});

// What a usage event records of a statement, computed once per distinct text: the normalized
// text, its uid (the first 128 bits of its SHA-256, hex: OCSF query_info.uid) and its kind as
// the classifier sees it ("read", "write", "ddl" or "other"). A prepared statement run again, or
// the same text sent again, costs a lookup in a small direct-mapped cache per thread; the
// reference stays valid until this thread's next call.
struct StatementDigest {
  std::string text;
  std::string uid;
  std::string_view kind;
};
const StatementDigest& DigestStatement(std::string_view sql, bool standard_conforming_strings);
// The same for any dialect: `options` as the session reads statements (the cache is keyed by
// them too). DigestStatement(sql, scs) is DigestStatement(sql, {.standard_conforming_strings =
// scs}).
const StatementDigest& DigestStatement(std::string_view sql, sql::LexOptions options);

// `text` with each byte that does not belong to a well-formed UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF included) replaced by U+FFFD. Used for every string
// an event holds.
std::string SanitizeUtf8(std::string_view text);

}  // namespace veil::events
