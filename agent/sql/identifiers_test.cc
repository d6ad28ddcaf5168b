#include "agent/sql/identifiers.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace veil::sql {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

constexpr LexOptions kMySql{.dialect = Dialect::kMySql};

TEST(IdentifiersTest, WordsAndUnquotedIdentifiersLowercased) {
  IdentifierUse use = Identifiers("SELECT `SSN`, t.`we``ird` FROM T", kMySql);
  EXPECT_THAT(use.identifiers, ElementsAre("from", "select", "ssn", "t", "we`ird"));
  EXPECT_FALSE(use.user_variable);
}

TEST(IdentifiersTest, NotInsideStringsOrComments) {
  IdentifierUse use =
      Identifiers("SELECT a FROM t WHERE b = 'ssn' # ssn\n -- ssn\n /* ssn */", kMySql);
  EXPECT_THAT(use.identifiers, Not(Contains("ssn")));
  EXPECT_THAT(use.identifiers, Contains("b"));
}

TEST(IdentifiersTest, InsideConditionalCommentsTheyCount) {
  EXPECT_THAT(Identifiers("SELECT 1 /*! , ssn */ FROM t", kMySql).identifiers, Contains("ssn"));
  EXPECT_THAT(Identifiers("SELECT 1 /*!50000 , ssn */ FROM t", kMySql).identifiers,
              Contains("ssn"));
  EXPECT_THAT(Identifiers("SELECT 1 /*M! , ssn */ FROM t", kMySql).identifiers, Contains("ssn"));
}

TEST(IdentifiersTest, DoubleQuotedCountsSinceAnsiQuotesMayBeOn) {
  EXPECT_THAT(Identifiers("SELECT \"SSN\" FROM t", kMySql).identifiers, Contains("ssn"));
}

TEST(IdentifiersTest, EveryReadingOfABackslashCounts) {
  // With backslash escapes the string runs to the last quote; without, `ssn` is code.
  std::string_view sql = "SELECT 'a\\' , ssn, '' FROM t";
  EXPECT_THAT(Identifiers(sql, kMySql).identifiers, Contains("ssn"));
  LexOptions nbe = kMySql;
  nbe.no_backslash_escapes = true;
  EXPECT_THAT(Identifiers(sql, nbe).identifiers, Contains("ssn"));
}

TEST(IdentifiersTest, DigitLeadingIdentifiers) {
  EXPECT_THAT(Identifiers("SELECT 1ssn, 0x1F, 1e5 FROM t", kMySql).identifiers,
              ElementsAre("1ssn", "from", "select", "t"));
}

TEST(IdentifiersTest, UserVariables) {
  EXPECT_TRUE(Identifiers("SELECT @v", kMySql).user_variable);
  EXPECT_TRUE(Identifiers("SELECT @`v`", kMySql).user_variable);
  EXPECT_TRUE(Identifiers("SELECT @'v'", kMySql).user_variable);
  EXPECT_TRUE(Identifiers("SELECT 1 /*! + @v */", kMySql).user_variable);
  EXPECT_TRUE(Identifiers("SELECT @v := ssn FROM t", kMySql).user_variable);
  EXPECT_FALSE(Identifiers("SELECT @@version, @@session.sql_mode", kMySql).user_variable);
  EXPECT_FALSE(Identifiers("SELECT '@v' -- @v", kMySql).user_variable);
  EXPECT_FALSE(Identifiers("CREATE USER 'bob'@'localhost'", kMySql).user_variable);
}

TEST(IdentifiersTest, PostgresQuotedIdentifiers) {
  EXPECT_THAT(Identifiers("SELECT \"Ssn\"\"x\" FROM t -- ssn").identifiers,
              ElementsAre("from", "select", "ssn\"x", "t"));
}

}  // namespace
}  // namespace veil::sql
