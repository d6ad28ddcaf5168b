#include "agent/sql/catalog.h"

#include <gtest/gtest.h>

namespace veil::sql {
namespace {

using Row = CatalogSnapshot::Row;

std::vector<Row> Rows() {
  return {
      {"s", "1", "pg_catalog", std::nullopt, std::nullopt, std::nullopt},
      {"s", "2", "public", std::nullopt, std::nullopt, std::nullopt},
      {"c", "100", "2", "email", "25", std::nullopt},  // a column before its relation
      {"r", "100", "public", "customers", "r", std::nullopt},
      {"c", "100", "1", "id", "23", std::nullopt},
      {"r", "200", "other", "customers", "r", std::nullopt},
      {"c", "200", "1", "x", "25", std::nullopt},
      {"r", "300", "public", "v", "v", std::nullopt},
      {"v", "300", " SELECT customers.email\n   FROM customers;", std::nullopt, std::nullopt,
       std::nullopt},
      {"c", "300", "1", "email", "25", std::nullopt},
      {"r", "400", "pg_catalog", "pg_class", "r", std::nullopt},
      {"f", "shout", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
      {"c", "999", "1", "orphan", "25", std::nullopt},  // its relation was dropped meanwhile
      {"x", "garbage"},
  };
}

TEST(CatalogSnapshot, BuildsRelationsColumnsViewsAndSearchPath) {
  auto s = CatalogSnapshot::FromRows(Rows(), 7);
  EXPECT_EQ(s->generation(), 7u);
  EXPECT_EQ(s->size(), 4u);
  const CatalogRelation* c = s->Find("", "customers");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->schema, "public");
  ASSERT_EQ(c->columns.size(), 2u);
  EXPECT_EQ(c->columns[0].name, "id");  // attnum order, whatever the row order
  EXPECT_EQ(c->columns[1].type_oid, 25u);
  EXPECT_EQ(s->Find("other", "customers")->oid, 200u);
  EXPECT_TRUE(s->Find("", "v")->IsView());
  EXPECT_NE(s->Find("", "v")->view_definition.find("SELECT"), std::string::npos);
  EXPECT_EQ(s->Find("", "pg_class")->oid, 400u);
  EXPECT_EQ(s->Find("", "nothing"), nullptr);
  EXPECT_EQ(s->ByOid(999), nullptr);
  EXPECT_TRUE(s->IsUserFunction("shout"));
  EXPECT_FALSE(s->IsUserFunction("upper"));
}

TEST(CatalogSnapshot, PgCatalogIsSearchedFirstUnlessThePathPlacesIt) {
  std::vector<Row> rows = {
      {"s", "1", "public", std::nullopt, std::nullopt, std::nullopt},
      {"r", "1", "public", "pg_class", "r", std::nullopt},
      {"r", "2", "pg_catalog", "pg_class", "r", std::nullopt},
  };
  EXPECT_EQ(CatalogSnapshot::FromRows(rows, 1)->Find("", "pg_class")->oid, 2u);
  rows.push_back({"s", "0", "public", std::nullopt, std::nullopt, std::nullopt});
  rows[0] = {"s", "2", "pg_catalog", std::nullopt, std::nullopt, std::nullopt};
  EXPECT_EQ(CatalogSnapshot::FromRows(rows, 1)->Find("", "pg_class")->oid, 1u);
}

// A session that found the fingerprint its database's snapshot was fetched under uses that
// snapshot's relations with its own search path; the rows of the check are only 'h' and 's'.
TEST(CatalogSnapshot, ACheckedSessionSharesRelationsWithItsOwnSearchPath) {
  auto rows = Rows();
  rows.push_back({"h", "417:123,44:900", std::nullopt, std::nullopt, std::nullopt, std::nullopt});
  auto base = CatalogSnapshot::FromRows(rows, 1);
  EXPECT_EQ(CatalogSnapshot::FingerprintOf(rows), "417:123,44:900");
  const std::vector<Row> check = {
      {"h", "417:123,44:900", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
      {"s", "2", "public", std::nullopt, std::nullopt, std::nullopt},
      {"s", "1", "other", std::nullopt, std::nullopt, std::nullopt}};
  EXPECT_EQ(CatalogSnapshot::SearchPathOf(check), (std::vector<std::string>{"other", "public"}));
  auto mine = CatalogSnapshot::WithSearchPath(*base, check, 5);
  EXPECT_EQ(mine->generation(), 5u);
  EXPECT_EQ(mine->size(), base->size());
  EXPECT_EQ(mine->ByOid(100), base->ByOid(100));      // shared, not copied
  EXPECT_EQ(mine->Find("", "customers")->oid, 200u);  // other.customers, by its own path
  EXPECT_EQ(base->Find("", "customers")->oid, 100u);
  EXPECT_TRUE(mine->IsUserFunction("shout"));
  EXPECT_EQ(CatalogSnapshot::FingerprintOf(Rows()), std::nullopt);
}

TEST(CatalogCache, AnswersOnlyTheSameDatabasePathAndFingerprint) {
  CatalogCache cache;
  EXPECT_FALSE(cache.Has("shop"));
  auto snap = CatalogSnapshot::FromRows(Rows(), 1);  // path pg_catalog, public
  cache.Put("shop", "f1", snap);
  EXPECT_TRUE(cache.Has("shop"));
  EXPECT_FALSE(cache.Has("sho"));
  EXPECT_FALSE(cache.Has("shop2"));
  const std::vector<std::string> path = {"pg_catalog", "public"};
  EXPECT_EQ(cache.Find("shop", path, "f1"), snap);
  EXPECT_EQ(cache.Find("shop", path, "f2"), nullptr);                 // the catalog changed
  EXPECT_EQ(cache.Find("shop", {"other", "public"}, "f1"), nullptr);  // views read otherwise
  EXPECT_EQ(cache.Find("other", path, "f1"), nullptr);
  cache.Put("shop", "f2", snap);  // a later fetch replaces it
  EXPECT_EQ(cache.Find("shop", path, "f1"), nullptr);
  EXPECT_EQ(cache.Find("shop", path, "f2"), snap);
  cache.Put("shop", "", snap);  // no fingerprint: never shared
  EXPECT_EQ(cache.Find("shop", path, ""), nullptr);
  // A database whose catalog keeps changing is checked only now and then.
  for (int i = 0; i < CatalogCache::kMissesToPause; ++i)
    EXPECT_EQ(cache.Find("shop", path, "changed"), nullptr);
  int asked = 0;
  for (uint32_t i = 0; i < 4 * CatalogCache::kPausePeriod; ++i) asked += cache.Has("shop");
  EXPECT_EQ(asked, 4);
  EXPECT_EQ(cache.Find("shop", path, "f2"), snap);  // a hit: every session checks again
  EXPECT_TRUE(cache.Has("shop") && cache.Has("shop"));
  // Bounded: the oldest entry goes.
  for (size_t i = 0; i < CatalogCache::kMaxEntries; ++i)
    cache.Put("db" + std::to_string(i), "f", snap);
  EXPECT_FALSE(cache.Has("shop"));
  EXPECT_TRUE(cache.Has("db0"));
}

TEST(CatalogCache, ASessionStartsOnACatalogReadWithinFreshBySameSettings) {
  CatalogCache cache;
  auto snap = CatalogSnapshot::FromRows(Rows(), 1);
  const std::vector<std::string> path = {"pg_catalog", "public"};
  const auto now = CatalogCache::Clock::now();
  EXPECT_FALSE(cache.FreshStart("shop", "user=ann"));
  cache.Put("shop", "f1", snap);
  cache.Verified("shop", "user=ann", "f1", path, now);
  auto fresh = cache.FreshStart("shop", "user=ann");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->snapshot, snap);
  EXPECT_EQ(fresh->fingerprint, "f1");
  EXPECT_FALSE(cache.FreshStart("shop", "user=bob"));  // other settings: its own path
  EXPECT_FALSE(cache.FreshStart("mall", "user=ann"));
  // A later read of the database found it changed: no session starts on the old snapshot.
  cache.Verified("shop", "", "f2", {}, now + std::chrono::milliseconds(1));
  EXPECT_FALSE(cache.FreshStart("shop", "user=ann"));
  // Read too long ago.
  cache.Verified("shop", "user=ann", "f1", path, now - 2 * CatalogCache::kFresh);
  cache.Verified("mall", "user=ann", "f1", path, now - 2 * CatalogCache::kFresh);
  cache.Put("mall", "f1", snap);
  EXPECT_FALSE(cache.FreshStart("mall", "user=ann"));
}

TEST(CatalogCache, ASnapshotIsConfirmedByAnySessionsLaterReadOfTheSameCatalog) {
  CatalogCache cache;
  const auto now = CatalogCache::Clock::now();
  const auto old = now - 2 * CatalogCache::kFresh;
  EXPECT_EQ(cache.Confirmed("shop", "f1", now), now);  // confirmed just now by itself
  EXPECT_FALSE(cache.Confirmed("shop", "f1", old));    // stale: check again
  cache.Verified("shop", "", "f1", {}, now);           // another session read the same
  EXPECT_EQ(cache.Confirmed("shop", "f1", old), now);
  EXPECT_FALSE(cache.Confirmed("shop", "f0", old));  // … not the snapshot this one holds
  EXPECT_FALSE(cache.Confirmed("shop", "", old));
}

}  // namespace
}  // namespace veil::sql
