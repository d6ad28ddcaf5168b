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
    "UNION ALL ";

// The session's search path, in order ('s' rows).
constexpr char kPathRows[] =
    "SELECT 's', s.ord::text, s.nsp::text, NULL, NULL, NULL "
    "FROM pg_catalog.unnest(pg_catalog.current_schemas(true)) WITH ORDINALITY AS s(nsp, ord)";

// The catalog's fingerprint (one 'h' row): for each catalog the snapshot is read from, how many
// rows it has and the sum of a hash of each row's key and xmin. A committed change of a catalog
// row writes a row version with a new xmin, a delete takes one away: either changes the sum,
// short of hash sums that cancel, which whoever runs the DDL cannot aim at (a plain sum of
// xmin could cancel: a transaction older than the row it replaces lowers the sum, and another
// row it writes can raise it by as much). Entries of CatalogCache live at most kMaxAge, so
// transaction ids cannot wrap around meanwhile. VACUUM and ANALYZE update pg_class in place
// and change nothing here. pg_attribute, pg_proc, pg_operator, pg_cast and pg_type are read
// from OID 16384 on (by their indexes: a few rows, not thousands): what initdb made below it
// changes only with allow_system_table_mods. Views (pg_rewrite), schemas, inheritance and
// column defaults are read whole. Temporary objects are left out: another session's are
// invisible to this one, and a session's own come and go by its own statements, which read the
// catalog again (or by code veild cannot follow, after which results are masked whole); with
// them in, an application that makes temporary tables would change the fingerprint all the time
// and make every session read the whole catalog again. Names starting "pg_" are reserved, so
// only PostgreSQL's own temporary schemas match.
#define VEIL_XMIN_HASH(key, from)                    \
  "(SELECT pg_catalog.count(*)::text || ':' || "     \
  "COALESCE(pg_catalog.sum(pg_catalog.hashtext(" key \
  " || ':' || xmin::text)), 0)::text "               \
  "FROM " from ")"
#define VEIL_TEMP_REL "(SELECT oid FROM pg_catalog.pg_class WHERE relpersistence = 't')"
#define VEIL_TEMP_NSP                                                            \
  "(SELECT oid FROM pg_catalog.pg_namespace WHERE nspname LIKE 'pg\\_temp\\_%' " \
  "OR nspname LIKE 'pg\\_toast\\_temp\\_%')"
constexpr char kFingerprintRow[] =
    "SELECT 'h', pg_catalog.concat_ws(',', "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_class WHERE relpersistence <> 't'") ", "
    VEIL_XMIN_HASH("attrelid::text || ':' || attnum::text",
                   "pg_catalog.pg_attribute WHERE attrelid >= 16384 "
                   "AND attrelid NOT IN " VEIL_TEMP_REL) ", "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_namespace WHERE oid NOT IN " VEIL_TEMP_NSP) ", "
    VEIL_XMIN_HASH("inhrelid::text || ':' || inhseqno::text",
                   "pg_catalog.pg_inherits WHERE inhrelid NOT IN " VEIL_TEMP_REL) ", "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_attrdef WHERE adrelid NOT IN " VEIL_TEMP_REL) ", "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_rewrite WHERE ev_class NOT IN " VEIL_TEMP_REL) ", "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_proc WHERE oid >= 16384 "
                                "AND pronamespace NOT IN " VEIL_TEMP_NSP) ", "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_operator WHERE oid >= 16384 "
                                "AND oprnamespace NOT IN " VEIL_TEMP_NSP) ", "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_cast WHERE oid >= 16384") ", "
    VEIL_XMIN_HASH("oid::text", "pg_catalog.pg_type WHERE oid >= 16384 "
                                "AND typnamespace NOT IN " VEIL_TEMP_NSP) "), "
    "NULL, NULL, NULL, NULL ";
#undef VEIL_TEMP_REL
#undef VEIL_TEMP_NSP
#undef VEIL_XMIN_HASH

template <typename T>
bool Number(const std::optional<std::string>& s, T* out) {
  if (!s) return false;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), *out);
  return ec == std::errc() && p == s->data() + s->size();
}

}  // namespace

std::vector<std::string> CatalogSnapshot::SearchPathOf(const std::vector<Row>& rows) {
  std::vector<std::pair<int, std::string>> path;
  for (const auto& r : rows) {
    int ord = 0;
    if (r.size() >= 3 && r[0] == "s" && Number(r[1], &ord) && r[2]) path.emplace_back(ord, *r[2]);
  }
  std::sort(path.begin(), path.end());
  std::vector<std::string> out;
  for (auto& [_, nsp] : path) out.push_back(std::move(nsp));
  if (out.empty()) out = {"pg_catalog", "public"};
  return out;
}

const char* CatalogSnapshot::Query() {
  static const std::string query = std::string(kQuery) + kFingerprintRow + "UNION ALL " + kPathRows;
  return query.c_str();
}

const char* CatalogSnapshot::CheckQuery() {
  static const std::string query = std::string(kFingerprintRow) + "UNION ALL " + kPathRows;
  return query.c_str();
}

std::optional<std::string> CatalogSnapshot::FingerprintOf(const std::vector<Row>& rows) {
  for (const auto& r : rows)
    if (r.size() >= 2 && r[0] == "h" && r[1] && !r[1]->empty()) return *r[1];
  return std::nullopt;
}

std::shared_ptr<const CatalogSnapshot> CatalogSnapshot::Empty(uint64_t generation) {
  static const auto none = std::make_shared<const Objects>();
  auto s = std::make_shared<CatalogSnapshot>();
  s->generation_ = generation;
  s->objects_ = none;
  s->search_path_ = {"pg_catalog", "public"};
  return s;
}

std::shared_ptr<const CatalogSnapshot> CatalogSnapshot::Renumbered(const CatalogSnapshot& base,
                                                                   uint64_t generation) {
  auto s = std::make_shared<CatalogSnapshot>(base);
  s->generation_ = generation;
  return s;
}

std::shared_ptr<const CatalogSnapshot> CatalogSnapshot::WithSearchPath(
    const CatalogSnapshot& base, const std::vector<Row>& path_rows, uint64_t generation) {
  auto s = std::make_shared<CatalogSnapshot>();
  s->generation_ = generation;
  s->objects_ = base.objects_;
  s->search_path_ = SearchPathOf(path_rows);
  return s;
}

std::shared_ptr<const CatalogSnapshot> CatalogSnapshot::FromRows(const std::vector<Row>& rows,
                                                                 uint64_t generation) {
  auto s = std::make_shared<CatalogSnapshot>();
  auto o = std::make_shared<Objects>();
  s->generation_ = generation;
  for (const Row& r : rows) {
    if (r.size() < 6 || !r[0] || r[0]->size() != 1) continue;
    switch ((*r[0])[0]) {
      case 'r': {
        uint32_t oid = 0;
        if (!Number(r[1], &oid) || !r[2] || !r[3] || !r[4] || r[4]->empty()) break;
        CatalogRelation& rel = o->by_oid[oid];
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
        o->by_name[rel.schema + '\0' + rel.name] = oid;
        break;
      }
      case 'c': {
        uint32_t oid = 0, type = 0;
        int16_t attnum = 0;
        if (!Number(r[1], &oid) || !Number(r[2], &attnum) || !r[3] || !Number(r[4], &type)) break;
        o->by_oid[oid].columns.push_back({*r[3], attnum, type, r[5].value_or("")});
        break;
      }
      case 'v': {
        uint32_t oid = 0;
        if (Number(r[1], &oid) && r[2]) o->by_oid[oid].view_definition = *r[2];
        break;
      }
      case 'f':
        if (r[1]) o->user_functions.insert(*r[1]);
        break;
      case 'o':
        if (r[1]) o->user_operators.insert(*r[1]);
        break;
      case 't':
        if (r[1]) o->user_cast_targets.insert(*r[1]);
        // An implicit or assignment cast runs without any cast in the statement's text.
        if (r[2] && (*r[2] == "i" || *r[2] == "a")) o->implicit_user_casts = true;
        break;
    }
  }
  // Columns may arrive before their relation and in any order; relations without a 'r' row
  // (dropped meanwhile) are removed.
  for (auto it = o->by_oid.begin(); it != o->by_oid.end();) {
    if (it->second.name.empty()) {
      it = o->by_oid.erase(it);
      continue;
    }
    std::sort(it->second.columns.begin(), it->second.columns.end(),
              [](const CatalogColumn& a, const CatalogColumn& b) { return a.attnum < b.attnum; });
    ++it;
  }
  s->objects_ = std::move(o);
  s->search_path_ = SearchPathOf(rows);
  return s;
}

std::vector<const CatalogRelation*> CatalogSnapshot::InSchema(std::string_view schema) const {
  std::string prefix(schema);
  prefix.push_back('\0');
  std::vector<const CatalogRelation*> out;
  for (auto it = objects_->by_name.lower_bound(prefix);
       it != objects_->by_name.end() && std::string_view(it->first).starts_with(prefix); ++it)
    if (const CatalogRelation* r = ByOid(it->second)) out.push_back(r);
  return out;
}

const CatalogRelation* CatalogSnapshot::Find(std::string_view schema, std::string_view name) const {
  std::string key;
  auto lookup = [&](std::string_view nsp) -> const CatalogRelation* {
    key.assign(nsp);
    key.push_back('\0');
    key.append(name);
    auto it = objects_->by_name.find(key);
    if (it == objects_->by_name.end()) return nullptr;
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
  auto it = objects_->by_oid.find(oid);
  return it == objects_->by_oid.end() ? nullptr : &it->second;
}

bool CatalogSnapshot::IsUserFunction(std::string_view name) const {
  return objects_->user_functions.contains(name);
}

bool CatalogSnapshot::IsUserOperator(std::string_view name) const {
  return objects_->user_operators.contains(name);
}

bool CatalogSnapshot::IsUserCastTarget(std::string_view type_name) const {
  return objects_->user_cast_targets.contains(type_name);
}

bool CatalogSnapshot::KnowsName(std::string_view name) const {
  if (objects_->user_functions.contains(name)) return true;
  for (const auto& [_, rel] : objects_->by_oid) {
    if (rel.name == name || rel.schema == name) return true;
    for (const auto& c : rel.columns)
      if (c.name == name) return true;
  }
  return false;
}

bool CatalogCache::Has(std::string_view database) {
  std::lock_guard lock(mu_);
  auto it = entries_.lower_bound(Key{std::string(database), {}});
  if (it == entries_.end() || it->first.first != database) return false;
  auto c = checks_.find(database);
  if (c == checks_.end() || c->second.misses < kMissesToPause) return true;
  return ++c->second.asked % kPausePeriod == 0;  // now and then, to see it settle
}

std::shared_ptr<const CatalogSnapshot> CatalogCache::Find(
    std::string_view database, const std::vector<std::string>& search_path,
    std::string_view fingerprint) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(Key{std::string(database), search_path});
  auto c = checks_.find(database);
  if (c == checks_.end()) c = checks_.emplace(std::string(database), Checks{}).first;
  if (it == entries_.end() || it->second.fingerprint != fingerprint ||
      std::chrono::steady_clock::now() - it->second.at > kMaxAge) {
    ++c->second.misses;
    return nullptr;
  }
  c->second.misses = 0;
  return it->second.snapshot;
}

void CatalogCache::Put(std::string_view database, std::string fingerprint,
                       std::shared_ptr<const CatalogSnapshot> snapshot) {
  if (fingerprint.empty() || !snapshot) return;
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  Key key{std::string(database), snapshot->search_path()};
  if (!entries_.contains(key) && entries_.size() >= kMaxEntries) {
    auto oldest = std::min_element(
        entries_.begin(), entries_.end(),
        [](const auto& a, const auto& b) { return a.second.order < b.second.order; });
    entries_.erase(oldest);
  }
  entries_[std::move(key)] = Entry{std::move(fingerprint), std::move(snapshot), now, ++puts_};
}

void CatalogCache::Verified(std::string_view database, std::string_view settings,
                            std::string_view fingerprint,
                            const std::vector<std::string>& search_path, Clock::time_point at) {
  if (fingerprint.empty()) return;
  std::lock_guard lock(mu_);
  auto newest = newest_.find(database);
  if (newest == newest_.end()) newest = newest_.emplace(std::string(database), Read{}).first;
  if (newest->second.fingerprint.empty() || at >= newest->second.at)
    newest->second = Read{std::string(fingerprint), {}, at};
  if (settings.empty()) return;
  const std::pair<std::string, std::string> key{std::string(database), std::string(settings)};
  if (!starts_.contains(key) && starts_.size() >= 8 * kMaxEntries) {  // bounded: the oldest goes
    auto oldest =
        std::min_element(starts_.begin(), starts_.end(),
                         [](const auto& a, const auto& b) { return a.second.at < b.second.at; });
    starts_.erase(oldest);
  }
  Read& start = starts_[key];
  if (start.fingerprint.empty() || at >= start.at)
    start = Read{std::string(fingerprint), search_path, at};
}

std::optional<CatalogCache::Clock::time_point> CatalogCache::Confirmed(std::string_view database,
                                                                       std::string_view fingerprint,
                                                                       Clock::time_point since) {
  const auto now = Clock::now();
  std::lock_guard lock(mu_);
  auto newest = newest_.find(database);
  auto at = since;
  // Another session read the same catalog later.
  if (newest != newest_.end() && !fingerprint.empty() && newest->second.fingerprint == fingerprint)
    at = std::max(at, newest->second.at);
  if (now - at > kFresh) return std::nullopt;
  return at;
}

std::optional<CatalogCache::Fresh> CatalogCache::FreshStart(std::string_view database,
                                                            std::string_view settings) {
  std::lock_guard lock(mu_);
  auto start = starts_.find({std::string(database), std::string(settings)});
  auto newest = newest_.find(database);
  if (start == starts_.end() || newest == newest_.end()) return std::nullopt;
  const Read& s = start->second;
  // Read within kFresh, and no read since found another catalog.
  if (Clock::now() - s.at > kFresh || newest->second.fingerprint != s.fingerprint)
    return std::nullopt;
  auto it = entries_.find(Key{std::string(database), s.search_path});
  if (it == entries_.end() || it->second.fingerprint != s.fingerprint) return std::nullopt;
  return Fresh{it->second.snapshot, s.fingerprint, newest->second.at};
}

}  // namespace veil::sql
