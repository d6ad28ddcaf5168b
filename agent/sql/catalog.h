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

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
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
  // A cheaper statement than Query() for a session whose database's snapshot another session
  // fetched (CatalogCache): the catalog's fingerprint ('h' row, which Query() returns too, read
  // in the same statement as its rows) and this session's search path ('s' rows).
  static const char* CheckQuery();
  static std::optional<std::string> FingerprintOf(const std::vector<Row>& rows);
  // The search path of a lookup's 's' rows; PostgreSQL's default when it has none.
  static std::vector<std::string> SearchPathOf(const std::vector<Row>& rows);
  // `base`'s relations, functions and types (shared, not copied) with the search path of
  // `path_rows`: what Query() would have returned to a session whose CheckQuery() found the
  // fingerprint `base` was fetched under.
  static std::shared_ptr<const CatalogSnapshot> WithSearchPath(const CatalogSnapshot& base,
                                                               const std::vector<Row>& path_rows,
                                                               uint64_t generation);
  // An empty snapshot: every name is unknown (nothing fetched yet, or the fetch failed).
  static std::shared_ptr<const CatalogSnapshot> Empty(uint64_t generation = 0);
  // `base` as another session's snapshot: the same objects and search path, its own generation.
  static std::shared_ptr<const CatalogSnapshot> Renumbered(const CatalogSnapshot& base,
                                                           uint64_t generation);

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
  bool HasImplicitUserCasts() const { return objects_->implicit_user_casts; }
  // Whether `name` is the name of a schema, relation, column or function here: a name the
  // catalog gives away to anyone, not a value. Linear: for the rare error path only.
  bool KnowsName(std::string_view name) const;
  const std::vector<std::string>& search_path() const { return search_path_; }
  // What the snapshots of one fetch share (WithSearchPath, Renumbered): with the search path,
  // all a statement's analysis depends on besides its text.
  std::shared_ptr<const void> objects() const { return objects_; }
  uint64_t generation() const { return generation_; }
  size_t size() const { return objects_->by_oid.size(); }

 private:
  // What the database holds, the same for every session of it: shared by the snapshots made
  // from one fetch (WithSearchPath).
  struct Objects {
    std::unordered_map<uint32_t, CatalogRelation> by_oid;  // looked up per result column
    std::map<std::string, uint32_t, std::less<>> by_name;  // schema '\0' name
    std::set<std::string, std::less<>> user_functions;
    std::set<std::string, std::less<>> user_operators;
    std::set<std::string, std::less<>> user_cast_targets;
    bool implicit_user_casts = false;
  };
  uint64_t generation_ = 0;
  std::shared_ptr<const Objects> objects_;
  std::vector<std::string> search_path_;
};

// Snapshots shared by the sessions of one endpoint, so that a new session does not fetch and
// build the whole catalog again (about 13 ms for a small database on a fresh backend): by
// database and search path (view definitions are written relative to it), each valid for the
// fingerprint it was fetched under. A session sends CheckQuery() instead of Query() when
// Has() its database, and uses Find()'s snapshot only on an exact fingerprint match; any
// other answer, or a failed check, fetches in full. Entries live at most kMaxAge (the
// fingerprint hashes transaction ids, which wrap around) and at most kMaxEntries are kept. A
// database whose catalog changes between most sessions (an application that makes temporary
// tables) would pay the check and the full read: after kMissesToPause misses in a row, Has()
// says no to all but one session in kPausePeriod until a check hits again.
//
// Freshness: a session reads each statement against a catalog whose fingerprint was read, by
// it or by another session of the database, at most kFresh before the statement arrived
// (Verified, Confirmed); a session whose startup settings (user, options, …) match a session
// that read the catalog within kFresh starts on that snapshot with no query (FreshStart). What
// a session sees is then as fresh as if it had been opened up to kFresh earlier, which any
// client can do anyway; a change made outside veild reaches every session within kFresh.
// Thread-safe.
class CatalogCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kFresh{500};
  static constexpr size_t kMaxEntries = 32;
  static constexpr std::chrono::seconds kMaxAge{600};
  static constexpr int kMissesToPause = 4;
  static constexpr uint32_t kPausePeriod = 8;

  bool Has(std::string_view database);
  std::shared_ptr<const CatalogSnapshot> Find(std::string_view database,
                                              const std::vector<std::string>& search_path,
                                              std::string_view fingerprint);
  void Put(std::string_view database, std::string fingerprint,
           std::shared_ptr<const CatalogSnapshot> snapshot);

  // A lookup sent at `at` read `fingerprint` of `database`. `settings`: the startup settings of
  // the session that sent it, when it was the session's first lookup (its search path is then
  // the one those settings give), else empty.
  void Verified(std::string_view database, std::string_view settings, std::string_view fingerprint,
                const std::vector<std::string>& search_path, Clock::time_point at);
  // For a session whose snapshot of `database`, read with `fingerprint`, was confirmed at
  // `since`: when it was last confirmed (by it, or by a later read of another session that
  // found the same fingerprint), if within kFresh of now.
  std::optional<Clock::time_point> Confirmed(std::string_view database,
                                             std::string_view fingerprint, Clock::time_point since);
  // For a session that starts with `settings`: the snapshot a session with the same settings
  // read within kFresh, if nothing read since found the catalog changed.
  struct Fresh {
    std::shared_ptr<const CatalogSnapshot> snapshot;
    std::string fingerprint;
    Clock::time_point at;
  };
  std::optional<Fresh> FreshStart(std::string_view database, std::string_view settings);

 private:
  struct Entry {
    std::string fingerprint;
    std::shared_ptr<const CatalogSnapshot> snapshot;
    std::chrono::steady_clock::time_point at;
    uint64_t order = 0;  // of its Put: the lowest goes first
  };
  using Key = std::pair<std::string, std::vector<std::string>>;  // database, search path
  struct Checks {
    int misses = 0;  // in a row
    uint32_t asked = 0;
  };
  std::mutex mu_;
  std::map<Key, Entry, std::less<>> entries_;
  std::map<std::string, Checks, std::less<>> checks_;  // by database
  uint64_t puts_ = 0;
  struct Read {
    std::string fingerprint;
    std::vector<std::string> search_path;
    Clock::time_point at;
  };
  std::map<std::string, Read, std::less<>> newest_;             // by database
  std::map<std::pair<std::string, std::string>, Read> starts_;  // by database, settings
};

}  // namespace veil::sql
