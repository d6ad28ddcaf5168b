// What the proxy knows of where each result column comes from (SPEC §6.1), in the form the
// transcoder plans with: for every output column of a statement, whether its value is a base
// column's value unchanged (direct), something computed from base columns (derived), or
// something the analysis could not follow (unknown: a user-defined function, dynamic SQL, an
// unresolved name). agent/sql's analysis of the statement on PostgreSQL's own parse tree fills
// it; the transcoder decides with the masking profile and the column store which sources are
// sensitive, and so what each column becomes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/sql/copy_format.h"

namespace veil::agent {

struct SourceColumn {
  std::string schema, table, column;
  bool operator==(const SourceColumn&) const = default;
};

struct ColumnLineage {
  enum class Kind : uint8_t {
    kDirect,   // a base column's value, unchanged (through aliases, subqueries, views, UNION)
    kDerived,  // computed from `sources` (empty: a constant, or count(x))
    kUnknown,  // not followed: masked whole, whatever its sources
  };
  Kind kind = Kind::kUnknown;
  std::vector<SourceColumn> sources;
};

// The result columns of one statement, in RowDescription order.
struct ResultLineage {
  std::vector<ColumnLineage> columns;
};

// One statement of a Query (or the statement of a Parse).
struct StatementLineage {
  // False: the statement could not be analysed (a parse error, a name the catalog does not
  // know, a cursor or prepared statement veil did not see): its columns are masked whole.
  bool analyzed = false;
  ResultLineage result;  // empty for a statement that returns no rows
  // Every base column the statement reads anywhere (WHERE, joins, subqueries): when one is
  // sensitive, an error or notice it raises may carry a value, so its texts are withheld.
  std::vector<SourceColumn> reads;
  // It runs code the analysis cannot follow (a user-defined function, DO, CALL) anywhere, even
  // where no result column shows it: that code may read any table, and raise what it read.
  bool opaque = false;
  // … and that code may write (DO, CALL): into any table the role can write, a temporary one
  // the session made before, or a setting. What the session reads after it may hold anything.
  bool opaque_writes = false;
  // CREATE FUNCTION / PROCEDURE: once the session wrote code itself, any code it runs that veil
  // cannot follow may write.
  bool creates_code = false;
  // It changes what names mean (DDL, SET search_path): the catalog is fetched again at the
  // next idle moment.
  bool refresh_catalog = false;
  // FETCH or MOVE of a cursor veil did not see declared (opened by a DO block or a function):
  // once such code ran, how many rows it gives may be a value (generate_series(1, digits)).
  bool unknown_cursor = false;
  // COPY … TO STDOUT: how its rows are written (delimiter, quoting, null string).
  std::optional<sql::CopyFormat> copy;
};
using QueryLineage = std::vector<StatementLineage>;

}  // namespace veil::agent
