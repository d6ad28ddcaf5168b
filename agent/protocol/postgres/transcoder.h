// PgTranscoder: what crosses veil on a PostgreSQL session, minus the sockets.
//
// The session feeds it every frontend message it forwards (so it can follow the extended
// query protocol: which statement and portal a DataRow belongs to, in which formats) and every
// chunk of backend bytes; it returns the bytes to send to the client, with
//   - DataRows masked column by column (text and binary formats; rows of one read masked in one
//     Hyperscan pass) and rebuilt with correct length prefixes,
//   - COPY TO STDOUT data masked line by line (text and CSV),
//   - ErrorResponse and NoticeResponse texts masked (a failed cast must not echo a value),
//   - SCRAM-SHA-256-PLUS removed from the SASL mechanisms (channel binding cannot cross a
//     TLS-terminating proxy), and BackendKeyData replaced by veil's own key.
//
// It never buffers a result: each call consumes the complete frames of its input and returns.
// Not thread-safe; one per session.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/columns/store.h"
#include "agent/lineage.h"
#include "agent/protocol/postgres/analysis.h"
#include "agent/protocol/postgres/copy_rows.h"
#include "agent/protocol/postgres/decoder.h"
#include "agent/protocol/postgres/message.h"
#include "agent/statement_record.h"
#include "common/result.h"
#include "masker/masker.h"
#include "masker/strategy.h"

namespace veil::agent {

// How one result column is masked.
struct ColumnPlan {
  enum class Kind : uint8_t {
    kPass,         // not text, no rule: forwarded as is
    kText,         // text bytes (text format, or a binary format whose bytes are text)
    kJsonbBinary,  // binary jsonb: a version byte, then text
    kNullIfRule,   // binary non-text under a masking rule: becomes NULL
    // Derived from a sensitive column (or not followed): the whole value is replaced, never
    // scanned (SPEC §6.1).
    kReplace,             // text: the entity's token ([EMAIL], or the hash token of the value)
    kReplaceJson,         // json / text-format jsonb: the token as a JSON string
    kReplaceJsonbBinary,  // binary jsonb: version byte, then the token as a JSON string
    kNull,                // any other type: NULL
  };
  Kind kind = Kind::kPass;
  masker::ColumnPolicy policy;
  std::string label;  // "schema.table.column" when the table is known, else the column name
  // kReplace*: the entity whose token replaces the value (kMaxEntities: several or none, the
  // token is [MASKED]) and its strategy (redact or hash: a derived value has no partial form).
  uint8_t entity = masker::kMaxEntities;
  masker::Strategy strategy = masker::Strategy::kRedact;
  bool by_lineage = false;  // replaced or nulled because of its lineage (usage events)
  // Other sessions' statement text (sql::IsStatementText): its literals are normalized out
  // before the value is masked by content (kText); in COPY it is replaced whole.
  bool statement_text = false;
  // A base column not yet known to be sensitive: what its values turn out to hold is counted
  // (ColumnStore "content" learning). Null otherwise.
  ColumnStore::Entry* learn = nullptr;
};

struct ResultPlan {
  std::vector<ColumnPlan> columns;
};

// Large-object reads over the fast-path protocol (libpq's lo_open, lo_read, lo_lseek, lo_tell,
// lo_close: what pg_dump reads large objects with) are the only function calls veild lets
// through. Their answers are descriptors and offsets; loread's bytes are withheld by the
// transcoder (the object reads as empty), so no content reaches the client.
bool FastPathLargeObjectRead(uint32_t function_oid);

class PgTranscoder {
 public:
  // veil_key: the BackendKeyData veil hands the client instead of the upstream's.
  PgTranscoder(std::shared_ptr<const masker::MaskingProfile> profile, int32_t veil_pid,
               std::string veil_secret);

  // A frontend message the session forwards upstream (already decoded and validated).
  void OnFrontend(const pg::FrontendMessage& message);

  // Lineage (SPEC §6.1): the analysis of a statement's text into the lineage of its result
  // columns. Called with each Query's and Parse's text when the first answer to it arrives
  // (so that any catalog lookup sent before it has been consumed), in the order the server
  // runs them. Without an analyzer every column is planned from its own name and content
  // alone (tests of the codec paths); with one, a column whose lineage is missing is masked
  // whole.
  using Analyzer = std::function<std::shared_ptr<const QueryLineage>(std::string_view sql)>;
  void SetAnalyzer(Analyzer analyzer) { analyzer_ = std::move(analyzer); }
  // Lineage from this session's own analysis (PostgreSQL's parser and the catalog the lookups
  // fetch): what veild uses.
  void EnableLineage() {
    analyzer_ = [this](std::string_view sql) { return analysis_.Lineage(sql); };
  }
  SessionAnalysis& analysis() { return analysis_; }
  // Whether a base column is sensitive for this session (profile rule, name, or learned).
  bool IsSensitive(const SourceColumn& c) { return SensitivityOf(c).sensitive; }
  // A statement about to run writes values into columns: a column that receives a value
  // derived from a sensitive one becomes sensitive too (ColumnStore "lineage"), so data cannot
  // be laundered through a table. No-op without a column store.
  void NoteWrites(const sql::StatementAnalysis& statement);
  // Where learned sensitive columns are kept (null: none), and this session's endpoint and
  // database, the key of its columns there.
  void SetColumnStore(ColumnStore* store, std::string endpoint, std::string database) {
    columns_ = store;
    endpoint_ = std::move(endpoint);
    database_ = std::move(database);
  }
  // The endpoint's shared snapshots (null: none). The session's first catalog lookup is then
  // CheckQuery() when another session of the same database fetched one, and its own full fetch
  // is shared; none at all when a session with the same `settings` (its startup parameters
  // that may change what names mean) read it within CatalogCache::kFresh. The database is
  // SetColumnStore's.
  void SetCatalogCache(std::shared_ptr<sql::CatalogCache> cache, std::string settings = {}) {
    catalog_cache_ = std::move(cache);
    settings_ = std::move(settings);
  }
  // Before a Query, Parse or Bind (`next`) the client sends with nothing else outstanding: when the
  // session's catalog was last confirmed more than CatalogCache::kFresh ago (by this session or
  // another of its database), CheckQuery() for the session to send upstream first, and hold the
  // client's message until CatalogInFlight() is false. A catalog changed outside veild (a view
  // replaced, a column renamed by a migration) is then read before the statement is.
  std::optional<std::string> TakeStaleCheck(const pg::FrontendMessage& next);

  // COPY … TO STDOUT names no columns, and rules and column hints need them. For such a Query,
  // sent while the session is idle (so a failure cannot abort the client's transaction), this
  // returns a catalog query for the session to send upstream just before it; its answer is
  // consumed here, never shown to the client. Call OnFrontend(that Query) before forwarding.
  std::optional<std::string> CopyColumnLookup(const pg::Query& query);

  // Content before derivation: a value computed from a text column (reverse(memo)) no longer
  // looks like what it came from, so content scanning cannot judge it. Before such a statement
  // (SQL text of a Query or Parse), while the session is idle, this returns a sample query
  // (the first kSampleRows values of each such column whose content veild has not yet seen)
  // for the session to send just before it; its answer is scanned and consumed here, never
  // shown. A derived value of a column whose content showed any sensitive value, or was never
  // seen (in a transaction, where no sample is taken), is then replaced whole. Call
  // OnFrontend(that Query) when sending it.
  static constexpr size_t kSampleRows = 200;
  std::optional<std::string> ContentSample(std::string_view sql);

  // Result columns carry table OIDs; rules name tables. When the session is idle after
  // authentication (and again when a result named a table veil did not know), this returns a
  // catalog query mapping relation OIDs to schema and table names, for the session to send
  // upstream before it lets the client go on (before forwarding ReadyForQuery). Its answer is
  // consumed here. Call OnFrontend(that Query) when sending it.
  std::optional<std::string> TakeCatalogLookup();

  // The client encoding the upstream reported (ParameterStatus client_encoding, at start-up
  // or after a SET) when it is one veil cannot read: anything but UTF8 and SQL_ASCII. The
  // masker reads UTF-8; a name in Cyrillic sent as WIN1251 or GB18030 bytes is no name to it.
  // The session ends with FATAL 0A000 once this returns a value. Until then (the rows of the
  // statements after the SET in the same exchange), a text value that is not valid UTF-8 is
  // replaced whole.
  std::optional<std::string> TakeUnreadableEncoding() {
    return std::exchange(unreadable_encoding_, {});
  }

  // Consumes the complete backend frames at the start of `in` (*consumed bytes) and appends
  // what the client must receive to *out. An error is a protocol violation: end the session
  // with FATAL 08P01.
  Status OnBackend(std::span<const uint8_t> in, size_t* consumed, std::vector<uint8_t>* out);

  // The max-rows guardrail: a result that would pass `limit` rows ends with ERROR 42501 after
  // `limit` of them; the rest of it is dropped. Rows fetched through a portal in several
  // Executes count together.
  void SetMaxRows(std::optional<uint64_t> limit) { max_rows_ = limit; }

  // The upstream's own BackendKeyData, once seen (for forwarding CancelRequests).
  const std::optional<std::pair<int32_t, std::string>>& upstream_key() const {
    return upstream_key_;
  }
  // True once the upstream said ReadyForQuery the first time (authentication done).
  bool ready() const { return ready_; }
  // A catalog lookup has been asked for or sent and not yet answered: statements the client
  // sends meanwhile would be checked against a catalog about to change, so the session holds
  // them until it is in.
  bool CatalogInFlight() const {
    if (catalog_pending_) return true;
    for (const auto& p : pending_)
      if (p.kind == Expect::kCatalog || p.kind == Expect::kCatalogCheck) return true;
    return false;
  }

  const masker::MaskStats& stats() const { return stats_; }

  // The session replaced a blocked Query or Parse by one that raises veil's error; the next
  // OnFrontend(Query or Parse) is that replacement, and its statement is recorded as
  // `original` with `guardrail`.
  void NoteBlocked(std::string_view original, std::string guardrail) {
    blocked_ = {std::string(original), std::move(guardrail)};
  }
  // Statements whose results are complete (in order) since the last call.
  std::vector<StatementRecord> TakeStatements() { return std::exchange(completed_, {}); }

  // A RowDescription kept beyond its frame (statements and portals described earlier).
  struct Description {
    struct Field {
      std::string name;
      uint32_t type_oid = 0;
      int16_t format = 0;
      uint32_t table_oid = 0;
      int16_t column = 0;  // attribute number in table_oid
    };
    std::vector<Field> fields;
    // The plan last computed for it, and for which formats: a named statement executed many
    // times is planned once (PolicyFor matches globs and names, per column).
    std::vector<int16_t> plan_formats;
    std::optional<ResultPlan> plan;
    // Its prepared statement's name (for a portal: the portal's statement), and that
    // statement's lineage once looked up (null: not yet, or not known).
    std::optional<std::string> statement;  // "" is the unnamed statement
    std::shared_ptr<const QueryLineage> lineage;
    static Description Of(const pg::RowDescription& d);
  };
  // The plan for a result: `formats` overrides the description's formats when not empty
  // (Bind's result-format codes: one code applies to all columns). `lineage`: the statement's
  // (null: unknown).
  ResultPlan PlanFor(const Description& description, std::span<const int16_t> formats,
                     const StatementLineage* lineage = nullptr);

 private:
  enum class Expect : uint8_t {
    kQuery,
    kParse,
    kBind,
    kDescribeStatement,
    kDescribePortal,
    kExecute,
    kClose,
    kSync,
    kFunctionCall,
    kLookup,
    kCatalog,
    kCatalogCheck,
    kSample
  };
  struct Pending {
    Expect kind;
    std::string name;  // statement or portal; a Query's text
  };
  struct PortalState {
    std::string statement;
    std::vector<int16_t> result_formats;
  };

  Status TranscodeFrames(std::span<const uint8_t> in, size_t* consumed, std::vector<uint8_t>* out);
  const ResultPlan* PlanForRows();
  // Lineage: of the Query at the head of pending_, statement by statement; of a prepared one.
  const StatementLineage* CurrentQueryStatement();
  std::shared_ptr<const QueryLineage> StatementLineageOf(const std::string& statement);
  // Column plans.
  struct Sensitivity {
    bool sensitive = false;
    uint8_t entity = 0;
    bool written = false;  // a statement wrote a sensitive column's derived values into it
  };
  Sensitivity SensitivityOf(const SourceColumn& c);
  // The column store's entry of a base column, with its identity in the session's catalog
  // (what was learned of it follows a rename made outside veild).
  ColumnStore::Entry* TrackColumn(const SourceColumn& c) const;
  // Whether the relation an error names has a sensitive column (true when it is not known).
  bool RelationMayHoldSensitive(std::string_view schema, std::string_view table);
  // The profile's policy for a base column; a partition or inheritance child without a rule
  // of its own takes its nearest ancestor's (a rule on customers.ssn covers customers_2024).
  masker::ColumnPolicy PolicyOf(const SourceColumn& c, bool text_like) const;
  masker::ColumnPolicy FindPolicy(const SourceColumn& c, bool text_like) const;  // uncached
  masker::ColumnPolicy FindNamedPolicy(const SourceColumn& c, bool text_like) const;
  std::optional<uint32_t> ColumnType(const SourceColumn& c) const;  // from the catalog
  // A derived value of this column may pass by content: it is not sensitive, and a sample
  // (or enough reads) of it showed no sensitive value.
  bool DerivationSafe(const SourceColumn& c);
  void PlanDirect(const SourceColumn& base, bool text_like, ColumnPlan* c);
  void PlanReplaced(const ColumnLineage& l, uint32_t type_oid, bool binary, ColumnPlan* c);
  void AppendReplacement(const ColumnPlan& plan, std::string_view value, std::string* out);
  void NoteLineage(const ColumnPlan& plan);
  void Learn(size_t rows);
  const ResultPlan& CachedPlan(Description& d, std::span<const int16_t> formats);
  bool ConsumeLookup(const pg::BackendMessage& m);
  // A COPY OUT message's rows, each field masked with its column's policy, into *out.
  enum class CopyMasked : uint8_t { kUnchanged, kChanged, kUnreadable };
  CopyMasked MaskCopyData(std::string_view data, std::string* out);
  bool MaskCopyRow(std::string* out);
  // Ends a COPY OUT with an error instead of data veil cannot mask; its rest is dropped.
  Status RefuseCopy(std::string_view why, std::vector<uint8_t>* out);
  Status FlushRows(std::vector<uint8_t>* out);
  void ReplaceUnreadable(const ResultPlan& plan);
  void MaskResponse(pg::ResponseFields* fields, bool notice);
  bool StatementReadsSensitive();
  void PopUntilSync();
  // Statement accounting (StatementRecord).
  struct OpenStatement {
    enum class Kind : uint8_t { kSimple, kExecute, kSync } kind;
    StatementRecord record;
    std::chrono::steady_clock::time_point started;
    masker::MaskStats masked_base;
    uint64_t rows_base = 0, bytes_base = 0;
  };
  void OpenStatementFor(OpenStatement::Kind kind, std::string text, std::string guardrail);
  void CompleteFront();
  void RebaseFront();
  uint64_t BytesSent() const { return bytes_sent_ + (out_ ? out_->size() - out_start_ : 0); }

  std::shared_ptr<const masker::MaskingProfile> profile_;
  // PolicyOf's answers for the catalog they were found with (generation): a result's plan asks
  // for the same columns again and again, and the profile is the session's for its lifetime.
  mutable std::unordered_map<std::string, masker::ColumnPolicy> policies_;
  mutable uint64_t policies_generation_ = 0;
  masker::Masker masker_;
  pg::BackendDecoder decoder_;
  pg::BackendMessage message_;
  int32_t veil_pid_;
  std::string veil_secret_;
  std::optional<std::pair<int32_t, std::string>> upstream_key_;
  bool ready_ = false;

  std::deque<Pending> pending_;
  std::map<std::string, Description, std::less<>> statement_descriptions_;
  std::map<std::string, Description, std::less<>> portal_descriptions_;
  std::map<std::string, PortalState, std::less<>> portals_;

  std::optional<ResultPlan> query_plan_;     // simple query: the current result's plan
  std::optional<ResultPlan> execute_plan_;   // extended: the plan of the Execute at the head
  std::optional<ResultPlan> fallback_plan_;  // rows whose description veil did not see
  // Lineage.
  Analyzer analyzer_;
  ColumnStore* columns_ = nullptr;
  std::string endpoint_, database_;
  std::shared_ptr<const QueryLineage> query_lineage_;  // of the Query at the head of pending_
  size_t query_statement_ = 0;                         // its statement now answering
  std::map<std::string, std::shared_ptr<const QueryLineage>, std::less<>> statement_lineage_;
  std::optional<masker::StrategyApplier> applier_;  // tokens of derived values (hash)
  std::string replacement_;
  struct Learning {
    uint64_t values = 0;
    std::vector<std::pair<std::string_view, uint64_t>> masked;
  };
  std::vector<Learning> learning_;  // per column of the batch being flushed
  bool in_copy_out_ = false;
  bool dropping_copy_ = false;  // a COPY OUT refused (binary, unreadable): data not forwarded
  std::optional<uint64_t> max_rows_;
  uint64_t rows_in_result_ = 0;
  bool dropping_rows_ = false;  // past max-rows: rows and the end of the result are dropped
  char tx_status_ = 'I';        // from the last ReadyForQuery
  // COPY OUT column context: names from the lookup, format (CSV or text) from the statement.
  bool lookup_pending_ = false;
  std::vector<std::string> lookup_columns_;
  // Content samples: one result per table, its columns' store entries in order.
  bool sample_pending_ = false;
  std::vector<std::vector<ColumnStore::Entry*>> sample_sets_;
  size_t sample_next_ = 0;  // the result being read, +1 (0: none yet)
  std::vector<Learning> sample_counts_;
  std::set<ColumnStore::Entry*> sample_tried_;  // a failed sample is not tried again
  // COPY OUT: how its rows are written (from the statement), the plan of their columns, and
  // whether the next row is the header of column names.
  sql::CopyFormat copy_format_;
  std::optional<ResultPlan> copy_plan_;
  bool copy_header_pending_ = false;
  std::vector<CopyField> copy_fields_;
  std::string copy_scratch_;  // decoded values of the row being masked
  // Relation OID → (schema, table), from the catalog lookups.
  // The catalog (from the lookups) and the lineage of this session's statements.
  SessionAnalysis analysis_;
  std::vector<sql::CatalogSnapshot::Row> catalog_rows_;  // of the lookup being answered
  bool catalog_failed_ = false;
  uint64_t catalog_generation_ = 0;
  bool catalog_wanted_ = false;  // idle and the map is missing or stale
  std::optional<std::string> unreadable_encoding_;
  // Code veil cannot follow ran in this session (DO, CALL, a user function): a cursor it opened
  // is described with no names (RenameFields) and gives no rows (CountsUnseenCursor).
  bool opaque_ran_ = false;
  // Code veil cannot follow that may write ran (DO, CALL): every later result but the system
  // catalog's own tables is replaced whole, since any table or setting may hold what it wrote.
  bool opaque_wrote_ = false;
  bool code_created_ = false;  // the session created a function or procedure (pg_temp.f())
  void OpaqueRan(const StatementLineage& l);
  bool opaque_since_ready_ = false;  // … since the last ReadyForQuery: settings not reported
  bool RenameFields(const pg::RowDescription& m, std::vector<uint8_t>* out);
  const StatementLineage* AnsweringLineage();
  bool CountsUnseenCursor();
  bool AnsweringOpaque();
  bool catalog_pending_ = false;  // the next OnFrontend(Query) is the catalog lookup
  bool catalog_check_ = false;    // … and it is CheckQuery()
  bool catalog_check_tried_ = false;
  std::shared_ptr<sql::CatalogCache> catalog_cache_;
  std::string settings_;                                // SetCatalogCache's
  std::string fingerprint_;                             // of the snapshot in use
  sql::CatalogCache::Clock::time_point verified_at_{};  // the snapshot was confirmed then
  sql::CatalogCache::Clock::time_point lookup_sent_at_{};
  // A stale check holds the client's message: a changed catalog is fetched right after it,
  // inside a transaction too.
  bool stale_held_ = false;
  bool check_failed_ = false;       // a lookup failed: none is sent inside a transaction again
  bool unnamed_statement_ = false;  // the client parsed one since its last Query
  // A check was sent for a relation the snapshot lacks since the snapshot was last stale.
  bool unknown_checked_ = false;
  bool NamesUnknownRelation(const pg::FrontendMessage& m);
  void InstallCatalog(std::shared_ptr<const sql::CatalogSnapshot> snapshot);
  // The last frame was ReadyForQuery('I') with nothing else expected: the only moment a query
  // of veil's cannot land inside the client's work (a COPY FROM STDIN, a pipeline).
  bool idle_boundary_ = false;

  // The batch of DataRows being masked: cells of whole rows, views into the input.
  const ResultPlan* batch_plan_ = nullptr;
  std::vector<masker::Masker::Cell> batch_cells_;
  std::deque<std::string> normalized_cells_;  // statement texts of the batch, literals out
  std::vector<const masker::ColumnPolicy*> batch_policies_;
  std::vector<masker::ValueOutcome> outcomes_;
  std::vector<std::string> outs_;
  std::vector<pg::ColumnValue> row_values_;
  std::string copy_masked_;
  masker::MaskStats stats_;

  std::deque<OpenStatement> open_statements_;
  std::vector<StatementRecord> completed_;
  struct StatementText {
    std::string text, guardrail;
  };
  std::map<std::string, StatementText, std::less<>> statement_texts_;  // by prepared name
  std::optional<std::pair<std::string, std::string>> blocked_;         // NoteBlocked
  uint64_t rows_sent_ = 0, bytes_sent_ = 0;
  const std::vector<uint8_t>* out_ = nullptr;  // OnBackend's output while it runs
  size_t out_start_ = 0;
};

}  // namespace veil::agent
