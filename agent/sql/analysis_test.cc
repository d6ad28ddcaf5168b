// The lineage analysis, table-driven: for each statement, every result column's kind and
// sources; then filters, side effects, writes, session operations, and properties that must
// hold for any input (literals never change an analysis; nothing crashes).
#include "agent/sql/analysis.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <sstream>

namespace veil::sql {
namespace {

using Row = CatalogSnapshot::Row;

// The lineage tests' schema (tests/integration/lineage/seed.sql), as the catalog query returns it.
std::shared_ptr<const CatalogSnapshot> Shop() {
  std::vector<Row> rows;
  uint32_t oid = 1000;
  auto rel = [&](std::string schema, std::string name, char kind, std::vector<std::string> cols,
                 std::string viewdef = "", std::map<std::string, std::string> generated = {}) {
    ++oid;
    rows.push_back({"r", std::to_string(oid), schema, name, std::string(1, kind), std::nullopt});
    for (size_t i = 0; i < cols.size(); ++i) {
      // Types as seed.sql has them where they matter (a cast of a date is not its text).
      const std::string type = cols[i] == "born"                             ? "1082"
                               : cols[i] == "balance" || cols[i] == "amount" ? "1700"
                               : cols[i] == "id" || cols[i].ends_with("_id") ? "23"
                                                                             : "25";
      auto g = generated.find(cols[i]);
      rows.push_back({"c", std::to_string(oid), std::to_string(i + 1), cols[i], type,
                      g == generated.end() ? std::nullopt : std::optional(g->second)});
    }
    if (!viewdef.empty())
      rows.push_back({"v", std::to_string(oid), viewdef, std::nullopt, std::nullopt, std::nullopt});
  };
  rel("public", "customers", 'r',
      {"id", "full_name", "email", "ssn", "card", "phone", "notes", "born", "balance", "city"});
  rel("public", "orders", 'r', {"id", "customer_id", "amount", "sku", "status"});
  rel("public", "customer_emails", 'v', {"id", "email", "lname"},
      " SELECT customers.id,\n    customers.email,\n    lower(customers.full_name) AS lname\n"
      "   FROM customers;");
  rel("public", "order_totals", 'v', {"customer_id", "total"},
      " SELECT orders.customer_id,\n    sum(orders.amount) AS total\n   FROM orders\n"
      "  GROUP BY orders.customer_id;");
  rel("public", "renamed", 'v', {"k", "contact_point"},
      " SELECT customers.id AS k,\n    customers.email AS contact_point\n   FROM customers;");
  rel("public", "loop_a", 'v', {"x"}, " SELECT loop_b.x FROM loop_b;");
  rel("public", "loop_b", 'v', {"x"}, " SELECT loop_a.x FROM loop_a;");
  rel("other", "customers", 'r', {"id", "email"});
  // Generated columns, their expressions as pg_get_expr prints them.
  rel("public", "people", 'r', {"id", "ssn", "born", "r", "born_txt", "label"}, "",
      {{"r", "reverse(ssn)"},
       {"born_txt",
        "((((EXTRACT(year FROM born) * (10000)::numeric) + (EXTRACT(month FROM born) * "
        "(100)::numeric)) + EXTRACT(day FROM born)))::text"},
       {"label", "('#'::text || (id)::text)"}});
  rel("pg_catalog", "pg_class", 'r', {"oid", "relname", "relnamespace"});
  rel("pg_catalog", "pg_stats", 'v', {"schemaname", "tablename", "attname", "histogram_bounds"});
  rel("pg_catalog", "pg_stat_activity", 'v', {"pid", "usename", "state", "query"});
  rows.push_back({"f", "shout", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  // An application's operator and a type with a cast through an application's function.
  rows.push_back({"o", "###", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  rows.push_back({"t", "leaky", "e", std::nullopt, std::nullopt, std::nullopt});
  rows.push_back({"s", "1", "pg_catalog", std::nullopt, std::nullopt, std::nullopt});
  rows.push_back({"s", "2", "public", std::nullopt, std::nullopt, std::nullopt});
  return CatalogSnapshot::FromRows(rows, 1);
}

// "D customers.email", "d customers.email,customers.ssn", "d" (a constant), "u …".
std::string Describe(const OutputColumn& c) {
  std::string s = c.kind == OutputColumn::Kind::kDirect    ? "D"
                  : c.kind == OutputColumn::Kind::kDerived ? "d"
                                                           : "u";
  for (size_t i = 0; i < c.sources.size(); ++i) {
    s += i == 0 ? " " : ",";
    if (c.sources[i].schema != "public") s += c.sources[i].schema + ".";
    s += c.sources[i].table + "." + c.sources[i].column;
  }
  return s;
}

std::vector<std::string> Lineage(const std::string& sql) {
  static auto shop = Shop();
  Analysis a = Analyze(sql, *shop);
  EXPECT_TRUE(a.parsed) << sql << ": " << a.error;
  if (a.statements.empty()) return {"<none>"};
  const auto& st = a.statements.back();
  if (!st.columns_known) return {"<columns unknown>"};
  std::vector<std::string> out;
  for (const auto& c : st.columns) out.push_back(Describe(c));
  return out;
}

struct Case {
  const char* sql;
  std::vector<std::string> columns;
};

const std::string E = "customers.email", N = "customers.full_name", S = "customers.ssn",
                  C = "customers.card", P = "customers.phone", B = "customers.born",
                  CITY = "customers.city", ID = "customers.id";

std::vector<Case> Cases() {
  const std::string dE = "d " + E, DE = "D " + E, dS = "d " + S, dN = "d " + N, dC = "d " + C;
  return {
      // The issue's Why table.
      {"SELECT split_part(email, '@', 1) FROM customers", {dE}},
      {"SELECT initcap(full_name) FROM customers", {dN}},
      {"SELECT regexp_split_to_table(ssn, '-') FROM customers", {dS}},
      {"SELECT substr(card, 1, 8), substr(card, 9, 20) FROM customers", {dC, dC}},
      {"SELECT encode(convert_to(email, 'UTF8'), 'base64') FROM customers", {dE}},
      {"SELECT string_agg(c, '') FROM (SELECT regexp_split_to_table(email, '') c FROM customers) t",
       {dE}},
      {"SELECT ascii(substr(ssn, 1, 1)) FROM customers", {dS}},
      {"SELECT ssn::bytea FROM customers", {dS}},
      // Direct references, through every kind of name.
      {"SELECT email FROM customers", {DE}},
      {"SELECT email AS x FROM customers", {DE}},
      {"SELECT c.email FROM customers c", {DE}},
      {"SELECT customers.email FROM customers", {DE}},
      {"SELECT public.customers.email FROM public.customers", {DE}},
      {"SELECT \"email\" FROM \"customers\"", {DE}},
      {"SELECT e FROM (SELECT email AS e FROM customers) s", {DE}},
      {"SELECT x.a FROM (SELECT email FROM customers) AS x(a)", {DE}},
      {"WITH x AS (SELECT email FROM customers) SELECT email FROM x", {DE}},
      {"WITH x(m) AS (SELECT email FROM customers) SELECT m FROM x", {DE}},
      {"SELECT email FROM customer_emails", {DE}},
      {"SELECT lname FROM customer_emails", {dN}},
      {"SELECT contact_point, k FROM renamed", {DE, "D " + ID}},
      {"SELECT total FROM order_totals", {"d orders.amount"}},
      {"SELECT email FROM other.customers", {"D other.customers.email"}},
      {"SELECT email COLLATE \"C\" FROM customers", {DE}},
      // A generated column is its expression over the row's columns.
      {"SELECT r, born_txt, label, ssn FROM people",
       {"d people.ssn", "d people.born", "d people.id", "D people.ssn"}},
      {"SELECT p.* FROM people p WHERE id = 1",
       {"D people.id", "D people.ssn", "D people.born", "d people.ssn", "d people.born",
        "d people.id"}},
      {"SELECT * FROM orders",
       {"D orders.id", "D orders.customer_id", "D orders.amount", "D orders.sku",
        "D orders.status"}},
      // A column a predicate compares with others is bound to them (its values may be theirs).
      {"SELECT o.*, c.email FROM orders o JOIN customers c ON c.id = o.customer_id",
       {"D orders.id", "d customers.id,orders.customer_id", "D orders.amount", "D orders.sku",
        "D orders.status", DE}},
      {"SELECT g FROM generate_series(0, 999) g WHERE g = (SELECT length(ssn) FROM customers "
       "WHERE id = 1)",
       {"d " + S}},
      {"SELECT g FROM generate_series(0, 999) g JOIN customers c ON g = length(c.ssn)", {"d " + S}},
      {"SELECT v FROM (VALUES ('a')) t(v) JOIN customers c ON c.full_name LIKE v || '%'", {dN}},
      {"SELECT v FROM (VALUES ('a')) t(v) WHERE v IN (SELECT split_part(full_name, ' ', 1) "
       "FROM customers)",
       {dN}},
      {"SELECT v FROM (VALUES ('a')) t(v) WHERE EXISTS (SELECT 1 FROM customers "
       "WHERE split_part(full_name, ' ', 1) = v)",
       {dN}},
      {"SELECT a.x FROM (VALUES (1)) a(x) JOIN (VALUES (2)) b(y) ON a.x = b.y "
       "WHERE b.y = (SELECT length(email) FROM customers LIMIT 1)",
       {dE}},
      {"SELECT t.* FROM (VALUES ('a')) t(v) JOIN customers c ON c.email = t.v", {dE}},
      {"SELECT s.email FROM (SELECT 'a' AS email) s JOIN customers c USING (email)", {dE}},
      {"SELECT g FROM generate_series(0, 999) g ORDER BY abs(g - (SELECT length(ssn) FROM "
       "customers LIMIT 1)) "
       "LIMIT 1",
       {"d " + S}},
      {"SELECT g FROM (SELECT g, g - (SELECT length(ssn) FROM customers LIMIT 1) AS d "
       "FROM generate_series(0, 999) g) s WHERE d = 0",
       {"d " + S}},
      // Against literals, or on the column itself, nothing is bound.
      {"SELECT city FROM customers WHERE email = 'x' AND id IN (1, 2)", {"D " + CITY}},
      {"SELECT email FROM customers WHERE lower(email) LIKE '%x'", {DE}},
      {"TABLE customer_emails", {"D " + ID, DE, dN}},
      // Functions and operators.
      {"SELECT lower(email), upper(email), reverse(email), md5(email) FROM customers",
       {dE, dE, dE, dE}},
      {"SELECT email || '' FROM customers", {dE}},
      {"SELECT concat(email, city) FROM customers", {"d " + CITY + "," + E}},
      {"SELECT format('%s', ssn) FROM customers", {dS}},
      {"SELECT left(email, 3), right(email, 3) FROM customers", {dE, dE}},
      {"SELECT substring(email FROM '^(.*)@') FROM customers", {dE}},
      {"SELECT overlay(card PLACING 'x' FROM 1 FOR 4) FROM customers", {dC}},
      {"SELECT translate(ssn, '0123', 'abcd') FROM customers", {dS}},
      {"SELECT (string_to_array(email, '@'))[1] FROM customers", {dE}},
      {"SELECT (regexp_match(email, '(.)'))[1] FROM customers", {dE}},
      {"SELECT arr[id] FROM (SELECT ARRAY[email] arr, id FROM customers) t", {"d " + E + "," + ID}},
      {"SELECT length(email), position('@' IN email) FROM customers", {dE, dE}},
      {"SELECT email ~ '^m', email = 'x' FROM customers", {dE, dE}},
      {"SELECT CAST(born AS text), extract(year FROM born) FROM customers", {"d " + B, "d " + B}},
      {"SELECT ROW(email, id) FROM customers", {"d " + E + "," + ID}},
      {"SELECT ARRAY[email, phone] FROM customers", {"d " + E + "," + P}},
      {"SELECT xmlelement(name e, email) FROM customers", {dE}},
      {"SELECT email IS NULL FROM customers", {dE}},
      {"SELECT (email LIKE 'a%') IS TRUE FROM customers", {dE}},
      {"SELECT email::varchar(10) FROM customers", {dE}},
      {"SELECT to_char(born, 'YYYY') FROM customers", {"d " + B}},
      // A cast that keeps a text column's text keeps it direct; one that cuts it does not.
      {"SELECT email::text, email::varchar, CAST(email AS jsonb), email::varchar(3),"
       " email::char(40), id::text FROM customers",
       {"D " + E, "D " + E, "D " + E, "d " + E, "d " + E, "d customers.id"}},
      {"SELECT pg_catalog.upper(email) FROM customers", {dE}},
      // Whole rows.
      {"SELECT c FROM customers c",
       {"d customers.balance," + B + "," + C + "," + CITY + "," + E + "," + N + "," + ID +
        ",customers.notes," + P + "," + S}},
      {"SELECT row_to_json(o) FROM orders o",
       {"d orders.amount,orders.customer_id,orders.id,orders.sku,orders.status"}},
      {"SELECT to_jsonb(o.*) FROM orders o",
       {"d orders.amount,orders.customer_id,orders.id,orders.sku,orders.status"}},
      {"SELECT json_build_object('e', email) FROM customers", {dE}},
      // CASE and friends.
      {"SELECT coalesce(email, 'none') FROM customers", {dE}},
      {"SELECT nullif(ssn, '') FROM customers", {dS}},
      {"SELECT greatest(email, city) FROM customers", {"d " + CITY + "," + E}},
      {"SELECT CASE WHEN id = 1 THEN email ELSE city END FROM customers",
       {"d " + CITY + "," + E + "," + ID}},
      {"SELECT CASE WHEN email LIKE 'm%' THEN 'yes' ELSE 'no' END FROM customers", {dE}},
      {"SELECT CASE ssn WHEN 'x' THEN 1 END FROM customers", {dS}},
      // Aggregates and windows.
      {"SELECT count(email), count(DISTINCT email), count(*) FROM customers", {"d", "d", "d"}},
      {"SELECT count(length(email)) FROM customers", {dE}},
      {"SELECT max(email), min(ssn) FROM customers", {dE, dS}},
      {"SELECT string_agg(ssn, ',' ORDER BY email) FROM customers", {"d " + E + "," + S}},
      {"SELECT array_agg(email) FILTER (WHERE id > 1) FROM customers", {dE}},
      {"SELECT count(*) FILTER (WHERE email LIKE 'a%') FROM customers", {"d"}},
      {"SELECT mode() WITHIN GROUP (ORDER BY email) FROM customers", {dE}},
      {"SELECT row_number() OVER (ORDER BY email) FROM customers", {dE}},
      {"SELECT lag(email) OVER (PARTITION BY city ORDER BY id) FROM customers",
       {"d " + CITY + "," + E + "," + ID}},
      {"SELECT first_value(full_name) OVER w FROM customers WINDOW w AS (ORDER BY id)", {dN}},
      {"SELECT city, count(*) FROM customers GROUP BY city", {"D " + CITY, "d"}},
      {"SELECT sum(amount) FROM orders GROUP BY customer_id", {"d orders.amount"}},
      // Subqueries, CTEs, set operations, LATERAL, joins.
      {"SELECT (SELECT email FROM customers LIMIT 1)", {dE}},
      {"SELECT id, (SELECT upper(email) FROM customers i WHERE i.id = o.customer_id) FROM orders o",
       {"D orders.id", dE}},
      {"SELECT exists(SELECT 1 FROM customers WHERE email LIKE 'm%')", {dE}},
      {"SELECT id IN (SELECT customer_id FROM orders WHERE sku = 'x') FROM customers",
       {"d " + ID + ",orders.customer_id,orders.sku"}},
      {"SELECT ARRAY(SELECT ssn FROM customers)", {dS}},
      {"WITH x AS (SELECT upper(email) u FROM customers) SELECT u FROM x", {dE}},
      {"WITH a AS (SELECT email FROM customers), b AS (SELECT email AS e2 FROM a) SELECT e2 FROM b",
       {DE}},
      {"WITH RECURSIVE r(n, s) AS (SELECT 1, email FROM customers UNION ALL "
       "SELECT n + 1, substr(s, 2) FROM r WHERE n < 3) SELECT s, n FROM r",
       {dE, "d"}},
      {"WITH RECURSIVE r(a, b) AS (SELECT 'x', email FROM customers UNION ALL "
       "SELECT b, a FROM r) SELECT a FROM r",
       {dE}},
      {"SELECT email FROM customers UNION ALL SELECT city FROM customers", {"D " + CITY + "," + E}},
      {"SELECT lower(email) FROM customers UNION SELECT sku FROM orders",
       {"d " + E + ",orders.sku"}},
      {"SELECT ssn FROM customers INTERSECT SELECT ssn FROM customers", {"D " + S}},
      {"SELECT ssn FROM customers EXCEPT SELECT 'x'", {"d " + S}},
      {"(SELECT email FROM customers) UNION (SELECT email FROM other.customers)",
       {"D other.customers.email," + E}},
      {"SELECT t.x FROM customers c, LATERAL (SELECT upper(c.email) AS x) t", {dE}},
      {"SELECT u FROM customers c CROSS JOIN LATERAL unnest(ARRAY[c.email, c.city]) AS u",
       {"d " + CITY + "," + E}},
      {"SELECT * FROM unnest(ARRAY['a', 'b']) WITH ORDINALITY AS t(v, n)", {"d", "d"}},
      {"SELECT t.v FROM customers c, ROWS FROM (regexp_split_to_table(c.ssn, '-')) "
       "WITH ORDINALITY AS t(v, n)",
       {dS}},
      {"SELECT x.a FROM customers c, jsonb_to_recordset(jsonb_build_array(jsonb_build_object("
       "'a', c.email))) AS x(a text)",
       {dE}},
      {"SELECT key, value FROM customers c, jsonb_each(to_jsonb(c.email))", {dE, dE}},
      {"SELECT g FROM generate_series(1, 3) g", {"d"}},
      // A merged USING column is computed from both sides (a constant on one here).
      {"SELECT id, email FROM customers JOIN (SELECT 1 AS id) one USING (id)", {"d " + ID, DE}},
      {"SELECT * FROM customers NATURAL JOIN (SELECT 1 AS id, 'x' AS sku) s",
       {"d " + ID, "D " + N, DE, "D " + S, "D " + C, "D " + P, "D customers.notes", "D " + B,
        "D customers.balance", "D " + CITY, "d"}},
      {"SELECT upper(o.status), c.email FROM orders o LEFT JOIN customers c ON c.id = "
       "o.customer_id",
       {"d orders.status", DE}},
      {"SELECT j.email FROM (customers JOIN orders ON customers.id = orders.customer_id) AS j",
       {DE}},
      {"SELECT * FROM (VALUES (1, 'x')) v(a, b)", {"d", "d"}},
      {"SELECT a FROM (VALUES ((SELECT email FROM customers LIMIT 1))) v(a)", {dE}},
      {"SELECT * FROM customers TABLESAMPLE SYSTEM (10) WHERE id = 1 LIMIT 0",
       {"D " + ID, "D " + N, DE, "D " + S, "D " + C, "D " + P, "D customers.notes", "D " + B,
        "D customers.balance", "D " + CITY}},
      {"SELECT x FROM XMLTABLE('/r' PASSING xmlelement(name r, (SELECT email FROM customers "
       "LIMIT 1)) COLUMNS x text PATH '.')",
       {dE}},
      // Unknown: what cannot be followed.
      {"SELECT shout(email) FROM customers", {"u " + E}},
      {"SELECT shout(city) FROM customers", {"u " + CITY}},
      {"SELECT public.anything(id) FROM customers", {"u " + ID}},
      {"SELECT query_to_xml('select email from customers', true, false, '')", {"u"}},
      {"SELECT histogram_bounds FROM pg_stats", {"u"}},
      {"SELECT relname FROM pg_class", {"D pg_catalog.pg_class.relname"}},
      // Other sessions' statements, literals and all: a column of its own (sql::IsStatementText)
      // among the view's constants, followed through what is computed from it.
      {"SELECT pid, usename, query FROM pg_stat_activity",
       {"d", "d", "D pg_catalog.pg_stat_activity.query"}},
      {"SELECT reverse(a.query) FROM pg_catalog.pg_stat_activity a",
       {"d pg_catalog.pg_stat_activity.query"}},
      {"SELECT (pg_stat_get_activity(NULL)).query", {"u"}},
      {"SELECT pg_stat_get_backend_activity(1)", {"u"}},
      {"SELECT x FROM missing_table", {"u"}},
      {"SELECT nosuchcolumn FROM customers", {"u"}},
      {"SELECT * FROM missing_table", {"<columns unknown>"}},
      {"SELECT * FROM shout('x')", {"<columns unknown>"}},
      {"SELECT 1 ### 2", {"u"}},
      {"SELECT email ### 'x' FROM customers", {"u " + E}},
      {"SELECT 1 OPERATOR(public.###) 2", {"u"}},
      {"SELECT 1 OPERATOR(pg_catalog.+) 2", {"d"}},
      {"SELECT city::leaky FROM customers", {"u " + CITY}},
      {"SELECT CAST(1 AS public.leaky)", {"u"}},
      {"SELECT x FROM loop_a", {"u"}},
      {"SELECT current_setting('my.secret')", {"u"}},
      // Constants and settings.
      {"SELECT 1, 'x', $1, now(), current_user", {"d", "d", "d", "d", "d"}},
      {"SHOW search_path", {"d"}},
      {"EXPLAIN SELECT email FROM customers", {"d"}},
      // Statements that return rows too.
      {"INSERT INTO orders (id, customer_id, amount, sku, status) VALUES (9, 1, 1, 'a', 'b') "
       "RETURNING sku, upper(status)",
       {"D orders.sku", "d orders.status"}},
      {"UPDATE customers SET city = 'x' WHERE id = 1 RETURNING email, lower(full_name)", {DE, dN}},
      {"DELETE FROM customers WHERE id = 9 RETURNING ssn", {"D " + S}},
      {"COPY customers (email, city) TO STDOUT", {DE, "D " + CITY}},
      {"COPY orders TO STDOUT",
       {"D orders.id", "D orders.customer_id", "D orders.amount", "D orders.sku",
        "D orders.status"}},
      {"COPY (SELECT upper(email) FROM customers) TO STDOUT", {dE}},
      {"WITH d AS (DELETE FROM orders RETURNING sku) SELECT upper(sku) FROM d", {"d orders.sku"}},
      {"CALL do_things()", {"<columns unknown>"}},
  };
}

TEST(Analysis, LineageOfEveryResultColumn) {
  auto cases = Cases();
  EXPECT_GE(cases.size(), 120u);
  for (const auto& c : cases) EXPECT_EQ(Lineage(c.sql), c.columns) << c.sql;
}

const StatementAnalysis& One(const std::string& sql, Analysis* keep) {
  static auto shop = Shop();
  *keep = Analyze(sql, *shop);
  EXPECT_TRUE(keep->parsed) << sql << ": " << keep->error;
  EXPECT_EQ(keep->statements.size(), 1u) << sql;
  return keep->statements.at(0);
}

std::vector<std::string> Filters(const StatementAnalysis& s) {
  std::vector<std::string> out;
  for (const auto& f : s.filters) out.push_back(f.column.Display() + (f.equality ? " =" : " ~"));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TEST(Analysis, FiltersTellEqualityWithAConstantFromEverythingElse) {
  Analysis a;
  EXPECT_EQ(Filters(One("SELECT id FROM customers WHERE email = 'x@y.z'", &a)),
            (std::vector<std::string>{"public.customers.email ="}));
  EXPECT_EQ(Filters(One("SELECT id FROM customers WHERE $1 = email AND ssn IN ('1', '2')", &a)),
            (std::vector<std::string>{"public.customers.email =", "public.customers.ssn ="}));
  EXPECT_EQ(Filters(One("SELECT id FROM customers WHERE email LIKE 'a%'", &a)),
            (std::vector<std::string>{"public.customers.email ~"}));
  EXPECT_EQ(Filters(One("SELECT id FROM customers WHERE lower(email) = 'x'", &a)),
            (std::vector<std::string>{"public.customers.email ~"}));
  EXPECT_EQ(Filters(One("SELECT id FROM customers ORDER BY email", &a)),
            (std::vector<std::string>{"public.customers.email ~"}));
  EXPECT_EQ(Filters(One("SELECT email, count(*) FROM customers GROUP BY 1 ORDER BY 1", &a)),
            (std::vector<std::string>{"public.customers.email ~"}));
  // A position is a literal: ORDER BY 1 and ORDER BY 2 share a cache entry, so both count every
  // result column.
  EXPECT_EQ(Filters(One("SELECT id, ssn FROM customers ORDER BY 1", &a)),
            (std::vector<std::string>{"public.customers.id ~", "public.customers.ssn ~"}));
  EXPECT_EQ(Filters(One("SELECT ssn AS k, count(*) FROM customers GROUP BY 1", &a)),
            (std::vector<std::string>{"public.customers.ssn ~"}));
  EXPECT_EQ(Filters(One("SELECT ssn AS k, count(*) FROM customers GROUP BY k", &a)),
            (std::vector<std::string>{"public.customers.ssn ~"}));
  EXPECT_EQ(Filters(One("SELECT DISTINCT ON (1) ssn, id FROM customers", &a)),
            (std::vector<std::string>{"public.customers.id ~", "public.customers.ssn ~"}));
  EXPECT_EQ(Filters(One("SELECT o.id FROM orders o JOIN customers c ON c.email = o.sku", &a)),
            (std::vector<std::string>{"public.customers.email ~", "public.orders.sku ~"}));
  EXPECT_EQ(Filters(One("SELECT count(*) FILTER (WHERE ssn > '5') FROM customers", &a)),
            (std::vector<std::string>{"public.customers.ssn ~"}));
  EXPECT_EQ(Filters(One("SELECT generate_series(1, ascii(ssn)) FROM customers", &a)).size(), 0u)
      << "set-returning functions in the target list are not filters";
  EXPECT_EQ(Filters(One("SELECT id FROM customers WHERE id IN (SELECT 1 FROM customers i "
                        "WHERE i.email < 'm')",
                        &a)),
            (std::vector<std::string>{"public.customers.email ~", "public.customers.id ~"}));
  EXPECT_EQ(Filters(One("SELECT id FROM customers WHERE (email = 'x') OR id = 2", &a)),
            (std::vector<std::string>{"public.customers.email ~", "public.customers.id ~"}))
      << "OR of equalities bisects as well as a range does";
}

TEST(Analysis, SideEffectsWritesAndClassification) {
  Analysis a;
  const auto& s1 = One("SELECT set_config('my.x', email, false) FROM customers", &a);
  ASSERT_EQ(s1.side_effect_args.size(), 1u);
  EXPECT_EQ(s1.side_effect_args[0].Display(), "public.customers.email");
  EXPECT_EQ(One("SELECT pg_notify('c', ssn) FROM customers", &a).side_effect_args.size(), 1u);
  EXPECT_EQ(One("SELECT pg_sleep(ascii(ssn) / 100.0) FROM customers", &a).side_effect_args.size(),
            1u);
  EXPECT_TRUE(One("SELECT upper(email) FROM customers", &a).side_effect_args.empty());
  // A sleep answers with time whatever decides whether it runs.
  EXPECT_EQ(One("SELECT CASE WHEN substr(ssn, 1, 1) = '5' THEN pg_sleep(1) END FROM customers", &a)
                .side_effect_args.size(),
            1u);
  EXPECT_TRUE(One("SELECT pg_sleep(1), id FROM orders", &a).side_effect_args.size() == 1u);
  // How many rows come back carries a value as well.
  EXPECT_EQ(One("SELECT count(*) FROM customers c, generate_series(1, length(c.ssn))", &a)
                .side_effect_args.size(),
            1u);
  EXPECT_EQ(One("SELECT 1 FROM orders LIMIT (SELECT length(ssn) FROM customers LIMIT 1)", &a)
                .side_effect_args.size(),
            1u);
  EXPECT_TRUE(One("SELECT g FROM generate_series(1, 10) g LIMIT 5", &a).side_effect_args.empty());
  // So does a range comparison with another column: how many rows pass ranks the value.
  auto ranked = [&](const char* sql) {
    std::vector<std::string> out;
    for (const auto& c : One(sql, &a).side_effect_args) out.push_back(c.Display());
    return out;
  };
  const std::vector<std::string> ssn{"public.customers.ssn"};
  EXPECT_EQ(ranked("SELECT count(*) FROM customers c, generate_series(0, 999) g"
                   " WHERE c.id = 1 AND g < substr(c.ssn, 1, 3)::int"),
            ssn);
  EXPECT_EQ(ranked("SELECT id, (SELECT count(*) FROM generate_series(0, 9) g"
                   " WHERE substr(c.ssn, 1, 1)::int > g) FROM customers c"),
            ssn);
  EXPECT_EQ(ranked("SELECT id, (SELECT count(*) FROM customers c2 WHERE c2.ssn < c.ssn)"
                   " FROM customers c"),
            ssn);
  EXPECT_EQ(ranked("WITH RECURSIVE r(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM r WHERE n <"
                   " (SELECT substr(ssn, 1, 3)::int FROM customers WHERE id = 1))"
                   " SELECT count(*) FROM r"),
            ssn);
  EXPECT_EQ(ranked("SELECT c.id, count(*) FROM customers c JOIN generate_series(0, 999) g"
                   " ON c.ssn > lpad(g::text, 3, '0') GROUP BY c.id"),
            ssn);
  EXPECT_EQ(ranked("SELECT count(*) FROM generate_series(0, 999) g WHERE g BETWEEN 0 AND"
                   " (SELECT substr(ssn, 1, 3)::int FROM customers WHERE id = 1)"),
            ssn);
  // Any computation of the value with another item's column, not just a comparison of the two.
  for (const char* sql :
       {"SELECT count(*) FROM generate_series(0, 999) g WHERE g - (SELECT substr(ssn, 1, 3)::int"
        " FROM customers WHERE id = 1) < 0",
        "SELECT count(*) FROM generate_series(0, 999) g WHERE sign(g - (SELECT substr(ssn, 1,"
        " 3)::int FROM customers WHERE id = 1)) = -1",
        "SELECT count(*) FROM generate_series(0, 999) g WHERE least(g, (SELECT substr(ssn, 1,"
        " 3)::int FROM customers WHERE id = 1)) = g",
        "SELECT count(*) FROM generate_series(0, 999) g WHERE CASE WHEN g < (SELECT substr(ssn,"
        " 1, 3)::int FROM customers WHERE id = 1) THEN true ELSE false END",
        "SELECT count(*) FROM generate_series(0, 999) g WHERE int4range(0, (SELECT substr(ssn, 1,"
        " 3)::int FROM customers WHERE id = 1)) @> g",
        "SELECT count(*) FROM customers c, generate_series(0, 999) g WHERE c.id = 1 AND"
        " g - substr(c.ssn, 1, 3)::int < 0",
        // … against ANY or ALL of a sub-select, and as groups or distinct rows.
        "SELECT count(*) FROM generate_series(0, 999) g WHERE g < ANY (SELECT substr(ssn, 1,"
        " 3)::int FROM customers WHERE id = 1)",
        "SELECT count(*) FROM generate_series(0, 999) g GROUP BY g < (SELECT substr(ssn, 1,"
        " 3)::int FROM customers WHERE id = 1)",
        "SELECT count(*) FROM generate_series(0, 999) g GROUP BY least(g, (SELECT substr(ssn,"
        " 1, 3)::int FROM customers WHERE id = 1))",
        "SELECT DISTINCT least(g, (SELECT substr(ssn, 1, 3)::int FROM customers WHERE id = 1))"
        " FROM generate_series(0, 999) g",
        // A window frame as long as the value; rows made from a size the value set.
        "SELECT count(*) OVER (ORDER BY g ROWS BETWEEN CURRENT ROW AND (SELECT substr(ssn, 1,"
        " 3)::int FROM customers WHERE id = 1) FOLLOWING) FROM generate_series(0, 999) g",
        "SELECT count(*) FROM (SELECT unnest(array_fill(1, ARRAY[(SELECT substr(ssn, 1, 3)::int"
        " FROM customers WHERE id = 1)]))) s",
        "SELECT count(*) FROM regexp_split_to_table(repeat('x,', (SELECT substr(ssn, 1, 3)::int"
        " FROM customers WHERE id = 1)), ',')",
        "SELECT count(*) FROM jsonb_array_elements((SELECT to_jsonb(array_fill(0,"
        " ARRAY[substr(ssn, 1, 3)::int])) FROM customers WHERE id = 1))"}) {
    const auto r = ranked(sql);  // with the sub-select's row choice (id) where it counts
    EXPECT_TRUE(std::find(r.begin(), r.end(), ssn[0]) != r.end()) << sql;
  }
  // One item's row, an equality join or lookup, a semi-join: open.
  for (const char* sql :
       {"SELECT count(*) FROM customers c WHERE born + interval '18 years' < now() - interval"
        " '1 day' AND lower(full_name || email) <> 'x'",
        "SELECT g FROM generate_series(0, 999) g JOIN customers c ON g = length(c.ssn)",
        "SELECT o.id FROM orders o JOIN customers c ON lower(o.sku) = lower(c.email)",
        "SELECT id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.sku = c.email)",
        "SELECT id FROM customers c WHERE (SELECT count(*) FROM orders o WHERE o.sku = c.email)"
        " > 2",
        "SELECT g FROM generate_series(0, 999) g WHERE g = (SELECT length(ssn) FROM customers"
        " WHERE id = 1)",
        "SELECT substr(ssn, 1, 1), count(*) FROM customers GROUP BY substr(ssn, 1, 1)",
        "SELECT DISTINCT lower(email) FROM customers",
        "SELECT repeat('*', length(ssn) - 4) || right(ssn, 4) FROM customers",
        "SELECT unnest(string_to_array(ssn, '-')) FROM customers",
        "SELECT g FROM generate_series(0, 9) g WHERE g = ANY (SELECT length(ssn) FROM customers)"})
    EXPECT_TRUE(ranked(sql).empty()) << sql;
  // Against constants and parameters: one yes/no per statement, as any filter.
  EXPECT_TRUE(ranked("SELECT count(*) FROM customers WHERE ssn > '5' AND born BETWEEN"
                     " '1980-01-01' AND '1990-12-31' AND email < $1")
                  .empty());

  const auto& ins =
      One("INSERT INTO orders (sku, status) SELECT reverse(email), 'x' FROM customers", &a);
  EXPECT_TRUE(ins.writes_data);
  ASSERT_EQ(ins.writes.size(), 2u);
  EXPECT_EQ(ins.writes[0].column.Display(), "public.orders.sku");
  ASSERT_EQ(ins.writes[0].sources.size(), 1u);
  EXPECT_EQ(ins.writes[0].sources[0].Display(), "public.customers.email");
  EXPECT_TRUE(ins.writes[1].sources.empty());

  const auto& upd =
      One("UPDATE orders o SET sku = c.ssn FROM customers c WHERE c.id = o.customer_id", &a);
  ASSERT_EQ(upd.writes.size(), 1u);
  EXPECT_EQ(upd.writes[0].sources.at(0).Display(), "public.customers.ssn");

  const auto& ctas = One("CREATE TABLE scratch AS SELECT upper(email) AS e FROM customers", &a);
  EXPECT_TRUE(ctas.ddl);
  ASSERT_EQ(ctas.writes.size(), 1u);
  EXPECT_EQ(ctas.writes[0].column.Display(), "public.scratch.e");

  const auto& into = One("SELECT phone INTO TEMP t2 FROM customers", &a);
  EXPECT_TRUE(into.ddl);
  EXPECT_FALSE(into.returns_rows);
  ASSERT_EQ(into.writes.size(), 1u);
  EXPECT_EQ(into.writes[0].column.table, "t2");

  // A rename moves a column's values to a new name: a write from the old name to the new.
  auto moves = [&](const char* sql) {
    std::vector<std::string> out;
    for (const auto& w : One(sql, &a).writes)
      out.push_back(w.sources.at(0).Display() + " -> " + w.column.Display());
    return out;
  };
  EXPECT_EQ(moves("ALTER TABLE customers RENAME COLUMN ssn TO code"),
            (std::vector<std::string>{"public.customers.ssn -> public.customers.code"}));
  EXPECT_EQ(moves("ALTER TABLE other.customers RENAME TO people"),
            (std::vector<std::string>{"other.customers.id -> other.people.id",
                                      "other.customers.email -> other.people.email"}));
  EXPECT_EQ(moves("ALTER TABLE orders SET SCHEMA other").size(), 5u);
  EXPECT_EQ(moves("ALTER TABLE orders SET SCHEMA other")[3],
            "public.orders.sku -> other.orders.sku");
  // A table the catalog does not know yet (created in the same string): every schema of the
  // search path is a candidate.
  EXPECT_EQ(moves("ALTER TABLE fresh RENAME COLUMN r TO k").size(), Shop()->search_path().size());
  EXPECT_TRUE(moves("ALTER TABLE orders RENAME CONSTRAINT c TO d").empty());
  const auto schema_moves = moves("ALTER SCHEMA other RENAME TO elsewhere");
  EXPECT_EQ(schema_moves,
            (std::vector<std::string>{"other.customers.id -> elsewhere.customers.id",
                                      "other.customers.email -> elsewhere.customers.email"}));

  EXPECT_TRUE(One("SELECT id FROM customers FOR UPDATE", &a).writes_data);
  EXPECT_TRUE(One("WITH d AS (DELETE FROM orders RETURNING 1) SELECT 1", &a).writes_data);
  EXPECT_TRUE(One("DROP TABLE orders", &a).ddl);
  EXPECT_TRUE(One("ALTER TABLE orders ADD COLUMN x int", &a).ddl);
  EXPECT_TRUE(One("GRANT SELECT ON orders TO PUBLIC", &a).ddl);
  EXPECT_FALSE(One("SELECT 1", &a).writes_data);
  EXPECT_TRUE(One("SET search_path TO other", &a).sets_search_path);
  EXPECT_TRUE(One("DO $$BEGIN PERFORM 1; END$$", &a).unknown_function);
  // An application's operator or a cast that runs its function is as opaque as a call of it.
  EXPECT_TRUE(One("SELECT id FROM orders WHERE 1 ### 2", &a).unknown_function);
  EXPECT_TRUE(One("SELECT 'x'::leaky IS NULL", &a).unknown_function);
  EXPECT_FALSE(One("SELECT id FROM orders WHERE amount > 2", &a).unknown_function);
}

TEST(Analysis, AnImplicitCastThroughAUserFunctionMakesEveryStatementOpaque) {
  std::vector<Row> rows = {{"r", "1", "public", "t", "r", std::nullopt},
                           {"c", "1", "1", "x", "25", std::nullopt},
                           {"t", "int4", "i", std::nullopt, std::nullopt, std::nullopt},
                           {"s", "1", "public", std::nullopt, std::nullopt, std::nullopt}};
  auto cat = CatalogSnapshot::FromRows(rows, 1);
  EXPECT_TRUE(cat->HasImplicitUserCasts());
  Analysis a = Analyze("SELECT x FROM t WHERE x = 'a'", *cat);
  ASSERT_EQ(a.statements.size(), 1u);
  EXPECT_TRUE(a.statements[0].unknown_function);
}

TEST(Analysis, SessionStatementsNameTheirPreparedStatementsAndCursors) {
  Analysis a;
  const auto& p = One("PREPARE q(int) AS SELECT reverse(email) FROM customers WHERE id = $1", &a);
  EXPECT_EQ(p.op, StatementAnalysis::Op::kPrepare);
  EXPECT_EQ(p.name, "q");
  ASSERT_TRUE(p.inner);
  ASSERT_EQ(p.inner->columns.size(), 1u);
  EXPECT_EQ(Describe(p.inner->columns[0]), "d customers.email");
  EXPECT_EQ(One("EXECUTE q(1)", &a).op, StatementAnalysis::Op::kExecute);
  const auto& d = One("DECLARE c CURSOR FOR SELECT ssn FROM customers", &a);
  EXPECT_EQ(d.op, StatementAnalysis::Op::kDeclare);
  EXPECT_EQ(d.name, "c");
  const auto& f = One("FETCH 2 FROM c", &a);
  EXPECT_EQ(f.op, StatementAnalysis::Op::kFetch);
  EXPECT_TRUE(f.returns_rows);
  EXPECT_EQ(One("MOVE 2 IN c", &a).op, StatementAnalysis::Op::kMove);
  EXPECT_EQ(One("CLOSE ALL", &a).op, StatementAnalysis::Op::kClose);
  EXPECT_EQ(One("DEALLOCATE ALL", &a).op, StatementAnalysis::Op::kDeallocate);
  EXPECT_TRUE(One("DEALLOCATE ALL", &a).name.empty());
}

TEST(Analysis, MultiStatementStringsAndParseErrors) {
  auto shop = Shop();
  Analysis a = Analyze("SELECT 1; SET x = 1; SELECT upper(ssn) FROM customers", *shop);
  ASSERT_TRUE(a.parsed);
  ASSERT_EQ(a.statements.size(), 3u);
  EXPECT_TRUE(a.statements[0].returns_rows);
  EXPECT_FALSE(a.statements[1].returns_rows);
  EXPECT_EQ(Describe(a.statements[2].columns[0]), "d customers.ssn");

  Analysis bad = Analyze("SELEC email FROM customers", *shop);
  EXPECT_FALSE(bad.parsed);
  EXPECT_FALSE(bad.error.empty());
  // PostgreSQL 16 syntax is an error for a PostgreSQL 15 grammar, not a crash.
  EXPECT_FALSE(Analyze("SELECT email IS JSON FROM customers", *shop).parsed);
  EXPECT_TRUE(Analyze("", *shop).statements.empty());
}

TEST(Analysis, ReadsCoverEveryClause) {
  Analysis a;
  const auto& s = One("SELECT id FROM customers WHERE ssn LIKE '5%' ORDER BY email", &a);
  std::vector<std::string> reads;
  for (const auto& r : s.reads) reads.push_back(r.column);
  EXPECT_EQ(reads, (std::vector<std::string>{"email", "id", "ssn"}));
}

// A utility statement that names a table may evaluate expressions over every row of it, and
// its errors quote what they evaluated; a write's rows are seen whole by constraints and
// triggers: both read every column of the tables they name.
TEST(Analysis, WritesAndUtilityStatementsReadEveryColumnOfTheirTables) {
  for (const char* sql :
       {"ALTER TABLE customers ALTER COLUMN ssn TYPE int USING reverse(ssn)::int",
        "CREATE INDEX ON public.customers ((card::bigint))",
        "ALTER TABLE customers ADD COLUMN g int GENERATED ALWAYS AS (1) STORED",
        "CREATE UNIQUE INDEX ON customers (city)", "UPDATE customers SET balance = -1 WHERE id = 1",
        "INSERT INTO customers (id, city) VALUES (9, 'Oslo')", "DELETE FROM customers WHERE id = 9",
        "COPY customers (id, city) FROM STDIN"}) {
    Analysis a;
    const auto& s = One(sql, &a);
    EXPECT_TRUE(s.writes_data) << sql;
    std::vector<std::string> reads;
    for (const auto& r : s.reads) reads.push_back(r.table + "." + r.column);
    EXPECT_EQ(reads.size(), 10u) << sql;
    EXPECT_NE(std::find(reads.begin(), reads.end(), "customers.ssn"), reads.end()) << sql;
  }
  Analysis a;
  EXPECT_TRUE(One("CREATE ROLE reporting", &a).reads.empty());
}

// The same statement with other literals must give the same analysis (it is cached by the
// text with literals replaced).
// COPY … TO STDOUT's options, in both of PostgreSQL's syntaxes, with its defaults: what the
// proxy reads the rows by. Options it cannot read as PostgreSQL would are flagged, never
// guessed at.
TEST(Analysis, CopyOptionsSetTheFormatOfItsRows) {
  auto shop = Shop();
  auto format = [&](const std::string& sql) {
    Analysis a = Analyze(sql, *shop);
    EXPECT_EQ(a.statements.size(), 1u) << sql;
    if (a.statements.empty() || !a.statements[0].copy) return std::string("none");
    const CopyFormat& f = *a.statements[0].copy;
    std::ostringstream o;
    o << "tcb"[static_cast<int>(f.kind)] << " d=" << f.delimiter << " q=" << f.quote
      << " e=" << f.escape << " n=" << f.null << " h=" << f.header << " fq=" << f.force_quote
      << " ok=" << f.understood;
    return o.str();
  };
  EXPECT_EQ(format("COPY customers TO STDOUT"), "t d=\t q=\" e=\" n=\\N h=0 fq=0 ok=1");
  EXPECT_EQ(format("COPY customers TO STDOUT (DELIMITER '-')"),
            "t d=- q=\" e=\" n=\\N h=0 fq=0 ok=1");
  EXPECT_EQ(format("COPY (SELECT ssn FROM customers) TO STDOUT WITH CSV HEADER DELIMITER ';' "
                   "NULL 'x' QUOTE '5' FORCE QUOTE *"),
            "c d=; q=5 e=5 n=x h=1 fq=1 ok=1");
  EXPECT_EQ(format("COPY customers TO STDOUT (FORMAT csv, ESCAPE '\\', HEADER false)"),
            "c d=, q=\" e=\\ n= h=0 fq=0 ok=1");
  EXPECT_EQ(format("COPY customers TO STDOUT (FORMAT binary)"),
            "b d=\t q=\" e=\" n=\\N h=0 fq=0 ok=1");
  EXPECT_EQ(format("COPY customers TO STDOUT (FORMAT text, HEADER on, ENCODING 'UTF8')"),
            "t d=\t q=\" e=\" n=\\N h=1 fq=0 ok=1");
  EXPECT_TRUE(format("COPY customers TO STDOUT (ENCODING 'LATIN1')").ends_with("ok=1"));
  for (const char* odd :
       {"COPY customers TO STDOUT (DELIMITER 'ab')", "COPY customers TO STDOUT (DELIMITER 'x')",
        "COPY customers TO STDOUT (FORMAT csv, DELIMITER '\"')",
        "COPY customers TO STDOUT (HEADER match)", "COPY customers TO STDOUT (FORMAT xml)",
        "COPY customers TO STDOUT (NULL ',', FORMAT csv)", "COPY customers TO STDOUT (WIDGETS 3)",
        "COPY customers TO STDOUT (ENCODING 'SJIS')",
        "COPY customers TO STDOUT (FORMAT csv, ENCODING 'big5')"})
    EXPECT_TRUE(format(odd).ends_with("ok=0")) << odd << " " << format(odd);
  // Not rows for the client: COPY FROM, and COPY TO a file or program on the server.
  EXPECT_EQ(format("COPY customers FROM STDIN"), "none");
  EXPECT_EQ(format("COPY customers TO '/tmp/x'"), "none");
}

TEST(Analysis, LiteralsNeverChangeTheAnalysis) {
  auto shop = Shop();
  auto render = [&](const std::string& sql) {
    Analysis a = Analyze(sql, *shop);
    std::ostringstream o;
    for (const auto& s : a.statements) {
      o << s.node << s.returns_rows << s.columns_known << s.writes_data << s.ddl << "|";
      for (const auto& c : s.columns) o << Describe(c) << ";";
      for (const auto& f : s.filters) o << f.column.Display() << f.equality << ";";
      for (const auto& w : s.writes) o << w.column.Display() << w.sources.size() << ";";
      for (const auto& r : s.reads) o << r.Display() << ";";  // errors withheld by these
      o << s.side_effect_args.size() << (int)s.op << s.name << s.unknown_function;
    }
    return o.str();
  };
  for (const auto& c : Cases()) {
    std::string sql = c.sql, other;
    // Replace every quoted literal's content and every digit run by other values.
    bool in_quote = false;
    for (char ch : sql) {
      if (ch == '\'') in_quote = !in_quote;
      if (in_quote && ch != '\'' && std::isalpha(static_cast<unsigned char>(ch)))
        other.push_back(ch == 'z' ? 'y' : 'z');
      else if (!in_quote && std::isdigit(static_cast<unsigned char>(ch)) && other.size() &&
               !std::isalnum(static_cast<unsigned char>(other.back())) && other.back() != '$')
        other.push_back(ch == '7' ? '8' : '7');
      else
        other.push_back(ch);
    }
    EXPECT_EQ(render(sql), render(other)) << sql << "\n" << other;
  }
}

// Random nested expressions over sensitive columns: every result column keeps its sources.
TEST(Analysis, RandomNestingNeverLosesASource) {
  const char* unary[] = {"lower(%)",
                         "reverse(%)",
                         "substr(%, 2)",
                         "(% || 'x')",
                         "encode(convert_to(%, 'UTF8'), 'hex')",
                         "coalesce(%, '')",
                         "(SELECT string_agg(ch, '') FROM regexp_split_to_table(%, '') ch)",
                         "jsonb_build_object('k', %) ->> 'k'",
                         "(string_to_array(%, '@'))[1]",
                         "CASE WHEN length(%) > 3 THEN 'a' END",
                         "format('%s', %)",
                         "array_to_string(ARRAY[%], ',')",
                         "(%)::bytea::text",
                         "(SELECT max(v) FROM (SELECT % AS v) t)",
                         "greatest(%, 'a')"};
  const char* cols[] = {"email", "ssn", "card", "phone", "full_name"};
  std::mt19937 rng(42);
  auto shop = Shop();
  for (int i = 0; i < 500; ++i) {
    std::string col = cols[rng() % 5], expr = col;
    const int depth = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < depth; ++d) {
      std::string t = unary[rng() % (sizeof(unary) / sizeof(*unary))], next;
      for (char ch : t) {
        if (ch == '%' && (next.empty() || next.back() != '\''))
          next += expr;
        else
          next.push_back(ch);
      }
      // format('%s', …) keeps its own %s.
      expr = next;
    }
    Analysis a = Analyze("SELECT " + expr + " FROM customers", *shop);
    ASSERT_TRUE(a.parsed) << expr << ": " << a.error;
    const auto& c = a.statements.at(0).columns.at(0);
    const bool has = std::any_of(c.sources.begin(), c.sources.end(),
                                 [&](const BaseColumn& b) { return b.column == col; });
    EXPECT_TRUE(has) << expr;
    EXPECT_NE(c.kind, OutputColumn::Kind::kDirect) << expr;
  }
}

TEST(Analysis, MalformedAndHostileInputNeverCrashes) {
  auto shop = Shop();
  std::mt19937 rng(7);
  const std::string alphabet = "select from where () ,.'\"$1*;-/ email customers union with as ";
  for (int i = 0; i < 2000; ++i) {
    std::string sql;
    const int n = static_cast<int>(rng() % 80);
    for (int j = 0; j < n; ++j) sql.push_back(alphabet[rng() % alphabet.size()]);
    (void)Analyze(sql, *shop);
  }
  std::string deep = "SELECT ";
  for (int i = 0; i < 500; ++i) deep += "lower(";
  deep += "email";
  for (int i = 0; i < 500; ++i) deep += ")";
  (void)Analyze(deep + " FROM customers", *shop);
  std::string nested = "SELECT email FROM ";
  for (int i = 0; i < 200; ++i) nested += "(SELECT email FROM ";
  nested += "customers";
  for (int i = 0; i < 200; ++i) nested += ") t" + std::to_string(i);
  (void)Analyze(nested + ") x", *shop);
}

}  // namespace
}  // namespace veil::sql
