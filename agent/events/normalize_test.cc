#include "agent/events/normalize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace veil::events {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Every needle must be absent from the normalized statement.
void ExpectNoneOf(const std::string& normalized, const std::vector<std::string>& needles) {
  for (const std::string& n : needles) EXPECT_THAT(normalized, Not(HasSubstr(n))) << n;
}

TEST(NormalizeStatementTest, ReplacesPlainStringsAndNumbersKeepsStructure) {
  EXPECT_EQ(NormalizeStatement("SELECT id, email FROM public.users WHERE email = "
                               "'alice@example.com' AND card = 4111111111111111"),
            "SELECT id, email FROM public.users WHERE email = ? AND card = ?");
}

TEST(NormalizeStatementTest, EveryStringForm) {
  EXPECT_EQ(NormalizeStatement("SELECT E'it\\'s 078-05-1120', B'1010', X'DEADBEEF', "
                               "N'bob@example.org', U&'d\\0061t\\+000061', $$jane@doe.io$$, "
                               "$pii$ 5500 0000 0000 0004 $x$ $pii$"),
            "SELECT ?, ?, ?, ?, ?, ?, ?");
}

TEST(NormalizeStatementTest, UnicodeEscapeClauseIsPartOfTheLiteral) {
  EXPECT_EQ(NormalizeStatement("SELECT U&'!0041lice' UESCAPE '!' AS n"), "SELECT ? AS n");
}

TEST(NormalizeStatementTest, DoubledQuotesDoNotEndAString) {
  EXPECT_EQ(NormalizeStatement("SELECT 'O''Brien 123-45-6789' FROM t"), "SELECT ? FROM t");
}

TEST(NormalizeStatementTest, CommentsAreDropped) {
  std::string n = NormalizeStatement(
      "SELECT 1 -- customer alice@example.com, ssn 078-05-1120\n"
      "FROM t /* card 4111-1111-1111-1111 /* nested bob@x.org */ still comment */ WHERE x = $1");
  EXPECT_EQ(n, "SELECT ? FROM t WHERE x = $1");
}

TEST(NormalizeStatementTest, SignStaysNumberGoes) {
  EXPECT_EQ(NormalizeStatement("SELECT -42, 1.5e-3, .5, 0x1F, 1_000_000, a-7 FROM t"),
            "SELECT -?, ?, ?, ?, ?, a-? FROM t");
}

TEST(NormalizeStatementTest, KeepsKeywordsParamsQuotedIdentsAndLists) {
  EXPECT_EQ(NormalizeStatement("select \"User Email\" from t where ok = TRUE and x is null "
                               "and id in (1, 2, 3) and y = $2::text and z = 'a'::text"),
            "select \"User Email\" from t where ok = TRUE and x is null "
            "and id in (?, ?, ?) and y = $2::text and z = ?::text");
}

TEST(NormalizeStatementTest, CollapsesSpaceKeepsAdjacency) {
  EXPECT_EQ(NormalizeStatement("  SELECT\n\t f(x)  ,a.b\r\nFROM   t;  "),
            "SELECT f(x) ,a.b FROM t;");
  EXPECT_EQ(NormalizeStatement("SELECT a/**/FROM t"), "SELECT a FROM t");
}

TEST(NormalizeStatementTest, UnterminatedLiteralsAndCommentsSwallowTheRest) {
  EXPECT_EQ(NormalizeStatement("SELECT 'alice@example.com"), "SELECT ?");
  EXPECT_EQ(NormalizeStatement("SELECT $t$ 4111111111111111"), "SELECT ?");
  EXPECT_EQ(NormalizeStatement("SELECT 1 /* 078-05-1120"), "SELECT ?");
  EXPECT_EQ(NormalizeStatement("SELECT \"alice@example.com"), "SELECT ?");
}

TEST(NormalizeStatementTest, BackslashReadingsBothCovered) {
  // standard_conforming_strings on: 'it\' ends at the second quote and the words after it would
  // be code; off: one string. Neither reading may leak the words.
  // With the setting off, 'it\'s ...' is one string; with it on, the string ends at \' and
  // the words after it would be code. Neither reading may leak them.
  const std::string sql = "SELECT 'it\\'s alice@example.com 078-05-1120' FROM t";
  for (bool scs : {true, false}) {
    std::string n = NormalizeStatement(sql, {.standard_conforming_strings = scs});
    ExpectNoneOf(n, {"alice", "example", "078", "1120"});
    EXPECT_TRUE(n.starts_with("SELECT ?")) << n;
  }
  // A backslash both readings agree on changes nothing.
  for (bool scs : {true, false})
    EXPECT_EQ(NormalizeStatement("SELECT 'a\\b' FROM t", {.standard_conforming_strings = scs}),
              "SELECT ? FROM t");
  // The tail '... DROP ...' trick: the text that is code in only one reading is replaced.
  std::string n = NormalizeStatement("SELECT 'a\\'; SELECT secret_word; --' FROM t");
  EXPECT_THAT(n, Not(HasSubstr("secret_word"))) << n;
}

TEST(NormalizeStatementTest, PiiInEveryFormNeverSurvives) {
  const std::string sql =
      "INSERT INTO customers (email, ssn, card, phone, note, blob, amount) VALUES "
      "('alice@example.com', E'078-05-1120\\n', 4111111111111111, N'+1 (555) 867-5309', "
      "$note$ bob@example.org said 'hi' $note$, X'4A414E45', -12345.67), "
      "(U&'carol\\0040example.net', $$5500-0000-0000-0004$$, 378282246310005, B'0101', "
      "E'dave\\x40example.com', 'eve''s 123-45-6789', 9876543210) "
      "-- trailing note frank@example.com\n"
      "RETURNING id /* grace@example.com */";
  std::string n = NormalizeStatement(sql);
  ExpectNoneOf(n, {"alice", "example", "078-05", "1120",  "4111",  "555",  "867",  "bob",
                   "hi",    "4A41",    "12345",  "carol", "5500",  "3782", "0101", "dave",
                   "eve",   "6789",    "9876",   "frank", "grace", "@"});
  EXPECT_EQ(n,
            "INSERT INTO customers (email, ssn, card, phone, note, blob, amount) VALUES "
            "(?, ?, ?, ?, ?, ?, -?), (?, ?, ?, ?, ?, ?, ?) RETURNING id");
}

TEST(NormalizeStatementTest, OutputIsBoundedAndMarked) {
  std::string sql = "SELECT * FROM t WHERE id IN (";
  for (int i = 0; i < 100000; ++i) sql += "12345678, ";
  sql += "1)";
  std::string n = NormalizeStatement(sql);
  EXPECT_LE(n.size(), kMaxNormalizedStatementBytes);
  EXPECT_GT(n.size(), kMaxNormalizedStatementBytes - 16);
  EXPECT_TRUE(n.ends_with(kTruncationMarker)) << n.substr(n.size() - 40);
  EXPECT_TRUE(n.starts_with("SELECT * FROM t WHERE id IN (?, ?, "));
  EXPECT_EQ(n.find("1234"), std::string::npos);

  const std::string sql2 = "SELECT a, b, c, d FROM some_table";  // 33 bytes
  EXPECT_EQ(NormalizeStatement(sql2, {.max_bytes = 33}), sql2);
  EXPECT_EQ(NormalizeStatement(sql2, {.max_bytes = 29}),
            std::string("SELECT a, b,") + std::string(kTruncationMarker));
  EXPECT_EQ(NormalizeStatement(sql2, {.max_bytes = 23}),
            std::string("SELECT") + std::string(kTruncationMarker));
  EXPECT_EQ(NormalizeStatement("SELECT a", {.max_bytes = 8}), "SELECT a");
}

TEST(NormalizeStatementTest, InvalidUtf8InIdentifiersIsReplaced) {
  std::string n = NormalizeStatement("SELECT caf\xE9 FROM \"t\xFF\"");
  EXPECT_EQ(n, "SELECT caf\xEF\xBF\xBD FROM \"t\xEF\xBF\xBD\"");
  EXPECT_EQ(NormalizeStatement("SELECT \xC3\xA9t\xC3\xA9 FROM t"),
            "SELECT \xC3\xA9t\xC3\xA9 FROM t");
}

TEST(SanitizeUtf8Test, KeepsValidReplacesInvalid) {
  EXPECT_EQ(SanitizeUtf8("plain"), "plain");
  EXPECT_EQ(SanitizeUtf8("\xE2\x82\xAC \xF0\x9F\x98\x80"), "\xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(SanitizeUtf8("a\xC0\xAF"), "a\xEF\xBF\xBD\xEF\xBF\xBD");                // overlong '/'
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SanitizeUtf8("\xF4\x90\x80\x80").size(), 12u);            // above U+10FFFF
  EXPECT_EQ(SanitizeUtf8("x\xE2\x82"), "x\xEF\xBF\xBD\xEF\xBF\xBD");  // truncated sequence
}

// Random statements built from code pieces and literal pieces. Literal and comment bodies are
// drawn from an alphabet rich in the letters q z j k, which no code piece contains, and hold
// quotes, backslashes, dollars and comment openers in their escaped forms. No secret letter and
// no digit outside a $n parameter may reach the output, nor any 4-byte window of a body.
class Fuzz {
 public:
  explicit Fuzz(uint32_t seed) : rng_(seed) {}

  // The pieces of the last statement, one per line, for failure messages.
  const std::string& trace() const { return trace_; }

  std::string Statement(std::vector<std::string>* bodies) {
    static const std::vector<std::string> kCode = {
        "SELECT", "FROM",     "WHERE", "AND",  "OR", "users", "t.col",  "\"Mixed Name\"",
        "=",      "<>",       "(",     ")",    ",",  ";",     "::text", "$1",
        "$2",     "IN",       "NULL",  "TRUE", "-",  "+",     "||",     "[",
        "]",      "ORDER BY", "LIMIT", "AS",   "x"};
    std::string sql;
    const int n = Pick(1, 40);
    for (int i = 0; i < n; ++i) {
      const int what = Pick(0, 12);
      const size_t piece_start = sql.size();
      std::string body = Body();
      switch (what) {
        case 0:
          sql += "'" + Doubled(body, '\'') + "'";
          break;
        case 1:
          sql += "E'" + EscapeE(body) + "'";
          break;
        case 2:
          sql += "N'" + Doubled(body, '\'') + "'";
          break;
        case 3:
          sql += "U&'" + Doubled(body, '\'') + "'";
          if (Pick(0, 1)) sql += " UESCAPE '!'";
          break;
        case 4:
          sql += "$$" + NoDollarDollar(body) + "$$";
          break;
        case 5:
          sql += "$tag$" + NoDollarDollar(body) + "$tag$";
          break;
        case 6:
          sql += "B'" + Doubled(body, '\'') + "'";
          break;
        case 7:
          sql += "X'" + Doubled(body, '\'') + "'";
          break;
        case 8: {
          std::string line = body;
          for (char& c : line)
            if (c == '\n' || c == '\r') c = 'q';
          sql += "--" + line + "\n";
          break;
        }
        case 9: {
          std::string b = body;
          for (size_t p; (p = b.find("*/")) != std::string::npos;) b[p] = 'z';
          for (size_t p; (p = b.find("/*")) != std::string::npos;) b[p + 1] = 'k';
          if (b.back() == '/') b.back() = 'k';  // "/*/" would open a nested comment
          sql += "/*" + b + "*/";
          break;
        }
        case 10: {
          std::string digits;
          for (int d = Pick(1, 20); d > 0; --d) digits += static_cast<char>('0' + Pick(0, 9));
          sql += digits;
          body = digits;
          break;
        }
        default:
          sql += kCode[Pick(0, static_cast<int>(kCode.size()) - 1)];
          body.clear();
      }
      if (!body.empty()) bodies->push_back(body);
      trace_ += std::to_string(what) + ": " + sql.substr(piece_start) + "\n";
      // Literals may touch what follows, except that a closing quote touching an opening one
      // makes one string ('a''b'), and words and numbers would merge (x 123 -> x123); the
      // server reads them so too.
      sql += (what >= 10 || sql.back() == '\'' || Pick(0, 3)) ? " " : "";
    }
    return sql;
  }

 private:
  int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  std::string Body() {
    static const std::string kAlphabet = "qzjkQZJK0123456789@.-_ '\\$*/\n\"%;()";
    std::string b;
    for (int n = Pick(4, 24); n > 0; --n) {
      b += kAlphabet[Pick(0, static_cast<int>(kAlphabet.size()) - 1)];
      if (Pick(0, 2) == 0) b += "qzjk"[Pick(0, 3)];
    }
    return b;
  }
  static std::string Doubled(const std::string& s, char q) {
    std::string out;
    for (char c : s) {
      out += c;
      if (c == q) out += q;
    }
    return out;
  }
  static std::string EscapeE(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '\\' || c == '\'') out += '\\';
      out += c;
    }
    return out;
  }
  static std::string NoDollarDollar(std::string s) {
    // Keep lone dollars; break any that could close the quote ($$ or $tag$).
    for (char& c : s)
      if (c == '$') c = 'j';
    return s;
  }

  std::mt19937 rng_;
  std::string trace_;
};

bool HasSecret(char c) {
  return c == 'q' || c == 'z' || c == 'j' || c == 'k' || c == 'Q' || c == 'Z' || c == 'J' ||
         c == 'K';
}

TEST(NormalizeStatementTest, RandomStatementsLeakNoLiteral) {
  for (uint32_t seed = 1; seed <= 3000; ++seed) {
    Fuzz fuzz(seed);
    std::vector<std::string> bodies;
    const std::string sql = fuzz.Statement(&bodies);
    for (bool scs : {true, false}) {
      const std::string n = NormalizeStatement(sql, {.standard_conforming_strings = scs});
      for (size_t i = 0; i < n.size(); ++i) {
        ASSERT_FALSE(HasSecret(n[i])) << "seed " << seed << " scs " << scs << "\nsql: " << sql
                                      << "\nout: " << n << "\npieces:\n"
                                      << fuzz.trace();
        if (n[i] >= '0' && n[i] <= '9') {
          size_t j = i;
          while (j > 0 && n[j - 1] >= '0' && n[j - 1] <= '9') --j;
          ASSERT_TRUE(j > 0 && n[j - 1] == '$')
              << "seed " << seed << "\nsql: " << sql << "\nout: " << n;
        }
      }
      for (const std::string& b : bodies)
        for (size_t i = 0; i + 4 <= b.size(); ++i) {
          const std::string window = b.substr(i, 4);
          if (std::none_of(window.begin(), window.end(), HasSecret)) continue;
          ASSERT_EQ(n.find(window), std::string::npos)
              << "seed " << seed << " window '" << window << "'\nsql: " << sql << "\nout: " << n;
        }
    }
  }
}

// The digest an event takes per statement: the same as computing each part, from the cache or
// not, and never mixed up between texts that share a cache slot or differ in the setting.
TEST(DigestStatement, MatchesTheNormalizerAndTheClassifierCachedOrNot) {
  struct Case {
    std::string sql;
    std::string_view kind;
  };
  std::vector<Case> cases = {
      {"SELECT * FROM users WHERE ssn = '078-05-1120'", "read"},
      {"UPDATE users SET email = 'a@b.c' WHERE id = 4", "write"},
      {"CREATE TABLE t (a int)", "ddl"},
      {"BEGIN", "other"},
      {"SELECT 'it\\'s' FROM t", "read"},
  };
  for (int i = 0; i < 600; ++i) {
    cases.push_back({"SELECT " + std::to_string(i) + " FROM t", "read"});
    cases.push_back({"SELECT c" + std::to_string(i) + " FROM t", "read"});  // 600 statements
  }
  // The uid is remembered per normalized text: one normalized text, one uid, whatever raw text
  // or cache slot it came through; two normalized texts, two uids.
  std::map<std::string, std::string> uid_of;
  std::set<std::string> uids;
  for (int round = 0; round < 2; ++round)
    for (const auto& c : cases)
      for (bool scs : {true, false}) {
        const StatementDigest& d = DigestStatement(c.sql, scs);
        EXPECT_EQ(d.text, NormalizeStatement(c.sql, {.standard_conforming_strings = scs})) << c.sql;
        EXPECT_EQ(d.kind, c.kind) << c.sql;
        EXPECT_EQ(d.uid.size(), 32u);
        auto [it, added] = uid_of.emplace(d.text, d.uid);
        EXPECT_EQ(it->second, d.uid) << c.sql;
        if (added) {
          EXPECT_TRUE(uids.insert(d.uid).second) << c.sql;
        }
      }
  EXPECT_GE(uid_of.size(), 600u);
  const std::string one = DigestStatement("SELECT 1", true).uid;  // copies: a slot may be reused
  const std::string two = DigestStatement("SELECT 2", true).uid;
  const std::string a = DigestStatement("SELECT a", true).uid;
  EXPECT_EQ(one, two);  // literals do not make another statement
  EXPECT_NE(one, a);
  EXPECT_NE(DigestStatement(std::string(5000, ' ') + "SELECT 1", true).text, "");
}

// ---- MySQL and MariaDB ----

NormalizeOptions MySql(bool nbe = false, bool ansi = false) {
  return {.dialect = sql::Dialect::kMySql, .no_backslash_escapes = nbe, .ansi_quotes = ansi};
}

TEST(MySqlNormalizeTest, EveryLiteralFormGoes) {
  EXPECT_EQ(NormalizeStatement("SELECT 'alice@example.com', \"bob@example.org\", X'4A41', "
                               "x'4b', 0x4A414E45, b'0101', 0b11, N'carol', _utf8mb4'dave', "
                               "_binary 'eve', 1.5e3, -42 FROM t",
                               MySql()),
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?, _utf8mb4?, _binary ?, ?, -? FROM t");
  // Under ANSI_QUOTES "..." is a name, but the session may turn it off: replaced all the same.
  EXPECT_EQ(NormalizeStatement("SELECT \"ssn\" FROM t", MySql(false, true)), "SELECT ? FROM t");
}

TEST(MySqlNormalizeTest, KeepsBackticksVariablesAndPlaceholders) {
  EXPECT_EQ(
      NormalizeStatement("SELECT `we``ird`, @v, @@session.sql_mode FROM `t` WHERE a = ?", MySql()),
      "SELECT `we``ird`, @v, @@session.sql_mode FROM `t` WHERE a = ?");
  EXPECT_EQ(NormalizeStatement("GRANT ALL ON *.* TO 'alice'@'10.0.0.5'", MySql()),
            "GRANT ALL ON *.* TO ?@?");
}

TEST(MySqlNormalizeTest, CommentsDroppedConditionalCommentsKeptAsCode) {
  EXPECT_EQ(NormalizeStatement("SELECT a # ssn 078-05-1120\nFROM t -- card 4111\n"
                               "WHERE b = 1 /* alice@example.com */",
                               MySql()),
            "SELECT a FROM t WHERE b = ?");
  EXPECT_EQ(NormalizeStatement("SELECT a /*! , b, 'alice@example.com' */ FROM t", MySql()),
            "SELECT a , b, ? FROM t");
  // 1--1 is arithmetic, not a comment.
  EXPECT_EQ(NormalizeStatement("SELECT 1--1", MySql()), "SELECT ?--?");
  // A versioned comment may be a comment on the server: what it holds is not kept as code.
  std::string n = NormalizeStatement("SELECT a /*!99999 ' */ , secret_word, ' */ FROM t", MySql());
  EXPECT_THAT(n, Not(HasSubstr("secret_word"))) << n;
}

TEST(MySqlNormalizeTest, BackslashStringsLeakUnderNeitherReading) {
  for (bool nbe : {false, true}) {
    for (bool ansi : {false, true}) {
      std::string n = NormalizeStatement("SELECT 'it\\'s 078-05-1120' FROM t", MySql(nbe, ansi));
      ExpectNoneOf(n, {"078", "1120", "s "});
      EXPECT_TRUE(n.starts_with("SELECT ?")) << n;
      n = NormalizeStatement("SELECT 'a\\'; SELECT secret_word; -- ' FROM t", MySql(nbe, ansi));
      EXPECT_THAT(n, Not(HasSubstr("secret_word"))) << n;
      n = NormalizeStatement("SELECT \"a\\\"; SELECT secret_word; -- \" FROM t", MySql(nbe, ansi));
      EXPECT_THAT(n, Not(HasSubstr("secret_word"))) << n;
      // GBK: 0xBF 0x5C is one character.
      n = NormalizeStatement("SELECT '\xbf\\' , secret_word, '' FROM t", MySql(nbe, ansi));
      EXPECT_THAT(n, Not(HasSubstr("secret_word"))) << n;
    }
  }
  // A string both readings agree on changes nothing.
  EXPECT_EQ(NormalizeStatement("SELECT 'a\\\\b' FROM t", MySql()), "SELECT ? FROM t");
}

// Random MySQL statements whose literals and comments hold "secret" letters (q z j k) in
// every reading; none may survive.
TEST(MySqlNormalizeTest, RandomStatementsLeakNoLiteral) {
  const std::vector<std::string> code = {"SELECT", "a",   "b_1", "FROM", "t", ",",   "(",
                                         ")",      "=",   "-",   "+",    "*", "/",   ";",
                                         "@v",     "`c`", "1",   "?",    ".", "@@x", "--1"};
  const std::string body = "qzjkQZJK \\'\"`#*/;-\n";
  std::mt19937 rng(7);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto literal_body = [&](char quote) {
    std::string b;
    for (size_t i = 0, n = 1 + pick(8); i < n; ++i) {
      char c = body[pick(body.size())];
      b.push_back(c);
      if (c == quote) b.push_back(c);  // a valid literal in the no-backslash reading
    }
    if (!b.empty() && b.back() == '\\') b.push_back('\\');
    return b;
  };
  auto secret = [&] {
    std::string s;
    for (size_t i = 0, n = 1 + pick(4); i < n; ++i) s.push_back("qzjk"[pick(4)]);
    return s;
  };
  for (int round = 0; round < 3000; ++round) {
    std::string sql;
    for (size_t i = 0, n = 3 + pick(10); i < n; ++i) {
      switch (pick(9)) {
        case 0:
          sql += "'" + literal_body('\'') + "'";
          break;
        case 1:
          sql += "\"" + literal_body('"') + "\"";
          break;
        case 2:
          sql += "# " + secret() + "\n";
          break;
        case 3:
          sql += "-- " + secret() + "\n";
          break;
        case 4:
          sql += "/* " + secret() + " */";
          break;
        case 5:
          sql += std::string(pick(2) ? "/*!" : "/*!50000") + " a, '" + literal_body('\'') + "' */";
          break;
        case 6:
          sql += "X'" + secret() + "'";
          break;
        default:
          sql += code[pick(code.size())];
          break;
      }
      sql += pick(3) ? " " : "";
    }
    for (bool nbe : {false, true}) {
      for (bool ansi : {false, true}) {
        const std::string n = NormalizeStatement(sql, MySql(nbe, ansi));
        for (char c : n)
          ASSERT_FALSE(c == 'q' || c == 'z' || c == 'j' || c == 'k' || c == 'Q' || c == 'Z' ||
                       c == 'J' || c == 'K')
              << "round " << round << " nbe " << nbe << " ansi " << ansi << "\nsql: " << sql
              << "\nout: " << n;
      }
    }
  }
}

TEST(MySqlDigestTest, KeyedByDialect) {
  const std::string sql = "SELECT a # x\nFROM t";
  const std::string pg = DigestStatement(sql, true).text;
  const std::string my =
      DigestStatement(sql, sql::LexOptions{.dialect = sql::Dialect::kMySql}).text;
  EXPECT_EQ(my, "SELECT a FROM t");
  EXPECT_NE(pg, my);
  EXPECT_EQ(DigestStatement(sql, true).text, pg);
  const StatementDigest& d =
      DigestStatement("UPDATE t SET a = 'x' /*! , b = 2 */", {.dialect = sql::Dialect::kMySql});
  EXPECT_EQ(d.text, "UPDATE t SET a = ? , b = ?");
  EXPECT_EQ(d.kind, "write");
  EXPECT_EQ(DigestStatement("SHOW TABLES", {.dialect = sql::Dialect::kMySql}).kind, "read");
}

}  // namespace
}  // namespace veil::events
