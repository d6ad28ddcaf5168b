#include "agent/sql/catalog.h"

#include <algorithm>
#include <charconv>

namespace veil::sql {
namespace {

// pg_is_other_temp_schema: another session's temporary tables are invisible to this one.
constexpr char kQuery[] =
    "SELECT 'r', c.oid::text, n.nspname::text, c.relname::text, c.relkind::text, "
    "(SELECT pg_catalog.string_agg(i.inhparent::text, ',') FROM pg_catalog.pg_inherits i "
    "WHERE i.inhrelid = c.oid) "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') "
    "AND NOT pg_catalog.pg_is_other_temp_schema(n.oid) "
    "UNION ALL "
    "SELECT 'c', a.attrelid::text, a.attnum::text, a.attname::text, a.atttypid::text, "
    "CASE WHEN a.attgenerated <> '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND a.attnum > 0 AND NOT a.attisdropped "
    "AND NOT pg_catalog.pg_is_other_temp_schema(n.oid) "
    "UNION ALL "
    "SELECT 'v', c.oid::text, pg_catalog.pg_get_viewdef(c.oid), NULL, NULL, NULL "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND NOT pg_catalog.pg_is_other_temp_schema(n.oid) "
    "UNION ALL "
    "SELECT DISTINCT 'f', p.proname::text, NULL, NULL, NULL, NULL "
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "UNION ALL "
    "SELECT DISTINCT 'o', o.oprname::text, NULL, NULL, NULL, NULL "
    "FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "UNION ALL "
    "SELECT DISTINCT 't', t.typname::text, c.castcontext::text, NULL, NULL, NULL "
    "FROM pg_catalog.pg_cast c JOIN pg_catalog.pg_proc p ON p.oid = c.castfunc "
    "JOIN pg_catalog.pg_namespace pn ON pn.oid = p.pronamespace "
    "JOIN pg_catalog.pg_type t ON t.oid = c.casttarget "
    "WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema') "
    "UNION ALL "
    "SELECT DISTINCT 't', t.typname::text, 'e', NULL, NULL, NULL "
    "FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace "
    "WHERE t.typtype IN ('b', 'd', 'r', 'm') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "UNION ALL "
    "SELECT 's', s.ord::text, s.nsp::text, NULL, NULL, NULL "
    "FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) WITH ORDINALITY AS s(nsp, ord)";

template <typename T>
bool Number(const std::optional<std::string>& s, T* out) {
  if (!s) return false;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), *out);
  return ec == std::errc() && p == s->data() + s->size();
}

}  // namespace

const char* CatalogSnapshot::Query() { return kQuery; }

std::shared_ptr<const CatalogSnapshot> CatalogSnapshot::Empty(uint64_t generation) {
  auto s = std::make_shared<CatalogSnapshot>();
  s->generation_ = generation;
  s->search_path_ = {"pg_catalog", "public"};
  return s;
}

std::shared_ptr<const CatalogSnapshot> CatalogSnapshot::FromRows(const std::vector<Row>& rows,
                                                                 uint64_t generation) {
  auto s = std::make_shared<CatalogSnapshot>();
  s->generation_ = generation;
  std::vector<std::pair<int, std::string>> path;
  for (const Row& r : rows) {
    if (r.size() < 6 || !r[0] || r[0]->size() != 1) continue;
    switch ((*r[0])[0]) {
      case 'r': {
        uint32_t oid = 0;
        if (!Number(r[1], &oid) || !r[2] || !r[3] || !r[4] || r[4]->empty()) break;
        CatalogRelation& rel = s->by_oid_[oid];
        rel.oid = oid;
        rel.schema = *r[2];
        rel.name = *r[3];
        rel.kind = (*r[4])[0];
        // A partition or an inheritance child: its parents' rules are its own.
        if (r[5]) {
          std::string_view rest = *r[5];
          while (!rest.empty()) {
            const size_t comma = rest.find(',');
            uint32_t parent = 0;
            const std::string_view item = rest.substr(0, comma);
            auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), parent);
            if (ec == std::errc()) rel.parents.push_back(parent);
            rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
          }
        }
        s->by_name_[rel.schema + '\0' + rel.name] = oid;
        break;
      }
      case 'c': {
        uint32_t oid = 0, type = 0;
        int16_t attnum = 0;
        if (!Number(r[1], &oid) || !Number(r[2], &attnum) || !r[3] || !Number(r[4], &type)) break;
        s->by_oid_[oid].columns.push_back({*r[3], attnum, type, r[5].value_or("")});
        break;
      }
      case 'v': {
        uint32_t oid = 0;
        if (Number(r[1], &oid) && r[2]) s->by_oid_[oid].view_definition = *r[2];
        break;
      }
      case 'f':
        if (r[1]) s->user_functions_.insert(*r[1]);
        break;
      case 'o':
        if (r[1]) s->user_operators_.insert(*r[1]);
        break;
      case 't':
        if (r[1]) s->user_cast_targets_.insert(*r[1]);
        // An implicit or assignment cast runs without any cast in the statement's text.
        if (r[2] && (*r[2] == "i" || *r[2] == "a")) s->implicit_user_casts_ = true;
        break;
      case 's': {
        int ord = 0;
        if (Number(r[1], &ord) && r[2]) path.emplace_back(ord, *r[2]);
        break;
      }
    }
  }
  // Columns may arrive before their relation and in any order; relations without a 'r' row
  // (dropped meanwhile) are removed.
  for (auto it = s->by_oid_.begin(); it != s->by_oid_.end();) {
    if (it->second.name.empty()) {
      it = s->by_oid_.erase(it);
      continue;
    }
    std::sort(it->second.columns.begin(), it->second.columns.end(),
              [](const CatalogColumn& a, const CatalogColumn& b) { return a.attnum < b.attnum; });
    ++it;
  }
  std::sort(path.begin(), path.end());
  for (auto& [_, nsp] : path) s->search_path_.push_back(std::move(nsp));
  if (s->search_path_.empty()) s->search_path_ = {"pg_catalog", "public"};
  return s;
}

std::vector<const CatalogRelation*> CatalogSnapshot::InSchema(std::string_view schema) const {
  std::string prefix(schema);
  prefix.push_back('\0');
  std::vector<const CatalogRelation*> out;
  for (auto it = by_name_.lower_bound(prefix);
       it != by_name_.end() && std::string_view(it->first).starts_with(prefix); ++it)
    if (const CatalogRelation* r = ByOid(it->second)) out.push_back(r);
  return out;
}

const CatalogRelation* CatalogSnapshot::Find(std::string_view schema, std::string_view name) const {
  std::string key;
  auto lookup = [&](std::string_view nsp) -> const CatalogRelation* {
    key.assign(nsp);
    key.push_back('\0');
    key.append(name);
    auto it = by_name_.find(key);
    if (it == by_name_.end()) return nullptr;
    return ByOid(it->second);
  };
  if (!schema.empty()) return lookup(schema);
  // current_schemas(true) already holds pg_catalog (and pg_temp_N) where PostgreSQL searches
  // them; a path without pg_catalog searches it first.
  if (std::find(search_path_.begin(), search_path_.end(), "pg_catalog") == search_path_.end())
    if (auto* r = lookup("pg_catalog")) return r;
  for (const auto& nsp : search_path_)
    if (auto* r = lookup(nsp)) return r;
  return nullptr;
}

const CatalogRelation* CatalogSnapshot::ByOid(uint32_t oid) const {
  auto it = by_oid_.find(oid);
  return it == by_oid_.end() ? nullptr : &it->second;
}

bool CatalogSnapshot::IsUserFunction(std::string_view name) const {
  return user_functions_.contains(name);
}

bool CatalogSnapshot::IsUserOperator(std::string_view name) const {
  return user_operators_.contains(name);
}

bool CatalogSnapshot::IsUserCastTarget(std::string_view type_name) const {
  return user_cast_targets_.contains(type_name);
}

bool CatalogSnapshot::KnowsName(std::string_view name) const {
  if (user_functions_.contains(name)) return true;
  for (const auto& [_, rel] : by_oid_) {
    if (rel.name == name || rel.schema == name) return true;
    for (const auto& c : rel.columns)
      if (c.name == name) return true;
  }
  return false;
}

}  // namespace veil::sql
