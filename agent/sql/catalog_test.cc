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

}  // namespace
}  // namespace veil::sql
