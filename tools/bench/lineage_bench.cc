// What lineage costs per statement (issue 10): the parse and analysis on a cache miss, the
// normalized-text key and lookup on a hit, for statements of the shapes proxies see: pgbench's
// point select, a three-way join, a CTE with a window, and a 1 KB ORM query. The catalog is a
// realistic one (1,000 tables of 12 columns, a dozen views).
//
//   build/tools/bench/lineage_bench
#include <benchmark/benchmark.h>

#include "agent/protocol/postgres/analysis.h"
#include "agent/sql/analysis.h"
#include "agent/sql/catalog.h"

namespace {

using veil::sql::CatalogSnapshot;

std::shared_ptr<const CatalogSnapshot> Catalog() {
  static auto snap = [] {
    std::vector<CatalogSnapshot::Row> rows;
    uint32_t oid = 16384;
    auto rel = [&](const std::string& name, std::vector<std::string> cols, char kind = 'r',
                   std::string def = "") {
      ++oid;
      rows.push_back(
          {"r", std::to_string(oid), "public", name, std::string(1, kind), std::nullopt});
      for (size_t i = 0; i < cols.size(); ++i)
        rows.push_back(
            {"c", std::to_string(oid), std::to_string(i + 1), cols[i], "25", std::nullopt});
      if (!def.empty())
        rows.push_back({"v", std::to_string(oid), def, std::nullopt, std::nullopt, std::nullopt});
    };
    rel("pgbench_accounts", {"aid", "bid", "abalance", "filler"});
    rel("customers", {"id", "full_name", "email", "ssn", "card", "phone", "notes", "born",
                      "balance", "city", "created_at", "updated_at"});
    rel("orders", {"id", "customer_id", "amount", "sku", "status", "created_at"});
    rel("order_items", {"id", "order_id", "product_id", "qty", "price"});
    rel("products", {"id", "name", "price", "category"});
    for (int i = 0; i < 1000; ++i) {
      std::vector<std::string> cols;
      for (int c = 0; c < 12; ++c) cols.push_back("col_" + std::to_string(c));
      rel("table_" + std::to_string(i), cols);
    }
    rel("customer_emails", {"id", "email"}, 'v',
        " SELECT customers.id, customers.email FROM customers;");
    rows.push_back({"s", "1", "pg_catalog", std::nullopt, std::nullopt, std::nullopt});
    rows.push_back({"s", "2", "public", std::nullopt, std::nullopt, std::nullopt});
    return CatalogSnapshot::FromRows(rows, 1);
  }();
  return snap;
}

const char* const kStatements[] = {
    "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
    "SELECT c.full_name, o.id, sum(i.qty * i.price) FROM customers c JOIN orders o ON "
    "o.customer_id "
    "= c.id JOIN order_items i ON i.order_id = o.id WHERE o.status = 'paid' GROUP BY c.full_name, "
    "o.id ORDER BY 3 DESC LIMIT 20",
    "WITH recent AS (SELECT customer_id, amount, row_number() OVER (PARTITION BY customer_id "
    "ORDER BY created_at DESC) AS rn FROM orders) SELECT c.email, r.amount FROM recent r JOIN "
    "customers c ON c.id = r.customer_id WHERE r.rn = 1",
    // An ORM's SELECT: every column aliased, IN list, ORDER BY, LIMIT/OFFSET (about 1 KB).
    "SELECT \"customers\".\"id\" AS \"customers_id\", \"customers\".\"full_name\" AS "
    "\"customers_full_name\", \"customers\".\"email\" AS \"customers_email\", "
    "\"customers\".\"phone\" AS \"customers_phone\", \"customers\".\"city\" AS "
    "\"customers_city\", \"customers\".\"created_at\" AS \"customers_created_at\", "
    "\"customers\".\"updated_at\" AS \"customers_updated_at\", \"orders_1\".\"id\" AS "
    "\"orders_1_id\", \"orders_1\".\"customer_id\" AS \"orders_1_customer_id\", "
    "\"orders_1\".\"amount\" AS \"orders_1_amount\", \"orders_1\".\"sku\" AS \"orders_1_sku\", "
    "\"orders_1\".\"status\" AS \"orders_1_status\", \"orders_1\".\"created_at\" AS "
    "\"orders_1_created_at\" FROM \"customers\" LEFT OUTER JOIN \"orders\" AS \"orders_1\" ON "
    "\"customers\".\"id\" = \"orders_1\".\"customer_id\" WHERE \"customers\".\"id\" IN (101, 102, "
    "103, 104, 105, 106, 107, 108, 109, 110) AND \"customers\".\"city\" = 'Lagos' AND "
    "\"orders_1\".\"status\" IN ('paid', 'shipped', 'refunded') ORDER BY "
    "\"customers\".\"created_at\" DESC, \"orders_1\".\"id\" LIMIT 50 OFFSET 100",
};
const char* const kNames[] = {"pgbench_select", "join3", "cte_window", "orm_1kb"};

// A miss: libpg_query's parse into protobuf, reading the tree, and the lineage analysis.
void BM_AnalyzeMiss(benchmark::State& state) {
  auto cat = Catalog();
  const char* sql = kStatements[state.range(0)];
  for (auto _ : state) benchmark::DoNotOptimize(veil::sql::Analyze(sql, *cat));
  state.SetLabel(kNames[state.range(0)]);
}
BENCHMARK(BM_AnalyzeMiss)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

// A hit: the statement again with other literals, found by its normalized text.
void BM_SessionHit(benchmark::State& state) {
  veil::agent::SessionAnalysis s;
  s.SetCatalog(Catalog());
  const char* sql = kStatements[state.range(0)];
  (void)s.Lineage(sql);
  for (auto _ : state) benchmark::DoNotOptimize(s.Lineage(sql));
  state.SetLabel(kNames[state.range(0)]);
  state.counters["hit_rate"] =
      static_cast<double>(s.cache_hits()) / static_cast<double>(s.cache_hits() + s.cache_misses());
}
BENCHMARK(BM_SessionHit)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond);

// The catalog snapshot built from the lookup's rows (per session today).
void BM_CatalogFromRows(benchmark::State& state) {
  std::vector<CatalogSnapshot::Row> rows;
  for (int t = 0; t < 1000; ++t) {
    rows.push_back({"r", std::to_string(16384 + t), "public", "table_" + std::to_string(t), "r",
                    std::nullopt});
    for (int c = 0; c < 12; ++c)
      rows.push_back({"c", std::to_string(16384 + t), std::to_string(c + 1),
                      "col_" + std::to_string(c), "25", std::nullopt});
  }
  for (auto _ : state) benchmark::DoNotOptimize(CatalogSnapshot::FromRows(rows, 1));
  state.SetLabel("1000 tables x 12 columns");
}
BENCHMARK(BM_CatalogFromRows)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
