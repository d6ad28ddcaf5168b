// Rows of COPY … TO STDOUT in text or CSV format, read and written the way PostgreSQL's own
// COPY reads and writes them (copyfromparse.c, copyto.c), for any delimiter, quote, escape
// and null string the statement chose: the transcoder masks each field with its column's
// policy, so it must see the fields exactly where the client will.
//
//   sql::CopyFormat f;  // text: tab, \N
//   std::vector<CopyField> fields;
//   size_t pos = 0;
//   SplitCopyRow("a\\tb\t\\N\n", &pos, f, &scratch, &fields);
//   // fields: {"a\tb"}, {null}; pos == 9
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "agent/sql/copy_format.h"

namespace veil::agent {

struct CopyField {
  std::string_view raw;    // as written in the row, quotes and escapes included
  std::string_view value;  // decoded: raw itself, or a view into the caller's scratch
  bool null = false;
  bool quoted = false;  // CSV: some of it was in quotes
};

// Reads the row that starts at data[*pos] and ends at an unquoted '\n' (or the data's end),
// and moves *pos past it. Decoded values are written to *scratch, which the call reserves to
// hold them all: the views stay valid until scratch is next changed. False when the row is
// malformed (an unterminated CSV quote): the caller must not guess at its fields.
bool SplitCopyRow(std::string_view data, size_t* pos, const sql::CopyFormat& format,
                  std::string* scratch, std::vector<CopyField>* fields);

// Appends a value as one field in `format`, escaped or quoted so that the client reads back
// exactly that value and no more fields (a CSV value equal to the null string is quoted). `quote`:
// CSV, quote it even if it does not need it (the original was quoted, or FORCE_QUOTE).
void AppendCopyValue(std::string_view value, const sql::CopyFormat& format, bool quote,
                     std::string* out);

}  // namespace veil::agent
