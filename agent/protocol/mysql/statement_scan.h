// What the MySQL session needs to know of a statement's text to mask its answer without a
// MySQL-dialect parser (transcoder.h): the identifiers it names, the aliases of its derived
// tables and CTEs, and whether it runs code veil cannot follow. Read with veil's lexer in its
// MySQL dialect (agent/sql/lexer.h): identifiers inside strings and comments are not seen,
// identifiers inside executable comments (/*! … */) are.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil::mysql {

struct StatementScan {
  // Unquoted and quoted identifiers and keywords, lowercase, each once.
  std::vector<std::string> identifiers;
  // Names that stand for a derived table or a CTE (an identifier after `)` or `) AS`, a name
  // before `AS (` or `(cols) AS (`): a result column whose org_table is one of them is not a
  // base column.
  std::vector<std::string> derived;
  // CALL, EXECUTE, PREPARE, PROCEDURE ANALYSE: code whose columns veil cannot follow.
  bool dynamic = false;
  // SHOW WARNINGS / SHOW ERRORS / GET DIAGNOSTICS: texts about the statement before.
  bool diagnostics = false;
  // SHOW …: the catalog's names and texts (comments, definitions) or the server's state.
  bool show = false;
  // A user or system variable (@name, @'name', @`name`, @@name), read or assigned.
  bool uses_variables = false;
  // CREATE [DEFINER = …] [AGGREGATE] FUNCTION [IF NOT EXISTS] [db.]name: the name, lowercase.
  std::optional<std::string> creates_function;
  // Identifiers followed by '.': schema (or table) qualifiers.
  std::vector<std::string> qualifiers;
  // `SELECT *` or `t.*`: columns the text does not name.
  bool star = false;
  // A CTE or derived table with a column list (`WITH t(a, b) AS (…)`): names the text gives
  // to columns it need not name.
  bool renames = false;
  // What the statement is, by its first word: a write (INSERT, UPDATE, DELETE, REPLACE, LOAD,
  // DDL: may fire triggers), a SET, an EXPLAIN/DESCRIBE.
  bool writes = false;
  bool sets = false;
  // SET of a system variable (`SET SESSION x = …`, `SET @@x = …`, `SET x = …`): its value is
  // then shown by SHOW VARIABLES and information_schema, which no @variable names.
  bool sets_system = false;
  bool explain = false;
  // The table a write stores into: CREATE [TEMPORARY] TABLE x, INSERT/REPLACE [INTO] x,
  // UPDATE x (lowercase, unqualified).
  std::optional<std::string> write_target;
  // CREATE [TEMPORARY] TABLE: write_target is a table the session made.
  bool creates_table = false;
  // USE db: the session's database from here on.
  std::optional<std::string> use_database;
  // Names called as functions, unqualified (a word or quoted name right before `(`, spaces
  // allowed), lowercase, each once. Left out: SQL's reserved words and the functions and types
  // its grammar spells itself (IF, LEFT, DATE, CAST … AS DECIMAL(…), ROW_NUMBER, VALUES …), and
  // the names of tables and column lists (after INTO, TABLE, REFERENCES, INDEX, KEY …). What is
  // left is a native function of the server's own list (information_schema.SQL_FUNCTIONS) or
  // code veil cannot see: a stored function or a UDF, perhaps created after the session began.
  std::vector<std::string> calls;
  // schema.name(…): always a stored function (the server never qualifies a native one).
  bool qualified_call = false;

  // What the statement filters by, for guardrail no-filter-on-masked (ScanStatement(sql, true)).
  // A filter is WHERE, HAVING, ON, USING, GROUP BY, ORDER BY, LIMIT, a window (OVER, WINDOW,
  // PARTITION BY) and all of a parenthesis inside one (`IN (SELECT ssn …)` compares ssn).
  bool filters = false;
  // Names a filter uses as columns (the last name of a.b.c; not a call, not a reserved word),
  // lowercase, each once. A column compared for equality with a string literal alone
  // (`email = 'a@b.c'`, `'a@b.c' <=> email`, between AND/OR/NOT/WHERE/ON/HAVING/parentheses)
  // is not counted: that finds a row by a value the client already has. A number is not such
  // a literal (MySQL compares a text column with a number by its leading digits) and neither
  // is a `?` (its type is chosen at execute time).
  std::vector<std::string> filtered;
  // The names compared for equality with a string literal, which `filtered` leaves out: a base
  // column's equality finds a row, but an alias's or a view column's may test a part of a value
  // (`k = '5'` where k is substr(ssn, 1, 1)).
  std::vector<std::string> compared;
  // Names of tables the statement reads or writes: after FROM, JOIN, UPDATE, INTO (and ',' or
  // '(' among them), lowercase, unqualified. The tables of a filter's columns.
  std::vector<std::string> tables;
  // Names something computes on outside a filter (a function's argument, an operand, a CASE's
  // condition: `IF(ssn > '5', 1, exp(1000))` answers by failing or not), lowercase, each once;
  // not a bare select item, `count(x)`, a table, a written column list or an assignment of a
  // string literal. Aliases a select list defines are among them where they follow an
  // expression; the caller judges only names it knows are sensitive.
  std::vector<std::string> computed;
  // Names a select list gives its items (`expr AS a`, `expr a`, `expr 'a'`), lowercase: GROUP
  // BY, HAVING and ORDER BY may use them, and a derived table's are its columns.
  std::vector<std::string> aliases;
  // A comparison in a filter (=, <=>, <>, !=, <, >, <=, >=, BETWEEN, LIKE): the names each
  // side uses as columns, with their qualifiers, subqueries' included (`seq < (SELECT substr(ssn,
  // 1, 3) …)`: {seq} and {ssn, id} inside one). With a sensitive column on one side of a range
  // and any column on the other, or a side that computes a sensitive column with a column of
  // another table (`seq - (SELECT …) < 0`, `LEAST(seq, …) = seq`), the rows that pass count
  // out the value over a number table, which no masking of the cells hides.
  struct Operand {
    std::string name, qualifier;  // qualifier: "" when unqualified
    bool in_subquery = false;
  };
  struct Compare {
    bool range = false;
    std::vector<Operand> left, right;
  };
  std::vector<Compare> compares;
  // What a filter may use that the names above do not show: ORDER BY 2 / GROUP BY 1 (a select
  // item by position), NATURAL JOIN (columns the text does not name), a variable, a quoted name
  // that is no plain identifier (`reverse(ssn)`: a derived table's unnamed item), a string
  // alias with a backslash, UNION / EXCEPT / INTERSECT (compares whole rows; ORDER BY after it
  // sorts every branch), HANDLER (reads an index by a key range).
  bool filter_positional = false;
  bool natural_join = false;
  bool filter_variables = false;
  bool filter_odd_name = false;
  bool set_operation = false;
  bool handler = false;
};

// `filters`: also the filter part (StatementScan::filters and below), which only guardrail
// no-filter-on-masked reads; without it those fields stay empty (a lexer pass less per reading).
StatementScan ScanStatement(std::string_view sql, bool filters = false);

}  // namespace veil::mysql
