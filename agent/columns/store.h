// ColumnStore: which base columns (endpoint, database, schema.table.column) veild has learned
// are sensitive, and why (SPEC §6.1). Profile rules and column names are decided from the
// profile each time (masker::MaskingProfile::PolicyFor); what this store adds is what only
// traffic can tell:
//   content  the column's values keep getting masked as entity E: at least kMinMasked values
//            and at least kMinShare of the values seen (`veilctl discover` samples columns so
//            that this happens on purpose, passive learning does it as clients read);
//   lineage  a statement wrote a value derived from a sensitive column into it (INSERT …
//            SELECT, UPDATE … SET, CREATE TABLE AS): data cannot be laundered through a table.
// A column once sensitive stays so; counts keep growing. Entities are stored by name, so a
// profile's custom entities survive a restart and a reload.
//
// Columns are kept by name, and with their identity where the caller knows it (PostgreSQL:
// the table's OID and the column's attnum). What was learned follows the identity through a
// rename made outside veild (a migration that swaps `notes` and `legacy_ref`): when a name is
// tracked with an identity other than the one it had, the values now under it are those of
// the column that had that identity, so that column's knowledge moves to the name. The
// name's own sensitivity stays (erring the safe way); what it held as evidence of being
// harmless (values seen with nothing masked, a clean sample) does not, since it was about
// other values. A table dropped and made again under its name is therefore sampled again.
//
// Persisted in state_dir/columns.db (SQLite, 0600, WAL). Sessions update counters in memory on
// their own threads (one short mutex hold per batch of rows); Flush() writes what changed and
// is called from a timer off the data path, and at shutdown. A crash loses at most the counts
// since the last flush, never a column already learned.
//
// Thread-safe. Entry pointers from Track() stay valid for the store's life.
//
//   auto store = ColumnStore::Open(state_dir + "/columns.db");
//   ColumnStore::Entry* e = (*store)->Track({"orders-db", "shop", "public", "customers", "notes"});
//   (*store)->Observe(e, 64, {{"EMAIL", 12}});
//   if (auto c = (*store)->Learned(e)) ... c->entity == "EMAIL", c->source == kContent
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/sqlite.h"

namespace veil::agent {

struct ColumnKey {
  std::string endpoint, database, schema, table, column;
  std::string Display() const { return schema + "." + table + "." + column; }
  bool operator==(const ColumnKey&) const = default;
};

// Where a column is in its database, however it is named: PostgreSQL's pg_attribute.attrelid
// and attnum. Zero where not known (MySQL, a table a statement is about to create).
struct ColumnId {
  uint32_t relid = 0;
  int32_t attnum = 0;
  bool known() const { return relid != 0; }
  bool operator==(const ColumnId&) const = default;
};

enum class ColumnSource : uint8_t { kRule, kName, kContent, kLineage };
std::string_view ColumnSourceName(ColumnSource s);

struct ColumnClass {
  std::string entity;  // "EMAIL", or a custom entity's name
  ColumnSource source = ColumnSource::kContent;
  double confidence = 0;  // content: share of values seen that were masked as `entity`
  uint64_t observed = 0;  // values seen (non-NULL)
  uint64_t masked = 0;    // of them masked as `entity`
};

class ColumnStore {
 public:
  static constexpr uint64_t kMinMasked = 3;
  static constexpr double kMinShare = 0.01;

  struct Entry;

  // Opens or creates the database (0600). Errors name the file.
  static Result<std::unique_ptr<ColumnStore>> Open(const std::string& path);
  // Nothing persisted: tests, and veild without a writable state_dir.
  static std::unique_ptr<ColumnStore> InMemory();
  ~ColumnStore();

  // The entry of a base column, created on first use, with its identity when known (see
  // above: a name met with another identity takes that column's knowledge). Never null.
  Entry* Track(const ColumnKey& key, ColumnId id = {});
  // Values of the column a result carried: how many (non-NULL), and how many of them were
  // masked, per entity name.
  void Observe(Entry* e, uint64_t values,
               std::span<const std::pair<std::string_view, uint64_t>> masked);
  // A statement wrote a value derived from a column sensitive as `entity` into this one.
  void MarkLineage(Entry* e, std::string_view entity);
  // A profile rule (or a telling name) that makes this column sensitive matched it as `named`
  // (its schema, table and column; endpoint and database are the entry's): kept with what is
  // known of it, so that after a rename outside veild the column, under its new name, is still
  // the one the rule names (while the rule stands). RuleOf: none noted.
  void NoteRule(Entry* e, const ColumnKey& named);
  std::optional<ColumnKey> RuleOf(const Entry* e) const;
  // Its classification if it is sensitive by content or lineage.
  std::optional<ColumnClass> Learned(const Entry* e) const;
  // The same for a column that may never have been tracked; tracks nothing (a lookup of every
  // name a statement mentions must not fill `veilctl columns` with non-columns).
  std::optional<ColumnClass> LearnedFor(const ColumnKey& key) const;
  // What its content has shown so far, sensitive or not: values seen, values masked (any
  // entity), and whether veild has read a sample of it (MarkSampled).
  struct Content {
    uint64_t observed = 0;
    uint64_t masked = 0;
    bool sampled = false;
  };
  Content ContentOf(const Entry* e) const;
  // The same for a column that may never have been tracked (zeros then); tracks nothing.
  Content ContentFor(const ColumnKey& key) const;
  void MarkSampled(Entry* e);
  // Whether a table's (`key.column` ignored) sample has been read whole in this run (MySQL
  // reads each table's sample before the first statement that names it).
  bool TableSampled(const ColumnKey& key) const;
  void MarkTableSampled(const ColumnKey& key);
  // Every column of an endpoint with what was learned of it, sensitive or not (then `cls`
  // holds its counts and most masked entity), by database, schema, table, column.
  struct Listed {
    ColumnKey key;
    ColumnClass cls;
    bool sensitive = false;
  };
  std::vector<Listed> List(std::string_view endpoint) const;

  // Writes changed entries. Safe to call from any thread; no-op for InMemory().
  Status Flush();
  // Flushes every `period` on a thread of its own until the store is destroyed (which flushes
  // once more). Errors are logged, and the entries stay dirty for the next try.
  void StartFlusher(std::chrono::milliseconds period);

 private:
  ColumnStore() = default;
  Status Load();
  static std::optional<ColumnClass> Decide(const Entry& e);
  static Content ContentLocked(const Entry& e);
  // What an entry knows of the values under its name.
  struct Knowledge {
    uint64_t observed = 0;
    std::map<std::string, uint64_t, std::less<>> masked;
    std::string lineage_entity;
    bool sampled = false;
    std::string rule;  // NoteRule's names, encoded
  };
  void MoveIdentity(Entry* e, ColumnId id);
  void MarkDirty(Entry* e);
  static std::string IdKey(const ColumnKey& k, ColumnId id);
  struct Row;
  Status Write(const std::vector<Row>& rows);

  mutable std::mutex mu_;
  std::mutex flush_mu_;                                              // one Flush() writes at a time
  sqlite::Db db_;                                                    // null: in memory
  std::unordered_map<std::string, std::unique_ptr<Entry>> entries_;  // by Flatten(key)
  std::vector<Entry*> dirty_;
  // By IdKey: the entry that last took each identity (it may have moved on since: check its
  // id), and what an entry knew of an identity it left, until a name takes that identity.
  std::unordered_map<std::string, Entry*> by_id_;
  std::unordered_map<std::string, Knowledge> left_;
  std::unordered_set<std::string> tables_sampled_;  // by Flatten(key without its column)
  std::condition_variable_any stop_cv_;
  std::jthread flusher_;  // declared last: joined before the members it uses go
};

}  // namespace veil::agent
