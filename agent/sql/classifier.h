// What a PostgreSQL statement does, decided from its tokens: read, write, schema change,
// transaction control or a setting — the input of veild's guardrails (guardrails.h) and of
// `read` grants (SPEC §4).
//
// The classifier leans to the safe side: a statement it cannot place is a write, and anything
// that changes data, stored state or locks rows counts as a write. It knows no catalog, so a
// user-defined function with side effects called from a SELECT is a read (see the list of
// known side-effect functions in classifier.cc); the server-side `default_transaction_read_only`
// wall (SPEC §4) is what stops those.
//
// Decisions worth knowing:
//   - SELECT ... FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE and LOCK are writes: they take
//     row or table locks that block writers, and the server refuses them in a read-only
//     transaction too.
//   - SELECT ... INTO t, CREATE TABLE ... AS and CREATE MATERIALIZED VIEW are DDL and writes.
//   - VACUUM, ANALYZE, CLUSTER, REINDEX, CHECKPOINT, LOAD and NOTIFY are kOther writes: they
//     rewrite storage or statistics, take heavy locks or reach other sessions. LISTEN, UNLISTEN,
//     DISCARD, SHOW, FETCH, MOVE, CLOSE, DEALLOCATE are reads.
//   - TRUNCATE is an unbounded write, like DELETE without WHERE.
//   - DO, CALL and EXECUTE (the statement is not known here) are writes.
//   - EXPLAIN ANALYZE runs its statement and takes its class; plain EXPLAIN is a read.
//   - ';' always ends a statement, even inside parentheses (only CREATE RULE allows that,
//     and it is DDL either way), so parentheses cannot hide a statement.
//
// With LexOptions::dialect = kMySql the same questions are answered for MySQL and MariaDB
// (see the comment above ClassifyMySql in classifier.cc for its decisions): reads are SELECT
// (also INTO @var), WITH, TABLE, VALUES, SHOW, DESCRIBE, EXPLAIN, HELP, USE, DO, HANDLER;
// writes are DML, LOAD, CALL, locking reads, INTO OUTFILE/DUMPFILE, LOCK TABLES, maintenance
// and server statements, PREPARE/EXECUTE, XA, SET GLOBAL; DDL is CREATE/ALTER/DROP/RENAME/
// GRANT/REVOKE/SET PASSWORD; TRUNCATE is an unbounded write; a SET of any system variable
// whose name holds `read_only` (other than to a true literal) or READ WRITE turns read-only
// off; MariaDB's SET STATEMENT ... FOR stmt takes stmt's class.
//
// Classify() returns a vector; StatementReader yields the same results one at a time without
// allocating. Both are thread-compatible; views in the results point into `sql`.
#pragma once

#include <string_view>
#include <vector>

#include "agent/sql/lexer.h"

namespace veil::sql {

struct StatementInfo {
  enum class Kind { kRead, kWrite, kDdl, kTransaction, kSet, kOther };
  Kind kind = Kind::kOther;
  bool writes = false;  // changes data or stored state, takes locks, or unknown side effects
  bool ddl = false;     // CREATE/ALTER/DROP/GRANT/REVOKE/COMMENT/SECURITY LABEL/...
  bool unbounded_write = false;     // UPDATE or DELETE without WHERE (also in a CTE), TRUNCATE
  bool sets_read_only_off = false;  // may turn (default_)transaction_read_only off
  // Lowercase, a view of static storage when the statement starts with a keyword (it nearly
  // always does); otherwise the first word as written, a view into the input. Empty if the
  // statement starts with something else than a word.
  std::string_view first_keyword;
  // The statement from its first to its last token (no ';', leading comments excluded); a view
  // into the input.
  std::string_view text;
  // MySQL: `text` begins inside a /*! ... */ comment; lex it with Lexer(..., true).
  bool text_in_conditional_comment = false;
};

// Splits `sql` at ';' and classifies each non-empty statement.
std::vector<StatementInfo> Classify(std::string_view sql, LexOptions options = {});

// The statements of `sql`, one at a time, without allocating.
class StatementReader {
 public:
  explicit StatementReader(std::string_view sql, LexOptions options = {});
  // Fills `out` with the next statement and returns true, or returns false at the end.
  bool Next(StatementInfo* out);
  // See Lexer::saw_backslash_in_string(); valid once Next() has returned false.
  bool saw_backslash_in_string() const { return lexer_.saw_backslash_in_string(); }
  // See Lexer::saw_conditional_comment(); valid once Next() has returned false.
  bool saw_conditional_comment() const { return lexer_.saw_conditional_comment(); }

 private:
  std::string_view sql_;
  LexOptions options_;
  Lexer lexer_;
};

// Classifies the one statement made of the tokens in [begin, end) of `sql`; `begin` must be
// the start of a token (inside a MySQL /*! comment if `in_conditional_comment`). Exposed for
// tests; StatementReader is the usual entry point.
StatementInfo ClassifyStatement(std::string_view sql, size_t begin, size_t end,
                                LexOptions options = {}, bool in_conditional_comment = false);

}  // namespace veil::sql
