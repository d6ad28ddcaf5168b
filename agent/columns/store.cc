#include "agent/columns/store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace veil::agent {

struct ColumnStore::Entry {
  ColumnKey key;
  ColumnId id;  // the identity it was last tracked with
  uint64_t observed = 0;
  std::map<std::string, uint64_t, std::less<>> masked;  // entity name → values masked
  std::string lineage_entity;                           // set by MarkLineage
  bool dirty = false;
  std::optional<ColumnClass> learned;  // Decide() after every change
  bool sampled = false;                // veild read a sample of it (in memory: once per run)
  std::string rule;                    // NoteRule's
};

namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS columns (
  endpoint       TEXT NOT NULL,
  database       TEXT NOT NULL,
  schema_name    TEXT NOT NULL,
  table_name     TEXT NOT NULL,
  column_name    TEXT NOT NULL,
  observed       INTEGER NOT NULL,
  lineage_entity TEXT NOT NULL,
  relid          INTEGER NOT NULL DEFAULT 0,
  attnum         INTEGER NOT NULL DEFAULT 0,
  rule_name      TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (endpoint, database, schema_name, table_name, column_name)
);
CREATE TABLE IF NOT EXISTS column_masked (
  endpoint    TEXT NOT NULL,
  database    TEXT NOT NULL,
  schema_name TEXT NOT NULL,
  table_name  TEXT NOT NULL,
  column_name TEXT NOT NULL,
  entity      TEXT NOT NULL,
  masked      INTEGER NOT NULL,
  PRIMARY KEY (endpoint, database, schema_name, table_name, column_name, entity)
);
)sql";

// Unit separators cannot occur in identifiers a client can send (the decoder refuses no
// bytes, but PostgreSQL identifiers never hold \x1f unquoted and quoted ones are rare; a
// collision would only merge two columns' counts, never unmask one).
std::string Flatten(const ColumnKey& k) {
  std::string s;
  s.reserve(k.endpoint.size() + k.database.size() + k.schema.size() + k.table.size() +
            k.column.size() + 4);
  for (const std::string* p : {&k.endpoint, &k.database, &k.schema, &k.table, &k.column}) {
    s += *p;
    s.push_back('\x1f');
  }
  return s;
}

}  // namespace

std::string ColumnStore::IdKey(const ColumnKey& k, ColumnId id) {
  return k.endpoint + '\x1f' + k.database + '\x1f' + std::to_string(id.relid) + '.' +
         std::to_string(id.attnum);
}

struct ColumnStore::Row {
  Entry* entry;
  ColumnKey key;
  ColumnId id;
  uint64_t observed;
  std::string lineage;
  std::string rule;
  std::vector<std::pair<std::string, uint64_t>> masked;
};
std::string_view ColumnSourceName(ColumnSource s) {
  switch (s) {
    case ColumnSource::kRule:
      return "rule";
    case ColumnSource::kName:
      return "name";
    case ColumnSource::kContent:
      return "content";
    case ColumnSource::kLineage:
      return "lineage";
  }
  return "content";
}

ColumnStore::~ColumnStore() {
  if (flusher_.joinable()) {
    flusher_.request_stop();
    flusher_.join();
  }
  if (Status s = Flush(); !s.ok()) spdlog::error("columns: {}", s.error().message);
}

void ColumnStore::StartFlusher(std::chrono::milliseconds period) {
  if (!db_ || flusher_.joinable()) return;
  flusher_ = std::jthread([this, period](std::stop_token stop) {
    std::mutex m;
    std::unique_lock lock(m);
    while (!stop.stop_requested()) {
      // Returns at the period or at once when the store is being destroyed.
      stop_cv_.wait_for(lock, stop, period, [] { return false; });
      if (stop.stop_requested()) break;  // the destructor flushes once more
      if (Status s = Flush(); !s.ok()) spdlog::error("columns: {}", s.error().message);
    }
  });
}

Result<std::unique_ptr<ColumnStore>> ColumnStore::Open(const std::string& path) {
  VEIL_ASSIGN_OR_RETURN(db, sqlite::Open(path, 0600));
  VEIL_RETURN_IF_ERROR(sqlite::Exec(db.get(), kSchema));
  // A store written before columns had identities and rules: add them (0 and '', not known).
  VEIL_ASSIGN_OR_RETURN(info, sqlite::Stmt::Prepare(db.get(), "PRAGMA table_info(columns)"));
  bool has_relid = false, has_rule = false;
  while (true) {
    VEIL_ASSIGN_OR_RETURN(row, info.Step());
    if (!row) break;
    has_relid |= info.Text(1) == "relid";
    has_rule |= info.Text(1) == "rule_name";
  }
  if (!has_relid)
    VEIL_RETURN_IF_ERROR(
        sqlite::Exec(db.get(),
                     "ALTER TABLE columns ADD COLUMN relid INTEGER NOT NULL DEFAULT 0;"
                     "ALTER TABLE columns ADD COLUMN attnum INTEGER NOT NULL DEFAULT 0;"));
  if (!has_rule)
    VEIL_RETURN_IF_ERROR(sqlite::Exec(
        db.get(), "ALTER TABLE columns ADD COLUMN rule_name TEXT NOT NULL DEFAULT '';"));
  std::unique_ptr<ColumnStore> store(new ColumnStore());
  store->db_ = std::move(db);
  if (Status s = store->Load(); !s.ok()) return Error{path + ": " + s.error().message};
  return store;
}

std::unique_ptr<ColumnStore> ColumnStore::InMemory() {
  return std::unique_ptr<ColumnStore>(new ColumnStore());
}

Status ColumnStore::Load() {
  VEIL_ASSIGN_OR_RETURN(
      cols, sqlite::Stmt::Prepare(db_.get(),
                                  "SELECT endpoint, database, schema_name, table_name, "
                                  "column_name, observed, lineage_entity, relid, attnum, "
                                  "rule_name FROM columns"));
  while (true) {
    VEIL_ASSIGN_OR_RETURN(row, cols.Step());
    if (!row) break;
    ColumnKey k{cols.Text(0), cols.Text(1), cols.Text(2), cols.Text(3), cols.Text(4)};
    auto e = std::make_unique<Entry>();
    e->key = k;
    e->observed = static_cast<uint64_t>(cols.Int(5));
    e->lineage_entity = cols.Text(6);
    e->id = {static_cast<uint32_t>(cols.Int(7)), static_cast<int32_t>(cols.Int(8))};
    e->rule = cols.Text(9);
    if (e->id.known()) by_id_[IdKey(k, e->id)] = e.get();
    entries_[Flatten(k)] = std::move(e);
  }
  VEIL_ASSIGN_OR_RETURN(masked,
                        sqlite::Stmt::Prepare(db_.get(),
                                              "SELECT endpoint, database, schema_name, table_name, "
                                              "column_name, entity, masked FROM column_masked"));
  while (true) {
    VEIL_ASSIGN_OR_RETURN(row, masked.Step());
    if (!row) break;
    ColumnKey k{masked.Text(0), masked.Text(1), masked.Text(2), masked.Text(3), masked.Text(4)};
    auto it = entries_.find(Flatten(k));
    if (it == entries_.end()) continue;  // a partial write; the count is re-learned
    it->second->masked[masked.Text(5)] = static_cast<uint64_t>(masked.Int(6));
  }
  for (auto& [_, e] : entries_) e->learned = Decide(*e);
  return Status::Ok();
}

std::optional<ColumnClass> ColumnStore::Decide(const Entry& e) {
  if (!e.lineage_entity.empty()) {
    return ColumnClass{e.lineage_entity, ColumnSource::kLineage, 1.0, e.observed, 0};
  }
  const std::pair<const std::string, uint64_t>* best = nullptr;
  for (const auto& m : e.masked)
    if (!best || m.second > best->second) best = &m;
  if (!best || best->second < kMinMasked || e.observed == 0) return std::nullopt;
  const double share = static_cast<double>(best->second) / static_cast<double>(e.observed);
  if (share < kMinShare) return std::nullopt;
  return ColumnClass{best->first, ColumnSource::kContent, std::min(1.0, share), e.observed,
                     best->second};
}

ColumnStore::Entry* ColumnStore::Track(const ColumnKey& key, ColumnId id) {
  std::string flat = Flatten(key);
  std::lock_guard lock(mu_);
  auto& slot = entries_[flat];
  if (!slot) {
    slot = std::make_unique<Entry>();
    slot->key = key;
  }
  if (id.known() && slot->id != id) MoveIdentity(slot.get(), id);
  return slot.get();
}

// `e`'s name now holds the column `id` (a rename outside veild, or a table made again). Under
// mu_.
void ColumnStore::MoveIdentity(Entry* e, ColumnId id) {
  Knowledge had{e->observed, std::move(e->masked), std::move(e->lineage_entity), e->sampled,
                std::move(e->rule)};
  const bool was_sensitive = e->learned.has_value();

  // What is known of the values now under the name: the entry that holds `id`, or what the
  // last one to hold it knew when it left.
  Knowledge now;
  const std::string idk = IdKey(e->key, id);
  if (auto o = by_id_.find(idk); o != by_id_.end() && o->second != e && o->second->id == id) {
    const Entry& from = *o->second;
    now = {from.observed, from.masked, from.lineage_entity, from.sampled, from.rule};
  } else if (auto l = left_.find(idk); l != left_.end()) {
    now = std::move(l->second);
  }
  left_.erase(idk);
  // What this entry knew of the identity it leaves, for the name that takes it next.
  if (e->id.known()) {
    const std::string old = IdKey(e->key, e->id);
    if (auto h = by_id_.find(old); h != by_id_.end() && h->second == e) {
      left_[old] = had;
      by_id_.erase(h);
    }
  }
  if (!e->id.known()) {
    // Tracked by name only until now (a store from before identities, a column a statement
    // created): the same column, most likely; kept, with what the identity adds.
    now.observed = std::max(now.observed, had.observed);
    now.sampled = now.sampled || had.sampled;
    if (now.rule.empty()) now.rule = std::move(had.rule);
  }
  if (was_sensitive || !e->id.known()) {
    // Sensitive stays sensitive: its counts and lineage are kept beside the new ones.
    for (auto& [entity, n] : had.masked) {
      uint64_t& m = now.masked[entity];
      m = std::max(m, n);
    }
    if (now.lineage_entity.empty()) now.lineage_entity = std::move(had.lineage_entity);
    now.observed = std::max(now.observed, had.observed);
  }
  e->observed = now.observed;
  e->masked = std::move(now.masked);
  e->lineage_entity = std::move(now.lineage_entity);
  e->sampled = now.sampled;
  e->rule = std::move(now.rule);
  e->id = id;
  by_id_[idk] = e;
  e->learned = Decide(*e);
  MarkDirty(e);
}

void ColumnStore::Observe(Entry* e, uint64_t values,
                          std::span<const std::pair<std::string_view, uint64_t>> masked) {
  if (values == 0 && masked.empty()) return;
  std::lock_guard lock(mu_);
  e->observed += values;
  for (const auto& [entity, n] : masked) {
    auto it = e->masked.find(entity);
    if (it == e->masked.end()) it = e->masked.emplace(std::string(entity), 0).first;
    it->second += n;
  }
  e->learned = Decide(*e);
  MarkDirty(e);
}

void ColumnStore::MarkLineage(Entry* e, std::string_view entity) {
  std::lock_guard lock(mu_);
  if (!e->lineage_entity.empty()) return;
  e->lineage_entity = std::string(entity);
  e->learned = Decide(*e);
  MarkDirty(e);
}

// A rule's names are kept as "schema\x1ftable\x1fcolumn" (column rule_name).
void ColumnStore::NoteRule(Entry* e, const ColumnKey& named) {
  std::string rule = named.schema + '\x1f' + named.table + '\x1f' + named.column;
  std::lock_guard lock(mu_);
  if (e->rule == rule) return;
  e->rule = std::move(rule);
  MarkDirty(e);
}

std::optional<ColumnKey> ColumnStore::RuleOf(const Entry* e) const {
  std::string rule;
  ColumnKey named;
  {
    std::lock_guard lock(mu_);
    rule = e->rule;
    named.endpoint = e->key.endpoint;
    named.database = e->key.database;
  }
  const size_t a = rule.find('\x1f'), b = rule.find('\x1f', a + 1);
  if (a == std::string::npos || b == std::string::npos) return std::nullopt;
  named.schema = rule.substr(0, a);
  named.table = rule.substr(a + 1, b - a - 1);
  named.column = rule.substr(b + 1);
  return named;
}

// Under mu_.
void ColumnStore::MarkDirty(Entry* e) {
  if (e->dirty) return;
  e->dirty = true;
  dirty_.push_back(e);
}

ColumnStore::Content ColumnStore::ContentLocked(const Entry& e) {
  Content c{.observed = e.observed, .sampled = e.sampled};
  for (const auto& [_, n] : e.masked) c.masked += n;
  return c;
}

ColumnStore::Content ColumnStore::ContentOf(const Entry* e) const {
  std::lock_guard lock(mu_);
  return ContentLocked(*e);
}

ColumnStore::Content ColumnStore::ContentFor(const ColumnKey& key) const {
  std::string flat = Flatten(key);
  std::lock_guard lock(mu_);
  auto it = entries_.find(flat);
  return it == entries_.end() ? Content{} : ContentLocked(*it->second);
}

namespace {

std::string TableOf(ColumnKey key) {
  key.column.clear();
  return Flatten(key);
}

}  // namespace

bool ColumnStore::TableSampled(const ColumnKey& key) const {
  std::string flat = TableOf(key);
  std::lock_guard lock(mu_);
  return tables_sampled_.contains(flat);
}

void ColumnStore::MarkTableSampled(const ColumnKey& key) {
  std::string flat = TableOf(key);
  std::lock_guard lock(mu_);
  tables_sampled_.insert(std::move(flat));
}

void ColumnStore::MarkSampled(Entry* e) {
  std::lock_guard lock(mu_);
  e->sampled = true;
}

std::optional<ColumnClass> ColumnStore::Learned(const Entry* e) const {
  std::lock_guard lock(mu_);
  return e->learned;
}

std::optional<ColumnClass> ColumnStore::LearnedFor(const ColumnKey& key) const {
  std::string flat = Flatten(key);
  std::lock_guard lock(mu_);
  auto it = entries_.find(flat);
  if (it == entries_.end()) return std::nullopt;
  return it->second->learned;
}

std::vector<ColumnStore::Listed> ColumnStore::List(std::string_view endpoint) const {
  std::vector<Listed> out;
  std::lock_guard lock(mu_);
  for (const auto& [_, e] : entries_) {
    if (e->key.endpoint != endpoint) continue;
    Listed l{e->key, {}, e->learned.has_value()};
    if (e->learned) {
      l.cls = *e->learned;
    } else {
      l.cls.observed = e->observed;
      for (const auto& m : e->masked)
        if (m.second > l.cls.masked) {
          l.cls.entity = m.first;
          l.cls.masked = m.second;
        }
      l.cls.confidence = e->observed ? static_cast<double>(l.cls.masked) / e->observed : 0;
    }
    out.push_back(std::move(l));
  }
  std::sort(out.begin(), out.end(), [](const Listed& a, const Listed& b) {
    return std::tie(a.key.database, a.key.schema, a.key.table, a.key.column) <
           std::tie(b.key.database, b.key.schema, b.key.table, b.key.column);
  });
  return out;
}

Status ColumnStore::Flush() {
  // Copy what changed under the lock; write without it, so sessions never wait on the disk.

  std::lock_guard write(flush_mu_);  // a later flush never overtakes an earlier one
  std::vector<Row> rows;
  {
    std::lock_guard lock(mu_);
    if (!db_) {
      for (Entry* e : dirty_) e->dirty = false;
      dirty_.clear();
      return Status::Ok();
    }
    rows.reserve(dirty_.size());
    for (Entry* e : dirty_) {
      e->dirty = false;
      rows.push_back({e,
                      e->key,
                      e->id,
                      e->observed,
                      e->lineage_entity,
                      e->rule,
                      {e->masked.begin(), e->masked.end()}});
    }
    dirty_.clear();
  }
  if (rows.empty()) return Status::Ok();
  Status written = Write(rows);
  if (!written.ok()) {  // kept for the next flush
    std::lock_guard lock(mu_);
    for (const Row& r : rows) {
      if (!r.entry->dirty) {
        r.entry->dirty = true;
        dirty_.push_back(r.entry);
      }
    }
  }
  return written;
}

Status ColumnStore::Write(const std::vector<Row>& rows) {
  sqlite::Transaction tx(db_.get());
  VEIL_RETURN_IF_ERROR(tx.Begin());
  VEIL_ASSIGN_OR_RETURN(
      col, sqlite::Stmt::Prepare(db_.get(),
                                 "INSERT OR REPLACE INTO columns (endpoint, database, schema_name, "
                                 "table_name, column_name, observed, lineage_entity, relid, "
                                 "attnum, rule_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  VEIL_ASSIGN_OR_RETURN(
      m, sqlite::Stmt::Prepare(
             db_.get(), "INSERT OR REPLACE INTO column_masked VALUES (?, ?, ?, ?, ?, ?, ?)"));
  // An entry's counts are written whole: entities it no longer counts (its name took another
  // column's identity) go.
  VEIL_ASSIGN_OR_RETURN(
      clear, sqlite::Stmt::Prepare(db_.get(),
                                   "DELETE FROM column_masked WHERE endpoint = ? AND database = ? "
                                   "AND schema_name = ? AND table_name = ? AND column_name = ?"));
  for (const Row& r : rows) {
    clear.Reset();
    clear.Bind(1, r.key.endpoint)
        .Bind(2, r.key.database)
        .Bind(3, r.key.schema)
        .Bind(4, r.key.table)
        .Bind(5, r.key.column);
    VEIL_RETURN_IF_ERROR(clear.Run());
    col.Reset();
    col.Bind(1, r.key.endpoint)
        .Bind(2, r.key.database)
        .Bind(3, r.key.schema)
        .Bind(4, r.key.table)
        .Bind(5, r.key.column)
        .Bind(6, static_cast<int64_t>(r.observed))
        .Bind(7, r.lineage)
        .Bind(8, static_cast<int64_t>(r.id.relid))
        .Bind(9, static_cast<int64_t>(r.id.attnum))
        .Bind(10, r.rule);
    VEIL_RETURN_IF_ERROR(col.Run());
    for (const auto& [entity, n] : r.masked) {
      m.Reset();
      m.Bind(1, r.key.endpoint)
          .Bind(2, r.key.database)
          .Bind(3, r.key.schema)
          .Bind(4, r.key.table)
          .Bind(5, r.key.column)
          .Bind(6, entity)
          .Bind(7, static_cast<int64_t>(n));
      VEIL_RETURN_IF_ERROR(m.Run());
    }
  }
  return tx.Commit();
}

}  // namespace veil::agent
