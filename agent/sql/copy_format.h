// COPY … TO's data format as a statement's options set it (agent/sql/analysis.cc reads them
// off PostgreSQL's parse tree); the proxy splits, reads and writes COPY rows by it
// (agent/protocol/postgres/copy_rows.h).
#pragma once

#include <cstdint>
#include <string>

namespace veil::sql {

// How COPY … TO writes its rows (PostgreSQL's COPY options, with its defaults where the
// statement names none): what the proxy needs to split each row into its fields, read them
// and write masked ones back. From the statement's text alone, so known even when the
// catalog is not.
struct CopyFormat {
  enum class Kind : uint8_t { kText, kCsv, kBinary };
  Kind kind = Kind::kText;
  char delimiter = '\t';     // text: tab, CSV: comma
  char quote = '"';          // CSV only
  char escape = '"';         // CSV only: the quote unless ESCAPE names another
  std::string null = "\\N";  // text: \N, CSV: the empty string
  bool header = false;       // the first row holds the column names
  bool force_quote = false;  // FORCE_QUOTE: every non-null CSV field is quoted
  // False when an option is one this analysis does not read as PostgreSQL would (a value
  // that is not one byte, an option it does not know): the proxy refuses the data.
  bool understood = true;
};

}  // namespace veil::sql
