#include "agent/sql/guardrails.h"

#include <gtest/gtest.h>
#include <hs.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <thread>

// Counts C++ heap allocations while enabled, to hold Check() to "allocates nothing".
static std::atomic<bool> g_counting{false};
static std::atomic<int> g_allocations{0};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace veil::sql {
namespace {

using config::v1::Guardrail;
using GuardrailList = google::protobuf::RepeatedPtrField<Guardrail>;

GuardrailList Builtins(std::initializer_list<Guardrail::Builtin> builtins) {
  GuardrailList list;
  for (auto b : builtins) list.Add()->set_builtin(b);
  return list;
}

Guardrails Make(const GuardrailList& list, bool read_access = false) {
  auto g = Guardrails::Create(list, read_access);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().message);
  return std::move(g).value();
}

struct Case {
  const char* sql;
  bool read_only;  // blocked by read-only
  bool no_ddl;     // blocked by no-ddl
  bool no_unbounded_write;
};

// Expected verdicts, true = blocked. Each row is checked under each guardrail alone.
const Case kCases[] = {
    // Plain reads, and writes that are only text.
    {"SELECT * FROM t", false, false, false},
    {"select 'drop table x'", false, false, false},
    {"SELECT \"DELETE\" FROM t", false, false, false},
    {"SELECT \"delete\" FROM \"update\" WHERE \"drop\" = 1", false, false, false},
    {"SELECT 1 /* ; DROP TABLE t */", false, false, false},
    {"SELECT 1 /* nested /* */ ; DROP TABLE t */", false, false, false},
    {"SELECT ';' AS x; SELECT 2", false, false, false},
    {"SELECT ';DROP TABLE t;'", false, false, false},
    {"SELECT $$ ; DELETE FROM t; $$", false, false, false},
    {"SELECT $a$ $b$ ; DROP TABLE t; $b$ $a$", false, false, false},
    {"SELECT E'\\'; DELETE FROM t; --'", false, false, false},
    {"select u&'\\0064rop' as x", false, false, false},
    {"VALUES (1), (2)", false, false, false},
    {"TABLE t", false, false, false},
    {"(SELECT 1) UNION (SELECT 2)", false, false, false},
    {"SELECT * FROM t WHERE a = $1 ORDER BY b LIMIT 10", false, false, false},
    {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
     "SELECT * FROM r",
     false, false, false},
    {"SELECT x.nextval FROM t x", false, false, false},
    {"SELECT currval('s')", false, false, false},
    {"SELECT * FROM t /* unterminated ; DELETE FROM t", false, false, false},
    {"DECLARE c CURSOR FOR SELECT * FROM t", false, false, false},
    {"FETCH 10 FROM c", false, false, false},
    {"SHOW search_path", false, false, false},
    {"LISTEN ch", false, false, false},
    {"DISCARD PLANS", false, false, false},
    {"EXPLAIN SELECT * FROM t", false, false, false},
    {"EXPLAIN DELETE FROM t", false, false, false},
    {"EXPLAIN (ANALYZE off) DELETE FROM t", false, false, false},
    // Writes hidden after comments or in multi-statement strings.
    {"SELECT 1; DELETE FROM t", true, false, true},
    {"/* harmless */ DELETE FROM t WHERE id = 1", true, false, false},
    {"-- comment\nDROP TABLE t", true, true, false},
    {"SELECT 1; SELECT 2; UPDATE t SET a = 1", true, false, true},
    {"SELECT 'x'';'; DROP TABLE t", true, true, false},
    {"SELECT 'a\\'; DELETE FROM t; --'", true, false, true},
    // standard_conforming_strings off would run the DROP: both readings are checked.
    {"SELECT 'a\\''; DROP TABLE t; --'", true, true, false},
    {"UPDATE t SET a = 1 -- WHERE id = 2", true, false, true},
    {"frobnicate the database", true, false, false},
    {"$$unterminated ; DELETE", true, false, false},
    // DML.
    {"UPDATE t SET a=1", true, false, true},
    {"UPDATE t SET a=1 WHERE id=2", true, false, false},
    {"DELETE FROM t", true, false, true},
    {"DELETE FROM t USING u WHERE t.id = u.id", true, false, false},
    {"DELETE FROM t USING u", true, false, true},
    {"DELETE FROM t WHERE id IN (SELECT id FROM u)", true, false, false},
    {"TRUNCATE t", true, false, true},
    {"INSERT INTO t VALUES (1)", true, false, false},
    {"INSERT INTO t SELECT * FROM u", true, false, false},
    {"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 2", true, false, false},
    {"MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN UPDATE SET a = u.a", true, false,
     false},
    // Data-modifying CTEs.
    {"WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", true, false, true},
    {"WITH x AS (UPDATE t SET a=1 WHERE id=2 RETURNING *) SELECT * FROM x", true, false, false},
    {"WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM x", true, false, false},
    {"WITH x AS MATERIALIZED (SELECT 1) DELETE FROM t", true, false, true},
    // DO blocks and calls.
    {"DO $$ BEGIN DELETE FROM t; END $$", true, false, false},
    {"DO $body$ BEGIN PERFORM 1; $x$ ; $x$ END $body$ LANGUAGE plpgsql", true, false, false},
    {"CALL proc()", true, false, false},
    {"PREPARE p AS DELETE FROM t", true, false, true},
    {"PREPARE p AS SELECT * FROM t WHERE id = $1", false, false, false},
    {"EXECUTE p", true, false, false},
    // Turning read-only off.
    {"SET default_transaction_read_only = off", true, false, false},
    {"SET default_transaction_read_only TO false", true, false, false},
    {"SET SESSION transaction_read_only = 0", true, false, false},
    {"set local transaction_read_only = 'off'", true, false, false},
    {"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", true, false, false},
    {"SET default_transaction_read_only = on", false, false, false},
    {"SET search_path TO app", false, false, false},
    {"BEGIN READ WRITE", true, false, false},
    {"START TRANSACTION READ WRITE", true, false, false},
    {"BEGIN", false, false, false},
    {"BEGIN READ ONLY", false, false, false},
    {"COMMIT", false, false, false},
    {"SAVEPOINT s", false, false, false},
    {"ROLLBACK TO SAVEPOINT s", false, false, false},
    {"RESET ALL", true, false, false},
    {"RESET default_transaction_read_only", true, false, false},
    {"SELECT set_config('default_transaction_read_only','off',false)", true, false, false},
    {"SELECT set_config('application_name','x',false)", false, false, false},
    // COPY.
    {"COPY t FROM STDIN", true, false, false},
    {"COPY t (a, b) FROM '/tmp/x.csv' WITH (FORMAT csv)", true, false, false},
    {"COPY t TO STDOUT", false, false, false},
    {"COPY (SELECT * FROM t WHERE a > 1) TO STDOUT WITH CSV", false, false, false},
    {"COPY t TO '/tmp/out'", true, false, false},
    {"COPY t TO PROGRAM 'gzip > /tmp/x'", true, false, false},
    {"COPY (DELETE FROM t RETURNING *) TO STDOUT", true, false, true},
    // EXPLAIN ANALYZE runs the statement.
    {"EXPLAIN ANALYZE DELETE FROM t", true, false, true},
    {"EXPLAIN (ANALYZE) UPDATE t SET a = 1 WHERE id = 1", true, false, false},
    {"EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1", true, true, false},
    // DDL.
    {"CREATE TEMP TABLE x (a int)", true, true, false},
    {"CREATE TABLE x AS SELECT 1", true, true, false},
    {"SELECT * INTO x FROM t", true, true, false},
    {"ALTER TABLE t ADD COLUMN b int", true, true, false},
    {"DROP TABLE t", true, true, false},
    {"GRANT SELECT ON t TO bob", true, true, false},
    {"REVOKE ALL ON t FROM bob", true, true, false},
    {"COMMENT ON TABLE t IS 'x'", true, true, false},
    {"create function f() returns int language sql as $$ delete from t $$", true, true, false},
    // Locks and side-effect functions.
    {"SELECT * FROM t FOR UPDATE", true, false, false},
    {"SELECT * FROM t FOR SHARE", true, false, false},
    {"SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED", true, false, false},
    {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", true, false, false},
    {"SELECT nextval('s')", true, false, false},
    {"SELECT setval('s', 1)", true, false, false},
    {"SELECT pg_advisory_lock(1)", true, false, false},
    {"SELECT lo_import('/etc/passwd')", true, false, false},
    {"SELECT pg_terminate_backend(123)", true, false, false},
    {"SELECT dblink_exec('conn', 'DELETE FROM t')", true, false, false},
    {"SELECT * FROM public.dblink('c', 'select 1') AS x(a int)", true, false, false},
    // Maintenance.
    {"VACUUM t", true, false, false},
    {"ANALYZE t", true, false, false},
    {"REINDEX TABLE t", true, false, false},
    {"CLUSTER t USING i", true, false, false},
    {"REFRESH MATERIALIZED VIEW mv", true, false, false},
    {"NOTIFY ch, 'x'", true, false, false},
};

TEST(GuardrailsTest, VerdictTable) {
  static_assert(std::size(kCases) >= 60);
  Guardrails read_only = Make(Builtins({Guardrail::BUILTIN_READ_ONLY}));
  Guardrails read_grant = Make({}, /*read_access=*/true);
  Guardrails no_ddl = Make(Builtins({Guardrail::BUILTIN_NO_DDL}));
  Guardrails no_unbounded = Make(Builtins({Guardrail::BUILTIN_NO_UNBOUNDED_WRITE}));
  for (const Case& c : kCases) {
    auto ro = read_only.Check(c.sql);
    EXPECT_EQ(ro.has_value(), c.read_only) << "read-only: " << c.sql;
    if (ro) {
      EXPECT_EQ(ro->guardrail, "read-only");
    }
    EXPECT_EQ(read_grant.Check(c.sql).has_value(), c.read_only) << "read grant: " << c.sql;
    auto ddl = no_ddl.Check(c.sql);
    EXPECT_EQ(ddl.has_value(), c.no_ddl) << "no-ddl: " << c.sql;
    if (ddl) {
      EXPECT_EQ(ddl->guardrail, "no-ddl");
    }
    auto unb = no_unbounded.Check(c.sql);
    EXPECT_EQ(unb.has_value(), c.no_unbounded_write) << "no-unbounded-write: " << c.sql;
    if (unb) {
      EXPECT_EQ(unb->guardrail, "no-unbounded-write");
    }
  }
}

TEST(GuardrailsTest, NoGuardrailsAllowsEverything) {
  Guardrails none = Make({});
  EXPECT_FALSE(none.read_only());
  for (const Case& c : kCases) EXPECT_FALSE(none.Check(c.sql)) << c.sql;
}

TEST(GuardrailsTest, ViolationNamesTheGuardrailAndStatement) {
  Guardrails g = Make(Builtins({Guardrail::BUILTIN_NO_UNBOUNDED_WRITE, Guardrail::BUILTIN_NO_DDL,
                                Guardrail::BUILTIN_READ_ONLY}));
  EXPECT_TRUE(g.read_only());
  auto v = g.Check("select 1; /* x */ drop table t; delete from t");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->guardrail, "no-ddl");  // the first statement that violates, then list order
  EXPECT_EQ(v->index, 1);
  EXPECT_EQ(v->statement, "drop table t");
  EXPECT_EQ(v->Message(), "veil: statement blocked by guardrail no-ddl");
  v = g.Check("delete from t");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->guardrail, "no-unbounded-write");
  EXPECT_EQ(v->index, 0);
  v = g.Check("insert into t values (1)");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->guardrail, "read-only");
  EXPECT_EQ(v->index, 2);
  // A read grant's wall comes before configured guardrails.
  Guardrails grant = Make(Builtins({Guardrail::BUILTIN_NO_DDL}), true);
  v = grant.Check("drop table t");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->guardrail, "read-only");
  EXPECT_EQ(v->index, -1);
  EXPECT_TRUE(grant.read_only());
}

TEST(GuardrailsTest, DenyPatterns) {
  GuardrailList list;
  list.Add()->set_builtin(Guardrail::BUILTIN_NO_UNBOUNDED_WRITE);
  list.Add()->set_deny("pg_sleep");
  list.Add()->set_max_rows(1000);
  list.Add()->set_deny("^drop\\s+table.*cascade");
  list.Add()->set_max_rows(50);
  Guardrails g = Make(list);
  EXPECT_EQ(g.max_rows(), 50u);
  EXPECT_FALSE(g.read_only());
  EXPECT_FALSE(g.Check("select 1"));
  EXPECT_FALSE(g.Check("drop table t"));
  auto v = g.Check("SELECT PG_SLEEP(10)");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->guardrail, "deny");
  EXPECT_EQ(v->index, 1);
  EXPECT_EQ(v->deny_index, 0);
  EXPECT_EQ(v->Message(), "veil: statement blocked by guardrail deny #1");
  // Anchored at the statement, not at the query text; a leading comment does not hide it;
  // `.` crosses lines.
  v = g.Check("select 1; /* hi */ DROP TABLE t\n CASCADE");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->deny_index, 1);
  EXPECT_EQ(v->index, 3);
  EXPECT_EQ(v->statement, "DROP TABLE t\n CASCADE");
  EXPECT_FALSE(g.Check("select 'x drop table t cascade'"));
  // The earliest guardrail in the list wins within one statement.
  v = g.Check("delete from t -- pg_sleep");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->guardrail, "no-unbounded-write");
  // Copies share the database and work on other threads.
  Guardrails copy = g;
  std::optional<Violation> other;
  std::thread([&] { other = copy.Check("select pg_sleep(1)"); }).join();
  ASSERT_TRUE(other);
  EXPECT_EQ(other->deny_index, 0);
}

TEST(GuardrailsTest, DenyPatternsSeeThroughCommentsSpacingAndQuotes) {
  GuardrailList list;
  list.Add()->set_deny("drop table");
  list.Add()->set_deny("pg_read_file\\(");
  Guardrails g = Make(list);
  for (const char* sql :
       {"drop table t", "DROP/**/TABLE t", "drop   \n\t table t", "drop -- x\n table t",
        "select \"pg_read_file\"('/etc/passwd')", "select pg_read_file ('/etc/passwd')"}) {
    auto v = g.Check(sql);
    ASSERT_TRUE(v) << sql;
    EXPECT_EQ(v->guardrail, "deny") << sql;
  }
  EXPECT_FALSE(g.Check("select 'drop' || ' table'"));
  EXPECT_FALSE(g.Check("select droptable from t"));
}

// The parse tree's walls: what writes, EXECUTE as its prepared statement, no-filter-on-masked.
TEST(GuardrailsTest, TreeChecks) {
  std::vector<CatalogSnapshot::Row> rows = {
      {"r", "1", "public", "customers", "r", std::nullopt},
      {"c", "1", "1", "id", "23", std::nullopt},
      {"c", "1", "2", "email", "25", std::nullopt},
      {"s", "1", "public", std::nullopt, std::nullopt, std::nullopt},
  };
  auto cat = CatalogSnapshot::FromRows(rows, 1);
  auto sensitive = [](const BaseColumn& c) { return c.column == "email"; };
  Analysis prepared_delete = Analyze("PREPARE d AS DELETE FROM customers", *cat);
  auto prepared = [&](std::string_view name) -> const StatementAnalysis* {
    return name == "d" ? prepared_delete.statements[0].inner.get() : nullptr;
  };
  Guardrails ro = Make({}, /*read_access=*/true);
  auto check = [&](const Guardrails& g, const char* sql) {
    return g.CheckTree(Analyze(sql, *cat), prepared, sensitive);
  };
  EXPECT_FALSE(check(ro, "SELECT email FROM customers"));
  EXPECT_TRUE(check(ro, "EXECUTE d"));
  EXPECT_TRUE(check(ro, "EXECUTE never_prepared"));
  EXPECT_TRUE(check(ro, "PREPARE x AS UPDATE customers SET id = 1; EXECUTE x"));
  EXPECT_FALSE(check(ro, "PREPARE x AS SELECT 1; EXECUTE x"));
  EXPECT_TRUE(check(ro, "WITH d AS (DELETE FROM customers RETURNING id) SELECT * FROM d"));

  Guardrails nf = Make(Builtins({Guardrail::BUILTIN_NO_FILTER_ON_MASKED}));
  EXPECT_FALSE(check(nf, "SELECT id FROM customers WHERE email = 'a@b.c'"));
  EXPECT_FALSE(check(nf, "SELECT id FROM customers WHERE email = $1 AND id > 3"));
  EXPECT_FALSE(check(nf, "SELECT count(email) FROM customers GROUP BY id ORDER BY id"));
  // Bare references, counts, equality and computation over other columns stay allowed.
  EXPECT_FALSE(
      check(nf, "SELECT email, id * 2, upper('x') FROM customers WHERE email IN ('a', 'b')"));
  EXPECT_FALSE(check(nf, "SELECT count(DISTINCT email), sum(id) FROM customers"));
  EXPECT_FALSE(check(nf, "SELECT d.email FROM (SELECT email, id FROM customers) d WHERE d.id = 1"));
  for (const char* sql :
       {"SELECT id FROM customers WHERE email LIKE 'a%'",
        "SELECT id FROM customers WHERE email > 'm'", "SELECT id FROM customers ORDER BY email",
        "SELECT email, count(*) FROM customers GROUP BY email",
        "SELECT a.id FROM customers a JOIN customers b ON a.email = b.email",
        "SELECT id FROM customers WHERE ascii(email) = 109",
        "SELECT count(*) FILTER (WHERE email < 'n') FROM customers",
        "SELECT id FROM customers WHERE id IN (SELECT id FROM customers WHERE email ~ '^a')",
        "SELECT row_number() OVER (ORDER BY email) FROM customers", "SELEC broken",
        // A computation over a sensitive value that may fail answers yes or no by failing.
        "SELECT CASE WHEN substr(email, 1, 1) = 'a' THEN 1 ELSE 1 / (id - 1) END FROM customers",
        "SELECT 1 / (ascii(email) - 97) FROM customers", "SELECT email::int FROM customers",
        "SELECT coalesce(nullif(left(email, 1), 'a'), (1 / (id - 1))::text) FROM customers",
        "SELECT count(CASE WHEN email > 'm' THEN 1 / (id - 1) END) FROM customers",
        "WITH x AS MATERIALIZED (SELECT CASE WHEN email > 'm' THEN 1 / (id - 1) END c, id "
        "FROM customers) SELECT id FROM x",
        "SELECT id FROM (SELECT id, left(email, 1) AS k FROM customers) d WHERE k = 'a'",
        "SELECT email > 'm' FROM customers"}) {
    auto v = check(nf, sql);
    ASSERT_TRUE(v) << sql;
    EXPECT_EQ(v->Message(), "veil: statement blocked by guardrail no-filter-on-masked") << sql;
  }
}

TEST(GuardrailsTest, BadDenyPatternIsAnError) {
  GuardrailList list;
  list.Add()->set_deny("ok");
  list.Add()->set_deny("(unclosed");
  auto g = Guardrails::Create(list, false);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message.find("(unclosed"), std::string::npos) << g.error().message;
  GuardrailList empty;
  empty.Add();
  EXPECT_FALSE(Guardrails::Create(empty, false).ok());
}

TEST(GuardrailsTest, NoMaxRowsByDefault) { EXPECT_FALSE(Make({}).max_rows()); }

TEST(GuardrailsTest, CheckingAReadAllocatesNothing) {
  GuardrailList list = Builtins({Guardrail::BUILTIN_READ_ONLY, Guardrail::BUILTIN_NO_DDL,
                                 Guardrail::BUILTIN_NO_UNBOUNDED_WRITE});
  list.Add()->set_deny("pg_sleep");
  Guardrails g = Make(list);
  const char* sql =
      "/* report */ WITH a AS (SELECT id, name FROM t WHERE x = 'it''s; fine') "
      "SELECT * FROM a JOIN u USING (id) WHERE $$x$$ <> E'\\n' ORDER BY 1; SELECT 2";
  EXPECT_FALSE(g.Check(sql));  // warms this thread's scratch
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(g.Check(sql));
  g_counting = false;
  EXPECT_EQ(g_allocations.load(), 0);
  // The counter does count: Classify() returns a vector.
  g_counting = true;
  EXPECT_EQ(Classify(sql).size(), 2u);
  g_counting = false;
  EXPECT_GT(g_allocations.load(), 0);
}

TEST(GuardrailsTest, RandomInputDoesNotCrash) {
  GuardrailList list = Builtins({Guardrail::BUILTIN_READ_ONLY, Guardrail::BUILTIN_NO_DDL,
                                 Guardrail::BUILTIN_NO_UNBOUNDED_WRITE});
  list.Add()->set_deny("drop.*table");
  Guardrails g = Make(list);
  std::mt19937 rng(7);
  const std::string alphabet = "'\"$;()-*/\\ \nEeUu&xdeletupdaswhrin0123,=";
  int blocked = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string sql(rng() % 64, ' ');
    for (char& c : sql)
      c = rng() % 10 == 0 ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    if (g.Check(sql)) ++blocked;
  }
  EXPECT_GT(blocked, 0);
}

// ---- MySQL and MariaDB ----

constexpr LexOptions kMySql{.dialect = Dialect::kMySql};

const Case kMySqlCases[] = {
    // Reads, and writes that are only text.
    {"SELECT * FROM t", false, false, false},
    {"SELECT 'drop table x', \"delete from t\"", false, false, false},
    {"SELECT `delete` FROM `update` WHERE `drop` = 1", false, false, false},
    {"SELECT `a``; DROP TABLE t; -- ` FROM t", false, false, false},
    {"SELECT 1 # ; DROP TABLE t", false, false, false},
    {"SELECT 1 -- ; DROP TABLE t", false, false, false},
    {"SELECT 1 /* ; DROP TABLE t */", false, false, false},
    {"SELECT 1 /*+ BKA(t) */ FROM t", false, false, false},
    {"SELECT 1 INTO @v", false, false, false},
    {"SELECT a FROM t WHERE b = ? LIMIT 10", false, false, false},
    {"SELECT REPLACE(a, 'x', 'y'), INSERT(a, 1, 1, 'z') FROM t", false, false, false},
    {"WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) "
     "SELECT * FROM r",
     false, false, false},
    {"(SELECT 1) UNION (SELECT 2)", false, false, false},
    {"TABLE t", false, false, false},
    {"VALUES ROW(1, 2)", false, false, false},
    {"SHOW TABLES", false, false, false},
    {"SHOW CREATE TABLE t", false, false, false},
    {"DESCRIBE t", false, false, false},
    {"DESC t", false, false, false},
    {"EXPLAIN SELECT * FROM t", false, false, false},
    {"EXPLAIN DELETE FROM t", false, false, false},
    {"EXPLAIN FORMAT=JSON UPDATE t SET a = 1", false, false, false},
    {"HELP 'select'", false, false, false},
    {"USE app", false, false, false},
    {"DO SLEEP(1)", false, false, false},
    {"HANDLER t OPEN", false, false, false},
    {"HANDLER t READ FIRST", false, false, false},
    {"SELECT @@version, @@session.tx_read_only", false, false, false},
    {"SET NAMES utf8mb4", false, false, false},
    {"SET @x = 0, @tx_read_only = 0", false, false, false},
    {"SET sql_mode = 'ANSI_QUOTES'", false, false, false},
    {"SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED", false, false, false},
    {"SET SESSION TRANSACTION READ ONLY", false, false, false},
    {"SET tx_read_only = 1", false, false, false},
    {"SET SESSION transaction_read_only = ON", false, false, false},
    {"START TRANSACTION READ ONLY", false, false, false},
    {"START TRANSACTION", false, false, false},
    {"BEGIN", false, false, false},
    {"BEGIN WORK", false, false, false},
    {"COMMIT", false, false, false},
    {"ROLLBACK TO SAVEPOINT s", false, false, false},
    {"SAVEPOINT s", false, false, false},
    {"RELEASE SAVEPOINT s", false, false, false},
    {"DEALLOCATE PREPARE p", false, false, false},
    {"UNLOCK TABLES", false, false, false},
    {"SET STATEMENT max_statement_time=1 FOR SELECT * FROM t", false, false, false},
    // Conditional comments: their content runs.
    {"SELECT 1 /*! ; DROP TABLE t */", true, true, false},
    {"SELECT 1 /*!50000 ; DROP TABLE t */", true, true, false},
    {"SELECT 1 /*M! ; DELETE FROM t */", true, false, true},
    {"/*!40101 SET NAMES utf8 */", false, false, false},
    {"SELECT 1 /*! FOR UPDATE */", true, false, false},
    // ... and when the server takes a versioned comment for a comment, what follows runs.
    {"SELECT 1 /*!99999 ' */ ; DROP TABLE t; -- ' */", true, true, false},
    {"SELECT 1 /*M! '*/ /*!12345 ; DROP TABLE t; -- ' */", true, true, false},
    // Backslashes: both sql_mode readings must pass.
    {"SELECT '\\'; DROP TABLE t; -- '", true, true, false},
    {"SELECT '\\\\'; DROP TABLE t; -- '", true, true, false},
    {"SELECT \"\\\"; DELETE FROM t; -- \"", true, false, true},
    {"SELECT 'a\\'b' FROM t", false, false, false},
    // GBK: 0xBF 0x5C is one character, so the backslash escapes nothing.
    {"SELECT '\xbf\\' ; DROP TABLE t; -- '", true, true, false},
    // ... and 0xBF 0x60 too: a backtick can end inside a character, in a quoted identifier or
    // right after a word.
    {"SELECT `\xbf``; DROP TABLE t; -- ` FROM t", true, true, false},
    {"SELECT \xbf`; DROP TABLE t; -- ` FROM t", true, true, false},
    {"SELECT `\xc3\xa9t\xc3\xa9` FROM t", false, false, false},
    // -- needs a space: 1--1 is arithmetic, and what follows is code.
    {"SELECT 1--1; DROP TABLE t", true, true, false},
    {"SELECT 1 #\n; DROP TABLE t", true, true, false},
    {"SELECT 1 # \r DROP TABLE t", false, false, false},
    // DML.
    {"INSERT INTO t VALUES (1)", true, false, false},
    {"INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = 2", true, false, false},
    {"REPLACE INTO t VALUES (1)", true, false, false},
    {"UPDATE t SET a = 1", true, false, true},
    {"UPDATE t SET a = 1 WHERE id = 2", true, false, false},
    {"UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1)", true, false, true},
    {"UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.a", true, false, true},
    {"UPDATE t1, t2 SET t1.a = t2.a WHERE t1.id = t2.id", true, false, false},
    {"DELETE FROM t", true, false, true},
    {"DELETE FROM t LIMIT 10", true, false, true},
    {"DELETE FROM t WHERE id = 1", true, false, false},
    {"DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id", true, false, true},
    {"DELETE t1, t2 FROM t1 JOIN t2 USING (id) WHERE t1.a = 1", true, false, false},
    {"WITH c AS (SELECT 1 AS id) DELETE FROM t", true, false, true},
    {"WITH c AS (SELECT 1 AS id) UPDATE t SET a = 1 WHERE id IN (SELECT id FROM c)", true, false,
     false},
    {"TRUNCATE TABLE t", true, false, true},
    {"TRUNCATE t", true, false, true},
    {"LOAD DATA INFILE '/tmp/x' INTO TABLE t", true, false, false},
    {"LOAD XML LOCAL INFILE 'x.xml' INTO TABLE t", true, false, false},
    {"CALL p()", true, false, false},
    {"SET STATEMENT max_statement_time=1 FOR UPDATE t SET a = 1", true, false, true},
    // Locks, files and side effects.
    {"SELECT * FROM t FOR UPDATE", true, false, false},
    {"SELECT * FROM t FOR SHARE", true, false, false},
    {"SELECT * FROM t LOCK IN SHARE MODE", true, false, false},
    {"SELECT * FROM t INTO OUTFILE '/tmp/x'", true, false, false},
    {"SELECT a INTO DUMPFILE '/tmp/x' FROM t", true, false, false},
    {"SELECT GET_LOCK('x', 10)", true, false, false},
    {"DO RELEASE_LOCK('x')", true, false, false},
    {"SELECT NEXTVAL(s)", true, false, false},
    {"SELECT NEXT VALUE FOR s", true, false, false},
    {"LOCK TABLES t WRITE", true, false, false},
    {"FLUSH TABLES", true, false, false},
    {"KILL 42", true, false, false},
    {"INSTALL PLUGIN x SONAME 'x.so'", true, false, false},
    {"OPTIMIZE TABLE t", true, false, false},
    {"REPAIR TABLE t", true, false, false},
    {"ANALYZE TABLE t", true, false, false},
    {"PREPARE p FROM 'DELETE FROM t'", true, false, false},
    {"EXECUTE p", true, false, false},
    {"XA START 'x'", true, false, false},
    {"START REPLICA", true, false, false},
    // (';' splits the block: its DELETE is checked as a statement of its own.)
    {"BEGIN NOT ATOMIC DELETE FROM t; END", true, false, true},
    {"BEGIN NOT ATOMIC SELECT 1; END", true, false, false},
    {"SET GLOBAL max_connections = 10", true, false, false},
    {"SET @@global.max_connections = 10", true, false, false},
    {"frobnicate the database", true, false, false},
    // EXPLAIN ANALYZE and MariaDB's ANALYZE run the statement.
    {"EXPLAIN ANALYZE SELECT * FROM t", false, false, false},
    {"EXPLAIN ANALYZE DELETE FROM t", true, false, true},
    {"ANALYZE UPDATE t SET a = 1", true, false, true},
    {"ANALYZE FORMAT=JSON SELECT 1", false, false, false},
    // Turning read-only off.
    {"SET SESSION TRANSACTION READ WRITE", true, false, false},
    {"SET TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE", true, false, false},
    {"START TRANSACTION READ WRITE", true, false, false},
    {"START TRANSACTION WITH CONSISTENT SNAPSHOT, READ WRITE", true, false, false},
    {"SET tx_read_only = 0", true, false, false},
    {"SET tx_read_only = OFF", true, false, false},
    {"SET SESSION transaction_read_only = 0", true, false, false},
    {"SET LOCAL transaction_read_only = DEFAULT", true, false, false},
    {"SET @@session.tx_read_only = 0", true, false, false},
    {"SET @@transaction_read_only := 'OFF'", true, false, false},
    {"SET @x = 1, tx_read_only = 0", true, false, false},
    {"SET GLOBAL read_only = OFF", true, false, false},
    {"SET GLOBAL super_read_only = 0", true, false, false},
    {"SET tx_read_only = 1 + 0", true, false, false},
    {"/*!80000 SET tx_read_only = 0 */", true, false, false},
    {"SET STATEMENT tx_read_only=0 FOR UPDATE t SET a=1", true, false, true},
    {"SET STATEMENT transaction_read_only=0 FOR SELECT 1", true, false, false},
    // DDL.
    {"CREATE TABLE x (a INT)", true, true, false},
    {"CREATE TEMPORARY TABLE x (a INT)", true, true, false},
    {"CREATE TABLE x SELECT * FROM t", true, true, false},
    {"CREATE TABLE x (a INT) AS SELECT a FROM t", true, true, false},
    {"CREATE VIEW v AS SELECT * FROM t", true, true, false},
    {"CREATE PROCEDURE p() BEGIN DELETE FROM t; END", true, true, false},
    {"ALTER TABLE t ADD COLUMN b INT", true, true, false},
    {"DROP TABLE t", true, true, false},
    {"DROP TEMPORARY TABLE t", true, true, false},
    {"RENAME TABLE a TO b", true, true, false},
    {"RENAME USER 'a'@'%' TO 'b'@'%'", true, true, false},
    {"GRANT SELECT ON db.* TO 'bob'@'localhost'", true, true, false},
    {"REVOKE ALL ON *.* FROM bob", true, true, false},
    {"SET PASSWORD = 'x'", true, true, false},
    {"SET PASSWORD FOR 'bob'@'%' = 'x'", true, true, false},
    {"CREATE USER 'bob'@'%' IDENTIFIED BY 'pw'", true, true, false},
};

TEST(GuardrailsMySqlTest, VerdictTable) {
  static_assert(std::size(kMySqlCases) >= 100);
  Guardrails read_only = Make(Builtins({Guardrail::BUILTIN_READ_ONLY}));
  Guardrails read_grant = Make({}, /*read_access=*/true);
  Guardrails no_ddl = Make(Builtins({Guardrail::BUILTIN_NO_DDL}));
  Guardrails no_unbounded = Make(Builtins({Guardrail::BUILTIN_NO_UNBOUNDED_WRITE}));
  for (const Case& c : kMySqlCases) {
    EXPECT_EQ(read_only.Check(c.sql, kMySql).has_value(), c.read_only) << "read-only: " << c.sql;
    EXPECT_EQ(read_grant.Check(c.sql, kMySql).has_value(), c.read_only) << "read grant: " << c.sql;
    EXPECT_EQ(no_ddl.Check(c.sql, kMySql).has_value(), c.no_ddl) << "no-ddl: " << c.sql;
    EXPECT_EQ(no_unbounded.Check(c.sql, kMySql).has_value(), c.no_unbounded_write)
        << "no-unbounded-write: " << c.sql;
  }
}

TEST(GuardrailsMySqlTest, EverySqlModeReadingIsChecked) {
  Guardrails g = Make(Builtins({Guardrail::BUILTIN_NO_DDL}));
  // Whatever the session's sql_mode is said to be, the other readings are checked too.
  for (bool nbe : {false, true}) {
    for (bool ansi : {false, true}) {
      LexOptions o = kMySql;
      o.no_backslash_escapes = nbe;
      o.ansi_quotes = ansi;
      EXPECT_TRUE(g.Check("SELECT '\\'; DROP TABLE t; -- '", o)) << nbe << ansi;
      EXPECT_TRUE(g.Check("SELECT 'a\\''; DROP TABLE t; -- '", o)) << nbe << ansi;
      EXPECT_TRUE(g.Check("SELECT \"a\\\"; DROP TABLE t; -- \"", o)) << nbe << ansi;
      EXPECT_FALSE(g.Check("SELECT 'a\\'b', \"c\\\"d\" FROM t", o)) << nbe << ansi;
    }
  }
}

TEST(GuardrailsMySqlTest, DenyPatternsSeeCanonicalForms) {
  GuardrailList list;
  list.Add()->set_deny("drop table");
  list.Add()->set_deny("sleep\\(");
  list.Add()->set_deny("from secrets");
  Guardrails g = Make(list);
  EXPECT_FALSE(g.Check("SELECT 1", kMySql));
  EXPECT_TRUE(g.Check("DROP/**/TABLE t", kMySql));
  EXPECT_TRUE(g.Check("DROP # x\n TABLE t", kMySql));
  EXPECT_TRUE(g.Check("DROP -- x\n TABLE t", kMySql));
  EXPECT_TRUE(g.Check("/*!DROP*/ /*!50000 TABLE */ t", kMySql));
  EXPECT_TRUE(g.Check("`DROP` `TABLE` t", kMySql));
  EXPECT_TRUE(g.Check("SELECT `sleep` (1)", kMySql));
  EXPECT_TRUE(g.Check("SELECT /*!sleep*/(1)", kMySql));
  EXPECT_TRUE(g.Check("SELECT a FROM `secrets`", kMySql));
  auto v = g.Check("SELECT 1; /*! DROP TABLE t */", kMySql);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->statement, "DROP TABLE t");
}

TEST(GuardrailsMySqlTest, CheckingAReadAllocatesNothing) {
  GuardrailList list;
  list.Add()->set_builtin(Guardrail::BUILTIN_READ_ONLY);
  list.Add()->set_deny("pg_sleep");
  Guardrails g = Make(list);
  const char* sql = "SELECT a, `b` FROM t WHERE c = 'x\\'y' /*!50000 AND d = 1 */ # z";
  EXPECT_FALSE(g.Check(sql, kMySql));  // first use: makes the thread's scratch
  g_allocations = 0;
  g_counting = true;
  auto v = g.Check(sql, kMySql);
  g_counting = false;
  EXPECT_FALSE(v);
  EXPECT_EQ(g_allocations.load(), 0);
}

}  // namespace
}  // namespace veil::sql
