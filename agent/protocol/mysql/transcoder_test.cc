#include "agent/protocol/mysql/transcoder.h"

#include <gtest/gtest.h>

#include "agent/protocol/mysql/encoder.h"
#include "agent/protocol/mysql/statement_scan.h"

namespace veil::agent {
namespace {

using namespace veil::mysql;

constexpr uint64_t kCaps = cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth |
                           cap::kTransactions | cap::kMultiResults | cap::kDeprecateEof;

std::shared_ptr<const masker::MaskingProfile> Profile() {
  std::array<uint8_t, 32> k{};
  return masker::MaskingProfile::Default(masker::MaskKey::FromBytes(k));
}

struct Col {
  std::string_view schema, org_table, name, org_name;
  ColumnType type = ColumnType::kVarString;
};

// A text result set as the server sends it under CLIENT_DEPRECATE_EOF: count, definitions,
// rows, OK (0xFE).
std::vector<uint8_t> TextResult(
    const std::vector<Col>& cols,
    const std::vector<std::vector<std::optional<std::string_view>>>& rows) {
  std::vector<uint8_t> out;
  uint8_t seq = 1;
  EXPECT_TRUE(Encode(ColumnCount{cols.size()}, kCaps, &seq, &out).ok());
  for (const auto& c : cols) {
    ColumnDefinition d;
    d.schema = c.schema;
    d.table = c.org_table;
    d.org_table = c.org_table;
    d.name = c.name;
    d.org_name = c.org_name;
    d.type = c.type;
    d.character_set = 45;
    EXPECT_TRUE(Encode(d, kCaps, &seq, &out).ok());
  }
  for (const auto& r : rows) {
    std::vector<Value> values;
    for (const auto& v : r) values.push_back(v ? Value{*v, false} : Value::Null());
    EXPECT_TRUE(EncodeTextRow(values, &seq, &out).ok());
  }
  OkPacket ok;
  ok.header = 0xFE;
  ok.status_flags = status::kAutocommit;
  EXPECT_TRUE(Encode(ok, kCaps, &seq, &out).ok());
  return out;
}

// Runs `sql` through the transcoder with `response` as the server's answer (fed in chunks) and
// returns the rows the client receives.
std::vector<std::vector<std::optional<std::string>>> Rows(MySqlTranscoder& t, std::string_view sql,
                                                          const std::vector<uint8_t>& response,
                                                          size_t chunk = 7) {
  t.OnCommand(ClientMessage(ComQuery{sql, {}}), 0);
  std::vector<uint8_t> buffered, out;
  for (size_t pos = 0; pos < response.size(); pos += chunk) {
    buffered.insert(buffered.end(), response.begin() + pos,
                    response.begin() + std::min(response.size(), pos + chunk));
    size_t consumed = 0;
    EXPECT_TRUE(t.OnBackend(buffered, &consumed, &out).ok());
    buffered.erase(buffered.begin(), buffered.begin() + consumed);
  }
  EXPECT_TRUE(buffered.empty());
  EXPECT_TRUE(t.Idle());
  ServerDecoder dec({}, ServerDecoder::State::kIdle);
  dec.set_capabilities(kCaps);
  dec.ExpectResponseTo(ClientMessage(ComQuery{sql, {}}), 0);
  std::vector<std::vector<std::optional<std::string>>> rows;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t n = 0;
    ServerMessage m;
    auto r = dec.Decode(std::span(out).subspan(pos), &n, &m);
    EXPECT_TRUE(r.ready()) << r.error;
    if (!r.ready()) break;
    if (auto* row = std::get_if<TextRow>(&m)) {
      std::vector<std::optional<std::string>> vs;
      for (auto& v : row->values)
        vs.push_back(v.is_null ? std::nullopt : std::optional<std::string>(std::string(v.data)));
      rows.push_back(std::move(vs));
    }
    pos += n;
  }
  return rows;
}

std::unique_ptr<MySqlTranscoder> Make() {
  auto t = std::make_unique<MySqlTranscoder>(Profile());
  ServerDecoder d({}, ServerDecoder::State::kIdle);
  d.set_capabilities(kCaps);
  t->Start(std::move(d));
  t->SetDatabase("shop");
  return t;
}

using Row = std::vector<std::optional<std::string>>;

TEST(MySqlTranscoder, DirectColumnsMaskedByContentAndName) {
  auto tp = Make();
  auto& t = *tp;
  auto rows =
      Rows(t, "SELECT id, email, notes FROM customers",
           TextResult({{"shop", "customers", "id", "id", ColumnType::kLong},
                       {"shop", "customers", "email", "email"},
                       {"shop", "customers", "notes", "notes"}},
                      {{"1", "jane@example.com", "call 415-555-0142 or jane@example.com"}}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(rows[0][1], "[EMAIL]");
  EXPECT_EQ(rows[0][2]->find("jane@example.com"), std::string::npos);
  EXPECT_EQ(rows[0][2]->find("415-555-0142"), std::string::npos);
}

TEST(MySqlTranscoder, ComputedColumnOfSensitiveStatementReplacedWhole) {
  auto tp = Make();
  auto& t = *tp;
  // reverse(ssn) no longer looks like an SSN; MariaDB reports it with no origin.
  auto rows = Rows(t, "SELECT reverse(ssn), length(ssn), id FROM customers",
                   TextResult({{"", "", "reverse(ssn)", ""},
                               {"", "", "length(ssn)", "", ColumnType::kLongLong},
                               {"shop", "customers", "id", "id", ColumnType::kLong}},
                              {{"0211-50-870", "11", "1"}}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (Row{"[MASKED]", std::nullopt, "1"}));
}

// What other sessions ran, literals and all: the process list, InnoDB's transactions and the
// query logs come back with their literals normalized out; SHOW ENGINE INNODB STATUS's report
// and the key values of locked rows are replaced whole.
TEST(MySqlTranscoder, OtherSessionsStatementsComeBackWithoutTheirLiterals) {
  const std::string_view app = "UPDATE customers SET notes = '4321-22-635' WHERE id = 7";
  const std::string_view normalized = "UPDATE customers SET notes = ? WHERE id = ?";
  auto tp = Make();
  auto& t = *tp;
  auto rows = Rows(t, "SELECT ID, INFO, REVERSE(INFO) FROM information_schema.PROCESSLIST",
                   TextResult({{"information_schema", "PROCESSLIST", "ID", "ID", ColumnType::kLong},
                               {"information_schema", "PROCESSLIST", "INFO", "INFO"},
                               {"", "", "REVERSE(INFO)", ""}},
                              {{"7", app, "7 = di EREHW '536-22-1234' = seton TES"}}));
  EXPECT_EQ(rows, (std::vector<Row>{{"7", std::string(normalized), "[MASKED]"}}));
  rows = Rows(
      t, "SHOW FULL PROCESSLIST",
      TextResult(
          {{"", "", "Id", "", ColumnType::kLongLong}, {"", "", "User", ""}, {"", "", "Info", ""}},
          {{"7", "app", app}}));
  EXPECT_EQ(rows, (std::vector<Row>{{"7", "app", std::string(normalized)}}));
  rows =
      Rows(t, "SHOW BINLOG EVENTS IN 'mysql-bin.000001'",
           TextResult({{"", "", "Log_name", ""}, {"", "", "Event_type", ""}, {"", "", "Info", ""}},
                      {{"mysql-bin.000001", "Query", app}}));
  EXPECT_EQ(rows, (std::vector<Row>{{"mysql-bin.000001", "Query", std::string(normalized)}}));
  rows =
      Rows(t, "SELECT trx_query FROM information_schema.INNODB_TRX",
           TextResult({{"information_schema", "INNODB_TRX", "trx_query", "trx_query"}}, {{app}}));
  EXPECT_EQ(rows, (std::vector<Row>{{std::string(normalized)}}));
  rows = Rows(t, "SELECT argument FROM mysql.general_log",
              TextResult({{"mysql", "general_log", "argument", "argument"}}, {{app}}));
  EXPECT_EQ(rows, (std::vector<Row>{{std::string(normalized)}}));
  rows = Rows(t, "SHOW ENGINE INNODB STATUS",
              TextResult({{"", "", "Type", ""}, {"", "", "Name", ""}, {"", "", "Status", ""}},
                         {{"InnoDB", "",
                           "---TRANSACTION 421, ACTIVE 3 sec\nMySQL thread id 7, "
                           "query id 9 localhost app updating\n" +
                               std::string(app)}}));
  EXPECT_EQ(rows, (std::vector<Row>{{"InnoDB", "", "[MASKED]"}}));
  rows = Rows(t, "SHOW ALL SLAVES STATUS",
              TextResult({{"", "", "Connection_name", ""},
                          {"", "", "Last_Errno", "", ColumnType::kLong},
                          {"", "", "Last_SQL_Error", ""}},
                         {{"", "1062",
                           "Error 'Duplicate entry '4321-22-635' for key 'PRIMARY'' on query. "
                           "Query: '" +
                               std::string(app) + "'"}}));
  EXPECT_EQ(rows, (std::vector<Row>{{"", "1062", "[MASKED]"}}));
  rows = Rows(t, "SELECT lock_data FROM information_schema.INNODB_LOCKS",
              TextResult({{"information_schema", "INNODB_LOCKS", "lock_data", "lock_data"}},
                         {{"'536-22-1234'"}}));
  EXPECT_EQ(rows, (std::vector<Row>{{"[MASKED]"}}));
}

// LOAD_FILE returns a file's bytes, which may be what SELECT reverse(ssn) … INTO OUTFILE wrote.
TEST(MySqlTranscoder, LoadFileIsCodeVeilCannotSee) {
  auto tp = Make();
  auto rows = Rows(*tp, "SELECT LOAD_FILE('/tmp/out.txt'), 1",
                   TextResult({{"", "", "LOAD_FILE('/tmp/out.txt')", ""},
                               {"", "", "1", "", ColumnType::kLongLong}},
                              {{"0211-50-870\n4321-22-635\n", "1"}}));
  EXPECT_EQ(rows, (std::vector<Row>{{"[MASKED]", std::nullopt}}));
}

TEST(MySqlTranscoder, DerivedTableColumnsAreNotBaseColumns) {
  auto tp = Make();
  auto& t = *tp;
  // MariaDB names the derived table `d` as org_table and the alias as org_name.
  auto rows = Rows(t, "SELECT x FROM (SELECT reverse(ssn) AS x FROM customers) d",
                   TextResult({{"shop", "d", "x", "x"}}, {{"0211-50-870"}}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], "[MASKED]");
  auto cte = Rows(t, "WITH w AS (SELECT reverse(ssn) z FROM customers) SELECT z FROM w",
                  TextResult({{"shop", "w", "z", "z"}}, {{"0211-50-870"}}));
  EXPECT_EQ(cte[0][0], "[MASKED]");
}

TEST(MySqlTranscoder, ViewComputedColumnsReplacedWhole) {
  auto tp = Make();
  auto& t = *tp;
  // CREATE VIEW v AS SELECT id, reverse(ssn) AS r FROM customers: the statement names no
  // sensitive column, and MariaDB reports r with the view as org_table and no schema.
  auto rows = Rows(t, "SELECT id, r FROM v",
                   TextResult({{"shop", "v", "id", "id", ColumnType::kLong}, {"", "v", "r", "r"}},
                              {{"1", "0211-50-870"}}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (Row{"1", "[MASKED]"}));
}

TEST(MySqlTranscoder, ViewColumnsPlannedByTheirDefinition) {
  auto tp = Make();
  auto& t = *tp;
  t.SetViews({{"shop", "v",
               "select `shop`.`customers`.`id` AS `id`,reverse(`shop`.`customers`.`ssn`) AS "
               "`r`,`shop`.`customers`.`dob` AS `day`,`shop`.`customers`.`balance` AS `balance` "
               "from `shop`.`customers`"},
              {"shop", "nested", "select `shop`.`v`.`day` AS `d` from `shop`.`v`"},
              {"shop", "p", "select ucase(`shop`.`products`.`name`) AS `u` from `shop`.`products`"},
              {"shop", "hidden", ""}});
  // dob passed through as `day` is still dob (a date of birth: NULL); r is reverse(ssn).
  auto rows = Rows(t, "SELECT id, r, day, balance FROM v",
                   TextResult({{"shop", "v", "id", "id", ColumnType::kLong},
                               {"", "v", "r", "r"},
                               {"shop", "v", "day", "day", ColumnType::kDate},
                               {"shop", "v", "balance", "balance", ColumnType::kNewDecimal}},
                              {{"1", "0211-50-870", "1984-01-05", "120.50"}}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (Row{"1", "[MASKED]", std::nullopt, "120.50"}));
  // A view over that view follows it.
  rows = Rows(t, "SELECT d FROM nested",
              TextResult({{"shop", "nested", "d", "d", ColumnType::kDate}}, {{"1984-01-05"}}));
  EXPECT_EQ(rows[0], (Row{std::nullopt}));
  // An innocent view's computed column is scanned, not replaced.
  rows = Rows(t, "SELECT u FROM p", TextResult({{"", "p", "u", "u"}}, {{"WIDGET"}}));
  EXPECT_EQ(rows[0], (Row{"WIDGET"}));
  // A definition this user cannot see: everything replaced.
  rows = Rows(t, "SELECT x FROM hidden",
              TextResult({{"shop", "hidden", "x", "x", ColumnType::kLong}}, {{"7"}}));
  EXPECT_EQ(rows[0], (Row{std::nullopt}));
}

TEST(MySqlTranscoder, ComputedColumnsOfInnocentStatementsScannedOnly) {
  auto tp = Make();
  auto& t = *tp;
  auto rows = Rows(
      t, "SELECT upper(name), count(*) FROM products GROUP BY 1",
      TextResult({{"", "", "upper(name)", ""}, {"", "", "count(*)", "", ColumnType::kLongLong}},
                 {{"WIDGET", "3"}, {"MAIL jane@example.com", "1"}}));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (Row{"WIDGET", "3"}));
  EXPECT_EQ(rows[1][0]->find("jane@example.com"), std::string::npos);  // content still scanned
  EXPECT_EQ(rows[1][1], "1");
}

TEST(MySqlTranscoder, WarningsAfterSensitiveStatementReplaced) {
  auto tp = Make();
  auto& t = *tp;
  (void)Rows(t, "SELECT CAST(reverse(ssn) AS SIGNED) FROM customers",
             TextResult({{"", "", "c", "", ColumnType::kLongLong}}, {{"211"}}));
  auto rows = Rows(
      t, "SHOW WARNINGS",
      TextResult(
          {{"", "", "Level", ""}, {"", "", "Code", "", ColumnType::kLong}, {"", "", "Message", ""}},
          {{"Warning", "1292", "Truncated incorrect INTEGER value: '0211-50-870'"}}));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][2], "[MASKED]");
}

TEST(MySqlTranscoder, UserVariablesCarryTaint) {
  auto tp = Make();
  auto& t = *tp;
  (void)Rows(t, "SELECT @v := reverse(ssn) FROM customers LIMIT 1",
             TextResult({{"", "", "@v := reverse(ssn)", ""}}, {{"0211-50-870"}}));
  auto rows = Rows(t, "SELECT @v", TextResult({{"", "", "@v", ""}}, {{"0211-50-870"}}));
  EXPECT_EQ(rows[0][0], "[MASKED]");
}

TEST(MySqlTranscoder, ErrorTextWithheldUnderSensitiveStatement) {
  auto tp = Make();
  auto& t = *tp;
  t.OnCommand(ClientMessage(ComQuery{"SELECT ssn + 0 FROM customers", {}}), 0);
  std::vector<uint8_t> in, out;
  uint8_t seq = 1;
  ASSERT_TRUE(Encode(MakeErr(1292, "22007", "Truncated incorrect DOUBLE value: '078-05-1120'"),
                     kCaps, &seq, &in)
                  .ok());
  size_t consumed = 0;
  ASSERT_TRUE(t.OnBackend(in, &consumed, &out).ok());
  std::string text(out.begin(), out.end());
  EXPECT_EQ(text.find("078-05-1120"), std::string::npos);
  EXPECT_NE(text.find("text withheld"), std::string::npos);
  auto records = t.TakeStatements();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].sqlstate, "22007");
}

TEST(MySqlTranscoder, ReadsSensitiveFollowsIdentifiersNotStrings) {
  auto tp = Make();
  auto& t = *tp;
  EXPECT_TRUE(t.ReadsSensitive("SELECT `ssn` FROM customers"));
  EXPECT_TRUE(t.ReadsSensitive("SELECT /*!50000 email */ FROM customers"));
  EXPECT_FALSE(t.ReadsSensitive("SELECT 'ssn', 'email' FROM products"));
  // Under ANSI_QUOTES "email" is the column: counted either way.
  EXPECT_TRUE(t.ReadsSensitive("SELECT \"email\" FROM customers"));
  // Under NO_BACKSLASH_ESCAPES (a session may SET sql_mode) the string ends at the backslash
  // and reverse(ssn) is code.
  EXPECT_TRUE(t.ReadsSensitive("SELECT 'a\\', reverse(ssn), '' FROM customers"));
  // A conditional comment that does not run on this server leaves its text as comment in one
  // reading and code in the other.
  EXPECT_TRUE(t.ReadsSensitive("SELECT /*!99999 1 */ reverse(ssn) FROM customers"));
  EXPECT_FALSE(t.ReadsSensitive("SELECT id FROM products # email"));
  EXPECT_TRUE(t.ReadsSensitive("CALL report()"));
}

TEST(MySqlTranscoder, StoredFunctionCallsReadSensitive) {
  auto tp = Make();
  auto& t = *tp;
  t.SetStoredFunctions({"ssn_of"});
  EXPECT_TRUE(t.ReadsSensitive("SELECT ssn_of(id) FROM customers"));
  EXPECT_FALSE(t.ReadsSensitive("SELECT upper(name) FROM products"));
  // One created in this session counts from then on.
  t.OnCommand(ClientMessage(ComQuery{
                  "CREATE DEFINER = CURRENT_USER FUNCTION IF NOT EXISTS shop.`Leak`(i INT) "
                  "RETURNS TEXT READS SQL DATA RETURN (SELECT reverse(ssn) FROM customers "
                  "WHERE id = i)",
                  {}}),
              0);
  EXPECT_TRUE(t.ReadsSensitive("SELECT LEAK(1)"));
  EXPECT_EQ(ScanStatement("CREATE TABLE f (function_name int)").creates_function, std::nullopt);
}

TEST(MySqlTranscoder, CallsOfNamesTheServerDoesNotListAsNativeReadSensitive) {
  auto tp = Make();
  auto& t = *tp;
  // Without the server's list (MySQL), only the stored functions read at login count.
  EXPECT_FALSE(t.ReadsSensitive("SELECT made_later(1)"));
  t.SetNativeFunctions(std::make_shared<const std::set<std::string, std::less<>>>(
      std::set<std::string, std::less<>>{"upper", "count", "sum", "concat", "lower"}));
  // A function created after login (by anyone): its reads are code veil cannot see.
  EXPECT_TRUE(t.ReadsSensitive("SELECT made_later(1)"));
  EXPECT_TRUE(t.ReadsSensitive("SELECT `made_later` (1)"));
  // Non-reserved words MariaDB lets a stored function be called by.
  EXPECT_TRUE(t.ReadsSensitive("SELECT path(id), than(id) FROM products"));
  // Qualified, even with a native's name: the server calls the stored function.
  EXPECT_TRUE(t.ReadsSensitive("SELECT shop.upper(name) FROM products"));
  // Natives, the grammar's own functions and types, tables and column lists are no calls.
  for (const char* sql : {
           "SELECT upper(name), count(*), sum(price) FROM products",
           "SELECT IF(price > 1, LEFT(name, 2), DATE(NOW())) FROM products",
           "SELECT CAST(price AS DECIMAL(10, 2)), avg(price), ROW_NUMBER() OVER (ORDER BY id) "
           "FROM products WHERE id IN (1, 2) AND EXISTS (SELECT 1)",
           "INSERT INTO products (id, name) VALUES (1, 'a')",
           "INSERT shop.products (id) VALUE (1)",
           "CREATE TABLE IF NOT EXISTS t2 (id INT, price DECIMAL(10,2), KEY k (id))",
           "CREATE TABLE t3 (id INT) PARTITION BY RANGE COLUMNS (id) "
           "(PARTITION p0 VALUES LESS THAN (10), PARTITION p1 VALUES LESS THAN (MAXVALUE))",
           "CREATE TABLE t4 (id INT) PARTITION BY LINEAR HASH (id) PARTITIONS 4",
           "WITH w (n) AS (SELECT 1) SELECT n FROM w",
           "SELECT a FROM (SELECT 1, 2) AS d (a, b)",
       })
    EXPECT_FALSE(t.ReadsSensitive(sql)) << sql;
}

TEST(StatementScan, DerivedAndCte) {
  auto s = ScanStatement(
      "WITH a AS (SELECT 1), b (x) AS (SELECT 2) SELECT * FROM (SELECT 3) AS c JOIN (SELECT 4) d");
  for (const char* want : {"a", "b", "c", "d"})
    EXPECT_NE(std::find(s.derived.begin(), s.derived.end(), want), s.derived.end()) << want;
  EXPECT_FALSE(s.dynamic);
  EXPECT_TRUE(ScanStatement("select @x").uses_variables);
  EXPECT_TRUE(ScanStatement("select @@version").uses_variables);  // system variables hold data
  // The tables that list every user variable's value read the variables too.
  EXPECT_TRUE(ScanStatement("SELECT * FROM information_schema.USER_VARIABLES").uses_variables);
  EXPECT_TRUE(ScanStatement("SHOW USER_VARIABLES").uses_variables);
  EXPECT_TRUE(
      ScanStatement("select * from performance_schema.user_variables_by_thread").uses_variables);
  // Which SETs assign a system variable (shown by SHOW VARIABLES, named by no @variable).
  for (const char* sql : {"SET SESSION x = 1", "set @@session.x = 1", "SET x = (SELECT 1)",
                          "SET @a = 1, LOCAL x = 2", "/* c */ SET GLOBAL x := 1"})
    EXPECT_TRUE(ScanStatement(sql).sets_system) << sql;
  for (const char* sql : {"SET @a = (SELECT 1)", "SET NAMES utf8mb4", "SET PASSWORD = 'x'",
                          "SET STATEMENT max_statement_time = 1 FOR SELECT 1",
                          "SELECT 1 FROM t WHERE a = 1", "UPDATE t SET a = 1"})
    EXPECT_FALSE(ScanStatement(sql).sets_system) << sql;
  EXPECT_TRUE(ScanStatement("WITH t(a, b) AS (SELECT * FROM c) SELECT a FROM t").renames);
  EXPECT_FALSE(ScanStatement("SELECT * FROM (SELECT a FROM c) t").renames);
  EXPECT_EQ(ScanStatement("INSERT IGNORE INTO shop.t2 SELECT 1").write_target, "t2");
  EXPECT_EQ(ScanStatement("create temporary table if not exists x AS SELECT 1").write_target, "x");
  EXPECT_TRUE(ScanStatement("create temporary table if not exists x AS SELECT 1").creates_table);
  EXPECT_FALSE(ScanStatement("INSERT INTO x SELECT 1").creates_table);
  EXPECT_EQ(ScanStatement("USE `shop`").use_database, "shop");
}

TEST(StatementScan, Filters) {
  auto Scan = [](std::string_view sql) { return ScanStatement(sql, /*filters=*/true); };
  auto has = [](const std::vector<std::string>& v, const char* x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  auto s = Scan(
      "SELECT c.id, ssn AS s, count(*) n FROM shop.customers c JOIN orders o ON o.cid = c.id "
      "WHERE c.email = 'a@b.c' AND NOT 'x' <=> phone AND dob > '1990' "
      "AND id IN (SELECT k FROM t2 WHERE v LIKE 'x%') GROUP BY c.city ORDER BY s DESC, 3");
  EXPECT_TRUE(s.filters);
  for (const char* f : {"cid", "id", "dob", "k", "v", "city", "s"})
    EXPECT_TRUE(has(s.filtered, f)) << f;
  // Equality with a string literal finds a row by a value the client has.
  EXPECT_FALSE(has(s.filtered, "email"));
  EXPECT_FALSE(has(s.filtered, "phone"));
  EXPECT_FALSE(has(s.filtered, "c"));  // a qualifier
  EXPECT_FALSE(has(s.filtered, "desc"));
  for (const char* a : {"s", "n"}) EXPECT_TRUE(has(s.aliases, a)) << a;
  for (const char* t : {"customers", "orders", "t2"}) EXPECT_TRUE(has(s.tables, t)) << t;
  EXPECT_FALSE(has(s.tables, "c"));
  EXPECT_TRUE(s.filter_positional);
  // Not equality with a literal: a number (compared by leading digits), a placeholder, an
  // operand of a larger expression.
  for (const char* sql :
       {"SELECT 1 FROM t WHERE ssn = 536", "SELECT 1 FROM t WHERE ssn = ?",
        "SELECT 1 FROM t WHERE ssn = '5' + 0", "SELECT 1 FROM t WHERE -ssn = '5'",
        "SELECT 1 FROM t WHERE ssn = 'a' COLLATE utf8mb4_bin", "SELECT 1 FROM t WHERE ssn = \"a\""})
    EXPECT_TRUE(has(Scan(sql).filtered, "ssn")) << sql;
  // Every reading: the second half is code when backslashes are not escapes.
  EXPECT_TRUE(has(Scan("SELECT 1 FROM t WHERE a = 'x\\' OR ssn > '5' -- '").filtered, "ssn"));
  EXPECT_TRUE(Scan("SELECT 1 FROM a NATURAL JOIN b").natural_join);
  EXPECT_TRUE(Scan("SELECT a FROM t UNION ALL SELECT b FROM u").set_operation);
  EXPECT_TRUE(Scan("SELECT 1 FROM t WHERE `reverse(ssn)` > '1'").filter_odd_name);
  EXPECT_TRUE(Scan("SELECT 1 FROM t WHERE @v > '1'").filter_variables);
  EXPECT_TRUE(Scan("HANDLER t READ k >= ('5')").handler);
  EXPECT_TRUE(has(Scan("SELECT rank() OVER (ORDER BY ssn) FROM t").filtered, "ssn"));
  EXPECT_TRUE(has(Scan("SELECT group_concat(id ORDER BY ssn) FROM t").filtered, "ssn"));
  EXPECT_TRUE(has(Scan("SELECT 1 FROM t WINDOW w AS (PARTITION BY ssn)").filtered, "ssn"));
  auto plain = Scan("SELECT ssn, upper(email) FROM customers");
  EXPECT_FALSE(plain.filters);
  EXPECT_TRUE(plain.filtered.empty());
  auto insert = Scan("INSERT INTO t (ssn, id) SELECT a, b FROM u WHERE b = 'x'");
  EXPECT_FALSE(has(insert.tables, "ssn"));  // a column list, not a table
  EXPECT_TRUE(has(insert.tables, "u"));
}

// Time and lock names carry a value out whatever the result shows: refused with sensitive
// columns in the statement, as pg_sleep and advisory locks are on PostgreSQL.
TEST(MySqlTranscoder, SideChannelsWithSensitiveColumns) {
  auto tp = Make();
  auto& t = *tp;
  for (const char* sql : {"SELECT SLEEP(ASCII(ssn) / 100) FROM customers WHERE id = 1",
                          "SELECT IF(ssn LIKE '5%', SLEEP(1), 0) FROM customers",
                          "SELECT BENCHMARK(ASCII(email) * 1000, MD5('x')) FROM customers",
                          "SELECT GET_LOCK(full_name, 0) FROM customers WHERE id = 1"})
    EXPECT_TRUE(t.SideChannel(sql)) << sql;
  for (const char* sql : {"SELECT SLEEP(1)", "SELECT id, SLEEP(0) FROM products",
                          "SELECT GET_LOCK('nightly-job', 10)", "SELECT ssn FROM customers"})
    EXPECT_FALSE(t.SideChannel(sql)) << sql;
  // So do rows that count a value out: a sensitive value ranked against another table's
  // column, or computed with it, over a number table (seq_0_to_999).
  for (const char* sql :
       {"SELECT seq FROM seq_0_to_999 WHERE seq < (SELECT SUBSTR(ssn, 1, 3) FROM customers "
        "WHERE id = 1)",
        "SELECT seq FROM seq_0_to_999 WHERE seq BETWEEN (SELECT SUBSTR(ssn, 1, 3) FROM "
        "customers WHERE id = 1) AND 999",
        "SELECT COUNT(*) FROM seq_0_to_999 s JOIN customers c ON s.seq <= SUBSTR(c.ssn, 1, 3)",
        "SELECT seq FROM seq_0_to_999, (SELECT SUBSTR(ssn, 1, 3) p FROM customers) d WHERE "
        "seq < d.p",
        "SELECT COUNT(*) FROM seq_0_to_999 WHERE seq - (SELECT SUBSTR(ssn, 1, 3) FROM "
        "customers WHERE id = 1) < 0",
        "SELECT COUNT(*) FROM seq_0_to_999 WHERE LEAST(seq, (SELECT SUBSTR(ssn, 1, 3) FROM "
        "customers WHERE id = 1)) = seq",
        "SELECT COUNT(*) FROM seq_0_to_999, customers WHERE id = 1 AND SIGN(seq - "
        "SUBSTR(ssn, 1, 3)) = -1",
        "SELECT COUNT(*) FROM seq_0_to_999 WHERE seq < ANY (SELECT SUBSTR(ssn, 1, 3) FROM "
        "customers)",
        "SELECT COUNT(*) FROM seq_0_to_999 GROUP BY LEAST(seq, (SELECT MIN(SUBSTR(ssn, 1, 3)) "
        "FROM customers))",
        "SELECT DISTINCT LEAST(seq, (SELECT MIN(SUBSTR(ssn, 1, 3)) FROM customers)) FROM "
        "seq_0_to_999"})
    EXPECT_TRUE(t.SideChannel(sql)) << sql;
  // Against constants, one row's own columns, equality lookups and joins: open.
  for (const char* sql :
       {"SELECT id FROM customers WHERE ssn > '5' AND dob BETWEEN '1980-01-01' AND "
        "'1990-12-31'",
        "SELECT id FROM customers WHERE DATEDIFF(NOW(), dob) > 365 * 30",
        "SELECT id FROM customers WHERE email = (SELECT email FROM customers WHERE id = 1)",
        "SELECT seq FROM seq_0_to_999 s JOIN customers c ON s.seq = SUBSTR(c.ssn, 1, 3)",
        "SELECT id FROM customers WHERE balance > (SELECT AVG(balance) FROM customers)",
        "SELECT SUBSTR(ssn, 1, 1), COUNT(*) FROM customers GROUP BY SUBSTR(ssn, 1, 1)",
        "SELECT DISTINCT LOWER(email), id FROM customers"})
    EXPECT_FALSE(t.SideChannel(sql)) << sql;
}

TEST(MySqlTranscoder, FiltersOnSensitive) {
  auto tp = Make();
  auto& t = *tp;
  for (const char* sql : {
           "SELECT id FROM customers WHERE ssn LIKE '5%'",
           "SELECT id FROM customers ORDER BY ssn",
           "SELECT ssn AS s FROM customers ORDER BY s",
           "SELECT id, ssn FROM customers ORDER BY 2",
           "SELECT * FROM customers ORDER BY 5",
           "SELECT id FROM (SELECT id, ssn k FROM customers) d WHERE k > '5'",
           "SELECT id FROM (SELECT id, substr(ssn, 1, 1) k FROM customers) d WHERE k = '5'",
           "SELECT id FROM customers UNION SELECT ssn FROM customers",
           "SELECT a.id FROM customers a NATURAL JOIN customers b",
           "CALL report()",
           "SELECT IF(substr(ssn, 1, 1) = '5', 1, exp(1000)) FROM customers",
           "SELECT CASE WHEN ssn > '5' THEN 1 END FROM customers",
       })
    EXPECT_TRUE(t.FiltersOnSensitive(sql)) << sql;
  for (const char* sql : {
           "SELECT id, ssn FROM customers WHERE id = 5 ORDER BY id",
           "SELECT id FROM customers WHERE ssn = '536-22-1234' OR email = 'a@b.c'",
           "SELECT id FROM customers WHERE (ssn = 'x' OR email = 'y') AND NOT id = 5",
           "SELECT name FROM products WHERE price > 1 ORDER BY 1",
           "SELECT * FROM customers ORDER BY id",
           "SELECT ssn FROM customers",
           "SELECT DISTINCT c.ssn s, count(ssn), count(DISTINCT ssn), upper('x') FROM customers c",
           "UPDATE customers SET ssn = 'x', email = 'y' WHERE id = 1",
           "INSERT INTO customers (ssn, id) VALUES ('x', 1)",
       })
    EXPECT_FALSE(t.FiltersOnSensitive(sql)) << sql;
  // A stored function may filter on anything.
  t.SetStoredFunctions({"pick"});
  EXPECT_TRUE(t.FiltersOnSensitive("SELECT id FROM products WHERE pick(id) = 1"));
}

}  // namespace
}  // namespace veil::agent
