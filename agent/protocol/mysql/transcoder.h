// MySqlTranscoder: what crosses veil on a MySQL / MariaDB session in the command phase, minus
// the sockets.
//
// The session tells it every command it forwards (OnCommand) and feeds it every chunk of server
// bytes (OnBackend); it returns the bytes the client must receive, with
//   - text and binary result rows masked column by column and rebuilt with correct framing,
//   - error texts masked (withheld whole under a statement that reads sensitive columns: a
//     failed cast must not echo a value),
// and it keeps the statement records usage events are made of.
//
// Masking rules (SPEC §6.1, MySQL side). MariaDB and MySQL name a result column's origin in its
// definition: schema, org_table and org_name. A column whose definition names a base column is a
// direct reference: masked by content, with the column's rule or name as context. There is no
// MySQL-dialect lineage analysis, so the rule for everything else fails closed:
//   - a statement "reads sensitive columns" when one of its identifiers names a column that a
//     profile rule, the column's name, or the column store says is sensitive, in the session's
//     database or a schema the text qualifies a name with, in any reading of the text the
//     server may use; CALL, dynamic SQL, PROCEDURE ANALYSE and a call of a stored function
//     always do, and so do `SELECT *` with a CTE column list or into variables, and a statement
//     that names a table written with values derived from sensitive columns;
//   - in such a statement, a computed column (no org_name, no schema — MariaDB leaves the schema
//     empty for expressions even inside a derived table or view) and every column of a derived
//     table, CTE or view (org_table is then the alias, not a base table) is replaced whole:
//     text by a token (a JSON string in a JSON column), anything else by NULL;
//   - a view's column is planned by the view's definition (information_schema.VIEWS, read at
//     login): a base column passed through is masked as that column, under its rule (views
//     over views followed); an expression is replaced whole when the definition reads
//     sensitive columns; a view whose definition the user cannot see is replaced whole; a
//     view created after login, unknown, has its computed columns replaced unless a `pass`
//     rule names them;
//   - session state carries it: variables (user and system) once a sensitive statement set
//     one, or dynamic SQL, a procedure or a write (triggers) ran; SHOW WARNINGS and GET
//     DIAGNOSTICS once any sensitive statement or EXPLAIN ran; a table written by a sensitive
//     statement (CREATE TABLE … AS, INSERT … SELECT) is remembered in the column store;
//   - a result in UTF-16/32 (SET character_set_results = utf16) cannot be read: all of it is
//     replaced, and error texts are withheld from then on; a cursor's rows are planned with
//     the columns of the execute that opened it, or replaced whole;
//   - otherwise computed columns are scanned by content like any text.
// Known gaps: a column sensitive by content alone
// (no rule or telling name) counts once its values were seen (learned into the column store),
// so a computed column of it before any read is judged by content; a stored
// function created after the session logged in is not known to it; text a statement stores in
// the catalog (a COMMENT) comes back through SHOW CREATE by content only.
// It never buffers a result: each call consumes the complete packets of its input.
// Not thread-safe; one per session.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "agent/columns/store.h"
#include "agent/protocol/mysql/decoder.h"
#include "agent/protocol/mysql/message.h"
#include "agent/protocol/mysql/statement_scan.h"
#include "agent/statement_record.h"
#include "common/result.h"
#include "masker/masker.h"
#include "masker/strategy.h"

namespace veil::agent {

class MySqlTranscoder {
 public:
  explicit MySqlTranscoder(std::shared_ptr<const masker::MaskingProfile> profile);

  // The server decoder, in its command phase from here on (the session ran the connection phase
  // on it and hands it over with the negotiated capabilities).
  void Start(mysql::ServerDecoder decoder) { decoder_ = std::move(decoder); }
  mysql::ServerDecoder& decoder() { return decoder_; }

  // Where learned sensitive columns are kept (null: none), this session's endpoint and its
  // current database (COM_INIT_DB and USE change it: SetDatabase).
  void SetColumnStore(ColumnStore* store, std::string endpoint) {
    columns_ = store;
    endpoint_ = std::move(endpoint);
  }
  void SetDatabase(std::string database) { database_ = std::move(database); }
  const std::string& database() const { return database_; }
  void SetMaxRows(std::optional<uint64_t> limit) { max_rows_ = limit; }
  // The views the session can see, as information_schema.VIEWS gives them (schema, name,
  // VIEW_DEFINITION, which MariaDB and MySQL store in a canonical form with every column
  // qualified). A view column is then planned by what its definition makes of it: a base
  // column passed through (masked as that column, under its rule), or an expression (replaced
  // whole when the definition reads sensitive columns). A view whose definition is not visible
  // (no SHOW VIEW privilege) has every column replaced when read.
  struct ViewRow {
    std::string schema, name, definition;
  };
  void SetViews(std::vector<ViewRow> views);

  // The tables the session can see that are not views (schema, name, lowercase), as
  // information_schema.TABLES lists them at login. Known, a result column of any other
  // relation (a view or table created after login) is replaced whole, and a statement that
  // reads from a name neither list holds first has veil re-read both (TakeInjected). Unknown
  // (the list could not be read), columns are judged by their names and values alone.
  // A generated column's row has its column's name and expression (`reverse(`ssn`)`): its value
  // is computed from the row's other columns, as a view's expression is.
  struct TableRow {
    std::string schema, name;
    std::string column, expression;  // empty: the table's own row
  };
  void SetTables(std::vector<TableRow> tables);
  // veil's own statements that read the two lists: at login, and again mid-session. The
  // server's own schemas are left out: their relations are exempt from the check, and reading
  // their ~200 entries cost 2.3-2.8 ms a list on MariaDB 10.11 (0.35 ms without).
#define VEIL_USER_SCHEMAS \
  "TABLE_SCHEMA NOT IN ('information_schema', 'performance_schema', 'mysql', 'sys')"
  static constexpr std::string_view kViewsQuery =
      "SELECT LOWER(TABLE_SCHEMA), LOWER(TABLE_NAME), VIEW_DEFINITION FROM "
      "information_schema.VIEWS WHERE " VEIL_USER_SCHEMAS;
  // Generated columns come with the tables, in the same round trip (GENERATION_EXPRESSION is
  // NULL or '' for the others on MariaDB 10.2+ and MySQL 5.7+).
  static constexpr std::string_view kTablesQuery =
      "SELECT LOWER(TABLE_SCHEMA), LOWER(TABLE_NAME), '', '' FROM information_schema.TABLES "
      "WHERE TABLE_TYPE NOT IN ('VIEW', 'TEMPORARY') AND " VEIL_USER_SCHEMAS
      " UNION ALL SELECT LOWER(TABLE_SCHEMA), LOWER(TABLE_NAME), LOWER(COLUMN_NAME), "
      "GENERATION_EXPRESSION FROM information_schema.COLUMNS WHERE GENERATION_EXPRESSION <> '' "
      "AND " VEIL_USER_SCHEMAS;
#undef VEIL_USER_SCHEMAS
  // kViewsQuery's and kTablesQuery's text rows as lists. Tables: none (unread) unless every row
  // is a (schema, name, column, expression).
  using TextRows = std::vector<std::vector<std::string>>;
  static std::vector<ViewRow> ViewsOf(TextRows rows);
  static std::optional<std::vector<TableRow>> TablesOf(TextRows rows);
  // Bytes of veil's own commands that OnCommand queued ahead of the command it was given: the
  // session writes them upstream before that command's bytes.
  std::vector<uint8_t> TakeInjected() { return std::exchange(injected_, {}); }
  // Rows of a table read to learn its columns' content (InjectSamples), as PostgreSQL's.
  static constexpr size_t kSampleRows = 200;

  // Stored and loadable functions (lowercase names): a statement that calls one reads what
  // veil cannot see, and is judged as reading sensitive columns. CREATE FUNCTION adds to them.
  void SetStoredFunctions(std::vector<std::string> names) {
    functions_ = std::set<std::string>(names.begin(), names.end());
    sensitive_cache_.clear();
  }

  // The server's native functions (lowercase, information_schema.SQL_FUNCTIONS: MariaDB 10.6 and
  // later). Known, a statement that calls any other name (StatementScan::calls) calls code veil
  // cannot see, a stored function or UDF perhaps created after login, and is judged as reading
  // sensitive columns. Unknown (MySQL), only the stored functions read at login count.
  void SetNativeFunctions(std::shared_ptr<const std::set<std::string, std::less<>>> names) {
    natives_ = std::move(names);
    sensitive_cache_.clear();
  }

  // A command the session forwards upstream, with the sequence id of its last packet. `internal`:
  // veil's own (its answer is consumed here, never shown; a failure ends the session).
  void OnCommand(const mysql::ClientMessage& message, uint8_t last_sequence_id,
                 bool internal = false);
  // A statement the session answered itself with a guardrail's error instead of forwarding it.
  void NoteBlocked(std::string_view sql, std::string guardrail);

  // Consumes the complete packets at the start of `in` (*consumed bytes) and appends what the
  // client must receive to *out. An error is a protocol violation (or a failed internal
  // command): end the session.
  Status OnBackend(std::span<const uint8_t> in, size_t* consumed, std::vector<uint8_t>* out);

  // No command is waiting for its answer: the session may answer the client itself.
  bool Idle() const { return open_.empty(); }
  // Statements whose results are complete (in order) since the last call.
  std::vector<StatementRecord> TakeStatements() { return std::exchange(completed_, {}); }
  // Statements the server prepared since the last call (id, parameter count), for the client
  // decoder.
  std::vector<std::pair<uint32_t, uint16_t>> TakePrepared() { return std::exchange(prepared_, {}); }

  // COM_CHANGE_USER's authentication ended (OK or ERR) since the last call: the client's
  // packets are commands again.
  bool TakeAuthEnded() { return std::exchange(auth_ended_, false); }

  // Whether `sql` reads sensitive columns as this session judges it (see the top of this file).
  bool ReadsSensitive(std::string_view sql);

  // Guardrail no-filter-on-masked without a parse tree: whether `sql` may filter, join, group
  // or sort by a sensitive column (statement_scan.h: filters), judged by the same names as
  // ReadsSensitive and failing closed where names do not show what is compared:
  //   - CALL, PREPARE/EXECUTE, HANDLER and NATURAL JOIN always;
  //   - a filter in a statement that calls code veil cannot see (a stored function);
  //   - a filter on a variable once a variable may hold a sensitive value;
  //   - in a statement that reads sensitive columns (or a view or table that holds them): a
  //     filter on a sensitive column (a view's through its definition), on a select item's
  //     alias or position, on a quoted name that is no identifier, or after a CTE column list,
  //     and UNION / EXCEPT / INTERSECT; and computing on a sensitive column anywhere other
  //     than as a bare select item or count(x) (whether it fails answers a question too);
  // except equality of a base column with a string literal (`email = 'a@b.c'`).
  bool FiltersOnSensitive(std::string_view sql);
  // Whether `sql` reads sensitive columns and calls what lets a value out by another road than
  // the result: SLEEP and BENCHMARK (time as a value: SLEEP(ASCII(ssn) / 100)), user-level
  // locks (a name other sessions see). Refused always, as PostgreSQL's side-channel builtins
  // are (MySQL's scan does not follow arguments: the whole statement is judged).
  // Also a comparison in a filter that ranks a sensitive column (or what may hold one: an
  // alias, a view's computed column, a table written from one) against another table's column:
  // a range between them (`seq < (SELECT substr(ssn, 1, 3) …)`), or a side that computes with
  // both (`seq - (SELECT …) < 0`, `LEAST(seq, …) = seq`) over a number table returns as many
  // rows as the value says, masked or not (as PostgreSQL's analysis refuses them).
  bool SideChannel(std::string_view sql);
  // The text of prepared statement `id`, if the server prepared it on this session.
  const std::string* PreparedText(uint32_t id) const {
    auto it = prepared_texts_.find(id);
    return it == prepared_texts_.end() ? nullptr : &it->second.text;
  }

  const masker::MaskStats& stats() const { return stats_; }

 private:
  struct Column {
    std::string schema, table, org_table, name, org_name;
    mysql::ColumnTypeInfo type;
    uint16_t charset = 0;
    bool json = false;  // JSON, or MariaDB's extended metadata says format=json
  };
  struct Plan {
    enum class Kind : uint8_t { kPass, kScan, kReplace, kNull };
    Kind kind = Kind::kPass;
    masker::ColumnPolicy policy;
    std::string label;
    uint8_t entity = masker::kMaxEntities;  // kReplace: the token's entity (none: [MASKED])
    masker::Strategy strategy = masker::Strategy::kRedact;
    bool json = false;  // kReplace: the token as a JSON string
    // A base column not yet known to be sensitive: what its values hold is counted.
    ColumnStore::Entry* learn = nullptr;
    // Other sessions' statement text (PROCESSLIST.INFO …): kScan after its literals are
    // normalized out.
    bool statement_text = false;
  };
  struct Open {
    enum class Kind : uint8_t { kStatement, kPrepare, kOther, kInternal, kChangeUser } kind;
    // An internal statement whose rows replace a list (SetViews, SetTables); a failure keeps
    // the list as it was.
    // kSample: a table's first rows, read so that a column's content is known before a value
    // derived from it is judged (InjectSamples).
    enum class Capture : uint8_t { kNone, kViews, kTables, kSample } capture = Capture::kNone;
    std::string sample_schema, sample_table;  // kSample's table
    bool capture_failed = false;
    bool catalog = false;  // SHOW, or reads a system schema (information_schema …)
    bool dynamic = false;  // EXECUTE, PREPARE, CALL: its text does not show what it runs
    StatementRecord record;
    bool sensitive = false;         // the statement reads sensitive columns
    std::set<std::string> derived;  // its derived tables' and CTEs' names
    bool uses_variables = false, diagnostics = false;
    bool shows_statements = false;      // SHOW PROCESSLIST, BINLOG EVENTS: Info is statement text
    bool shows_engine_status = false;   // SHOW ENGINE … STATUS: its Status quotes statements
    bool shows_replica_status = false;  // SHOW SLAVE/REPLICA STATUS: its errors quote statements
    // A write or DDL: triggers, keys and the rows it converts see every column of its table,
    // so its errors may quote any of them (see MaskErr).
    bool writes = false;
    bool star = false;                     // `*`: its columns' names are not in the text
    std::optional<uint32_t> statement_id;  // COM_STMT_EXECUTE / FETCH
    bool fetch = false;
    std::chrono::steady_clock::time_point started;
  };
  struct Prepared {
    std::string text;
    bool sensitive = false;
    std::set<std::string> derived;  // its derived tables' and CTEs' names
    bool uses_variables = false, diagnostics = false;
    bool star = false;
    bool writes = false;
  };
  struct Sensitivity {
    bool sensitive = false;
    uint8_t entity = masker::kMaxEntities;
  };

  bool ReadsSensitive(std::string_view sql, const mysql::StatementScan& scan);
  bool RangeCountsOut(const mysql::StatementScan& scan);
  bool CallsUnseenCode(const mysql::StatementScan& scan) const;
  bool ReadsSensitiveViewColumn(const mysql::StatementScan& scan);
  // `column` as a column of no table and of each of `tables`, in the session's database and in
  // each schema the text qualifies a name with.
  bool NameSensitive(const mysql::StatementScan& scan, const std::string& column,
                     const std::vector<std::string>& tables);
  Sensitivity ColumnSensitivity(std::string_view schema, std::string_view table,
                                std::string_view column);
  bool Derived(std::string_view table) const;
  bool ViewComputed(const Column& col) const;
  bool BaseColumnless(const Column& col) const;
  void PlanColumns();
  bool StarExpandsToSensitive();
  void PlanDirect(const Column& col, bool text_like, Plan* p);
  void PlanByContent(const Column& col, bool text_like, Plan* p);
  void PlanStatementText(const Column& col, bool text_like, Plan* p);
  Status QueueRow(std::span<const uint8_t> raw, uint8_t first_sequence, bool binary,
                  std::vector<uint8_t>* out);
  Status FlushRows(std::vector<uint8_t>* out);
  void Learn();
  void AppendReplacement(const Plan& plan, std::string_view value, std::string* out);
  void MaskErr(mysql::ErrPacket* err, bool sensitive);
  void Complete();

  std::shared_ptr<const masker::MaskingProfile> profile_;
  masker::Masker masker_;
  std::optional<masker::StrategyApplier> applier_;
  mysql::ServerDecoder decoder_;
  mysql::ServerMessage message_;
  ColumnStore* columns_ = nullptr;
  std::string endpoint_, database_;
  std::optional<uint64_t> max_rows_;

  std::deque<Open> open_;
  std::unordered_map<uint32_t, Prepared> prepared_texts_;
  std::vector<std::pair<uint32_t, uint16_t>> prepared_;
  std::vector<StatementRecord> completed_;
  // What a view's definition makes of each of its columns.
  struct ViewColumn {
    enum class Kind : uint8_t { kInnocent, kBase, kReplace } kind = Kind::kReplace;
    std::string schema, table, column;  // kBase: the base column it passes through
  };
  struct View {
    std::string definition;
    bool analyzed = false;
    bool sensitive = false;  // the definition reads sensitive columns (or is not visible)
    std::map<std::string, ViewColumn> columns;  // by the view's column name, lowercase
  };
  std::map<std::pair<std::string, std::string>, View> views_;  // (schema, name), lowercase
  View* FindView(const std::string& schema, const std::string& name, int depth = 0);
  // The plan's base column for a view column, following views over views; nullopt: replace.
  std::optional<ViewColumn> ResolveViewColumn(const std::string& schema, const std::string& view,
                                              const std::string& column, int depth = 0);

  // Relations known to the session: by (schema, name), and names alone for the statement check.
  bool have_tables_ = false;
  std::set<std::pair<std::string, std::string>> tables_;
  struct Generated {
    std::string expression;
    bool judged = false, judging = false, sensitive = false;
  };
  std::unordered_map<std::string, Generated> generated_;  // schema '\0' table '\0' column
  bool GeneratedSensitive(std::string_view schema, std::string_view table, std::string_view column);
  void RejudgeQueued();
  std::unordered_set<std::string> relation_names_;  // tables_ and views_, by name
  std::set<std::string> own_tables_;           // created by the session (CREATE [TEMPORARY] TABLE)
  std::set<std::string> refreshed_for_;        // unknown names the lists were re-read for
  std::unordered_set<std::string> met_names_;  // identifiers of statements checked so far
  TextRows capture_rows_;
  std::vector<std::string> sample_columns_;        // a kSample's columns (org_name, lowercase)
  std::unordered_set<std::string> samples_tried_;  // tables (schema \0 name) sampled or seen so
  std::vector<uint8_t> injected_;
  bool UnknownRelation(const std::string& schema, const std::string& table) const;
  // Dynamic SQL (EXECUTE IMMEDIATE, PREPARE … FROM, CALL) builds statement text from values:
  // it can name a result column, a table or a comment after a sensitive value. From then on a
  // name that may come from a value is renamed (RenameColumn), and the catalog's own texts
  // (SHOW, information_schema) are replaced whole.
  bool names_tainted_ = false;
  uint32_t definitions_ = 0;  // column definitions so far in this result (or prepare answer)
  bool ReadsCatalog(const mysql::StatementScan& scan) const;
  Status RenameColumn(const mysql::ColumnDefinition& c, uint8_t sequence,
                      std::vector<uint8_t>* out);
  bool NamesUnknownRelation(std::string_view sql, const mysql::StatementScan& scan);
  Open& Inject(std::string_view sql, Open::Capture capture);
  void InjectRelationQueries();
  // Queues a read of the first rows of each base table the statement names that no session
  // has sampled yet; their columns' content is learned (LearnSample) before the statement's
  // result is judged.
  void InjectSamples(const mysql::StatementScan& scan);
  void InjectSample(const std::string& schema, const std::string& table);
  void LearnSample(const Open& o);
  bool CountFinding(std::string_view value,
                    std::vector<std::pair<std::string_view, uint64_t>>* masked);

  void TaintTable(const std::string& table);
  bool TableTainted(const std::string& schema, const std::string& table);
  std::unordered_map<std::string, bool> table_cache_;
  bool auth_ended_ = false;
  bool diagnostics_tainted_ = false;      // SHOW WARNINGS may quote a sensitive value
  std::set<std::string> tainted_tables_;  // written with values derived from sensitive columns
  // The result columns of each prepared statement's last execute: COM_STMT_FETCH rows come
  // without definitions.
  std::unordered_map<uint32_t, std::vector<Column>> fetch_columns_;
  // A result whose values or names are not in an ASCII-compatible character set (UTF-16,
  // UTF-32, UCS-2: SET character_set_results = utf16): nothing in it can be read, all of it is
  // replaced, and error texts are withheld from then on.
  bool unreadable_results_ = false;
  bool fetch_unknown_ = false;      // the current rows are a cursor's whose columns veil never saw
  bool variables_tainted_ = false;  // a user variable may hold a sensitive value
  std::unordered_map<std::string, bool> sensitive_cache_;  // statement text → ReadsSensitive
  std::unordered_map<std::string, bool> pair_cache_;       // "table\0column" → sensitive
  std::string pair_key_;
  std::set<std::string> functions_;
  std::shared_ptr<const std::set<std::string, std::less<>>> natives_;  // null: not known

  // The current result set.
  std::vector<Column> result_columns_;
  std::vector<Plan> plans_;
  bool planned_ = false;
  uint64_t rows_in_result_ = 0;
  bool dropping_rows_ = false;  // past max-rows
  uint8_t drop_sequence_ = 0;   // the first dropped row's sequence id: the error's

  // Rows of the current read waiting to be masked together: their packets, and their values
  // (views into the read) from `start` in batch_values_.
  struct BatchRow {
    std::span<const uint8_t> raw;
    uint8_t first_sequence;
    bool binary;
    size_t start;
  };
  std::vector<BatchRow> batch_rows_;
  std::vector<mysql::Value> batch_values_;
  bool plan_active_ = false;  // some column of the plan needs masking
  // Row masking scratch.
  std::vector<masker::Masker::Cell> cells_;
  std::deque<std::string> normalized_;  // the batch's statement texts, literals out
  std::vector<const masker::ColumnPolicy*> policies_;
  std::vector<masker::ValueOutcome> outcomes_;
  std::vector<std::string> outs_;
  std::vector<mysql::Value> values_;
  std::vector<std::string> replaced_;
  masker::MaskStats stats_;
};

}  // namespace veil::agent
