#include "agent/protocol/postgres/copy_rows.h"

#include <gtest/gtest.h>

#include <random>

namespace veil::agent {
namespace {

using Kind = sql::CopyFormat::Kind;

std::vector<std::string> Values(std::string_view row, const sql::CopyFormat& f) {
  std::string scratch;
  std::vector<CopyField> fields;
  size_t pos = 0;
  EXPECT_TRUE(SplitCopyRow(row, &pos, f, &scratch, &fields));
  EXPECT_EQ(pos, row.size());
  std::vector<std::string> out;
  for (const auto& field : fields) out.push_back(field.null ? "<null>" : std::string(field.value));
  return out;
}

// Rows as PostgreSQL 15's COPY TO writes them (psql, this machine's server).
TEST(CopyRows, ReadsWhatPostgresWrites) {
  sql::CopyFormat text;
  EXPECT_EQ(Values("1\tMargaret Okonkwo\t\\N\ta\\\\b\\tc\\nd\n", text),
            (std::vector<std::string>{"1", "Margaret Okonkwo", "<null>", "a\\b\tc\nd"}));
  EXPECT_EQ(Values("\\101\\x42\\q\t\n", text), (std::vector<std::string>{"ABq", ""}));
  // A backslash escapes a line end too, as PostgreSQL's reader takes it.
  EXPECT_EQ(Values("a\\\nb\tc\n", text), (std::vector<std::string>{"a\nb", "c"}));
  sql::CopyFormat dash = text;
  dash.delimiter = '-';
  EXPECT_EQ(Values("1-536\\-22\\-1234-(415) 555\\-0132\n", dash),
            (std::vector<std::string>{"1", "536-22-1234", "(415) 555-0132"}));

  sql::CopyFormat csv;
  csv.kind = Kind::kCsv;
  csv.delimiter = ',';
  csv.null = "";
  EXPECT_EQ(Values("1,\"a,b\",,\"\",\"say \"\"hi\"\"\nthere\"\n", csv),
            (std::vector<std::string>{"1", "a,b", "<null>", "", "say \"hi\"\nthere"}));
  sql::CopyFormat q5 = csv;  // COPY … (FORMAT csv, QUOTE '5', FORCE_QUOTE *)
  q5.quote = q5.escape = '5';
  EXPECT_EQ(Values("515,55536-22-12345,5(4155) 555555-01325\n", q5),
            (std::vector<std::string>{"1", "536-22-1234", "(415) 555-0132"}));
  sql::CopyFormat esc = csv;  // ESCAPE '\'
  esc.escape = '\\';
  EXPECT_EQ(Values("\"a\\\"b\\\\c\",\"\"\"\"\n", esc), (std::vector<std::string>{"a\"b\\c", ""}));

  std::string scratch;
  std::vector<CopyField> fields;
  size_t pos = 0;
  EXPECT_FALSE(SplitCopyRow("1,\"open\n", &pos, csv, &scratch, &fields));
}

// Whatever the value and the options, a value written by AppendCopyValue reads back as itself,
// one field, never NULL.
TEST(CopyRows, WrittenValuesReadBackAsThemselves) {
  std::mt19937 rng(20261206);
  const std::string alphabet = "ab5-, \t\n\r\"\\'[]N.x0@|";
  for (int round = 0; round < 4000; ++round) {
    sql::CopyFormat f;
    if (rng() % 2) {
      f.kind = Kind::kCsv;
      f.null = "";
    }
    // PostgreSQL refuses a letter, digit, backslash or dot as the text format's delimiter.
    f.delimiter = f.kind == Kind::kCsv ? "\t,-| 5["[rng() % 7] : "\t,-| ["[rng() % 6];
    if (f.kind == Kind::kCsv) {
      f.quote = "\"'5x"[rng() % 4];
      f.escape = rng() % 2 ? f.quote : "\\'\""[rng() % 3];
      if (f.quote == f.delimiter) continue;
      f.force_quote = rng() % 4 == 0;
    }
    if (rng() % 3 == 0) f.null = "NULL";
    std::vector<std::string> values(1 + rng() % 3);
    for (auto& v : values)
      for (size_t n = rng() % 8; n > 0; --n) v.push_back(alphabet[rng() % alphabet.size()]);
    std::string row;
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) row.push_back(f.delimiter);
      AppendCopyValue(values[i], f, rng() % 2, &row);
    }
    row.push_back('\n');
    std::vector<std::string> want = values;
    // The text format has no way to write the null string's own text apart from NULL.
    bool ambiguous = false;
    for (auto& v : values) ambiguous = ambiguous || (f.kind == Kind::kText && v == f.null);
    if (ambiguous) continue;
    EXPECT_EQ(Values(row, f), want) << "row " << row << " delimiter " << f.delimiter;
  }
}

}  // namespace
}  // namespace veil::agent
