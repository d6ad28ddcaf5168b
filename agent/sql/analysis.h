// Statement analysis on PostgreSQL's own parser (libpg_query, PostgreSQL 15's grammar): for
// every statement of a SQL string, where each result column comes from (SPEC §6.1), which
// base columns it reads, filters on, passes to functions with side effects or writes into,
// whether it writes or changes schema, and the session state it names (PREPARE, EXECUTE,
// DECLARE, FETCH). The proxy masks from this: a result column derived from a sensitive
// column is replaced whole, whatever SQL computed it.
//
// Lineage rules, decided the way PostgreSQL's own analyzer resolves names:
//   - a column is `direct` when its value is a base column's value unchanged: a column
//     reference through aliases, subqueries in FROM, CTEs, views and UNION branches that are
//     each direct, and COLLATE; anything else that reads columns is `derived` from all of
//     them (functions, operators, casts, CASE conditions and results, aggregates with their
//     ORDER BY and FILTER, window functions with their PARTITION BY and ORDER BY, sublinks
//     with what their WHERE reads, whole-row references);
//   - count(*), count(x) and count(DISTINCT x) of a bare column derive from nothing: they
//     are the lineage-breaking aggregates analytics keep;
//   - `unknown` is what cannot be followed: user-defined functions (any function outside
//     pg_catalog, or an unqualified name a user function also has), builtins that run SQL
//     given as text (query_to_xml, …) or read files and large objects, the statistics
//     catalogs that hold column values (pg_stats, …), relations and columns the catalog does
//     not know, and every parse node this analysis does not handle (with all the columns
//     found under it as sources). Unknown is masked whole: fail closed.
//   - a column that a WHERE, JOIN ON or HAVING predicate compares with other columns or
//     expressions is *bound* to their sources (g = substr(ssn, 1, 3)::int, v IN (SELECT …
//     full_name …)): the rows that pass hold values equal or matching to them, so a reference
//     to it derives from them too, transitively (a.x = b.y AND b.y = f(ssn));
//   - literal values never change an analysis, so it may be cached by normalized text.
//
// Analyze() is a pure function of its arguments and thread-safe; libpg_query keeps its
// memory per thread.
//
//   auto a = Analyze("SELECT split_part(email, '@', 1) FROM customers", *snapshot);
//   a.statements[0].columns[0].kind == OutputColumn::Kind::kDerived,
//   sources == {public.customers.email}
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/sql/catalog.h"
#include "agent/sql/copy_format.h"

namespace veil::sql {

struct BaseColumn {
  std::string schema, table, column;
  auto operator<=>(const BaseColumn&) const = default;
  std::string Display() const { return schema + "." + table + "." + column; }
};

struct OutputColumn {
  enum class Kind : uint8_t { kDirect, kDerived, kUnknown };
  std::string name;  // as PostgreSQL names it (alias, column, function name, "?column?")
  Kind kind = Kind::kDerived;
  std::vector<BaseColumn> sources;  // sorted, unique
  std::string why;                  // kUnknown: what could not be followed
};

struct FilterUse {
  BaseColumn column;
  // The use is only `column = <literal or parameter>` (or IN a list of them), with the bare
  // column on one side: it finds rows, it cannot rank or bisect values.
  bool equality = false;
};

struct WriteTarget {
  BaseColumn column;                // the column written (of a new table for CREATE TABLE AS)
  std::vector<BaseColumn> sources;  // what the written value derives from
  bool unknown = false;             // the value could not be followed
};

struct StatementAnalysis {
  // False: nothing below may be trusted (the statement did not parse, or analysing it failed):
  // the caller fails closed.
  bool ok = false;
  std::string node;  // the parse node, e.g. "SelectStmt", "CopyStmt"

  // Result columns, in RowDescription order (for COPY … TO: the COPY data's columns).
  bool returns_rows = false;
  // False when the number of result columns is not known (CALL, SELECT * of an unknown
  // relation or function): the caller masks every column of the result.
  bool columns_known = true;
  std::vector<OutputColumn> columns;

  std::vector<BaseColumn> reads;  // every base column referenced anywhere, sorted, unique
  // Base columns some expression computes on (Analyzer::Computes: a function, an arithmetic
  // operator, CASE, a value-changing cast, a derived column referenced), sorted, unique: what a
  // data-dependent error may hang on (guardrail no-filter-on-masked).
  std::vector<BaseColumn> computed;
  std::vector<FilterUse> filters;
  // Into set_config, setval, pg_notify, …, and what sets how many rows come back (bounds of
  // generate_series, LIMIT, OFFSET): a value that leaves by another road than a result cell.
  std::vector<BaseColumn> side_effect_args;
  std::vector<WriteTarget> writes;
  // COPY … TO STDOUT: the format its rows come in.
  std::optional<CopyFormat> copy;
  bool unknown_function = false;  // calls something that cannot be followed (any position)
  bool unknown_relation = false;  // reads a relation the catalog does not hold (new since?)

  // From the tree, to be combined with the lexer's verdict (defence in depth).
  bool writes_data = false;  // INSERT/UPDATE/DELETE/MERGE (also in a CTE), locking, INTO, DDL
  bool ddl = false;
  bool sets_search_path = false;  // SET/RESET search_path: the catalog view changes
  bool creates_code = false;      // CREATE FUNCTION / PROCEDURE: code the session wrote itself

  // Session state the statement names.
  enum class Op : uint8_t {
    kNone,
    kPrepare,
    kExecute,
    kDeallocate,  // name empty: ALL
    kDeclare,
    kFetch,
    kMove,
    kClose,  // name empty: ALL
    kDiscardAll,
  };
  Op op = Op::kNone;
  std::string name;                                // the prepared statement or cursor
  std::shared_ptr<const StatementAnalysis> inner;  // PREPARE's or DECLARE's query
};

struct Analysis {
  bool parsed = false;
  std::string error;  // the parser's message when !parsed (holds no data of the statement)
  std::vector<StatementAnalysis> statements;
};

Analysis Analyze(std::string_view sql, const CatalogSnapshot& catalog);

// A catalog column that holds the text of statements other sessions sent, with whatever
// literals they wrote (pg_catalog.pg_stat_activity.query). The analysis reports it as a
// column of its own; the proxy forwards it only with literals normalized out, and replaces
// anything computed from it whole.
bool IsStatementText(const BaseColumn& column);

}  // namespace veil::sql
