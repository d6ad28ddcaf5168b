// CatalogSnapshot: what veild knows of one database's catalog, for the lineage analysis of
// statements (analysis.h): every relation a session can see (tables, views, materialized and
// foreign tables, system catalogs included) with its columns in attribute order, the
// definitions of user views, the names of functions that are not PostgreSQL's own, and the
// session's search path.
//
// veild fetches it inside the client's own session with Query() at an idle ReadyForQuery (the
// only moment a statement of veil's cannot land inside the client's work), and builds it from
// the answer's rows with FromRows(). It is immutable: a refresh (after DDL or SET search_path)
// builds a new one with a higher generation(), and an analysis cache keys on it.
//
//   auto snap = CatalogSnapshot::FromRows(rows, next_generation++);
//   const CatalogRelation* r = snap->Find("", "customers");  // by the search path
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace veil::sql {

struct CatalogColumn {
  std::string name;
  int16_t attnum = 0;
  uint32_t type_oid = 0;
  // A generated column's expression (pg_get_expr of its pg_attrdef, `reverse(ssn)`): its value
  // is computed from the row's other columns. Empty for every other column.
  std::string generated;
};

struct CatalogRelation {
  uint32_t oid = 0;
  std::string schema, name;
  char kind = 'r';  // pg_class.relkind: r table, p partitioned, v view, m matview, f foreign,
                    // S sequence (pg_dump reads last_value, is_called)
  std::vector<CatalogColumn> columns;  // attnum order, dropped columns excluded
  std::string view_definition;         // pg_get_viewdef, for user views and matviews
  std::vector<uint32_t> parents;       // pg_inherits: a partition's or child table's parents
  bool IsView() const { return kind == 'v' || kind == 'm'; }
  bool IsSystem() const { return schema == "pg_catalog" || schema == "information_schema"; }
};

class CatalogSnapshot {
 public:
  using Row = std::vector<std::optional<std::string>>;

  // The one read-only statement that fetches a snapshot: rows of six text columns tagged by
  // their first ('r' relation, 'c' column and its generation expression, 'v' view definition, 'f'
  // function, 'o' operator, 't' type a user function may run for, 's' search path entry), in a
  // single round trip.
  static const char* Query();
  // Built from Query()'s rows. Rows it does not understand are skipped.
  static std::shared_ptr<const CatalogSnapshot> FromRows(const std::vector<Row>& rows,
                                                         uint64_t generation);
  // An empty snapshot: every name is unknown (nothing fetched yet, or the fetch failed).
  static std::shared_ptr<const CatalogSnapshot> Empty(uint64_t generation = 0);

  // A relation by name. An empty `schema` searches the search path, as PostgreSQL does
  // (pg_catalog first unless the path lists it). Names are compared as stored: the parser has
  // already folded unquoted identifiers to lower case.
  const CatalogRelation* Find(std::string_view schema, std::string_view name) const;
  const CatalogRelation* ByOid(uint32_t oid) const;
  // Every relation of one schema (ALTER SCHEMA … RENAME moves them all).
  std::vector<const CatalogRelation*> InSchema(std::string_view schema) const;
  // Whether a function or procedure of this name exists outside pg_catalog and
  // information_schema: an unqualified call of it may not be PostgreSQL's own.
  bool IsUserFunction(std::string_view name) const;
  // Whether an operator of this name exists outside pg_catalog and information_schema: it runs
  // a function veil cannot follow, as a user function does (by name: overloads on other types
  // count too, which may mask more than needed, never less).
  bool IsUserOperator(std::string_view name) const;
  // Whether a cast to this type may run a user function: a cast whose function lives outside
  // pg_catalog, or a user base type, domain (its CHECK may call one), range or multirange.
  bool IsUserCastTarget(std::string_view type_name) const;
  // Whether some implicit or assignment cast runs a user function: it may run for any
  // statement, with no cast in its text.
  bool HasImplicitUserCasts() const { return implicit_user_casts_; }
  // Whether `name` is the name of a schema, relation, column or function here: a name the
  // catalog gives away to anyone, not a value. Linear: for the rare error path only.
  bool KnowsName(std::string_view name) const;
  const std::vector<std::string>& search_path() const { return search_path_; }
  uint64_t generation() const { return generation_; }
  size_t size() const { return by_oid_.size(); }

 private:
  uint64_t generation_ = 0;
  std::unordered_map<uint32_t, CatalogRelation> by_oid_;  // looked up per result column
  std::map<std::string, uint32_t, std::less<>> by_name_;  // schema '\0' name
  std::set<std::string, std::less<>> user_functions_;
  std::set<std::string, std::less<>> user_operators_;
  std::set<std::string, std::less<>> user_cast_targets_;
  bool implicit_user_casts_ = false;
  std::vector<std::string> search_path_;
};

}  // namespace veil::sql
