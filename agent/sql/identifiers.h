// The names a statement mentions, for a session that cannot parse what it forwards (the MySQL
// session) and masks by column name, failing closed: if a statement names a sensitive column
// anywhere, or reads a user variable that may hold one (`SELECT @v := ssn ...; SELECT @v`),
// the caller treats its results as sensitive.
//
// Every word of the statement's code counts, keywords included (the caller intersects the set
// with its sensitive column names), and every quoted identifier, unquoted; nothing inside a
// string or a comment does, while the content of a MySQL /*! conditional comment */ is code.
// Where the server could read the text in several ways (lexer.h Readings: a backslash in a
// string, a /*!NNNNN comment), the words of every reading are returned. MySQL "double-quoted"
// text counts as an identifier too, since the session may have turned ANSI_QUOTES on.
//
// Pure function, safe from any thread; allocates the result.
//
//   IdentifierUse use = Identifiers("SELECT `SSN` FROM t WHERE a = 'b'", {.dialect = kMySql});
//   // use.identifiers == {"from", "a", "select", "ssn", "t", "where"} (sorted)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/sql/lexer.h"

namespace veil::sql {

struct IdentifierUse {
  // Sorted, unique; ASCII letters lowercased (bytes above 0x7F kept as they are).
  std::vector<std::string> identifiers;
  // MySQL: a user variable (@name, @'name'; not @@system_variable) appears in the code.
  bool user_variable = false;
};

IdentifierUse Identifiers(std::string_view sql, LexOptions options = {});

// `name` as a quoted identifier: PostgreSQL's "name" (the default), MySQL's `name` with '`'.
// The quote character inside is doubled.
std::string QuoteIdent(std::string_view name, char quote = '"');

}  // namespace veil::sql
