#include "agent/sql/classifier.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace veil::sql {
namespace {

using Kind = StatementInfo::Kind;

StatementInfo One(std::string_view sql, LexOptions options = {}) {
  auto all = Classify(sql, options);
  EXPECT_EQ(all.size(), 1u) << sql;
  return all.empty() ? StatementInfo{} : all[0];
}

TEST(ClassifierTest, SplitsAtSemicolonsOutsideQuotesAndComments) {
  auto s = Classify(
      "/* lead */ select 1; ; select ';' /* ; */ -- ;\n , $q$;$q$ ;"
      "delete from t where a = \";\";  ");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].text, "select 1");
  EXPECT_EQ(s[1].text, "select ';' /* ; */ -- ;\n , $q$;$q$");
  EXPECT_EQ(s[2].text, "delete from t where a = \";\"");
  EXPECT_EQ(s[2].first_keyword, "delete");
  EXPECT_TRUE(Classify("").empty());
  EXPECT_TRUE(Classify(" ;; -- nothing\n /* */").empty());
}

TEST(ClassifierTest, FirstKeywordIsLowercaseAndSkipsParentheses) {
  EXPECT_EQ(One("SELECT 1").first_keyword, "select");
  EXPECT_EQ(One("((SELECT 1))").first_keyword, "select");
  EXPECT_EQ(One("Frobnicate x").first_keyword, "Frobnicate");
  EXPECT_EQ(One("'x'").first_keyword, "");
}

TEST(ClassifierTest, Kinds) {
  EXPECT_EQ(One("select * from t").kind, Kind::kRead);
  EXPECT_EQ(One("insert into t values (1)").kind, Kind::kWrite);
  EXPECT_EQ(One("create index i on t (a)").kind, Kind::kDdl);
  EXPECT_EQ(One("begin").kind, Kind::kTransaction);
  EXPECT_EQ(One("commit").kind, Kind::kTransaction);
  EXPECT_EQ(One("prepare transaction 'x'").kind, Kind::kTransaction);
  EXPECT_EQ(One("set search_path = a").kind, Kind::kSet);
  EXPECT_EQ(One("listen ch").kind, Kind::kOther);
  EXPECT_EQ(One("show all").kind, Kind::kRead);
  EXPECT_EQ(One("select 1 into t2").kind, Kind::kDdl);
  EXPECT_EQ(One("select nextval('s')").kind, Kind::kWrite);
}

TEST(ClassifierTest, Flags) {
  StatementInfo s = One("select * into new_t from t");
  EXPECT_TRUE(s.ddl);
  EXPECT_TRUE(s.writes);
  s = One("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d WHERE id = 1");
  EXPECT_TRUE(s.writes);
  EXPECT_FALSE(s.ddl);
  EXPECT_TRUE(s.unbounded_write);  // the WHERE belongs to the SELECT
  s = One("WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d");
  EXPECT_TRUE(s.writes);
  EXPECT_FALSE(s.unbounded_write);
  s = One("with x as (select 1) update t set a = 1");
  EXPECT_TRUE(s.unbounded_write);
  s = One("update t set a = (select b from u where u.id = t.id)");
  EXPECT_TRUE(s.unbounded_write);  // the subquery's WHERE does not bound the UPDATE
  s = One("update t set a = 1 from u where u.id = t.id");
  EXPECT_FALSE(s.unbounded_write);
  s = One("delete from t where current of c");
  EXPECT_FALSE(s.unbounded_write);
  s = One("insert into t values (1) on conflict (id) do update set a = 1");
  EXPECT_TRUE(s.writes);
  EXPECT_FALSE(s.unbounded_write);
  s = One("merge into t using u on t.id = u.id when matched then delete");
  EXPECT_TRUE(s.writes);
  EXPECT_FALSE(s.unbounded_write);
  s = One("create table t2 as select * from t");
  EXPECT_TRUE(s.ddl);
  EXPECT_TRUE(s.writes);
  s = One("create view v as select * from t");
  EXPECT_TRUE(s.ddl);
  EXPECT_FALSE(s.writes);
  s = One("explain analyze delete from t");
  EXPECT_EQ(s.first_keyword, "explain");
  EXPECT_TRUE(s.writes);
  EXPECT_TRUE(s.unbounded_write);
  s = One("explain delete from t");
  EXPECT_EQ(s.kind, Kind::kRead);
  EXPECT_FALSE(s.writes);
  EXPECT_TRUE(One("explain (analyze, buffers) update t set a = 1 where b = 2").writes);
  EXPECT_TRUE(One("explain (costs off, analyze true) insert into t values (1)").writes);
  EXPECT_FALSE(One("explain (analyze false) insert into t values (1)").writes);
  EXPECT_FALSE(One("explain (analyze off, verbose) insert into t values (1)").writes);
  EXPECT_TRUE(One("explain verbose analyse insert into t values (1)").writes);  // nonsense, safe
  EXPECT_TRUE(One("explain analyze verbose insert into t values (1)").writes);
  s = One("prepare p (int) as delete from t");
  EXPECT_TRUE(s.writes);
  EXPECT_TRUE(s.unbounded_write);
  EXPECT_EQ(One("prepare p as select $1").kind, Kind::kRead);
  EXPECT_TRUE(One("truncate t").unbounded_write);
}

TEST(ClassifierTest, ReadOnlyOff) {
  for (const char* sql : {
           "SET default_transaction_read_only = off",
           "set default_transaction_read_only to false",
           "SET SESSION default_transaction_read_only = 0",
           "SET LOCAL transaction_read_only = 'off'",
           "set \"DEFAULT_TRANSACTION_READ_ONLY\" = off",
           "set default_transaction_read_only = 'of'",
           "set default_transaction_read_only to default",
           "set default_transaction_read_only = no",
           "set transaction_read_only = on, off",
           "set transaction_read_only = E'on'",
           "set transaction_read_only",
           "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
           "set transaction isolation level serializable, read write",
           "BEGIN READ WRITE",
           "begin transaction isolation level repeatable read, read write",
           "START TRANSACTION READ WRITE",
           "RESET default_transaction_read_only",
           "reset transaction_read_only",
           "RESET ALL",
           "DISCARD ALL",
           "SELECT set_config('default_transaction_read_only','off',false)",
           "select pg_catalog.set_config('transaction_read_only', 'false', true)",
           "select set_config('default_transaction_' || 'read_only', 'off', false)",
           "select set_config(name, 'off', false) from pg_settings",
           "select set_config('transaction_read_only', $$off$$, true)",
           "select \"set_config\"('transaction_read_only', 'off', true)",
           "alter role r set default_transaction_read_only = off",
       }) {
    EXPECT_TRUE(One(sql).sets_read_only_off) << sql;
  }
  for (const char* sql : {
           "SET default_transaction_read_only = on",
           "set transaction_read_only to true",
           "set default_transaction_read_only = 'on'",
           "set default_transaction_read_only = 1",
           "set search_path = public",
           "set statement_timeout = 0",
           "set my.transaction_read_only = off",
           "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
           "set transaction isolation level read committed",
           "begin",
           "begin isolation level read committed, read only",
           "reset search_path",
           "select set_config('search_path', 'x', false)",
           "select set_config('transaction_read_only', 'on', true)",
           "select current_setting('transaction_read_only')",
           "discard plans",
       }) {
    EXPECT_FALSE(One(sql).sets_read_only_off) << sql;
  }
}

TEST(ClassifierTest, StandardConformingStringsOff) {
  // The server with standard_conforming_strings off ends the string after 'a\'', and runs
  // the DROP; the default reading keeps it inside one string.
  std::string_view sql = "SELECT 'a\\''; DROP TABLE t; --'";
  auto on = Classify(sql);
  ASSERT_EQ(on.size(), 1u);
  EXPECT_FALSE(on[0].ddl);
  auto off = Classify(sql, {.standard_conforming_strings = false});
  ASSERT_EQ(off.size(), 2u);
  EXPECT_TRUE(off[1].ddl);
}

TEST(ClassifierTest, HostileNestingIsAWriteNotACrash) {
  std::string sql;
  for (int i = 0; i < 100000; ++i) sql += "explain analyze ";
  sql += "select 1";
  StatementInfo s = One(sql);
  EXPECT_TRUE(s.writes);
  EXPECT_EQ(s.text.size(), sql.size());
  std::string parens(200000, '(');
  EXPECT_FALSE(One(parens + "select 1").writes);
  EXPECT_TRUE(One(parens + "delete from t").unbounded_write);
  EXPECT_FALSE(One("explain analyze explain analyze select 1").writes);  // shallow: looked into
}

// Random text built from SQL's sharp edges must never crash, hang or return views outside
// the input.
TEST(ClassifierTest, RandomInputDoesNotCrash) {
  static const char* kPieces[] = {
      "'",       "''",      "\"",      "$$",      "$a$",        "$",      "$1",    "--",
      "\n",      "/*",      "*/",      ";",       "(",          ")",      "E'",    "U&'",
      "U&\"",    "\\",      " ",       "select",  "delete",     "update", "where", "with",
      "as",      "into",    "for",     "set",     "copy",       "from",   "to",    "stdout",
      "explain", "analyze", "prepare", "x",       "1",          ".5",     "::",    "uescape",
      "begin",   "read",    "write",   "nextval", "set_config", ",",      "=",     "off",
      "reset",   "all",     "\xff",    "\0",      "truncate",   "do"};
  std::mt19937 rng(20240601);
  for (int i = 0; i < 10000; ++i) {
    std::string sql;
    int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) {
      if (rng() % 8 == 0) {
        sql.push_back(static_cast<char>(rng() % 256));
      } else {
        const char* p = kPieces[rng() % std::size(kPieces)];
        sql.append(p, *p ? std::strlen(p) : 1);
      }
    }
    for (bool scs : {true, false}) {
      for (const StatementInfo& s : Classify(sql, {.standard_conforming_strings = scs})) {
        ASSERT_GE(s.text.data(), sql.data());
        ASSERT_LE(s.text.data() + s.text.size(), sql.data() + sql.size());
        ASSERT_FALSE(s.text.empty());
      }
    }
  }
}

// ---- MySQL and MariaDB ----

constexpr LexOptions kMySql{.dialect = Dialect::kMySql};

TEST(MySqlClassifierTest, SplitsOutsideStringsCommentsAndInsideConditionalComments) {
  auto s = Classify(
      "# lead\n select ';' -- ;\n, `;`, \";\" /* ; */; SELECT 1 /*! ; DROP TABLE t */ ; "
      "delete from t where a = 'x\\';'",
      kMySql);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].text, "select ';' -- ;\n, `;`, \";\"");
  EXPECT_EQ(s[1].text, "SELECT 1");
  EXPECT_EQ(s[2].text, "DROP TABLE t");
  EXPECT_TRUE(s[2].text_in_conditional_comment);
  EXPECT_FALSE(s[1].text_in_conditional_comment);
  EXPECT_EQ(s[2].kind, Kind::kDdl);
  EXPECT_EQ(s[3].first_keyword, "delete");
  EXPECT_EQ(s[3].text, "delete from t where a = 'x\\';'");
  EXPECT_TRUE(s[3].writes);
  EXPECT_FALSE(s[3].unbounded_write);
}

TEST(MySqlClassifierTest, Kinds) {
  EXPECT_EQ(One("SELECT * FROM t", kMySql).kind, Kind::kRead);
  EXPECT_EQ(One("SHOW DATABASES", kMySql).kind, Kind::kRead);
  EXPECT_EQ(One("DESCRIBE t", kMySql).first_keyword, "DESCRIBE");
  EXPECT_EQ(One("REPLACE INTO t VALUES (1)", kMySql).kind, Kind::kWrite);
  EXPECT_EQ(One("CREATE TABLE t (a INT)", kMySql).kind, Kind::kDdl);
  EXPECT_EQ(One("START TRANSACTION", kMySql).kind, Kind::kTransaction);
  EXPECT_EQ(One("XA COMMIT 'x'", kMySql).kind, Kind::kOther);
  EXPECT_EQ(One("SET autocommit = 0", kMySql).kind, Kind::kSet);
  EXPECT_EQ(One("SET PASSWORD = 'x'", kMySql).kind, Kind::kDdl);
  EXPECT_EQ(One("LOCK TABLES t READ", kMySql).kind, Kind::kOther);
  EXPECT_TRUE(One("LOCK TABLES t READ", kMySql).writes);
  EXPECT_EQ(One("DROP PREPARE p", kMySql).kind, Kind::kOther);
  EXPECT_FALSE(One("DROP PREPARE p", kMySql).ddl);
}

TEST(MySqlClassifierTest, SetStatementTakesTheInnerStatementsClass) {
  StatementInfo s = One("SET STATEMENT tx_read_only=0 FOR UPDATE t SET a=1", kMySql);
  EXPECT_EQ(s.kind, Kind::kWrite);
  EXPECT_TRUE(s.writes);
  EXPECT_TRUE(s.unbounded_write);
  EXPECT_TRUE(s.sets_read_only_off);
  s = One("SET STATEMENT sort_buffer_size=100000, max_statement_time=2 FOR SELECT 1", kMySql);
  EXPECT_EQ(s.kind, Kind::kRead);
  EXPECT_FALSE(s.writes);
  EXPECT_FALSE(s.sets_read_only_off);
  // Any assignment to a read-only setting there counts, even a true one.
  EXPECT_TRUE(One("SET STATEMENT tx_read_only=1 FOR SELECT 1", kMySql).sets_read_only_off);
  // Parentheses do not hide the FOR.
  s = One("SET STATEMENT a = (SELECT 1 FOR UPDATE) FOR DELETE FROM t", kMySql);
  EXPECT_TRUE(s.unbounded_write);
  EXPECT_EQ(One("SET STATEMENT a = 1", kMySql).kind, Kind::kOther);  // no FOR: unknown
}

TEST(MySqlClassifierTest, ReaderReportsWhatMakesReadingsDiffer) {
  StatementReader plain("SELECT 'a' /*! , 1 */", kMySql);
  StatementInfo info;
  while (plain.Next(&info)) {
  }
  EXPECT_FALSE(plain.saw_backslash_in_string());
  EXPECT_FALSE(plain.saw_conditional_comment());
  StatementReader both("SELECT 'a\\'' /*!50000 , 1 */", kMySql);
  while (both.Next(&info)) {
  }
  EXPECT_TRUE(both.saw_backslash_in_string());
  EXPECT_TRUE(both.saw_conditional_comment());
}

TEST(MySqlClassifierTest, PostgresUnchangedByDefault) {
  // The same text is read as PostgreSQL unless the dialect says otherwise: # is an operator.
  EXPECT_EQ(Classify("SELECT 1 # 2; DROP TABLE t").size(), 2u);
  EXPECT_EQ(Classify("SELECT 1 # 2; DROP TABLE t", kMySql).size(), 1u);
}

}  // namespace
}  // namespace veil::sql
