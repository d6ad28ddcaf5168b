// An endpoint's guardrails (SPEC §3 `guardrails:`) and the read-only wall of a `read` grant
// (SPEC §4), checked against every statement veild forwards. A blocked statement gets
// ERROR 42501 `veil: statement blocked by guardrail <name>` and the session continues (§5).
//
//   read-only           refuses writes, DDL and anything that may turn read-only off
//                       (classifier.h decides which is which); implied by a `read` grant
//   no-ddl              refuses DDL
//   no-unbounded-write  refuses UPDATE/DELETE without WHERE and TRUNCATE
//   no-filter-on-masked refuses WHERE/JOIN/ORDER BY/GROUP BY on a sensitive column other than
//                       equality with a literal or parameter, and computing on one anywhere
//                       (whether it fails answers a question too) (CheckTree; opt-in)
//   {deny: REGEX}       refuses a statement whose text matches, case-insensitively
//   {max-rows: N}       not a check: max_rows() tells veild where to end a result
//
// Deny patterns are compiled once, together, into a Hyperscan block-mode database — the
// syntax the config loader validates them with — with HS_FLAG_CASELESS | HS_FLAG_DOTALL
// (`.` crosses the lines of a multi-line statement) | HS_FLAG_SINGLEMATCH |
// HS_FLAG_ALLOWEMPTY. They are matched bytewise (no HS_FLAG_UTF8, whose behaviour on invalid
// input is undefined) against each statement's own text, from its first token to its last,
// so `^drop` matches the second statement of "SELECT 1; DROP TABLE t" and a leading comment
// does not hide it; comments inside a statement are matched as written.
//
// A statement with a backslash in a plain '...' string is checked twice, as the server reads
// it with standard_conforming_strings on and off, since a session may have turned it off:
// 'a\''; DROP TABLE t; --' hides the DROP in one reading only.
//
// MySQL and MariaDB (Check with LexOptions::dialect = kMySql): the same walls on the MySQL
// classifier (classifier.h). The canonical forms drop # and -- comments, unquote `backtick`
// identifiers and keep the content of /*! conditional comments */ as the code it is. Text with a
// backslash in a string or with a /*!NNNNN or /*M! comment is checked in every reading the
// server may use (lexer.h Readings: sql_mode NO_BACKSLASH_ESCAPES and ANSI_QUOTES, a multi-byte
// client character set, the server's version and kind), since the session can change sql_mode
// at any time: it must pass all of them.
//
// A Guardrails is immutable after Create() and Check() may be called from any thread; each
// thread scans with its own Hyperscan scratch, made on its first deny check. Checking a
// statement allocates nothing after that. Copies share the compiled database.
//
//   auto g = Guardrails::Create(endpoint.guardrails(), grant.access() == "read");
//   if (!g.ok()) ...;  // a deny pattern that does not compile
//   if (auto v = g->Check(query)) reply ERROR 42501 v->Message();
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sql/analysis.h"
#include "agent/sql/classifier.h"
#include "common/result.h"
#include "config/veil_config.pb.h"

namespace veil::sql {

struct Violation {
  // "read-only", "no-ddl", "no-unbounded-write" or "deny"; a view of static storage.
  std::string_view guardrail;
  // Position of the violated guardrail in the configured list; -1 for the read-only wall
  // implied by a read grant.
  int index = -1;
  // For "deny": which deny pattern (0-based, counting deny entries only); else -1.
  int deny_index = -1;
  // The offending statement (a view into the checked text).
  std::string_view statement;

  // "veil: statement blocked by guardrail no-ddl" (deny: "... guardrail deny #2", 1-based).
  std::string Message() const;
};

class Guardrails {
 public:
  // `read_access`: the session runs under a `read` grant, which implies read-only.
  static Result<Guardrails> Create(
      const google::protobuf::RepeatedPtrField<config::v1::Guardrail>& guardrails,
      bool read_access);

  // The first violation in `sql` (one statement or several separated by ';'): statements in
  // order, and for each statement the read grant's wall first, then guardrails in configured
  // order. nullopt when everything may run. Deny patterns see each statement as written and
  // again in two canonical forms (comments dropped, quoted identifiers unquoted, tokens one
  // space apart, and only words spaced), so `drop/**/table`, `DROP   "table"` and
  // `"pg_sleep" (1)` meet `drop table` and `pg_sleep\(`.
  std::optional<Violation> Check(std::string_view sql) const;
  // The same, with `sql` read as `options` say: the dialect (kMySql for a MySQL or MariaDB
  // session) and the session's settings as far as known (the other readings are checked too).
  // Check(sql) is Check(sql, {}).
  std::optional<Violation> Check(std::string_view sql, LexOptions options) const;

  // The same walls from PostgreSQL's own parse tree (analysis.h), to be checked as well as
  // Check(): what the tree says writes or changes schema, EXECUTE of a prepared statement as
  // that statement (`prepared` looks it up; unknown is a write), and no-filter-on-masked,
  // which needs to know which base columns are sensitive. A statement that did not parse
  // fails no-filter-on-masked (it cannot be shown not to filter) and nothing else (the
  // lexer's verdict stands for it).
  std::optional<Violation> CheckTree(
      const Analysis& analysis,
      const std::function<const StatementAnalysis*(std::string_view name)>& prepared,
      const std::function<bool(const BaseColumn&)>& sensitive) const;

  // The smallest configured max-rows, if any.
  std::optional<uint64_t> max_rows() const { return max_rows_; }

  // Whether statements are held to read-only (configured, or implied by a read grant).
  bool read_only() const;

  // The violation no-filter-on-masked reports, when it is configured: for a dialect without a
  // parse tree (MySQL), where the caller judges whether a statement filters on a sensitive
  // column. nullopt when it is not configured.
  std::optional<Violation> NoFilterOnMasked() const;

 private:
  struct DenyDb;
  enum class Rule : uint8_t { kReadOnly, kNoDdl, kNoUnboundedWrite, kNoFilterOnMasked };
  struct Builtin {
    Rule rule;
    int index;  // in the configured list
  };

  std::optional<Violation> CheckStatement(const StatementInfo& statement, LexOptions options) const;
  static void Canonical(std::string_view text, LexOptions options, bool in_conditional_comment,
                        bool compact, std::string* out);
  std::optional<Violation> CheckAll(std::string_view sql, LexOptions options, bool* saw_backslash,
                                    bool* saw_conditional) const;

  bool read_grant_ = false;
  std::vector<Builtin> builtins_;       // in configured order
  std::shared_ptr<const DenyDb> deny_;  // null without deny patterns
  std::optional<uint64_t> max_rows_;
};

}  // namespace veil::sql
